//! Installs the pinned servers into a cache directory outside the clone,
//! keyed by a hash of the lock files: a Python venv (pip, `--require-hashes`)
//! and the npm packages (`npm ci` from the committed `package-lock.json`).
//!
//! A finished install leaves a stamp file; without it the directory is wiped
//! and installed again, so an interrupted install never counts as done.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// Where the installed servers live.
#[derive(Debug, Clone)]
pub struct Installed {
    /// The venv's python, with Django, django-oauth-toolkit, Authlib and proxy.py.
    pub python: PathBuf,
    /// `node_modules` with oidc-provider, json-server, @sap/cds, @cap-js/sqlite.
    pub node_modules: PathBuf,
    /// The TLS venv's python, with mitmproxy and trustme.
    pub tls_python: PathBuf,
}

/// The repository root, found at run time ([`connectkit_e2e::workspace_root`]).
pub fn repo_root() -> PathBuf {
    connectkit_e2e::workspace_root()
}

/// `tests/interop/` in the clone.
pub fn interop_dir() -> PathBuf {
    repo_root().join("tests").join("interop")
}

const LOCK_FILES: [&str; 3] = [
    "python/requirements.txt",
    "node/package.json",
    "node/package-lock.json",
];

/// The TLS venv's lock files (mitmproxy and trustme), hashed into its stamp.
const TLS_LOCK_FILES: [&str; 2] = [
    "python/tls-build-requirements.txt",
    "python/tls-requirements.txt",
];

/// FNV-1a over the lock files: stable across Rust versions, unlike `DefaultHasher`.
fn lock_hash() -> Result<String, String> {
    files_hash(&LOCK_FILES)
}

