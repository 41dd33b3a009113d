//! Connect schemas ⇄ Avro schemas, as Confluent's `AvroData` translates them.
//!
//! Connect → Avro writes the JSON text Java's Avro library prints for the schema
//! `AvroData.fromConnectSchema` builds: the same key order, `connect.*` properties,
//! optional schemas as unions with null (null first, or last when there is a default),
//! decimals as bytes with `logicalType` decimal, and named types written in full once and
//! by name afterwards (relative to the enclosing namespace). Unnamed structs become
//! `io.confluent.connect.avro.ConnectDefault` (the 2nd distinct one `ConnectDefault2`...).
//!
//! Avro → Connect reads the registry's schema JSON back into a Connect schema the way
//! `AvroData.toConnectSchema` does.

use std::collections::HashMap;
use std::sync::Arc;

use bigdecimal::BigDecimal;
use bigdecimal::num_bigint::BigInt;
use serde_json::{Map, Value as J, json};

use crate::data::{Field, Parameters, Schema, SchemaRef, SchemaType, Value, logical};
use crate::errors::{ConnectError, Result};

pub const NAMESPACE: &str = "io.confluent.connect.avro";
pub const DEFAULT_SCHEMA_NAME: &str = "ConnectDefault";
pub const DEFAULT_SCHEMA_FULL_NAME: &str = "io.confluent.connect.avro.ConnectDefault";
pub const MAP_ENTRY_TYPE_NAME: &str = "MapEntry";
pub const KEY_FIELD: &str = "key";
pub const VALUE_FIELD: &str = "value";
pub const CONNECT_NAME_PROP: &str = "connect.name";
pub const CONNECT_DOC_PROP: &str = "connect.doc";
pub const CONNECT_VERSION_PROP: &str = "connect.version";
pub const CONNECT_DEFAULT_VALUE_PROP: &str = "connect.default";
pub const CONNECT_PARAMETERS_PROP: &str = "connect.parameters";
pub const CONNECT_INTERNAL_TYPE_NAME: &str = "connect.internal.type";
pub const CONNECT_TYPE_PROP: &str = "connect.type";
pub const AVRO_RECORD_DOC_PROP: &str = "io.confluent.connect.avro.record.doc";
pub const AVRO_FIELD_DOC_PREFIX_PROP: &str = "io.confluent.connect.avro.field.doc.";
pub const AVRO_FIELD_DEFAULT_FLAG_PROP: &str = "io.confluent.connect.avro.field.default";
pub const AVRO_TYPE_UNION: &str = "io.confluent.connect.avro.Union";
pub const AVRO_TYPE_ENUM: &str = "io.confluent.connect.avro.Enum";
const AVRO_LOGICAL_TYPE_PROP: &str = "logicalType";
const CONNECT_AVRO_DECIMAL_PRECISION_PROP: &str = "connect.decimal.precision";
const DECIMAL_PRECISION_DEFAULT: i64 = 64;

fn data_err(msg: impl Into<String>) -> ConnectError {
    ConnectError::data(msg.into())
}

/// Splits `a.b.C` into (`a.b`, `C`); a name without a dot is in no namespace.
fn split_name(full: &str) -> (Option<&str>, &str) {
    match full.rfind('.') {
        Some(i) => (Some(&full[..i]), &full[i + 1..]),
        None => (None, full),
    }
}

fn is_string_key_map(schema: &Schema) -> bool {
    schema
        .key_schema
        .as_ref()
        .is_some_and(|k| k.ty == SchemaType::String && !k.optional)
}

/// A copy of `schema` that is not optional.
fn non_optional(schema: &Schema) -> Schema {
    let mut s = schema.clone();
    s.optional = false;
    s
}

// ---------------------------------------------------------------------------------------
// Connect → Avro

/// Translates Connect schemas to Avro schema JSON (one translation per call of
/// [`from_connect`]).
pub struct FromConnect {
    connect_meta_data: bool,
    /// Record full names already written, with the Connect schema each stands for.
    names: Vec<(String, Schema)>,
    /// How many unnamed structs got a `ConnectDefault` name so far.
    defaults: usize,
    /// The namespace of the enclosing named type, as Java's `Names.space`.
    space: Option<String>,
}

/// The Avro schema JSON for a Connect schema.
pub fn from_connect(schema: &Schema, connect_meta_data: bool) -> Result<J> {
    let mut t = FromConnect {
        connect_meta_data,
        names: Vec::new(),
        defaults: 0,
        space: None,
    };
    t.schema(schema, false)
}

impl FromConnect {
    /// A named type already written for this Connect schema: its reference.
    fn reference(&self, schema: &Schema) -> Option<J> {
        let (full, _) = self.names.iter().find(|(_, s)| s == schema)?;
        let (space, name) = split_name(full);
        Some(if space == self.space.as_deref() {
            J::String(name.to_owned())
        } else {
            J::String(full.clone())
        })
    }

