//! The index mapping derived from a Connect schema (used when `schema.ignore=false`), as
//! Confluent's `Mapping` builds it.

use serde_json::{Map, Value as Json, json};

use crate::data::{Schema, SchemaType};

/// `{"properties": ...}` for a struct schema; None for other schemas (nothing to map).
pub fn for_schema(schema: &Schema) -> Option<Json> {
    match field_mapping(schema) {
        Json::Object(m) if m.contains_key("properties") => Some(Json::Object(m)),
        _ => None,
    }
}

fn field_mapping(schema: &Schema) -> Json {
    match schema.name.as_deref() {
        Some("org.apache.kafka.connect.data.Date" | "org.apache.kafka.connect.data.Timestamp") => {
            return json!({"type": "date"});
        }
        Some("org.apache.kafka.connect.data.Decimal") => return json!({"type": "double"}),
        _ => {}
    }
    match schema.ty {
        SchemaType::Int8 => json!({"type": "byte"}),
        SchemaType::Int16 => json!({"type": "short"}),
        SchemaType::Int32 => json!({"type": "integer"}),
        SchemaType::Int64 => json!({"type": "long"}),
        SchemaType::Float32 => json!({"type": "float"}),
        SchemaType::Float64 => json!({"type": "double"}),
        SchemaType::Boolean => json!({"type": "boolean"}),
        SchemaType::String => json!({
            "type": "text",
            "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}
        }),
        SchemaType::Bytes => json!({"type": "binary"}),
        SchemaType::Array => schema
            .value_schema
            .as_deref()
            .map(field_mapping)
            .unwrap_or_else(|| json!({"type": "object"})),
        SchemaType::Map => {
            // Compact string-keyed maps become objects with dynamic keys; others are
            // key/value pairs.
            let mut props = Map::new();
            if let Some(k) = schema.key_schema.as_deref() {
                props.insert("key".into(), field_mapping(k));
            }
            if let Some(v) = schema.value_schema.as_deref() {
                props.insert("value".into(), field_mapping(v));
            }
            if schema
                .key_schema
                .as_deref()
                .is_some_and(|k| k.ty == SchemaType::String)
            {
                json!({"type": "object"})
            } else {
                json!({"properties": props})
            }
        }
        SchemaType::Struct => {
            let mut props = Map::new();
            for f in &schema.fields {
                props.insert(f.name.clone(), field_mapping(&f.schema));
            }
            json!({"properties": props})
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::data::SchemaBuilder;
    use crate::data::logical;

    #[test]
    fn struct_fields_map_to_types() {
        let s = SchemaBuilder::struct_()
            .field("id", Schema::primitive(SchemaType::Int64))
            .field("name", Schema::optional_string())
            .field("ts", logical::timestamp().build())
            .build();
        assert_eq!(
            for_schema(&s).unwrap(),
            json!({"properties": {
                "id": {"type": "long"},
                "name": {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}},
                "ts": {"type": "date"}
            }})
        );
        assert!(for_schema(&Schema::primitive(SchemaType::String)).is_none());
    }
}
