//! The AvroConverter against the real schema registry (`e2e/services up schema-registry`)
//! and the real broker, with the stock Confluent Python client (confluent-kafka[avro]) as
//! the independent reader and writer; and its bad input.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use bigdecimal::BigDecimal;
use common::*;
use ferry_runtime::converters::Converter;
use ferry_runtime::converters::avro::AvroConverter;
use ferry_runtime::data::{Schema, SchemaBuilder, Struct, Value, logical};
use serde_json::{Value as J, json};

const AVRO: &str = "io.confluent.connect.avro.AvroConverter";

/// Held by each test: the e2e registry (Apicurio's in-memory store) fails concurrent
/// schema registrations, so these tests write to it one at a time.
static REGISTRY_WRITES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn registry_url() -> String {
    std::env::var("SCHEMA_REGISTRY_URL").expect(
        "SCHEMA_REGISTRY_URL is not set: run `e2e/services up kafka schema-registry && eval \"$(e2e/services env)\"` first (e2e/test does this)",
    )
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/confluent_avro.py")
}

/// Runs the Confluent Python client; its stdout lines.
fn confluent(args: &[&str]) -> Vec<String> {
    let python = std::env::var("CONFLUENT_PYTHON").expect(
        "CONFLUENT_PYTHON is not set: run `e2e/services up schema-registry && eval \"$(e2e/services env)\"`",
    );
    let out = Command::new(python)
        .arg(script())
        .args(args)
        .env("KAFKA_BOOTSTRAP_SERVERS", bootstrap())
        .env("SCHEMA_REGISTRY_URL", registry_url())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "confluent_avro.py {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn converter(extra: &[(&str, &str)]) -> AvroConverter {
    let mut cfg: std::collections::BTreeMap<String, String> =
        [("schema.registry.url".to_owned(), registry_url())].into();
    for (k, v) in extra {
        cfg.insert((*k).to_owned(), (*v).to_owned());
    }
    AvroConverter::new(&cfg, false).unwrap()
}

