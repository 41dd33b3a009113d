//! `InsertField`: adds the record's topic, partition, offset, timestamp or a static value
//! as fields of the key or value.

use crate::config::def::ConfigKey;
use crate::config::{ConfigDef, ConfigType, Importance, ParsedConfig};
use crate::data::{ConnectRecord, Schema, SchemaBuilder, SchemaType, Value, logical};
use crate::errors::{ConnectError, Result};
use crate::plugins::Plugin;
use crate::transforms::util::{
    SchemaCache, copy_schema_basics, replace_null_with_default_key, require_map, require_struct,
    validate_struct,
};
use crate::transforms::{Applied, RecordContext, Side, Transformation};

const PURPOSE: &str = "field insertion";

fn field_key(name: &str, doc: &str) -> ConfigKey {
    ConfigKey::new(name, ConfigType::String)
        .default_null()
        .importance(Importance::Medium)
        .doc(doc)
}

const OPTIONALITY: &str = "Suffix with <code>!</code> to make this a required field, or <code>?</code> to keep it \
     optional (the default).";

pub fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(field_key(
            "topic.field",
            &format!("Field name for Kafka topic. {OPTIONALITY}"),
        ))
        .define(field_key(
            "partition.field",
            &format!("Field name for Kafka partition. {OPTIONALITY}"),
        ))
        .define(field_key(
            "offset.field",
            &format!(
                "Field name for Kafka offset - only applicable to sink connectors.<br/>{OPTIONALITY}"
            ),
        ))
        .define(field_key(
            "timestamp.field",
            &format!("Field name for record timestamp. {OPTIONALITY}"),
        ))
        .define(field_key(
            "static.field",
            &format!("Field name for static data field. {OPTIONALITY}"),
        ))
        .define(field_key("static.value", "Static field value, if field name configured."))
        .define(replace_null_with_default_key())
}

/// A field name with its `!`/`?` suffix read.
#[derive(Debug, Clone)]
struct FieldSpec {
    name: String,
    optional: bool,
}

fn spec(c: &ParsedConfig, key: &str) -> Result<Option<FieldSpec>> {
    Ok(c.string(key)?.map(|s| {
        if let Some(n) = s.strip_suffix('!') {
            FieldSpec {
                name: n.to_owned(),
                optional: false,
            }
        } else {
            FieldSpec {
                name: s.strip_suffix('?').unwrap_or(s).to_owned(),
                optional: true,
            }
        }
    }))
}

pub struct InsertField {
    side: Side,
    topic: Option<FieldSpec>,
    partition: Option<FieldSpec>,
    offset: Option<FieldSpec>,
    timestamp: Option<FieldSpec>,
    static_field: Option<FieldSpec>,
    static_value: Option<String>,
    replace_null_with_default: bool,
    cache: SchemaCache,
}

impl InsertField {
    pub fn new(c: &ParsedConfig, side: Side) -> Result<Self> {
        let t = InsertField {
            side,
            topic: spec(c, "topic.field")?,
            partition: spec(c, "partition.field")?,
            offset: spec(c, "offset.field")?,
            timestamp: spec(c, "timestamp.field")?,
            static_field: spec(c, "static.field")?,
            static_value: c.string("static.value")?.map(str::to_owned),
            replace_null_with_default: c.bool("replace.null.with.default")?,
            cache: SchemaCache::default(),
        };
        if t.topic.is_none()
            && t.partition.is_none()
            && t.offset.is_none()
            && t.timestamp.is_none()
            && t.static_field.is_none()
        {
            return Err(ConnectError::config("No field insertion configured"));
        }
        if let (Some(f), None) = (&t.static_field, &t.static_value) {
            return Err(ConnectError::config(format!(
                "Invalid value null for configuration static.value: No value specified for static field: {}",
                f.name
            )));
        }
        Ok(t)
    }

