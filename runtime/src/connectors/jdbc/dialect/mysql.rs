//! MySQL and MariaDB through sqlx's MySQL driver.

use bigdecimal::BigDecimal;
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use sqlx::mysql::{MySqlConnectOptions, MySqlConnection, MySqlRow, MySqlSslMode};
use sqlx::{Connection as _, Row, ValueRef as _};

use super::{Cell, Column, ColumnMeta, Kind, Param, TableId};
use crate::connectors::jdbc::url::JdbcUrl;

/// Connect options from the URL; TLS options (`sslMode`, `useSSL`, `sslCa`...) pass through.
/// The session's `time_zone` is `db.timezone`'s offset now, so TIMESTAMP columns read and
/// compare in the same zone as DATETIME columns and the query window's bounds.
pub fn options(
    url: &JdbcUrl,
    user: &str,
    password: Option<&str>,
    tz: chrono_tz::Tz,
) -> Result<MySqlConnectOptions, String> {
    use chrono::Offset as _;
    let secs = Utc::now()
        .with_timezone(&tz)
        .offset()
        .fix()
        .local_minus_utc();
    let offset = format!(
        "{}{:02}:{:02}",
        if secs < 0 { '-' } else { '+' },
        secs.abs() / 3600,
        secs.abs() % 3600 / 60
    );
    let mut o = MySqlConnectOptions::new()
        .host(&url.host)
        .port(url.port)
        .username(user)
        .timezone(Some(offset));
    if let Some(p) = password {
        o = o.password(p);
    }
    if let Some(db) = &url.database {
        o = o.database(db);
    }
    let param = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| url.params.iter().find(|(k, _)| k.eq_ignore_ascii_case(n)))
            .map(|(_, v)| v.clone())
    };
    if let Some(mode) = param(&["sslMode", "ssl-mode"]) {
        o = o.ssl_mode(match mode.to_ascii_uppercase().replace('-', "_").as_str() {
            "DISABLED" => MySqlSslMode::Disabled,
            "PREFERRED" => MySqlSslMode::Preferred,
            "REQUIRED" => MySqlSslMode::Required,
            "VERIFY_CA" => MySqlSslMode::VerifyCa,
            "VERIFY_IDENTITY" => MySqlSslMode::VerifyIdentity,
            other => return Err(format!("unknown sslMode '{other}' in connection.url")),
        });
    } else if let Some(use_ssl) = param(&["useSSL", "useSsl"]) {
        o = o.ssl_mode(if use_ssl.eq_ignore_ascii_case("true") {
            MySqlSslMode::Required
        } else {
            MySqlSslMode::Disabled
        });
    }
    if let Some(ca) = param(&["sslCa", "serverSslCert", "trustCertificateKeyStoreUrl"]) {
        o = o.ssl_ca(ca.trim_start_matches("file:"));
    }
    Ok(o)
}

pub async fn connect(o: &MySqlConnectOptions) -> Result<MySqlConnection, sqlx::Error> {
    MySqlConnection::connect_with(o).await
}

/// The isolation level of every later transaction of this session (`level` is one of
/// the fixed SQL spellings, never user text).
pub async fn set_isolation(c: &mut MySqlConnection, level: &str) -> Result<(), sqlx::Error> {
    // A plain statement without arguments goes over the simple (text) protocol.
    let sql = format!("SET SESSION TRANSACTION ISOLATION LEVEL {level}");
    sqlx::Executor::execute(c, sql.as_str()).await.map(|_| ())
}

/// The database's clock, with microseconds.
pub async fn now(c: &mut MySqlConnection) -> Result<DateTime<Utc>, sqlx::Error> {
    // UTC_TIMESTAMP does not depend on the session zone.
    let t: NaiveDateTime = sqlx::query_scalar("SELECT UTC_TIMESTAMP(6)")
        .fetch_one(c)
        .await?;
    Ok(t.and_utc())
}

