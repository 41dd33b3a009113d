//! `HeaderFrom`: copies or moves fields of the key or value into headers.

use crate::config::def::{ConfigKey, Validator};
use crate::config::{ConfigDef, ConfigType, Importance, ParsedConfig};
use crate::data::{ConnectRecord, Header, SchemaAndValue, SchemaBuilder, Struct, Value};
use crate::errors::{ConnectError, Result};
use crate::plugins::Plugin;
use crate::transforms::drop_headers::non_empty_list;
use crate::transforms::util::{
    SchemaCache, copy_schema_basics, field_value, map_get, replace_null_with_default_key,
    require_map, require_struct,
};
use crate::transforms::{Applied, RecordContext, Side, Transformation};

const PURPOSE: &str = "header extraction";

pub fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            ConfigKey::new("fields", ConfigType::List)
                .validator(Validator::Custom(non_empty_list))
                .importance(Importance::High)
                .doc("Field names in the record whose values are to be copied or moved to headers."),
        )
        .define(
            ConfigKey::new("headers", ConfigType::List)
                .validator(Validator::Custom(non_empty_list))
                .importance(Importance::High)
                .doc("Header names, in the same order as the field names listed in the fields configuration property."),
        )
        .define(
            ConfigKey::new("operation", ConfigType::String)
                .validator(Validator::OneOf(&["move", "copy"]))
                .importance(Importance::High)
                .doc(
                    "Either <code>move</code> if the fields are to be moved to the headers \
                     (removed from the key/value), or <code>copy</code> if the fields are to be \
                     copied to the headers (retained in the key/value).",
                ),
        )
        .define(replace_null_with_default_key())
}

pub struct HeaderFrom {
    side: Side,
    fields: Vec<String>,
    headers: Vec<String>,
    moving: bool,
    replace_null_with_default: bool,
    cache: SchemaCache,
}

impl HeaderFrom {
    pub fn new(c: &ParsedConfig, side: Side) -> Result<Self> {
        let fields = c.list("fields")?;
        let headers = c.list("headers")?;
        if fields.len() != headers.len() {
            return Err(ConnectError::config(
                "'fields' config must have the same number of elements as 'headers' config.",
            ));
        }
        Ok(HeaderFrom {
            side,
            fields,
            headers,
            moving: c.string("operation")? == Some("move"),
            replace_null_with_default: c.bool("replace.null.with.default")?,
            cache: SchemaCache::default(),
        })
    }
}

impl Transformation for HeaderFrom {
    fn apply_mut(&mut self, record: &mut ConnectRecord, _: &RecordContext) -> Result<Applied> {
        let operating = self.side.of(record);
        if operating.value.is_null() {
            return Ok(Applied::Kept);
        }
        let mut added = Vec::with_capacity(self.fields.len());
        let updated = match &operating.schema {
            None => {
                let m = require_map(&operating.value, PURPOSE)?;
                for (f, h) in self.fields.iter().zip(&self.headers) {
                    added.push(Header {
                        key: h.clone(),
                        value: SchemaAndValue::new(
                            None,
                            map_get(m, f).cloned().unwrap_or_default(),
                        ),
                    });
                }
                if !self.moving {
                    None
                } else {
                    let kept = m
                        .iter()
                        .filter(|(k, _)| {
                            !k.as_str()
                                .is_some_and(|k| self.fields.iter().any(|f| f == k))
                        })
                        .cloned()
                        .collect();
                    Some(SchemaAndValue::new(None, Value::Map(kept)))
                }
            }
            Some(_) => {
                let value = require_struct(&operating.value, PURPOSE)?;
                for (f, h) in self.fields.iter().zip(&self.headers) {
                    let Some(field) = value.schema.field(f) else {
                        return Err(ConnectError::data(format!("{f} is not a valid field name")));
                    };
                    added.push(Header {
                        key: h.clone(),
                        value: SchemaAndValue::new(
                            Some(field.schema.clone()),
                            field_value(value, field, self.replace_null_with_default),
                        ),
                    });
                }
                if !self.moving {
                    None
                } else {
                    let fields = &self.fields;
                    let schema = self.cache.get_or_try(&value.schema, || {
                        let mut b = copy_schema_basics(&value.schema, SchemaBuilder::struct_());
                        for f in value
                            .schema
                            .fields
                            .iter()
                            .filter(|f| !fields.contains(&f.name))
                        {
                            b = b.field(&f.name, f.schema.clone());
                        }
                        Ok(b.build())
                    })?;
                    let mut s = Struct::new(schema.clone());
                    for f in value
                        .schema
                        .fields
                        .iter()
                        .filter(|f| !fields.contains(&f.name))
                    {
                        s.put(
                            &f.name,
                            field_value(value, f, self.replace_null_with_default),
                        );
                    }
                    Some(SchemaAndValue::new(Some(schema), Value::Struct(s)))
                }
            }
        };
        if let Some(u) = updated {
            *self.side.of_mut(record) = u;
        }
        record.headers.extend(added);
        Ok(Applied::Kept)
    }
}

