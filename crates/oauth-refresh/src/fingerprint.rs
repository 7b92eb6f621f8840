//! [`SeedFingerprint`]: which RefreshToken started the chain a store holds,
//! recorded without the token itself.

use std::fmt;
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use secrecy::{ExposeSecret, SecretString};

/// A keyed fingerprint (HMAC-SHA256 under a random per-file key) of the
/// RefreshToken that seeded a token store.
///
/// When the RefreshToken property no longer matches it, the user has
/// re-authorized: the property's token wins over the store's older chain.
/// A plain hash would let anyone holding the file test guesses of a token
/// across files; the random key makes the fingerprint useless elsewhere.
#[derive(Clone, PartialEq, Eq)]
pub struct SeedFingerprint {
    key: [u8; 32],
    tag: Vec<u8>,
}

impl SeedFingerprint {
    /// Fingerprints `token` under a fresh random key.
    pub fn new(token: &SecretString) -> Self {
        let mut key = [0u8; 32];
        // The system RNG fails only on a broken platform; a time-derived key
        // still keeps the tag from matching across files there.
        if SystemRandom::new().fill(&mut key).is_err() {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default();
            key[..16].copy_from_slice(&nanos.to_le_bytes());
        }
        let tag = Self::tag(&key, token);
        Self { key, tag }
    }

    fn tag(key: &[u8; 32], token: &SecretString) -> Vec<u8> {
        let k = hmac::Key::new(hmac::HMAC_SHA256, key);
        hmac::sign(&k, token.expose_secret().as_bytes())
            .as_ref()
            .to_vec()
    }

    /// Whether `token` is the one fingerprinted (compared in constant time).
    pub fn matches(&self, token: &SecretString) -> bool {
        let k = hmac::Key::new(hmac::HMAC_SHA256, &self.key);
        hmac::verify(&k, token.expose_secret().as_bytes(), &self.tag).is_ok()
    }
}

impl fmt::Debug for SeedFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SeedFingerprint(..)")
    }
}

/// `hmac-sha256:<key>:<tag>`, base64url: the TokenFile spelling.
impl fmt::Display for SeedFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "hmac-sha256:{}:{}",
            B64.encode(self.key),
            B64.encode(&self.tag)
        )
    }
}

impl FromStr for SeedFingerprint {
    type Err = &'static str;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        const BAD: &str = "seed is not an hmac-sha256 fingerprint";
        let mut parts = s.split(':');
        if parts.next() != Some("hmac-sha256") {
            return Err(BAD);
        }
        let key = B64.decode(parts.next().ok_or(BAD)?).map_err(|_| BAD)?;
        let tag = B64.decode(parts.next().ok_or(BAD)?).map_err(|_| BAD)?;
        let key: [u8; 32] = key.try_into().map_err(|_| BAD)?;
        if tag.len() != 32 || parts.next().is_some() {
            return Err(BAD);
        }
        Ok(Self { key, tag })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_round_trip() {
        let t = SecretString::from("1/abCD0F1GHijk");
        let a = SeedFingerprint::new(&t);
        let b = SeedFingerprint::new(&t);
        assert_ne!(a.to_string(), b.to_string(), "keys differ per file");
        let back: SeedFingerprint = a.to_string().parse().unwrap();
        assert!(back.matches(&t));
        assert!(!back.matches(&SecretString::from("1/abCD0F1GHijl")));
        assert!(!a.to_string().contains("abCD0F1GHijk"));
        assert!("hmac-sha256:x:y".parse::<SeedFingerprint>().is_err());
    }
}
