//! The JDBC source connector against real MariaDB and PostgreSQL servers
//! (`e2e/services up mariadb postgres`), real Kafka and a real `ferry standalone` worker.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use common::{Worker, consume, free_port, unique, wait_for, worker_props};
use serde_json::{Value, json};
use sqlx::Connection as _;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Db {
    MariaDb,
    Postgres,
}

fn env(db: Db, key: &str) -> String {
    let (prefix, service) = match db {
        Db::MariaDb => ("MARIADB", "mariadb"),
        Db::Postgres => ("POSTGRES", "postgres"),
    };
    let var = format!("{prefix}_{key}");
    std::env::var(&var).unwrap_or_else(|_| {
        panic!(
            "{var} is not set: run `e2e/services up {service} && eval \"$(e2e/services env)\"` first (e2e/test does this)"
        )
    })
}

/// A fresh database of its own for one test, and the JDBC URL of it.
struct TestDb {
    db: Db,
    name: String,
}

impl TestDb {
    async fn new(db: Db) -> TestDb {
        let name = unique("ferry_jdbc").replace('-', "_");
        let t = TestDb { db, name };
        let admin = t.admin_url();
        match db {
            Db::MariaDb => {
                let mut c = sqlx::MySqlConnection::connect(&admin).await.unwrap();
                sqlx::raw_sql(&format!("CREATE DATABASE `{}`", t.name))
                    .execute(&mut c)
                    .await
                    .unwrap();
            }
            Db::Postgres => {
                let mut c = sqlx::PgConnection::connect(&admin).await.unwrap();
                sqlx::raw_sql(&format!("CREATE DATABASE \"{}\"", t.name))
                    .execute(&mut c)
                    .await
                    .unwrap();
            }
        }
        t
    }

    fn hostport(&self) -> String {
        format!("{}:{}", env(self.db, "HOST"), env(self.db, "PORT"))
    }

    fn admin_url(&self) -> String {
        let (scheme, dbname) = match self.db {
            Db::MariaDb => ("mysql", String::new()),
            Db::Postgres => ("postgres", env(self.db, "DATABASE")),
        };
        format!(
            "{scheme}://{}:{}@{}/{dbname}",
            env(self.db, "USER"),
            env(self.db, "PASSWORD"),
            self.hostport()
        )
    }

    fn sqlx_url(&self) -> String {
        let scheme = match self.db {
            Db::MariaDb => "mysql",
            Db::Postgres => "postgres",
        };
        format!(
            "{scheme}://{}:{}@{}/{}",
            env(self.db, "USER"),
            env(self.db, "PASSWORD"),
            self.hostport(),
            self.name
        )
    }

    /// The JDBC URL, credentials in the query string as in the seed.
    fn jdbc_url(&self) -> String {
        let sub = match self.db {
            Db::MariaDb => "mysql",
            Db::Postgres => "postgresql",
        };
        format!(
            "jdbc:{sub}://{}/{}?user={}&password={}",
            self.hostport(),
            self.name,
            env(self.db, "USER"),
            env(self.db, "PASSWORD")
        )
    }

    /// Runs statements (separated by `;`) in this database.
    async fn exec(&self, sql: &str) {
        match self.db {
            Db::MariaDb => {
                let mut c = sqlx::MySqlConnection::connect(&self.sqlx_url())
                    .await
                    .unwrap();
                sqlx::raw_sql(sql)
                    .execute(&mut c)
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
                c.close().await.unwrap();
            }
            Db::Postgres => {
                let mut c = sqlx::PgConnection::connect(&self.sqlx_url()).await.unwrap();
                sqlx::raw_sql(sql)
                    .execute(&mut c)
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
                c.close().await.unwrap();
            }
        }
    }

    /// The qualifier Confluent puts in front of table names in source partitions.
    fn qualifier(&self) -> &str {
        match self.db {
            Db::MariaDb => &self.name,
            Db::Postgres => "public",
        }
    }

    /// A timestamp literal `secs` seconds after 2026-01-01 00:00:00 (in the past, so inside
    /// the query window).
    fn ts(&self, secs: u32, micros: u32) -> String {
        format!(
            "'2026-01-01 00:{:02}:{:02}.{micros:06}'",
            secs / 60,
            secs % 60
        )
    }

    fn ts_type(&self) -> &str {
        match self.db {
            Db::MariaDb => "DATETIME(6)",
            Db::Postgres => "TIMESTAMP(6)",
        }
    }

    fn autoinc(&self) -> &str {
        match self.db {
            Db::MariaDb => "INT NOT NULL AUTO_INCREMENT PRIMARY KEY",
            Db::Postgres => "SERIAL PRIMARY KEY",
        }
    }
}

/// A standalone worker with JSON values carrying schemas.
async fn worker(dir: &Path) -> Worker {
    let mut props = worker_props(dir, free_port());
    for (k, v) in props.iter_mut() {
        if k == "value.converter.schemas.enable" {
            *v = "true".into();
        }
    }
    Worker::start(dir, &props, &[]).await
}

async fn create(w: &Worker, name: &str, config: Value) {
    let (code, body, _) = w
        .call(
            "POST",
            "/connectors",
            Some(json!({"name": name, "config": config})),
        )
        .await;
    assert_eq!(code, 201, "creating {name}: {body}");
}

/// Every value on the topic so far (waits until at least `n` arrived).
fn values(topic: &str, n: usize) -> Vec<Value> {
    consume(topic, n, Duration::from_secs(30))
        .into_iter()
        .map(|(k, v)| {
            assert_eq!(k, None, "JDBC source records have null keys");
            serde_json::from_slice(&v.unwrap()).unwrap()
        })
        .collect()
}

/// What the worker says about its connectors, and its log's tail, for failure messages.
async fn diagnose(w: &Worker) -> String {
    let (_, names, _) = w.call("GET", "/connectors?expand=status", None).await;
    let log = w.log_text();
    let tail: Vec<&str> = log.lines().rev().take(40).collect();
    format!(
        "connectors: {names}\nlog tail:\n{}",
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    )
}

