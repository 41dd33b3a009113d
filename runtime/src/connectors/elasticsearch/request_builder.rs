//! Turns sink records into bulk actions: the document id, the target index or data
//! stream, the operation (index, update-as-upsert, create, delete) and the source JSON.

use base64::Engine;
use serde_json::{Map, Value as Json};

use super::config::{EsConfig, NullValues, WriteMethod};
use crate::data::{Schema, SchemaType, SinkRecord, Value};
use crate::errors::{ConnectError, Result};

/// One bulk item: its two NDJSON lines (one for a delete) and where it came from.
#[derive(Debug, Clone)]
pub struct Action {
    pub index: String,
    /// The action and source lines, each ending in `\n`.
    pub lines: bytes::Bytes,
    /// `topic-partition@offset`, for error messages.
    pub origin: String,
}

/// Builds the bulk action of a record; None when the record is skipped (a null value
/// under `behavior.on.null.values=ignore`, or a tombstone without a key).
pub fn build(config: &EsConfig, record: &SinkRecord, index: &str) -> Result<Option<Action>> {
    let r = &record.record;
    let origin = format!(
        "{}-{}@{}",
        r.topic,
        r.partition.unwrap_or(-1),
        record.kafka_offset
    );
    let mut meta = Map::new();
    meta.insert("_index".into(), Json::String(index.to_owned()));
    if r.value.value.is_null() {
        match config.null_values {
            NullValues::Ignore => return Ok(None),
            NullValues::Fail => {
                return Err(ConnectError::data(format!(
                    "record from topic={} partition={} offset={} has a null value (to ignore future \
                     records like this change the configuration property 'behavior.on.null.values' \
                     from 'FAIL' to 'IGNORE')",
                    r.topic,
                    r.partition.unwrap_or(-1),
                    record.kafka_offset
                )));
            }
            NullValues::Delete if r.key.value.is_null() => {
                // The key is the id of the document to delete: without one there is nothing.
                tracing::debug!(record = %origin, "ignoring a tombstone without a key");
                return Ok(None);
            }
            NullValues::Delete => {}
        }
    }
    let ignore_key = config.ignore_key(&r.topic);
    let id = if ignore_key {
        format!(
            "{}+{}+{}",
            r.topic,
            r.partition.unwrap_or(-1),
            record.kafka_offset
        )
    } else {
        key_id(record)?
    };
    meta.insert("_id".into(), Json::String(id));
    // As Confluent's connector: with ids from keys, the Kafka offset is an external version,
    // so a redelivered older record never overwrites a newer one.
    let versioned = !config.is_data_stream() && !ignore_key;
    if versioned {
        meta.insert("version".into(), Json::from(record.kafka_offset));
        meta.insert("version_type".into(), Json::from("external"));
    }
    if r.value.value.is_null() {
        let mut lines = Vec::with_capacity(128);
        write_line(&mut lines, &serde_json::json!({ "delete": meta }))?;
        return Ok(Some(Action {
            index: index.to_owned(),
            lines: lines.into(),
            origin,
        }));
    }
    let schema = if config.ignore_schema(&r.topic) {
        None
    } else {
        r.value.schema.as_deref()
    };
    let mut doc = to_json(&r.value.value, schema, config.compact_map_entries)?;
    let mut lines = Vec::with_capacity(256);
    if config.is_data_stream() {
        let Json::Object(obj) = &mut doc else {
            return Err(ConnectError::data(format!(
                "Top level payload of record {origin} contains data of Json type {}. Required \
                 Json object.",
                json_kind(&doc)
            )));
        };
        {
            let ts = config
                .data_stream_timestamp_fields
                .iter()
                .find_map(|f| obj.get(f).cloned())
                .or_else(|| r.timestamp.map(Json::from));
            if let Some(ts) = ts {
                obj.insert("@timestamp".into(), ts);
            }
        }
        write_line(&mut lines, &serde_json::json!({ "create": meta }))?;
        write_line(&mut lines, &doc)?;
    } else if config.write_method == WriteMethod::Upsert {
        // Updates take no external version; concurrent updates of one id retry instead.
        meta.remove("version");
        meta.remove("version_type");
        meta.insert(
            "retry_on_conflict".into(),
            Json::from(config.max_in_flight.min(5)),
        );
        write_line(&mut lines, &serde_json::json!({ "update": meta }))?;
        write_line(
            &mut lines,
            &serde_json::json!({ "doc": doc, "doc_as_upsert": true }),
        )?;
    } else {
        write_line(&mut lines, &serde_json::json!({ "index": meta }))?;
        write_line(&mut lines, &doc)?;
    }
    Ok(Some(Action {
        index: index.to_owned(),
        lines: lines.into(),
        origin,
    }))
}

