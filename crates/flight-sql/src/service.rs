//! The Flight SQL service: authentication on every call, queries and
//! prepared statements planned over the shared sources, results streamed
//! as the sources' pages arrive, catalogue metadata, cancellation.

use std::pin::Pin;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_flight::decode::FlightRecordBatchStream;
use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::error::FlightError;
use arrow_flight::flight_service_server::FlightService;
use arrow_flight::sql::metadata::{SqlInfoData, SqlInfoDataBuilder};
use arrow_flight::sql::server::{FlightSqlService, PeekableFlightDataStream};
use arrow_flight::sql::{
    ActionCancelQueryRequest, ActionCancelQueryResult, ActionClosePreparedStatementRequest,
    ActionCreatePreparedStatementRequest, ActionCreatePreparedStatementResult, Any,
    CommandGetCatalogs, CommandGetDbSchemas, CommandGetPrimaryKeys, CommandGetSqlInfo,
    CommandGetTableTypes, CommandGetTables, CommandPreparedStatementQuery,
    CommandPreparedStatementUpdate, CommandStatementIngest, CommandStatementQuery,
    CommandStatementSubstraitPlan, CommandStatementUpdate, DoPutPreparedStatementResult,
    ProstMessageExt, SqlInfo, SqlSupportedTransaction, TicketStatementQuery,
};
use arrow_flight::{
    Action, ActionType, CancelFlightInfoRequest, CancelFlightInfoResult, CancelStatus,
    FlightDescriptor, FlightEndpoint, FlightInfo, HandshakeRequest, HandshakeResponse, IpcMessage,
    SchemaAsIpc, Ticket,
};
use arrow_schema::{Schema, SchemaRef};
use base64::Engine;
use connectkit_datafusion::Sources;
use connectkit_datafusion::datafusion::catalog::SchemaProvider;
use connectkit_datafusion::datafusion::prelude::{DataFrame, SessionContext};
use futures::{Stream, TryStreamExt};
use prost::Message;
use ring::rand::{SecureRandom, SystemRandom};
use secrecy::ExposeSecret;
use tonic::metadata::MetadataValue;
use tonic::{Request, Response, Status, Streaming};

use crate::auth::Auth;
use crate::keys::{primary_keys, primary_keys_schema};
use crate::plan::{parameter_schema, parameter_values, plan, result_schema};
use crate::query::{Prepared, Queries};

/// The Flight action that cancels a query (Flight RPC 15).
const CANCEL_FLIGHT_INFO: &str = "CancelFlightInfo";

type DoGetStream = <FlightSqlServer as FlightService>::DoGetStream;

/// connectkit's [`FlightSqlService`]: serve it with
/// [`FlightServiceServer`](arrow_flight::flight_service_server::FlightServiceServer),
/// or let [`crate::Server`] do it.
#[derive(Clone)]
pub struct FlightSqlServer {
    inner: Arc<Inner>,
}

struct Inner {
    ctx: SessionContext,
    sources: Sources,
    catalog: String,
    auth: Auth,
    queries: Arc<Queries>,
    sql_info: SqlInfoData,
    random: SystemRandom,
}

impl std::fmt::Debug for FlightSqlServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlightSqlServer")
            .field("sources", &self.inner.sources)
            .finish_non_exhaustive()
    }
}

fn sql_info() -> SqlInfoData {
    let mut b = SqlInfoDataBuilder::new();
    b.append(SqlInfo::FlightSqlServerName, "connectkit");
    b.append(SqlInfo::FlightSqlServerVersion, env!("CARGO_PKG_VERSION"));
    b.append(SqlInfo::FlightSqlServerArrowVersion, "1.5");
    b.append(SqlInfo::FlightSqlServerReadOnly, true);
    b.append(SqlInfo::FlightSqlServerSql, true);
    b.append(SqlInfo::FlightSqlServerSubstrait, false);
    b.append(
        SqlInfo::FlightSqlServerTransaction,
        SqlSupportedTransaction::None as i32,
    );
    b.append(SqlInfo::FlightSqlServerCancel, true);
    b.append(SqlInfo::SqlDdlCatalog, false);
    b.append(SqlInfo::SqlDdlSchema, false);
    b.append(SqlInfo::SqlDdlTable, false);
    b.append(SqlInfo::SqlIdentifierQuoteChar, "\"");
    b.append(SqlInfo::SqlQuotedIdentifierCase, 3_i32);
    b.build().expect("static SqlInfo values")
}

