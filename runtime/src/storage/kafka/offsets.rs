//! Source offsets in the offsets topic: Kafka Connect's `KafkaOffsetBackingStore`.
//!
//! Key: `["CONNECTOR",{partition}]`, value: `{offset}`, both compact JSON text as
//! Kafka's internal converter writes it; a tombstone removes the partition's offset.
//!
//! Java looks offsets up by the key's *bytes*, and compaction replaces records by key
//! bytes. Ferry compares partitions as maps (key order does not matter), but when it
//! writes a partition that already has a record it reuses that record's key bytes, so
//! a Java worker reading the topic afterwards finds Ferry's offset under its own key
//! and the old record is compacted away.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::{Value as Json, json};

use super::KafkaStorageConfig;
use super::json::{canonical, to_java_json, to_java_json_bytes};
use super::log::{KafkaBasedLog, LogRecord};
use super::topics::ensure_topic;
use crate::connectors::{SourceOffset, SourcePartition};
use crate::errors::{ConnectError, Result};
use crate::storage::OffsetStore;

/// The key bytes Kafka Connect writes for a partition's offset.
pub fn offset_record_key(connector: &str, partition: &SourcePartition) -> Vec<u8> {
    to_java_json_bytes(&json!([connector, partition]))
}

/// The value bytes Kafka Connect writes for an offset.
pub fn offset_record_value(offset: &SourceOffset) -> Vec<u8> {
    to_java_json_bytes(&Json::Object(offset.clone()))
}

/// A key that is equal for equal partitions whatever their key order.
fn index_key(connector: &str, partition: &SourcePartition) -> String {
    to_java_json(&canonical(&json!([connector, partition])))
}

/// A parsed offsets-topic record: connector, partition, and offset (`None`: removed).
pub type OffsetRecord = (String, SourcePartition, Option<SourceOffset>);

/// Parses one record as Kafka Connect does (`OffsetUtils.processPartitionKey`): the
/// key must be a two-element array of a name and a map. A value of JSON `null` reads
/// as no offset, like a tombstone.
pub fn parse_offset_record(
    key: &[u8],
    value: Option<&[u8]>,
) -> std::result::Result<OffsetRecord, String> {
    let key: Json = serde_json::from_slice(key)
        .map_err(|e| format!("offset partition key with unknown serialization ({e})"))?;
    let Json::Array(items) = key else {
        return Err("offset partition key is not a JSON array".to_owned());
    };
    let [Json::String(connector), partition] = items.as_slice() else {
        return Err(format!(
            "offset partition key should be [name, partition] but has {} elements or a non-string name",
            items.len()
        ));
    };
    let Json::Object(partition) = partition else {
        return Err("the partition in the offset key is not a JSON object".to_owned());
    };
    let offset = match value {
        None => None,
        Some(bytes) => match serde_json::from_slice::<Json>(bytes) {
            Ok(Json::Object(o)) => Some(o),
            Ok(Json::Null) => None,
            Ok(_) => return Err("the offset is not a JSON object".to_owned()),
            Err(e) => return Err(format!("the offset is not JSON ({e})")),
        },
    };
    Ok((connector.clone(), partition.clone(), offset))
}

struct Entry {
    /// The key bytes of the latest record for this partition.
    raw_key: Vec<u8>,
    connector: String,
    partition: SourcePartition,
    offset: SourceOffset,
}

#[derive(Default)]
struct Index {
    entries: BTreeMap<String, Entry>,
    /// Key bytes of partitions whose latest record is a tombstone: a later write of
    /// the same partition reuses them too.
    removed_keys: BTreeMap<String, Vec<u8>>,
}

