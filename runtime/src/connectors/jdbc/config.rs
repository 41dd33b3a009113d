//! The JDBC source connector's keys, as Confluent's `JdbcSourceConnectorConfig` declares
//! them (names, types, defaults, groups and docs), parsed once into [`JdbcSourceConfig`].

use std::time::Duration;

use crate::config::def::{Parsed, Recommender};
use crate::config::{
    ConfigDef, ConfigKey, ConfigType as T, Importance as I, Props, Validator, Width as W,
};
use crate::errors::{ConnectError, Result};

pub const CONNECTION_URL: &str = "connection.url";
pub const CONNECTION_USER: &str = "connection.user";
pub const CONNECTION_PASSWORD: &str = "connection.password";
pub const CONNECTION_ATTEMPTS: &str = "connection.attempts";
pub const CONNECTION_BACKOFF_MS: &str = "connection.backoff.ms";
pub const TABLE_WHITELIST: &str = "table.whitelist";
pub const TABLE_BLACKLIST: &str = "table.blacklist";
pub const TABLE_INCLUDE_LIST: &str = "table.include.list";
pub const TABLE_EXCLUDE_LIST: &str = "table.exclude.list";
pub const CATALOG_PATTERN: &str = "catalog.pattern";
pub const SCHEMA_PATTERN: &str = "schema.pattern";
pub const NUMERIC_PRECISION_MAPPING: &str = "numeric.precision.mapping";
pub const NUMERIC_MAPPING: &str = "numeric.mapping";
pub const DIALECT_NAME: &str = "dialect.name";
pub const MODE: &str = "mode";
pub const INCREMENTING_COLUMN_NAME: &str = "incrementing.column.name";
pub const TIMESTAMP_COLUMN_NAME: &str = "timestamp.column.name";
pub const TIMESTAMP_INITIAL: &str = "timestamp.initial";
pub const VALIDATE_NON_NULL: &str = "validate.non.null";
pub const QUERY: &str = "query";
pub const QUERY_SUFFIX: &str = "query.suffix";
pub const QUOTE_SQL_IDENTIFIERS: &str = "quote.sql.identifiers";
pub const TABLE_TYPES: &str = "table.types";
pub const POLL_INTERVAL_MS: &str = "poll.interval.ms";
pub const BATCH_MAX_ROWS: &str = "batch.max.rows";
pub const TABLE_POLL_INTERVAL_MS: &str = "table.poll.interval.ms";
pub const TOPIC_PREFIX: &str = "topic.prefix";
pub const TIMESTAMP_DELAY_INTERVAL_MS: &str = "timestamp.delay.interval.ms";
pub const DB_TIMEZONE: &str = "db.timezone";
pub const TRANSACTION_ISOLATION_MODE: &str = "transaction.isolation.mode";
pub const QUERY_RETRY_ATTEMPTS: &str = "query.retry.attempts";
pub const TIMESTAMP_GRANULARITY: &str = "timestamp.granularity";

/// Task-only keys the connector adds: which share of the tables a task reads.
pub const TASK_INDEX: &str = "ferry.jdbc.task.index";
pub const TASK_COUNT: &str = "ferry.jdbc.task.count";

const DATABASE: &str = "Database";
const MODE_GROUP: &str = "Mode";
const CONNECTOR: &str = "Connector";

const MODES: &[&str] = &[
    "",
    "bulk",
    "timestamp",
    "incrementing",
    "timestamp+incrementing",
];
const NUMERIC_MAPPINGS: &[&str] = &[
    "none",
    "precision_only",
    "best_fit",
    "best_fit_eager_double",
];
const QUOTE_METHODS: &[&str] = &["always", "never"];
const ISOLATION_MODES: &[&str] = &[
    "DEFAULT",
    "READ_UNCOMMITTED",
    "READ_COMMITTED",
    "REPEATABLE_READ",
    "SERIALIZABLE",
    "SQL_SERVER_SNAPSHOT",
];
/// What this connector can do: every mode but SQL Server's.
const RECOMMENDED_ISOLATION_MODES: &[&str] = &[
    "DEFAULT",
    "READ_UNCOMMITTED",
    "READ_COMMITTED",
    "REPEATABLE_READ",
    "SERIALIZABLE",
];
const GRANULARITIES: &[&str] = &[
    "connect_logical",
    "nanos_long",
    "nanos_string",
    "nanos_iso_datetime_string",
];

/// `transaction.isolation.mode`: the session's isolation level for the queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsolationMode {
    /// The database's own default; nothing is set.
    Default,
    ReadUncommitted,
    ReadCommitted,
    RepeatableRead,
    Serializable,
}

