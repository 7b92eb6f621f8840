//! Client CPU time of request batches that take turns: every variant's
//! client lives on one current-thread runtime in a thread of its own, and
//! the variants send their batches in rotation, so that whatever the
//! machine does meanwhile (the server on the other core, a hypervisor
//! taking the vCPU away) falls on all of them alike instead of on whichever
//! ran during it. A batch's CPU time is read from the thread's CPU clock
//! around it; only the client's work runs on that thread.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use rustix::time::{ClockId, clock_gettime};

/// One request of a variant.
pub type Op = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// Makes a variant's requests.
pub type Variant = Arc<dyn Fn() -> Op + Send + Sync>;

/// Makes every variant, on the measuring thread (their clients, and so
/// their connections, belong to its runtime).
pub type Make = Box<dyn FnOnce() -> Vec<Variant> + Send>;

/// The CPU time the calling thread has used, in nanoseconds.
fn thread_cpu_ns() -> u64 {
    let t = clock_gettime(ClockId::ThreadCPUTime);
    u64::try_from(t.tv_sec).unwrap_or(0) * 1_000_000_000 + u64::try_from(t.tv_nsec).unwrap_or(0)
}

/// The CPU time the whole process has used (every thread: the servers the
/// bench starts in it too), in seconds.
pub fn process_cpu_s() -> f64 {
    let t = clock_gettime(ClockId::ProcessCPUTime);
    t.tv_sec as f64 + t.tv_nsec as f64 / 1e9
}

/// How the batches are laid out.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Requests in flight in a batch.
    pub concurrency: usize,
    /// Blocks: one figure per variant each (the pairs of the ratio).
    pub blocks: usize,
    /// Requests per variant and block (rounded up to whole batches).
    pub requests: usize,
}

/// Runs every variant's batches in rotation after an unmeasured warm-up
/// block (connections open); for each variant, its CPU time per request
/// in microseconds, one figure per block.
pub async fn interleaved(plan: Plan, make: Make) -> Result<Vec<Vec<f64>>, String> {
    tokio::task::spawn_blocking(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        runtime.block_on(async move {
            let ops = make();
            let c = plan.concurrency.max(1);
            let batches = plan.requests.div_ceil(c).max(1);
            let mut figures = vec![Vec::with_capacity(plan.blocks); ops.len()];
            let mut order: Vec<usize> = (0..ops.len()).collect();
            let mut rng = Shuffle(0x9E37_79B9_7F4A_7C15);
            for block in 0..=plan.blocks {
                let mut used = vec![0u64; ops.len()];
                for _ in 0..batches {
                    // A fresh order every turn: a batch inherits some of its
                    // predecessor's work (connections it has not yet given
                    // back to the pool), so no variant may always follow the
                    // same one.
                    rng.shuffle(&mut order);
                    for &i in &order {
                        let before = thread_cpu_ns();
                        futures::future::try_join_all((0..c).map(|_| ops[i]())).await?;
                        used[i] += thread_cpu_ns().saturating_sub(before);
                    }
                }
                if block > 0 {
                    for (f, u) in figures.iter_mut().zip(used) {
                        f.push(u as f64 / (batches * c) as f64 / 1000.0);
                    }
                }
            }
            Ok(figures)
        })
    })
    .await
    .map_err(|e| e.to_string())?
}

/// A small deterministic generator (xorshift64) for the batch order.
struct Shuffle(u64);

impl Shuffle {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Fisher-Yates.
    fn shuffle(&mut self, v: &mut [usize]) {
        for i in (1..v.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_turn_is_a_permutation_and_no_variant_always_leads() {
        let mut rng = Shuffle(0x9E37_79B9_7F4A_7C15);
        let mut order: Vec<usize> = (0..4).collect();
        let mut first = [0usize; 4];
        for _ in 0..400 {
            rng.shuffle(&mut order);
            let mut sorted = order.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, [0, 1, 2, 3]);
            first[order[0]] += 1;
        }
        // Each of four leads about a quarter of the turns.
        assert!(first.iter().all(|&n| (60..=140).contains(&n)), "{first:?}");
    }

    #[test]
    fn one_figure_per_variant_and_block() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let make: Make = Box::new(|| {
            let quick: Variant = Arc::new(|| Box::pin(async { Ok(()) }) as Op);
            let busy: Variant = Arc::new(|| {
                Box::pin(async {
                    // Some CPU work, so that its figure is above the other's.
                    let mut x = 0u64;
                    for i in 0..20_000u64 {
                        x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
                    }
                    std::hint::black_box(x);
                    Ok(())
                }) as Op
            });
            vec![quick, busy]
        });
        let plan = Plan {
            concurrency: 4,
            blocks: 3,
            requests: 40,
        };
        let figures = runtime.block_on(interleaved(plan, make)).unwrap();
        assert_eq!(figures.len(), 2);
        assert!(figures.iter().all(|f| f.len() == 3));
        let sum = |f: &[f64]| f.iter().sum::<f64>();
        assert!(sum(&figures[1]) > sum(&figures[0]), "{figures:?}");
    }
}
