//! Single message transforms and predicates in a real pipeline: FileStream source →
//! broker → FileStream sink in a standalone worker, with transform chains on both sides;
//! a failing transform; and the REST plugin listing and validation of transform configs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use common::*;
use serde_json::{Value, json};

fn append(path: &Path, lines: &[String]) {
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

async fn create(worker: &Worker, name: &str, config: Value) {
    let (code, body, _) = worker
        .call(
            "POST",
            "/connectors",
            Some(json!({"name": name, "config": config})),
        )
        .await;
    assert_eq!(code, 201, "{body}");
}

/// Source chain HoistField + InsertField + RegexRouter; sink chain Filter behind a
/// TopicNameMatches predicate and ExtractField behind the same predicate negated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chains_on_source_and_sink_deliver_exactly_the_transformed_records() {
    let dir = tempfile::tempdir().unwrap();
    let base = unique("smt");
    let (raw, keep, drop) = (
        format!("{base}-keep-raw"),
        format!("{base}-keep"),
        format!("{base}-drop"),
    );
    // A unique name: its consumer group must not wait for members of earlier runs.
    let sink = unique("smt-sink");
    let keep_in = dir.path().join("keep.txt");
    let drop_in = dir.path().join("drop.txt");
    let output = dir.path().join("out.txt");
    let kept: Vec<String> = (0..200).map(|i| format!("kept {i}")).collect();
    let dropped: Vec<String> = (0..50).map(|i| format!("dropped {i}")).collect();
    append(&keep_in, &kept);
    append(&drop_in, &dropped);

    let worker = Worker::start(dir.path(), &worker_props(dir.path(), free_port()), &[]).await;
    create(
        &worker,
        "keep-src",
        json!({
            "connector.class": "FileStreamSource",
            "file": keep_in.to_str().unwrap(),
            "topic": raw,
            "transforms": "hoist,insert,route",
            "transforms.hoist.type": "org.apache.kafka.connect.transforms.HoistField$Value",
            "transforms.hoist.field": "line",
            "transforms.insert.type": "org.apache.kafka.connect.transforms.InsertField$Value",
            "transforms.insert.static.field": "origin",
            "transforms.insert.static.value": "ferry",
            "transforms.insert.topic.field": "from",
            "transforms.route.type": "RegexRouter",
            "transforms.route.regex": "(.*)-raw",
            "transforms.route.replacement": "$1",
        }),
    )
    .await;
    create(
        &worker,
        "drop-src",
        json!({"connector.class": "FileStreamSource", "file": drop_in.to_str().unwrap(), "topic": drop}),
    )
    .await;
    // The routed topic holds each line hoisted into a map with the inserted fields.
    let records = consume(&keep, 200, Duration::from_secs(60));
    assert_eq!(records.len(), 200);
    for (record, line) in records.iter().zip(&kept) {
        assert_eq!(record.0, None);
        let value: Value = serde_json::from_slice(record.1.as_deref().unwrap()).unwrap();
        assert_eq!(value, json!({"line": line, "origin": "ferry", "from": raw}));
    }
    // The other source's topic is untouched.
    let plain = consume(&drop, 50, Duration::from_secs(60));
    assert_eq!(plain.len(), 50);
    assert_eq!(plain[0].1.as_deref(), Some(&b"\"dropped 0\""[..]));

    // The sink starts once both topics exist (librdkafka notices a topic created after it
    // subscribed only at its next metadata refresh).
    create(
        &worker,
        &sink,
        json!({
            "connector.class": "FileStreamSink",
            "file": output.to_str().unwrap(),
            "topics": format!("{keep},{drop}"),
            "transforms": "dropit,extract",
            "transforms.dropit.type": "Filter",
            "transforms.dropit.predicate": "isdrop",
            "transforms.extract.type": "org.apache.kafka.connect.transforms.ExtractField$Value",
            "transforms.extract.field": "line",
            "transforms.extract.predicate": "isdrop",
            "transforms.extract.negate": "true",
            "predicates": "isdrop",
            "predicates.isdrop.type": "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
            "predicates.isdrop.pattern": ".*-drop",
        }),
    )
    .await;

    // The sink file holds the extracted lines of the kept topic only, in order.
    let got = wait_for(
        "200 lines in the sink file",
        Duration::from_secs(60),
        || async {
            let status = worker.get(&format!("/connectors/{sink}/status")).await;
            assert_ne!(status["tasks"][0]["state"], "FAILED", "{status}");
            let l = lines(&output);
            (l.len() >= 200).then_some(l)
        },
    )
    .await;
    assert_eq!(got, kept);
    // Filtered records' offsets are committed too.
    wait_for(
        "both topics' sink offsets",
        Duration::from_secs(30),
        || async {
            let body = worker.get(&format!("/connectors/{sink}/offsets")).await;
            let mut offsets: Vec<(String, i64)> = body["offsets"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| {
                    (
                        o["partition"]["kafka_topic"].as_str().unwrap().to_owned(),
                        o["offset"]["kafka_offset"].as_i64().unwrap(),
                    )
                })
                .collect();
            offsets.sort();
            (offsets == vec![(drop.clone(), 50), (keep.clone(), 200)]).then_some(())
        },
    )
    .await;
    // Nothing else arrived.
    assert_eq!(lines(&output), kept);

    // A source whose every record is filtered writes nothing, yet its offset moves on.
    let filtered = format!("{base}-filtered");
    create(
        &worker,
        "all-filtered",
        json!({
            "connector.class": "FileStreamSource",
            "file": drop_in.to_str().unwrap(),
            "topic": filtered,
            "transforms": "none",
            "transforms.none.type": "org.apache.kafka.connect.transforms.Filter",
        }),
    )
    .await;
    let end = std::fs::metadata(&drop_in).unwrap().len();
    wait_for("the filtered source's offset", Duration::from_secs(30), || async {
        let body = worker.get("/connectors/all-filtered/offsets").await;
        (body == json!({"offsets": [{"partition": {"filename": drop_in.to_str().unwrap()}, "offset": {"position": end}}]}))
            .then_some(())
    })
    .await;
    assert!(consume(&filtered, 1, Duration::from_secs(2)).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_transform_fails_the_task_naming_alias_class_and_record() {
    let dir = tempfile::tempdir().unwrap();
    let topic = unique("smt-fail");
    let (failing, nothing) = (unique("extract-fails"), unique("insert-nothing"));
    produce(&topic, &[b"\"a string, not a map\""]);
    let worker = Worker::start(dir.path(), &worker_props(dir.path(), free_port()), &[]).await;
    create(
        &worker,
        &failing,
        json!({
            "connector.class": "FileStreamSink",
            "file": dir.path().join("out.txt").to_str().unwrap(),
            "topics": topic,
            "transforms": "pick",
            "transforms.pick.type": "org.apache.kafka.connect.transforms.ExtractField$Value",
            "transforms.pick.field": "id",
        }),
    )
    .await;
    let status = wait_for("the sink task to fail", Duration::from_secs(30), || async {
        let s = worker.get(&format!("/connectors/{failing}/status")).await;
        (s["tasks"][0]["state"] == "FAILED").then_some(s)
    })
    .await;
    let trace = status["tasks"][0]["trace"].as_str().unwrap();
    assert_eq!(
        trace,
        format!(
            "org.apache.kafka.connect.errors.ConnectException: Tolerance exceeded in error handler\n\
             Caused by: org.apache.kafka.connect.errors.DataException: transformation 'pick' \
             (org.apache.kafka.connect.transforms.ExtractField$Value) failed on the record from \
             topic {topic} partition 0 offset 0: Only Map objects supported in absence of schema \
             for [field extraction], found: java.lang.String"
        )
    );

    // A configuration only the transform itself can reject fails the task at start.
    create(
        &worker,
        &nothing,
        json!({
            "connector.class": "FileStreamSink",
            "file": dir.path().join("out2.txt").to_str().unwrap(),
            "topics": topic,
            "transforms": "ins",
            "transforms.ins.type": "org.apache.kafka.connect.transforms.InsertField$Value",
        }),
    )
    .await;
    let status = wait_for("the task to fail", Duration::from_secs(30), || async {
        let s = worker.get(&format!("/connectors/{nothing}/status")).await;
        (s["tasks"][0]["state"] == "FAILED").then_some(s)
    })
    .await;
    assert_eq!(
        status["tasks"][0]["trace"],
        "org.apache.kafka.common.config.ConfigException: Could not configure transformation \
         'ins' (org.apache.kafka.connect.transforms.InsertField$Value): No field insertion configured"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugins_list_config_and_validate_transforms_as_kafka_connect() {
    let dir = tempfile::tempdir().unwrap();
    let worker = Worker::start(dir.path(), &worker_props(dir.path(), free_port()), &[]).await;

    // Every transformation and predicate Kafka Connect 4.3.1 lists, in its order.
    let all = worker.get("/connector-plugins?connectorsOnly=false").await;
    let kafka: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../e2e/reference/get_connector_plugins_all.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let of = |list: &Value| -> Vec<Value> {
        list.as_array()
            .unwrap()
            .iter()
            .filter(|p| p["type"] == "transformation" || p["type"] == "predicate")
            .cloned()
            .collect()
    };
    assert_eq!(of(&all), of(&kafka["body"]));
    assert_eq!(of(&all).len(), 29);
    // Connectors first, then transformations, predicates, converters.
    let types: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["type"].as_str().unwrap())
        .collect();
    let first = |t: &str| types.iter().position(|x| *x == t).unwrap();
    assert!(
        first("transformation") > first("sink") && first("predicate") > first("transformation")
    );
    assert!(first("converter") > first("predicate"));

    // A transform's own keys.
    let keys = worker
        .get("/connector-plugins/org.apache.kafka.connect.transforms.HoistField$Value/config")
        .await;
    assert_eq!(
        keys,
        json!([{
            "name": "field", "type": "STRING", "required": true, "default_value": null,
            "importance": "MEDIUM",
            "documentation": "Field name for the single field that will be created in the resulting Struct or Map.",
            "group": null, "width": "NONE", "display_name": "field", "dependents": [],
            "order_in_group": -1
        }])
    );
    let keys = worker
        .get("/connector-plugins/TopicNameMatches/config")
        .await;
    assert_eq!(keys[0]["name"], "pattern");

    // Validation adds the transform's keys under "Transforms: NAME" and reports their errors.
    let (code, body, _) = worker
        .call(
            "PUT",
            "/connector-plugins/FileStreamSink/config/validate",
            Some(json!({
                "connector.class": "FileStreamSink",
                "name": "v",
                "topics": "t",
                "transforms": "h,bad,neg",
                "transforms.h.type": "org.apache.kafka.connect.transforms.HoistField$Value",
                "transforms.bad.type": "com.example.Nope",
                "transforms.neg.type": "Filter",
                "transforms.neg.negate": "true",
                "predicates": "p",
                "predicates.p.type": "org.apache.kafka.connect.transforms.predicates.HasHeaderKey",
            })),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    let groups: Vec<&str> = body["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g.as_str().unwrap())
        .collect();
    assert_eq!(
        &groups[groups.len() - 4..],
        [
            "Transforms: h",
            "Transforms: bad",
            "Transforms: neg",
            "Predicates: p"
        ]
    );
    let errors: Vec<(String, Vec<Value>)> = body["configs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| !c["value"]["errors"].as_array().unwrap().is_empty())
        .map(|c| {
            (
                c["value"]["name"].as_str().unwrap().to_owned(),
                c["value"]["errors"].as_array().unwrap().clone(),
            )
        })
        .collect();
    assert_eq!(
        errors,
        vec![
            (
                "transforms.h.field".to_owned(),
                vec![json!(
                    "Missing required configuration \"transforms.h.field\" which has no default value."
                )]
            ),
            (
                "transforms.bad.type".to_owned(),
                vec![json!(
                    "Invalid value com.example.Nope for configuration transforms.bad.type: Class com.example.Nope could not be found."
                )]
            ),
            (
                "transforms.neg.type".to_owned(),
                vec![json!(
                    "Config 'transforms.neg.negate' was provided but there is no config 'transforms.neg.predicate' defining a predicate to be negated."
                )]
            ),
            (
                "predicates.p.name".to_owned(),
                vec![json!(
                    "Missing required configuration \"predicates.p.name\" which has no default value."
                )]
            ),
        ]
    );
    assert_eq!(body["error_count"], 4);
    let h: Vec<(&str, &str, i64)> = body["configs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["definition"]["group"] == "Transforms: h")
        .map(|c| {
            (
                c["definition"]["name"].as_str().unwrap(),
                c["definition"]["type"].as_str().unwrap(),
                c["definition"]["order_in_group"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        h,
        vec![
            ("transforms.h.type", "CLASS", 0),
            ("transforms.h.field", "STRING", 1),
            ("transforms.h.negate", "BOOLEAN", 2),
            ("transforms.h.predicate", "STRING", 3),
        ]
    );

    // Creating a connector with a bad transform config is refused, naming the key.
    let (code, body, _) = worker
        .call(
            "POST",
            "/connectors",
            Some(json!({"name": "bad", "config": {
                "connector.class": "FileStreamSink", "topics": "t",
                "transforms": "h",
                "transforms.h.type": "org.apache.kafka.connect.transforms.HoistField$Value",
            }})),
        )
        .await;
    assert_eq!(code, 400, "{body}");
    let msg = body["message"].as_str().unwrap();
    assert!(msg.contains("transforms.h.field"), "{msg}");
}
