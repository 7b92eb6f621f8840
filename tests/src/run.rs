//! Running scenarios: one at a time against its own servers, or all of them
//! with a bounded number at once.

use std::path::Path;
use std::time::Duration;

use connectkit_core::{Connector, Error, Registry, ScanRequest};
use futures::{StreamExt, TryStreamExt};
use serde_json::Value;

use crate::check::{Masker, rows_json};
use crate::expect::{Produced, check};
use crate::mock::Servers;
use crate::scenario::{Operation, Scenario, ScenarioError, scenario_files, substitute};

/// The longest a scenario may run.
pub const SCENARIO_TIMEOUT: Duration = Duration::from_secs(60);

/// How a scenario ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every expectation held.
    Pass,
    /// The first difference (secrets masked), or why the scenario could not run.
    Fail(String),
}

/// The outcome of one scenario.
#[derive(Debug, Clone)]
pub struct Report {
    /// The scenario id, `<suite>/<name>`.
    pub id: String,
    /// Pass or the first difference.
    pub outcome: Outcome,
}

impl Report {
    /// `<id> ok` or `<id> FAIL <difference>`.
    pub fn line(&self) -> String {
        match &self.outcome {
            Outcome::Pass => format!("{} ok", self.id),
            Outcome::Fail(d) => format!("{} FAIL {d}", self.id),
        }
    }

    /// Whether it passed.
    pub fn passed(&self) -> bool {
        self.outcome == Outcome::Pass
    }
}

/// Which scenarios to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Only scenarios of this connector (the URL's subprotocol).
    pub connector: Option<String>,
    /// Only scenarios whose id (`suite/name`) or name matches this glob.
    pub scenario: Option<String>,
    /// How many scenarios run at once.
    pub concurrency: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            connector: None,
            scenario: None,
            concurrency: 4,
        }
    }
}

async fn operate(c: &dyn Connector, op: &Operation, out: &mut Produced) -> Result<(), Error> {
    match op {
        Operation::Tables => {
            let names: Vec<String> = c.tables().await?.into_iter().map(|t| t.name).collect();
            for n in &names {
                let s = c.schema(n).await?;
                out.schemas.push((n.clone(), s));
            }
            out.tables = Some(names);
        }
        Operation::Schema(t) => {
            let s = c.schema(t).await?;
            out.schemas.push((t.clone(), s));
        }
        Operation::Scan {
            table,
            columns,
            limit,
            filters,
        } => {
            let mut req = ScanRequest::new();
            for f in filters {
                req = req.with_filter(f.clone());
            }
            if let Some(cols) = columns {
                req = req.with_projection(cols.iter().cloned());
            }
            if let Some(n) = limit {
                req = req.with_limit(*n);
            }
            let scan = c.scan(table, req).await?;
            out.unapplied = Some(
                scan.unapplied_filters
                    .iter()
                    .map(|f| f.column.clone())
                    .collect(),
            );
            let batches: Vec<_> = scan.batches.try_collect().await?;
            let rows = rows_json(&batches).map_err(|e| {
                Error::connector(
                    connectkit_core::ErrorKind::Other,
                    format!("arrow-json: {e}"),
                )
            })?;
            out.rows = Some(rows);
        }
    }
    Ok(())
}

/// Secrets the mocks hand out: tokens in token responses and rejected tokens.
fn mock_secrets(s: &Scenario) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(t) = &s.file.token {
        for r in &t.responses {
            for k in ["access_token", "refresh_token"] {
                if let Some(v) = r
                    .json
                    .as_ref()
                    .and_then(|j| j.get(k))
                    .and_then(Value::as_str)
                {
                    out.push(v.to_owned());
                }
            }
        }
    }
    out.extend(s.file.api.iter().flat_map(|r| r.reject_tokens.clone()));
    out
}

