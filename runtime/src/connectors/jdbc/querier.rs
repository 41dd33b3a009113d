//! One querier per table (or one for `query`): builds the mode's SQL with Confluent's
//! WHERE clauses, streams the result through a bounded channel (so memory is bounded by
//! `batch.max.rows`, never by the table), and turns rows into records with offsets.
//!
//! What each mode guarantees (offsets are committed only after Kafka acknowledged the
//! records they cover, so a restart resumes from the last delivered row):
//! - `bulk`: the whole table on every poll; no offsets, so duplicates by design.
//! - `incrementing`: `WHERE inc > last ORDER BY inc`; new rows only, none twice, provided
//!   ids become visible in increasing order (a transaction committing a smaller id after a
//!   larger one was read is missed).
//! - `timestamp`: `WHERE ts > last AND ts < now - delay ORDER BY ts`; new and updated rows.
//!   Rows sharing the last timestamp that commit after it was read are missed, and a
//!   restart in the middle of a group of rows with one timestamp skips the rest of the
//!   group; `timestamp.delay.interval.ms` holds rows back until their transactions are
//!   visible.
//! - `timestamp+incrementing`: `WHERE ts < now - delay AND ((ts = last AND inc > last_inc)
//!   OR ts > last) ORDER BY ts, inc`; the offset keeps nanoseconds, so rows updated within
//!   the same millisecond as the last offset are neither lost nor repeated.

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

use super::config::{JdbcSourceConfig, Mode};
use super::connection::Db;
use super::dialect::{self, Cell, Column, ColumnMeta, Kind, Param, TableId};
use super::offsets::{self, Offset};
use super::schema::{self, RecordShape};
use super::url::Dialect;
use crate::connectors::{OffsetReader, SourcePartition};
use crate::data::{ConnectRecord, SchemaAndValue, SourceRecord};
use crate::errors::{ConnectError, Result};

/// What a fetch task sends: the result's columns once, then rows in chunks (one hand-off
/// per chunk rather than per row keeps the two tasks from waking each other for every row).
pub enum Fetched {
    Columns {
        columns: Arc<Vec<Column>>,
        skipped: Vec<(String, String)>,
    },
    Rows(Vec<Vec<Cell>>),
}

/// The fetch side of a running query: decides which columns are read, sends rows.
pub struct RowSink {
    tx: mpsc::Sender<Fetched>,
    what: String,
    header: Option<Fetched>,
    chunk: Vec<Vec<Cell>>,
    chunk_rows: usize,
}

impl RowSink {
    /// Chooses the readable columns; the rest are reported (once per query) as skipped.
    pub fn plan(
        &mut self,
        cols: &[(String, String)],
        kind_of: fn(&str) -> Option<Kind>,
    ) -> Vec<(usize, Column)> {
        let mut plan = Vec::new();
        let mut skipped = Vec::new();
        for (i, (name, ty)) in cols.iter().enumerate() {
            match kind_of(ty) {
                Some(kind) => plan.push((
                    i,
                    Column {
                        name: name.clone(),
                        type_name: ty.clone(),
                        kind,
                    },
                )),
                None => skipped.push((name.clone(), ty.clone())),
            }
        }
        self.header = Some(Fetched::Columns {
            columns: Arc::new(plan.iter().map(|(_, c)| c.clone()).collect()),
            skipped,
        });
        plan
    }

    /// Queues a row, sending the chunk (after the header) once full; false when the
    /// reader is gone.
    pub async fn send(&mut self, cells: Vec<Cell>) -> bool {
        self.chunk.push(cells);
        if self.chunk.len() < self.chunk_rows {
            return true;
        }
        self.flush().await
    }

    /// Sends the rows queued so far; false when the reader is gone.
    pub async fn flush(&mut self) -> bool {
        if let Some(h) = self.header.take()
            && self.tx.send(h).await.is_err()
        {
            return false;
        }
        if self.chunk.is_empty() {
            return true;
        }
        let rows = std::mem::replace(&mut self.chunk, Vec::with_capacity(self.chunk_rows));
        self.tx.send(Fetched::Rows(rows)).await.is_ok()
    }