/// Tables of the URL's database (or of the catalogs matching `catalog.pattern`).
pub async fn tables(
    c: &mut MySqlConnection,
    catalog_pattern: Option<&str>,
    types: &[String],
) -> Result<Vec<TableId>, sqlx::Error> {
    let mut sql = "SELECT CAST(TABLE_SCHEMA AS CHAR), CAST(TABLE_NAME AS CHAR), CAST(TABLE_TYPE AS CHAR) FROM information_schema.TABLES WHERE ".to_owned();
    sql.push_str(match catalog_pattern {
        Some(_) => "TABLE_SCHEMA LIKE ?",
        None => "TABLE_SCHEMA = DATABASE()",
    });
    let mut q = sqlx::query(&sql);
    if let Some(p) = catalog_pattern {
        q = q.bind(p);
    }
    let rows = q.fetch_all(c).await?;
    let mut out = Vec::new();
    for r in rows {
        let schema: String = r.try_get_unchecked(0)?;
        let name: String = r.try_get_unchecked(1)?;
        let ty: String = r.try_get_unchecked(2)?;
        let ty = match ty.as_str() {
            "BASE TABLE" => "TABLE",
            "SYSTEM VIEW" => "VIEW",
            other => other,
        };
        if types.iter().any(|t| t.eq_ignore_ascii_case(ty)) {
            out.push(TableId {
                qualifier: schema,
                name,
            });
        }
    }
    Ok(out)
}

pub async fn columns(c: &mut MySqlConnection, t: &TableId) -> Result<Vec<ColumnMeta>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT CAST(COLUMN_NAME AS CHAR), CAST(IS_NULLABLE AS CHAR), CAST(NUMERIC_PRECISION AS SIGNED), \
         CAST(NUMERIC_SCALE AS SIGNED), CAST(EXTRA AS CHAR) FROM information_schema.COLUMNS \
         WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
    )
    .bind(&t.qualifier)
    .bind(&t.name)
    .fetch_all(c)
    .await?;
    let mut out = Vec::new();
    for r in rows {
        let extra: Option<String> = r.try_get_unchecked(4)?;
        let nullable: String = r.try_get_unchecked(1)?;
        out.push(ColumnMeta {
            name: r.try_get_unchecked(0)?,
            nullable: nullable.eq_ignore_ascii_case("YES"),
            precision: r.try_get_unchecked(2)?,
            scale: r.try_get_unchecked(3)?,
            auto_increment: extra
                .is_some_and(|e| e.to_ascii_lowercase().contains("auto_increment")),
        });
    }
    Ok(out)
}

/// How a result column of this type is read; None for types Ferry does not map.
pub fn kind_of(type_name: &str) -> Option<Kind> {
    Some(match type_name {
        "BOOLEAN" => Kind::Bool,
        "TINYINT" => Kind::Int8,
        "TINYINT UNSIGNED" | "SMALLINT" => Kind::Int16,
        "SMALLINT UNSIGNED" | "MEDIUMINT" | "MEDIUMINT UNSIGNED" | "INT" | "YEAR" => Kind::Int32,
        "INT UNSIGNED" | "BIGINT" => Kind::Int64,
        "BIGINT UNSIGNED" => Kind::UInt64,
        "FLOAT" => Kind::Float32,
        "DOUBLE" => Kind::Float64,
        "DECIMAL" => Kind::Decimal,
        "CHAR" | "VARCHAR" | "TINYTEXT" | "TEXT" | "MEDIUMTEXT" | "LONGTEXT" | "ENUM" | "SET"
        | "JSON" => Kind::Text,
        "BINARY" | "VARBINARY" | "TINYBLOB" | "BLOB" | "MEDIUMBLOB" | "LONGBLOB" | "BIT" => {
            Kind::Bytes
        }
        "DATE" => Kind::Date,
        "TIME" => Kind::Time,
        "DATETIME" | "TIMESTAMP" => Kind::LocalTimestamp,
        _ => return None,
    })
}

