//! `GET /metrics` against known traffic, and `GET /health` before a distributed worker joins
//! its group (real broker).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_known_traffic() {
    let dir = tempfile::tempdir().unwrap();
    let topic = unique("metrics");
    let input = dir.path().join("in.txt");
    let output = dir.path().join("out.txt");
    const N: usize = 250;
    let sent: Vec<String> = (0..N).map(|i| format!("line {i}")).collect();
    std::fs::write(&input, sent.join("\n") + "\n").unwrap();
    let connector = |name: &str, props: &[(&str, &str)]| {
        let path = dir.path().join(format!("{name}.properties"));
        let mut all = vec![("name".to_owned(), name.to_owned())];
        all.extend(
            props
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        write_props(&path, &all);
        path
    };
    let source = connector(
        "msrc",
        &[
            ("connector.class", "FileStreamSource"),
            ("file", input.to_str().unwrap()),
            ("topic", &topic),
            ("batch.size", "100"),
        ],
    );
    let sink = connector(
        "msink",
        &[
            ("connector.class", "FileStreamSink"),
            ("file", output.to_str().unwrap()),
            ("topics", &topic),
        ],
    );
    let port = free_port();
    let worker = Worker::start(dir.path(), &worker_props(dir.path(), port), &[source, sink]).await;
    wait_for(
        "every line in the sink file",
        Duration::from_secs(60),
        || async { (lines(&output).len() == N).then_some(()) },
    )
    .await;

    let client = reqwest::Client::new();
    let scrape = || async {
        let r = client
            .get(format!("{}/metrics", worker.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.headers()["content-type"],
            "application/openmetrics-text; version=1.0.0; charset=utf-8"
        );
        r.text().await.unwrap()
    };
    let src = "{connector=\"msrc\",task=\"0\"}";
    let snk = "{connector=\"msink\",task=\"0\"}";
    let text = wait_for(
        "the sink's commit to be counted",
        Duration::from_secs(30),
        || async {
            let text = scrape().await;
            sample(
                &text,
                &format!("kafka_connect_connector_task_metrics_offset_commit_success_total{snk}"),
            )
            .is_some_and(|v| v >= 1.0)
            .then_some(text)
        },
    )
    .await;
    let expect = [
        (format!("kafka_connect_source_task_metrics_source_record_poll_total{src}"), N as f64),
        (format!("kafka_connect_source_task_metrics_source_record_write_total{src}"), N as f64),
        (format!("kafka_connect_sink_task_metrics_sink_record_read_total{snk}"), N as f64),
        (format!("kafka_connect_sink_task_metrics_sink_record_send_total{snk}"), N as f64),
        (format!("kafka_connect_task_error_metrics_deadletterqueue_produce_requests{snk}"), 0.0),
        ("kafka_connect_connector_status{connector=\"msrc\",status=\"running\"}".to_owned(), 1.0),
        ("kafka_connect_connector_task_status{connector=\"msink\",task=\"0\",status=\"running\"}".to_owned(), 1.0),
        ("kafka_connect_worker_metrics_connector_count".to_owned(), 2.0),
        ("kafka_connect_worker_metrics_task_count".to_owned(), 2.0),
        ("kafka_connect_worker_rebalance_metrics_completed_rebalances_total".to_owned(), 0.0),
    ];
    for (series, value) in expect {
        assert_eq!(sample(&text, &series), Some(value), "{series} in\n{text}");
    }
    // batch.size=100 over 250 lines: every record went through a counted batch.
    let batched = sample(
        &text,
        &format!("kafka_connect_connector_task_metrics_batch_size_sum{src}"),
    );
    assert_eq!(batched, Some(N as f64), "{text}");
    assert!(text.ends_with("# EOF\n"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_is_starting_until_the_worker_joins_its_group() {
    let dir = tempfile::tempdir().unwrap();
    let group = unique("health");
    let topic = unique("health");
    produce(&topic, &[b"x"]);
    // A plain consumer holds the group with another protocol type: the worker's JoinGroup
    // is refused (INCONSISTENT_GROUP_PROTOCOL) until it leaves.
    let holder: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap())
        .set("group.id", &group)
        .create()
        .unwrap();
    holder.subscribe(&[&topic]).unwrap();
    wait_for("the consumer to join", Duration::from_secs(30), || async {
        let _ = holder.poll(Duration::from_millis(100));
        holder
            .assignment()
            .ok()
            .filter(|a| a.count() > 0)
            .map(|_| ())
    })
    .await;

    let port = free_port();
    let worker = Worker::start_distributed(dir.path(), &distributed_props(&group, port)).await;
    let (code, body, _) = worker.call("GET", "/health", None).await;
    assert_eq!(
        (code, body),
        (
            503,
            json!({"status": "starting", "message": "Worker is still starting up."})
        )
    );
    // Still starting a while later: the join keeps failing while the group is held.
    wait_for(
        "a refused join in the log",
        Duration::from_secs(30),
        || async {
            let _ = holder.poll(Duration::from_millis(100));
            worker.log_text().contains("rebalance failed").then_some(())
        },
    )
    .await;
    assert_eq!(worker.call("GET", "/health", None).await.0, 503);

    holder.unsubscribe();
    drop(holder);
    wait_for(
        "the worker to be healthy",
        Duration::from_secs(60),
        || async {
            let (code, body, _) = worker.call("GET", "/health", None).await;
            (code == 200).then_some(body)
        },
    )
    .await;
    let text = worker.get("/metrics").await;
    let text = text.as_str().unwrap_or_default().to_owned();
    assert!(
        sample(
            &text,
            "kafka_connect_worker_rebalance_metrics_completed_rebalances_total"
        )
        .is_some_and(|v| v >= 1.0),
        "{text}"
    );
}

/// A paused sink consumes nothing, not even from a partition it is assigned while paused,
/// and its lag is the backlog; resumed, it catches up and the lag falls to 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sink_lag_is_the_backlog_while_paused_even_on_new_partitions() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique("lag");
    let (first, second) = (format!("{prefix}-a"), format!("{prefix}-b"));
    let name = unique("lagsink");
    let output = dir.path().join("out.txt");
    const N: usize = 120;
    let values = |tag: &str| -> Vec<String> { (0..N).map(|i| format!("\"{tag}{i}\"")).collect() };
    let produce_all = |topic: &str, vals: &[String]| {
        let refs: Vec<&[u8]> = vals.iter().map(|v| v.as_bytes()).collect();
        produce(topic, &refs);
    };
    produce_all(&first, &values("a"));
    let worker = Worker::start(dir.path(), &worker_props(dir.path(), free_port()), &[]).await;
    let (code, body, _) = worker
        .call(
            "PUT",
            &format!("/connectors/{name}/config"),
            Some(json!({
                "connector.class": "FileStreamSink",
                "file": output.to_str().unwrap(),
                "topics.regex": format!("{prefix}-.*"),
                // New matching topics are noticed within a second, not five minutes.
                "consumer.override.metadata.max.age.ms": "1000",
            })),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    wait_for(
        "the first topic in the file",
        Duration::from_secs(60),
        || async { (lines(&output).len() == N).then_some(()) },
    )
    .await;

    let series = |topic: &str| {
        format!(
            "kafka_consumer_consumer_fetch_manager_metrics_records_lag{{connector=\"{name}\",task=\"0\",topic=\"{topic}\",partition=\"0\"}}"
        )
    };
    let lag = |topic: String| {
        let worker = &worker;
        let series = series(&topic);
        async move {
            let text = worker.get("/metrics").await;
            sample(text.as_str().unwrap_or_default(), &series)
        }
    };
    wait_for(
        "no lag on the first topic",
        Duration::from_secs(30),
        || async { (lag(first.clone()).await == Some(0.0)).then_some(()) },
    )
    .await;

    let (code, body, _) = worker
        .call("PUT", &format!("/connectors/{name}/pause"), None)
        .await;
    assert_eq!(code, 202, "{body}");
    worker.wait_state(&name, "PAUSED", 1).await;
    produce_all(&second, &values("b"));
    // The new topic's partition is assigned while the task is paused: its backlog shows as
    // lag, and stays there.
    wait_for(
        "the second topic's backlog as lag",
        Duration::from_secs(60),
        || async { (lag(second.clone()).await == Some(N as f64)).then_some(()) },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(lag(second.clone()).await, Some(N as f64));
    assert_eq!(lines(&output).len(), N, "a paused sink wrote records");

    let (code, body, _) = worker
        .call("PUT", &format!("/connectors/{name}/resume"), None)
        .await;
    assert_eq!(code, 202, "{body}");
    wait_for(
        "every record in the file",
        Duration::from_secs(60),
        || async { (lines(&output).len() == 2 * N).then_some(()) },
    )
    .await;
    wait_for(
        "no lag on the second topic",
        Duration::from_secs(30),
        || async { (lag(second.clone()).await == Some(0.0)).then_some(()) },
    )
    .await;

    let (code, body, _) = worker
        .call("DELETE", &format!("/connectors/{name}"), None)
        .await;
    assert_eq!(code, 204, "{body}");
    wait_for("the lag series gone", Duration::from_secs(30), || async {
        (lag(first.clone()).await.is_none() && lag(second.clone()).await.is_none()).then_some(())
    })
    .await;
}
