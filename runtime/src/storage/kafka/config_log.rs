//! The config topic: Kafka Connect's `KafkaConfigBackingStore`, record for record.
//!
//! Keys are plain strings and values JSON (the internal `JsonConverter`,
//! `schemas.enable=false`):
//!
//! | key | value |
//! |---|---|
//! | `connector-NAME` | `{"properties":{..}}`; tombstone = deleted |
//! | `task-NAME-N` | `{"properties":{..}}`, applied only by the next commit |
//! | `commit-NAME` | `{"tasks":N}` |
//! | `target-state-NAME` | `{"state":"PAUSED","state.v2":"STOPPED"}` (`state` is what pre-3.5 workers understand) |
//! | `restart-connector-NAME` | `{"include-tasks":true,"only-failed":false}` |
//! | `tasks-fencing-NAME` | `{"task-count":N}` (exactly-once source support) |
//! | `session-key` | `{"key":BASE64,"algorithm":"HmacSHA256","creation-timestamp":MS}` |
//! | `logger-cluster-NAMESPACE` | `{"level":"DEBUG"}` |
//!
//! Task configs are buffered until their `commit-NAME` record is read, and applied
//! only if every task `0..N` was seen since the previous commit; otherwise (compaction
//! removed some, or the leader died mid-write) the connector is *inconsistent* until a
//! new complete set is committed. The topic has one partition so this order holds.
//!
//! [`ConfigLogState`] is the replay logic on its own (tests feed it records captured
//! from a Java worker); [`ConfigLog`] runs it over the topic and writes records.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use serde_json::{Map, Value as Json, json};
use tokio::sync::{mpsc, watch};

use super::KafkaStorageConfig;
use super::json::{java_split, to_java_json_bytes};
use super::log::{KafkaBasedLog, LogRecord};
use super::topics::ensure_topic;
use crate::config::Props;
use crate::errors::{ConnectError, Result};
use crate::worker::TargetState;

pub const CONNECTOR_PREFIX: &str = "connector-";
pub const TASK_PREFIX: &str = "task-";
pub const COMMIT_TASKS_PREFIX: &str = "commit-";
pub const TARGET_STATE_PREFIX: &str = "target-state-";
pub const RESTART_PREFIX: &str = "restart-connector-";
pub const TASK_COUNT_RECORD_PREFIX: &str = "tasks-fencing-";
pub const LOGGER_CLUSTER_PREFIX: &str = "logger-cluster-";
pub const SESSION_KEY_KEY: &str = "session-key";

/// Kafka Connect's bound on every config write and the read-back after it.
const READ_WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// The key the leader signs internal REST requests with (KIP-507).
#[derive(Clone, PartialEq, Eq)]
pub struct SessionKey {
    pub key: Vec<u8>,
    /// A `javax.crypto` algorithm name, e.g. `HmacSHA256`.
    pub algorithm: String,
    /// Milliseconds since the epoch.
    pub creation_timestamp: i64,
}

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key is a secret: never in logs.
        f.debug_struct("SessionKey")
            .field("key", &format_args!("<{} bytes>", self.key.len()))
            .field("algorithm", &self.algorithm)
            .field("creation_timestamp", &self.creation_timestamp)
            .finish()
    }
}

/// A request to restart a connector and possibly its tasks (KIP-745).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestartRequest {
    pub connector: String,
    pub include_tasks: bool,
    pub only_failed: bool,
}

/// What one record changed; `None` from [`ConfigLogState::apply`] means nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigUpdate {
    ConnectorConfig(String),
    ConnectorRemoved(String),
    /// A commit was read; `tasks` are the task ids whose configs it applied (empty
    /// when the set was incomplete).
    TaskConfigs {
        connector: String,
        tasks: Vec<u32>,
    },
    /// Only reported when the state changed and the connector exists.
    TargetState(String),
    Restart(RestartRequest),
    TaskCountRecord(String),
    SessionKey,
    LoggerLevel {
        namespace: String,
        level: String,
    },
}

