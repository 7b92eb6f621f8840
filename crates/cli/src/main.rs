//! The `connectkit` command-line tool.

fn main() {
    let cmd = std::env::args().nth(1).unwrap_or_default();
    if cmd == "demo" {
        println!("connectkit demo: not built yet (see the CLI issue).");
    } else {
        eprintln!("usage: connectkit demo");
        std::process::exit(2);
    }
}
