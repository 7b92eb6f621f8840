//! Where refresh tokens live between refreshes and across restarts.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// The error of a [`TokenStore`]; its message must not contain a secret.
pub type StoreError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The tokens a store keeps.
#[derive(Clone)]
#[non_exhaustive]
pub struct StoredTokens {
    /// The refresh token to use next.
    pub refresh_token: SecretString,
    /// The latest access token, if the store keeps it.
    pub access_token: Option<SecretString>,
    /// When the access token expires, if known.
    pub expires_at: Option<SystemTime>,
}

impl StoredTokens {
    /// Tokens with only a refresh token.
    pub fn new(refresh_token: SecretString) -> Self {
        Self {
            refresh_token,
            access_token: None,
            expires_at: None,
        }
    }

    /// Adds the access token and its expiry.
    pub fn with_access_token(
        mut self,
        token: SecretString,
        expires_at: Option<SystemTime>,
    ) -> Self {
        self.access_token = Some(token);
        self.expires_at = expires_at;
        self
    }
}

impl fmt::Debug for StoredTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredTokens")
            .field("refresh_token", &"***")
            .field("access_token", &self.access_token.as_ref().map(|_| "***"))
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Persists the refresh token (and optionally the access token), so that a
/// rotated refresh token survives the process.
///
/// The flow calls [`TokenStore::save`] with a rotated refresh token *before*
/// it hands the new access token to anyone; if `save` fails, the new tokens
/// are discarded and the error is returned, so the store keeps the previous
/// refresh token.
#[async_trait]
pub trait TokenStore: Send + Sync + fmt::Debug {
    /// The stored tokens, if any. Called once, before the first refresh.
    async fn load(&self) -> Result<Option<StoredTokens>, StoreError>;
    /// Replaces the stored tokens.
    async fn save(&self, tokens: &StoredTokens) -> Result<(), StoreError>;
}

/// Keeps tokens in memory: lost with the process.
#[derive(Default)]
pub struct MemoryStore {
    tokens: Mutex<Option<StoredTokens>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The tokens last saved.
    pub fn get(&self) -> Option<StoredTokens> {
        self.tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("tokens", &self.get())
            .finish()
    }
}

#[async_trait]
impl TokenStore for MemoryStore {
    async fn load(&self) -> Result<Option<StoredTokens>, StoreError> {
        Ok(self.get())
    }
    async fn save(&self, tokens: &StoredTokens) -> Result<(), StoreError> {
        *self.tokens.lock().unwrap_or_else(|p| p.into_inner()) = Some(tokens.clone());
        Ok(())
    }
}

/// Keeps tokens in a JSON file, written atomically (a temporary file in the
/// same folder, then a rename) with mode 0600 on Unix.
#[derive(Debug, Clone)]
pub struct FileStore {
    path: PathBuf,
}

#[derive(Serialize, Deserialize)]
struct FileFormat {
    refresh_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    access_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at_unix: Option<u64>,
}

impl FileStore {
    /// A store at `path`; the file need not exist yet.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn load_sync(path: &Path) -> Result<Option<StoredTokens>, StoreError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("reading {}: {e}", path.display()).into()),
        };
        let f: FileFormat = serde_json::from_str(&text).map_err(|e| {
            format!(
                "{} is not a token file: line {}, column {}",
                path.display(),
                e.line(),
                e.column()
            )
        })?;
        Ok(Some(StoredTokens {
            refresh_token: SecretString::from(f.refresh_token),
            access_token: f.access_token.map(SecretString::from),
            expires_at: f
                .expires_at_unix
                .map(|s| UNIX_EPOCH + Duration::from_secs(s)),
        }))
    }

    fn save_sync(path: &Path, tokens: &FileFormat) -> Result<(), StoreError> {
        use std::io::Write;
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let ctx = |what: &str, e: std::io::Error| -> StoreError {
            format!("{what} {}: {e}", path.display()).into()
        };
        // tempfile creates the file with mode 0600 on Unix.
        let mut tmp = tempfile::NamedTempFile::new_in(dir)
            .map_err(|e| ctx("creating a temporary file beside", e))?;
        let json = serde_json::to_vec(tokens).map_err(|e| StoreError::from(e.to_string()))?;
        tmp.write_all(&json).map_err(|e| ctx("writing", e))?;
        tmp.as_file().sync_all().map_err(|e| ctx("syncing", e))?;
        tmp.persist(path)
            .map_err(|e| ctx("renaming into", e.error))?;
        Ok(())
    }
}

#[async_trait]
impl TokenStore for FileStore {
    async fn load(&self) -> Result<Option<StoredTokens>, StoreError> {
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || Self::load_sync(&path))
            .await
            .map_err(|e| StoreError::from(e.to_string()))?
    }

    async fn save(&self, tokens: &StoredTokens) -> Result<(), StoreError> {
        let path = self.path.clone();
        let data = FileFormat {
            refresh_token: tokens.refresh_token.expose_secret().to_owned(),
            access_token: tokens
                .access_token
                .as_ref()
                .map(|t| t.expose_secret().to_owned()),
            expires_at_unix: tokens
                .expires_at
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map(|d| d.as_secs()),
        };
        tokio::task::spawn_blocking(move || Self::save_sync(&path, &data))
            .await
            .map_err(|e| StoreError::from(e.to_string()))?
    }
}
