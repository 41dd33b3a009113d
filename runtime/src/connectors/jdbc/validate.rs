//! The mode's columns checked against a table's catalog entry: used by `…/config/validate`
//! (through the connector, before anything runs) and by each task before every query
//! (a column may be dropped while the connector runs).

use super::config::{INCREMENTING_COLUMN_NAME, JdbcSourceConfig, TIMESTAMP_COLUMN_NAME};
use super::connection::ConnectSpec;
use super::dialect::{ColumnMeta, TableId};
use super::tables;

/// A problem with a table's columns, and the key it is reported on.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnProblem {
    pub key: &'static str,
    pub message: String,
}

/// Checks that the mode's columns exist in `meta` and (with `validate.non.null`) are NOT
/// NULL. Returns the incrementing column to use (configured or auto-increment), if the mode
/// has one. Messages name the table and the column.
pub fn check_columns(
    cfg: &JdbcSourceConfig,
    table: &TableId,
    meta: &[ColumnMeta],
) -> Result<Option<String>, ColumnProblem> {
    let fqn = table.fqn();
    let names = || {
        meta.iter()
            .map(|m| m.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut incrementing = None;
    if cfg.mode.uses_incrementing() {
        let problem = |message| ColumnProblem {
            key: INCREMENTING_COLUMN_NAME,
            message,
        };
        let col = match &cfg.incrementing_column {
            Some(c) => meta.iter().find(|m| &m.name == c).ok_or_else(|| {
                problem(format!(
                    "Incrementing column {c} does not exist in table {fqn} (its columns: {})",
                    names()
                ))
            })?,
            None => meta.iter().find(|m| m.auto_increment).ok_or_else(|| {
                problem(format!(
                    "Table {fqn} has no auto-incrementing column; set incrementing.column.name to one of: {}",
                    names()
                ))
            })?,
        };
        if cfg.validate_non_null && col.nullable {
            return Err(problem(format!(
                "Cannot make incremental queries using incrementing column {} on {fqn} because this column is nullable.",
                col.name
            )));
        }
        incrementing = Some(col.name.clone());
    }
    if cfg.mode.uses_timestamp() {
        let problem = |message| ColumnProblem {
            key: TIMESTAMP_COLUMN_NAME,
            message,
        };
        for c in &cfg.timestamp_columns {
            if !meta.iter().any(|m| &m.name == c) {
                return Err(problem(format!(
                    "Timestamp column {c} does not exist in table {fqn} (its columns: {})",
                    names()
                )));
            }
        }
        let all_nullable = cfg
            .timestamp_columns
            .iter()
            .all(|c| meta.iter().any(|m| &m.name == c && m.nullable));
        if cfg.validate_non_null && all_nullable {
            return Err(problem(format!(
                "Cannot make incremental queries using timestamp columns [{}] on {fqn} because all of these columns are nullable.",
                cfg.timestamp_columns.join(", ")
            )));
        }
    }
    Ok(incrementing)
}

/// Every selected table's columns checked against the mode, as `(key, message)` errors.
/// A database that cannot be reached or listed yields none: the tasks retry and report it.
pub async fn against_database(cfg: &JdbcSourceConfig) -> Vec<(String, String)> {
    if cfg.query.is_some() || cfg.mode == super::config::Mode::Bulk {
        return Vec::new();
    }
    let Ok(spec) = ConnectSpec::new(cfg) else {
        return Vec::new();
    };
    let mut db = match spec.connect_once_for_discovery().await {
        Ok(db) => db,
        Err(e) => {
            tracing::info!(error = %e, "JDBC config not checked against the database");
            return Vec::new();
        }
    };
    let mut errors = Vec::new();
    match db.tables(cfg).await {
        Ok(all) => {
            for t in tables::select(cfg, all) {
                match db.columns(&t).await {
                    // A table dropped since it was listed is simply not read.
                    Ok(meta) if meta.is_empty() => {}
                    Ok(meta) => {
                        if let Err(p) = check_columns(cfg, &t, &meta) {
                            errors.push((p.key.to_owned(), p.message));
                        }
                    }
                    Err(e) => {
                        tracing::info!(error = %e, "JDBC config not checked against the database");
                    }
                }
            }
        }
        Err(e) => tracing::info!(error = %e, "JDBC config not checked against the database"),
    }
    db.close().await;
    errors
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::Props;

    fn cfg(pairs: &[(&str, &str)]) -> JdbcSourceConfig {
        let mut p = Props::new();
        p.insert("connection.url".into(), "jdbc:mysql://h/db".into());
        p.insert("topic.prefix".into(), "t-".into());
        for (k, v) in pairs {
            p.insert((*k).into(), (*v).into());
        }
        JdbcSourceConfig::parse(&p).unwrap()
    }

    fn col(name: &str, nullable: bool, auto_increment: bool) -> ColumnMeta {
        ColumnMeta {
            name: name.into(),
            nullable,
            precision: None,
            scale: None,
            auto_increment,
        }
    }

    #[test]
    fn problems_name_key_table_and_column() {
        let t = TableId {
            qualifier: "db".into(),
            name: "things".into(),
        };
        let meta = [col("id", false, true), col("ts", true, false)];
        let c = cfg(&[
            ("mode", "incrementing"),
            ("incrementing.column.name", "nope"),
        ]);
        assert_eq!(
            check_columns(&c, &t, &meta),
            Err(ColumnProblem {
                key: "incrementing.column.name",
                message: "Incrementing column nope does not exist in table db.things (its columns: id, ts)".into()
            })
        );
        // Detected when not configured.
        let c = cfg(&[("mode", "incrementing")]);
        assert_eq!(check_columns(&c, &t, &meta), Ok(Some("id".into())));
        let c = cfg(&[("mode", "timestamp"), ("timestamp.column.name", "ts")]);
        let p = check_columns(&c, &t, &meta).unwrap_err();
        assert_eq!(p.key, "timestamp.column.name");
        assert!(p.message.contains("timestamp columns [ts] on db.things"));
        let c = cfg(&[
            ("mode", "timestamp"),
            ("timestamp.column.name", "ts"),
            ("validate.non.null", "false"),
        ]);
        assert_eq!(check_columns(&c, &t, &meta), Ok(None));
    }
}
