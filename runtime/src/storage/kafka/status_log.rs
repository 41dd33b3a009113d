//! The status topic: Kafka Connect's `KafkaStatusBackingStore`.
//!
//! | key | value |
//! |---|---|
//! | `status-connector-NAME` | `{"state":"RUNNING","trace":null,"worker_id":"host:port","generation":N,"version":"1.0"}` |
//! | `status-task-NAME-N` | the same shape |
//! | `status-topic-TOPIC:connector-NAME` | `{"topic":{"name":..,"connector":..,"task":N,"discoverTimestamp":MS}}` |
//!
//! A tombstone removes a status (a deleted connector or task, a topics reset).
//! `version` (Kafka 4.x) is the plugin version, reported with RUNNING, PAUSED,
//! STOPPED and FAILED and `null` otherwise; older workers leave it out.
//!
//! The rest of the worker keeps using the in-memory [`StatusStore`]: this module
//! replays the topic into it (`apply_remote_*`) and gives it a [`StatusWriter`] that
//! enqueues each local change to the topic. Statuses are hashed over the topic's
//! partitions by key like any other record, so only per-key order matters.

use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value as Json, json};

use super::KafkaStorageConfig;
use super::json::{java_split, to_java_json_bytes};
use super::log::{KafkaBasedLog, LogRecord};
use super::topics::ensure_topic;
use crate::errors::Result;
use crate::storage::status::StatusWriter;
use crate::storage::{State, StatusStore, TaskStatus};

pub const CONNECTOR_STATUS_PREFIX: &str = "status-connector-";
pub const TASK_STATUS_PREFIX: &str = "status-task-";
pub const TOPIC_STATUS_PREFIX: &str = "status-topic-";
pub const TOPIC_STATUS_SEPARATOR: &str = ":connector-";

/// A topic a connector's task used (KIP-558 topic tracking).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicStatus {
    pub topic: String,
    pub connector: String,
    pub task: u32,
    /// Milliseconds since the epoch.
    pub discover_timestamp: i64,
}

/// A status and the plugin version written with it.
pub type VersionedStatus = (TaskStatus, Option<String>);

/// One parsed status-topic record; `None` statuses are tombstones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusRecord {
    Connector {
        connector: String,
        status: Option<VersionedStatus>,
    },
    Task {
        connector: String,
        task: u32,
        status: Option<VersionedStatus>,
    },
    Topic {
        connector: String,
        topic: String,
        status: Option<TopicStatus>,
    },
}

pub fn connector_status_key(connector: &str) -> String {
    format!("{CONNECTOR_STATUS_PREFIX}{connector}")
}

pub fn task_status_key(connector: &str, task: u32) -> String {
    format!("{TASK_STATUS_PREFIX}{connector}-{task}")
}

pub fn topic_status_key(connector: &str, topic: &str) -> String {
    format!("{TOPIC_STATUS_PREFIX}{topic}{TOPIC_STATUS_SEPARATOR}{connector}")
}

fn state_name(s: State) -> &'static str {
    match s {
        State::Unassigned => "UNASSIGNED",
        State::Running => "RUNNING",
        State::Paused => "PAUSED",
        State::Stopped => "STOPPED",
        State::Failed => "FAILED",
        State::Restarting => "RESTARTING",
    }
}

/// `Ok(None)` is DESTROYED: Kafka never writes it (it writes a tombstone instead),
/// but it means the same.
fn parse_state(s: &str) -> std::result::Result<Option<State>, String> {
    Ok(Some(match s {
        "UNASSIGNED" => State::Unassigned,
        "RUNNING" => State::Running,
        "PAUSED" => State::Paused,
        "STOPPED" => State::Stopped,
        "FAILED" => State::Failed,
        "RESTARTING" => State::Restarting,
        "DESTROYED" => return Ok(None),
        other => return Err(format!("unknown state {other}")),
    }))
}

/// A connector or task status value; fields in Kafka's schema order.
pub fn status_value(status: &TaskStatus, version: Option<&str>) -> Vec<u8> {
    to_java_json_bytes(&json!({
        "state": state_name(status.state),
        "trace": status.trace,
        "worker_id": status.worker_id,
        "generation": status.generation,
        "version": version,
    }))
}

pub fn topic_status_value(status: &TopicStatus) -> Vec<u8> {
    to_java_json_bytes(&json!({
        "topic": {
            "name": status.topic,
            "connector": status.connector,
            "task": status.task,
            "discoverTimestamp": status.discover_timestamp,
        }
    }))
}