fn append(path: &Path, lines: &[&str]) {
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

fn connector_file(dir: &Path, name: &str, props: &[(&str, &str)]) -> PathBuf {
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

async fn registry(method: reqwest::Method, path: &str, body: Option<J>) -> (u16, J) {
    let mut req = reqwest::Client::new().request(method, format!("{}{path}", registry_url()));
    if let Some(b) = body {
        req = req
            .header("Content-Type", "application/vnd.schemaregistry.v1+json")
            .body(b.to_string());
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(J::Null))
}

/// The first task's status once it is FAILED.
async fn failed_task(worker: &Worker, name: &str) -> J {
    let path = format!("/connectors/{name}/status");
    wait_for(
        &format!("{name}'s task to fail"),
        Duration::from_secs(60),
        || async {
            let (code, s, _) = worker.call("GET", &path, None).await;
            (code == 200 && s["tasks"][0]["state"] == "FAILED").then(|| s["tasks"][0].clone())
        },
    )
    .await
}

/// A Ferry FileStreamSource with the AvroConverter writes; Confluent's AvroDeserializer
/// reads exactly the lines back, and the registry holds Confluent's schema for them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ferry_source_writes_what_confluent_reads() {
    let _serial = REGISTRY_WRITES.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let topic = unique("avro-src");
    let input = dir.path().join("in.txt");
    let sent = ["hello", "wörld \"quoted\" \\ {json}", "last line"];
    append(&input, &sent);
    let url = registry_url();
    let source = connector_file(
        dir.path(),
        &unique("avro-src"),
        &[
            ("connector.class", "FileStreamSource"),
            ("file", input.to_str().unwrap()),
            ("topic", &topic),
            ("value.converter", AVRO),
            ("value.converter.schema.registry.url", &url),
        ],
    );
    let port = free_port();
    let _worker = Worker::start(dir.path(), &worker_props(dir.path(), port), &[source]).await;
    let got = tokio::task::spawn_blocking({
        let topic = topic.clone();
        move || confluent(&["consume", &topic, "3"])
    })
    .await
    .unwrap();
    let got: Vec<J> = got
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let want: Vec<J> = sent.iter().map(|s| J::String((*s).into())).collect();
    assert_eq!(got, want);
    let (code, latest) = registry(
        reqwest::Method::GET,
        &format!("/subjects/{topic}-value/versions/latest"),
        None,
    )
    .await;
    assert_eq!(code, 200, "{latest}");
    assert_eq!(latest["schema"], "\"string\"");
}

fn all_types_schema() -> ferry_runtime::data::SchemaRef {
    SchemaBuilder::struct_()
        .name("com.example.Everything")
        .field("i8", SchemaBuilder::int8().build())
        .field("i16", SchemaBuilder::int16().build())
        .field("i32", SchemaBuilder::int32().build())
        .field("i64", SchemaBuilder::int64().build())
        .field("f32", SchemaBuilder::float32().build())
        .field("f64", SchemaBuilder::float64().build())
        .field("flag", SchemaBuilder::boolean().build())
        .field("text", Schema::optional_string())
        .field("missing", Schema::optional_string())
        .field("raw", Schema::bytes())
        .field("amount", logical::decimal(2).build())
        .field("day", logical::date().build())
        .field("at", logical::time().build())
        .field("ts", logical::timestamp().build())
        .field("tags", SchemaBuilder::array(Schema::string()).build())
        .field(
            "counts",
            SchemaBuilder::map(Schema::string(), SchemaBuilder::int64().build()).build(),
        )
        .field(
            "by_id",
            SchemaBuilder::map(SchemaBuilder::int32().build(), Schema::string()).build(),
        )
        .field(
            "inner",
            SchemaBuilder::struct_()
                .field("x", SchemaBuilder::int32().build())
                .optional()
                .build(),
        )
        .build()
}

/// Every Connect type written by Ferry's converter reads with Confluent's deserialiser,
/// with the exact values.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_connect_type_reads_in_confluents_client() {
    let _serial = REGISTRY_WRITES.lock().await;
    let topic = unique("avro-types");
    let schema = all_types_schema();
    let inner_schema = schema.field("inner").unwrap().schema.clone();
    let v = Struct::new(schema.clone())
        .with("i8", Value::Int8(-8))
        .with("i16", Value::Int16(1600))
        .with("i32", Value::Int32(-32))
        .with("i64", Value::Int64(1 << 40))
        .with("f32", Value::Float32(1.5))
        .with("f64", Value::Float64(-2.25))
        .with("flag", Value::Boolean(true))
        .with("text", "héllo".into())
        .with("raw", Value::Bytes(vec![0u8, 1, 255].into()))
        .with(
            "amount",
            Value::Decimal("-1234.50".parse::<BigDecimal>().unwrap()),
        )
        .with("day", Value::Date(19737))
        .with("at", Value::Time(3_723_004))
        .with("ts", Value::Timestamp(1_700_000_000_123))
        .with("tags", Value::Array(vec!["a".into(), "b".into()]))
        .with("counts", Value::Map(vec![("k".into(), Value::Int64(7))]))
        .with("by_id", Value::Map(vec![(Value::Int32(3), "three".into())]))
        .with(
            "inner",
            Value::Struct(Struct::new(inner_schema).with("x", Value::Int32(42))),
        );
    let conv = converter(&[]);
    let data = ferry_runtime::data::SchemaAndValue::new(Some(schema.clone()), Value::Struct(v));
    let bytes = conv
        .from_connect(&topic, &[], &data)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(bytes[0], 0, "magic byte");
    produce(&topic, &[&bytes]);
    let got = tokio::task::spawn_blocking({
        let topic = topic.clone();
        move || confluent(&["consume", &topic, "1"])
    })
    .await
    .unwrap();
    let got: J = serde_json::from_str(&got[0]).unwrap();
    assert_eq!(
        got,
        json!({
            "i8": -8, "i16": 1600, "i32": -32, "i64": 1_099_511_627_776_i64,
            "f32": 1.5, "f64": -2.25, "flag": true, "text": "héllo", "missing": null,
            "raw": {"bytes": "AAH/"},
            "amount": {"decimal": "-1234.50"},
            "day": {"date": "2024-01-15"},
            "at": {"time": "01:02:03.004000"},
            "ts": {"timestamp": "2023-11-14T22:13:20.123000+00:00"},
            "tags": ["a", "b"],
            "counts": {"k": 7},
            "by_id": [{"key": 3, "value": "three"}],
            "inner": {"x": 42}
        })
    );
    // The registered schema is the one Confluent's AvroData writes for it.
    let (_, latest) = registry(
        reqwest::Method::GET,
        &format!("/subjects/{topic}-value/versions/latest"),
        None,
    )
    .await;
    let registered: J = serde_json::from_str(latest["schema"].as_str().unwrap()).unwrap();
    assert_eq!(registered["name"], "Everything");
    assert_eq!(registered["namespace"], "com.example");
    assert_eq!(
        registered["fields"][10]["type"],
        json!({"type":"bytes","scale":2,"precision":64,"connect.version":1,
               "connect.parameters":{"scale":"2"},
               "connect.name":"org.apache.kafka.connect.data.Decimal","logicalType":"decimal"})
    );
    assert_eq!(
        registered["fields"][17],
        json!({"name":"inner","type":["null",{"type":"record","name":"ConnectDefault",
               "namespace":"io.confluent.connect.avro","fields":[{"name":"x","type":"int"}]}],
               "default":null})
    );
    // And Ferry reads its own bytes back to the same Connect value.
    let back = conv.to_connect(&topic, &[], Some(&bytes)).await.unwrap();
    assert_eq!(back.value, data.value);
}

