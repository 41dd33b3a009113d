//! The REST API of a real `ferry standalone` worker against the real broker, checked
//! against the answers recorded from Apache Kafka Connect 4.3.1 (e2e/reference/*.json).
//!
//! Each fixture is replayed with its names localised (the recorded `ref-source`, `ref-topic`,
//! `/tmp/ferry-ref` and `127.0.0.1:8083` become this test's unique names, temp dir and worker),
//! and the answer must equal the recorded one: status, body (field by field) and `Location`.
//! Where Ferry answers differently on purpose, the test says so and checks Ferry's answer.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use common::*;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);

/// A recorded Kafka Connect answer, localised for one test.
struct Fixture {
    method: String,
    path: String,
    body: Option<Value>,
    status: u16,
    location: Option<String>,
    answer: Value,
}

/// How the names of the recording map onto one test's names.
struct Names {
    dir: tempfile::TempDir,
    worker: Worker,
    subs: Vec<(String, String)>,
    source: String,
    sink: String,
    topic: String,
}

impl Names {
    /// Starts a worker and picks fresh names; writes the source file the recording used.
    async fn start() -> Names {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let worker = Worker::start(dir.path(), &worker_props(dir.path(), port), &[]).await;
        let source = unique("src");
        let sink = unique("sink");
        let topic = unique("topic");
        std::fs::write(
            dir.path().join("source.txt"),
            (0..5).map(|i| format!("line {i}\n")).collect::<String>(),
        )
        .unwrap();
        let subs = vec![
            (
                "/tmp/ferry-ref".to_owned(),
                dir.path().display().to_string(),
            ),
            ("127.0.0.1:8083".to_owned(), format!("127.0.0.1:{port}")),
            ("ref-source".to_owned(), source.clone()),
            ("ref-sink".to_owned(), sink.clone()),
            ("ref-paused".to_owned(), unique("paused")),
            ("ref-stopped".to_owned(), unique("stopped")),
            ("ref-put".to_owned(), unique("put")),
            ("ref-topic".to_owned(), topic.clone()),
        ];
        Names {
            dir,
            worker,
            subs,
            source,
            sink,
            topic,
        }
    }

    fn name(&self, recorded: &str) -> String {
        self.localise_str(recorded)
    }

    fn localise_str(&self, s: &str) -> String {
        self.subs
            .iter()
            .fold(s.to_owned(), |acc, (from, to)| acc.replace(from, to))
    }

