//! The roots the Lambdas trust, by name: read by the crate ([`crate::AMAZON_ROOTS`]) and by
//! `build.rs`, which selects their certificates from Mozilla's set at build time.

/// The subject names of the roots of Amazon Trust Services, the CA of every AWS service
/// endpoint, which AWS asks clients to trust all of (AWS Security Blog, "How to Prepare for
/// AWS's Move to Its Own Certificate Authority", 2017; <https://www.amazontrust.com/repository/>).
/// Starfield Services Root G2 cross-signs Amazon Root CA 1-4, so older chains end there.
pub const AMAZON_ROOTS: [&str; 5] = [
    "Amazon Root CA 1",
    "Amazon Root CA 2",
    "Amazon Root CA 3",
    "Amazon Root CA 4",
    "Starfield Services Root Certificate Authority - G2",
];
