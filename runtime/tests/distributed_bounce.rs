//! The bounce test, after Kafka's own Connect system test (`test_bounce`): three distributed
//! workers run a FileStreamSource → Kafka → FileStreamSink pipeline while one worker after
//! another is killed with SIGKILL and restarted on the same port: twice once the others run its
//! work, once at once (while the killed process is still a group member). Every line written
//! reaches the sink file at least once and nothing else does; duplicates are allowed
//! (at-least-once) and counted. Waits are bounded polls; only the writer is paced by time.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use serde_json::json;

/// Lines written to the source file, numbered 0..LINES.
const LINES: u64 = 200_000;
/// Lines per append; the writer appends one chunk per tick.
const CHUNK: u64 = 2_000;
const WRITE_EVERY: Duration = Duration::from_millis(450);
/// Worker kills (each followed by a restart on the same port).
const KILLS: usize = 3;
/// Sink tasks (and partitions of the topic, so that each has work).
const SINK_TASKS: usize = 3;
/// Lines the sink must gain between a restart and the next kill.
const PROGRESS: usize = 10_000;
const WORKERS: usize = 3;

fn line(n: u64) -> String {
    format!("seq-{n:07}")
}

fn parse(l: &str) -> Option<u64> {
    let digits = l.strip_prefix("seq-")?;
    (digits.len() == 7 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
        .filter(|n| *n < LINES)
}

/// A line torn by a SIGKILL in the middle of a `write(2)` (Linux stops copying pages when a
/// fatal signal is pending), completed by the next write of another task: a proper prefix
/// of a line followed by a whole line. The torn records were not committed, so they are
/// delivered again.
fn torn(l: &str) -> bool {
    let whole = line(0).len();
    if l.len() <= whole || l.len() >= 2 * whole || !l.is_char_boundary(l.len() - whole) {
        return false;
    }
    let (head, tail) = l.split_at(l.len() - whole);
    let shape_ok = head
        .bytes()
        .zip("seq-".bytes().chain(std::iter::repeat(b'0')))
        .all(|(b, want)| {
            if want == b'0' {
                b.is_ascii_digit()
            } else {
                b == want
            }
        });
    shape_ok && parse(tail).is_some()
}

/// Worker settings: the shared distributed ones, plus sink consumers that are evicted from
/// their group as quickly as the workers are (librdkafka's default session is 45 s, which
/// would stall the killed worker's partitions that long after every kill).
fn props(group: &str, port: u16) -> Vec<(String, String)> {
    let mut p = distributed_props(group, port);
    p.push(("consumer.session.timeout.ms".into(), "6000".into()));
    p.push(("consumer.heartbeat.interval.ms".into(), "1000".into()));
    p
}

async fn create_topic(topic: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap())
        .create()
        .unwrap();
    let results = admin
        .create_topics(
            &[NewTopic::new(topic, partitions, TopicReplication::Fixed(1))],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(30))),
        )
        .await
        .unwrap();
    for r in results {
        r.unwrap();
    }
}

/// Newline count of a file: cheap enough to poll.
fn count_lines(path: &Path) -> usize {
    std::fs::read(path)
        .map(|b| b.iter().filter(|c| **c == b'\n').count())
        .unwrap_or(0)
}

/// Distinct sequence numbers among the complete lines of the sink file.
fn distinct(path: &Path) -> usize {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let complete = text.rfind('\n').map_or("", |i| &text[..i]);
    complete
        .lines()
        .filter_map(parse)
        .collect::<BTreeSet<u64>>()
        .len()
}