    /// The fields to insert, in Kafka's order: (spec, schema type or logical, value).
    /// Hands each field to insert, with its value, to `put`; per record, so nothing here
    /// allocates beyond the values themselves.
    fn each_inserted<'a>(
        &'a self,
        record: &ConnectRecord,
        ctx: &RecordContext,
        with_schema: bool,
        mut put: impl FnMut(&'a FieldSpec, Value),
    ) -> Result<()> {
        if let Some(f) = &self.topic {
            put(f, Value::String(record.topic.clone()));
        }
        if let Some(f) = &self.partition {
            put(f, record.partition.map_or(Value::Null, Value::Int32));
        }
        if let Some(f) = &self.offset {
            let Some(off) = ctx.kafka_offset else {
                return Err(ConnectError::data(format!(
                    "Only SinkRecord supported for [{PURPOSE}], found: org.apache.kafka.connect.source.SourceRecord"
                )));
            };
            put(f, Value::Int64(off));
        }
        if let Some(f) = &self.timestamp {
            let v = match record.timestamp {
                None => Value::Null,
                Some(t) if with_schema => Value::Timestamp(t),
                Some(t) => Value::Int64(t),
            };
            put(f, v);
        }
        if let (Some(f), Some(v)) = (&self.static_field, &self.static_value) {
            put(f, Value::String(v.clone()));
        }
        Ok(())
    }

    /// The inserted fields and their values for a record, in `each_inserted`'s order, and how
    /// many: at most one field of each of the five kinds, kept on the stack, not in a vector
    /// allocated per record.
    fn inserted(
        &self,
        record: &ConnectRecord,
        ctx: &RecordContext,
        with_schema: bool,
    ) -> Result<(Inserted<'_>, usize)> {
        let mut inserted: Inserted<'_> = Default::default();
        let mut n = 0;
        self.each_inserted(record, ctx, with_schema, |f, v| {
            if let Some(slot) = inserted.get_mut(n) {
                *slot = Some((f, v));
                n += 1;
            } else {
                debug_assert!(false, "InsertField inserts more than five fields");
            }
        })?;
        Ok((inserted, n))
    }

    /// The struct schema with the inserted fields appended. A name taken twice fails as
    /// Kafka's `SchemaBuilder` does.
    fn updated_schema(&self, schema: &Schema) -> Result<crate::data::SchemaRef> {
        let mut b = copy_schema_basics(schema, SchemaBuilder::struct_());
        for f in &schema.fields {
            b = b.field(&f.name, f.schema.clone());
        }
        let prim = |ty: SchemaType, optional: bool| {
            if optional {
                Schema::optional_primitive(ty)
            } else {
                Schema::primitive(ty)
            }
        };
        if let Some(f) = &self.topic {
            b = b.field(&f.name, prim(SchemaType::String, f.optional));
        }
        if let Some(f) = &self.partition {
            b = b.field(&f.name, prim(SchemaType::Int32, f.optional));
        }
        if let Some(f) = &self.offset {
            b = b.field(&f.name, prim(SchemaType::Int64, f.optional));
        }
        if let Some(f) = &self.timestamp {
            let ts = logical::timestamp();
            b = b.field(&f.name, if f.optional { ts.optional() } else { ts }.build());
        }
        if let Some(f) = &self.static_field {
            b = b.field(&f.name, prim(SchemaType::String, f.optional));
        }
        let s = b.build();
        for (i, f) in s.fields.iter().enumerate() {
            if s.fields[..i].iter().any(|g| g.name == f.name) {
                return Err(ConnectError::data(format!(
                    "Cannot create field because of field name duplication {}",
                    f.name
                )));
            }
        }
        Ok(s)
    }
}

/// The fields a record gets, each with its value (see [`InsertField::inserted`]).
type Inserted<'a> = [Option<(&'a FieldSpec, Value)>; 5];

