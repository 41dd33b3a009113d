//! Error handling against the real broker: `errors.tolerance=all` with a dead letter queue
//! (the original bytes and Kafka Connect's `__connect.errors.*` headers), `errors.tolerance=none`
//! failing the task with the cause, and a dead letter queue that cannot be created.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use common::*;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use serde_json::{Value, json};

async fn create_topic(name: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap())
        .create()
        .unwrap();
    let r = admin
        .create_topics(
            [&NewTopic::new(name, partitions, TopicReplication::Fixed(1))],
            &AdminOptions::new(),
        )
        .await
        .unwrap();
    r.into_iter().next().unwrap().unwrap();
}

/// One record to produce: partition, key, value, an optional header value.
type Input = (i32, Vec<u8>, Vec<u8>, Option<Vec<u8>>);

fn produce_all(topic: &str, records: &[Input]) {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap())
        .set("linger.ms", "20")
        .create()
        .unwrap();
    for (partition, key, value, header) in records {
        let mut r = BaseRecord::<[u8], [u8]>::to(topic)
            .partition(*partition)
            .key(key)
            .payload(value);
        if let Some(h) = header {
            r = r.headers(OwnedHeaders::new().insert(Header {
                key: "origin",
                value: Some(h.as_slice()),
            }));
        }
        let mut r = r;
        loop {
            match producer.send(r) {
                Ok(()) => break,
                Err((_, back)) => {
                    r = back;
                    producer.poll(Duration::from_millis(10));
                }
            }
        }
        producer.poll(Duration::ZERO);
    }
    producer.flush(Duration::from_secs(60)).unwrap();
}

/// A dead-lettered record as read back.
#[derive(Debug)]
struct Dead {
    partition: i32,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Vec<(String, String)>,
}

