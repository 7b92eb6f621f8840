//! Queries between planning and their last batch: tickets waiting for
//! DoGet, prepared statements, running queries (for cancellation), the
//! concurrency limits, and the one log line per query.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arrow_array::RecordBatch;
use arrow_flight::error::FlightError;
use arrow_schema::SchemaRef;
use connectkit_datafusion::datafusion::common::tree_node::TreeNodeRecursion;
use connectkit_datafusion::datafusion::logical_expr::LogicalPlan;
use connectkit_datafusion::datafusion::physical_plan::SendableRecordBatchStream;
use connectkit_datafusion::datafusion::prelude::DataFrame;
use futures::{Stream, StreamExt};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tonic::Status;

use crate::config::Limits;
use crate::status::df_status;

/// How long a planned query waits for its DoGet.
const PENDING_LIFETIME: Duration = Duration::from_secs(600);

/// A planned query waiting for its DoGet.
pub(crate) struct Pending {
    pub(crate) user: Arc<str>,
    pub(crate) df: DataFrame,
    pub(crate) tables: Vec<String>,
    created: Instant,
}

/// A prepared statement of one user.
pub(crate) struct Prepared {
    pub(crate) user: Arc<str>,
    pub(crate) df: DataFrame,
    pub(crate) tables: Vec<String>,
    /// Parameter values bound by the last DoPut, one per placeholder.
    pub(crate) params: Option<Vec<connectkit_datafusion::datafusion::scalar::ScalarValue>>,
}

/// A running query: its user and what stops it.
type Running = (Arc<str>, Arc<Notify>);

/// Every query the server holds.
pub(crate) struct Queries {
    limits: Limits,
    pending: Mutex<HashMap<String, Pending>>,
    running: Mutex<HashMap<String, Running>>,
    prepared: Mutex<HashMap<String, Prepared>>,
    total: Arc<Semaphore>,
    per_user: Mutex<HashMap<Arc<str>, Arc<Semaphore>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The `schema.table` names a plan reads.
pub(crate) fn tables_of(plan: &LogicalPlan) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let _ = plan.apply_with_subqueries(|node| {
        if let LogicalPlan::TableScan(scan) = node {
            let name = scan.table_name.to_string();
            if !out.contains(&name) {
                out.push(name);
            }
        }
        Ok(TreeNodeRecursion::Continue)
    });
    out
}

impl Queries {
    pub(crate) fn new(limits: Limits) -> Self {
        Self {
            total: Arc::new(Semaphore::new(limits.queries)),
            limits,
            pending: Mutex::default(),
            running: Mutex::default(),
            prepared: Mutex::default(),
            per_user: Mutex::default(),
        }
    }

    /// Keeps a planned query for DoGet under `handle`.
    pub(crate) fn add_pending(
        &self,
        handle: String,
        user: Arc<str>,
        df: DataFrame,
        tables: Vec<String>,
    ) {
        let now = Instant::now();
        let mut pending = lock(&self.pending);
        pending.retain(|_, p| now.duration_since(p.created) < PENDING_LIFETIME);
        pending.insert(
            handle,
            Pending {
                user,
                df,
                tables,
                created: now,
            },
        );
    }

    /// Takes `user`'s planned query `handle` (a ticket is read once).
    pub(crate) fn take_pending(&self, handle: &str, user: &str) -> Result<Pending, Status> {
        let mut pending = lock(&self.pending);
        match pending.get(handle) {
            Some(p) if &*p.user == user => Ok(pending.remove(handle).expect("present")),
            _ => Err(Status::not_found(
                "no such query ticket: it was read already, cancelled, expired or belongs to another session; call GetFlightInfo again",
            )),
        }
    }

    pub(crate) fn add_prepared(&self, handle: String, prepared: Prepared) {
        lock(&self.prepared).insert(handle, prepared);
    }

    /// Runs `f` on `user`'s prepared statement `handle`.
    pub(crate) fn with_prepared<R>(
        &self,
        handle: &str,
        user: &str,
        f: impl FnOnce(&mut Prepared) -> R,
    ) -> Result<R, Status> {
        let mut prepared = lock(&self.prepared);
        match prepared.get_mut(handle) {
            Some(p) if &*p.user == user => Ok(f(p)),
            _ => Err(Status::not_found(
                "no such prepared statement (closed, or another session's)",
            )),
        }
    }