fn parse_json(value: &[u8]) -> std::result::Result<Json, String> {
    serde_json::from_slice(value).map_err(|e| format!("not JSON: {e}"))
}

fn parse_status(value: &[u8]) -> std::result::Result<Option<VersionedStatus>, String> {
    let json = parse_json(value)?;
    let Json::Object(m) = json else {
        return Err("the value is not a JSON object".to_owned());
    };
    let state = match m.get("state") {
        Some(Json::String(s)) => parse_state(s)?,
        _ => return Err("'state' is missing or not a string".to_owned()),
    };
    let Some(state) = state else {
        return Ok(None);
    };
    let string = |field: &str| -> std::result::Result<Option<String>, String> {
        match m.get(field) {
            None | Some(Json::Null) => Ok(None),
            Some(Json::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!("'{field}' is not a string")),
        }
    };
    let generation = m
        .get("generation")
        .and_then(Json::as_i64)
        .ok_or("'generation' is missing or not an integer")?;
    let status = TaskStatus {
        state,
        trace: string("trace")?,
        worker_id: string("worker_id")?.unwrap_or_default(),
        // Java reads a long and keeps its low 32 bits.
        generation: generation as i32,
    };
    Ok(Some((status, string("version")?)))
}

fn parse_topic_status(value: &[u8]) -> std::result::Result<TopicStatus, String> {
    let json = parse_json(value)?;
    let inner = json
        .get("topic")
        .and_then(Json::as_object)
        .ok_or("'topic' is missing or not an object")?;
    let string = |field: &str| {
        inner
            .get(field)
            .and_then(Json::as_str)
            .map(str::to_owned)
            .ok_or(format!("'topic.{field}' is missing or not a string"))
    };
    let task = inner
        .get("task")
        .and_then(Json::as_u64)
        .and_then(|t| u32::try_from(t).ok())
        .ok_or("'topic.task' is missing or not a task number")?;
    let discover_timestamp = inner
        .get("discoverTimestamp")
        .and_then(Json::as_i64)
        .ok_or("'topic.discoverTimestamp' is missing or not an integer")?;
    Ok(TopicStatus {
        topic: string("name")?,
        connector: string("connector")?,
        task,
        discover_timestamp,
    })
}

/// Parses one status-topic record the way Kafka Connect does.
pub fn parse_status_record(
    key: &str,
    value: Option<&[u8]>,
) -> std::result::Result<StatusRecord, String> {
    if let Some(connector) = key.strip_prefix(CONNECTOR_STATUS_PREFIX) {
        if connector.is_empty() {
            return Err("invalid connector status key".to_owned());
        }
        let status = value.map(parse_status).transpose()?.flatten();
        Ok(StatusRecord::Connector {
            connector: connector.to_owned(),
            status,
        })
    } else if key.starts_with(TASK_STATUS_PREFIX) {
        // Kafka's parsing: split on '-', drop "status" and "task", the last part is
        // the task number.
        let parts = java_split(key, '-');
        if parts.len() < 4 {
            return Err("invalid task status key".to_owned());
        }
        let task: u32 = parts[parts.len() - 1]
            .parse()
            .map_err(|_| "invalid task status key".to_owned())?;
        let connector = parts[2..parts.len() - 1].join("-");
        let status = value.map(parse_status).transpose()?.flatten();
        Ok(StatusRecord::Task {
            connector,
            task,
            status,
        })
    } else if let Some(rest) = key.strip_prefix(TOPIC_STATUS_PREFIX) {
        // `status-topic-TOPIC:connector-NAME`; topic names cannot contain ':'.
        let (topic, after) = rest.split_once(':').ok_or("invalid topic status key")?;
        let connector = after.get(TOPIC_STATUS_SEPARATOR.len() - 1..).unwrap_or("");
        if topic.is_empty() || connector.is_empty() {
            return Err("invalid topic status key".to_owned());
        }
        let status = value.map(parse_topic_status).transpose()?;
        Ok(StatusRecord::Topic {
            connector: connector.to_owned(),
            topic: topic.to_owned(),
            status,
        })
    } else {
        Err("Discarding record with invalid key".to_owned())
    }
}

