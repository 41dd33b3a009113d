//! What several transforms share: Kafka's `Requirements`, `SchemaUtil` and schema caches.

use std::sync::Arc;

use crate::config::{ConfigKey, ConfigType, Importance};
use crate::data::{Field, Schema, SchemaBuilder, SchemaRef, Struct, Value};
use crate::errors::{ConnectError, Result};

/// The Java class Kafka Connect holds for a value, as its error messages name it.
pub fn java_class(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Int8(_) => "java.lang.Byte",
        Value::Int16(_) => "java.lang.Short",
        Value::Int32(_) => "java.lang.Integer",
        Value::Int64(_) => "java.lang.Long",
        Value::Float32(_) => "java.lang.Float",
        Value::Float64(_) => "java.lang.Double",
        Value::Boolean(_) => "java.lang.Boolean",
        Value::String(_) => "java.lang.String",
        Value::Bytes(_) => "[B",
        Value::Array(_) => "java.util.ArrayList",
        Value::Map(_) => "java.util.HashMap",
        Value::Struct(_) => "org.apache.kafka.connect.data.Struct",
        Value::Decimal(_) => "java.math.BigDecimal",
        Value::Date(_) | Value::Time(_) | Value::Timestamp(_) => "java.util.Date",
    }
}

/// `Requirements.requireStruct`.
pub fn require_struct<'a>(v: &'a Value, purpose: &str) -> Result<&'a Struct> {
    match v {
        Value::Struct(s) => Ok(s),
        other => Err(ConnectError::data(format!(
            "Only Struct objects supported for [{purpose}], found: {}",
            java_class(other)
        ))),
    }
}

/// `Requirements.requireMap`: a schemaless map.
pub fn require_map<'a>(v: &'a Value, purpose: &str) -> Result<&'a [(Value, Value)]> {
    match v {
        Value::Map(m) => Ok(m),
        other => Err(ConnectError::data(format!(
            "Only Map objects supported in absence of schema for [{purpose}], found: {}",
            java_class(other)
        ))),
    }
}

/// `Requirements.requireSchema`.
pub fn require_schema<'a>(s: &'a Option<SchemaRef>, purpose: &str) -> Result<&'a SchemaRef> {
    s.as_ref()
        .ok_or_else(|| ConnectError::data(format!("Schema required for [{purpose}]")))
}

/// The value under a string key of a schemaless map (`Map.get`).
pub fn map_get<'a>(m: &'a [(Value, Value)], key: &str) -> Option<&'a Value> {
    m.iter()
        .rev()
        .find(|(k, _)| k.as_str() == Some(key))
        .map(|(_, v)| v)
}

/// `Struct.get` (the field's default for a null) or `Struct.getWithoutDefault`.
pub fn field_value(s: &Struct, f: &Field, replace_null_with_default: bool) -> Value {
    let v = s.values.get(f.index).cloned().unwrap_or_default();
    if v.is_null() && replace_null_with_default {
        f.schema.default.clone().unwrap_or_default()
    } else {
        v
    }
}

/// `SchemaUtil.copySchemaBasics`: name, version, doc and parameters (not optionality).
pub fn copy_schema_basics(source: &Schema, mut builder: SchemaBuilder) -> SchemaBuilder {
    if let Some(n) = &source.name {
        builder = builder.name(n.clone());
    }
    if let Some(v) = source.version {
        builder = builder.version(v);
    }
    if let Some(d) = &source.doc {
        builder = builder.doc(d.clone());
    }
    if let Some(p) = &source.parameters {
        for (k, v) in p.iter() {
            builder = builder.parameter(k.clone(), v.clone());
        }
    }
    builder
}

/// A builder starting from a copy of `schema` (type, optionality, default, basics).
pub fn builder_like(schema: &Schema) -> SchemaBuilder {
    let mut b = copy_schema_basics(schema, SchemaBuilder::new(schema.ty));
    if schema.optional {
        b = b.optional();
    }
    if let Some(d) = &schema.default {
        b = b.default_value(d.clone());
    }
    b
}

/// An updated-schema cache keyed by the input schema: Kafka's `LRUCache(16)`. Looks up by
/// pointer first, so a converter that reuses its schema `Arc` pays no comparison.
#[derive(Debug, Default)]
pub struct SchemaCache {
    entries: Vec<(SchemaRef, SchemaRef)>,
}

const CACHE_SIZE: usize = 16;

impl SchemaCache {
    pub fn get(&mut self, key: &SchemaRef) -> Option<SchemaRef> {
        // The most recently used: a task mostly sees one schema.
        if let Some((k, v)) = self.entries.last()
            && Arc::ptr_eq(k, key)
        {
            return Some(v.clone());
        }
        let i = self
            .entries
            .iter()
            .position(|(k, _)| Arc::ptr_eq(k, key))
            .or_else(|| self.entries.iter().position(|(k, _)| **k == **key))?;
        // Most recently used last.
        let e = self.entries.remove(i);
        let out = e.1.clone();
        self.entries.push(e);
        Some(out)
    }

    pub fn put(&mut self, key: SchemaRef, value: SchemaRef) {
        if self.entries.len() >= CACHE_SIZE {
            self.entries.remove(0);
        }
        self.entries.push((key, value));
    }

    /// The cached value for `key`, or `make`'s, cached.
    pub fn get_or_try(
        &mut self,
        key: &SchemaRef,
        make: impl FnOnce() -> Result<SchemaRef>,
    ) -> Result<SchemaRef> {
        if let Some(s) = self.get(key) {
            return Ok(s);
        }
        let s = make()?;
        self.put(key.clone(), s.clone());
        Ok(s)
    }
}

/// `replace.null.with.default`, which most of Kafka's transforms declare.
pub fn replace_null_with_default_key() -> ConfigKey {
    ConfigKey::new("replace.null.with.default", ConfigType::Boolean)
        .default_value("true")
        .importance(Importance::Medium)
        .doc(
            "Whether to replace fields that have a default value and that are null to the \
             default value. When set to true, the default value is used, otherwise null is used.",
        )
}

/// Checks required struct fields are set: `Struct.validate`'s message.
pub fn validate_struct(s: &Struct) -> Result<()> {
    for f in &s.schema.fields {
        let v = s.values.get(f.index).unwrap_or(&Value::Null);
        if v.is_null() && !f.schema.optional && f.schema.default.is_none() {
            return Err(ConnectError::data(format!(
                "Invalid value: null used for required field: \"{}\", schema type: {}",
                f.name, f.schema.ty
            )));
        }
    }
    Ok(())
}

/// A string-keyed schemaless map from entries.
pub fn string_map(entries: Vec<(String, Value)>) -> Value {
    Value::Map(
        entries
            .into_iter()
            .map(|(k, v)| (Value::String(k), v))
            .collect(),
    )
}