impl IsolationMode {
    /// The level as SQL spells it; None for the database's default.
    pub fn sql(self) -> Option<&'static str> {
        Some(match self {
            IsolationMode::Default => return None,
            IsolationMode::ReadUncommitted => "READ UNCOMMITTED",
            IsolationMode::ReadCommitted => "READ COMMITTED",
            IsolationMode::RepeatableRead => "REPEATABLE READ",
            IsolationMode::Serializable => "SERIALIZABLE",
        })
    }
}

/// `timestamp.granularity`: how timestamp columns appear in records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampGranularity {
    /// Connect's Timestamp logical type (milliseconds).
    ConnectLogical,
    /// int64 nanoseconds since the epoch.
    NanosLong,
    /// Nanoseconds since the epoch as a decimal string.
    NanosString,
    /// `yyyy-MM-ddTHH:mm:ss.SSSSSSSSS` in `db.timezone`.
    NanosIsoDatetimeString,
}

fn valid_isolation(v: &Parsed) -> std::result::Result<(), String> {
    match v {
        Parsed::Str(s) if s == "SQL_SERVER_SNAPSHOT" => Err(
            "Isolation mode of `SQL_SERVER_SNAPSHOT` can only be configured with a Sql Server Dialect"
                .into(),
        ),
        Parsed::Str(s) if !ISOLATION_MODES.contains(&s.as_str()) => {
            Err(format!("String must be one of: {}", ISOLATION_MODES.join(", ")))
        }
        _ => Ok(()),
    }
}

/// How rows are selected on each poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Bulk,
    Incrementing,
    Timestamp,
    TimestampIncrementing,
}

impl Mode {
    pub fn uses_incrementing(self) -> bool {
        matches!(self, Mode::Incrementing | Mode::TimestampIncrementing)
    }
    pub fn uses_timestamp(self) -> bool {
        matches!(self, Mode::Timestamp | Mode::TimestampIncrementing)
    }
}

/// `numeric.mapping`: how NUMERIC/DECIMAL columns map onto Connect types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumericMapping {
    None,
    PrecisionOnly,
    BestFit,
    BestFitEagerDouble,
}

/// Everything the connector and its tasks read from their configuration.
#[derive(Debug, Clone)]
pub struct JdbcSourceConfig {
    pub url: String,
    pub user: Option<String>,
    pub password: Option<String>,
    pub attempts: u32,
    pub backoff: Duration,
    pub whitelist: Vec<String>,
    pub blacklist: Vec<String>,
    pub include: Vec<regex::Regex>,
    pub exclude: Vec<regex::Regex>,
    pub catalog_pattern: Option<String>,
    pub schema_pattern: Option<String>,
    pub numeric_mapping: NumericMapping,
    pub mode: Mode,
    pub incrementing_column: Option<String>,
    pub timestamp_columns: Vec<String>,
    /// Milliseconds since the epoch to start from when no offset exists; `-1` is "now".
    pub timestamp_initial: Option<i64>,
    pub validate_non_null: bool,
    pub query: Option<String>,
    pub query_suffix: String,
    pub quote_identifiers: bool,
    pub table_types: Vec<String>,
    pub poll_interval: Duration,
    pub batch_max_rows: usize,
    pub table_poll_interval: Duration,
    pub topic_prefix: String,
    pub timestamp_delay: Duration,
    pub timezone: chrono_tz::Tz,
    pub isolation: IsolationMode,
    /// Failed queries retried before the task fails; None retries without limit.
    pub query_retries: Option<u32>,
    pub timestamp_granularity: TimestampGranularity,
    pub task_index: usize,
    pub task_count: usize,
}

fn valid_timezone(v: &Parsed) -> std::result::Result<(), String> {
    match v {
        Parsed::Str(s) if s.parse::<chrono_tz::Tz>().is_err() => {
            Err("Invalid time zone identifier".to_owned())
        }
        _ => Ok(()),
    }
}

fn valid_regex_list(v: &Parsed) -> std::result::Result<(), String> {
    if let Parsed::List(items) = v {
        for i in items {
            if let Err(e) = regex::Regex::new(i) {
                return Err(format!("'{i}' is not a valid regular expression: {e}"));
            }
        }
    }
    Ok(())
}

fn valid_nonnegative(v: &Parsed) -> std::result::Result<(), String> {
    match v {
        Parsed::Int(n) if *n < 0 => Err("Value must be at least 0".into()),
        _ => Ok(()),
    }
}

