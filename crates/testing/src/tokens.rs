//! Tokens for tests: good dev tokens ([`dev_token`], [`dev_admin_token`]), and hand-made JSON
//! Web Tokens for the tests that must forge what `jsonwebtoken` refuses to make: any header
//! (`"alg":"none"`, `HS512`, garbage), any claims, signed HS256 (RFC 7519, RFC 7515 section 3.1:
//! base64url without padding) with any secret.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use idle_app::auth::{mint, DEV_TOKEN_SECRET};
use idle_core::model::Millis;
use sha2::Sha256;

/// A player's token signed with the dev secret ([`DEV_TOKEN_SECRET`], what `idle-local` and the
/// tests' configs accept), valid for `ttl` from `now` (epoch ms). Panics if `mint` refuses.
pub fn dev_token(player_id: &str, ttl: Duration, now: Millis) -> String {
    mint(DEV_TOKEN_SECRET.as_bytes(), player_id, ttl, false, now).expect("a dev token")
}

/// [`dev_token`] with the admin claim.
pub fn dev_admin_token(player_id: &str, ttl: Duration, now: Millis) -> String {
    mint(DEV_TOKEN_SECRET.as_bytes(), player_id, ttl, true, now).expect("a dev token")
}

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