    /// Claims a full name for a record; None when the name was taken by another schema.
    fn claim(&mut self, full: &str, schema: &Schema) -> bool {
        if self.names.iter().any(|(n, _)| n == full) {
            return false;
        }
        self.names.push((full.to_owned(), schema.clone()));
        true
    }

    /// `"name"` and `"namespace"` written as Java's `Name.writeName` does.
    fn write_name(&self, obj: &mut Map<String, J>, space: Option<&str>, name: &str) {
        obj.insert("name".into(), J::String(name.to_owned()));
        match space {
            Some(s) if Some(s) != self.space.as_deref() => {
                obj.insert("namespace".into(), J::String(s.to_owned()));
            }
            None if self.space.is_some() => {
                obj.insert("namespace".into(), J::String(String::new()));
            }
            _ => {}
        }
    }

    /// A record's JSON, written as Java's `RecordSchema.toJson` orders it.
    fn record(
        &mut self,
        space: Option<&str>,
        name: &str,
        doc: Option<&str>,
        fields: &[(&str, &Schema, Option<&str>)],
        internal_map_entry: bool,
    ) -> Result<Map<String, J>> {
        let mut obj = Map::new();
        obj.insert("type".into(), J::String("record".into()));
        self.write_name(&mut obj, space, name);
        let saved = std::mem::replace(&mut self.space, space.map(str::to_owned));
        if let Some(doc) = doc {
            obj.insert("doc".into(), J::String(doc.to_owned()));
        }
        let mut out = Vec::with_capacity(fields.len());
        for (fname, fschema, fdoc) in fields {
            out.push(self.field(fname, fschema, *fdoc)?);
        }
        obj.insert("fields".into(), J::Array(out));
        self.space = saved;
        if internal_map_entry {
            obj.insert(
                CONNECT_INTERNAL_TYPE_NAME.into(),
                J::String(MAP_ENTRY_TYPE_NAME.into()),
            );
        }
        Ok(obj)
    }

    fn field(&mut self, name: &str, schema: &Schema, doc: Option<&str>) -> Result<J> {
        let mut obj = Map::new();
        obj.insert("name".into(), J::String(name.to_owned()));
        obj.insert("type".into(), self.schema(schema, false)?);
        if let Some(doc) = doc {
            obj.insert("doc".into(), J::String(doc.to_owned()));
        }
        if let Some(d) = &schema.default {
            obj.insert("default".into(), default_json(schema, d)?);
        } else if schema.optional {
            obj.insert("default".into(), J::Null);
        }
        Ok(J::Object(obj))
    }

