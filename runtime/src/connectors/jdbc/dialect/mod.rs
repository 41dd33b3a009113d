//! What differs between MySQL/MariaDB and PostgreSQL: connecting, quoting, metadata
//! queries, the database clock, and decoding a result column into a [`Cell`].

pub mod mysql;
pub mod postgres;

use bigdecimal::BigDecimal;
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use futures::{Stream, StreamExt};
use sqlx::{Column as _, TypeInfo as _};

use super::querier::RowSink;
use super::url::Dialect;

/// One decoded column value, before it is shaped by the record schema.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Int(i64),
    /// An unsigned 64-bit value (MySQL `BIGINT UNSIGNED`).
    UInt(u64),
    F32(f32),
    F64(f64),
    Bool(bool),
    Text(String),
    Bytes(Vec<u8>),
    Decimal(BigDecimal),
    Date(NaiveDate),
    Time(NaiveTime),
    /// A date-time without a zone (`DATETIME`, `timestamp`): read in `db.timezone`.
    Local(NaiveDateTime),
    /// An instant (`timestamptz`; MySQL `TIMESTAMP`, which the session returns in UTC).
    Instant(DateTime<Utc>),
}

/// How a result column is decoded and which Connect type it becomes by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Int8,
    Int16,
    Int32,
    Int64,
    /// Unsigned 64-bit: Decimal with scale 0, as Confluent maps it.
    UInt64,
    Float32,
    Float64,
    Bool,
    Text,
    Bytes,
    Decimal,
    Date,
    Time,
    LocalTimestamp,
    InstantTimestamp,
}

/// A result column: its name, database type name and how it is read.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: String,
    pub type_name: String,
    pub kind: Kind,
}

/// A column as the catalog describes it (table mode only).
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnMeta {
    pub name: String,
    pub nullable: bool,
    pub precision: Option<i64>,
    pub scale: Option<i64>,
    pub auto_increment: bool,
}

/// A table: catalog/schema qualifier and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TableId {
    /// MySQL database or PostgreSQL schema.
    pub qualifier: String,
    pub name: String,
}

impl TableId {
    /// The fully-qualified name, unquoted, as Confluent writes it into source partitions.
    pub fn fqn(&self) -> String {
        if self.qualifier.is_empty() {
            self.name.clone()
        } else {
            format!("{}.{}", self.qualifier, self.name)
        }
    }
}

/// Quotes an identifier in the dialect's style (`quote.sql.identifiers=always`).
pub fn quote(dialect: Dialect, ident: &str, enabled: bool) -> String {
    if !enabled {
        return ident.to_owned();
    }
    match dialect {
        Dialect::MySql => format!("`{}`", ident.replace('`', "``")),
        Dialect::PostgreSql => format!("\"{}\"", ident.replace('"', "\"\"")),
    }
}

/// A qualified table name for SQL.
pub fn quote_table(dialect: Dialect, t: &TableId, enabled: bool) -> String {
    if t.qualifier.is_empty() {
        quote(dialect, &t.name, enabled)
    } else {
        format!(
            "{}.{}",
            quote(dialect, &t.qualifier, enabled),
            quote(dialect, &t.name, enabled)
        )
    }
}

/// The `n`-th bind placeholder (1-based).
pub fn placeholder(dialect: Dialect, n: usize) -> String {
    match dialect {
        Dialect::MySql => "?".to_owned(),
        Dialect::PostgreSql => format!("${n}"),
    }
}

/// A bind parameter of an incremental query.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Int(i64),
    /// A date-time in `db.timezone`, the way the columns it is compared to are stored.
    Local(NaiveDateTime),
}

/// Hands each row of a result stream to `sink` as it arrives (the drivers stream rows,
/// so memory stays bounded by the consumer): the readable columns are chosen from the
/// first row with `kind_of`, then every row's cells are read with `decode`. Rows read
/// before an error are handed over before the error is returned.
pub async fn stream_rows<R: sqlx::Row>(
    mut rows: impl Stream<Item = Result<R, sqlx::Error>> + Unpin,
    kind_of: fn(&str) -> Option<Kind>,
    decode: fn(&R, usize, &Column) -> Result<Cell, sqlx::Error>,
    sink: &mut RowSink,
) -> crate::errors::Result<()> {
    let mut plan: Option<Vec<(usize, Column)>> = None;
    let outcome = async {
        while let Some(row) = rows.next().await {
            let row = row.map_err(|e| sink.query_error(e))?;
            let plan = match &mut plan {
                Some(p) => p,
                None => {
                    let cols: Vec<(String, String)> = row
                        .columns()
                        .iter()
                        .map(|c| (c.name().to_owned(), c.type_info().name().to_owned()))
                        .collect();
                    plan.insert(sink.plan(&cols, kind_of))
                }
            };
            let mut cells = Vec::with_capacity(plan.len());
            for (i, col) in plan.iter() {
                cells.push(decode(&row, *i, col).map_err(|e| sink.decode_error(col, e))?);
            }
            if !sink.send(cells).await {
                return Ok(false);
            }
        }
        Ok(true)
    }
    .await;
    match outcome {
        Ok(false) => Ok(()),
        Ok(true) => {
            sink.flush().await;
            Ok(())
        }
        Err(e) => {
            sink.flush().await;
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_follows_the_dialect() {
        let t = TableId {
            qualifier: "kafka_demo".into(),
            name: "sample`data".into(),
        };
        assert_eq!(
            quote_table(Dialect::MySql, &t, true),
            "`kafka_demo`.`sample``data`"
        );
        assert_eq!(quote(Dialect::PostgreSql, "a\"b", true), "\"a\"\"b\"");
        assert_eq!(quote(Dialect::PostgreSql, "ab", false), "ab");
        assert_eq!(placeholder(Dialect::PostgreSql, 3), "$3");
        assert_eq!(t.fqn(), "kafka_demo.sample`data");
    }
}
