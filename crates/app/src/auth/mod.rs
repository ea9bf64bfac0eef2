//! Player tokens: HS256 JWTs with `sub` (the player id), `exp` (required) and an optional
//! `role: "admin"`.
//!
//! Only HS256 is accepted: a token whose header names `none` or any other algorithm is refused
//! before its signature is looked at. Expiry is checked against the caller's clock (server time
//! from the `Clock` port), not the machine's, so tests and replays are exact.

mod provider;

use std::time::Duration;

use idle_core::model::Millis;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::config::MIN_SECRET_BYTES;

/// The token secret of local development and the tests, and of the sample events in `events/`.
///
/// **Development and tests only.** It is public, so a deployment using it would accept anyone's
/// tokens; deployments take `TOKEN_SECRET` from a stack parameter.
pub const DEV_TOKEN_SECRET: &str = "dev-secret-change-me-dev-secret-change-me";

/// Longest player id a token may carry.
pub const MAX_PLAYER_ID_LEN: usize = 64;

/// Who a verified token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub player_id: String,
    pub is_admin: bool,
    /// The token's `exp`, in seconds since the epoch.
    pub expires_at: u64,
}

/// Why a token was refused (or could not be made).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("the token is not a well-formed JWT")]
    Malformed,
    #[error("the token's algorithm is not HS256")]
    WrongAlgorithm,
    #[error("the token's signature does not match")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token's claims are invalid: {0}")]
    BadClaims(String),
    #[error("the token's subject is not a valid player id: {0}")]
    BadSubject(&'static str),
    #[error("the token secret is {0} bytes; it must be at least {MIN_SECRET_BYTES}")]
    WeakSecret(usize),
    #[error("could not sign the token: {0}")]
    Signing(String),
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    role: Option<String>,
}

/// Checks that a player id is 1 to [`MAX_PLAYER_ID_LEN`] characters of ASCII letters, digits
/// and `-_.:@` (it becomes a table key and a log field).
pub fn check_player_id(player_id: &str) -> Result<(), &'static str> {
    if player_id.is_empty() {
        return Err("it is empty");
    }
    if player_id.len() > MAX_PLAYER_ID_LEN {
        return Err("it is longer than 64 characters");
    }
    if !player_id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-_.:@".contains(&b))
    {
        return Err("it may only hold letters, digits and - _ . : @");
    }
    Ok(())
}

fn check_secret(secret: &[u8]) -> Result<(), AuthError> {
    if secret.len() < MIN_SECRET_BYTES {
        return Err(AuthError::WeakSecret(secret.len()));
    }
    Ok(())
}

/// Verifies a token at server time `now`.
pub fn verify(secret: &[u8], token: &str, now: Millis) -> Result<Identity, AuthError> {
    check_secret(secret)?;
    provider::ensure_installed();
    let key = DecodingKey::from_secret(secret).map_err(|_| AuthError::WeakSecret(0))?;
    // An unknown `alg` (such as `none`) does not even parse as a header.
    let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::Malformed)?;
    if header.alg != Algorithm::HS256 {
        return Err(AuthError::WrongAlgorithm);
    }
    let mut validation = Validation::new(Algorithm::HS256);
    // Expiry is checked below against the caller's clock; presence is checked here.
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims = ["exp".to_owned(), "sub".to_owned()].into();
    let data = jsonwebtoken::decode::<Claims>(token, &key, &validation).map_err(|e| {
        match e.into_kind() {
            ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
                AuthError::WrongAlgorithm
            }
            ErrorKind::InvalidSignature => AuthError::BadSignature,
            ErrorKind::MissingRequiredClaim(claim) => {
                AuthError::BadClaims(format!("`{claim}` is missing"))
            }
            ErrorKind::Json(e) => AuthError::BadClaims(e.to_string()),
            _ => AuthError::Malformed,
        }
    })?;
    let claims = data.claims;
    let now_secs = now.div_euclid(1000);
    if i128::from(claims.exp) <= i128::from(now_secs) {
        return Err(AuthError::Expired);
    }
    check_player_id(&claims.sub).map_err(AuthError::BadSubject)?;
    Ok(Identity {
        is_admin: claims.role.as_deref() == Some("admin"),
        player_id: claims.sub,
        expires_at: claims.exp,
    })
}

/// Which configured secret a token verified with (see [`verify_rotating`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKey {
    /// `TOKEN_SECRET`: the one every new token is signed with.
    Current,
    /// `PREVIOUS_TOKEN_SECRET`: accepted only while a rotation is under way.
    Previous,
}