    /// A lost connection may come back; bad SQL or a missing privilege will not.
    pub fn query_error(&self, e: sqlx::Error) -> ConnectError {
        ConnectError::external(
            format!("query on {} failed: {e}", self.what),
            super::connection::transient(&e),
        )
    }

    pub fn decode_error(&self, col: &Column, e: sqlx::Error) -> ConnectError {
        ConnectError::data(format!(
            "could not read column {} ({}) of {}: {e}",
            col.name, col.type_name, self.what
        ))
    }
}

/// What a querier reads.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    Table(TableId),
    Query(String),
}

impl Source {
    /// For messages: `table db.t` or `the configured query`.
    pub fn describe(&self) -> String {
        match self {
            Source::Table(t) => format!("table {}", t.fqn()),
            Source::Query(_) => "the configured query".to_owned(),
        }
    }
}

/// A query in flight: rows arrive on `rx`; the connection comes back through `handle`.
struct Running {
    rx: mpsc::Receiver<Fetched>,
    handle: tokio::task::JoinHandle<(Db, Result<()>)>,
    shape: Option<RecordShape>,
    columns: Arc<Vec<Column>>,
    /// Rows of the last chunk not yet turned into records.
    backlog: std::vec::IntoIter<Vec<Cell>>,
}

pub struct Querier {
    pub source: Source,
    partition: SourcePartition,
    topic: String,
    /// The offset of the last row handed out.
    offset: Offset,
    pub next_due: Instant,
    running: Option<Running>,
    /// Incrementing column (configured or detected) and catalog metadata (table mode).
    incrementing: Option<String>,
    meta: Option<Vec<ColumnMeta>>,
    warned: std::collections::HashSet<String>,
}

fn offset_of(offsets: &dyn OffsetReader, source: &Source) -> Option<Offset> {
    let read = |p: &SourcePartition| offsets.offset(p).map(|o| Offset::from_map(&o));
    match source {
        Source::Table(t) => {
            read(&offsets::table_partition(t)).or_else(|| read(&offsets::table_partition_v0(t)))
        }
        Source::Query(_) => read(&offsets::query_partition()),
    }
}

impl Querier {
    pub fn new(source: Source, cfg: &JdbcSourceConfig, offsets: &dyn OffsetReader) -> Self {
        let (partition, topic) = match &source {
            Source::Table(t) => (
                offsets::table_partition(t),
                format!("{}{}", cfg.topic_prefix, t.name),
            ),
            Source::Query(_) => (offsets::query_partition(), cfg.topic_prefix.clone()),
        };
        let mut offset = offset_of(offsets, &source).unwrap_or_default();
        if offset.timestamp.is_none()
            && cfg.mode.uses_timestamp()
            && let Some(initial) = cfg.timestamp_initial
        {
            offset.timestamp = if initial == -1 {
                Some(Utc::now())
            } else {
                DateTime::from_timestamp_millis(initial)
            };
        }
        tracing::info!(source = ?source, offset = ?offset, topic = %topic, "JDBC querier starts");
        Querier {
            source,
            partition,
            topic,
            offset,
            next_due: Instant::now(),
            running: None,
            incrementing: None,
            meta: None,
            warned: Default::default(),
        }
    }

    pub fn describe(&self) -> String {
        self.source.describe()
    }

    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    /// Reads the table's columns and checks the mode's columns: they exist, and (with
    /// `validate.non.null`) are NOT NULL. Errors name the table and the column.
    pub async fn validate(&mut self, db: &mut Db, cfg: &JdbcSourceConfig) -> Result<()> {
        let Source::Table(t) = &self.source else {
            self.incrementing = cfg.incrementing_column.clone();
            return Ok(());
        };
        let meta = db.columns(t).await?;
        if meta.is_empty() {
            return Err(ConnectError::config(format!(
                "Table {} has no columns visible to this user (does it still exist?)",
                t.fqn()
            )));
        }
        self.incrementing = super::validate::check_columns(cfg, t, &meta)
            .map_err(|p| ConnectError::config(p.message))?;
        self.meta = Some(meta);
        Ok(())
    }

