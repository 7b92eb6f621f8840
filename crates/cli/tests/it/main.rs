//! End-to-end tests of the `connectkit` binary against wiremock on 127.0.0.1.
#![allow(missing_docs)]

mod authorize;
mod changes;
mod commands;
mod dynamics;
mod errors;
mod processes;
mod sampling;
mod sql;
mod token;
mod values;

use std::io::Write;
use std::process::{Command, Output, Stdio};

pub const SECRETS: [&str; 3] = ["cli-s3cret-value", "cli-r3fresh-value", "cli-acc3ss-value"];

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the binary with `args`, feeding `stdin`, off the async runtime's threads.
pub async fn connectkit(args: &[&str], stdin: Option<&str>) -> Run {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let stdin = stdin.map(str::to_owned);
    tokio::task::spawn_blocking(move || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_connectkit"))
            .args(&args)
            .env("RUST_LOG", "trace")
            // Plans name the partition count: the same on every machine.
            .env("DATAFUSION_EXECUTION_TARGET_PARTITIONS", "2")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(s) = stdin {
            child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
        }
        drop(child.stdin.take());
        let Output {
            status,
            stdout,
            stderr,
        } = child.wait_with_output().unwrap();
        let run = Run {
            code: status.code().unwrap_or(-1),
            stdout: String::from_utf8(stdout).unwrap(),
            stderr: String::from_utf8(stderr).unwrap(),
        };
        for s in SECRETS {
            assert!(
                !run.stdout.contains(s) && !run.stderr.contains(s),
                "secret {s} leaked:\n{}\n{}",
                run.stdout,
                run.stderr
            );
        }
        run
    })
    .await
    .unwrap()
}

/// Replaces the mock server's address so snapshots are stable.
pub fn stable(text: &str, server: &wiremock::MockServer) -> String {
    text.replace(&server.uri(), "http://MOCK")
}
