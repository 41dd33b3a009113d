//! `TimestampConverter`: converts timestamps between strings, Unix epoch numbers and
//! Connect's Date, Time and Timestamp, for the whole key/value or one field.

use crate::config::def::{ConfigKey, Validator};
use crate::config::{ConfigDef, ConfigType, Importance, ParsedConfig};
use crate::data::{
    ConnectRecord, Schema, SchemaAndValue, SchemaBuilder, SchemaRef, SchemaType, Struct, Value,
    logical,
};
use crate::errors::{ConnectError, Result};
use crate::plugins::Plugin;
use crate::transforms::date_format::JavaDateFormat;
use crate::transforms::util::{
    SchemaCache, copy_schema_basics, field_value, java_class, map_get,
    replace_null_with_default_key, require_map, require_struct,
};
use crate::transforms::{Applied, RecordContext, Side, Transformation};

const PURPOSE: &str = "converting timestamp formats";
const MILLIS_PER_DAY: i64 = 86_400_000;

pub fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            ConfigKey::new("field", ConfigType::String)
                .default_value("")
                .importance(Importance::High)
                .doc("The field containing the timestamp, or empty if the entire value is a timestamp"),
        )
        .define(
            ConfigKey::new("target.type", ConfigType::String)
                .validator(Validator::OneOf(&["string", "unix", "Date", "Time", "Timestamp"]))
                .importance(Importance::High)
                .doc("The desired timestamp representation: string, unix, Date, Time, or Timestamp"),
        )
        .define(
            ConfigKey::new("format", ConfigType::String)
                .default_value("")
                .importance(Importance::Medium)
                .doc(
                    "A SimpleDateFormat-compatible format for the timestamp. Used to generate the \
                     output when type=string or used to parse the input if the input is a string.",
                ),
        )
        .define(
            ConfigKey::new("unix.precision", ConfigType::String)
                .default_value("milliseconds")
                .validator(Validator::OneOf(&["nanoseconds", "microseconds", "milliseconds", "seconds"]))
                .importance(Importance::Low)
                .doc(
                    "The desired Unix precision for the timestamp: seconds, milliseconds, \
                     microseconds, or nanoseconds. Used to generate the output when type=unix or \
                     used to parse the input if the input is a Long.Note: This SMT will cause \
                     precision loss during conversions from, and to, values with sub-millisecond \
                     components.",
                ),
        )
        .define(replace_null_with_default_key())
}

/// A timestamp representation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    String,
    Unix,
    Date,
    Time,
    Timestamp,
}

pub struct TimestampConverter {
    side: Side,
    field: String,
    target: Kind,
    format: Option<JavaDateFormat>,
    format_text: String,
    precision: String,
    replace_null_with_default: bool,
    cache: SchemaCache,
}

impl TimestampConverter {
    pub fn new(c: &ParsedConfig, side: Side) -> Result<Self> {
        let target = match c.string("target.type")?.unwrap_or_default() {
            "string" => Kind::String,
            "unix" => Kind::Unix,
            "Date" => Kind::Date,
            "Time" => Kind::Time,
            _ => Kind::Timestamp,
        };
        let format_text = c.string("format")?.unwrap_or_default().to_owned();
        if target == Kind::String && format_text.trim().is_empty() {
            return Err(ConnectError::config(
                "TimestampConverter requires format option to be specified when using string timestamps",
            ));
        }
        let format = if format_text.is_empty() {
            None
        } else {
            Some(JavaDateFormat::new(&format_text).map_err(|e| {
                ConnectError::config(format!(
                    "TimestampConverter requires a SimpleDateFormat-compatible pattern for string timestamps: {format_text} ({e})"
                ))
            })?)
        };
        Ok(TimestampConverter {
            side,
            field: c.string("field")?.unwrap_or_default().to_owned(),
            target,
            format,
            format_text,
            precision: c
                .string("unix.precision")?
                .unwrap_or("milliseconds")
                .to_owned(),
            replace_null_with_default: c.bool("replace.null.with.default")?,
            cache: SchemaCache::default(),
        })
    }

    fn kind_of_schema(schema: &Schema) -> Result<Kind> {
        Ok(match (schema.name.as_deref(), schema.ty) {
            (Some(logical::TIMESTAMP), _) => Kind::Timestamp,
            (Some(logical::DATE), _) => Kind::Date,
            (Some(logical::TIME), _) => Kind::Time,
            (_, SchemaType::String) => Kind::String,
            (_, SchemaType::Int64) => Kind::Unix,
            _ => {
                return Err(ConnectError::data(format!(
                    "Schema {} does not correspond to a known timestamp type format",
                    schema.ty
                )));
            }
        })
    }