impl FlightSqlServer {
    pub(crate) fn new(ctx: SessionContext, sources: Sources, auth: Auth, queries: Queries) -> Self {
        let catalog = ctx.state().config_options().catalog.default_catalog.clone();
        Self {
            inner: Arc::new(Inner {
                ctx,
                sources,
                catalog,
                auth,
                queries: Arc::new(queries),
                sql_info: sql_info(),
                random: SystemRandom::new(),
            }),
        }
    }

    fn user<T>(&self, request: &Request<T>) -> Result<Arc<str>, Status> {
        self.inner.auth.user(request.metadata())
    }

    fn handle(&self) -> Result<String, Status> {
        let mut bytes = [0u8; 16];
        self.inner
            .random
            .fill(&mut bytes)
            .map_err(|_| Status::internal("no random source for handles"))?;
        Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
    }

    /// Plans `df` for its DoGets: a FlightInfo with one endpoint per
    /// partition of the physical plan, each ticket naming the query and
    /// the partition (`<handle>:<partition>`).
    async fn query_info(
        &self,
        user: Arc<str>,
        df: DataFrame,
        tables: Vec<String>,
        descriptor: FlightDescriptor,
    ) -> Result<FlightInfo, Status> {
        let schema = result_schema(&df);
        let handle = self.handle()?;
        let partitions = self
            .inner
            .queries
            .plan(handle.clone(), user, df, tables)
            .await?;
        let mut info = FlightInfo::new()
            .try_with_schema(&schema)
            .map_err(|e| Status::internal(format!("cannot encode the result schema: {e}")))?
            .with_descriptor(descriptor)
            // Across partitions no order is promised; an ORDER BY plans one.
            .with_ordered(partitions == 1);
        for partition in 0..partitions {
            let ticket = TicketStatementQuery {
                statement_handle: format!("{handle}:{partition}").into_bytes().into(),
            };
            info = info.with_endpoint(
                FlightEndpoint::new().with_ticket(Ticket::new(ticket.as_any().encode_to_vec())),
            );
        }
        Ok(info)
    }

    /// A FlightInfo for a metadata command: the command is its own ticket.
    fn metadata_info(
        &self,
        command: impl ProstMessageExt,
        schema: &Schema,
        descriptor: FlightDescriptor,
    ) -> Result<Response<FlightInfo>, Status> {
        let endpoint =
            FlightEndpoint::new().with_ticket(Ticket::new(command.as_any().encode_to_vec()));
        let info = FlightInfo::new()
            .try_with_schema(schema)
            .map_err(|e| Status::internal(format!("cannot encode the schema: {e}")))?
            .with_endpoint(endpoint)
            .with_descriptor(descriptor);
        Ok(Response::new(info))
    }

    /// The handle of the query a FlightInfo's first ticket names.
    fn handle_of(info: &FlightInfo) -> Option<String> {
        let ticket = info.endpoint.first()?.ticket.as_ref()?;
        let any = Any::decode(&*ticket.ticket).ok()?;
        let t: TicketStatementQuery = any.unpack().ok()??;
        let (handle, _) = split_ticket(&t.statement_handle)?;
        Some(handle.to_owned())
    }

    fn cancel(&self, info: &FlightInfo, user: &str) -> bool {
        Self::handle_of(info).is_some_and(|h| self.inner.queries.cancel(&h, user))
    }
}

/// One record batch as a DoGet stream.
fn one_batch(schema: SchemaRef, batch: Result<RecordBatch, FlightError>) -> DoGetStream {
    let stream = FlightDataEncoderBuilder::new()
        .with_schema(schema)
        .build(futures::stream::once(async move { batch }))
        .map_err(Status::from);
    Box::pin(stream)
}

fn read_only_update() -> Status {
    Status::permission_denied(
        "connectkit serve is read-only: updates, inserts and bulk ingestion are refused",
    )
}

#[tonic::async_trait]
impl FlightSqlService for FlightSqlServer {
    type FlightService = FlightSqlServer;

    async fn do_handshake(
        &self,
        request: Request<Streaming<HandshakeRequest>>,
    ) -> Result<
        Response<Pin<Box<dyn Stream<Item = Result<HandshakeResponse, Status>> + Send>>>,
        Status,
    > {
        let (_user, token) = self.inner.auth.login(request.metadata()).await?;
        let bearer = MetadataValue::try_from(format!("Bearer {}", token.expose_secret()))
            .map_err(|_| Status::internal("session token is not header text"))?;
        let reply = HandshakeResponse {
            protocol_version: 0,
            payload: token.expose_secret().as_bytes().to_vec().into(),
        };
        let mut response: Response<Pin<Box<dyn Stream<Item = _> + Send>>> =
            Response::new(Box::pin(futures::stream::iter([Ok(reply)])));
        response.metadata_mut().insert("authorization", bearer);
        Ok(response)
    }