    fn localise(&self, v: &Value) -> Value {
        match v {
            Value::String(s) => Value::String(self.localise_str(s)),
            Value::Array(a) => Value::Array(a.iter().map(|x| self.localise(x)).collect()),
            Value::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, x)| (self.localise_str(k), self.localise(x)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    fn fixture(&self, file: &str) -> Fixture {
        let path = format!("{}/../e2e/reference/{file}", env!("CARGO_MANIFEST_DIR"));
        let raw: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let f = self.localise(&raw);
        Fixture {
            method: f["request"]["method"].as_str().unwrap().to_owned(),
            path: f["request"]["path"].as_str().unwrap().to_owned(),
            body: Some(f["request"]["body"].clone()).filter(|b| !b.is_null()),
            status: f["status"].as_u64().unwrap() as u16,
            location: f["headers"]["location"].as_str().map(str::to_owned),
            answer: f["body"].clone(),
        }
    }

    /// Sends the fixture's request; answers Ferry's status, body and headers.
    async fn send(&self, file: &str) -> (Fixture, u16, Value, reqwest::header::HeaderMap) {
        let f = self.fixture(file);
        let (status, body, headers) = self.worker.call(&f.method, &f.path, f.body.clone()).await;
        (f, status, body, headers)
    }

    /// Replays a fixture: the same status, the same body, the same `Location`.
    async fn check(&self, file: &str) -> Value {
        let (f, status, body, headers) = self.send(file).await;
        assert_eq!(
            status, f.status,
            "{file}: {} {} answered {status}: {body}",
            f.method, f.path
        );
        assert_eq!(body, f.answer, "{file}: {} {}", f.method, f.path);
        let location = headers
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned());
        assert_eq!(location, f.location, "{file}: Location");
        if !body.is_null() {
            assert_eq!(headers["content-type"], "application/json", "{file}");
        }
        body
    }

    /// Replays a fixture whose status Ferry deliberately answers differently: the same
    /// message shape, Ferry's status.
    async fn check_error(&self, file: &str, ferry_status: u16) -> String {
        let (f, status, body, _) = self.send(file).await;
        assert_ne!(
            f.status, ferry_status,
            "{file}: this is not a difference any more"
        );
        assert_eq!(status, ferry_status, "{file}: {body}");
        error_message(&body, ferry_status)
    }

    async fn wait_state(&self, name: &str, state: &str, tasks: usize) -> Value {
        self.worker.wait_state(name, state, tasks).await
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// The message of an error answer, which must be exactly `{"error_code": code, "message": ".."}`.
fn error_message(body: &Value, code: u16) -> String {
    let obj = body
        .as_object()
        .unwrap_or_else(|| panic!("not an error object: {body}"));
    assert_eq!(obj.len(), 2, "{body}");
    assert_eq!(obj["error_code"], json!(code), "{body}");
    obj["message"].as_str().unwrap().to_owned()
}

async fn raw_call(w: &Worker, method: &str, path: &str, body: &str) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .request(
            reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
            format!("{}{path}", w.url),
        )
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (
        status,
        serde_json::from_str(&resp.text().await.unwrap()).unwrap(),
    )
}

/// `GET /connectors` as a set (the order of names is not part of the API).
async fn names(w: &Worker) -> BTreeSet<String> {
    let list = w.get("/connectors").await;
    list.as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_info_health_openapi_and_unknown_paths() {
    let n = Names::start().await;
    // GET /: Kafka's shape; the cluster id is the broker's own, once Ferry has asked for it.
    let cluster_id = {
        use rdkafka::consumer::{BaseConsumer, Consumer};
        let c: BaseConsumer = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", bootstrap())
            .create()
            .unwrap();
        tokio::task::spawn_blocking(move || c.client().fetch_cluster_id(Duration::from_secs(30)))
            .await
            .unwrap()
            .unwrap()
    };
    let root = wait_for("the cluster id in GET /", WAIT, || async {
        let r = n.worker.get("/").await;
        (!r["kafka_cluster_id"].is_null()).then_some(r)
    })
    .await;
    let reference = n.fixture("get_root.json").answer;
    assert_eq!(
        root.as_object().unwrap().keys().collect::<BTreeSet<_>>(),
        reference
            .as_object()
            .unwrap()
            .keys()
            .collect::<BTreeSet<_>>()
    );
    assert_eq!(root["version"], reference["version"]);
    assert!(
        root["commit"].as_str().unwrap().starts_with("ferry-"),
        "{root}"
    );
    assert_eq!(root["kafka_cluster_id"], json!(cluster_id));

    n.check("get_health.json").await;
    n.check("get_connectors_empty.json").await;

    // The served OpenAPI document is the committed one.
    let served = n.worker.get("/openapi.json").await;
    let committed: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        served, committed,
        "runtime/openapi.json is stale: FERRY_BLESS=1 cargo test -p ferry-runtime openapi"
    );

    let (status, body, _) = n.worker.call("GET", "/no/such/thing", None).await;
    assert_eq!(
        body,
        json!({"error_code": 404, "message": "HTTP 404 Not Found"})
    );
    assert_eq!(status, 404);
    let (status, body, _) = n.worker.call("DELETE", "/connector-plugins", None).await;
    assert_eq!(
        body,
        json!({"error_code": 405, "message": "HTTP 405 Method Not Allowed"})
    );
    assert_eq!(status, 405);
}

/// Creates what the recording created: a source, a sink (both running), one PAUSED and one
/// STOPPED from the start.
async fn create_the_recorded_connectors(n: &Names) {
    n.check("post_connectors_201.json").await;
    n.check("post_connectors_409.json").await;
    n.check("post_connectors_sink_201.json").await;
    n.wait_state(&n.source, "RUNNING", 1).await;
    n.wait_state(&n.sink, "RUNNING", 1).await;
    n.check("post_connectors_initial_state_paused_201.json")
        .await;
    n.check("post_connectors_initial_state_stopped_201.json")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_list_expand_and_inspect() {
    let n = Names::start().await;
    create_the_recorded_connectors(&n).await;
    // Created PAUSED or STOPPED: no tasks at all.
    let paused = n.name("ref-paused");
    let stopped = n.name("ref-stopped");
    wait_for("the paused connector", WAIT, || async {
        let s = n.worker.get(&format!("/connectors/{paused}/status")).await;
        (s["connector"]["state"] == "PAUSED").then_some(())
    })
    .await;
    n.wait_state(&stopped, "STOPPED", 0).await;
    n.check("get_connector_status_initial_paused.json").await;
    n.check("get_connector_status_initial_stopped.json").await;

    // The list, as a set, and each expansion exactly.
    let f = n.fixture("get_connectors.json");
    let expected: BTreeSet<String> = f
        .answer
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names(&n.worker).await, expected);
    n.check("get_connectors_expand_status.json").await;
    n.check("get_connectors_expand_info.json").await;
    n.check("get_connectors_expand_status_info.json").await;
    // Kafka ignores an unknown expansion, and answers each connector with no expansion.
    let (status, body, _) = n.worker.call("GET", "/connectors?expand=bogus", None).await;
    assert_eq!(status, 200);
    assert_eq!(body.as_object().unwrap().len(), 4, "{body}");
    assert!(
        body.as_object().unwrap().values().all(|v| v == &json!({})),
        "{body}"
    );
    for name in [&paused, &stopped] {
        let (status, _, _) = n
            .worker
            .call("DELETE", &format!("/connectors/{name}"), None)
            .await;
        assert_eq!(status, 204);
    }

    // One connector.
    n.check("get_connector.json").await;
    n.check("get_connector_config.json").await;
    let status = n.check("get_connector_status.json").await;
    assert!(
        status["connector"].get("trace").is_none() && status["tasks"][0].get("trace").is_none()
    );
    assert_eq!(status["connector"]["version"], "4.3.1");
    assert_eq!(status["tasks"][0]["version"], "4.3.1");
    n.check("get_connector_status_sink.json").await;
    let tasks = n.check("get_connector_tasks.json").await;
    assert_eq!(
        tasks[0]["config"]["task.class"],
        "org.apache.kafka.connect.file.FileStreamSourceTask"
    );
    n.check("get_connector_task_status.json").await;
    let missing = n.check("get_connector_task_status_missing_404.json").await;
    assert_eq!(
        missing["message"],
        format!("No status found for task {}-7", n.source)
    );
    n.check("get_connector_nope_404.json").await;
    n.check("get_connector_status_nope_404.json").await;
    n.check("delete_connector_nope_404.json").await;
    n.check("patch_connector_config_nope_404.json").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_and_patch_config_then_delete() {
    let n = Names::start().await;
    let put = n.name("ref-put");
    n.check("put_connector_config_create_201.json").await;
    n.wait_state(&put, "RUNNING", 1).await;
    n.check("put_connector_config_update_200.json").await;
    n.check("put_connector_config_name_mismatch_400.json").await;
    // PATCH merges, and a null value removes the key (batch.size).
    let patched = n.check("patch_connector_config_200.json").await;
    assert!(patched["config"].get("batch.size").is_none());
    n.check("get_connector_config_after_patch.json").await;
    // A name in a PATCH must be the URL's.
    let (status, body, _) = n
        .worker
        .call(
            "PATCH",
            &format!("/connectors/{put}/config"),
            Some(json!({"name": "other-name"})),
        )
        .await;
    assert_eq!(
        error_message(&body, 400),
        format!(
            "Connector name configuration (other-name) doesn't match connector name in the URL ({put})"
        )
    );
    assert_eq!(status, 400);
    n.wait_state(&put, "RUNNING", 1).await;
    n.check("delete_connector_204.json").await;
    assert!(names(&n.worker).await.is_empty());
    n.check("delete_connector_nope_404.json").await;
    let (status, _, _) = n
        .worker
        .call("GET", &format!("/connectors/{put}"), None)
        .await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_resume_restart_stop_and_topics() {
    let n = Names::start().await;
    n.check("post_connectors_201.json").await;
    n.check("post_connectors_sink_201.json").await;
    n.wait_state(&n.source, "RUNNING", 1).await;
    n.wait_state(&n.sink, "RUNNING", 1).await;

    // Topics: tracked once used.
    let topics_path = format!("/connectors/{}/topics", n.source);
    wait_for("the source's topics", WAIT, || async {
        let t = n.worker.get(&topics_path).await;
        (t[&n.source]["topics"]
            .as_array()
            .is_some_and(|a| !a.is_empty()))
        .then_some(())
    })
    .await;
    n.check("get_connector_topics.json").await;
    let sink_topics = format!("/connectors/{}/topics", n.sink);
    wait_for("the sink's topics", WAIT, || async {
        let t = n.worker.get(&sink_topics).await;
        (t[&n.sink]["topics"]
            .as_array()
            .is_some_and(|a| !a.is_empty()))
        .then_some(())
    })
    .await;
    n.check("get_connector_topics_sink.json").await;

    n.check("put_connector_pause_202.json").await;
    n.wait_state(&n.source, "PAUSED", 1).await;
    n.check("get_connector_status_paused.json").await;
    n.check("put_connector_resume_202.json").await;
    n.wait_state(&n.source, "RUNNING", 1).await;

    n.check("post_connector_restart_204.json").await;
    n.wait_state(&n.source, "RUNNING", 1).await;
    n.check("post_connector_restart_include_tasks_202.json")
        .await;
    n.wait_state(&n.source, "RUNNING", 1).await;
    n.check("post_connector_restart_include_tasks_only_failed_202.json")
        .await;
    n.wait_state(&n.source, "RUNNING", 1).await;
    // onlyFailed alone restarts nothing that is running: 202 with the current states.
    let (status, body, _) = n
        .worker
        .call(
            "POST",
            &format!("/connectors/{}/restart?onlyFailed=true", n.source),
            None,
        )
        .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["connector"]["state"], "RUNNING");
    n.check("post_connector_task_restart_204.json").await;
    n.wait_state(&n.source, "RUNNING", 1).await;
    let (status, body, _) = n
        .worker
        .call(
            "POST",
            &format!("/connectors/{}/tasks/7/restart", n.source),
            None,
        )
        .await;
    error_message(&body, 404);
    assert_eq!(status, 404);
    // Kafka 4.3.1 answers 500 (a NullPointerException's message) here.
    let msg = n
        .check_error("post_connector_restart_nope_500.json", 404)
        .await;
    assert_eq!(msg, "Connector nope not found");

    n.check("put_connector_stop_204.json").await;
    n.wait_state(&n.source, "STOPPED", 0).await;
    n.check("get_connector_status_stopped.json").await;
    n.check("get_connector_tasks_stopped.json").await;
    // Stopping twice is fine.
    n.check("put_connector_stop_204.json").await;

    n.check("put_connector_topics_reset_202.json").await;
    n.check("get_connector_topics_after_reset.json").await;
    n.check("put_connector_resume_from_stopped_202.json").await;
    n.wait_state(&n.source, "RUNNING", 1).await;
    n.check("get_connector_status.json").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_of_a_source_and_a_sink() {
    let n = Names::start().await;
    n.check("post_connectors_201.json").await;
    n.check("post_connectors_sink_201.json").await;
    n.wait_state(&n.source, "RUNNING", 1).await;
    n.wait_state(&n.sink, "RUNNING", 1).await;

    let source_offsets = format!("/connectors/{}/offsets", n.source);
    let sink_offsets = format!("/connectors/{}/offsets", n.sink);
    // The source offset is the file's size once all five lines are flushed (35, as recorded).
    wait_for("the source's offsets", WAIT, || async {
        let o = n.worker.get(&source_offsets).await;
        (o == n.fixture("get_connector_offsets_source.json").answer).then_some(())
    })
    .await;
    n.check("get_connector_offsets_source.json").await;
    // The sink's offset counts this test's records (the recording's topic held more).
    let expected_sink = json!({"offsets": [{"partition": {"kafka_topic": n.topic, "kafka_partition": 0}, "offset": {"kafka_offset": 5}}]});
    wait_for("the sink's offsets", WAIT, || async {
        (n.worker.get(&sink_offsets).await == expected_sink).then_some(())
    })
    .await;
    let recorded = n.fixture("get_connector_offsets_sink.json").answer;
    assert_eq!(
        recorded["offsets"][0]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        expected_sink["offsets"][0]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>()
    );
    assert_eq!(
        recorded["offsets"][0]["partition"],
        expected_sink["offsets"][0]["partition"]
    );
    assert!(recorded["offsets"][0]["offset"]["kafka_offset"].is_u64());

    // Running: offsets cannot change.
    n.check("patch_connector_offsets_running_400.json").await;
    n.check("delete_connector_offsets_running_400.json").await;
    let (status, body, _) = n.worker.call("DELETE", &sink_offsets, None).await;
    assert_eq!(status, 400, "{body}");

    n.check("put_connector_stop_204.json").await;
    let (status, _, _) = n
        .worker
        .call("PUT", &format!("/connectors/{}/stop", n.sink), None)
        .await;
    assert_eq!(status, 204);
    n.wait_state(&n.source, "STOPPED", 0).await;
    n.wait_state(&n.sink, "STOPPED", 0).await;

    n.check("patch_connector_offsets_stopped_source_200.json")
        .await;
    n.check("get_connector_offsets_source_after_patch.json")
        .await;
    // A stopped sink's consumer group can take a moment to become empty.
    let f = n.fixture("patch_connector_offsets_stopped_sink_200.json");
    wait_for("the sink's group to accept offsets", WAIT, || async {
        let (status, _, _) = n.worker.call("PATCH", &f.path, f.body.clone()).await;
        (status == 200).then_some(())
    })
    .await;
    n.check("patch_connector_offsets_stopped_sink_200.json")
        .await;
    let zero = json!({"offsets": [{"partition": {"kafka_topic": n.topic, "kafka_partition": 0}, "offset": {"kafka_offset": 0}}]});
    assert_eq!(n.worker.get(&sink_offsets).await, zero);
    // Kafka answers 500 for a missing partition; it is the request that is wrong.
    let msg = n
        .check_error(
            "patch_connector_offsets_stopped_bad_partition_500.json",
            400,
        )
        .await;
    assert_eq!(msg, "Partition objects cannot be null");

    n.check("delete_connector_offsets_stopped_200.json").await;
    n.check("delete_connector_offsets_stopped_sink_200.json")
        .await;
    n.check("get_connector_offsets_source_after_delete.json")
        .await;
    assert_eq!(n.worker.get(&sink_offsets).await, json!({"offsets": []}));

    // Unknown connectors.
    for method in ["GET", "PATCH", "DELETE"] {
        let body = (method == "PATCH")
            .then(|| json!({"offsets": [{"partition": {"filename": "x"}, "offset": null}]}));
        let (status, body, _) = n
            .worker
            .call(method, "/connectors/nope/offsets", body)
            .await;
        assert_eq!(error_message(&body, 404), "Connector nope not found");
        assert_eq!(status, 404);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_are_hidden_in_task_configs() {
    let n = Names::start().await;
    let file = n.path().join("source.txt");
    let name = unique("secret");
    let (status, body, _) = n
        .worker
        .call(
            "POST",
            "/connectors",
            Some(json!({"name": name, "config": {
                "connector.class": "FileStreamSource",
                "file": file.to_str().unwrap(),
                "topic": n.topic,
                "db.password": "s3cret",
                "ssl.key.password": "also-secret",
                "visible.setting": "visible"
            }})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    n.wait_state(&name, "RUNNING", 1).await;
    let tasks = n.worker.get(&format!("/connectors/{name}/tasks")).await;
    let config = &tasks[0]["config"];
    assert_eq!(config["db.password"], "[hidden]", "{tasks}");
    assert_eq!(config["ssl.key.password"], "[hidden]", "{tasks}");
    assert_eq!(config["visible.setting"], "visible", "{tasks}");
    assert_eq!(
        config["task.class"],
        "org.apache.kafka.connect.file.FileStreamSourceTask"
    );
    assert!(!tasks.to_string().contains("s3cret"), "{tasks}");
}

/// Where Ferry's connector config keys differ from Kafka's (`(key, field)`): nowhere.
const KNOWN_KEY_DIFFERENCES: &[(&str, &str)] = &[];

/// Where Ferry's validation answer differs from Kafka's (`(key, part.field)`): the converter
/// keys recommend the converter classes Ferry has, which are Kafka's but for the Boolean,
/// Double, Float, Integer, Long and Short converters Ferry does not have yet
/// (config::connector's `validation_is_kafkas` unit test checks the lists are exactly that).
const KNOWN_VALIDATE_DIFFERENCES: &[(&str, &str)] = &[
    ("key.converter", "value.recommended_values"),
    ("value.converter", "value.recommended_values"),
    ("header.converter", "value.recommended_values"),
];

/// Compares two lists of config entries (the same keys in the same order), field by field
/// within each of `parts` (`""` for the entry itself); answers the `(key, part.field)` that differ.
fn differing_fields(ours: &[Value], kafka: &[Value], parts: &[&str]) -> BTreeSet<(String, String)> {
    let key = |v: &Value| {
        let named = if v.get("name").is_some() {
            v
        } else {
            &v["value"]
        };
        named["name"].as_str().unwrap().to_owned()
    };
    assert_eq!(
        ours.iter().map(key).collect::<Vec<_>>(),
        kafka.iter().map(key).collect::<Vec<_>>(),
        "the keys and their order"
    );
    let mut out = BTreeSet::new();
    for (o, k) in ours.iter().zip(kafka) {
        assert_eq!(
            o.as_object().unwrap().len(),
            k.as_object().unwrap().len(),
            "{o}"
        );
        for part in parts {
            let (po, pk) = if part.is_empty() {
                (o, k)
            } else {
                (&o[*part], &k[*part])
            };
            let (po, pk) = (po.as_object().unwrap(), pk.as_object().unwrap());
            assert_eq!(
                po.keys().collect::<BTreeSet<_>>(),
                pk.keys().collect::<BTreeSet<_>>(),
                "{}: fields of {part}",
                key(k)
            );
            for (field, kv) in pk {
                if &po[field] != kv {
                    let f = if part.is_empty() {
                        field.clone()
                    } else {
                        format!("{part}.{field}")
                    };
                    out.insert((key(k), f));
                }
            }
        }
    }
    out
}

fn assert_known(diff: &BTreeSet<(String, String)>, known: &[(&str, &str)]) {
    let known: BTreeSet<(String, String)> = known
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect();
    let new: Vec<_> = diff.difference(&known).collect();
    let fixed: Vec<_> = known.difference(diff).collect();
    assert!(new.is_empty(), "fields that differ from Kafka's: {new:?}");
    assert!(
        fixed.is_empty(),
        "these now match Kafka: take them off the list of known differences: {fixed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugins_validation_and_bad_requests() {
    let n = Names::start().await;
    // Kafka's two file connectors, exactly; Ferry may offer more.
    let listed = n.worker.get("/connector-plugins").await;
    for p in n
        .fixture("get_connector_plugins.json")
        .answer
        .as_array()
        .unwrap()
    {
        assert!(
            listed.as_array().unwrap().contains(p),
            "{p} missing from {listed}"
        );
    }
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["type"] == "source" || p["type"] == "sink"),
        "{listed}"
    );
    let all = n
        .worker
        .get("/connector-plugins?connectorsOnly=false")
        .await;
    let recorded = n.fixture("get_connector_plugins_all.json").answer;
    for class in [
        "org.apache.kafka.connect.json.JsonConverter",
        "org.apache.kafka.connect.storage.StringConverter",
        "org.apache.kafka.connect.converters.ByteArrayConverter",
    ] {
        let ours = all
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["class"] == class)
            .unwrap_or_else(|| panic!("{class}: {all}"));
        let theirs = recorded
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["class"] == class)
            .unwrap();
        assert_eq!(ours, theirs);
    }
    for p in all.as_array().unwrap() {
        assert_eq!(
            p.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["class", "type", "version"],
            "{p}"
        );
    }

    // The keys of FileStreamSink, in Kafka's order, field by field.
    let (f, status, body, _) = n.send("get_connector_plugin_config.json").await;
    assert_eq!(status, 200);
    let diff = differing_fields(
        body.as_array().unwrap(),
        f.answer.as_array().unwrap(),
        &[""],
    );
    assert_known(&diff, KNOWN_KEY_DIFFERENCES);
    n.check("get_connector_plugin_config_nope_404.json").await;

    for file in [
        "put_connector_plugin_validate_valid_200.json",
        "put_connector_plugin_validate_invalid_200.json",
    ] {
        let (f, status, body, _) = n.send(file).await;
        assert_eq!(status, 200, "{file}: {body}");
        assert_eq!(body["name"], f.answer["name"]);
        assert_eq!(body["groups"], f.answer["groups"]);
        let (ours, kafka) = (
            body["configs"].as_array().unwrap(),
            f.answer["configs"].as_array().unwrap(),
        );
        let diff = differing_fields(ours, kafka, &["definition", "value"]);
        let errors: usize = ours
            .iter()
            .map(|c| c["value"]["errors"].as_array().unwrap().len())
            .sum();
        assert_eq!(body["error_count"], json!(errors));
        assert_known(&diff, KNOWN_VALIDATE_DIFFERENCES);
        assert_eq!(body["error_count"], f.answer["error_count"]);
    }

    // Bad requests.
    let f = n.fixture("post_connectors_malformed_json_500.json");
    let (status, body) = raw_call(
        &n.worker,
        "POST",
        "/connectors",
        f.body.as_ref().unwrap().as_str().unwrap(),
    )
    .await;
    // Kafka answers 500 for a body that is not JSON; it is a bad request.
    assert_eq!(status, 400);
    assert!(
        error_message(&body, 400).starts_with("Malformed JSON request body"),
        "{body}"
    );
    let msg = n
        .check_error("post_connectors_missing_config_500.json", 400)
        .await;
    assert!(msg.contains("missing field `config`"), "{msg}");
    let (f, status, body, _) = n.send("post_connectors_unknown_class_400.json").await;
    assert_eq!(status, f.status);
    let prefix = "Failed to find any class that implements Connector and which name matches com.example.NoSuchConnector, available connectors are: ";
    assert!(f.answer["message"].as_str().unwrap().starts_with(prefix));
    assert!(error_message(&body, 400).starts_with(prefix), "{body}");
    let (f, status, body, _) = n.send("post_connectors_invalid_config_400.json").await;
    assert_eq!(status, f.status, "{body}");
    let msg = error_message(&body, 400);
    assert!(
        msg.starts_with("Connector configuration is invalid and contains the following "),
        "{msg}"
    );
    assert!(
        msg.contains("\nInvalid value abc for configuration tasks.max: Not a number of type INT\n"),
        "{msg}"
    );
    assert!(
        msg.ends_with("\nYou can also find the above list of errors at the endpoint `/connector-plugins/{connectorType}/config/validate`"),
        "{msg}"
    );
    assert!(names(&n.worker).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loggers() {
    let n = Names::start().await;
    n.check("get_admin_logger_root.json").await;
    n.check("get_admin_logger_unset_404.json").await;
    n.check("get_admin_logger_404.json").await;
    // Kafka lists (and answers a PUT with) every log4j logger under the name; Ferry, which has
    // tracing targets rather than a logger tree, knows the loggers set through the API.
    let (f, status, body, _) = n.send("put_admin_logger_200.json").await;
    assert_eq!(status, f.status);
    assert_eq!(body, json!(["org.apache.kafka.connect"]));
    assert_eq!(f.answer[0], "org.apache.kafka.connect");
    let after = n
        .worker
        .get("/admin/loggers/org.apache.kafka.connect")
        .await;
    let recorded = n.fixture("get_admin_logger_after_put.json").answer;
    assert_eq!(after["level"], recorded["level"]);
    assert!(
        after["last_modified"].as_i64().unwrap() > 1_700_000_000_000,
        "{after}"
    );
    assert_eq!(
        after.as_object().unwrap().len(),
        recorded.as_object().unwrap().len()
    );
    let all = n.worker.get("/admin/loggers").await;
    assert_eq!(all["root"], json!({"level": "INFO", "last_modified": null}));
    assert_eq!(all["org.apache.kafka.connect"], after);
    assert_eq!(
        n.fixture("get_admin_loggers.json").answer["org.apache.kafka.clients.ClientUtils"],
        json!({"level": "INFO", "last_modified": null})
    );
    // A bad level: Kafka answers 404; the request is what is wrong, so Ferry answers 400.
    let msg = n
        .check_error("put_admin_logger_bad_level_404.json", 400)
        .await;
    assert_eq!(msg, "invalid log level 'LOUD'.");
    // A Ferry target takes effect too.
    let (status, body, _) = n
        .worker
        .call(
            "PUT",
            "/admin/loggers/ferry_runtime::rest",
            Some(json!({"level": "trace"})),
        )
        .await;
    assert_eq!((status, body), (200, json!(["ferry_runtime::rest"])));
    assert_eq!(
        n.worker.get("/admin/loggers/ferry_runtime::rest").await["level"],
        "TRACE"
    );
}
