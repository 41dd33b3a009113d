//! PostgreSQL through sqlx's Postgres driver.

use bigdecimal::BigDecimal;
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgRow, PgSslMode};
use sqlx::{Connection as _, Row, ValueRef as _};

use super::{Cell, Column, ColumnMeta, Kind, Param, TableId};
use crate::connectors::jdbc::url::JdbcUrl;

/// Connect options from the URL; TLS options (`sslmode`, `sslrootcert`, `sslcert`,
/// `sslkey`) pass through as pgjdbc spells them.
/// The session's `TimeZone` is `db.timezone`, so zone-less bounds compare with
/// `timestamptz` columns in that zone.
pub fn options(
    url: &JdbcUrl,
    user: &str,
    password: Option<&str>,
    tz: chrono_tz::Tz,
) -> Result<PgConnectOptions, String> {
    let mut o = PgConnectOptions::new_without_pgpass()
        .host(&url.host)
        .port(url.port)
        .username(user)
        .application_name("ferry-jdbc-source")
        .options([("TimeZone", tz.name())]);
    if let Some(p) = password {
        o = o.password(p);
    }
    if let Some(db) = &url.database {
        o = o.database(db);
    }
    let param = |n: &str| {
        url.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.clone())
    };
    if let Some(mode) = param("sslmode") {
        o = o.ssl_mode(match mode.to_ascii_lowercase().as_str() {
            "disable" => PgSslMode::Disable,
            "allow" => PgSslMode::Allow,
            "prefer" => PgSslMode::Prefer,
            "require" => PgSslMode::Require,
            "verify-ca" => PgSslMode::VerifyCa,
            "verify-full" => PgSslMode::VerifyFull,
            other => return Err(format!("unknown sslmode '{other}' in connection.url")),
        });
    } else if param("ssl").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        o = o.ssl_mode(PgSslMode::Require);
    }
    if let Some(ca) = param("sslrootcert") {
        o = o.ssl_root_cert(ca);
    }
    if let Some(cert) = param("sslcert") {
        o = o.ssl_client_cert(cert);
    }
    if let Some(key) = param("sslkey") {
        o = o.ssl_client_key(key);
    }
    Ok(o)
}

pub async fn connect(o: &PgConnectOptions) -> Result<PgConnection, sqlx::Error> {
    PgConnection::connect_with(o).await
}

/// The isolation level of every later transaction of this session (`level` is one of
/// the fixed SQL spellings, never user text).
pub async fn set_isolation(c: &mut PgConnection, level: &str) -> Result<(), sqlx::Error> {
    // A plain statement without arguments goes over the simple (text) protocol.
    let sql = format!("SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL {level}");
    sqlx::Executor::execute(c, sql.as_str()).await.map(|_| ())
}

/// The database's clock (statement time, microseconds).
pub async fn now(c: &mut PgConnection) -> Result<DateTime<Utc>, sqlx::Error> {
    sqlx::query_scalar("SELECT statement_timestamp()")
        .fetch_one(c)
        .await
}

pub async fn tables(
    c: &mut PgConnection,
    schema_pattern: Option<&str>,
    types: &[String],
) -> Result<Vec<TableId>, sqlx::Error> {
    let mut sql = "SELECT table_schema::text, table_name::text, table_type::text FROM information_schema.tables \
                   WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
        .to_owned();
    if schema_pattern.is_some() {
        sql.push_str(" AND table_schema LIKE $1");
    }
    let mut q = sqlx::query(&sql);
    if let Some(p) = schema_pattern {
        q = q.bind(p);
    }
    let rows = q.fetch_all(c).await?;
    let mut out = Vec::new();
    for r in rows {
        let ty: String = r.try_get(2)?;
        let ty = match ty.as_str() {
            "BASE TABLE" => "TABLE",
            "LOCAL TEMPORARY" => "LOCAL TEMPORARY",
            other => other,
        };
        if types.iter().any(|t| t.eq_ignore_ascii_case(ty)) {
            out.push(TableId {
                qualifier: r.try_get(0)?,
                name: r.try_get(1)?,
            });
        }
    }
    Ok(out)
}