    async fn get_flight_info_statement(
        &self,
        query: CommandStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let user = self.user(&request)?;
        let planned = plan(&self.inner.ctx, &query.query).await?;
        let info = self
            .query_info(user, planned.df, planned.tables, request.into_inner())
            .await?;
        Ok(Response::new(info))
    }

    async fn get_flight_info_substrait_plan(
        &self,
        _query: CommandStatementSubstraitPlan,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.user(&request)?;
        Err(Status::unimplemented(
            "Substrait plans are not supported: send SQL",
        ))
    }

    async fn get_flight_info_prepared_statement(
        &self,
        cmd: CommandPreparedStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let user = self.user(&request)?;
        let handle = String::from_utf8_lossy(&cmd.prepared_statement_handle).into_owned();
        let (df, tables, params) = self.inner.queries.with_prepared(&handle, &user, |p| {
            (p.df.clone(), p.tables.clone(), p.params.clone())
        })?;
        let df = match params {
            Some(values) => df
                .with_param_values(values)
                .map_err(|e| crate::status::df_status(e, &tables))?,
            None => {
                let expected = parameter_schema(&df)?;
                if !expected.fields().is_empty() {
                    return Err(Status::invalid_argument(format!(
                        "the statement has {} parameters: bind them (DoPut) before executing it",
                        expected.fields().len()
                    )));
                }
                df
            }
        };
        let info = self
            .query_info(user, df, tables, request.into_inner())
            .await?;
        Ok(Response::new(info))
    }

    async fn get_flight_info_catalogs(
        &self,
        query: CommandGetCatalogs,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.user(&request)?;
        let schema = query.into_builder().schema();
        self.metadata_info(query, &schema, request.into_inner())
    }

    async fn get_flight_info_schemas(
        &self,
        query: CommandGetDbSchemas,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.user(&request)?;
        let schema = query.clone().into_builder().schema();
        self.metadata_info(query, &schema, request.into_inner())
    }

    async fn get_flight_info_tables(
        &self,
        query: CommandGetTables,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.user(&request)?;
        let schema = query.clone().into_builder().schema();
        self.metadata_info(query, &schema, request.into_inner())
    }

    async fn get_flight_info_table_types(
        &self,
        query: CommandGetTableTypes,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.user(&request)?;
        let schema = query.into_builder().schema();
        self.metadata_info(query, &schema, request.into_inner())
    }

    async fn get_flight_info_sql_info(
        &self,
        query: CommandGetSqlInfo,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.user(&request)?;
        let schema = query.clone().into_builder(&self.inner.sql_info).schema();
        self.metadata_info(query, &schema, request.into_inner())
    }

    async fn get_flight_info_primary_keys(
        &self,
        query: CommandGetPrimaryKeys,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.user(&request)?;
        self.metadata_info(query, &primary_keys_schema(), request.into_inner())
    }

    async fn do_get_primary_keys(
        &self,
        query: CommandGetPrimaryKeys,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.user(&request)?;
        let batch = primary_keys(&self.inner.sources, &self.inner.catalog, &query).await?;
        Ok(Response::new(one_batch(primary_keys_schema(), Ok(batch))))
    }

    async fn do_get_statement(
        &self,
        ticket: TicketStatementQuery,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let user = self.user(&request)?;
        let (handle, partition) = split_ticket(&ticket.statement_handle)
            .ok_or_else(|| Status::invalid_argument("not a query ticket of this server"))?;
        let stream = self.inner.queries.run(handle, partition, &user)?;
        Ok(Response::new(Box::pin(stream)))
    }

    async fn do_get_catalogs(
        &self,
        query: CommandGetCatalogs,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.user(&request)?;
        let mut builder = query.into_builder();
        builder.append(&self.inner.catalog);
        let schema = builder.schema();
        Ok(Response::new(one_batch(schema, builder.build())))
    }

    async fn do_get_schemas(
        &self,
        query: CommandGetDbSchemas,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.user(&request)?;
        let mut builder = query.into_builder();
        for name in self.inner.sources.names() {
            builder.append(&self.inner.catalog, name);
        }
        let schema = builder.schema();
        Ok(Response::new(one_batch(schema, builder.build())))
    }

