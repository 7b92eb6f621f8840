//! `cargo xtask msrv`: checks that every published crate declares a
//! `rust-version` at least as high as the highest `rust-version` of the
//! packages it compiles with.
//!
//! It reads `cargo metadata --format-version 1` and, for each workspace
//! package that is published (`publish` is not `false`), walks `resolve`
//! through normal and build dependencies (dev-dependencies do not reach a
//! user). The resolve is the whole workspace's, with features unified, so the
//! walk may include a dependency that a crate on its own would not enable:
//! the result errs on the high side. It checks dependencies' declarations
//! only; what a crate's own code needs (let-chains: 1.88) is the crate's to
//! declare. One line per crate; exit code 1 if any crate declares less than
//! it needs, or none at all while a dependency declares one.

use std::collections::{HashMap, HashSet};
use std::process::{Command, ExitCode};

use serde_json::Value;

/// A Rust version as `rust-version` writes it: `1.88` or `1.94.0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct RustVersion(u64, u64, u64);

impl RustVersion {
    /// Parses `MAJOR.MINOR` or `MAJOR.MINOR.PATCH` (a missing part is 0).
    pub fn parse(s: &str) -> Option<RustVersion> {
        let mut parts = [0u64; 3];
        let mut count = 0;
        for part in s.trim().split('.') {
            if count == 3 {
                return None;
            }
            parts[count] = part.parse().ok()?;
            count += 1;
        }
        (count >= 2).then_some(RustVersion(parts[0], parts[1], parts[2]))
    }
}

/// The dependency with the highest `rust-version` reachable from a crate.
#[derive(Debug, PartialEq, Eq)]
pub struct Needed {
    /// The dependency's package name.
    pub name: String,
    /// The dependency's version.
    pub version: String,
    /// Its `rust-version`, as it declares it.
    pub rust_version: String,
}

/// The finding for one published workspace crate.
#[derive(Debug, PartialEq, Eq)]
pub struct Report {
    /// The crate's package name.
    pub name: String,
    /// Its `rust-version`, if it declares one.
    pub declared: Option<String>,
    /// The dependency that needs the most, if any declares a `rust-version`.
    pub needed: Option<Needed>,
}

impl Report {
    /// Whether the declared `rust-version` covers every dependency.
    pub fn ok(&self) -> bool {
        let Some(needed) = &self.needed else {
            return true;
        };
        let declared = self.declared.as_deref().and_then(RustVersion::parse);
        declared.is_some() && declared >= RustVersion::parse(&needed.rust_version)
    }

    /// The line printed for this crate.
    pub fn line(&self) -> String {
        let declared = self.declared.as_deref().unwrap_or("(none)");
        match &self.needed {
            None => format!(
                "{}: rust-version {declared} ok (no dependency declares one)",
                self.name
            ),
            Some(n) if self.ok() => format!(
                "{}: rust-version {declared} ok (highest dependency: {} {} needs {})",
                self.name, n.name, n.version, n.rust_version
            ),
            Some(n) => format!(
                "{}: rust-version {declared} is too low: {} {} needs {}",
                self.name, n.name, n.version, n.rust_version
            ),
        }
    }
}