const PAYMENT_LINES: [&str; 2] = [
    "Struct{id=1,name=alice,amount=12.34,day=Mon Jan 15 00:00:00 UTC 2024,ts=Tue Nov 14 22:13:20 UTC 2023,tags=[a, b],attrs={x=1},ok=true,ratio=0.5}",
    "Struct{id=2,amount=-0.05,day=Thu Jan 01 00:00:00 UTC 1970,ts=Thu Jan 01 00:00:00 UTC 1970,tags=[],attrs={},ok=false,ratio=1.0E-7}",
];

/// Confluent's AvroSerializer writes; a Ferry FileStreamSink with the AvroConverter writes
/// exactly the lines Kafka's FileStreamSink would, and the converter gives the exact values.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confluent_writes_what_ferry_reads() {
    let _serial = REGISTRY_WRITES.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let topic = unique("avro-py");
    tokio::task::spawn_blocking({
        let topic = topic.clone();
        move || confluent(&["produce", &topic])
    })
    .await
    .unwrap();

    let records = consume(&topic, 2, Duration::from_secs(30));
    assert_eq!(records.len(), 2);
    let conv = converter(&[]);
    let first = conv
        .to_connect(&topic, &[], records[0].1.as_deref())
        .await
        .unwrap();
    let schema = first.schema.clone().unwrap();
    assert_eq!(schema.name.as_deref(), Some("com.example.Payment"));
    let Value::Struct(s) = &first.value else {
        panic!("{first:?}");
    };
    assert_eq!(s.get("id"), Some(&Value::Int32(1)));
    assert_eq!(s.get("name"), Some(&Value::String("alice".into())));
    assert_eq!(
        s.get("amount"),
        Some(&Value::Decimal("12.34".parse().unwrap()))
    );
    assert_eq!(s.get("day"), Some(&Value::Date(19737)));
    assert_eq!(s.get("ts"), Some(&Value::Timestamp(1_700_000_000_123)));
    assert_eq!(
        s.get("attrs"),
        Some(&Value::Map(vec![("x".into(), Value::Int64(1))]))
    );
    assert_eq!(
        *schema.field("amount").unwrap().schema,
        *logical::decimal(2)
            .parameter("connect.decimal.precision", "10")
            .build()
    );

    let output = dir.path().join("out.txt");
    let url = registry_url();
    let sink = connector_file(
        dir.path(),
        &unique("avro-sink"),
        &[
            ("connector.class", "FileStreamSink"),
            ("file", output.to_str().unwrap()),
            ("topics", &topic),
            ("value.converter", AVRO),
            ("value.converter.schema.registry.url", &url),
        ],
    );
    let port = free_port();
    let _worker = Worker::start(dir.path(), &worker_props(dir.path(), port), &[sink]).await;
    let got = wait_for(
        "2 lines in the sink file",
        Duration::from_secs(60),
        || async {
            let l = lines(&output);
            (l.len() >= 2).then_some(l)
        },
    )
    .await;
    assert_eq!(got, PAYMENT_LINES);
}