/// Applies a parsed record to the in-memory store, without writing it back.
pub fn apply_to(store: &StatusStore, record: StatusRecord) {
    match record {
        StatusRecord::Connector { connector, status } => match status {
            Some((s, v)) => store.apply_remote_connector(&connector, Some(s), v),
            None => store.apply_remote_connector(&connector, None, None),
        },
        StatusRecord::Task {
            connector,
            task,
            status,
        } => match status {
            Some((s, v)) => store.apply_remote_task(&connector, task, Some(s), v),
            None => store.apply_remote_task(&connector, task, None, None),
        },
        StatusRecord::Topic {
            connector,
            topic,
            status,
        } => store.apply_remote_topic(&connector, &topic, status.is_some()),
    }
}

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Enqueues status changes to the topic. Holds the log weakly: the status store
/// outlives the log, and a write after shutdown is simply dropped.
struct TopicWriter {
    log: Weak<KafkaBasedLog>,
    runtime: tokio::runtime::Handle,
}

impl TopicWriter {
    fn send(&self, key: String, value: Option<Vec<u8>>) {
        let Some(log) = self.log.upgrade() else {
            tracing::debug!(key, "status log stopped; status update dropped");
            return;
        };
        let ack = log.send(key.as_bytes(), value.as_deref());
        drop(log);
        // librdkafka retries retriable errors itself (idempotently); what is left is
        // a failure Kafka Connect would log too.
        self.runtime.spawn(async move {
            if let Err(e) = ack.await {
                tracing::error!(key, error = %e, "Failed to write status update");
            }
        });
    }
}

impl StatusWriter for TopicWriter {
    fn write_connector(&self, connector: &str, status: &TaskStatus, version: Option<&str>) {
        self.send(
            connector_status_key(connector),
            Some(status_value(status, version)),
        );
    }

    fn write_task(&self, connector: &str, task: u32, status: &TaskStatus, version: Option<&str>) {
        self.send(
            task_status_key(connector, task),
            Some(status_value(status, version)),
        );
    }

    fn remove_connector(&self, connector: &str) {
        self.send(connector_status_key(connector), None);
    }

    fn remove_task(&self, connector: &str, task: u32) {
        self.send(task_status_key(connector, task), None);
    }

    fn write_topic(&self, connector: &str, topic: &str, task: u32) {
        let status = TopicStatus {
            topic: topic.to_owned(),
            connector: connector.to_owned(),
            task,
            discover_timestamp: now_millis(),
        };
        self.send(
            topic_status_key(connector, topic),
            Some(topic_status_value(&status)),
        );
    }

    fn remove_topic(&self, connector: &str, topic: &str) {
        self.send(topic_status_key(connector, topic), None);
    }
}

/// The status topic, wired to a [`StatusStore`].
pub struct KafkaStatusLog {
    log: Arc<KafkaBasedLog>,
    store: Arc<StatusStore>,
}

impl KafkaStatusLog {
    /// Creates the status topic if missing, replays it into `store`, then makes
    /// `store` publish every local change to the topic. Must run inside a Tokio
    /// runtime (acknowledgements are awaited on it).
    pub async fn start(cfg: &KafkaStorageConfig, store: Arc<StatusStore>) -> Result<Self> {
        let spec = &cfg.topics.status;
        ensure_topic(&cfg.admin, spec).await?;
        let handler = {
            let store = store.clone();
            Box::new(move |r: LogRecord| {
                let Some(key) = r.key.as_deref().map(String::from_utf8_lossy) else {
                    tracing::warn!(
                        offset = r.offset,
                        partition = r.partition,
                        "Discarding status record with a null key"
                    );
                    return;
                };
                match parse_status_record(&key, r.value.as_deref()) {
                    Ok(record) => apply_to(&store, record),
                    Err(why) => tracing::error!(
                        key = %key,
                        partition = r.partition,
                        offset = r.offset,
                        "Ignoring status record: {why}"
                    ),
                }
            })
        };
        let log = Arc::new(
            KafkaBasedLog::start(cfg.log_settings(&spec.name, "statuses"), handler).await?,
        );
        store.set_writer(Arc::new(TopicWriter {
            log: Arc::downgrade(&log),
            runtime: tokio::runtime::Handle::current(),
        }));
        Ok(KafkaStatusLog { log, store })
    }

    pub fn store(&self) -> &Arc<StatusStore> {
        &self.store
    }

    /// Waits until every status in the topic (including this worker's own writes so
    /// far) has been applied to the store.
    pub async fn read_to_end(&self) -> Result<()> {
        self.log.read_to_end().await
    }

    /// Waits until every status write enqueued so far was acknowledged.
    pub async fn flush(&self) -> Result<()> {
        self.log.flush(Duration::from_secs(30)).await
    }

    /// Stops publishing and reading statuses; the store keeps what it knows.
    pub fn stop(&self) {
        self.store.clear_writer();
        self.log.stop();
    }
}

impl Drop for KafkaStatusLog {
    fn drop(&mut self) {
        self.stop();
    }
}