/// The declaration: Confluent's keys, defaults and docs.
pub fn def() -> ConfigDef {
    let mut d = ConfigDef::new();
    let mut n = 0;
    let mut db = |k: ConfigKey| {
        n += 1;
        k.group(DATABASE, n)
    };
    let db_keys = vec![
        db(ConfigKey::new(CONNECTION_URL, T::String)
            .importance(I::High)
            .width(W::Long)
            .display("JDBC URL")
            .dependents(&[TABLE_WHITELIST, TABLE_BLACKLIST])
            .doc("JDBC connection URL.\nFor example: ``jdbc:mysql://localhost/db_name``, ``jdbc:mariadb://localhost:3306/db_name``, ``jdbc:postgresql://localhost/db_name``. Credentials may be given as ``user`` and ``password`` query parameters; ``connection.user`` and ``connection.password`` override them.")),
        db(ConfigKey::new(CONNECTION_USER, T::String)
            .default_null()
            .importance(I::High)
            .width(W::Long)
            .display("JDBC User")
            .doc("JDBC connection user.")),
        db(ConfigKey::new(CONNECTION_PASSWORD, T::Password)
            .default_null()
            .importance(I::High)
            .width(W::Short)
            .display("JDBC Password")
            .doc("JDBC connection password.")),
        db(ConfigKey::new(CONNECTION_ATTEMPTS, T::Int)
            .default_value("3")
            .validator(Validator::AtLeast(1))
            .importance(I::Low)
            .width(W::Short)
            .display("JDBC connection attempts")
            .doc("Maximum number of attempts to retrieve a valid JDBC connection. Must be a positive integer.")),
        db(ConfigKey::new(CONNECTION_BACKOFF_MS, T::Long)
            .default_value("10000")
            .importance(I::Low)
            .width(W::Short)
            .display("JDBC connection backoff in milliseconds")
            .doc("Backoff time in milliseconds between connection attempts.")),
        db(ConfigKey::new(TABLE_WHITELIST, T::List)
            .default_value("")
            .importance(I::Medium)
            .width(W::Long)
            .display("Table Whitelist")
            .doc("List of tables to include in copying. If specified, ``table.blacklist`` may not be set. Use a comma-separated list to specify multiple tables (for example, ``table.whitelist: \"User, Address, Email\"``).")),
        db(ConfigKey::new(TABLE_BLACKLIST, T::List)
            .default_value("")
            .importance(I::Medium)
            .width(W::Long)
            .display("Table Blacklist")
            .doc("List of tables to exclude from copying. If specified, ``table.whitelist`` may not be set. Use a comma-separated list to specify multiple tables (for example, ``table.blacklist: \"User, Address, Email\"``).")),
        db(ConfigKey::new(TABLE_INCLUDE_LIST, T::List)
            .default_value("")
            .validator(Validator::Custom(valid_regex_list))
            .importance(I::Medium)
            .width(W::Long)
            .display("Table Include List")
            .doc("List of regular expressions matching the fully-qualified names of the tables to include in copying (for example ``kafka_demo\\.orders_.*``). If specified, ``table.exclude.list`` may not be set, nor ``table.whitelist``/``table.blacklist``.")),
        db(ConfigKey::new(TABLE_EXCLUDE_LIST, T::List)
            .default_value("")
            .validator(Validator::Custom(valid_regex_list))
            .importance(I::Medium)
            .width(W::Long)
            .display("Table Exclude List")
            .doc("List of regular expressions matching the fully-qualified names of the tables to exclude from copying. If specified, ``table.include.list`` may not be set.")),
        db(ConfigKey::new(CATALOG_PATTERN, T::String)
            .default_null()
            .importance(I::Medium)
            .width(W::Short)
            .display("Schema pattern")
            .doc("Catalog pattern to fetch table metadata from the database.\n  * ``\"\"`` retrieves those without a catalog \n  * null (default) indicates that the schema name is not used to narrow the search and that all table metadata is fetched, regardless of the catalog.")),
        db(ConfigKey::new(SCHEMA_PATTERN, T::String)
            .default_null()
            .importance(I::High)
            .width(W::Short)
            .display("Schema pattern")
            .doc("Schema pattern to fetch table metadata from the database.\n  * ``\"\"`` retrieves those without a schema.\n  * null (default) indicates that the schema name is not used to narrow the search and that all table metadata is fetched, regardless of the schema.")),
        db(ConfigKey::new(NUMERIC_PRECISION_MAPPING, T::Boolean)
            .default_value("false")
            .importance(I::Low)
            .width(W::Short)
            .display("Map Numeric Values By Precision (deprecated)")
            .doc("Whether or not to attempt mapping NUMERIC values by precision to integral types. This option is now deprecated. A future version may remove it completely. Please use ``numeric.mapping`` instead.")),
        db(ConfigKey::new(NUMERIC_MAPPING, T::String)
            .default_null()
            .validator(Validator::Custom(|v| match v {
                Parsed::Str(s) if !NUMERIC_MAPPINGS.contains(&s.to_ascii_lowercase().as_str()) => {
                    Err(format!("String must be one of: {}", NUMERIC_MAPPINGS.join(", ")))
                }
                _ => Ok(()),
            }))
            .recommender(Recommender::Values(NUMERIC_MAPPINGS))
            .importance(I::Low)
            .width(W::Short)
            .display("Map Numeric Values, Integral or Decimal, By Precision and Scale")
            .doc("Map NUMERIC values by precision and optionally scale to integral or decimal types.\n  * Use ``none`` if all NUMERIC columns are to be represented by Connect's DECIMAL logical type.\n  * Use ``best_fit`` if NUMERIC columns should be cast to Connect's INT8, INT16, INT32, INT64, or FLOAT64 based upon the column's precision and scale.\n  * Use ``best_fit_eager_double`` if in addition to the properties of best_fit described above, it is desirable to always cast NUMERIC columns with scale to Connect FLOAT64 type, despite potential of loss in accuracy.\n  * Use ``precision_only`` to map NUMERIC columns based only on the column's precision assuming that column's scale is 0.\n  * The ``none`` option is the default, but may lead to serialization issues with Avro since Connect's DECIMAL type is mapped to its binary representation, and ``best_fit`` will often be preferred since it maps to the most appropriate primitive type.")),
        db(ConfigKey::new(DIALECT_NAME, T::String)
            .default_value("")
            .validator(Validator::Custom(|v| match v {
                Parsed::Str(s) if !["", "MySqlDatabaseDialect", "PostgreSqlDatabaseDialect"].contains(&s.as_str()) => {
                    Err("String must be one of: , MySqlDatabaseDialect, PostgreSqlDatabaseDialect".into())
                }
                _ => Ok(()),
            }))
            .recommender(Recommender::Values(&["MySqlDatabaseDialect", "PostgreSqlDatabaseDialect"]))
            .importance(I::Low)
            .width(W::Long)
            .display("Database Dialect")
            .doc("The name of the database dialect that should be used for this connector. By default this is empty, and the connector automatically determines the dialect based upon the JDBC connection URL. Use this if you want to override that behavior and use a specific dialect. All properly-packaged dialects in the JDBC connector plugin can be used.")),
    ];
    for k in db_keys {
        d = d.define(k);
    }
    let mut n = 0;
    let mut md = |k: ConfigKey| {
        n += 1;
        k.group(MODE_GROUP, n)
    };
    let mode_keys = vec![
        md(ConfigKey::new(MODE, T::String)
            .default_value("")
            .validator(Validator::OneOf(MODES))
            .importance(I::High)
            .width(W::Medium)
            .display("Table Loading Mode")
            .dependents(&[INCREMENTING_COLUMN_NAME, TIMESTAMP_COLUMN_NAME, VALIDATE_NON_NULL])
            .doc("The mode for updating a table each time it is polled. Options include:\n  * bulk: perform a bulk load of the entire table each time it is polled\n  * incrementing: use a strictly incrementing column on each table to detect only new rows. Note that this will not detect modifications or deletions of existing rows.\n  * timestamp: use a timestamp (or timestamp-like) column to detect new and modified rows. This assumes the column is updated with each write, and that values are monotonically incrementing, but not necessarily unique.\n  * timestamp+incrementing: use two columns, a timestamp column that detects new and modified rows and a strictly incrementing column which provides a globally unique ID for updates so each row can be assigned a unique stream offset.")),
        md(ConfigKey::new(INCREMENTING_COLUMN_NAME, T::String)
            .default_value("")
            .importance(I::Medium)
            .width(W::Medium)
            .display("Incrementing Column Name")
            .doc("The name of the strictly incrementing column to use to detect new rows. Any empty value indicates the column should be autodetected by looking for an auto-incrementing column. This column may not be nullable.")),
        md(ConfigKey::new(TIMESTAMP_COLUMN_NAME, T::List)
            .default_value("")
            .importance(I::Medium)
            .width(W::Medium)
            .display("Timestamp Column Name")
            .doc("Comma separated list of one or more timestamp columns to detect new or modified rows using the COALESCE SQL function. Rows whose first non-null timestamp value is greater than the largest previous timestamp value seen will be discovered with each poll. At least one column should not be nullable.")),
        md(ConfigKey::new(TIMESTAMP_INITIAL, T::Long)
            .default_null()
            .importance(I::Low)
            .width(W::Medium)
            .display("Unix time value of initial timestamp")
            .doc("The epoch timestamp used for initial queries that use timestamp criteria. Use -1 to use the current time. If not specified, all data will be retrieved.")),
        md(ConfigKey::new(VALIDATE_NON_NULL, T::Boolean)
            .default_value("true")
            .importance(I::Low)
            .width(W::Short)
            .display("Validate Non Null")
            .doc("By default, the JDBC connector will validate that all incrementing and timestamp tables have NOT NULL set for the columns being used as their ID/timestamp. If the tables don't, JDBC connector will fail to start. Setting this to false will disable these checks.")),
        md(ConfigKey::new(QUERY, T::String)
            .default_value("")
            .importance(I::Medium)
            .width(W::Short)
            .display("Query")
            .doc("If specified, the query to perform to select new or updated rows. Use this setting if you want to join tables, select subsets of columns in a table, or filter data. If used, this connector will only copy data using this query -- whole-table copying will be disabled. Different query modes may still be used for incremental updates, but in order to properly construct the incremental query, it must be possible to append a WHERE clause to this query (i.e. no WHERE clauses may be used). If you use a WHERE clause, it must handle incremental queries itself.")),
        md(ConfigKey::new(QUOTE_SQL_IDENTIFIERS, T::String)
            .default_value("ALWAYS")
            .validator(Validator::Custom(|v| match v {
                Parsed::Str(s) if !QUOTE_METHODS.contains(&s.to_ascii_lowercase().as_str()) => {
                    Err("String must be one of: always, never".into())
                }
                _ => Ok(()),
            }))
            .recommender(Recommender::Values(QUOTE_METHODS))
            .importance(I::Medium)
            .width(W::Medium)
            .display("Quote Identifiers")
            .doc("When to quote table names, column names, and other identifiers in SQL statements. For backward compatibility, the default is ``always``.")),
        md(ConfigKey::new(QUERY_SUFFIX, T::String)
            .default_value("")
            .importance(I::Low)
            .width(W::Medium)
            .display("Query suffix")
            .doc("Suffix to append at the end of the generated query.")),
        md(ConfigKey::new(TRANSACTION_ISOLATION_MODE, T::String)
            .default_value("DEFAULT")
            .validator(Validator::Custom(valid_isolation))
            .recommender(Recommender::Values(RECOMMENDED_ISOLATION_MODES))
            .importance(I::Low)
            .width(W::Medium)
            .display("Transaction Isolation Mode")
            .doc("Mode to control which transaction isolation level is used when running queries against the database. By default no explicit transaction isolation mode is set. SQL_SERVER_SNAPSHOT will only work against a connector configured to write to Sql Server (so it is refused here: MySQL/MariaDB and PostgreSQL only). Options include:\n  * DEFAULT\n  * READ_UNCOMMITTED\n  * READ_COMMITTED\n  * REPEATABLE_READ\n  * SERIALIZABLE\n  * SQL_SERVER_SNAPSHOT")),
        md(ConfigKey::new(QUERY_RETRY_ATTEMPTS, T::Int)
            .default_value("-1")
            .importance(I::Low)
            .width(W::Medium)
            .display("Query Retry Attempts")
            .doc("Number of times to retry SQL exceptions encountered when executing queries. A negative value (the default) retries without limit; errors the database answers about the statement itself (bad SQL, missing privilege) are never retried.")),
    ];
    for k in mode_keys {
        d = d.define(k);
    }
    let mut n = 0;
    let mut cn = |k: ConfigKey| {
        n += 1;
        k.group(CONNECTOR, n)
    };
    let connector_keys = vec![
        cn(ConfigKey::new(TABLE_TYPES, T::List)
            .default_value("TABLE")
            .importance(I::Low)
            .width(W::Medium)
            .display("Table Types")
            .doc("By default, the JDBC connector will only detect tables with type TABLE from the source Database. This config allows a command separated list of table types to extract. Options include:\n  * TABLE\n  * VIEW\n  * SYSTEM TABLE\n  * GLOBAL TEMPORARY\n  * LOCAL TEMPORARY\n  * ALIAS\n  * SYNONYM\n  In most cases it only makes sense to have either TABLE or VIEW.")),
        cn(ConfigKey::new(POLL_INTERVAL_MS, T::Int)
            .default_value("5000")
            .importance(I::High)
            .width(W::Short)
            .display("Poll Interval (ms)")
            .doc("Frequency in ms to poll for new data in each table.")),
        cn(ConfigKey::new(BATCH_MAX_ROWS, T::Int)
            .default_value("100")
            .validator(Validator::AtLeast(1))
            .importance(I::Low)
            .width(W::Short)
            .display("Max Rows Per Batch")
            .doc("Maximum number of rows to include in a single batch when polling for new data. This setting can be used to limit the amount of data buffered internally in the connector.")),
        cn(ConfigKey::new(TABLE_POLL_INTERVAL_MS, T::Long)
            .default_value("60000")
            .importance(I::Low)
            .width(W::Short)
            .display("Metadata Change Monitoring Interval (ms)")
            .doc("Frequency in ms to poll for new or removed tables, which may result in updated task configurations to start polling for data in added tables or stop polling for data in removed tables.")),
        cn(ConfigKey::new(TOPIC_PREFIX, T::String)
            .importance(I::High)
            .width(W::Medium)
            .display("Topic Prefix")
            .doc("Prefix to prepend to table names to generate the name of the Kafka topic to publish data to, or in the case of a custom query, the full name of the topic to publish to.")),
        cn(ConfigKey::new(TIMESTAMP_DELAY_INTERVAL_MS, T::Long)
            .default_value("0")
            .validator(Validator::Custom(valid_nonnegative))
            .importance(I::High)
            .width(W::Medium)
            .display("Delay Interval (ms)")
            .doc("How long to wait after a row with certain timestamp appears before we include it in the result. You may choose to add some delay to allow transactions with earlier timestamp to complete. The first execution will fetch all available records (i.e. starting at timestamp 0) until current time minus the delay. Every following execution will get data from the last time we fetched until current time minus the delay.")),
        cn(ConfigKey::new(DB_TIMEZONE, T::String)
            .default_value("UTC")
            .validator(Validator::Custom(valid_timezone))
            .importance(I::Medium)
            .width(W::Medium)
            .display("DB time zone")
            .doc("Name of the JDBC timezone used in the connector when querying with time-based criteria. Defaults to UTC.")),
        cn(ConfigKey::new(TIMESTAMP_GRANULARITY, T::String)
            .default_value("connect_logical")
            .validator(Validator::OneOf(GRANULARITIES))
            .recommender(Recommender::Values(GRANULARITIES))
            .importance(I::Low)
            .width(W::Medium)
            .display("Timestamp granularity for timestamp columns")
            .doc("Define the granularity of the Timestamp column. Options include: \n  * connect_logical (default): represents timestamp values using Kafka Connect's built-in representations \n  * nanos_long: represents timestamp values as nanos since epoch\n  * nanos_string: represents timestamp values as nanos since epoch in string\n  * nanos_iso_datetime_string: uses iso format 'yyyy-MM-dd'T'HH:mm:ss.SSSSSSSSS'\n")),
    ];
    for k in connector_keys {
        d = d.define(k);
    }
    d
}

