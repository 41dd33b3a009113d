//! The Kafka-backed stores (config, status and offsets topics).
//!
//! Two kinds of tests:
//! - replays of what Apache Kafka Connect 4.3.1 wrote to its internal topics
//!   (`e2e/reference/internal-topics/`, recorded by
//!   `e2e/reference/record_internal_topics.py`): Ferry must read them to the exact
//!   state Connect was in, and write the same bytes for the same content;
//! - round trips against the real broker started by `e2e/services up kafka`
//!   (KAFKA_BOOTSTRAP_SERVERS), including a live check against a running Java
//!   distributed worker (KAFKA_CONNECT_DISTRIBUTED_URL, `e2e/services up kafka-connect-distributed`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry_runtime::config::Props;
use ferry_runtime::config::worker::WorkerConfig;
use ferry_runtime::storage::kafka::config_log::{self, ConfigLogState, ConfigUpdate};
use ferry_runtime::storage::kafka::json::{canonical, to_java_json};
use ferry_runtime::storage::kafka::offsets::{
    offset_record_key, offset_record_value, parse_offset_record,
};
use ferry_runtime::storage::kafka::status_log::{
    self, StatusRecord, TopicStatus, parse_status_record, status_value, topic_status_value,
};
use ferry_runtime::storage::kafka::topics::{TopicOutcome, ensure_topic};
use ferry_runtime::storage::kafka::{
    ConfigLog, KafkaBasedLog, KafkaOffsetStore, KafkaStatusLog, KafkaStorageConfig, LogRecord,
    LogSettings, SessionKey,
};
use ferry_runtime::storage::{OffsetStore, State, StatusStore, TaskStatus};
use ferry_runtime::worker::TargetState;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::{Value as Json, json};

// ---------------------------------------------------------------------------
// helpers

fn bootstrap() -> String {
    std::env::var("KAFKA_BOOTSTRAP_SERVERS").expect(
        "KAFKA_BOOTSTRAP_SERVERS is not set: run `e2e/services up kafka && eval \"$(e2e/services env)\"` first",
    )
}

fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{prefix}-{}-{nanos}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn props(pairs: &[(&str, &str)]) -> Props {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// A worker configuration with fresh internal topics (replication factor 1).
fn worker(extra: &[(&str, &str)]) -> WorkerConfig {
    let id = unique("ferry-kstore");
    let mut p = props(&[
        ("bootstrap.servers", &bootstrap()),
        ("group.id", &id),
        ("config.storage.topic", &format!("{id}-configs")),
        ("offset.storage.topic", &format!("{id}-offsets")),
        ("status.storage.topic", &format!("{id}-status")),
        ("config.storage.replication.factor", "1"),
        ("offset.storage.replication.factor", "1"),
        ("status.storage.replication.factor", "1"),
        ("offset.storage.partitions", "5"),
        ("status.storage.partitions", "3"),
    ]);
    for (k, v) in extra {
        p.insert((*k).to_owned(), (*v).to_owned());
    }
    WorkerConfig::distributed(&p).unwrap()
}

fn storage(extra: &[(&str, &str)]) -> KafkaStorageConfig {
    KafkaStorageConfig::from_worker(&worker(extra)).unwrap()
}

fn admin() -> AdminClient<DefaultClientContext> {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap())
        .create()
        .unwrap()
}

async fn create_topic(name: &str, partitions: i32, configs: &[(&str, &str)]) {
    let mut t = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
    for (k, v) in configs {
        t = t.set(k, v);
    }
    let r = admin()
        .create_topics([&t], &AdminOptions::new())
        .await
        .unwrap();
    r[0].as_ref().unwrap();
}

fn partition_count(topic: &str) -> usize {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap())
        .create()
        .unwrap();
    let md = c
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .unwrap();
    md.topics()[0].partitions().len()
}

async fn cleanup_policy(topic: &str) -> String {
    let r = admin()
        .describe_configs([&ResourceSpecifier::Topic(topic)], &AdminOptions::new())
        .await
        .unwrap();
    let res = r.into_iter().next().unwrap().unwrap();
    res.get("cleanup.policy").unwrap().value.clone().unwrap()
}

fn producer() -> FutureProducer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap())
        .set("partitioner", "murmur2_random")
        .create()
        .unwrap()
}

/// Writes a raw record, as another (possibly broken) worker would.
async fn produce(p: &FutureProducer, topic: &str, key: Option<&str>, value: Option<&str>) {
    let mut r: FutureRecord<'_, str, str> = FutureRecord::to(topic);
    if let Some(k) = key {
        r = r.key(k);
    }
    if let Some(v) = value {
        r = r.payload(v);
    }
    p.send(r, Duration::from_secs(10)).await.unwrap();
}

/// Every record of a topic, read to its end.
fn read_all(topic: &str) -> Vec<LogRecord> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap())
        .set("enable.partition.eof", "false")
        .set("group.id", "ferry-kstore-reader")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let md = c
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .unwrap();
    let mut tpl = rdkafka::TopicPartitionList::new();
    let mut ends = BTreeMap::new();
    for p in md.topics()[0].partitions() {
        tpl.add_partition_offset(topic, p.id(), rdkafka::Offset::Beginning)
            .unwrap();
        let (_, hi) = c
            .fetch_watermarks(topic, p.id(), Duration::from_secs(10))
            .unwrap();
        ends.insert(p.id(), hi);
    }
    c.assign(&tpl).unwrap();
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen: BTreeMap<i32, i64> = BTreeMap::new();
    while ends
        .iter()
        .any(|(p, e)| *e > 0 && seen.get(p).copied().unwrap_or(0) < *e)
    {
        assert!(Instant::now() < deadline, "timed out reading {topic}");
        if let Some(m) = c.poll(Duration::from_millis(200)) {
            use rdkafka::Message;
            let m = m.unwrap();
            seen.insert(m.partition(), m.offset() + 1);
            out.push(LogRecord {
                key: m.key().map(<[u8]>::to_vec),
                value: m.payload().map(<[u8]>::to_vec),
                partition: m.partition(),
                offset: m.offset(),
            });
        }
    }
    out.sort_by_key(|r| (r.partition, r.offset));
    out
}