/// A consistent view of the config topic, as far as it has been read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterConfigState {
    /// The offset after the last record read (`-1` before any): what the Connect group
    /// protocol calls the config offset, compared between members and the leader.
    pub offset: i64,
    /// Connector configs by name.
    pub connectors: BTreeMap<String, Props>,
    /// Target state of every connector in `connectors` (STARTED unless set).
    pub target_states: BTreeMap<String, TargetState>,
    /// Committed task configs, task 0 first, for every connector whose latest commit
    /// was complete; an entry with no tasks is a commit of zero tasks (e.g. STOPPED).
    /// Connectors never committed, or inconsistent, have no entry.
    pub task_configs: BTreeMap<String, Vec<Props>>,
    /// Connectors whose latest commit did not have all of its task configs.
    pub inconsistent: BTreeSet<String>,
    pub session_key: Option<SessionKey>,
    /// `tasks-fencing-NAME` records: task producers to fence before new tasks start.
    pub task_count_records: BTreeMap<String, u32>,
    /// Connectors whose task configs were committed after their last task count
    /// record (they need a round of zombie fencing under exactly-once support).
    pub pending_fencing: BTreeSet<String>,
    /// How many times each connector's task configs were applied, starting at 0.
    pub task_config_generations: BTreeMap<String, u32>,
}

impl ClusterConfigState {
    pub fn contains(&self, connector: &str) -> bool {
        self.connectors.contains_key(connector)
    }
}

/// The config topic's state machine, fed one record at a time.
#[derive(Debug, Default, Clone)]
pub struct ConfigLogState {
    offset: i64,
    connector_configs: BTreeMap<String, Props>,
    task_counts: BTreeMap<String, u32>,
    task_configs: BTreeMap<(String, u32), Props>,
    deferred: BTreeMap<String, BTreeMap<u32, Props>>,
    target_states: BTreeMap<String, TargetState>,
    inconsistent: BTreeSet<String>,
    session_key: Option<SessionKey>,
    task_count_records: BTreeMap<String, u32>,
    task_config_generations: BTreeMap<String, u32>,
    pending_fencing: BTreeSet<String>,
}

fn type_name(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "Boolean",
        Json::Number(n) if n.is_f64() => "Double",
        Json::Number(_) => "Long",
        Json::String(_) => "String",
        Json::Array(_) => "ArrayList",
        Json::Object(_) => "HashMap",
    }
}

/// A JSON integer as Java's `intValue` reads it; anything else is an error.
fn int_value(v: Option<&Json>) -> std::result::Result<i64, String> {
    match v.and_then(Json::as_i64) {
        Some(i) => Ok(i),
        None => Err(format!(
            "expected an integer but found {}",
            v.map(type_name).unwrap_or("nothing")
        )),
    }
}

fn count_value(v: Option<&Json>) -> std::result::Result<u32, String> {
    let i = int_value(v)?;
    u32::try_from(i).map_err(|_| format!("expected a task count but found {i}"))
}

/// A `properties` map: string values; nulls (allowed by Kafka's schema) are dropped.
fn props_value(v: Option<&Json>) -> std::result::Result<Props, String> {
    let Some(Json::Object(m)) = v else {
        return Err(format!(
            "'properties' field should be a Map but is {}",
            v.map(type_name).unwrap_or("null")
        ));
    };
    let mut props = Props::new();
    for (k, v) in m {
        match v {
            Json::String(s) => {
                props.insert(k.clone(), s.clone());
            }
            Json::Null => {}
            other => {
                return Err(format!(
                    "property '{k}' should be a String but is {}",
                    type_name(other)
                ));
            }
        }
    }
    Ok(props)
}

fn parse_target_state(s: &str) -> Option<TargetState> {
    match s {
        "STARTED" => Some(TargetState::Started),
        "PAUSED" => Some(TargetState::Paused),
        "STOPPED" => Some(TargetState::Stopped),
        _ => None,
    }
}

fn target_state_name(s: TargetState) -> &'static str {
    match s {
        TargetState::Started => "STARTED",
        TargetState::Paused => "PAUSED",
        TargetState::Stopped => "STOPPED",
    }
}

