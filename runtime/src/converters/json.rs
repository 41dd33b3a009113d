//! `org.apache.kafka.connect.json.JsonConverter`: Connect data as JSON, by default
//! wrapped in a `{"schema":...,"payload":...}` envelope.
//!
//! The bytes written are the ones Kafka's Jackson-based converter writes: the same field
//! order in schemas, the same number formatting (`Double.toString`, `BigDecimal.toString`),
//! the same string escapes and the same base64. Reading follows Kafka too, including its
//! quirks (leading zeros in numbers are accepted, anything after the first JSON value is
//! ignored, integral numbers become `Int64` and others `Float64` without a schema). Where
//! Kafka silently produces a wrong value from bad input (a string for an `int32` field, a
//! number out of range) this converter reports a data error instead.

use std::borrow::Cow;
use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::{self, Write as _};
use std::hash::{Hash, Hasher};
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bigdecimal::BigDecimal;
use bigdecimal::num_bigint::BigInt;

use self::parser::{Json, Obj};
use super::{Converter, ConverterConfig};
use crate::data::{
    Field, Header, Schema, SchemaAndValue, SchemaBuilder, SchemaRef, SchemaType, Struct, Value,
    logical,
};
use crate::errors::{ConnectError, Result};

const SCHEMAS_ENABLE_CONFIG: &str = "schemas.enable";
const SCHEMAS_CACHE_SIZE_CONFIG: &str = "schemas.cache.size";
const DECIMAL_FORMAT_CONFIG: &str = "decimal.format";
const REPLACE_NULL_WITH_DEFAULT_CONFIG: &str = "replace.null.with.default";

/// The keys JsonConverter reads, as Kafka's `JsonConverterConfig` declares them (for
/// `GET /connector-plugins/JsonConverter/config` and docs/configuration.md).
pub fn config_def() -> crate::config::ConfigDef {
    use crate::config::def::Recommender;
    use crate::config::{ConfigDef, ConfigKey, ConfigType, Importance};
    ConfigDef::new()
        .define(
            ConfigKey::new(SCHEMAS_ENABLE_CONFIG, ConfigType::Boolean)
                .default_value("true")
                .importance(Importance::High)
                .doc("Include schemas within each of the serialized values and keys."),
        )
        .define(
            ConfigKey::new(SCHEMAS_CACHE_SIZE_CONFIG, ConfigType::Int)
                .default_value("1000")
                .importance(Importance::High)
                .doc("The maximum number of schemas that can be cached in this converter instance."),
        )
        .define(
            ConfigKey::new(DECIMAL_FORMAT_CONFIG, ConfigType::String)
                .default_value("BASE64")
                .recommender(Recommender::Values(&["BASE64", "NUMERIC"]))
                .importance(Importance::Low)
                .doc("Controls which format this converter will serialize decimals in. This value is case insensitive and can be either 'BASE64' (default) or 'NUMERIC'"),
        )
        .define(
            ConfigKey::new(REPLACE_NULL_WITH_DEFAULT_CONFIG, ConfigType::Boolean)
                .default_value("true")
                .importance(Importance::Low)
                .doc("Whether to replace fields that have a default value and that are null to the default value. When set to true, the default value is used, otherwise null is used."),
        )
}

const ENVELOPE_ERROR: &str = "JsonConverter with schemas.enable requires \"schema\" and \"payload\" fields and may not contain additional fields. If you are trying to deserialize plain JSON data, set schemas.enable=false in your converter configuration.";

const MILLIS_PER_DAY: i64 = 24 * 60 * 60 * 1000;

/// How `org.apache.kafka.connect.data.Decimal` values are written (`decimal.format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DecimalFormat {
    /// Base64 of the unscaled value's two's-complement big-endian bytes (Kafka's default).
    Base64,
    /// A plain JSON number.
    Numeric,
}

/// Kafka Connect's `JsonConverter`.
pub struct JsonConverter {
    schemas_enabled: bool,
    decimal_format: DecimalFormat,
    replace_null_with_default: bool,
    /// Schema JSON written for Connect schemas, keyed by a structural hash of the schema.
    from_connect_schemas: Mutex<Lru<(SchemaRef, Arc<str>)>>,
    /// The schema last written and its JSON: a task's records mostly share one schema
    /// object, which is then found by pointer, without hashing the whole schema again.
    /// Holding the `Arc` keeps the pointer from being reused by another schema.
    last_written: Mutex<Option<(SchemaRef, Arc<str>)>>,
    /// `schemas.cache.size` > 0: whether schemas are cached at all.
    caching: bool,
    /// Connect schemas parsed from schema JSON, keyed by a hash of the schema's JSON text.
    to_connect_schemas: Mutex<Lru<(Box<str>, SchemaRef)>>,
    /// The size of the last serialised record, to allocate the next one's buffer once.
    size_hint: AtomicUsize,
    /// How the struct schema written last lays out its fields, found by pointer: a task's
    /// records mostly share one schema object.
    last_plan: Mutex<Option<(SchemaRef, StructPlan)>>,
}

/// What writing a struct's fields needs besides their values, worked out once per schema:
/// each field's key as JSON text (`,"name":`), and which logical type it has, so neither
/// the name's escaping nor the logical type names' comparisons recur per record.
struct StructPlan {
    keys: Vec<Box<str>>,
    kinds: Vec<FieldKind>,
}

#[derive(Clone, Copy)]
enum FieldKind {
    Date,
    Time,
    Timestamp,
    Decimal,
    /// A primitive type without a logical one: written straight from the value.
    Primitive(SchemaType),
    Other,
}

impl FieldKind {
    fn of(schema: &Schema) -> Self {
        match schema.name.as_deref() {
            Some(logical::DATE) => FieldKind::Date,
            Some(logical::TIME) => FieldKind::Time,
            Some(logical::TIMESTAMP) => FieldKind::Timestamp,
            Some(logical::DECIMAL) => FieldKind::Decimal,
            _ if schema.ty.is_primitive() => FieldKind::Primitive(schema.ty),
            _ => FieldKind::Other,
        }
    }
}

impl fmt::Debug for JsonConverter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsonConverter")
            .field("schemas_enabled", &self.schemas_enabled)
            .field("decimal_format", &self.decimal_format)
            .field("replace_null_with_default", &self.replace_null_with_default)
            .finish_non_exhaustive()
    }
}

impl JsonConverter {
    /// Configures a converter from its settings (`schemas.enable`, `schemas.cache.size`,
    /// `decimal.format`, `replace.null.with.default`), validated as Kafka's `ConfigDef` does.
    pub fn new(config: &ConverterConfig, _is_key: bool) -> Result<Self> {
        let schemas_enabled = config_bool(config, SCHEMAS_ENABLE_CONFIG, true)?;
        let cache_size = config_int(config, SCHEMAS_CACHE_SIZE_CONFIG, 1000)?;
        let decimal_format = match config.get(DECIMAL_FORMAT_CONFIG) {
            None => DecimalFormat::Base64,
            Some(raw) => {
                let trimmed = raw.trim();
                if trimmed.eq_ignore_ascii_case("BASE64") {
                    DecimalFormat::Base64
                } else if trimmed.eq_ignore_ascii_case("NUMERIC") {
                    DecimalFormat::Numeric
                } else {
                    return Err(ConnectError::config(format!(
                        "Invalid value {raw} for configuration {DECIMAL_FORMAT_CONFIG}: String must be one of (case insensitive): BASE64, NUMERIC"
                    )));
                }
            }
        };
        let replace_null_with_default =
            config_bool(config, REPLACE_NULL_WITH_DEFAULT_CONFIG, true)?;
        // Kafka accepts any int here; a size of zero or less caches nothing.
        let capacity = usize::try_from(cache_size).unwrap_or(0);
        Ok(JsonConverter {
            schemas_enabled,
            decimal_format,
            replace_null_with_default,
            from_connect_schemas: Mutex::new(Lru::new(capacity)),
            last_written: Mutex::new(None),
            caching: capacity > 0,
            to_connect_schemas: Mutex::new(Lru::new(capacity)),
            size_hint: AtomicUsize::new(0),
            last_plan: Mutex::new(None),
        })
    }

    /// Whether records carry a `{"schema":...,"payload":...}` envelope.
    pub fn schemas_enabled(&self) -> bool {
        self.schemas_enabled
    }

    /// Connect data to JSON bytes, as `fromConnectData` does.
    fn serialize(&self, topic: &str, data: &SchemaAndValue) -> Result<Option<Vec<u8>>> {
        let schema = data.schema.as_deref();
        if schema.is_none() && data.value.is_null() {
            // A tombstone stays a tombstone, with or without schemas.
            return Ok(None);
        }
        let mut enc = Encoder {
            conv: self,
            topic,
            // Records of one topic tend to be alike: start at the last one's size.
            out: String::with_capacity(self.size_hint.load(Ordering::Relaxed).clamp(128, 1 << 16)),
        };
        let root = Path::Root("$");
        if self.schemas_enabled {
            enc.out.push_str("{\"schema\":");
            match &data.schema {
                Some(schema) => self.write_schema_cached(&mut enc, schema)?,
                None => enc.out.push_str("null"),
            }
            enc.out.push_str(",\"payload\":");
            enc.value(schema, &data.value, &root)?;
            enc.out.push('}');
        } else {
            enc.value(schema, &data.value, &root)?;
        }
        self.size_hint.store(enc.out.len() + 16, Ordering::Relaxed);
        Ok(Some(enc.out.into_bytes()))
    }

    fn write_schema_cached(&self, enc: &mut Encoder<'_>, schema: &SchemaRef) -> Result<()> {
        if self.caching
            && let Some((last, text)) = &*lock(&self.last_written)
            && Arc::ptr_eq(last, schema)
        {
            enc.out.push_str(text);
            return Ok(());
        }
        let mut hasher = DefaultHasher::new();
        hash_schema(schema, &mut hasher);
        let key = hasher.finish();
        let cached = {
            let mut cache = lock(&self.from_connect_schemas);
            match cache.get(key) {
                Some((cached, text)) if Arc::ptr_eq(cached, schema) || **cached == **schema => {
                    Some(text.clone())
                }
                _ => None,
            }
        };
        let text = match cached {
            Some(text) => {
                enc.out.push_str(&text);
                text
            }
            None => {
                let start = enc.out.len();
                enc.schema(schema, None, &Path::Root("schema"))?;
                let text: Arc<str> = Arc::from(&enc.out[start..]);
                lock(&self.from_connect_schemas).put(key, (schema.clone(), text.clone()));
                text
            }
        };
        if self.caching {
            *lock(&self.last_written) = Some((schema.clone(), text));
        }
        Ok(())
    }

    /// JSON bytes to Connect data, as `toConnectData` does.
    fn deserialize(&self, topic: &str, bytes: &[u8]) -> Result<SchemaAndValue> {
        let doc = parser::parse(bytes).map_err(|e| {
            ConnectError::data(format!(
                "Converting byte[] to Kafka Connect data failed due to serialization error of topic {topic}: {e}"
            ))
        })?;
        let dec = Decoder { conv: self, topic };
        if !self.schemas_enabled {
            // Empty input reads as Jackson's MissingNode, which converts to null.
            return match doc {
                None => Ok(SchemaAndValue::null()),
                Some(json) => Ok(SchemaAndValue::new(
                    None,
                    dec.value(None, Some(&json), &Path::Root("$"))?,
                )),
            };
        }
        let (schema_node, payload) = match &doc {
            Some(Json::Obj(obj)) if obj.entries.len() == 2 => {
                match (obj.get("schema"), obj.get("payload")) {
                    (Some(schema), Some(payload)) => (schema, payload),
                    _ => return Err(envelope_error(topic)),
                }
            }
            _ => return Err(envelope_error(topic)),
        };
        let schema = match schema_node {
            Json::Null => None,
            node => Some(self.schema_cached(&dec, node)?),
        };
        let value = dec.value(schema.as_ref(), Some(payload), &Path::Root("$.payload"))?;
        Ok(SchemaAndValue::new(schema, value))
    }

    fn schema_cached(&self, dec: &Decoder<'_>, node: &Json<'_>) -> Result<SchemaRef> {
        let path = Path::Root("$.schema");
        let Json::Obj(obj) = node else {
            return dec.schema(node, &path);
        };
        let mut hasher = DefaultHasher::new();
        obj.raw.hash(&mut hasher);
        let key = hasher.finish();
        {
            let mut cache = lock(&self.to_connect_schemas);
            if let Some((raw, schema)) = cache.get(key) {
                if **raw == *obj.raw {
                    return Ok(schema.clone());
                }
            }
        }
        let schema = dec.schema(node, &path)?;
        lock(&self.to_connect_schemas).put(key, (Box::from(obj.raw), schema.clone()));
        Ok(schema)
    }

    #[cfg(test)]
    fn cache_sizes(&self) -> (usize, usize) {
        (
            lock(&self.from_connect_schemas).len(),
            lock(&self.to_connect_schemas).len(),
        )
    }
}

#[async_trait]
impl Converter for JsonConverter {
    async fn from_connect(
        &self,
        topic: &str,
        _headers: &[Header],
        data: &SchemaAndValue,
    ) -> Result<Option<Vec<u8>>> {
        self.serialize(topic, data)
    }

    async fn to_connect(
        &self,
        topic: &str,
        _headers: &[Header],
        bytes: Option<&[u8]>,
    ) -> Result<SchemaAndValue> {
        match bytes {
            None => Ok(SchemaAndValue::null()),
            Some(bytes) => self.deserialize(topic, bytes),
        }
    }
}

fn envelope_error(topic: &str) -> ConnectError {
    ConnectError::data(format!("{ENVELOPE_ERROR} (topic {topic})"))
}

fn config_bool(config: &ConverterConfig, key: &str, default: bool) -> Result<bool> {
    let Some(raw) = config.get(key) else {
        return Ok(default);
    };
    let trimmed = raw.trim();
    if trimmed.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if trimmed.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(ConnectError::config(format!(
            "Invalid value {raw} for configuration {key}: Expected value to be either true or false"
        )))
    }
}

fn config_int(config: &ConverterConfig, key: &str, default: i32) -> Result<i32> {
    let Some(raw) = config.get(key) else {
        return Ok(default);
    };
    raw.trim().parse().map_err(|_| {
        ConnectError::config(format!(
            "Invalid value {raw} for configuration {key}: Not a number of type INT"
        ))
    })
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The caches hold no invariant a panic could break.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Where in a value or schema a problem is, rendered JSONPath-style (`$.payload.items[2]`).
#[derive(Clone, Copy)]
enum Path<'a> {
    Root(&'static str),
    Field(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
    Key(&'a Path<'a>, &'a str),
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Root(root) => f.write_str(root),
            Path::Field(parent, name) => write!(f, "{parent}.{name}"),
            Path::Index(parent, i) => write!(f, "{parent}[{i}]"),
            Path::Key(parent, key) => write!(f, "{parent}[{key:?}]"),
        }
    }
}

fn data_error(topic: &str, path: &Path<'_>, msg: impl fmt::Display) -> ConnectError {
    ConnectError::data(format!("{msg} (topic {topic}, at {path})"))
}

/// The Java class Kafka would name in an error message for a value of this kind.
pub(super) fn java_class(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Int8(_) => "class java.lang.Byte",
        Value::Int16(_) => "class java.lang.Short",
        Value::Int32(_) => "class java.lang.Integer",
        Value::Int64(_) => "class java.lang.Long",
        Value::Float32(_) => "class java.lang.Float",
        Value::Float64(_) => "class java.lang.Double",
        Value::Boolean(_) => "class java.lang.Boolean",
        Value::String(_) => "class java.lang.String",
        Value::Bytes(_) => "class [B",
        Value::Array(_) => "class java.util.ArrayList",
        Value::Map(_) => "class java.util.HashMap",
        Value::Struct(_) => "class org.apache.kafka.connect.data.Struct",
        Value::Decimal(_) => "class java.math.BigDecimal",
        Value::Date(_) | Value::Time(_) | Value::Timestamp(_) => "class java.util.Date",
    }
}

/// Whether the schema's name is one of the logical types the converter knows.
fn is_logical(schema: &Schema) -> bool {
    matches!(
        schema.name.as_deref(),
        Some(logical::DECIMAL | logical::DATE | logical::TIME | logical::TIMESTAMP)
    )
}

/// The schema type of a schemaless value (`ConnectSchema.schemaType(value.getClass())`).
fn schemaless_type(value: &Value) -> Option<SchemaType> {
    Some(match value {
        Value::Int8(_) => SchemaType::Int8,
        Value::Int16(_) => SchemaType::Int16,
        Value::Int32(_) => SchemaType::Int32,
        Value::Int64(_) => SchemaType::Int64,
        Value::Float32(_) => SchemaType::Float32,
        Value::Float64(_) => SchemaType::Float64,
        Value::Boolean(_) => SchemaType::Boolean,
        Value::String(_) => SchemaType::String,
        Value::Bytes(_) => SchemaType::Bytes,
        Value::Array(_) => SchemaType::Array,
        Value::Map(_) => SchemaType::Map,
        Value::Struct(_) => SchemaType::Struct,
        Value::Null | Value::Decimal(_) | Value::Date(_) | Value::Time(_) | Value::Timestamp(_) => {
            return None;
        }
    })
}

