//! REST APIs as tables, after Progress DataDirect's Autonomous REST
//! connector: describe the API in a model file (`Config`), or point the
//! connector at one endpoint and let it infer the tables (`Sample`).
//!
//! # Sample
//!
//! ```
//! use connectkit_autorest::{AutoRestDataSource, Connector, ScanRequest};
//! use futures::TryStreamExt;
//! # use wiremock::{Mock, MockServer, ResponseTemplate, matchers::path};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let server = MockServer::builder().start().await;
//! # Mock::given(path("/v1/countries"))
//! #     .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!([
//! #         {"code": "NO", "name": "Norway", "languages": ["no", "se"]},
//! #         {"code": "PT", "name": "Portugal", "languages": ["pt"]}])))
//! #     .expect(1)
//! #     .mount(&server).await;
//! # let api = server.uri(); // stands in for https://api.example.com
//! let connector = AutoRestDataSource::new()
//!     .sample(format!("{api}/v1/countries"))
//!     .build()?;
//! // One GET, inferred once: `countries`, plus a child table per array.
//! let names: Vec<String> = connector.tables().await?.into_iter().map(|t| t.name).collect();
//! assert_eq!(names, ["countries", "countries_languages"]);
//! let scan = connector
//!     .scan("countries", ScanRequest::new().with_projection(["name"]).with_limit(10))
//!     .await?;
//! let batches: Vec<_> = scan.batches.try_collect().await?;
//! assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 2);
//! # Ok(()) }
//! ```
//!
//! # Config
//!
//! A model file declares tables, types, keys, child tables and paging; this
//! one needs no network to list its tables:
//!
//! ```
//! use connectkit_autorest::{AutoRestDataSource, TYPE_METADATA_KEY};
//! use connectkit_core::Connector;
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let path = std::env::temp_dir().join("connectkit-doc-employees.rest");
//! std::fs::write(&path, r##"{
//!   "#maximumPageSize": 100,
//!   "#rowOffsetParameter": "offset",
//!   "#pageSizeParameter": "limit",
//!   "employees": {
//!     "#path": ["https://hr.example.com/employees /data"],
//!     "employeeID": "VarChar(32),#key",
//!     "title": "VarChar(46),#notNull",
//!     "address": {"city": "VarChar(64)"},
//!     "phones[]": {"number": "VarChar(20)"}
//!   }
//! }"##)?;
//! let connector = AutoRestDataSource::new()
//!     .config(path.to_str().unwrap())
//!     .build()?;
//! let names: Vec<_> = connector.tables().await?.into_iter().map(|t| t.name).collect();
//! assert_eq!(names, ["employees", "employees_phones"]);
//! let schema = connector.schema("EMPLOYEES").await?;
//! assert_eq!(schema.field(2).name(), "address_city");
//! assert_eq!(schema.field(0).metadata()[TYPE_METADATA_KEY], "VarChar(32)");
//! # Ok(()) }
//! ```
//!
//! Scans return Arrow record batches, one or more per page; values that do
//! not fit their column's type are errors naming the table, column, row and
//! value. [`infer_schemas`] runs `Sample`'s inference of tables, columns and
//! types on a response body without any HTTP; the model-file reference below
//! lists every key of a model file, the paging keys included.
//!
#![doc = include_str!("reference.md")]

mod auth;
mod connector;
mod decode;
mod error;
mod http;
mod infer;
mod inputs;
mod json;
mod keys;
mod model;
mod properties;
mod scan;
mod source;
mod table;

// What a user of this connector needs from the other crates, so one
// dependency is enough to connect, scan and match errors.
pub use connectkit_core::{Connector, Error, ErrorKind, Report, ScanRequest};
// Where the client credentials go in the token request.
pub use connectkit_oauth_refresh::ClientCredentialsMode;
pub use connector::AutoRestConnector;
pub use error::{AutoRestError, JsonKind};
pub use infer::infer_schemas;
pub use infer::sampling::{DEFAULT_SAMPLE_ROWS, UnsampledFieldPolicy};
pub use model::model_auth::ModelAuth;
pub use properties::catalogue;
pub use source::{AutoRestDataSource, register};
pub use table::types::SqlType;
pub use table::{KEY_METADATA_KEY, TYPE_METADATA_KEY};
