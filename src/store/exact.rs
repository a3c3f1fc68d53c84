//! Exact text equality on every backend.
//!
//! MariaDB's `utf8mb4_bin` (the collation of crm-comms' MySQL/MariaDB tables, for byte-wise
//! keys) is a PAD SPACE collation: `'c-42' = 'c-42 '` is true there, while SQLite and
//! PostgreSQL compare exactly. [`text_is`] adds a length check on MySQL/MariaDB, which keeps
//! the index on the column usable and makes the answer the same everywhere.

use sea_orm::sea_query::{Expr, ExprTrait, Func, IntoColumnRef, SimpleExpr};
use sea_orm::{ColumnTrait, DatabaseBackend};

/// [`text_is`] for a column named by text (crm-comms' own tables have no entity).
pub(super) fn named_text_is(backend: DatabaseBackend, column: &str, value: &str) -> SimpleExpr {
    let column = sea_orm::sea_query::Alias::new(column);
    let equal = Expr::col(column.clone()).eq(value);
    if backend != DatabaseBackend::MySql {
        return equal;
    }
    equal.and(Expr::expr(Func::char_length(Expr::col(column))).eq(value.chars().count() as i64))
}

/// `column = value`, exactly (trailing spaces count) on every backend.
pub(super) fn text_is<C>(backend: DatabaseBackend, column: C, value: &str) -> SimpleExpr
where
    C: ColumnTrait + IntoColumnRef + Copy,
{
    let equal = column.eq(value);
    if backend != DatabaseBackend::MySql {
        return equal;
    }
    equal.and(Expr::expr(Func::char_length(Expr::col(column))).eq(value.chars().count() as i64))
}