/// Waits until the topic holds exactly `want` payload `id`s, in order (and no more
/// arrive for a moment).
async fn expect_ids(w: &Worker, topic: &str, want: &[i64]) -> Vec<Value> {
    let deadline = std::time::Instant::now() + Duration::from_secs(40);
    let got = loop {
        let v = values(topic, want.len());
        let ids: Vec<i64> = v
            .iter()
            .map(|r| r["payload"]["id"].as_i64().unwrap())
            .collect();
        if ids == want {
            break v;
        }
        if std::time::Instant::now() > deadline {
            panic!(
                "timed out waiting for ids {want:?} on {topic} (have {ids:?})\n{}",
                diagnose(w).await
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Nothing beyond: a repeat would show up within a couple of polls.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let again = values(topic, want.len() + 1);
    let ids: Vec<i64> = again
        .iter()
        .map(|r| r["payload"]["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, want, "records on {topic} after waiting");
    got
}

fn base_config(t: &TestDb, mode: &str, table: &str, prefix: &str) -> Value {
    let mut c = json!({
        "connector.class": "io.confluent.connect.jdbc.JdbcSourceConnector",
        "connection.url": t.jdbc_url(),
        "mode": mode,
        "table.whitelist": table,
        "topic.prefix": prefix,
        "poll.interval.ms": "200",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": "true",
    });
    if mode.contains("incrementing") {
        c["incrementing.column.name"] = json!("id");
    }
    if mode.contains("timestamp") {
        c["timestamp.column.name"] = json!("ts");
    }
    c
}

/// Each mode, inserts and updates while polling, then a restart that resumes.
async fn modes(db: Db) {
    let t = TestDb::new(db).await;
    let dir = tempfile::tempdir().unwrap();
    let prefix = format!("{}-", unique("jdbc-modes"));
    let modes = [
        "bulk",
        "incrementing",
        "timestamp",
        "timestamp+incrementing",
    ];
    for (i, _) in modes.iter().enumerate() {
        t.exec(&format!(
            "CREATE TABLE m{i} (id {}, name VARCHAR(20) NOT NULL, ts {} NOT NULL)",
            t.autoinc(),
            t.ts_type()
        ))
        .await;
        t.exec(&format!(
            "INSERT INTO m{i} (name, ts) VALUES ('a', {}), ('b', {}), ('c', {})",
            t.ts(1, 0),
            t.ts(2, 0),
            t.ts(3, 0)
        ))
        .await;
    }
    let mut w = worker(dir.path()).await;
    let names: Vec<String> = modes
        .iter()
        .map(|m| format!("{}-{}", unique("jdbc"), m.replace('+', "-")))
        .collect();
    for (i, mode) in modes.iter().enumerate() {
        create(
            &w,
            &names[i],
            base_config(&t, mode, &format!("m{i}"), &prefix),
        )
        .await;
    }
    for n in &names {
        w.wait_state(n, "RUNNING", 1).await;
    }
    let topic = |i: usize| format!("{prefix}m{i}");
    expect_ids(&w, &topic(1), &[1, 2, 3]).await;
    expect_ids(&w, &topic(2), &[1, 2, 3]).await;
    let first = expect_ids(&w, &topic(3), &[1, 2, 3]).await;
    assert_eq!(first[0]["payload"]["name"], "a");
    assert_eq!(first[0]["schema"]["name"], "m3");

    // While polling: two new rows, and row 1 updated (with a newer timestamp).
    for i in 0..4 {
        t.exec(&format!(
            "INSERT INTO m{i} (name, ts) VALUES ('d', {}), ('e', {}); UPDATE m{i} SET name = 'a2', ts = {} WHERE id = 1",
            t.ts(4, 0),
            t.ts(5, 0),
            t.ts(6, 0)
        ))
        .await;
    }
    // incrementing sees new rows only; the timestamp modes see the update too.
    expect_ids(&w, &topic(1), &[1, 2, 3, 4, 5]).await;
    expect_ids(&w, &topic(2), &[1, 2, 3, 4, 5, 1]).await;
    let ti = expect_ids(&w, &topic(3), &[1, 2, 3, 4, 5, 1]).await;
    assert_eq!(ti[5]["payload"]["name"], "a2");
    // bulk: every poll is the whole table, so its latest snapshot has the update.
    wait_for(
        "bulk snapshot with the update",
        Duration::from_secs(30),
        || async {
            let all = consume(&topic(0), usize::MAX, Duration::from_secs(2));
            all.iter()
                .any(|(_, v)| {
                    let v: Value =
                        serde_json::from_slice(v.as_deref().unwrap_or_default()).unwrap();
                    v["payload"]["name"] == "a2"
                })
                .then_some(())
        },
    )
    .await;

    // Offsets in Confluent's shape.
    let (_, offsets, _) = w
        .call("GET", &format!("/connectors/{}/offsets", names[3]), None)
        .await;
    assert_eq!(
        offsets,
        json!({"offsets": [{
            "partition": {"protocol": "1", "table": format!("{}.m3", t.qualifier())},
            "offset": {"incrementing": 1, "timestamp": 1_767_225_606_000_i64, "timestamp_nanos": 0}
        }]})
    );

    // Stop (SIGTERM commits), change the tables, start again: it resumes.
    assert!(w.terminate().success());
    for i in 0..4 {
        t.exec(&format!(
            "INSERT INTO m{i} (name, ts) VALUES ('f', {}); UPDATE m{i} SET name = 'b2', ts = {} WHERE id = 2",
            t.ts(7, 0),
            t.ts(8, 0)
        ))
        .await;
    }
    let w = worker(dir.path()).await;
    for (i, mode) in modes.iter().enumerate().skip(1) {
        create(
            &w,
            &names[i],
            base_config(&t, mode, &format!("m{i}"), &prefix),
        )
        .await;
    }
    expect_ids(&w, &topic(1), &[1, 2, 3, 4, 5, 6]).await;
    expect_ids(&w, &topic(2), &[1, 2, 3, 4, 5, 1, 6, 2]).await;
    expect_ids(&w, &topic(3), &[1, 2, 3, 4, 5, 1, 6, 2]).await;
    drop(w);
}

#[tokio::test(flavor = "multi_thread")]
async fn modes_on_mariadb() {
    modes(Db::MariaDb).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn modes_on_postgres() {
    modes(Db::Postgres).await;
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn days(date: &str) -> i64 {
    let d = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap();
    (d - chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()).num_days()
}

fn millis(ts: &str) -> i64 {
    chrono::NaiveDateTime::parse_from_str(ts, "%Y-%m-%d %H:%M:%S%.f")
        .unwrap()
        .and_utc()
        .timestamp_millis()
}

fn field(ty: &str, optional: bool, name: &str) -> Value {
    json!({"type": ty, "optional": optional, "field": name})
}

fn logical(ty: &str, optional: bool, name: &str, logical: &str, params: Option<Value>) -> Value {
    let mut f =
        json!({"type": ty, "optional": optional, "field": name, "name": logical, "version": 1});
    if let Some(p) = params {
        f["parameters"] = p;
    }
    f
}

const DECIMAL: &str = "org.apache.kafka.connect.data.Decimal";
const DATE: &str = "org.apache.kafka.connect.data.Date";
const TIME: &str = "org.apache.kafka.connect.data.Time";
const TIMESTAMP: &str = "org.apache.kafka.connect.data.Timestamp";

/// One row of every supported column type, read twice: numeric.mapping none and best_fit.
async fn round_trip(
    db: Db,
    create_sql: &str,
    insert_sql: &str,
    fields: Vec<Value>,
    payload: Value,
    best_fit: (&str, Value, Value),
) {
    let t = TestDb::new(db).await;
    t.exec(create_sql).await;
    t.exec(insert_sql).await;
    let dir = tempfile::tempdir().unwrap();
    let w = worker(dir.path()).await;
    let prefix = format!("{}-", unique("jdbc-types"));
    let bf_prefix = format!("{}-", unique("jdbc-types-bf"));
    create(
        &w,
        &unique("types"),
        base_config(&t, "incrementing", "types", &prefix),
    )
    .await;
    let mut bf = base_config(&t, "incrementing", "types", &bf_prefix);
    bf["numeric.mapping"] = json!("best_fit");
    create(&w, &unique("types-bf"), bf).await;

    let v = expect_ids(&w, &format!("{prefix}types"), &[1]).await;
    let schema = &v[0]["schema"];
    assert_eq!(schema["type"], "struct");
    assert_eq!(schema["name"], "types");
    assert_eq!(schema["optional"], false);
    let got = schema["fields"].as_array().unwrap();
    assert_eq!(got.len(), fields.len(), "fields: {}", schema["fields"]);
    for (g, want) in got.iter().zip(&fields) {
        assert_eq!(g, want, "schema of field {}", want["field"]);
    }
    for (k, want) in payload.as_object().unwrap() {
        assert_eq!(&v[0]["payload"][k], want, "value of column {k}");
    }
    assert_eq!(
        v[0]["payload"].as_object().unwrap().len(),
        payload.as_object().unwrap().len(),
        "payload {}",
        v[0]["payload"]
    );

    let v = expect_ids(&w, &format!("{bf_prefix}types"), &[1]).await;
    let (col, want_field, want_value) = best_fit;
    let f = v[0]["schema"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["field"] == col)
        .unwrap()
        .clone();
    assert_eq!(f, want_field);
    assert_eq!(v[0]["payload"][col], want_value);
}

#[tokio::test(flavor = "multi_thread")]
async fn types_round_trip_on_mariadb() {
    let stamp = "2024-02-29 13:14:15.123";
    round_trip(
        Db::MariaDb,
        "CREATE TABLE types (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, c_tinyint TINYINT NOT NULL, \
         c_smallint SMALLINT, c_int INT, c_bigint BIGINT, c_ubigint BIGINT UNSIGNED, c_float FLOAT, \
         c_double DOUBLE, c_decimal DECIMAL(10,2), c_num5 DECIMAL(5,0), c_bool BOOLEAN, c_varchar VARCHAR(50), \
         c_text TEXT, c_blob BLOB, c_date DATE, c_time TIME, c_datetime DATETIME(3), \
         c_timestamp TIMESTAMP(3) NULL, c_null VARCHAR(5) NULL, c_geom GEOMETRY NULL)",
        &format!(
            "INSERT INTO types VALUES (NULL, -5, 300, 70000, 9000000000, 18446744073709551615, 1.5, 2.25, \
             12345.67, 12345, TRUE, 'héllo', 'long text', X'DEADBEEF', '2024-02-29', '13:14:15', '{stamp}', \
             '{stamp}', NULL, NULL)"
        ),
        vec![
            field("int32", false, "id"),
            field("int8", false, "c_tinyint"),
            field("int16", true, "c_smallint"),
            field("int32", true, "c_int"),
            field("int64", true, "c_bigint"),
            logical("bytes", true, "c_ubigint", DECIMAL, Some(json!({"scale": "0"}))),
            field("float", true, "c_float"),
            field("double", true, "c_double"),
            logical("bytes", true, "c_decimal", DECIMAL, Some(json!({"scale": "2"}))),
            logical("bytes", true, "c_num5", DECIMAL, Some(json!({"scale": "0"}))),
            field("boolean", true, "c_bool"),
            field("string", true, "c_varchar"),
            field("string", true, "c_text"),
            field("bytes", true, "c_blob"),
            logical("int32", true, "c_date", DATE, None),
            logical("int32", true, "c_time", TIME, None),
            logical("int64", true, "c_datetime", TIMESTAMP, None),
            logical("int64", true, "c_timestamp", TIMESTAMP, None),
            field("string", true, "c_null"),
        ],
        json!({
            "id": 1, "c_tinyint": -5, "c_smallint": 300, "c_int": 70000, "c_bigint": 9_000_000_000_i64,
            "c_ubigint": b64(&[0, 255, 255, 255, 255, 255, 255, 255, 255]),
            "c_float": 1.5, "c_double": 2.25,
            "c_decimal": b64(&[0x12, 0xD6, 0x87]), "c_num5": b64(&[0x30, 0x39]),
            "c_bool": true, "c_varchar": "héllo", "c_text": "long text",
            "c_blob": b64(&[0xDE, 0xAD, 0xBE, 0xEF]),
            "c_date": days("2024-02-29"), "c_time": (13 * 3600 + 14 * 60 + 15) * 1000,
            "c_datetime": millis(stamp), "c_timestamp": millis(stamp), "c_null": null,
        }),
        ("c_num5", field("int32", true, "c_num5"), json!(12345)),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn types_round_trip_on_postgres() {
    let stamp = "2024-02-29 13:14:15.123";
    round_trip(
        Db::Postgres,
        "CREATE TABLE types (id SERIAL PRIMARY KEY, c_smallint SMALLINT NOT NULL, c_int INT, c_bigint BIGINT, \
         c_real REAL, c_double DOUBLE PRECISION, c_numeric NUMERIC(10,2), c_num5 NUMERIC(5,0), c_bool BOOLEAN, \
         c_varchar VARCHAR(50), c_char CHAR(3), c_text TEXT, c_bytea BYTEA, c_date DATE, c_time TIME(3), \
         c_ts TIMESTAMP(3), c_tstz TIMESTAMPTZ(3), c_uuid UUID, c_jsonb JSONB, c_interval INTERVAL, c_null TEXT)",
        &format!(
            "INSERT INTO types (c_smallint, c_int, c_bigint, c_real, c_double, c_numeric, c_num5, c_bool, c_varchar, \
             c_char, c_text, c_bytea, c_date, c_time, c_ts, c_tstz, c_uuid, c_jsonb, c_interval, c_null) VALUES \
             (-300, 70000, 9000000000, 1.5, 2.25, 12345.67, 12345, TRUE, 'héllo', 'ab', 'long text', '\\xDEADBEEF', \
             '2024-02-29', '13:14:15', '{stamp}', '{stamp}+00', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', \
             '{{\"a\": 1}}', '1 day', NULL)"
        ),
        vec![
            field("int32", false, "id"),
            field("int16", false, "c_smallint"),
            field("int32", true, "c_int"),
            field("int64", true, "c_bigint"),
            field("float", true, "c_real"),
            field("double", true, "c_double"),
            logical("bytes", true, "c_numeric", DECIMAL, Some(json!({"scale": "2"}))),
            logical("bytes", true, "c_num5", DECIMAL, Some(json!({"scale": "0"}))),
            field("boolean", true, "c_bool"),
            field("string", true, "c_varchar"),
            field("string", true, "c_char"),
            field("string", true, "c_text"),
            field("bytes", true, "c_bytea"),
            logical("int32", true, "c_date", DATE, None),
            logical("int32", true, "c_time", TIME, None),
            logical("int64", true, "c_ts", TIMESTAMP, None),
            logical("int64", true, "c_tstz", TIMESTAMP, None),
            field("string", true, "c_uuid"),
            field("string", true, "c_jsonb"),
            field("string", true, "c_null"),
        ],
        json!({
            "id": 1, "c_smallint": -300, "c_int": 70000, "c_bigint": 9_000_000_000_i64,
            "c_real": 1.5, "c_double": 2.25,
            "c_numeric": b64(&[0x12, 0xD6, 0x87]), "c_num5": b64(&[0x30, 0x39]),
            "c_bool": true, "c_varchar": "héllo", "c_char": "ab ", "c_text": "long text",
            "c_bytea": b64(&[0xDE, 0xAD, 0xBE, 0xEF]),
            "c_date": days("2024-02-29"), "c_time": (13 * 3600 + 14 * 60 + 15) * 1000,
            "c_ts": millis(stamp), "c_tstz": millis(stamp),
            "c_uuid": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "c_jsonb": "{\"a\": 1}", "c_null": null,
        }),
        ("c_numeric", field("double", true, "c_numeric"), json!(12345.67)),
    )
    .await;
}

/// The seed's `jdbc_source_mysql_sample_01` config, verbatim except the converters
/// (JsonConverter instead of the Avro converter) and the port of the test server.
#[tokio::test(flavor = "multi_thread")]
async fn seed_config_against_kafka_demo_sample_data() {
    let admin = TestDb::new(Db::MariaDb).await;
    admin
        .exec(
            "DROP DATABASE IF EXISTS kafka_demo; CREATE DATABASE kafka_demo; \
             CREATE USER IF NOT EXISTS 'claus'@'%' IDENTIFIED BY 'LvRaikkonen_0306'; \
             GRANT ALL PRIVILEGES ON kafka_demo.* TO 'claus'@'%'; \
             CREATE TABLE kafka_demo.sample_data (id INT NOT NULL PRIMARY KEY, name VARCHAR(50), \
             update_ts TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP); \
             INSERT INTO kafka_demo.sample_data (id, name) VALUES (1, 'claus')",
        )
        .await;
    let seed = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../examples/rest/jdbc_source_mysql_sample_01.json"),
    )
    .unwrap();
    let seed: Value = serde_json::from_str(&seed).unwrap();
    let mut config = seed["config"].clone();
    for k in ["key.converter", "value.converter"] {
        config[k] = json!("org.apache.kafka.connect.json.JsonConverter");
    }
    let url = config["connection.url"]
        .as_str()
        .unwrap()
        .replace(":3306/", &format!(":{}/", env(Db::MariaDb, "PORT")));
    config["connection.url"] = json!(url);
    let dir = tempfile::tempdir().unwrap();
    let w = worker(dir.path()).await;
    let name = unique("jdbc_source_mysql_sample_01");
    create(&w, &name, config).await;
    w.wait_state(&name, "RUNNING", 1).await;
    // `timestamp` mode reads `update_ts > last`: a row written within the same second
    // (TIMESTAMP has second precision here) as the last one read would be missed, as with
    // Confluent's connector (README: what each mode guarantees). So the next row waits for
    // the clock to pass row 1's timestamp.
    let mut c = sqlx::MySqlConnection::connect(&admin.sqlx_url())
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let later: i64 = sqlx::query_scalar(
            "SELECT CAST(UNIX_TIMESTAMP(NOW()) > UNIX_TIMESTAMP(MAX(update_ts)) AS SIGNED) FROM kafka_demo.sample_data",
        )
        .fetch_one(&mut c)
        .await
        .unwrap();
        if later == 1 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the clock did not pass row 1's update_ts"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let marker = unique("claus");
    admin
        .exec(&format!(
            "INSERT INTO kafka_demo.sample_data (id, name) VALUES (2, '{marker}')"
        ))
        .await;
    // The topic may hold earlier runs' rows, and the seed pipeline test's Avro records
    // (tests/seed_pipeline.rs): look for this run's JSON ones.
    let deadline = std::time::Instant::now() + Duration::from_secs(40);
    let found = loop {
        let all = consume("mysql-sample_data", usize::MAX, Duration::from_secs(2));
        let v: Vec<Value> = all
            .iter()
            .filter_map(|(_, v)| serde_json::from_slice(v.as_deref()?).ok())
            .collect();
        if let Some(pos) = v
            .iter()
            .position(|r| r["payload"]["name"] == marker.as_str())
        {
            break v[..=pos].to_vec();
        }
        if std::time::Instant::now() > deadline {
            panic!(
                "the seed's rows did not reach mysql-sample_data\n{}",
                diagnose(&w).await
            );
        }
    };
    let mine = found.last().unwrap();
    assert_eq!(mine["payload"]["id"], 2);
    assert_eq!(mine["schema"]["name"], "sample_data");
    let first = &found[found.len() - 2];
    assert_eq!(
        first["payload"],
        json!({"id": 1, "name": "claus", "update_ts": first["payload"]["update_ts"]})
    );
    assert!(first["payload"]["update_ts"].as_i64().unwrap() > 1_700_000_000_000);
    let want = json!({"offsets": [{
        "partition": {"protocol": "1", "table": "kafka_demo.sample_data"},
        "offset": {"timestamp": mine["payload"]["update_ts"], "timestamp_nanos": 0},
    }]});
    wait_for(
        "the seed connector's offset",
        Duration::from_secs(20),
        || async {
            let (_, o, _) = w
                .call("GET", &format!("/connectors/{name}/offsets"), None)
                .await;
            (o == want).then_some(())
        },
    )
    .await;
}

/// Custom query mode with query.suffix: a join wrapped so the WHERE clause can follow,
/// two rows per execution (LIMIT 2), all rows once, in order.
#[tokio::test(flavor = "multi_thread")]
async fn query_mode_with_suffix() {
    let t = TestDb::new(Db::MariaDb).await;
    t.exec(
        "CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(20) NOT NULL); \
         CREATE TABLE orders (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, customer_id INT NOT NULL, amount DECIMAL(8,2) NOT NULL); \
         INSERT INTO customers VALUES (1, 'ann'), (2, 'bob'); \
         INSERT INTO orders (customer_id, amount) VALUES (1, 1.50), (2, 2.50), (1, 3.50), (2, 4.50), (1, 5.50)",
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let w = worker(dir.path()).await;
    let topic = unique("jdbc-query");
    let name = unique("jdbc-query");
    let mut c = base_config(&t, "incrementing", "", &topic);
    c.as_object_mut().unwrap().remove("table.whitelist");
    c["query"] = json!(
        "SELECT * FROM (SELECT o.id, c.name AS customer, o.amount FROM orders o JOIN customers c ON c.id = o.customer_id) q"
    );
    c["query.suffix"] = json!("LIMIT 2");
    create(&w, &name, c).await;
    let v = expect_ids(&w, &topic, &[1, 2, 3, 4, 5]).await;
    let customers: Vec<&str> = v
        .iter()
        .map(|r| r["payload"]["customer"].as_str().unwrap())
        .collect();
    assert_eq!(customers, ["ann", "bob", "ann", "bob", "ann"]);
    assert_eq!(v[0]["schema"].get("name"), None);
    assert_eq!(v[4]["payload"]["amount"], b64(&[0x02, 0x26]));
    let (_, offsets, _) = w
        .call("GET", &format!("/connectors/{name}/offsets"), None)
        .await;
    assert_eq!(
        offsets,
        json!({"offsets": [{"partition": {"query": "query"}, "offset": {"incrementing": 5}}]})
    );
}

/// timestamp+incrementing keeps nanoseconds in its offset: a row with the same
/// timestamp and a larger id, and a row later within the same millisecond, are read
/// once each, across a restart.
#[tokio::test(flavor = "multi_thread")]
async fn same_millisecond_rows_are_neither_lost_nor_repeated() {
    let t = TestDb::new(Db::MariaDb).await;
    t.exec(&format!(
        "CREATE TABLE ev (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, ts DATETIME(6) NOT NULL); \
         INSERT INTO ev (ts) VALUES ({})",
        t.ts(10, 100)
    ))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut w = worker(dir.path()).await;
    let topic_prefix = format!("{}-", unique("jdbc-samems"));
    let name = unique("jdbc-samems");
    let config = base_config(&t, "timestamp+incrementing", "ev", &topic_prefix);
    create(&w, &name, config.clone()).await;
    let topic = format!("{topic_prefix}ev");
    expect_ids(&w, &topic, &[1]).await;
    wait_for("the offset of row 1", Duration::from_secs(20), || async {
        let (_, o, _) = w.call("GET", &format!("/connectors/{name}/offsets"), None).await;
        (o["offsets"][0]["offset"] == json!({"incrementing": 1, "timestamp": 1_767_225_610_000_i64, "timestamp_nanos": 100_000})).then_some(())
    })
    .await;
    assert!(w.terminate().success());
    t.exec(&format!(
        "INSERT INTO ev (ts) VALUES ({}), ({})",
        t.ts(10, 100),
        t.ts(10, 600)
    ))
    .await;
    let w = worker(dir.path()).await;
    create(&w, &name, config).await;
    expect_ids(&w, &topic, &[1, 2, 3]).await;
}

async fn wait_task_failed(w: &Worker, name: &str) -> String {
    let status = wait_for(
        &format!("task of {name} to fail"),
        Duration::from_secs(30),
        || async {
            let (_, s, _) = w
                .call("GET", &format!("/connectors/{name}/status"), None)
                .await;
            (s["tasks"][0]["state"] == "FAILED").then_some(s)
        },
    )
    .await;
    status["tasks"][0]["trace"].as_str().unwrap().to_owned()
}

/// The validate endpoint's answer for one key: its value entry and the error count.
async fn validate_key(w: &Worker, config: &Value, key: &str) -> (Value, u64) {
    let mut config = config.clone();
    config["name"] = json!("validated");
    let (code, body, _) = w
        .call(
            "PUT",
            "/connector-plugins/JdbcSourceConnector/config/validate",
            Some(config),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    let entry = body["configs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["value"]["name"] == key)
        .unwrap_or_else(|| panic!("no {key} in {body}"))["value"]
        .clone();
    (entry, body["error_count"].as_u64().unwrap())
}

/// A configured table without the mode's column: refused by `…/config/validate` and by
/// connector creation (checked against the database), naming table and column; a table
/// that appears later without it fails the task the same way.
#[tokio::test(flavor = "multi_thread")]
async fn a_missing_column_is_refused_naming_table_and_column() {
    let t = TestDb::new(Db::MariaDb).await;
    t.exec("CREATE TABLE things (id INT NOT NULL PRIMARY KEY, ts DATETIME NULL)")
        .await;
    let dir = tempfile::tempdir().unwrap();
    let w = worker(dir.path()).await;
    let name = unique("jdbc-missing");
    let mut c = base_config(&t, "incrementing", "things", "x-");
    c["incrementing.column.name"] = json!("nope");
    let message = format!(
        "Incrementing column nope does not exist in table {}.things (its columns: id, ts)",
        t.name
    );
    let (entry, errors) = validate_key(&w, &c, "incrementing.column.name").await;
    assert_eq!(errors, 1);
    assert_eq!(
        entry,
        json!({"name": "incrementing.column.name", "value": "nope", "recommended_values": [],
               "errors": [message], "visible": true})
    );
    let (code, body, _) = w
        .call(
            "POST",
            "/connectors",
            Some(json!({"name": name, "config": c})),
        )
        .await;
    assert_eq!(code, 400, "{body}");
    assert_eq!(body["error_code"], 400);
    assert!(
        body["message"].as_str().unwrap().contains(&message),
        "{body}"
    );
    let (code, _, _) = w.call("GET", &format!("/connectors/{name}"), None).await;
    assert_eq!(code, 404, "a refused connector is not created");

    // A nullable timestamp column with validate.non.null (the default) is refused too.
    let c = base_config(&t, "timestamp", "things", "x-");
    let (entry, errors) = validate_key(&w, &c, "timestamp.column.name").await;
    assert_eq!(errors, 1);
    assert_eq!(
        entry["errors"],
        json!([format!(
            "Cannot make incremental queries using timestamp columns [ts] on {}.things because all of these columns are nullable.",
            t.name
        )])
    );
    // The same table with the right column validates.
    let (entry, errors) = validate_key(
        &w,
        &base_config(&t, "incrementing", "things", "x-"),
        "incrementing.column.name",
    )
    .await;
    assert_eq!((entry["errors"].clone(), errors), (json!([]), 0));

    // A whitelisted table that does not exist yet passes validation; when it appears
    // without the column, the task fails naming both.
    let name = unique("jdbc-later");
    let mut c = base_config(&t, "incrementing", "later", "x-");
    c["incrementing.column.name"] = json!("nope");
    c["table.poll.interval.ms"] = json!("300");
    create(&w, &name, c).await;
    t.exec("CREATE TABLE later (id INT NOT NULL PRIMARY KEY)")
        .await;
    let trace = wait_task_failed(&w, &name).await;
    assert!(
        trace.contains(&format!(
            "Incrementing column nope does not exist in table {}.later",
            t.name
        )),
        "{trace}"
    );
}

/// Validation reaches the database with a password held by a config provider (the
/// reference resolved for the check, never in the answer).
#[tokio::test(flavor = "multi_thread")]
async fn validation_resolves_config_provider_references() {
    let t = TestDb::new(Db::MariaDb).await;
    t.exec("CREATE TABLE things (id INT NOT NULL PRIMARY KEY)")
        .await;
    let dir = tempfile::tempdir().unwrap();
    let password = env(Db::MariaDb, "PASSWORD");
    let secrets = dir.path().join("db.properties");
    std::fs::write(&secrets, format!("password={password}\n")).unwrap();
    let mut props = worker_props(dir.path(), free_port());
    props.extend(
        [
            ("config.providers", "file"),
            (
                "config.providers.file.class",
                "org.apache.kafka.common.config.provider.FileConfigProvider",
            ),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    let w = Worker::start(dir.path(), &props, &[]).await;
    let mut c = base_config(&t, "incrementing", "things", "x-");
    c["connection.url"] = json!(format!("jdbc:mysql://{}/{}", t.hostport(), t.name));
    c["connection.user"] = json!(env(Db::MariaDb, "USER"));
    c["connection.password"] = json!(format!("${{file:{}:password}}", secrets.display()));
    c["incrementing.column.name"] = json!("nope");
    let (entry, errors) = validate_key(&w, &c, "incrementing.column.name").await;
    assert_eq!(errors, 1, "{entry}");
    assert_eq!(
        entry["errors"],
        json!([format!(
            "Incrementing column nope does not exist in table {}.things (its columns: id)",
            t.name
        )])
    );
    let (entry, _) = validate_key(&w, &c, "connection.password").await;
    assert_ne!(entry["value"], json!(password), "{entry}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_database_fails_the_task_naming_the_host() {
    let dir = tempfile::tempdir().unwrap();
    let w = worker(dir.path()).await;
    let port = free_port();
    let name = unique("jdbc-down");
    create(
        &w,
        &name,
        json!({
            "connector.class": "JdbcSource",
            "connection.url": format!("jdbc:mysql://127.0.0.1:{port}/db?user=u&password=secret-pw"),
            "connection.attempts": "2",
            "connection.backoff.ms": "100",
            "mode": "bulk",
            "table.whitelist": "t",
            "topic.prefix": "down-",
        }),
    )
    .await;
    let trace = wait_task_failed(&w, &name).await;
    assert!(trace.contains(&format!("127.0.0.1:{port}")), "{trace}");
    assert!(trace.contains("after 2 attempt(s)"), "{trace}");
    assert!(trace.to_lowercase().contains("refused"), "{trace}");
    assert!(!trace.contains("secret-pw"), "{trace}");
    let log = w.log_text();
    assert_eq!(
        log.matches("could not connect to the database").count(),
        2,
        "{log}"
    );
}

/// Tables created after the start are picked up (table.poll.interval.ms); the
/// incrementing column is detected (SERIAL) when not configured.
#[tokio::test(flavor = "multi_thread")]
async fn a_new_table_is_picked_up() {
    let t = TestDb::new(Db::Postgres).await;
    t.exec(
        "CREATE TABLE first (id SERIAL PRIMARY KEY, v TEXT); INSERT INTO first (v) VALUES ('x')",
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let w = worker(dir.path()).await;
    let prefix = format!("{}-", unique("jdbc-new"));
    let name = unique("jdbc-new");
    let mut c = base_config(&t, "incrementing", "", &prefix);
    c.as_object_mut().unwrap().remove("table.whitelist");
    c["incrementing.column.name"] = json!("");
    c["table.poll.interval.ms"] = json!("300");
    create(&w, &name, c).await;
    expect_ids(&w, &format!("{prefix}first"), &[1]).await;
    t.exec("CREATE TABLE second (id SERIAL PRIMARY KEY, v TEXT); INSERT INTO second (v) VALUES ('y'), ('z')").await;
    let v = expect_ids(&w, &format!("{prefix}second"), &[1, 2]).await;
    assert_eq!(v[1]["payload"], json!({"id": 2, "v": "z"}));
}

/// Out-of-order commits: a row whose transaction commits after a later row was committed
/// is not lost when timestamp.delay.interval.ms covers the transaction.
#[tokio::test(flavor = "multi_thread")]
async fn the_delay_catches_a_late_committing_transaction() {
    let t = TestDb::new(Db::MariaDb).await;
    t.exec("CREATE TABLE ev (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, ts DATETIME(6) NOT NULL)")
        .await;
    let dir = tempfile::tempdir().unwrap();
    let w = worker(dir.path()).await;
    let prefix = format!("{}-", unique("jdbc-delay"));
    let mut c = base_config(&t, "timestamp+incrementing", "ev", &prefix);
    c["timestamp.delay.interval.ms"] = json!("3000");
    let name = unique("jdbc-delay");
    create(&w, &name, c).await;
    w.wait_state(&name, "RUNNING", 1).await;

    let mut slow = sqlx::MySqlConnection::connect(&t.sqlx_url()).await.unwrap();
    sqlx::raw_sql("BEGIN; INSERT INTO ev (ts) VALUES (UTC_TIMESTAMP(6))")
        .execute(&mut slow)
        .await
        .unwrap();
    // A later row commits first...
    t.exec("INSERT INTO ev (ts) VALUES (UTC_TIMESTAMP(6))")
        .await;
    // ...while the first transaction is still open (the scenario, not a wait).
    tokio::time::sleep(Duration::from_millis(500)).await;
    sqlx::raw_sql("COMMIT").execute(&mut slow).await.unwrap();
    expect_ids(&w, &format!("{prefix}ev"), &[1, 2]).await;
}

/// DATETIME columns holding local time: with db.timezone set, rows written "now" in
/// that zone are read at once (not held back as future rows) and become the right instant.
#[tokio::test(flavor = "multi_thread")]
async fn db_timezone_reads_local_date_times() {
    let t = TestDb::new(Db::MariaDb).await;
    t.exec(
        "CREATE TABLE tz (id INT NOT NULL PRIMARY KEY, ts DATETIME(3) NOT NULL); \
         INSERT INTO tz VALUES (1, '2026-01-01 09:00:00.250'), \
         (2, DATE_ADD(UTC_TIMESTAMP(3), INTERVAL 9 HOUR))",
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let w = worker(dir.path()).await;
    let prefix = format!("{}-", unique("jdbc-tz"));
    let mut c = base_config(&t, "timestamp", "tz", &prefix);
    c["db.timezone"] = json!("Asia/Tokyo");
    create(&w, &unique("jdbc-tz"), c).await;
    let v = expect_ids(&w, &format!("{prefix}tz"), &[1, 2]).await;
    // 09:00:00.250 in Tokyo is midnight UTC.
    assert_eq!(v[0]["payload"]["ts"], 1_767_225_600_250_i64);
    let now = chrono::Utc::now().timestamp_millis();
    let ts = v[1]["payload"]["ts"].as_i64().unwrap();
    assert!((now - ts).abs() < 120_000, "row 2 at {ts}, now {now}");
}

/// A connection the database drops (here: KILLed by an administrator) is replaced; the
/// task stays RUNNING and resumes after the last row it handed out.
#[tokio::test(flavor = "multi_thread")]
async fn a_dropped_connection_is_replaced() {
    let t = TestDb::new(Db::MariaDb).await;
    t.exec(&format!(
        "CREATE TABLE ev (id {}, v VARCHAR(10) NOT NULL); INSERT INTO ev (v) VALUES ('a'), ('b')",
        t.autoinc()
    ))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let w = worker(dir.path()).await;
    let prefix = format!("{}-", unique("jdbc-kill"));
    let name = unique("jdbc-kill");
    let mut c = base_config(&t, "incrementing", "ev", &prefix);
    c["connection.backoff.ms"] = json!("200");
    create(&w, &name, c).await;
    let topic = format!("{prefix}ev");
    expect_ids(&w, &topic, &[1, 2]).await;

    let mut admin = sqlx::MySqlConnection::connect(&t.sqlx_url()).await.unwrap();
    let ids: Vec<u64> = sqlx::query_scalar(
        "SELECT CAST(ID AS UNSIGNED) FROM information_schema.PROCESSLIST WHERE DB = ? AND ID <> CONNECTION_ID()",
    )
    .bind(&t.name)
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert_eq!(ids.len(), 1, "the task's one connection: {ids:?}");
    sqlx::raw_sql(&format!("KILL {}", ids[0]))
        .execute(&mut admin)
        .await
        .unwrap();
    t.exec("INSERT INTO ev (v) VALUES ('c'), ('d')").await;
    expect_ids(&w, &topic, &[1, 2, 3, 4]).await;
    w.wait_state(&name, "RUNNING", 1).await;
    assert!(
        w.log_text().contains("JDBC query failed; trying again"),
        "{}",
        w.log_text()
    );
}

/// The same connector in a distributed worker: offsets go to the offset topic and read
/// back through the REST API in Confluent's shape.
#[tokio::test(flavor = "multi_thread")]
async fn runs_in_a_distributed_worker() {
    let t = TestDb::new(Db::Postgres).await;
    t.exec(&format!(
        "CREATE TABLE ev (id {}, v TEXT NOT NULL); INSERT INTO ev (v) VALUES ('a'), ('b')",
        t.autoinc()
    ))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let group = unique("jdbc-dist");
    let mut props = common::distributed_props(&group, free_port());
    for (k, v) in props.iter_mut() {
        if k == "value.converter.schemas.enable" {
            *v = "true".into();
        }
    }
    let w = Worker::start_distributed(dir.path(), &props).await;
    let prefix = format!("{}-", unique("jdbc-dist"));
    let name = unique("jdbc-dist");
    let config = base_config(&t, "incrementing", "ev", &prefix);
    // Until the worker has joined its group, writes answer 409.
    wait_for(
        "the worker to accept the connector",
        Duration::from_secs(30),
        || async {
            let body = json!({"name": name, "config": config});
            let (code, _, _) = w.call("POST", "/connectors", Some(body)).await;
            (code == 201).then_some(())
        },
    )
    .await;
    w.wait_state(&name, "RUNNING", 1).await;
    let v = expect_ids(&w, &format!("{prefix}ev"), &[1, 2]).await;
    assert_eq!(v[1]["payload"], json!({"id": 2, "v": "b"}));
    wait_for("the offset in the offset topic", Duration::from_secs(30), || async {
        let (_, o, _) = w.call("GET", &format!("/connectors/{name}/offsets"), None).await;
        (o == json!({"offsets": [{"partition": {"protocol": "1", "table": "public.ev"}, "offset": {"incrementing": 2}}]}))
            .then_some(())
    })
    .await;
}

/// A bulk query-mode config that reads `query` once (one row) into `topic`.
fn once_query_config(t: &TestDb, query: &str, topic: &str) -> Value {
    let mut c = base_config(t, "bulk", "", topic);
    c.as_object_mut().unwrap().remove("table.whitelist");
    c["query"] = json!(query);
    c["poll.interval.ms"] = json!("3600000");
    c
}

/// transaction.isolation.mode sets the session's level on both databases (the query
/// reads it back); SQL_SERVER_SNAPSHOT is refused by validation.
#[tokio::test(flavor = "multi_thread")]
async fn transaction_isolation_mode_sets_the_session_level() {
    let dir = tempfile::tempdir().unwrap();
    let w = worker(dir.path()).await;
    for (db, query, mode, want) in [
        (
            Db::Postgres,
            "SELECT 1 AS id, current_setting('transaction_isolation') AS level",
            "SERIALIZABLE",
            "serializable",
        ),
        (
            Db::Postgres,
            "SELECT 1 AS id, current_setting('transaction_isolation') AS level",
            "DEFAULT",
            "read committed",
        ),
        (
            Db::MariaDb,
            "SELECT 1 AS id, CAST(@@SESSION.tx_isolation AS CHAR) AS level",
            "READ_UNCOMMITTED",
            "READ-UNCOMMITTED",
        ),
    ] {
        let t = TestDb::new(db).await;
        let topic = unique("jdbc-iso");
        let mut c = once_query_config(&t, query, &topic);
        c["transaction.isolation.mode"] = json!(mode);
        create(&w, &unique("jdbc-iso"), c).await;
        let v = values(&topic, 1);
        assert_eq!(v[0]["payload"]["level"], want, "{db:?} {mode}");
    }
    let t = TestDb::new(Db::MariaDb).await;
    let mut c = once_query_config(&t, "SELECT 1 AS id", "x");
    c["transaction.isolation.mode"] = json!("SQL_SERVER_SNAPSHOT");
    let (entry, errors) = validate_key(&w, &c, "transaction.isolation.mode").await;
    assert_eq!(errors, 1);
    assert_eq!(
        entry["errors"],
        json!([
            "Invalid value SQL_SERVER_SNAPSHOT for configuration transaction.isolation.mode: Isolation mode of `SQL_SERVER_SNAPSHOT` can only be configured with a Sql Server Dialect"
        ])
    );
}

/// query.retry.attempts: a query failing for a retriable reason (here it terminates its
/// own session) is retried that many times on a new connection, then the task fails.
#[tokio::test(flavor = "multi_thread")]
async fn query_retry_attempts_bound_the_retries() {
    let t = TestDb::new(Db::Postgres).await;
    let dir = tempfile::tempdir().unwrap();
    let w = worker(dir.path()).await;
    let name = unique("jdbc-retry");
    let mut c = once_query_config(
        &t,
        "SELECT 1 AS id, pg_terminate_backend(pg_backend_pid()) AS gone",
        &unique("jdbc-retry"),
    );
    c["query.retry.attempts"] = json!("2");
    c["connection.backoff.ms"] = json!("100");
    create(&w, &name, c).await;
    let trace = wait_task_failed(&w, &name).await;
    assert!(
        trace.contains("Failed to query table after 2 retries"),
        "{trace}"
    );
    assert!(trace.contains("terminat"), "{trace}");
    let log = w.log_text();
    assert_eq!(
        log.matches("JDBC query failed; trying again").count(),
        2,
        "{log}"
    );
}

/// timestamp.granularity: nanoseconds as int64 or string, or an ISO date-time in
/// db.timezone, with the schema types Confluent uses.
#[tokio::test(flavor = "multi_thread")]
async fn timestamp_granularity_shapes_timestamp_columns() {
    let t = TestDb::new(Db::MariaDb).await;
    t.exec(
        "CREATE TABLE g (id INT NOT NULL PRIMARY KEY, ts DATETIME(6) NOT NULL, maybe DATETIME(6) NULL); \
         INSERT INTO g VALUES (1, '2026-01-01 09:00:00.123456', NULL)",
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let w = worker(dir.path()).await;
    // 09:00 in Paris (winter) is 08:00 UTC.
    let nanos: i64 = (millis("2026-01-01 08:00:00") * 1_000 + 123_456) * 1_000;
    for (granularity, ty, value) in [
        ("nanos_long", "int64", json!(nanos)),
        ("nanos_string", "string", json!(nanos.to_string())),
        (
            "nanos_iso_datetime_string",
            "string",
            json!("2026-01-01T09:00:00.123456000"),
        ),
    ] {
        let prefix = format!("{}-", unique("jdbc-gran"));
        let mut c = base_config(&t, "bulk", "g", &prefix);
        c["timestamp.granularity"] = json!(granularity);
        c["db.timezone"] = json!("Europe/Paris");
        c["poll.interval.ms"] = json!("3600000");
        create(&w, &unique("jdbc-gran"), c).await;
        let v = values(&format!("{prefix}g"), 1);
        assert_eq!(
            v[0]["schema"]["fields"][1],
            json!({"type": ty, "optional": false, "field": "ts"}),
            "{granularity}"
        );
        assert_eq!(
            v[0]["schema"]["fields"][2],
            json!({"type": ty, "optional": true, "field": "maybe"}),
            "{granularity}"
        );
        assert_eq!(
            v[0]["payload"],
            json!({"id": 1, "ts": value, "maybe": null}),
            "{granularity}"
        );
    }
}