fn config_err(msg: impl Into<String>) -> ConnectError {
    ConnectError::config(msg)
}

fn non_empty(s: Option<&str>) -> Option<String> {
    s.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn millis(v: i64) -> Duration {
    Duration::from_millis(u64::try_from(v).unwrap_or(0))
}

impl JdbcSourceConfig {
    /// Parses and cross-checks a connector or task configuration.
    pub fn parse(props: &Props) -> Result<Self> {
        let p = def().parse(props)?;
        let mode = match p.string(MODE)?.unwrap_or_default() {
            "bulk" => Mode::Bulk,
            "incrementing" => Mode::Incrementing,
            "timestamp" => Mode::Timestamp,
            "timestamp+incrementing" => Mode::TimestampIncrementing,
            _ => return Err(config_err("Query mode must be specified")),
        };
        let numeric_mapping = match p.string(NUMERIC_MAPPING)?.map(str::to_ascii_lowercase) {
            Some(m) => match m.as_str() {
                "precision_only" => NumericMapping::PrecisionOnly,
                "best_fit" => NumericMapping::BestFit,
                "best_fit_eager_double" => NumericMapping::BestFitEagerDouble,
                _ => NumericMapping::None,
            },
            None if p.bool(NUMERIC_PRECISION_MAPPING)? => NumericMapping::PrecisionOnly,
            None => NumericMapping::None,
        };
        let whitelist = p.list(TABLE_WHITELIST)?;
        let blacklist = p.list(TABLE_BLACKLIST)?;
        let include_raw = p.list(TABLE_INCLUDE_LIST)?;
        let exclude_raw = p.list(TABLE_EXCLUDE_LIST)?;
        let set: Vec<&str> = [
            (TABLE_WHITELIST, !whitelist.is_empty()),
            (TABLE_BLACKLIST, !blacklist.is_empty()),
            (TABLE_INCLUDE_LIST, !include_raw.is_empty()),
            (TABLE_EXCLUDE_LIST, !exclude_raw.is_empty()),
        ]
        .iter()
        .filter(|(_, on)| *on)
        .map(|(k, _)| *k)
        .collect();
        if set.len() > 1 {
            return Err(config_err(format!(
                "Only one of {} may be set, but {} are",
                [
                    TABLE_WHITELIST,
                    TABLE_BLACKLIST,
                    TABLE_INCLUDE_LIST,
                    TABLE_EXCLUDE_LIST
                ]
                .join(", "),
                set.join(" and ")
            )));
        }
        let anchored = |items: Vec<String>| -> Result<Vec<regex::Regex>> {
            items
                .iter()
                .map(|r| {
                    regex::Regex::new(&format!("^(?:{r})$"))
                        .map_err(|e| config_err(format!("Invalid regular expression '{r}': {e}")))
                })
                .collect()
        };
        let incrementing_column = non_empty(p.string(INCREMENTING_COLUMN_NAME)?);
        let timestamp_columns: Vec<String> = p
            .list(TIMESTAMP_COLUMN_NAME)?
            .into_iter()
            .filter(|c| !c.is_empty())
            .collect();
        if mode.uses_timestamp() && timestamp_columns.is_empty() {
            return Err(config_err(format!(
                "Mode {} requires {TIMESTAMP_COLUMN_NAME} to name at least one column",
                p.string(MODE)?.unwrap_or_default()
            )));
        }
        let query = non_empty(p.string(QUERY)?);
        if query.is_some() && !set.is_empty() {
            return Err(config_err(format!(
                "Do not specify table filtering ({}) together with {QUERY}",
                set.join(", ")
            )));
        }
        if query.is_some() && mode.uses_incrementing() && incrementing_column.is_none() {
            return Err(config_err(format!(
                "{INCREMENTING_COLUMN_NAME} must be set with a {QUERY} in mode {}",
                p.string(MODE)?.unwrap_or_default()
            )));
        }
        let tz_name = p.string(DB_TIMEZONE)?.unwrap_or("UTC");
        let timezone = tz_name
            .parse::<chrono_tz::Tz>()
            .map_err(|_| config_err(format!("Invalid value {tz_name} for configuration {DB_TIMEZONE}: Invalid time zone identifier")))?;
        let quote = p.string(QUOTE_SQL_IDENTIFIERS)?.unwrap_or("always");
        let task_index = props
            .get(TASK_INDEX)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let task_count = props
            .get(TASK_COUNT)
            .and_then(|v| v.parse().ok())
            .unwrap_or(1usize)
            .max(1);
        Ok(JdbcSourceConfig {
            url: p.string(CONNECTION_URL)?.unwrap_or_default().to_owned(),
            user: non_empty(p.string(CONNECTION_USER)?),
            password: p.string(CONNECTION_PASSWORD)?.map(str::to_owned),
            attempts: u32::try_from(p.int(CONNECTION_ATTEMPTS)?)
                .unwrap_or(1)
                .max(1),
            backoff: millis(p.int(CONNECTION_BACKOFF_MS)?),
            whitelist,
            blacklist,
            include: anchored(include_raw)?,
            exclude: anchored(exclude_raw)?,
            catalog_pattern: p.string(CATALOG_PATTERN)?.map(str::to_owned),
            schema_pattern: p.string(SCHEMA_PATTERN)?.map(str::to_owned),
            numeric_mapping,
            mode,
            incrementing_column,
            timestamp_columns,
            // A LONG defaulting to null: `string` answers Ok(None) only for null.
            timestamp_initial: match p.string(TIMESTAMP_INITIAL) {
                Ok(_) => None,
                Err(_) => p.int(TIMESTAMP_INITIAL).ok(),
            },
            validate_non_null: p.bool(VALIDATE_NON_NULL)?,
            query,
            query_suffix: p
                .string(QUERY_SUFFIX)?
                .unwrap_or_default()
                .trim()
                .to_owned(),
            quote_identifiers: !quote.eq_ignore_ascii_case("never"),
            table_types: p.list(TABLE_TYPES)?,
            poll_interval: millis(p.int(POLL_INTERVAL_MS)?),
            batch_max_rows: usize::try_from(p.int(BATCH_MAX_ROWS)?).unwrap_or(1).max(1),
            table_poll_interval: millis(p.int(TABLE_POLL_INTERVAL_MS)?),
            topic_prefix: p.string(TOPIC_PREFIX)?.unwrap_or_default().to_owned(),
            timestamp_delay: millis(p.int(TIMESTAMP_DELAY_INTERVAL_MS)?),
            timezone,
            isolation: match p.string(TRANSACTION_ISOLATION_MODE)?.unwrap_or("DEFAULT") {
                "READ_UNCOMMITTED" => IsolationMode::ReadUncommitted,
                "READ_COMMITTED" => IsolationMode::ReadCommitted,
                "REPEATABLE_READ" => IsolationMode::RepeatableRead,
                "SERIALIZABLE" => IsolationMode::Serializable,
                _ => IsolationMode::Default,
            },
            query_retries: u32::try_from(p.int(QUERY_RETRY_ATTEMPTS)?).ok(),
            timestamp_granularity: match p.string(TIMESTAMP_GRANULARITY)?.unwrap_or_default() {
                "nanos_long" => TimestampGranularity::NanosLong,
                "nanos_string" => TimestampGranularity::NanosString,
                "nanos_iso_datetime_string" => TimestampGranularity::NanosIsoDatetimeString,
                _ => TimestampGranularity::ConnectLogical,
            },
            task_index,
            task_count,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn props(kv: &[(&str, &str)]) -> Props {
        kv.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_seed_config_parses_with_confluents_defaults() {
        let c = JdbcSourceConfig::parse(&props(&[
            (
                "connection.url",
                "jdbc:mysql://localhost:3306/kafka_demo?user=claus&password=x",
            ),
            ("table.whitelist", "sample_data"),
            ("mode", "timestamp"),
            ("timestamp.column.name", "update_ts"),
            ("validate.non.null", "false"),
            ("topic.prefix", "mysql-"),
        ]))
        .unwrap();
        assert_eq!(c.mode, Mode::Timestamp);
        assert_eq!(c.whitelist, vec!["sample_data"]);
        assert_eq!(c.timestamp_columns, vec!["update_ts"]);
        assert!(!c.validate_non_null);
        assert_eq!(c.attempts, 3);
        assert_eq!(c.backoff, Duration::from_secs(10));
        assert_eq!(c.poll_interval, Duration::from_secs(5));
        assert_eq!(c.batch_max_rows, 100);
        assert_eq!(c.table_poll_interval, Duration::from_secs(60));
        assert_eq!(c.numeric_mapping, NumericMapping::None);
        assert_eq!(c.timezone, chrono_tz::UTC);
        assert!(c.quote_identifiers);
        assert_eq!(c.table_types, vec!["TABLE"]);
        assert_eq!(c.timestamp_initial, None);
    }

    #[test]
    fn bad_combinations_are_named() {
        let base = [
            ("connection.url", "jdbc:postgresql://h/db"),
            ("topic.prefix", "p-"),
        ];
        let with = |extra: &[(&str, &str)]| {
            let mut kv = base.to_vec();
            kv.extend_from_slice(extra);
            JdbcSourceConfig::parse(&props(&kv))
                .err()
                .map(|e| e.to_string())
        };
        assert_eq!(with(&[]).unwrap(), "Query mode must be specified");
        assert!(
            with(&[("mode", "timestamp")])
                .unwrap()
                .contains("timestamp.column.name")
        );
        let e = with(&[
            ("mode", "bulk"),
            ("table.whitelist", "a"),
            ("table.blacklist", "b"),
        ])
        .unwrap();
        assert!(e.contains("table.whitelist and table.blacklist"), "{e}");
        let e = with(&[("mode", "bulk"), ("db.timezone", "Mars/Base")]).unwrap();
        assert!(e.contains("db.timezone"), "{e}");
        let e = with(&[("mode", "bulk"), ("numeric.mapping", "weird")]).unwrap();
        assert!(e.contains("numeric.mapping"), "{e}");
        let c = JdbcSourceConfig::parse(&props(&[
            base[0],
            base[1],
            ("mode", "timestamp+incrementing"),
            ("timestamp.column.name", "a, b"),
            ("incrementing.column.name", "id"),
            ("numeric.mapping", "best_fit"),
            ("db.timezone", "Europe/Paris"),
            ("timestamp.initial", "-1"),
            ("quote.sql.identifiers", "never"),
        ]))
        .unwrap();
        assert_eq!(c.timestamp_columns, vec!["a", "b"]);
        assert_eq!(c.incrementing_column.as_deref(), Some("id"));
        assert_eq!(c.numeric_mapping, NumericMapping::BestFit);
        assert_eq!(c.timezone, chrono_tz::Europe::Paris);
        assert_eq!(c.timestamp_initial, Some(-1));
        assert!(!c.quote_identifiers);
    }
}
