//! Records as they travel between Kafka and connectors.

use bytes::Bytes;
use serde_json::{Map, Value as Json};

use super::value::SchemaAndValue;

/// A header: a key and its value with an optional schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    pub key: String,
    pub value: SchemaAndValue,
}

/// What every Connect record has, whichever way it flows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConnectRecord {
    pub topic: String,
    /// The Kafka partition; `None` lets the producer's partitioner pick.
    pub partition: Option<i32>,
    pub key: SchemaAndValue,
    pub value: SchemaAndValue,
    /// Milliseconds since the epoch.
    pub timestamp: Option<i64>,
    pub headers: Vec<Header>,
}

/// A record produced by a source task, with the position it came from.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SourceRecord {
    pub record: ConnectRecord,
    /// Which part of the source this record came from (e.g. `{"filename": ".."}`).
    pub source_partition: Map<String, Json>,
    /// Where in that part; committed once the record is acknowledged by Kafka.
    pub source_offset: Map<String, Json>,
}

/// Kafka's timestamp types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimestampType {
    #[default]
    NoTimestampType,
    CreateTime,
    LogAppendTime,
}

/// A record consumed from Kafka and handed to a sink task.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SinkRecord {
    pub record: ConnectRecord,
    pub kafka_offset: i64,
    pub timestamp_type: TimestampType,
    /// The raw bytes as read, kept for error reporting and dead-letter queues.
    pub original_key: Option<Bytes>,
    pub original_value: Option<Bytes>,
}