    async fn do_get_tables(
        &self,
        query: CommandGetTables,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.user(&request)?;
        let include_schema = query.include_schema;
        let schema_pattern = query.db_schema_filter_pattern.clone();
        let table_pattern = query.table_name_filter_pattern.clone();
        let mut builder = query.into_builder();
        for source in self.inner.sources.names() {
            if !schema_pattern.as_deref().is_none_or(|p| like(p, source)) {
                continue;
            }
            let provider = self.inner.sources.get(source).expect("listed source");
            for table in provider.table_names() {
                if !table_pattern.as_deref().is_none_or(|p| like(p, &table)) {
                    continue;
                }
                let columns = if include_schema {
                    let named = [format!("{source}.{table}")];
                    provider
                        .table(&table)
                        .await
                        .map_err(|e| crate::status::df_status(e, &named))?
                        .map_or_else(|| Arc::new(Schema::empty()), |t| t.schema())
                } else {
                    Arc::new(Schema::empty())
                };
                builder
                    .append(&self.inner.catalog, source, &table, "TABLE", &columns)
                    .map_err(|e| Status::internal(format!("{source}.{table}: {e}")))?;
            }
        }
        let schema = builder.schema();
        Ok(Response::new(one_batch(schema, builder.build())))
    }

    async fn do_get_table_types(
        &self,
        query: CommandGetTableTypes,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.user(&request)?;
        let mut builder = query.into_builder();
        builder.append("TABLE");
        let schema = builder.schema();
        Ok(Response::new(one_batch(schema, builder.build())))
    }

    async fn do_get_sql_info(
        &self,
        query: CommandGetSqlInfo,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.user(&request)?;
        let builder = query.into_builder(&self.inner.sql_info);
        let schema = builder.schema();
        Ok(Response::new(one_batch(schema, builder.build())))
    }

    async fn do_put_statement_update(
        &self,
        _ticket: CommandStatementUpdate,
        request: Request<PeekableFlightDataStream>,
    ) -> Result<i64, Status> {
        self.user(&request)?;
        Err(read_only_update())
    }

    async fn do_put_statement_ingest(
        &self,
        _ticket: CommandStatementIngest,
        request: Request<PeekableFlightDataStream>,
    ) -> Result<i64, Status> {
        self.user(&request)?;
        Err(read_only_update())
    }

    async fn do_put_prepared_statement_update(
        &self,
        _query: CommandPreparedStatementUpdate,
        request: Request<PeekableFlightDataStream>,
    ) -> Result<i64, Status> {
        self.user(&request)?;
        Err(read_only_update())
    }

    async fn do_put_prepared_statement_query(
        &self,
        query: CommandPreparedStatementQuery,
        request: Request<PeekableFlightDataStream>,
    ) -> Result<DoPutPreparedStatementResult, Status> {
        let user = self.user(&request)?;
        let handle = String::from_utf8_lossy(&query.prepared_statement_handle).into_owned();
        let expected = self
            .inner
            .queries
            .with_prepared(&handle, &user, |p| parameter_schema(&p.df))??;
        let batches: Vec<RecordBatch> = FlightRecordBatchStream::new_from_flight_data(
            request.into_inner().map_err(FlightError::from),
        )
        .try_collect()
        .await
        .map_err(|e| Status::invalid_argument(format!("cannot read the parameters: {e}")))?;
        let rows: Vec<&RecordBatch> = batches.iter().filter(|b| b.num_rows() > 0).collect();
        let values = match rows.as_slice() {
            [one] => parameter_values(one, &expected)?,
            _ => {
                return Err(Status::invalid_argument(format!(
                    "bind exactly one row of parameters to a query, found {}",
                    rows.iter().map(|b| b.num_rows()).sum::<usize>()
                )));
            }
        };
        self.inner
            .queries
            .with_prepared(&handle, &user, |p| p.params = Some(values))?;
        Ok(DoPutPreparedStatementResult {
            prepared_statement_handle: Some(handle.into_bytes().into()),
        })
    }

