//! `SetSchemaMetadata`: sets the name and/or version of the key or value schema.

use std::sync::Arc;

use crate::config::def::ConfigKey;
use crate::config::{ConfigDef, ConfigType, Importance, ParsedConfig};
use crate::data::{ConnectRecord, Value};
use crate::errors::{ConnectError, Result};
use crate::plugins::Plugin;
use crate::transforms::util::{SchemaCache, replace_null_with_default_key, require_schema};
use crate::transforms::{Applied, RecordContext, Side, Transformation};

pub fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            ConfigKey::new("schema.name", ConfigType::String)
                .default_null()
                .importance(Importance::High)
                .doc("Schema name to set."),
        )
        .define(
            ConfigKey::new("schema.version", ConfigType::Int)
                .default_null()
                .importance(Importance::High)
                .doc("Schema version to set."),
        )
        .define(replace_null_with_default_key())
}

pub struct SetSchemaMetadata {
    side: Side,
    name: Option<String>,
    version: Option<i32>,
    cache: SchemaCache,
}

impl SetSchemaMetadata {
    pub fn new(c: &ParsedConfig, side: Side) -> Result<Self> {
        let name = c.string("schema.name")?.map(str::to_owned);
        let version = match c.originals().get("schema.version") {
            Some(_) => Some(c.int("schema.version")? as i32),
            None => None,
        };
        if name.is_none() && version.is_none() {
            return Err(ConnectError::config(
                "Neither schema name nor version configured",
            ));
        }
        Ok(SetSchemaMetadata {
            side,
            name,
            version,
            cache: SchemaCache::default(),
        })
    }
}

impl Transformation for SetSchemaMetadata {
    fn apply_mut(&mut self, record: &mut ConnectRecord, _: &RecordContext) -> Result<Applied> {
        let slot = self.side.of_mut(record);
        if slot.schema.is_none() && slot.value.is_null() {
            return Ok(Applied::Kept);
        }
        let schema = require_schema(&slot.schema, "updating schema metadata")?.clone();
        let updated = match self.cache.get(&schema) {
            Some(s) => s,
            None => {
                let mut s = (*schema).clone();
                if let Some(n) = &self.name {
                    s.name = Some(n.clone());
                }
                if let Some(v) = self.version {
                    s.version = Some(v);
                }
                let s = Arc::new(s);
                self.cache.put(schema, s.clone());
                s
            }
        };
        // A struct carries its schema: rebind it to the new one.
        if let Value::Struct(st) = &mut slot.value {
            st.schema = updated.clone();
        }
        slot.schema = Some(updated);
        Ok(Applied::Kept)
    }
}

pub fn plugins() -> Vec<Plugin> {
    use crate::transforms::plugins::transform;
    vec![
        transform(
            "org.apache.kafka.connect.transforms.SetSchemaMetadata$Key",
            |c| Ok(Box::new(SetSchemaMetadata::new(c, Side::Key)?)),
            config_def,
        ),
        transform(
            "org.apache.kafka.connect.transforms.SetSchemaMetadata$Value",
            |c| Ok(Box::new(SetSchemaMetadata::new(c, Side::Value)?)),
            config_def,
        ),
    ]
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::props;
    use crate::data::{Schema, SchemaAndValue, SchemaBuilder, Struct};

    #[test]
    fn sets_name_and_version_and_rebinds_structs() {
        let mut t = SetSchemaMetadata::new(
            &config_def()
                .parse(&props(&[("schema.name", "foo"), ("schema.version", "42")]))
                .unwrap(),
            Side::Value,
        )
        .unwrap();
        let schema = SchemaBuilder::struct_()
            .field("a", Schema::string())
            .build();
        let v = Struct::new(schema.clone()).with("a", Value::from("x"));
        let r = ConnectRecord {
            value: SchemaAndValue::new(Some(schema), Value::Struct(v)),
            ..Default::default()
        };
        let out = t.apply(r, &RecordContext::default()).unwrap().unwrap();
        let s = out.value.schema.unwrap();
        assert_eq!(s.name.as_deref(), Some("foo"));
        assert_eq!(s.version, Some(42));
        let Value::Struct(st) = out.value.value else {
            panic!()
        };
        assert!(Arc::ptr_eq(&st.schema, &s));
        // Schemaless data cannot be given a name; a schemaless tombstone passes.
        let err = t
            .apply(
                ConnectRecord {
                    value: SchemaAndValue::new(None, Value::from("x")),
                    ..Default::default()
                },
                &RecordContext::default(),
            )
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Schema required for [updating schema metadata]"
        );
        assert!(
            t.apply(ConnectRecord::default(), &RecordContext::default())
                .is_ok()
        );
        assert_eq!(
            SetSchemaMetadata::new(&config_def().parse(&props(&[])).unwrap(), Side::Key)
                .err()
                .unwrap()
                .to_string(),
            "Neither schema name nor version configured"
        );
    }
}