/// The default to use for a null, if the schema has one.
fn non_null_default(schema: &Schema) -> Option<&Value> {
    schema.default.as_ref().filter(|d| !d.is_null())
}

/// `Decimal.scale(schema)`.
fn decimal_scale(schema: &Schema) -> std::result::Result<i32, String> {
    let Some(scale) = schema
        .parameters
        .as_ref()
        .and_then(|p| p.get(logical::DECIMAL_SCALE))
    else {
        return Err("Invalid Decimal schema: scale parameter not found.".to_owned());
    };
    scale.parse().map_err(|_| {
        format!("Invalid scale parameter found in Decimal schema: For input string: \"{scale}\"")
    })
}

/// Milliseconds since the epoch of a logical time value: Connect represents all three as
/// `java.util.Date`, so any of them may be written with any of the three schemas.
fn epoch_millis(value: &Value) -> Option<i64> {
    match value {
        Value::Date(days) => Some(i64::from(*days) * MILLIS_PER_DAY),
        Value::Time(ms) => Some(i64::from(*ms)),
        Value::Timestamp(ms) => Some(*ms),
        _ => None,
    }
}

/// Whether a Struct's schema is the one it is being written with (`Struct.schema().equals(schema)`).
/// A struct default read from JSON carries its schema as it was before the default was set,
/// so a missing default on one side is not a mismatch.
fn same_struct_schema(a: &SchemaRef, b: &Schema) -> bool {
    if std::ptr::eq(Arc::as_ptr(a), b) || **a == *b {
        return true;
    }
    (a.default.is_none() || b.default.is_none())
        && a.ty == b.ty
        && a.optional == b.optional
        && a.name == b.name
        && a.version == b.version
        && a.doc == b.doc
        && a.parameters == b.parameters
        && a.fields == b.fields
        && a.key_schema == b.key_schema
        && a.value_schema == b.value_schema
}

fn hash_schema(schema: &Schema, h: &mut DefaultHasher) {
    schema.ty.hash(h);
    schema.optional.hash(h);
    schema.name.hash(h);
    schema.version.hash(h);
    schema.doc.hash(h);
    schema.parameters.hash(h);
    schema.default.is_some().hash(h);
    schema.fields.len().hash(h);
    for field in &schema.fields {
        field.name.hash(h);
        hash_schema(&field.schema, h);
    }
    for sub in [&schema.key_schema, &schema.value_schema] {
        match sub {
            Some(sub) => hash_schema(sub, h),
            None => 0u8.hash(h),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Connect data -> JSON text
// ---------------------------------------------------------------------------------------

struct Encoder<'c> {
    conv: &'c JsonConverter,
    topic: &'c str,
    out: String,
}

impl Encoder<'_> {
    fn err(&self, path: &Path<'_>, msg: impl fmt::Display) -> ConnectError {
        data_error(self.topic, path, msg)
    }

    /// `asJsonSchema`: `type`, then `items`/`keys`+`values`/`fields`, `optional`, `name`,
    /// `version`, `doc`, `parameters`, `default`, and for a struct field its `field` name.
    fn schema(&mut self, schema: &Schema, field_name: Option<&str>, path: &Path<'_>) -> Result<()> {
        self.out.push_str("{\"type\":\"");
        self.out.push_str(schema.ty.wire_name());
        self.out.push('"');
        match schema.ty {
            SchemaType::Array => {
                self.out.push_str(",\"items\":");
                self.sub_schema(schema.value_schema.as_deref(), &Path::Field(path, "items"))?;
            }
            SchemaType::Map => {
                self.out.push_str(",\"keys\":");
                self.sub_schema(schema.key_schema.as_deref(), &Path::Field(path, "keys"))?;
                self.out.push_str(",\"values\":");
                self.sub_schema(schema.value_schema.as_deref(), &Path::Field(path, "values"))?;
            }
            SchemaType::Struct => {
                self.out.push_str(",\"fields\":[");
                let fields_path = Path::Field(path, "fields");
                for (i, field) in schema.fields.iter().enumerate() {
                    if i > 0 {
                        self.out.push(',');
                    }
                    self.schema(
                        &field.schema,
                        Some(&field.name),
                        &Path::Index(&fields_path, i),
                    )?;
                }
                self.out.push(']');
            }
            _ => {}
        }
        self.out.push_str(",\"optional\":");
        self.out
            .push_str(if schema.optional { "true" } else { "false" });
        if let Some(name) = &schema.name {
            self.out.push_str(",\"name\":");
            self.string(name);
        }
        if let Some(version) = schema.version {
            let _ = write!(self.out, ",\"version\":{version}");
        }
        if let Some(doc) = &schema.doc {
            self.out.push_str(",\"doc\":");
            self.string(doc);
        }
        if let Some(parameters) = &schema.parameters {
            self.out.push_str(",\"parameters\":{");
            for (i, (key, value)) in parameters.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                self.string(key);
                self.out.push(':');
                self.string(value);
            }
            self.out.push('}');
        }
        if let Some(default) = non_null_default(schema) {
            self.out.push_str(",\"default\":");
            self.value(Some(schema), default, &Path::Field(path, "default"))?;
        }
        if let Some(name) = field_name {
            self.out.push_str(",\"field\":");
            self.string(name);
        }
        self.out.push('}');
        Ok(())
    }

    fn sub_schema(&mut self, schema: Option<&Schema>, path: &Path<'_>) -> Result<()> {
        match schema {
            Some(schema) => self.schema(schema, None, path),
            None => {
                self.out.push_str("null");
                Ok(())
            }
        }
    }

    /// `convertToJson`. The recursive path (this, `array`, `map`, `structure`) is kept to
    /// small functions so that deeply nested values need little stack.
    fn value(&mut self, schema: Option<&Schema>, value: &Value, path: &Path<'_>) -> Result<()> {
        if value.is_null() {
            return self.null(schema, path);
        }
        let ty = match schema {
            Some(schema) if is_logical(schema) => {
                return self.known_kind(FieldKind::of(schema), schema, value, path);
            }
            Some(schema) => schema.ty,
            None => match schemaless_type(value) {
                Some(ty) => ty,
                None => return Err(self.no_schema_type(value, path)),
            },
        };
        match (ty, value) {
            (SchemaType::Array, Value::Array(items)) => self.array(schema, items, path),
            (SchemaType::Map, Value::Map(entries)) => self.map(schema, entries, path),
            (SchemaType::Struct, Value::Struct(st)) => self.structure(schema, st, path),
            _ => self.primitive(ty, value, path),
        }
    }

    fn null(&mut self, schema: Option<&Schema>, path: &Path<'_>) -> Result<()> {
        let Some(schema) = schema else {
            self.out.push_str("null");
            return Ok(());
        };
        if self.conv.replace_null_with_default {
            if let Some(default) = non_null_default(schema) {
                return self.value(Some(schema), default, path);
            }
        }
        if schema.optional {
            self.out.push_str("null");
            return Ok(());
        }
        Err(self.err(
            path,
            "Conversion error: null value for field that is required and has no default value",
        ))
    }

    fn no_schema_type(&self, value: &Value, path: &Path<'_>) -> ConnectError {
        self.err(
            path,
            format_args!(
                "Java class {} does not have corresponding schema type.",
                java_class(value)
            ),
        )
    }

    fn date(&mut self, value: &Value, path: &Path<'_>) -> Result<()> {
        let ms = self.epoch_millis(value, "Date", path)?;
        if ms.rem_euclid(MILLIS_PER_DAY) != 0 {
            return Err(self.err(
                path,
                "Kafka Connect Date type should not have any time fields set to non-zero values.",
            ));
        }
        // Java's (int) cast.
        self.int(ms.div_euclid(MILLIS_PER_DAY) as i32);
        Ok(())
    }

    fn time(&mut self, value: &Value, path: &Path<'_>) -> Result<()> {
        let ms = self.epoch_millis(value, "Time", path)?;
        if !(0..=MILLIS_PER_DAY).contains(&ms) {
            return Err(self.err(
                path,
                "Kafka Connect Time type should not have any date fields set to non-zero values.",
            ));
        }
        self.int(ms);
        Ok(())
    }

    fn primitive(&mut self, ty: SchemaType, value: &Value, path: &Path<'_>) -> Result<()> {
        match (ty, value) {
            (SchemaType::Int8, Value::Int8(v)) => self.int(*v),
            (SchemaType::Int16, Value::Int16(v)) => self.int(*v),
            (SchemaType::Int32, Value::Int32(v)) => self.int(*v),
            (SchemaType::Int64, Value::Int64(v)) => self.int(*v),
            (SchemaType::Float32, Value::Float32(v)) => {
                if v.is_finite() {
                    write_java_f32(&mut self.out, *v);
                } else {
                    self.non_finite(f64::from(*v));
                }
            }
            (SchemaType::Float64, Value::Float64(v)) => {
                if v.is_finite() {
                    write_java_f64(&mut self.out, *v);
                } else {
                    self.non_finite(*v);
                }
            }
            (SchemaType::Boolean, Value::Boolean(v)) => {
                self.out.push_str(if *v { "true" } else { "false" });
            }
            (SchemaType::String, Value::String(s)) => self.string(s),
            (SchemaType::Bytes, Value::Bytes(b)) => self.base64(b),
            (ty, value) => {
                return Err(self.err(
                    path,
                    format_args!("Invalid type for {ty}: {}", java_class(value)),
                ));
            }
        }
        Ok(())
    }

    fn array(&mut self, schema: Option<&Schema>, items: &[Value], path: &Path<'_>) -> Result<()> {
        let item_schema = schema.and_then(|s| s.value_schema.as_deref());
        self.out.push('[');
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            self.value(item_schema, item, &Path::Index(path, i))?;
        }
        self.out.push(']');
        Ok(())
    }

    fn epoch_millis(&self, value: &Value, logical_name: &str, path: &Path<'_>) -> Result<i64> {
        epoch_millis(value).ok_or_else(|| {
            self.err(
                path,
                format_args!(
                    "Invalid type for {logical_name}, expected Date but was {}",
                    java_class(value)
                ),
            )
        })
    }

    fn decimal(&mut self, schema: &Schema, value: &Value, path: &Path<'_>) -> Result<()> {
        let Value::Decimal(decimal) = value else {
            return Err(self.err(
                path,
                format_args!(
                    "Invalid type for Decimal, expected BigDecimal but was {}",
                    java_class(value)
                ),
            ));
        };
        match self.conv.decimal_format {
            DecimalFormat::Numeric => write_java_bigdecimal(&mut self.out, decimal),
            DecimalFormat::Base64 => {
                let scale = decimal_scale(schema).map_err(|msg| self.err(path, msg))?;
                let (unscaled, value_scale) = decimal.as_bigint_and_scale();
                if value_scale != i64::from(scale) {
                    return Err(self.err(
                        path,
                        format_args!(
                            "Decimal value has mismatching scale for given Decimal schema. Schema has scale {scale}, value has scale {value_scale}."
                        ),
                    ));
                }
                match bigdecimal::ToPrimitive::to_i64(unscaled.as_ref()) {
                    // Most decimals: no big-integer bytes allocated per record.
                    Some(v) => {
                        let (bytes, start) = signed_bytes(v);
                        self.base64(bytes.get(start..).unwrap_or_default());
                    }
                    None => self.base64(&unscaled.to_signed_bytes_be()),
                }
            }
        }
        Ok(())
    }

    fn map(
        &mut self,
        schema: Option<&Schema>,
        entries: &[(Value, Value)],
        path: &Path<'_>,
    ) -> Result<()> {
        let key_schema = schema.and_then(|s| s.key_schema.as_deref());
        let value_schema = schema.and_then(|s| s.value_schema.as_deref());
        let object_mode = match key_schema {
            Some(ks) => ks.ty == SchemaType::String,
            None => entries.iter().all(|(k, _)| matches!(k, Value::String(_))),
        };
        if !object_mode {
            self.out.push('[');
            for (i, (key, value)) in entries.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let entry_path = Path::Index(path, i);
                self.out.push('[');
                self.value(key_schema, key, &Path::Index(&entry_path, 0))?;
                self.out.push(',');
                self.value(value_schema, value, &Path::Index(&entry_path, 1))?;
                self.out.push(']');
            }
            self.out.push(']');
            return Ok(());
        }

        let mut keys = Vec::with_capacity(entries.len());
        for (i, (key, _)) in entries.iter().enumerate() {
            keys.push(self.map_key_text(key_schema, key, &Path::Index(path, i))?);
        }
        // A JSON object keeps one entry per key: the last value, at the first key's position.
        let mut last: HashMap<&str, usize> = HashMap::with_capacity(keys.len());
        for (i, key) in keys.iter().enumerate() {
            last.insert(key, i);
        }
        let mut written: HashSet<&str> = HashSet::with_capacity(keys.len());
        self.out.push('{');
        for key in &keys {
            let key: &str = key;
            if !written.insert(key) {
                continue;
            }
            let index = last.get(key).copied().unwrap_or_default();
            if written.len() > 1 {
                self.out.push(',');
            }
            self.string(key);
            self.out.push(':');
            self.value(value_schema, &entries[index].1, &Path::Key(path, key))?;
        }
        self.out.push('}');
        Ok(())
    }

    /// The text of a key of a map written as a JSON object (`convertToJson(keySchema, key).asText()`).
    fn map_key_text<'v>(
        &self,
        key_schema: Option<&'v Schema>,
        key: &'v Value,
        path: &Path<'_>,
    ) -> Result<Cow<'v, str>> {
        match (key, key_schema) {
            (Value::String(s), _) => Ok(Cow::Borrowed(s)),
            (Value::Null, Some(ks)) => {
                if self.conv.replace_null_with_default {
                    if let Some(default) = non_null_default(ks) {
                        return self.map_key_text(Some(ks), default, path);
                    }
                }
                if ks.optional {
                    Ok(Cow::Borrowed("null"))
                } else {
                    Err(self.err(
                        path,
                        "Conversion error: null value for field that is required and has no default value",
                    ))
                }
            }
            (other, _) => Err(self.err(
                path,
                format_args!(
                    "Invalid type for {}: {}",
                    SchemaType::String,
                    java_class(other)
                ),
            )),
        }
    }

    fn structure(&mut self, schema: Option<&Schema>, st: &Struct, path: &Path<'_>) -> Result<()> {
        let Some(schema) = schema.filter(|s| same_struct_schema(&st.schema, s)) else {
            return Err(self.err(path, "Mismatching schema."));
        };
        if matches!(path, Path::Root(_)) && std::ptr::eq(Arc::as_ptr(&st.schema), schema) {
            // The record's own struct goes through its schema's plan, which stays locked
            // while the fields are written: no reference count moves per record. Only a
            // root struct takes this lock, so a nested one cannot deadlock on it, and a
            // converter belongs to one task, so nothing waits for it.
            let conv = self.conv;
            let mut last = lock(&conv.last_plan);
            let plan = match &mut *last {
                Some((s, plan)) if Arc::ptr_eq(s, &st.schema) => plan,
                slot => &slot.insert((st.schema.clone(), self.plan(schema))).1,
            };
            return self.fields(schema, st, path, &plan.keys, &plan.kinds);
        }
        // Nested structs are written as they come.
        self.fields(schema, st, path, &[], &[])
    }

    /// A struct's fields, with the keys and logical kinds of its plan when it has one.
    fn fields(
        &mut self,
        schema: &Schema,
        st: &Struct,
        path: &Path<'_>,
        keys: &[Box<str>],
        kinds: &[FieldKind],
    ) -> Result<()> {
        self.out.push('{');
        for (i, field) in schema.fields.iter().enumerate() {
            match keys.get(i) {
                Some(key) => self.out.push_str(key),
                None => {
                    if i > 0 {
                        self.out.push(',');
                    }
                    self.string(&field.name);
                    self.out.push(':');
                }
            }
            let value = st.values.get(field.index).unwrap_or(&Value::Null);
            let path = Path::Field(path, &field.name);
            match kinds.get(i) {
                Some(kind) if !value.is_null() => {
                    self.known_kind(*kind, &field.schema, value, &path)?;
                }
                _ => self.value(Some(&field.schema), value, &path)?,
            }
        }
        self.out.push('}');
        Ok(())
    }

    /// The [`StructPlan`] of a struct schema (cached by the caller for the schema written
    /// last).
    fn plan(&mut self, schema: &Schema) -> StructPlan {
        let start = self.out.len();
        let mut keys = Vec::with_capacity(schema.fields.len());
        for (i, field) in schema.fields.iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            self.string(&field.name);
            self.out.push(':');
            keys.push(Box::from(self.out.get(start..).unwrap_or_default()));
            self.out.truncate(start);
        }
        StructPlan {
            keys,
            kinds: schema
                .fields
                .iter()
                .map(|f| FieldKind::of(&f.schema))
                .collect(),
        }
    }

    /// A non-null value of a known logical type (from a struct's plan or the schema's name).
    fn known_kind(
        &mut self,
        kind: FieldKind,
        schema: &Schema,
        value: &Value,
        path: &Path<'_>,
    ) -> Result<()> {
        match kind {
            FieldKind::Date => self.date(value, path),
            FieldKind::Time => self.time(value, path),
            FieldKind::Timestamp => {
                let ms = self.epoch_millis(value, "Timestamp", path)?;
                self.int(ms);
                Ok(())
            }
            FieldKind::Decimal => self.decimal(schema, value, path),
            FieldKind::Primitive(ty) => self.primitive(ty, value, path),
            FieldKind::Other => self.value(Some(schema), value, path),
        }
    }

    /// An integer in decimal, without `fmt`'s machinery (a hot path for every record).
    fn int(&mut self, v: impl itoa::Integer) {
        self.out.push_str(itoa::Buffer::new().format(v));
    }

    /// Jackson writes NaN and the infinities as strings.
    fn non_finite(&mut self, v: f64) {
        self.out.push_str(if v.is_nan() {
            "\"NaN\""
        } else if v > 0.0 {
            "\"Infinity\""
        } else {
            "\"-Infinity\""
        });
    }

    fn base64(&mut self, bytes: &[u8]) {
        self.out.push('"');
        BASE64.encode_string(bytes, &mut self.out);
        self.out.push('"');
    }

    /// A JSON string escaped as Jackson does: `\"`, `\\`, `\b \t \n \f \r`, other control
    /// characters as `\u00XX`, characters outside the Basic Multilingual Plane as their
    /// UTF-16 surrogate pair (`\uD83D\uDE00`; hex in upper case), everything else as is.
    fn string(&mut self, s: &str) {
        self.out.push('"');
        let bytes = s.as_bytes();
        let mut start = 0;
        let mut i = plain_len(bytes);
        while let Some(&b) = bytes.get(i) {
            self.out.push_str(&s[start..i]);
            start = i + 1;
            match b {
                b'"' => self.out.push_str("\\\""),
                b'\\' => self.out.push_str("\\\\"),
                0x08 => self.out.push_str("\\b"),
                b'\t' => self.out.push_str("\\t"),
                b'\n' => self.out.push_str("\\n"),
                0x0C => self.out.push_str("\\f"),
                b'\r' => self.out.push_str("\\r"),
                0..=0x1F => {
                    let _ = write!(self.out, "\\u{:04X}", b);
                }
                _ => {
                    // The lead byte of a four-byte sequence: a supplementary character.
                    if let Some(c) = s[i..].chars().next() {
                        let mut units = [0u16; 2];
                        for unit in c.encode_utf16(&mut units) {
                            let _ = write!(self.out, "\\u{unit:04X}");
                        }
                        start = i + c.len_utf8();
                    }
                }
            }
            i = start + bytes.get(start..).map_or(0, plain_len);
        }
        self.out.push_str(&s[start..]);
        self.out.push('"');
    }
}