    /// `AvroData.fromConnectSchema(schema, context, ignoreOptional)`.
    pub fn schema(&mut self, schema: &Schema, ignore_optional: bool) -> Result<J> {
        if !schema.optional && schema.name.as_deref() != Some(AVRO_TYPE_UNION) {
            if let Some(r) = self.reference(schema) {
                return Ok(r);
            }
        }
        let (space, name) = match schema.name.as_deref() {
            Some(n) => split_name(n),
            None => (Some(NAMESPACE), DEFAULT_SCHEMA_NAME),
        };
        let mut connect_type = None;
        let mut base = Map::new();
        let mut union: Option<Vec<J>> = None;
        let ty = |t: &str| J::String(t.to_owned());
        match schema.ty {
            SchemaType::Int8 | SchemaType::Int16 | SchemaType::Int32 => {
                connect_type = match schema.ty {
                    SchemaType::Int8 => Some("int8"),
                    SchemaType::Int16 => Some("int16"),
                    _ => None,
                };
                base.insert("type".into(), ty("int"));
            }
            SchemaType::Int64 => {
                base.insert("type".into(), ty("long"));
            }
            SchemaType::Float32 => {
                base.insert("type".into(), ty("float"));
            }
            SchemaType::Float64 => {
                base.insert("type".into(), ty("double"));
            }
            SchemaType::Boolean => {
                base.insert("type".into(), ty("boolean"));
            }
            SchemaType::String => {
                base.insert("type".into(), ty("string"));
            }
            SchemaType::Bytes => {
                base.insert("type".into(), ty("bytes"));
                if schema.name.as_deref() == Some(logical::DECIMAL) {
                    let (scale, precision) = decimal_scale_precision(schema)?;
                    base.insert("scale".into(), json!(scale));
                    base.insert("precision".into(), json!(precision));
                }
            }
            SchemaType::Array => {
                let items = schema
                    .value_schema
                    .as_ref()
                    .ok_or_else(|| data_err("Array schema without an element schema"))?;
                base.insert("type".into(), ty("array"));
                base.insert("items".into(), self.schema(items, false)?);
            }
            SchemaType::Map => {
                let (Some(k), Some(v)) = (&schema.key_schema, &schema.value_schema) else {
                    return Err(data_err("Map schema without key or value schema"));
                };
                if is_string_key_map(schema) {
                    base.insert("type".into(), ty("map"));
                    base.insert("values".into(), self.schema(v, false)?);
                } else {
                    let (entry_space, entry_name, internal) = match schema.name.as_deref() {
                        None => (Some(NAMESPACE), MAP_ENTRY_TYPE_NAME, false),
                        Some(_) => (space, name, true),
                    };
                    let full = match entry_space {
                        Some(s) => format!("{s}.{entry_name}"),
                        None => entry_name.to_owned(),
                    };
                    let entry_key = non_optional(schema);
                    let items = if let Some(r) = self.reference(&entry_key) {
                        r
                    } else {
                        if !self.claim(&full, &entry_key) {
                            return Err(data_err(format!("Can't redefine: {full}")));
                        }
                        J::Object(self.record(
                            entry_space,
                            entry_name,
                            None,
                            &[(KEY_FIELD, k, None), (VALUE_FIELD, v, None)],
                            internal,
                        )?)
                    };
                    base.insert("type".into(), ty("array"));
                    base.insert("items".into(), items);
                }
            }
            SchemaType::Struct => {
                if schema.name.as_deref() == Some(AVRO_TYPE_UNION) {
                    let mut members = Vec::new();
                    if schema.optional {
                        members.push(ty("null"));
                    }
                    for f in &schema.fields {
                        members.push(self.schema(&non_optional(&f.schema), true)?);
                    }
                    union = Some(members);
                } else if schema.optional {
                    let inner = self.schema(&non_optional(schema), false)?;
                    union = Some(vec![ty("null"), inner]);
                } else {
                    let params = schema.parameters.as_ref();
                    let doc = params.and_then(|p| p.get(AVRO_RECORD_DOC_PROP));
                    let (space, name) = if schema.name.is_some() {
                        (space, name.to_owned())
                    } else {
                        self.defaults += 1;
                        let n = if self.defaults == 1 {
                            DEFAULT_SCHEMA_NAME.to_owned()
                        } else {
                            format!("{DEFAULT_SCHEMA_NAME}{}", self.defaults)
                        };
                        (Some(NAMESPACE), n)
                    };
                    let full = match space {
                        Some(s) => format!("{s}.{name}"),
                        None => name.clone(),
                    };
                    if !self.claim(&full, schema) {
                        return Err(data_err(format!("Can't redefine: {full}")));
                    }
                    let fields: Vec<(&str, &Schema, Option<&str>)> = schema
                        .fields
                        .iter()
                        .map(|f| {
                            let fdoc = params
                                .and_then(|p| {
                                    p.get(&format!("{AVRO_FIELD_DOC_PREFIX_PROP}{}", f.name))
                                })
                                .map(String::as_str);
                            (f.name.as_str(), &*f.schema, fdoc)
                        })
                        .collect();
                    base = self.record(space, &name, doc.map(String::as_str), &fields, false)?;
                }
            }
        }
        if let Some(members) = union {
            return Ok(J::Array(members));
        }

        if self.connect_meta_data {
            if let Some(doc) = &schema.doc {
                base.insert(CONNECT_DOC_PROP.into(), J::String(doc.clone()));
            }
            if let Some(v) = schema.version {
                base.insert(CONNECT_VERSION_PROP.into(), json!(v));
            }
            if let Some(params) = &schema.parameters {
                let mut p = Map::new();
                for (k, v) in params.iter() {
                    if k != AVRO_FIELD_DEFAULT_FLAG_PROP {
                        p.insert(k.clone(), J::String(v.clone()));
                    }
                }
                if !p.is_empty() {
                    base.insert(CONNECT_PARAMETERS_PROP.into(), J::Object(p));
                }
            }
            if let Some(d) = &schema.default {
                let flagged = schema
                    .parameters
                    .as_ref()
                    .is_some_and(|p| p.get(AVRO_FIELD_DEFAULT_FLAG_PROP).is_some());
                if !flagged {
                    base.insert(CONNECT_DEFAULT_VALUE_PROP.into(), default_json(schema, d)?);
                }
            }
            if let Some(n) = &schema.name {
                base.insert(CONNECT_NAME_PROP.into(), J::String(n.clone()));
            }
            if let Some(t) = connect_type {
                base.insert(CONNECT_TYPE_PROP.into(), J::String(t.into()));
            }
        }
        let logical_type = match schema.name.as_deref() {
            Some(logical::DECIMAL) => Some("decimal"),
            Some(logical::TIME) => Some("time-millis"),
            Some(logical::TIMESTAMP) => Some("timestamp-millis"),
            Some(logical::DATE) => Some("date"),
            _ => None,
        };
        if let Some(lt) = logical_type {
            base.insert(AVRO_LOGICAL_TYPE_PROP.into(), J::String(lt.into()));
        }
        if let Some(params) = &schema.parameters {
            for (k, v) in params.iter() {
                if k.starts_with("avro") {
                    base.insert(k.clone(), J::String(v.clone()));
                }
            }
        }
        // A schema with no properties prints as its bare type name.
        let base = if base.len() == 1 {
            base.remove("type").unwrap_or(J::Null)
        } else {
            J::Object(base)
        };
        if !ignore_optional && schema.optional {
            return Ok(if schema.default.is_some() {
                J::Array(vec![base, J::String("null".into())])
            } else {
                J::Array(vec![J::String("null".into()), base])
            });
        }
        Ok(base)
    }
}

