//! `InsertHeader`: adds a header with a literal value to every record.

use crate::config::def::{ConfigKey, Validator};
use crate::config::{ConfigDef, ConfigType, Importance, ParsedConfig};
use crate::data::{ConnectRecord, Header, Schema, SchemaAndValue, SchemaType, Value};
use crate::errors::Result;
use crate::plugins::Plugin;
use crate::transforms::{Applied, RecordContext, Transformation};

pub const CLASS: &str = "org.apache.kafka.connect.transforms.InsertHeader";

pub fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            ConfigKey::new("header", ConfigType::String)
                .validator(Validator::NonEmptyString)
                .importance(Importance::High)
                .doc("The name of the header."),
        )
        .define(
            ConfigKey::new("value.literal", ConfigType::String)
                .importance(Importance::High)
                .doc("The literal value that is to be set as the header value on all records."),
        )
}

/// The value and schema `SimpleHeaderConverter` infers from a literal (`Values.parseString`,
/// for the scalar cases): booleans, the smallest integer type that holds the number,
/// doubles, else the string itself.
pub fn infer_literal(s: &str) -> SchemaAndValue {
    let (ty, v) = if s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false") {
        (
            SchemaType::Boolean,
            Value::Boolean(s.eq_ignore_ascii_case("true")),
        )
    } else if let Ok(n) = s.parse::<i64>() {
        if let Ok(n) = i8::try_from(n) {
            (SchemaType::Int8, Value::Int8(n))
        } else if let Ok(n) = i16::try_from(n) {
            (SchemaType::Int16, Value::Int16(n))
        } else if let Ok(n) = i32::try_from(n) {
            (SchemaType::Int32, Value::Int32(n))
        } else {
            (SchemaType::Int64, Value::Int64(n))
        }
    } else if let Some(d) = s
        .parse::<f64>()
        .ok()
        .filter(|d| d.is_finite() && s.contains(['.', 'e', 'E']))
    {
        (SchemaType::Float64, Value::Float64(d))
    } else {
        (SchemaType::String, Value::from(s))
    };
    SchemaAndValue::new(Some(Schema::primitive(ty)), v)
}

pub struct InsertHeader {
    header: String,
    value: SchemaAndValue,
}

impl Transformation for InsertHeader {
    fn apply_mut(&mut self, record: &mut ConnectRecord, _: &RecordContext) -> Result<Applied> {
        record.headers.push(Header {
            key: self.header.clone(),
            value: self.value.clone(),
        });
        Ok(Applied::Kept)
    }
}

fn build(c: &ParsedConfig) -> Result<Box<dyn Transformation>> {
    Ok(Box::new(InsertHeader {
        header: c.string("header")?.unwrap_or_default().to_owned(),
        value: infer_literal(c.string("value.literal")?.unwrap_or_default()),
    }))
}

pub fn plugins() -> Vec<Plugin> {
    vec![crate::transforms::plugins::transform(
        CLASS, build, config_def,
    )]
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::props;

    #[test]
    fn appends_the_header_with_an_inferred_schema() {
        let mut t = build(
            &config_def()
                .parse(&props(&[("header", "source"), ("value.literal", "ferry")]))
                .unwrap(),
        )
        .unwrap();
        let r = ConnectRecord {
            headers: vec![Header {
                key: "source".into(),
                value: SchemaAndValue::null(),
            }],
            ..Default::default()
        };
        let out = t.apply(r, &RecordContext::default()).unwrap().unwrap();
        assert_eq!(out.headers.len(), 2);
        assert_eq!(out.headers[1].key, "source");
        assert_eq!(
            out.headers[1].value,
            SchemaAndValue::new(Some(Schema::string()), Value::from("ferry"))
        );
        assert_eq!(infer_literal("42").value, Value::Int8(42));
        assert_eq!(infer_literal("70000").value, Value::Int32(70000));
        assert_eq!(infer_literal("true").value, Value::Boolean(true));
        assert_eq!(infer_literal("1.5").value, Value::Float64(1.5));
        assert!(config_def().parse(&props(&[("header", "h")])).is_err());
    }
}