pub async fn columns(c: &mut PgConnection, t: &TableId) -> Result<Vec<ColumnMeta>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT column_name::text, is_nullable::text, numeric_precision::int8, numeric_scale::int8, \
         coalesce(column_default::text, ''), is_identity::text FROM information_schema.columns \
         WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position",
    )
    .bind(&t.qualifier)
    .bind(&t.name)
    .fetch_all(c)
    .await?;
    let mut out = Vec::new();
    for r in rows {
        let nullable: String = r.try_get(1)?;
        let default: String = r.try_get(4)?;
        let identity: Option<String> = r.try_get(5)?;
        out.push(ColumnMeta {
            name: r.try_get(0)?,
            nullable: nullable == "YES",
            precision: r.try_get(2)?,
            scale: r.try_get(3)?,
            auto_increment: default.starts_with("nextval(") || identity.as_deref() == Some("YES"),
        });
    }
    Ok(out)
}

pub fn kind_of(type_name: &str) -> Option<Kind> {
    Some(match type_name {
        "BOOL" => Kind::Bool,
        "INT2" => Kind::Int16,
        "INT4" => Kind::Int32,
        "INT8" => Kind::Int64,
        "FLOAT4" => Kind::Float32,
        "FLOAT8" => Kind::Float64,
        "NUMERIC" => Kind::Decimal,
        "TEXT" | "VARCHAR" | "CHAR" | "\"CHAR\"" | "NAME" | "JSON" | "JSONB" | "UUID" | "XML" => {
            Kind::Text
        }
        "BYTEA" => Kind::Bytes,
        "DATE" => Kind::Date,
        "TIME" => Kind::Time,
        "TIMESTAMP" => Kind::LocalTimestamp,
        "TIMESTAMPTZ" => Kind::InstantTimestamp,
        _ => return None,
    })
}

fn text(row: &PgRow, i: usize, type_name: &str) -> Result<String, sqlx::Error> {
    let raw: Vec<u8> = row.try_get_unchecked(i)?;
    Ok(match type_name {
        // Binary format: 16 bytes.
        "UUID" if raw.len() == 16 => {
            let h: String = raw.iter().map(|b| format!("{b:02x}")).collect();
            format!(
                "{}-{}-{}-{}-{}",
                &h[0..8],
                &h[8..12],
                &h[12..16],
                &h[16..20],
                &h[20..32]
            )
        }
        // Binary format: a version byte, then the text.
        "JSONB" if raw.first() == Some(&1) => String::from_utf8_lossy(&raw[1..]).into_owned(),
        "\"CHAR\"" => String::from_utf8_lossy(&raw).into_owned(),
        _ => String::from_utf8(raw).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
    })
}

fn decode(row: &PgRow, i: usize, col: &Column) -> Result<Cell, sqlx::Error> {
    if row.try_get_raw(i)?.is_null() {
        return Ok(Cell::Null);
    }
    Ok(match col.kind {
        Kind::Bool => Cell::Bool(row.try_get(i)?),
        Kind::Int8 | Kind::Int16 => Cell::Int(row.try_get::<i16, _>(i)?.into()),
        Kind::Int32 => Cell::Int(row.try_get::<i32, _>(i)?.into()),
        Kind::Int64 | Kind::UInt64 => Cell::Int(row.try_get(i)?),
        Kind::Float32 => Cell::F32(row.try_get(i)?),
        Kind::Float64 => Cell::F64(row.try_get(i)?),
        Kind::Decimal => Cell::Decimal(row.try_get::<BigDecimal, _>(i)?),
        Kind::Text => Cell::Text(text(row, i, &col.type_name)?),
        Kind::Bytes => Cell::Bytes(row.try_get(i)?),
        Kind::Date => Cell::Date(row.try_get::<NaiveDate, _>(i)?),
        Kind::Time => Cell::Time(row.try_get::<NaiveTime, _>(i)?),
        Kind::LocalTimestamp => Cell::Local(row.try_get::<NaiveDateTime, _>(i)?),
        Kind::InstantTimestamp => Cell::Instant(row.try_get::<DateTime<Utc>, _>(i)?),
    })
}

/// Runs `sql` and hands each row to `sink` as it arrives.
pub async fn stream(
    c: &mut PgConnection,
    sql: &str,
    params: &[Param],
    sink: &mut super::super::querier::RowSink,
) -> crate::errors::Result<()> {
    let mut q = sqlx::query(sql);
    for p in params {
        q = match p {
            Param::Int(v) => q.bind(*v),
            Param::Local(t) => q.bind(*t),
        };
    }
    super::stream_rows(q.fetch(c), kind_of, decode, sink).await
}
