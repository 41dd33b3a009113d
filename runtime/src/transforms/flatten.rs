//! `Flatten`: flattens nested structs (or maps, without schema) into one level, joining
//! field names with a delimiter. Arrays are kept as they are.

use crate::config::def::ConfigKey;
use crate::config::{ConfigDef, ConfigType, Importance, ParsedConfig};
use crate::data::{
    ConnectRecord, Schema, SchemaAndValue, SchemaBuilder, SchemaRef, SchemaType, Struct, Value,
};
use crate::errors::{ConnectError, Result};
use crate::plugins::Plugin;
use crate::transforms::util::{
    SchemaCache, builder_like, copy_schema_basics, java_class, require_map, require_struct,
};
use crate::transforms::{Applied, RecordContext, Side, Transformation};

const PURPOSE: &str = "flattening";

pub fn config_def() -> ConfigDef {
    ConfigDef::new().define(
        ConfigKey::new("delimiter", ConfigType::String)
            .default_value(".")
            .importance(Importance::Medium)
            .doc(
                "Delimiter to insert between field names from the input record when generating \
                 field names for the output record",
            ),
    )
}

pub struct Flatten {
    side: Side,
    delimiter: String,
    cache: SchemaCache,
}

impl Flatten {
    pub fn new(c: &ParsedConfig, side: Side) -> Result<Self> {
        Ok(Flatten {
            side,
            delimiter: c.string("delimiter")?.unwrap_or(".").to_owned(),
            cache: SchemaCache::default(),
        })
    }

    fn name(&self, prefix: &str, name: &str) -> String {
        if prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{prefix}{}{name}", self.delimiter)
        }
    }

    fn flatten_map(
        &self,
        prefix: &str,
        m: &[(Value, Value)],
        out: &mut Vec<(Value, Value)>,
    ) -> Result<()> {
        for (k, v) in m {
            let key = self.name(prefix, &k.to_string());
            match v {
                Value::Map(inner) => self.flatten_map(&key, inner, out)?,
                Value::Struct(_) => {
                    return Err(ConnectError::data(format!(
                        "Flatten transformation does not support {} for record without schemas (for field {key}).",
                        java_class(v)
                    )));
                }
                other => out.push((Value::String(key), other.clone())),
            }
        }
        Ok(())
    }

    fn flatten_schema(
        &self,
        prefix: &str,
        schema: &Schema,
        optional: bool,
        mut b: SchemaBuilder,
    ) -> Result<SchemaBuilder> {
        for f in &schema.fields {
            let name = self.name(prefix, &f.name);
            let optional = optional || f.schema.optional;
            match f.schema.ty {
                SchemaType::Struct => b = self.flatten_schema(&name, &f.schema, optional, b)?,
                _ => {
                    let mut fb = builder_like(&f.schema);
                    if let Some(v) = &f.schema.value_schema {
                        fb = match f.schema.ty {
                            SchemaType::Array => {
                                copy_opt(SchemaBuilder::array(v.clone()), &f.schema)
                            }
                            SchemaType::Map => copy_opt(
                                SchemaBuilder::map(
                                    f.schema.key_schema.clone().unwrap_or_else(Schema::string),
                                    v.clone(),
                                ),
                                &f.schema,
                            ),
                            _ => fb,
                        };
                    }
                    if optional {
                        fb = fb.optional();
                    }
                    b = b.field(name, fb.build());
                }
            }
        }
        Ok(b)
    }

    fn flatten_struct(&self, prefix: &str, s: Option<&Struct>, schema: &Schema, out: &mut Struct) {
        for f in &schema.fields {
            let name = self.name(prefix, &f.name);
            let v = s
                .and_then(|s| s.values.get(f.index))
                .cloned()
                .unwrap_or_default();
            match (f.schema.ty, v) {
                (SchemaType::Struct, Value::Struct(inner)) => {
                    self.flatten_struct(&name, Some(&inner), &f.schema, out)
                }
                (SchemaType::Struct, _) => self.flatten_struct(&name, None, &f.schema, out),
                (_, v) => {
                    out.put(&name, v);
                }
            }
        }
    }
}

fn copy_opt(b: SchemaBuilder, like: &Schema) -> SchemaBuilder {
    let mut b = copy_schema_basics(like, b);
    if like.optional {
        b = b.optional();
    }
    if let Some(d) = &like.default {
        b = b.default_value(d.clone());
    }
    b
}

