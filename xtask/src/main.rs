//! `cargo xtask`: workspace automation.

mod bench;

fn main() -> std::process::ExitCode {
    let task = std::env::args().nth(1).unwrap_or_default();
    if task == "bench" {
        return bench::run(std::env::args().any(|a| a == "--quick"));
    }
    eprintln!("xtask: `{task}` is not built yet; available later: conformance, bench, demo");
    std::process::ExitCode::from(2)
}