impl Index {
    fn apply(&mut self, record: &LogRecord) {
        let Some(raw_key) = record.key.as_deref() else {
            tracing::warn!(
                partition = record.partition,
                offset = record.offset,
                "Ignoring offset partition key with an unexpected null value"
            );
            return;
        };
        match parse_offset_record(raw_key, record.value.as_deref()) {
            Ok((connector, partition, offset)) => {
                let k = index_key(&connector, &partition);
                match offset {
                    Some(offset) => {
                        self.removed_keys.remove(&k);
                        self.entries.insert(
                            k,
                            Entry {
                                raw_key: raw_key.to_vec(),
                                connector,
                                partition,
                                offset,
                            },
                        );
                    }
                    None => {
                        self.entries.remove(&k);
                        self.removed_keys.insert(k, raw_key.to_vec());
                    }
                }
            }
            Err(why) => tracing::error!(
                key = %String::from_utf8_lossy(raw_key),
                partition = record.partition,
                offset = record.offset,
                "Ignoring offset record: {why}"
            ),
        }
    }

    fn raw_key(&self, k: &str) -> Option<Vec<u8>> {
        self.entries
            .get(k)
            .map(|e| e.raw_key.clone())
            .or_else(|| self.removed_keys.get(k).cloned())
    }
}

fn lock(index: &Mutex<Index>) -> std::sync::MutexGuard<'_, Index> {
    // A poisoned lock only means a panic elsewhere; the index is still consistent.
    match index.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// Source offsets kept in the offsets topic; reads are served from the replayed topic.
pub struct KafkaOffsetStore {
    log: KafkaBasedLog,
    index: Arc<Mutex<Index>>,
}

impl KafkaOffsetStore {
    /// Creates the offsets topic if missing and reads it to the end.
    pub async fn start(cfg: &KafkaStorageConfig) -> Result<Self> {
        let spec = &cfg.topics.offsets;
        ensure_topic(&cfg.admin, spec).await?;
        let index = Arc::new(Mutex::new(Index::default()));
        let handler = {
            let index = index.clone();
            Box::new(move |r: LogRecord| lock(&index).apply(&r))
        };
        let log = KafkaBasedLog::start(cfg.log_settings(&spec.name, "offsets"), handler).await?;
        Ok(KafkaOffsetStore { log, index })
    }

    /// Waits until every offset in the topic has been read, e.g. before a task starts
    /// on a worker that did not run it before (Java reads to the end on every lookup).
    pub async fn read_to_end(&self) -> Result<()> {
        self.log.read_to_end().await
    }

    /// Connectors that have at least one offset.
    pub fn connectors(&self) -> Vec<String> {
        let index = lock(&self.index);
        let mut names: Vec<String> = index
            .entries
            .values()
            .map(|e| e.connector.clone())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// Stops tailing the topic.
    pub fn stop(&self) {
        self.log.stop();
    }
}

#[async_trait]
impl OffsetStore for KafkaOffsetStore {
    fn get(&self, connector: &str, partition: &SourcePartition) -> Option<SourceOffset> {
        lock(&self.index)
            .entries
            .get(&index_key(connector, partition))
            .map(|e| e.offset.clone())
    }

    fn connector_offsets(&self, connector: &str) -> Vec<(SourcePartition, SourceOffset)> {
        lock(&self.index)
            .entries
            .values()
            .filter(|e| e.connector == connector)
            .map(|e| (e.partition.clone(), e.offset.clone()))
            .collect()
    }

    /// Returns once Kafka acknowledged every write and the store has read them back,
    /// so a `get` right after sees them.
    async fn put(
        &self,
        connector: &str,
        offsets: Vec<(SourcePartition, Option<SourceOffset>)>,
    ) -> Result<()> {
        let acks: Vec<_> = {
            let index = lock(&self.index);
            offsets
                .iter()
                .map(|(partition, offset)| {
                    let key = index
                        .raw_key(&index_key(connector, partition))
                        .unwrap_or_else(|| offset_record_key(connector, partition));
                    let value = offset.as_ref().map(offset_record_value);
                    self.log.send(&key, value.as_deref())
                })
                .collect()
        };
        let mut targets: BTreeMap<i32, i64> = BTreeMap::new();
        let mut first_error = None;
        for ack in acks {
            match ack.await {
                Ok(a) => {
                    let t = targets.entry(a.partition).or_insert(0);
                    *t = (*t).max(a.offset + 1);
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        if let Some(e) = first_error {
            return Err(ConnectError::external(
                format!("could not write offsets of connector {connector}: {e}"),
                e.retriable(),
            ));
        }
        self.log.wait_applied(&targets).await
    }
}
