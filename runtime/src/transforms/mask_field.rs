//! `MaskField`: replaces fields with their type's empty value, or a given replacement.

use std::str::FromStr;

use bigdecimal::BigDecimal;

use crate::config::def::{ConfigKey, Validator};
use crate::config::{ConfigDef, ConfigType, Importance, ParsedConfig};
use crate::data::{ConnectRecord, SchemaAndValue, Struct, Value};
use crate::errors::{ConnectError, Result};
use crate::plugins::Plugin;
use crate::transforms::drop_headers::non_empty_list;
use crate::transforms::util::{
    field_value, java_class, replace_null_with_default_key, require_map, require_struct,
};
use crate::transforms::{Applied, RecordContext, Side, Transformation};

const PURPOSE: &str = "mask fields";

pub fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            ConfigKey::new("fields", ConfigType::List)
                .validator(Validator::Custom(non_empty_list))
                .importance(Importance::High)
                .doc("Names of fields to mask."),
        )
        .define(
            ConfigKey::new("replacement", ConfigType::String)
                .default_null()
                .validator(Validator::NonEmptyString)
                .importance(Importance::Low)
                .doc(
                    "Custom value replacement, that will be applied to all 'fields' values \
                     (numeric or non-empty string values only).",
                ),
        )
        .define(replace_null_with_default_key())
}

pub struct MaskField {
    side: Side,
    fields: Vec<String>,
    replacement: Option<String>,
    replace_null_with_default: bool,
}

/// The "empty" value of a value's type (Kafka's `PRIMITIVE_VALUE_MAPPING`).
fn null_value(v: &Value) -> Result<Value> {
    Ok(match v {
        Value::Null => Value::Null,
        Value::Boolean(_) => Value::Boolean(false),
        Value::Int8(_) => Value::Int8(0),
        Value::Int16(_) => Value::Int16(0),
        Value::Int32(_) => Value::Int32(0),
        Value::Int64(_) => Value::Int64(0),
        Value::Float32(_) => Value::Float32(0.0),
        Value::Float64(_) => Value::Float64(0.0),
        Value::Decimal(_) => Value::Decimal(BigDecimal::from(0)),
        Value::Date(_) => Value::Date(0),
        Value::Time(_) => Value::Time(0),
        Value::Timestamp(_) => Value::Timestamp(0),
        Value::String(_) => Value::String(String::new()),
        Value::Array(_) => Value::Array(Vec::new()),
        Value::Map(_) => Value::Map(Vec::new()),
        other => {
            return Err(ConnectError::data(format!(
                "Cannot mask value of type: class {}",
                java_class(other)
            )));
        }
    })
}

fn with_replacement(v: &Value, r: &str) -> Result<Value> {
    let num = || {
        ConnectError::data(format!(
            "Unable to convert {r} (class java.lang.String) to number"
        ))
    };
    Ok(match v {
        Value::Null => Value::Null,
        Value::Int8(_) => Value::Int8(r.parse().map_err(|_| num())?),
        Value::Int16(_) => Value::Int16(r.parse().map_err(|_| num())?),
        Value::Int32(_) => Value::Int32(r.parse().map_err(|_| num())?),
        Value::Int64(_) => Value::Int64(r.parse().map_err(|_| num())?),
        Value::Float32(_) => Value::Float32(r.parse().map_err(|_| num())?),
        Value::Float64(_) => Value::Float64(r.parse().map_err(|_| num())?),
        Value::Decimal(_) => Value::Decimal(BigDecimal::from_str(r).map_err(|_| num())?),
        Value::String(_) => Value::String(r.to_owned()),
        other => {
            return Err(ConnectError::data(format!(
                "Cannot mask value of type class {} with custom replacement.",
                java_class(other)
            )));
        }
    })
}

impl MaskField {
    pub fn new(c: &ParsedConfig, side: Side) -> Result<Self> {
        Ok(MaskField {
            side,
            fields: c.list("fields")?,
            replacement: c.string("replacement")?.map(str::to_owned),
            replace_null_with_default: c.bool("replace.null.with.default")?,
        })
    }

    fn masked(&self, v: &Value) -> Result<Value> {
        match &self.replacement {
            None => null_value(v),
            Some(r) => with_replacement(v, r),
        }
    }
}

