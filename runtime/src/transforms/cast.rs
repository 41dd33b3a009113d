//! `Cast`: casts fields (or the whole key or value) to another primitive type.

use base64::Engine;
use bigdecimal::{ToPrimitive, Zero};

use crate::config::def::{ConfigKey, Parsed, Validator};
use crate::config::{ConfigDef, ConfigType, Importance, ParsedConfig};
use crate::data::{
    ConnectRecord, Schema, SchemaAndValue, SchemaBuilder, SchemaRef, SchemaType, Struct, Value,
};
use crate::errors::{ConnectError, Result};
use crate::plugins::Plugin;
use crate::transforms::date_format::JavaDateFormat;
use crate::transforms::util::{
    SchemaCache, copy_schema_basics, field_value, java_class, replace_null_with_default_key,
    require_map, require_struct,
};
use crate::transforms::{Applied, RecordContext, Side, Transformation};

const PURPOSE: &str = "cast types";
const WHOLE: &str = "";

fn target_type(name: &str) -> std::result::Result<SchemaType, String> {
    let ty = match name.trim().to_ascii_lowercase().as_str() {
        "int8" => SchemaType::Int8,
        "int16" => SchemaType::Int16,
        "int32" => SchemaType::Int32,
        "int64" => SchemaType::Int64,
        "float32" => SchemaType::Float32,
        "float64" => SchemaType::Float64,
        "boolean" => SchemaType::Boolean,
        "string" => SchemaType::String,
        _ => {
            return Err(format!(
                "Invalid type found in casting spec: {}",
                name.trim()
            ));
        }
    };
    Ok(ty)
}

/// Parses `field:type,...` or a single `type` for the whole value.
fn parse_spec(items: &[String]) -> std::result::Result<Vec<(String, SchemaType)>, String> {
    if items.is_empty() {
        return Err("Must specify at least one field to cast.".into());
    }
    let mut out = Vec::new();
    let mut whole = false;
    for item in items {
        match item.split_once(':') {
            None => {
                whole = true;
                out.push((WHOLE.to_owned(), target_type(item)?));
            }
            Some((field, ty)) if !ty.contains(':') => {
                out.push((field.trim().to_owned(), target_type(ty)?));
            }
            Some(_) => {
                return Err(format!("Invalid rename mapping: {item}"));
            }
        }
    }
    if whole && out.len() > 1 {
        return Err(
            "Cast transformations that specify a type to cast the entire value to may ony specify a single cast in their spec"
                .into(),
        );
    }
    Ok(out)
}

fn check_spec(v: &Parsed) -> std::result::Result<(), String> {
    match v {
        Parsed::List(items) => parse_spec(items).map(|_| ()),
        _ => Ok(()),
    }
}

pub fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            ConfigKey::new("spec", ConfigType::List)
                .validator(Validator::Custom(check_spec))
                .importance(Importance::High)
                .doc(
                    "List of fields and the type to cast them to of the form field1:type,field2:type \
                     to cast fields of Maps or Structs. A single type to cast the entire value. \
                     Valid types are int8, int16, int32, int64, float32, float64, boolean, and string. \
                     Note that binary fields can only be cast to string.",
                ),
        )
        .define(replace_null_with_default_key())
}

/// A number as `double`, for the numeric casts; booleans are 1 and 0.
fn as_f64(v: &Value) -> Option<f64> {
    Some(match v {
        Value::Int8(x) => f64::from(*x),
        Value::Int16(x) => f64::from(*x),
        Value::Int32(x) => f64::from(*x),
        Value::Int64(x) => *x as f64,
        Value::Float32(x) => f64::from(*x),
        Value::Float64(x) => *x,
        Value::Decimal(d) => d.to_f64()?,
        Value::Boolean(b) => f64::from(u8::from(*b)),
        _ => return None,
    })
}

/// A number as `long` (Java's `Number.longValue`).
fn as_i64(v: &Value) -> Option<i64> {
    Some(match v {
        Value::Int8(x) => i64::from(*x),
        Value::Int16(x) => i64::from(*x),
        Value::Int32(x) => i64::from(*x),
        Value::Int64(x) => *x,
        Value::Float32(x) => *x as i64,
        Value::Float64(x) => *x as i64,
        Value::Decimal(d) => d
            .to_i64()
            .unwrap_or_else(|| d.to_f64().map_or(0, |f| f as i64)),
        Value::Boolean(b) => i64::from(*b),
        _ => return None,
    })
}