    /// The SQL and parameters of the next execution.
    fn statement(
        &self,
        dialect: Dialect,
        cfg: &JdbcSourceConfig,
        db_now: DateTime<Utc>,
    ) -> (String, Vec<Param>) {
        let q = |s: &str| dialect::quote(dialect, s, cfg.quote_identifiers);
        let mut sql = match &self.source {
            Source::Table(t) => format!(
                "SELECT * FROM {}",
                dialect::quote_table(dialect, t, cfg.quote_identifiers)
            ),
            Source::Query(query) => query.clone(),
        };
        let ts = || {
            let cols: Vec<String> = cfg.timestamp_columns.iter().map(|c| q(c)).collect();
            if cols.len() == 1 {
                cols.join("")
            } else {
                format!("COALESCE({})", cols.join(","))
            }
        };
        let inc = || q(self.incrementing.as_deref().unwrap_or_default());
        let mut n = 0;
        let mut ph = || {
            n += 1;
            dialect::placeholder(dialect, n)
        };
        let local = |t: DateTime<Utc>| Param::Local(t.with_timezone(&cfg.timezone).naive_local());
        let begin = self.offset.timestamp.unwrap_or(DateTime::UNIX_EPOCH);
        let end = db_now - chrono::Duration::from_std(cfg.timestamp_delay).unwrap_or_default();
        let params = match cfg.mode {
            Mode::Bulk => Vec::new(),
            Mode::Incrementing => {
                sql.push_str(&format!(
                    " WHERE {} > {} ORDER BY {} ASC",
                    inc(),
                    ph(),
                    inc()
                ));
                vec![Param::Int(self.offset.incrementing_or_default())]
            }
            Mode::Timestamp => {
                let (a, b) = (ph(), ph());
                sql.push_str(&format!(
                    " WHERE {} > {a} AND {} < {b} ORDER BY {} ASC",
                    ts(),
                    ts(),
                    ts()
                ));
                vec![local(begin), local(end)]
            }
            Mode::TimestampIncrementing => {
                let (a, b, c, d) = (ph(), ph(), ph(), ph());
                sql.push_str(&format!(
                    " WHERE {ts} < {a} AND (({ts} = {b} AND {inc} > {c}) OR {ts} > {d}) ORDER BY {ts},{inc} ASC",
                    ts = ts(),
                    inc = inc()
                ));
                vec![
                    local(end),
                    local(begin),
                    Param::Int(self.offset.incrementing_or_default()),
                    local(begin),
                ]
            }
        };
        if !cfg.query_suffix.is_empty() {
            sql.push(' ');
            sql.push_str(&cfg.query_suffix);
        }
        (sql, params)
    }

    /// Starts the next execution on `db`, which the fetch task owns until it finishes.
    pub async fn start(
        &mut self,
        mut db: Db,
        cfg: &JdbcSourceConfig,
    ) -> std::result::Result<(), (Db, ConnectError)> {
        let dialect = match &db {
            Db::MySql(_) => Dialect::MySql,
            Db::Postgres(_) => Dialect::PostgreSql,
        };
        let now = if cfg.mode.uses_timestamp() {
            match db.now().await {
                Ok(t) => t,
                Err(e) => return Err((db, e)),
            }
        } else {
            Utc::now()
        };
        // Table mode re-reads the catalog on every run, so added columns appear.
        if matches!(self.source, Source::Table(_))
            && let Err(e) = self.validate(&mut db, cfg).await
        {
            return Err((db, e));
        }
        let (sql, params) = self.statement(dialect, cfg, now);
        tracing::debug!(%sql, ?params, "JDBC query");
        // At most one chunk of `batch.max.rows` rows waits in the channel while the
        // fetch task fills the next and the reader converts the last: memory stays a small
        // multiple of the batch.
        let chunk_rows = cfg.batch_max_rows.max(1);
        let (tx, rx) = mpsc::channel(1);
        let mut sink = RowSink {
            tx,
            what: self.describe(),
            header: None,
            chunk: Vec::with_capacity(chunk_rows),
            chunk_rows,
        };
        let handle = tokio::spawn(async move {
            let r = db.stream(&sql, &params, &mut sink).await;
            (db, r)
        });
        self.running = Some(Running {
            rx,
            handle,
            shape: None,
            columns: Arc::new(Vec::new()),
            backlog: Vec::new().into_iter(),
        });
        Ok(())
    }

