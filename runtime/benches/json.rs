//! JsonConverter throughput: a Connect struct of ten mixed columns (the row of the JDBC
//! bulk benchmark) to JSON bytes, with `schemas.enable=true` (Kafka's default: the schema
//! is written into every record) and `false`. No services needed.
//!
//! ```text
//! cargo bench -p ferry-runtime --bench json
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use ferry_runtime::converters::{Converter, JsonConverter};
use ferry_runtime::data::{Schema, SchemaAndValue, SchemaBuilder, Struct, Value, logical};

const RECORDS: usize = 500_000;

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let schema = SchemaBuilder::struct_()
        .name("bulk_1000000")
        .field("id", SchemaBuilder::int64().build())
        .field("i", SchemaBuilder::int32().build())
        .field("b", SchemaBuilder::int64().build())
        .field("d", SchemaBuilder::float64().build())
        .field("amount", logical::decimal(2).build())
        .field("s", SchemaBuilder::string().build())
        .field("note", Schema::optional_string())
        .field("created", logical::timestamp().build())
        .field("day", logical::date().build())
        .field("flag", SchemaBuilder::boolean().build())
        .build();
    let values: Vec<SchemaAndValue> = (0..1000i64)
        .map(|i| {
            let s = Struct::new(schema.clone())
                .with("id", Value::Int64(i))
                .with("i", Value::Int32(i32::try_from(i % 100_000).unwrap()))
                .with("b", Value::Int64(i * 7919))
                .with("d", Value::Float64(i as f64 / 7.0))
                .with(
                    "amount",
                    Value::Decimal(bigdecimal::BigDecimal::new((i * 137).into(), 2)),
                )
                .with("s", Value::String(format!("name-{i}")))
                .with(
                    "note",
                    if i % 3 == 0 {
                        Value::Null
                    } else {
                        Value::String(format!("note about row {i}"))
                    },
                )
                .with("created", Value::Timestamp(1_767_225_600_000 + i * 1000))
                .with(
                    "day",
                    Value::Date(i32::try_from(10_957 + i % 9000).unwrap()),
                )
                .with("flag", Value::Boolean(i % 2 == 0));
            SchemaAndValue::new(Some(schema.clone()), Value::Struct(s))
        })
        .collect();
    for schemas in ["true", "false"] {
        let cfg = [("schemas.enable".to_owned(), schemas.to_owned())]
            .into_iter()
            .collect();
        let conv = JsonConverter::new(&cfg, false).unwrap();
        rt.block_on(async {
            let start = Instant::now();
            let mut total = 0usize;
            for i in 0..RECORDS {
                let b = conv
                    .from_connect("bench", &[], &values[i % values.len()])
                    .await
                    .unwrap()
                    .unwrap();
                total += b.len();
            }
            let secs = start.elapsed().as_secs_f64();
            println!(
                "JsonConverter schemas.enable={schemas}: {:.0} records/s, {:.0} ns/record, {} bytes/record",
                RECORDS as f64 / secs,
                secs * 1e9 / RECORDS as f64,
                total / RECORDS
            );
        });
    }
}
