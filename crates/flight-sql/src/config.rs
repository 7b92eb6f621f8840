//! `sources.toml`: the sources a server offers, who may log in, and the
//! limits it keeps.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use argon2::PasswordHash;
use connectkit_core::{Error, ErrorKind};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// The parsed configuration of `connectkit serve`.
///
/// ```toml
/// [sources]
/// todos = "autorest:Sample=https://api.example.com/todos;"
/// crm = "@crm.url"            # a file holding the connection URL, relative to this file
///
/// [users.alice]
/// password = "$argon2id$v=19$m=19456,t=2,p=1$..."   # `connectkit serve --hash-password`
///
/// [users.etl]                 # a program: a bearer token, no handshake
/// tokens = ["sha256:<64 hex digits>"]                 # `connectkit serve --hash-token`
///
/// [limits]
/// queries_per_user = 4        # running at once, per user
/// queries = 16                # running at once, in total
/// query_timeout = 300         # seconds; 0 = none
/// max_rows = 1000000          # rows per result; 0 = none
/// max_bytes = 1073741824      # Arrow bytes per result; 0 = none
/// session_timeout = 3600      # seconds a login lasts
/// ```
#[derive(Debug)]
pub struct ServeConfig {
    /// `(name, connection URL)`, in file order (`@path` already read).
    pub(crate) sources: Vec<(String, SecretString)>,
    /// User name to their Argon2 PHC string (users with a password).
    pub(crate) users: BTreeMap<String, SecretString>,
    /// The configured bearer tokens' digests, to their users.
    pub(crate) tokens: TokenDigests,
    /// Every user name, sorted.
    names: Vec<String>,
    /// Limits.
    pub limits: Limits,
}

/// The digests of the configured bearer tokens (lowercase hex SHA-256), to
/// their users. Not secret, but kept out of `Debug` all the same.
#[derive(Clone, Default)]
pub(crate) struct TokenDigests(pub(crate) BTreeMap<String, Arc<str>>);

impl std::fmt::Debug for TokenDigests {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} bearer tokens", self.0.len())
    }
}

fn check_password_hash(name: &str, password: &str, path: &Path) -> connectkit_core::Result<()> {
    if let Err(e) = PasswordHash::new(password) {
        return Err(config_error(
            path,
            None,
            format!(
                "users.{name}.password: expected an Argon2 PHC string ($argon2id$v=19$...), made by `connectkit serve --hash-password` ({e})"
            ),
        ));
    }
    if !password.starts_with("$argon2") {
        return Err(config_error(
            path,
            None,
            format!(
                "users.{name}.password: expected an Argon2 hash ($argon2id$...), found another algorithm"
            ),
        ));
    }
    Ok(())
}

/// `sha256:<64 hex digits>` as lowercase hex, or `None`.
fn parse_token_digest(value: &str) -> Option<String> {
    let hex = value.strip_prefix("sha256:")?;
    (hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit()))
        .then(|| hex.to_ascii_lowercase())
}

/// The fewest characters [`hash_token`] accepts in a bearer token.
pub const MIN_TOKEN_CHARS: usize = 32;

/// The `sha256:<hex>` digest of a bearer token: what `[users.NAME] tokens`
/// holds. Tokens shorter than [`MIN_TOKEN_CHARS`] are refused.
///
/// Why SHA-256 and not Argon2, as for passwords: a bearer token is sent on
/// every call, not once per login, so the server checks it on every call;
/// Argon2 is slow on purpose (tens of milliseconds, to make guessing a
/// low-entropy password expensive), which would add that to every request.
/// A configured token is a random machine secret (`openssl rand -base64
/// 32`: 256 bits), and no amount of hashing speed lets anyone search a
/// space that size, so a fast one-way digest protects it as well as Argon2
/// would: whoever reads the configuration learns nothing that lets them
/// present the token. The length check refuses tokens short enough that
/// they might be words a person chose.
pub fn hash_token(token: &SecretString) -> connectkit_core::Result<String> {
    let chars = token.expose_secret().chars().count();
    if chars < MIN_TOKEN_CHARS {
        return Err(Error::invalid_property(
            "bearer token",
            format!(
                "a random token of at least {MIN_TOKEN_CHARS} characters (e.g. `openssl rand -base64 32`), found {chars} characters"
            ),
            None,
        ));
    }
    Ok(format!("sha256:{}", token_digest(token.expose_secret())))
}

