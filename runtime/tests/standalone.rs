//! The standalone worker against the real broker: the FileStream pipeline, delivery
//! after SIGKILL, and bad input.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use common::*;
use serde_json::json;

fn append(path: &Path, lines: impl IntoIterator<Item = String>) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    for l in lines {
        writeln!(f, "{l}").unwrap();
    }
    f.sync_all().unwrap();
}

fn connector_file(dir: &Path, name: &str, props: &[(&str, &str)]) -> std::path::PathBuf {
    let path = dir.join(format!("{name}.properties"));
    let mut all: Vec<(String, String)> = vec![("name".into(), name.into())];
    all.extend(
        props
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    write_props(&path, &all);
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_source_to_kafka_to_file_sink() {
    let dir = tempfile::tempdir().unwrap();
    let topic = unique("pipeline");
    let input = dir.path().join("in.txt");
    let output = dir.path().join("out.txt");
    let sent: Vec<String> = (0..500)
        .map(|i| format!("line {i} héllo \"quoted\" \\ {{json}}"))
        .collect();
    append(&input, sent.clone());

    let source = connector_file(
        dir.path(),
        "src",
        &[
            ("connector.class", "FileStreamSource"),
            ("file", input.to_str().unwrap()),
            ("topic", &topic),
            ("batch.size", "100"),
        ],
    );
    // A name of its own: the consumer group connect-NAME outlives the test on the shared
    // broker, and a reused one waits out earlier (or killed) members.
    let sink_name = unique("sink");
    let sink = connector_file(
        dir.path(),
        &sink_name,
        &[
            (
                "connector.class",
                "org.apache.kafka.connect.file.FileStreamSinkConnector",
            ),
            ("file", output.to_str().unwrap()),
            ("topics", &topic),
        ],
    );
    let port = free_port();
    let worker = Worker::start(dir.path(), &worker_props(dir.path(), port), &[source, sink]).await;

    let got = wait_for(
        "500 lines in the sink file",
        Duration::from_secs(60),
        || async {
            let l = lines(&output);
            (l.len() >= 500).then_some(l)
        },
    )
    .await;
    assert_eq!(
        got, sent,
        "the sink file holds exactly the source lines, in order"
    );

    // The topic holds each line as a JSON string (JsonConverter, schemas.enable=false), no key.
    let records = consume(&topic, 500, Duration::from_secs(30));
    assert_eq!(records.len(), 500);
    for (record, line) in records.iter().zip(&sent) {
        assert_eq!(record.0, None);
        let value: serde_json::Value =
            serde_json::from_slice(record.1.as_deref().unwrap()).unwrap();
        assert_eq!(value, json!(line));
    }

    // The file grows: new lines follow.
    append(&input, ["tail 1".to_owned(), "tail 2".to_owned()]);
    wait_for("the appended lines", Duration::from_secs(30), || async {
        let l = lines(&output);
        (l.len() == 502 && l[500] == "tail 1" && l[501] == "tail 2").then_some(())
    })
    .await;

    // The source offset is the byte position after the last line.
    let expected_position = std::fs::metadata(&input).unwrap().len();
    wait_for("the committed source offset", Duration::from_secs(30), || async {
        let (_, body, _) = worker.call("GET", "/connectors/src/offsets", None).await;
        (body == json!({"offsets": [{"partition": {"filename": input.to_str().unwrap()}, "offset": {"position": expected_position}}]}))
            .then_some(())
    })
    .await;
    // The sink's consumer offsets are committed in the group connect-NAME.
    wait_for("the committed sink offset", Duration::from_secs(30), || async {
        let (_, body, _) = worker
            .call("GET", &format!("/connectors/{sink_name}/offsets"), None)
            .await;
        (body == json!({"offsets": [{"partition": {"kafka_topic": topic, "kafka_partition": 0}, "offset": {"kafka_offset": 502}}]}))
            .then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let topic = unique("kill9");
    let input = dir.path().join("in.txt");
    let output = dir.path().join("out.txt");
    let first: Vec<String> = (0..20_000).map(|i| format!("record-{i:06}")).collect();
    append(&input, first.clone());
    let source = connector_file(
        dir.path(),
        "src",
        &[
            ("connector.class", "FileStreamSource"),
            ("file", input.to_str().unwrap()),
            ("topic", &topic),
        ],
    );
    // A name of its own: the consumer group connect-NAME outlives the test on the shared
    // broker, and a reused one waits out earlier (or killed) members.
    let sink_name = unique("sink");
    let sink = connector_file(
        dir.path(),
        &sink_name,
        &[
            ("connector.class", "FileStreamSink"),
            ("file", output.to_str().unwrap()),
            ("topics", &topic),
        ],
    );
    let port = free_port();
    let mut props = worker_props(dir.path(), port);
    // The killed worker's sink stays in its consumer group until its session times out
    // (45 s by default); the restarted one waits for that before it gets the partition.
    props.push(("consumer.session.timeout.ms".into(), "6000".into()));
    props.push(("consumer.heartbeat.interval.ms".into(), "1000".into()));
    let mut worker = Worker::start(dir.path(), &props, &[source.clone(), sink.clone()]).await;
    // Kill it mid-stream: once some lines reached the sink, but (most likely) not all.
    wait_for(
        "the first lines in the sink",
        Duration::from_secs(60),
        || async { (!lines(&output).is_empty()).then_some(()) },
    )
    .await;
    worker.kill9();

    let second: Vec<String> = (20_000..21_000).map(|i| format!("record-{i:06}")).collect();
    append(&input, second.clone());
    let worker = Worker::start(dir.path(), &props, &[source, sink]).await;

    let all: Vec<String> = first.into_iter().chain(second).collect();
    let expected: std::collections::BTreeSet<String> = all.iter().cloned().collect();
    wait_for(
        "every line in the sink after the restart",
        Duration::from_secs(120),
        || async {
            let got: std::collections::BTreeSet<String> = lines(&output).into_iter().collect();
            (got == expected).then_some(())
        },
    )
    .await;
    // At least once: each line arrives, maybe twice; nothing else arrives.
    let out = lines(&output);
    assert!(out.len() >= all.len());
    assert!(out.iter().all(|l| expected.contains(l)));
    // The topic, too, holds every line (maybe some twice: how many records is unknown, so
    // read for a few seconds at a time until every line was seen).
    wait_for(
        "every line in the topic",
        Duration::from_secs(60),
        || async {
            let records = consume(&topic, usize::MAX, Duration::from_secs(3));
            let in_topic: std::collections::BTreeSet<String> = records
                .iter()
                .map(|(_, v)| serde_json::from_slice::<String>(v.as_deref().unwrap()).unwrap())
                .collect();
            (in_topic == expected).then_some(())
        },
    )
    .await;
    drop(worker);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_cleanly_and_commits() {
    let dir = tempfile::tempdir().unwrap();
    let topic = unique("term");
    let input = dir.path().join("in.txt");
    append(&input, (0..100).map(|i| format!("t{i}")));
    let source = connector_file(
        dir.path(),
        "src",
        &[
            ("connector.class", "FileStreamSource"),
            ("file", input.to_str().unwrap()),
            ("topic", &topic),
        ],
    );
    let mut props = worker_props(dir.path(), free_port());
    // Only the shutdown commits: the interval never fires during the test.
    props.retain(|(k, _)| k != "offset.flush.interval.ms");
    let mut worker = Worker::start(dir.path(), &props, &[source]).await;
    assert_eq!(consume(&topic, 100, Duration::from_secs(30)).len(), 100);
    let status = worker.terminate();
    assert!(
        status.success(),
        "exit status {status}; log:\n{}",
        worker.log_text()
    );
    let offsets: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("offsets.json")).unwrap())
            .unwrap();
    let size = std::fs::metadata(&input).unwrap().len();
    assert_eq!(
        offsets,
        json!({"version": 1, "offsets": [[["src", {"filename": input.to_str().unwrap()}], {"position": size}]]})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_worker_config_exits_1_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let worker = dir.path().join("worker.properties");
    std::fs::write(
        &worker,
        "bootstrap.servers=x:1\noffset.flush.interval.ms=soon\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ferry"))
        .arg("standalone")
        .arg(&worker)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Invalid value soon for configuration offset.flush.interval.ms: Not a number of type LONG"), "{err}");
    assert!(
        err.contains("Missing required configuration \"offset.storage.file.filename\""),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_connector_class_exits_1_listing_known_ones() {
    let dir = tempfile::tempdir().unwrap();
    let props = worker_props(dir.path(), free_port());
    let worker = dir.path().join("worker.properties");
    write_props(&worker, &props);
    let conn = connector_file(dir.path(), "x", &[("connector.class", "com.example.Nope")]);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ferry"))
        .arg("standalone")
        .arg(&worker)
        .arg(&conn)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("which name matches com.example.Nope"), "{err}");
    assert!(
        err.contains("org.apache.kafka.connect.file.FileStreamSinkConnector"),
        "{err}"
    );
    assert!(
        err.contains("org.apache.kafka.connect.file.FileStreamSourceConnector"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_file_and_unwritable_sink_fail_their_tasks() {
    let dir = tempfile::tempdir().unwrap();
    let worker = Worker::start(dir.path(), &worker_props(dir.path(), free_port()), &[]).await;
    let missing = dir.path().join("no-such-file.txt");
    let (code, _, _) = worker
        .call(
            "POST",
            "/connectors",
            Some(json!({"name": "missing", "config": {"connector.class": "FileStreamSource", "file": missing.to_str().unwrap(), "topic": unique("t")}})),
        )
        .await;
    assert_eq!(code, 201);
    let status = wait_for("the task to fail", Duration::from_secs(30), || async {
        let s = worker.get("/connectors/missing/status").await;
        (s["tasks"][0]["state"] == "FAILED").then_some(s)
    })
    .await;
    let trace = status["tasks"][0]["trace"].as_str().unwrap();
    assert!(trace.contains(missing.to_str().unwrap()), "{trace}");
    assert!(trace.contains("No such file or directory"), "{trace}");
    assert_eq!(status["connector"]["state"], "RUNNING");

    let unwritable = dir.path().join("no-dir").join("out.txt");
    let (code, _, _) = worker
        .call(
            "POST",
            "/connectors",
            Some(json!({"name": "unwritable", "config": {"connector.class": "FileStreamSink", "file": unwritable.to_str().unwrap(), "topics": unique("t")}})),
        )
        .await;
    assert_eq!(code, 201);
    let status = wait_for("the sink task to fail", Duration::from_secs(30), || async {
        let s = worker.get("/connectors/unwritable/status").await;
        (s["tasks"][0]["state"] == "FAILED").then_some(s)
    })
    .await;
    let trace = status["tasks"][0]["trace"].as_str().unwrap();
    assert!(trace.contains(unwritable.to_str().unwrap()), "{trace}");
    assert!(trace.contains("No such file or directory"), "{trace}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unparseable_record_fails_the_sink_task_with_a_trace() {
    let dir = tempfile::tempdir().unwrap();
    let topic = unique("garbage");
    let name = unique("garbage");
    produce(&topic, &[b"{\"ok\": 1}", b"{not json"]);
    let worker = Worker::start(dir.path(), &worker_props(dir.path(), free_port()), &[]).await;
    let output = dir.path().join("out.txt");
    let (code, body, _) = worker
        .call(
            "POST",
            "/connectors",
            Some(json!({"name": name, "config": {"connector.class": "FileStreamSink", "file": output.to_str().unwrap(), "topics": topic}})),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    let status = wait_for("the sink task to fail", Duration::from_secs(30), || async {
        let s = worker.get(&format!("/connectors/{name}/status")).await;
        (s["tasks"][0]["state"] == "FAILED").then_some(s)
    })
    .await;
    let trace = status["tasks"][0]["trace"].as_str().unwrap();
    assert!(
        trace.starts_with(
            "org.apache.kafka.connect.errors.ConnectException: Tolerance exceeded in error handler\n\
             Caused by: org.apache.kafka.connect.errors.DataException"
        ),
        "{trace}"
    );
    assert!(trace.contains(&format!("{topic}-0 offset 1")), "{trace}");
    // Nothing after the bad record was written, and its offset is not committed.
    let (_, offsets, _) = worker
        .call("GET", &format!("/connectors/{name}/offsets"), None)
        .await;
    assert_eq!(offsets, json!({"offsets": []}));
}