impl Transformation for InsertField {
    fn apply_mut(&mut self, record: &mut ConnectRecord, ctx: &RecordContext) -> Result<Applied> {
        let operating = self.side.of(record);
        // Tombstones pass through untouched.
        if operating.value.is_null() {
            return Ok(Applied::Kept);
        }
        if operating.schema.is_none() {
            require_map(&operating.value, PURPOSE)?;
            let (inserted, n) = self.inserted(record, ctx, false)?;
            // The record is ours: extend its map in place instead of copying it.
            if let Value::Map(out) = &mut self.side.of_mut(record).value {
                out.reserve(n);
                for (f, v) in inserted.into_iter().flatten() {
                    out.retain(|(k, _)| k.as_str() != Some(f.name.as_str()));
                    out.push((Value::String(f.name.clone()), v));
                }
            }
            return Ok(Applied::Kept);
        }
        let schema = {
            let value = require_struct(&operating.value, PURPOSE)?;
            match self.cache.get(&value.schema) {
                Some(s) => s,
                None => {
                    let s = self.updated_schema(&value.schema)?;
                    self.cache.put(value.schema.clone(), s.clone());
                    s
                }
            }
        };
        // The inserted values first, as they read the record.
        let (inserted, _) = self.inserted(record, ctx, true)?;
        // The record is ours: its struct grows in place. The new schema is the old fields,
        // then the inserted ones in `each_inserted`'s order (`updated_schema`).
        let slot = self.side.of_mut(record);
        let Value::Struct(st) = &mut slot.value else {
            return Err(ConnectError::internal(
                "InsertField: the value checked to be a Struct is not one",
            ));
        };
        st.values.resize(st.schema.fields.len(), Value::Null);
        if self.replace_null_with_default {
            for (f, v) in st.schema.fields.iter().zip(st.values.iter_mut()) {
                if v.is_null() {
                    *v = f.schema.default.clone().unwrap_or_default();
                }
            }
        }
        st.values
            .extend(inserted.into_iter().flatten().map(|(_, v)| v));
        st.schema = schema.clone();
        validate_struct(st)?;
        slot.schema = Some(schema);
        Ok(Applied::Kept)
    }
}