    async fn do_action_create_prepared_statement(
        &self,
        query: ActionCreatePreparedStatementRequest,
        request: Request<Action>,
    ) -> Result<ActionCreatePreparedStatementResult, Status> {
        let user = self.user(&request)?;
        let planned = plan(&self.inner.ctx, &query.query).await?;
        let parameters = parameter_schema(&planned.df)?;
        let dataset = result_schema(&planned.df);
        let options = arrow_ipc::writer::IpcWriteOptions::default();
        let encode = |s: &Schema| -> Result<_, Status> {
            let IpcMessage(bytes) = SchemaAsIpc::new(s, &options).try_into().map_err(
                |e: arrow_schema::ArrowError| {
                    Status::internal(format!("cannot encode a schema: {e}"))
                },
            )?;
            Ok(bytes)
        };
        let handle = self.handle()?;
        let result = ActionCreatePreparedStatementResult {
            prepared_statement_handle: handle.clone().into_bytes().into(),
            dataset_schema: encode(&dataset)?,
            parameter_schema: if parameters.fields().is_empty() {
                Default::default()
            } else {
                encode(&parameters)?
            },
        };
        self.inner.queries.add_prepared(
            handle,
            Prepared {
                user,
                df: planned.df,
                tables: planned.tables,
                params: None,
            },
        );
        Ok(result)
    }

    async fn do_action_close_prepared_statement(
        &self,
        query: ActionClosePreparedStatementRequest,
        request: Request<Action>,
    ) -> Result<(), Status> {
        let user = self.user(&request)?;
        let handle = String::from_utf8_lossy(&query.prepared_statement_handle).into_owned();
        self.inner.queries.close_prepared(&handle, &user)
    }

    async fn do_action_cancel_query(
        &self,
        query: ActionCancelQueryRequest,
        request: Request<Action>,
    ) -> Result<ActionCancelQueryResult, Status> {
        let user = self.user(&request)?;
        let info = FlightInfo::decode(&*query.info)
            .map_err(|e| Status::invalid_argument(format!("cannot read the FlightInfo: {e}")))?;
        if !self.cancel(&info, &user) {
            return Err(Status::not_found(
                "no such query (finished, or never started)",
            ));
        }
        Ok(ActionCancelQueryResult {
            // action_cancel_query_result::CancelResult::Cancelled
            result: 1,
        })
    }

    async fn do_action_fallback(
        &self,
        request: Request<Action>,
    ) -> Result<Response<<Self as FlightService>::DoActionStream>, Status> {
        let user = self.user(&request)?;
        if request.get_ref().r#type != CANCEL_FLIGHT_INFO {
            return Err(Status::invalid_argument(format!(
                "unknown action {:?}",
                request.get_ref().r#type
            )));
        }
        let cancel = CancelFlightInfoRequest::decode(&*request.get_ref().body).map_err(|e| {
            Status::invalid_argument(format!("cannot read CancelFlightInfoRequest: {e}"))
        })?;
        let info = cancel.info.ok_or_else(|| {
            Status::invalid_argument("CancelFlightInfoRequest without a FlightInfo")
        })?;
        if !self.cancel(&info, &user) {
            return Err(Status::not_found(
                "no such query (finished, or never started)",
            ));
        }
        let result = CancelFlightInfoResult::new(CancelStatus::Cancelled);
        let body = arrow_flight::Result {
            body: result.encode_to_vec().into(),
        };
        Ok(Response::new(Box::pin(futures::stream::iter([Ok(body)]))))
    }

    async fn list_custom_actions(&self) -> Option<Vec<Result<ActionType, Status>>> {
        Some(vec![Ok(ActionType {
            r#type: CANCEL_FLIGHT_INFO.into(),
            description:
                "Cancels a query: request CancelFlightInfoRequest, result CancelFlightInfoResult"
                    .into(),
        })])
    }

    async fn register_sql_info(&self, _id: i32, _result: &SqlInfo) {}
}

/// A query ticket's handle and partition (`<handle>:<partition>`).
fn split_ticket(ticket: &[u8]) -> Option<(&str, usize)> {
    let (handle, partition) = std::str::from_utf8(ticket).ok()?.rsplit_once(':')?;
    Some((handle, partition.parse().ok()?))
}

/// SQL `LIKE` as Flight SQL's filter patterns use it: `%` any run, `_` one character.
fn like(pattern: &str, value: &str) -> bool {
    fn go(p: &[char], v: &[char]) -> bool {
        match p.split_first() {
            None => v.is_empty(),
            Some(('%', rest)) => (0..=v.len()).any(|i| go(rest, &v[i..])),
            Some(('_', rest)) => !v.is_empty() && go(rest, &v[1..]),
            Some((c, rest)) => v.first() == Some(c) && go(rest, &v[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let v: Vec<char> = value.chars().collect();
    go(&p, &v)
}

#[cfg(test)]
mod tests {
    use super::like;

    #[test]
    fn like_patterns() {
        assert!(like("%", "anything"));
        assert!(like("acc%", "accounts"));
        assert!(like("a_c", "abc"));
        assert!(!like("a_c", "abbc"));
        assert!(!like("acc", "accounts"));
    }
}