/// FNV-1a over `files` (names and contents) in `tests/interop/`.
fn files_hash(files: &[&str]) -> Result<String, String> {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for f in files {
        let path = interop_dir().join(f);
        let bytes = std::fs::read(&path).map_err(|e| format!("cannot read {path:?}: {e}"))?;
        for b in f.bytes().chain(bytes) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    Ok(format!("{h:016x}"))
}

/// `$CONNECTKIT_INTEROP_CACHE`, else `$XDG_CACHE_HOME/connectkit-interop/<hash>`,
/// else `~/.cache/connectkit-interop/<hash>`; never inside the clone.
pub fn cache_dir() -> Result<PathBuf, String> {
    let base = if let Some(d) = std::env::var_os("CONNECTKIT_INTEROP_CACHE") {
        PathBuf::from(d)
    } else {
        let root = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .ok_or("neither XDG_CACHE_HOME nor HOME is set: no place for the interop cache")?;
        root.join("connectkit-interop")
    };
    let dir = base.join(lock_hash()?);
    let root = repo_root().canonicalize().unwrap_or_else(|_| repo_root());
    if dir.starts_with(&root) {
        return Err(format!(
            "the interop cache {dir:?} is inside the clone {root:?}; set CONNECTKIT_INTEROP_CACHE elsewhere"
        ));
    }
    Ok(dir)
}

fn run(server: &str, what: &str, cmd: &mut Command) -> Result<(), String> {
    let out = cmd
        .output()
        .map_err(|e| format!("installing {server}: cannot run {what}: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = text.lines().filter(|l| !l.contains("nodedir")).collect();
    Err(format!(
        "installing {server}: {what} failed ({}):\n{}",
        out.status,
        lines[lines.len().saturating_sub(25)..].join("\n")
    ))
}

fn fresh(dir: &Path, server: &str) -> Result<(), String> {
    if dir.exists() {
        std::fs::remove_dir_all(dir)
            .map_err(|e| format!("installing {server}: cannot clear {dir:?}: {e}"))?;
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("installing {server}: cannot create {dir:?}: {e}"))
}

/// Installs the wheels `req` pins (with their hashes, no dependencies
/// resolved) into `venv`.
fn pip_install_hashed(server: &str, venv: &Path, req: &Path) -> Result<(), String> {
    run(
        server,
        "pip install --require-hashes",
        Command::new(venv.join("bin/pip"))
            .args([
                "install",
                "--quiet",
                "--no-deps",
                "--require-hashes",
                "--only-binary=:all:",
                "-r",
            ])
            .arg(req)
            .env("PIP_DISABLE_PIP_VERSION_CHECK", "1"),
    )
}

fn stamp(dir: &Path) -> PathBuf {
    dir.join(".installed")
}

/// Abhinav Singh's proxy.py, the `proxy/*` scenarios' forward proxy (pure
/// Python, no dependencies; `--basic-auth`, an access log line per request).
const PROXY_REQUIREMENT: &str = "proxy.py==2.4.10 \
     --hash=sha256:ef3a31f6ef3be6ff78559c0e68198523bfe2fb1e820bb16686750c1bb5baf9e8\n";
/// Names the pin, so that a new pin installs again.
const PROXY_STAMP: &str = ".installed-proxy.py-2.4.10";

/// Installs the TLS venv (mitmproxy and trustme, [`TLS_LOCK_FILES`]) into
/// `venv` unless its stamp, which names the lock files' hash, is there.
fn ensure_tls(venv: &Path) -> Result<(), String> {
    let server = "mitmproxy and trustme (TLS venv)";
    let stamp = venv.join(format!(".installed-{}", files_hash(&TLS_LOCK_FILES)?));
    if stamp.exists() {
        return Ok(());
    }
    let start = Instant::now();
    println!("installing {server} into {venv:?}");
    fresh(venv, server)?;
    let py = std::env::var("CONNECTKIT_INTEROP_PYTHON").unwrap_or_else(|_| "python3.11".into());
    run(
        server,
        &format!("{py} -m venv"),
        Command::new(&py).args(["-m", "venv"]).arg(venv),
    )?;
    pip_install_hashed(
        server,
        venv,
        &interop_dir().join("python/tls-build-requirements.txt"),
    )?;
    // pyperclip (a mitmproxy dependency) has only an sdist: built with the
    // pinned setuptools just installed, nothing fetched for the build.
    run(
        server,
        "pip install --require-hashes",
        Command::new(venv.join("bin/pip"))
            .args([
                "install",
                "--quiet",
                "--no-deps",
                "--require-hashes",
                "--only-binary=:all:",
                "--no-binary=pyperclip",
                "--no-build-isolation",
                "-r",
            ])
            .arg(interop_dir().join("python/tls-requirements.txt"))
            .env("PIP_DISABLE_PIP_VERSION_CHECK", "1"),
    )?;
    std::fs::write(&stamp, "ok").map_err(|e| format!("installing {server}: {e}"))?;
    println!(
        "installed {server} in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Installs what is missing; `python` and `node` say which halves are needed.
pub fn ensure(python: bool, node: bool) -> Result<Installed, String> {
    let cache = cache_dir()?;
    let venv = cache.join("venv");
    let tls_venv = cache.join("tls-venv");
    if python {
        ensure_tls(&tls_venv)?;
    }
    let npm_dir = cache.join("node");
    if python && !stamp(&venv).exists() {
        let server = "django-oauth-toolkit (Python venv)";
        let start = Instant::now();
        println!("installing {server} into {venv:?}");
        fresh(&venv, server)?;
        let py = std::env::var("CONNECTKIT_INTEROP_PYTHON").unwrap_or_else(|_| "python3.11".into());
        run(
            server,
            &format!("{py} -m venv"),
            Command::new(&py).args(["-m", "venv"]).arg(&venv),
        )?;
        let req = interop_dir().join("python/requirements.txt");
        pip_install_hashed(server, &venv, &req)?;
        std::fs::write(stamp(&venv), "ok").map_err(|e| format!("installing {server}: {e}"))?;
        println!(
            "installed {server} in {:.1} s",
            start.elapsed().as_secs_f64()
        );
    }
    if python && !venv.join(PROXY_STAMP).exists() {
        // The forward proxy of the `proxy/*` scenarios, pinned here rather
        // than in requirements.txt: its own stamp, so adding it reinstalls
        // neither the venv nor the npm packages.
        let server = "proxy.py (forward proxy)";
        let start = Instant::now();
        let req = venv.join("proxy-requirements.txt");
        std::fs::write(&req, PROXY_REQUIREMENT)
            .map_err(|e| format!("installing {server}: cannot write {req:?}: {e}"))?;
        pip_install_hashed(server, &venv, &req)?;
        std::fs::write(venv.join(PROXY_STAMP), "ok")
            .map_err(|e| format!("installing {server}: {e}"))?;
        println!(
            "installed {server} in {:.1} s",
            start.elapsed().as_secs_f64()
        );
    }
    if node && !stamp(&npm_dir).exists() {
        let server = "oidc-provider, json-server, SAP CAP (npm ci)";
        let start = Instant::now();
        println!("installing {server} into {npm_dir:?} (the CAP sqlite driver compiles natively)");
        fresh(&npm_dir, server)?;
        for f in ["package.json", "package-lock.json"] {
            std::fs::copy(interop_dir().join("node").join(f), npm_dir.join(f))
                .map_err(|e| format!("installing {server}: cannot copy {f}: {e}"))?;
        }
        // Prebuilt binaries come from GitHub, which CI cannot reach: build the
        // sqlite driver from source instead of waiting for that download to fail.
        run(
            server,
            "npm ci",
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(&npm_dir)
                .env("npm_config_build_from_source", "true"),
        )?;
        let driver = npm_dir.join("node_modules/better-sqlite3/build/Release/better_sqlite3.node");
        if !driver.exists() {
            return Err(format!(
                "installing SAP CAP: npm ci finished but the sqlite driver {driver:?} was not built \
                 (install scripts disabled?)"
            ));
        }
        std::fs::write(stamp(&npm_dir), "ok").map_err(|e| format!("installing {server}: {e}"))?;
        println!(
            "installed {server} in {:.1} s",
            start.elapsed().as_secs_f64()
        );
    }
    Ok(Installed {
        python: venv.join("bin/python"),
        node_modules: npm_dir.join("node_modules"),
        tls_python: tls_venv.join("bin/python"),
    })
}
