//! The keys of Confluent's `ElasticsearchSinkConnector`, with its defaults and docs, and
//! their parsed, typed form.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use crate::config::def::{Parsed, Recommender};
use crate::config::{ConfigDef, ConfigKey, ConfigType, Importance, Props, Validator, Width};
use crate::errors::{ConnectError, Result};

pub const CONNECTION_URL: &str = "connection.url";
pub const CONNECTION_USERNAME: &str = "connection.username";
pub const CONNECTION_PASSWORD: &str = "connection.password";
pub const CONNECTION_TIMEOUT_MS: &str = "connection.timeout.ms";
pub const READ_TIMEOUT_MS: &str = "read.timeout.ms";
pub const BATCH_SIZE: &str = "batch.size";
pub const BULK_SIZE_BYTES: &str = "bulk.size.bytes";
pub const LINGER_MS: &str = "linger.ms";
pub const MAX_IN_FLIGHT_REQUESTS: &str = "max.in.flight.requests";
pub const MAX_BUFFERED_RECORDS: &str = "max.buffered.records";
pub const FLUSH_TIMEOUT_MS: &str = "flush.timeout.ms";
pub const MAX_RETRIES: &str = "max.retries";
pub const RETRY_BACKOFF_MS: &str = "retry.backoff.ms";
pub const KEY_IGNORE: &str = "key.ignore";
pub const SCHEMA_IGNORE: &str = "schema.ignore";
pub const TOPIC_KEY_IGNORE: &str = "topic.key.ignore";
pub const TOPIC_SCHEMA_IGNORE: &str = "topic.schema.ignore";
pub const TYPE_NAME: &str = "type.name";
pub const TOPIC_INDEX_MAP: &str = "topic.index.map";
pub const COMPACT_MAP_ENTRIES: &str = "compact.map.entries";
pub const DROP_INVALID_MESSAGE: &str = "drop.invalid.message";
pub const BEHAVIOR_ON_NULL_VALUES: &str = "behavior.on.null.values";
pub const BEHAVIOR_ON_MALFORMED_DOCS: &str = "behavior.on.malformed.documents";
pub const WRITE_METHOD: &str = "write.method";
pub const DATA_STREAM_TYPE: &str = "data.stream.type";
pub const DATA_STREAM_DATASET: &str = "data.stream.dataset";
pub const DATA_STREAM_NAMESPACE: &str = "data.stream.namespace";
pub const DATA_STREAM_TIMESTAMP_FIELD: &str = "data.stream.timestamp.field";

const CONNECTOR_GROUP: &str = "Connector";
const CONVERSION_GROUP: &str = "Data Conversion";
const DATA_STREAM_GROUP: &str = "Data Stream";

/// `behavior.on.null.values`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NullValues {
    Ignore,
    Delete,
    Fail,
}

/// `behavior.on.malformed.documents`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MalformedDocs {
    Ignore,
    Warn,
    Fail,
}

/// `write.method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMethod {
    Insert,
    Upsert,
}

/// `data.stream.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataStreamType {
    Logs,
    Metrics,
    None,
}

const NULL_VALUES: &[&str] = &["ignore", "delete", "fail"];
const MALFORMED: &[&str] = &["ignore", "warn", "fail"];
const WRITE_METHODS: &[&str] = &["insert", "upsert"];
const STREAM_TYPES: &[&str] = &["logs", "metrics", "none"];

/// Confluent's enums accept any case (`valueOf(value.toUpperCase())`).
fn one_of_ignoring_case(
    allowed: &'static [&'static str],
    value: &Parsed,
) -> std::result::Result<(), String> {
    match value {
        Parsed::Str(s) if allowed.iter().any(|a| a.eq_ignore_ascii_case(s.trim())) => Ok(()),
        _ => Err(format!(
            "String must be one of (in any case): {}",
            allowed.join(", ")
        )),
    }
}

fn urls_valid(value: &Parsed) -> std::result::Result<(), String> {
    let Parsed::List(urls) = value else {
        return Err("at least one URL is required".into());
    };
    if urls.is_empty() {
        return Err("at least one URL is required".into());
    }
    for u in urls {
        parse_url(u).map_err(|e| format!("'{u}' is not a URL: {e}"))?;
    }
    Ok(())
}