fn decimal_scale_precision(schema: &Schema) -> Result<(i64, i64)> {
    let params = schema.parameters.as_ref();
    let scale = params
        .and_then(|p| p.get(logical::DECIMAL_SCALE))
        .ok_or_else(|| data_err("Decimal schema without a scale parameter"))?
        .parse::<i64>()
        .map_err(|e| data_err(format!("Invalid Decimal scale: {e}")))?;
    let precision = match params.and_then(|p| p.get(CONNECT_AVRO_DECIMAL_PRECISION_PROP)) {
        Some(p) => p.parse::<i64>().map_err(|e| {
            data_err(format!(
                "Invalid {CONNECT_AVRO_DECIMAL_PRECISION_PROP}: {e}"
            ))
        })?,
        None => DECIMAL_PRECISION_DEFAULT,
    };
    Ok((scale, precision))
}

/// The unscaled value of a decimal at `scale`, as two's-complement big-endian bytes.
pub fn decimal_bytes(d: &BigDecimal, scale: i64) -> Vec<u8> {
    let (unscaled, _) = d.with_scale(scale).into_bigint_and_exponent();
    unscaled.to_signed_bytes_be()
}

/// A decimal from unscaled two's-complement big-endian bytes.
pub fn decimal_from_bytes(bytes: &[u8], scale: i64) -> BigDecimal {
    BigDecimal::new(BigInt::from_signed_bytes_be(bytes), scale)
}

fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|b| char::from(*b)).collect()
}

/// `AvroData.defaultValueFromConnect`: a Connect default as Avro default JSON.
pub fn default_json(schema: &Schema, value: &Value) -> Result<J> {
    let bad = || {
        data_err(format!(
            "Invalid type used for default value of {} field: {value:?}",
            schema.ty
        ))
    };
    Ok(match (schema.ty, value) {
        (_, Value::Null) => J::Null,
        (SchemaType::Int8, Value::Int8(v)) => json!(v),
        (SchemaType::Int16, Value::Int16(v)) => json!(v),
        (SchemaType::Int32, Value::Int32(v) | Value::Date(v) | Value::Time(v)) => json!(v),
        (SchemaType::Int64, Value::Int64(v) | Value::Timestamp(v)) => json!(v),
        (SchemaType::Float32, Value::Float32(v)) => json!(v),
        (SchemaType::Float64, Value::Float64(v)) => json!(v),
        (SchemaType::Boolean, Value::Boolean(v)) => json!(v),
        (SchemaType::String, Value::String(v)) => json!(v),
        (SchemaType::Bytes, Value::Bytes(b)) => J::String(latin1(b)),
        (SchemaType::Bytes, Value::Decimal(d)) => {
            let (scale, _) = decimal_scale_precision(schema)?;
            J::String(latin1(&decimal_bytes(d, scale)))
        }
        (SchemaType::Array, Value::Array(items)) => {
            let vs = schema.value_schema.as_ref().ok_or_else(bad)?;
            J::Array(
                items
                    .iter()
                    .map(|i| default_json(vs, i))
                    .collect::<Result<_>>()?,
            )
        }
        (SchemaType::Map, Value::Map(entries)) => {
            let (Some(ks), Some(vs)) = (&schema.key_schema, &schema.value_schema) else {
                return Err(bad());
            };
            if is_string_key_map(schema) {
                let mut m = Map::new();
                for (k, v) in entries {
                    let k = k.as_str().ok_or_else(bad)?;
                    m.insert(k.to_owned(), default_json(vs, v)?);
                }
                J::Object(m)
            } else {
                J::Array(
                    entries
                        .iter()
                        .map(|(k, v)| {
                            Ok(J::Array(vec![default_json(ks, k)?, default_json(vs, v)?]))
                        })
                        .collect::<Result<_>>()?,
                )
            }
        }
        (SchemaType::Struct, Value::Struct(s)) => {
            let mut m = Map::new();
            for (f, v) in schema.fields.iter().zip(&s.values) {
                m.insert(f.name.clone(), default_json(&f.schema, v)?);
            }
            J::Object(m)
        }
        _ => return Err(bad()),
    })
}

// ---------------------------------------------------------------------------------------
// Avro → Connect

