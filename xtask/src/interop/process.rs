//! Server processes: each in its own process group, stopped by a guard's
//! `Drop` (normal end, failure, panic) and by the Ctrl-C handler, which kills
//! every group still registered before the command exits.

use std::fs::File;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Process groups started by this command and not yet stopped.
static GROUPS: Mutex<Vec<u32>> = Mutex::new(Vec::new());
/// The run directory, removed by the Ctrl-C handler (`exit` skips its `Drop`).
static RUN_DIR: Mutex<Option<PathBuf>> = Mutex::new(None);

/// Tells the Ctrl-C handler which run directory to remove.
pub fn set_run_dir(dir: &Path) {
    *RUN_DIR.lock().unwrap_or_else(|e| e.into_inner()) = Some(dir.to_owned());
}

/// A running server; dropping it stops its whole process group.
pub struct ServerProcess {
    name: String,
    child: Child,
    log: PathBuf,
}

impl ServerProcess {
    /// Starts `cmd` in a new process group, standard output and error going
    /// to `log`.
    pub fn spawn(name: &str, mut cmd: Command, log: &Path) -> Result<Self, String> {
        let out = File::create(log).map_err(|e| format!("{name}: cannot create {log:?}: {e}"))?;
        let err = out
            .try_clone()
            .map_err(|e| format!("{name}: cannot open {log:?}: {e}"))?;
        cmd.stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0);
        let child = cmd
            .spawn()
            .map_err(|e| format!("{name}: cannot start {:?}: {e}", cmd.get_program()))?;
        lock_groups().push(child.id());
        Ok(Self {
            name: name.to_owned(),
            child,
            log: log.to_owned(),
        })
    }

    /// Polls `url` until it answers 2xx; fails with the log's tail when the
    /// process exits or `timeout` passes.
    pub async fn wait_ready(&mut self, url: &str, timeout: Duration) -> Result<(), String> {
        let client = connectkit_core::client::http_client().expect("HTTP client");
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "{} exited during startup ({status}); its log {:?} ends:\n{}",
                    self.name,
                    self.log,
                    tail(&self.log)
                ));
            }
            if let Ok(r) = client.get(url).send().await
                && r.status().is_success()
            {
                return Ok(());
            }
            if start.elapsed() > timeout {
                return Err(format!(
                    "{} did not answer {url} within {timeout:?}; its log {:?} ends:\n{}",
                    self.name,
                    self.log,
                    tail(&self.log)
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let pid = self.child.id();
        kill_group(pid);
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if !matches!(self.child.try_wait(), Ok(Some(_))) {
            signal_group(pid, "KILL");
            let _ = self.child.wait();
        }
        lock_groups().retain(|p| *p != pid);
    }
}

fn lock_groups() -> std::sync::MutexGuard<'static, Vec<u32>> {
    GROUPS.lock().unwrap_or_else(|e| e.into_inner())
}

fn signal_group(pgid: u32, signal: &str) {
    // `kill -SIG -- -PGID` reaches every process of the group (npm, node,
    // python and their children), which `Child::kill` would not.
    let _ = Command::new("kill")
        .args([&format!("-{signal}"), "--", &format!("-{pgid}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

fn kill_group(pgid: u32) {
    signal_group(pgid, "TERM");
}

/// Stops every server still running and exits: the Ctrl-C path.
pub fn install_interrupt_handler() {
    tokio::spawn(async {
        if tokio::signal::ctrl_c().await.is_ok() {
            let groups = lock_groups().clone();
            eprintln!("interrupted: stopping {} server(s)", groups.len());
            for pgid in &groups {
                kill_group(*pgid);
            }
            std::thread::sleep(Duration::from_millis(500));
            for pgid in &groups {
                signal_group(*pgid, "KILL");
            }
            if let Some(dir) = RUN_DIR.lock().unwrap_or_else(|e| e.into_inner()).take() {
                let _ = std::fs::remove_dir_all(dir);
            }
            std::process::exit(130);
        }
    });
}

/// A port that was free on 127.0.0.1 a moment ago.
pub fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port on 127.0.0.1: {e}"))
}

/// The last lines of a log file.
pub fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}
