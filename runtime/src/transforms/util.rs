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
        let (i, by_pointer) = match self.entries.iter().position(|(k, _)| Arc::ptr_eq(k, key)) {
            Some(i) => (i, true),
            None => (self.entries.iter().position(|(k, _)| **k == **key)?, false),
        };
        // Most recently used last.
        let mut e = self.entries.remove(i);
        if !by_pointer {
            // An equal schema in a new `Arc` (a source builds one per batch, say): the
            // records after this one come with it, so they are found by pointer.
            e.0 = key.clone();
        }
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn schema_cache_finds_equal_schemas_and_then_their_pointer() {
        let mut cache = SchemaCache::default();
        let (first, out) = (Schema::string(), Schema::optional_string());
        cache.put(first.clone(), out.clone());
        // A new `Arc` of an equal schema: found by value, and keyed by it from then on.
        let second = Schema::string();
        assert!(!Arc::ptr_eq(&first, &second));
        assert!(Arc::ptr_eq(&cache.get(&second).unwrap(), &out));
        assert!(Arc::ptr_eq(&cache.entries[0].0, &second));
        assert!(Arc::ptr_eq(&cache.get(&first).unwrap(), &out));
        assert!(cache.get(&Schema::optional_string()).is_none());
        // Least recently used out first, past Kafka's 16.
        for i in 0..CACHE_SIZE {
            let key = SchemaBuilder::int32()
                .version(i32::try_from(i).unwrap())
                .build();
            cache.put(key, out.clone());
        }
        assert_eq!(cache.entries.len(), CACHE_SIZE);
        assert!(cache.get(&first).is_none());
    }
}
