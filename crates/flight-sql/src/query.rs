//! Queries between planning and their last batch: planned queries whose
//! partitions wait for DoGet, prepared statements, cancellation, the
//! limits, and the one log line per query.
//!
//! A query is planned down to DataFusion's physical plan when its
//! FlightInfo is asked for; each output partition of the plan is one
//! Flight endpoint, read by a DoGet of its own (in parallel, if the client
//! wants). The partitions of one query share its limits (rows, bytes, time),
//! its place among the running queries, its cancellation and its log line.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use arrow_array::RecordBatch;
use arrow_flight::FlightData;
use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::error::FlightError;
use arrow_schema::SchemaRef;
use connectkit_core::client::RequestCounter;
use connectkit_datafusion::datafusion::common::tree_node::TreeNodeRecursion;
use connectkit_datafusion::datafusion::execution::TaskContext;
use connectkit_datafusion::datafusion::logical_expr::LogicalPlan;
use connectkit_datafusion::datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use connectkit_datafusion::datafusion::physical_plan::repartition::RepartitionExec;
use connectkit_datafusion::datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use connectkit_datafusion::datafusion::physical_plan::{
    ExecutionPlan, ExecutionPlanProperties, SendableRecordBatchStream,
};
use connectkit_datafusion::datafusion::prelude::DataFrame;
use futures::{Stream, StreamExt, TryStreamExt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Instant;
use tonic::Status;

use crate::config::Limits;
use crate::status::df_status;

/// How long a planned query waits for the DoGets of its partitions.
const PENDING_LIFETIME: Duration = Duration::from_secs(600);

/// The log target of the one line per query.
pub(crate) const LOG_TARGET: &str = "connectkit_flight_sql::query";

/// A prepared statement of one user.
pub(crate) struct Prepared {
    pub(crate) user: Arc<str>,
    pub(crate) df: DataFrame,
    pub(crate) tables: Vec<String>,
    /// Parameter values bound by the last DoPut, one per placeholder.
    pub(crate) params: Option<Vec<connectkit_datafusion::datafusion::scalar::ScalarValue>>,
}

/// Why a query's partitions stop before their end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Cancelled,
    Timeout,
    MaxRows,
    MaxBytes,
    Failed,
}

impl Stop {
    fn outcome(self) -> &'static str {
        match self {
            Stop::Cancelled => "cancelled",
            Stop::Timeout => "timeout",
            Stop::MaxRows => "max_rows",
            Stop::MaxBytes => "max_bytes",
            Stop::Failed => "error",
        }
    }

    fn status(self, limits: &Limits) -> Status {
        match self {
            Stop::Cancelled => Status::cancelled("the query was cancelled"),
            Stop::Timeout => Status::deadline_exceeded(format!(
                "the query ran longer than {} s (limits.query_timeout)",
                limits.query_timeout.map_or(0, |t| t.as_secs())
            )),
            Stop::MaxRows => Status::resource_exhausted(format!(
                "the result has more than {} rows (limits.max_rows): add a LIMIT or a filter",
                limits.max_rows.unwrap_or(0)
            )),
            Stop::MaxBytes => Status::resource_exhausted(format!(
                "the result has more than {} bytes (limits.max_bytes): select fewer columns, add a LIMIT or a filter",
                limits.max_bytes.unwrap_or(0)
            )),
            Stop::Failed => Status::aborted("another partition of the query failed: see its error"),
        }
    }
}

/// The places a running query holds: one of its user's, one of all.
type Permits = (OwnedSemaphorePermit, OwnedSemaphorePermit);

/// One planned query and its partitions.
pub(crate) struct Query {
    queries: Arc<Queries>,
    handle: String,
    user: Arc<str>,
    tables: Vec<String>,
    plan: Arc<dyn ExecutionPlan>,
    task: Arc<TaskContext>,
    schema: SchemaRef,
    partitions: usize,
    requests: RequestCounter,
    created: Instant,
    stop: watch::Sender<Option<Stop>>,
    rows: AtomicU64,
    bytes: AtomicU64,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Which partitions a DoGet has taken.
    taken: Vec<bool>,
    /// The first DoGet.
    started: Option<Instant>,
    /// The last partition's end.
    ended: Option<Instant>,
    /// Partition streams running now.
    streams: usize,
    /// Held while any partition runs.
    permits: Option<Permits>,
    /// `ok` once a partition ended well; the first failure wins.
    outcome: Option<&'static str>,
}

