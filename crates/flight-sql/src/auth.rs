//! Logins and sessions: a Basic handshake checked against the users'
//! Argon2 hashes gives a random bearer token that lasts the configured
//! session time; every other call presents it, or a bearer token the
//! configuration names (by its SHA-256 digest) without a handshake.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use argon2::PasswordHash;
use argon2::{Argon2, PasswordVerifier};
use base64::Engine;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use ring::rand::{SecureRandom, SystemRandom};
use secrecy::{ExposeSecret, SecretString};
use tokio::time::Instant;
use tonic::Status;
use tonic::metadata::MetadataMap;

use crate::config::{TokenDigests, token_digest};

/// Who may log in, and the sessions of those who did.
pub(crate) struct Auth {
    users: Arc<BTreeMap<String, SecretString>>,
    /// Configured bearer tokens: lowercase hex SHA-256 digest to user.
    tokens: TokenDigests,
    sessions: Mutex<HashMap<String, Session>>,
    lifetime: Duration,
    random: SystemRandom,
    /// A hash of a random password, verified for unknown users so that
    /// their answer takes as long as a wrong password's.
    dummy: SecretString,
}

struct Session {
    user: Arc<str>,
    expires: Instant,
}

/// Base64 of Basic credentials, padded or not: Arrow Go's client (under
/// the ADBC Flight SQL driver) sends them unpadded.
const BASIC: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

impl Auth {
    pub(crate) fn new(
        users: BTreeMap<String, SecretString>,
        tokens: TokenDigests,
        lifetime: Duration,
    ) -> Self {
        Self {
            users: Arc::new(users),
            tokens,
            sessions: Mutex::new(HashMap::new()),
            lifetime,
            random: SystemRandom::new(),
            dummy: SecretString::from(
                crate::config::hash_password(&SecretString::from("no such user"))
                    .unwrap_or_default(),
            ),
        }
    }

    /// Checks the Basic credentials in `metadata` and opens a session:
    /// its bearer token.
    pub(crate) async fn login(
        &self,
        metadata: &MetadataMap,
    ) -> Result<(Arc<str>, SecretString), Status> {
        let value = metadata
            .get("authorization")
            .ok_or_else(|| {
                Status::unauthenticated(
                    "log in with a user name and password (Basic authorization on the handshake)",
                )
            })?
            .to_str()
            .map_err(|_| {
                Status::unauthenticated("the authorization header is not readable text")
            })?;
        let encoded = strip_scheme(value, "Basic").ok_or_else(|| {
            Status::unauthenticated(
                "the handshake expects Basic authorization (user name and password)",
            )
        })?;
        let decoded = BASIC
            .decode(encoded.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| {
                Status::unauthenticated("Basic authorization is not base64 of user:password")
            })?;
        let decoded = SecretString::from(decoded);
        let (user, password) = decoded.expose_secret().split_once(':').ok_or_else(|| {
            Status::unauthenticated("Basic authorization is not base64 of user:password")
        })?;
        let (user, password) = (user.to_owned(), SecretString::from(password.to_owned()));
        let hash = self.users.get(&user).map(|h| h.expose_secret().to_owned());
        let known = hash.is_some();
        let hash =
            SecretString::from(hash.unwrap_or_else(|| self.dummy.expose_secret().to_owned()));
        // Argon2 takes tens of milliseconds on purpose: off the async threads.
        let ok = tokio::task::spawn_blocking(move || {
            PasswordHash::new(hash.expose_secret()).is_ok_and(|h| {
                Argon2::default()
                    .verify_password(password.expose_secret().as_bytes(), &h)
                    .is_ok()
            })
        })
        .await
        .map_err(|_| Status::internal("password check failed"))?;
        if !(ok && known) {
            tracing::info!(target: "connectkit_flight_sql::auth", user = %user, "login refused");
            return Err(Status::unauthenticated("wrong user name or password"));
        }
        let token = self.new_token()?;
        let user: Arc<str> = Arc::from(user);
        let now = Instant::now();
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        sessions.retain(|_, s| s.expires > now);
        sessions.insert(
            token.expose_secret().to_owned(),
            Session {
                user: user.clone(),
                expires: now + self.lifetime,
            },
        );
        tracing::info!(target: "connectkit_flight_sql::auth", user = %user, "login");
        Ok((user, token))
    }

    /// The user of the session, or of the configured bearer token, whose
    /// token `metadata` carries.
    pub(crate) fn user(&self, metadata: &MetadataMap) -> Result<Arc<str>, Status> {
        let value = metadata
            .get("authorization")
            .ok_or_else(|| {
                Status::unauthenticated(
                    "log in first: no session token (authorization: Bearer) on this call",
                )
            })?
            .to_str()
            .map_err(|_| {
                Status::unauthenticated("the authorization header is not readable text")
            })?;
        let token = strip_scheme(value, "Bearer")
            .ok_or_else(|| {
                Status::unauthenticated(
                    "expected a bearer token (authorization: Bearer): a session token from the handshake, or a configured token",
                )
            })?
            .trim();
        {
            let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
            match sessions.get(token) {
                Some(s) if s.expires > Instant::now() => return Ok(s.user.clone()),
                Some(_) => {
                    sessions.remove(token);
                    return Err(Status::unauthenticated(
                        "the session has expired: log in again",
                    ));
                }
                None => {}
            }
        }
        // A configured token is found by its digest: the map lookup may
        // take longer for some digests than others, which tells a prober
        // about digests, never about tokens (SHA-256 is one-way).
        if !self.tokens.0.is_empty()
            && let Some(user) = self.tokens.0.get(&token_digest(token))
        {
            return Ok(user.clone());
        }
        Err(Status::unauthenticated(
            "unknown session token (nor a configured bearer token): log in again",
        ))
    }

