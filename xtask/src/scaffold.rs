//! `cargo xtask new-connector NAME`: a connector crate for a paged JSON API
//! with bearer authentication, on the shared layer, from the templates in
//! `xtask/templates/connector/`; its conformance suite; and its line in the
//! built-in list (`crates/cli`'s registry and manifest).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The crate's files: template text, path inside `crates/NAME/` (`NAME`
/// in it is the connector's name).
const CRATE_FILES: &[(&str, &str)] = &[
    (
        include_str!("../templates/connector/Cargo.toml.tmpl"),
        "Cargo.toml",
    ),
    (include_str!("../templates/connector/lib.rs"), "src/lib.rs"),
    (
        include_str!("../templates/connector/connector.rs"),
        "src/connector.rs",
    ),
    (
        include_str!("../templates/connector/error.rs"),
        "src/error.rs",
    ),
    (
        include_str!("../templates/connector/pages.rs"),
        "src/pages.rs",
    ),
    (
        include_str!("../templates/connector/source.rs"),
        "src/source.rs",
    ),
    (
        include_str!("../templates/connector/tables.rs"),
        "src/tables.rs",
    ),
    (
        include_str!("../templates/connector/offline.rs"),
        "examples/NAME_offline.rs",
    ),
];
const SCENARIO: &str = include_str!("../templates/connector/first.yaml");
const SHARED_TABLE: &str = include_str!("../templates/connector/shared_table.yaml");

/// The built-in list the scaffold adds the connector to.
const CLI_REGISTRY: &str = "crates/cli/src/lib.rs";
/// The manifest of the crate holding that list.
const CLI_MANIFEST: &str = "crates/cli/Cargo.toml";

/// Options of `cargo xtask new-connector`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The connector's name: its crate directory and URL subprotocol (lowercase letters and digits).
    name: String,
    /// The workspace root to write into (default: the workspace holding the current directory).
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

/// `template` for the connector `name`: `Example` and `example` become its
/// names, except in cargo's `--example` option.
fn fill(template: &str, name: &str) -> String {
    let mut camel = name.to_owned();
    camel[..1].make_ascii_uppercase();
    let option = "--example";
    template
        .split(option)
        .map(|part| part.replace("Example", &camel).replace("example", name))
        .collect::<Vec<_>>()
        .join(option)
}

/// `text` with `line` inserted before the first line, after `after`, that
/// `before` accepts; `None` when there is no such place.
fn insert_line(
    text: &str,
    after: &str,
    before: impl Fn(&str) -> bool,
    line: &str,
) -> Option<String> {
    let from = text.find(after)? + after.len();
    let at = from
        + text[from..]
            .split_inclusive('\n')
            .take_while(|l| !before(l))
            .map(str::len)
            .sum::<usize>();
    (at < text.len()).then(|| format!("{}{line}\n{}", &text[..at], &text[at..]))
}

/// The built-in list with `name`'s factory and the CLI manifest with its
/// dependency, as (path, new text).
fn registration(root: &Path, name: &str) -> Result<[(PathBuf, String); 2], String> {
    let read = |rel: &str| {
        let path = root.join(rel);
        std::fs::read_to_string(&path)
            .map(|text| (path.clone(), text))
            .map_err(|e| format!("{}: {e}", path.display()))
    };
    let (lib, text) = read(CLI_REGISTRY)?;
    let lib_text = insert_line(
        &text,
        "pub fn registry() -> Registry {",
        |l| l.trim_end() == "    r",
        &format!("    connectkit_{name}::register(&mut r);"),
    )
    .ok_or_else(|| {
        format!(
            "{}: expected `pub fn registry() -> Registry {{` ending in a line `    r`; add `connectkit_{name}::register(&mut r);` to it by hand",
            lib.display()
        )
    })?;
    let (manifest, text) = read(CLI_MANIFEST)?;
    let manifest_text = insert_line(
        &text,
        "\n[dependencies]\n",
        |l| !l.starts_with("connectkit"),
        &format!("connectkit-{name} = {{ path = \"../{name}\", version = \"0.1.0\" }}"),
    )
    .ok_or_else(|| {
        format!(
            "{}: expected a [dependencies] table starting with the connectkit crates; add connectkit-{name} to it by hand",
            manifest.display()
        )
    })?;
    Ok([(lib, lib_text), (manifest, manifest_text)])
}

