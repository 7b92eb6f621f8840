//! DataFusion's errors as the command's: a connector's own error comes back
//! out of DataFusion's wrapping, so it prints once, in its own words, with
//! its own kind and exit code.

use connectkit_core::Error;
use connectkit_datafusion::datafusion::error::DataFusionError;

/// A DataFusion error as the CLI's ([`connectkit_datafusion::to_error`]).
pub fn df_error(e: DataFusionError) -> Error {
    connectkit_datafusion::to_error(e)
}
