//! [`FileStore`]: the `TokenFile`, shared safely by concurrent processes.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::store::{StoreError, StoreLock, StoredTokens, TokenStore};

/// Keeps tokens in a JSON file, written atomically (a temporary file in the
/// same folder, then a rename) with mode 0600 on Unix, in folders created
/// with mode 0700. A leading `~` is the home directory.
///
/// [`TokenStore::lock`] takes an advisory lock on `<file>.lock` beside it,
/// so processes sharing the file refresh one at a time and each re-reads
/// what the previous one saved: one grant per expiry, however many processes.
#[derive(Debug, Clone)]
pub struct FileStore {
    path: PathBuf,
}

/// A problem with the TokenFile itself; never carries the file's contents.
#[derive(Debug)]
pub(crate) struct FileStoreError {
    pub path: PathBuf,
    pub problem: String,
}

impl fmt::Display for FileStoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenFile {}: {}", self.path.display(), self.problem)
    }
}

impl std::error::Error for FileStoreError {}

#[derive(Serialize, Deserialize)]
struct FileFormat {
    refresh_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    access_token: Option<String>,
    /// Seconds since the epoch, with milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at_unix: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lifetime_secs: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    /// Keyed fingerprint of the RefreshToken property that seeded the chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    seed: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    request_form: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    rotates: bool,
}

/// `~` and `~/rest` become the home directory; anything else is kept.
pub(crate) fn expand_home(path: PathBuf) -> PathBuf {
    let Some(text) = path.to_str() else {
        return path;
    };
    let rest = match text.strip_prefix('~') {
        Some("") => "",
        Some(r) if r.starts_with('/') || r.starts_with(std::path::MAIN_SEPARATOR) => &r[1..],
        _ => return path,
    };
    match std::env::var_os("HOME").or_else(|| std::env::var_os("USERPROFILE")) {
        Some(home) => PathBuf::from(home).join(rest),
        None => path,
    }
}

fn create_dirs(dir: &Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)
}

fn create_private(path: &Path) -> std::io::Result<File> {
    let mut o = OpenOptions::new();
    o.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)
}