/// Lowercase hex SHA-256 of `token`.
pub(crate) fn token_digest(token: &str) -> String {
    use std::fmt::Write;
    let digest = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    let mut hex = String::with_capacity(64);
    for b in digest.as_ref() {
        let _ = write!(hex, "{b:02x}");
    }
    hex
}

/// What the server allows each query and each login.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Queries one user may have running at once (`queries_per_user`, default 4).
    pub queries_per_user: usize,
    /// Queries running at once over all users (`queries`, default 16).
    pub queries: usize,
    /// How long a query may run, from its first batch requested to its last
    /// (`query_timeout` seconds, default 300; `None` for 0).
    pub query_timeout: Option<Duration>,
    /// Rows one result may hold (`max_rows`, default none; `None` for 0).
    pub max_rows: Option<u64>,
    /// Bytes one result may hold, counted as the Arrow memory of its record
    /// batches before they are encoded for the wire (`max_bytes`, default
    /// none; `None` for 0).
    pub max_bytes: Option<u64>,
    /// How long a login's session token is accepted (`session_timeout`
    /// seconds, default 3600).
    pub session_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            queries_per_user: 4,
            queries: 16,
            query_timeout: Some(Duration::from_secs(300)),
            max_rows: None,
            max_bytes: None,
            session_timeout: Duration::from_secs(3600),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    sources: BTreeMap<String, toml::Spanned<String>>,
    #[serde(default)]
    users: BTreeMap<String, RawUser>,
    #[serde(default)]
    limits: RawLimits,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUser {
    password: Option<String>,
    #[serde(default)]
    tokens: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    queries_per_user: Option<u64>,
    queries: Option<u64>,
    query_timeout: Option<u64>,
    max_rows: Option<u64>,
    max_bytes: Option<u64>,
    session_timeout: Option<u64>,
}

/// What is wrong in the configuration file: the file, where, and what was
/// expected. Never holds a connection URL or a password hash.
#[derive(Debug, thiserror::Error)]
#[error("{}{}: {message}", path.display(), at.map(|(l, c)| format!(":{l}:{c}")).unwrap_or_default())]
pub struct ConfigError {
    path: PathBuf,
    at: Option<(usize, usize)>,
    message: String,
    #[source]
    source: Option<std::io::Error>,
}

fn config_error(path: &Path, at: Option<(usize, usize)>, message: impl Into<String>) -> Error {
    Error::coded(
        ErrorKind::Config,
        "serve.config",
        ConfigError {
            path: path.to_owned(),
            at,
            message: message.into(),
            source: None,
        },
    )
}

/// 1-based line and column of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

