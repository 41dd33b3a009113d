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

    /// `Requirements.requireSinkRecord` when an offset field is configured: checked before
    /// the record changes, so a failure leaves it as it came.
    fn check_offset(&self, ctx: &RecordContext) -> Result<()> {
        if self.offset.is_some() && ctx.kafka_offset.is_none() {
            return Err(ConnectError::data(format!(
                "Only SinkRecord supported for [{PURPOSE}], found: org.apache.kafka.connect.source.SourceRecord"
            )));
        }
        Ok(())
    }

    /// Hands each field to insert, with its value, to `put`, in Kafka's order (the order of
    /// `updated_schema`'s fields). Per record: nothing here allocates beyond the values, and
    /// they go straight to where `put` keeps them. The caller has run `check_offset`, so a
    /// configured offset field always has its offset here.
    fn each_inserted<'a>(
        &'a self,
        meta: &Meta<'_>,
        ctx: &RecordContext,
        with_schema: bool,
        mut put: impl FnMut(&'a FieldSpec, Value),
    ) {
        if let Some(f) = &self.topic {
            put(f, Value::String(meta.topic.to_owned()));
        }
        if let Some(f) = &self.partition {
            put(f, meta.partition.map_or(Value::Null, Value::Int32));
        }
        if let (Some(f), Some(off)) = (&self.offset, ctx.kafka_offset) {
            put(f, Value::Int64(off));
        }
        if let Some(f) = &self.timestamp {
            let v = match meta.timestamp {
                None => Value::Null,
                Some(t) if with_schema => Value::Timestamp(t),
                Some(t) => Value::Int64(t),
            };
            put(f, v);
        }
        if let (Some(f), Some(v)) = (&self.static_field, &self.static_value) {
            put(f, Value::String(v.clone()));
        }
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

/// What InsertField reads from a record besides the key or value it changes.
struct Meta<'r> {
    topic: &'r str,
    partition: Option<i32>,
    timestamp: Option<i64>,
}

impl Transformation for InsertField {
    fn apply_mut(&mut self, record: &mut ConnectRecord, ctx: &RecordContext) -> Result<Applied> {
        // The record's parts apart: the inserted values read its topic, partition and
        // timestamp while its key or value grows in place.
        let ConnectRecord {
            topic,
            partition,
            timestamp,
            key,
            value,
            ..
        } = record;
        let meta = Meta {
            topic,
            partition: *partition,
            timestamp: *timestamp,
        };
        let slot = match self.side {
            Side::Key => key,
            Side::Value => value,
        };
        // Tombstones pass through untouched.
        if slot.value.is_null() {
            return Ok(Applied::Kept);
        }
        if slot.schema.is_none() {
            let Value::Map(out) = &mut slot.value else {
                // Not a map: `require_map` fails with Kafka's message.
                require_map(&slot.value, PURPOSE)?;
                return Ok(Applied::Kept);
            };
            self.check_offset(ctx)?;
            // The record is ours: its map grows in place; a key already there is replaced.
            self.each_inserted(&meta, ctx, false, |f, v| {
                out.retain(|(k, _)| k.as_str() != Some(f.name.as_str()));
                out.push((Value::String(f.name.clone()), v));
            });
            return Ok(Applied::Kept);
        }
        let Value::Struct(st) = &mut slot.value else {
            // Not a struct: `require_struct` fails with Kafka's message.
            require_struct(&slot.value, PURPOSE)?;
            return Ok(Applied::Kept);
        };
        let schema = match self.cache.get(&st.schema) {
            Some(s) => s,
            None => {
                let s = self.updated_schema(&st.schema)?;
                self.cache.put(st.schema.clone(), s.clone());
                s
            }
        };
        self.check_offset(ctx)?;
        // The record is ours: its struct grows in place. The new schema is the old fields,
        // then the inserted ones in `each_inserted`'s order (`updated_schema`).
        let old = st.schema.fields.len();
        st.values.resize(old, Value::Null);
        if self.replace_null_with_default {
            for (f, v) in st.schema.fields.iter().zip(st.values.iter_mut()) {
                if v.is_null() {
                    *v = f.schema.default.clone().unwrap_or_default();
                }
            }
        }
        st.values.reserve(schema.fields.len().saturating_sub(old));
        self.each_inserted(&meta, ctx, true, |_, v| st.values.push(v));
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

    /// offset.field on a source record fails before the struct grows: the record stays as
    /// it came, for the error report.
    #[test]
    fn offset_field_on_a_source_record_leaves_the_struct_as_it_came() {
        let mut t = t(ALL).unwrap();
        let schema = SchemaBuilder::struct_()
            .field("magic", Schema::primitive(SchemaType::Int64))
            .build();
        let value = SchemaAndValue::new(
            Some(schema.clone()),
            Value::Struct(Struct::new(schema).with("magic", Value::Int64(42))),
        );
        let mut record = rec(value.clone());
        let err = t
            .apply_mut(&mut record, &RecordContext::default())
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Only SinkRecord supported for [field insertion], found: org.apache.kafka.connect.source.SourceRecord"
        );
        assert_eq!(record, rec(value));
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