/// `Number.intValue`: floats saturate to int, integers keep their low 32 bits.
fn as_i32(v: &Value) -> Option<i32> {
    match v {
        Value::Float32(x) => Some(*x as i32),
        Value::Float64(x) => Some(*x as i32),
        other => as_i64(other).map(|x| x as i32),
    }
}

fn out_of_range(v: &Value) -> ConnectError {
    ConnectError::data(format!(
        "Value ({v}) was out of range for requested data type"
    ))
}

fn unexpected(v: &Value) -> ConnectError {
    ConnectError::data(format!(
        "Unexpected type in Cast transformation: class {}",
        java_class(v)
    ))
}

/// Casts one value; null stays null.
pub fn cast(v: &Value, to: SchemaType) -> Result<Value> {
    if v.is_null() {
        return Ok(Value::Null);
    }
    if matches!(v, Value::Array(_) | Value::Map(_) | Value::Struct(_)) && to != SchemaType::String {
        return Err(ConnectError::data(format!(
            "Cast transformation does not support casting from {}",
            java_class(v)
        )));
    }
    if let Value::String(s) = v {
        let t = s.trim();
        return Ok(match to {
            SchemaType::Int8 => Value::Int8(t.parse().map_err(|_| out_of_range(v))?),
            SchemaType::Int16 => Value::Int16(t.parse().map_err(|_| out_of_range(v))?),
            SchemaType::Int32 => Value::Int32(t.parse().map_err(|_| out_of_range(v))?),
            SchemaType::Int64 => Value::Int64(t.parse().map_err(|_| out_of_range(v))?),
            SchemaType::Float32 => Value::Float32(t.parse().map_err(|_| out_of_range(v))?),
            SchemaType::Float64 => Value::Float64(t.parse().map_err(|_| out_of_range(v))?),
            SchemaType::Boolean => Value::Boolean(s.eq_ignore_ascii_case("true")),
            SchemaType::String => v.clone(),
            _ => return Err(unexpected(v)),
        });
    }
    Ok(match to {
        SchemaType::Int8 => Value::Int8(as_i32(v).ok_or_else(|| unexpected(v))? as i8),
        SchemaType::Int16 => Value::Int16(as_i32(v).ok_or_else(|| unexpected(v))? as i16),
        SchemaType::Int32 => Value::Int32(as_i32(v).ok_or_else(|| unexpected(v))?),
        SchemaType::Int64 => Value::Int64(as_i64(v).ok_or_else(|| unexpected(v))?),
        SchemaType::Float32 => Value::Float32(as_f64(v).ok_or_else(|| unexpected(v))? as f32),
        SchemaType::Float64 => Value::Float64(as_f64(v).ok_or_else(|| unexpected(v))?),
        SchemaType::Boolean => match v {
            Value::Boolean(b) => Value::Boolean(*b),
            Value::Decimal(d) => Value::Boolean(!d.is_zero()),
            other => Value::Boolean(as_f64(other).ok_or_else(|| unexpected(other))? != 0.0),
        },
        SchemaType::String => Value::String(match v {
            Value::Bytes(b) => base64::engine::general_purpose::STANDARD.encode(b),
            Value::Date(d) => iso(i64::from(*d) * 86_400_000),
            Value::Time(t) => iso(i64::from(*t)),
            Value::Timestamp(t) => iso(*t),
            other => other.to_string(),
        }),
        _ => return Err(unexpected(v)),
    })
}

/// `Values.dateFormatFor`'s ISO 8601 form of a `java.util.Date`, in UTC.
fn iso(millis: i64) -> String {
    JavaDateFormat::new("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'")
        .map(|f| f.format(millis))
        .unwrap_or_else(|_| millis.to_string())
}

fn cast_schema(from: &Schema, to: SchemaType) -> SchemaRef {
    let mut b = SchemaBuilder::new(to);
    if from.optional {
        b = b.optional();
    }
    if let Some(d) = &from.default
        && let Ok(d) = cast(d, to)
    {
        b = b.default_value(d);
    }
    b.build()
}

