//! Starting and seeding each server on 127.0.0.1, and the helpers scenarios
//! use to talk to their loopback-only `/_interop/` endpoints.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use super::install::{Installed, interop_dir};
use super::process::{ServerProcess, free_port};
use super::seed;

/// The servers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// django-oauth-toolkit with its protected API.
    Dot,
    /// panva's oidc-provider.
    Oidc,
    /// json-server 0.17.
    JsonServer,
    /// SAP CAP with its token endpoint.
    Cap,
    /// Authlib's RFC 7523 JWT bearer grant with a protected resource.
    Authlib,
}

impl Kind {
    /// The name printed in scenario names and errors.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Dot => "django-oauth-toolkit",
            Kind::Oidc => "oidc-provider",
            Kind::JsonServer => "json-server",
            Kind::Cap => "sap-cap",
            Kind::Authlib => "authlib",
        }
    }
    /// Whether the server is installed by pip (else npm).
    pub fn python(self) -> bool {
        matches!(self, Kind::Dot | Kind::Authlib)
    }
}

/// The https listeners of django-oauth-toolkit (the same application and
/// log as its http one), with certificates a private CA generated for this
/// run signed (trustme, `tests/interop/python/tls_certs.py`).
pub struct TlsEndpoints {
    /// `https://127.0.0.1:PORT`, whose certificate names 127.0.0.1 and localhost.
    pub loopback: String,
    /// `https://127.0.0.1:PORT`, whose certificate names only `api.corp.example`.
    pub other: String,
    /// The private CA's certificate (PEM).
    pub ca: PathBuf,
}

/// A running, seeded server.
pub struct Server {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Its https listeners (django-oauth-toolkit only).
    pub tls: Option<TlsEndpoints>,
    _process: ServerProcess,
}

impl Server {
    /// A refresh token minted through the server's own models.
    pub async fn mint(&self, client_id: &str, scope: Option<&str>) -> Result<String, String> {
        let mut form = vec![("client_id", client_id)];
        if let Some(s) = scope {
            form.push(("scope", s));
        }
        let body = serde_urlencoded::to_string(&form).map_err(|e| e.to_string())?;
        let r = connectkit_core::client::http_client()
            .expect("HTTP client")
            .post(format!("{}/_interop/grant", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(|e| format!("seeding a refresh token: {e}"))?;
        let v: Value = serde_json::from_slice(&r.bytes().await.map_err(|e| e.to_string())?)
            .map_err(|e| format!("seeding a refresh token: {e}"))?;
        v["refresh_token"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("seeding a refresh token: no refresh_token in {v}"))
    }

    /// The position the next log entry will take.
    pub async fn log_mark(&self) -> Result<usize, String> {
        Ok(self.log_since(usize::MAX).await?.0)
    }

    /// Log entries from `since` on, and the next position.
    pub async fn log_since(&self, since: usize) -> Result<(usize, Vec<Value>), String> {
        let since = if since == usize::MAX { 1 << 40 } else { since };
        let r = connectkit_core::client::http_client()
            .expect("HTTP client")
            .get(format!("{}/_interop/log?since={since}", self.base))
            .send()
            .await
            .map_err(|e| format!("reading the server log: {e}"))?;
        let v: Value = serde_json::from_slice(&r.bytes().await.map_err(|e| e.to_string())?)
            .map_err(|e| format!("reading the server log: {e}"))?;
        let next = v["next"].as_u64().unwrap_or(0) as usize;
        Ok((next, v["entries"].as_array().cloned().unwrap_or_default()))
    }
}

fn node(inst: &Installed) -> Command {
    let mut c = Command::new("node");
    c.env("NODE_PATH", &inst.node_modules)
        .env("NO_UPDATE_NOTIFIER", "1");
    c
}

fn link_modules(dir: &Path, inst: &Installed) -> Result<(), String> {
    symlink(&inst.node_modules, dir.join("node_modules"))
        .map_err(|e| format!("cannot link node_modules into {dir:?}: {e}"))
}

fn mkdir(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {dir:?}: {e}"))
}

fn write(path: &Path, text: impl AsRef<[u8]>) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("cannot write {path:?}: {e}"))
}

fn copy_tree(from: &Path, to: &Path) -> Result<(), String> {
    mkdir(to)?;
    for entry in std::fs::read_dir(from).map_err(|e| format!("cannot read {from:?}: {e}"))? {
        let entry = entry.map_err(|e| e.to_string())?;
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)
                .map_err(|e| format!("cannot copy {:?}: {e}", entry.path()))?;
        }
    }
    Ok(())
}