    fn kind_of_value(v: &Value) -> Result<Kind> {
        Ok(match v {
            Value::String(_) => Kind::String,
            Value::Int64(_) => Kind::Unix,
            Value::Date(_) => Kind::Date,
            Value::Time(_) => Kind::Time,
            Value::Timestamp(_) => Kind::Timestamp,
            other => {
                return Err(ConnectError::data(format!(
                    "TimestampConverter does not support class {} objects as timestamps",
                    java_class(other)
                )));
            }
        })
    }

    /// The instant a value stands for, in milliseconds since the epoch.
    fn to_millis(&self, v: &Value, from: Kind) -> Result<i64> {
        match (from, v) {
            (Kind::String, Value::String(s)) => {
                let f = self.format.as_ref().ok_or_else(|| {
                    ConnectError::data(
                        "TimestampConverter requires format option to be specified when using string timestamps",
                    )
                })?;
                f.parse(s).ok_or_else(|| {
                    ConnectError::data(format!(
                        "Could not parse timestamp: value ({s}) does not match pattern ({})",
                        self.format_text
                    ))
                })
            }
            (Kind::Unix, Value::Int64(n)) => Ok(match self.precision.as_str() {
                "seconds" => n.saturating_mul(1000),
                "microseconds" => n.div_euclid(1000),
                "nanoseconds" => n.div_euclid(1_000_000),
                _ => *n,
            }),
            (Kind::Date, Value::Date(d)) => Ok(i64::from(*d) * MILLIS_PER_DAY),
            (Kind::Date | Kind::Time | Kind::Timestamp, Value::Int32(d)) if from == Kind::Date => {
                Ok(i64::from(*d) * MILLIS_PER_DAY)
            }
            (Kind::Time, Value::Time(t) | Value::Int32(t)) => Ok(i64::from(*t)),
            (Kind::Timestamp, Value::Timestamp(t) | Value::Int64(t)) => Ok(*t),
            (_, other) => Err(ConnectError::data(format!(
                "Expected a {from:?} timestamp, but found {}",
                java_class(other)
            ))),
        }
    }

    fn render(&self, ms: i64) -> Value {
        match self.target {
            Kind::String => Value::String(
                self.format
                    .as_ref()
                    .map_or_else(|| ms.to_string(), |f| f.format(ms)),
            ),
            Kind::Unix => Value::Int64(match self.precision.as_str() {
                "seconds" => ms.div_euclid(1000),
                "microseconds" => ms.saturating_mul(1000),
                "nanoseconds" => ms.saturating_mul(1_000_000),
                _ => ms,
            }),
            Kind::Date => Value::Date(ms.div_euclid(MILLIS_PER_DAY) as i32),
            Kind::Time => Value::Time(ms.rem_euclid(MILLIS_PER_DAY) as i32),
            Kind::Timestamp => Value::Timestamp(ms),
        }
    }

    fn target_schema(&self, optional: bool) -> SchemaRef {
        let b = match self.target {
            Kind::String => SchemaBuilder::string(),
            Kind::Unix => SchemaBuilder::int64(),
            Kind::Date => logical::date(),
            Kind::Time => logical::time(),
            Kind::Timestamp => logical::timestamp(),
        };
        if optional { b.optional() } else { b }.build()
    }

    fn convert(&self, v: &Value, from: Option<Kind>) -> Result<Value> {
        if v.is_null() {
            return Ok(Value::Null);
        }
        let from = match from {
            Some(k) => k,
            None => Self::kind_of_value(v)?,
        };
        Ok(self.render(self.to_millis(v, from)?))
    }
}

