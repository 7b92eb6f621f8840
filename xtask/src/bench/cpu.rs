//! Client CPU time: requests driven on a current-thread runtime in a thread
//! of its own, whose CPU time the kernel accounts to the nanosecond.

use std::future::Future;

use super::auth::drive;

/// The CPU time the calling thread has used, in nanoseconds
/// (`/proc/thread-self/schedstat`, first field).
pub fn thread_cpu_ns() -> Result<u64, String> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat")
        .map_err(|e| format!("reading /proc/thread-self/schedstat: {e}"))?;
    text.split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("/proc/thread-self/schedstat is not a CPU time: {text:?}"))
}

/// Builds the client with `make` inside a fresh current-thread runtime on a
/// thread of its own, sends `warm` requests unmeasured (connections open),
/// then `n` with `concurrency` in flight; the thread's CPU time per request
/// of those `n`, in microseconds.
pub async fn cpu_per_request<M, F, Fut>(
    warm: usize,
    n: usize,
    concurrency: usize,
    make: M,
) -> Result<f64, String>
where
    M: FnOnce() -> F + Send + 'static,
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<(), String>> + Send,
{
    tokio::task::spawn_blocking(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        runtime.block_on(async move {
            let op = make();
            drive(warm, concurrency, op.clone()).await?;
            let before = thread_cpu_ns()?;
            drive(n, concurrency, op).await?;
            let used = thread_cpu_ns()?.saturating_sub(before);
            Ok(used as f64 / n.max(1) as f64 / 1000.0)
        })
    })
    .await
    .map_err(|e| e.to_string())?
}