fn write_line(out: &mut Vec<u8>, v: &Json) -> Result<()> {
    serde_json::to_writer(&mut *out, v)
        .map_err(|e| ConnectError::internal(format!("could not write JSON: {e}")))?;
    out.push(b'\n');
    Ok(())
}

fn json_kind(j: &Json) -> &'static str {
    match j {
        Json::Null => "NULL",
        Json::Bool(_) => "BOOLEAN",
        Json::Number(_) => "NUMBER",
        Json::String(_) => "STRING",
        Json::Array(_) => "ARRAY",
        Json::Object(_) => "OBJECT",
    }
}

/// The record key as a document id: integers and strings only, as in Confluent's connector.
fn key_id(record: &SinkRecord) -> Result<String> {
    let r = &record.record;
    match &r.key.value {
        Value::Null => Err(ConnectError::data(format!(
            "Key is used as document id and can not be null (record {}-{}@{}; set key.ignore=true \
             to use topic+partition+offset ids)",
            r.topic,
            r.partition.unwrap_or(-1),
            record.kafka_offset
        ))),
        Value::Int8(v) => Ok(v.to_string()),
        Value::Int16(v) => Ok(v.to_string()),
        Value::Int32(v) => Ok(v.to_string()),
        Value::Int64(v) => Ok(v.to_string()),
        Value::String(s) => Ok(s.clone()),
        other => Err(ConnectError::data(format!(
            "{} is not supported as the document id (record {}-{}@{})",
            type_name(other),
            r.topic,
            r.partition.unwrap_or(-1),
            record.kafka_offset
        ))),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Float32(_) => "FLOAT32",
        Value::Float64(_) => "FLOAT64",
        Value::Boolean(_) => "BOOLEAN",
        Value::Bytes(_) => "BYTES",
        Value::Array(_) => "ARRAY",
        Value::Map(_) => "MAP",
        Value::Struct(_) => "STRUCT",
        _ => "A logical type",
    }
}

/// A Connect value as the JSON document Confluent's connector sends (JsonConverter without
/// schemas): logical dates and times as their numbers, bytes in base64, decimals as numbers
/// when a schema is used, and string-keyed maps as objects when `compact` is on.
pub fn to_json(value: &Value, schema: Option<&Schema>, compact: bool) -> Result<Json> {
    Ok(match value {
        Value::Null => Json::Null,
        Value::Int8(v) => Json::from(*v),
        Value::Int16(v) => Json::from(*v),
        Value::Int32(v) => Json::from(*v),
        Value::Int64(v) => Json::from(*v),
        Value::Float32(v) => float(f64::from(*v)),
        Value::Float64(v) => float(*v),
        Value::Boolean(v) => Json::Bool(*v),
        Value::String(s) => Json::String(s.clone()),
        Value::Bytes(b) => Json::String(base64::engine::general_purpose::STANDARD.encode(b)),
        Value::Array(items) => {
            let elem = schema.and_then(|s| s.value_schema.as_deref());
            Json::Array(
                items
                    .iter()
                    .map(|v| to_json(v, elem, compact))
                    .collect::<Result<_>>()?,
            )
        }
        Value::Map(entries) => {
            let (ks, vs) = match schema {
                Some(s) => (s.key_schema.as_deref(), s.value_schema.as_deref()),
                None => (None, None),
            };
            let string_keys = entries.iter().all(|(k, _)| matches!(k, Value::String(_)));
            if compact && string_keys {
                let mut m = Map::new();
                for (k, v) in entries {
                    if let Value::String(k) = k {
                        m.insert(k.clone(), to_json(v, vs, compact)?);
                    }
                }
                Json::Object(m)
            } else {
                Json::Array(
                    entries
                        .iter()
                        .map(|(k, v)| {
                            Ok(serde_json::json!({
                                "key": to_json(k, ks, compact)?,
                                "value": to_json(v, vs, compact)?,
                            }))
                        })
                        .collect::<Result<_>>()?,
                )
            }
        }
        Value::Struct(s) => {
            let mut m = Map::new();
            for (f, v) in s.schema.fields.iter().zip(&s.values) {
                m.insert(f.name.clone(), to_json(v, Some(&f.schema), compact)?);
            }
            Json::Object(m)
        }
        Value::Decimal(d) => {
            let text = d.to_string();
            match text.parse::<f64>() {
                Ok(f) => float(f),
                Err(_) => Json::String(text),
            }
        }
        Value::Date(v) | Value::Time(v) => Json::from(*v),
        Value::Timestamp(v) => Json::from(*v),
    })
    .map(|j| {
        // A schema'd optional field with a default: JsonConverter writes the default for null.
        match (&j, schema) {
            (Json::Null, Some(s)) if s.ty != SchemaType::Struct => s
                .default
                .as_ref()
                .and_then(|d| to_json(d, None, compact).ok())
                .unwrap_or(Json::Null),
            _ => j,
        }
    })
}