impl ServeConfig {
    /// Reads and checks the configuration file at `path`.
    pub fn load(path: &Path) -> connectkit_core::Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::coded(
                ErrorKind::Io,
                "serve.config",
                ConfigError {
                    path: path.to_owned(),
                    at: None,
                    message: "cannot read the configuration file".into(),
                    source: Some(e),
                },
            )
        })?;
        Self::parse(&text, path)
    }

    /// Parses configuration `text`; `path` names the file in errors, and
    /// `@file` sources are read relative to its directory.
    pub fn parse(text: &str, path: &Path) -> connectkit_core::Result<Self> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            // toml's own Display quotes the offending line, which may hold
            // a connection URL with a secret: only the position and message.
            let at = e.span().map(|s| line_col(text, s.start));
            config_error(path, at, e.message().trim_end().to_owned())
        })?;
        let dir = path.parent().unwrap_or(Path::new("."));
        if raw.sources.is_empty() {
            return Err(config_error(
                path,
                None,
                "no [sources]: name at least one connection, as `name = \"connection URL\"` or `name = \"@file\"`",
            ));
        }
        let mut sources: Vec<(usize, String, SecretString)> = Vec::new();
        for (name, value) in raw.sources {
            let at = line_col(text, value.span().start);
            let ok = name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !ok {
                return Err(config_error(
                    path,
                    Some(at),
                    format!(
                        "source name {name:?} is not a SQL identifier ([A-Za-z_][A-Za-z0-9_]*)"
                    ),
                ));
            }
            let lower = name.to_ascii_lowercase();
            if sources.iter().any(|(_, n, _)| *n == lower) {
                return Err(config_error(
                    path,
                    Some(at),
                    format!("source {lower} is named twice (names are case-insensitive)"),
                ));
            }
            let value = value.into_inner();
            let url = match value.strip_prefix('@') {
                Some(file) => {
                    let file = dir.join(file.trim());
                    std::fs::read_to_string(&file).map_err(|e| {
                        Error::coded(
                            ErrorKind::Io,
                            "serve.config",
                            ConfigError {
                                path: path.to_owned(),
                                at: Some(at),
                                message: format!(
                                    "source {lower}: cannot read the connection URL file {}",
                                    file.display()
                                ),
                                source: Some(e),
                            },
                        )
                    })?
                }
                None => value,
            };
            let url = url.trim_end_matches(['\n', '\r']).to_owned();
            if url.trim().is_empty() {
                return Err(config_error(
                    path,
                    Some(at),
                    format!("source {lower}: a connection URL, found nothing"),
                ));
            }
            sources.push((at.0, lower, SecretString::from(url)));
        }
        // File order, so errors and listings follow the file.
        sources.sort_by_key(|(line, _, _)| *line);
        if raw.users.is_empty() {
            return Err(config_error(
                path,
                None,
                "no [users]: add at least one, as `[users.NAME]` with `password = \"<Argon2 PHC string>\"` (make one with `connectkit serve --hash-password`)",
            ));
        }
        let mut users = BTreeMap::new();
        let mut tokens = BTreeMap::new();
        let mut names = Vec::new();
        for (name, user) in raw.users {
            if name.is_empty() || name.contains(':') {
                return Err(config_error(
                    path,
                    None,
                    format!("user name {name:?}: expected a non-empty name without ':'"),
                ));
            }
            if user.password.is_none() && user.tokens.is_empty() {
                return Err(config_error(
                    path,
                    None,
                    format!(
                        "users.{name}: expected `password = \"<Argon2 PHC string>\"` (`connectkit serve --hash-password`) or `tokens = [\"sha256:<hex>\"]` (`connectkit serve --hash-token`), found neither"
                    ),
                ));
            }
            if let Some(password) = user.password {
                check_password_hash(&name, &password, path)?;
                users.insert(name.clone(), SecretString::from(password));
            }
            for (i, token) in user.tokens.iter().enumerate() {
                let digest = parse_token_digest(token).ok_or_else(|| {
                    config_error(
                        path,
                        None,
                        format!(
                            "users.{name}.tokens[{i}]: expected \"sha256:\" and the 64 hex digits of the token's SHA-256 digest (`connectkit serve --hash-token`)"
                        ),
                    )
                })?;
                if let Some(other) = tokens.insert(digest, Arc::<str>::from(name.as_str())) {
                    return Err(config_error(
                        path,
                        None,
                        format!(
                            "users.{name}.tokens[{i}]: the same token is configured for user {other} too; give each user tokens of their own"
                        ),
                    ));
                }
            }
            names.push(name);
        }
        let limits = limits(raw.limits, path)?;
        Ok(Self {
            sources: sources.into_iter().map(|(_, n, u)| (n, u)).collect(),
            users,
            tokens: TokenDigests(tokens),
            names,
            limits,
        })
    }

    /// The source names, in file order.
    pub fn source_names(&self) -> impl Iterator<Item = &str> {
        self.sources.iter().map(|(n, _)| n.as_str())
    }

    /// The user names.
    pub fn user_names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(String::as_str)
    }

    /// `(name, connection URL)` of every source, for building them.
    pub(crate) fn source_urls(&self) -> impl Iterator<Item = (&str, &str)> {
        self.sources
            .iter()
            .map(|(n, u)| (n.as_str(), u.expose_secret()))
    }
}