/// A URL without a scheme is http, as in Confluent's connector.
pub fn parse_url(raw: &str) -> std::result::Result<reqwest::Url, String> {
    let raw = raw.trim();
    let with_scheme = if raw.contains("://") {
        raw.to_owned()
    } else {
        format!("http://{raw}")
    };
    let url = reqwest::Url::parse(&with_scheme).map_err(|e| e.to_string())?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(format!("unsupported scheme {}", url.scheme()));
    }
    if url.host_str().is_none() {
        return Err("no host".into());
    }
    Ok(url)
}

fn index_map_valid(value: &Parsed) -> std::result::Result<(), String> {
    let Parsed::List(pairs) = value else {
        return Ok(());
    };
    parse_index_map(pairs).map(|_| ())
}

/// `topic:index` pairs; every index must be a name the server accepts.
pub fn parse_index_map(pairs: &[String]) -> std::result::Result<HashMap<String, String>, String> {
    let mut map = HashMap::new();
    for pair in pairs {
        let Some((topic, index)) = pair.split_once(':') else {
            return Err(format!("'{pair}' is not of the form topic:index"));
        };
        let (topic, index) = (topic.trim(), index.trim());
        if topic.is_empty() {
            return Err(format!("'{pair}' has an empty topic"));
        }
        check_index_name(index)?;
        map.insert(topic.to_owned(), index.to_owned());
    }
    Ok(map)
}

/// Elasticsearch's (and OpenSearch's) rules for index and data stream names.
pub fn check_index_name(name: &str) -> std::result::Result<(), String> {
    const ILLEGAL: &[char] = &['\\', '/', '*', '?', '"', '<', '>', '|', ' ', ',', '#', ':'];
    let why = if name.is_empty() {
        Some("must not be empty".to_owned())
    } else if name != name.to_lowercase() {
        Some("must be lowercase".to_owned())
    } else if let Some(c) = name.chars().find(|c| ILLEGAL.contains(c)) {
        Some(format!("must not contain '{c}'"))
    } else if name.starts_with(['-', '_', '+']) {
        Some("must not start with '-', '_' or '+'".to_owned())
    } else if name == "." || name == ".." {
        Some("must not be '.' or '..'".to_owned())
    } else if name.len() > 255 {
        Some("must be at most 255 bytes long".to_owned())
    } else {
        None
    };
    match why {
        Some(w) => Err(format!("index name '{name}' is invalid: it {w}")),
        None => Ok(()),
    }
}

fn dataset_valid(value: &Parsed) -> std::result::Result<(), String> {
    match value {
        Parsed::Str(s) if !s.is_empty() => {
            const ILLEGAL: &[char] = &['\\', '/', '*', '"', '<', '>', '|', ',', '#', ':', '-', ' '];
            if s.len() > 100 || *s != s.to_lowercase() || s.contains(ILLEGAL) {
                Err(
                    "it must be at most 100 lowercase characters without spaces or any of \
                     \\/*\"<>|,#:-"
                        .to_owned(),
                )
            } else {
                Ok(())
            }
        }
        _ => Ok(()),
    }
}

fn int(name: &str, default: i64, min: i64, doc: &str, order: i32, group: &str) -> ConfigKey {
    ConfigKey::new(name, ConfigType::Int)
        .default_value(default.to_string())
        .validator(Validator::AtLeast(min))
        .importance(Importance::Low)
        .doc(doc)
        .group(group, order)
        .width(Width::Short)
}

fn long(name: &str, default: i64, min: i64, doc: &str, order: i32, group: &str) -> ConfigKey {
    let mut k = int(name, default, min, doc, order, group);
    k.ty = ConfigType::Long;
    k
}

fn boolean(name: &str, default: bool, doc: &str, order: i32) -> ConfigKey {
    ConfigKey::new(name, ConfigType::Boolean)
        .default_value(default.to_string())
        .importance(Importance::Low)
        .doc(doc)
        .group(CONVERSION_GROUP, order)
        .width(Width::Short)
}