/// Registry unreachable, a schema the registry refuses, a wrong magic byte and an unknown
/// schema id: each task fails with a message naming what was wrong and where.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_fails_the_task_with_a_clear_error() {
    let _serial = REGISTRY_WRITES.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    append(&input, &["one"]);
    let url = registry_url();

    // 1. Nothing listens on the registry URL.
    let dead = format!("http://127.0.0.1:{}", free_port());
    let t1 = unique("avro-dead");
    // 2. The subject holds a record schema and BACKWARD compatibility: a string is refused.
    let t2 = unique("avro-incompatible");
    let subject = format!("{t2}-value");
    let (code, body) = registry(
        reqwest::Method::POST,
        &format!("/subjects/{subject}/versions"),
        Some(json!({"schema": r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}"#})),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    let (code, body) = registry(
        reqwest::Method::PUT,
        &format!("/config/{subject}"),
        Some(json!({"compatibility": "BACKWARD"})),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    // 3. and 4. Records that are not Avro in Confluent's framing, or name no known schema.
    let t3 = unique("avro-magic");
    produce(&t3, &[b"{\"not\":\"avro\"}"]);
    let t4 = unique("avro-unknown-id");
    produce(&t4, &[&[0u8, 0x7f, 0, 0, 1, 2]]);

    let source = |name: &str, topic: &str, registry: &str| {
        connector_file(
            dir.path(),
            name,
            &[
                ("connector.class", "FileStreamSource"),
                ("file", input.to_str().unwrap()),
                ("topic", topic),
                ("value.converter", AVRO),
                ("value.converter.schema.registry.url", registry),
            ],
        )
    };
    let sink = |name: &str, topic: &str| {
        connector_file(
            dir.path(),
            name,
            &[
                ("connector.class", "FileStreamSink"),
                (
                    "file",
                    dir.path().join(format!("{name}.out")).to_str().unwrap(),
                ),
                ("topics", topic),
                ("value.converter", AVRO),
                ("value.converter.schema.registry.url", &url),
            ],
        )
    };
    // Unique names: a sink's consumer group is named after it, and a member an earlier run
    // left behind would hold up the join for a session timeout.
    let names = ["dead", "incompatible", "magic", "unknown-id"].map(unique);
    let files = [
        source(&names[0], &t1, &dead),
        source(&names[1], &t2, &url),
        sink(&names[2], &t3),
        sink(&names[3], &t4),
    ];
    let port = free_port();
    let worker = Worker::start(dir.path(), &worker_props(dir.path(), port), &files).await;

    let trace = failed_task(&worker, &names[0]).await["trace"]
        .as_str()
        .unwrap()
        .to_owned();
    eprintln!("{trace}");
    assert!(
        trace.contains(&format!("{dead}/subjects/{t1}-value/versions")),
        "{trace}"
    );
    assert!(
        trace.contains("could not reach the schema registry"),
        "{trace}"
    );

    let trace = failed_task(&worker, &names[1]).await["trace"]
        .as_str()
        .unwrap()
        .to_owned();
    eprintln!("{trace}");
    assert!(
        trace.contains(&format!("Failed to serialize Avro data from topic {t2}")),
        "{trace}"
    );
    // The registry's own words.
    assert!(
        trace.contains(&format!("Incompatible artifact: {subject} [AVRO]")),
        "{trace}"
    );

    let trace = failed_task(&worker, &names[2]).await["trace"]
        .as_str()
        .unwrap()
        .to_owned();
    eprintln!("{trace}");
    assert!(
        trace.contains(&format!("record at {t3}-0 offset 0")),
        "{trace}"
    );
    assert!(trace.contains("Unknown magic byte!"), "{trace}");

    let trace = failed_task(&worker, &names[3]).await["trace"]
        .as_str()
        .unwrap()
        .to_owned();
    eprintln!("{trace}");
    assert!(
        trace.contains(&format!("record at {t4}-0 offset 0")),
        "{trace}"
    );
    assert!(
        trace.contains(&format!(
            "Error retrieving Avro schema for id {}",
            0x7f00_0001
        )),
        "{trace}"
    );
    assert!(trace.contains("was found"), "{trace}");
}

/// basic.auth.* through an nginx with basic auth in front of the registry
/// (`e2e/services up schema-registry-auth`): user info from the setting or from the URL;
/// wrong or missing credentials fail with the URL and no secret in the message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_auth_through_a_proxy() {
    let _serial = REGISTRY_WRITES.lock().await;
    let url = std::env::var("SCHEMA_REGISTRY_AUTH_URL").expect(
        "SCHEMA_REGISTRY_AUTH_URL is not set: run `e2e/services up schema-registry-auth && eval \"$(e2e/services env)\"`",
    );
    let user_info = std::env::var("SCHEMA_REGISTRY_AUTH_USER_INFO").unwrap();
    let (user, password) = user_info.split_once(':').unwrap();
    let with = |pairs: &[(&str, &str)]| {
        let cfg: std::collections::BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        AvroConverter::new(&cfg, false).unwrap()
    };
    let data = ferry_runtime::data::SchemaAndValue::new(Some(Schema::string()), "v".into());
    let in_url = url.replacen("http://", &format!("http://{user}:{password}@"), 1);
    for conv in [
        with(&[
            ("schema.registry.url", &url),
            ("basic.auth.credentials.source", "USER_INFO"),
            ("basic.auth.user.info", &user_info),
        ]),
        with(&[("schema.registry.url", &in_url)]),
    ] {
        let topic = unique("avro-auth");
        let bytes = conv
            .from_connect(&topic, &[], &data)
            .await
            .unwrap()
            .unwrap();
        // a fresh converter fetches the schema by id through the proxy too
        let back = conv.to_connect(&topic, &[], Some(&bytes)).await.unwrap();
        assert_eq!(back.value, Value::String("v".into()));
    }
    for conv in [
        with(&[
            ("schema.registry.url", &url),
            ("basic.auth.credentials.source", "USER_INFO"),
            ("basic.auth.user.info", &format!("{user}:wrong-password")),
        ]),
        with(&[("schema.registry.url", &url)]),
    ] {
        let topic = unique("avro-auth");
        let e = conv
            .from_connect(&topic, &[], &data)
            .await
            .unwrap_err()
            .to_string();
        eprintln!("{e}");
        assert!(e.contains("Unauthorized"), "{e}");
        assert!(
            e.contains(&format!("{url}/subjects/{topic}-value/versions")),
            "{e}"
        );
        assert!(
            !e.contains("wrong-password") && !e.contains(password),
            "{e}"
        );
    }
}

/// `auto.register.schemas=false` looks the schema up (and fails, with the registry's words,
/// when it is not there), `use.latest.version` writes with the subject's latest id, and
/// RecordNameStrategy registers under the record's full name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_settings() {
    let _serial = REGISTRY_WRITES.lock().await;
    let topic = unique("avro-settings");
    let schema = SchemaBuilder::struct_()
        .name(format!("com.example.{}", topic.replace('-', "_")))
        .field("n", SchemaBuilder::int32().build())
        .build();
    let data = ferry_runtime::data::SchemaAndValue::new(
        Some(schema.clone()),
        Value::Struct(Struct::new(schema.clone()).with("n", Value::Int32(5))),
    );
    let id_of = |b: &[u8]| i32::from_be_bytes([b[1], b[2], b[3], b[4]]);

    let lookup_only = converter(&[("auto.register.schemas", "false")]);
    let e = lookup_only
        .from_connect(&topic, &[], &data)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("Error retrieving Avro schema {\"type\":\"record\""),
        "{e}"
    );
    assert!(e.contains(&format!("of subject {topic}-value")), "{e}");

    let registering = converter(&[]);
    let written = registering
        .from_connect(&topic, &[], &data)
        .await
        .unwrap()
        .unwrap();
    let looked_up = converter(&[("auto.register.schemas", "false")])
        .from_connect(&topic, &[], &data)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(looked_up, written);
    let latest = converter(&[
        ("auto.register.schemas", "false"),
        ("use.latest.version", "true"),
    ])
    .from_connect(&topic, &[], &data)
    .await
    .unwrap()
    .unwrap();
    assert_eq!(id_of(&latest), id_of(&written));
    assert_eq!(latest, written);

    let by_record = converter(&[(
        "value.subject.name.strategy",
        "io.confluent.kafka.serializers.subject.RecordNameStrategy",
    )]);
    by_record.from_connect(&topic, &[], &data).await.unwrap();
    let subject = schema.name.clone().unwrap();
    let (code, versions) = registry(
        reqwest::Method::GET,
        &format!("/subjects/{subject}/versions"),
        None,
    )
    .await;
    assert_eq!((code, versions), (200, json!([1])));

    let by_topic_and_record = converter(&[(
        "value.subject.name.strategy",
        "io.confluent.kafka.serializers.subject.TopicRecordNameStrategy",
    )]);
    by_topic_and_record
        .from_connect(&topic, &[], &data)
        .await
        .unwrap();
    let (code, versions) = registry(
        reqwest::Method::GET,
        &format!("/subjects/{topic}-{subject}/versions"),
        None,
    )
    .await;
    assert_eq!((code, versions), (200, json!([1])));

    // A list of URLs whose first answers nothing: the next one serves the request.
    let dead = format!("http://127.0.0.1:{}", free_port());
    let failing_over = converter(&[("schema.registry.url", &format!("{dead},{}", registry_url()))]);
    let written_again = failing_over
        .from_connect(&topic, &[], &data)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(written_again, written);
}
