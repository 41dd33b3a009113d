//! The seed's pipeline end to end, as the README's main job runs it: MariaDB
//! `kafka_demo.sample_data` → JDBC source (timestamp mode, Avro through the registry) → topic
//! `mysql-sample_data` → Elasticsearch sink (Avro, key.ignore=true) → index
//! `mysql-sample_data` in OpenSearch. The two connector configs are the seed's JSON files in
//! examples/rest/ as written, host names adapted by examples/pipeline/adapt.sh, loaded with
//! `ferry load` into a distributed worker.
//!
//! Needs `e2e/services up kafka mariadb opensearch schema-registry`. The topic and index
//! names are the seed's, so this test recreates them (and the table) at its start.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use serde_json::{Value, json};
use sqlx::Connection;

const TOPIC: &str = "mysql-sample_data";
const INDEX: &str = "mysql-sample_data";

fn env(key: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| {
        panic!(
            "{key} is not set: run `e2e/services up kafka mariadb opensearch schema-registry && \
             eval \"$(e2e/services env)\"` first (e2e/test does this)"
        )
    })
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The MariaDB server as its administrative user, no default database.
async fn mariadb() -> sqlx::MySqlConnection {
    let url = format!(
        "mysql://{}:{}@{}:{}/",
        env("MARIADB_USER"),
        env("MARIADB_PASSWORD"),
        env("MARIADB_HOST"),
        env("MARIADB_PORT")
    );
    sqlx::MySqlConnection::connect(&url).await.unwrap()
}

async fn sql(c: &mut sqlx::MySqlConnection, statements: &str) {
    sqlx::raw_sql(statements)
        .execute(c)
        .await
        .unwrap_or_else(|e| panic!("{statements}: {e}"));
}

/// Waits until MariaDB's clock has left the second of the newest `update_ts`: `timestamp`
/// mode reads `update_ts > last offset` and the column has second precision, so a change
/// stamped in the same second as rows already read would not be seen (README: what each
/// mode guarantees).
async fn wait_clock_past_last_update(c: &mut sqlx::MySqlConnection) {
    for _ in 0..100 {
        let later: i64 = sqlx::query_scalar(
            "SELECT CAST(NOW() > MAX(update_ts) AS SIGNED) FROM kafka_demo.sample_data",
        )
        .fetch_one(&mut *c)
        .await
        .unwrap();
        if later == 1 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the database clock did not pass the last update_ts");
}

/// Deletes the seed's topic and waits until the broker no longer lists it.
async fn delete_topic() {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap())
        .create()
        .unwrap();
    // UnknownTopicOrPartition when it does not exist: fine either way.
    let _ = admin
        .delete_topics(&[TOPIC], &AdminOptions::new())
        .await
        .unwrap();
    wait_for(
        "the topic to be deleted",
        Duration::from_secs(30),
        || async {
            let md = admin
                .inner()
                .fetch_metadata(None, Duration::from_secs(5))
                .unwrap();
            md.topics().iter().all(|t| t.name() != TOPIC).then_some(())
        },
    )
    .await;
}

/// The documents of the index, refreshed first, ordered by row id then update_ts.
async fn documents(http: &reqwest::Client) -> Vec<Value> {
    let es = env("OPENSEARCH_URL");
    let _ = http.post(format!("{es}/{INDEX}/_refresh")).send().await;
    let r = http
        .get(format!(
            "{es}/{INDEX}/_search?size=100&sort=id:asc,update_ts:asc"
        ))
        .send()
        .await
        .unwrap();
    if r.status() == 404 {
        return Vec::new();
    }
    let body: Value = r.json().await.unwrap();
    body["hits"]["hits"].as_array().cloned().unwrap_or_default()
}

