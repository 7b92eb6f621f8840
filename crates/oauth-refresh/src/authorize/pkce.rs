//! PKCE (RFC 7636) with S256, and the `state` value: random strings from the
//! system RNG, and the challenge derived from the verifier.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::{SecureRandom, SystemRandom};
use secrecy::{ExposeSecret, SecretString};

use crate::error::{AuthorizeFailure, Error};

/// A code verifier and its S256 challenge.
pub struct Pkce {
    /// The verifier: 43 characters of base64url (32 random bytes), the
    /// shortest RFC 7636 allows and 256 bits of entropy.
    pub verifier: SecretString,
    /// `BASE64URL(SHA256(verifier))`.
    pub challenge: String,
}

impl Pkce {
    /// A fresh verifier from the system RNG.
    pub fn new() -> Result<Self, Error> {
        let verifier = random_token()?;
        let challenge = challenge_of(verifier.expose_secret());
        Ok(Self {
            verifier,
            challenge,
        })
    }
}

/// The S256 code challenge of `verifier`.
pub fn challenge_of(verifier: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.as_ref())
}

/// 32 random bytes as base64url: a verifier, or a `state`.
pub(crate) fn random_token() -> Result<SecretString, Error> {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| Error::Authorize {
            failure: AuthorizeFailure::Other,
            code: None,
            message: "the system random number generator failed".into(),
        })?;
    Ok(SecretString::from(URL_SAFE_NO_PAD.encode(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_7636_appendix_b_example() {
        assert_eq!(
            challenge_of("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn verifiers_are_43_unreserved_characters_and_differ() {
        let a = Pkce::new().unwrap();
        let b = Pkce::new().unwrap();
        let v = a.verifier.expose_secret();
        assert_eq!(v.len(), 43);
        assert!(
            v.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        assert_ne!(v, b.verifier.expose_secret());
        assert_eq!(a.challenge, challenge_of(v));
    }
}