/// Kafka's `task-NAME-N` parsing: split on `-`, the last part is the task number and
/// the parts between the prefix and it are the connector name.
pub fn parse_task_key(key: &str) -> Option<(String, u32)> {
    let parts = java_split(key, '-');
    if parts.len() < 3 {
        return None;
    }
    let task: u32 = parts[parts.len() - 1].parse().ok()?;
    Some((parts[1..parts.len() - 1].join("-"), task))
}

impl ConfigLogState {
    pub fn new() -> Self {
        ConfigLogState {
            offset: -1,
            ..Default::default()
        }
    }

    /// The offset after the last record applied.
    pub fn offset(&self) -> i64 {
        self.offset
    }

    /// Applies one record read at `offset`. A record that cannot be used is logged
    /// and skipped, as Kafka Connect does; the offset still advances unless the value
    /// is not JSON at all (Kafka's converter fails before the offset is taken).
    pub fn apply(
        &mut self,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        offset: i64,
    ) -> Option<ConfigUpdate> {
        let key_text = key.map(String::from_utf8_lossy);
        let value: Json = match value {
            None => Json::Null,
            Some(bytes) => match serde_json::from_slice(bytes) {
                Ok(v) => v,
                Err(e) => {
                    tracing::error!(
                        key = key_text.as_deref().unwrap_or("<null>"),
                        offset,
                        error = %e,
                        "Failed to convert config data to Kafka Connect format; record skipped"
                    );
                    return None;
                }
            },
        };
        self.offset = offset + 1;
        let Some(key) = key_text else {
            tracing::error!(offset, "Discarding config update record with a null key");
            return None;
        };
        let result = self.dispatch(&key, value);
        match result {
            Ok(update) => update,
            Err(why) => {
                tracing::error!(key = %key, offset, "Ignoring config record: {why}");
                None
            }
        }
    }

    fn dispatch(
        &mut self,
        key: &str,
        value: Json,
    ) -> std::result::Result<Option<ConfigUpdate>, String> {
        // The order of these checks is Kafka's: `target-state-` before `connector-`...
        if let Some(name) = key.strip_prefix(TARGET_STATE_PREFIX) {
            self.target_state_record(name, value)
        } else if let Some(name) = key.strip_prefix(CONNECTOR_PREFIX) {
            self.connector_record(name, value)
        } else if key.starts_with(TASK_PREFIX) {
            let (connector, task) = parse_task_key(key)
                .ok_or_else(|| format!("{key} couldn't be parsed as a task config key"))?;
            self.task_record(connector, task, value)
        } else if let Some(name) = key.strip_prefix(COMMIT_TASKS_PREFIX) {
            self.commit_record(name, value)
        } else if let Some(name) = key.strip_prefix(RESTART_PREFIX) {
            let Json::Object(m) = value else {
                return Err(format!(
                    "restart request value is not a Map but is {}",
                    type_name(&value)
                ));
            };
            let flag = |field: &str| match m.get(field) {
                Some(Json::Bool(b)) => *b,
                other => {
                    tracing::warn!(
                        "Invalid data for restart request '{field}' field should be a Boolean but is {}, defaulting to false",
                        other.map(type_name).unwrap_or("null")
                    );
                    false
                }
            };
            Ok(Some(ConfigUpdate::Restart(RestartRequest {
                connector: name.to_owned(),
                include_tasks: flag("include-tasks"),
                only_failed: flag("only-failed"),
            })))
        } else if let Some(name) = key.strip_prefix(TASK_COUNT_RECORD_PREFIX) {
            let Json::Object(m) = value else {
                return Err(format!(
                    "task count record is in the wrong format: {}",
                    type_name(&value)
                ));
            };
            let count = count_value(m.get("task-count"))?;
            self.task_count_records.insert(name.to_owned(), count);
            // A task count record after the latest task configs: no fencing needed.
            self.pending_fencing.remove(name);
            Ok(Some(ConfigUpdate::TaskCountRecord(name.to_owned())))
        } else if key == SESSION_KEY_KEY {
            self.session_key_record(value)
        } else if let Some(namespace) = key.strip_prefix(LOGGER_CLUSTER_PREFIX) {
            let Json::Object(m) = value else {
                return Err(format!(
                    "logging level for namespace {namespace} is not a Map but is {}",
                    type_name(&value)
                ));
            };
            match m.get("level") {
                Some(Json::String(level)) => Ok(Some(ConfigUpdate::LoggerLevel {
                    namespace: namespace.to_owned(),
                    level: level.clone(),
                })),
                other => Err(format!(
                    "'level' field should be a String but it is {}",
                    other.map(type_name).unwrap_or("null")
                )),
            }
        } else {
            Err("Discarding config update record with invalid key".to_owned())
        }
    }