/// Waits until the index holds exactly `n` documents and `done` holds for them.
async fn wait_documents(
    http: &reqwest::Client,
    w: &Worker,
    n: usize,
    what: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    loop {
        let docs = documents(http).await;
        if docs.len() == n && done(&docs) {
            return docs;
        }
        assert!(
            docs.len() <= n,
            "more documents than expected while waiting for {what}: {docs:#?}"
        );
        if std::time::Instant::now() > deadline {
            let status = w.get("/connectors?expand=status").await;
            panic!(
                "timed out waiting for {what}; documents: {docs:#?}\nstatus: {status:#}\nlog:\n{}",
                w.log_text()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Every document's (id, name, update_ts) in the index's order.
fn rows(docs: &[Value]) -> Vec<(i64, String, i64)> {
    docs.iter()
        .map(|d| {
            let s = &d["_source"];
            let keys: BTreeSet<&str> = s.as_object().unwrap().keys().map(String::as_str).collect();
            assert_eq!(keys, BTreeSet::from(["id", "name", "update_ts"]), "{d}");
            (
                s["id"].as_i64().unwrap(),
                s["name"].as_str().unwrap().to_owned(),
                s["update_ts"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// The table as (id, name, update_ts in epoch milliseconds).
async fn table(c: &mut sqlx::MySqlConnection) -> Vec<(i64, String, i64)> {
    sqlx::query_as(
        "SELECT CAST(id AS SIGNED), name, CAST(UNIX_TIMESTAMP(update_ts) * 1000 AS SIGNED) \
         FROM kafka_demo.sample_data ORDER BY id",
    )
    .fetch_all(c)
    .await
    .unwrap()
}

/// Waits until the worker has joined its group and read its configs (`GET /health` 200).
async fn wait_healthy(w: &Worker) {
    wait_for("the worker healthy", Duration::from_secs(60), || async {
        (w.call("GET", "/health", None).await.0 == 200).then_some(())
    })
    .await;
}

/// `ferry load NAME -d FILE --url URL`, checked to succeed.
fn ferry_load(w: &Worker, name: &str, file: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["load", name, "-d"])
        .arg(file)
        .args(["--url", &w.url])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "ferry load {name} failed: {}{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The seed's config with this machine's addresses, by the documented substitution.
fn adapted(dir: &Path, seed_file: &str) -> PathBuf {
    let out = Command::new(repo().join("examples/pipeline/adapt.sh"))
        .arg(repo().join("examples/rest").join(seed_file))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "adapt.sh {seed_file}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = dir.join(seed_file);
    std::fs::write(&path, &out.stdout).unwrap();
    path
}

/// The tests share the seed's table, topic and index: one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The table recreated empty, the index and the topic deleted; a connection to MariaDB.
async fn fresh_start(http: &reqwest::Client) -> sqlx::MySqlConnection {
    let mut db = mariadb().await;
    sql(
        &mut db,
        &std::fs::read_to_string(repo().join("examples/pipeline/sample_data.sql")).unwrap(),
    )
    .await;
    let _ = http
        .delete(format!("{}/{INDEX}", env("OPENSEARCH_URL")))
        .send()
        .await
        .unwrap();
    delete_topic().await;
    db
}

/// Rewrites a connector config file with `extra` keys added to its config.
fn with_config(file: &Path, extra: &[(&str, &str)]) -> PathBuf {
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    for (k, val) in extra {
        v["config"][*k] = json!(val);
    }
    let path = file.with_extension("keyed.json");
    std::fs::write(&path, v.to_string()).unwrap();
    path
}

const FOUR_ROWS: &str = "INSERT INTO kafka_demo.sample_data (id, name) VALUES \
                         (1, 'claus'), (2, 'kimi'), (3, 'sebastian'), (4, 'lewis')";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_pipeline_moves_rows_into_the_index_without_duplicates() {
    let _serial = SERIAL.lock().await;
    let http = reqwest::Client::new();
    let mut db = fresh_start(&http).await;

    let dir = tempfile::tempdir().unwrap();
    let jdbc = adapted(dir.path(), "jdbc_source_mysql_sample_01.json");
    let es = adapted(dir.path(), "es-sink-mysql-sampleData-01.json");
    let text = std::fs::read_to_string(&jdbc).unwrap();
    assert_eq!(
        text.matches("\"_comment\"").count(),
        11,
        "the seed's duplicate _comment keys are kept"
    );
    assert!(!text.contains("localhost"), "{text}");

    let props = distributed_props(&unique("seed-pipeline"), free_port());
    let mut w = Worker::start_distributed(dir.path(), &props).await;
    wait_healthy(&w).await;
    let out = ferry_load(&w, "jdbc_source_mysql_sample_01", &jdbc);
    assert!(
        out.starts_with("Created connector jdbc_source_mysql_sample_01 ("),
        "{out}"
    );
    w.wait_state("jdbc_source_mysql_sample_01", "RUNNING", 1)
        .await;
    sql(&mut db, FOUR_ROWS).await;
    // The seed loads the sink once the rows are in the topic.
    let records = wait_for(
        "4 records in the topic",
        Duration::from_secs(60),
        || async {
            let r = consume(TOPIC, 4, Duration::from_secs(2));
            (r.len() == 4).then_some(r)
        },
    )
    .await;
    for (key, value) in &records {
        assert_eq!(key.as_deref(), None, "the JDBC source writes null keys");
        let v = value.as_deref().unwrap();
        assert_eq!(v[0], 0, "Confluent wire format: magic byte 0");
    }
    let subjects: Value = http
        .get(format!("{}/subjects", env("SCHEMA_REGISTRY_URL")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        subjects
            .as_array()
            .unwrap()
            .contains(&json!("mysql-sample_data-value")),
        "{subjects}"
    );

    let out = ferry_load(&w, "es-sink-mysql-sampleData-01", &es);
    assert!(
        out.starts_with("Created connector es-sink-mysql-sampleData-01 ("),
        "{out}"
    );
    let docs = wait_documents(&http, &w, 4, "4 documents", |_| true).await;
    assert_eq!(rows(&docs), table(&mut db).await);
    // key.ignore=true: the document id is topic+partition+offset, as in Confluent's sink.
    let ids: BTreeSet<String> = docs
        .iter()
        .map(|d| d["_id"].as_str().unwrap().to_owned())
        .collect();
    let want: BTreeSet<String> = (0..4).map(|o| format!("{TOPIC}+0+{o}")).collect();
    assert_eq!(ids, want);

    // An update moves update_ts on: the change reaches the index as a fifth document.
    wait_clock_past_last_update(&mut db).await;
    sql(
        &mut db,
        "UPDATE kafka_demo.sample_data SET name = 'claus (updated)' WHERE id = 1",
    )
    .await;
    let docs = wait_documents(&http, &w, 5, "the update in the index", |d| {
        d.iter().any(|d| d["_source"]["name"] == "claus (updated)")
    })
    .await;
    let now = table(&mut db).await;
    let got = rows(&docs);
    assert_eq!(got[1], now[0], "the updated row, after the original");
    assert_eq!(got[0].0, 1);
    assert_eq!(got[0].1, "claus");
    assert!(got[0].2 < now[0].2);
    assert_eq!(got[2..], now[1..]);

    // A restarted worker resumes from its committed offsets: nothing is read or written
    // twice, and a row inserted afterwards arrives once.
    let status = w.terminate();
    assert!(status.success(), "{status}");
    w = Worker::start_distributed(dir.path(), &props).await;
    w.wait_state("jdbc_source_mysql_sample_01", "RUNNING", 1)
        .await;
    w.wait_state("es-sink-mysql-sampleData-01", "RUNNING", 1)
        .await;
    wait_clock_past_last_update(&mut db).await;
    sql(
        &mut db,
        "INSERT INTO kafka_demo.sample_data (id, name) VALUES (5, 'fernando')",
    )
    .await;
    // Records reach the index in offset order, and any row the source read again after the
    // restart would come in the same poll as row 5 or before it: once row 5 is in, the
    // count is final.
    let docs = wait_documents(&http, &w, 6, "row 5 after the restart", |d| {
        d.iter().any(|d| d["_source"]["id"] == 5)
    })
    .await;
    let got = rows(&docs);
    let unique_rows: BTreeSet<_> = got.iter().cloned().collect();
    assert_eq!(unique_rows.len(), 6, "no duplicate documents: {got:?}");
    assert_eq!(got[5], table(&mut db).await[4]);
    assert_eq!(consume(TOPIC, usize::MAX, Duration::from_secs(3)).len(), 6);
}

/// README's option: ValueToKey + ExtractField$Key on the source and `key.ignore=false` on
/// the sink key the documents by the row id, so an update replaces its row's document.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyed_by_row_id_an_update_replaces_its_document() {
    let _serial = SERIAL.lock().await;
    let http = reqwest::Client::new();
    let mut db = fresh_start(&http).await;
    let dir = tempfile::tempdir().unwrap();
    let jdbc = with_config(
        &adapted(dir.path(), "jdbc_source_mysql_sample_01.json"),
        &[
            ("transforms", "createKey,extractId"),
            (
                "transforms.createKey.type",
                "org.apache.kafka.connect.transforms.ValueToKey",
            ),
            ("transforms.createKey.fields", "id"),
            (
                "transforms.extractId.type",
                "org.apache.kafka.connect.transforms.ExtractField$Key",
            ),
            ("transforms.extractId.field", "id"),
        ],
    );
    let es = with_config(
        &adapted(dir.path(), "es-sink-mysql-sampleData-01.json"),
        &[("key.ignore", "false")],
    );
    let props = distributed_props(&unique("seed-keyed"), free_port());
    let w = Worker::start_distributed(dir.path(), &props).await;
    wait_healthy(&w).await;
    ferry_load(&w, "jdbc_source_mysql_sample_01", &jdbc);
    w.wait_state("jdbc_source_mysql_sample_01", "RUNNING", 1)
        .await;
    sql(&mut db, FOUR_ROWS).await;
    wait_for(
        "4 records in the topic",
        Duration::from_secs(60),
        || async { (consume(TOPIC, 4, Duration::from_secs(2)).len() == 4).then_some(()) },
    )
    .await;
    ferry_load(&w, "es-sink-mysql-sampleData-01", &es);
    let docs = wait_documents(&http, &w, 4, "4 documents", |_| true).await;
    let ids: Vec<&str> = docs.iter().map(|d| d["_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["1", "2", "3", "4"]);
    assert_eq!(rows(&docs), table(&mut db).await);

    wait_clock_past_last_update(&mut db).await;
    sql(
        &mut db,
        "UPDATE kafka_demo.sample_data SET name = 'claus (updated)' WHERE id = 1",
    )
    .await;
    let docs = wait_documents(&http, &w, 4, "the update in place", |d| {
        d.iter()
            .any(|d| d["_id"] == "1" && d["_source"]["name"] == "claus (updated)")
    })
    .await;
    assert_eq!(rows(&docs), table(&mut db).await);
}

/// The README's main job, `examples/pipeline/run.sh`, runs to its end with its progress
/// lines and shows the documents: four after the inserts, five after the update (the seed's
/// key.ignore=true makes the update a document of its own).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_main_job_script_runs_to_the_end() {
    let _serial = SERIAL.lock().await;
    let out = tokio::process::Command::new(repo().join("examples/pipeline/run.sh"))
        .env("FERRY_BIN", env!("CARGO_BIN_EXE_ferry"))
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(300), out)
        .await
        .expect("run.sh finished within 5 minutes")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "run.sh failed:\n{stdout}\n{stderr}");
    for line in [
        "==> inserting four rows into kafka_demo.sample_data",
        &format!("    4 documents in {INDEX}:"),
        "==> updating row 1 (update_ts moves on)",
        &format!("    5 documents in {INDEX}:"),
        "Done. The worker stops now",
    ] {
        assert!(stdout.contains(line), "no {line:?} in:\n{stdout}");
    }
    assert!(!stdout.contains("building ferry"), "{stdout}");
    assert!(stdout.contains("claus (updated)"), "{stdout}");
}
