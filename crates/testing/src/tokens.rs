//! Hand-made JSON Web Tokens for the tests that must forge what `jsonwebtoken` refuses to
//! make: any header (`"alg":"none"`, `HS512`, garbage), any claims, signed HS256 (RFC 7519,
//! RFC 7515 section 3.1: base64url without padding) with any secret.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// `bytes` in base64url without padding, as JWT segments are written.
pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A token with this `header` and `claims` (JSON text, taken as given), signed HS256 with
/// `secret` whatever the header says.
pub fn signed(header: &str, claims: &str, secret: &[u8]) -> String {
    let message = format!(
        "{}.{}",
        b64url(header.as_bytes()),
        b64url(claims.as_bytes())
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(message.as_bytes());
    format!("{message}.{}", b64url(&mac.finalize().into_bytes()))
}