    fn target_state_record(
        &mut self,
        name: &str,
        value: Json,
    ) -> std::result::Result<Option<ConfigUpdate>, String> {
        let Json::Object(m) = value else {
            if value.is_null() {
                // Written with a connector's deletion. A connector that still has a
                // config keeps a valid state.
                self.target_states.remove(name);
                if self.connector_configs.contains_key(name) {
                    self.target_states
                        .insert(name.to_owned(), TargetState::Started);
                }
                return Ok(None);
            }
            return Err(format!(
                "target state is in the wrong format: {}",
                type_name(&value)
            ));
        };
        // `state.v2` (3.5+, knows STOPPED) first; older workers only wrote `state`.
        let v2 = match m.get("state.v2") {
            Some(Json::String(s)) => Some(s.as_str()),
            None | Some(Json::Null) => None,
            Some(other) => {
                tracing::error!(
                    "Invalid data for target state for connector '{name}': 'state.v2' field should be a String but is {}",
                    type_name(other)
                );
                None
            }
        };
        let text = match v2 {
            Some(s) => s,
            None => match m.get("state") {
                Some(Json::String(s)) => s.as_str(),
                other => {
                    return Err(format!(
                        "'state' field should be a String but is {}",
                        other.map(type_name).unwrap_or("null")
                    ));
                }
            },
        };
        let state =
            parse_target_state(text).ok_or_else(|| format!("Invalid target state {text}"))?;
        let previous = self.target_states.insert(name.to_owned(), state);
        let changed = previous != Some(state);
        Ok((changed && self.connector_configs.contains_key(name))
            .then(|| ConfigUpdate::TargetState(name.to_owned())))
    }

    fn connector_record(
        &mut self,
        name: &str,
        value: Json,
    ) -> std::result::Result<Option<ConfigUpdate>, String> {
        if value.is_null() {
            self.remove_connector(name);
            tracing::info!("Successfully processed removal of connector '{name}'");
            return Ok(Some(ConfigUpdate::ConnectorRemoved(name.to_owned())));
        }
        let Json::Object(m) = value else {
            return Err(format!(
                "connector configuration is in the wrong format: {}",
                type_name(&value)
            ));
        };
        let props = props_value(m.get("properties"))?;
        self.connector_configs.insert(name.to_owned(), props);
        // Connectors created before target states existed start STARTED.
        self.target_states
            .entry(name.to_owned())
            .or_insert(TargetState::Started);
        Ok(Some(ConfigUpdate::ConnectorConfig(name.to_owned())))
    }

    fn task_record(
        &mut self,
        connector: String,
        task: u32,
        value: Json,
    ) -> std::result::Result<Option<ConfigUpdate>, String> {
        let Json::Object(m) = value else {
            return Err(format!(
                "task configuration is not a Map but is {}",
                type_name(&value)
            ));
        };
        let props = props_value(m.get("properties"))?;
        // Waits for the commit record before it takes effect.
        self.deferred
            .entry(connector)
            .or_default()
            .insert(task, props);
        Ok(None)
    }