fn enumeration(
    name: &str,
    default: &str,
    allowed: &'static [&'static str],
    check: fn(&Parsed) -> std::result::Result<(), String>,
    doc: &str,
    order: i32,
    group: &str,
) -> ConfigKey {
    ConfigKey::new(name, ConfigType::String)
        .default_value(default)
        .validator(Validator::Custom(check))
        .recommender(Recommender::Values(allowed))
        .importance(Importance::Low)
        .doc(doc)
        .group(group, order)
        .width(Width::Short)
}

/// The connector's keys.
pub fn def() -> ConfigDef {
    ConfigDef::new()
        .define(
            ConfigKey::new(CONNECTION_URL, ConfigType::List)
                .validator(Validator::Custom(urls_valid))
                .importance(Importance::High)
                .doc(
                    "The comma-separated list of one or more Elasticsearch URLs, such as \
                     ``http://eshost1:9200,http://eshost2:9200`` or ``https://eshost3:9200``. \
                     Requests are spread over the hosts and fail over to the next one. A URL \
                     without a protocol is treated as ``http``.",
                )
                .group(CONNECTOR_GROUP, 1)
                .width(Width::Long)
                .display("Connection URLs"),
        )
        .define(
            ConfigKey::new(CONNECTION_USERNAME, ConfigType::String)
                .default_null()
                .importance(Importance::Medium)
                .doc(
                    "The username used to authenticate with Elasticsearch. The default is the \
                     null, and authentication will only be performed if both the username and \
                     password are non-null.",
                )
                .group(CONNECTOR_GROUP, 2)
                .width(Width::Short),
        )
        .define(
            ConfigKey::new(CONNECTION_PASSWORD, ConfigType::Password)
                .default_null()
                .importance(Importance::Medium)
                .doc(
                    "The password used to authenticate with Elasticsearch. The default is the \
                     null, and authentication will only be performed if both the username and \
                     password are non-null.",
                )
                .group(CONNECTOR_GROUP, 3)
                .width(Width::Short),
        )
        .define(int(
            BATCH_SIZE,
            2000,
            1,
            "The number of records to process as a batch when writing to Elasticsearch.",
            4,
            CONNECTOR_GROUP,
        ))
        .define(long(
            BULK_SIZE_BYTES,
            5 * 1024 * 1024,
            -1,
            "The maximum size (in bytes) to be process as a batch when writing records to \
             Elasticsearch. Setting to '-1' will disable this configuration. If the condition \
             set by 'batch.size' is met first, it will be used instead.",
            5,
            CONNECTOR_GROUP,
        ))
        .define(int(
            MAX_IN_FLIGHT_REQUESTS,
            5,
            1,
            "The maximum number of indexing requests that can be in-flight to Elasticsearch \
             before blocking further requests.",
            6,
            CONNECTOR_GROUP,
        ))
        .define(int(
            MAX_BUFFERED_RECORDS,
            20000,
            1,
            "The maximum number of records each task will buffer before blocking acceptance of \
             more records. This config can be used to limit the memory usage for each task.",
            7,
            CONNECTOR_GROUP,
        ))
        .define(long(
            LINGER_MS,
            1,
            0,
            "Linger time in milliseconds for batching. Records that arrive in between request \
             transmissions are batched into a single bulk indexing request, based on the \
             ``batch.size`` configuration. When a pending batch is not full, the task waits up \
             to the given delay to allow other records to be added.",
            8,
            CONNECTOR_GROUP,
        ))
        .define(long(
            FLUSH_TIMEOUT_MS,
            180_000,
            1,
            "The timeout in milliseconds to use for periodic flushing, and when waiting for \
             buffer space to be made available by completed requests as records are added. If \
             this timeout is exceeded the task will fail.",
            9,
            CONNECTOR_GROUP,
        ))
        .define(int(
            MAX_RETRIES,
            5,
            0,
            "The maximum number of retries that are allowed for failed indexing requests. If \
             the retry attempts are exhausted the task will fail.",
            10,
            CONNECTOR_GROUP,
        ))
        .define(long(
            RETRY_BACKOFF_MS,
            100,
            0,
            "How long to wait in milliseconds before attempting the first retry of a failed \
             indexing request. Upon a failure, this connector may wait up to twice as long as \
             the previous wait, up to the maximum number of retries (with random jitter).",
            11,
            CONNECTOR_GROUP,
        ))
        .define(int(
            CONNECTION_TIMEOUT_MS,
            1000,
            0,
            "How long to wait in milliseconds when establishing a connection to the \
             Elasticsearch server.",
            12,
            CONNECTOR_GROUP,
        ))
        .define(int(
            READ_TIMEOUT_MS,
            3000,
            0,
            "How long to wait in milliseconds for the Elasticsearch server to send a response.",
            13,
            CONNECTOR_GROUP,
        ))
        .define(boolean(
            KEY_IGNORE,
            false,
            "Whether to ignore the record key for the purpose of forming the Elasticsearch \
             document ID. When this is set to ``true``, document IDs will be generated as the \
             record's ``topic+partition+offset``. Use ``topic.key.ignore`` to override as \
             ``true`` for specific topics.",
            1,
        ))
        .define(boolean(
            SCHEMA_IGNORE,
            false,
            "Whether to ignore schemas during indexing. When this is set to ``true``, the record \
             schema will be ignored for the purpose of registering an Elasticsearch mapping. \
             Elasticsearch will infer the mapping from the data. Use ``topic.schema.ignore`` to \
             override as ``true`` for specific topics.",
            2,
        ))
        .define(boolean(
            COMPACT_MAP_ENTRIES,
            true,
            "Defines how map entries with string keys within record values should be written \
             to JSON. When this is set to ``true``, these entries are written compactly as \
             ``\"entryKey\": \"entryValue\"``. Otherwise, map entries with string keys are \
             written as a nested document ``{\"key\": \"entryKey\", \"value\": \"entryValue\"}``.",
            3,
        ))
        .define(
            ConfigKey::new(TOPIC_KEY_IGNORE, ConfigType::List)
                .default_value("")
                .importance(Importance::Low)
                .doc("List of topics for which ``key.ignore`` should be ``true``.")
                .group(CONVERSION_GROUP, 4)
                .width(Width::Long),
        )
        .define(
            ConfigKey::new(TOPIC_SCHEMA_IGNORE, ConfigType::List)
                .default_value("")
                .importance(Importance::Low)
                .doc("List of topics for which ``schema.ignore`` should be ``true``.")
                .group(CONVERSION_GROUP, 5)
                .width(Width::Long),
        )
        .define(boolean(
            DROP_INVALID_MESSAGE,
            false,
            "Whether to drop kafka message when it cannot be converted to output message.",
            6,
        ))
        .define(enumeration(
            BEHAVIOR_ON_NULL_VALUES,
            "fail",
            NULL_VALUES,
            |v| one_of_ignoring_case(NULL_VALUES, v),
            "How to handle records with a non-null key and a null value (i.e. Kafka tombstone \
             records). Valid options are 'ignore', 'delete', and 'fail'.",
            7,
            CONVERSION_GROUP,
        ))
        .define(enumeration(
            BEHAVIOR_ON_MALFORMED_DOCS,
            "fail",
            MALFORMED,
            |v| one_of_ignoring_case(MALFORMED, v),
            "How to handle records that Elasticsearch rejects due to some malformation of the \
             document itself, such as an index mapping conflict, a field name containing illegal \
             characters, or a record with a missing id. Valid options are 'ignore', 'warn', and \
             'fail'.",
            8,
            CONVERSION_GROUP,
        ))
        .define(enumeration(
            WRITE_METHOD,
            "insert",
            WRITE_METHODS,
            |v| one_of_ignoring_case(WRITE_METHODS, v),
            "Method used for writing data to Elasticsearch, and one of insert or upsert. The \
             default method is insert, in which the connector constructs a document from the \
             record value and inserts that document into Elasticsearch, completely replacing any \
             existing document with the same ID. The upsert method will create a new document if \
             one with the specified ID does not yet exist, or will update an existing document \
             with the same ID by adding/replacing only those fields present in the record value.",
            9,
            CONVERSION_GROUP,
        ))
        .define(
            ConfigKey::new(TYPE_NAME, ConfigType::String)
                .default_value("")
                .importance(Importance::Low)
                .doc(
                    "The Elasticsearch type name to use when indexing. Mapping types are gone \
                     from Elasticsearch 7+ and OpenSearch: the value is accepted and ignored.",
                )
                .group(CONVERSION_GROUP, 10)
                .width(Width::Short),
        )
        .define(
            ConfigKey::new(TOPIC_INDEX_MAP, ConfigType::List)
                .default_value("")
                .validator(Validator::Custom(index_map_valid))
                .importance(Importance::Low)
                .doc(
                    "A map from Kafka topic name to the destination Elasticsearch index, \
                     represented as a list of ``topic:index`` pairs. Topics not listed are \
                     written to the index named like the topic in lower case.",
                )
                .group(CONVERSION_GROUP, 11)
                .width(Width::Long),
        )
        .define(enumeration(
            DATA_STREAM_TYPE,
            "NONE",
            STREAM_TYPES,
            |v| one_of_ignoring_case(STREAM_TYPES, v),
            "Generic type describing the data to be written to data stream. The default is NONE \
             which indicates the connector will write to regular indices instead. If set, this \
             configuration will be used alongside data.stream.dataset and data.stream.namespace \
             to construct the data stream name in the form of \
             {``data.stream.type``}-{``data.stream.dataset``}-{``data.stream.namespace``}.",
            1,
            DATA_STREAM_GROUP,
        ))
        .define(
            ConfigKey::new(DATA_STREAM_DATASET, ConfigType::String)
                .default_value("")
                .validator(Validator::Custom(dataset_valid))
                .importance(Importance::Low)
                .doc(
                    "Generic name describing data ingested and its structure to be written to \
                     a data stream. Can be any arbitrary string that is no longer than 100 \
                     characters, is in all lowercase, and does not contain spaces or any of \
                     these special characters ``/\\*\"<>|,#:-``. Otherwise, no value indicates \
                     the connector will write to regular indices instead.",
                )
                .group(DATA_STREAM_GROUP, 2)
                .width(Width::Medium),
        )
        .define(
            ConfigKey::new(DATA_STREAM_NAMESPACE, ConfigType::String)
                .default_value("${topic}")
                .importance(Importance::Low)
                .doc(
                    "Generic name describing user-configurable arbitrary grouping to be \
                     written to a data stream. ``${topic}`` stands for the topic name (the \
                     default).",
                )
                .group(DATA_STREAM_GROUP, 3)
                .width(Width::Medium),
        )
        .define(
            ConfigKey::new(DATA_STREAM_TIMESTAMP_FIELD, ConfigType::List)
                .default_value("")
                .importance(Importance::Low)
                .doc(
                    "The Kafka record field to use as the timestamp for the ``@timestamp`` \
                     field in documents sent to a data stream. If multiple fields are provided, \
                     the first field listed that also appears in the record will be used. If \
                     this configuration is left empty, all of the documents will use the Kafka \
                     record timestamp as the ``@timestamp`` field value.",
                )
                .group(DATA_STREAM_GROUP, 4)
                .width(Width::Long),
        )
}