impl Transformation for MaskField {
    fn apply_mut(&mut self, record: &mut ConnectRecord, _: &RecordContext) -> Result<Applied> {
        let operating = self.side.of(record);
        if operating.value.is_null() {
            return Ok(Applied::Kept);
        }
        let updated = match &operating.schema {
            None => {
                let m = require_map(&operating.value, PURPOSE)?;
                let mut out = Vec::with_capacity(m.len());
                for (k, v) in m {
                    let mask = k
                        .as_str()
                        .is_some_and(|k| self.fields.iter().any(|f| f == k));
                    out.push((k.clone(), if mask { self.masked(v)? } else { v.clone() }));
                }
                SchemaAndValue::new(None, Value::Map(out))
            }
            Some(schema) => {
                let value = require_struct(&operating.value, PURPOSE)?;
                let mut s = Struct::new(value.schema.clone());
                for f in &value.schema.fields {
                    let v = field_value(value, f, self.replace_null_with_default);
                    let v = if self.fields.contains(&f.name) {
                        self.masked(&v)?
                    } else {
                        v
                    };
                    s.put(&f.name, v);
                }
                SchemaAndValue::new(Some(schema.clone()), Value::Struct(s))
            }
        };
        *self.side.of_mut(record) = updated;
        Ok(Applied::Kept)
    }
}

pub fn plugins() -> Vec<Plugin> {
    use crate::transforms::plugins::transform;
    vec![
        transform(
            "org.apache.kafka.connect.transforms.MaskField$Key",
            |c| Ok(Box::new(MaskField::new(c, Side::Key)?)),
            config_def,
        ),
        transform(
            "org.apache.kafka.connect.transforms.MaskField$Value",
            |c| Ok(Box::new(MaskField::new(c, Side::Value)?)),
            config_def,
        ),
    ]
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::props;
    use crate::data::{Schema, SchemaBuilder, SchemaType};
    use crate::transforms::util::string_map;

    fn t(p: &[(&str, &str)]) -> MaskField {
        MaskField::new(&config_def().parse(&props(p)).unwrap(), Side::Value).unwrap()
    }

    fn run(t: &mut MaskField, v: SchemaAndValue) -> Result<SchemaAndValue> {
        let r = ConnectRecord {
            value: v,
            ..Default::default()
        };
        Ok(t.apply(r, &RecordContext::default())?.unwrap().value)
    }

    #[test]
    fn schemaless_masks_by_type() {
        let v = string_map(vec![
            ("i".into(), Value::Int32(42)),
            ("s".into(), Value::from("secret")),
            ("b".into(), Value::Boolean(true)),
            ("l".into(), Value::Array(vec![Value::Int8(1)])),
            ("keep".into(), Value::from("k")),
            ("n".into(), Value::Null),
        ]);
        let mut m = t(&[("fields", "i,s,b,l,n")]);
        assert_eq!(
            run(&mut m, SchemaAndValue::new(None, v.clone()))
                .unwrap()
                .value,
            string_map(vec![
                ("i".into(), Value::Int32(0)),
                ("s".into(), Value::from("")),
                ("b".into(), Value::Boolean(false)),
                ("l".into(), Value::Array(vec![])),
                ("keep".into(), Value::from("k")),
                ("n".into(), Value::Null),
            ])
        );
        let mut r = t(&[("fields", "i,s"), ("replacement", "123")]);
        assert_eq!(
            run(&mut r, SchemaAndValue::new(None, v.clone()))
                .unwrap()
                .value,
            string_map(vec![
                ("i".into(), Value::Int32(123)),
                ("s".into(), Value::from("123")),
                ("b".into(), Value::Boolean(true)),
                ("l".into(), Value::Array(vec![Value::Int8(1)])),
                ("keep".into(), Value::from("k")),
                ("n".into(), Value::Null),
            ])
        );
        let mut bad = t(&[("fields", "i"), ("replacement", "x")]);
        assert_eq!(
            run(&mut bad, SchemaAndValue::new(None, v.clone()))
                .unwrap_err()
                .to_string(),
            "Unable to convert x (class java.lang.String) to number"
        );
        let mut bad = t(&[("fields", "b"), ("replacement", "x")]);
        assert_eq!(
            run(&mut bad, SchemaAndValue::new(None, v))
                .unwrap_err()
                .to_string(),
            "Cannot mask value of type class java.lang.Boolean with custom replacement."
        );
        assert_eq!(
            run(&mut m, SchemaAndValue::null()).unwrap(),
            SchemaAndValue::null()
        );
    }

    #[test]
    fn with_schema_keeps_the_schema() {
        let schema = SchemaBuilder::struct_()
            .field("i", Schema::primitive(SchemaType::Int64))
            .field("s", Schema::string())
            .build();
        let v = Struct::new(schema.clone())
            .with("i", Value::Int64(5))
            .with("s", Value::from("x"));
        let mut m = t(&[("fields", "s")]);
        let out = run(
            &mut m,
            SchemaAndValue::new(Some(schema.clone()), Value::Struct(v)),
        )
        .unwrap();
        assert_eq!(
            out,
            SchemaAndValue::new(
                Some(schema.clone()),
                Value::Struct(
                    Struct::new(schema)
                        .with("i", Value::Int64(5))
                        .with("s", Value::from(""))
                )
            )
        );
    }
}
