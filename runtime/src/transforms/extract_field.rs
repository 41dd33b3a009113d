//! `ExtractField`: replaces the key or value with one of its fields.

use crate::config::def::{ConfigKey, Validator};
use crate::config::{ConfigDef, ConfigType, Importance, ParsedConfig};
use crate::data::{ConnectRecord, SchemaAndValue, SchemaRef, Value};
use crate::errors::{ConnectError, Result};
use crate::plugins::Plugin;
use crate::transforms::util::{field_value, map_get, replace_null_with_default_key};
use crate::transforms::{Applied, RecordContext, Side, Transformation};

const PURPOSE: &str = "field extraction";

pub fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            ConfigKey::new("field", ConfigType::String)
                .importance(Importance::Medium)
                .doc(
                    "Field name to extract. Supports nested fields with `field.syntax.version=V2` \
                     (dotted paths).",
                ),
        )
        .define(replace_null_with_default_key())
        .define(
            ConfigKey::new("field.syntax.version", ConfigType::String)
                .default_value("V1")
                .validator(Validator::Custom(|v| match v {
                    crate::config::def::Parsed::Str(s)
                        if s.eq_ignore_ascii_case("V1") || s.eq_ignore_ascii_case("V2") =>
                    {
                        Ok(())
                    }
                    crate::config::def::Parsed::Str(_) => {
                        Err("Unrecognized field syntax version".into())
                    }
                    _ => Ok(()),
                }))
                .importance(Importance::High)
                .doc(
                    "Defines the version of the syntax to access fields. If set to `V1`, then the \
                     field paths are limited to access the elements at the root level of the \
                     struct or map. If set to `V2`, the syntax will support accessing nested \
                     elements. To access nested elements, dotted notation is used. If dots are \
                     already included in the field name, then backtick pairs can be used to wrap \
                     field names containing dots.",
                ),
        )
}

/// A field path: one name (V1), or dotted names with backtick quoting (V2).
pub(crate) fn field_path(field: &str, v2: bool) -> Vec<String> {
    if !v2 {
        return vec![field.to_owned()];
    }
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in field.chars() {
        match c {
            '`' => quoted = !quoted,
            '.' if !quoted => out.push(std::mem::take(&mut cur)),
            other => cur.push(other),
        }
    }
    out.push(cur);
    out
}

pub struct ExtractField {
    side: Side,
    field: String,
    path: Vec<String>,
    replace_null_with_default: bool,
}

impl ExtractField {
    pub fn new(c: &ParsedConfig, side: Side) -> Result<Self> {
        let field = c.string("field")?.unwrap_or_default().to_owned();
        let v2 = c
            .string("field.syntax.version")?
            .is_some_and(|v| v.eq_ignore_ascii_case("V2"));
        Ok(ExtractField {
            side,
            path: field_path(&field, v2),
            field,
            replace_null_with_default: c.bool("replace.null.with.default")?,
        })
    }

    fn with_schema(
        &self,
        path: &[String],
        schema: &SchemaRef,
        value: &Value,
    ) -> Result<SchemaAndValue> {
        let Some((name, rest)) = path.split_first() else {
            return Ok(SchemaAndValue::new(Some(schema.clone()), value.clone()));
        };
        let Some(field) = schema.field(name) else {
            return Err(ConnectError::data(format!("Unknown field: {}", self.field)));
        };
        let inner = match value {
            Value::Null => Value::Null,
            Value::Struct(s) => field_value(s, field, self.replace_null_with_default),
            other => {
                crate::transforms::util::require_struct(other, PURPOSE)?;
                Value::Null
            }
        };
        self.with_schema(rest, &field.schema, &inner)
    }