/// Whether [`Encoder::string`] escapes this byte of UTF-8.
fn escaped(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\' || b >= 0xF0
}

/// How many leading bytes of `s` go into a JSON string as they are. Eight bytes at a time:
/// strings are most of what a record's JSON is, and almost never need escaping.
fn plain_len(s: &[u8]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // The high bit of each byte that is zero in `x`.
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let mut n = 0;
    for chunk in s.chunks_exact(8) {
        let Ok(chunk) = <[u8; 8]>::try_from(chunk) else {
            break;
        };
        let x = u64::from_le_bytes(chunk);
        let control = x.wrapping_sub(ONES * 0x20) & !x & HIGH;
        let four_byte_lead = x & (x << 1) & (x << 2) & (x << 3) & HIGH;
        if control
            | zero(x ^ (ONES * u64::from(b'"')))
            | zero(x ^ (ONES * u64::from(b'\\')))
            | four_byte_lead
            != 0
        {
            break;
        }
        n += 8;
    }
    let rest = s.get(n..).unwrap_or_default();
    n + rest.iter().position(|&b| escaped(b)).unwrap_or(rest.len())
}

/// `Double.toString` (JDK 19+): the shortest decimal that rounds to `v`, in plain notation
/// for magnitudes in [10^-3, 10^7) and as `d.dddE±n` otherwise. `v` must be finite.
pub(crate) fn write_java_f64(out: &mut String, v: f64) {
    if v == 0.0 {
        out.push_str(if v.is_sign_negative() { "-0.0" } else { "0.0" });
        return;
    }
    // Ryū's shortest digits are `{:e}`'s, found several times faster.
    let shortest = parts(ryu::Buffer::new().format_finite(v));
    write_java_digits(out, shortest, format_args!("{v:.1e}"));
}

/// `Float.toString` (JDK 19+), as [`write_java_f64`] with float precision.
pub(crate) fn write_java_f32(out: &mut String, v: f32) {
    if v == 0.0 {
        out.push_str(if v.is_sign_negative() { "-0.0" } else { "0.0" });
        return;
    }
    let shortest = parts(ryu::Buffer::new().format_finite(v));
    write_java_digits(out, shortest, format_args!("{v:.1e}"));
}

/// Up to 32 bytes of ASCII on the stack: a float's `{:e}` text (at most 23 bytes) or its
/// digits, which every float of every record goes through.
#[derive(Default)]
struct StackText {
    buf: [u8; 32],
    len: usize,
}

impl StackText {
    fn push(&mut self, b: u8) {
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = b;
            self.len += 1;
        }
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(self.buf.get(..self.len).unwrap_or_default()).unwrap_or_default()
    }
}

impl fmt::Write for StackText {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        let slot = self.buf.get_mut(self.len..end).ok_or(fmt::Error)?;
        slot.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Sign, significant digits and decimal exponent of a float's text, in `{:e}` form
/// (`-1.25e-7`) or Ryū's (`-0.001`, `1e16`, `123.0`): `-1.25e-7` gives (true, "125", -7).
/// One pass over the bytes: every float of every record comes through here.
fn parts(text: &str) -> (bool, StackText, i32) {
    let bytes = text.as_bytes();
    let negative = bytes.first() == Some(&b'-');
    let mut digits = StackText::default();
    // Significant digits before the point, and zeros after it ahead of the first one.
    let (mut int_digits, mut frac_zeros, mut point, mut e) = (0i32, 0i32, false, 0i32);
    for (i, &c) in bytes.iter().enumerate().skip(usize::from(negative)) {
        match c {
            b'0' if digits.len == 0 => frac_zeros += i32::from(point),
            b'0'..=b'9' => {
                digits.push(c);
                int_digits += i32::from(!point);
            }
            b'.' => point = true,
            b'e' | b'E' => {
                e = text.get(i + 1..).and_then(|x| x.parse().ok()).unwrap_or(0);
                break;
            }
            _ => {}
        }
    }
    while digits.len > 1 && digits.buf.get(digits.len - 1) == Some(&b'0') {
        digits.len -= 1;
    }
    if digits.len == 0 {
        digits.push(b'0');
        return (negative, digits, 0);
    }
    let exp = if int_digits > 0 {
        int_digits - 1
    } else {
        -(frac_zeros + 1)
    };
    (negative, digits, exp + e)
}

/// [`parts`] of formatted text (up to 32 bytes, formatted on the stack).
fn scientific(args: fmt::Arguments<'_>) -> (bool, StackText, i32) {
    let mut text = StackText::default();
    // Cannot fail for a float's text, which fits.
    let _ = text.write_fmt(args);
    parts(text.as_str())
}

fn write_java_digits(
    out: &mut String,
    shortest: (bool, StackText, i32),
    two_digits: fmt::Arguments<'_>,
) {
    let (negative, mut digits, mut exp) = shortest;
    if digits.len == 1 {
        // Java picks, among the decimals of length 1 or 2 that round to the value, the closest
        // one (this only differs from the shortest for subnormals: 4.9E-324, not 5e-324).
        let (_, two, two_exp) = scientific(two_digits);
        digits = two;
        exp = two_exp;
        while digits.len > 1 && digits.buf.get(digits.len - 1) == Some(&b'0') {
            digits.len -= 1;
        }
    }
    let digits = digits.as_str();
    if negative {
        out.push('-');
    }
    let n = digits.len();
    if (-3..7).contains(&exp) {
        if exp >= 0 {
            let int_len = usize::try_from(exp).unwrap_or(0) + 1;
            if n > int_len {
                out.push_str(&digits[..int_len]);
                out.push('.');
                out.push_str(&digits[int_len..]);
            } else {
                out.push_str(digits);
                out.extend(std::iter::repeat_n('0', int_len - n));
                out.push_str(".0");
            }
        } else {
            out.push_str("0.");
            out.extend(std::iter::repeat_n(
                '0',
                usize::try_from(-exp - 1).unwrap_or(0),
            ));
            out.push_str(digits);
        }
    } else {
        out.push_str(&digits[..1]);
        out.push('.');
        out.push_str(if n > 1 { &digits[1..] } else { "0" });
        let _ = write!(out, "E{exp}");
    }
}

/// `BigInteger.toByteArray()` of a 64-bit value: the shortest big-endian two's complement,
/// as `bytes[start..]`.
fn signed_bytes(v: i64) -> ([u8; 8], usize) {
    let bytes = v.to_be_bytes();
    let mut start = 0;
    // A leading byte is redundant when it only repeats the sign of the next one.
    while let (Some(&b), Some(&next)) = (bytes.get(start), bytes.get(start + 1))
        && ((b == 0 && next < 0x80) || (b == 0xFF && next >= 0x80))
    {
        start += 1;
    }
    (bytes, start)
}

/// `BigDecimal.toString()`: plain when the scale is non-negative and the adjusted exponent is
/// at least -6, otherwise scientific (`1.23E+5`, `1E-8`).
pub(crate) fn write_java_bigdecimal(out: &mut String, decimal: &BigDecimal) {
    let (unscaled, scale) = decimal.as_bigint_and_scale();
    let text = unscaled.to_string();
    let (negative, coefficient) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.as_str()),
    };
    let len = coefficient.len();
    let adjusted = -scale + (len as i64 - 1);
    if negative {
        out.push('-');
    }
    if scale >= 0 && adjusted >= -6 {
        let scale = usize::try_from(scale).unwrap_or(0);
        if scale == 0 {
            out.push_str(coefficient);
        } else if len > scale {
            out.push_str(&coefficient[..len - scale]);
            out.push('.');
            out.push_str(&coefficient[len - scale..]);
        } else {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', scale - len));
            out.push_str(coefficient);
        }
    } else {
        out.push_str(&coefficient[..1]);
        if len > 1 {
            out.push('.');
            out.push_str(&coefficient[1..]);
        }
        let _ = write!(out, "E{}{adjusted}", if adjusted >= 0 { "+" } else { "" });
    }
}

// ---------------------------------------------------------------------------------------
// JSON -> Connect data
// ---------------------------------------------------------------------------------------

struct Decoder<'c> {
    conv: &'c JsonConverter,
    topic: &'c str,
}