/// Translates registry schema JSON into Connect schemas, as `AvroData.toConnectSchema`.
pub struct ToConnect {
    connect_meta_data: bool,
    /// Named types seen so far, by full name.
    named: HashMap<String, SchemaRef>,
    space: Option<String>,
}

/// The Connect schema for Avro schema JSON (parsed already).
pub fn to_connect(avro: &J, connect_meta_data: bool) -> Result<SchemaRef> {
    let mut t = ToConnect {
        connect_meta_data,
        named: HashMap::new(),
        space: None,
    };
    t.schema(avro, false, None)
}

fn prop<'a>(obj: Option<&'a Map<String, J>>, key: &str) -> Option<&'a J> {
    obj.and_then(|o| o.get(key))
}

fn full_name(obj: &Map<String, J>, enclosing: Option<&str>) -> Result<String> {
    let name = obj
        .get("name")
        .and_then(J::as_str)
        .ok_or_else(|| data_err("Avro named type without a name"))?;
    if name.contains('.') {
        return Ok(name.to_owned());
    }
    let space = match obj.get("namespace").and_then(J::as_str) {
        Some(s) => Some(s),
        None => enclosing,
    };
    Ok(match space {
        Some(s) if !s.is_empty() => format!("{s}.{name}"),
        _ => name.to_owned(),
    })
}

impl ToConnect {
    fn lookup(&self, name: &str) -> Option<SchemaRef> {
        if let Some(s) = self.named.get(name) {
            return Some(s.clone());
        }
        let space = self.space.as_deref()?;
        self.named.get(&format!("{space}.{name}")).cloned()
    }

