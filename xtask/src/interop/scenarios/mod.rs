//! The interop scenarios. Each has a name `<server>/<topic>/.../<cli|lib>`,
//! the server it needs, and a check that returns `Err` with what differed.
//!
//! Expectations are what a correct connector does against that real server;
//! where servers differ (which token request forms each accepts), the
//! expected outcome per server is written beside the scenario as a recorded
//! fact, never skipped.

mod assertion;
mod authorize;
mod cap;
mod cap_certificate;
mod cap_sql;
mod dot_api;
mod flight_sql;
mod grant;
mod json_server;
mod jwt_bearer;
mod proxy;
mod rotation;
mod tls;

use std::collections::BTreeMap;
use std::path::PathBuf;

use futures::future::BoxFuture;

use super::seed::{CapSeed, JsonSeed};
use super::servers::{Kind, Server};

/// What a scenario sees: the binary, a scratch directory, the servers and the
/// seed data they were loaded with.
pub struct Ctx {
    /// The `connectkit` binary.
    pub bin: PathBuf,
    /// Scratch space for this run (token files, model files).
    pub run_dir: PathBuf,
    /// The venv's python (django-oauth-toolkit's, with proxy.py).
    pub python: PathBuf,
    /// The TLS venv's python (mitmproxy's, with trustme).
    pub tls_python: PathBuf,
    /// The running servers.
    pub servers: BTreeMap<Kind, Server>,
    /// json-server's data.
    pub json: JsonSeed,
    /// CAP's data.
    pub cap: CapSeed,
}

impl Ctx {
    /// A running server (scenarios only run when theirs was started).
    pub fn server(&self, kind: Kind) -> &Server {
        &self.servers[&kind]
    }

    /// A fresh scratch directory for one scenario.
    pub fn scratch(&self, name: &str) -> Result<PathBuf, String> {
        let dir = self.run_dir.join("scenarios").join(name.replace('/', "_"));
        std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {dir:?}: {e}"))?;
        Ok(dir)
    }
}

/// A scenario's check.
pub type Check = Box<dyn for<'a> Fn(&'a Ctx) -> BoxFuture<'a, Result<(), String>> + Send + Sync>;

/// One scenario.
pub struct Scenario {
    /// `<server>/<topic>/.../<cli|lib>`.
    pub name: String,
    /// The server it runs against.
    pub server: Kind,
    /// Other servers it needs as well.
    pub also: Vec<Kind>,
    /// The check.
    pub check: Check,
}

impl Scenario {
    /// A scenario from an async function of the context.
    pub fn new<F>(name: impl Into<String>, server: Kind, check: F) -> Self
    where
        F: for<'a> Fn(&'a Ctx) -> BoxFuture<'a, Result<(), String>> + Send + Sync + 'static,
    {
        Self {
            name: name.into(),
            server,
            also: Vec::new(),
            check: Box::new(check),
        }
    }

    /// The scenario, with `kind` started as well.
    pub fn and(mut self, kind: Kind) -> Self {
        self.also.push(kind);
        self
    }

    /// Every server the scenario needs.
    pub fn servers(&self) -> impl Iterator<Item = Kind> + '_ {
        std::iter::once(self.server).chain(self.also.iter().copied())
    }
}

/// Every scenario, in run order.
pub fn all() -> Vec<Scenario> {
    let mut v = Vec::new();
    v.extend(grant::scenarios());
    v.extend(authorize::scenarios());
    v.extend(assertion::scenarios());
    v.extend(jwt_bearer::scenarios());
    v.extend(rotation::scenarios());
    v.extend(dot_api::scenarios());
    v.extend(proxy::scenarios());
    v.extend(tls::scenarios());
    v.extend(json_server::scenarios());
    v.extend(cap::scenarios());
    v.extend(cap_certificate::scenarios());
    v.extend(cap_sql::scenarios());
    v.extend(flight_sql::scenarios());
    v
}

/// `ok` unless `cond`, else `Err(msg())`.
pub fn ensure(cond: bool, msg: impl FnOnce() -> String) -> Result<(), String> {
    if cond { Ok(()) } else { Err(msg()) }
}

/// Every problem of a scenario at once, so that one defect does not hide
/// another.
pub fn all_of(results: impl IntoIterator<Item = Result<(), String>>) -> Result<(), String> {
    let errors: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join(" | "))
    }
}