/// Writes `crates/NAME/` (the crate), `fixtures/conformance/NAME/`
/// (`first.yaml`, its first scenario, and `shared_table.yaml`, the test table
/// the shared scenarios use), and adds the connector to the built-in list
/// (`crates/cli/src/lib.rs` and the dependency in `crates/cli/Cargo.toml`)
/// under `root`; returns the files created and the files changed.
pub fn scaffold(root: &Path, name: &str) -> Result<(Vec<PathBuf>, Vec<PathBuf>), String> {
    check_name(name)?;
    let krate = root.join("crates").join(name);
    if krate.exists() {
        return Err(format!("{} already exists", krate.display()));
    }
    // Read and checked before anything is written.
    let changed = registration(root, name)?;
    let suite = root.join("fixtures/conformance").join(name);
    let mut created: Vec<(PathBuf, String)> = CRATE_FILES
        .iter()
        .map(|(text, rel)| (krate.join(rel.replace("NAME", name)), fill(text, name)))
        .collect();
    created.push((suite.join("first.yaml"), fill(SCENARIO, name)));
    created.push((
        suite.join(connectkit_e2e::shared::SHARED_TABLE_FILE),
        fill(SHARED_TABLE, name),
    ));
    for (path, text) in created.iter().chain(&changed) {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok((
        created.into_iter().map(|(p, _)| p).collect(),
        changed.into_iter().map(|(p, _)| p).collect(),
    ))
}

/// Scaffolds the crate and says what to do next.
pub fn run(args: Args) -> ExitCode {
    let root = args.root.unwrap_or_else(connectkit_e2e::workspace_root);
    match scaffold(&root, &args.name) {
        Ok((created, changed)) => {
            for f in created {
                println!("created {}", f.display());
            }
            for f in changed {
                println!("changed {}", f.display());
            }
            let n = &args.name;
            println!(
                "\nNext:\n  1. cargo build -p connectkit && target/debug/connectkit tables 'jdbc:datadirect:{n}:ServiceURL=...;AccessToken=...'\n  2. cargo xtask conformance --connector {n}   (fixtures/conformance/{n}/first.yaml and the shared scenarios)\n  3. describe your API's tables in crates/{n}/src/tables.rs (and its paging in src/pages.rs),\n     then the test table in fixtures/conformance/{n}/shared_table.yaml to match\n  4. cargo run -p connectkit-{n} --example {n}_offline   (pages from memory through an HttpService: a start for the crate's own tests)"
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

    /// A workspace root holding the CLI's list and manifest as they are.
    fn root() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let here = connectkit_e2e::workspace_root();
        for rel in [CLI_REGISTRY, CLI_MANIFEST] {
            let to = dir.path().join(rel);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(here.join(rel), to).unwrap();
        }
        dir
    }

    #[test]
    fn scaffolds_a_crate_its_suite_and_its_line_in_the_builtin_list() {
        let dir = root();
        let (created, changed) = scaffold(dir.path(), "acme").unwrap();
        assert_eq!(created.len(), CRATE_FILES.len() + 2);
        assert_eq!(changed.len(), 2);
        for f in &created {
            // Cargo's `--example` option is the only `example` left.
            let text = std::fs::read_to_string(f).unwrap().replace("--example", "");
            assert!(
                !text.contains("example") && !text.contains("Example"),
                "{f:?}"
            );
        }
        let offline =
            std::fs::read_to_string(dir.path().join("crates/acme/examples/acme_offline.rs"));
        assert!(
            offline
                .unwrap()
                .contains("cargo run -p connectkit-acme --example acme_offline"),
            "the example is named after the connector, and says how to run it"
        );
        let toml = std::fs::read_to_string(dir.path().join("crates/acme/Cargo.toml")).unwrap();
        assert!(toml.contains("name = \"connectkit-acme\""), "{toml}");
        let source = std::fs::read_to_string(dir.path().join("crates/acme/src/source.rs")).unwrap();
        assert!(source.contains("SUBPROTOCOL: &str = \"acme\""), "{source}");
        // The built-in list gains one line, before the registry is returned.
        let list = std::fs::read_to_string(dir.path().join(CLI_REGISTRY)).unwrap();
        assert!(
            list.contains("    connectkit_acme::register(&mut r);\n    r\n}"),
            "{list}"
        );
        let manifest = std::fs::read_to_string(dir.path().join(CLI_MANIFEST)).unwrap();
        let deps = &manifest[manifest.find("\n[dependencies]\n").unwrap()..];
        let deps = &deps[..deps[1..].find("\n[").unwrap()];
        assert!(
            deps.contains("\nconnectkit-acme = { path = \"../acme\", version = \"0.1.0\" }\n"),
            "{manifest}"
        );
        let scenario = dir.path().join("fixtures/conformance/acme/first.yaml");
        let s = connectkit_e2e::Scenario::load(&scenario).unwrap();
        assert_eq!(
            (s.connector.as_str(), s.id.as_str()),
            ("acme", "acme/first")
        );
        // The shared scenarios run for the new connector's test table.
        let decl = dir
            .path()
            .join("fixtures/conformance/acme")
            .join(connectkit_e2e::shared::SHARED_TABLE_FILE);
        let table = connectkit_e2e::shared::SharedTable::load(&decl, "acme").unwrap();
        assert!(table.pending.is_none());
        assert_eq!(
            (
                table.table.as_str(),
                table.route.as_str(),
                table.rows.as_str()
            ),
            ("items", "/api/items", "items")
        );
        let shared = dir.path().join("fixtures/conformance/shared");
        std::fs::create_dir_all(&shared).unwrap();
        std::fs::write(
            shared.join("s.yaml"),
            "shared: true\noperations: [\"scan {{table}}\"]\n",
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
        // A second run refuses to overwrite, and changes nothing.
        let err = scaffold(dir.path(), "acme").unwrap_err();
        assert!(err.contains("already exists"), "{err}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join(CLI_REGISTRY)).unwrap(),
            list
        );
    }

    #[test]
    fn a_list_it_cannot_place_the_line_in_is_named_before_anything_is_written() {
        let dir = root();
        std::fs::write(dir.path().join(CLI_REGISTRY), "pub fn other() {}\n").unwrap();
        let err = scaffold(dir.path(), "acme").unwrap_err();
        assert!(
            err.contains("crates/cli/src/lib.rs: expected `pub fn registry() -> Registry {`")
                && err.contains("connectkit_acme::register(&mut r);"),
            "{err}"
        );
        assert!(!dir.path().join("crates/acme").exists());
    }
}