    fn commit_record(
        &mut self,
        name: &str,
        value: Json,
    ) -> std::result::Result<Option<ConfigUpdate>, String> {
        if !self.connector_configs.contains_key(name) {
            // The connector was deleted and compaction removed its config and
            // tombstone: these task configs belong to nothing.
            self.remove_connector(name);
            tracing::debug!(
                "Ignoring task configs for connector {name}; it appears that the connector was deleted previously"
            );
            return Ok(None);
        }
        let Json::Object(m) = value else {
            return Err(format!(
                "connector tasks configuration commit is in the wrong format: {}",
                type_name(&value)
            ));
        };
        let count = count_value(m.get("tasks"))?;
        let deferred = self.deferred.remove(name);
        let seen: BTreeSet<u32> = deferred
            .as_ref()
            .map(|d| d.keys().copied().collect())
            .unwrap_or_default();
        // Not the exact set: after compaction, configs of tasks beyond the count may
        // linger. What matters is that every task the commit names was written since.
        let complete = (0..count).all(|i| seen.contains(&i));
        let mut applied = Vec::new();
        if complete {
            if let Some(d) = deferred {
                for (task, props) in d {
                    applied.push(task);
                    self.task_configs.insert((name.to_owned(), task), props);
                }
                self.task_config_generations
                    .entry(name.to_owned())
                    .and_modify(|g| *g += 1)
                    .or_insert(0);
            }
            self.inconsistent.remove(name);
        } else {
            tracing::debug!(
                "We have an incomplete set of task configs for connector '{name}' probably due to compaction. So we are not doing anything with the new configuration."
            );
            self.inconsistent.insert(name.to_owned());
        }
        self.task_counts.insert(name.to_owned(), count);
        self.pending_fencing.insert(name.to_owned());
        Ok(Some(ConfigUpdate::TaskConfigs {
            connector: name.to_owned(),
            tasks: applied,
        }))
    }

    fn session_key_record(
        &mut self,
        value: Json,
    ) -> std::result::Result<Option<ConfigUpdate>, String> {
        let Json::Object(m) = value else {
            return Err(format!(
                "session key is not a Map but is {}",
                type_name(&value)
            ));
        };
        let Some(Json::String(key)) = m.get("key") else {
            return Err("session key 'key' field should be a String".to_owned());
        };
        let key = base64::engine::general_purpose::STANDARD
            .decode(key)
            .map_err(|e| format!("session key 'key' field is not base64: {e}"))?;
        let Some(Json::String(algorithm)) = m.get("algorithm") else {
            return Err("session key 'algorithm' field should be a String".to_owned());
        };
        let Some(created) = m.get("creation-timestamp").and_then(Json::as_i64) else {
            return Err("session key 'creation-timestamp' field should be a long".to_owned());
        };
        self.session_key = Some(SessionKey {
            key,
            algorithm: algorithm.clone(),
            creation_timestamp: created,
        });
        Ok(Some(ConfigUpdate::SessionKey))
    }

    fn remove_connector(&mut self, name: &str) {
        self.connector_configs.remove(name);
        self.task_counts.remove(name);
        self.task_configs.retain(|(c, _), _| c != name);
        self.deferred.remove(name);
    }

    pub fn contains(&self, connector: &str) -> bool {
        self.connector_configs.contains_key(connector)
    }

    pub fn snapshot(&self) -> ClusterConfigState {
        let mut task_configs = BTreeMap::new();
        for (name, count) in &self.task_counts {
            if self.inconsistent.contains(name) {
                continue;
            }
            let tasks: Option<Vec<Props>> = (0..*count)
                .map(|i| self.task_configs.get(&(name.clone(), i)).cloned())
                .collect();
            if let Some(tasks) = tasks {
                task_configs.insert(name.clone(), tasks);
            }
        }
        ClusterConfigState {
            offset: self.offset,
            connectors: self.connector_configs.clone(),
            target_states: self
                .target_states
                .iter()
                .filter(|(name, _)| self.connector_configs.contains_key(*name))
                .map(|(k, v)| (k.clone(), *v))
                .collect(),
            task_configs,
            inconsistent: self.inconsistent.clone(),
            session_key: self.session_key.clone(),
            task_count_records: self.task_count_records.clone(),
            pending_fencing: self.pending_fencing.clone(),
            task_config_generations: self.task_config_generations.clone(),
        }
    }
}

