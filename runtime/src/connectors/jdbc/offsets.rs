//! Source partitions and offsets in Confluent's shapes, so offsets read through
//! `GET /connectors/{name}/offsets` (and written by Confluent's connector) carry over:
//!
//! - table mode: `{"protocol":"1","table":"<qualifier>.<table>"}`; the older
//!   `{"table":"<table>"}` (protocol 0) is still read when no protocol-1 offset exists;
//! - query mode: `{"query":"query"}`;
//! - offset: `{"incrementing":N}`, `{"timestamp":ms,"timestamp_nanos":ns}` or both,
//!   where `timestamp_nanos` is the nanosecond-of-second (`java.sql.Timestamp.getNanos`).

use chrono::{DateTime, Utc};
use serde_json::{Map, Value as Json};

use super::dialect::TableId;
use crate::connectors::{SourceOffset, SourcePartition};

pub fn table_partition(t: &TableId) -> SourcePartition {
    let mut m = Map::new();
    m.insert("protocol".into(), Json::String("1".into()));
    m.insert("table".into(), Json::String(t.fqn()));
    m
}

/// Protocol 0: the unqualified table name, as Confluent's connector wrote before 5.x.
pub fn table_partition_v0(t: &TableId) -> SourcePartition {
    let mut m = Map::new();
    m.insert("table".into(), Json::String(t.name.clone()));
    m
}

pub fn query_partition() -> SourcePartition {
    let mut m = Map::new();
    m.insert("query".into(), Json::String("query".into()));
    m
}

/// Where an incremental query resumes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Offset {
    pub incrementing: Option<i64>,
    pub timestamp: Option<DateTime<Utc>>,
}

impl Offset {
    pub fn to_map(&self) -> SourceOffset {
        let mut m = Map::new();
        if let Some(i) = self.incrementing {
            m.insert("incrementing".into(), Json::from(i));
        }
        if let Some(ts) = self.timestamp {
            m.insert("timestamp".into(), Json::from(ts.timestamp_millis()));
            m.insert(
                "timestamp_nanos".into(),
                Json::from(i64::from(ts.timestamp_subsec_nanos())),
            );
        }
        m
    }

    pub fn from_map(m: &SourceOffset) -> Offset {
        let incrementing = m.get("incrementing").and_then(Json::as_i64);
        let timestamp = m.get("timestamp").and_then(Json::as_i64).and_then(|ms| {
            let secs = ms.div_euclid(1000);
            let nanos = match m.get("timestamp_nanos").and_then(Json::as_i64) {
                Some(n) => u32::try_from(n).ok()?,
                None => u32::try_from(ms.rem_euclid(1000) * 1_000_000).ok()?,
            };
            DateTime::from_timestamp(secs, nanos)
        });
        Offset {
            incrementing,
            timestamp,
        }
    }

    /// The last incrementing value, `-1` before the first row (Confluent's default).
    pub fn incrementing_or_default(&self) -> i64 {
        self.incrementing.unwrap_or(-1)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn offsets_have_confluents_shape_and_keep_nanoseconds() {
        let ts = DateTime::from_timestamp(1_700_000_000, 123_456_789).unwrap();
        let o = Offset {
            incrementing: Some(42),
            timestamp: Some(ts),
        };
        let m = o.to_map();
        assert_eq!(
            Json::Object(m.clone()),
            serde_json::json!({"incrementing": 42, "timestamp": 1_700_000_000_123_i64, "timestamp_nanos": 123_456_789})
        );
        assert_eq!(Offset::from_map(&m), o);
        // Without nanos (older writers), the millisecond value stands.
        let mut m = Map::new();
        m.insert("timestamp".into(), Json::from(1_500_i64));
        assert_eq!(
            Offset::from_map(&m).timestamp.unwrap(),
            DateTime::from_timestamp(1, 500_000_000).unwrap()
        );
        assert_eq!(Offset::default().to_map(), Map::new());
        assert_eq!(Offset::default().incrementing_or_default(), -1);
    }

    #[test]
    fn partitions_have_confluents_shape() {
        let t = TableId {
            qualifier: "kafka_demo".into(),
            name: "sample_data".into(),
        };
        assert_eq!(
            Json::Object(table_partition(&t)),
            serde_json::json!({"protocol": "1", "table": "kafka_demo.sample_data"})
        );
        assert_eq!(
            Json::Object(table_partition_v0(&t)),
            serde_json::json!({"table": "sample_data"})
        );
        assert_eq!(
            Json::Object(query_partition()),
            serde_json::json!({"query": "query"})
        );
    }
}