fn limits(raw: RawLimits, path: &Path) -> connectkit_core::Result<Limits> {
    let d = Limits::default();
    let positive = |v: Option<u64>, name: &str, default: usize| -> connectkit_core::Result<usize> {
        match v {
            None => Ok(default),
            Some(0) => Err(config_error(
                path,
                None,
                format!("limits.{name}: expected a whole number of at least 1, found 0"),
            )),
            Some(n) => usize::try_from(n)
                .map_err(|_| config_error(path, None, format!("limits.{name}: {n} is too large"))),
        }
    };
    let session = match raw.session_timeout {
        None => d.session_timeout,
        Some(0) => {
            return Err(config_error(
                path,
                None,
                "limits.session_timeout: expected seconds, at least 1, found 0",
            ));
        }
        Some(s) => Duration::from_secs(s),
    };
    Ok(Limits {
        queries_per_user: positive(raw.queries_per_user, "queries_per_user", d.queries_per_user)?,
        queries: positive(raw.queries, "queries", d.queries)?,
        query_timeout: match raw.query_timeout {
            None => d.query_timeout,
            Some(0) => None,
            Some(s) => Some(Duration::from_secs(s)),
        },
        max_rows: raw.max_rows.filter(|n| *n > 0),
        max_bytes: raw.max_bytes.filter(|n| *n > 0),
        session_timeout: session,
    })
}

/// An Argon2id PHC string for `password` with the crate's default
/// parameters and a random salt: what `[users.NAME] password` holds.
pub fn hash_password(password: &SecretString) -> connectkit_core::Result<String> {
    use argon2::PasswordHasher;
    argon2::Argon2::default()
        .hash_password(password.expose_secret().as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| Error::coded(ErrorKind::Other, "serve.hash", HashError(e.to_string())))
}