    fn new_token(&self) -> Result<SecretString, Status> {
        let mut bytes = [0u8; 32];
        self.random
            .fill(&mut bytes)
            .map_err(|_| Status::internal("no random source for session tokens"))?;
        Ok(SecretString::from(URL_SAFE_NO_PAD.encode(bytes)))
    }
}

/// `value` without its authorization scheme (compared case-insensitively).
fn strip_scheme<'a>(value: &'a str, scheme: &str) -> Option<&'a str> {
    let (s, rest) = value.split_once(' ')?;
    s.eq_ignore_ascii_case(scheme).then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(value: &str) -> MetadataMap {
        let mut m = MetadataMap::new();
        m.insert("authorization", value.parse().unwrap());
        m
    }

    fn basic(user: &str, pw: &str) -> MetadataMap {
        metadata(&format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pw}"))
        ))
    }

    fn auth() -> Auth {
        let hash = crate::config::hash_password(&SecretString::from("s3cret")).unwrap();
        let users = BTreeMap::from([("alice".to_owned(), SecretString::from(hash))]);
        let tokens = BTreeMap::from([(token_digest(ETL_TOKEN), Arc::<str>::from("etl"))]);
        Auth::new(users, TokenDigests(tokens), Duration::from_secs(60))
    }

    const ETL_TOKEN: &str = "Zm9yIHRlc3RzIG9ubHk6IG5vdCBhIHJlYWwgdG9rZW4";

    #[tokio::test(start_paused = true)]
    async fn a_configured_token_is_accepted_without_a_handshake_and_never_expires() {
        let a = auth();
        let bearer = metadata(&format!("Bearer {ETL_TOKEN}"));
        assert_eq!(&*a.user(&bearer).unwrap(), "etl");
        tokio::time::advance(Duration::from_secs(86_400)).await;
        assert_eq!(&*a.user(&bearer).unwrap(), "etl");
        // One character off, or the digest itself presented as a token.
        let almost = &ETL_TOKEN[..ETL_TOKEN.len() - 1];
        let digest = token_digest(ETL_TOKEN);
        for wrong in [almost, digest.as_str()] {
            let e = a.user(&metadata(&format!("Bearer {wrong}"))).unwrap_err();
            assert_eq!(e.code(), tonic::Code::Unauthenticated);
            assert!(e.message().starts_with("unknown session token"), "{e}");
        }
        // The token is no password: it does not log in with Basic.
        let e = a.login(&basic("etl", ETL_TOKEN)).await.unwrap_err();
        assert_eq!(e.code(), tonic::Code::Unauthenticated);
    }

    #[tokio::test(start_paused = true)]
    async fn login_gives_a_session_that_expires() {
        let a = auth();
        let (user, token) = a.login(&basic("alice", "s3cret")).await.unwrap();
        assert_eq!(&*user, "alice");
        // Unpadded, as Arrow Go sends it ("alice:s3cret!" needs padding).
        let unpadded = base64::engine::general_purpose::STANDARD_NO_PAD.encode("alice:s3cret!");
        let e = a
            .login(&metadata(&format!("Basic {unpadded}")))
            .await
            .unwrap_err();
        assert_eq!(e.message(), "wrong user name or password");
        let bearer = metadata(&format!("Bearer {}", token.expose_secret()));
        assert_eq!(&*a.user(&bearer).unwrap(), "alice");
        tokio::time::advance(Duration::from_secs(61)).await;
        let e = a.user(&bearer).unwrap_err();
        assert_eq!(e.code(), tonic::Code::Unauthenticated);
        assert_eq!(e.message(), "the session has expired: log in again");
    }

    #[tokio::test]
    async fn wrong_password_unknown_user_and_no_token_are_unauthenticated() {
        let a = auth();
        for m in [basic("alice", "nope"), basic("bob", "s3cret")] {
            let e = a.login(&m).await.unwrap_err();
            assert_eq!(e.code(), tonic::Code::Unauthenticated);
            assert_eq!(e.message(), "wrong user name or password");
        }
        let e = a.user(&MetadataMap::new()).unwrap_err();
        assert_eq!(e.code(), tonic::Code::Unauthenticated);
        let e = a.user(&metadata("Bearer made-up")).unwrap_err();
        assert_eq!(
            e.message(),
            "unknown session token (nor a configured bearer token): log in again"
        );
        let e = a.user(&basic("alice", "s3cret")).unwrap_err();
        assert_eq!(e.code(), tonic::Code::Unauthenticated);
    }
}