impl Dead {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn consume_dead(topic: &str, n: usize, timeout: Duration) -> Vec<Dead> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap())
        .set("group.id", unique("dlq-reader"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    consumer.subscribe(&[topic]).unwrap();
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    while out.len() < n && Instant::now() < deadline {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
            let headers = m
                .headers()
                .map(|hs| {
                    hs.iter()
                        .map(|h| {
                            (
                                h.key.to_owned(),
                                String::from_utf8_lossy(h.value.unwrap_or_default()).into_owned(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            out.push(Dead {
                partition: m.partition(),
                key: m.key().map(<[u8]>::to_vec),
                value: m.payload().map(<[u8]>::to_vec),
                headers,
            });
        }
    }
    // Anything beyond n would be a duplicate: give it a moment to show up.
    let extra = Instant::now() + Duration::from_secs(2);
    while Instant::now() < extra {
        if let Some(Ok(_)) = consumer.poll(Duration::from_millis(100)) {
            out.push(Dead {
                partition: -1,
                key: None,
                value: None,
                headers: Vec::new(),
            });
        }
    }
    out
}

fn partitions_of(topic: &str) -> usize {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap())
        .create()
        .unwrap();
    let md = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .unwrap();
    md.topics()[0].partitions().len()
}

async fn create_connector(worker: &Worker, name: &str, config: Value) {
    let (code, body, _) = worker
        .call(
            "POST",
            "/connectors",
            Some(json!({"name": name, "config": config})),
        )
        .await;
    assert_eq!(code, 201, "{body}");
}

const GOOD: usize = 100_000;
const BAD: usize = 10_000;
const PARTITIONS: i32 = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tolerance_all_sends_malformed_records_to_the_dead_letter_queue() {
    let dir = tempfile::tempdir().unwrap();
    let topic = unique("errors-in");
    let dlq = unique("errors-dlq");
    create_topic(&topic, PARTITIONS).await;

    // Every 11th record is malformed: 9 in 10 have a value that is not JSON, 1 in 10 a key.
    // Record i goes to partition i % 3, so its offset there is i / 3.
    let mut inputs: Vec<Input> = Vec::with_capacity(GOOD + BAD);
    let mut good_lines = Vec::with_capacity(GOOD);
    let mut bad = BTreeMap::new(); // (partition, offset) -> (key, value, stage)
    let (mut g, mut b) = (0, 0);
    for i in 0..GOOD + BAD {
        let partition = (i % PARTITIONS as usize) as i32;
        let offset = (i / PARTITIONS as usize) as i64;
        let header = (i % 7 == 0).then(|| format!("h{i}").into_bytes());
        if i % 11 == 10 {
            let (key, value, stage) = if b % 10 == 0 {
                (
                    format!("no-json-key-{b}").into_bytes(),
                    format!("\"ok-{b}\"").into_bytes(),
                    "KEY_CONVERTER",
                )
            } else {
                (
                    format!("\"k{b}\"").into_bytes(),
                    format!("{{\"broken\": {b}").into_bytes(),
                    "VALUE_CONVERTER",
                )
            };
            bad.insert(
                (partition, offset),
                (key.clone(), value.clone(), header.clone(), stage),
            );
            inputs.push((partition, key, value, header));
            b += 1;
        } else {
            good_lines.push(format!("good-{g}"));
            inputs.push((
                partition,
                format!("\"k{g}\"").into_bytes(),
                format!("\"good-{g}\"").into_bytes(),
                header,
            ));
            g += 1;
        }
    }
    assert_eq!((g, b), (GOOD, BAD));
    produce_all(&topic, &inputs);

    let worker = Worker::start(dir.path(), &worker_props(dir.path(), free_port()), &[]).await;
    let output = dir.path().join("out.txt");
    create_connector(
        &worker,
        "tolerant",
        json!({
            "connector.class": "FileStreamSink",
            "file": output.to_str().unwrap(),
            "topics": topic,
            "errors.tolerance": "all",
            "errors.log.enable": "true",
            "errors.deadletterqueue.topic.name": dlq,
            "errors.deadletterqueue.topic.replication.factor": "1",
            "errors.deadletterqueue.context.headers.enable": "true",
        }),
    )
    .await;

    // Every good record reaches the file exactly once.
    let got = wait_for(
        "100,000 lines in the sink file",
        Duration::from_secs(120),
        || async {
            let l = lines(&output);
            (l.len() >= GOOD).then_some(l)
        },
    )
    .await;
    let mut got_sorted = got.clone();
    got_sorted.sort();
    let mut want = good_lines.clone();
    want.sort();
    assert_eq!(got_sorted.len(), GOOD);
    assert!(
        got_sorted == want,
        "the sink file holds exactly the good records"
    );

    // Every bad record is in the dead letter queue once, with its original bytes.
    let dead = consume_dead(&dlq, BAD, Duration::from_secs(60));
    assert_eq!(dead.len(), BAD, "dead-lettered records");
    assert_eq!(
        partitions_of(&dlq),
        1,
        "the DLQ topic is created with one partition"
    );
    let mut seen = BTreeSet::new();
    let mut stages = BTreeMap::new();
    for d in &dead {
        assert_eq!(d.partition, 0);
        let p: i32 = d
            .header("__connect.errors.partition")
            .unwrap()
            .parse()
            .unwrap();
        let o: i64 = d
            .header("__connect.errors.offset")
            .unwrap()
            .parse()
            .unwrap();
        let (key, value, header, stage) = bad
            .get(&(p, o))
            .unwrap_or_else(|| panic!("a good record in the DLQ: {d:?}"));
        assert!(seen.insert((p, o)), "dead-lettered twice: {p}/{o}");
        assert_eq!(d.key.as_ref(), Some(key));
        assert_eq!(d.value.as_ref(), Some(value));
        assert_eq!(d.header("origin").map(str::as_bytes), header.as_deref());
        assert_eq!(d.header("__connect.errors.stage"), Some(*stage));
        assert_eq!(d.header("__connect.errors.topic"), Some(topic.as_str()));
        *stages.entry(*stage).or_insert(0) += 1;
        // Original headers first, then the ten context headers.
        let names: Vec<&str> = d.headers.iter().map(|(k, _)| k.as_str()).collect();
        let context = &names[usize::from(header.is_some())..];
        assert_eq!(
            context,
            [
                "__connect.errors.topic",
                "__connect.errors.partition",
                "__connect.errors.offset",
                "__connect.errors.connector.name",
                "__connect.errors.task.id",
                "__connect.errors.stage",
                "__connect.errors.class.name",
                "__connect.errors.exception.class.name",
                "__connect.errors.exception.message",
                "__connect.errors.exception.stacktrace",
            ]
        );
    }
    assert_eq!(
        stages,
        BTreeMap::from([("KEY_CONVERTER", 1_000), ("VALUE_CONVERTER", 9_000)])
    );

    // A few exactly: the first bad record (i = 10: partition 1, offset 3, a bad key) and
    // the second (i = 21: partition 0, offset 7, a bad value).
    let find = |p: i32, o: i64| {
        dead.iter()
            .find(|d| {
                d.header("__connect.errors.partition") == Some(p.to_string().as_str())
                    && d.header("__connect.errors.offset") == Some(o.to_string().as_str())
            })
            .unwrap()
    };
    for (p, o, what, stage) in [
        (1, 3, "key", "KEY_CONVERTER"),
        (0, 7, "value", "VALUE_CONVERTER"),
    ] {
        let d = find(p, o);
        let message = d.header("__connect.errors.exception.message").unwrap();
        let expected_start =
            format!("could not convert the {what} of the record at {topic}-{p} offset {o}: ");
        assert!(message.starts_with(&expected_start), "{message}");
        let expected: Vec<(&str, String)> = vec![
            ("__connect.errors.topic", topic.clone()),
            ("__connect.errors.partition", p.to_string()),
            ("__connect.errors.offset", o.to_string()),
            ("__connect.errors.connector.name", "tolerant".into()),
            ("__connect.errors.task.id", "0".into()),
            ("__connect.errors.stage", stage.into()),
            (
                "__connect.errors.class.name",
                "org.apache.kafka.connect.json.JsonConverter".into(),
            ),
            (
                "__connect.errors.exception.class.name",
                "org.apache.kafka.connect.errors.DataException".into(),
            ),
            ("__connect.errors.exception.message", message.to_owned()),
            (
                "__connect.errors.exception.stacktrace",
                format!("org.apache.kafka.connect.errors.DataException: {message}"),
            ),
        ];
        let got: Vec<(&str, String)> = d
            .headers
            .iter()
            .filter(|(k, _)| k.starts_with("__connect.errors."))
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        assert_eq!(got, expected);
    }

    // The offsets of every partition are committed to its end, skipped records included.
    let end = ((GOOD + BAD) / PARTITIONS as usize) as i64;
    wait_for("the committed offsets", Duration::from_secs(30), || async {
        let (_, body, _) = worker
            .call("GET", "/connectors/tolerant/offsets", None)
            .await;
        let mut got: Vec<(i64, i64)> = body["offsets"]
            .as_array()?
            .iter()
            .filter_map(|o| {
                Some((
                    o["partition"]["kafka_partition"].as_i64()?,
                    o["offset"]["kafka_offset"].as_i64()?,
                ))
            })
            .collect();
        got.sort();
        let want: Vec<(i64, i64)> = (0..i64::from(PARTITIONS))
            .map(|p| {
                (
                    p,
                    end + i64::from(p < ((GOOD + BAD) % PARTITIONS as usize) as i64),
                )
            })
            .collect();
        (got == want).then_some(())
    })
    .await;
    let status = worker.get("/connectors/tolerant/status").await;
    assert_eq!(status["tasks"][0]["state"], "RUNNING", "{status}");

    // errors.log.enable: each failure is logged with the record's position, not its contents.
    let log = worker.log_text();
    let logged = log.matches("Error encountered in task tolerant-0.").count();
    assert_eq!(logged, BAD, "logged failures");
    assert!(
        log.contains(&format!(
            "Executing stage 'KEY_CONVERTER' with class 'org.apache.kafka.connect.json.JsonConverter', where consumed record is {{topic='{topic}', partition=1, offset=3"
        )),
        "the first failure is logged with its position"
    );
    assert!(
        !log.contains("value={\"broken\""),
        "errors.log.include.messages=false"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tolerance_none_fails_the_task_at_the_bad_record() {
    let dir = tempfile::tempdir().unwrap();
    let topic = unique("errors-none");
    let dlq = unique("errors-none-dlq");
    let values: Vec<Vec<u8>> = (0..10)
        .map(|i| {
            if i == 6 {
                b"{\"broken\"".to_vec()
            } else {
                format!("\"v{i}\"").into_bytes()
            }
        })
        .collect();
    let refs: Vec<&[u8]> = values.iter().map(Vec::as_slice).collect();
    produce(&topic, &refs);
    let worker = Worker::start(dir.path(), &worker_props(dir.path(), free_port()), &[]).await;
    let output = dir.path().join("out.txt");
    create_connector(
        &worker,
        "strict",
        json!({
            "connector.class": "FileStreamSink",
            "file": output.to_str().unwrap(),
            "topics": topic,
            "errors.tolerance": "none",
            "errors.log.enable": "true",
            "errors.deadletterqueue.topic.name": dlq,
            "errors.deadletterqueue.topic.replication.factor": "1",
        }),
    )
    .await;
    let status = wait_for("the sink task to fail", Duration::from_secs(30), || async {
        let s = worker.get("/connectors/strict/status").await;
        (s["tasks"][0]["state"] == "FAILED").then_some(s)
    })
    .await;
    let trace = status["tasks"][0]["trace"].as_str().unwrap();
    let expected = format!(
        "org.apache.kafka.connect.errors.ConnectException: Tolerance exceeded in error handler\n\
         Caused by: org.apache.kafka.connect.errors.DataException: could not convert the value of the record at {topic}-0 offset 6: "
    );
    assert!(trace.starts_with(&expected), "{trace}");
    assert_eq!(status["connector"]["state"], "RUNNING", "{status}");

    // Nothing from the bad record on was written or committed.
    let written = lines(&output);
    assert!(
        written.is_empty() || written == ["v0", "v1", "v2", "v3", "v4", "v5"],
        "{written:?}"
    );
    let (_, offsets, _) = worker.call("GET", "/connectors/strict/offsets", None).await;
    let committed = offsets["offsets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["offset"]["kafka_offset"].as_i64().unwrap())
        .max()
        .unwrap_or(0);
    assert!(committed <= 6, "{offsets}");
    // A failure that was not tolerated is not dead-lettered.
    assert!(consume(&dlq, 1, Duration::from_secs(3)).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_letter_queue_the_broker_cannot_replicate_fails_the_task() {
    let dir = tempfile::tempdir().unwrap();
    let topic = unique("errors-rf");
    produce(&topic, &[b"\"x\""]);
    let worker = Worker::start(dir.path(), &worker_props(dir.path(), free_port()), &[]).await;
    create_connector(
        &worker,
        "replicated",
        json!({
            "connector.class": "FileStreamSink",
            "file": dir.path().join("out.txt").to_str().unwrap(),
            "topics": topic,
            "errors.tolerance": "all",
            "errors.deadletterqueue.topic.name": unique("errors-rf-dlq"),
        }),
    )
    .await;
    let status = wait_for("the sink task to fail", Duration::from_secs(60), || async {
        let s = worker.get("/connectors/replicated/status").await;
        (s["tasks"][0]["state"] == "FAILED").then_some(s)
    })
    .await;
    let trace = status["tasks"][0]["trace"].as_str().unwrap();
    assert!(
        trace.contains("Could not initialize dead letter queue with topic="),
        "{trace}"
    );
    assert!(
        trace.contains("errors.deadletterqueue.topic.replication.factor=3"),
        "{trace}"
    );
}

/// A transform that fails on a record is the TRANSFORMATION stage: under tolerance all the
/// record goes to the dead letter queue under the transform's class, the others through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_transform_is_dead_lettered_under_tolerance_all() {
    let dir = tempfile::tempdir().unwrap();
    let topic = unique("errors-smt");
    let dlq = unique("errors-smt-dlq");
    // ExtractField$Value needs a map (schemaless): a bare string fails it.
    produce(
        &topic,
        &[b"{\"x\":\"a\"}", b"\"not a map\"", b"{\"x\":\"b\"}"],
    );
    let worker = Worker::start(dir.path(), &worker_props(dir.path(), free_port()), &[]).await;
    let output = dir.path().join("out.txt");
    create_connector(
        &worker,
        "extracting",
        json!({
            "connector.class": "FileStreamSink",
            "file": output.to_str().unwrap(),
            "topics": topic,
            "transforms": "x",
            "transforms.x.type": "org.apache.kafka.connect.transforms.ExtractField$Value",
            "transforms.x.field": "x",
            "errors.tolerance": "all",
            "errors.deadletterqueue.topic.name": dlq,
            "errors.deadletterqueue.topic.replication.factor": "1",
            "errors.deadletterqueue.context.headers.enable": "true",
        }),
    )
    .await;
    wait_for(
        "both good records written",
        Duration::from_secs(30),
        || async { (lines(&output) == ["a", "b"]).then_some(()) },
    )
    .await;
    let dead = consume_dead(&dlq, 1, Duration::from_secs(30));
    assert_eq!(dead.len(), 1, "exactly one dead letter");
    let d = &dead[0];
    assert_eq!(d.value.as_deref(), Some(&b"\"not a map\""[..]));
    assert_eq!(d.header("__connect.errors.stage"), Some("TRANSFORMATION"));
    assert_eq!(
        d.header("__connect.errors.class.name"),
        Some("org.apache.kafka.connect.transforms.ExtractField$Value")
    );
    assert_eq!(d.header("__connect.errors.offset"), Some("1"));
    let status = worker.get("/connectors/extracting/status").await;
    assert_eq!(status["tasks"][0]["state"], "RUNNING", "{status}");
    // The error metrics count it.
    let (_, metrics, _) = worker.call("GET", "/metrics", None).await;
    let metrics = metrics.as_str().unwrap_or_default().to_owned();
    for name in [
        "kafka_connect_task_error_metrics_total_records_skipped",
        "kafka_connect_task_error_metrics_total_record_failures",
        "kafka_connect_task_error_metrics_deadletterqueue_produce_requests",
    ] {
        let line = metrics
            .lines()
            .find(|l| l.starts_with(name) && l.contains("connector=\"extracting\""))
            .unwrap_or_else(|| panic!("no {name} in:\n{metrics}"));
        assert!(line.ends_with(" 1"), "{line}");
    }
}

/// A TCP forwarder from `port` to `target` (host:port), started on demand: until then the
/// port refuses connections, as a registry that is down.
fn forward(port: u16, target: String) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let Ok(listener) = tokio::net::TcpListener::bind(("127.0.0.1", port)).await else {
            return;
        };
        while let Ok((mut inbound, _)) = listener.accept().await {
            let target = target.clone();
            tokio::spawn(async move {
                if let Ok(mut out) = tokio::net::TcpStream::connect(&target).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                }
            });
        }
    })
}

/// An unreachable schema registry is a retriable converter failure: retried with backoff
/// within `errors.retry.timeout`, so records flow once it is back; past the timeout, under
/// `errors.tolerance=none`, the task fails naming the cause.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retriable_converter_failures_are_retried_within_errors_retry_timeout() {
    let registry = std::env::var("SCHEMA_REGISTRY_URL").expect(
        "SCHEMA_REGISTRY_URL is not set: run `e2e/services up kafka schema-registry && eval \"$(e2e/services env)\"` first (e2e/test does this)",
    );
    let parsed = reqwest::Url::parse(&registry).unwrap();
    let target = format!(
        "{}:{}",
        parsed.host_str().unwrap(),
        parsed.port_or_known_default().unwrap()
    );
    let dir = tempfile::tempdir().unwrap();
    const N: usize = 20;
    let input = dir.path().join("in.txt");
    let text: String = (0..N).map(|i| format!("line {i}\n")).collect();
    std::fs::write(&input, text).unwrap();
    let worker = Worker::start(dir.path(), &worker_props(dir.path(), free_port()), &[]).await;
    let source = |topic: &str, port: u16, timeout_ms: &str| {
        json!({
            "connector.class": "FileStreamSource",
            "file": input.to_str().unwrap(),
            "topic": topic,
            "value.converter": "io.confluent.connect.avro.AvroConverter",
            "value.converter.schema.registry.url":
                format!("http://127.0.0.1:{port}{}", parsed.path()),
            "errors.retry.timeout": timeout_ms,
            "errors.retry.delay.max.ms": "500",
        })
    };

    // Down, then back within the retry timeout: every record arrives, the task never failed.
    let (topic, port, name) = (unique("retry"), free_port(), unique("retrysrc"));
    create_connector(&worker, &name, source(&topic, port, "120000")).await;
    let series = format!(
        "kafka_connect_task_error_metrics_total_retries{{connector=\"{name}\",task=\"0\"}}"
    );
    wait_for("retries", Duration::from_secs(60), || async {
        let text = worker.get("/metrics").await;
        sample(text.as_str().unwrap_or_default(), &series)
            .filter(|n| *n >= 3.0)
            .map(|_| ())
    })
    .await;
    let status = worker.get(&format!("/connectors/{name}/status")).await;
    assert_eq!(status["tasks"][0]["state"], "RUNNING", "{status}");
    let proxy = forward(port, target);
    let records = consume(&topic, N, Duration::from_secs(60));
    assert_eq!(records.len(), N);
    // Confluent wire format: magic byte 0, then the schema id.
    assert!(
        records
            .iter()
            .all(|(_, v)| v.as_ref().is_some_and(|v| v[0] == 0))
    );
    let status = worker.get(&format!("/connectors/{name}/status")).await;
    assert_eq!(status["tasks"][0]["state"], "RUNNING", "{status}");
    proxy.abort();

    // Down past the retry timeout: the task fails, naming the registry.
    let (topic, port, name) = (unique("retry"), free_port(), unique("retryfail"));
    create_connector(&worker, &name, source(&topic, port, "1500")).await;
    let status = wait_for("the task FAILED", Duration::from_secs(60), || async {
        let s = worker.get(&format!("/connectors/{name}/status")).await;
        (s["tasks"][0]["state"] == "FAILED").then_some(s)
    })
    .await;
    let trace = status["tasks"][0]["trace"].as_str().unwrap_or_default();
    assert!(
        trace.contains("Tolerance exceeded in error handler"),
        "{trace}"
    );
    assert!(trace.contains(&format!("127.0.0.1:{port}")), "{trace}");
}

/// A source record a transform fails on, under `errors.tolerance=all`, is skipped and still
/// moves the source on (Kafka's `WorkerSourceTask` acknowledges a dropped record): with the
/// failing line last, the committed position is the end of the file, so a restart does not
/// read it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_record_a_transform_fails_on_still_moves_the_offset_under_tolerance_all() {
    let dir = tempfile::tempdir().unwrap();
    let topic = unique("errors-smt-source");
    let input = dir.path().join("in.txt");
    std::fs::write(&input, "1\n2\nthree\n").unwrap();
    let worker = Worker::start(dir.path(), &worker_props(dir.path(), free_port()), &[]).await;
    create_connector(
        &worker,
        "casting",
        json!({
            "connector.class": "FileStreamSource",
            "file": input.to_str().unwrap(),
            "topic": topic,
            "transforms": "n",
            "transforms.n.type": "org.apache.kafka.connect.transforms.Cast$Value",
            "transforms.n.spec": "int32",
            "errors.tolerance": "all",
        }),
    )
    .await;
    let end = "1\n2\nthree\n".len();
    let offsets = wait_for(
        "the offset past the failing line",
        Duration::from_secs(30),
        || async {
            let o = worker.get("/connectors/casting/offsets").await;
            (o["offsets"][0]["offset"]["position"] == end).then_some(o)
        },
    )
    .await;
    assert_eq!(
        offsets["offsets"].as_array().map(Vec::len),
        Some(1),
        "{offsets}"
    );
    // Every line was handled by then: the topic holds the two that cast, and only them.
    let values: Vec<_> = consume(&topic, 3, Duration::from_secs(5))
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    assert_eq!(values, [Some(b"1".to_vec()), Some(b"2".to_vec())]);
    let status = worker.get("/connectors/casting/status").await;
    assert_eq!(status["tasks"][0]["state"], "RUNNING", "{status}");
}