/// Hashing failed (the system's random source).
#[derive(Debug, thiserror::Error)]
#[error("cannot hash the password: {0}")]
struct HashError(String);

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str =
        "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG";

    fn parse(text: &str) -> Result<ServeConfig, String> {
        ServeConfig::parse(text, Path::new("/etc/sources.toml"))
            .map_err(|e| connectkit_core::Report(&e).to_string())
    }

    #[test]
    fn sources_users_and_limits() {
        let c = parse(&format!(
            "[sources]\nTodos = \"autorest:Sample=http://127.0.0.1:1/todos\"\ncrm = 'dynamics365:ServiceURL=https://x'\n\n[users.alice]\npassword = '{HASH}'\n\n[limits]\nqueries = 3\nquery_timeout = 0\nmax_rows = 10\n"
        ))
        .unwrap();
        assert_eq!(c.source_names().collect::<Vec<_>>(), ["todos", "crm"]);
        assert_eq!(c.user_names().collect::<Vec<_>>(), ["alice"]);
        assert_eq!(c.limits.queries, 3);
        assert_eq!(c.limits.queries_per_user, 4);
        assert_eq!(c.limits.query_timeout, None);
        assert_eq!(c.limits.max_rows, Some(10));
    }

    #[test]
    fn at_file_is_read_beside_the_config() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("crm.url"), "autorest:Sample=http://h/x\n").unwrap();
        let c = ServeConfig::parse(
            &format!("[sources]\ncrm = \"@crm.url\"\n[users.a]\npassword = '{HASH}'\n"),
            &dir.path().join("sources.toml"),
        )
        .unwrap();
        assert_eq!(
            c.source_urls().next().unwrap().1,
            "autorest:Sample=http://h/x"
        );
        let e = ServeConfig::parse(
            &format!("[sources]\ncrm = \"@missing.url\"\n[users.a]\npassword = '{HASH}'\n"),
            &dir.path().join("sources.toml"),
        )
        .unwrap_err();
        let text = connectkit_core::Report(&e).to_string();
        assert!(
            text.contains(":2:7: source crm: cannot read the connection URL file"),
            "{text}"
        );
        assert!(text.contains("missing.url"), "{text}");
        assert_eq!(e.kind(), ErrorKind::Io);
    }

    #[test]
    fn errors_name_the_place_and_never_the_value() {
        let secret = "autorest:Sample=http://h/x;ClientSecret=hunter2";
        let e = parse(&format!("[sources]\ncrm = \"{secret}\"\ncrm2 = 5\n")).unwrap_err();
        assert!(e.starts_with("/etc/sources.toml:3:8: "), "{e}");
        assert!(!e.contains("hunter2"), "{e}");

        let e = parse(&format!("[sources]\n\"my crm\" = \"{secret}\"\n")).unwrap_err();
        assert!(
            e.contains("source name \"my crm\" is not a SQL identifier"),
            "{e}"
        );
        assert!(!e.contains("hunter2"), "{e}");

        let e = parse("[sources]\na = 'x'\nA = 'y'\n[users.u]\npassword='x'\n").unwrap_err();
        assert!(e.contains("source a is named twice"), "{e}");

        let e = parse("[sources]\na = 'x'\n").unwrap_err();
        assert!(e.contains("no [users]"), "{e}");

        let e = parse("[sources]\na = 'x'\n[users.bob]\npassword = 'hunter2'\n").unwrap_err();
        assert!(
            e.contains("users.bob.password: expected an Argon2 PHC string"),
            "{e}"
        );
        assert!(!e.contains("hunter2"), "{e}");

        let e = parse("[users.bob]\npassword = 'x'\n").unwrap_err();
        assert!(e.contains("no [sources]"), "{e}");

        let e = parse(&format!(
            "[sources]\na='x'\n[users.u]\npassword='{HASH}'\n[limits]\nqueries = 0\n"
        ))
        .unwrap_err();
        assert!(
            e.contains("limits.queries: expected a whole number of at least 1, found 0"),
            "{e}"
        );

        let e = parse(&format!(
            "[sources]\na='x'\n[users.u]\npassword='{HASH}'\n[limits]\nrows = 1\n"
        ))
        .unwrap_err();
        assert!(
            e.starts_with("/etc/sources.toml:6:1: unknown field `rows`"),
            "{e}"
        );
    }

    #[test]
    fn users_may_have_bearer_tokens_stored_as_digests() {
        let token = SecretString::from("a".repeat(MIN_TOKEN_CHARS));
        let digest = hash_token(&token).unwrap();
        assert_eq!(
            digest,
            // printf %s aaaa...a (32) | sha256sum
            "sha256:3ba3f5f43b92602683c19aee62a20342b084dd5971ddd33808d81a328879a547"
        );
        let upper = digest.to_ascii_uppercase().replace("SHA256:", "sha256:");
        let c = parse(&format!(
            "[sources]\na='x'\n[users.etl]\ntokens = ['{upper}']\n[users.alice]\npassword = '{HASH}'\ntokens = []\n"
        ))
        .unwrap();
        assert_eq!(c.user_names().collect::<Vec<_>>(), ["alice", "etl"]);
        assert!(!c.users.contains_key("etl"), "etl has no password");
        assert_eq!(
            c.tokens
                .0
                .get(&token_digest(token.expose_secret()))
                .map(|u| &**u),
            Some("etl")
        );
        assert_eq!(format!("{:?}", c.tokens), "1 bearer tokens");

        let e = hash_token(&SecretString::from("short")).unwrap_err();
        let e = connectkit_core::Report(&e).to_string();
        assert!(e.contains("at least 32 characters"), "{e}");
        assert!(!e.contains("short"), "{e}");

        let e = parse("[sources]\na='x'\n[users.etl]\ntokens = ['hunter2']\n").unwrap_err();
        assert!(
            e.contains("users.etl.tokens[0]: expected \"sha256:\" and the 64 hex digits"),
            "{e}"
        );
        assert!(!e.contains("hunter2"), "{e}");
        let e = parse("[sources]\na='x'\n[users.etl]\n").unwrap_err();
        assert!(e.contains("users.etl: expected `password"), "{e}");
        let e = parse(&format!(
            "[sources]\na='x'\n[users.a]\ntokens = ['{digest}']\n[users.b]\ntokens = ['{digest}']\n"
        ))
        .unwrap_err();
        assert!(
            e.contains("the same token is configured for user a too"),
            "{e}"
        );
    }

    #[test]
    fn hashes_verify() {
        use argon2::PasswordVerifier;
        let h = hash_password(&SecretString::from("pw")).unwrap();
        let parsed = PasswordHash::new(&h).unwrap();
        assert!(
            argon2::Argon2::default()
                .verify_password(b"pw", &parsed)
                .is_ok()
        );
        assert!(
            argon2::Argon2::default()
                .verify_password(b"px", &parsed)
                .is_err()
        );
    }
}