    /// Up to `max` records of the running execution. Returns the connection when the
    /// execution ended (with its outcome), None while rows remain.
    pub async fn read(
        &mut self,
        cfg: &JdbcSourceConfig,
        max: usize,
        out: &mut Vec<SourceRecord>,
    ) -> Option<(Db, Result<()>)> {
        let what = self.describe();
        loop {
            if out.len() >= max {
                return None;
            }
            let running = self.running.as_mut()?;
            if let Some(cells) = running.backlog.next() {
                if let Err(e) = self.push_record(cfg, cells, out) {
                    return self.abort(e).await;
                }
                continue;
            }
            match running.rx.recv().await {
                Some(Fetched::Columns { columns, skipped }) => {
                    for (name, ty) in skipped {
                        if self.warned.insert(name.clone()) {
                            tracing::warn!(
                                "JDBC type {ty} of column {name} of {what} is not supported; the column is skipped"
                            );
                        }
                    }
                    running.columns = columns;
                    running.shape = None;
                }
                Some(Fetched::Rows(rows)) => running.backlog = rows.into_iter(),
                None => {
                    let r = self.running.take()?;
                    self.next_due = Instant::now() + cfg.poll_interval;
                    return match r.handle.await {
                        Ok((db, res)) => Some((db, res)),
                        Err(e) => {
                            // The fetch task panicked: the connection is gone with it.
                            tracing::error!(error = %e, "JDBC fetch task failed");
                            None
                        }
                    };
                }
            }
        }
    }

    async fn abort(&mut self, e: ConnectError) -> Option<(Db, Result<()>)> {
        let r = self.running.take()?;
        drop(r.rx);
        match r.handle.await {
            Ok((db, _)) => Some((db, Err(e))),
            Err(_) => None,
        }
    }

