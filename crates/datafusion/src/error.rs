//! DataFusion's errors as connectkit's: a connector's own error comes back
//! out of DataFusion's wrapping, so it is reported once, in its own words,
//! with its own kind.

use connectkit_core::{Error, ErrorKind};
use datafusion::arrow::error::ArrowError;
use datafusion::error::DataFusionError;

/// A DataFusion error as connectkit's: the connector's error it wraps when a
/// connector failed (without DataFusion's "External error" prefix), else
/// the DataFusion error classified: `Config` for SQL the planner refused.
pub fn to_error(e: DataFusionError) -> Error {
    match unwrap_connector(e) {
        Ok(connector) => connector,
        Err(e) => {
            let mut kind = match e.find_root() {
                DataFusionError::SQL(..)
                | DataFusionError::Plan(_)
                | DataFusionError::SchemaError(..)
                | DataFusionError::Configuration(_)
                | DataFusionError::NotImplemented(_) => ErrorKind::Config,
                _ => ErrorKind::Other,
            };
            // A connector error DataFusion shares (and so cannot give up)
            // still decides the kind.
            let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
            while let Some(c) = cause {
                if let Some(ck) = c.downcast_ref::<Error>() {
                    kind = ck.kind();
                    break;
                }
                cause = c.source();
            }
            Error::coded(kind, "sql", e)
        }
    }
}

/// The connectkit error inside DataFusion's wrappers, taken out by value so
/// that nothing of it (kind, status, OAuth code, causes) is lost; the
/// DataFusion error unchanged when it holds none.
fn unwrap_connector(e: DataFusionError) -> Result<Error, DataFusionError> {
    match e {
        DataFusionError::External(inner) => inner
            .downcast::<Error>()
            .map(|b| *b)
            .map_err(DataFusionError::External),
        DataFusionError::ArrowError(arrow, context) => match *arrow {
            ArrowError::ExternalError(inner) => {
                inner.downcast::<Error>().map(|b| *b).map_err(|inner| {
                    DataFusionError::ArrowError(Box::new(ArrowError::ExternalError(inner)), context)
                })
            }
            other => Err(DataFusionError::ArrowError(Box::new(other), context)),
        },
        DataFusionError::Context(what, inner) => unwrap_connector(*inner)
            .map_err(|inner| DataFusionError::Context(what, Box::new(inner))),
        other => Err(other),
    }
}
