//! Distributed mode's stores, kept in Kafka Connect's own internal topics with Kafka
//! Connect's own keys and values, so a Kafka Connect cluster can be replaced by Ferry
//! workers (and back) without losing connector configs, offsets or statuses.
//!
//! - [`log`]: a compacted topic read from the beginning and tailed (`KafkaBasedLog`).
//! - [`topics`]: the three topics' names and settings; creating them when missing.
//! - [`config_log`]: connector and task configs, target states, restart requests,
//!   the session key (`KafkaConfigBackingStore`).
//! - [`status_log`]: connector, task and topic statuses, feeding the in-memory
//!   [`StatusStore`](crate::storage::StatusStore) (`KafkaStatusBackingStore`).
//! - [`offsets`]: source offsets behind the [`OffsetStore`](crate::storage::OffsetStore)
//!   trait (`KafkaOffsetBackingStore`).
//! - [`json`]: JSON text byte-for-byte as Kafka Connect's internal converter writes it.
//!
//! Records that cannot be parsed are skipped with an error log naming their key and
//! offset: data read from Kafka never panics a worker.

pub mod config_log;
pub mod json;
pub mod log;
pub mod offsets;
pub mod status_log;
pub mod topics;

pub use config_log::{ClusterConfigState, ConfigLog, RestartRequest, SessionKey};
pub use log::{KafkaBasedLog, LogRecord, LogSettings, WriteAck};
pub use offsets::KafkaOffsetStore;
pub use status_log::{KafkaStatusLog, TopicStatus};
pub use topics::{InternalTopics, TopicSpec};

use crate::config::worker::WorkerConfig;
use crate::errors::Result;

/// Everything the Kafka-backed stores need from the worker configuration.
#[derive(Debug, Clone)]
pub struct KafkaStorageConfig {
    /// librdkafka settings for producers (worker client settings, then `producer.*`).
    pub producer: Vec<(String, String)>,
    /// librdkafka settings for consumers (worker client settings, then `consumer.*`).
    pub consumer: Vec<(String, String)>,
    /// librdkafka settings for the admin client that creates the topics.
    pub admin: Vec<(String, String)>,
    /// Kafka Connect's client id base: `GROUP[-CLIENT_ID]-`; each store appends
    /// `configs`, `offsets` or `statuses`, so broker-side quotas and logs see the same
    /// client ids as for a Java worker.
    pub client_id_base: String,
    /// The worker's `group.id` (`connect` if unset); the logs' consumers carry it.
    pub group_id: String,
    pub topics: InternalTopics,
}

impl KafkaStorageConfig {
    /// Reads the topic settings and the client settings of a worker configuration.
    pub fn from_worker(worker: &WorkerConfig) -> Result<Self> {
        let topics = InternalTopics::from_props(&worker.originals)?;
        let group = worker
            .originals
            .get("group.id")
            .map(|g| g.trim())
            .filter(|g| !g.is_empty())
            .unwrap_or("connect");
        let mut client_id_base = group.to_owned();
        if let Some(id) = worker
            .originals
            .get("client.id")
            .map(|c| c.trim())
            .filter(|c| !c.is_empty())
        {
            client_id_base.push('-');
            client_id_base.push_str(id);
        }
        client_id_base.push('-');
        let producer = worker.producer_settings();
        // The admin client shares the producer's connection settings; librdkafka only
        // warns about producer-only properties on it.
        let admin = producer.clone();
        Ok(KafkaStorageConfig {
            producer,
            consumer: worker.consumer_settings(),
            admin,
            client_id_base,
            group_id: group.to_owned(),
            topics,
        })
    }

    /// Settings for the log of one topic.
    pub fn log_settings(&self, topic: &str, client_suffix: &str) -> LogSettings {
        LogSettings {
            topic: topic.to_owned(),
            producer: self.producer.clone(),
            consumer: self.consumer.clone(),
            client_id: format!("{}{client_suffix}", self.client_id_base),
            group_id: self.group_id.clone(),
        }
    }
}