/// The parsed configuration a task works with.
#[derive(Debug, Clone)]
pub struct EsConfig {
    pub urls: Vec<reqwest::Url>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub connection_timeout: Duration,
    pub read_timeout: Duration,
    pub batch_size: usize,
    /// None when disabled (-1).
    pub bulk_size_bytes: Option<usize>,
    pub linger: Duration,
    pub max_in_flight: usize,
    pub max_buffered: usize,
    pub flush_timeout: Duration,
    pub max_retries: u32,
    pub retry_backoff: Duration,
    pub key_ignore: bool,
    pub schema_ignore: bool,
    pub topic_key_ignore: HashSet<String>,
    pub topic_schema_ignore: HashSet<String>,
    pub type_name: Option<String>,
    pub index_map: HashMap<String, String>,
    pub compact_map_entries: bool,
    pub drop_invalid_message: bool,
    pub null_values: NullValues,
    pub malformed: MalformedDocs,
    pub write_method: WriteMethod,
    pub data_stream_type: DataStreamType,
    pub data_stream_dataset: String,
    pub data_stream_namespace: String,
    pub data_stream_timestamp_fields: Vec<String>,
}

fn millis(v: i64) -> Duration {
    Duration::from_millis(u64::try_from(v).unwrap_or(0))
}