    /// `toConnectSchema(schema, forceOptional, fieldDefault, ...)`.
    pub fn schema(
        &mut self,
        avro: &J,
        force_optional: bool,
        field_default: Option<&J>,
    ) -> Result<SchemaRef> {
        let (ty, obj) = match avro {
            J::String(t) => (t.as_str(), None),
            J::Object(o) => match o.get("type") {
                Some(J::String(t)) => (t.as_str(), Some(o)),
                // {"type": {...}} or {"type": [...]}: the nested schema.
                Some(inner) => return self.schema(inner, force_optional, field_default),
                None => return Err(data_err(format!("Avro schema without a type: {avro}"))),
            },
            J::Array(members) => return self.union(members, force_optional),
            other => return Err(data_err(format!("Invalid Avro schema: {other}"))),
        };
        let logical_type = prop(obj, AVRO_LOGICAL_TYPE_PROP).and_then(J::as_str);
        let connect_type = prop(obj, CONNECT_TYPE_PROP).and_then(J::as_str);
        let mut s = match ty {
            "boolean" => Schema::clone(&Schema::primitive(SchemaType::Boolean)),
            "bytes" | "fixed" => {
                let connect_name = prop(obj, CONNECT_NAME_PROP).and_then(J::as_str);
                if logical_type == Some("decimal") || connect_name == Some(logical::DECIMAL) {
                    let scale = prop(obj, "scale").and_then(J::as_i64).unwrap_or(0);
                    let mut d = Schema::clone(&logical::decimal(scale as i32).build());
                    if let Some(p) = prop(obj, "precision") {
                        let p = p.as_i64().ok_or_else(|| {
                            data_err("precision property must be a JSON Integer. https://avro.apache.org/docs/1.9.1/spec.html#Decimal")
                        })?;
                        if p != DECIMAL_PRECISION_DEFAULT {
                            d.parameters
                                .get_or_insert_with(Parameters::new)
                                .insert(CONNECT_AVRO_DECIMAL_PRECISION_PROP.into(), p.to_string());
                        }
                    }
                    d.name = Some(logical::DECIMAL.into());
                    d
                } else {
                    Schema::clone(&Schema::primitive(SchemaType::Bytes))
                }
            }
            "double" => Schema::clone(&Schema::primitive(SchemaType::Float64)),
            "float" => Schema::clone(&Schema::primitive(SchemaType::Float32)),
            "int" => match (connect_type, logical_type) {
                (None, None) => Schema::clone(&Schema::primitive(SchemaType::Int32)),
                (_, Some(lt)) if lt.eq_ignore_ascii_case("date") => {
                    named_logical(logical::DATE, SchemaType::Int32)
                }
                (_, Some(lt)) if lt.eq_ignore_ascii_case("time-millis") => {
                    named_logical(logical::TIME, SchemaType::Int32)
                }
                (_, Some(_)) => Schema::clone(&Schema::primitive(SchemaType::Int32)),
                (Some("int8"), None) => Schema::clone(&Schema::primitive(SchemaType::Int8)),
                (Some("int16"), None) => Schema::clone(&Schema::primitive(SchemaType::Int16)),
                (Some(_), None) => {
                    return Err(data_err(
                        "Connect type annotation for Avro int field is null",
                    ));
                }
            },
            "long" => match logical_type {
                Some(lt) if lt.eq_ignore_ascii_case("timestamp-millis") => {
                    named_logical(logical::TIMESTAMP, SchemaType::Int64)
                }
                _ => Schema::clone(&Schema::primitive(SchemaType::Int64)),
            },
            "string" => Schema::clone(&Schema::primitive(SchemaType::String)),
            "array" => {
                let items =
                    prop(obj, "items").ok_or_else(|| data_err("Avro array without items"))?;
                match self.map_entry(items)? {
                    Some((k, v)) => {
                        let mut m = Schema::clone(&Schema::primitive(SchemaType::Map));
                        m.key_schema = Some(k);
                        m.value_schema = Some(v);
                        m
                    }
                    None => {
                        let mut a = Schema::clone(&Schema::primitive(SchemaType::Array));
                        a.value_schema = Some(self.schema(items, false, None)?);
                        a
                    }
                }
            }
            "map" => {
                let values =
                    prop(obj, "values").ok_or_else(|| data_err("Avro map without values"))?;
                let mut m = Schema::clone(&Schema::primitive(SchemaType::Map));
                m.key_schema = Some(Schema::string());
                m.value_schema = Some(self.schema(values, false, None)?);
                m
            }
            "record" | "error" => {
                let o = obj.ok_or_else(|| data_err("Avro record without fields"))?;
                let full = full_name(o, self.space.as_deref())?;
                let (space, _) = split_name(&full);
                let saved = std::mem::replace(&mut self.space, space.map(str::to_owned));
                let mut st = Schema::clone(&Schema::primitive(SchemaType::Struct));
                let mut params = Parameters::new();
                if self.connect_meta_data {
                    if let Some(doc) = o.get("doc").and_then(J::as_str) {
                        params.insert(AVRO_RECORD_DOC_PROP.into(), doc.into());
                    }
                }
                let fields = o
                    .get("fields")
                    .and_then(J::as_array)
                    .ok_or_else(|| data_err(format!("Avro record {full} without fields")))?;
                for (index, f) in fields.iter().enumerate() {
                    let fname = f.get("name").and_then(J::as_str).ok_or_else(|| {
                        data_err(format!("A field of Avro record {full} has no name"))
                    })?;
                    let fdoc = f.get("doc").and_then(J::as_str);
                    if self.connect_meta_data {
                        if let Some(doc) = fdoc {
                            params
                                .insert(format!("{AVRO_FIELD_DOC_PREFIX_PROP}{fname}"), doc.into());
                        }
                    }
                    let ftype = f
                        .get("type")
                        .ok_or_else(|| data_err(format!("Field {fname} of {full} has no type")))?;
                    let fschema = self.schema(ftype, false, f.get("default"))?;
                    st.fields.push(Field {
                        name: fname.to_owned(),
                        index,
                        schema: fschema,
                    });
                }
                self.space = saved;
                if !params.is_empty() {
                    st.parameters = Some(params);
                }
                st.name = Some(full);
                st
            }
            "enum" => {
                let o = obj.ok_or_else(|| data_err("Avro enum without symbols"))?;
                let full = full_name(o, self.space.as_deref())?;
                let mut st = Schema::clone(&Schema::primitive(SchemaType::String));
                let mut params = Parameters::new();
                params.insert(AVRO_TYPE_ENUM.into(), full.clone());
                for sym in o.get("symbols").and_then(J::as_array).into_iter().flatten() {
                    if let Some(sym) = sym.as_str() {
                        params.insert(format!("{AVRO_TYPE_ENUM}.{sym}"), sym.into());
                    }
                }
                st.parameters = Some(params);
                st.name = Some(full);
                st
            }
            "null" => {
                return Err(data_err(
                    "Standalone null schemas are not supported by this converter",
                ));
            }
            name => match self.lookup(name) {
                Some(s) => {
                    let mut s = Schema::clone(&s);
                    if force_optional {
                        s.optional = true;
                    }
                    return Ok(Arc::new(s));
                }
                None => {
                    return Err(data_err(format!(
                        "Couldn't translate unsupported schema type {name}."
                    )));
                }
            },
        };
        self.finish(&mut s, ty, obj, force_optional, field_default)?;
        let s = Arc::new(s);
        if matches!(ty, "record" | "error" | "enum") {
            if let Some(o) = obj {
                let full = full_name(o, self.space.as_deref())?;
                let mut named = Schema::clone(&s);
                named.optional = false;
                self.named.insert(full, Arc::new(named));
            }
        }
        Ok(s)
    }