impl FileStore {
    /// A store at `path` (`~` expanded); neither the file nor its folder need exist yet.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: expand_home(path.into()),
        }
    }

    /// The file's path, `~` expanded.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn dir(&self) -> &Path {
        match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        }
    }

    fn lock_path(&self) -> PathBuf {
        let mut name = self.path.file_name().unwrap_or_default().to_owned();
        name.push(".lock");
        self.path.with_file_name(name)
    }

    fn err(&self, problem: impl Into<String>) -> StoreError {
        Box::new(FileStoreError {
            path: self.path.clone(),
            problem: problem.into(),
        })
    }

    fn load_sync(&self) -> Result<Option<StoredTokens>, StoreError> {
        let bytes = match std::fs::read(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.err(format!("cannot be read: {e}"))),
        };
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(
                self.err("is empty, not a token file; delete it to start again from RefreshToken")
            );
        }
        // Only the position of a problem is reported: serde's data messages
        // would quote the values, which are tokens.
        let f: FileFormat = serde_json::from_slice(&bytes).map_err(|e| {
            let what = if e.is_data() {
                "is not a token file (it lacks a string refresh_token or has a field of the wrong type)"
            } else {
                "is not a token file (not valid JSON)"
            };
            self.err(format!(
                "{what} at line {}, column {}; delete it to start again from RefreshToken",
                e.line(),
                e.column()
            ))
        })?;
        let mut t = StoredTokens::new(SecretString::from(f.refresh_token));
        t.access_token = f.access_token.map(SecretString::from);
        t.expires_at = f
            .expires_at_unix
            .filter(|s| s.is_finite() && *s >= 0.0 && *s < 1e12)
            .map(|s| UNIX_EPOCH + Duration::from_secs_f64(s));
        t.lifetime = f.lifetime_secs.map(Duration::from_secs);
        t.scope = f.scope;
        t.seed = f.seed.and_then(|s| s.parse().ok());
        t.token_form = f.request_form.and_then(|s| s.parse().ok());
        t.rotates = f.rotates;
        Ok(Some(t))
    }

    fn save_sync(&self, tokens: &FileFormat) -> Result<(), StoreError> {
        use std::io::Write;
        let dir = self.dir();
        create_dirs(dir).map_err(|e| self.err(format!("cannot create its folder: {e}")))?;
        // tempfile creates the file with mode 0600 on Unix.
        let mut tmp = tempfile::NamedTempFile::new_in(dir)
            .map_err(|e| self.err(format!("cannot create a temporary file beside it: {e}")))?;
        let json = serde_json::to_vec_pretty(tokens).map_err(|e| self.err(e.to_string()))?;
        tmp.write_all(&json)
            .map_err(|e| self.err(format!("cannot be written: {e}")))?;
        tmp.as_file()
            .sync_all()
            .map_err(|e| self.err(format!("cannot be synced: {e}")))?;
        tmp.persist(&self.path)
            .map_err(|e| self.err(format!("cannot be replaced: {}", e.error)))?;
        Ok(())
    }

    /// Creates the folder and the lock file, and checks that the file can be
    /// replaced: all before any grant is sent.
    fn prepare_sync(&self) -> Result<File, StoreError> {
        let dir = self.dir();
        create_dirs(dir).map_err(|e| self.err(format!("cannot create its folder: {e}")))?;
        let lock = create_private(&self.lock_path()).map_err(|e| {
            self.err(format!(
                "cannot create the lock file beside it (is the folder writable?): {e}"
            ))
        })?;
        match std::fs::metadata(&self.path) {
            Ok(m) if !m.is_file() => return Err(self.err("is not a regular file")),
            Ok(_) => {
                OpenOptions::new()
                    .append(true)
                    .open(&self.path)
                    .map_err(|e| self.err(format!("is not writable: {e}")))?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(self.err(format!("cannot be inspected: {e}"))),
        }
        Ok(lock)
    }
}

/// How often a process waiting for another's refresh tries the lock again.
/// Polling (rather than a blocking wait) keeps the wait cancellable, so the
/// flow's refresh deadline bounds it.
const LOCK_POLL: std::time::Duration = std::time::Duration::from_millis(20);

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::from(e.to_string()))?
}

#[async_trait]
impl TokenStore for FileStore {
    async fn load(&self) -> Result<Option<StoredTokens>, StoreError> {
        let me = self.clone();
        blocking(move || me.load_sync()).await
    }

    async fn save(&self, tokens: &StoredTokens) -> Result<(), StoreError> {
        let me = self.clone();
        let data = FileFormat {
            refresh_token: tokens.refresh_token.expose_secret().to_owned(),
            access_token: tokens
                .access_token
                .as_ref()
                .map(|t| t.expose_secret().to_owned()),
            expires_at_unix: tokens
                .expires_at
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map(|d| d.as_millis() as f64 / 1000.0),
            lifetime_secs: tokens.lifetime.map(|d| d.as_secs()),
            scope: tokens.scope.clone(),
            seed: tokens.seed.as_ref().map(ToString::to_string),
            request_form: tokens
                .token_form
                .map(|f| format!("{} {}", f.method, f.mode)),
            rotates: tokens.rotates,
        };
        blocking(move || me.save_sync(&data)).await
    }

    async fn lock(&self) -> Result<StoreLock, StoreError> {
        let me = self.clone();
        let file = blocking(move || me.prepare_sync()).await?;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(StoreLock::new(file)),
                Err(std::fs::TryLockError::WouldBlock) => tokio::time::sleep(LOCK_POLL).await,
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(
                        self.err(format!("cannot lock {}: {e}", self.lock_path().display()))
                    );
                }
            }
        }
    }

    fn location(&self) -> Option<String> {
        Some(format!("TokenFile {}", self.path.display()))
    }
}
