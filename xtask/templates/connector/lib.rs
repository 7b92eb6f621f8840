//! The `example` connector: Example as connectkit tables.
//!
//! Scaffolded by `cargo xtask new-connector example`. It serves one static
//! table, `items`, so that the build and the first conformance scenario pass
//! from the start. Replace the static rows with requests to `ServiceURL`
//! sent through the shared layer: a `connectkit_core::client::ApiClient`
//! built with `self.auth` and a `CredentialScope` allowing `ServiceURL`
//! (retries, 401 refresh, limits and messages come with it), and a
//! `PageSource` given to `connectkit_core::client::paginate` for paged
//! resources. Add a scenario to `fixtures/conformance/example/` for each
//! behaviour; `fixtures/conformance/example/shared_table.yaml` declares the
//! table the shared scenarios (`fixtures/conformance/shared/`) use: delete
//! its `pending` line once `scan` reads pages from `ServiceURL`.

use std::sync::Arc;

use connectkit_core::arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use connectkit_core::arrow_schema::{DataType, Field, Schema, SchemaRef};
use connectkit_core::{
    AuthFlow, COMMON_PROPERTIES, Connector, Error, ErrorKind, NoAuth, Properties, PropertySpec,
    Registry, Result, Scan, ScanRequest, TableInfo, async_trait,
};

/// The properties the `example` subprotocol accepts.
pub fn catalogue() -> Vec<PropertySpec> {
    COMMON_PROPERTIES
        .iter()
        .copied()
        .chain([PropertySpec::new("ServiceURL", "The root URL of the API.").required()])
        .collect()
}

/// Registers the connector for `jdbc:datadirect:example:...`.
pub fn register(registry: &mut Registry) {
    registry.register("example", catalogue(), |props| {
        Ok(Box::new(ExampleConnector::from_properties(props)?) as Box<dyn Connector>)
    });
}

/// The `example` connector.
#[derive(Debug)]
pub struct ExampleConnector {
    /// The API root, from `ServiceURL`.
    pub service_url: String,
    auth: Arc<dyn AuthFlow>,
}

impl ExampleConnector {
    /// Builds the connector from validated properties.
    pub fn from_properties(props: &Properties) -> Result<Self> {
        let service_url = props
            .get_str("ServiceURL")
            .ok_or_else(|| Error::MissingProperty {
                name: "ServiceURL".into(),
            })?
            .to_owned();
        Ok(Self {
            service_url,
            auth: Arc::new(NoAuth),
        })
    }

    fn items_schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, true),
        ]))
    }

    fn check_table(table: &str) -> Result<()> {
        if table.eq_ignore_ascii_case("items") {
            Ok(())
        } else {
            Err(Error::TableNotFound {
                name: table.to_owned(),
                known: vec!["items".into()],
            })
        }
    }
}

#[async_trait]
impl Connector for ExampleConnector {
    async fn tables(&self) -> Result<Vec<TableInfo>> {
        Ok(vec![TableInfo::new("items")])
    }

    async fn schema(&self, table: &str) -> Result<SchemaRef> {
        Self::check_table(table)?;
        Ok(Self::items_schema())
    }

    async fn scan(&self, table: &str, request: ScanRequest) -> Result<Scan> {
        Self::check_table(table)?;
        let schema = Self::items_schema();
        let (ids, names) = ([1i64, 2, 3], ["one", "two", "three"]);
        // No filter is applied here, so a limit is the caller's to apply
        // after filtering (the scan contract).
        let limit = request.limit.filter(|_| request.filters.is_empty());
        let n = limit.unwrap_or(ids.len()).min(ids.len());
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(ids[..n].to_vec())),
            Arc::new(StringArray::from(names[..n].to_vec())),
        ];
        let arrow =
            |e: connectkit_core::arrow_schema::ArrowError| Error::connector(ErrorKind::Other, e);
        let batch = RecordBatch::try_new(schema.clone(), columns).map_err(arrow)?;
        let indices = match &request.projection {
            None => (0..schema.fields().len()).collect(),
            Some(cols) => cols
                .iter()
                .map(|c| {
                    schema.index_of(c).map_err(|_| Error::ColumnNotFound {
                        table: "items".into(),
                        column: c.clone(),
                    })
                })
                .collect::<Result<Vec<_>>>()?,
        };
        let batch = batch.project(&indices).map_err(arrow)?;
        let stream = futures::stream::iter([Ok(batch.clone())]);
        let limit_applied = request.limit.is_none() || limit.is_some();
        Ok(Scan::new(batch.schema(), Box::pin(stream))
            .with_unapplied_filters(request.filters)
            .with_limit_applied(limit_applied))
    }

    fn auth_flow(&self) -> Arc<dyn AuthFlow> {
        self.auth.clone()
    }
}
