//! The benchmarks at tiny sizes: each completes, single flight sends one
//! token request. No timing is asserted.

use std::time::Duration;

use super::{Sizes, run_all};

fn tiny() -> Sizes {
    Sizes {
        auth_requests: 200,
        auth_concurrency: 8,
        auth_rounds: 1,
        rounds: 1,
        sf_callers: 200,
        sf_latency: Duration::from_millis(20),
        sf_runs: 1,
        rotations: 5,
        scan_rows: 3_000,
        scan_page: 1_000,
        scan_rss: None,
        dyn_rows: 12_000,
        dyn_page: 5_000,
        latency_pages: 3,
        partition_pages: 4,
    }
}

#[test]
fn every_benchmark_completes_at_tiny_sizes() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let outcome = runtime.block_on(run_all(&tiny(), None, false));
    assert!(outcome.failures.is_empty(), "{:?}", outcome.failures);
    let count = outcome
        .rows
        .iter()
        .find(|r| r.figure.starts_with("token requests"))
        .expect("the single-flight count is reported");
    assert_eq!(count.value.value, 1.0);
    for bench in [
        "1 auth",
        "2 single",
        "3 rotation",
        "4 scan",
        "5 dynamics365",
        "7 latency",
        "8 decode",
        "9 d365 metadata",
        "10 flight sql",
        "11 partitions",
        "12 dataverse partitions",
    ] {
        assert!(
            outcome.rows.iter().any(|r| r.bench.starts_with(bench)),
            "no figure from {bench}"
        );
    }
}
