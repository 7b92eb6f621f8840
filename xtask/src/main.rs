//! `cargo xtask`: workspace automation.

fn main() {
    let task = std::env::args().nth(1).unwrap_or_default();
    eprintln!("xtask: `{task}` is not built yet; available later: conformance, bench, demo");
    std::process::exit(2);
}
