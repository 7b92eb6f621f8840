//! Shared scenarios (`shared: true`) and the test table each connector
//! declares for them in `<suite>/shared_table.yaml`: the connection URL, the
//! table, the route its pages are read from, the element holding the rows and
//! two columns. A shared scenario is written once with `{{table}}`,
//! `{{route}}`, `{{id}}`, `{{text}}`, ... placeholders and `rows:` responses;
//! the runner plays it once per declaration, as `<id>[<connector>]`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::load::{ScenarioError, subprotocol, substitute};
use crate::scenario::{MockResponse, Route};

/// The file name of a connector's declaration, in its own suite directory.
pub const SHARED_TABLE_FILE: &str = "shared_table.yaml";

/// A connector's shared test table, as written in `shared_table.yaml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SharedTable {
    /// What the table stands for, for people.
    #[serde(default)]
    pub description: Option<String>,
    /// Set while the connector cannot play the shared scenarios yet: why.
    /// They are not run for it until this line is removed.
    #[serde(default)]
    pub pending: Option<String>,
    /// The connection URL (`{{api_server}}`, `{{token_server}}` as in
    /// scenarios); its subprotocol must be the suite directory's name.
    pub url: String,
    /// The table name scans use: `{{table}}`.
    pub table: String,
    /// The path the table's pages are read from: `{{route}}`.
    pub route: String,
    /// The path every request of the connector starts with (its API root):
    /// `{{base_path}}`; the route by default.
    #[serde(default)]
    pub base_path: Option<String>,
    /// The JSON element of a page holding the rows (`value` for OData);
    /// empty or absent: the page is a top-level array.
    #[serde(default)]
    pub rows: String,
    /// The two columns shared scenarios use.
    pub columns: SharedColumns,
    /// How a page links to the next one: `{element: "@odata.nextLink", query:
    /// {$skiptoken: "{{page}}"}}`, the link being `{{api_server}}{{route}}?` and
    /// the query, page N's number as `{{page}}`; without `element`, a
    /// `Link: <...>; rel="next"` header. Scenarios that page need it.
    #[serde(default)]
    pub next_page: Option<NextPage>,
    /// Routes the connector reads besides the pages (a metadata document, a
    /// service document), added to every shared scenario's `api`.
    #[serde(default)]
    pub setup: Vec<Route>,
}

/// The next-page form of a shared table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NextPage {
    /// The page element holding the next page's URL; absent: a Link header.
    #[serde(default)]
    pub element: Option<String>,
    /// The query parameters of page N (`{{page}}` is N).
    pub query: BTreeMap<String, String>,
}

impl NextPage {
    /// Page `n`'s query parameters.
    fn query(&self, n: u32) -> BTreeMap<String, Value> {
        let n = n.to_string();
        self.query
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(substitute(v, &[("page", &n)]))))
            .collect()
    }

    /// Page `n`'s URL (`{{api_server}}` filled when the servers start).
    fn url(&self, route: &str, n: u32) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in self.query(n) {
            q.append_pair(&k, v.as_str().unwrap_or_default());
        }
        format!("{{{{api_server}}}}{route}?{}", q.finish())
    }
}

/// The columns of a shared table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SharedColumns {
    /// An integer key column: `{{id}}`, its type `{{id_type}}`.
    pub id: SharedColumn,
    /// A text column: `{{text}}`, its type `{{text_type}}`.
    pub text: SharedColumn,
}

/// One column: its name and its type as the connector reports it
/// (`connectkit.type`, else the Arrow type).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SharedColumn {
    /// The column name.
    pub name: String,
    /// The type, as `expect.columns` compares it.
    #[serde(rename = "type")]
    pub ty: String,
}

