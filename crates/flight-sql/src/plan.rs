//! SQL to a DataFrame, read-only: only queries are planned, `?`
//! placeholders become `$1`, `$2`, ... and parameters are bound by position.

use std::ops::ControlFlow;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use connectkit_datafusion::datafusion::config::Dialect;
use connectkit_datafusion::datafusion::execution::context::SQLOptions;
use connectkit_datafusion::datafusion::prelude::{DataFrame, SessionContext};
use connectkit_datafusion::datafusion::scalar::ScalarValue;
use connectkit_datafusion::datafusion::sql::parser::Statement;
use connectkit_datafusion::datafusion::sql::sqlparser::ast::{
    Expr, Statement as SqlStatement, Value, visit_expressions_mut,
};
use tonic::Status;

use crate::query::tables_of;
use crate::status::df_status;

/// A planned query and the tables it reads.
pub(crate) struct Planned {
    pub(crate) df: DataFrame,
    pub(crate) tables: Vec<String>,
}

fn read_only(sql: &str) -> Status {
    let verb = sql
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_ascii_uppercase();
    Status::permission_denied(format!(
        "connectkit serve is read-only: {verb} statements are refused; send a query (SELECT, WITH, VALUES, EXPLAIN)"
    ))
}

/// Plans `sql` in `ctx`, refusing anything but a query.
pub(crate) async fn plan(ctx: &SessionContext, sql: &str) -> Result<Planned, Status> {
    let state = ctx.state();
    let mut statement = state
        .sql_to_statement(sql, &Dialect::Generic)
        .map_err(|e| df_status(e, &[]))?;
    let inner = match &mut statement {
        Statement::Statement(s) => s,
        _ => return Err(read_only(sql)),
    };
    if !matches!(
        **inner,
        SqlStatement::Query(_) | SqlStatement::Explain { .. }
    ) {
        return Err(read_only(sql));
    }
    // `?` placeholders (JDBC/ODBC style, what ADBC users write) by position.
    let mut n = 0;
    let _ = visit_expressions_mut(&mut **inner, |e| {
        if let Expr::Value(v) = e
            && let Value::Placeholder(p) = &mut v.value
            && p == "?"
        {
            n += 1;
            *p = format!("${n}");
        }
        ControlFlow::<()>::Continue(())
    });
    let plan = state
        .statement_to_plan(statement)
        .await
        .map_err(|e| df_status(e, &[]))?;
    SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false)
        .verify_plan(&plan)
        .map_err(|_| read_only(sql))?;
    let tables = tables_of(&plan);
    Ok(Planned {
        df: DataFrame::new(state, plan),
        tables,
    })
}

/// The result schema of a planned query.
pub(crate) fn result_schema(df: &DataFrame) -> SchemaRef {
    Arc::new(df.schema().as_arrow().clone())
}

/// The placeholders of a query as a schema (`$1`, `$2`, ... in order),
/// typed where the planner could infer a type (else Utf8).
pub(crate) fn parameter_schema(df: &DataFrame) -> Result<Schema, Status> {
    let fields = df
        .logical_plan()
        .get_parameter_types()
        .map_err(|e| df_status(e, &[]))?;
    let mut fields: Vec<(String, Option<DataType>)> = fields.into_iter().collect();
    fields.sort_by_key(|(name, _)| name[1..].parse::<usize>().unwrap_or(usize::MAX));
    Ok(Schema::new(
        fields
            .into_iter()
            .map(|(name, t)| Field::new(name, t.unwrap_or(DataType::Utf8), true))
            .collect::<Vec<_>>(),
    ))
}

/// The values of one parameter row, cast to the types the query expects.
pub(crate) fn parameter_values(
    batch: &RecordBatch,
    expected: &Schema,
) -> Result<Vec<ScalarValue>, Status> {
    if batch.num_rows() != 1 {
        return Err(Status::invalid_argument(format!(
            "bind exactly one row of parameters to a query, found {}",
            batch.num_rows()
        )));
    }
    if batch.num_columns() != expected.fields().len() {
        return Err(Status::invalid_argument(format!(
            "the query has {} parameters, {} were bound",
            expected.fields().len(),
            batch.num_columns()
        )));
    }
    batch
        .columns()
        .iter()
        .zip(expected.fields())
        .map(|(column, field)| {
            let value = ScalarValue::try_from_array(column, 0).map_err(|e| df_status(e, &[]))?;
            if value.data_type() == *field.data_type() || value.is_null() {
                return Ok(if value.is_null() {
                    ScalarValue::try_from(field.data_type()).unwrap_or(value)
                } else {
                    value
                });
            }
            value.cast_to(field.data_type()).map_err(|_| {
                Status::invalid_argument(format!(
                    "parameter {}: expected {}, bound {}",
                    field.name(),
                    field.data_type(),
                    value.data_type()
                ))
            })
        })
        .collect()
}