fn float(f: f64) -> Json {
    serde_json::Number::from_f64(f)
        .map(Json::Number)
        .unwrap_or(Json::Null)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::Props;
    use crate::data::{ConnectRecord, SchemaAndValue, SchemaBuilder, Struct};

    fn config(extra: &[(&str, &str)]) -> EsConfig {
        let mut p: Props = [("connection.url", "http://a:1")]
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        for (k, v) in extra {
            p.insert((*k).to_owned(), (*v).to_owned());
        }
        EsConfig::parse(&p).unwrap()
    }

    fn record(key: Value, value: Value) -> SinkRecord {
        SinkRecord {
            record: ConnectRecord {
                topic: "t".into(),
                partition: Some(2),
                key: SchemaAndValue::new(None, key),
                value: SchemaAndValue::new(None, value),
                timestamp: Some(1000),
                headers: Vec::new(),
            },
            kafka_offset: 7,
            ..SinkRecord::default()
        }
    }

    fn lines(a: &Action) -> Vec<Json> {
        std::str::from_utf8(&a.lines)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn obj() -> Value {
        Value::Map(vec![(Value::from("a"), Value::Int32(1))])
    }

    #[test]
    fn ids_from_key_or_coordinates() {
        let a = build(&config(&[]), &record(Value::from("k1"), obj()), "t")
            .unwrap()
            .unwrap();
        assert_eq!(
            lines(&a),
            vec![
                serde_json::json!({"index": {"_index": "t", "_id": "k1", "version": 7, "version_type": "external"}}),
                serde_json::json!({"a": 1}),
            ]
        );
        let a = build(
            &config(&[("key.ignore", "true")]),
            &record(Value::Null, obj()),
            "t",
        )
        .unwrap()
        .unwrap();
        assert_eq!(lines(&a)[0]["index"]["_id"], "t+2+7");
        let e = build(&config(&[]), &record(Value::Null, obj()), "t").unwrap_err();
        assert!(
            e.to_string()
                .contains("Key is used as document id and can not be null")
        );
    }

    #[test]
    fn null_values_per_behaviour() {
        let tomb = record(Value::Int64(5), Value::Null);
        assert!(
            build(
                &config(&[("behavior.on.null.values", "ignore")]),
                &tomb,
                "t"
            )
            .unwrap()
            .is_none()
        );
        let e = build(&config(&[]), &tomb, "t").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("record from topic=t partition=2 offset=7 has a null value"),
            "{e}"
        );
        let a = build(
            &config(&[("behavior.on.null.values", "delete")]),
            &tomb,
            "t",
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            lines(&a),
            vec![
                serde_json::json!({"delete": {"_index": "t", "_id": "5", "version": 7, "version_type": "external"}})
            ]
        );
    }

    #[test]
    fn upsert_and_data_streams() {
        let a = build(
            &config(&[("write.method", "upsert")]),
            &record(Value::from("k"), obj()),
            "t",
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            lines(&a)[1],
            serde_json::json!({"doc": {"a": 1}, "doc_as_upsert": true})
        );
        assert_eq!(
            lines(&a)[0],
            serde_json::json!({"update": {"_index": "t", "_id": "k", "retry_on_conflict": 5}})
        );
        let a = build(
            &config(&[
                ("data.stream.type", "logs"),
                ("data.stream.dataset", "d"),
                ("key.ignore", "true"),
            ]),
            &record(Value::Null, obj()),
            "logs-d-t",
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            lines(&a),
            vec![
                serde_json::json!({"create": {"_index": "logs-d-t", "_id": "t+2+7"}}),
                serde_json::json!({"a": 1, "@timestamp": 1000}),
            ]
        );
    }

    #[test]
    fn structs_maps_and_bytes() {
        let schema = SchemaBuilder::struct_()
            .field("id", crate::data::Schema::primitive(SchemaType::Int32))
            .field("raw", crate::data::Schema::bytes())
            .build();
        let s = Struct::new(schema.clone())
            .with("id", Value::Int32(3))
            .with("raw", Value::Bytes(bytes::Bytes::from_static(b"hi")));
        assert_eq!(
            to_json(&Value::Struct(s), Some(&schema), true).unwrap(),
            serde_json::json!({"id": 3, "raw": "aGk="})
        );
        let m = Value::Map(vec![(Value::from("k"), Value::from("v"))]);
        assert_eq!(
            to_json(&m, None, true).unwrap(),
            serde_json::json!({"k": "v"})
        );
        assert_eq!(
            to_json(&m, None, false).unwrap(),
            serde_json::json!([{"key": "k", "value": "v"}])
        );
    }
}
