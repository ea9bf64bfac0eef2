//! Selects the certificates of the [`AMAZON_ROOTS`] from Mozilla's root program as compiled in
//! (the `webpki-root-certs` crate, from the CCADB) and writes them as PEM to
//! `$OUT_DIR/amazon_roots.pem`, which `config.rs` includes (`amazon_root_certificates`). Done
//! here, the search of the ~150 roots and the encoding cost the build, not every cold start
//! (0.37 M instructions at init; docs/performance.md, "Sixth round").

use base64::Engine;

#[path = "src/amazon_roots.rs"]
mod amazon_roots;

use amazon_roots::AMAZON_ROOTS;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src/amazon_roots.rs");
    // A root is self-signed: its DER names only itself (subject and issuer), so a root holds
    // one of the names exactly when it is that root.
    let holds = |der: &[u8], name: &str| der.windows(name.len()).any(|w| w == name.as_bytes());
    let mut pem = Vec::new();
    let mut found = 0;
    for cert in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
        let der = cert.as_ref();
        if AMAZON_ROOTS.iter().any(|name| holds(der, name)) {
            found += 1;
            pem.extend_from_slice(b"-----BEGIN CERTIFICATE-----\n");
            let base64 = base64::engine::general_purpose::STANDARD.encode(der);
            for line in base64.as_bytes().chunks(64) {
                pem.extend_from_slice(line);
                pem.push(b'\n');
            }
            pem.extend_from_slice(b"-----END CERTIFICATE-----\n");
        }
    }
    assert_eq!(
        found,
        AMAZON_ROOTS.len(),
        "Mozilla's roots (webpki-root-certs) no longer hold exactly the Amazon roots by name"
    );
    let out = std::path::Path::new(&std::env::var("OUT_DIR").unwrap()).join("amazon_roots.pem");
    std::fs::write(out, pem).unwrap();
}