// ---------------------------------------------------------------------------
// Record keys and values, byte for byte as Kafka Connect writes them.

pub fn connector_key(name: &str) -> String {
    format!("{CONNECTOR_PREFIX}{name}")
}
pub fn task_key(name: &str, task: u32) -> String {
    format!("{TASK_PREFIX}{name}-{task}")
}
pub fn commit_key(name: &str) -> String {
    format!("{COMMIT_TASKS_PREFIX}{name}")
}
pub fn target_state_key(name: &str) -> String {
    format!("{TARGET_STATE_PREFIX}{name}")
}
pub fn restart_key(name: &str) -> String {
    format!("{RESTART_PREFIX}{name}")
}
pub fn task_count_record_key(name: &str) -> String {
    format!("{TASK_COUNT_RECORD_PREFIX}{name}")
}
pub fn logger_level_key(namespace: &str) -> String {
    format!("{LOGGER_CLUSTER_PREFIX}{namespace}")
}

/// `{"properties":{..}}` for connector and task configs. Ferry's configs are sorted
/// maps, so properties come out sorted (Java writes its map's iteration order; readers
/// of either compare them as maps).
pub fn properties_value(props: &Props) -> Vec<u8> {
    let properties: Map<String, Json> = props
        .iter()
        .map(|(k, v)| (k.clone(), Json::String(v.clone())))
        .collect();
    to_java_json_bytes(&json!({ "properties": properties }))
}

pub fn commit_value(tasks: u32) -> Vec<u8> {
    to_java_json_bytes(&json!({ "tasks": tasks }))
}

/// Both fields, as Kafka 3.5+ writes them: `state` falls back to PAUSED for STOPPED so
/// workers that predate STOPPED still stop doing work.
pub fn target_state_value(state: TargetState) -> Vec<u8> {
    let legacy = match state {
        TargetState::Stopped => TargetState::Paused,
        s => s,
    };
    to_java_json_bytes(&json!({
        "state": target_state_name(legacy),
        "state.v2": target_state_name(state),
    }))
}

pub fn restart_value(include_tasks: bool, only_failed: bool) -> Vec<u8> {
    to_java_json_bytes(&json!({ "include-tasks": include_tasks, "only-failed": only_failed }))
}

pub fn session_key_value(key: &SessionKey) -> Vec<u8> {
    to_java_json_bytes(&json!({
        "key": base64::engine::general_purpose::STANDARD.encode(&key.key),
        "algorithm": key.algorithm,
        "creation-timestamp": key.creation_timestamp,
    }))
}

pub fn task_count_record_value(count: u32) -> Vec<u8> {
    to_java_json_bytes(&json!({ "task-count": count }))
}

pub fn logger_level_value(level: &str) -> Vec<u8> {
    to_java_json_bytes(&json!({ "level": level }))
}

// ---------------------------------------------------------------------------
// The store over the topic.

struct Shared {
    state: ConfigLogState,
    /// Restart requests and logger levels are only passed on once the initial read is
    /// done (older ones were handled by whoever ran then); until then they wait here
    /// with their offsets.
    started: bool,
    early: Vec<(i64, ConfigUpdate)>,
    restarts: mpsc::UnboundedSender<RestartRequest>,
    loggers: mpsc::UnboundedSender<(String, String)>,
}

impl Shared {
    fn forward(&self, update: ConfigUpdate) {
        match update {
            ConfigUpdate::Restart(r) => {
                let _ = self.restarts.send(r);
            }
            ConfigUpdate::LoggerLevel { namespace, level } => {
                let _ = self.loggers.send((namespace, level));
            }
            _ => {}
        }
    }
}

/// Kafka Connect's config store over the config topic.
pub struct ConfigLog {
    log: KafkaBasedLog,
    shared: Arc<Mutex<Shared>>,
    offsets: watch::Receiver<i64>,
    restart_rx: Mutex<Option<mpsc::UnboundedReceiver<RestartRequest>>>,
    logger_rx: Mutex<Option<mpsc::UnboundedReceiver<(String, String)>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A poisoned lock only means a panic elsewhere; the state is still consistent.
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

fn write_error(what: &str) -> impl Fn(ConnectError) -> ConnectError + '_ {
    move |e| ConnectError::external(format!("Error writing {what} to Kafka: {e}"), e.retriable())
}