/// Runs `cargo metadata` on the workspace and checks every published crate.
pub fn run() -> ExitCode {
    let manifest = connectkit_e2e::workspace_root().join("Cargo.toml");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = match Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--manifest-path"])
        .arg(&manifest)
        .output()
    {
        Ok(o) => o,
        Err(e) => {
            eprintln!("xtask msrv: cannot run cargo metadata: {e}");
            return ExitCode::FAILURE;
        }
    };
    if !output.status.success() {
        eprintln!(
            "xtask msrv: cargo metadata failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        return ExitCode::FAILURE;
    }
    let metadata: Value = match serde_json::from_slice(&output.stdout) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("xtask msrv: cannot read cargo metadata's output: {e}");
            return ExitCode::FAILURE;
        }
    };
    let reports = match check(&metadata) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("xtask msrv: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut failed = false;
    for report in &reports {
        if report.ok() {
            println!("{}", report.line());
        } else {
            eprintln!("{}", report.line());
            failed = true;
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// One report per published workspace package of `cargo metadata` output,
/// in the order of `workspace_members`.
pub fn check(metadata: &Value) -> Result<Vec<Report>, String> {
    let packages: HashMap<&str, &Value> = metadata["packages"]
        .as_array()
        .ok_or("cargo metadata has no `packages`")?
        .iter()
        .filter_map(|p| Some((p["id"].as_str()?, p)))
        .collect();
    let nodes: HashMap<&str, &Value> = metadata["resolve"]["nodes"]
        .as_array()
        .ok_or("cargo metadata has no `resolve.nodes`")?
        .iter()
        .filter_map(|n| Some((n["id"].as_str()?, n)))
        .collect();
    let members = metadata["workspace_members"]
        .as_array()
        .ok_or("cargo metadata has no `workspace_members`")?;

    let mut reports = Vec::new();
    for member in members.iter().filter_map(Value::as_str) {
        let package = *packages
            .get(member)
            .ok_or_else(|| format!("workspace member {member} is not among the packages"))?;
        // `publish = false` is an empty list; absent (null) means any registry.
        if package["publish"].as_array().is_some_and(Vec::is_empty) {
            continue;
        }
        // Highest version first; on a tie, a registry package (the cause)
        // before a workspace one (which only passes it on), then by name.
        let mut needed: Option<((RustVersion, bool), &Value)> = None;
        for id in reachable(&nodes, member) {
            let Some(&dep) = packages.get(id) else {
                continue;
            };
            let Some(version) = dep["rust_version"].as_str().and_then(RustVersion::parse) else {
                continue;
            };
            let key = (version, !dep["source"].is_null());
            let higher = match needed {
                None => true,
                Some((k, best)) => {
                    key > k || (key == k && dep["name"].as_str() < best["name"].as_str())
                }
            };
            if higher {
                needed = Some((key, dep));
            }
        }
        reports.push(Report {
            name: text(package, "name"),
            declared: package["rust_version"].as_str().map(str::to_owned),
            needed: needed.map(|(_, dep)| Needed {
                name: text(dep, "name"),
                version: text(dep, "version"),
                rust_version: text(dep, "rust_version"),
            }),
        });
    }
    Ok(reports)
}

/// The packages reachable from `root` through normal and build dependencies
/// (any target platform), `root` excluded.
fn reachable<'a>(nodes: &HashMap<&'a str, &'a Value>, root: &'a str) -> HashSet<&'a str> {
    let mut seen = HashSet::new();
    let mut stack = vec![root];
    while let Some(id) = stack.pop() {
        let Some(deps) = nodes.get(id).and_then(|n| n["deps"].as_array()) else {
            continue;
        };
        for dep in deps {
            let Some(pkg) = dep["pkg"].as_str() else {
                continue;
            };
            let kinds = dep["dep_kinds"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            let compiled = kinds
                .iter()
                .any(|k| k["kind"].is_null() || k["kind"].as_str() == Some("build"));
            if compiled && pkg != root && seen.insert(pkg) {
                stack.push(pkg);
            }
        }
    }
    seen
}

fn text(value: &Value, key: &str) -> String {
    value[key].as_str().unwrap_or_default().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_and_compare() {
        assert_eq!(RustVersion::parse("1.88"), Some(RustVersion(1, 88, 0)));
        assert_eq!(RustVersion::parse("1.94.0"), Some(RustVersion(1, 94, 0)));
        assert_eq!(RustVersion::parse("1.94"), RustVersion::parse("1.94.0"));
        assert!(RustVersion::parse("1.88") < RustVersion::parse("1.94.0"));
        assert!(RustVersion::parse("1.89.1") > RustVersion::parse("1.89"));
        assert!(RustVersion::parse("1.100") > RustVersion::parse("1.94.0"));
        assert_eq!(RustVersion::parse("1"), None);
        assert_eq!(RustVersion::parse("1.88.0.1"), None);
        assert_eq!(RustVersion::parse("1.x"), None);
    }

    #[test]
    fn normal_and_build_dependencies_count_dev_dependencies_do_not() {
        let metadata = serde_json::json!({
            "packages": [
                {"id": "a", "name": "a", "version": "0.1.0", "rust_version": "1.88", "publish": null},
                {"id": "x", "name": "x", "version": "0.1.0", "rust_version": "1.94", "publish": []},
                {"id": "n", "name": "n", "version": "1.0.0", "rust_version": "1.86.0"},
                {"id": "b", "name": "b", "version": "2.0.0", "rust_version": "1.88.0"},
                {"id": "d", "name": "d", "version": "3.0.0", "rust_version": "1.95"},
            ],
            "workspace_members": ["a", "x"],
            "resolve": {"nodes": [
                {"id": "a", "deps": [
                    {"pkg": "n", "dep_kinds": [{"kind": null, "target": null}]},
                    {"pkg": "d", "dep_kinds": [{"kind": "dev", "target": null}]},
                ]},
                {"id": "n", "deps": [
                    {"pkg": "b", "dep_kinds": [{"kind": "build", "target": null}]},
                ]},
                {"id": "x", "deps": [
                    {"pkg": "d", "dep_kinds": [{"kind": null, "target": null}]},
                ]},
                {"id": "b", "deps": []},
                {"id": "d", "deps": []},
            ]},
        });
        let reports = check(&metadata).unwrap();
        assert_eq!(reports.len(), 1, "x is not published");
        let a = &reports[0];
        assert!(a.ok(), "{}", a.line());
        assert_eq!(
            a.line(),
            "a: rust-version 1.88 ok (highest dependency: b 2.0.0 needs 1.88.0)"
        );

        let mut low = metadata.clone();
        low["packages"][0]["rust_version"] = "1.87".into();
        let reports = check(&low).unwrap();
        assert!(!reports[0].ok());
        assert_eq!(
            reports[0].line(),
            "a: rust-version 1.87 is too low: b 2.0.0 needs 1.88.0"
        );

        let mut none = metadata;
        none["packages"][0]["rust_version"] = Value::Null;
        assert!(!check(&none).unwrap()[0].ok());
    }
}