/// Starts and seeds `kind`, working in `run_dir`; waits until it answers.
pub async fn start(kind: Kind, inst: &Installed, run_dir: &Path) -> Result<Server, String> {
    let dir = run_dir.join(kind.name());
    mkdir(&dir)?;
    let port = free_port()?;
    let log = dir.join("server.log");
    let mut tls = None;
    let cmd = match kind {
        Kind::Dot => {
            let certs = dir.join("tls");
            let out = Command::new(&inst.tls_python)
                .arg(interop_dir().join("python/tls_certs.py"))
                .arg(&certs)
                .output()
                .map_err(|e| format!("cannot run tls_certs.py: {e}"))?;
            if !out.status.success() {
                return Err(format!(
                    "tls_certs.py failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            let mut c = Command::new(&inst.python);
            c.arg(interop_dir().join("python/dot_server.py"))
                .arg(&dir)
                .arg(port.to_string());
            let mut bases = Vec::new();
            for name in ["loopback", "other"] {
                let tls_port = free_port()?;
                c.arg(format!(
                    "{tls_port}:{}:{}",
                    certs.join(format!("{name}.pem")).display(),
                    certs.join(format!("{name}.key")).display()
                ));
                bases.push(format!("https://127.0.0.1:{tls_port}"));
            }
            tls = Some(TlsEndpoints {
                other: bases.pop().unwrap_or_default(),
                loopback: bases.pop().unwrap_or_default(),
                ca: certs.join("ca.pem"),
            });
            c
        }
        Kind::Oidc => {
            // ESM resolves bare imports from the script's own directory.
            std::fs::copy(
                interop_dir().join("node/oidc_server.mjs"),
                dir.join("oidc_server.mjs"),
            )
            .map_err(|e| format!("cannot copy oidc_server.mjs: {e}"))?;
            link_modules(&dir, inst)?;
            let mut c = node(inst);
            c.arg(dir.join("oidc_server.mjs")).arg(port.to_string());
            // The JWKS of the private_key_jwt client: the public half of the
            // test key the client assertion scenarios sign with.
            c.env(
                "CONNECTKIT_INTEROP_CLIENT_KEY",
                super::install::repo_root().join("crates/oauth-refresh/tests/it/keys/rsa.pub.pem"),
            );
            // Its certificate, registered beside the key as Entra registers
            // an uploaded certificate (`x5c`, `x5t#S256`).
            c.env(
                "CONNECTKIT_INTEROP_CLIENT_CERT",
                super::install::repo_root().join("crates/oauth-refresh/tests/it/keys/rsa.cert.pem"),
            );
            c
        }
        Kind::JsonServer => {
            let db = serde_json::to_vec(&seed::json_server().db).map_err(|e| e.to_string())?;
            write(&dir.join("db.json"), db)?;
            let mut c = node(inst);
            // The source comes first: `--middlewares` takes a list and would
            // swallow it.
            c.arg(inst.node_modules.join("json-server/lib/cli/bin.js"))
                .arg(dir.join("db.json"))
                .args([
                    "--host",
                    "127.0.0.1",
                    "--port",
                    &port.to_string(),
                    "--quiet",
                ])
                .arg("--middlewares")
                .arg(interop_dir().join("node/json_server_log.js"))
                .current_dir(&dir);
            c
        }
        Kind::Cap => {
            let project = dir.join("project");
            copy_tree(&interop_dir().join("node/cap"), &project)?;
            let data = project.join("db/data");
            mkdir(&data)?;
            let s = seed::cap();
            write(&data.join("interop-Books.csv"), s.books_csv)?;
            write(&data.join("interop-Authors.csv"), s.authors_csv)?;
            link_modules(&project, inst)?;
            let mut c = node(inst);
            c.arg("launch.js")
                .arg(port.to_string())
                .current_dir(&project);
            c
        }
        Kind::Authlib => {
            let rows = serde_json::to_vec(&seed::granted().json).map_err(|e| e.to_string())?;
            write(&dir.join("rows.json"), rows)?;
            // The service accounts' public key: the public half of the test
            // key the JWT bearer scenarios sign with.
            let mut c = Command::new(&inst.python);
            c.arg(interop_dir().join("python/jwt_bearer_server.py"))
                .arg(&dir)
                .arg(port.to_string())
                .arg(
                    super::install::repo_root()
                        .join("crates/oauth-refresh/tests/it/keys/rsa.pub.pem"),
                );
            c
        }
    };
    let mut process = ServerProcess::spawn(kind.name(), cmd, &log)?;
    let base = format!("http://127.0.0.1:{port}");
    process
        .wait_ready(&format!("{base}/_interop/ready"), Duration::from_secs(60))
        .await?;
    Ok(Server {
        base,
        tls,
        _process: process,
    })
}