    fn push_record(
        &mut self,
        cfg: &JdbcSourceConfig,
        cells: Vec<Cell>,
        out: &mut Vec<SourceRecord>,
    ) -> Result<()> {
        let what = || self.source.describe();
        let Some(running) = self.running.as_mut() else {
            return Ok(());
        };
        let shape = match &running.shape {
            Some(s) => s,
            None => {
                let name = match &self.source {
                    Source::Table(t) => Some(t.name.as_str()),
                    Source::Query(_) => None,
                };
                running.shape.insert(RecordShape::new(
                    name,
                    &running.columns,
                    self.meta.as_deref(),
                    cfg.numeric_mapping,
                    cfg.timestamp_granularity,
                    &cells,
                ))
            }
        };
        let columns = &running.columns;
        let idx = |name: &str| columns.iter().position(|c| c.name == name);
        // The offset of this row, before the cells move into the value.
        let mut offset = self.offset;
        if cfg.mode.uses_incrementing() {
            let col = self.incrementing.as_deref().unwrap_or_default();
            let i = idx(col).ok_or_else(|| {
                ConnectError::config(format!(
                    "Incrementing column {col} is not in the result of {} (or its type is not supported)",
                    what()
                ))
            })?;
            offset.incrementing = Some(match cells.get(i) {
                Some(Cell::Int(v)) => *v,
                Some(Cell::UInt(v)) => i64::try_from(*v).map_err(|_| {
                    ConnectError::data(format!(
                        "Incrementing column {col} value {v} exceeds the 64-bit range"
                    ))
                })?,
                Some(Cell::Decimal(d)) => bigdecimal::ToPrimitive::to_i64(d).ok_or_else(|| {
                    ConnectError::data(format!(
                        "Incrementing column {col} value {d} is not a 64-bit integer"
                    ))
                })?,
                Some(Cell::Null) | None => {
                    return Err(ConnectError::data(format!(
                        "Null value for incrementing column {col} of {}",
                        what()
                    )));
                }
                Some(other) => {
                    return Err(ConnectError::data(format!(
                        "Invalid type for incrementing column {col} of {}: {other:?}",
                        what()
                    )));
                }
            });
        }
        if cfg.mode.uses_timestamp() {
            let ts = cfg.timestamp_columns.iter().find_map(|c| {
                idx(c)
                    .and_then(|i| cells.get(i))
                    .and_then(|cell| schema::instant(cell, cfg.timezone))
            });
            if ts.is_some() {
                offset.timestamp = ts;
            }
        }
        let value = shape.value(cells, cfg.timezone)?;
        let (source_partition, source_offset) = if cfg.mode == Mode::Bulk {
            Default::default()
        } else {
            (self.partition.clone(), offset.to_map())
        };
        self.offset = offset;
        out.push(SourceRecord {
            record: ConnectRecord {
                topic: self.topic.clone(),
                value: SchemaAndValue::new(Some(shape.schema.clone()), value),
                ..ConnectRecord::default()
            },
            source_partition,
            source_offset,
        });
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::Props;

    struct NoOffsets;
    impl OffsetReader for NoOffsets {
        fn offset(&self, _: &SourcePartition) -> Option<crate::connectors::SourceOffset> {
            None
        }
    }

    fn cfg(kv: &[(&str, &str)]) -> JdbcSourceConfig {
        let mut p: Props = [
            ("connection.url", "jdbc:mysql://h/db"),
            ("topic.prefix", "t-"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        for (k, v) in kv {
            p.insert((*k).to_owned(), (*v).to_owned());
        }
        JdbcSourceConfig::parse(&p).unwrap()
    }

    fn table() -> Source {
        Source::Table(TableId {
            qualifier: "db".into(),
            name: "t".into(),
        })
    }

    #[test]
    fn statements_match_confluents_where_clauses() {
        let now = DateTime::from_timestamp(1000, 0).unwrap();
        let c = cfg(&[("mode", "incrementing"), ("incrementing.column.name", "id")]);
        let mut q = Querier::new(table(), &c, &NoOffsets);
        q.incrementing = Some("id".into());
        let (sql, params) = q.statement(Dialect::MySql, &c, now);
        assert_eq!(
            sql,
            "SELECT * FROM `db`.`t` WHERE `id` > ? ORDER BY `id` ASC"
        );
        assert_eq!(params, vec![Param::Int(-1)]);

        let c = cfg(&[
            ("mode", "timestamp"),
            ("timestamp.column.name", "a,b"),
            ("timestamp.delay.interval.ms", "2000"),
            ("db.timezone", "Europe/Paris"),
            ("query.suffix", "LIMIT 10"),
        ]);
        let q = Querier::new(table(), &c, &NoOffsets);
        let (sql, params) = q.statement(Dialect::PostgreSql, &c, now);
        assert_eq!(
            sql,
            "SELECT * FROM \"db\".\"t\" WHERE COALESCE(\"a\",\"b\") > $1 AND COALESCE(\"a\",\"b\") < $2 ORDER BY COALESCE(\"a\",\"b\") ASC LIMIT 10"
        );
        // Both ends in db.timezone (Paris is UTC+1 in January 1970).
        let paris = |secs| {
            Param::Local(
                DateTime::from_timestamp(secs, 0).unwrap().naive_utc() + chrono::Duration::hours(1),
            )
        };
        assert_eq!(params, vec![paris(0), paris(998)]);

        let c = cfg(&[
            ("mode", "timestamp+incrementing"),
            ("timestamp.column.name", "ts"),
            ("incrementing.column.name", "id"),
            ("query", "SELECT * FROM x"),
            ("quote.sql.identifiers", "never"),
        ]);
        let mut q = Querier::new(Source::Query("SELECT * FROM x".into()), &c, &NoOffsets);
        q.incrementing = Some("id".into());
        q.offset = Offset {
            incrementing: Some(7),
            timestamp: Some(DateTime::from_timestamp(5, 1_000).unwrap()),
        };
        let (sql, params) = q.statement(Dialect::MySql, &c, now);
        assert_eq!(
            sql,
            "SELECT * FROM x WHERE ts < ? AND ((ts = ? AND id > ?) OR ts > ?) ORDER BY ts,id ASC"
        );
        let at =
            |secs, nanos| Param::Local(DateTime::from_timestamp(secs, nanos).unwrap().naive_utc());
        assert_eq!(
            params,
            vec![at(1000, 0), at(5, 1_000), Param::Int(7), at(5, 1_000)]
        );
        assert_eq!(q.topic, "t-");
    }
}