impl TokenKey {
    /// Its name in log lines (`token_key`): `current` or `previous`.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKey::Current => "current",
            TokenKey::Previous => "previous",
        }
    }
}

/// Verifies a token at server time `now` with the current secret and, while a rotation is under
/// way, the previous one (docs/operations.md, "Rotating the token secret").
///
/// The previous secret is tried only when the current one finds a bad signature: a token that
/// is malformed, of another algorithm, expired or with bad claims under the current secret is
/// refused for that reason. A token signed with neither secret is [`AuthError::BadSignature`].
/// Returns the identity and which secret verified it, so operators can see in the `$connect`
/// log lines when no token signed with the previous secret is in use any more.
///
/// # Errors
/// As [`verify`]; [`AuthError::WeakSecret`] for a previous secret shorter than
/// [`MIN_SECRET_BYTES`] too.
pub fn verify_rotating(
    current: &[u8],
    previous: Option<&[u8]>,
    token: &str,
    now: Millis,
) -> Result<(Identity, TokenKey), AuthError> {
    match (verify(current, token, now), previous) {
        (Err(AuthError::BadSignature), Some(previous)) => {
            verify(previous, token, now).map(|identity| (identity, TokenKey::Previous))
        }
        (result, _) => result.map(|identity| (identity, TokenKey::Current)),
    }
}

