//! `cargo xtask scaffold-check`: proves that `cargo xtask new-connector`
//! makes a working connector, so the template cannot rot. In a temporary
//! copy of the checkout (this one is never changed) it scaffolds a
//! connector, builds the `connectkit` and `xtask` binaries with it in the
//! built-in list, runs `connectkit tables`, `query` and `sql --explain`
//! against the conformance runner's servers playing the connector's first
//! scenario (and checks what they received), runs the crate's example that
//! reads its pages through an `HttpService` and its doc tests, then runs the
//! connector's conformance scenarios, the shared ones included.
//!
//! The build reuses the target directory (`CARGO_TARGET_DIR`, else the
//! checkout's `target/`) and the copy keeps the files' modification times,
//! so only the crates the new connector changes are compiled: the
//! connector, the `connectkit` command and what depends on it. The binaries
//! it replaces in `debug/` are put back afterwards. The doc tests resolve
//! the connector's features alone, so the first run builds a few of its
//! dependencies (reqwest, the OAuth crate) once more with those; later runs
//! find them in the target directory.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Output};
use std::time::Instant;

use connectkit_e2e::load::substitute;
use connectkit_e2e::mock::{Received, Servers};
use connectkit_e2e::{Scenario, workspace_root};

/// Options of `cargo xtask scaffold-check`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The name of the connector to scaffold.
    #[arg(long, default_value = "demoapi")]
    name: String,
    /// Keep the temporary copy (its path is printed).
    #[arg(long)]
    keep: bool,
}

