//! AvroConverter throughput: Connect struct → Confluent-framed Avro bytes and back, against
//! the registry of `e2e/services up schema-registry` (schemas are cached after the first
//! record, so this measures the converter, not the registry).
//!
//! ```text
//! e2e/services up schema-registry && eval "$(e2e/services env)"
//! cargo bench -p ferry-runtime --bench avro
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use ferry_runtime::converters::Converter;
use ferry_runtime::converters::avro::AvroConverter;
use ferry_runtime::data::{Schema, SchemaAndValue, SchemaBuilder, Struct, Value, logical};

const RECORDS: usize = 200_000;

fn main() {
    let url = std::env::var("SCHEMA_REGISTRY_URL")
        .expect("SCHEMA_REGISTRY_URL is not set: e2e/services up schema-registry && eval \"$(e2e/services env)\"");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // The seed's row shape plus a few more columns, as the JDBC source gives them.
    let schema = SchemaBuilder::struct_()
        .name("sample_data")
        .field("id", SchemaBuilder::int32().build())
        .field("name", Schema::optional_string())
        .field("email", Schema::optional_string())
        .field("amount", logical::decimal(2).optional().build())
        .field("created", logical::timestamp().optional().build())
        .field("update_ts", logical::timestamp().build())
        .field("active", SchemaBuilder::boolean().build())
        .field("score", SchemaBuilder::float64().optional().build())
        .build();
    let values: Vec<SchemaAndValue> = (0..1000)
        .map(|i| {
            let s = Struct::new(schema.clone())
                .with("id", Value::Int32(i))
                .with("name", Value::String(format!("name {i}")))
                .with("email", Value::String(format!("user{i}@example.com")))
                .with(
                    "amount",
                    Value::Decimal(bigdecimal::BigDecimal::new(i64::from(i * 137).into(), 2)),
                )
                .with(
                    "created",
                    Value::Timestamp(1_700_000_000_000 + i64::from(i)),
                )
                .with(
                    "update_ts",
                    Value::Timestamp(1_700_000_000_000 + i64::from(i)),
                )
                .with("active", Value::Boolean(i % 2 == 0))
                .with("score", Value::Float64(f64::from(i) / 7.0));
            SchemaAndValue::new(Some(schema.clone()), Value::Struct(s))
        })
        .collect();
    let cfg = [("schema.registry.url".to_owned(), url)]
        .into_iter()
        .collect();
    let conv = AvroConverter::new(&cfg, false).unwrap();
    let topic = format!("bench-avro-{}", std::process::id());
    rt.block_on(async {
        // warm the caches (registers the schema once)
        let first = conv
            .from_connect(&topic, &[], &values[0])
            .await
            .unwrap()
            .unwrap();
        conv.to_connect(&topic, &[], Some(&first)).await.unwrap();

        let start = Instant::now();
        let mut bytes = Vec::with_capacity(1000);
        let mut total = 0usize;
        for i in 0..RECORDS {
            let b = conv
                .from_connect(&topic, &[], &values[i % 1000])
                .await
                .unwrap()
                .unwrap();
            total += b.len();
            if bytes.len() < 1000 {
                bytes.push(b);
            }
        }
        let ser = start.elapsed();
        let start = Instant::now();
        for i in 0..RECORDS {
            conv.to_connect(&topic, &[], Some(&bytes[i % 1000]))
                .await
                .unwrap();
        }
        let de = start.elapsed();
        println!(
            "avro serialize:   {RECORDS} records in {:.2} s = {:.0} records/s ({} bytes/record)",
            ser.as_secs_f64(),
            RECORDS as f64 / ser.as_secs_f64(),
            total / RECORDS
        );
        println!(
            "avro deserialize: {RECORDS} records in {:.2} s = {:.0} records/s",
            de.as_secs_f64(),
            RECORDS as f64 / de.as_secs_f64()
        );
    });
}
