//! The Elasticsearch sink against a real OpenSearch node (`e2e/services up opensearch`),
//! real Kafka and a real `ferry standalone` worker.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Worker, free_port, unique, wait_for, worker_props};
use rdkafka::ClientConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use serde_json::{Value, json};

/// The node's URL; the tests need the real server and say so plainly when it is missing.
fn os_url() -> String {
    std::env::var("OPENSEARCH_URL").expect(
        "OPENSEARCH_URL is not set: run `e2e/services up opensearch && eval \"$(e2e/services env)\"` \
         first (e2e/test does this)",
    )
}

async fn es(method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let client = reqwest::Client::new();
    let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = client.request(m, format!("{}/{path}", os_url()));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Every document of an index (after a refresh), by id.
async fn docs(index: &str) -> BTreeMap<String, Value> {
    let (code, _) = es("POST", &format!("{index}/_refresh"), None).await;
    if code == 404 {
        return BTreeMap::new();
    }
    let (code, body) = es(
        "POST",
        &format!("{index}/_search"),
        Some(json!({"size": 10000, "query": {"match_all": {}}})),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    body["hits"]["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["_id"].as_str().unwrap().to_owned(), h["_source"].clone()))
        .collect()
}

async fn wait_docs(index: &str, n: usize) -> BTreeMap<String, Value> {
    wait_for(
        &format!("{n} documents in {index}"),
        Duration::from_secs(60),
        || async {
            let d = docs(index).await;
            (d.len() == n).then_some(d)
        },
    )
    .await
}

/// Produces keyed records (None = null) and waits for their acknowledgement.
fn produce(topic: &str, records: &[(Option<&str>, Option<&str>)]) {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", common::bootstrap())
        .create()
        .unwrap();
    for (k, v) in records {
        let mut r = BaseRecord::<str, str>::to(topic);
        if let Some(k) = k {
            r = r.key(k);
        }
        if let Some(v) = v {
            r = r.payload(v);
        }
        producer.send(r).unwrap();
    }
    producer.flush(Duration::from_secs(30)).unwrap();
}

async fn worker(dir: &tempfile::TempDir) -> Worker {
    let port = free_port();
    Worker::start(dir.path(), &worker_props(dir.path(), port), &[]).await
}

/// Creates a sink connector over REST with `config` (plus class, topic and URL).
async fn connector(w: &Worker, name: &str, topic: &str, url: &str, extra: &[(&str, &str)]) {
    let mut config = serde_json::Map::new();
    config.insert(
        "connector.class".into(),
        json!("io.confluent.connect.elasticsearch.ElasticsearchSinkConnector"),
    );
    config.insert("topics".into(), json!(topic));
    config.insert("connection.url".into(), json!(url));
    for (k, v) in extra {
        config.insert((*k).into(), json!(v));
    }
    let (code, body, _) = w
        .call(
            "PUT",
            &format!("/connectors/{name}/config"),
            Some(Value::Object(config)),
        )
        .await;
    assert!(code == 201 || code == 200, "{code} {body}");
}

async fn task_state(w: &Worker, name: &str) -> Value {
    let (_, s, _) = w
        .call("GET", &format!("/connectors/{name}/status"), None)
        .await;
    s["tasks"][0].clone()
}

async fn wait_task(w: &Worker, name: &str, state: &str) -> Value {
    wait_for(
        &format!("task of {name} to be {state}"),
        Duration::from_secs(60),
        || async {
            let t = task_state(w, name).await;
            (t["state"] == state).then_some(t)
        },
    )
    .await
}

/// The offset the connector's consumer group committed on partition 0, if any.
async fn committed(name: &str, topic: &str) -> Option<i64> {
    let group = format!("connect-{name}");
    let topic = topic.to_owned();
    tokio::task::spawn_blocking(move || {
        use rdkafka::consumer::{BaseConsumer, Consumer};
        let c: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", common::bootstrap())
            .set("group.id", &group)
            .create()
            .unwrap();
        let mut tpl = rdkafka::TopicPartitionList::new();
        tpl.add_partition(&topic, 0);
        let committed = c.committed_offsets(tpl, Duration::from_secs(5)).ok()?;
        match committed.elements().first()?.offset() {
            rdkafka::Offset::Offset(o) => Some(o),
            _ => None,
        }
    })
    .await
    .unwrap()
}

/// Waits until the connector's consumer group committed `offset` on partition 0.
async fn wait_committed(name: &str, topic: &str, offset: i64) {
    wait_for(
        &format!("connect-{name} to commit offset {offset}"),
        Duration::from_secs(60),
        || async { (committed(name, topic).await == Some(offset)).then_some(()) },
    )
    .await;
}

fn lower(s: &str) -> String {
    s.to_lowercase()
}

// ----------------------------------------------------------------------------------------
// the seed article's two configurations

/// The seed's .properties config (`elasticsearch-connect.properties`): every key as written;
/// only the values naming this machine's server and unique topic/index/connector names
/// differ, so parallel runs do not share them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_properties_config_runs_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let topic = unique("logs");
    let index = lower(&format!("{topic}_index"));
    let name = unique("elasticsearch-sink");
    let file = dir.path().join("elasticsearch-connect.properties");
    std::fs::write(
        &file,
        format!(
            "name={name}\n\
             connector.class=io.confluent.connect.elasticsearch.ElasticsearchSinkConnector\n\
             tasks.max=1\n\
             topics={topic}\n\
             topic.index.map={topic}:{index}\n\
             key.ignore=true\n\
             schema.ignore=true\n\
             connection.url={}\n\
             type.name=log\n",
            os_url()
        ),
    )
    .unwrap();
    produce(&topic, &[(None, Some(r#"{"name":"f1","type":"string"}"#))]);
    let port = free_port();
    let w = Worker::start(dir.path(), &worker_props(dir.path(), port), &[file]).await;
    let d = wait_docs(&index, 1).await;
    assert_eq!(
        d,
        BTreeMap::from([(
            format!("{topic}+0+0"),
            json!({"name": "f1", "type": "string"})
        )])
    );
    wait_committed(&name, &topic, 1).await;
    assert_eq!(task_state(&w, &name).await["state"], "RUNNING");
    assert!(
        w.log_text().contains("type.name is ignored"),
        "the one-time type.name warning is missing"
    );
}

/// The seed's JSON config (`es-sink-mysql-sampleData-01`), verbatim except that the four
/// Avro converter keys become JsonConverter with schemas (the Avro converter is built
/// elsewhere), and the URL/topic. Its `type.name` is the malformed `type.name=kafka-connect`.
/// With schema.ignore=false the index mapping comes from the record schema.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_json_config_runs_with_json_converter() {
    let dir = tempfile::tempdir().unwrap();
    let w = worker(&dir).await;
    let topic = unique("mysql-sample_data");
    let name = unique("es-sink-mysql-sampleData-01");
    let text = format!(
        r#"{{
  "name": "{name}",
  "config": {{
    "_comment": "-- standard converter stuff -- this can actually go in the worker config globally --",
    "connector.class": "io.confluent.connect.elasticsearch.ElasticsearchSinkConnector",
    "value.converter": "org.apache.kafka.connect.json.JsonConverter",
    "key.converter": "org.apache.kafka.connect.json.JsonConverter",
    "key.converter.schemas.enable": "true",
    "value.converter.schemas.enable": "true",


    "_comment": "--- Elasticsearch-specific config ---",
    "_comment": "Elasticsearch server address",
    "connection.url": "{url}",

    "_comment": "Elasticsearch mapping name. Gets created automatically if doesn't exist  ",
    "type.name": "type.name=kafka-connect",

    "_comment": "Which topic to stream data from into Elasticsearch",
    "topics": "{topic}",

    "_comment": "If the Kafka message doesn't have a key (as is the case with JDBC source)  you need to specify key.ignore=true. If you don't, you'll get an error from the Connect task: 'ConnectException: Key is used as document id and can not be null.",
    "key.ignore": "true"
  }}
}}"#,
        url = os_url()
    );
    let resp = reqwest::Client::new()
        .post(format!("{}/connectors", w.url))
        .header("content-type", "application/json")
        .body(text)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    let schema = json!({"type": "struct", "name": "sample_data", "optional": false, "fields": [
        {"field": "id", "type": "int32", "optional": false},
        {"field": "name", "type": "string", "optional": true},
        {"field": "update_ts", "type": "int64", "optional": false,
         "name": "org.apache.kafka.connect.data.Timestamp", "version": 1}
    ]});
    let rows: Vec<String> = (1..=4)
        .map(|i| {
            json!({"schema": schema, "payload": {"id": i, "name": format!("claus{i}"), "update_ts": 1_500_000_000_000i64 + i}})
                .to_string()
        })
        .collect();
    let records: Vec<(Option<&str>, Option<&str>)> =
        rows.iter().map(|r| (None, Some(r.as_str()))).collect();
    produce(&topic, &records);
    let index = lower(&topic);
    let d = wait_docs(&index, 4).await;
    for i in 1..=4i64 {
        assert_eq!(
            d[&format!("{topic}+0+{}", i - 1)],
            json!({"id": i, "name": format!("claus{i}"), "update_ts": 1_500_000_000_000i64 + i})
        );
    }
    let (_, m) = es("GET", &format!("{index}/_mapping"), None).await;
    assert_eq!(
        m[&index]["mappings"]["properties"],
        json!({
            "id": {"type": "integer"},
            "name": {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}},
            "update_ts": {"type": "date"}
        })
    );
}

// ----------------------------------------------------------------------------------------
// semantics

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn null_values_under_each_behaviour() {
    let dir = tempfile::tempdir().unwrap();
    let w = worker(&dir).await;
    let mut indexes = Vec::new();
    for behaviour in ["ignore", "delete", "fail"] {
        let topic = unique(&format!("nulls-{behaviour}"));
        let name = unique(&format!("es-nulls-{behaviour}"));
        produce(
            &topic,
            &[
                (Some("\"k1\""), Some(r#"{"a":1}"#)),
                (Some("\"k2\""), Some(r#"{"a":2}"#)),
                (Some("\"k1\""), None),
            ],
        );
        connector(
            &w,
            &name,
            &topic,
            &os_url(),
            &[("behavior.on.null.values", behaviour)],
        )
        .await;
        indexes.push((behaviour, topic, name));
    }
    for (behaviour, topic, name) in &indexes {
        let index = lower(topic);
        match *behaviour {
            "ignore" => {
                wait_committed(name, topic, 3).await;
                assert_eq!(
                    docs(&index).await,
                    BTreeMap::from([
                        ("k1".into(), json!({"a": 1})),
                        ("k2".into(), json!({"a": 2}))
                    ])
                );
            }
            "delete" => {
                wait_committed(name, topic, 3).await;
                assert_eq!(
                    docs(&index).await,
                    BTreeMap::from([("k2".into(), json!({"a": 2}))])
                );
            }
            _ => {
                let t = wait_task(&w, name, "FAILED").await;
                let trace = t["trace"].as_str().unwrap();
                assert!(
                    trace.contains(&format!(
                        "record from topic={topic} partition=0 offset=2 has a null value (to \
                         ignore future records like this change the configuration property \
                         'behavior.on.null.values' from 'FAIL' to 'IGNORE')"
                    )),
                    "{trace}"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upsert_merges_and_insert_replaces() {
    let dir = tempfile::tempdir().unwrap();
    let w = worker(&dir).await;
    let mut runs = Vec::new();
    for method in ["upsert", "insert"] {
        let topic = unique(&format!("write-{method}"));
        let name = unique(&format!("es-{method}"));
        produce(
            &topic,
            &[
                (Some("1"), Some(r#"{"a":1,"b":1}"#)),
                (Some("2"), Some(r#"{"a":2}"#)),
                (Some("1"), Some(r#"{"b":2,"c":3}"#)),
            ],
        );
        connector(&w, &name, &topic, &os_url(), &[("write.method", method)]).await;
        runs.push((method, topic, name));
    }
    for (method, topic, name) in &runs {
        wait_committed(name, topic, 3).await;
        let merged = if *method == "upsert" {
            json!({"a": 1, "b": 2, "c": 3})
        } else {
            json!({"b": 2, "c": 3})
        };
        assert_eq!(
            docs(&lower(topic)).await,
            BTreeMap::from([("1".into(), merged), ("2".into(), json!({"a": 2}))]),
            "write.method={method}"
        );
    }
}

/// A value that is not a JSON document (a JSON string) and a mapping conflict, under
/// each `behavior.on.malformed.documents`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_documents_under_each_behaviour() {
    let dir = tempfile::tempdir().unwrap();
    let w = worker(&dir).await;
    let mut runs = Vec::new();
    for behaviour in ["ignore", "warn", "fail"] {
        let topic = unique(&format!("malformed-{behaviour}"));
        let name = unique(&format!("es-malformed-{behaviour}"));
        // Map `a` as a number first, so a later text value conflicts.
        let (code, body) = es(
            "PUT",
            &lower(&topic),
            Some(json!({"mappings": {"properties": {"a": {"type": "long"}}}})),
        )
        .await;
        assert_eq!(code, 200, "{body}");
        produce(
            &topic,
            &[
                (None, Some(r#"{"a":1}"#)),
                // Valid JSON, but a string, not a document.
                (None, Some(r#""not a json document""#)),
                (None, Some(r#"{"a":"not a number"}"#)),
                (None, Some(r#"{"a":4}"#)),
            ],
        );
        connector(
            &w,
            &name,
            &topic,
            &os_url(),
            &[
                ("key.ignore", "true"),
                ("schema.ignore", "true"),
                ("behavior.on.malformed.documents", behaviour),
                // One document per request, one request at a time: the first bad one fails.
                ("batch.size", "1"),
                ("max.in.flight.requests", "1"),
            ],
        )
        .await;
        runs.push((behaviour, topic, name));
    }
    for (behaviour, topic, name) in &runs {
        if *behaviour == "fail" {
            let t = wait_task(&w, name, "FAILED").await;
            let trace = t["trace"].as_str().unwrap();
            assert!(
                trace.contains(
                    "Elasticsearch rejected a malformed document: mapper_parsing_exception"
                ) && trace.contains(&format!("record {topic}-0@1")),
                "{trace}"
            );
        } else {
            wait_committed(name, topic, 4).await;
            assert_eq!(
                docs(&lower(topic)).await,
                BTreeMap::from([
                    (format!("{topic}+0+0"), json!({"a": 1})),
                    (format!("{topic}+0+3"), json!({"a": 4})),
                ]),
                "behavior.on.malformed.documents={behaviour}"
            );
            assert_eq!(task_state(&w, name).await["state"], "RUNNING");
        }
    }
    let log = w.log_text();
    assert!(
        log.contains("dropping a document Elasticsearch rejected"),
        "no warning logged"
    );
}

/// An index name the server would refuse is a validation error, and nothing is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_index_name_is_a_validation_error_before_any_write() {
    let dir = tempfile::tempdir().unwrap();
    let w = worker(&dir).await;
    let topic = unique("bad-index");
    produce(&topic, &[(None, Some(r#"{"a":1}"#))]);
    let bad = format!("{topic}_UPPER*");
    let name = unique("es-bad-index");
    let config = json!({
        "name": name,
        "connector.class": "ElasticsearchSinkConnector",
        "topics": topic,
        "connection.url": os_url(),
        "key.ignore": "true",
        "topic.index.map": format!("{topic}:{bad}"),
    });
    let (code, body, _) = w
        .call(
            "PUT",
            "/connector-plugins/ElasticsearchSinkConnector/config/validate",
            Some(config.clone()),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["error_count"], 1, "{body}");
    let errors: Vec<String> = body["configs"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["value"]["errors"].as_array().unwrap().clone())
        .map(|e| e.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        errors,
        vec![format!(
            "Invalid value [{topic}:{bad}] for configuration topic.index.map: index name '{bad}' \
             is invalid: it must be lowercase"
        )]
    );
    let (code, body, _) = w
        .call("PUT", &format!("/connectors/{name}/config"), Some(config))
        .await;
    assert_eq!(code, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("must be lowercase"),
        "{body}"
    );
    // A topic whose lower-cased name is not a valid index (leading '_') fails the
    // connector before any task writes.
    let topic2 = format!("_{}", unique("under"));
    let name2 = unique("es-bad-topic");
    connector(&w, &name2, &topic2, &os_url(), &[("key.ignore", "true")]).await;
    let s = wait_for("the connector to fail", Duration::from_secs(30), || async {
        let (_, s, _) = w
            .call("GET", &format!("/connectors/{name2}/status"), None)
            .await;
        (s["connector"]["state"] == "FAILED").then_some(s)
    })
    .await;
    assert!(
        s["connector"]["trace"]
            .as_str()
            .unwrap()
            .contains("must not start with '-', '_' or '+'"),
        "{s}"
    );
    for index in [lower(&topic), lower(&topic2)] {
        assert_ne!(es("HEAD", &index, None).await.0, 200, "{index} was created");
    }
}

/// A server answering 401 (OpenSearch runs without its security plugin here, so a local
/// listener plays the part): the task fails naming the URL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_fail_the_task_with_401_naming_the_url() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen_auth = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = seen_auth.clone();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut s, _)) = listener.accept().await {
            let mut buf = vec![0u8; 8192];
            let n = s.read(&mut buf).await.unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..n]).to_string();
            if let Some(line) = req
                .lines()
                .find(|l| l.to_lowercase().starts_with("authorization:"))
            {
                seen.lock().unwrap().push(line.to_owned());
            }
            let body = r#"{"error":"unauthorized"}"#;
            let resp = format!(
                "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"security\"\r\n\
                 content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = s.write_all(resp.as_bytes()).await;
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let w = worker(&dir).await;
    let topic = unique("auth");
    let name = unique("es-auth");
    let url = format!("http://127.0.0.1:{port}");
    connector(
        &w,
        &name,
        &topic,
        &url,
        &[
            ("key.ignore", "true"),
            ("connection.username", "elastic"),
            ("connection.password", "wrong"),
        ],
    )
    .await;
    let t = wait_task(&w, &name, "FAILED").await;
    let trace = t["trace"].as_str().unwrap();
    assert!(
        trace.contains(&format!("{url}/ answered 401 Unauthorized")),
        "{trace}"
    );
    // Basic auth was sent: base64("elastic:wrong").
    assert!(
        seen_auth
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.ends_with("Basic ZWxhc3RpYzp3cm9uZw==")),
        "no basic auth header seen"
    );
}

/// A server that accepts connections but never answers: `read.timeout.ms` bounds each
/// attempt, and once `max.retries` retries (`retry.backoff.ms` apart) are spent the task
/// fails naming the host.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_timeouts_and_exhausted_retries_fail_the_task() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = Arc::new(Mutex::new(Vec::new()));
    let keep = held.clone();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            keep.lock().unwrap().push(s);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let w = worker(&dir).await;
    let topic = unique("silent");
    let name = unique("es-silent");
    let url = format!("http://127.0.0.1:{port}");
    connector(
        &w,
        &name,
        &topic,
        &url,
        &[
            ("key.ignore", "true"),
            ("read.timeout.ms", "300"),
            ("connection.timeout.ms", "300"),
            ("max.retries", "2"),
            ("retry.backoff.ms", "10"),
        ],
    )
    .await;
    let t = wait_task(&w, &name, "FAILED").await;
    let trace = t["trace"].as_str().unwrap();
    assert!(
        trace.contains(
            "GET / failed after 2 retries (max.retries): no Elasticsearch host answered: "
        ) && trace.contains(&format!("{url}/")),
        "{trace}"
    );
    // The first attempt and two retries each opened a connection.
    assert_eq!(held.lock().unwrap().len(), 3);
}

// ----------------------------------------------------------------------------------------
// options

/// topic.key.ignore, topic.schema.ignore, compact.map.entries, drop.invalid.message,
/// small max.buffered.records, batch.size and bulk.size.bytes, and failover past a dead
/// host.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn options_shape_ids_documents_and_batching() {
    let dir = tempfile::tempdir().unwrap();
    let w = worker(&dir).await;
    let dead = format!("http://127.0.0.1:{}", free_port());

    // Keys ignored for one topic only; a schema'd value whose schema is ignored for that
    // topic (dynamic mapping: `n` becomes long, not the integer the schema says).
    let t1 = unique("opt-keyed");
    let t2 = unique("opt-keyless");
    let schema = json!({"type": "struct", "optional": false, "fields": [
        {"field": "n", "type": "int32", "optional": false},
        {"field": "m", "type": "map", "optional": false,
         "keys": {"type": "string", "optional": false},
         "values": {"type": "int32", "optional": false}}
    ]});
    let v = |n: i32| json!({"schema": schema, "payload": {"n": n, "m": {"x": n}}}).to_string();
    let key = r#"{"schema":{"type":"string","optional":false},"payload":"k"}"#;
    let (v1, v2) = (v(1), v(2));
    produce(&t1, &[(Some(key), Some(v1.as_str()))]);
    produce(&t2, &[(Some(key), Some(v2.as_str()))]);
    let n1 = unique("es-opt-topics");
    connector(
        &w,
        &n1,
        &format!("{t1},{t2}"),
        &format!("{dead},{}", os_url()),
        &[
            ("topic.key.ignore", t2.as_str()),
            ("topic.schema.ignore", t2.as_str()),
            ("compact.map.entries", "false"),
            ("key.converter.schemas.enable", "true"),
            ("value.converter.schemas.enable", "true"),
            (
                "key.converter",
                "org.apache.kafka.connect.json.JsonConverter",
            ),
            (
                "value.converter",
                "org.apache.kafka.connect.json.JsonConverter",
            ),
        ],
    )
    .await;
    let d1 = wait_docs(&lower(&t1), 1).await;
    assert_eq!(
        d1,
        BTreeMap::from([("k".into(), json!({"n": 1, "m": [{"key": "x", "value": 1}]}))])
    );
    let d2 = wait_docs(&lower(&t2), 1).await;
    assert_eq!(
        d2,
        BTreeMap::from([(
            format!("{t2}+0+0"),
            json!({"n": 2, "m": [{"key": "x", "value": 2}]})
        )])
    );
    let (_, m1) = es("GET", &format!("{}/_mapping", lower(&t1)), None).await;
    assert_eq!(
        m1[lower(&t1)]["mappings"]["properties"]["n"],
        json!({"type": "integer"})
    );
    let (_, m2) = es("GET", &format!("{}/_mapping", lower(&t2)), None).await;
    assert_eq!(
        m2[lower(&t2)]["mappings"]["properties"]["n"],
        json!({"type": "long"})
    );

    // drop.invalid.message drops a record that cannot become a document (no key), and a
    // tiny buffer and batch still deliver every record, each exactly once.
    let t3 = unique("opt-small");
    let n3 = unique("es-opt-small");
    let mut rows: Vec<(String, String)> = (0..300)
        .map(|i| (format!("\"id{i}\""), format!(r#"{{"i":{i}}}"#)))
        .collect();
    rows.insert(150, (String::new(), r#"{"i":-1}"#.into()));
    let records: Vec<(Option<&str>, Option<&str>)> = rows
        .iter()
        .map(|(k, v)| ((!k.is_empty()).then_some(k.as_str()), Some(v.as_str())))
        .collect();
    produce(&t3, &records);
    connector(
        &w,
        &n3,
        &t3,
        &os_url(),
        &[
            ("drop.invalid.message", "true"),
            ("max.buffered.records", "7"),
            ("bulk.size.bytes", "100"),
            ("batch.size", "5"),
            ("max.in.flight.requests", "2"),
            ("linger.ms", "50"),
        ],
    )
    .await;
    wait_committed(&n3, &t3, 301).await;
    let d3 = docs(&lower(&t3)).await;
    assert_eq!(d3.len(), 300);
    for i in 0..300 {
        assert_eq!(d3[&format!("id{i}")], json!({"i": i}));
    }
    assert_eq!(task_state(&w, &n3).await["state"], "RUNNING");
}

/// Data streams: `{type}-{dataset}-{namespace}` with op_type create and `@timestamp` from
/// the configured field (or the record timestamp). OpenSearch has no built-in `logs-*-*`
/// template, so the test installs one, as an operator would.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_streams_get_created_and_timestamps() {
    let dir = tempfile::tempdir().unwrap();
    let w = worker(&dir).await;
    let dataset = unique("ds").replace('-', "");
    let (code, body) = es(
        "PUT",
        &format!("_index_template/{dataset}"),
        Some(json!({"index_patterns": [format!("logs-{dataset}-*")], "data_stream": {}, "priority": 500})),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    let topic = unique("dstopic");
    produce(
        &topic,
        &[
            (None, Some(r#"{"msg":"a","at":"2026-01-02T03:04:05Z"}"#)),
            (None, Some(r#"{"msg":"b"}"#)),
        ],
    );
    let name = unique("es-ds");
    connector(
        &w,
        &name,
        &topic,
        &os_url(),
        &[
            ("key.ignore", "true"),
            ("schema.ignore", "true"),
            ("data.stream.type", "LOGS"),
            ("data.stream.dataset", dataset.as_str()),
            ("data.stream.timestamp.field", "at"),
        ],
    )
    .await;
    let stream = format!("logs-{dataset}-{}", lower(&topic));
    let d = wait_docs(&stream, 2).await;
    let a = &d[&format!("{topic}+0+0")];
    assert_eq!(a["@timestamp"], "2026-01-02T03:04:05Z");
    let b = &d[&format!("{topic}+0+1")];
    assert!(b["@timestamp"].as_i64().unwrap() > 1_700_000_000_000, "{b}");
    let (code, ds) = es("GET", &format!("_data_stream/{stream}"), None).await;
    assert_eq!(code, 200, "{ds}");
    assert_eq!(ds["data_streams"][0]["name"], stream);
    wait_committed(&name, &topic, 2).await;
    let _ = es("DELETE", &format!("_data_stream/{stream}"), None).await;
    let _ = es("DELETE", &format!("_index_template/{dataset}"), None).await;
}

// ----------------------------------------------------------------------------------------
// outage

/// A TCP proxy in front of the shared node that the test can cut and restore: stopping
/// the shared node itself would disturb every other test of the run.
struct Proxy {
    port: u16,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    conns: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(port: u16) -> Proxy {
        let mut p = Proxy {
            port,
            tasks: Vec::new(),
            conns: Arc::default(),
        };
        p.restore().await;
        p
    }

    async fn restore(&mut self) {
        let target = os_url().trim_start_matches("http://").to_owned();
        let listener = wait_for(
            "the proxy port to bind",
            Duration::from_secs(10),
            || async {
                tokio::net::TcpListener::bind(("127.0.0.1", self.port))
                    .await
                    .ok()
            },
        )
        .await;
        let conns = self.conns.clone();
        self.tasks.push(tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let target = target.clone();
                let h = tokio::spawn(async move {
                    if let Ok(mut out) = tokio::net::TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                    }
                });
                conns.lock().unwrap().push(h);
            }
        }));
    }

    /// Stops listening and drops every open connection.
    fn cut(&mut self) {
        for t in self.tasks.drain(..) {
            t.abort();
        }
        for c in self.conns.lock().unwrap().drain(..) {
            c.abort();
        }
    }
}

/// Produces `{"i":n}` records (n = 0, 1, …) in small paced bursts on a thread of its own
/// until `stop` is set; returns how many it produced, all acknowledged.
fn steady_producer(
    topic: &str,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<usize> {
    let topic = topic.to_owned();
    std::thread::spawn(move || {
        let producer: BaseProducer = ClientConfig::new()
            .set("bootstrap.servers", common::bootstrap())
            .create()
            .unwrap();
        let mut n = 0usize;
        while !stop.load(std::sync::atomic::Ordering::SeqCst) {
            for _ in 0..5 {
                let v = format!(r#"{{"i":{n}}}"#);
                producer
                    .send(BaseRecord::<str, str>::to(&topic).payload(&v))
                    .unwrap();
                n += 1;
            }
            producer.poll(Duration::from_millis(200));
        }
        producer.flush(Duration::from_secs(30)).unwrap();
        n
    })
}

async fn count(index: &str) -> u64 {
    let _ = es("POST", &format!("{index}/_refresh"), None).await;
    let (code, body) = es("GET", &format!("{index}/_count"), None).await;
    if code == 404 {
        return 0;
    }
    assert_eq!(code, 200, "{body}");
    body["count"].as_u64().unwrap()
}

/// The issue's outage: records flowing, the server unreachable for 60 s (the proxy refuses
/// connections) while records keep being produced, then back. Settings a user would pick to
/// ride out such an outage (max.retries=10, retry.backoff.ms=1000; see the README table):
/// throughout the outage the task is RUNNING with the retrying reason as its trace, nothing
/// new is indexed and no offset is committed past what was indexed; afterwards, without any
/// restart, every record is indexed exactly once by id and committed, and the trace clears.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_server_down_60_s_retries_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let w = worker(&dir).await;
    let mut proxy = Proxy::start(free_port()).await;
    let url = format!("http://127.0.0.1:{}", proxy.port);
    let topic = unique("outage60");
    let name = unique("es-outage60");
    let index = lower(&topic);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let producer = steady_producer(&topic, stop.clone());
    connector(
        &w,
        &name,
        &topic,
        &url,
        &[
            ("key.ignore", "true"),
            ("schema.ignore", "true"),
            ("batch.size", "50"),
            ("max.retries", "10"),
            ("retry.backoff.ms", "1000"),
        ],
    )
    .await;
    wait_for("records flowing", Duration::from_secs(60), || async {
        (count(&index).await >= 100).then_some(())
    })
    .await;

    proxy.cut();
    let cut = tokio::time::Instant::now();
    // In-flight requests may still land just as the proxy drops them: settle on the count.
    let mut indexed = count(&index).await;
    let retrying = wait_for(
        "a retrying status naming the refused connection",
        Duration::from_secs(30),
        || async {
            let t = task_state(&w, &name).await;
            t["trace"]
                .as_str()
                .is_some_and(|s| s.contains("Connection refused"))
                .then_some(t)
        },
    )
    .await;
    let mut keys: Vec<&String> = retrying.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        ["id", "state", "trace", "version", "worker_id"],
        "{retrying}"
    );
    assert_eq!(retrying["id"], 0);
    assert_eq!(retrying["worker_id"], w.url.trim_start_matches("http://"));
    assert_eq!(retrying["state"], "RUNNING");
    let trace = retrying["trace"].as_str().unwrap();
    let prefix =
        "org.apache.kafka.connect.errors.RetriableException: retrying a bulk request (attempt ";
    let cause = format!("no Elasticsearch host answered: {url}/_bulk: ");
    assert!(
        trace.starts_with(prefix)
            && trace.contains(" of max.retries=10, next in ")
            && trace.contains(&cause),
        "{trace}"
    );
    let mut polls = 0;
    let mut attempts = std::collections::BTreeSet::new();
    while cut.elapsed() < Duration::from_secs(60) {
        let t = task_state(&w, &name).await;
        assert_eq!(t["state"], "RUNNING", "during the outage: {t}");
        if let Some(a) = t["trace"]
            .as_str()
            .and_then(|s| s.strip_prefix(prefix))
            .and_then(|s| s.split(' ').next())
        {
            attempts.insert(a.parse::<u32>().unwrap());
        }
        let now = count(&index).await;
        if polls == 0 {
            indexed = now;
        }
        assert_eq!(now, indexed, "documents written through a cut proxy");
        let c = committed(&name, &topic).await.unwrap_or(0);
        assert!(
            c <= i64::try_from(indexed).unwrap(),
            "committed offset {c} with only {indexed} documents indexed"
        );
        polls += 1;
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    // Watched throughout (each poll also reads the committed offset, slow under load).
    assert!(polls >= 10, "{polls} polls in 60 s");
    // Backoff doubles: a handful of attempts in a minute, not thousands.
    assert!(
        attempts.len() >= 2 && attempts.iter().all(|a| *a <= 10),
        "attempts seen in the status: {attempts:?}"
    );

    proxy.restore().await;
    // The backlog produced meanwhile must drain too; stop producing once it does.
    wait_for("writes to resume", Duration::from_secs(120), || async {
        (count(&index).await > indexed).then_some(())
    })
    .await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let produced = tokio::task::spawn_blocking(move || producer.join().unwrap())
        .await
        .unwrap();
    assert!(produced > 300, "only {produced} records produced");
    let d = wait_for(
        &format!("{produced} documents"),
        Duration::from_secs(120),
        || async {
            let d = docs(&index).await;
            (d.len() == produced).then_some(d)
        },
    )
    .await;
    for i in 0..produced {
        assert_eq!(d[&format!("{topic}+0+{i}")], json!({"i": i}), "record {i}");
    }
    assert_eq!(count(&index).await, produced as u64, "duplicates");
    wait_committed(&name, &topic, i64::try_from(produced).unwrap()).await;
    let t = wait_for(
        "the retry note to clear",
        Duration::from_secs(30),
        || async {
            let t = task_state(&w, &name).await;
            t["trace"].is_null().then_some(t)
        },
    )
    .await;
    assert_eq!(t["state"], "RUNNING", "{t}");
    proxy.cut();
}

/// With Confluent's defaults (max.retries=5, retry.backoff.ms=100: at most 6.2 s of
/// backoff) a long outage fails the task, as it does Confluent's: the trace names the URL
/// and the cause, and offsets stay at what was indexed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_under_default_retries_fails_the_task_keeping_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let w = worker(&dir).await;
    let mut proxy = Proxy::start(free_port()).await;
    let url = format!("http://127.0.0.1:{}", proxy.port);
    let topic = unique("outage-defaults");
    let name = unique("es-outage-defaults");
    let index = lower(&topic);
    let rows: Vec<String> = (0..150).map(|i| format!(r#"{{"i":{i}}}"#)).collect();
    let records: Vec<(Option<&str>, Option<&str>)> =
        rows.iter().map(|r| (None, Some(r.as_str()))).collect();
    produce(&topic, &records[..100]);
    connector(
        &w,
        &name,
        &topic,
        &url,
        &[("key.ignore", "true"), ("schema.ignore", "true")],
    )
    .await;
    wait_docs(&index, 100).await;
    wait_committed(&name, &topic, 100).await;
    proxy.cut();
    let cut = tokio::time::Instant::now();
    produce(&topic, &records[100..]);
    let t = wait_task(&w, &name, "FAILED").await;
    let trace = t["trace"].as_str().unwrap();
    assert!(
        trace.contains(&format!(
            "bulk request failed after 5 retries (max.retries): no Elasticsearch host \
             answered: {url}/_bulk: "
        )) && trace.contains("Connection refused"),
        "{trace}"
    );
    assert!(
        cut.elapsed() < Duration::from_secs(40),
        "failed only after {:?}",
        cut.elapsed()
    );
    assert_eq!(docs(&index).await.len(), 100);
    assert_eq!(committed(&name, &topic).await, Some(100));
    proxy.cut();
}

/// A forward proxy for plain HTTP: one request per connection (it answers with `connection:
/// close`), the absolute-form target rewritten for the node. Returns its port and every
/// request head it saw.
async fn forward_proxy() -> (u16, Arc<Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    async fn head(s: &mut tokio::net::TcpStream) -> Option<(String, Vec<u8>)> {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 8192];
        loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let rest = buf.split_off(end + 4);
                return Some((String::from_utf8(buf).ok()?, rest));
            }
            let n = s.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let heads = seen.clone();
    let upstream = os_url().trim_start_matches("http://").to_owned();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let (heads, upstream) = (heads.clone(), upstream.clone());
            tokio::spawn(async move {
                let Some((req, mut body)) = head(&mut client).await else {
                    return;
                };
                heads.lock().unwrap().push(req.clone());
                let length: usize = req
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse().ok())?
                    })
                    .unwrap_or(0);
                while body.len() < length {
                    let mut chunk = vec![0u8; length - body.len()];
                    let n = client.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    body.extend_from_slice(&chunk[..n]);
                }
                let mut lines = req.split("\r\n");
                let first = lines.next().unwrap_or_default();
                let mut parts = first.splitn(3, ' ');
                let (method, target, version) = (
                    parts.next().unwrap_or_default(),
                    parts.next().unwrap_or_default(),
                    parts.next().unwrap_or_default(),
                );
                let path = target
                    .strip_prefix("http://")
                    .and_then(|t| t.find('/').map(|i| &t[i..]))
                    .unwrap_or(target);
                let mut out = format!("{method} {path} {version}\r\n");
                for l in
                    lines.filter(|l| !l.is_empty() && !l.to_ascii_lowercase().starts_with("proxy-"))
                {
                    out.push_str(l);
                    out.push_str("\r\n");
                }
                out.push_str("connection: close\r\n\r\n");
                let Ok(mut up) = tokio::net::TcpStream::connect(&upstream).await else {
                    return;
                };
                let mut request = out.into_bytes();
                request.extend_from_slice(&body);
                if up.write_all(&request).await.is_err() {
                    return;
                }
                let Some((resp, rest)) = head(&mut up).await else {
                    return;
                };
                let resp = resp.replacen("\r\n", "\r\nconnection: close\r\n", 1);
                let _ = client.write_all(resp.as_bytes()).await;
                let _ = client.write_all(&rest).await;
                let _ = tokio::io::copy(&mut up, &mut client).await;
                let _ = client.shutdown().await;
            });
        }
    });
    (port, seen)
}

/// proxy.host/proxy.port/proxy.username/proxy.password: every request goes to the proxy
/// (the node's URL need not even resolve here), with basic proxy credentials.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_settings_send_every_request_through_the_proxy() {
    let (port, seen) = forward_proxy().await;
    let dir = tempfile::tempdir().unwrap();
    let w = worker(&dir).await;
    let topic = unique("proxied");
    let name = unique("es-proxied");
    produce(
        &topic,
        &[(None, Some(r#"{"a":1}"#)), (None, Some(r#"{"a":2}"#))],
    );
    let port = port.to_string();
    connector(
        &w,
        &name,
        &topic,
        "http://search.ferry.invalid:9200",
        &[
            ("key.ignore", "true"),
            ("proxy.host", "127.0.0.1"),
            ("proxy.port", port.as_str()),
            ("proxy.username", "ferry"),
            ("proxy.password", "secret"),
        ],
    )
    .await;
    let d = wait_docs(&lower(&topic), 2).await;
    assert_eq!(
        d,
        BTreeMap::from([
            (format!("{topic}+0+0"), json!({"a": 1})),
            (format!("{topic}+0+1"), json!({"a": 2}))
        ])
    );
    wait_committed(&name, &topic, 2).await;
    let heads = seen.lock().unwrap().clone();
    let firsts: Vec<&str> = heads.iter().filter_map(|h| h.lines().next()).collect();
    for expected in [
        "GET http://search.ferry.invalid:9200/ HTTP/1.1".to_owned(),
        format!(
            "HEAD http://search.ferry.invalid:9200/{} HTTP/1.1",
            lower(&topic)
        ),
        "POST http://search.ferry.invalid:9200/_bulk HTTP/1.1".to_owned(),
    ] {
        assert!(firsts.contains(&expected.as_str()), "{firsts:?}");
    }
    for h in &heads {
        assert!(
            h.lines()
                .any(|l| l.eq_ignore_ascii_case("proxy-authorization: Basic ZmVycnk6c2VjcmV0")),
            "{h}"
        );
    }
}

/// use.autogenerated.ids=true (write.method insert): the server names the documents, so two
/// records with one key become two documents (at-least-once, as Confluent documents it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autogenerated_ids_let_the_server_name_documents() {
    let dir = tempfile::tempdir().unwrap();
    let w = worker(&dir).await;
    let topic = unique("autoids");
    let name = unique("es-autoids");
    produce(
        &topic,
        &[
            (Some("\"k\""), Some(r#"{"i":0}"#)),
            (Some("\"k\""), Some(r#"{"i":1}"#)),
            (Some("\"j\""), Some(r#"{"i":2}"#)),
        ],
    );
    connector(
        &w,
        &name,
        &topic,
        &os_url(),
        &[("use.autogenerated.ids", "true")],
    )
    .await;
    let d = wait_docs(&lower(&topic), 3).await;
    let mut sources: Vec<i64> = d.values().map(|v| v["i"].as_i64().unwrap()).collect();
    sources.sort_unstable();
    assert_eq!(sources, [0, 1, 2]);
    for id in d.keys() {
        assert!(
            id != "k" && id != "j" && !id.contains('+') && id.len() >= 20,
            "not a generated id: {id}"
        );
    }
    wait_committed(&name, &topic, 3).await;
}

/// flush.timeout.ms bounds how long `put` waits for room in the buffer
/// (max.buffered.records) while the server is away; then the task fails saying so, as
/// Confluent's does, with offsets at what was indexed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flush_timeout_bounds_the_wait_for_buffer_room() {
    let dir = tempfile::tempdir().unwrap();
    let w = worker(&dir).await;
    let mut proxy = Proxy::start(free_port()).await;
    let topic = unique("flush-timeout");
    let name = unique("es-flush-timeout");
    let index = lower(&topic);
    let rows: Vec<String> = (0..11).map(|i| format!(r#"{{"i":{i}}}"#)).collect();
    let records: Vec<(Option<&str>, Option<&str>)> =
        rows.iter().map(|r| (None, Some(r.as_str()))).collect();
    produce(&topic, &records[..1]);
    connector(
        &w,
        &name,
        &topic,
        &format!("http://127.0.0.1:{}", proxy.port),
        &[
            ("key.ignore", "true"),
            ("schema.ignore", "true"),
            ("batch.size", "1"),
            ("max.buffered.records", "2"),
            ("max.retries", "1000"),
            ("retry.backoff.ms", "1000"),
            ("flush.timeout.ms", "2000"),
        ],
    )
    .await;
    wait_docs(&index, 1).await;
    wait_committed(&name, &topic, 1).await;
    proxy.cut();
    produce(&topic, &records[1..]);
    let t = wait_task(&w, &name, "FAILED").await;
    let trace = t["trace"].as_str().unwrap();
    assert!(
        trace.contains(
            "no room for more records after 2000 ms (flush.timeout.ms): 2 records \
             (max.buffered.records) are waiting for Elasticsearch"
        ),
        "{trace}"
    );
    assert_eq!(docs(&index).await.len(), 1);
    assert_eq!(committed(&name, &topic).await, Some(1));
    proxy.cut();
}

/// A certificate authority and a server certificate for 127.0.0.1 signed by it, made with
/// the `openssl` command: returns the CA's PEM path and the server's cert and key paths.
fn test_pki(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let run = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("the openssl command");
        assert!(out.status.success(), "openssl {args:?}: {out:?}");
    };
    std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-subj",
        "/CN=ferry test CA",
        "-days",
        "1",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "1",
        "-extfile",
        "san.ext",
    ]);
    (
        dir.join("ca.pem"),
        dir.join("server.pem"),
        dir.join("server.key"),
    )
}

/// A TLS-terminating proxy in front of the node (OpenSearch without its security plugin
/// serves plain HTTP only), requiring a client certificate signed by `client_ca` if given.
/// Returns its port.
async fn tls_proxy(
    cert: &std::path::Path,
    key: &std::path::Path,
    client_ca: Option<&std::path::Path>,
) -> u16 {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .unwrap()
        .map(|c| c.unwrap())
        .collect();
    let key = PrivateKeyDer::from_pem_file(key).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_file_iter(ca).unwrap() {
                roots.add(c.unwrap()).unwrap();
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .unwrap();
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder.with_single_cert(certs, key).unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let upstream = os_url().trim_start_matches("http://").to_owned();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, upstream) = (acceptor.clone(), upstream.clone());
            tokio::spawn(async move {
                // A client refusing the certificate ends the handshake: nothing to relay.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                if let Ok(mut up) = tokio::net::TcpStream::connect(&upstream).await {
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut up).await;
                }
            });
        }
    });
    port
}

/// elastic.security.protocol=SSL with a PEM truststore: the sink writes over HTTPS to a
/// server whose certificate a private CA signed; without that truststore (the built-in
/// roots only) the task fails naming the URL and the certificate problem.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_a_pem_truststore() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = test_pki(dir.path());
    let port = tls_proxy(&cert, &key, None).await;
    let url = format!("https://127.0.0.1:{port}");
    let w = worker(&dir).await;
    let topic = unique("tls");
    produce(&topic, &[(None, Some(r#"{"a":1}"#))]);
    let name = unique("es-tls");
    let ca = ca.to_str().unwrap().to_owned();
    connector(
        &w,
        &name,
        &topic,
        &url,
        &[
            ("key.ignore", "true"),
            ("elastic.security.protocol", "SSL"),
            ("elastic.https.ssl.truststore.location", ca.as_str()),
            ("elastic.https.ssl.truststore.type", "PEM"),
        ],
    )
    .await;
    let d = wait_docs(&lower(&topic), 1).await;
    assert_eq!(
        d,
        BTreeMap::from([(format!("{topic}+0+0"), json!({"a": 1}))])
    );
    wait_committed(&name, &topic, 1).await;

    let untrusted = unique("es-tls-untrusted");
    connector(
        &w,
        &untrusted,
        &topic,
        &url,
        &[
            ("key.ignore", "true"),
            ("elastic.security.protocol", "SSL"),
            ("max.retries", "0"),
        ],
    )
    .await;
    let t = wait_task(&w, &untrusted, "FAILED").await;
    let trace = t["trace"].as_str().unwrap();
    assert!(
        trace.contains(&format!("no Elasticsearch host answered: {url}/: "))
            && trace.contains("invalid peer certificate: UnknownIssuer"),
        "{trace}"
    );
}

/// elastic.https.ssl.keystore.location (PEM chain and key): a server that requires a client
/// certificate from the test CA accepts the sink's; without a keystore the task fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_client_certificate_from_a_pem_keystore() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = test_pki(dir.path());
    let run = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "openssl {args:?}: {out:?}");
    };
    // An extension makes it an X.509 v3 certificate, the only version webpki takes.
    std::fs::write(
        dir.path().join("client.ext"),
        "extendedKeyUsage=clientAuth\n",
    )
    .unwrap();
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "client.key",
        "-out",
        "client.csr",
        "-subj",
        "/CN=ferry",
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        "client.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "client.crt",
        "-days",
        "1",
        "-extfile",
        "client.ext",
    ]);
    let keystore = dir.path().join("client.pem");
    let mut pem = std::fs::read(dir.path().join("client.crt")).unwrap();
    pem.extend(std::fs::read(dir.path().join("client.key")).unwrap());
    std::fs::write(&keystore, pem).unwrap();
    let port = tls_proxy(&cert, &key, Some(&ca)).await;
    let url = format!("https://127.0.0.1:{port}");
    let w = worker(&dir).await;
    let topic = unique("mtls");
    produce(&topic, &[(None, Some(r#"{"a":1}"#))]);
    let (ca, keystore) = (ca.to_str().unwrap(), keystore.to_str().unwrap());
    let base = [
        ("key.ignore", "true"),
        ("elastic.security.protocol", "SSL"),
        ("elastic.https.ssl.truststore.location", ca),
        ("elastic.https.ssl.truststore.type", "PEM"),
        ("max.retries", "0"),
    ];
    let name = unique("es-mtls");
    let mut with_cert = base.to_vec();
    with_cert.extend([
        ("elastic.https.ssl.keystore.location", keystore),
        ("elastic.https.ssl.keystore.type", "PEM"),
    ]);
    connector(&w, &name, &topic, &url, &with_cert).await;
    let d = wait_docs(&lower(&topic), 1).await;
    assert_eq!(
        d,
        BTreeMap::from([(format!("{topic}+0+0"), json!({"a": 1}))])
    );
    let without = unique("es-mtls-nocert");
    connector(&w, &without, &topic, &url, &base).await;
    let t = wait_task(&w, &without, "FAILED").await;
    let trace = t["trace"].as_str().unwrap();
    assert!(
        trace.contains(&format!("no Elasticsearch host answered: {url}/: ")),
        "{trace}"
    );
}