    /// Metadata, defaults and the name: the tail of `toConnectSchema`.
    fn finish(
        &mut self,
        s: &mut Schema,
        ty: &str,
        obj: Option<&Map<String, J>>,
        force_optional: bool,
        field_default: Option<&J>,
    ) -> Result<()> {
        if self.connect_meta_data {
            if let Some(doc) = prop(obj, CONNECT_DOC_PROP).and_then(J::as_str) {
                s.doc = Some(doc.to_owned());
            }
        }
        if let Some(v) = prop(obj, CONNECT_VERSION_PROP) {
            let v = v
                .as_i64()
                .ok_or_else(|| data_err(format!("Invalid Connect version found: {v}")))?;
            s.version = Some(v as i32);
        }
        if self.connect_meta_data {
            if let Some(params) = prop(obj, CONNECT_PARAMETERS_PROP) {
                let params = params.as_object().ok_or_else(|| {
                    data_err(format!(
                        "Expected JSON object for schema parameters but found: {params}"
                    ))
                })?;
                for (k, v) in params {
                    let v = v.as_str().ok_or_else(|| {
                        data_err(format!(
                            "Expected schema parameter values to be strings but found: {v}"
                        ))
                    })?;
                    s.parameters
                        .get_or_insert_with(Parameters::new)
                        .insert(k.clone(), v.to_owned());
                }
            }
        }
        if let Some(o) = obj {
            for (k, v) in o {
                if k.starts_with("avro") {
                    let text = match v {
                        J::String(t) => t.clone(),
                        other => other.to_string(),
                    };
                    s.parameters
                        .get_or_insert_with(Parameters::new)
                        .insert(k.clone(), text);
                }
            }
        }
        let connect_default = prop(obj, CONNECT_DEFAULT_VALUE_PROP);
        let default = match (field_default, connect_default) {
            (None, d) => d,
            (Some(f), None) => {
                s.parameters
                    .get_or_insert_with(Parameters::new)
                    .insert(AVRO_FIELD_DEFAULT_FLAG_PROP.into(), "true".into());
                Some(f)
            }
            (Some(f), Some(_)) => Some(f),
        };
        if let Some(d) = default {
            let v = default_from_json(s, d)?;
            if !v.is_null() {
                s.default = Some(v);
            }
        }
        let name = match prop(obj, CONNECT_NAME_PROP) {
            Some(J::String(n)) => Some(n.clone()),
            Some(other) => return Err(data_err(format!("Invalid schema name: {other}"))),
            None if matches!(ty, "record" | "error" | "enum") => s.name.clone(),
            None => None,
        };
        s.name = match name {
            Some(n) if n == DEFAULT_SCHEMA_FULL_NAME => None,
            Some(n)
                if n.starts_with(DEFAULT_SCHEMA_FULL_NAME)
                    && n[DEFAULT_SCHEMA_FULL_NAME.len()..]
                        .bytes()
                        .all(|b| b.is_ascii_digit()) =>
            {
                None
            }
            other => other.or_else(|| s.name.clone().filter(|n| logical_name(n))),
        };
        if force_optional {
            s.optional = true;
        }
        Ok(())
    }

    /// Arrays of `io.confluent.connect.avro.MapEntry` records are maps with non-string keys.
    fn map_entry(&mut self, items: &J) -> Result<Option<(SchemaRef, SchemaRef)>> {
        let Some(o) = items.as_object() else {
            return Ok(None);
        };
        if o.get("type").and_then(J::as_str) != Some("record") {
            return Ok(None);
        }
        let full = full_name(o, self.space.as_deref())?;
        let is_entry = full == format!("{NAMESPACE}.{MAP_ENTRY_TYPE_NAME}")
            || o.get(CONNECT_INTERNAL_TYPE_NAME).and_then(J::as_str) == Some(MAP_ENTRY_TYPE_NAME);
        if !is_entry {
            return Ok(None);
        }
        let fields = o.get("fields").and_then(J::as_array);
        let find = |n: &str| {
            fields.and_then(|fs| {
                fs.iter()
                    .find(|f| f.get("name").and_then(J::as_str) == Some(n))
                    .and_then(|f| f.get("type"))
            })
        };
        match (fields.map(Vec::len), find(KEY_FIELD), find(VALUE_FIELD)) {
            (Some(2), Some(k), Some(v)) => {
                let k = self.schema(k, false, None)?;
                let v = self.schema(v, false, None)?;
                Ok(Some((k, v)))
            }
            _ => Err(data_err(
                "Found map encoded as array of key-value pairs, but array elements do not match the expected format.",
            )),
        }
    }

    fn union(&mut self, members: &[J], force_optional: bool) -> Result<SchemaRef> {
        let is_null = |m: &J| m.as_str() == Some("null");
        if members.len() == 2 && members.iter().any(is_null) {
            if let Some(m) = members.iter().find(|m| !is_null(m)) {
                // AvroData does not pass a field default on to an optional's member.
                return self.schema(m, true, None);
            }
        }
        let mut st = Schema::clone(&Schema::primitive(SchemaType::Struct));
        st.name = Some(AVRO_TYPE_UNION.into());
        for m in members {
            if is_null(m) {
                st.optional = true;
                continue;
            }
            let fs = self.schema(m, true, None)?;
            let fname = union_member_field_name(&fs);
            if st.fields.iter().any(|f| f.name == fname) {
                return Err(data_err(
                    "Multiple union schemas map to the Connect union field name",
                ));
            }
            let index = st.fields.len();
            st.fields.push(Field {
                name: fname,
                index,
                schema: fs,
            });
        }
        if force_optional {
            st.optional = true;
        }
        Ok(Arc::new(st))
    }
}