    pub(crate) fn close_prepared(&self, handle: &str, user: &str) -> Result<(), Status> {
        self.with_prepared(handle, user, |_| ())?;
        lock(&self.prepared).remove(handle);
        Ok(())
    }

    /// Cancels query `handle`: forgets it if it waits for DoGet, stops its
    /// stream (and so the upstream scan) if it runs. False if unknown.
    pub(crate) fn cancel(&self, handle: &str, user: &str) -> bool {
        {
            let mut pending = lock(&self.pending);
            if pending.get(handle).is_some_and(|p| &*p.user == user) {
                pending.remove(handle);
                return true;
            }
        }
        if let Some((owner, n)) = lock(&self.running).get(handle)
            && &**owner == user
        {
            n.notify_one();
            return true;
        }
        false
    }

    /// Reserves a place for one of `user`'s queries, or says which limit is reached.
    fn admit(
        &self,
        user: &Arc<str>,
    ) -> Result<(OwnedSemaphorePermit, OwnedSemaphorePermit), Status> {
        let mine = lock(&self.per_user)
            .entry(user.clone())
            .or_insert_with(|| Arc::new(Semaphore::new(self.limits.queries_per_user)))
            .clone();
        let mine = mine.try_acquire_owned().map_err(|_| {
            Status::resource_exhausted(format!(
                "user {user} already has {} queries running (limits.queries_per_user); wait for one to finish",
                self.limits.queries_per_user
            ))
        })?;
        let all = self.total.clone().try_acquire_owned().map_err(|_| {
            Status::resource_exhausted(format!(
                "the server already runs {} queries (limits.queries); try again shortly",
                self.limits.queries
            ))
        })?;
        Ok((mine, all))
    }

    /// Starts `pending` and streams its batches as they arrive, within the
    /// limits; stopping the stream (client gone, cancel) stops the scan.
    pub(crate) async fn run(
        self: &Arc<Self>,
        handle: String,
        pending: Pending,
    ) -> Result<
        (
            SchemaRef,
            impl Stream<Item = Result<RecordBatch, FlightError>> + Send + 'static,
        ),
        Status,
    > {
        let permits = self.admit(&pending.user)?;
        let started = Instant::now();
        let schema: SchemaRef = Arc::new(pending.df.schema().as_arrow().clone());
        let stream = pending
            .df
            .execute_stream()
            .await
            .map_err(|e| df_status(e, &pending.tables))?;
        let batches = self.stream(
            handle,
            pending.user,
            pending.tables,
            stream,
            permits,
            started,
        );
        Ok((schema, batches))
    }

    /// `stream` within the limits, cancellable under `handle`, logged when it ends.
    fn stream(
        self: &Arc<Self>,
        handle: String,
        user: Arc<str>,
        tables: Vec<String>,
        stream: SendableRecordBatchStream,
        permits: (OwnedSemaphorePermit, OwnedSemaphorePermit),
        started: Instant,
    ) -> impl Stream<Item = Result<RecordBatch, FlightError>> + Send + 'static + use<> {
        let cancel = Arc::new(Notify::new());
        lock(&self.running).insert(handle.clone(), (user.clone(), cancel.clone()));
        let run = Run {
            stream,
            cancel,
            deadline: self.limits.query_timeout.map(|t| started + t),
            timeout: self.limits.query_timeout,
            max_rows: self.limits.max_rows,
            rows: 0,
            log: QueryLog {
                queries: self.clone(),
                handle,
                user,
                tables: tables.join(","),
                started,
                rows: 0,
                outcome: "dropped",
                _permits: permits,
            },
            tables_list: tables,
        };
        futures::stream::unfold(Some(run), step)
    }
}

struct Run {
    stream: SendableRecordBatchStream,
    cancel: Arc<Notify>,
    deadline: Option<Instant>,
    timeout: Option<Duration>,
    max_rows: Option<u64>,
    rows: u64,
    tables_list: Vec<String>,
    log: QueryLog,
}

type Item = Result<RecordBatch, FlightError>;

fn fail(status: Status) -> Item {
    Err(FlightError::Tonic(Box::new(status)))
}