/// Every query the server holds.
pub(crate) struct Queries {
    limits: Limits,
    /// Planned queries with partitions not yet taken by a DoGet.
    open: Mutex<HashMap<String, Arc<Query>>>,
    /// Every query still alive (open or running), for cancellation.
    known: Mutex<HashMap<String, Weak<Query>>>,
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

/// Whether `plan` repartitions (hash joins and aggregations): its output
/// partitions then share one producer, which would buffer the rows of a
/// partition nobody reads yet; such a plan is served as one endpoint.
fn repartitions(plan: &Arc<dyn ExecutionPlan>) -> bool {
    plan.name() == RepartitionExec::static_name() || plan.children().into_iter().any(repartitions)
}

impl Queries {
    pub(crate) fn new(limits: Limits) -> Self {
        Self {
            total: Arc::new(Semaphore::new(limits.queries)),
            limits,
            open: Mutex::default(),
            known: Mutex::default(),
            prepared: Mutex::default(),
            per_user: Mutex::default(),
        }
    }

    /// Plans `df` down to its physical plan and keeps it under `handle`
    /// for the DoGets of its partitions: their number (at least 1).
    pub(crate) async fn plan(
        self: &Arc<Self>,
        handle: String,
        user: Arc<str>,
        df: DataFrame,
        tables: Vec<String>,
    ) -> Result<usize, Status> {
        let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
        let (state, logical) = df.into_parts();
        // Planning may ask the sources (a row count, a partition's bounds):
        // those requests are the query's too.
        let requests = RequestCounter::new();
        let mut plan = requests
            .scope(state.create_physical_plan(&logical))
            .await
            .map_err(|e| df_status(e, &tables))?;
        if plan.output_partitioning().partition_count() > 1 && repartitions(&plan) {
            plan = Arc::new(CoalescePartitionsExec::new(plan));
        }
        let config = state
            .config()
            .clone()
            .with_extension(Arc::new(requests.clone()));
        let task = Arc::new(TaskContext::from(&state).with_session_config(config));
        let query = Arc::new(Query::new(
            self,
            handle.clone(),
            user,
            tables,
            plan,
            task,
            schema,
        ));
        let partitions = query.partitions;
        let now = Instant::now();
        let expired: Vec<Arc<Query>> = {
            let mut open = lock(&self.open);
            let expired = open
                .extract_if(|_, q| now.duration_since(q.created) >= PENDING_LIFETIME)
                .map(|(_, q)| q)
                .collect();
            open.insert(handle.clone(), query.clone());
            expired
        };
        // Dropped outside the lock: their log lines take `known`.
        drop(expired);
        lock(&self.known).insert(handle, Arc::downgrade(&query));
        Ok(partitions)
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

    /// Cancels query `handle`, every partition of it: those not read yet
    /// are forgotten, running ones stop (and so do their upstream scans).
    /// False if `user` has no such query.
    pub(crate) fn cancel(&self, handle: &str, user: &str) -> bool {
        let query = lock(&self.known).get(handle).and_then(Weak::upgrade);
        let Some(query) = query.filter(|q| &*q.user == user) else {
            return false;
        };
        query.halt(Stop::Cancelled);
        let open = lock(&self.open).remove(handle);
        drop(open);
        true
    }

    /// Reserves a place for one of `user`'s queries, or says which limit is reached.
    fn admit(&self, user: &Arc<str>) -> Result<Permits, Status> {
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

    /// Takes partition `partition` of `user`'s query `handle` (each is read
    /// once) and streams it as Flight data, within the query's limits;
    /// dropping the stream (client gone) stops that partition's scan.
    pub(crate) fn run(
        self: &Arc<Self>,
        handle: &str,
        partition: usize,
        user: &str,
    ) -> Result<impl Stream<Item = Result<FlightData, Status>> + Send + 'static + use<>, Status>
    {
        let gone = || {
            Status::not_found(
                "no such query ticket: it was read already, cancelled, expired or belongs to another session; call GetFlightInfo again",
            )
        };
        let query = {
            let mut open = lock(&self.open);
            let query = open
                .get(handle)
                .filter(|q| &*q.user == user)
                .ok_or_else(gone)?;
            let mut state = lock(&query.state);
            match state.taken.get_mut(partition) {
                Some(taken) if !*taken => *taken = true,
                _ => return Err(gone()),
            }
            let all_taken = state.taken.iter().all(|t| *t);
            drop(state);
            let query = query.clone();
            if all_taken {
                open.remove(handle);
            }
            query
        };
        if let Some(stop) = *query.stop.borrow() {
            return Err(stop.status(&self.limits));
        }
        {
            let mut state = lock(&query.state);
            if state.streams == 0 {
                state.permits = Some(self.admit(&query.user)?);
            }
            state.streams += 1;
            state.started.get_or_insert_with(Instant::now);
        }
        let batches: SendableRecordBatchStream =
            if query.plan.output_partitioning().partition_count() == 0 {
                Box::pin(RecordBatchStreamAdapter::new(
                    query.schema.clone(),
                    futures::stream::empty(),
                ))
            } else {
                match query.plan.execute(partition, query.task.clone()) {
                    Ok(s) => s,
                    Err(e) => {
                        let status = df_status(e, &query.tables);
                        query.end_stream(Some("error"));
                        return Err(status);
                    }
                }
            };
        Ok(partition_stream(query, batches))
    }
}

impl Query {
    /// A query with no partition taken yet; its requests are counted by
    /// the counter in `task`'s configuration.
    fn new(
        queries: &Arc<Queries>,
        handle: String,
        user: Arc<str>,
        tables: Vec<String>,
        plan: Arc<dyn ExecutionPlan>,
        task: Arc<TaskContext>,
        schema: SchemaRef,
    ) -> Self {
        let partitions = plan.output_partitioning().partition_count().max(1);
        let requests = task
            .session_config()
            .get_extension::<RequestCounter>()
            .map_or_else(RequestCounter::new, |c| (*c).clone());
        Self {
            queries: queries.clone(),
            handle,
            user,
            tables,
            plan,
            task,
            schema,
            partitions,
            requests,
            created: Instant::now(),
            stop: watch::Sender::new(None),
            rows: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            state: Mutex::new(State {
                taken: vec![false; partitions],
                ..State::default()
            }),
        }
    }

    /// Stops every partition for `why` (the first reason stays).
    fn halt(&self, why: Stop) {
        self.stop.send_if_modified(|s| {
            if s.is_none() {
                *s = Some(why);
                true
            } else {
                false
            }
        });
        let mut state = lock(&self.state);
        if state.outcome.is_none_or(|o| o == "ok") {
            state.outcome = Some(why.outcome());
        }
    }

    /// One partition stream ended (`outcome`, or dropped when `None`): the
    /// query's places are freed when none runs.
    fn end_stream(&self, outcome: Option<&'static str>) {
        let mut state = lock(&self.state);
        state.streams = state.streams.saturating_sub(1);
        if state.streams == 0 {
            state.permits = None;
        }
        state.ended = Some(Instant::now());
        match outcome {
            Some("ok") => {
                state.outcome.get_or_insert("ok");
            }
            Some(o) if state.outcome.is_none_or(|c| c == "ok") => state.outcome = Some(o),
            None if state.outcome.is_none_or(|c| c == "ok") => state.outcome = Some("dropped"),
            _ => {}
        }
    }
}

impl Drop for Query {
    /// The query's one log line (target [`LOG_TARGET`], info).
    fn drop(&mut self) {
        lock(&self.queries.known).remove(&self.handle);
        let state = lock(&self.state);
        let read = state.taken.iter().filter(|t| **t).count();
        let outcome = match state.outcome {
            None => "not read",
            Some("ok") if read < self.partitions => "incomplete",
            Some(o) => o,
        };
        let duration = match (state.started, state.ended) {
            (Some(s), Some(e)) => e.duration_since(s),
            _ => Duration::ZERO,
        };
        let mut sources: Vec<&str> = self
            .tables
            .iter()
            .map(|t| t.split_once('.').map_or(t.as_str(), |(s, _)| s))
            .collect();
        sources.dedup();
        tracing::info!(
            target: LOG_TARGET,
            user = %self.user,
            sources = %sources.join(","),
            tables = %self.tables.join(","),
            duration_ms = duration.as_millis() as u64,
            rows = self.rows.load(Ordering::Relaxed),
            bytes = self.bytes.load(Ordering::Relaxed),
            requests = self.requests.get(),
            partitions = self.partitions,
            outcome,
            "query"
        );
    }
}

/// One partition being read: its batches within the query's limits.
struct PartitionRun {
    query: Arc<Query>,
    stream: SendableRecordBatchStream,
    stop: watch::Receiver<Option<Stop>>,
    deadline: Option<Instant>,
    /// How this partition ended; `None` while it runs or if it was dropped.
    outcome: Option<&'static str>,
}

impl Drop for PartitionRun {
    fn drop(&mut self) {
        self.query.end_stream(self.outcome);
    }
}

type Item = Result<RecordBatch, FlightError>;

fn fail(status: Status) -> Item {
    Err(FlightError::Tonic(Box::new(status)))
}

/// `batches` of `query`'s partition as Flight data, within the query's
/// limits (the bytes counted as the IPC bodies sent).
fn partition_stream(
    query: Arc<Query>,
    batches: SendableRecordBatchStream,
) -> impl Stream<Item = Result<FlightData, Status>> + Send + 'static {
    let limits = &query.queries.limits;
    let started = lock(&query.state).started.unwrap_or_else(Instant::now);
    let run = PartitionRun {
        stop: query.stop.subscribe(),
        deadline: limits.query_timeout.map(|t| started + t),
        query: query.clone(),
        stream: batches,
        outcome: None,
    };
    let batches = futures::stream::unfold(Some(run), step);
    let data = FlightDataEncoderBuilder::new()
        .with_schema(query.schema.clone())
        .build(batches)
        .map_err(Status::from);
    // Bytes are counted on the wire form, after encoding.
    futures::stream::unfold(
        (Box::pin(data), Some(query)),
        |(mut data, query)| async move {
            let query = query?;
            match data.next().await? {
                Ok(d) => {
                    let n = (d.data_body.len() + d.data_header.len()) as u64;
                    let total = query.bytes.fetch_add(n, Ordering::Relaxed) + n;
                    let limits = &query.queries.limits;
                    if let Some(max) = limits.max_bytes
                        && total > max
                    {
                        query.halt(Stop::MaxBytes);
                        return Some((Err(Stop::MaxBytes.status(limits)), (data, None)));
                    }
                    Some((Ok(d), (data, Some(query))))
                }
                Err(e) => Some((Err(e), (data, None))),
            }
        },
    )
}

async fn step(run: Option<PartitionRun>) -> Option<(Item, Option<PartitionRun>)> {
    let mut run = run?;
    let deadline = async {
        match run.deadline {
            Some(d) => tokio::time::sleep_until(d).await,
            None => std::future::pending().await,
        }
    };
    let stopped = async {
        let stop = run
            .stop
            .wait_for(Option::is_some)
            .await
            .map(|s| (*s).unwrap_or(Stop::Cancelled));
        match stop {
            Ok(why) => why,
            // The query is gone, so nothing will stop this partition.
            Err(_) => std::future::pending().await,
        }
    };
    let next = tokio::select! {
        biased;
        why = stopped => Err(why),
        _ = deadline => Err(Stop::Timeout),
        next = run.stream.next() => Ok(next),
    };
    let limits = &run.query.queries.limits;
    match next {
        Err(why) => {
            run.query.halt(why);
            run.outcome = Some(why.outcome());
            Some((fail(why.status(limits)), None))
        }
        Ok(None) => {
            run.outcome = Some("ok");
            None
        }
        Ok(Some(Ok(batch))) => {
            let n = batch.num_rows() as u64;
            let rows = run.query.rows.fetch_add(n, Ordering::Relaxed) + n;
            if let Some(max) = limits.max_rows
                && rows > max
            {
                run.query.halt(Stop::MaxRows);
                run.outcome = Some("max_rows");
                return Some((fail(Stop::MaxRows.status(limits)), None));
            }
            Some((Ok(batch), Some(run)))
        }
        Ok(Some(Err(e))) => {
            let status = df_status(e, &run.query.tables);
            run.query.halt(Stop::Failed);
            run.outcome = Some("error");
            Some((fail(status), None))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_schema::Schema;
    use connectkit_datafusion::datafusion::physical_plan::empty::EmptyExec;

    /// A running partition of a query whose source never answers.
    fn stuck(
        queries: &Arc<Queries>,
        user: &Arc<str>,
    ) -> impl Stream<Item = Result<FlightData, Status>> + use<> {
        let schema = Arc::new(Schema::empty());
        let query = Arc::new(Query::new(
            queries,
            "h".into(),
            user.clone(),
            vec!["shop.items".into()],
            Arc::new(EmptyExec::new(schema.clone())),
            Arc::new(TaskContext::default()),
            schema.clone(),
        ));
        lock(&queries.known).insert("h".into(), Arc::downgrade(&query));
        {
            let mut state = lock(&query.state);
            state.taken[0] = true;
            state.permits = Some(queries.admit(user).unwrap());
            state.streams = 1;
            state.started = Some(Instant::now());
        }
        let never = RecordBatchStreamAdapter::new(schema, futures::stream::pending());
        partition_stream(query, Box::pin(never))
    }

    /// The status ending a partition stream (after its schema message).
    async fn code(s: &mut (impl Stream<Item = Result<FlightData, Status>> + Unpin)) -> tonic::Code {
        loop {
            match s.next().await {
                Some(Ok(_)) => continue,
                Some(Err(e)) => return e.code(),
                None => panic!("ended without a status"),
            }
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
        assert_eq!(code(&mut s).await, tonic::Code::DeadlineExceeded);
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
        assert_eq!(code(&mut s).await, tonic::Code::Cancelled);
        drop(s);
        assert!(
            !queries.cancel("h", "alice"),
            "a finished query is no longer known"
        );
    }
}