fn logical_name(n: &str) -> bool {
    matches!(
        n,
        logical::DECIMAL | logical::DATE | logical::TIME | logical::TIMESTAMP
    )
}

fn named_logical(name: &str, ty: SchemaType) -> Schema {
    let mut s = Schema::clone(&Schema::primitive(ty));
    s.name = Some(name.to_owned());
    s.version = Some(1);
    s
}

/// `AvroData.unionMemberFieldName`: the struct field a union member maps to.
pub fn union_member_field_name(s: &Schema) -> String {
    if s.ty == SchemaType::Struct
        || s.parameters
            .as_ref()
            .is_some_and(|p| p.get(AVRO_TYPE_ENUM).is_some())
    {
        if let Some(n) = &s.name {
            return split_name(n).1.to_owned();
        }
    }
    s.ty.wire_name()
        .replace("float", "float32")
        .replace("double", "float64")
}

/// An Avro default (JSON) as a Connect value of schema `s`.
fn default_from_json(s: &Schema, j: &J) -> Result<Value> {
    let bad = || data_err(format!("Invalid default value {j} for a {} schema", s.ty));
    if j.is_null() {
        return Ok(Value::Null);
    }
    Ok(match s.ty {
        SchemaType::Int8 => Value::Int8(j.as_i64().ok_or_else(bad)? as i8),
        SchemaType::Int16 => Value::Int16(j.as_i64().ok_or_else(bad)? as i16),
        SchemaType::Int32 => {
            let v = j.as_i64().ok_or_else(bad)? as i32;
            match s.logical() {
                Some(logical::Logical::Date) => Value::Date(v),
                Some(logical::Logical::Time) => Value::Time(v),
                _ => Value::Int32(v),
            }
        }
        SchemaType::Int64 => {
            let v = j.as_i64().ok_or_else(bad)?;
            match s.logical() {
                Some(logical::Logical::Timestamp) => Value::Timestamp(v),
                _ => Value::Int64(v),
            }
        }
        SchemaType::Float32 => Value::Float32(j.as_f64().ok_or_else(bad)? as f32),
        SchemaType::Float64 => Value::Float64(j.as_f64().ok_or_else(bad)?),
        SchemaType::Boolean => Value::Boolean(j.as_bool().ok_or_else(bad)?),
        SchemaType::String => Value::String(j.as_str().ok_or_else(bad)?.to_owned()),
        SchemaType::Bytes => {
            let bytes: Vec<u8> = j
                .as_str()
                .ok_or_else(bad)?
                .chars()
                .map(|c| u8::try_from(u32::from(c)).map_err(|_| bad()))
                .collect::<Result<_>>()?;
            match s.logical() {
                Some(logical::Logical::Decimal { scale }) => {
                    Value::Decimal(decimal_from_bytes(&bytes, i64::from(scale)))
                }
                _ => Value::Bytes(bytes.into()),
            }
        }
        SchemaType::Array => {
            let vs = s.value_schema.as_ref().ok_or_else(bad)?;
            Value::Array(
                j.as_array()
                    .ok_or_else(bad)?
                    .iter()
                    .map(|e| default_from_json(vs, e))
                    .collect::<Result<_>>()?,
            )
        }
        SchemaType::Map => {
            let (Some(ks), Some(vs)) = (&s.key_schema, &s.value_schema) else {
                return Err(bad());
            };
            match j {
                J::Object(o) => Value::Map(
                    o.iter()
                        .map(|(k, v)| Ok((Value::String(k.clone()), default_from_json(vs, v)?)))
                        .collect::<Result<_>>()?,
                ),
                J::Array(a) => Value::Map(
                    a.iter()
                        .map(|pair| match pair.as_array().map(Vec::as_slice) {
                            Some([k, v]) => {
                                Ok((default_from_json(ks, k)?, default_from_json(vs, v)?))
                            }
                            _ => Err(bad()),
                        })
                        .collect::<Result<_>>()?,
                ),
                _ => return Err(bad()),
            }
        }
        SchemaType::Struct => {
            let o = j.as_object().ok_or_else(bad)?;
            if s.name.as_deref() == Some(AVRO_TYPE_UNION) {
                return Ok(Value::Null);
            }
            let arc = Arc::new(s.clone());
            let mut st = crate::data::Struct::new(arc);
            for f in &s.fields {
                if let Some(v) = o.get(&f.name) {
                    st.put(&f.name, default_from_json(&f.schema, v)?);
                }
            }
            Value::Struct(st)
        }
    })
}