async fn step(run: Option<Run>) -> Option<(Item, Option<Run>)> {
    let mut run = run?;
    let deadline = async {
        match run.deadline {
            Some(d) => tokio::time::sleep_until(d).await,
            None => std::future::pending().await,
        }
    };
    let next = tokio::select! {
        biased;
        _ = run.cancel.notified() => {
            run.log.outcome = "cancelled";
            return Some((fail(Status::cancelled("the query was cancelled")), None));
        }
        _ = deadline => {
            run.log.outcome = "timeout";
            let secs = run.timeout.map_or(0, |t| t.as_secs());
            return Some((fail(Status::deadline_exceeded(format!(
                "the query ran longer than {secs} s (limits.query_timeout)"
            ))), None));
        }
        next = run.stream.next() => next,
    };
    match next {
        None => {
            run.log.outcome = "ok";
            None
        }
        Some(Ok(batch)) => {
            run.rows += batch.num_rows() as u64;
            run.log.rows = run.rows;
            if let Some(max) = run.max_rows
                && run.rows > max
            {
                run.log.outcome = "max_rows";
                return Some((
                    fail(Status::resource_exhausted(format!(
                        "the result has more than {max} rows (limits.max_rows): add a LIMIT or a filter"
                    ))),
                    None,
                ));
            }
            Some((Ok(batch), Some(run)))
        }
        Some(Err(e)) => {
            run.log.outcome = "error";
            let status = df_status(e, &run.tables_list);
            Some((fail(status), None))
        }
    }
}

/// Writes the query's log line and frees its places when the stream ends
/// or is dropped.
struct QueryLog {
    queries: Arc<Queries>,
    handle: String,
    user: Arc<str>,
    tables: String,
    started: Instant,
    rows: u64,
    outcome: &'static str,
    _permits: (OwnedSemaphorePermit, OwnedSemaphorePermit),
}

impl Drop for QueryLog {
    fn drop(&mut self) {
        lock(&self.queries.running).remove(&self.handle);
        tracing::info!(
            target: "connectkit_flight_sql::query",
            user = %self.user,
            tables = %self.tables,
            rows = self.rows,
            duration_ms = self.started.elapsed().as_millis() as u64,
            outcome = self.outcome,
            "query"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_schema::Schema;
    use connectkit_datafusion::datafusion::physical_plan::stream::RecordBatchStreamAdapter;

    /// A query whose source never answers.
    fn stuck(queries: &Arc<Queries>, user: &Arc<str>) -> impl Stream<Item = Item> + use<> {
        let permits = queries.admit(user).unwrap();
        let never =
            RecordBatchStreamAdapter::new(Arc::new(Schema::empty()), futures::stream::pending());
        queries.stream(
            "h".into(),
            user.clone(),
            vec!["shop.items".into()],
            Box::pin(never),
            permits,
            Instant::now(),
        )
    }

    fn code(item: Option<Item>) -> tonic::Code {
        match item {
            Some(Err(FlightError::Tonic(s))) => s.code(),
            other => panic!("expected a status, got {other:?}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn past_its_timeout_a_query_ends_with_deadline_exceeded_and_frees_its_place() {
        let limits = Limits {
            queries_per_user: 1,
            query_timeout: Some(Duration::from_secs(5)),
            ..Limits::default()
        };
        let queries = Arc::new(Queries::new(limits));
        let user: Arc<str> = Arc::from("alice");
        let mut s = Box::pin(stuck(&queries, &user));
        assert!(
            queries.admit(&user).is_err(),
            "the running query holds the place"
        );
        assert_eq!(code(s.next().await), tonic::Code::DeadlineExceeded);
        assert!(s.next().await.is_none());
        drop(s);
        assert!(queries.admit(&user).is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancelled_query_ends_with_cancelled_and_only_its_user_may_cancel_it() {
        let queries = Arc::new(Queries::new(Limits::default()));
        let user: Arc<str> = Arc::from("alice");
        let mut s = Box::pin(stuck(&queries, &user));
        assert!(!queries.cancel("h", "bob"));
        assert!(queries.cancel("h", "alice"));
        assert_eq!(code(s.next().await), tonic::Code::Cancelled);
        drop(s);
        assert!(
            !queries.cancel("h", "alice"),
            "a finished query is no longer known"
        );
    }
}