pub fn plugins() -> Vec<Plugin> {
    use crate::transforms::plugins::transform;
    vec![
        transform(
            "org.apache.kafka.connect.transforms.InsertField$Key",
            |c| Ok(Box::new(InsertField::new(c, Side::Key)?)),
            config_def,
        ),
        transform(
            "org.apache.kafka.connect.transforms.InsertField$Value",
            |c| Ok(Box::new(InsertField::new(c, Side::Value)?)),
            config_def,
        ),
    ]
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::props;
    use crate::data::{SchemaAndValue, Struct};
    use crate::transforms::util::string_map;

    fn t(p: &[(&str, &str)]) -> Result<InsertField> {
        InsertField::new(&config_def().parse(&props(p))?, Side::Value)
    }

    fn rec(value: SchemaAndValue) -> ConnectRecord {
        ConnectRecord {
            topic: "orders".into(),
            partition: Some(2),
            value,
            timestamp: Some(1_000),
            ..Default::default()
        }
    }

    const ALL: &[(&str, &str)] = &[
        ("topic.field", "topic_field!"),
        ("partition.field", "partition_field"),
        ("offset.field", "offset_field"),
        ("timestamp.field", "timestamp_field?"),
        ("static.field", "instance_id"),
        ("static.value", "my-instance-id"),
    ];

    #[test]
    fn schemaless_sink_record() {
        let mut t = t(ALL).unwrap();
        let v = string_map(vec![("magic".into(), Value::Int64(42))]);
        let out = t
            .apply(
                rec(SchemaAndValue::new(None, v)),
                &RecordContext {
                    kafka_offset: Some(7),
                },
            )
            .unwrap()
            .unwrap();
        assert_eq!(
            out.value.value,
            string_map(vec![
                ("magic".into(), Value::Int64(42)),
                ("topic_field".into(), Value::from("orders")),
                ("partition_field".into(), Value::Int32(2)),
                ("offset_field".into(), Value::Int64(7)),
                ("timestamp_field".into(), Value::Int64(1_000)),
                ("instance_id".into(), Value::from("my-instance-id")),
            ])
        );
        // offset.field needs a sink record.
        let err = t
            .apply(
                rec(SchemaAndValue::new(None, string_map(vec![]))),
                &RecordContext::default(),
            )
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Only SinkRecord supported for [field insertion], found: org.apache.kafka.connect.source.SourceRecord"
        );
    }

    /// Kafka's `SchemaBuilder` refuses a field name twice: so does the struct path, whose
    /// values are laid out by position.
    #[test]
    fn a_field_name_taken_twice_is_an_error() {
        let schema = SchemaBuilder::struct_()
            .field("origin", Schema::optional_string())
            .build();
        let v = Struct::new(schema.clone()).with("origin", Value::from("db"));
        for config in [
            &[("static.field", "origin"), ("static.value", "ferry")][..],
            &[
                ("topic.field", "where"),
                ("static.field", "where"),
                ("static.value", "ferry"),
            ][..],
        ] {
            let err = t(config)
                .unwrap()
                .apply(
                    rec(SchemaAndValue::new(
                        Some(schema.clone()),
                        Value::Struct(v.clone()),
                    )),
                    &RecordContext::default(),
                )
                .unwrap_err();
            assert!(
                err.to_string()
                    .starts_with("Cannot create field because of field name duplication "),
                "{err}"
            );
        }
    }

    #[test]
    fn with_schema_and_tombstones() {
        let mut t = t(ALL).unwrap();
        let schema = SchemaBuilder::struct_()
            .name("name")
            .version(1)
            .doc("doc")
            .field("magic", Schema::primitive(SchemaType::Int64))
            .build();
        let v = Struct::new(schema.clone()).with("magic", Value::Int64(42));
        let ctx = RecordContext {
            kafka_offset: Some(7),
        };
        let out = t
            .apply(
                rec(SchemaAndValue::new(Some(schema.clone()), Value::Struct(v))),
                &ctx,
            )
            .unwrap()
            .unwrap();
        let s = out.value.schema.clone().unwrap();
        assert_eq!(s.name.as_deref(), Some("name"));
        assert_eq!(s.version, Some(1));
        assert_eq!(s.doc.as_deref(), Some("doc"));
        let names: Vec<(&str, SchemaType, bool)> = s
            .fields
            .iter()
            .map(|f| (f.name.as_str(), f.schema.ty, f.schema.optional))
            .collect();
        assert_eq!(
            names,
            vec![
                ("magic", SchemaType::Int64, false),
                ("topic_field", SchemaType::String, false),
                ("partition_field", SchemaType::Int32, true),
                ("offset_field", SchemaType::Int64, true),
                ("timestamp_field", SchemaType::Int64, true),
                ("instance_id", SchemaType::String, true),
            ]
        );
        assert_eq!(
            s.field("timestamp_field").unwrap().schema.name.as_deref(),
            Some(logical::TIMESTAMP)
        );
        let Value::Struct(st) = &out.value.value else {
            panic!()
        };
        assert_eq!(st.get("timestamp_field"), Some(&Value::Timestamp(1_000)));
        assert_eq!(st.get("offset_field"), Some(&Value::Int64(7)));
        // Tombstones pass through.
        let tomb = rec(SchemaAndValue::new(Some(schema), Value::Null));
        assert_eq!(t.apply(tomb.clone(), &ctx).unwrap().unwrap(), tomb);
    }

    #[test]
    fn config_errors() {
        assert_eq!(
            t(&[]).err().unwrap().to_string(),
            "No field insertion configured"
        );
        assert_eq!(
            t(&[("static.field", "s")]).err().unwrap().to_string(),
            "Invalid value null for configuration static.value: No value specified for static field: s"
        );
    }
}