/// Runs the check; prints each step with its time.
pub fn run(args: Args) -> ExitCode {
    match check(&args) {
        Ok(()) => {
            println!("scaffold-check: ok");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("xtask scaffold-check: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Times one step.
fn step<T>(what: &str, f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    let start = Instant::now();
    println!("-- {what}");
    let out = f().map_err(|e| format!("{what}: {e}"))?;
    println!("   {what}: {:.1} s", start.elapsed().as_secs_f64());
    Ok(out)
}

fn check(args: &Args) -> Result<(), String> {
    let root = workspace_root();
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => std::path::absolute(dir).map_err(|e| e.to_string())?,
        None => root.join("target"),
    };
    let xtask = std::env::current_exe().map_err(|e| format!("this program's path: {e}"))?;
    let tmp = tempfile::Builder::new()
        .prefix("connectkit-scaffold-")
        .tempdir()
        .map_err(|e| format!("temporary directory: {e}"))?;
    let copy = tmp.path().join("connectkit");
    step("copy the checkout, keeping modification times", || {
        copy_checkout(&root, &copy)
    })?;
    let name = args.name.as_str();
    step(&format!("xtask new-connector {name}"), || {
        run_ok(
            Command::new(&xtask)
                .args(["new-connector", name])
                .current_dir(&copy),
        )
        .map(drop)
    })?;
    let saved = Saved::binaries(&target)?;
    let result = (|| {
        step(
            "cargo build (the scaffolded connector in the built-in list)",
            || build(&copy, &target),
        )?;
        let bin = target.join("debug");
        step("connectkit tables, query, sql --explain", || {
            cli_checks(&copy, &bin.join("connectkit"), name)
        })?;
        step(&format!("the {name}_offline example"), || {
            offline_example(&bin, name)
        })?;
        step(&format!("cargo test -p connectkit-{name} --doc"), || {
            doc_tests(&copy, &target, name)
        })?;
        step(&format!("xtask conformance --connector {name}"), || {
            conformance(&copy, &bin.join("xtask"), name)
        })
    })();
    saved.restore()?;
    if args.keep {
        println!("kept {}", tmp.keep().display());
    }
    result
}

/// Copies the files git knows (tracked, and untracked ones it does not
/// ignore) of `root` to `to`, with their modification times, so that cargo
/// finds the copy's crates as fresh as the checkout's.
fn copy_checkout(root: &Path, to: &Path) -> Result<(), String> {
    let out = run_ok(
        Command::new("git")
            .args([
                "ls-files",
                "-z",
                "--cached",
                "--others",
                "--exclude-standard",
            ])
            .current_dir(root),
    )?;
    for rel in out.stdout.split(|b| *b == 0).filter(|p| !p.is_empty()) {
        let rel = Path::new(std::str::from_utf8(rel).map_err(|e| e.to_string())?);
        let (from, dest) = (root.join(rel), to.join(rel));
        // A tracked file deleted in the working tree is not copied.
        let Ok(meta) = std::fs::symlink_metadata(&from) else {
            continue;
        };
        let fail = |e: std::io::Error| format!("{}: {e}", dest.display());
        if let Some(dir) = dest.parent() {
            std::fs::create_dir_all(dir).map_err(fail)?;
        }
        if meta.is_symlink() {
            let link = std::fs::read_link(&from).map_err(fail)?;
            std::os::unix::fs::symlink(link, &dest).map_err(fail)?;
            continue;
        }
        std::fs::copy(&from, &dest).map_err(fail)?;
        let modified = meta.modified().map_err(fail)?;
        std::fs::File::options()
            .write(true)
            .open(&dest)
            .and_then(|f| f.set_modified(modified))
            .map_err(fail)?;
    }
    Ok(())
}

/// Builds every binary and example of the copy, resolving features as
/// `cargo build --workspace --all-targets` does (examples need the
/// dev-dependencies), so that no dependency is built a second time.
fn build(copy: &Path, target: &Path) -> Result<(), String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    run_ok(
        Command::new(cargo)
            .args(["build", "--workspace", "--bins", "--examples"])
            .env("CARGO_TARGET_DIR", target)
            .current_dir(copy),
    )
    .map(drop)
}

/// The scaffolded crate's runnable example (its `lib.rs` docs), as its
/// author will first run it.
fn doc_tests(copy: &Path, target: &Path, name: &str) -> Result<(), String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let package = format!("connectkit-{name}");
    run_ok(
        Command::new(cargo)
            .args(["test", "-p", &package, "--doc"])
            .env("CARGO_TARGET_DIR", target)
            .current_dir(copy),
    )
    .map(drop)
}

/// The `connectkit` and `xtask` binaries of the target directory, kept
/// aside (hard links, else copies) while the copy's build replaces them.
struct Saved {
    files: Vec<(PathBuf, PathBuf)>,
}

impl Saved {
    fn binaries(target: &Path) -> Result<Self, String> {
        let aside = target.join("scaffold-check");
        std::fs::create_dir_all(&aside).map_err(|e| format!("{}: {e}", aside.display()))?;
        let mut files = Vec::new();
        for name in ["connectkit", "xtask"] {
            let (bin, kept) = (target.join("debug").join(name), aside.join(name));
            if !bin.exists() {
                continue;
            }
            let _ = std::fs::remove_file(&kept);
            std::fs::hard_link(&bin, &kept)
                .or_else(|_| std::fs::copy(&bin, &kept).map(drop))
                .map_err(|e| format!("keeping {}: {e}", bin.display()))?;
            files.push((kept, bin));
        }
        Ok(Self { files })
    }

    /// Puts the binaries back (a new file each: the one in place may be
    /// running).
    fn restore(self) -> Result<(), String> {
        for (kept, bin) in &self.files {
            let _ = std::fs::remove_file(bin);
            std::fs::rename(kept, bin)
                .map_err(|e| format!("putting back {}: {e}", bin.display()))?;
        }
        Ok(())
    }
}

/// Runs `command`; its output, or an error with its standard error.
fn run_ok(command: &mut Command) -> Result<Output, String> {
    let shown = format!("{command:?}");
    let out = command
        .output()
        .map_err(|e| format!("cannot run {shown}: {e}"))?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(format!(
            "{shown} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// `connectkit` against the servers of the connector's first scenario:
/// the table listed, every row read across both pages with the bearer
/// token from the grant, and the request a scan would send in `--explain`.
fn cli_checks(copy: &Path, connectkit: &Path, name: &str) -> Result<(), String> {
    let path = copy
        .join("fixtures/conformance")
        .join(name)
        .join("first.yaml");
    let scenario = Scenario::load(&path).map_err(|e| e.to_string())?;
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    // wiremock serves from threads of its own: the commands below block.
    let servers = runtime.block_on(async {
        let mut servers = Servers::start().await;
        let [(tk, tv), (ak, av)] = servers.vars();
        let vars = [(tk, tv.as_str()), (ak, av.as_str())];
        let file = &scenario.file;
        servers.mount(file.token.as_ref(), &file.api, &vars).await;
        servers
    });
    let [(tk, tv), (ak, av)] = servers.vars();
    let url = substitute(&scenario.file.url, &[(tk, &tv), (ak, &av)]);
    let cli = |args: &[&str]| -> Result<String, String> {
        let out = run_ok(Command::new(connectkit).args(args))?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let expect = |what: &str, out: &str, wanted: &str| {
        if out.contains(wanted) {
            Ok(())
        } else {
            Err(format!("{what}: expected {wanted:?} in:\n{out}"))
        }
    };

    let tables = cli(&["tables", &url])?;
    expect("connectkit tables", &tables, "items")?;
    let rows = cli(&["query", &url, "items", "--format", "jsonl"])?;
    let wanted = "{\"id\":1,\"name\":\"one\"}\n{\"id\":2,\"name\":\"two\"}\n\
                  {\"id\":3,\"name\":\"three\"}\n{\"id\":4,\"name\":null}\n";
    if rows != wanted {
        return Err(format!("connectkit query: expected\n{wanted}found\n{rows}"));
    }
    let source = format!("{name}={url}");
    let sql = format!("SELECT name FROM {name}.items WHERE id > 1 LIMIT 2");
    let plan = cli(&["sql", "--source", &source, "--explain", &sql])?;
    let request = format!("source request: GET {av}/api/items page=1, per_page=2");
    expect("connectkit sql --explain", &plan, &request)?;

    // What the servers received: a POSTed refresh grant, and both pages
    // with its token.
    let token = servers.token_requests();
    if token.is_empty()
        || token
            .iter()
            .any(|r| r.method != "POST" || !has(&r.form, "grant_type", "refresh_token"))
    {
        return Err(format!(
            "expected POSTed refresh token grants; the token endpoint received {token:?}"
        ));
    }
    for (route, received) in servers.route_requests() {
        let bearer = |r: &Received| r.header("authorization") == Some("Bearer at-1");
        if received.is_empty() || !received.iter().all(bearer) {
            return Err(format!(
                "route {route}: expected requests with the grant's bearer token, received {received:?}"
            ));
        }
    }
    let unmatched = runtime.block_on(servers.unmatched_api_requests());
    if !unmatched.is_empty() {
        return Err(format!("requests no route expected: {unmatched:?}"));
    }
    Ok(())
}

/// The scaffolded crate's example, which reads its pages through an
/// `HttpService` (`with_service`) and checks what that service received:
/// it must run and read every row.
fn offline_example(bin: &Path, name: &str) -> Result<(), String> {
    let example = bin.join("examples").join(format!("{name}_offline"));
    let out = run_ok(&mut Command::new(&example))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if stdout.contains("items: [1, 2, 3]") {
        Ok(())
    } else {
        Err(format!("expected the rows 1, 2, 3 in:\n{stdout}"))
    }
}

fn has(pairs: &[(String, String)], key: &str, value: &str) -> bool {
    pairs.iter().any(|(k, v)| k == key && v == value)
}

/// The copy's conformance runner (the new connector in its built-in list)
/// on the connector's scenarios: each must pass, and every shared scenario
/// must have run for it.
fn conformance(copy: &Path, xtask: &Path, name: &str) -> Result<(), String> {
    let out = run_ok(
        Command::new(xtask)
            .args(["conformance", "--connector", name])
            .current_dir(copy),
    )?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    print!("{stdout}");
    let shared = copy.join("fixtures/conformance/shared");
    let files = std::fs::read_dir(&shared).map_err(|e| format!("{}: {e}", shared.display()))?;
    let (mut expected, mut missing) = (0, Vec::new());
    for file in files.filter_map(|e| e.ok().map(|e| e.path())) {
        for s in Scenario::load_all(&file).into_iter().flatten() {
            let ran = format!("{} ok", s.id);
            if s.connector == name {
                expected += 1;
                if !stdout.lines().any(|l| l == ran) {
                    missing.push(s.id);
                }
            }
        }
    }
    if expected == 0 {
        Err(format!(
            "no shared scenario runs for {name}: is fixtures/conformance/{name}/shared_table.yaml pending?"
        ))
    } else if missing.is_empty() {
        println!("   {expected} shared scenarios passed for {name}");
        Ok(())
    } else {
        Err(format!(
            "shared scenarios that did not pass for {name}: {}",
            missing.join(", ")
        ))
    }
}
