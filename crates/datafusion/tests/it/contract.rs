//! The provider against the scan contract, with an in-memory source whose
//! filter answers the test chooses: what the source is asked, and what the
//! engine still does.

use std::sync::{Arc, Mutex};

use arrow_array::{Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use connectkit_core::{
    AuthFlow, Connector, Filter, FilterOp, FilterSupport, NoAuth, Result, Scan, ScanRequest,
    TableInfo,
};
use serde_json::json;

use crate::{column, query, session};

/// Three cities; applies no filter itself, reports them all unapplied
/// unless `lie` (then it reports none, whatever it said before the scan).
#[derive(Debug)]
struct Cities {
    support: FilterSupport,
    lie: bool,
    asked: Mutex<Vec<ScanRequest>>,
}

impl Cities {
    fn new(support: FilterSupport, lie: bool) -> Arc<Self> {
        Arc::new(Cities {
            support,
            lie,
            asked: Mutex::new(Vec::new()),
        })
    }
}

#[async_trait::async_trait]
impl Connector for Cities {
    async fn tables(&self) -> Result<Vec<TableInfo>> {
        Ok(vec![TableInfo::new("Cities")])
    }
    async fn schema(&self, _: &str) -> Result<SchemaRef> {
        Ok(Arc::new(Schema::new(vec![
            Field::new("name", DataType::Utf8, false),
            Field::new("people", DataType::Int64, false),
        ])))
    }
    async fn scan(&self, table: &str, request: ScanRequest) -> Result<Scan> {
        self.asked.lock().unwrap().push(request.clone());
        let all = self.schema(table).await?;
        let batch = RecordBatch::try_new(
            all.clone(),
            vec![
                Arc::new(StringArray::from(vec!["Oslo", "Bergen", "Tromsø"])),
                Arc::new(Int64Array::from(vec![717_710, 291_940, 78_745])),
            ],
        )
        .unwrap();
        let idx: Vec<usize> = match &request.projection {
            Some(cols) => cols.iter().map(|c| all.index_of(c).unwrap()).collect(),
            None => vec![0, 1],
        };
        let batch = batch.project(&idx).unwrap();
        let unapplied = if self.lie {
            Vec::new()
        } else {
            request.filters
        };
        Ok(
            Scan::new(batch.schema(), Box::pin(futures::stream::iter([Ok(batch)])))
                .with_unapplied_filters(unapplied)
                .with_limit_applied(false),
        )
    }
    fn filter_support(&self, _: &str, filters: &[Filter]) -> Vec<FilterSupport> {
        vec![self.support; filters.len()]
    }
    fn auth_flow(&self) -> Arc<dyn AuthFlow> {
        Arc::new(NoAuth)
    }
}

#[tokio::test]
async fn inexact_filters_are_sent_and_applied_again_and_keep_the_limit() {
    let source = Cities::new(FilterSupport::Inexact, false);
    let ctx = session("geo", source.clone()).await;
    let rows = query(
        &ctx,
        "SELECT name FROM geo.\"CITIES\" WHERE people > 100000 LIMIT 5",
    )
    .await;
    assert_eq!(column(&rows, "name"), [json!("Oslo"), json!("Bergen")]);
    let asked = source.asked.lock().unwrap().clone();
    assert_eq!(asked.len(), 1);
    assert_eq!(
        asked[0].projection,
        Some(vec!["name".to_owned(), "people".to_owned()])
    );
    assert_eq!(
        asked[0].filters,
        [Filter::new("people", FilterOp::Gt, 100_000i64)]
    );
    assert_eq!(asked[0].limit, None, "no limit with an inexact filter");
}

#[tokio::test]
async fn unsupported_filters_stay_in_the_engine() {
    let source = Cities::new(FilterSupport::Unsupported, false);
    let ctx = session("geo", source.clone()).await;
    let rows = query(
        &ctx,
        "SELECT name FROM geo.cities WHERE people < 300000 ORDER BY name",
    )
    .await;
    assert_eq!(column(&rows, "name"), [json!("Bergen"), json!("Tromsø")]);
    let asked = source.asked.lock().unwrap().clone();
    assert!(asked[0].filters.is_empty());
}

#[tokio::test]
async fn exact_filters_take_the_limit_along() {
    let source = Cities::new(FilterSupport::Exact, true);
    let ctx = session("geo", source.clone()).await;
    // The source applies nothing here, so the rows are its whole table cut
    // at the limit: the engine trusted it, as the contract says.
    let rows = query(
        &ctx,
        "SELECT name FROM geo.cities WHERE people > 100000 LIMIT 2",
    )
    .await;
    assert_eq!(column(&rows, "name"), [json!("Oslo"), json!("Bergen")]);
    let asked = source.asked.lock().unwrap().clone();
    assert_eq!(asked[0].projection, Some(vec!["name".to_owned()]));
    assert_eq!(asked[0].limit, Some(2));
}

#[tokio::test]
async fn a_source_that_hands_back_an_exact_filter_is_an_error() {
    let source = Cities::new(FilterSupport::Exact, false);
    let ctx = session("geo", source).await;
    let err = ctx
        .sql("SELECT name FROM geo.cities WHERE people > 100000")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("applies `people > 100000` exactly"),
        "{err}"
    );
}