fn size(v: i64) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

impl EsConfig {
    pub fn parse(props: &Props) -> Result<Self> {
        let c = def().parse(props)?;
        let enum_value = |key: &str| -> Result<String> {
            Ok(c.string(key)?
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase())
        };
        let urls = c
            .list(CONNECTION_URL)?
            .iter()
            .map(|u| {
                parse_url(u).map_err(|e| {
                    ConnectError::config(format!(
                        "Invalid value {u} for configuration {CONNECTION_URL}: {e}"
                    ))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let index_map = parse_index_map(&c.list(TOPIC_INDEX_MAP)?).map_err(|e| {
            ConnectError::config(format!("Invalid configuration {TOPIC_INDEX_MAP}: {e}"))
        })?;
        let bulk = c.int(BULK_SIZE_BYTES)?;
        let dataset = c
            .string(DATA_STREAM_DATASET)?
            .unwrap_or_default()
            .to_owned();
        let stream_type = match enum_value(DATA_STREAM_TYPE)?.as_str() {
            "logs" => DataStreamType::Logs,
            "metrics" => DataStreamType::Metrics,
            _ => DataStreamType::None,
        };
        if (stream_type == DataStreamType::None) != dataset.is_empty() {
            return Err(ConnectError::config(format!(
                "Either both or neither of {DATA_STREAM_TYPE} and {DATA_STREAM_DATASET} must be set"
            )));
        }
        Ok(EsConfig {
            urls,
            username: c.string(CONNECTION_USERNAME)?.map(str::to_owned),
            password: c.string(CONNECTION_PASSWORD)?.map(str::to_owned),
            connection_timeout: millis(c.int(CONNECTION_TIMEOUT_MS)?),
            read_timeout: millis(c.int(READ_TIMEOUT_MS)?),
            batch_size: size(c.int(BATCH_SIZE)?).max(1),
            bulk_size_bytes: (bulk > 0).then(|| size(bulk)),
            linger: millis(c.int(LINGER_MS)?),
            max_in_flight: size(c.int(MAX_IN_FLIGHT_REQUESTS)?).max(1),
            max_buffered: size(c.int(MAX_BUFFERED_RECORDS)?).max(1),
            flush_timeout: millis(c.int(FLUSH_TIMEOUT_MS)?),
            max_retries: u32::try_from(c.int(MAX_RETRIES)?).unwrap_or(u32::MAX),
            retry_backoff: millis(c.int(RETRY_BACKOFF_MS)?),
            key_ignore: c.bool(KEY_IGNORE)?,
            schema_ignore: c.bool(SCHEMA_IGNORE)?,
            topic_key_ignore: c.list(TOPIC_KEY_IGNORE)?.into_iter().collect(),
            topic_schema_ignore: c.list(TOPIC_SCHEMA_IGNORE)?.into_iter().collect(),
            type_name: c
                .string(TYPE_NAME)?
                .filter(|t| !t.trim().is_empty())
                .map(str::to_owned),
            index_map,
            compact_map_entries: c.bool(COMPACT_MAP_ENTRIES)?,
            drop_invalid_message: c.bool(DROP_INVALID_MESSAGE)?,
            null_values: match enum_value(BEHAVIOR_ON_NULL_VALUES)?.as_str() {
                "ignore" => NullValues::Ignore,
                "delete" => NullValues::Delete,
                _ => NullValues::Fail,
            },
            malformed: match enum_value(BEHAVIOR_ON_MALFORMED_DOCS)?.as_str() {
                "ignore" => MalformedDocs::Ignore,
                "warn" => MalformedDocs::Warn,
                _ => MalformedDocs::Fail,
            },
            write_method: match enum_value(WRITE_METHOD)?.as_str() {
                "upsert" => WriteMethod::Upsert,
                _ => WriteMethod::Insert,
            },
            data_stream_type: stream_type,
            data_stream_dataset: dataset,
            data_stream_namespace: c
                .string(DATA_STREAM_NAMESPACE)?
                .unwrap_or("${topic}")
                .to_owned(),
            data_stream_timestamp_fields: c.list(DATA_STREAM_TIMESTAMP_FIELD)?,
        })
    }

    pub fn ignore_key(&self, topic: &str) -> bool {
        self.key_ignore || self.topic_key_ignore.contains(topic)
    }

    pub fn ignore_schema(&self, topic: &str) -> bool {
        self.schema_ignore || self.topic_schema_ignore.contains(topic)
    }

    pub fn is_data_stream(&self) -> bool {
        self.data_stream_type != DataStreamType::None
    }

    /// Where records of `topic` go: a data stream `{type}-{dataset}-{namespace}`, the
    /// mapped index, or the topic in lower case; checked against the server's naming rules.
    pub fn index_for(&self, topic: &str) -> Result<String> {
        let name = if self.is_data_stream() {
            let ty = match self.data_stream_type {
                DataStreamType::Logs => "logs",
                _ => "metrics",
            };
            let ns = self.data_stream_namespace.replace("${topic}", topic);
            format!("{ty}-{}-{ns}", self.data_stream_dataset)
        } else if let Some(index) = self.index_map.get(topic) {
            index.clone()
        } else {
            topic.to_lowercase()
        };
        check_index_name(&name).map_err(|e| {
            ConnectError::config(format!("records of topic {topic} cannot be written: {e}"))
        })?;
        Ok(name)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> Props {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_match_confluent() {
        let c = EsConfig::parse(&props(&[("connection.url", "localhost:9200")])).unwrap();
        assert_eq!(c.urls[0].as_str(), "http://localhost:9200/");
        assert_eq!(c.batch_size, 2000);
        assert_eq!(c.bulk_size_bytes, Some(5 * 1024 * 1024));
        assert_eq!(c.max_in_flight, 5);
        assert_eq!(c.max_buffered, 20000);
        assert_eq!(c.linger, Duration::from_millis(1));
        assert_eq!(c.flush_timeout, Duration::from_secs(180));
        assert_eq!(c.max_retries, 5);
        assert_eq!(c.retry_backoff, Duration::from_millis(100));
        assert_eq!(c.null_values, NullValues::Fail);
        assert_eq!(c.malformed, MalformedDocs::Fail);
        assert_eq!(c.write_method, WriteMethod::Insert);
        assert!(!c.key_ignore && !c.schema_ignore && c.compact_map_entries);
        assert_eq!(c.index_for("My-Topic").unwrap(), "my-topic");
    }

    #[test]
    fn enums_ignore_case_and_index_map_is_checked() {
        let c = EsConfig::parse(&props(&[
            ("connection.url", "http://a:1,http://b:2"),
            ("behavior.on.null.values", "DELETE"),
            ("write.method", "Upsert"),
            ("topic.index.map", "logs:logs_index"),
            ("type.name", "type.name=kafka-connect"),
        ]))
        .unwrap();
        assert_eq!(c.urls.len(), 2);
        assert_eq!(c.null_values, NullValues::Delete);
        assert_eq!(c.write_method, WriteMethod::Upsert);
        assert_eq!(c.index_for("logs").unwrap(), "logs_index");
        let bad = def().validate(&props(&[
            ("connection.url", "http://a:1"),
            ("topic.index.map", "logs:Bad*Index"),
        ]));
        let errors: Vec<String> = bad.into_iter().flat_map(|(_, v)| v.errors).collect();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].contains("'Bad*Index' is invalid: it must be lowercase"),
            "{errors:?}"
        );
    }

    #[test]
    fn data_stream_names() {
        let c = EsConfig::parse(&props(&[
            ("connection.url", "http://a:1"),
            ("data.stream.type", "logs"),
            ("data.stream.dataset", "orders"),
        ]))
        .unwrap();
        assert_eq!(c.index_for("t1").unwrap(), "logs-orders-t1");
        assert!(c.index_for("_t").is_ok());
        assert!(check_index_name("_t").is_err());
    }
}
