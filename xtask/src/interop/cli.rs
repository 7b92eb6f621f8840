//! The `connectkit` binary: built once per run with the caller's profile and
//! target directory, then run with the connection URL on standard input so
//! that secrets stay off the process list.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use super::install::repo_root;

/// Builds `connectkit` and copies it into `dest`: `target/debug/connectkit`
/// is relinked by every build that shares the target directory (other
/// clones on the same machine too), so the run keeps its own copy.
///
/// It is built as `cargo build --workspace --all-targets` builds it: the same
/// package selection as `cargo test --workspace`, hence the same features, so
/// after the tests (as in CI) this is a no-op instead of a second build of the
/// workspace (`-p connectkit` alone would resolve other features and rebuild
/// DataFusion and everything under it).
pub fn build(dest: &Path) -> Result<PathBuf, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "build",
            "--workspace",
            "--all-targets",
            "--message-format=json-render-diagnostics",
        ])
        .current_dir(repo_root())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run cargo build --workspace --all-targets: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo build --workspace --all-targets failed ({})",
            out.status
        ));
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|m| {
            m["reason"] == "compiler-artifact"
                && m["target"]["name"] == "connectkit"
                && m["profile"]["test"] == false
        })
        .filter_map(|m| m["executable"].as_str().map(PathBuf::from))
        .next_back()
        .ok_or_else(|| {
            "cargo build --workspace --all-targets produced no connectkit executable".to_owned()
        })
        .and_then(|built| {
            let copy = dest.join("connectkit");
            std::fs::copy(&built, &copy)
                .map(|_| copy)
                .map_err(|e| format!("cannot copy {built:?} into {dest:?}: {e}"))
        })
}

/// What a finished `connectkit` run gave.
#[derive(Debug)]
pub struct Output {
    /// The exit code (`-1` when killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Output {
    /// The output, or an error that quotes the exit code and standard error.
    pub fn success(self, what: &str) -> Result<Self, String> {
        if self.code == 0 {
            Ok(self)
        } else {
            Err(format!(
                "{what}: connectkit exited {}: {}",
                self.code,
                self.stderr.trim()
            ))
        }
    }
}

/// Starts `connectkit ARGS -` ... with `url` written to its standard input.
pub fn spawn(bin: &PathBuf, args: &[&str], url: &str) -> Result<Child, String> {
    let mut child = Command::new(bin)
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {bin:?}: {e}"))?;
    let mut stdin = child.stdin.take().ok_or("no stdin")?;
    stdin
        .write_all(url.as_bytes())
        .map_err(|e| format!("writing the URL to connectkit: {e}"))?;
    drop(stdin);
    Ok(child)
}

/// Waits for a child started by [`spawn`].
pub fn finish(child: Child) -> Result<Output, String> {
    let out = child
        .wait_with_output()
        .map_err(|e| format!("waiting for connectkit: {e}"))?;
    Ok(Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// Runs `connectkit` to the end on a blocking thread. `args` holds `-` where
/// the URL goes.
pub async fn run(bin: &PathBuf, args: &[&str], url: &str) -> Result<Output, String> {
    let child = spawn(bin, args, url)?;
    tokio::task::spawn_blocking(move || finish(child))
        .await
        .map_err(|e| format!("connectkit runner: {e}"))?
}
