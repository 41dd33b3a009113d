//! One database connection per task, opened with `connection.attempts` and
//! `connection.backoff.ms`, and the calls the querier makes through it.

use chrono::{DateTime, Utc};
use sqlx::Connection as _;
use sqlx::mysql::MySqlConnection;
use sqlx::postgres::PgConnection;

use super::config::{IsolationMode, JdbcSourceConfig};
use super::dialect::{self, ColumnMeta, Param, TableId};
use super::querier::RowSink;
use super::url::{self, Dialect, JdbcUrl};
use crate::errors::{ConnectError, Result};

/// An open connection to either database family.
pub enum Db {
    MySql(MySqlConnection),
    Postgres(PgConnection),
}

/// Where to connect and as whom; built once from the configuration.
#[derive(Clone)]
pub struct ConnectSpec {
    pub url: JdbcUrl,
    user: String,
    password: Option<String>,
    attempts: u32,
    backoff: std::time::Duration,
    tz: chrono_tz::Tz,
    isolation: IsolationMode,
}

impl ConnectSpec {
    pub fn new(cfg: &JdbcSourceConfig) -> Result<Self> {
        let url = url::parse(&cfg.url)?;
        let user = cfg
            .user
            .clone()
            .or_else(|| url.user.clone())
            .unwrap_or_else(|| match url.dialect {
                Dialect::MySql => "root".to_owned(),
                Dialect::PostgreSql => "postgres".to_owned(),
            });
        let password = cfg.password.clone().or_else(|| url.password.clone());
        Ok(ConnectSpec {
            url,
            user,
            password,
            attempts: cfg.attempts,
            backoff: cfg.backoff,
            tz: cfg.timezone,
            isolation: cfg.isolation,
        })
    }

    async fn connect_once(&self) -> std::result::Result<Db, String> {
        let mut db = self.open().await?;
        if let Some(level) = self.isolation.sql() {
            let set = match &mut db {
                Db::MySql(c) => dialect::mysql::set_isolation(c, level).await,
                Db::Postgres(c) => dialect::postgres::set_isolation(c, level).await,
            };
            if let Err(e) = set {
                db.close().await;
                return Err(format!(
                    "could not set the transaction isolation level {level}: {e}"
                ));
            }
        }
        Ok(db)
    }

    async fn open(&self) -> std::result::Result<Db, String> {
        let pw = self.password.as_deref();
        match self.url.dialect {
            Dialect::MySql => {
                let o = dialect::mysql::options(&self.url, &self.user, pw, self.tz)?;
                dialect::mysql::connect(&o)
                    .await
                    .map(Db::MySql)
                    .map_err(|e| e.to_string())
            }
            Dialect::PostgreSql => {
                let o = dialect::postgres::options(&self.url, &self.user, pw, self.tz)?;
                dialect::postgres::connect(&o)
                    .await
                    .map(Db::Postgres)
                    .map_err(|e| e.to_string())
            }
        }
    }

    /// One attempt, for the connector's table count.
    pub async fn connect_once_for_discovery(&self) -> Result<Db> {
        self.connect_once().await.map_err(|e| {
            ConnectError::external(
                format!(
                    "Could not connect to database at {}: {e}",
                    self.url.address()
                ),
                true,
            )
        })
    }

    /// Connects, trying `connection.attempts` times `connection.backoff.ms` apart; the
    /// error names the host and the last failure.
    pub async fn connect(&self) -> Result<Db> {
        let mut last = String::new();
        for attempt in 1..=self.attempts {
            match self.connect_once().await {
                Ok(db) => return Ok(db),
                Err(e) => {
                    tracing::warn!(
                        host = %self.url.address(), attempt, attempts = self.attempts, error = %e,
                        "could not connect to the database"
                    );
                    last = e;
                }
            }
            if attempt < self.attempts {
                tokio::time::sleep(self.backoff).await;
            }
        }
        Err(ConnectError::external(
            format!(
                "Could not connect to database at {} as user {} after {} attempt(s): {last}",
                self.url.address(),
                self.user,
                self.attempts
            ),
            true,
        ))
    }
}

/// Whether trying again (on a new connection) may help: I/O and protocol failures, and
/// the database errors that mean the connection or the transaction was cut off; not bad
/// SQL or a missing privilege.
pub fn transient(e: &sqlx::Error) -> bool {
    let sqlx::Error::Database(d) = e else {
        return !matches!(
            e,
            sqlx::Error::Configuration(_) | sqlx::Error::ColumnNotFound(_)
        );
    };
    if let Some(m) = d.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        // killed, server gone away, lost connection, shutdown, lock wait timeout, deadlock
        return matches!(m.number(), 1927 | 2006 | 2013 | 1053 | 1205 | 1213);
    }
    // PostgreSQL SQLSTATE: connection exceptions, operator intervention, serialization
    // failure and deadlock.
    d.code().is_some_and(|c| {
        c.starts_with("08") || c.starts_with("57P") || c == "40001" || c == "40P01"
    })
}

fn db_err(what: &str, e: sqlx::Error) -> ConnectError {
    ConnectError::external(format!("{what}: {e}"), transient(&e))
}

impl Db {
    /// The database's current time.
    pub async fn now(&mut self) -> Result<DateTime<Utc>> {
        match self {
            Db::MySql(c) => dialect::mysql::now(c).await,
            Db::Postgres(c) => dialect::postgres::now(c).await,
        }
        .map_err(|e| db_err("could not read the database's current time", e))
    }

    /// Tables of the configured types in the configured catalog/schema.
    pub async fn tables(&mut self, cfg: &JdbcSourceConfig) -> Result<Vec<TableId>> {
        match self {
            Db::MySql(c) => {
                dialect::mysql::tables(c, cfg.catalog_pattern.as_deref(), &cfg.table_types).await
            }
            Db::Postgres(c) => {
                dialect::postgres::tables(c, cfg.schema_pattern.as_deref(), &cfg.table_types).await
            }
        }
        .map_err(|e| db_err("could not list tables", e))
    }

    pub async fn columns(&mut self, t: &TableId) -> Result<Vec<ColumnMeta>> {
        match self {
            Db::MySql(c) => dialect::mysql::columns(c, t).await,
            Db::Postgres(c) => dialect::postgres::columns(c, t).await,
        }
        .map_err(|e| {
            db_err(
                &format!("could not read the columns of table {}", t.fqn()),
                e,
            )
        })
    }

    /// Runs a query, streaming its rows into `sink`.
    pub async fn stream(&mut self, sql: &str, params: &[Param], sink: &mut RowSink) -> Result<()> {
        match self {
            Db::MySql(c) => dialect::mysql::stream(c, sql, params, sink).await,
            Db::Postgres(c) => dialect::postgres::stream(c, sql, params, sink).await,
        }
    }

    /// Whether the connection still answers.
    pub async fn is_valid(&mut self) -> bool {
        match self {
            Db::MySql(c) => c.ping().await.is_ok(),
            Db::Postgres(c) => c.ping().await.is_ok(),
        }
    }

    pub async fn close(self) {
        let _ = match self {
            Db::MySql(c) => c.close().await,
            Db::Postgres(c) => c.close().await,
        };
    }
}
