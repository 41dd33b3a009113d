//! Golden schemas as Confluent's AvroData writes them, and value round trips through
//! the Avro binary encoding.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use bigdecimal::BigDecimal;

use super::data::{Names, from_avro, to_avro};
use super::schema::{from_connect, to_connect};
use crate::data::{Schema, SchemaBuilder, SchemaRef, Struct, Value, logical};

fn avro_json(s: &SchemaRef) -> String {
    from_connect(s, true).unwrap().to_string()
}

#[test]
fn primitive_and_logical_schemas_as_confluent_writes_them() {
    let cases: Vec<(SchemaRef, &str)> = vec![
        (
            SchemaBuilder::int8().build(),
            r#"{"type":"int","connect.type":"int8"}"#,
        ),
        (
            SchemaBuilder::int16().build(),
            r#"{"type":"int","connect.type":"int16"}"#,
        ),
        (SchemaBuilder::int32().build(), r#""int""#),
        (SchemaBuilder::int64().build(), r#""long""#),
        (SchemaBuilder::float32().build(), r#""float""#),
        (SchemaBuilder::float64().build(), r#""double""#),
        (SchemaBuilder::boolean().build(), r#""boolean""#),
        (SchemaBuilder::string().build(), r#""string""#),
        (SchemaBuilder::bytes().build(), r#""bytes""#),
        (Schema::optional_string(), r#"["null","string"]"#),
        (
            SchemaBuilder::int16().optional().build(),
            r#"["null",{"type":"int","connect.type":"int16"}]"#,
        ),
        (
            logical::decimal(2).build(),
            r#"{"type":"bytes","scale":2,"precision":64,"connect.version":1,"connect.parameters":{"scale":"2"},"connect.name":"org.apache.kafka.connect.data.Decimal","logicalType":"decimal"}"#,
        ),
        (
            logical::decimal(2)
                .parameter("connect.decimal.precision", "10")
                .build(),
            r#"{"type":"bytes","scale":2,"precision":10,"connect.version":1,"connect.parameters":{"scale":"2","connect.decimal.precision":"10"},"connect.name":"org.apache.kafka.connect.data.Decimal","logicalType":"decimal"}"#,
        ),
        (
            logical::date().build(),
            r#"{"type":"int","connect.version":1,"connect.name":"org.apache.kafka.connect.data.Date","logicalType":"date"}"#,
        ),
        (
            logical::time().build(),
            r#"{"type":"int","connect.version":1,"connect.name":"org.apache.kafka.connect.data.Time","logicalType":"time-millis"}"#,
        ),
        (
            logical::timestamp().optional().build(),
            r#"["null",{"type":"long","connect.version":1,"connect.name":"org.apache.kafka.connect.data.Timestamp","logicalType":"timestamp-millis"}]"#,
        ),
        (
            SchemaBuilder::array(Schema::string()).build(),
            r#"{"type":"array","items":"string"}"#,
        ),
        (
            SchemaBuilder::map(Schema::string(), SchemaBuilder::int32().build()).build(),
            r#"{"type":"map","values":"int"}"#,
        ),
        (
            SchemaBuilder::map(SchemaBuilder::int32().build(), Schema::string()).build(),
            r#"{"type":"array","items":{"type":"record","name":"MapEntry","namespace":"io.confluent.connect.avro","fields":[{"name":"key","type":"int"},{"name":"value","type":"string"}]}}"#,
        ),
        (
            SchemaBuilder::string()
                .doc("d")
                .version(3)
                .name("x.Y")
                .parameter("p", "q")
                .build(),
            r#"{"type":"string","connect.doc":"d","connect.version":3,"connect.parameters":{"p":"q"},"connect.name":"x.Y"}"#,
        ),
    ];
    for (schema, want) in cases {
        assert_eq!(avro_json(&schema), want, "{schema:?}");
    }
}

fn sample_struct() -> SchemaRef {
    SchemaBuilder::struct_()
        .name("sample_data")
        .field("id", SchemaBuilder::int32().build())
        .field("name", Schema::optional_string())
        .field("update_ts", logical::timestamp().build())
        .field(
            "score",
            SchemaBuilder::int64()
                .optional()
                .default_value(Value::Int64(5))
                .build(),
        )
        .build()
}

#[test]
fn struct_schemas_with_optional_fields_and_defaults() {
    assert_eq!(
        avro_json(&sample_struct()),
        r#"{"type":"record","name":"sample_data","fields":[{"name":"id","type":"int"},{"name":"name","type":["null","string"],"default":null},{"name":"update_ts","type":{"type":"long","connect.version":1,"connect.name":"org.apache.kafka.connect.data.Timestamp","logicalType":"timestamp-millis"}},{"name":"score","type":[{"type":"long","connect.default":5},"null"],"default":5}],"connect.name":"sample_data"}"#
    );
    // Unnamed structs: ConnectDefault; a nested one in the same namespace is written
    // without one, a second distinct one gets ConnectDefault2, an equal one a reference.
    let inner = SchemaBuilder::struct_()
        .field("a", Schema::string())
        .build();
    let other = SchemaBuilder::struct_()
        .field("b", Schema::string())
        .build();
    let outer = SchemaBuilder::struct_()
        .field("x", inner.clone())
        .field("y", inner)
        .field("z", other)
        .build();
    assert_eq!(
        avro_json(&outer),
        r#"{"type":"record","name":"ConnectDefault","namespace":"io.confluent.connect.avro","fields":[{"name":"x","type":{"type":"record","name":"ConnectDefault2","fields":[{"name":"a","type":"string"}]}},{"name":"y","type":"ConnectDefault2"},{"name":"z","type":{"type":"record","name":"ConnectDefault3","fields":[{"name":"b","type":"string"}]}}]}"#
    );
    // every generated schema parses as Avro
    apache_avro::Schema::parse_str(&avro_json(&outer)).unwrap();
}

#[test]
fn avro_schemas_read_back_as_connect_schemas() {
    let s = sample_struct();
    let json = from_connect(&s, true).unwrap();
    let back = to_connect(&json, true).unwrap();
    assert_eq!(back.name.as_deref(), Some("sample_data"));
    assert_eq!(back.fields.len(), 4);
    assert_eq!(*back.fields[0].schema, *SchemaBuilder::int32().build());
    // Optional fields come back optional, without the field-default flag (a union's
    // field default is not passed on, as in AvroData).
    assert_eq!(*back.fields[1].schema, *Schema::optional_string());
    assert_eq!(*back.fields[2].schema, *logical::timestamp().build());
    assert_eq!(back.fields[3].schema.default, Some(Value::Int64(5)));
    // A field default on a plain type is flagged as coming from Avro.
    let with_default: serde_json::Value = serde_json::from_str(
        r#"{"type":"record","name":"R","fields":[{"name":"n","type":"int","default":7}]}"#,
    )
    .unwrap();
    let r = to_connect(&with_default, true).unwrap();
    assert_eq!(r.fields[0].schema.default, Some(Value::Int32(7)));
    assert_eq!(
        r.fields[0]
            .schema
            .parameters
            .as_ref()
            .and_then(|p| p.get("io.confluent.connect.avro.field.default"))
            .map(String::as_str),
        Some("true")
    );
    for s in [
        SchemaBuilder::int8().build(),
        SchemaBuilder::int16().optional().build(),
        logical::decimal(3).build(),
        logical::date().build(),
        logical::time().build(),
        SchemaBuilder::map(SchemaBuilder::int32().build(), Schema::string()).build(),
    ] {
        let back = to_connect(&from_connect(&s, true).unwrap(), true).unwrap();
        assert_eq!(back.ty, s.ty, "{s:?}");
        assert_eq!(back.name, s.name, "{s:?}");
        assert_eq!(back.optional, s.optional, "{s:?}");
    }
    // A schema written by another client: unnamed types keep no name, ConnectDefault none.
    let plain: serde_json::Value = serde_json::from_str(
        r#"{"type":"record","name":"ConnectDefault","namespace":"io.confluent.connect.avro","fields":[{"name":"n","type":{"type":"int","connect.type":"int16"}}]}"#,
    )
    .unwrap();
    let c = to_connect(&plain, true).unwrap();
    assert_eq!(c.name, None);
    assert_eq!(*c.fields[0].schema, *SchemaBuilder::int16().build());
}

fn round_trip(schema: &SchemaRef, value: Value) -> Value {
    let text = from_connect(schema, true).unwrap().to_string();
    let avro = apache_avro::Schema::parse_str(&text).unwrap();
    let names = Names::of(&avro);
    let av = to_avro(schema, &value, &avro, &names, "$").unwrap();
    let bytes = apache_avro::to_avro_datum(&avro, av).unwrap();
    let read = apache_avro::from_avro_datum(&avro, &mut bytes.as_slice(), None).unwrap();
    let connect = to_connect(&serde_json::from_str(&text).unwrap(), true).unwrap();
    from_avro(&connect, read, "$").unwrap()
}

#[test]
fn values_round_trip_through_avro_binary() {
    let s = SchemaBuilder::struct_()
        .name("com.example.All")
        .field("i8", SchemaBuilder::int8().build())
        .field("i16", SchemaBuilder::int16().build())
        .field("i32", SchemaBuilder::int32().build())
        .field("i64", SchemaBuilder::int64().build())
        .field("f32", SchemaBuilder::float32().build())
        .field("f64", SchemaBuilder::float64().build())
        .field("b", SchemaBuilder::boolean().build())
        .field("s", Schema::optional_string())
        .field("bytes", Schema::bytes())
        .field("dec", logical::decimal(2).build())
        .field("date", logical::date().build())
        .field("time", logical::time().build())
        .field("ts", logical::timestamp().optional().build())
        .field("arr", SchemaBuilder::array(Schema::string()).build())
        .field(
            "m",
            SchemaBuilder::map(Schema::string(), SchemaBuilder::int32().build()).build(),
        )
        .field(
            "im",
            SchemaBuilder::map(SchemaBuilder::int32().build(), Schema::string()).build(),
        )
        .build();
    let v = Value::Struct(
        Struct::new(s.clone())
            .with("i8", Value::Int8(-8))
            .with("i16", Value::Int16(1600))
            .with("i32", Value::Int32(-32))
            .with("i64", Value::Int64(1 << 40))
            .with("f32", Value::Float32(1.5))
            .with("f64", Value::Float64(-2.25))
            .with("b", Value::Boolean(true))
            .with("s", Value::Null)
            .with("bytes", Value::Bytes(vec![0u8, 255].into()))
            .with(
                "dec",
                Value::Decimal("-12.34".parse::<BigDecimal>().unwrap()),
            )
            .with("date", Value::Date(19000))
            .with("time", Value::Time(3_600_000))
            .with("ts", Value::Timestamp(1_700_000_000_123))
            .with("arr", Value::Array(vec!["a".into(), "b".into()]))
            .with("m", Value::Map(vec![("k".into(), Value::Int32(1))]))
            .with("im", Value::Map(vec![(Value::Int32(7), "seven".into())])),
    );
    let back = round_trip(&s, v.clone());
    let (Value::Struct(want), Value::Struct(got)) = (&v, &back) else {
        panic!("{back:?}");
    };
    assert_eq!(got.values, want.values);
    assert_eq!(got.schema.name.as_deref(), Some("com.example.All"));
    assert!(Arc::ptr_eq(&got.schema, &got.schema));
}

#[test]
fn bad_values_are_data_errors_naming_the_field() {
    let s = SchemaBuilder::struct_()
        .field("id", SchemaBuilder::int32().build())
        .build();
    let text = from_connect(&s, true).unwrap().to_string();
    let avro = apache_avro::Schema::parse_str(&text).unwrap();
    let names = Names::of(&avro);
    let v = Value::Struct(Struct::new(s.clone()));
    let e = to_avro(&s, &v, &avro, &names, "$").unwrap_err().to_string();
    assert!(
        e.contains("Found null value for non-optional schema at $.id"),
        "{e}"
    );
    let v = Value::Struct(Struct::new(s.clone()).with("id", "x".into()));
    let e = to_avro(&s, &v, &avro, &names, "$").unwrap_err().to_string();
    assert!(e.contains("$.id"), "{e}");
    let dec = logical::decimal(1).build();
    let davro = apache_avro::Schema::parse_str(&avro_json(&dec)).unwrap();
    let e = to_avro(
        &dec,
        &Value::Decimal("1.25".parse().unwrap()),
        &davro,
        &Names::of(&davro),
        "$",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("mismatching scale"), "{e}");
}
