//! `connection.url` in JDBC form: `jdbc:mysql://host:3306/db?user=..&password=..`,
//! `jdbc:mariadb:`, `jdbc:postgresql:`. Credentials may sit in the query string; the
//! `connection.user`/`connection.password` keys override them.

use std::collections::BTreeMap;

use crate::errors::{ConnectError, Result};

/// Which database family a URL points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// MySQL and MariaDB (one wire protocol, one SQL dialect for what we need).
    MySql,
    PostgreSql,
}

/// A parsed JDBC URL.
#[derive(Debug, Clone, PartialEq)]
pub struct JdbcUrl {
    pub dialect: Dialect,
    pub host: String,
    pub port: u16,
    pub database: Option<String>,
    pub user: Option<String>,
    pub password: Option<String>,
    /// The remaining query parameters (TLS options and the like), keys as written.
    pub params: BTreeMap<String, String>,
}

impl JdbcUrl {
    /// `host:port`, for messages.
    pub fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

fn bad(url: &str, why: &str) -> ConnectError {
    ConnectError::config(format!(
        "Invalid value {} for configuration connection.url: {why}",
        redact(url)
    ))
}

/// The URL with any `password=` value hidden, for messages and logs.
pub fn redact(url: &str) -> String {
    let re = regex::Regex::new(r"(?i)(password=)[^&;]*").ok();
    match re {
        Some(re) => re.replace_all(url, "${1}[hidden]").into_owned(),
        None => url.to_owned(),
    }
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Parses a JDBC URL of a supported database.
pub fn parse(url: &str) -> Result<JdbcUrl> {
    let rest = url
        .trim()
        .strip_prefix("jdbc:")
        .ok_or_else(|| bad(url, "a JDBC URL starts with jdbc:"))?;
    let (scheme, rest) = rest
        .split_once("://")
        .ok_or_else(|| bad(url, "expected jdbc:<subprotocol>://host[:port]/database"))?;
    let (dialect, default_port) = match scheme.to_ascii_lowercase().as_str() {
        "mysql" | "mariadb" => (Dialect::MySql, 3306),
        "postgresql" | "postgres" => (Dialect::PostgreSql, 5432),
        other => {
            return Err(bad(
                url,
                &format!(
                    "unsupported JDBC subprotocol '{other}' (supported: mysql, mariadb, postgresql)"
                ),
            ));
        }
    };
    let (authority_path, query) = match rest.split_once('?') {
        Some((a, q)) => (a, Some(q)),
        None => (rest, None),
    };
    let (authority, path) = match authority_path.split_once('/') {
        Some((a, p)) => (a, p),
        None => (authority_path, ""),
    };
    // user:password@host in the authority, as both drivers accept.
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    // Only the first host of a failover list is used.
    let hostport = hostport.split(',').next().unwrap_or_default();
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (h, after) = v6
            .split_once(']')
            .ok_or_else(|| bad(url, "unclosed [ in the host"))?;
        (h.to_owned(), after.strip_prefix(':'))
    } else {
        match hostport.split_once(':') {
            Some((h, p)) => (h.to_owned(), Some(p)),
            None => (hostport.to_owned(), None),
        }
    };
    let host = if host.is_empty() {
        "localhost".to_owned()
    } else {
        host
    };
    let port = match port.filter(|p| !p.is_empty()) {
        Some(p) => p
            .parse::<u16>()
            .map_err(|_| bad(url, &format!("port '{p}' is not a number from 0 to 65535")))?,
        None => default_port,
    };
    let database = Some(decode(path.trim_end_matches('/'))).filter(|d| !d.is_empty());
    let mut user = None;
    let mut password = None;
    if let Some(info) = userinfo {
        match info.split_once(':') {
            Some((u, p)) => {
                user = Some(decode(u));
                password = Some(decode(p));
            }
            None => user = Some(decode(info)),
        }
    }
    let mut params = BTreeMap::new();
    for pair in query.unwrap_or_default().split(['&', ';']) {
        if pair.is_empty() {
            continue;
        }
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (decode(k), decode(v));
        match k.as_str() {
            "user" => user = Some(v),
            "password" => password = Some(v),
            _ => {
                params.insert(k, v);
            }
        }
    }
    Ok(JdbcUrl {
        dialect,
        host,
        port,
        database,
        user,
        password,
        params,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_seed_url() {
        let u =
            parse("jdbc:mysql://localhost:3306/kafka_demo?user=claus&password=LvRaikkonen_0306")
                .unwrap();
        assert_eq!(u.dialect, Dialect::MySql);
        assert_eq!(u.host, "localhost");
        assert_eq!(u.port, 3306);
        assert_eq!(u.database.as_deref(), Some("kafka_demo"));
        assert_eq!(u.user.as_deref(), Some("claus"));
        assert_eq!(u.password.as_deref(), Some("LvRaikkonen_0306"));
        assert!(u.params.is_empty());
    }

    #[test]
    fn parses_postgres_mariadb_and_options() {
        let u = parse("jdbc:postgresql://db.example:6543/app?sslmode=require&user=a%40b").unwrap();
        assert_eq!(u.dialect, Dialect::PostgreSql);
        assert_eq!(u.address(), "db.example:6543");
        assert_eq!(u.user.as_deref(), Some("a@b"));
        assert_eq!(u.params.get("sslmode").map(String::as_str), Some("require"));
        let u = parse("jdbc:mariadb://u:p@127.0.0.1/x").unwrap();
        assert_eq!(
            (u.port, u.user.as_deref(), u.password.as_deref()),
            (3306, Some("u"), Some("p"))
        );
        let u = parse("jdbc:postgresql://[::1]:5433/").unwrap();
        assert_eq!((u.host.as_str(), u.port, u.database), ("::1", 5433, None));
    }

    #[test]
    fn rejects_bad_urls_with_the_reason_and_no_password() {
        let e = parse("jdbc:oracle:thin:@h:1521:x").unwrap_err().to_string();
        assert!(e.contains("connection.url"), "{e}");
        let e = parse("jdbc:sqlserver://h;password=s3cret")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("unsupported JDBC subprotocol 'sqlserver'"),
            "{e}"
        );
        assert!(!e.contains("s3cret"), "{e}");
        let e = parse("jdbc:mysql://h:99999/db").unwrap_err().to_string();
        assert!(e.contains("port '99999'"), "{e}");
        assert!(parse("mysql://h/db").is_err());
    }
}