    fn schemaless(&self, value: &Value) -> Result<Value> {
        let mut cur = value;
        for name in &self.path {
            match cur {
                Value::Null => return Ok(Value::Null),
                other => {
                    let m = crate::transforms::util::require_map(other, PURPOSE)?;
                    cur = match map_get(m, name) {
                        Some(v) => v,
                        None => return Ok(Value::Null),
                    };
                }
            }
        }
        Ok(cur.clone())
    }
}

impl Transformation for ExtractField {
    fn apply_mut(&mut self, record: &mut ConnectRecord, _: &RecordContext) -> Result<Applied> {
        let slot = self.side.of_mut(record);
        // A top-level field of a map we own: move it out instead of copying it.
        if slot.schema.is_none()
            && self.path.len() == 1
            && let Value::Map(m) = &mut slot.value
        {
            let found = m
                .iter()
                .rposition(|(k, _)| k.as_str() == Some(self.path[0].as_str()));
            let v = found.map_or(Value::Null, |i| m.swap_remove(i).1);
            *slot = SchemaAndValue::new(None, v);
            return Ok(Applied::Kept);
        }
        // A top-level field of a struct we own: moved out too.
        if let (Some(schema), [name]) = (&slot.schema, self.path.as_slice())
            && matches!(slot.value, Value::Struct(_))
        {
            let Some(field) = schema.field(name) else {
                return Err(ConnectError::data(format!("Unknown field: {}", self.field)));
            };
            let (index, field_schema) = (field.index, field.schema.clone());
            let Value::Struct(s) = std::mem::take(&mut slot.value) else {
                return Err(ConnectError::internal(
                    "ExtractField: the value checked to be a Struct is not one",
                ));
            };
            let mut v = s.values.into_iter().nth(index).unwrap_or_default();
            if v.is_null() && self.replace_null_with_default {
                v = field_schema.default.clone().unwrap_or_default();
            }
            *slot = SchemaAndValue::new(Some(field_schema), v);
            return Ok(Applied::Kept);
        }
        *slot = match &slot.schema {
            None => SchemaAndValue::new(None, self.schemaless(&slot.value)?),
            Some(schema) => self.with_schema(&self.path, schema, &slot.value)?,
        };
        Ok(Applied::Kept)
    }
}