/// Jackson's name for the kind of a JSON node, as Kafka's messages print it.
fn node_type(json: &Json<'_>) -> &'static str {
    match json {
        Json::Null => "NULL",
        Json::Bool(_) => "BOOLEAN",
        Json::Num(_) => "NUMBER",
        Json::Str(_) => "STRING",
        Json::Arr(_) => "ARRAY",
        Json::Obj(_) => "OBJECT",
    }
}

/// Whether a JSON number's text is an integer literal (Jackson's `isIntegralNumber`).
fn is_integral(text: &str) -> bool {
    !text.bytes().any(|b| matches!(b, b'.' | b'e' | b'E'))
}

impl Decoder<'_> {
    fn err(&self, path: &Path<'_>, msg: impl fmt::Display) -> ConnectError {
        data_error(self.topic, path, msg)
    }

    /// `asConnectSchema`.
    fn schema(&self, node: &Json<'_>, path: &Path<'_>) -> Result<SchemaRef> {
        let Json::Obj(obj) = node else {
            return Err(self.err(path, "Schema must contain 'type' field"));
        };
        let type_name = match obj.get("type") {
            Some(Json::Str(name)) => name,
            _ => return Err(self.err(path, "Schema must contain 'type' field")),
        };
        let Some(ty) = SchemaType::from_wire_name(type_name) else {
            return Err(self.err(path, format_args!("Unknown schema type: {type_name}")));
        };
        let mut schema = Arc::unwrap_or_clone(SchemaBuilder::new(ty).build());
        self.schema_children(obj, &mut schema, path)?;
        self.schema_metadata(obj, &mut schema, path)?;
        Ok(Arc::new(schema))
    }

    /// The element, key and value, or field schemas of a container schema.
    fn schema_children(&self, obj: &Obj<'_>, schema: &mut Schema, path: &Path<'_>) -> Result<()> {
        let get = |key: &str| obj.get(key);
        match schema.ty {
            SchemaType::Array => {
                let items_path = Path::Field(path, "items");
                match get("items") {
                    None | Some(Json::Null) => {
                        return Err(self.err(path, "Array schema did not specify the element type"));
                    }
                    Some(items) => schema.value_schema = Some(self.schema(items, &items_path)?),
                }
            }
            SchemaType::Map => {
                let Some(keys) = get("keys") else {
                    return Err(self.err(path, "Map schema did not specify the key type"));
                };
                let Some(values) = get("values") else {
                    return Err(self.err(path, "Map schema did not specify the value type"));
                };
                let key_schema = self.optional_schema(keys, &Path::Field(path, "keys"))?;
                let value_schema = self.optional_schema(values, &Path::Field(path, "values"))?;
                let Some(key_schema) = key_schema else {
                    return Err(self.err(path, "keySchema cannot be null."));
                };
                let Some(value_schema) = value_schema else {
                    return Err(self.err(path, "valueSchema cannot be null."));
                };
                schema.key_schema = Some(key_schema);
                schema.value_schema = Some(value_schema);
            }
            SchemaType::Struct => {
                let Some(Json::Arr(fields)) = get("fields") else {
                    return Err(
                        self.err(path, "Struct schema's \"fields\" argument is not an array.")
                    );
                };
                let fields_path = Path::Field(path, "fields");
                for (i, field) in fields.iter().enumerate() {
                    let field_path = Path::Index(&fields_path, i);
                    let name = match field {
                        Json::Obj(f) => match f.get("field") {
                            Some(Json::Str(name)) => name,
                            _ => {
                                return Err(self.err(
                                    &field_path,
                                    "Struct schema's field name not specified properly",
                                ));
                            }
                        },
                        _ => {
                            return Err(self.err(
                                &field_path,
                                "Struct schema's field name not specified properly",
                            ));
                        }
                    };
                    if schema.fields.iter().any(|f| f.name == **name) {
                        return Err(self.err(
                            &field_path,
                            format_args!(
                                "Cannot create field because of field name duplication {name}"
                            ),
                        ));
                    }
                    let field_schema = self.schema(field, &field_path)?;
                    schema.fields.push(Field {
                        name: name.to_string(),
                        index: schema.fields.len(),
                        schema: field_schema,
                    });
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// `optional`, `name`, `version`, `doc`, `parameters` and `default`.
    fn schema_metadata(&self, obj: &Obj<'_>, schema: &mut Schema, path: &Path<'_>) -> Result<()> {
        let get = |key: &str| obj.get(key);
        schema.optional = matches!(get("optional"), Some(Json::Bool(true)));
        if let Some(Json::Str(name)) = get("name") {
            schema.name = Some(name.to_string());
        }
        if let Some(Json::Num(version)) = get("version") {
            if is_integral(version) {
                // Jackson's intValue(): the low 32 bits.
                if let Ok(v) = version.parse::<i64>() {
                    schema.version = Some(v as i32);
                }
            }
        }
        if let Some(Json::Str(doc)) = get("doc") {
            schema.doc = Some(doc.to_string());
        }
        if let Some(Json::Obj(params)) = get("parameters") {
            let mut parameters = schema.parameters.take().unwrap_or_default();
            for (key, value) in &params.entries {
                let Json::Str(value) = value else {
                    return Err(self.err(
                        &Path::Field(path, "parameters"),
                        "Schema parameters must have string values.",
                    ));
                };
                parameters.insert(key.to_string(), value.to_string());
            }
            schema.parameters = Some(parameters);
        }
        if let Some(default) = get("default") {
            let without_default = Arc::new(schema.clone());
            let value = self.value(
                Some(&without_default),
                Some(default),
                &Path::Field(path, "default"),
            )?;
            if !value.is_null() {
                schema.default = Some(value);
            }
        }
        Ok(())
    }

    fn optional_schema(&self, node: &Json<'_>, path: &Path<'_>) -> Result<Option<SchemaRef>> {
        match node {
            Json::Null => Ok(None),
            node => self.schema(node, path).map(Some),
        }
    }

    /// `convertToConnect`. The recursive path (this, `array`, `map`, `structure`,
    /// `schemaless`) is kept to small functions so that deep documents need little stack.
    fn value(
        &self,
        schema: Option<&SchemaRef>,
        json: Option<&Json<'_>>,
        path: &Path<'_>,
    ) -> Result<Value> {
        let Some(schema) = schema else {
            return self.schemaless(json, path);
        };
        let json = match json {
            None | Some(Json::Null) => return self.null(schema, path),
            Some(json) => json,
        };
        if is_logical(schema) {
            return self.logical(schema, json, path);
        }
        match schema.ty {
            SchemaType::Array => self.array(schema, json, path),
            SchemaType::Map => self.map(schema, json, path),
            SchemaType::Struct => self.structure(schema, json, path),
            ty => self.primitive(ty, json, path),
        }
    }

    fn null(&self, schema: &Schema, path: &Path<'_>) -> Result<Value> {
        if self.conv.replace_null_with_default {
            if let Some(default) = non_null_default(schema) {
                return Ok(default.clone());
            }
        }
        if schema.optional {
            return Ok(Value::Null);
        }
        Err(self.err(
            path,
            format_args!("Invalid null value for required {} field", schema.ty),
        ))
    }

    fn logical(&self, schema: &Schema, json: &Json<'_>, path: &Path<'_>) -> Result<Value> {
        match schema.name.as_deref() {
            Some(logical::DATE) => match json {
                Json::Num(text) if is_integral(text) => match text.parse::<i32>() {
                    Ok(days) => Ok(Value::Date(days)),
                    Err(_) => Err(self.err(
                        path,
                        "Invalid type for Date, underlying representation should be integer but was NUMBER",
                    )),
                },
                other => Err(self.err(
                    path,
                    format_args!(
                        "Invalid type for Date, underlying representation should be integer but was {}",
                        node_type(other)
                    ),
                )),
            },
            Some(logical::TIME) => match json {
                Json::Num(text) if is_integral(text) => match text.parse::<i32>() {
                    Ok(ms) if (0..=MILLIS_PER_DAY).contains(&i64::from(ms)) => Ok(Value::Time(ms)),
                    Ok(_) => Err(self.err(
                        path,
                        "Time values must use number of milliseconds greater than 0 and less than 86400000",
                    )),
                    Err(_) => Err(self.err(
                        path,
                        "Invalid type for Time, underlying representation should be integer but was NUMBER",
                    )),
                },
                other => Err(self.err(
                    path,
                    format_args!(
                        "Invalid type for Time, underlying representation should be integer but was {}",
                        node_type(other)
                    ),
                )),
            },
            Some(logical::TIMESTAMP) => match json {
                Json::Num(text) if is_integral(text) => match text.parse::<i64>() {
                    Ok(ms) => Ok(Value::Timestamp(ms)),
                    Err(_) => Err(self.err(path, format_args!("Timestamp {text} is out of the range of int64"))),
                },
                other => Err(self.err(
                    path,
                    format_args!(
                        "Invalid type for Timestamp, underlying representation should be integral but was {}",
                        node_type(other)
                    ),
                )),
            },
            _ => self.decimal(schema, json, path),
        }
    }

    fn primitive(&self, ty: SchemaType, json: &Json<'_>, path: &Path<'_>) -> Result<Value> {
        Ok(match ty {
            SchemaType::Int8 => Value::Int8(self.integer(json, ty, path)?),
            SchemaType::Int16 => Value::Int16(self.integer(json, ty, path)?),
            SchemaType::Int32 => Value::Int32(self.integer(json, ty, path)?),
            SchemaType::Int64 => Value::Int64(self.integer(json, ty, path)?),
            SchemaType::Float32 => Value::Float32(self.float(json, ty, path)?),
            SchemaType::Float64 => Value::Float64(self.float(json, ty, path)?),
            SchemaType::Boolean => match json {
                Json::Bool(b) => Value::Boolean(*b),
                other => return Err(self.mismatch(other, "a boolean", ty, path)),
            },
            SchemaType::String => match json {
                Json::Str(s) => Value::String(s.to_string()),
                other => return Err(self.mismatch(other, "a string", ty, path)),
            },
            SchemaType::Bytes => match json {
                Json::Str(s) => Value::Bytes(
                    BASE64
                        .decode(s.as_bytes())
                        .map_err(|e| self.err(path, format_args!("Invalid bytes field: {e}")))?
                        .into(),
                ),
                other => return Err(self.mismatch(other, "a base64 string", ty, path)),
            },
            SchemaType::Array | SchemaType::Map | SchemaType::Struct => {
                return Err(self.err(path, format_args!("Unexpected schema type {ty}")));
            }
        })
    }

    fn array(&self, schema: &SchemaRef, json: &Json<'_>, path: &Path<'_>) -> Result<Value> {
        let Json::Arr(items) = json else {
            return Err(self.mismatch(json, "an array", schema.ty, path));
        };
        let item_schema = schema.value_schema.as_ref();
        let mut values = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            values.push(self.value(item_schema, Some(item), &Path::Index(path, i))?);
        }
        Ok(Value::Array(values))
    }

    fn structure(&self, schema: &SchemaRef, json: &Json<'_>, path: &Path<'_>) -> Result<Value> {
        let Json::Obj(obj) = json else {
            return Err(self.err(
                path,
                format_args!(
                    "Structs should be encoded as JSON objects, but found {}",
                    node_type(json)
                ),
            ));
        };
        let mut values = Vec::with_capacity(schema.fields.len());
        for field in &schema.fields {
            // Fields usually come in schema order: try that position first.
            let node = match obj.entries.get(field.index) {
                Some((key, node)) if *key == field.name => Some(node),
                _ => obj.get(&field.name),
            };
            values.push(self.value(Some(&field.schema), node, &Path::Field(path, &field.name))?);
        }
        Ok(Value::Struct(Struct {
            schema: schema.clone(),
            values,
        }))
    }

    fn mismatch(
        &self,
        json: &Json<'_>,
        expected: &str,
        ty: SchemaType,
        path: &Path<'_>,
    ) -> ConnectError {
        self.err(
            path,
            format_args!(
                "Invalid value for {ty}: expected {expected} but found {}",
                node_type(json)
            ),
        )
    }

    fn integer<T: TryFrom<i64>>(
        &self,
        json: &Json<'_>,
        ty: SchemaType,
        path: &Path<'_>,
    ) -> Result<T> {
        let Json::Num(text) = json else {
            return Err(self.mismatch(json, "a number", ty, path));
        };
        let value = if is_integral(text) {
            text.parse::<i64>().ok()
        } else {
            // 12.0 and 1e3 are integers too; fractions are refused rather than truncated.
            text.parse::<f64>()
                .ok()
                .filter(|v| v.fract() == 0.0 && v.abs() <= 9_007_199_254_740_992.0)
                .map(|v| v as i64)
        };
        value.and_then(|v| T::try_from(v).ok()).ok_or_else(|| {
            self.err(
                path,
                format_args!("Invalid value {text} for {ty}: not an integer in its range"),
            )
        })
    }

    fn float<T: FromStr + PartialEq + Default>(
        &self,
        json: &Json<'_>,
        ty: SchemaType,
        path: &Path<'_>,
    ) -> Result<T> {
        let text: &str = match json {
            Json::Num(text) => text,
            // What this converter (and Jackson) writes for non-finite numbers.
            Json::Str(s) if matches!(s.as_ref(), "NaN" | "Infinity" | "-Infinity") => s.as_ref(),
            other => return Err(self.mismatch(other, "a number", ty, path)),
        };
        let value: T = text
            .parse()
            .map_err(|_| self.err(path, format_args!("Invalid value {text} for {ty}")))?;
        // Jackson reads numbers as BigDecimal, which has no negative zero.
        Ok(if value == T::default() {
            T::default()
        } else {
            value
        })
    }

    fn decimal(&self, schema: &Schema, json: &Json<'_>, path: &Path<'_>) -> Result<Value> {
        match json {
            Json::Num(text) => {
                let decimal = BigDecimal::from_str(text)
                    .map_err(|e| self.err(path, format_args!("Invalid Decimal value {text}: {e}")))?;
                if i32::try_from(decimal.as_bigint_and_scale().1).is_err() {
                    return Err(self.err(path, format_args!("Invalid Decimal value {text}: scale out of range")));
                }
                Ok(Value::Decimal(decimal))
            }
            Json::Str(s) => {
                let bytes = BASE64
                    .decode(s.as_bytes())
                    .map_err(|e| self.err(path, format_args!("Invalid bytes for Decimal field: {e}")))?;
                if bytes.is_empty() {
                    return Err(self.err(path, "Invalid bytes for Decimal field: Zero length BigInteger"));
                }
                let scale = decimal_scale(schema)
                    .map_err(|e| self.err(path, format_args!("Invalid bytes for Decimal field: {e}")))?;
                Ok(Value::Decimal(BigDecimal::new(
                    BigInt::from_signed_bytes_be(&bytes),
                    i64::from(scale),
                )))
            }
            other => Err(self.err(
                path,
                format_args!(
                    "Invalid type for Decimal, underlying representation should be numeric or bytes but was {}",
                    node_type(other)
                ),
            )),
        }
    }

    fn map(&self, schema: &SchemaRef, json: &Json<'_>, path: &Path<'_>) -> Result<Value> {
        let key_schema = schema.key_schema.as_ref();
        let value_schema = schema.value_schema.as_ref();
        if key_schema.is_none_or(|ks| ks.ty == SchemaType::String) {
            let Json::Obj(obj) = json else {
                return Err(self.err(
                    path,
                    format_args!(
                        "Maps with string fields should be encoded as JSON objects, but found {}",
                        node_type(json)
                    ),
                ));
            };
            let mut entries = Vec::with_capacity(obj.entries.len());
            for (key, node) in &obj.entries {
                let value = self.value(value_schema, Some(node), &Path::Key(path, key))?;
                entries.push((Value::String(key.to_string()), value));
            }
            return Ok(Value::Map(entries));
        }
        let Json::Arr(items) = json else {
            return Err(self.err(
                path,
                format_args!(
                    "Maps with non-string fields should be encoded as JSON array of tuples, but found {}",
                    node_type(json)
                ),
            ));
        };
        let mut entries = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let entry_path = Path::Index(path, i);
            let Json::Arr(pair) = item else {
                return Err(self.err(
                    &entry_path,
                    format_args!(
                        "Found invalid map entry instead of array tuple: {}",
                        node_type(item)
                    ),
                ));
            };
            let [key, value] = pair.as_slice() else {
                return Err(self.err(
                    &entry_path,
                    format_args!(
                        "Found invalid map entry, expected length 2 but found :{}",
                        pair.len()
                    ),
                ));
            };
            entries.push((
                self.value(key_schema, Some(key), &Path::Index(&entry_path, 0))?,
                self.value(value_schema, Some(value), &Path::Index(&entry_path, 1))?,
            ));
        }
        Ok(Value::Map(entries))
    }

    /// Without a schema: integers become Int64, other numbers Float64, objects maps with
    /// string keys (in document order).
    fn schemaless(&self, json: Option<&Json<'_>>, path: &Path<'_>) -> Result<Value> {
        match json {
            Some(Json::Arr(items)) => {
                let mut values = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    values.push(self.schemaless(Some(item), &Path::Index(path, i))?);
                }
                Ok(Value::Array(values))
            }
            Some(Json::Obj(obj)) => {
                let mut entries = Vec::with_capacity(obj.entries.len());
                for (key, node) in &obj.entries {
                    let value = self.schemaless(Some(node), &Path::Key(path, key))?;
                    entries.push((Value::String(key.to_string()), value));
                }
                Ok(Value::Map(entries))
            }
            scalar => self.schemaless_scalar(scalar, path),
        }
    }

    fn schemaless_scalar(&self, json: Option<&Json<'_>>, path: &Path<'_>) -> Result<Value> {
        Ok(match json {
            None | Some(Json::Null | Json::Arr(_) | Json::Obj(_)) => Value::Null,
            Some(Json::Bool(b)) => Value::Boolean(*b),
            Some(Json::Num(text)) if is_integral(text) => {
                Value::Int64(text.parse().map_err(|_| {
                    self.err(
                        path,
                        format_args!("Integer {text} is out of the range of int64"),
                    )
                })?)
            }
            Some(Json::Num(text)) => {
                let v: f64 = text
                    .parse()
                    .map_err(|_| self.err(path, format_args!("Invalid number {text}")))?;
                // Jackson reads numbers as BigDecimal, which has no negative zero.
                Value::Float64(if v == 0.0 { 0.0 } else { v })
            }
            Some(Json::Str(s)) => Value::String(s.to_string()),
        })
    }
}

// ---------------------------------------------------------------------------------------
// A bounded least-recently-used cache keyed by a 64-bit hash; callers check the entry.
// ---------------------------------------------------------------------------------------

struct Lru<E> {
    capacity: usize,
    tick: u64,
    entries: HashMap<u64, (E, u64)>,
    /// Last use -> key, oldest first.
    order: BTreeMap<u64, u64>,
}

impl<E> Lru<E> {
    fn new(capacity: usize) -> Self {
        Lru {
            capacity,
            tick: 0,
            entries: HashMap::new(),
            order: BTreeMap::new(),
        }
    }

    fn get(&mut self, key: u64) -> Option<&E> {
        self.tick += 1;
        let (entry, used) = self.entries.get_mut(&key)?;
        self.order.remove(used);
        *used = self.tick;
        self.order.insert(self.tick, key);
        Some(entry)
    }

    fn put(&mut self, key: u64, entry: E) {
        if self.capacity == 0 {
            return;
        }
        self.tick += 1;
        if let Some((_, used)) = self.entries.insert(key, (entry, self.tick)) {
            self.order.remove(&used);
        }
        self.order.insert(self.tick, key);
        while self.entries.len() > self.capacity {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            self.entries.remove(&oldest);
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }
}

// ---------------------------------------------------------------------------------------
// A JSON reader that keeps number text (for exact decimals) and object order, and accepts
// what Kafka's Jackson `readTree` accepts.
// ---------------------------------------------------------------------------------------

mod parser {
    use std::borrow::Cow;
    use std::collections::HashMap;

    /// Jackson's `StreamReadConstraints` defaults.
    const MAX_DEPTH: usize = 1000;
    const MAX_NUMBER_LENGTH: usize = 1000;

    pub(super) enum Json<'a> {
        Null,
        Bool(bool),
        /// The number's text, as written.
        Num(&'a str),
        Str(Cow<'a, str>),
        Arr(Vec<Json<'a>>),
        Obj(Obj<'a>),
    }

    pub(super) struct Obj<'a> {
        /// Entries in document order; a repeated key keeps its first position and last value.
        pub(super) entries: Vec<(Cow<'a, str>, Json<'a>)>,
        /// The object's text, braces included.
        pub(super) raw: &'a str,
    }

    impl<'a> Obj<'a> {
        pub(super) fn get(&self, key: &str) -> Option<&Json<'a>> {
            self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
        }
    }

    struct Parser<'a> {
        src: &'a str,
        bytes: &'a [u8],
        pos: usize,
        depth: usize,
    }

    /// Parses the first JSON value of `input`; `None` for empty (or all-whitespace) input.
    /// Like Jackson's `readTree`, content after a complete value is not read, except that a
    /// number at the root must be followed by whitespace or the end.
    pub(super) fn parse(input: &[u8]) -> Result<Option<Json<'_>>, String> {
        let src = std::str::from_utf8(input).map_err(|e| {
            let mut p = Parser {
                src: "",
                bytes: input,
                pos: e.valid_up_to(),
                depth: 0,
            };
            p.error_at("Invalid UTF-8 middle or start byte")
        })?;
        let mut p = Parser {
            src,
            bytes: src.as_bytes(),
            pos: 0,
            depth: 0,
        };
        if src.starts_with('\u{FEFF}') {
            p.pos = 3;
        }
        p.skip_ws();
        if p.pos >= p.bytes.len() {
            return Ok(None);
        }
        let value = p.value()?;
        if matches!(value, Json::Num(_)) {
            if let Some(&b) = p.bytes.get(p.pos) {
                if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                    return Err(p.error_at(&format!(
                        "Unexpected character ({}): Expected space separating root-level values",
                        describe(p.next_char())
                    )));
                }
            }
        }
        Ok(Some(value))
    }

    fn describe(c: Option<char>) -> String {
        match c {
            Some(c) => format!("'{}' (code {})", c.escape_debug(), u32::from(c)),
            None => "end of input".to_owned(),
        }
    }

    impl<'a> Parser<'a> {
        fn error_at(&mut self, msg: &str) -> String {
            let before = &self.bytes[..self.pos.min(self.bytes.len())];
            let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
            let line_start = before
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1);
            let column = String::from_utf8_lossy(&before[line_start..])
                .chars()
                .count()
                + 1;
            format!("{msg} at line {line}, column {column}")
        }

        fn next_char(&self) -> Option<char> {
            self.src.get(self.pos..).and_then(|s| s.chars().next())
        }

        fn unexpected(&mut self, expected: &str) -> String {
            let c = self.next_char();
            if c.is_none() {
                return self.error_at(&format!("Unexpected end-of-input: {expected}"));
            }
            self.error_at(&format!(
                "Unexpected character ({}): {expected}",
                describe(c)
            ))
        }

        fn skip_ws(&mut self) {
            while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.pos) {
                self.pos += 1;
            }
        }

        fn value(&mut self) -> Result<Json<'a>, String> {
            match self.bytes.get(self.pos) {
                Some(b'{') => self.object(),
                Some(b'[') => self.array(),
                Some(b'"') => Ok(Json::Str(self.string()?)),
                Some(b'-' | b'0'..=b'9') => self.number(),
                Some(_) => self.keyword(),
                None => Err(self.unexpected("expected a JSON value")),
            }
        }

        fn keyword(&mut self) -> Result<Json<'a>, String> {
            let start = self.pos;
            let rest = &self.src[start..];
            let end = rest
                .char_indices()
                .find(|&(_, c)| !(c.is_alphanumeric() || c == '_' || c == '$'))
                .map_or(rest.len(), |(i, _)| i);
            let token = &rest[..end];
            let value = match token {
                "true" => Json::Bool(true),
                "false" => Json::Bool(false),
                "null" => Json::Null,
                "" => {
                    return Err(self.unexpected(
                        "expected a JSON value (String, Number, Array, Object or token 'null', 'true' or 'false')",
                    ));
                }
                _ => {
                    let token: String = token.chars().take(256).collect();
                    return Err(self.error_at(&format!(
                        "Unrecognized token '{token}': was expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false')"
                    )));
                }
            };
            self.pos += end;
            Ok(value)
        }

        fn digits(&mut self) -> usize {
            let start = self.pos;
            while let Some(b'0'..=b'9') = self.bytes.get(self.pos) {
                self.pos += 1;
            }
            self.pos - start
        }

        fn number(&mut self) -> Result<Json<'a>, String> {
            let start = self.pos;
            if self.bytes.get(self.pos) == Some(&b'-') {
                self.pos += 1;
            }
            // Leading zeros are accepted, as Kafka enables ALLOW_LEADING_ZEROS_FOR_NUMBERS.
            let mut digits = self.digits();
            if digits == 0 {
                return Err(self.unexpected(
                    "expected digit (0-9) to follow minus sign, for valid numeric value",
                ));
            }
            if self.bytes.get(self.pos) == Some(&b'.') {
                self.pos += 1;
                let fraction = self.digits();
                if fraction == 0 {
                    return Err(self.unexpected("Decimal point not followed by a digit"));
                }
                digits += fraction;
            }
            if let Some(b'e' | b'E') = self.bytes.get(self.pos) {
                self.pos += 1;
                if let Some(b'+' | b'-') = self.bytes.get(self.pos) {
                    self.pos += 1;
                }
                if self.digits() == 0 {
                    return Err(self.unexpected("Exponent indicator not followed by a digit"));
                }
            }
            if digits > MAX_NUMBER_LENGTH {
                self.pos = start;
                return Err(self.error_at(&format!(
                    "Number value length ({digits}) exceeds the maximum allowed ({MAX_NUMBER_LENGTH})"
                )));
            }
            Ok(Json::Num(&self.src[start..self.pos]))
        }

        fn hex4(&mut self) -> Result<u32, String> {
            let Some(hex) = self.src.get(self.pos..self.pos + 4) else {
                return Err(self.error_at("Unexpected end-of-input in character escape sequence"));
            };
            let code = u32::from_str_radix(hex, 16)
                .ok()
                .filter(|_| hex.bytes().all(|b| b.is_ascii_hexdigit()));
            match code {
                Some(code) => {
                    self.pos += 4;
                    Ok(code)
                }
                None => {
                    Err(self.error_at(&format!("Unexpected character escape sequence \\u{hex}")))
                }
            }
        }

        fn string(&mut self) -> Result<Cow<'a, str>, String> {
            self.pos += 1; // the opening quote
            let start = self.pos;
            let mut owned: Option<String> = None;
            let mut run_start = start;
            loop {
                let Some(&b) = self.bytes.get(self.pos) else {
                    return Err(self.error_at(
                        "Unexpected end-of-input: was expecting closing quote for a string value",
                    ));
                };
                match b {
                    b'"' => {
                        let run = &self.src[run_start..self.pos];
                        self.pos += 1;
                        return Ok(match owned {
                            None => Cow::Borrowed(run),
                            Some(mut s) => {
                                s.push_str(run);
                                Cow::Owned(s)
                            }
                        });
                    }
                    b'\\' => {
                        owned
                            .get_or_insert_with(String::new)
                            .push_str(&self.src[run_start..self.pos]);
                        self.pos += 1;
                        let Some(&e) = self.bytes.get(self.pos) else {
                            return Err(self
                                .error_at("Unexpected end-of-input in character escape sequence"));
                        };
                        self.pos += 1;
                        let c = match e {
                            b'"' => '"',
                            b'\\' => '\\',
                            b'/' => '/',
                            b'b' => '\u{8}',
                            b'f' => '\u{c}',
                            b'n' => '\n',
                            b'r' => '\r',
                            b't' => '\t',
                            b'u' => {
                                let code = self.hex4()?;
                                let code = if (0xD800..0xDC00).contains(&code) {
                                    if self.src.get(self.pos..self.pos + 2) != Some("\\u") {
                                        return Err(self.error_at(
                                            "Invalid surrogate pair: lone high surrogate",
                                        ));
                                    }
                                    self.pos += 2;
                                    let low = self.hex4()?;
                                    if !(0xDC00..0xE000).contains(&low) {
                                        return Err(self.error_at(
                                            "Invalid surrogate pair: lone high surrogate",
                                        ));
                                    }
                                    0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                                } else {
                                    code
                                };
                                match char::from_u32(code) {
                                    Some(c) => c,
                                    None => {
                                        return Err(self.error_at(
                                            "Invalid surrogate pair: lone low surrogate",
                                        ));
                                    }
                                }
                            }
                            _ => {
                                self.pos -= 1;
                                let msg = format!(
                                    "Unrecognized character escape {}",
                                    describe(self.next_char())
                                );
                                return Err(self.error_at(&msg));
                            }
                        };
                        if let Some(s) = owned.as_mut() {
                            s.push(c);
                        }
                        run_start = self.pos;
                    }
                    0..=0x1F => {
                        let msg = format!(
                            "Illegal unquoted character ((CTRL-CHAR, code {b})): has to be escaped using backslash to be included in string value"
                        );
                        return Err(self.error_at(&msg));
                    }
                    _ => self.pos += 1,
                }
            }
        }

        fn enter(&mut self) -> Result<(), String> {
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                return Err(self.error_at(&format!(
                    "Document nesting depth exceeds the maximum allowed ({MAX_DEPTH})"
                )));
            }
            Ok(())
        }

        fn array(&mut self) -> Result<Json<'a>, String> {
            self.enter()?;
            self.pos += 1;
            let mut items = Vec::new();
            self.skip_ws();
            if self.bytes.get(self.pos) == Some(&b']') {
                self.pos += 1;
                self.depth -= 1;
                return Ok(Json::Arr(items));
            }
            loop {
                self.skip_ws();
                items.push(self.value()?);
                self.skip_ws();
                match self.bytes.get(self.pos) {
                    Some(b',') => self.pos += 1,
                    Some(b']') => {
                        self.pos += 1;
                        self.depth -= 1;
                        return Ok(Json::Arr(items));
                    }
                    _ => {
                        return Err(
                            self.unexpected("was expecting comma to separate Array entries")
                        );
                    }
                }
            }
        }

        fn object(&mut self) -> Result<Json<'a>, String> {
            self.enter()?;
            let start = self.pos;
            self.pos += 1;
            let mut entries: Vec<(Cow<'a, str>, Json<'a>)> = Vec::new();
            // Built once an object is big enough for linear duplicate checks to hurt.
            let mut index: Option<HashMap<String, usize>> = None;
            self.skip_ws();
            if self.bytes.get(self.pos) != Some(&b'}') {
                loop {
                    self.skip_ws();
                    if self.bytes.get(self.pos) != Some(&b'"') {
                        return Err(
                            self.unexpected("was expecting double-quote to start field name")
                        );
                    }
                    let key = self.string()?;
                    self.skip_ws();
                    if self.bytes.get(self.pos) != Some(&b':') {
                        return Err(self
                            .unexpected("was expecting a colon to separate field name and value"));
                    }
                    self.pos += 1;
                    self.skip_ws();
                    let value = self.value()?;
                    let existing = match &index {
                        Some(index) => index.get(key.as_ref()).copied(),
                        None => entries.iter().position(|(k, _)| *k == key),
                    };
                    match existing {
                        Some(i) => entries[i].1 = value,
                        None => {
                            if let Some(index) = index.as_mut() {
                                index.insert(key.to_string(), entries.len());
                            }
                            entries.push((key, value));
                            if index.is_none() && entries.len() >= 32 {
                                index = Some(
                                    entries
                                        .iter()
                                        .enumerate()
                                        .map(|(i, (k, _))| (k.to_string(), i))
                                        .collect(),
                                );
                            }
                        }
                    }
                    self.skip_ws();
                    match self.bytes.get(self.pos) {
                        Some(b',') => self.pos += 1,
                        Some(b'}') => break,
                        _ => {
                            return Err(
                                self.unexpected("was expecting comma to separate Object entries")
                            );
                        }
                    }
                }
            }
            self.pos += 1;
            self.depth -= 1;
            Ok(Json::Obj(Obj {
                entries,
                raw: &self.src[start..self.pos],
            }))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use bytes::Bytes;

    const ENVELOPE: &str = "JsonConverter with schemas.enable requires \"schema\" and \"payload\" fields and may not contain additional fields. If you are trying to deserialize plain JSON data, set schemas.enable=false in your converter configuration.";

    fn converter(pairs: &[(&str, &str)]) -> JsonConverter {
        let config: ConverterConfig = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        JsonConverter::new(&config, false).unwrap()
    }

    async fn write(c: &JsonConverter, schema: Option<SchemaRef>, value: Value) -> String {
        let bytes = c
            .from_connect("t", &[], &SchemaAndValue::new(schema, value))
            .await
            .unwrap()
            .unwrap();
        String::from_utf8(bytes).unwrap()
    }

    async fn write_err(c: &JsonConverter, schema: Option<SchemaRef>, value: Value) -> String {
        let err = c
            .from_connect("t", &[], &SchemaAndValue::new(schema, value))
            .await
            .unwrap_err();
        assert!(matches!(err, ConnectError::Data(_)), "{err:?}");
        err.to_string()
    }

    async fn read(c: &JsonConverter, text: &str) -> SchemaAndValue {
        c.to_connect("t", &[], Some(text.as_bytes())).await.unwrap()
    }

    async fn read_err(c: &JsonConverter, text: &str) -> String {
        let err = c
            .to_connect("t", &[], Some(text.as_bytes()))
            .await
            .unwrap_err();
        assert!(matches!(err, ConnectError::Data(_)), "{err:?}");
        err.to_string()
    }

    /// Writes with schemas, checks the exact text, reads it back and checks schema and value.
    async fn round_trip(schema: SchemaRef, value: Value, expected_payload: &str) {
        let c = converter(&[]);
        let text = write(&c, Some(schema.clone()), value.clone()).await;
        let payload = text
            .rsplit_once(",\"payload\":")
            .map(|(_, p)| p.strip_suffix('}').unwrap())
            .unwrap();
        assert_eq!(payload, expected_payload, "in {text}");
        let back = read(&c, &text).await;
        assert_eq!(back.schema.as_deref(), Some(&*schema), "schema of {text}");
        assert_eq!(back.value, value, "value of {text}");
    }

    fn decimal(text: &str) -> Value {
        Value::Decimal(BigDecimal::from_str(text).unwrap())
    }

    fn s(text: &str) -> Value {
        Value::from(text)
    }

    fn int32() -> SchemaRef {
        SchemaBuilder::int32().build()
    }

    fn string() -> SchemaRef {
        SchemaBuilder::string().build()
    }

    // --- configuration -------------------------------------------------------------------

    #[test]
    fn defaults() {
        let c = converter(&[]);
        assert!(c.schemas_enabled);
        assert_eq!(c.decimal_format, DecimalFormat::Base64);
        assert!(c.replace_null_with_default);
        assert_eq!(lock(&c.to_connect_schemas).capacity, 1000);
        let c = converter(&[
            ("schemas.enable", " FALSE "),
            ("decimal.format", "numeric"),
            ("replace.null.with.default", "False"),
            ("schemas.cache.size", "5"),
        ]);
        assert!(!c.schemas_enabled);
        assert_eq!(c.decimal_format, DecimalFormat::Numeric);
        assert!(!c.replace_null_with_default);
        assert_eq!(lock(&c.from_connect_schemas).capacity, 5);
    }

    #[test]
    fn bad_settings_are_config_errors_naming_key_and_value() {
        let cases = [
            (
                ("schemas.enable", "yes"),
                "Invalid value yes for configuration schemas.enable: Expected value to be either true or false",
            ),
            (
                ("schemas.cache.size", "lots"),
                "Invalid value lots for configuration schemas.cache.size: Not a number of type INT",
            ),
            (
                ("schemas.cache.size", "99999999999"),
                "Invalid value 99999999999 for configuration schemas.cache.size: Not a number of type INT",
            ),
            (
                ("decimal.format", "HEX"),
                "Invalid value HEX for configuration decimal.format: String must be one of (case insensitive): BASE64, NUMERIC",
            ),
            (
                ("replace.null.with.default", "1"),
                "Invalid value 1 for configuration replace.null.with.default: Expected value to be either true or false",
            ),
        ];
        for ((key, value), expected) in cases {
            let config: ConverterConfig =
                [(key.to_owned(), value.to_owned())].into_iter().collect();
            let err = JsonConverter::new(&config, true).unwrap_err();
            assert!(matches!(err, ConnectError::Config(_)), "{err:?}");
            assert_eq!(err.to_string(), expected);
        }
    }

    // --- exact output ----------------------------------------------------------------------

    #[tokio::test]
    async fn struct_envelope_is_byte_for_byte_what_kafka_writes() {
        let schema = SchemaBuilder::struct_()
            .name("com.example.Order")
            .version(2)
            .doc("An order")
            .field("id", SchemaBuilder::int64().build())
            .field(
                "qty",
                SchemaBuilder::int8()
                    .optional()
                    .default_value(Value::Int8(1))
                    .build(),
            )
            .field("price", logical::decimal_schema(2))
            .field("tags", SchemaBuilder::array(string()).optional().build())
            .field("attrs", SchemaBuilder::map(string(), int32()).build())
            .field(
                "note",
                SchemaBuilder::string().optional().doc("free text").build(),
            )
            .build();
        let value = Struct::new(schema.clone())
            .with("id", Value::Int64(42))
            .with("price", decimal("12.34"))
            .with("tags", Value::Array(vec![s("a"), s("b")]))
            .with("attrs", Value::Map(vec![(s("x"), Value::Int32(1))]));
        let c = converter(&[]);
        let text = write(&c, Some(schema.clone()), Value::Struct(value.clone())).await;
        let expected = concat!(
            r#"{"schema":{"type":"struct","fields":["#,
            r#"{"type":"int64","optional":false,"field":"id"},"#,
            r#"{"type":"int8","optional":true,"default":1,"field":"qty"},"#,
            r#"{"type":"bytes","optional":false,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2"},"field":"price"},"#,
            r#"{"type":"array","items":{"type":"string","optional":false},"optional":true,"field":"tags"},"#,
            r#"{"type":"map","keys":{"type":"string","optional":false},"values":{"type":"int32","optional":false},"optional":false,"field":"attrs"},"#,
            r#"{"type":"string","optional":true,"doc":"free text","field":"note"}"#,
            r#"],"optional":false,"name":"com.example.Order","version":2,"doc":"An order"},"#,
            r#""payload":{"id":42,"qty":1,"price":"BNI=","tags":["a","b"],"attrs":{"x":1},"note":null}}"#
        );
        assert_eq!(text, expected);

        // Reading it back gives the same schema and the struct with the default filled in.
        let back = read(&c, &text).await;
        assert_eq!(back.schema.as_deref(), Some(&*schema));
        assert_eq!(back.value, Value::Struct(value.with("qty", Value::Int8(1))));
    }

    #[tokio::test]
    async fn schema_metadata_is_written_in_kafka_order() {
        let schema = SchemaBuilder::boolean()
            .name("bool")
            .version(3)
            .doc("the documentation")
            .parameter("foo", "bar")
            .default_value(Value::Boolean(true))
            .build();
        let c = converter(&[]);
        assert_eq!(
            write(&c, Some(schema.clone()), Value::Boolean(false)).await,
            r#"{"schema":{"type":"boolean","optional":false,"name":"bool","version":3,"doc":"the documentation","parameters":{"foo":"bar"},"default":true},"payload":false}"#
        );
        round_trip(schema, Value::Boolean(false), "false").await;
    }

    #[tokio::test]
    async fn primitives_round_trip_with_exact_payloads() {
        round_trip(SchemaBuilder::int8().build(), Value::Int8(-12), "-12").await;
        round_trip(SchemaBuilder::int16().build(), Value::Int16(-300), "-300").await;
        round_trip(int32(), Value::Int32(12), "12").await;
        round_trip(
            SchemaBuilder::int64().build(),
            Value::Int64(4398046511104),
            "4398046511104",
        )
        .await;
        round_trip(
            SchemaBuilder::float32().build(),
            Value::Float32(12.34),
            "12.34",
        )
        .await;
        round_trip(
            SchemaBuilder::float32().build(),
            Value::Float32(1.0e10),
            "1.0E10",
        )
        .await;
        round_trip(
            SchemaBuilder::float64().build(),
            Value::Float64(12.34),
            "12.34",
        )
        .await;
        round_trip(
            SchemaBuilder::float64().build(),
            Value::Float64(-2.5e-7),
            "-2.5E-7",
        )
        .await;
        round_trip(SchemaBuilder::float64().build(), Value::Float64(3.0), "3.0").await;
        round_trip(
            SchemaBuilder::boolean().build(),
            Value::Boolean(true),
            "true",
        )
        .await;
        round_trip(string(), s("test-string"), r#""test-string""#).await;
        round_trip(
            SchemaBuilder::bytes().build(),
            Value::Bytes(Bytes::from_static(b"test-string")),
            r#""dGVzdC1zdHJpbmc=""#,
        )
        .await;
        round_trip(
            SchemaBuilder::bytes().build(),
            Value::Bytes(Bytes::new()),
            r#""""#,
        )
        .await;
        let c = converter(&[]);
        assert_eq!(
            write(&c, Some(SchemaBuilder::int8().build()), Value::Int8(12)).await,
            r#"{"schema":{"type":"int8","optional":false},"payload":12}"#
        );
        assert_eq!(
            write(
                &c,
                Some(SchemaBuilder::float32().optional().build()),
                Value::Float32(0.1)
            )
            .await,
            r#"{"schema":{"type":"float","optional":true},"payload":0.1}"#
        );
        assert_eq!(
            write(
                &c,
                Some(SchemaBuilder::float64().build()),
                Value::Float64(1.0)
            )
            .await,
            r#"{"schema":{"type":"double","optional":false},"payload":1.0}"#
        );
    }

    #[tokio::test]
    async fn non_finite_floats_are_written_as_strings_like_jackson() {
        let c = converter(&[]);
        let f64s = SchemaBuilder::float64().build();
        assert_eq!(
            write(&c, Some(f64s.clone()), Value::Float64(f64::NAN)).await,
            r#"{"schema":{"type":"double","optional":false},"payload":"NaN"}"#
        );
        round_trip(f64s.clone(), Value::Float64(f64::INFINITY), r#""Infinity""#).await;
        round_trip(
            SchemaBuilder::float32().build(),
            Value::Float32(f32::NEG_INFINITY),
            r#""-Infinity""#,
        )
        .await;
        let back = read(&c, r#"{"schema":{"type":"double"},"payload":"NaN"}"#).await;
        assert!(matches!(back.value, Value::Float64(v) if v.is_nan()));
    }

    #[test]
    fn java_double_and_float_to_string() {
        let f64_cases: [(f64, &str); 17] = [
            (1.0, "1.0"),
            (100.0, "100.0"),
            (12.34, "12.34"),
            (0.001, "0.001"),
            (0.0001, "1.0E-4"),
            (9999999.0, "9999999.0"),
            (1.0e7, "1.0E7"),
            (1.2345678e7, "1.2345678E7"),
            (123456.789, "123456.789"),
            (-1.5e-10, "-1.5E-10"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1.0e21, "1.0E21"),
            (f64::MAX, "1.7976931348623157E308"),
            (5e-324, "4.9E-324"),
            (1e-323, "9.9E-324"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
        ];
        for (v, expected) in f64_cases {
            let mut out = String::new();
            write_java_f64(&mut out, v);
            assert_eq!(out, expected, "{v:e}");
        }
        let f32_cases: [(f32, &str); 8] = [
            (0.1, "0.1"),
            (12.34, "12.34"),
            (1.0e10, "1.0E10"),
            (16777216.0, "1.6777216E7"),
            (f32::MAX, "3.4028235E38"),
            (1e-45, "1.4E-45"),
            (-0.5, "-0.5"),
            // -1298351.25 exactly, between 1298351.2 and 1298351.3: the even one.
            (-1_298_351.2, "-1298351.2"),
        ];
        for (v, expected) in f32_cases {
            let mut out = String::new();
            write_java_f32(&mut out, v);
            assert_eq!(out, expected, "{v:e}");
        }
    }

    /// Ryū's digits are those of Rust's `{:e}` (the shortest that read back as the value),
    /// except where two shortest decimals are equally close: Java (JDK 19+) then takes the
    /// one with an even last digit, as Ryū does, where Rust rounds half up. Checked over a
    /// spread of bit patterns of both widths.
    #[test]
    fn ryu_digits_are_the_shortest_with_javas_ties() {
        fn check<F: std::str::FromStr + PartialEq + fmt::LowerExp + Copy>(
            v: F,
            ours: (bool, StackText, i32),
        ) -> bool {
            let rust = scientific(format_args!("{v:e}"));
            if (ours.0, ours.1.as_str(), ours.2) == (rust.0, rust.1.as_str(), rust.2) {
                return false;
            }
            let (d, r) = (ours.1.as_str(), rust.1.as_str());
            assert_eq!(
                (ours.0, d.len(), ours.2),
                (rust.0, r.len(), rust.2),
                "{v:e}"
            );
            let text = format!(
                "{}{}.{}e{}",
                if ours.0 { "-" } else { "" },
                &d[..1],
                &d[1..],
                ours.2
            );
            assert!(text.parse::<F>().ok() == Some(v), "{text} is not {v:e}");
            assert!(
                d.ends_with(['0', '2', '4', '6', '8']),
                "{text}: a tie goes to even"
            );
            true
        }
        let (mut x, mut ties): (u64, usize) = (0x9E37_79B9_7F4A_7C15, 0);
        for _ in 0..200_000 {
            // xorshift64*
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            let bits = x.wrapping_mul(0x2545_F491_4F6C_DD1D);
            let v = f64::from_bits(bits);
            if v.is_finite() && v != 0.0 {
                ties += usize::from(check(v, parts(ryu::Buffer::new().format_finite(v))));
            }
            let w = f32::from_bits((bits >> 32) as u32);
            if w.is_finite() && w != 0.0 {
                ties += usize::from(check(w, parts(ryu::Buffer::new().format_finite(w))));
            }
        }
        assert!(ties < 1_000, "{ties} ties");
        // Ryū's own forms.
        for (text, expected) in [
            ("0.001", (false, "1", -3)),
            ("1e16", (false, "1", 16)),
            ("123456789.0", (false, "123456789", 8)),
            ("-1.234e-7", (true, "1234", -7)),
            ("1.0", (false, "1", 0)),
            ("100.0", (false, "1", 2)),
            ("10.5", (false, "105", 1)),
            ("0.0", (false, "0", 0)),
            ("-0.000125", (true, "125", -4)),
        ] {
            let (negative, digits, exp) = parts(text);
            assert_eq!((negative, digits.as_str(), exp), expected, "{text}");
        }
    }

    #[test]
    fn small_unscaled_values_give_big_integers_bytes() {
        let mut cases = vec![
            0,
            1,
            -1,
            127,
            128,
            -128,
            -129,
            255,
            256,
            -256,
            -257,
            i64::MAX,
            i64::MIN,
        ];
        cases.extend(
            (0..63).flat_map(|b| [1i64 << b, (1i64 << b) - 1, -(1i64 << b), -(1i64 << b) - 1]),
        );
        for v in cases {
            let (bytes, start) = signed_bytes(v);
            assert_eq!(
                &bytes[start..],
                &BigInt::from(v).to_signed_bytes_be()[..],
                "{v}"
            );
        }
    }

    #[test]
    fn java_big_decimal_to_string() {
        let cases: [(i64, i64, &str); 11] = [
            (156, 2, "1.56"),
            (15600, 4, "1.5600"),
            (-1, 3, "-0.001"),
            (1, 6, "0.000001"),
            (1, 7, "1E-7"),
            (1, 8, "1E-8"),
            (-12345, 10, "-0.0000012345"),
            (1, -3, "1E+3"),
            (123, -2, "1.23E+4"),
            (0, 2, "0.00"),
            (42, 0, "42"),
        ];
        for (unscaled, scale, expected) in cases {
            let mut out = String::new();
            write_java_bigdecimal(&mut out, &BigDecimal::new(BigInt::from(unscaled), scale));
            assert_eq!(out, expected, "{unscaled} scale {scale}");
        }
    }

    #[tokio::test]
    async fn strings_are_escaped_like_jackson() {
        let text = "q\"b\\s/\n\t\r\u{8}\u{c}\u{1}\u{1f}\u{7f}é😀";
        // DEL and other characters of the Basic Multilingual Plane are written as they are.
        round_trip(
            string(),
            s(text),
            "\"q\\\"b\\\\s/\\n\\t\\r\\b\\f\\u0001\\u001F\u{7f}é\\uD83D\\uDE00\"",
        )
        .await;
        let c = converter(&[]);
        let back = read(&c, r#"{"schema":null,"payload":"\u00e9\ud83d\ude00\/"}"#).await;
        assert_eq!(back.value, s("é😀/"));
    }

    /// The eight-bytes-at-a-time scan finds every byte to escape, wherever it sits in a
    /// chunk and next to non-ASCII: checked against a character-by-character escaper.
    #[tokio::test]
    async fn escapes_are_found_at_every_position() {
        fn reference(s: &str) -> String {
            let mut o = String::from("\"");
            for c in s.chars() {
                match c {
                    '"' => o.push_str("\\\""),
                    '\\' => o.push_str("\\\\"),
                    '\u{8}' => o.push_str("\\b"),
                    '\t' => o.push_str("\\t"),
                    '\n' => o.push_str("\\n"),
                    '\u{c}' => o.push_str("\\f"),
                    '\r' => o.push_str("\\r"),
                    c if u32::from(c) < 0x20 => o.push_str(&format!("\\u{:04X}", u32::from(c))),
                    c if u32::from(c) > 0xFFFF => {
                        for unit in c.encode_utf16(&mut [0; 2]) {
                            o.push_str(&format!("\\u{unit:04X}"));
                        }
                    }
                    c => o.push(c),
                }
            }
            o.push('"');
            o
        }
        let c = converter(&[("schemas.enable", "false")]);
        let specials = [
            "\"", "\\", "\n", "\u{1}", "\u{1f}", "😀", "é", "\u{7f}", "ÿ", " ", "~",
        ];
        for special in specials {
            for len in [0, 1, 7, 8, 9, 15, 16, 17, 31] {
                for at in 0..=len {
                    let mut text = "abcdefghijklmnopqrstuvwxyz01234"[..len].to_owned();
                    text.insert_str(at, special);
                    text.push_str("é tail 😀 end");
                    assert_eq!(
                        write(&c, Some(string()), s(&text)).await,
                        reference(&text),
                        "{text:?}"
                    );
                }
            }
        }
    }

    // --- complex types ---------------------------------------------------------------------

    #[tokio::test]
    async fn arrays_and_maps_round_trip() {
        round_trip(
            SchemaBuilder::array(int32()).build(),
            Value::Array(vec![Value::Int32(1), Value::Int32(2), Value::Int32(3)]),
            "[1,2,3]",
        )
        .await;
        round_trip(
            SchemaBuilder::map(string(), int32()).build(),
            Value::Map(vec![
                (s("key1"), Value::Int32(12)),
                (s("key2"), Value::Int32(15)),
            ]),
            r#"{"key1":12,"key2":15}"#,
        )
        .await;
        round_trip(
            SchemaBuilder::map(int32(), SchemaBuilder::string().optional().build()).build(),
            Value::Map(vec![
                (Value::Int32(1), s("a")),
                (Value::Int32(2), Value::Null),
            ]),
            r#"[[1,"a"],[2,null]]"#,
        )
        .await;
        let struct_key = SchemaBuilder::struct_().field("k", int32()).build();
        round_trip(
            SchemaBuilder::map(struct_key.clone(), SchemaBuilder::boolean().build()).build(),
            Value::Map(vec![(
                Value::Struct(Struct::new(struct_key).with("k", Value::Int32(7))),
                Value::Boolean(true),
            )]),
            r#"[[{"k":7},true]]"#,
        )
        .await;
        round_trip(
            SchemaBuilder::map(string(), int32()).build(),
            Value::Map(vec![]),
            "{}",
        )
        .await;
    }

    #[tokio::test]
    async fn map_schema_json_and_kafka_inputs() {
        let c = converter(&[]);
        assert_eq!(
            write(
                &c,
                Some(SchemaBuilder::map(int32(), int32()).build()),
                Value::Map(vec![(Value::Int32(1), Value::Int32(12))])
            )
            .await,
            r#"{"schema":{"type":"map","keys":{"type":"int32","optional":false},"values":{"type":"int32","optional":false},"optional":false},"payload":[[1,12]]}"#
        );
        let got = read(
            &c,
            r#"{ "schema": { "type": "map", "keys": { "type" : "int32" }, "values": { "type" : "int32" } }, "payload": [ [1, 12], [2, 15] ] }"#,
        )
        .await;
        assert_eq!(
            got.value,
            Value::Map(vec![
                (Value::Int32(1), Value::Int32(12)),
                (Value::Int32(2), Value::Int32(15))
            ])
        );
        assert_eq!(
            read_err(&c, r#"{"schema":{"type":"map","keys":{"type":"int32"},"values":{"type":"int32"}},"payload":[[1,2,3]]}"#).await,
            "Found invalid map entry, expected length 2 but found :3 (topic t, at $.payload[0])"
        );
        assert_eq!(
            read_err(&c, r#"{"schema":{"type":"map","keys":{"type":"string"},"values":{"type":"int32"}},"payload":[]}"#).await,
            "Maps with string fields should be encoded as JSON objects, but found ARRAY (topic t, at $.payload)"
        );
    }

    #[tokio::test]
    async fn duplicate_map_keys_keep_first_position_and_last_value() {
        let c = converter(&[("schemas.enable", "false")]);
        let map = Value::Map(vec![
            (s("a"), Value::Int32(1)),
            (s("b"), Value::Int32(2)),
            (s("a"), Value::Int32(3)),
        ]);
        assert_eq!(write(&c, None, map).await, r#"{"a":3,"b":2}"#);
        assert_eq!(
            read(&c, r#"{"a":1,"b":2,"a":3}"#).await.value,
            Value::Map(vec![(s("a"), Value::Int64(3)), (s("b"), Value::Int64(2))])
        );
    }

    #[tokio::test]
    async fn nested_structs_round_trip() {
        let address = SchemaBuilder::struct_()
            .name("Address")
            .field("city", string())
            .field("zip", SchemaBuilder::string().optional().build())
            .optional()
            .build();
        let line = SchemaBuilder::struct_()
            .field("sku", string())
            .field("qty", int32())
            .build();
        let order = SchemaBuilder::struct_()
            .field("address", address.clone())
            .field("lines", SchemaBuilder::array(line.clone()).build())
            .field(
                "meta",
                SchemaBuilder::map(
                    string(),
                    SchemaBuilder::array(SchemaBuilder::int64().build()).build(),
                )
                .build(),
            )
            .build();
        let value = Struct::new(order.clone())
            .with(
                "address",
                Value::Struct(Struct::new(address).with("city", s("Oslo"))),
            )
            .with(
                "lines",
                Value::Array(vec![
                    Value::Struct(
                        Struct::new(line.clone())
                            .with("sku", s("A"))
                            .with("qty", Value::Int32(2)),
                    ),
                    Value::Struct(
                        Struct::new(line)
                            .with("sku", s("B"))
                            .with("qty", Value::Int32(1)),
                    ),
                ]),
            )
            .with(
                "meta",
                Value::Map(vec![(
                    s("ids"),
                    Value::Array(vec![Value::Int64(1), Value::Int64(-2)]),
                )]),
            );
        round_trip(
            order,
            Value::Struct(value),
            r#"{"address":{"city":"Oslo","zip":null},"lines":[{"sku":"A","qty":2},{"sku":"B","qty":1}],"meta":{"ids":[1,-2]}}"#,
        )
        .await;
    }

    #[tokio::test]
    async fn kafka_struct_inputs() {
        let c = converter(&[]);
        let got = read(
            &c,
            r#"{ "schema": { "type": "struct", "fields": [{ "field":"optional", "type": "string", "optional": true }, {  "field": "required", "type": "string" }] }, "payload": { "required": "required" } }"#,
        )
        .await;
        let schema = SchemaBuilder::struct_()
            .field("optional", Schema::optional_string())
            .field("required", string())
            .build();
        assert_eq!(got.schema.as_ref(), Some(&schema));
        assert_eq!(
            got.value,
            Value::Struct(Struct::new(schema).with("required", s("required")))
        );
        assert_eq!(
            read_err(&c, r#"{"schema":{"type":"struct","fields":[{"field":"a","type":"int64"}]},"payload":{}}"#).await,
            "Invalid null value for required INT64 field (topic t, at $.payload.a)"
        );
        assert_eq!(
            read_err(&c, r#"{"schema":{"type":"struct","fields":[{"field":"a","type":"int64"}]},"payload":[]}"#).await,
            "Structs should be encoded as JSON objects, but found ARRAY (topic t, at $.payload)"
        );
    }

    #[tokio::test]
    async fn struct_defaults_read_from_json_can_be_written_back() {
        let c = converter(&[]);
        let text = r#"{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"a"}],"optional":true,"default":{"a":5}},"payload":null}"#;
        let got = read(&c, text).await;
        let Value::Struct(st) = &got.value else {
            panic!("{got:?}")
        };
        assert_eq!(st.get("a"), Some(&Value::Int32(5)));
        assert_eq!(
            write(&c, got.schema.clone(), got.value.clone()).await,
            text.replace("\"payload\":null", "\"payload\":{\"a\":5}")
        );
    }

    // --- logical types ---------------------------------------------------------------------

    #[tokio::test]
    async fn decimals_as_base64() {
        round_trip(logical::decimal_schema(2), decimal("1.56"), r#""AJw=""#).await;
        round_trip(logical::decimal_schema(2), decimal("-1.56"), r#""/2Q=""#).await;
        round_trip(logical::decimal_schema(2), decimal("0.00"), r#""AA==""#).await;
        round_trip(
            logical::decimal_schema(20),
            decimal("-12345678901234567890.12345678901234567890"),
            r#""/F8234o/JAxHU0OgaTHA9S4=""#,
        )
        .await;
        let c = converter(&[]);
        let got = read(
            &c,
            r#"{ "schema": { "type": "bytes", "name": "org.apache.kafka.connect.data.Decimal", "version": 1, "parameters": { "scale": "2" } }, "payload": "AJw=" }"#,
        )
        .await;
        assert_eq!(got.schema, Some(logical::decimal_schema(2)));
        let Value::Decimal(d) = got.value else {
            panic!()
        };
        assert_eq!(d.as_bigint_and_exponent(), (BigInt::from(156), 2));
    }

    #[tokio::test]
    async fn decimals_as_numbers() {
        let c = converter(&[("decimal.format", "NUMERIC")]);
        let text = write(&c, Some(logical::decimal_schema(4)), decimal("1.5600")).await;
        assert_eq!(
            text,
            r#"{"schema":{"type":"bytes","optional":false,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"4"}},"payload":1.5600}"#
        );
        let Value::Decimal(d) = read(&c, &text).await.value else {
            panic!()
        };
        assert_eq!(d.as_bigint_and_exponent(), (BigInt::from(15600), 4));
        // Too precise for a double, and read the same whatever decimal.format says.
        let base64 = converter(&[]);
        let got = read(
            &base64,
            r#"{"schema":{"type":"bytes","name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"17"}},"payload":1.23456789123456789}"#,
        )
        .await;
        let Value::Decimal(d) = got.value else {
            panic!()
        };
        assert_eq!(
            d.as_bigint_and_exponent(),
            (BigInt::from(123456789123456789_i64), 17)
        );
        assert_eq!(
            write(
                &c,
                Some(logical::decimal_schema(0)),
                Value::Decimal(BigDecimal::new(BigInt::from(5), -3))
            )
            .await,
            r#"{"schema":{"type":"bytes","optional":false,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"0"}},"payload":5E+3}"#
        );
    }

    #[tokio::test]
    async fn decimal_errors() {
        let c = converter(&[]);
        assert_eq!(
            write_err(&c, Some(logical::decimal_schema(2)), decimal("1.5")).await,
            "Decimal value has mismatching scale for given Decimal schema. Schema has scale 2, value has scale 1. (topic t, at $)"
        );
        assert_eq!(
            write_err(&c, Some(logical::decimal_schema(2)), Value::Float64(1.5)).await,
            "Invalid type for Decimal, expected BigDecimal but was class java.lang.Double (topic t, at $)"
        );
        assert_eq!(
            write_err(&c, None, decimal("1.5")).await,
            "Java class class java.math.BigDecimal does not have corresponding schema type. (topic t, at $)"
        );
        assert_eq!(
            read_err(&c, r#"{"schema":{"type":"bytes","name":"org.apache.kafka.connect.data.Decimal"},"payload":"AJw="}"#).await,
            "Invalid bytes for Decimal field: Invalid Decimal schema: scale parameter not found. (topic t, at $.payload)"
        );
        assert_eq!(
            read_err(&c, r#"{"schema":{"type":"bytes","name":"org.apache.kafka.connect.data.Decimal","parameters":{"scale":"2"}},"payload":true}"#).await,
            "Invalid type for Decimal, underlying representation should be numeric or bytes but was BOOLEAN (topic t, at $.payload)"
        );
    }

    #[tokio::test]
    async fn dates_times_and_timestamps() {
        round_trip(logical::date().build(), Value::Date(10000), "10000").await;
        round_trip(logical::date().build(), Value::Date(-1), "-1").await;
        round_trip(logical::time().build(), Value::Time(14400000), "14400000").await;
        round_trip(
            logical::timestamp().build(),
            Value::Timestamp(4000000000),
            "4000000000",
        )
        .await;
        round_trip(logical::timestamp().build(), Value::Timestamp(-42), "-42").await;
        let c = converter(&[]);
        assert_eq!(
            write(&c, Some(logical::date().build()), Value::Date(10000)).await,
            r#"{"schema":{"type":"int32","optional":false,"name":"org.apache.kafka.connect.data.Date","version":1},"payload":10000}"#
        );
        assert_eq!(
            write(
                &c,
                Some(logical::timestamp().build()),
                Value::Timestamp(4000000000)
            )
            .await,
            r#"{"schema":{"type":"int64","optional":false,"name":"org.apache.kafka.connect.data.Timestamp","version":1},"payload":4000000000}"#
        );
        // Connect holds all three as java.util.Date, so each converts to the others' schemas.
        assert!(
            write(
                &c,
                Some(logical::date().build()),
                Value::Timestamp(3 * MILLIS_PER_DAY)
            )
            .await
            .ends_with(r#""payload":3}"#)
        );
        assert!(
            write(&c, Some(logical::timestamp().build()), Value::Date(2))
                .await
                .ends_with(r#""payload":172800000}"#)
        );
        assert_eq!(
            write_err(&c, Some(logical::date().build()), Value::Timestamp(1)).await,
            "Kafka Connect Date type should not have any time fields set to non-zero values. (topic t, at $)"
        );
        assert_eq!(
            write_err(
                &c,
                Some(logical::time().build()),
                Value::Timestamp(MILLIS_PER_DAY + 1)
            )
            .await,
            "Kafka Connect Time type should not have any date fields set to non-zero values. (topic t, at $)"
        );
        assert_eq!(
            write_err(&c, Some(logical::date().build()), Value::Int32(5)).await,
            "Invalid type for Date, expected Date but was class java.lang.Integer (topic t, at $)"
        );
        assert_eq!(
            read_err(&c, r#"{"schema":{"type":"int32","name":"org.apache.kafka.connect.data.Time"},"payload":90000000}"#).await,
            "Time values must use number of milliseconds greater than 0 and less than 86400000 (topic t, at $.payload)"
        );
        assert_eq!(
            read_err(&c, r#"{"schema":{"type":"int32","name":"org.apache.kafka.connect.data.Date"},"payload":1.5}"#).await,
            "Invalid type for Date, underlying representation should be integer but was NUMBER (topic t, at $.payload)"
        );
        assert_eq!(
            read_err(&c, r#"{"schema":{"type":"int64","name":"org.apache.kafka.connect.data.Timestamp"},"payload":"x"}"#).await,
            "Invalid type for Timestamp, underlying representation should be integral but was STRING (topic t, at $.payload)"
        );
        // Logical defaults are converted too.
        let got = read(&c, r#"{ "schema": { "type": "int64", "name": "org.apache.kafka.connect.data.Timestamp", "version": 1,  "optional": true, "default": 42 }, "payload": null }"#).await;
        assert_eq!(
            got.schema,
            Some(
                logical::timestamp()
                    .optional()
                    .default_value(Value::Timestamp(42))
                    .build()
            )
        );
        assert_eq!(got.value, Value::Timestamp(42));
    }

    // --- nulls and defaults ----------------------------------------------------------------

    #[tokio::test]
    async fn tombstones_stay_tombstones() {
        for enabled in ["true", "false"] {
            let c = converter(&[("schemas.enable", enabled)]);
            assert_eq!(
                c.from_connect("t", &[], &SchemaAndValue::null())
                    .await
                    .unwrap(),
                None
            );
            assert_eq!(
                c.to_connect("t", &[], None).await.unwrap(),
                SchemaAndValue::null()
            );
        }
        // Kafka writes a null with a schema as an envelope (schemas on) or `null` (off).
        let optional = Schema::optional_string();
        let c = converter(&[]);
        assert_eq!(
            write(&c, Some(optional.clone()), Value::Null).await,
            r#"{"schema":{"type":"string","optional":true},"payload":null}"#
        );
        assert_eq!(
            write(
                &converter(&[("schemas.enable", "false")]),
                Some(optional),
                Value::Null
            )
            .await,
            "null"
        );
        assert_eq!(
            read(&c, r#"{ "schema": null, "payload": null }"#).await,
            SchemaAndValue::null()
        );
        assert_eq!(
            read(&converter(&[("schemas.enable", "false")]), "null").await,
            SchemaAndValue::null()
        );
    }

    #[tokio::test]
    async fn empty_input() {
        // Jackson reads empty input as a missing node: null without schemas...
        let plain = converter(&[("schemas.enable", "false")]);
        assert_eq!(read(&plain, "").await, SchemaAndValue::null());
        assert_eq!(read(&plain, " \n").await, SchemaAndValue::null());
        // ...and not an envelope with them.
        let c = converter(&[]);
        assert_eq!(read_err(&c, "").await, format!("{ENVELOPE} (topic t)"));
    }

    #[tokio::test]
    async fn nulls_and_defaults() {
        let with_default = SchemaBuilder::string()
            .optional()
            .default_value(s("default"))
            .build();
        let c = converter(&[]);
        assert_eq!(
            write(&c, Some(with_default.clone()), Value::Null).await,
            r#"{"schema":{"type":"string","optional":true,"default":"default"},"payload":"default"}"#
        );
        let keep_null = converter(&[("replace.null.with.default", "false")]);
        assert_eq!(
            write(&keep_null, Some(with_default.clone()), Value::Null).await,
            r#"{"schema":{"type":"string","optional":true,"default":"default"},"payload":null}"#
        );
        let text = r#"{"schema":{"type":"struct","fields":[{"field":"field1","type":"string","optional":true,"default":"default"}],"optional":false},"payload":{"field1":null}}"#;
        let st = SchemaBuilder::struct_()
            .field("field1", with_default)
            .build();
        assert_eq!(
            read(&c, text).await.value,
            Value::Struct(Struct::new(st.clone()).with("field1", s("default")))
        );
        assert_eq!(
            read(&keep_null, text).await.value,
            Value::Struct(Struct::new(st.clone()))
        );
        assert_eq!(
            write(&c, Some(st.clone()), Value::Struct(Struct::new(st.clone()))).await,
            r#"{"schema":{"type":"struct","fields":[{"type":"string","optional":true,"default":"default","field":"field1"}],"optional":false},"payload":{"field1":"default"}}"#
        );
        assert_eq!(
            write(&keep_null, Some(st.clone()), Value::Struct(Struct::new(st))).await,
            r#"{"schema":{"type":"struct","fields":[{"type":"string","optional":true,"default":"default","field":"field1"}],"optional":false},"payload":{"field1":null}}"#
        );
        assert_eq!(
            read(
                &c,
                r#"{ "schema": { "type": "boolean", "default": true }, "payload": null }"#
            )
            .await,
            SchemaAndValue::new(
                Some(
                    SchemaBuilder::boolean()
                        .default_value(Value::Boolean(true))
                        .build()
                ),
                Value::Boolean(true)
            )
        );
    }

    #[tokio::test]
    async fn required_nulls_name_the_field() {
        let customer = SchemaBuilder::struct_()
            .field("id", SchemaBuilder::int64().build())
            .build();
        let order = SchemaBuilder::struct_()
            .field("customer", customer.clone())
            .field("items", SchemaBuilder::array(int32()).build())
            .build();
        let c = converter(&[]);
        let value = Struct::new(order.clone())
            .with("customer", Value::Struct(Struct::new(customer.clone())))
            .with("items", Value::Array(vec![]));
        assert_eq!(
            write_err(&c, Some(order.clone()), Value::Struct(value)).await,
            "Conversion error: null value for field that is required and has no default value (topic t, at $.customer.id)"
        );
        let value = Struct::new(order.clone())
            .with(
                "customer",
                Value::Struct(Struct::new(customer).with("id", Value::Int64(1))),
            )
            .with("items", Value::Array(vec![Value::Int32(1), Value::Null]));
        assert_eq!(
            write_err(&c, Some(order), Value::Struct(value)).await,
            "Conversion error: null value for field that is required and has no default value (topic t, at $.items[1])"
        );
        assert_eq!(
            write_err(&c, Some(int32()), Value::Null).await,
            "Conversion error: null value for field that is required and has no default value (topic t, at $)"
        );
        assert_eq!(
            read_err(&c, r#"{"schema":{"type":"int32"},"payload":null}"#).await,
            "Invalid null value for required INT32 field (topic t, at $.payload)"
        );
    }

    // --- type errors -----------------------------------------------------------------------

    #[tokio::test]
    async fn values_that_do_not_match_their_schema() {
        let c = converter(&[]);
        assert_eq!(
            write_err(&c, Some(int32()), s("12")).await,
            "Invalid type for INT32: class java.lang.String (topic t, at $)"
        );
        assert_eq!(
            write_err(
                &c,
                Some(SchemaBuilder::float64().build()),
                Value::Boolean(true)
            )
            .await,
            "Invalid type for FLOAT64: class java.lang.Boolean (topic t, at $)"
        );
        let st = SchemaBuilder::struct_()
            .field("a", SchemaBuilder::map(string(), int32()).build())
            .build();
        let value = Struct::new(st.clone()).with("a", Value::Map(vec![(s("k"), Value::Int64(1))]));
        assert_eq!(
            write_err(&c, Some(st.clone()), Value::Struct(value.clone())).await,
            "Invalid type for INT32: class java.lang.Long (topic t, at $.a[\"k\"])"
        );
        // A struct must carry the schema it is written with, and needs one.
        let other = SchemaBuilder::struct_().field("a", int32()).build();
        assert_eq!(
            write_err(&c, Some(other), Value::Struct(value.clone())).await,
            "Mismatching schema. (topic t, at $)"
        );
        assert_eq!(
            write_err(&c, None, Value::Struct(value)).await,
            "Mismatching schema. (topic t, at $)"
        );

        assert_eq!(
            read_err(&c, r#"{"schema":{"type":"int32"},"payload":"12"}"#).await,
            "Invalid value for INT32: expected a number but found STRING (topic t, at $.payload)"
        );
        assert_eq!(
            read_err(&c, r#"{"schema":{"type":"int8"},"payload":300}"#).await,
            "Invalid value 300 for INT8: not an integer in its range (topic t, at $.payload)"
        );
        assert_eq!(
            read_err(&c, r#"{"schema":{"type":"int32"},"payload":1.5}"#).await,
            "Invalid value 1.5 for INT32: not an integer in its range (topic t, at $.payload)"
        );
        assert_eq!(
            read_err(
                &c,
                r#"{"schema":{"type":"array","items":{"type":"boolean"}},"payload":[true,1]}"#
            )
            .await,
            "Invalid value for BOOLEAN: expected a boolean but found NUMBER (topic t, at $.payload[1])"
        );
        assert_eq!(
            read(&c, r#"{"schema":{"type":"int64"},"payload":1e3}"#)
                .await
                .value,
            Value::Int64(1000)
        );
    }

    #[tokio::test]
    async fn bad_schemas() {
        let c = converter(&[]);
        let cases = [
            (
                r#"{"schema":{},"payload":1}"#,
                "Schema must contain 'type' field (topic t, at $.schema)",
            ),
            (
                r#"{"schema":"int32","payload":1}"#,
                "Schema must contain 'type' field (topic t, at $.schema)",
            ),
            (
                r#"{"schema":{"type":"int128"},"payload":1}"#,
                "Unknown schema type: int128 (topic t, at $.schema)",
            ),
            (
                r#"{"schema":{"type":"array"},"payload":[]}"#,
                "Array schema did not specify the element type (topic t, at $.schema)",
            ),
            (
                r#"{"schema":{"type":"map","values":{"type":"int32"}},"payload":{}}"#,
                "Map schema did not specify the key type (topic t, at $.schema)",
            ),
            (
                r#"{"schema":{"type":"struct","fields":{}},"payload":{}}"#,
                "Struct schema's \"fields\" argument is not an array. (topic t, at $.schema)",
            ),
            (
                r#"{"schema":{"type":"struct","fields":[{"type":"int32"}]},"payload":{}}"#,
                "Struct schema's field name not specified properly (topic t, at $.schema.fields[0])",
            ),
            (
                r#"{"schema":{"type":"struct","fields":[{"type":"int32","field":"a"},{"type":"int8","field":"a"}]},"payload":{}}"#,
                "Cannot create field because of field name duplication a (topic t, at $.schema.fields[1])",
            ),
            (
                r#"{"schema":{"type":"struct","fields":[{"type":"int32","field":"a","parameters":{"x":1}}]},"payload":{}}"#,
                "Schema parameters must have string values. (topic t, at $.schema.fields[0].parameters)",
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(read_err(&c, text).await, expected, "{text}");
        }
    }

    // --- envelope and parse errors ----------------------------------------------------------

    #[tokio::test]
    async fn a_bad_envelope_is_refused_with_kafkas_message() {
        let c = converter(&[]);
        for text in [
            r#"{"payload":1}"#,
            r#"{"schema":null}"#,
            r#"{"schema":null,"payload":1,"extra":2}"#,
            r#"{"schema":null,"other":1}"#,
            "[1,2]",
            "42",
            "{\"a\":1}",
        ] {
            let err = c
                .to_connect("orders", &[], Some(text.as_bytes()))
                .await
                .unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("{ENVELOPE} (topic orders)"),
                "{text}"
            );
        }
    }

    #[tokio::test]
    async fn unparseable_bytes() {
        let c = converter(&[]);
        let cases: [(&[u8], &str); 8] = [
            (
                b"{\"schema\":",
                "Unexpected end-of-input: expected a JSON value at line 1, column 11",
            ),
            (
                b"{\"a\" 1}",
                "Unexpected character ('1' (code 49)): was expecting a colon to separate field name and value at line 1, column 6",
            ),
            (
                b"nope",
                "Unrecognized token 'nope': was expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false') at line 1, column 1",
            ),
            (
                b"[1,]",
                "Unexpected character (']' (code 93)): expected a JSON value (String, Number, Array, Object or token 'null', 'true' or 'false') at line 1, column 4",
            ),
            (
                b"{\n  \"a\": \"x\ny\"}",
                "Illegal unquoted character ((CTRL-CHAR, code 10)): has to be escaped using backslash to be included in string value at line 2, column 10",
            ),
            (
                b"[\"\xff\"]",
                "Invalid UTF-8 middle or start byte at line 1, column 3",
            ),
            (
                b"12x",
                "Unexpected character ('x' (code 120)): Expected space separating root-level values at line 1, column 3",
            ),
            (
                b"[truex]",
                "Unrecognized token 'truex': was expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false') at line 1, column 2",
            ),
        ];
        for (bytes, cause) in cases {
            let err = c.to_connect("orders", &[], Some(bytes)).await.unwrap_err();
            assert!(matches!(err, ConnectError::Data(_)));
            assert_eq!(
                err.to_string(),
                format!(
                    "Converting byte[] to Kafka Connect data failed due to serialization error of topic orders: {cause}"
                )
            );
        }
    }

    #[test]
    fn jackson_limits() {
        // A thousand levels of recursion need more than a test thread's stack in debug
        // builds (a release build needs about 0.5 MiB).
        let deep = std::thread::Builder::new()
            .stack_size(16 << 20)
            .spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
                runtime.block_on(async {
                    let c = converter(&[("schemas.enable", "false")]);
                    let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
                    let mut value = Value::Array(vec![]);
                    for _ in 1..1000 {
                        value = Value::Array(vec![value]);
                    }
                    assert_eq!(read(&c, &nested(1000)).await.value, value);
                    let text = write(&c, None, value).await;
                    assert_eq!(text, nested(1000));
                    assert_eq!(
                        read_err(&c, &nested(1001)).await,
                        "Converting byte[] to Kafka Connect data failed due to serialization error of topic t: Document nesting depth exceeds the maximum allowed (1000) at line 1, column 1001"
                    );
                });
            })
            .unwrap();
        deep.join().unwrap();
    }

    #[tokio::test]
    async fn jackson_number_length_limit() {
        let c = converter(&[("schemas.enable", "false")]);
        let digits = format!("-1.{}e5", "0".repeat(999));
        assert_eq!(read(&c, &digits).await.value, Value::Float64(-100000.0));
        assert_eq!(
            read_err(&c, &format!("1{}", "0".repeat(1000))).await,
            "Converting byte[] to Kafka Connect data failed due to serialization error of topic t: Number value length (1001) exceeds the maximum allowed (1000) at line 1, column 1"
        );
    }

    #[tokio::test]
    async fn jackson_leniencies() {
        let c = converter(&[]);
        // Leading zeros are allowed (Kafka enables ALLOW_LEADING_ZEROS_FOR_NUMBERS).
        assert_eq!(
            read(
                &c,
                r#"{ "schema": { "type": "int64" }, "payload": 00000123456789 }"#
            )
            .await
            .value,
            Value::Int64(123456789)
        );
        // Content after the first value is not read, and a BOM is skipped.
        assert_eq!(
            read(&c, "\u{feff}{\"schema\":null,\"payload\":1} trailing {").await,
            SchemaAndValue::new(None, Value::Int64(1))
        );
        let plain = converter(&[("schemas.enable", "false")]);
        assert_eq!(read(&plain, "1 2").await.value, Value::Int64(1));
        // A repeated envelope field is one field.
        assert_eq!(
            read(&c, r#"{"schema":{"type":"int32"},"payload":1,"payload":2}"#)
                .await
                .value,
            Value::Int32(2)
        );
    }

    // --- schemaless ------------------------------------------------------------------------

    #[tokio::test]
    async fn schemas_disabled_writes_the_bare_payload() {
        let c = converter(&[("schemas.enable", "false")]);
        let st = SchemaBuilder::struct_()
            .field("a", int32())
            .field("b", Schema::optional_string())
            .build();
        assert_eq!(
            write(
                &c,
                Some(st.clone()),
                Value::Struct(Struct::new(st).with("a", Value::Int32(1)))
            )
            .await,
            r#"{"a":1,"b":null}"#
        );
        assert_eq!(write(&c, None, Value::Boolean(true)).await, "true");
        assert_eq!(
            write(
                &c,
                None,
                Value::Array(vec![
                    Value::Int32(1),
                    s("string"),
                    Value::Boolean(true),
                    Value::Null,
                    Value::Float32(1.5)
                ])
            )
            .await,
            r#"[1,"string",true,null,1.5]"#
        );
        assert_eq!(
            write(
                &c,
                None,
                Value::Map(vec![
                    (s("string"), Value::Int32(12)),
                    (Value::Int32(52), s("string")),
                    (Value::Boolean(false), Value::Boolean(true))
                ])
            )
            .await,
            r#"[["string",12],[52,"string"],[false,true]]"#
        );
        assert_eq!(
            write(&c, None, Value::Bytes(Bytes::from_static(b"\x00\x01"))).await,
            r#""AAE=""#
        );
        // With schemas on, a schemaless value gets "schema":null.
        assert_eq!(
            write(&converter(&[]), None, s("x")).await,
            r#"{"schema":null,"payload":"x"}"#
        );
    }

    #[tokio::test]
    async fn schemas_disabled_reads_plain_json() {
        let c = converter(&[("schemas.enable", "false")]);
        let got = read(&c, r#"{"a": [1, 2.5, "x", null, true, {"b": 007}], "c": 12345678901, "d": 1e3, "e": -0.0}"#).await;
        assert_eq!(got.schema, None);
        assert_eq!(
            got.value,
            Value::Map(vec![
                (
                    s("a"),
                    Value::Array(vec![
                        Value::Int64(1),
                        Value::Float64(2.5),
                        s("x"),
                        Value::Null,
                        Value::Boolean(true),
                        Value::Map(vec![(s("b"), Value::Int64(7))]),
                    ])
                ),
                (s("c"), Value::Int64(12345678901)),
                (s("d"), Value::Float64(1000.0)),
                (s("e"), Value::Float64(0.0)),
            ])
        );
        // Jackson reads numbers as BigDecimal, which has no negative zero.
        assert!(matches!(read(&c, "-0.0").await.value, Value::Float64(v) if v.is_sign_positive()));
        assert_eq!(read(&c, "\"a string\"").await.value, s("a string"));
        assert_eq!(read(&c, "12.24").await.value, Value::Float64(12.24));
        assert_eq!(
            read_err(&c, r#"{"big": 123456789012345678901234}"#).await,
            "Integer 123456789012345678901234 is out of the range of int64 (topic t, at $[\"big\"])"
        );
        // Kafka's own example: schemas off still reads the envelope fields as map entries.
        assert_eq!(
            read(&c, r#"{"schema":null,"payload":1}"#).await.value,
            Value::Map(vec![
                (s("schema"), Value::Null),
                (s("payload"), Value::Int64(1))
            ])
        );
    }

    // --- caching and concurrency ------------------------------------------------------------

    #[tokio::test]
    async fn schema_caches_are_bounded() {
        let c = converter(&[("schemas.cache.size", "2")]);
        for _ in 0..3 {
            read(
                &c,
                r#"{ "schema": { "type": "boolean" }, "payload": true }"#,
            )
            .await;
        }
        assert_eq!(c.cache_sizes(), (0, 1));
        read(
            &c,
            r#"{ "schema": { "type": "boolean", "optional": true }, "payload": true }"#,
        )
        .await;
        read(
            &c,
            r#"{ "schema": { "type": "boolean", "optional": false }, "payload": true }"#,
        )
        .await;
        assert_eq!(c.cache_sizes(), (0, 2));
        // Equal schemas in different allocations share an entry.
        write(
            &c,
            Some(SchemaBuilder::boolean().build()),
            Value::Boolean(true),
        )
        .await;
        write(
            &c,
            Some(SchemaBuilder::boolean().build()),
            Value::Boolean(true),
        )
        .await;
        assert_eq!(c.cache_sizes(), (1, 2));
        for ty in [SchemaType::Int8, SchemaType::Int16, SchemaType::Int32] {
            write(
                &c,
                Some(SchemaBuilder::new(ty).optional().build()),
                Value::Null,
            )
            .await;
        }
        assert_eq!(c.cache_sizes(), (2, 2));
        // The least recently used entry goes first.
        let mut lru = Lru::new(2);
        lru.put(1, "a");
        lru.put(2, "b");
        assert_eq!(lru.get(1), Some(&"a"));
        lru.put(3, "c");
        assert_eq!(lru.get(1), Some(&"a"));
        assert_eq!(lru.get(2), None);
        assert_eq!(lru.get(3), Some(&"c"));

        let uncached = converter(&[("schemas.cache.size", "0")]);
        round_trip(int32(), Value::Int32(1), "1").await;
        assert_eq!(
            read(&uncached, r#"{"schema":{"type":"int32"},"payload":7}"#)
                .await
                .value,
            Value::Int32(7)
        );
        write(&uncached, Some(int32()), Value::Int32(1)).await;
        assert_eq!(uncached.cache_sizes(), (0, 0));
    }

    /// The last schema is found by pointer; a schema written after it, or one equal to it
    /// in another object, gets its own JSON.
    #[tokio::test]
    async fn last_schema_is_reused_by_pointer_only() {
        let c = converter(&[]);
        let a = SchemaBuilder::struct_().field("x", int32()).build();
        let b = SchemaBuilder::struct_().field("y", int32()).build();
        let struct_of = |schema: &SchemaRef| {
            let mut s = Struct::new(schema.clone());
            s.values[0] = Value::Int32(1);
            Value::Struct(s)
        };
        let ta = r#"{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"x"}],"optional":false},"payload":{"x":1}}"#;
        let tb = r#"{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"y"}],"optional":false},"payload":{"y":1}}"#;
        assert_eq!(write(&c, Some(a.clone()), struct_of(&a)).await, ta);
        assert_eq!(write(&c, Some(a.clone()), struct_of(&a)).await, ta);
        assert_eq!(write(&c, Some(b.clone()), struct_of(&b)).await, tb);
        assert_eq!(write(&c, Some(a.clone()), struct_of(&a)).await, ta);
        let a2 = SchemaBuilder::struct_().field("x", int32()).build();
        assert_eq!(write(&c, Some(a2.clone()), struct_of(&a2)).await, ta);
        assert_eq!(c.cache_sizes(), (2, 0));
    }

    /// A record's struct is written through its cached plan (keys and logical types worked
    /// out once): the same text as field by field, on first and later records, with nulls,
    /// escaped names and a nested struct, which is written without a plan.
    #[tokio::test]
    async fn struct_plans_write_what_fields_would() {
        let c = converter(&[("schemas.enable", "false")]);
        let inner = SchemaBuilder::struct_()
            .field("day", logical::date().build())
            .build();
        let schema = SchemaBuilder::struct_()
            .field("ts", logical::timestamp().build())
            .field("d\"q", logical::date().optional().build())
            .field("t", logical::time().build())
            .field("amount", logical::decimal(2).build())
            .field("n", int32())
            .field("inner", inner.clone())
            .build();
        let row = |day: Value| {
            Value::Struct(
                Struct::new(schema.clone())
                    .with("ts", Value::Timestamp(1_000))
                    .with("d\"q", day)
                    .with("t", Value::Time(2_000))
                    .with(
                        "amount",
                        Value::Decimal(BigDecimal::new(BigInt::from(-12_345), 2)),
                    )
                    .with("n", Value::Int32(7))
                    .with(
                        "inner",
                        Value::Struct(Struct::new(inner.clone()).with("day", Value::Date(3))),
                    ),
            )
        };
        let with_day = r#"{"ts":1000,"d\"q":1,"t":2000,"amount":"z8c=","n":7,"inner":{"day":3}}"#;
        let without = r#"{"ts":1000,"d\"q":null,"t":2000,"amount":"z8c=","n":7,"inner":{"day":3}}"#;
        for _ in 0..2 {
            assert_eq!(
                write(&c, Some(schema.clone()), row(Value::Date(1))).await,
                with_day
            );
            assert_eq!(
                write(&c, Some(schema.clone()), row(Value::Null)).await,
                without
            );
        }
        // A value the plan's logical type refuses names the field, as without a plan.
        let bad = Value::Struct(
            Struct::new(schema.clone())
                .with("ts", Value::Timestamp(1_000))
                .with("d\"q", Value::Int32(1))
                .with("t", Value::Time(2_000))
                .with(
                    "amount",
                    Value::Decimal(BigDecimal::new(BigInt::from(1), 2)),
                )
                .with("n", Value::Int32(7))
                .with(
                    "inner",
                    Value::Struct(Struct::new(inner.clone()).with("day", Value::Date(3))),
                ),
        );
        let err = write_err(&c, Some(schema.clone()), bad).await;
        assert!(err.contains("d\"q"), "{err}");
    }

    #[tokio::test]
    async fn shared_between_tasks() {
        let c = Arc::new(converter(&[("schemas.cache.size", "3")]));
        let mut handles = Vec::new();
        for task in 0..8_i32 {
            let c = Arc::clone(&c);
            handles.push(tokio::spawn(async move {
                for i in 0..50_i32 {
                    let schema = SchemaBuilder::struct_()
                        .field(format!("f{}", (task + i) % 5), int32())
                        .build();
                    let value = Value::Struct(
                        Struct::new(schema.clone())
                            .with(&format!("f{}", (task + i) % 5), Value::Int32(i)),
                    );
                    let data = SchemaAndValue::new(Some(schema), value);
                    let bytes = c.from_connect("t", &[], &data).await.unwrap().unwrap();
                    let back = c.to_connect("t", &[], Some(&bytes)).await.unwrap();
                    assert_eq!(back, data);
                }
            }));
        }
        for handle in handles {
            handle.await.unwrap();
        }
        let (from, to) = c.cache_sizes();
        assert!(from <= 3 && to <= 3, "{from} {to}");
    }
}
