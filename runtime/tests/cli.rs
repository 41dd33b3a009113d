//! The client subcommands (`ferry load|list|status|config|pause|resume|stop|restart|delete|
//! plugins|validate`) against a real standalone worker.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;
use serde_json::{Value, json};

/// Runs `ferry ARGS --url URL`: exit success, stdout, stderr.
fn ferry(url: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(args)
        .args(["--url", url])
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn ok(url: &str, args: &[&str]) -> String {
    let (success, out, err) = ferry(url, args);
    assert!(success, "ferry {args:?} failed: {err}{out}");
    out
}

fn json_of(url: &str, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend(["-o", "json"]);
    serde_json::from_str(&ok(url, &all)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_drives_a_worker() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let worker = Worker::start(dir.path(), &worker_props(dir.path(), port), &[]).await;
    let url = worker.url.clone();
    let name = unique("cli-sink");
    let topic = unique("cli-topic");
    let out_file = dir.path().join("out.txt");
    // The seed's shape: a JSON file with duplicate "_comment" keys and its own name.
    let config = dir.path().join("sink.json");
    std::fs::write(
        &config,
        format!(
            r#"{{"name": "ignored", "config": {{
                "_comment": "first", "_comment": "second",
                "connector.class": "FileStreamSink",
                "topics": "{topic}", "file": "{}"}}}}"#,
            out_file.display()
        ),
    )
    .unwrap();

    let out = ok(&url, &["load", &name, "-d", config.to_str().unwrap()]);
    assert!(
        out.starts_with(&format!("Created connector {name} (")),
        "{out}"
    );
    assert!(out.contains("\nKEY  "), "{out}");
    assert!(out.contains(&format!("topics           {topic}")), "{out}");
    // Loading again updates it.
    let out = ok(&url, &["load", &name, "-d", config.to_str().unwrap()]);
    assert!(
        out.starts_with(&format!("Updated connector {name}")),
        "{out}"
    );
    worker.wait_state(&name, "RUNNING", 1).await;

    let listed = ok(&url, &["list"]);
    let line = listed
        .lines()
        .find(|l| l.starts_with(&name))
        .unwrap_or_else(|| panic!("{listed}"));
    assert_eq!(
        line.split_whitespace().collect::<Vec<_>>(),
        vec![name.as_str(), "sink", "RUNNING", "1/1", "running"]
    );
    assert!(listed.starts_with("NAME"), "{listed}");
    let listed = json_of(&url, &["list"]);
    assert_eq!(listed[&name]["status"]["connector"]["state"], "RUNNING");

    let status = json_of(&url, &["status", &name]);
    assert_eq!(status["name"], name.as_str());
    assert_eq!(status["tasks"][0]["state"], "RUNNING");
    let status = ok(&url, &["status", &name]);
    assert!(status.starts_with("CONNECTOR"), "{status}");
    assert!(status.contains("\nTASK  STATE"), "{status}");

    let config = json_of(&url, &["config", &name]);
    assert_eq!(config["name"], name.as_str());
    assert_eq!(config["_comment"], "second");
    assert_eq!(config["topics"], topic.as_str());

    assert_eq!(ok(&url, &["pause", &name]).trim(), format!("Paused {name}"));
    worker.wait_state(&name, "PAUSED", 1).await;
    assert_eq!(
        ok(&url, &["resume", &name]).trim(),
        format!("Resumed {name}")
    );
    worker.wait_state(&name, "RUNNING", 1).await;
    // Kafka's restart plan: what restarts is shown RESTARTING; with --only-failed nothing
    // of a healthy connector restarts.
    let plan = json_of(&url, &["restart", &name, "--include-tasks"]);
    assert_eq!(plan["name"], name.as_str());
    assert_eq!(plan["connector"]["state"], "RESTARTING", "{plan}");
    assert_eq!(plan["tasks"][0]["state"], "RESTARTING", "{plan}");
    worker.wait_state(&name, "RUNNING", 1).await;
    let plan = json_of(
        &url,
        &["restart", &name, "--include-tasks", "--only-failed"],
    );
    assert_eq!(plan["connector"]["state"], "RUNNING", "{plan}");
    assert_eq!(plan["tasks"][0]["state"], "RUNNING", "{plan}");
    assert_eq!(
        ok(&url, &["restart", &name]).trim(),
        format!("Restarted {name}")
    );
    worker.wait_state(&name, "RUNNING", 1).await;
    assert_eq!(ok(&url, &["stop", &name]).trim(), format!("Stopped {name}"));
    wait_for("the connector to stop", Duration::from_secs(30), || async {
        let s = json_of(&url, &["status", &name]);
        (s["connector"]["state"] == "STOPPED").then_some(())
    })
    .await;

    let plugins = ok(&url, &["plugins"]);
    assert!(plugins.starts_with("CLASS"), "{plugins}");
    assert!(
        plugins
            .lines()
            .any(|l| l.split_whitespace().take(2).collect::<Vec<_>>()
                == ["io.confluent.connect.avro.AvroConverter", "converter"]),
        "{plugins}"
    );

    // validate: a valid config, then one missing `topics`: the errors and a failing exit.
    let good = dir.path().join("good.properties");
    std::fs::write(&good, format!("name=v\ntopics={topic}\n")).unwrap();
    assert_eq!(
        ok(
            &url,
            &["validate", "FileStreamSink", "-d", good.to_str().unwrap()]
        )
        .trim(),
        "FileStreamSink: the config is valid"
    );
    let bad = dir.path().join("bad.properties");
    std::fs::write(&bad, "name=v\n").unwrap();
    let (success, out, _) = ferry(
        &url,
        &["validate", "FileStreamSink", "-d", bad.to_str().unwrap()],
    );
    assert!(!success);
    assert_eq!(
        out,
        "FileStreamSink: 2 error(s)\n\nKEY           ERROR\n\
         topics        Must configure one of topics or topics.regex\n\
         topics.regex  Must configure one of topics or topics.regex\n"
    );

    assert_eq!(
        ok(&url, &["delete", &name]).trim(),
        format!("Deleted {name}")
    );
    // The REST error's message, a failing exit status.
    let (success, out, err) = ferry(&url, &["status", &name]);
    assert!(!success);
    assert_eq!(out, "");
    assert_eq!(
        err.trim(),
        format!("ferry: error: No status found for connector {name} (HTTP 404)")
    );
    assert_eq!(json_of(&url, &["list"]), json!({}));
    // An unreachable worker is named.
    let dead = format!("http://127.0.0.1:{}", free_port());
    let (success, _, err) = ferry(&dead, &["list"]);
    assert!(!success);
    assert!(
        err.contains(&format!("cannot reach the worker at {dead}")),
        "{err}"
    );
}
