//! The transform chain's own cost per record: the source records of the FileStream pipeline
//! (a line with Kafka's STRING schema) through the three-transform chains of
//! `e2e/bench/transforms.py`, then JsonConverter (`schemas.enable=false`), against the
//! converter alone. Each variant starts from a fresh copy of the record, as a source task's
//! poll hands one over. Built with the `ferry` binary's allocator. No services needed.
//!
//! ```text
//! cargo bench -p ferry-runtime --bench transforms
//! ONLY=growing perf record cargo bench -p ferry-runtime --bench transforms   # one chain, to profile
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use ferry_runtime::config::Props;
use ferry_runtime::converters::{Converter, JsonConverter};
use ferry_runtime::data::{ConnectRecord, SchemaAndValue, SchemaBuilder, SourceRecord, Value};
use ferry_runtime::plugins::Registry;
use ferry_runtime::transforms::{Applied, TransformChain};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const RECORDS: usize = 2_000_000;

const GROWING: &[(&str, &str)] = &[
    ("transforms", "hoist,insert,route"),
    (
        "transforms.hoist.type",
        "org.apache.kafka.connect.transforms.HoistField$Value",
    ),
    ("transforms.hoist.field", "line"),
    (
        "transforms.insert.type",
        "org.apache.kafka.connect.transforms.InsertField$Value",
    ),
    ("transforms.insert.static.field", "origin"),
    ("transforms.insert.static.value", "ferry"),
    (
        "transforms.route.type",
        "org.apache.kafka.connect.transforms.RegexRouter",
    ),
    ("transforms.route.regex", "(.*)-in"),
    ("transforms.route.replacement", "$1-out"),
];

const SAME_SIZE: &[(&str, &str)] = &[
    ("transforms", "hoist,extract,route"),
    (
        "transforms.hoist.type",
        "org.apache.kafka.connect.transforms.HoistField$Value",
    ),
    ("transforms.hoist.field", "line"),
    (
        "transforms.extract.type",
        "org.apache.kafka.connect.transforms.ExtractField$Value",
    ),
    ("transforms.extract.field", "line"),
    (
        "transforms.route.type",
        "org.apache.kafka.connect.transforms.RegexRouter",
    ),
    ("transforms.route.regex", "(.*)-in"),
    ("transforms.route.replacement", "$1-out"),
];

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let registry = Registry::builtin();
    let schema = SchemaBuilder::string().build();
    let records: Vec<SourceRecord> = (0..1000)
        .map(|i| SourceRecord {
            record: ConnectRecord {
                topic: "bench-in".to_owned(),
                value: SchemaAndValue::new(
                    Some(schema.clone()),
                    Value::String(format!("line {i:08} of the transforms benchmark, padded")),
                ),
                ..Default::default()
            },
            ..Default::default()
        })
        .collect();
    let cfg = [("schemas.enable".to_owned(), "false".to_owned())]
        .into_iter()
        .collect();
    let conv = JsonConverter::new(&cfg, false).unwrap();
    let mut base = None;
    for (name, chain) in [
        ("none", &[][..]),
        ("growing", GROWING),
        ("same-size", SAME_SIZE),
    ] {
        if std::env::var("ONLY").is_ok_and(|o| o != name) {
            continue;
        }
        let props: Props = chain
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let mut chain = TransformChain::from_config(&registry, &props).unwrap();
        rt.block_on(async {
            // Best of five, as the e2e benchmark reports.
            let mut best = f64::MAX;
            let mut bytes = 0;
            for _ in 0..5 {
                let start = Instant::now();
                let mut total = 0usize;
                for i in 0..RECORDS {
                    let mut r = records[i % records.len()].clone();
                    assert_eq!(chain.apply(&mut r).unwrap(), Applied::Kept);
                    let b = conv
                        .from_connect(&r.record.topic, &[], &r.record.value)
                        .await
                        .unwrap()
                        .unwrap();
                    total += b.len();
                }
                best = best.min(start.elapsed().as_secs_f64() * 1e9 / RECORDS as f64);
                bytes = total / RECORDS;
            }
            let base_ns = *base.get_or_insert(best);
            println!(
                "chain {name:>9}: {best:6.1} ns/record ({:+6.1} ns, {:+5.1}%), {bytes} bytes/record",
                best - base_ns,
                (best / base_ns - 1.0) * 100.0
            );
        });
    }
}