/// Makes a token for `player_id` valid for `ttl` from `now` (dev tokens, tests, tools).
pub fn mint(
    secret: &[u8],
    player_id: &str,
    ttl: Duration,
    admin: bool,
    now: Millis,
) -> Result<String, AuthError> {
    check_secret(secret)?;
    check_player_id(player_id).map_err(AuthError::BadSubject)?;
    provider::ensure_installed();
    let claims = Claims {
        sub: player_id.to_owned(),
        exp: (now.div_euclid(1000).max(0) as u64).saturating_add(ttl.as_secs()),
        role: admin.then(|| "admin".to_owned()),
    };
    let key = EncodingKey::from_secret(secret).map_err(|e| AuthError::Signing(e.to_string()))?;
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key)
        .map_err(|e| AuthError::Signing(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = DEV_TOKEN_SECRET.as_bytes();
    const NOW: Millis = 1_800_000_000_000;
    const HOUR: Duration = Duration::from_secs(3600);

    use idle_testing::tokens::{b64url, signed};

    #[test]
    fn a_minted_token_verifies_with_its_claims() {
        let token = mint(SECRET, "player-1", HOUR, false, NOW).unwrap();
        let identity = verify(SECRET, &token, NOW).unwrap();
        assert_eq!(identity.player_id, "player-1");
        assert!(!identity.is_admin);
        assert_eq!(identity.expires_at, 1_800_003_600);
        let admin = mint(SECRET, "ops", HOUR, true, NOW).unwrap();
        assert!(verify(SECRET, &admin, NOW).unwrap().is_admin);
    }

    #[test]
    fn the_hand_made_signer_agrees_with_the_library() {
        let token = signed(
            r#"{"alg":"HS256","typ":"JWT"}"#,
            r#"{"sub":"p1","exp":1800003600}"#,
            SECRET,
        );
        assert_eq!(verify(SECRET, &token, NOW).unwrap().player_id, "p1");
    }

    #[test]
    fn expiry_is_checked_against_the_given_clock() {
        let token = mint(SECRET, "player-1", HOUR, false, NOW).unwrap();
        assert!(verify(SECRET, &token, NOW + 3_599_999).is_ok());
        assert_eq!(
            verify(SECRET, &token, NOW + 3_600_000),
            Err(AuthError::Expired)
        );
    }

    #[test]
    fn another_secret_is_a_bad_signature() {
        let token = mint(SECRET, "player-1", HOUR, false, NOW).unwrap();
        let other = b"another-secret-another-secret-another";
        assert_eq!(verify(other, &token, NOW), Err(AuthError::BadSignature));
    }

    #[test]
    fn none_and_other_algorithms_are_refused() {
        let claims = r#"{"sub":"p1","exp":1800003600}"#;
        let none = format!(
            "{}.{}.",
            b64url(br#"{"alg":"none","typ":"JWT"}"#),
            b64url(claims.as_bytes())
        );
        assert_eq!(verify(SECRET, &none, NOW), Err(AuthError::Malformed));
        let hs512 = signed(r#"{"alg":"HS512","typ":"JWT"}"#, claims, SECRET);
        assert_eq!(verify(SECRET, &hs512, NOW), Err(AuthError::WrongAlgorithm));
        let rs256 = signed(r#"{"alg":"RS256","typ":"JWT"}"#, claims, SECRET);
        assert_eq!(verify(SECRET, &rs256, NOW), Err(AuthError::WrongAlgorithm));
    }

    #[test]
    fn exp_and_sub_are_required_and_sub_is_checked() {
        let no_exp = signed(r#"{"alg":"HS256"}"#, r#"{"sub":"p1"}"#, SECRET);
        assert!(matches!(
            verify(SECRET, &no_exp, NOW),
            Err(AuthError::BadClaims(_))
        ));
        let no_sub = signed(r#"{"alg":"HS256"}"#, r#"{"exp":1800003600}"#, SECRET);
        assert!(matches!(
            verify(SECRET, &no_sub, NOW),
            Err(AuthError::BadClaims(_))
        ));
        for sub in ["", "a b", "x/../y", &"p".repeat(65)] {
            let claims = format!(r#"{{"sub":"{sub}","exp":1800003600}}"#);
            let token = signed(r#"{"alg":"HS256"}"#, &claims, SECRET);
            assert!(
                matches!(verify(SECRET, &token, NOW), Err(AuthError::BadSubject(_))),
                "{sub:?}"
            );
        }
        let string_exp = signed(r#"{"alg":"HS256"}"#, r#"{"sub":"p1","exp":"soon"}"#, SECRET);
        assert!(verify(SECRET, &string_exp, NOW).is_err());
    }

    #[test]
    fn garbage_is_malformed_and_never_panics() {
        for token in [
            "",
            ".",
            "..",
            "a.b.c",
            "eyJ.eyJ.x",
            "\u{0}\u{1}",
            &"x".repeat(10_000),
        ] {
            assert!(verify(SECRET, token, NOW).is_err(), "{token:?}");
        }
    }

    const PREVIOUS: &[u8] = b"previous-secret-previous-secret-previous";
    const STRANGER: &[u8] = b"stranger-secret-stranger-secret-stranger";

    #[test]
    fn during_a_rotation_tokens_of_the_current_and_the_previous_secret_verify() {
        let new = mint(SECRET, "p-new", HOUR, false, NOW).unwrap();
        let old = mint(PREVIOUS, "p-old", HOUR, true, NOW).unwrap();
        let (identity, key) = verify_rotating(SECRET, Some(PREVIOUS), &new, NOW).unwrap();
        assert_eq!(
            (identity.player_id.as_str(), key),
            ("p-new", TokenKey::Current)
        );
        let (identity, key) = verify_rotating(SECRET, Some(PREVIOUS), &old, NOW).unwrap();
        assert_eq!(
            (identity.player_id.as_str(), key),
            ("p-old", TokenKey::Previous)
        );
        assert!(identity.is_admin, "the claims are the previous token's own");
    }

    #[test]
    fn once_the_previous_secret_is_removed_its_tokens_are_refused() {
        let old = mint(PREVIOUS, "p-old", HOUR, false, NOW).unwrap();
        assert_eq!(
            verify_rotating(SECRET, None, &old, NOW),
            Err(AuthError::BadSignature)
        );
    }

    #[test]
    fn a_token_of_neither_secret_is_a_bad_signature() {
        let stranger = mint(STRANGER, "p-x", HOUR, false, NOW).unwrap();
        assert_eq!(
            verify_rotating(SECRET, Some(PREVIOUS), &stranger, NOW),
            Err(AuthError::BadSignature)
        );
    }

    #[test]
    fn the_previous_secret_does_not_rescue_an_expired_or_malformed_token() {
        // Expired under the current secret: refused as expired, not retried.
        let expired = mint(SECRET, "p1", HOUR, false, NOW).unwrap();
        assert_eq!(
            verify_rotating(SECRET, Some(PREVIOUS), &expired, NOW + 3_600_000),
            Err(AuthError::Expired)
        );
        // Signed with the previous secret and expired: the previous secret's verdict.
        let old = mint(PREVIOUS, "p1", HOUR, false, NOW).unwrap();
        assert_eq!(
            verify_rotating(SECRET, Some(PREVIOUS), &old, NOW + 3_600_000),
            Err(AuthError::Expired)
        );
        assert_eq!(
            verify_rotating(SECRET, Some(PREVIOUS), "a.b.c", NOW),
            Err(AuthError::Malformed)
        );
    }

    #[test]
    fn short_secrets_are_refused_both_ways() {
        assert_eq!(
            mint(b"short", "p1", HOUR, false, NOW),
            Err(AuthError::WeakSecret(5))
        );
        assert_eq!(
            verify(b"short", "a.b.c", NOW),
            Err(AuthError::WeakSecret(5))
        );
    }
}
