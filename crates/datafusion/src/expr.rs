//! DataFusion filter expressions as connectkit [`Filter`]s.
//!
//! Only the shapes a source can be asked to apply are translated: a column
//! compared with a literal, AND, OR, IN, `LIKE 'abc%'`, `LIKE '%abc%'`,
//! `IS [NOT] NULL` and a boolean column on its own. Anything else (functions,
//! arithmetic, column-to-column comparisons, NOT LIKE, ILIKE, NOT IN) has no
//! translation, so the provider answers `Unsupported` and DataFusion keeps
//! the filter.

use connectkit_core::{Filter, FilterOp, Literal};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::expr::{InList, Like};
use datafusion::logical_expr::{BinaryExpr, Expr, Operator};

/// The connectkit filter for `expr`, or `None` when it has none.
pub fn to_filter(expr: &Expr) -> Option<Filter> {
    match expr {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => match op {
            Operator::And => Some(Filter::and(vec![to_filter(left)?, to_filter(right)?])),
            Operator::Or => Some(Filter::or(vec![to_filter(left)?, to_filter(right)?])),
            _ => comparison(left, *op, right),
        },
        Expr::IsNull(e) => Some(Filter::is_null(column(e)?)),
        Expr::IsNotNull(e) => Some(Filter::is_not_null(column(e)?)),
        Expr::InList(InList {
            expr,
            list,
            negated: false,
        }) => {
            let values: Option<Vec<Literal>> = list.iter().map(literal).collect();
            Some(Filter::in_list(column(expr)?, values?))
        }
        Expr::Like(like) => like_filter(like),
        Expr::Column(c) => Some(Filter::new(c.name.clone(), FilterOp::Eq, true)),
        Expr::Not(e) => match e.as_ref() {
            Expr::Column(c) => Some(Filter::new(c.name.clone(), FilterOp::Eq, false)),
            _ => None,
        },
        _ => None,
    }
    .map(flatten)
}

/// `(a AND b) AND c` as one AND of three, as SQL users wrote it.
fn flatten(f: Filter) -> Filter {
    if !f.is_compound() {
        return f;
    }
    let op = f.op;
    let mut operands = Vec::with_capacity(f.operands.len());
    for o in f.operands {
        if o.op == op {
            operands.extend(o.operands);
        } else {
            operands.push(o);
        }
    }
    if op == FilterOp::And {
        Filter::and(operands)
    } else {
        Filter::or(operands)
    }
}

fn comparison(left: &Expr, op: Operator, right: &Expr) -> Option<Filter> {
    let (col, value, op) = match (column(left), column(right)) {
        (Some(c), None) => (c, literal(right)?, op),
        (None, Some(c)) => (c, literal(left)?, op.swap()?),
        _ => return None,
    };
    let op = match op {
        Operator::Eq => FilterOp::Eq,
        Operator::NotEq => FilterOp::Ne,
        Operator::Lt => FilterOp::Lt,
        Operator::LtEq => FilterOp::Le,
        Operator::Gt => FilterOp::Gt,
        Operator::GtEq => FilterOp::Ge,
        _ => return None,
    };
    // `x = NULL` is never true in SQL, while a source reads `eq null` as
    // IS NULL: such a comparison is not a source filter.
    (value != Literal::Null).then(|| Filter::new(col, op, value))
}

fn like_filter(like: &Like) -> Option<Filter> {
    let Like {
        negated: false,
        expr,
        pattern,
        escape_char: None,
        case_insensitive: false,
    } = like
    else {
        return None;
    };
    let Literal::String(pattern) = literal(pattern)? else {
        return None;
    };
    let col = column(expr)?;
    // Only a literal text around `%`: no `_`, no escapes, no inner `%`.
    let plain = |s: &str| !s.is_empty() && !s.contains(['%', '_', '\\']);
    if let Some(inner) = pattern
        .strip_prefix('%')
        .and_then(|p| p.strip_suffix('%'))
        .filter(|p| plain(p))
    {
        return Some(Filter::contains(col, inner));
    }
    let prefix = pattern.strip_suffix('%').filter(|p| plain(p))?;
    Some(Filter::starts_with(col, prefix))
}

fn column(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Column(c) => Some(c.name.clone()),
        _ => None,
    }
}

