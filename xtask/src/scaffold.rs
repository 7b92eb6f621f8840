//! `cargo xtask new-connector NAME`: a connector crate that builds and passes
//! its first scenario, from the templates in `xtask/templates/connector/`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

const CARGO_TOML: &str = include_str!("../templates/connector/Cargo.toml.tmpl");
const LIB_RS: &str = include_str!("../templates/connector/lib.rs");
const SCENARIO: &str = include_str!("../templates/connector/first.yaml");
const SHARED_TABLE: &str = include_str!("../templates/connector/shared_table.yaml");

/// Options of `cargo xtask new-connector`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The connector's name: its crate directory and URL subprotocol (lowercase letters and digits).
    name: String,
    /// The workspace root to write into (default: this workspace).
    #[arg(long)]
    root: Option<PathBuf>,
}

/// Checks `name`: a lowercase letter, then lowercase letters and digits.
pub fn check_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "connector name {name:?}: expected a lowercase letter followed by lowercase letters and digits (it becomes the URL subprotocol)"
        ))
    }
}

fn fill(template: &str, name: &str) -> String {
    let mut camel = name.to_owned();
    camel[..1].make_ascii_uppercase();
    template.replace("Example", &camel).replace("example", name)
}

/// Writes `crates/NAME/{Cargo.toml,src/lib.rs}` and
/// `fixtures/conformance/NAME/{first.yaml,shared_table.yaml}` (its first
/// scenario, and the test table the shared scenarios use) under `root`;
/// returns the files written.
pub fn scaffold(root: &Path, name: &str) -> Result<Vec<PathBuf>, String> {
    check_name(name)?;
    let krate = root.join("crates").join(name);
    if krate.exists() {
        return Err(format!("{} already exists", krate.display()));
    }
    let files = [
        (krate.join("Cargo.toml"), fill(CARGO_TOML, name)),
        (krate.join("src").join("lib.rs"), fill(LIB_RS, name)),
        (
            root.join("fixtures/conformance")
                .join(name)
                .join("first.yaml"),
            fill(SCENARIO, name),
        ),
        (
            root.join("fixtures/conformance")
                .join(name)
                .join(connectkit_e2e::shared::SHARED_TABLE_FILE),
            fill(SHARED_TABLE, name),
        ),
    ];
    for (path, text) in &files {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(files.into_iter().map(|(p, _)| p).collect())
}

/// Scaffolds the crate and says what to do next.
pub fn run(args: Args) -> ExitCode {
    let root = args.root.unwrap_or_else(connectkit_e2e::workspace_root);
    match scaffold(&root, &args.name) {
        Ok(files) => {
            for f in files {
                println!("created {}", f.display());
            }
            let n = &args.name;
            println!(
                "\nNext:\n  1. Cargo.toml [workspace.dependencies]: connectkit-{n} = {{ path = \"crates/{n}\", version = \"0.1.0\" }}\n  2. crates/cli/Cargo.toml [dependencies]: connectkit-{n}.workspace = true\n  3. crates/cli/src/lib.rs registry(): connectkit_{n}::register(&mut r);\n     (the one list of built-in connectors: the command, the tests and xtask read it)\n  4. cargo xtask conformance --connector {n}\n  5. once scan reads pages from ServiceURL: describe that table in fixtures/conformance/{n}/shared_table.yaml\n     (route, rows element, columns) and delete its `pending` line; the shared scenarios then run for {n}"
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("xtask new-connector: {e}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(check_name("salesforce").is_ok());
        assert!(check_name("s3").is_ok());
        for bad in ["", "Sales", "9x", "my-api", "my_api"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn scaffolds_a_crate_and_a_passing_scenario_into_a_temp_dir() {
        let dir = tempfile::tempdir().unwrap();
        let files = scaffold(dir.path(), "acme").unwrap();
        assert_eq!(files.len(), 4);
        let toml = std::fs::read_to_string(dir.path().join("crates/acme/Cargo.toml")).unwrap();
        assert!(toml.contains("name = \"connectkit-acme\""), "{toml}");
        let lib = std::fs::read_to_string(dir.path().join("crates/acme/src/lib.rs")).unwrap();
        assert!(lib.contains("registry.register(\"acme\""), "{lib}");
        assert!(lib.contains("pub struct AcmeConnector"), "{lib}");
        assert!(!lib.contains("example") && !lib.contains("Example"));
        let scenario = dir.path().join("fixtures/conformance/acme/first.yaml");
        let s = connectkit_e2e::Scenario::load(&scenario).unwrap();
        assert_eq!(s.connector, "acme");
        assert_eq!(s.id, "acme/first");
        // The shared test table is the connector's own, pending until it reads pages.
        let decl = dir
            .path()
            .join("fixtures/conformance/acme")
            .join(connectkit_e2e::shared::SHARED_TABLE_FILE);
        let table = connectkit_e2e::shared::SharedTable::load(&decl, "acme").unwrap();
        assert!(table.pending.is_some());
        assert_eq!(
            (table.table.as_str(), table.route.as_str()),
            ("items", "/items")
        );
        // Shared scenarios skip a pending declaration.
        let shared = dir.path().join("fixtures/conformance/shared");
        std::fs::create_dir_all(&shared).unwrap();
        std::fs::write(
            shared.join("s.yaml"),
            "shared: true\noperations: [\"scan {{table}}\"]\n",
        )
        .unwrap();
        let loaded = connectkit_e2e::Scenario::load_all(&shared.join("s.yaml"));
        assert_eq!(loaded.len(), 1);
        assert!(
            loaded[0]
                .as_ref()
                .unwrap_err()
                .message
                .contains("no connector declares"),
            "{loaded:?}"
        );
        std::fs::write(
            &decl,
            std::fs::read_to_string(&decl)
                .unwrap()
                .replace("pending:", "# pending:"),
        )
        .unwrap();
        let loaded = connectkit_e2e::Scenario::load_all(&shared.join("s.yaml"));
        let s = loaded[0].as_ref().unwrap();
        assert_eq!(s.id, "shared/s[acme]");
        assert!(
            s.file.url.starts_with("jdbc:datadirect:acme:"),
            "{}",
            s.file.url
        );
        // A second run refuses to overwrite.
        assert!(
            scaffold(dir.path(), "acme")
                .unwrap_err()
                .contains("already exists")
        );
    }
}