pub struct Cast {
    side: Side,
    casts: Vec<(String, SchemaType)>,
    whole: Option<SchemaType>,
    replace_null_with_default: bool,
    cache: SchemaCache,
}

impl Cast {
    pub fn new(c: &ParsedConfig, side: Side) -> Result<Self> {
        let casts = parse_spec(&c.list("spec")?).map_err(ConnectError::config)?;
        let whole = casts.iter().find(|(f, _)| f == WHOLE).map(|(_, t)| *t);
        Ok(Cast {
            side,
            casts,
            whole,
            replace_null_with_default: c.bool("replace.null.with.default")?,
            cache: SchemaCache::default(),
        })
    }

    fn target(&self, field: &str) -> Option<SchemaType> {
        self.casts.iter().find(|(f, _)| f == field).map(|(_, t)| *t)
    }
}

impl Transformation for Cast {
    fn apply_mut(&mut self, record: &mut ConnectRecord, _: &RecordContext) -> Result<Applied> {
        let operating = self.side.of(record);
        if operating.value.is_null() {
            return Ok(Applied::Kept);
        }
        let updated = match (&operating.schema, self.whole) {
            (None, Some(to)) => SchemaAndValue::new(None, cast(&operating.value, to)?),
            (Some(schema), Some(to)) => {
                let s = match self.cache.get(schema) {
                    Some(s) => s,
                    None => {
                        let s = cast_schema(schema, to);
                        self.cache.put(schema.clone(), s.clone());
                        s
                    }
                };
                SchemaAndValue::new(Some(s), cast(&operating.value, to)?)
            }
            (None, None) => {
                let m = require_map(&operating.value, PURPOSE)?;
                let mut out = Vec::with_capacity(m.len());
                for (k, v) in m {
                    let v = match k.as_str().and_then(|k| self.target(k)) {
                        Some(to) => cast(v, to)?,
                        None => v.clone(),
                    };
                    out.push((k.clone(), v));
                }
                SchemaAndValue::new(None, Value::Map(out))
            }
            (Some(_), None) => {
                let value = require_struct(&operating.value, PURPOSE)?;
                let schema = match self.cache.get(&value.schema) {
                    Some(s) => s,
                    None => {
                        let mut b = copy_schema_basics(&value.schema, SchemaBuilder::struct_());
                        if value.schema.optional {
                            b = b.optional();
                        }
                        for f in &value.schema.fields {
                            let s = match self.target(&f.name) {
                                Some(to) => {
                                    if !f.schema.ty.is_primitive() {
                                        return Err(ConnectError::data(format!(
                                            "Cast transformation does not support casting from {}; supported types are BOOLEAN, BYTES, FLOAT32, FLOAT64, INT16, INT32, INT64, INT8, STRING",
                                            f.schema.ty
                                        )));
                                    }
                                    cast_schema(&f.schema, to)
                                }
                                None => f.schema.clone(),
                            };
                            b = b.field(&f.name, s);
                        }
                        let s = b.build();
                        self.cache.put(value.schema.clone(), s.clone());
                        s
                    }
                };
                let mut s = Struct::new(schema.clone());
                for f in &value.schema.fields {
                    let v = field_value(value, f, self.replace_null_with_default);
                    let v = match self.target(&f.name) {
                        Some(to) => cast(&v, to)?,
                        None => v,
                    };
                    s.put(&f.name, v);
                }
                SchemaAndValue::new(Some(schema), Value::Struct(s))
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
            "org.apache.kafka.connect.transforms.Cast$Key",
            |c| Ok(Box::new(Cast::new(c, Side::Key)?)),
            config_def,
        ),
        transform(
            "org.apache.kafka.connect.transforms.Cast$Value",
            |c| Ok(Box::new(Cast::new(c, Side::Value)?)),
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

    fn t(spec: &str) -> Cast {
        Cast::new(
            &config_def().parse(&props(&[("spec", spec)])).unwrap(),
            Side::Value,
        )
        .unwrap()
    }

    fn run(t: &mut Cast, v: SchemaAndValue) -> Result<SchemaAndValue> {
        let r = ConnectRecord {
            value: v,
            ..Default::default()
        };
        Ok(t.apply(r, &RecordContext::default())?.unwrap().value)
    }

    #[test]
    fn casts_like_java() {
        assert_eq!(
            cast(&Value::Int32(300), SchemaType::Int8).unwrap(),
            Value::Int8(44)
        );
        assert_eq!(
            cast(&Value::Float64(42.9), SchemaType::Int32).unwrap(),
            Value::Int32(42)
        );
        assert_eq!(
            cast(&Value::Boolean(true), SchemaType::Int64).unwrap(),
            Value::Int64(1)
        );
        assert_eq!(
            cast(&Value::Int32(0), SchemaType::Boolean).unwrap(),
            Value::Boolean(false)
        );
        assert_eq!(
            cast(&Value::from("42"), SchemaType::Int16).unwrap(),
            Value::Int16(42)
        );
        assert_eq!(
            cast(&Value::from("TRUE"), SchemaType::Boolean).unwrap(),
            Value::Boolean(true)
        );
        assert_eq!(
            cast(&Value::Float32(1.5), SchemaType::String).unwrap(),
            Value::from("1.5")
        );
        assert_eq!(
            cast(&Value::Float64(1.0), SchemaType::String).unwrap(),
            Value::from("1.0")
        );
        assert_eq!(
            cast(
                &Value::Bytes(bytes::Bytes::from_static(b"hi")),
                SchemaType::String
            )
            .unwrap(),
            Value::from("aGk=")
        );
        assert_eq!(
            cast(&Value::Timestamp(0), SchemaType::String).unwrap(),
            Value::from("1970-01-01T00:00:00.000Z")
        );
        assert_eq!(
            cast(&Value::from("x"), SchemaType::Int32)
                .unwrap_err()
                .to_string(),
            "Value (x) was out of range for requested data type"
        );
    }

    #[test]
    fn whole_value_and_fields() {
        let mut whole = t("int64");
        assert_eq!(
            run(
                &mut whole,
                SchemaAndValue::new(Some(Schema::primitive(SchemaType::Int32)), Value::Int32(7))
            )
            .unwrap(),
            SchemaAndValue::new(Some(Schema::primitive(SchemaType::Int64)), Value::Int64(7))
        );
        assert_eq!(
            run(&mut whole, SchemaAndValue::new(None, Value::from("9"))).unwrap(),
            SchemaAndValue::new(None, Value::Int64(9))
        );
        let mut fields = t("a:string,b:int8");
        let v = string_map(vec![
            ("a".into(), Value::Int32(1)),
            ("b".into(), Value::Float64(2.7)),
            ("c".into(), Value::Boolean(true)),
        ]);
        assert_eq!(
            run(&mut fields, SchemaAndValue::new(None, v))
                .unwrap()
                .value,
            string_map(vec![
                ("a".into(), Value::from("1")),
                ("b".into(), Value::Int8(2)),
                ("c".into(), Value::Boolean(true)),
            ])
        );
        let schema = SchemaBuilder::struct_()
            .field("a", Schema::primitive(SchemaType::Int32))
            .field("b", SchemaBuilder::float64().optional().build())
            .build();
        let v = Struct::new(schema.clone()).with("a", Value::Int32(1));
        let out = run(
            &mut fields,
            SchemaAndValue::new(Some(schema), Value::Struct(v)),
        )
        .unwrap();
        let expected = SchemaBuilder::struct_()
            .field("a", Schema::string())
            .field("b", SchemaBuilder::int8().optional().build())
            .build();
        assert_eq!(out.schema.as_deref(), Some(&*expected));
        assert_eq!(
            out.value,
            Value::Struct(Struct::new(expected).with("a", Value::from("1")))
        );
        assert_eq!(
            run(&mut fields, SchemaAndValue::null()).unwrap(),
            SchemaAndValue::null()
        );
    }

    #[test]
    fn spec_errors() {
        let err = |spec: &str| {
            config_def()
                .parse(&props(&[("spec", spec)]))
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err("a:int9"),
            "Invalid value [a:int9] for configuration spec: Invalid type found in casting spec: int9"
        );
        assert_eq!(
            err(""),
            "Invalid value [] for configuration spec: Must specify at least one field to cast."
        );
        assert_eq!(
            err("int8,a:int16"),
            "Invalid value [int8, a:int16] for configuration spec: Cast transformations that specify a type to cast the entire value to may ony specify a single cast in their spec"
        );
    }
}