pub fn plugins() -> Vec<Plugin> {
    use crate::transforms::plugins::transform;
    vec![
        transform(
            "org.apache.kafka.connect.transforms.ExtractField$Key",
            |c| Ok(Box::new(ExtractField::new(c, Side::Key)?)),
            config_def,
        ),
        transform(
            "org.apache.kafka.connect.transforms.ExtractField$Value",
            |c| Ok(Box::new(ExtractField::new(c, Side::Value)?)),
            config_def,
        ),
    ]
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::props;
    use crate::data::{Schema, SchemaBuilder, Struct};
    use crate::transforms::util::string_map;

    fn extract(side: Side, extra: &[(&str, &str)]) -> ExtractField {
        let mut p = props(&[("field", "id")]);
        p.extend(props(extra));
        ExtractField::new(&config_def().parse(&p).unwrap(), side).unwrap()
    }

    fn apply_key(t: &mut ExtractField, key: SchemaAndValue) -> Result<SchemaAndValue> {
        let r = ConnectRecord {
            key,
            ..Default::default()
        };
        Ok(t.apply(r, &RecordContext::default())?.unwrap().key)
    }

    #[test]
    fn schemaless() {
        let mut t = extract(Side::Key, &[]);
        let m = string_map(vec![
            ("id".into(), Value::Int32(7)),
            ("x".into(), Value::from("y")),
        ]);
        assert_eq!(
            apply_key(&mut t, SchemaAndValue::new(None, m)).unwrap(),
            SchemaAndValue::new(None, Value::Int32(7))
        );
        // Missing field and null key: null.
        let m = string_map(vec![("x".into(), Value::from("y"))]);
        assert_eq!(
            apply_key(&mut t, SchemaAndValue::new(None, m))
                .unwrap()
                .value,
            Value::Null
        );
        assert_eq!(
            apply_key(&mut t, SchemaAndValue::null()).unwrap().value,
            Value::Null
        );
        let err = apply_key(&mut t, SchemaAndValue::new(None, Value::from("s"))).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Only Map objects supported in absence of schema for [field extraction], found: java.lang.String"
        );
    }

    #[test]
    fn with_schema() {
        let schema = SchemaBuilder::struct_()
            .field("id", SchemaBuilder::int64().build())
            .field(
                "opt",
                SchemaBuilder::string()
                    .optional()
                    .default_value(Value::from("d"))
                    .build(),
            )
            .build();
        let s = Struct::new(schema.clone()).with("id", Value::Int64(42));
        let mut t = extract(Side::Key, &[]);
        assert_eq!(
            apply_key(
                &mut t,
                SchemaAndValue::new(Some(schema.clone()), Value::Struct(s.clone()))
            )
            .unwrap(),
            SchemaAndValue::new(
                Some(Schema::primitive(crate::data::SchemaType::Int64)),
                Value::Int64(42)
            )
        );
        // A tombstone keeps the field's schema and a null value.
        assert_eq!(
            apply_key(
                &mut t,
                SchemaAndValue::new(Some(schema.clone()), Value::Null)
            )
            .unwrap(),
            SchemaAndValue::new(
                Some(Schema::primitive(crate::data::SchemaType::Int64)),
                Value::Null
            )
        );
        let mut opt = ExtractField::new(
            &config_def().parse(&props(&[("field", "opt")])).unwrap(),
            Side::Key,
        )
        .unwrap();
        let sv = SchemaAndValue::new(Some(schema.clone()), Value::Struct(s.clone()));
        assert_eq!(
            apply_key(&mut opt, sv.clone()).unwrap().value,
            Value::from("d")
        );
        let mut raw = ExtractField::new(
            &config_def()
                .parse(&props(&[
                    ("field", "opt"),
                    ("replace.null.with.default", "false"),
                ]))
                .unwrap(),
            Side::Key,
        )
        .unwrap();
        assert_eq!(apply_key(&mut raw, sv.clone()).unwrap().value, Value::Null);
        let mut missing = ExtractField::new(
            &config_def().parse(&props(&[("field", "nope")])).unwrap(),
            Side::Key,
        )
        .unwrap();
        assert_eq!(
            apply_key(&mut missing, sv).unwrap_err().to_string(),
            "Unknown field: nope"
        );
    }

    #[test]
    fn nested_paths_with_v2() {
        let inner = SchemaBuilder::struct_()
            .field("id", Schema::string())
            .build();
        let schema = SchemaBuilder::struct_().field("a.b", inner.clone()).build();
        let s = Struct::new(schema.clone()).with(
            "a.b",
            Value::Struct(Struct::new(inner).with("id", Value::from("x"))),
        );
        let mut t = ExtractField::new(
            &config_def()
                .parse(&props(&[
                    ("field", "`a.b`.id"),
                    ("field.syntax.version", "V2"),
                ]))
                .unwrap(),
            Side::Value,
        )
        .unwrap();
        let r = ConnectRecord {
            value: SchemaAndValue::new(Some(schema), Value::Struct(s)),
            ..Default::default()
        };
        let out = t.apply(r, &RecordContext::default()).unwrap().unwrap();
        assert_eq!(
            out.value,
            SchemaAndValue::new(Some(Schema::string()), Value::from("x"))
        );
        let m = string_map(vec![(
            "a".into(),
            string_map(vec![("b".into(), Value::Int8(1))]),
        )]);
        let t = ExtractField::new(
            &config_def()
                .parse(&props(&[("field", "a.b"), ("field.syntax.version", "V2")]))
                .unwrap(),
            Side::Value,
        )
        .unwrap();
        assert_eq!(t.schemaless(&m).unwrap(), Value::Int8(1));
    }
}
