use std::sync::Arc;

use connectkit_core::arrow_schema::{Schema, SchemaRef};
use connectkit_core::{
    AuthFlow, Connector, Error, NoAuth, PropertySpec, Result, Scan, ScanRequest, TableInfo,
    async_trait,
};

#[derive(Debug)]
struct Fake {
    table: String,
}

#[async_trait]
impl Connector for Fake {
    async fn tables(&self) -> Result<Vec<TableInfo>> {
        Ok(vec![TableInfo::new(self.table.clone())])
    }
    async fn schema(&self, _table: &str) -> Result<SchemaRef> {
        Ok(Arc::new(Schema::empty()))
    }
    async fn scan(&self, table: &str, _request: ScanRequest) -> Result<Scan> {
        Err(Error::TableNotFound {
            name: table.into(),
            known: vec![],
        })
    }
    fn auth_flow(&self) -> Arc<dyn AuthFlow> {
        Arc::new(NoAuth)
    }
}

fn registry() -> connectkit_core::Registry {
    let mut r = connectkit_core::Registry::new();
    r.register(
        "fake",
        vec![
            PropertySpec::new("Table", "name").required(),
            PropertySpec::new("ClientSecret", "s").secret(),
        ],
        |props| {
            Ok(Box::new(Fake {
                table: props.get_str("Table").unwrap().to_owned(),
            }))
        },
    );
    r.register("other", vec![], |_| {
        Ok(Box::new(Fake { table: "x".into() }))
    });
    r
}

#[tokio::test]
async fn connect_builds_the_registered_connector() {
    let c = registry()
        .connect("jdbc:datadirect:FAKE:table=people")
        .unwrap();
    assert_eq!(c.tables().await.unwrap(), vec![TableInfo::new("people")]);
}

#[test]
fn unknown_subprotocol_lists_known_ones() {
    let err = registry()
        .connect("jdbc:datadirect:nope:Table=x")
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown subprotocol \"nope\"; known: fake, other"
    );
}

#[test]
fn connect_validates_against_the_catalogue() {
    let err = registry().connect("fake:Tabel=x").unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown property Tabel (did you mean Table?)"
    );
    let err = registry().connect("fake:ClientSecret=x").unwrap_err();
    assert_eq!(err.to_string(), "missing required property Table");
}