/// Everything about a connector's status that the test looks at: (connector worker, tasks
/// as (state, worker)); `None` while the worker does not answer or the status is incomplete.
async fn status(w: &Worker, name: &str) -> Option<(String, Vec<(String, String)>)> {
    let (code, s, _) = w
        .call("GET", &format!("/connectors/{name}/status"), None)
        .await;
    if code != 200 || s["connector"]["state"] != "RUNNING" {
        return None;
    }
    let tasks = s["tasks"]
        .as_array()?
        .iter()
        .map(|t| {
            (
                t["state"].as_str().unwrap_or("").to_owned(),
                t["worker_id"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    Some((s["connector"]["worker_id"].as_str()?.to_owned(), tasks))
}

/// The connectors: names no other test uses, as a sink's consumer group is named after its
/// connector and a killed worker's consumers stay in their group until their session ends.
struct Pipeline {
    source: String,
    sink: String,
}

/// Whether both connectors run all their tasks, none of them on `not_on`; returns the workers
/// that run them: source connector, source task, sink connector, sink tasks.
async fn all_running(w: &Worker, p: &Pipeline, not_on: Option<&str>) -> Option<Vec<String>> {
    let mut owners = Vec::new();
    for (name, n) in [(&p.source, 1), (&p.sink, SINK_TASKS)] {
        let (cw, tasks) = status(w, name).await?;
        let ok = tasks.len() == n
            && tasks
                .iter()
                .all(|(s, tw)| s == "RUNNING" && Some(tw.as_str()) != not_on)
            && Some(cw.as_str()) != not_on;
        if !ok {
            return None;
        }
        owners.push(cw);
        owners.extend(tasks.into_iter().map(|(_, tw)| tw));
    }
    Some(owners)
}

/// Whether a worker's latest assignment (its last "joined group" log line) has any work.
fn runs_work(w: &Worker) -> bool {
    let log = strip_ansi(&w.log_text());
    log.lines()
        .rev()
        .find(|l| l.contains("joined group generation="))
        .is_some_and(|l| !(l.contains(" connectors=[] ") && l.contains(" tasks=0 ")))
}

/// The log without terminal colour codes.
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Checks in every worker process's log that no task was started while it already ran there
/// (each "starting task" follows the task's previous "task stopped" or "task failed"); returns
/// the number of task starts in the whole run.
fn check_task_starts(dir: &Path) -> usize {
    let mut starts = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !(name.starts_with("worker-run-") && name.ends_with(".log")) {
            continue;
        }
        let mut running = BTreeSet::new();
        for l in strip_ansi(&std::fs::read_to_string(&path).unwrap()).lines() {
            let task = |what: &str| {
                l.split_once(what)
                    .map(|(_, rest)| rest.split_whitespace().next().unwrap_or("").to_owned())
            };
            if let Some(t) = task("starting task task=") {
                starts += 1;
                assert!(
                    running.insert(t.clone()),
                    "{name}: task {t} started twice without stopping"
                );
            } else if let Some(t) = task("task stopped task=").or_else(|| task("task failed task="))
            {
                running.remove(&t);
            }
        }
    }
    starts
}

fn worker_id(w: &Worker) -> String {
    format!("127.0.0.1:{}", w.port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipeline_survives_three_worker_kills() {
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    // FERRY_KEEP_TEST_DIR=1 keeps the files (worker logs, input, output) for a post-mortem.
    let dir: PathBuf = if std::env::var_os("FERRY_KEEP_TEST_DIR").is_some() {
        tmp.keep()
    } else {
        tmp.path().to_owned()
    };
    eprintln!("bounce: files in {}", dir.display());
    let group = unique("ferry-bounce");
    let topic = unique("bounce-topic");
    let p = Pipeline {
        source: unique("bounce-source"),
        sink: unique("bounce-sink"),
    };
    create_topic(&topic, i32::try_from(SINK_TASKS).unwrap()).await;

    let worker_props: Vec<Vec<(String, String)>> =
        (0..WORKERS).map(|_| props(&group, free_port())).collect();
    let mut workers = Vec::new();
    for wp in &worker_props {
        workers.push(Worker::start_distributed(&dir, wp).await);
    }

    let input = dir.join("in.txt");
    let output = dir.join("out.txt");
    std::fs::File::create(&input).unwrap();
    let (code, body, _) = workers[0]
        .call(
            "POST",
            "/connectors",
            Some(json!({"name": p.source, "config": {
                "connector.class": "FileStreamSource", "tasks.max": "1",
                "file": input.to_str().unwrap(), "topic": topic}})),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    let (code, body, _) = workers[1]
        .call(
            "POST",
            "/connectors",
            Some(json!({"name": p.sink, "config": {
                "connector.class": "FileStreamSink", "tasks.max": SINK_TASKS.to_string(),
                "file": output.to_str().unwrap(), "topics": topic}})),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    for w in &workers {
        wait_for(
            "both connectors to run everywhere",
            Duration::from_secs(60),
            || all_running(w, &p, None),
        )
        .await;
    }

    // The writer appends numbered lines in chunks while workers come and go.
    let writer = {
        let input = input.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(WRITE_EVERY);
            let mut next = 0;
            while next < LINES {
                tick.tick().await;
                let end = (next + CHUNK).min(LINES);
                let text: String = (next..end).map(|n| line(n) + "\n").collect();
                let mut f = std::fs::OpenOptions::new()
                    .append(true)
                    .open(&input)
                    .unwrap();
                f.write_all(text.as_bytes()).unwrap();
                next = end;
            }
        })
    };

    let mut failovers = Vec::new();
    let mut rejoins = Vec::new();
    let mut baseline = 0;
    for kill in 0..KILLS {
        // Data flows and everything runs before each kill.
        let owners = wait_for(
            &format!("{PROGRESS} more lines in the sink and all tasks running"),
            Duration::from_secs(90),
            || async {
                if count_lines(&output) < baseline + PROGRESS {
                    return None;
                }
                all_running(&workers[(kill + 1) % WORKERS], &p, None).await
            },
        )
        .await;
        // Kill the source task's worker, then one running only sink work, then the source
        // task's worker again: the source fails over twice, the sink every time.
        let source_worker = owners[1].clone();
        let victim_id = if kill == 1 {
            owners
                .iter()
                .find(|o| **o != source_worker)
                .unwrap_or(&source_worker)
                .clone()
        } else {
            source_worker
        };
        let victim = workers
            .iter()
            .position(|w| worker_id(w) == victim_id)
            .expect("the victim is one of the workers");
        // The second kill restarts the worker at once, as Kafka's bounce test does: the new
        // process joins while the killed one is still a member, until the coordinator evicts
        // it. The others wait until the killed worker's work runs elsewhere.
        let immediate = kill == 1;
        let at = Instant::now();
        workers[victim].kill9();
        eprintln!(
            "bounce: kill {} of worker {victim_id} at {:.1?} ({} lines in the sink){}",
            kill + 1,
            started.elapsed(),
            count_lines(&output),
            if immediate {
                ", restarting it at once"
            } else {
                ""
            }
        );
        if !immediate {
            let survivor = &workers[(victim + 1) % WORKERS];
            wait_for(
                "the killed worker's work to run on the survivors",
                Duration::from_secs(60),
                || all_running(survivor, &p, Some(&victim_id)),
            )
            .await;
            failovers.push(at.elapsed());
        }

        // Restart on the same port with the same settings; it gets a share of the work back.
        // Its log says what it runs: the status topic cannot tell it from the killed process,
        // which had the same worker id.
        let restarted = Instant::now();
        workers[victim] = Worker::start_distributed(&dir, &worker_props[victim]).await;
        let back = &workers[victim];
        wait_for(
            "the restarted worker to run some of the work",
            Duration::from_secs(60),
            || async {
                if !runs_work(back) {
                    return None;
                }
                let owners = all_running(back, &p, None).await?;
                owners.contains(&victim_id).then_some(())
            },
        )
        .await;
        rejoins.push(restarted.elapsed());
        if immediate {
            failovers.push(at.elapsed());
        }
        baseline = count_lines(&output);
    }

    writer.await.unwrap();
    wait_for(
        "every line in the sink",
        Duration::from_secs(120),
        || async { (distinct(&output) == LINES as usize).then_some(()) },
    )
    .await;
    // Stop cleanly so the file is complete, then check each line.
    for w in &mut workers {
        let status = w.terminate();
        assert!(status.success(), "worker exited with {status}");
    }

    let text = std::fs::read_to_string(&output).unwrap();
    let mut seen = BTreeSet::new();
    let mut total = 0usize;
    let mut torn_lines = Vec::new();
    for l in text.lines() {
        if let Some(n) = parse(l) {
            seen.insert(n);
            total += 1;
        } else if torn(l) {
            torn_lines.push(l.to_owned());
        } else {
            panic!("unexpected line in the sink file: {l:?}");
        }
    }
    assert!(
        torn_lines.len() <= KILLS,
        "more lines torn than kills: {torn_lines:?}"
    );
    let missing: Vec<u64> = (0..LINES).filter(|n| !seen.contains(n)).take(10).collect();
    assert!(missing.is_empty(), "lines missing, e.g. {missing:?}");
    let duplicates = total - seen.len();
    let starts = check_task_starts(&dir);
    eprintln!(
        "bounce: {LINES} lines, {total} delivered, {duplicates} duplicates ({:.2}%), {} torn by a kill {torn_lines:?}; {starts} task starts; kill to work running elsewhere (2nd: to the restarted worker) {failovers:.1?}; restart to work on the restarted worker {rejoins:.1?}; total {:.1?}",
        100.0 * duplicates as f64 / LINES as f64,
        torn_lines.len(),
        started.elapsed()
    );
}
