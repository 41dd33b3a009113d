//! Distributed workers against the real broker: three workers of one group share
//! connectors, answer every request the same way, and take over a killed worker's tasks.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use common::*;
use serde_json::{Value, json};

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

async fn cluster(dir: &Path, group: &str, n: usize) -> Vec<Worker> {
    let mut workers = Vec::new();
    for _ in 0..n {
        let port = free_port();
        workers.push(Worker::start_distributed(dir, &distributed_props(group, port)).await);
    }
    workers
}

/// Waits until every worker reports the same status for `name`, with `tasks` tasks in `state`.
async fn wait_everywhere(workers: &[Worker], name: &str, state: &str, tasks: usize) -> Value {
    let mut last = Value::Null;
    for w in workers {
        last = w.wait_state(name, state, tasks).await;
    }
    last
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_share_connectors_and_answer_alike() {
    let dir = tempfile::tempdir().unwrap();
    let group = unique("ferry-dist");
    let workers = cluster(dir.path(), &group, 3).await;
    // Unique names: a sink's consumer group is connect-NAME, shared across test runs.
    let (src, sink) = (unique("src"), unique("sink"));
    let topic = unique("dist-topic");
    let input = dir.path().join("in.txt");
    let output = dir.path().join("out.txt");
    append(&input, (0..100).map(|i| format!("line-{i}")));

    // Create through worker 0 and 1, read back through the others.
    let (code, body, _) = workers[0]
        .call(
            "POST",
            "/connectors",
            Some(json!({"name": src, "config": {"connector.class": "FileStreamSource", "file": input.to_str().unwrap(), "topic": topic}})),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    assert_eq!(body["name"], src.as_str());
    let (code, body, _) = workers[1]
        .call(
            "PUT",
            &format!("/connectors/{sink}/config"),
            Some(json!({"connector.class": "FileStreamSink", "file": output.to_str().unwrap(), "topics": topic, "tasks.max": "2"})),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    let (code, _, _) = workers[2]
        .call(
            "POST",
            "/connectors",
            Some(json!({"name": src, "config": {"connector.class": "FileStreamSource", "file": "x", "topic": "y"}})),
        )
        .await;
    assert_eq!(code, 409);

    wait_everywhere(&workers, &src, "RUNNING", 1).await;
    wait_everywhere(&workers, &sink, "RUNNING", 2).await;
    let mut names = vec![src.clone(), sink.clone()];
    names.sort();
    for w in &workers {
        assert_eq!(w.get("/connectors").await, json!(names));
        assert_eq!(
            w.get(&format!("/connectors/{sink}/config")).await["tasks.max"],
            "2"
        );
    }
    // The data flows.
    wait_for("100 lines in the sink", Duration::from_secs(60), || async {
        (lines(&output).len() >= 100).then_some(())
    })
    .await;
    let got: BTreeSet<String> = lines(&output).into_iter().collect();
    assert_eq!(got, (0..100).map(|i| format!("line-{i}")).collect());

    // Work is spread: not every task on one worker.
    let status = workers[2].get(&format!("/connectors/{sink}/status")).await;
    let owners: BTreeSet<&str> = status["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["worker_id"].as_str().unwrap())
        .collect();
    assert!(!owners.is_empty());

    // Lower tasks.max through another worker; every worker sees one task.
    let (code, body, _) = workers[2]
        .call(
            "PATCH",
            &format!("/connectors/{sink}/config"),
            Some(json!({"tasks.max": "1"})),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    wait_everywhere(&workers, &sink, "RUNNING", 1).await;

    // Pause, resume, stop, restart through non-leaders.
    for (i, (method, action, code, state, tasks)) in [
        ("PUT", "pause", 202, "PAUSED", 1),
        ("PUT", "resume", 202, "RUNNING", 1),
        ("PUT", "stop", 202, "STOPPED", 0),
        ("PUT", "resume", 202, "RUNNING", 1),
    ]
    .into_iter()
    .enumerate()
    {
        let w = &workers[i % 3];
        let path = format!("/connectors/{src}/{action}");
        let (got, body, _) = w.call(method, &path, None).await;
        assert!(
            got == code || (action == "stop" && got == 204),
            "{method} {path}: {got} {body}"
        );
        wait_everywhere(&workers, &src, state, tasks).await;
    }
    let (code, plan, _) = workers[1]
        .call(
            "POST",
            &format!("/connectors/{src}/restart?includeTasks=true"),
            None,
        )
        .await;
    assert_eq!(code, 202, "{plan}");
    assert_eq!(plan["connector"]["state"], "RESTARTING");
    wait_everywhere(&workers, &src, "RUNNING", 1).await;
    let (code, _, _) = workers[2]
        .call("POST", &format!("/connectors/{src}/tasks/0/restart"), None)
        .await;
    assert_eq!(code, 204);

    // Delete through one worker; gone everywhere.
    let (code, _, _) = workers[1]
        .call("DELETE", &format!("/connectors/{sink}"), None)
        .await;
    assert_eq!(code, 204);
    for w in &workers {
        wait_for("the sink to be gone", Duration::from_secs(30), || async {
            let (code, _, _) = w.call("GET", &format!("/connectors/{sink}"), None).await;
            (code == 404).then_some(())
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_workers_tasks_move_to_the_survivors() {
    let dir = tempfile::tempdir().unwrap();
    let group = unique("ferry-kill");
    let mut workers = cluster(dir.path(), &group, 3).await;
    let sink = unique("sink");
    let topic = unique("kill-topic");
    let output = dir.path().join("out.txt");
    let (code, body, _) = workers[0]
        .call(
            "POST",
            "/connectors",
            Some(json!({"name": sink, "config": {"connector.class": "FileStreamSink", "file": output.to_str().unwrap(), "topics": topic, "tasks.max": "3"}})),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    let status = wait_everywhere(&workers, &sink, "RUNNING", 3).await;
    let victim_id = status["tasks"][0]["worker_id"].as_str().unwrap().to_owned();
    let victim = workers
        .iter()
        .position(|w| victim_id.ends_with(&format!(":{}", w.port)))
        .unwrap();
    workers[victim].kill9();
    let survivors: Vec<Worker> = workers
        .into_iter()
        .enumerate()
        .filter(|(i, _)| *i != victim)
        .map(|(_, w)| w)
        .collect();
    // With scheduled.rebalance.max.delay.ms=0 the survivors take over once the session times out.
    wait_for(
        "the tasks to run on the survivors",
        Duration::from_secs(60),
        || async {
            let (code, s, _) = survivors[0]
                .call("GET", &format!("/connectors/{sink}/status"), None)
                .await;
            let moved = code == 200
                && s["tasks"].as_array().is_some_and(|t| {
                    t.len() == 3
                        && t.iter().all(|t| {
                            t["state"] == "RUNNING" && t["worker_id"] != victim_id.as_str()
                        })
                });
            moved.then_some(())
        },
    )
    .await;
    produce(&topic, &[b"\"after the kill\""]);
    wait_for(
        "the record after the kill",
        Duration::from_secs(60),
        || async {
            lines(&output)
                .contains(&"after the kill".to_owned())
                .then_some(())
        },
    )
    .await;
}

/// The status records of one key, in the order they were written, as parsed JSON.
fn status_records(topic: &str, key: &str) -> Vec<Value> {
    // Read until the topic is quiet: far more records than this test writes.
    consume(topic, 10_000, Duration::from_secs(4))
        .into_iter()
        .filter(|(k, _)| k.as_deref() == Some(key.as_bytes()))
        .filter_map(|(_, v)| v.map(|v| serde_json::from_slice(&v).unwrap()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_worker_reports_its_tasks_unassigned_in_its_generation() {
    let dir = tempfile::tempdir().unwrap();
    let group = unique("ferry-gen");
    let mut workers = cluster(dir.path(), &group, 2).await;
    let sink = unique("sink");
    let output = dir.path().join("out.txt");
    let (code, body, _) = workers[0]
        .call(
            "POST",
            "/connectors",
            Some(json!({"name": sink, "config": {"connector.class": "FileStreamSink", "file": output.to_str().unwrap(), "topics": unique("gen-topic"), "tasks.max": "2"}})),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    let status = wait_everywhere(&workers, &sink, "RUNNING", 2).await;
    let victim_id = status["tasks"][0]["worker_id"].as_str().unwrap().to_owned();
    let victim = workers
        .iter()
        .position(|w| victim_id.ends_with(&format!(":{}", w.port)))
        .unwrap();
    let survivor = 1 - victim;
    assert!(workers[victim].terminate().success());
    wait_for(
        "task 0 to run on the survivor",
        Duration::from_secs(60),
        || async {
            let s = workers[survivor]
                .get(&format!("/connectors/{sink}/status"))
                .await;
            (s["tasks"][0]["state"] == "RUNNING"
                && s["tasks"][0]["worker_id"] != victim_id.as_str())
            .then_some(())
        },
    )
    .await;

    let records = status_records(&format!("{group}-status"), &format!("status-task-{sink}-0"));
    let seen: Vec<(String, String, i64)> = records
        .iter()
        .map(|r| {
            (
                r["state"].as_str().unwrap().to_owned(),
                r["worker_id"].as_str().unwrap().to_owned(),
                r["generation"].as_i64().unwrap(),
            )
        })
        .collect();
    // RUNNING on the victim in a real group generation, UNASSIGNED from it when it stopped,
    // then RUNNING on the survivor in a later generation.
    let running = seen
        .iter()
        .position(|(s, w, g)| s == "RUNNING" && *w == victim_id && *g >= 1)
        .unwrap_or_else(|| panic!("no RUNNING from the victim with a generation: {seen:?}"));
    let unassigned = seen
        .iter()
        .position(|(s, w, _)| s == "UNASSIGNED" && *w == victim_id)
        .unwrap_or_else(|| panic!("no UNASSIGNED from the stopping victim: {seen:?}"));
    assert!(running < unassigned, "{seen:?}");
    let (state, worker, generation) = seen.last().unwrap();
    assert_eq!(state, "RUNNING", "{seen:?}");
    assert_ne!(*worker, victim_id, "{seen:?}");
    assert!(*generation > seen[unassigned].2, "{seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_of_one_group_with_different_config_topics_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let group = unique("ferry-mismatch");
    let a = Worker::start_distributed(dir.path(), &distributed_props(&group, free_port())).await;
    let name = unique("src");
    a.create_connector(
        &name,
        json!({"connector.class": "FileStreamSource", "file": "/dev/null", "topic": unique("t")}),
    )
    .await;
    // Same group, other internal topics.
    let mut props = distributed_props(&group, free_port());
    for (k, v) in &mut props {
        if k.ends_with(".storage.topic") {
            v.push_str("-other");
        }
    }
    let b = Worker::start_distributed(dir.path(), &props).await;
    let other_topic = format!("{group}-configs-other");
    wait_for(
        "an error naming the config topics",
        Duration::from_secs(60),
        || async {
            let logs = format!("{}{}", a.log_text(), b.log_text());
            logs.lines()
                .any(|l| {
                    l.contains("every worker of a group must use the same config.storage.topic")
                        && (l.contains(&other_topic) || l.contains(&format!("'{group}-configs'")))
                })
                .then_some(())
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leader_refuses_unsigned_task_configs() {
    let dir = tempfile::tempdir().unwrap();
    let group = unique("ferry-signed");
    let workers = cluster(dir.path(), &group, 2).await;
    let name = unique("src");
    workers[0]
        .create_connector(
            &name,
            json!({"connector.class": "FileStreamSource", "file": "/dev/null", "topic": unique("t")}),
        )
        .await;
    // Task configs written through workers that signed them with the session key.
    wait_everywhere(&workers, &name, "RUNNING", 1).await;

    let client = reqwest::Client::new();
    let post = |w: &Worker, headers: &[(&str, &str)]| {
        let mut req = client
            .post(format!("{}/connectors/{name}/tasks?forward=false", w.url))
            .header("Content-Type", "application/json")
            .body(r#"[{"task.class":"x"}]"#);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.send()
    };
    let mut answers = Vec::new();
    for w in &workers {
        let unsigned = post(w, &[]).await.unwrap();
        let forged = post(
            w,
            &[
                ("X-Connect-Authorization", "bm90IGEgc2lnbmF0dXJl"),
                ("X-Connect-Request-Signature-Algorithm", "HmacSHA256"),
            ],
        )
        .await
        .unwrap();
        answers.push((
            unsigned.status().as_u16(),
            unsigned.json::<Value>().await.unwrap(),
            forged.status().as_u16(),
            forged.json::<Value>().await.unwrap(),
        ));
    }
    // The leader refuses both; the other worker does not act on forward=false requests.
    let leader = answers
        .iter()
        .find(|a| a.0 != 409)
        .unwrap_or_else(|| panic!("{answers:?}"));
    assert_eq!(
        (leader.0, &leader.1),
        (
            400,
            &json!({"error_code": 400, "message": "Internal request missing required signature"})
        )
    );
    assert_eq!(
        (leader.2, &leader.3),
        (
            403,
            &json!({"error_code": 403, "message": "Internal request contained invalid signature."})
        )
    );
    // Nothing was written: the connector still has its one real task.
    let tasks = workers[1].get(&format!("/connectors/{name}/tasks")).await;
    assert_eq!(tasks.as_array().unwrap().len(), 1, "{tasks}");
    assert_ne!(tasks[0]["config"]["task.class"], "x");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_of_one_group_with_different_converters_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let group = unique("ferry-conv");
    let a = Worker::start_distributed(dir.path(), &distributed_props(&group, free_port())).await;
    let mut props = distributed_props(&group, free_port());
    for (k, v) in &mut props {
        if k == "value.converter" {
            *v = "org.apache.kafka.connect.storage.StringConverter".into();
        }
    }
    let b = Worker::start_distributed(dir.path(), &props).await;
    wait_for(
        "an error naming both converters",
        Duration::from_secs(60),
        || async {
            let logs = format!("{}{}", a.log_text(), b.log_text());
            logs.lines()
                .any(|l| {
                    l.contains("value.converter is '")
                        && l.contains("org.apache.kafka.connect.storage.StringConverter")
                        && l.contains("org.apache.kafka.connect.json.JsonConverter")
                })
                .then_some(())
        },
    )
    .await;
}

/// A proxy in front of a worker's REST listener that answers the first `refuse` task-config
/// POSTs with 503 itself, as a leader briefly out of reach would, and passes on the rest.
struct FlakyProxy {
    port: u16,
    /// Task-config POSTs refused and passed on.
    counts: std::sync::Arc<std::sync::Mutex<(usize, usize)>>,
}

impl FlakyProxy {
    async fn start(target_port: u16, refuse: usize) -> FlakyProxy {
        use axum::body::Bytes;
        use axum::http::{HeaderMap, Method, StatusCode, Uri};
        use axum::response::IntoResponse;
        use std::sync::{Arc, Mutex};

        let counts = Arc::new(Mutex::new((0usize, 0usize)));
        let shared = counts.clone();
        let client = reqwest::Client::new();
        let handler = move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let counts = shared.clone();
            let client = client.clone();
            async move {
                if method == Method::POST && uri.path().ends_with("/tasks") {
                    let mut c = counts.lock().unwrap();
                    if c.0 < refuse {
                        c.0 += 1;
                        return (StatusCode::SERVICE_UNAVAILABLE, "leader out of reach")
                            .into_response();
                    }
                    c.1 += 1;
                }
                let mut req =
                    client.request(method, format!("http://127.0.0.1:{target_port}{uri}"));
                for (k, v) in &headers {
                    if k != "host" && k != "content-length" {
                        req = req.header(k, v);
                    }
                }
                let resp = req.body(body).send().await.unwrap();
                let status = resp.status();
                let content_type = resp.headers().get("content-type").cloned();
                let bytes = resp.bytes().await.unwrap();
                let mut out = (status, bytes).into_response();
                if let Some(ct) = content_type {
                    out.headers_mut().insert("content-type", ct);
                }
                out
            }
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            axum::serve(listener, axum::Router::new().fallback(handler))
                .await
                .unwrap();
        });
        FlakyProxy { port, counts }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_configs_the_leader_could_not_take_are_sent_again() {
    let dir = tempfile::tempdir().unwrap();
    let group = unique("ferry-republish");
    // The leader (first to join) is reached by the other worker only through the proxy.
    let leader_port = free_port();
    let proxy = FlakyProxy::start(leader_port, 3).await;
    let mut props = distributed_props(&group, leader_port);
    props.push(("rest.advertised.host.name".into(), "127.0.0.1".into()));
    props.push(("rest.advertised.port".into(), proxy.port.to_string()));
    let leader = Worker::start_distributed(dir.path(), &props).await;
    wait_for("the leader to join", Duration::from_secs(30), || async {
        let (code, _, _) = leader.call("GET", "/health", None).await;
        (code == 200).then_some(())
    })
    .await;
    let follower =
        Worker::start_distributed(dir.path(), &distributed_props(&group, free_port())).await;
    let workers = [leader, follower];

    let names: Vec<String> = (0..4).map(|_| unique("src")).collect();
    for name in &names {
        workers[0]
            .create_connector(
                name,
                json!({"connector.class": "FileStreamSource", "file": "/dev/null", "topic": unique("t")}),
            )
            .await;
    }
    // Every connector gets its task, those on the follower too, whose first attempts to
    // hand their task configs to the leader were refused.
    for name in &names {
        wait_everywhere(&workers, name, "RUNNING", 1).await;
    }
    let (refused, passed) = *proxy.counts.lock().unwrap();
    assert_eq!(refused, 3, "task-config forwards refused by the proxy");
    assert!(
        passed >= 1,
        "no task configs reached the leader after the refusals"
    );
    assert!(
        workers[1]
            .log_text()
            .contains("could not publish task configs; retrying"),
        "{}",
        workers[1].log_text()
    );
}