async fn bounded<T>(what: &str, f: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    tokio::time::timeout(READ_WRITE_TIMEOUT, f)
        .await
        .map_err(|_| {
            ConnectError::external(
                format!(
                    "Error writing {what} to Kafka: timed out after {} ms",
                    READ_WRITE_TIMEOUT.as_millis()
                ),
                true,
            )
        })?
        .map_err(write_error(what))
}

impl ConfigLog {
    /// Creates the config topic if missing, checks it has one partition, and reads it
    /// to the end. Afterwards the log is tailed in the background.
    pub async fn start(cfg: &KafkaStorageConfig) -> Result<Self> {
        let spec = &cfg.topics.config;
        ensure_topic(&cfg.admin, spec).await?;
        let (restarts, restart_rx) = mpsc::unbounded_channel();
        let (loggers, logger_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Mutex::new(Shared {
            state: ConfigLogState::new(),
            started: false,
            early: Vec::new(),
            restarts,
            loggers,
        }));
        let (offset_tx, offsets) = watch::channel(-1_i64);
        let handler = {
            let shared = shared.clone();
            Box::new(move |r: LogRecord| {
                let mut s = lock(&shared);
                let update = s
                    .state
                    .apply(r.key.as_deref(), r.value.as_deref(), r.offset);
                let offset = s.state.offset();
                if let Some(u) = update {
                    if s.started {
                        s.forward(u);
                    } else if matches!(
                        u,
                        ConfigUpdate::Restart(_) | ConfigUpdate::LoggerLevel { .. }
                    ) {
                        s.early.push((r.offset, u));
                    }
                }
                drop(s);
                offset_tx.send_replace(offset);
            })
        };
        let log = KafkaBasedLog::start(cfg.log_settings(&spec.name, "configs"), handler).await?;
        if log.partition_count() > 1 {
            return Err(ConnectError::config(format!(
                "Topic '{}' supplied via the '{}' property is required to have a single partition \
                 in order to guarantee consistency of connector configurations, but found {} partitions.",
                spec.name,
                spec.name_key,
                log.partition_count()
            )));
        }
        {
            // Everything before the end offset seen at start is history.
            let start_end = log.start_end_offsets().get(&0).copied().unwrap_or(0);
            let mut s = lock(&shared);
            s.started = true;
            let early = std::mem::take(&mut s.early);
            for (offset, u) in early {
                if offset >= start_end {
                    s.forward(u);
                }
            }
        }
        Ok(ConfigLog {
            log,
            shared,
            offsets,
            restart_rx: Mutex::new(Some(restart_rx)),
            logger_rx: Mutex::new(Some(logger_rx)),
        })
    }

    /// The state as far as it has been read.
    /// The config topic's name.
    pub fn topic(&self) -> &str {
        self.log.topic()
    }

    pub fn snapshot(&self) -> ClusterConfigState {
        lock(&self.shared).state.snapshot()
    }

    pub fn contains(&self, connector: &str) -> bool {
        lock(&self.shared).state.contains(connector)
    }

    /// Notified with the config offset after each record is applied.
    pub fn offsets(&self) -> watch::Receiver<i64> {
        self.offsets.clone()
    }

    /// Restart requests read after start-up, once; `None` if already taken.
    pub fn take_restart_requests(&self) -> Option<mpsc::UnboundedReceiver<RestartRequest>> {
        lock(&self.restart_rx).take()
    }

    /// Cluster-wide logger levels (`namespace`, `level`) read after start-up, once.
    pub fn take_logger_levels(&self) -> Option<mpsc::UnboundedReceiver<(String, String)>> {
        lock(&self.logger_rx).take()
    }

    /// Waits until everything in the topic has been applied.
    pub async fn read_to_end(&self) -> Result<()> {
        tokio::time::timeout(READ_WRITE_TIMEOUT, self.log.read_to_end())
            .await
            .map_err(|_| {
                ConnectError::external("Timed out reading to the end of the config log", true)
            })?
    }

