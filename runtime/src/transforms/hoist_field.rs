//! `HoistField`: wraps the key or value in a struct (or map, without schema) under one field.

use crate::config::def::ConfigKey;
use crate::config::{ConfigDef, ConfigType, Importance, ParsedConfig};
use crate::data::{ConnectRecord, SchemaAndValue, SchemaBuilder, Struct, Value};
use crate::errors::Result;
use crate::plugins::Plugin;
use crate::transforms::util::SchemaCache;
use crate::transforms::{Applied, RecordContext, Side, Transformation};

pub fn config_def() -> ConfigDef {
    ConfigDef::new().define(
        ConfigKey::new("field", ConfigType::String)
            .importance(Importance::Medium)
            .doc(
                "Field name for the single field that will be created in the resulting Struct or Map.",
            ),
    )
}

pub struct HoistField {
    side: Side,
    field: String,
    cache: SchemaCache,
}

impl HoistField {
    pub fn new(c: &ParsedConfig, side: Side) -> Result<Self> {
        Ok(HoistField {
            side,
            field: c.string("field")?.unwrap_or_default().to_owned(),
            cache: SchemaCache::default(),
        })
    }
}

/// Capacity of a hoisted struct's values: its field and one that a later InsertField adds.
const VALUES_ROOM: usize = 2;

impl Transformation for HoistField {
    fn apply_mut(&mut self, record: &mut ConnectRecord, _: &RecordContext) -> Result<Applied> {
        let slot = self.side.of_mut(record);
        let SchemaAndValue { schema, value } = std::mem::take(slot);
        *slot = match schema {
            // Built in place: one allocation for the map, one for the key.
            None => SchemaAndValue::new(
                None,
                Value::Map(vec![(Value::String(self.field.clone()), value)]),
            ),
            Some(schema) => {
                let field = &self.field;
                let updated = self.cache.get_or_try(&schema, || {
                    Ok(SchemaBuilder::struct_()
                        .field(field, schema.clone())
                        .build())
                })?;
                // The one field of the new schema, built in place. The vector has room for
                // one more: an InsertField often follows, and then appends without moving.
                let mut values = Vec::with_capacity(VALUES_ROOM);
                values.push(value);
                let s = Struct {
                    schema: updated.clone(),
                    values,
                };
                // As Kafka's `Struct.put`: a null needs an optional schema.
                crate::transforms::util::validate_struct(&s)?;
                SchemaAndValue::new(Some(updated), Value::Struct(s))
            }
        };
        Ok(Applied::Kept)
    }
}

pub fn plugins() -> Vec<Plugin> {
    use crate::transforms::plugins::transform;
    vec![
        transform(
            "org.apache.kafka.connect.transforms.HoistField$Key",
            |c| Ok(Box::new(HoistField::new(c, Side::Key)?)),
            config_def,
        ),
        transform(
            "org.apache.kafka.connect.transforms.HoistField$Value",
            |c| Ok(Box::new(HoistField::new(c, Side::Value)?)),
            config_def,
        ),
    ]
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::props;
    use crate::data::Schema;
    use crate::transforms::util::string_map;

    fn hoist(side: Side) -> HoistField {
        HoistField::new(
            &config_def().parse(&props(&[("field", "line")])).unwrap(),
            side,
        )
        .unwrap()
    }

    #[test]
    fn schemaless_values_become_a_map() {
        let r = ConnectRecord {
            value: SchemaAndValue::new(None, Value::from("hello")),
            ..Default::default()
        };
        let out = hoist(Side::Value)
            .apply(r, &RecordContext::default())
            .unwrap()
            .unwrap();
        assert_eq!(
            out.value.value,
            string_map(vec![("line".into(), Value::from("hello"))])
        );
        assert_eq!(out.value.schema, None);
    }

    #[test]
    fn values_with_schema_become_a_struct_and_the_schema_is_cached() {
        let mut t = hoist(Side::Key);
        let r = ConnectRecord {
            key: SchemaAndValue::new(Some(Schema::string()), Value::from("k")),
            ..Default::default()
        };
        let a = t
            .apply(r.clone(), &RecordContext::default())
            .unwrap()
            .unwrap();
        let expected = SchemaBuilder::struct_()
            .field("line", Schema::string())
            .build();
        assert_eq!(a.key.schema.as_deref(), Some(&*expected));
        let Value::Struct(s) = &a.key.value else {
            panic!()
        };
        assert_eq!(s.get("line"), Some(&Value::from("k")));
        let b = t.apply(r, &RecordContext::default()).unwrap().unwrap();
        assert!(std::sync::Arc::ptr_eq(
            a.key.schema.as_ref().unwrap(),
            b.key.schema.as_ref().unwrap()
        ));
        // A null under a required schema is refused, as Kafka's Struct.put refuses it.
        let r = ConnectRecord {
            value: SchemaAndValue::new(Some(Schema::string()), Value::Null),
            ..Default::default()
        };
        assert_eq!(
            hoist(Side::Value)
                .apply(r, &RecordContext::default())
                .unwrap_err()
                .to_string(),
            "Invalid value: null used for required field: \"line\", schema type: STRING"
        );
        // A null (tombstone) value is hoisted too.
        let r = ConnectRecord::default();
        let out = hoist(Side::Value)
            .apply(r, &RecordContext::default())
            .unwrap()
            .unwrap();
        assert_eq!(
            out.value.value,
            string_map(vec![("line".into(), Value::Null)])
        );
    }
}