impl Transformation for TimestampConverter {
    fn apply_mut(&mut self, record: &mut ConnectRecord, _: &RecordContext) -> Result<Applied> {
        let operating = self.side.of(record);
        let updated = match (&operating.schema, self.field.is_empty()) {
            (None, true) => SchemaAndValue::new(None, self.convert(&operating.value, None)?),
            (None, false) => {
                if operating.value.is_null() {
                    return Ok(Applied::Kept);
                }
                let m = require_map(&operating.value, PURPOSE)?;
                let mut out = m.to_vec();
                let current = map_get(m, &self.field).cloned().unwrap_or_default();
                let converted = self.convert(&current, None)?;
                out.retain(|(k, _)| k.as_str() != Some(self.field.as_str()));
                out.push((Value::String(self.field.clone()), converted));
                SchemaAndValue::new(None, Value::Map(out))
            }
            (Some(schema), true) => {
                let from = Self::kind_of_schema(schema)?;
                let s = self.target_schema(schema.optional);
                SchemaAndValue::new(Some(s), self.convert(&operating.value, Some(from))?)
            }
            (Some(_), false) => {
                if operating.value.is_null() {
                    return Ok(Applied::Kept);
                }
                let value = require_struct(&operating.value, PURPOSE)?;
                let Some(field) = value.schema.field(&self.field).cloned() else {
                    return Err(ConnectError::data(format!(
                        "Field does not exist: {}",
                        self.field
                    )));
                };
                let from = Self::kind_of_schema(&field.schema)?;
                let schema = match self.cache.get(&value.schema) {
                    Some(s) => s,
                    None => {
                        let mut b = copy_schema_basics(&value.schema, SchemaBuilder::struct_());
                        if value.schema.optional {
                            b = b.optional();
                        }
                        for f in &value.schema.fields {
                            let s = if f.name == self.field {
                                self.target_schema(f.schema.optional)
                            } else {
                                f.schema.clone()
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
                    let v = if f.name == self.field {
                        self.convert(&v, Some(from))?
                    } else {
                        v
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
            "org.apache.kafka.connect.transforms.TimestampConverter$Key",
            |c| Ok(Box::new(TimestampConverter::new(c, Side::Key)?)),
            config_def,
        ),
        transform(
            "org.apache.kafka.connect.transforms.TimestampConverter$Value",
            |c| Ok(Box::new(TimestampConverter::new(c, Side::Value)?)),
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

    fn t(p: &[(&str, &str)]) -> TimestampConverter {
        TimestampConverter::new(&config_def().parse(&props(p)).unwrap(), Side::Value).unwrap()
    }

    fn run(t: &mut TimestampConverter, v: SchemaAndValue) -> Result<SchemaAndValue> {
        let r = ConnectRecord {
            value: v,
            ..Default::default()
        };
        Ok(t.apply(r, &RecordContext::default())?.unwrap().value)
    }

    const MS: i64 = 1_700_000_000_123;

    #[test]
    fn schemaless_whole_value() {
        let mut to_string = t(&[("target.type", "string"), ("format", "yyyy-MM-dd HH:mm:ss")]);
        assert_eq!(
            run(&mut to_string, SchemaAndValue::new(None, Value::Int64(MS)))
                .unwrap()
                .value,
            Value::from("2023-11-14 22:13:20")
        );
        let mut to_unix = t(&[
            ("target.type", "unix"),
            ("format", "yyyy-MM-dd HH:mm:ss"),
            ("unix.precision", "seconds"),
        ]);
        assert_eq!(
            run(
                &mut to_unix,
                SchemaAndValue::new(None, Value::from("2023-11-14 22:13:20"))
            )
            .unwrap()
            .value,
            Value::Int64(1_700_000_000)
        );
        let err = run(&mut to_unix, SchemaAndValue::new(None, Value::from("x"))).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Could not parse timestamp: value (x) does not match pattern (yyyy-MM-dd HH:mm:ss)"
        );
        let mut to_date = t(&[("target.type", "Date")]);
        assert_eq!(
            run(
                &mut to_date,
                SchemaAndValue::new(None, Value::Timestamp(MS))
            )
            .unwrap()
            .value,
            Value::Date(19_675)
        );
        // Null stays null.
        assert_eq!(
            run(&mut to_date, SchemaAndValue::null()).unwrap().value,
            Value::Null
        );
    }

    #[test]
    fn with_schema_field() {
        let schema = SchemaBuilder::struct_()
            .field("id", Schema::string())
            .field("ts", logical::timestamp().optional().build())
            .build();
        let v = Struct::new(schema.clone())
            .with("id", Value::from("a"))
            .with("ts", Value::Timestamp(MS));
        let mut to_unix = t(&[("target.type", "unix"), ("field", "ts")]);
        let out = run(
            &mut to_unix,
            SchemaAndValue::new(Some(schema.clone()), Value::Struct(v)),
        )
        .unwrap();
        let expected = SchemaBuilder::struct_()
            .field("id", Schema::string())
            .field("ts", SchemaBuilder::int64().optional().build())
            .build();
        assert_eq!(out.schema.as_deref(), Some(&*expected));
        assert_eq!(
            out.value,
            Value::Struct(
                Struct::new(expected)
                    .with("id", Value::from("a"))
                    .with("ts", Value::Int64(MS))
            )
        );
        let mut to_time = t(&[("target.type", "Time")]);
        let out = run(
            &mut to_time,
            SchemaAndValue::new(Some(logical::timestamp().build()), Value::Timestamp(MS)),
        )
        .unwrap();
        assert_eq!(out.schema.unwrap().name.as_deref(), Some(logical::TIME));
        assert_eq!(out.value, Value::Time((MS % MILLIS_PER_DAY) as i32));
        // Schemaless map field.
        let mut f = t(&[("target.type", "Timestamp"), ("field", "ts")]);
        let m = string_map(vec![("ts".into(), Value::Int64(5))]);
        assert_eq!(
            run(&mut f, SchemaAndValue::new(None, m)).unwrap().value,
            string_map(vec![("ts".into(), Value::Timestamp(5))])
        );
        assert!(
            TimestampConverter::new(
                &config_def()
                    .parse(&props(&[("target.type", "string")]))
                    .unwrap(),
                Side::Value
            )
            .is_err()
        );
    }
}