    async fn send_all(&self, records: Vec<(String, Option<Vec<u8>>)>) -> Result<()> {
        let acks: Vec<_> = records
            .iter()
            .map(|(k, v)| self.log.send(k.as_bytes(), v.as_deref()))
            .collect();
        for ack in acks {
            ack.await?;
        }
        Ok(())
    }

    /// Writes a connector's config (after its initial target state, if given) and
    /// reads it back.
    pub async fn put_connector_config(
        &self,
        name: &str,
        props: &Props,
        target_state: Option<TargetState>,
    ) -> Result<()> {
        let mut records = Vec::new();
        if let Some(s) = target_state {
            records.push((target_state_key(name), Some(target_state_value(s))));
        }
        records.push((connector_key(name), Some(properties_value(props))));
        bounded("connector configuration", async {
            self.send_all(records).await?;
            self.log.read_to_end().await
        })
        .await
    }

    /// Deletes a connector: tombstones for its config and its target state.
    pub async fn remove_connector(&self, name: &str) -> Result<()> {
        bounded("connector removal", async {
            self.send_all(vec![
                (connector_key(name), None),
                (target_state_key(name), None),
            ])
            .await?;
            self.log.read_to_end().await
        })
        .await
    }

    /// Writes every task config, reads them back, then the commit that makes them
    /// take effect, and reads that back. A crash before the commit leaves the old
    /// configs in effect.
    pub async fn put_task_configs(&self, name: &str, configs: &[Props]) -> Result<()> {
        let count = u32::try_from(configs.len())
            .map_err(|_| ConnectError::config(format!("too many task configs for {name}")))?;
        bounded("task configurations", async {
            self.log.read_to_end().await?;
            let records = configs
                .iter()
                .zip(0..)
                .map(|(props, i)| (task_key(name, i), Some(properties_value(props))))
                .collect();
            self.send_all(records).await?;
            if count > 0 {
                self.log.read_to_end().await?;
            }
            self.send_all(vec![(commit_key(name), Some(commit_value(count)))])
                .await?;
            self.log.read_to_end().await
        })
        .await
    }

    /// Writes a target state; returns once Kafka acknowledged it (like Kafka, without
    /// waiting to read it back).
    pub async fn put_target_state(&self, name: &str, state: TargetState) -> Result<()> {
        bounded("target state", async {
            self.send_all(vec![(
                target_state_key(name),
                Some(target_state_value(state)),
            )])
            .await
        })
        .await
    }

    pub async fn put_restart_request(
        &self,
        name: &str,
        include_tasks: bool,
        only_failed: bool,
    ) -> Result<()> {
        bounded("restart request", async {
            self.send_all(vec![(
                restart_key(name),
                Some(restart_value(include_tasks, only_failed)),
            )])
            .await?;
            self.log.read_to_end().await
        })
        .await
    }

    pub async fn put_session_key(&self, key: &SessionKey) -> Result<()> {
        bounded("session key", async {
            self.send_all(vec![(
                SESSION_KEY_KEY.to_owned(),
                Some(session_key_value(key)),
            )])
            .await?;
            self.log.read_to_end().await
        })
        .await
    }

    pub async fn put_task_count_record(&self, name: &str, count: u32) -> Result<()> {
        bounded("task count record", async {
            self.send_all(vec![(
                task_count_record_key(name),
                Some(task_count_record_value(count)),
            )])
            .await?;
            self.log.read_to_end().await
        })
        .await
    }

    /// A cluster-wide logger level (`PUT /admin/loggers/NS?scope=cluster`).
    pub async fn put_logger_level(&self, namespace: &str, level: &str) -> Result<()> {
        bounded("logger level", async {
            self.send_all(vec![(
                logger_level_key(namespace),
                Some(logger_level_value(level)),
            )])
            .await
        })
        .await
    }

    /// Stops tailing the topic.
    pub fn stop(&self) {
        self.log.stop();
    }
}
