//! A broker restart under a running distributed worker: it reconnects (group membership,
//! internal topics, task clients) and resumes without losing a record.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use common::broker::PrivateBroker;
use common::*;
use serde_json::json;

fn append(path: &Path, range: std::ops::Range<u32>) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    for i in range {
        writeln!(f, "line-{i:06}").unwrap();
    }
    f.sync_all().unwrap();
}

async fn delivered(output: &Path, n: u32, stage: &str) {
    wait_for(
        &format!("lines 0..{n} in the sink ({stage})"),
        Duration::from_secs(120),
        || async {
            let got: BTreeSet<String> = lines(output).into_iter().collect();
            (0..n)
                .all(|i| got.contains(&format!("line-{i:06}")))
                .then_some(())
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_rides_out_a_broker_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut broker = PrivateBroker::start(dir.path());
    let group = unique("ferry-broker-restart");
    let mut props = distributed_props(&group, free_port());
    for (k, v) in &mut props {
        if k == "bootstrap.servers" {
            v.clone_from(&broker.bootstrap);
        }
    }
    let worker = Worker::start_distributed(dir.path(), &props).await;
    let (src, sink) = (unique("src"), unique("sink"));
    let topic = unique("restart-topic");
    let input = dir.path().join("in.txt");
    let output = dir.path().join("out.txt");
    append(&input, 0..1000);
    for (name, config) in [
        (
            &src,
            json!({"connector.class": "FileStreamSource", "file": input.to_str().unwrap(), "topic": topic}),
        ),
        (
            &sink,
            json!({"connector.class": "FileStreamSink", "file": output.to_str().unwrap(), "topics": topic}),
        ),
    ] {
        // A fresh broker creates its group coordinator's topic first: 409 until joined.
        worker.create_connector(name, config).await;
    }
    delivered(&output, 1000, "before the restart").await;

    // The broker goes away with lines still to send; the outage lasts several heartbeat
    // intervals (1 s here), so the worker loses its coordinator and its clients disconnect.
    broker.stop();
    append(&input, 1000..2000);
    std::thread::sleep(Duration::from_secs(4));
    broker.resume();

    delivered(&output, 2000, "after the restart").await;
    worker.wait_state(&src, "RUNNING", 1).await;
    worker.wait_state(&sink, "RUNNING", 1).await;
    // The cluster still takes writes: a new connector through the config topic.
    let late = unique("late");
    let late_out = dir.path().join("late.txt");
    let (code, body, _) = worker
        .call(
            "PUT",
            &format!("/connectors/{late}/config"),
            Some(json!({"connector.class": "FileStreamSink", "file": late_out.to_str().unwrap(), "topics": topic})),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    worker.wait_state(&late, "RUNNING", 1).await;
    append(&input, 2000..2100);
    delivered(&output, 2100, "after the restart, new lines").await;
    delivered(&late_out, 2100, "a connector created after the restart").await;
}