/// Runs one scenario against `registry` on fresh servers.
pub async fn run_scenario(registry: &Registry, s: &Scenario) -> Report {
    // wiremock's `MockServer` drop blocks on `futures::executor::block_on`
    // (verifying its expectations). Nested inside a tokio task whose coop
    // budget is spent, that inner poll of a tokio lock returns Pending
    // forever and the thread spins (tokio-rs/tokio#2711 describes the
    // mechanism). Scenarios run several to a task and drop their servers
    // deep into a poll, so they run, and drop, outside the budget.
    let played =
        tokio::task::unconstrained(tokio::time::timeout(SCENARIO_TIMEOUT, play(registry, s)));
    let outcome = match played.await {
        Ok(Ok(())) => Outcome::Pass,
        Ok(Err(d)) => Outcome::Fail(d),
        Err(_) => Outcome::Fail(format!("timed out after {}s", SCENARIO_TIMEOUT.as_secs())),
    };
    Report {
        id: s.id.clone(),
        outcome,
    }
}

async fn play(registry: &Registry, s: &Scenario) -> Result<(), String> {
    let mut servers = Servers::start().await;
    let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
    let [(tk, tv), (ak, av)] = servers.vars();
    let model_path = s
        .file
        .model
        .as_ref()
        .map(|m| {
            dir.path()
                .join(&m.file)
                .to_string_lossy()
                .replace('\\', "/")
        })
        .unwrap_or_default();
    // A port nothing listens on: bound, then released.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| format!("http://{a}"))
        .map_err(|e| format!("binding a port: {e}"))?;
    let vars: Vec<(&str, &str)> = vec![
        (tk, &tv),
        (ak, &av),
        ("model_file", &model_path),
        ("dead_server", &dead),
    ];
    if let Some(m) = &s.file.model {
        std::fs::write(&model_path, substitute(&m.text, &vars))
            .map_err(|e| format!("writing the model file: {e}"))?;
    }
    servers
        .mount(s.file.token.as_ref(), &s.file.api, &vars)
        .await;
    let url = substitute(&s.file.url, &vars);
    let masker = Masker::new(&url, mock_secrets(s));

    let mut produced = Produced::default();
    let result = async {
        let c = registry.connect(&url)?;
        for _ in 0..s.file.repeat {
            for op in &s.operations {
                operate(&*c, op, &mut produced).await?;
            }
        }
        Ok::<(), Error>(())
    }
    .await;
    check(s, &servers, result, &produced, &vars)
        .await
        .map_err(|d| masker.mask(&d))
}

/// Loads the scenarios under `root` that `options` select; malformed files
/// are errors naming the file and field.
pub fn load(
    root: &Path,
    options: &Options,
) -> Result<Vec<Result<Scenario, ScenarioError>>, String> {
    let pattern = match &options.scenario {
        Some(g) => Some(glob::Pattern::new(g).map_err(|e| format!("--scenario {g:?}: {e}"))?),
        None => None,
    };
    let files = scenario_files(root).map_err(|e| format!("{}: {e}", root.display()))?;
    Ok(files
        .iter()
        .flat_map(|p| Scenario::load_all(p))
        .filter(|r| match r {
            Err(_) => true,
            Ok(s) => {
                let name = s.id.rsplit('/').next().unwrap_or_default();
                options
                    .connector
                    .as_ref()
                    .is_none_or(|c| c.eq_ignore_ascii_case(&s.connector))
                    && pattern
                        .as_ref()
                        .is_none_or(|p| p.matches(&s.id) || p.matches(name))
            }
        })
        .collect())
}

/// Runs every selected scenario under `root`, `options.concurrency` at once,
/// calling `each` with every report in file order. Malformed files are failures.
pub async fn run_all(
    registry: &Registry,
    root: &Path,
    options: &Options,
    mut each: impl FnMut(&Report),
) -> Result<Vec<Report>, String> {
    let scenarios = load(root, options)?;
    let mut reports = Vec::new();
    let mut stream = futures::stream::iter(scenarios)
        .map(|s| async move {
            match s {
                Ok(s) => run_scenario(registry, &s).await,
                Err(e) => Report {
                    id: crate::scenario::scenario_id(&e.path),
                    outcome: Outcome::Fail(format!("malformed scenario {e}")),
                },
            }
        })
        .buffered(options.concurrency.max(1));
    while let Some(r) = stream.next().await {
        each(&r);
        reports.push(r);
    }
    Ok(reports)
}

/// `N passed, M failed`.
pub fn summary(reports: &[Report]) -> String {
    let passed = reports.iter().filter(|r| r.passed()).count();
    format!("{passed} passed, {} failed", reports.len() - passed)
}
