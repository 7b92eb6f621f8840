//! Counting what a scan returns, the one check every throughput figure
//! rests on: a rate is only reported for a scan that read every row.

use std::time::Instant;

use connectkit_core::{Connector, ScanRequest};
use futures::TryStreamExt;

/// The rows of a whole-table scan of `table`, batches counted as they come.
pub(super) async fn count_rows(c: &dyn Connector, table: &str) -> Result<usize, String> {
    let mut scan = c
        .scan(table, ScanRequest::new())
        .await
        .map_err(|e| e.to_string())?;
    let mut total = 0;
    while let Some(batch) = scan.batches.try_next().await.map_err(|e| e.to_string())? {
        total += batch.num_rows();
    }
    Ok(total)
}

/// An error unless `got` rows were read where `want` were expected.
pub(super) fn check_rows(got: usize, want: usize) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("read {got} rows, expected {want}"))
    }
}

/// Rows/s of a whole-table scan of `table`, which must return `rows` rows.
pub(super) async fn scan_rate(c: &dyn Connector, table: &str, rows: usize) -> Result<f64, String> {
    let started = Instant::now();
    let total = count_rows(c, table).await?;
    check_rows(total, rows)?;
    Ok(total as f64 / started.elapsed().as_secs_f64())
}
