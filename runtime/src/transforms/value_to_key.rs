//! `ValueToKey`: replaces the key with a struct (or map) of fields of the value.

use crate::config::def::{ConfigKey, Validator};
use crate::config::{ConfigDef, ConfigType, Importance, ParsedConfig};
use crate::data::{ConnectRecord, SchemaAndValue, SchemaBuilder, Struct, Value};
use crate::errors::{ConnectError, Result};
use crate::plugins::Plugin;
use crate::transforms::drop_headers::non_empty_list;
use crate::transforms::util::{
    SchemaCache, field_value, map_get, replace_null_with_default_key, require_map, require_struct,
    string_map,
};
use crate::transforms::{Applied, RecordContext, Transformation};

pub const CLASS: &str = "org.apache.kafka.connect.transforms.ValueToKey";
const PURPOSE: &str = "copying fields from value to key";

pub fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            ConfigKey::new("fields", ConfigType::List)
                .validator(Validator::Custom(non_empty_list))
                .importance(Importance::High)
                .doc("Field names on the record value to extract as the record key."),
        )
        .define(replace_null_with_default_key())
}

pub struct ValueToKey {
    fields: Vec<String>,
    replace_null_with_default: bool,
    cache: SchemaCache,
}

impl ValueToKey {
    pub fn new(c: &ParsedConfig) -> Result<Self> {
        Ok(ValueToKey {
            fields: c.list("fields")?,
            replace_null_with_default: c.bool("replace.null.with.default")?,
            cache: SchemaCache::default(),
        })
    }
}

impl Transformation for ValueToKey {
    fn apply_mut(&mut self, record: &mut ConnectRecord, _: &RecordContext) -> Result<Applied> {
        record.key = match &record.value.schema {
            None => {
                let m = require_map(&record.value.value, PURPOSE)?;
                let key = self
                    .fields
                    .iter()
                    .map(|f| (f.clone(), map_get(m, f).cloned().unwrap_or_default()))
                    .collect();
                SchemaAndValue::new(None, string_map(key))
            }
            Some(_) => {
                let value = require_struct(&record.value.value, PURPOSE)?;
                let fields = &self.fields;
                let key_schema = self.cache.get_or_try(&value.schema, || {
                    let mut b = SchemaBuilder::struct_();
                    for f in fields {
                        let Some(field) = value.schema.field(f) else {
                            return Err(ConnectError::data(format!("Field does not exist: {f}")));
                        };
                        b = b.field(f, field.schema.clone());
                    }
                    Ok(b.build())
                })?;
                let mut key = Struct::new(key_schema.clone());
                for f in &self.fields {
                    if let Some(field) = value.schema.field(f) {
                        key.put(f, field_value(value, field, self.replace_null_with_default));
                    }
                }
                SchemaAndValue::new(Some(key_schema), Value::Struct(key))
            }
        };
        Ok(Applied::Kept)
    }
}

pub fn plugins() -> Vec<Plugin> {
    vec![crate::transforms::plugins::transform(
        CLASS,
        |c| Ok(Box::new(ValueToKey::new(c)?)),
        config_def,
    )]
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::props;
    use crate::data::Schema;

    fn t(fields: &str) -> ValueToKey {
        ValueToKey::new(&config_def().parse(&props(&[("fields", fields)])).unwrap()).unwrap()
    }

    fn run(t: &mut ValueToKey, value: SchemaAndValue) -> Result<ConnectRecord> {
        let r = ConnectRecord {
            key: SchemaAndValue::new(None, Value::from("old")),
            value,
            ..Default::default()
        };
        Ok(t.apply(r, &RecordContext::default())?.unwrap())
    }

    #[test]
    fn schemaless() {
        let v = string_map(vec![
            ("a".into(), Value::Int32(1)),
            ("b".into(), Value::Int32(2)),
            ("c".into(), Value::Int32(3)),
        ]);
        let out = run(&mut t("a,b"), SchemaAndValue::new(None, v.clone())).unwrap();
        assert_eq!(
            out.key,
            SchemaAndValue::new(
                None,
                string_map(vec![
                    ("a".into(), Value::Int32(1)),
                    ("b".into(), Value::Int32(2))
                ])
            )
        );
        assert_eq!(out.value.value, v);
        // A missing field is null; a tombstone cannot give a key.
        let out = run(&mut t("z"), SchemaAndValue::new(None, v)).unwrap();
        assert_eq!(out.key.value, string_map(vec![("z".into(), Value::Null)]));
        assert_eq!(
            run(&mut t("a"), SchemaAndValue::null())
                .unwrap_err()
                .to_string(),
            "Only Map objects supported in absence of schema for [copying fields from value to key], found: null"
        );
    }

    #[test]
    fn with_schema() {
        let schema = SchemaBuilder::struct_()
            .field("id", Schema::primitive(crate::data::SchemaType::Int64))
            .field("name", Schema::optional_string())
            .build();
        let v = Struct::new(schema.clone())
            .with("id", Value::Int64(9))
            .with("name", Value::from("n"));
        let mut vk = t("id");
        let out = run(
            &mut vk,
            SchemaAndValue::new(Some(schema.clone()), Value::Struct(v.clone())),
        )
        .unwrap();
        let key_schema = SchemaBuilder::struct_()
            .field("id", Schema::primitive(crate::data::SchemaType::Int64))
            .build();
        assert_eq!(out.key.schema.as_deref(), Some(&*key_schema));
        assert_eq!(
            out.key.value,
            Value::Struct(Struct::new(key_schema).with("id", Value::Int64(9)))
        );
        assert_eq!(
            run(
                &mut t("nope"),
                SchemaAndValue::new(Some(schema), Value::Struct(v))
            )
            .unwrap_err()
            .to_string(),
            "Field does not exist: nope"
        );
        assert_eq!(
            config_def()
                .parse(&props(&[("fields", "")]))
                .unwrap_err()
                .to_string(),
            "Invalid value [] for configuration fields: Empty list"
        );
    }
}