fn status(state: State, worker: &str, generation: i32) -> TaskStatus {
    TaskStatus {
        state,
        trace: None,
        worker_id: worker.to_owned(),
        generation,
    }
}

async fn eventually<F: FnMut() -> bool>(what: &str, mut f: F) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ---------------------------------------------------------------------------
// fixtures recorded from Apache Kafka Connect 4.3.1

#[derive(Debug, Clone, serde::Deserialize)]
struct FixtureRecord {
    partition: i32,
    offset: i64,
    key: Option<String>,
    value: Option<String>,
}

/// Recorded with exactly-once source support off, and on (transactional config
/// writes, `tasks-fencing-` records).
const FIXTURE_SETS: [&str; 2] = ["internal-topics", "internal-topics-eos"];

fn fixture_dir(set: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../e2e/reference")
        .join(set)
}

fn fixture(set: &str, name: &str) -> Vec<FixtureRecord> {
    let path = fixture_dir(set).join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn actions(set: &str) -> Vec<Json> {
    let path = fixture_dir(set).join("actions.json");
    let doc: Json = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    doc["actions"].as_array().unwrap().clone()
}

fn as_props(v: &Json) -> Props {
    v.as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect()
}

/// Kafka's `Utils.murmur2` and `toPositive(h) % n`: the partition Java's producer picks.
fn java_partition(key: &[u8], partitions: u32) -> i32 {
    const M: u32 = 0x5bd1_e995;
    let len = key.len();
    let mut h: u32 = 0x9747_b28c ^ (len as u32);
    for chunk in key.chunks_exact(4) {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> 24;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = &key[len & !3..];
    if tail.len() >= 3 {
        h ^= u32::from(tail[2]) << 16;
    }
    if tail.len() >= 2 {
        h ^= u32::from(tail[1]) << 8;
    }
    if !tail.is_empty() {
        h ^= u32::from(tail[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    ((h & 0x7fff_ffff) % partitions) as i32
}

#[test]
fn java_config_topic_replays_to_the_state_connect_was_in() {
    for set in FIXTURE_SETS {
        replay_config(set);
    }
}

fn replay_config(set: &str) {
    let records = fixture(set, "config.jsonl");
    let actions = actions(set);
    let mut state = ConfigLogState::new();
    let mut updates: Vec<(i64, ConfigUpdate)> = Vec::new();
    let mut next = 0usize;
    for action in &actions {
        let end = action["config_end_offset"].as_i64().unwrap();
        while next < records.len() && records[next].offset < end {
            let r = &records[next];
            if let Some(u) = state.apply(
                r.key.as_deref().map(str::as_bytes),
                r.value.as_deref().map(str::as_bytes),
                r.offset,
            ) {
                updates.push((r.offset, u));
            }
            next += 1;
        }
        let snap = state.snapshot();
        // The end offset also counts transaction markers (exactly-once workers).
        let last = records[..next].last().map_or(-1, |r| r.offset + 1);
        assert_eq!(snap.offset, last, "{action}");
        assert!(snap.offset <= end, "{action}");
        let name = action["connector"].as_str().unwrap_or_default();
        match action["action"].as_str().unwrap() {
            "start" => {
                let key = snap.session_key.as_ref().expect("session key");
                assert_eq!(key.algorithm, "HmacSHA256");
                assert_eq!(key.key.len(), 32);
                assert!(key.creation_timestamp > 1_600_000_000_000);
                assert!(snap.connectors.is_empty());
            }
            "create" | "update" => {
                let mut want = as_props(&action["config"]);
                want.insert("name".into(), name.into());
                assert_eq!(snap.connectors[name], want, "{action}");
                let initial = match action["initial_state"].as_str() {
                    Some("PAUSED") => TargetState::Paused,
                    Some("STOPPED") => TargetState::Stopped,
                    _ => TargetState::Started,
                };
                assert_eq!(snap.target_states[name], initial, "{action}");
                if initial == TargetState::Started {
                    let tasks = &snap.task_configs[name];
                    let max: usize = want["tasks.max"].parse().unwrap();
                    assert_eq!(tasks.len(), max, "{action}");
                    for t in tasks {
                        assert!(
                            t["task.class"].starts_with("org.apache.kafka.connect.file.FileStream")
                        );
                        assert_eq!(t["file"], want["file"]);
                    }
                } else {
                    assert!(!snap.task_configs.contains_key(name), "{action}");
                }
                assert!(snap.inconsistent.is_empty());
            }
            "pause" => assert_eq!(snap.target_states[name], TargetState::Paused),
            "resume" => {
                assert_eq!(snap.target_states[name], TargetState::Started);
                assert_eq!(snap.task_configs[name].len(), 1);
            }
            "stop" => {
                assert_eq!(snap.target_states[name], TargetState::Stopped);
                // Stopping commits zero tasks.
                assert_eq!(snap.task_configs[name], Vec::<Props>::new());
            }
            "restart" => {
                let (_, last) = updates.last().unwrap();
                assert_eq!(
                    last,
                    &ConfigUpdate::Restart(config_log::RestartRequest {
                        connector: name.into(),
                        include_tasks: action["include_tasks"].as_bool().unwrap(),
                        only_failed: action["only_failed"].as_bool().unwrap(),
                    })
                );
            }
            "logger-level" => {
                let (_, last) = updates.last().unwrap();
                assert_eq!(
                    last,
                    &ConfigUpdate::LoggerLevel {
                        namespace: action["namespace"].as_str().unwrap().into(),
                        level: action["level"].as_str().unwrap().into(),
                    }
                );
            }
            "delete" => {
                assert!(!snap.connectors.contains_key(name));
                assert!(!snap.target_states.contains_key(name));
                assert!(!snap.task_configs.contains_key(name));
            }
            "offsets-flushed" | "patch-offsets" | "reset-topics" => {}
            other => panic!("unknown action {other}"),
        }
    }
    assert_eq!(next, records.len(), "records after the last action");
    let snap = state.snapshot();
    assert_eq!(
        snap.connectors.keys().collect::<Vec<_>>(),
        ["ref-source", "ref-stopped"]
    );
    // Applied twice (at creation, after resuming from STOPPED); the zero-task commit
    // of the stop applied nothing.
    assert_eq!(snap.task_config_generations["ref-source"], 1);
    if set.ends_with("-eos") {
        // The leader fenced the source's task producers after its last commit.
        assert_eq!(snap.task_count_records["ref-source"], 1);
        assert!(!snap.pending_fencing.contains("ref-source"));
    } else {
        assert!(snap.task_count_records.is_empty());
        assert!(snap.pending_fencing.contains("ref-source"));
    }
}

#[test]
fn ferry_writes_config_records_byte_for_byte_like_java() {
    for set in FIXTURE_SETS {
        compare_config_bytes(set);
    }
}

fn compare_config_bytes(set: &str) {
    let mut checked = 0;
    for r in fixture(set, "config.jsonl") {
        let key = r.key.as_deref().unwrap();
        let Some(value) = r.value.as_deref() else {
            continue; // tombstones have no bytes to compare
        };
        let json: Json = serde_json::from_str(value).unwrap();
        let ours = if let Some(name) = key.strip_prefix("connector-") {
            assert_eq!(config_log::connector_key(name), key);
            Some(config_log::properties_value(&as_props(&json["properties"])))
        } else if let Some(rest) = key.strip_prefix("task-") {
            let (name, task) = config_log::parse_task_key(key).unwrap();
            assert_eq!(config_log::task_key(&name, task), key, "{rest}");
            Some(config_log::properties_value(&as_props(&json["properties"])))
        } else if let Some(name) = key.strip_prefix("commit-") {
            assert_eq!(config_log::commit_key(name), key);
            Some(config_log::commit_value(
                json["tasks"].as_u64().unwrap() as u32
            ))
        } else if let Some(name) = key.strip_prefix("target-state-") {
            assert_eq!(config_log::target_state_key(name), key);
            let state = match json["state.v2"].as_str().unwrap() {
                "STARTED" => TargetState::Started,
                "PAUSED" => TargetState::Paused,
                _ => TargetState::Stopped,
            };
            Some(config_log::target_state_value(state))
        } else if let Some(name) = key.strip_prefix("restart-connector-") {
            assert_eq!(config_log::restart_key(name), key);
            Some(config_log::restart_value(
                json["include-tasks"].as_bool().unwrap(),
                json["only-failed"].as_bool().unwrap(),
            ))
        } else if let Some(ns) = key.strip_prefix("logger-cluster-") {
            assert_eq!(config_log::logger_level_key(ns), key);
            Some(config_log::logger_level_value(
                json["level"].as_str().unwrap(),
            ))
        } else if let Some(name) = key.strip_prefix("tasks-fencing-") {
            assert_eq!(config_log::task_count_record_key(name), key);
            Some(config_log::task_count_record_value(
                json["task-count"].as_u64().unwrap() as u32,
            ))
        } else if key == "session-key" {
            use base64::Engine;
            Some(config_log::session_key_value(&SessionKey {
                key: base64::engine::general_purpose::STANDARD
                    .decode(json["key"].as_str().unwrap())
                    .unwrap(),
                algorithm: json["algorithm"].as_str().unwrap().into(),
                creation_timestamp: json["creation-timestamp"].as_i64().unwrap(),
            }))
        } else {
            panic!("unexpected key {key}")
        };
        let ours = String::from_utf8(ours.unwrap()).unwrap();
        if json.get("properties").is_some() {
            // Java writes a connector's properties in its map's order; Ferry's are
            // sorted. Same content, same formatting.
            assert_eq!(ours, to_java_json(&canonical(&json)), "{key}");
        } else {
            assert_eq!(ours, value, "{key}");
        }
        checked += 1;
    }
    assert!(checked >= 25, "only {checked} records checked");
}

#[test]
fn java_status_topic_replays_to_the_state_connect_was_in() {
    for set in FIXTURE_SETS {
        replay_status(set);
    }
}

fn replay_status(set: &str) {
    let store = StatusStore::default();
    let mut records = fixture(set, "status.jsonl");
    records.sort_by_key(|r| (r.partition, r.offset));
    for r in &records {
        let rec = parse_status_record(
            r.key.as_deref().unwrap(),
            r.value.as_deref().map(str::as_bytes),
        )
        .unwrap();
        status_log::apply_to(&store, rec);
    }
    assert_eq!(store.connector_names(), ["ref-source", "ref-stopped"]);
    let c = store.connector("ref-source").unwrap();
    assert_eq!(
        (c.state, c.worker_id.as_str()),
        (State::Running, "127.0.0.1:8083")
    );
    assert_eq!(
        store.connector_version("ref-source").as_deref(),
        Some("4.3.1")
    );
    let tasks = store.tasks("ref-source");
    assert_eq!(tasks.len(), 1);
    assert_eq!((tasks[0].0, tasks[0].1.state), (0, State::Running));
    assert_eq!(
        store.task_version("ref-source", 0).as_deref(),
        Some("4.3.1")
    );
    assert_eq!(store.topics("ref-source"), ["ferry-ref-internal-data"]);
    assert_eq!(
        store.connector("ref-stopped").unwrap().state,
        State::Stopped
    );
    assert!(store.connector("ref-sink").is_none() && store.tasks("ref-sink").is_empty());
    assert!(store.topics("ref-sink").is_empty());
    assert!(store.tasks("ref-failing").is_empty());
}

#[test]
fn ferry_writes_status_records_byte_for_byte_like_java() {
    for set in FIXTURE_SETS {
        compare_status_bytes(set);
    }
}

fn compare_status_bytes(set: &str) {
    let mut checked = 0;
    let mut failed_trace = false;
    for r in fixture(set, "status.jsonl") {
        let key = r.key.as_deref().unwrap();
        // Java's producer hashes keys with murmur2 over the 5 status partitions.
        assert_eq!(java_partition(key.as_bytes(), 5), r.partition, "{key}");
        let rec = parse_status_record(key, r.value.as_deref().map(str::as_bytes)).unwrap();
        let (our_key, ours) = match rec {
            StatusRecord::Connector { connector, status } => (
                status_log::connector_status_key(&connector),
                status.map(|(s, v)| status_value(&s, v.as_deref())),
            ),
            StatusRecord::Task {
                connector,
                task,
                status,
            } => {
                if let Some((s, _)) = &status {
                    failed_trace |= s.state == State::Failed && s.trace.is_some();
                }
                (
                    status_log::task_status_key(&connector, task),
                    status.map(|(s, v)| status_value(&s, v.as_deref())),
                )
            }
            StatusRecord::Topic {
                connector,
                topic,
                status,
            } => {
                if let Some(s) = &status {
                    assert_eq!((&s.topic, &s.connector), (&topic, &connector));
                }
                (
                    status_log::topic_status_key(&connector, &topic),
                    status.as_ref().map(topic_status_value),
                )
            }
        };
        assert_eq!(our_key, key);
        assert_eq!(
            ours.map(|b| String::from_utf8(b).unwrap()),
            r.value,
            "{key}"
        );
        checked += 1;
    }
    assert!(failed_trace, "the fixture has a FAILED task with a trace");
    assert!(checked >= 50, "only {checked} records checked");
}

#[test]
fn java_offsets_topic_replays_and_ferry_writes_the_same_bytes() {
    for set in FIXTURE_SETS {
        replay_and_compare_offsets(set);
    }
}

fn replay_and_compare_offsets(set: &str) {
    let records = fixture(set, "offsets.jsonl");
    let mut last: Option<(String, Props, Option<Json>)> = None;
    for r in &records {
        let key = r.key.as_deref().unwrap();
        assert_eq!(java_partition(key.as_bytes(), 25), r.partition, "{key}");
        let (connector, partition, offset) =
            parse_offset_record(key.as_bytes(), r.value.as_deref().map(str::as_bytes)).unwrap();
        assert_eq!(
            String::from_utf8(offset_record_key(&connector, &partition)).unwrap(),
            key
        );
        assert_eq!(
            offset
                .as_ref()
                .map(|o| String::from_utf8(offset_record_value(o)).unwrap()),
            r.value
        );
        last = Some((
            connector,
            partition
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                .collect(),
            offset.map(Json::Object),
        ));
    }
    let (connector, partition, offset) = last.unwrap();
    assert_eq!(connector, "ref-source");
    assert_eq!(
        partition,
        props(&[("filename", "/tmp/ferry-ref-internal/source.txt")])
    );
    assert_eq!(offset, Some(json!({"position": 35})));
}

// ---------------------------------------------------------------------------
// against the broker

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_are_created_compacted_with_their_partitions() {
    let cfg = storage(&[("status.storage.min.insync.replicas", "1")]);
    for (spec, partitions) in [
        (&cfg.topics.config, 1),
        (&cfg.topics.offsets, 5),
        (&cfg.topics.status, 3),
    ] {
        assert_eq!(
            ensure_topic(&cfg.admin, spec).await.unwrap(),
            TopicOutcome::Created
        );
        assert_eq!(partition_count(&spec.name), partitions, "{}", spec.name);
        assert_eq!(cleanup_policy(&spec.name).await, "compact");
        // A second worker finds it and leaves it alone.
        assert_eq!(
            ensure_topic(&cfg.admin, spec).await.unwrap(),
            TopicOutcome::Existed
        );
    }

    // An existing topic that deletes old records is refused, like Kafka does.
    let deleting = unique("ferry-kstore-deleting");
    create_topic(&deleting, 1, &[("cleanup.policy", "delete")]).await;
    let mut spec = cfg.topics.status.clone();
    spec.name = deleting.clone();
    let err = ensure_topic(&cfg.admin, &spec)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!(
            "Topic '{deleting}' supplied via the 'status.storage.topic' property is required to have 'cleanup.policy=compact'"
        )) && err.contains("'cleanup.policy=delete'"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_topic_with_several_partitions_is_refused() {
    let cfg = storage(&[]);
    create_topic(&cfg.topics.config.name, 3, &[("cleanup.policy", "compact")]).await;
    let err = ConfigLog::start(&cfg).await.err().unwrap().to_string();
    assert_eq!(
        err,
        format!(
            "Topic '{}' supplied via the 'config.storage.topic' property is required to have a single \
             partition in order to guarantee consistency of connector configurations, but found 3 partitions.",
            cfg.topics.config.name
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_log_round_trip_between_two_workers() {
    let cfg = storage(&[]);
    let a = ConfigLog::start(&cfg).await.unwrap();
    let b = ConfigLog::start(&cfg).await.unwrap();
    let mut b_restarts = b.take_restart_requests().unwrap();
    assert!(b.take_restart_requests().is_none());
    let mut b_offsets = b.offsets();

    let conn = props(&[
        ("connector.class", "FileStreamSource"),
        ("name", "src"),
        ("tasks.max", "2"),
    ]);
    a.put_connector_config("src", &conn, None).await.unwrap();
    let tasks = vec![
        props(&[("task", "0"), ("file", "/a")]),
        props(&[("task", "1"), ("file", "/b")]),
    ];
    a.put_task_configs("src", &tasks).await.unwrap();
    let snap = a.snapshot();
    assert_eq!(snap.connectors["src"], conn);
    assert_eq!(snap.target_states["src"], TargetState::Started);
    assert_eq!(snap.task_configs["src"], tasks);
    // connector, task 0, task 1, commit.
    assert_eq!(snap.offset, 4);

    b.read_to_end().await.unwrap();
    assert_eq!(b.snapshot(), a.snapshot());
    assert_eq!(*b_offsets.borrow_and_update(), 4);

    for state in [
        TargetState::Paused,
        TargetState::Stopped,
        TargetState::Started,
        TargetState::Stopped,
    ] {
        a.put_target_state("src", state).await.unwrap();
        b.read_to_end().await.unwrap();
        assert_eq!(b.snapshot().target_states["src"], state);
    }

    // Created stopped: the target state is written first, in the same request.
    a.put_connector_config(
        "stopped",
        &props(&[("name", "stopped")]),
        Some(TargetState::Stopped),
    )
    .await
    .unwrap();
    b.read_to_end().await.unwrap();
    assert_eq!(b.snapshot().target_states["stopped"], TargetState::Stopped);
    assert!(!b.snapshot().task_configs.contains_key("stopped"));

    a.put_restart_request("src", true, false).await.unwrap();
    let req = tokio::time::timeout(Duration::from_secs(10), b_restarts.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (req.connector.as_str(), req.include_tasks, req.only_failed),
        ("src", true, false)
    );

    let key = SessionKey {
        key: vec![7; 32],
        algorithm: "HmacSHA256".into(),
        creation_timestamp: 1_700_000_000_000,
    };
    a.put_session_key(&key).await.unwrap();
    a.put_task_count_record("src", 2).await.unwrap();
    b.read_to_end().await.unwrap();
    let snap = b.snapshot();
    assert_eq!(snap.session_key, Some(key));
    assert_eq!(snap.task_count_records["src"], 2);
    assert!(!snap.pending_fencing.contains("src"));
    assert!(
        !format!("{snap:?}").contains("7, 7, 7"),
        "the key is not logged"
    );

    // Fewer tasks: the old task 1 config lingers in the topic but is not in effect.
    a.put_task_configs("src", &tasks[..1]).await.unwrap();
    b.read_to_end().await.unwrap();
    assert_eq!(b.snapshot().task_configs["src"], tasks[..1].to_vec());

    a.remove_connector("src").await.unwrap();
    b.read_to_end().await.unwrap();
    let snap = b.snapshot();
    assert!(!snap.connectors.contains_key("src"));
    assert!(!snap.target_states.contains_key("src"));
    assert!(!snap.task_configs.contains_key("src"));
    assert!(snap.connectors.contains_key("stopped"));

    // A third worker starting now reads the same state from the topic, and is not
    // handed the restart request that was history when it started.
    let c = ConfigLog::start(&cfg).await.unwrap();
    assert_eq!(c.snapshot(), b.snapshot());
    let mut c_restarts = c.take_restart_requests().unwrap();
    assert!(c_restarts.try_recv().is_err());

    // The records are Kafka Connect's: check a few raw ones.
    let raw = read_all(&cfg.topics.config.name);
    let text: Vec<(String, Option<String>)> = raw
        .iter()
        .map(|r| {
            (
                String::from_utf8(r.key.clone().unwrap()).unwrap(),
                r.value.clone().map(|v| String::from_utf8(v).unwrap()),
            )
        })
        .collect();
    assert_eq!(
        text[0],
        (
            "connector-src".into(),
            Some(r#"{"properties":{"connector.class":"FileStreamSource","name":"src","tasks.max":"2"}}"#.into())
        )
    );
    assert_eq!(
        text[3],
        ("commit-src".into(), Some(r#"{"tasks":2}"#.into()))
    );
    assert!(text.contains(&(
        "target-state-src".into(),
        Some(r#"{"state":"PAUSED","state.v2":"STOPPED"}"#.into())
    )));
    assert!(text.contains(&("connector-src".into(), None)));
    assert!(text.contains(&("target-state-src".into(), None)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_configs_take_effect_only_with_a_complete_commit() {
    let cfg = storage(&[]);
    let log = ConfigLog::start(&cfg).await.unwrap();
    let topic = cfg.topics.config.name.clone();
    let p = producer();
    let props_json = r#"{"properties":{"k":"v"}}"#;

    produce(&p, &topic, Some("connector-c"), Some(props_json)).await;
    // Task configs without their commit: the leader died before writing it.
    produce(&p, &topic, Some("task-c-0"), Some(props_json)).await;
    produce(&p, &topic, Some("task-c-1"), Some(props_json)).await;
    log.read_to_end().await.unwrap();
    let snap = log.snapshot();
    assert!(snap.connectors.contains_key("c"));
    assert!(
        !snap.task_configs.contains_key("c"),
        "uncommitted tasks are not visible"
    );
    assert!(snap.inconsistent.is_empty());

    // A later commit applies them.
    produce(&p, &topic, Some("commit-c"), Some(r#"{"tasks":2}"#)).await;
    log.read_to_end().await.unwrap();
    assert_eq!(log.snapshot().task_configs["c"].len(), 2);

    // A new leader writes one task config and dies; then a commit that names two
    // tasks arrives without task 1 (what compaction can leave): inconsistent, and
    // the previous configs are no longer offered.
    produce(
        &p,
        &topic,
        Some("task-c-0"),
        Some(r#"{"properties":{"k":"new"}}"#),
    )
    .await;
    produce(&p, &topic, Some("commit-c"), Some(r#"{"tasks":2}"#)).await;
    log.read_to_end().await.unwrap();
    let snap = log.snapshot();
    assert!(snap.inconsistent.contains("c"));
    assert!(!snap.task_configs.contains_key("c"));

    // Re-committing a complete set (what the herder does) fixes it.
    log.put_task_configs("c", &[props(&[("k", "fixed")])])
        .await
        .unwrap();
    let snap = log.snapshot();
    assert!(snap.inconsistent.is_empty());
    assert_eq!(snap.task_configs["c"], vec![props(&[("k", "fixed")])]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unparseable_config_records_are_skipped() {
    let cfg = storage(&[]);
    let topic = cfg.topics.config.name.clone();
    ensure_topic(&cfg.admin, &cfg.topics.config).await.unwrap();
    let p = producer();
    produce(&p, &topic, Some("connector-bad"), Some("{not json")).await;
    produce(
        &p,
        &topic,
        Some("connector-bad2"),
        Some(r#"{"properties":[1,2]}"#),
    )
    .await;
    produce(
        &p,
        &topic,
        Some("connector-ok"),
        Some(r#"{"properties":{"a":"b"}}"#),
    )
    .await;
    produce(&p, &topic, Some("task-ok-x"), Some(r#"{"properties":{}}"#)).await;
    produce(&p, &topic, Some("commit-ok"), Some(r#"{"tasks":"two"}"#)).await;
    produce(
        &p,
        &topic,
        Some("target-state-ok"),
        Some(r#"{"state":"SLEEPING"}"#),
    )
    .await;
    produce(
        &p,
        &topic,
        Some("session-key"),
        Some(r#"{"key":"%%%","algorithm":"x","creation-timestamp":1}"#),
    )
    .await;
    produce(&p, &topic, Some("restart-connector-ok"), None).await;
    produce(&p, &topic, Some("who-knows"), Some("[]")).await;
    produce(
        &p,
        &topic,
        Some("target-state-ok"),
        Some(r#"{"state":"PAUSED","state.v2":42}"#),
    )
    .await;
    let log = ConfigLog::start(&cfg).await.unwrap();
    let snap = log.snapshot();
    assert_eq!(snap.connectors.keys().collect::<Vec<_>>(), ["ok"]);
    // The last record fell back on the legacy field.
    assert_eq!(snap.target_states["ok"], TargetState::Paused);
    assert!(snap.session_key.is_none());
    assert!(snap.task_configs.is_empty());
    // Every record but the non-JSON one counts toward the offset.
    assert_eq!(snap.offset, 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statuses_round_trip_between_two_workers() {
    let cfg = storage(&[]);
    let a_store = Arc::new(StatusStore::default());
    let b_store = Arc::new(StatusStore::default());
    let a = KafkaStatusLog::start(&cfg, a_store.clone()).await.unwrap();
    let b = KafkaStatusLog::start(&cfg, b_store.clone()).await.unwrap();

    a_store.set_plugin_version("conn", Some("1.2.3".into()));
    a_store.put_connector("conn", status(State::Running, "a:8083", 1));
    a_store.put_task("conn", 0, status(State::Running, "a:8083", 1));
    a_store.put_task(
        "conn",
        1,
        TaskStatus {
            state: State::Failed,
            trace: Some("java.lang.Exception: boom\n\tat x".into()),
            worker_id: "a:8083".into(),
            generation: 1,
        },
    );
    a_store.add_task_topic("conn", 1, "topic-x");
    a.flush().await.unwrap();
    b.read_to_end().await.unwrap();
    assert_eq!(b_store.connector("conn"), a_store.connector("conn"));
    assert_eq!(b_store.tasks("conn"), a_store.tasks("conn"));
    assert_eq!(b_store.topics("conn"), ["topic-x"]);
    assert_eq!(b_store.connector_version("conn").as_deref(), Some("1.2.3"));
    assert_eq!(b_store.task_version("conn", 1).as_deref(), Some("1.2.3"));

    // Another worker's UNASSIGNED from an older generation does not hide RUNNING.
    b_store.put_task("conn", 0, status(State::Unassigned, "b:8083", 0));
    b.flush().await.unwrap();
    a.read_to_end().await.unwrap();
    assert_eq!(a_store.task("conn", 0).unwrap().state, State::Running);
    // ...and a conditional write from an older generation is refused outright.
    assert!(!b_store.put_task_safe("conn", 1, status(State::Unassigned, "b:8083", 0)));
    assert!(b_store.put_task_safe("conn", 1, status(State::Unassigned, "b:8083", 2)));
    b.flush().await.unwrap();
    a.read_to_end().await.unwrap();
    let t1 = a_store.task("conn", 1).unwrap();
    assert_eq!((t1.state, t1.generation), (State::Unassigned, 2));
    assert_eq!(
        a_store.task_version("conn", 1),
        None,
        "UNASSIGNED has no version"
    );

    // Fewer tasks, topics reset, deletion: all tombstones, seen by the other worker.
    a_store.retain_tasks("conn", 1);
    a.flush().await.unwrap();
    b.read_to_end().await.unwrap();
    assert_eq!(b_store.tasks("conn").len(), 1);
    a_store.reset_topics("conn");
    a.flush().await.unwrap();
    b.read_to_end().await.unwrap();
    assert!(b_store.topics("conn").is_empty());
    a_store.remove("conn");
    a.flush().await.unwrap();
    b.read_to_end().await.unwrap();
    assert!(b_store.connector("conn").is_none());
    assert!(b_store.tasks("conn").is_empty());
    assert!(b_store.connector_names().is_empty());

    // A worker starting later reads the same (empty) state; raw records are Java's.
    let raw = read_all(&cfg.topics.status.name);
    let first_connector = raw
        .iter()
        .find(|r| r.key.as_deref() == Some(b"status-connector-conn".as_slice()))
        .unwrap();
    assert_eq!(
        String::from_utf8(first_connector.value.clone().unwrap()).unwrap(),
        r#"{"state":"RUNNING","trace":null,"worker_id":"a:8083","generation":1,"version":"1.2.3"}"#
    );
    // Same partition as Java's producer would have picked.
    for r in &raw {
        assert_eq!(java_partition(r.key.as_deref().unwrap(), 3), r.partition);
    }
    let topic_rec = raw
        .iter()
        .find(|r| r.key.as_deref() == Some(b"status-topic-topic-x:connector-conn".as_slice()))
        .unwrap();
    let v: Json = serde_json::from_slice(topic_rec.value.as_deref().unwrap()).unwrap();
    assert_eq!(v["topic"]["task"], 1);
    let c_store = Arc::new(StatusStore::default());
    let _c = KafkaStatusLog::start(&cfg, c_store.clone()).await.unwrap();
    assert!(c_store.connector_names().is_empty());
    drop(a);
    // After its log stopped, the store still works, in memory.
    a_store.put_connector("later", status(State::Running, "a:8083", 3));
    assert_eq!(a_store.connector("later").unwrap().generation, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_round_trip_with_tombstones_and_java_keys() {
    let cfg = storage(&[]);
    let a = KafkaOffsetStore::start(&cfg).await.unwrap();
    let part = |f: &str| json!({"filename": f}).as_object().cloned().unwrap();
    let off = |p: u64| json!({"position": p}).as_object().cloned().unwrap();
    a.put(
        "conn",
        vec![(part("/x"), Some(off(10))), (part("/y"), Some(off(3)))],
    )
    .await
    .unwrap();
    // Read-your-writes: put returns after the records were read back.
    assert_eq!(a.get("conn", &part("/x")), Some(off(10)));
    a.put("other", vec![(part("/x"), Some(off(99)))])
        .await
        .unwrap();
    a.put("conn", vec![(part("/y"), None)]).await.unwrap();
    assert_eq!(a.get("conn", &part("/y")), None);

    let b = KafkaOffsetStore::start(&cfg).await.unwrap();
    assert_eq!(b.get("conn", &part("/x")), Some(off(10)));
    assert_eq!(b.get("conn", &part("/y")), None);
    assert_eq!(b.get("other", &part("/x")), Some(off(99)));
    assert_eq!(b.connector_offsets("conn"), vec![(part("/x"), off(10))]);
    assert_eq!(b.connectors(), ["conn", "other"]);

    // A record written by a Java worker with another key order is the same
    // partition; Ferry's update reuses its key bytes so compaction replaces it.
    let topic = cfg.topics.offsets.name.clone();
    let java_key = r#"["conn",{"b":1,"a":"z"}]"#;
    produce(&producer(), &topic, Some(java_key), Some(r#"{"pos":1.5}"#)).await;
    b.read_to_end().await.unwrap();
    let multi = json!({"a": "z", "b": 1}).as_object().cloned().unwrap();
    assert_eq!(
        b.get("conn", &multi),
        Some(json!({"pos": 1.5}).as_object().cloned().unwrap())
    );
    b.put("conn", vec![(multi.clone(), Some(off(2)))])
        .await
        .unwrap();
    a.read_to_end().await.unwrap();
    assert_eq!(a.get("conn", &multi), Some(off(2)));

    let raw = read_all(&topic);
    let text: Vec<(String, Option<String>)> = raw
        .iter()
        .map(|r| {
            (
                String::from_utf8(r.key.clone().unwrap()).unwrap(),
                r.value.clone().map(|v| String::from_utf8(v).unwrap()),
            )
        })
        .collect();
    assert!(text.contains(&(
        r#"["conn",{"filename":"/x"}]"#.into(),
        Some(r#"{"position":10}"#.into())
    )));
    assert!(text.contains(&(r#"["conn",{"filename":"/y"}]"#.into(), None)));
    let last_multi: Vec<_> = text
        .iter()
        .filter(|(k, _)| k.contains(r#""b":1"#))
        .collect();
    assert_eq!(last_multi.len(), 2, "{last_multi:?}");
    assert!(last_multi.iter().all(|(k, _)| k == java_key));
    for r in &raw {
        assert_eq!(java_partition(r.key.as_deref().unwrap(), 5), r.partition);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn java_keys_land_on_the_partitions_java_chose() {
    // Write every key Java wrote to the 25-partition offsets topic and the 5-partition
    // status topic through Ferry's log, and compare partitions.
    for (file, partitions) in [("offsets.jsonl", 25), ("status.jsonl", 5)] {
        let topic = unique("ferry-kstore-partitioning");
        create_topic(&topic, partitions, &[("cleanup.policy", "compact")]).await;
        let cfg = storage(&[]);
        let log = KafkaBasedLog::start(
            LogSettings {
                topic: topic.clone(),
                producer: cfg.producer.clone(),
                consumer: cfg.consumer.clone(),
                client_id: "ferry-test".into(),
                group_id: cfg.group_id.clone(),
            },
            Box::new(|_| {}),
        )
        .await
        .unwrap();
        let keys: BTreeSet<(String, i32)> = fixture("internal-topics", file)
            .into_iter()
            .map(|r| (r.key.unwrap(), r.partition))
            .collect();
        for (key, partition) in keys {
            let ack = log.send(key.as_bytes(), Some(b"{}")).await.unwrap();
            assert_eq!(ack.partition, partition, "{file}: {key}");
        }
        log.read_to_end().await.unwrap();
    }
}

// ---------------------------------------------------------------------------
// against a running Apache Kafka Connect distributed worker

struct JavaConnect {
    url: String,
    config_topic: String,
    offset_topic: String,
}

fn java_connect() -> Option<JavaConnect> {
    let url = std::env::var("KAFKA_CONNECT_DISTRIBUTED_URL").ok()?;
    Some(JavaConnect {
        url,
        config_topic: std::env::var("KAFKA_CONNECT_DISTRIBUTED_CONFIG_TOPIC").ok()?,
        offset_topic: std::env::var("KAFKA_CONNECT_DISTRIBUTED_OFFSET_TOPIC").ok()?,
    })
}

async fn rest(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    body: Option<Json>,
) -> (u16, Json) {
    let mut req = client.request(method, url);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let code = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        code,
        serde_json::from_str(&text).unwrap_or(Json::String(text)),
    )
}

async fn java_status(client: &reqwest::Client, url: &str, name: &str) -> Option<(String, usize)> {
    let (code, st) = rest(
        client,
        reqwest::Method::GET,
        format!("{url}/connectors/{name}/status"),
        None,
    )
    .await;
    (code == 200).then(|| {
        (
            st["connector"]["state"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            st["tasks"].as_array().map(Vec::len).unwrap_or(0),
        )
    })
}

/// Ferry reads what a live Java worker writes, and the Java worker acts on what
/// Ferry writes: connector configs, target states and offsets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_java_connect_and_ferry_share_the_topics() {
    let java = java_connect().expect(
        "KAFKA_CONNECT_DISTRIBUTED_URL is not set: run `e2e/services up kafka-connect-distributed && eval \"$(e2e/services env)\"` (e2e/test does)",
    );
    let client = reqwest::Client::new();
    let url = java.url.trim_end_matches('/').to_owned();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("in.txt");
    std::fs::write(&file, "a\nb\nc\n").unwrap();
    let name = unique("ferry-live");
    let config = json!({
        "connector.class": "org.apache.kafka.connect.file.FileStreamSourceConnector",
        "tasks.max": "1",
        "file": file.to_str().unwrap(),
        "topic": unique("ferry-live-topic"),
    });
    let (code, body) = rest(
        &client,
        reqwest::Method::POST,
        format!("{url}/connectors"),
        Some(json!({"name": name, "config": config})),
    )
    .await;
    assert_eq!(code, 201, "{body}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while java_status(&client, &url, &name).await != Some(("RUNNING".into(), 1)) {
        assert!(Instant::now() < deadline, "Java did not run {name}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // Ferry reads Java's config topic.
    let mut cfg = storage(&[]);
    cfg.topics.config.name = java.config_topic.clone();
    cfg.topics.offsets.name = java.offset_topic.clone();
    let log = ConfigLog::start(&cfg).await.unwrap();
    let snap = log.snapshot();
    let mut want = as_props(&config);
    want.insert("name".into(), name.clone());
    assert_eq!(snap.connectors[&name], want);
    assert_eq!(snap.target_states[&name], TargetState::Started);
    assert_eq!(snap.task_configs[&name].len(), 1);
    assert_eq!(
        snap.task_configs[&name][0]["task.class"],
        "org.apache.kafka.connect.file.FileStreamSourceTask"
    );
    assert!(snap.session_key.is_some());

    // Java pauses; Ferry sees it by tailing.
    rest(
        &client,
        reqwest::Method::PUT,
        format!("{url}/connectors/{name}/pause"),
        None,
    )
    .await;
    eventually("Ferry to see PAUSED", || {
        log.snapshot().target_states.get(&name) == Some(&TargetState::Paused)
    })
    .await;

    // Ferry stops it the way Connect's leader does (zero task configs, then the
    // target state); Java obeys what Ferry wrote.
    log.put_task_configs(&name, &[]).await.unwrap();
    log.put_target_state(&name, TargetState::Stopped)
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while java_status(&client, &url, &name).await != Some(("STOPPED".into(), 0)) {
        assert!(Instant::now() < deadline, "Java did not stop {name}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    log.read_to_end().await.unwrap();
    assert_eq!(log.snapshot().task_configs[&name], Vec::<Props>::new());

    // Ferry writes an offset for Java's connector; Java reports it.
    let offsets = KafkaOffsetStore::start(&cfg).await.unwrap();
    let partition = json!({"filename": file.to_str().unwrap()})
        .as_object()
        .cloned()
        .unwrap();
    offsets
        .put(
            &name,
            vec![(
                partition,
                Some(json!({"position": 2}).as_object().cloned().unwrap()),
            )],
        )
        .await
        .unwrap();
    let (code, body) = rest(
        &client,
        reqwest::Method::GET,
        format!("{url}/connectors/{name}/offsets"),
        None,
    )
    .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        body["offsets"][0]["offset"],
        json!({"position": 2}),
        "{body}"
    );

    // A connector created by Ferry is picked up and run by Java.
    let ferry_made = unique("ferry-made");
    let mut ferry_config = want.clone();
    ferry_config.insert("name".into(), ferry_made.clone());
    log.put_connector_config(&ferry_made, &ferry_config, None)
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while java_status(&client, &url, &ferry_made).await != Some(("RUNNING".into(), 1)) {
        assert!(Instant::now() < deadline, "Java did not run {ferry_made}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // Ferry deletes both; Java forgets them.
    log.remove_connector(&ferry_made).await.unwrap();
    log.remove_connector(&name).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, list) = rest(
            &client,
            reqwest::Method::GET,
            format!("{url}/connectors"),
            None,
        )
        .await;
        let list: Vec<String> = serde_json::from_value(list).unwrap();
        if !list.contains(&name) && !list.contains(&ferry_made) {
            break;
        }
        assert!(Instant::now() < deadline, "Java still lists {list:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[test]
fn topic_status_value_matches_java_layout() {
    let v = topic_status_value(&TopicStatus {
        topic: "t".into(),
        connector: "c".into(),
        task: 2,
        discover_timestamp: 5,
    });
    assert_eq!(
        String::from_utf8(v).unwrap(),
        r#"{"topic":{"name":"t","connector":"c","task":2,"discoverTimestamp":5}}"#
    );
}

/// Writes `keys` in one committed transaction, as an exactly-once Java worker does.
async fn write_transaction(
    producer: Arc<rdkafka::producer::BaseProducer>,
    topic: String,
    keys: Vec<String>,
) {
    use rdkafka::producer::{BaseRecord, Producer};
    tokio::task::spawn_blocking(move || {
        producer.begin_transaction().unwrap();
        for k in &keys {
            producer
                .send(BaseRecord::to(&topic).key(k.as_str()).payload("{}"))
                .map_err(|(e, _)| e)
                .unwrap();
        }
        producer
            .commit_transaction(Duration::from_secs(30))
            .unwrap();
        wait_markers_written(&topic);
    })
    .await
    .unwrap();
}

/// Waits until every partition's last stable offset is its high watermark. A commit returns
/// once the transaction coordinator has recorded it; the markers reach the partitions after
/// that, and until they do a `read_committed` reader's end (the last stable offset) still
/// stops before the transaction, as Kafka Connect's reader's does.
fn wait_markers_written(topic: &str) {
    use rdkafka::{Offset, TopicPartitionList};
    let timeout = Duration::from_secs(10);
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap())
        .set("isolation.level", "read_committed")
        .create()
        .unwrap();
    let metadata = consumer.fetch_metadata(Some(topic), timeout).unwrap();
    let partitions: Vec<i32> = metadata.topics()[0]
        .partitions()
        .iter()
        .map(|p| p.id())
        .collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut query = TopicPartitionList::new();
        for p in &partitions {
            query.add_partition_offset(topic, *p, Offset::End).unwrap();
        }
        let stable = consumer.offsets_for_times(query, timeout).unwrap();
        let settled = stable.elements().iter().all(|e| {
            let (_, high) = consumer
                .fetch_watermarks(topic, e.partition(), timeout)
                .unwrap();
            e.offset() == Offset::Offset(high)
        });
        if settled {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the transaction markers of {topic} were not written within 30 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Topics written by an exactly-once Java worker end with transaction markers that are
/// never delivered; reading to the end must still finish.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_to_end_passes_transaction_markers() {
    use rdkafka::producer::Producer;
    let topic = unique("ferry-kstore-txn");
    create_topic(&topic, 2, &[("cleanup.policy", "compact")]).await;
    let txn: rdkafka::producer::BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap())
        .set("transactional.id", unique("ferry-kstore-txn-id"))
        .create()
        .unwrap();
    let txn = Arc::new(txn);
    {
        let txn = txn.clone();
        tokio::task::spawn_blocking(move || {
            txn.init_transactions(Duration::from_secs(30)).unwrap()
        })
        .await
        .unwrap();
    }
    let keys = |n: usize| (0..n).map(|i| format!("key-{i}")).collect::<Vec<_>>();
    write_transaction(txn.clone(), topic.clone(), keys(4)).await;

    let seen = Arc::new(std::sync::Mutex::new(0usize));
    let cfg = storage(&[]);
    let counter = seen.clone();
    let log = tokio::time::timeout(
        Duration::from_secs(30),
        KafkaBasedLog::start(
            cfg.log_settings(&topic, "txn"),
            Box::new(move |_| *counter.lock().unwrap() += 1),
        ),
    )
    .await
    .expect("start() waited forever for the transaction marker")
    .unwrap();
    assert_eq!(*seen.lock().unwrap(), 4);

    write_transaction(txn.clone(), topic.clone(), keys(6)).await;
    tokio::time::timeout(Duration::from_secs(30), log.read_to_end())
        .await
        .expect("read_to_end() waited forever for the transaction marker")
        .unwrap();
    assert_eq!(*seen.lock().unwrap(), 10);
}