fn decode(row: &MySqlRow, i: usize, col: &Column) -> Result<Cell, sqlx::Error> {
    if row.try_get_raw(i)?.is_null() {
        return Ok(Cell::Null);
    }
    let unsigned = col.type_name.ends_with("UNSIGNED");
    Ok(match col.kind {
        Kind::Bool => Cell::Bool(row.try_get_unchecked::<i64, _>(i)? != 0),
        Kind::Int8 | Kind::Int16 | Kind::Int32 | Kind::Int64 if unsigned => {
            let v: u64 = row.try_get_unchecked(i)?;
            Cell::Int(i64::try_from(v).unwrap_or(i64::MAX))
        }
        Kind::Int8 | Kind::Int16 | Kind::Int32 | Kind::Int64 => {
            Cell::Int(row.try_get_unchecked(i)?)
        }
        Kind::UInt64 => Cell::UInt(row.try_get_unchecked(i)?),
        // The kind comes from the column's type, so sqlx's type check per cell would only
        // repeat it.
        Kind::Float32 => Cell::F32(row.try_get_unchecked(i)?),
        Kind::Float64 => Cell::F64(row.try_get_unchecked(i)?),
        Kind::Decimal => {
            // DECIMAL travels as text.
            let text: &str = row.try_get_unchecked(i)?;
            match small_decimal(text) {
                Some(d) => Cell::Decimal(d),
                None => Cell::Decimal(row.try_get_unchecked::<BigDecimal, _>(i)?),
            }
        }
        Kind::Text => Cell::Text(row.try_get_unchecked(i)?),
        Kind::Bytes => Cell::Bytes(row.try_get_unchecked(i)?),
        Kind::Date => Cell::Date(row.try_get_unchecked::<NaiveDate, _>(i)?),
        Kind::Time => Cell::Time(row.try_get_unchecked::<NaiveTime, _>(i)?),
        // DATETIME and TIMESTAMP share one binary encoding.
        Kind::LocalTimestamp => Cell::Local(row.try_get_unchecked::<NaiveDateTime, _>(i)?),
        Kind::InstantTimestamp => Cell::Instant(row.try_get::<NaiveDateTime, _>(i)?.and_utc()),
    })
}

/// A DECIMAL's text (`-123.45`) of at most 18 digits, without parsing a big integer;
/// None for anything else, which the general parser then reads.
fn small_decimal(text: &str) -> Option<BigDecimal> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() || int.len() + frac.len() > 18 {
        return None;
    }
    let mut unscaled: i64 = 0;
    for b in int.bytes().chain(frac.bytes()) {
        if !b.is_ascii_digit() {
            return None;
        }
        unscaled = unscaled * 10 + i64::from(b - b'0');
    }
    let unscaled = if negative { -unscaled } else { unscaled };
    Some(BigDecimal::new(
        unscaled.into(),
        i64::try_from(frac.len()).ok()?,
    ))
}

/// Runs `sql` and hands each row to `sink` as it arrives (the driver streams rows, so
/// memory stays bounded by the consumer).
pub async fn stream(
    c: &mut MySqlConnection,
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::str::FromStr;

    use super::*;

    #[test]
    fn small_decimals_read_as_the_general_parser_does() {
        for text in [
            "0",
            "0.00",
            "-0.01",
            "123.45",
            "-123.45",
            "999999999999999999",
            "-99999999.9999999999",
            "0.00000000000000001",
            "1000",
            "10.10",
        ] {
            let fast = small_decimal(text).unwrap();
            let general = BigDecimal::from_str(text).unwrap();
            assert_eq!(
                fast.as_bigint_and_scale(),
                general.as_bigint_and_scale(),
                "{text}"
            );
        }
        // Past 18 digits, or not a plain decimal: the general parser's.
        for text in [
            "1234567890123456789",
            "1e5",
            "",
            "-",
            ".5",
            "1.2.3",
            "+1",
            "12a",
        ] {
            assert!(small_decimal(text).is_none(), "{text}");
        }
    }
}
