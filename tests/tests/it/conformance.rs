//! The conformance suites run as workspace tests, and the runner catches a broken connector.

use connectkit_e2e::{Options, builtin_registry, conformance_dir, run_all, summary};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_passes() {
    let registry = builtin_registry();
    // CONFORMANCE_SCENARIO=GLOB narrows the run while writing scenarios.
    let options = Options {
        scenario: std::env::var("CONFORMANCE_SCENARIO").ok(),
        ..Options::default()
    };
    let reports = run_all(&registry, &conformance_dir(), &options, |_| {})
        .await
        .expect("fixtures/conformance is readable");
    let failed: Vec<String> = reports
        .iter()
        .filter(|r| !r.passed())
        .map(|r| r.line())
        .collect();
    assert!(
        failed.is_empty(),
        "{}\n{}",
        failed.join("\n"),
        summary(&reports)
    );
    if options.scenario.is_none() {
        assert!(reports.len() >= 40, "only {} scenarios", reports.len());
    }
}