/// The connectkit literal of a DataFusion literal (a NULL of any type is
/// [`Literal::Null`]); `None` for types a source is never asked to compare.
pub fn literal(expr: &Expr) -> Option<Literal> {
    let Expr::Literal(value, _) = expr else {
        return None;
    };
    if value.is_null() {
        return Some(Literal::Null);
    }
    Some(match value {
        ScalarValue::Boolean(Some(b)) => Literal::Bool(*b),
        ScalarValue::Int8(Some(v)) => Literal::Int(i64::from(*v)),
        ScalarValue::Int16(Some(v)) => Literal::Int(i64::from(*v)),
        ScalarValue::Int32(Some(v)) => Literal::Int(i64::from(*v)),
        ScalarValue::Int64(Some(v)) => Literal::Int(*v),
        ScalarValue::UInt8(Some(v)) => Literal::Int(i64::from(*v)),
        ScalarValue::UInt16(Some(v)) => Literal::Int(i64::from(*v)),
        ScalarValue::UInt32(Some(v)) => Literal::Int(i64::from(*v)),
        ScalarValue::UInt64(Some(v)) => Literal::Int(i64::try_from(*v).ok()?),
        ScalarValue::Float32(Some(v)) => Literal::Float(f64::from(*v)),
        ScalarValue::Float64(Some(v)) => Literal::Float(*v),
        ScalarValue::Utf8(Some(s))
        | ScalarValue::LargeUtf8(Some(s))
        | ScalarValue::Utf8View(Some(s)) => Literal::String(s.clone()),
        ScalarValue::Decimal128(Some(v), _, scale) => Literal::Decimal {
            value: *v,
            scale: *scale,
        },
        ScalarValue::Date32(Some(d)) => Literal::Date(*d),
        // Timestamps without a zone are read as UTC, as the sources store them.
        ScalarValue::TimestampSecond(Some(v), _) => Literal::Timestamp(v.checked_mul(1_000_000)?),
        ScalarValue::TimestampMillisecond(Some(v), _) => Literal::Timestamp(v.checked_mul(1_000)?),
        ScalarValue::TimestampMicrosecond(Some(v), _) => Literal::Timestamp(*v),
        // Finer than a microsecond is more than any source compares; a
        // truncated literal would change the answer, so it is not pushed.
        ScalarValue::TimestampNanosecond(Some(v), _) if v % 1_000 == 0 => {
            Literal::Timestamp(v / 1_000)
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::logical_expr::{col, lit};

    #[test]
    fn translates_what_a_source_can_apply() {
        let e = col("a")
            .gt(lit(5i32))
            .and(col("b").eq(lit("x")))
            .and(col("c").is_null());
        assert_eq!(
            to_filter(&e).unwrap(),
            Filter::and(vec![
                Filter::new("a", FilterOp::Gt, 5i64),
                Filter::new("b", FilterOp::Eq, "x"),
                Filter::is_null("c"),
            ])
        );
        // Literal on the left: the operator turns around.
        assert_eq!(
            to_filter(&lit(5i64).lt(col("a"))).unwrap(),
            Filter::new("a", FilterOp::Gt, 5i64)
        );
        let e = col("a")
            .in_list(vec![lit(1i64), lit(2i64)], false)
            .or(col("n").like(lit("Con%")));
        assert_eq!(
            to_filter(&e).unwrap(),
            Filter::or(vec![
                Filter::in_list("a", [1i64, 2]),
                Filter::starts_with("n", "Con")
            ])
        );
        assert_eq!(
            to_filter(&col("n").like(lit("%on%"))).unwrap(),
            Filter::contains("n", "on")
        );
        assert_eq!(
            to_filter(&col("n").is_not_null()).unwrap(),
            Filter::is_not_null("n")
        );
    }

    #[test]
    fn anything_else_has_no_translation() {
        for e in [
            col("n").like(lit("C_n%")),
            col("n").like(lit("%")),
            col("n").like(lit("a%b%")),
            col("n").not_like(lit("Con%")),
            col("n").ilike(lit("Con%")),
            col("a").in_list(vec![lit(1i64)], true),
            col("a").eq(col("b")),
            (col("a") + lit(1i64)).gt(lit(5i64)),
            col("a").eq(lit(ScalarValue::Int64(None))),
            col("a").gt(lit(1i64)).or(col("a") + lit(1i64)),
        ] {
            assert_eq!(to_filter(&e), None, "{e}");
        }
    }
}