impl Transformation for Flatten {
    fn apply_mut(&mut self, record: &mut ConnectRecord, _: &RecordContext) -> Result<Applied> {
        let operating = self.side.of(record);
        if operating.value.is_null() {
            return Ok(Applied::Kept);
        }
        let updated = match &operating.schema {
            None => {
                let m = require_map(&operating.value, PURPOSE)?;
                let mut out = Vec::with_capacity(m.len());
                self.flatten_map("", m, &mut out)?;
                SchemaAndValue::new(None, Value::Map(out))
            }
            Some(_) => {
                let value = require_struct(&operating.value, PURPOSE)?;
                let schema: SchemaRef = match self.cache.get(&value.schema) {
                    Some(s) => s,
                    None => {
                        let mut b = copy_schema_basics(&value.schema, SchemaBuilder::struct_());
                        if value.schema.optional {
                            b = b.optional();
                        }
                        let s = self.flatten_schema("", &value.schema, false, b)?.build();
                        self.cache.put(value.schema.clone(), s.clone());
                        s
                    }
                };
                let mut out = Struct::new(schema.clone());
                self.flatten_struct("", Some(value), &value.schema, &mut out);
                SchemaAndValue::new(Some(schema), Value::Struct(out))
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
            "org.apache.kafka.connect.transforms.Flatten$Key",
            |c| Ok(Box::new(Flatten::new(c, Side::Key)?)),
            config_def,
        ),
        transform(
            "org.apache.kafka.connect.transforms.Flatten$Value",
            |c| Ok(Box::new(Flatten::new(c, Side::Value)?)),
            config_def,
        ),
    ]
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::props;
    use crate::transforms::util::string_map;

    fn t(p: &[(&str, &str)]) -> Flatten {
        Flatten::new(&config_def().parse(&props(p)).unwrap(), Side::Value).unwrap()
    }

    fn run(t: &mut Flatten, v: SchemaAndValue) -> Result<SchemaAndValue> {
        let r = ConnectRecord {
            value: v,
            ..Default::default()
        };
        Ok(t.apply(r, &RecordContext::default())?.unwrap().value)
    }

    #[test]
    fn schemaless_nested_maps() {
        let v = string_map(vec![
            (
                "a".into(),
                string_map(vec![
                    ("b".into(), Value::Int32(1)),
                    ("c".into(), string_map(vec![("d".into(), Value::from("x"))])),
                ]),
            ),
            ("arr".into(), Value::Array(vec![Value::Int8(1)])),
        ]);
        assert_eq!(
            run(&mut t(&[("delimiter", "_")]), SchemaAndValue::new(None, v))
                .unwrap()
                .value,
            string_map(vec![
                ("a_b".into(), Value::Int32(1)),
                ("a_c_d".into(), Value::from("x")),
                ("arr".into(), Value::Array(vec![Value::Int8(1)])),
            ])
        );
        assert_eq!(
            run(&mut t(&[]), SchemaAndValue::null()).unwrap(),
            SchemaAndValue::null()
        );
    }

    #[test]
    fn nested_structs_with_optional_parents() {
        let inner = SchemaBuilder::struct_()
            .field("x", Schema::primitive(SchemaType::Int32))
            .optional()
            .build();
        let schema = SchemaBuilder::struct_()
            .name("top")
            .field("id", Schema::string())
            .field("inner", inner.clone())
            .build();
        let v = Struct::new(schema.clone())
            .with("id", Value::from("1"))
            .with(
                "inner",
                Value::Struct(Struct::new(inner).with("x", Value::Int32(5))),
            );
        let mut f = t(&[]);
        let out = run(
            &mut f,
            SchemaAndValue::new(Some(schema.clone()), Value::Struct(v)),
        )
        .unwrap();
        let expected = SchemaBuilder::struct_()
            .name("top")
            .field("id", Schema::string())
            .field("inner.x", Schema::optional_primitive(SchemaType::Int32))
            .build();
        assert_eq!(out.schema.as_deref(), Some(&*expected));
        assert_eq!(
            out.value,
            Value::Struct(
                Struct::new(expected.clone())
                    .with("id", Value::from("1"))
                    .with("inner.x", Value::Int32(5))
            )
        );
        // A null nested struct gives null fields.
        let v = Struct::new(schema.clone()).with("id", Value::from("2"));
        let out = run(&mut f, SchemaAndValue::new(Some(schema), Value::Struct(v))).unwrap();
        assert_eq!(
            out.value,
            Value::Struct(Struct::new(expected).with("id", Value::from("2")))
        );
    }
}