pub fn plugins() -> Vec<Plugin> {
    use crate::transforms::plugins::transform;
    vec![
        transform(
            "org.apache.kafka.connect.transforms.HeaderFrom$Key",
            |c| Ok(Box::new(HeaderFrom::new(c, Side::Key)?)),
            config_def,
        ),
        transform(
            "org.apache.kafka.connect.transforms.HeaderFrom$Value",
            |c| Ok(Box::new(HeaderFrom::new(c, Side::Value)?)),
            config_def,
        ),
    ]
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::props;
    use crate::data::{Schema, SchemaType};
    use crate::transforms::util::string_map;

    fn t(op: &str) -> HeaderFrom {
        HeaderFrom::new(
            &config_def()
                .parse(&props(&[
                    ("fields", "a,b"),
                    ("headers", "h1,h2"),
                    ("operation", op),
                ]))
                .unwrap(),
            Side::Value,
        )
        .unwrap()
    }

    #[test]
    fn schemaless_copy_and_move() {
        let v = string_map(vec![
            ("a".into(), Value::from("x")),
            ("b".into(), Value::Int32(1)),
            ("c".into(), Value::Boolean(true)),
        ]);
        let r = ConnectRecord {
            value: SchemaAndValue::new(None, v.clone()),
            ..Default::default()
        };
        let out = t("copy")
            .apply(r.clone(), &RecordContext::default())
            .unwrap()
            .unwrap();
        assert_eq!(out.value.value, v);
        let hs: Vec<(String, Value)> = out
            .headers
            .iter()
            .map(|h| (h.key.clone(), h.value.value.clone()))
            .collect();
        assert_eq!(
            hs,
            vec![
                ("h1".into(), Value::from("x")),
                ("h2".into(), Value::Int32(1))
            ]
        );
        let out = t("move")
            .apply(r, &RecordContext::default())
            .unwrap()
            .unwrap();
        assert_eq!(
            out.value.value,
            string_map(vec![("c".into(), Value::Boolean(true))])
        );
        assert_eq!(out.headers.len(), 2);
    }

    #[test]
    fn with_schema_move_drops_the_fields() {
        let schema = SchemaBuilder::struct_()
            .field("a", Schema::string())
            .field("b", Schema::primitive(SchemaType::Int32))
            .field("c", Schema::primitive(SchemaType::Boolean))
            .build();
        let v = Struct::new(schema.clone())
            .with("a", Value::from("x"))
            .with("b", Value::Int32(1))
            .with("c", Value::Boolean(true));
        let r = ConnectRecord {
            value: SchemaAndValue::new(Some(schema), Value::Struct(v)),
            ..Default::default()
        };
        let out = t("move")
            .apply(r, &RecordContext::default())
            .unwrap()
            .unwrap();
        let expected = SchemaBuilder::struct_()
            .field("c", Schema::primitive(SchemaType::Boolean))
            .build();
        assert_eq!(out.value.schema.as_deref(), Some(&*expected));
        assert_eq!(
            out.headers[0].value,
            SchemaAndValue::new(Some(Schema::string()), Value::from("x"))
        );
        assert!(
            HeaderFrom::new(
                &config_def()
                    .parse(&props(&[
                        ("fields", "a,b"),
                        ("headers", "h1"),
                        ("operation", "copy")
                    ]))
                    .unwrap(),
                Side::Key
            )
            .is_err()
        );
        assert_eq!(
            config_def()
                .parse(&props(&[
                    ("fields", "a"),
                    ("headers", "h1"),
                    ("operation", "cut")
                ]))
                .unwrap_err()
                .to_string(),
            "Invalid value cut for configuration operation: String must be one of: move, copy"
        );
    }
}