impl SharedTable {
    /// Reads and checks one declaration of `connector`.
    pub fn load(path: &Path, connector: &str) -> Result<SharedTable, ScenarioError> {
        let fail = |message: String| ScenarioError {
            path: path.to_owned(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read: {e}")))?;
        let t: SharedTable = serde_saphyr::from_str(&text).map_err(|e| {
            let shown = e.to_string();
            let first = shown.lines().next().unwrap_or_default();
            fail(first.trim_start_matches("error: ").to_owned())
        })?;
        if subprotocol(&t.url).as_deref() != Some(connector) {
            return Err(fail(format!(
                "field url: expected a `jdbc:datadirect:{connector}:...` URL (the directory names the connector)"
            )));
        }
        if !t.route.starts_with('/') {
            return Err(fail("field route: expected a path starting with /".into()));
        }
        if let Some(b) = &t.base_path
            && !t.route.starts_with(b.as_str())
        {
            return Err(fail(format!(
                "field base_path: expected a prefix of the route {}",
                t.route
            )));
        }
        if let Some(i) = t
            .setup
            .iter()
            .position(|r| r.responses.is_empty() || !r.path.starts_with('/'))
        {
            return Err(fail(format!(
                "field setup[{i}]: expected a path starting with / and at least one response"
            )));
        }
        Ok(t)
    }

    /// The placeholders a shared scenario's text may use.
    pub fn vars<'a>(&'a self, connector: &'a str) -> [(&'static str, &'a str); 8] {
        [
            (
                "base_path",
                self.base_path.as_deref().unwrap_or(&self.route),
            ),
            ("connector", connector),
            ("table", &self.table),
            ("route", &self.route),
            ("id", &self.columns.id.name),
            ("id_type", &self.columns.id.ty),
            ("text", &self.columns.text.name),
            ("text_type", &self.columns.text.ty),
        ]
    }

    /// A page holding `rows`, in the declared form.
    pub fn page(&self, rows: Vec<Value>) -> Value {
        if self.rows.is_empty() {
            Value::Array(rows)
        } else {
            serde_json::json!({ self.rows.clone(): rows })
        }
    }

    /// The URL of a shared scenario: `{{api_server}}` becomes `{{dead_server}}`
    /// when the scenario's API is unreachable.
    pub fn url(&self, unreachable_api: bool) -> String {
        if unreachable_api {
            self.url.replace("{{api_server}}", "{{dead_server}}")
        } else {
            self.url.clone()
        }
    }

    /// Every `rows:` response of `routes` as a page of this table, its
    /// `next_page` as the declared link, and every `page: N` route matching
    /// page N's query parameters.
    pub fn fill_pages(&self, routes: &mut [Route]) -> Result<(), String> {
        for (i, r) in routes.iter_mut().enumerate() {
            if let Some(n) = r.page.take() {
                let next = self.next_page.as_ref().ok_or_else(|| {
                    format!("field api[{i}].page: the connector declares no next_page")
                })?;
                r.query.extend(next.query(n));
            }
            for (j, resp) in r.responses.iter_mut().enumerate() {
                self.fill_page(resp)
                    .map_err(|e| format!("field api[{i}].responses[{j}]: {e}"))?;
            }
        }
        Ok(())
    }

    fn fill_page(&self, r: &mut MockResponse) -> Result<(), String> {
        let Some(rows) = r.rows.take() else {
            return match r.next_page {
                Some(_) => Err("next_page goes with rows".into()),
                None => Ok(()),
            };
        };
        let mut page = self.page(rows);
        if let Some(n) = r.next_page.take() {
            let next = self
                .next_page
                .as_ref()
                .ok_or("next_page: the connector declares no next_page")?;
            let url = next.url(&self.route, n);
            match (&next.element, &mut page) {
                (Some(e), Value::Object(m)) => {
                    m.insert(e.clone(), Value::String(url));
                }
                (Some(e), _) => {
                    return Err(format!(
                        "next_page: the rows are a top-level array, with no place for the element {e}"
                    ));
                }
                (None, _) => {
                    r.headers.insert(
                        "Link".into(),
                        Value::String(format!("<{url}>; rel=\"next\"")),
                    );
                }
            }
        }
        r.json = Some(page);
        Ok(())
    }
}

/// The declarations under the scenario root `root`
/// (`<root>/<connector>/shared_table.yaml`), by connector name, sorted.
pub fn declarations(root: &Path) -> Vec<(String, PathBuf)> {
    let mut out: Vec<(String, PathBuf)> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join(SHARED_TABLE_FILE).is_file())
        .filter_map(|p| {
            let name = p.file_name()?.to_string_lossy().into_owned();
            Some((name, p.join(SHARED_TABLE_FILE)))
        })
        .collect();
    out.sort();
    out
}

/// The text of a shared scenario for one connector: its placeholders filled.
pub fn expand(text: &str, table: &SharedTable, connector: &str) -> String {
    substitute(text, &table.vars(connector))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(rows: &str, element: Option<&str>) -> SharedTable {
        let next = match element {
            Some(e) => format!("{{element: \"{e}\", query: {{page: \"{{{{page}}}}\"}}}}"),
            None => "{query: {page: \"{{page}}\"}}".to_owned(),
        };
        serde_saphyr::from_str(&format!(
            "url: x\ntable: t\nroute: /t\nrows: \"{rows}\"\ncolumns: {{id: {{name: i, type: I}}, text: {{name: s, type: S}}}}\nnext_page: {next}\n"
        ))
        .unwrap()
    }

    fn routes() -> Vec<Route> {
        serde_saphyr::from_str(
            "- {path: /t, responses: [{rows: [{i: 1}], next_page: 2}]}\n- {path: /t, page: 2, responses: [{rows: []}]}\n",
        )
        .unwrap()
    }

    #[test]
    fn pages_link_in_the_declared_form() {
        let mut r = routes();
        table("value", Some("@odata.nextLink"))
            .fill_pages(&mut r)
            .unwrap();
        assert_eq!(
            r[0].responses[0].json,
            Some(
                serde_json::json!({"value": [{"i": 1}], "@odata.nextLink": "{{api_server}}/t?page=2"})
            )
        );
        assert_eq!(r[1].query.get("page"), Some(&Value::String("2".into())));
        assert_eq!(r[1].page, None);
        let mut r = routes();
        table("", None).fill_pages(&mut r).unwrap();
        assert_eq!(r[0].responses[0].json, Some(serde_json::json!([{"i": 1}])));
        assert_eq!(
            r[0].responses[0].headers.get("Link"),
            Some(&Value::String(
                "<{{api_server}}/t?page=2>; rel=\"next\"".into()
            ))
        );
        let e = table("", Some("next"))
            .fill_pages(&mut routes())
            .unwrap_err();
        assert!(e.contains("top-level array"), "{e}");
    }
}
