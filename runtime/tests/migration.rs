//! Moving a cluster between Kafka Connect 4.3.1 and Ferry on the same internal topics:
//! a FileStream pipeline started by the reference workers keeps its place when Ferry takes
//! over (connectors, task configs, source offsets, sink consumer groups), and again when
//! Kafka Connect takes it back.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

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

/// How often each line reached the sink file.
fn counts(path: &Path) -> BTreeMap<String, u32> {
    let mut m = BTreeMap::new();
    for l in lines(path) {
        *m.entry(l).or_default() += 1;
    }
    m
}

/// Waits until every line below `n` reached the sink, then returns how many arrived twice.
async fn all_delivered(output: &Path, n: u32, stage: &str) -> u32 {
    wait_for(
        &format!("lines 0..{n} in the sink ({stage})"),
        Duration::from_secs(90),
        || async {
            let c = counts(output);
            (0..n)
                .all(|i| c.contains_key(&format!("line-{i:06}")))
                .then_some(())
        },
    )
    .await;
    let c = counts(output);
    assert!(
        c.keys()
            .all(|l| l.as_str() < format!("line-{n:06}").as_str()),
        "lines that were never written: {c:?}"
    );
    c.values().map(|v| v - 1).sum()
}

/// SIGTERM: the JVM runs Kafka Connect's shutdown hook (tasks stop and commit, the worker
/// leaves the group) and then exits with 143, the status of a SIGTERM'd JVM.
fn stop_java(java: &mut Worker) {
    let status = java.terminate();
    assert!(
        status.success() || status.code() == Some(143),
        "Kafka Connect exited with {status}; log:\n{}",
        java.log_text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_moves_from_kafka_connect_to_ferry_and_back() {
    let dir = tempfile::tempdir().unwrap();
    let group = unique("ferry-migrate");
    let (src, sink) = (unique("src"), unique("sink"));
    let topic = unique("migrate-topic");
    let input = dir.path().join("in.txt");
    let output = dir.path().join("out.txt");
    let props = |port| distributed_props(&group, port);
    append(&input, 0..1000);

    // 1. Kafka Connect runs the pipeline.
    let mut java = Worker::start_java_distributed(dir.path(), &props(free_port())).await;
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
        let (code, body, _) = java
            .call("PUT", &format!("/connectors/{name}/config"), Some(config))
            .await;
        assert_eq!(code, 201, "{body}");
    }
    java.wait_state(&src, "RUNNING", 1).await;
    java.wait_state(&sink, "RUNNING", 1).await;
    let mut dups = all_delivered(&output, 1000, "Kafka Connect").await;
    // Paused: the target state must survive the move too.
    let (code, _, _) = java
        .call("PUT", &format!("/connectors/{sink}/pause"), None)
        .await;
    assert_eq!(code, 202);
    java.wait_state(&sink, "PAUSED", 1).await;
    stop_java(&mut java);

    // 2. Ferry takes over the same group and topics: both connectors, the sink still
    // paused, the source resuming at its committed position.
    append(&input, 1000..2000);
    let mut ferry = Worker::start_distributed(dir.path(), &props(free_port())).await;
    let mut names = vec![src.clone(), sink.clone()];
    names.sort();
    wait_for(
        "Ferry to know both connectors",
        Duration::from_secs(60),
        || async { (ferry.get("/connectors").await == json!(names)).then_some(()) },
    )
    .await;
    assert_eq!(
        ferry.get(&format!("/connectors/{sink}/config")).await["file"],
        output.to_str().unwrap()
    );
    ferry.wait_state(&src, "RUNNING", 1).await;
    ferry.wait_state(&sink, "PAUSED", 1).await;
    assert_eq!(
        lines(&output).len() as u32,
        1000 + dups,
        "a paused sink wrote"
    );
    let (code, _, _) = ferry
        .call("PUT", &format!("/connectors/{sink}/resume"), None)
        .await;
    assert_eq!(code, 202);
    dups = all_delivered(&output, 2000, "Ferry").await;
    let offsets = ferry.get(&format!("/connectors/{src}/offsets")).await;
    assert_eq!(
        offsets["offsets"][0]["partition"],
        json!({"filename": input.to_str().unwrap()})
    );
    assert!(ferry.terminate().success(), "{}", ferry.log_text());

    // 3. And back to Kafka Connect.
    append(&input, 2000..3000);
    let mut java = Worker::start_java_distributed(dir.path(), &props(free_port())).await;
    java.wait_state(&src, "RUNNING", 1).await;
    java.wait_state(&sink, "RUNNING", 1).await;
    dups = all_delivered(&output, 3000, "Kafka Connect again")
        .await
        .max(dups);
    stop_java(&mut java);

    // Graceful switches commit before they stop: at most one flush window repeats, and
    // nothing is lost (checked above).
    eprintln!("duplicates across the two switches: {dups}");
    assert!(dups <= 1000, "{dups} lines repeated");
}

/// Creates FileStreamSource connectors through `via` and waits until each runs its task
/// on whichever worker the leader gave it. Ferry's view is checked first, so a timeout
/// prints Ferry's log, which is the shorter.
async fn sources_run(via: &Worker, workers: &[&Worker], names: &[String], dir: &Path) {
    for name in names {
        let file = dir.join(format!("{name}.txt"));
        append(&file, 0..1);
        via.create_connector(
            name,
            json!({"connector.class": "FileStreamSource", "file": file.to_str().unwrap(), "topic": unique("mixed")}),
        )
        .await;
    }
    for name in names {
        for w in workers {
            w.wait_state(name, "RUNNING", 1).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_connect_and_ferry_workers_share_one_group_and_sign_for_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let group = unique("ferry-mixed");
    let props = |port| distributed_props(&group, port);

    // A Java leader and a Ferry follower: connectors given to Ferry need their task configs
    // written by the Java leader, which accepts them only signed with its session key.
    let mut java = Worker::start_java_distributed(dir.path(), &props(free_port())).await;
    let ferry = Worker::start_distributed(dir.path(), &props(free_port())).await;
    let first: Vec<String> = (0..4).map(|_| unique("src")).collect();
    sources_run(&ferry, &[&ferry, &java], &first, dir.path()).await;
    let mut owners = Vec::new();
    for n in &first {
        owners.push(
            java.get(&format!("/connectors/{n}/status")).await["tasks"][0]["worker_id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert!(
        owners
            .iter()
            .any(|w| w.ends_with(&format!(":{}", ferry.port))),
        "no connector ran on the Ferry worker: {owners:?}"
    );

    // Ferry usually leads now and the new Java worker follows, so its task configs must pass
    // Ferry's check (the coordinator may also make the newcomer leader if it joins first;
    // then the roles of the first half repeat).
    stop_java(&mut java);
    let java2 = Worker::start_java_distributed(dir.path(), &props(free_port())).await;
    let second: Vec<String> = (0..4).map(|_| unique("src")).collect();
    sources_run(&java2, &[&ferry, &java2], &second, dir.path()).await;
    let statuses: Vec<String> = {
        let mut v = Vec::new();
        for n in &second {
            v.push(
                ferry.get(&format!("/connectors/{n}/status")).await["tasks"][0]["worker_id"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
        }
        v
    };
    assert!(
        statuses
            .iter()
            .any(|w| w.ends_with(&format!(":{}", java2.port))),
        "no connector ran on the Java follower: {statuses:?}"
    );
    assert!(
        !ferry.log_text().contains("invalid signature"),
        "{}",
        ferry.log_text()
    );
}
