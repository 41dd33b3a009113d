//! `DropHeaders`: removes the headers with the given names.

use crate::config::def::{ConfigKey, Parsed, Validator};
use crate::config::{ConfigDef, ConfigType, Importance, ParsedConfig};
use crate::data::ConnectRecord;
use crate::errors::Result;
use crate::plugins::Plugin;
use crate::transforms::{Applied, RecordContext, Transformation};

pub const CLASS: &str = "org.apache.kafka.connect.transforms.DropHeaders";

/// Kafka's `NonEmptyListValidator`.
pub(crate) fn non_empty_list(v: &Parsed) -> std::result::Result<(), String> {
    match v {
        Parsed::List(items) if items.is_empty() => Err("Empty list".into()),
        _ => Ok(()),
    }
}

pub fn config_def() -> ConfigDef {
    ConfigDef::new().define(
        ConfigKey::new("headers", ConfigType::List)
            .validator(Validator::Custom(non_empty_list))
            .importance(Importance::High)
            .doc("The name of the headers to be removed."),
    )
}

pub struct DropHeaders {
    headers: Vec<String>,
}

impl Transformation for DropHeaders {
    fn apply_mut(&mut self, record: &mut ConnectRecord, _: &RecordContext) -> Result<Applied> {
        record.headers.retain(|h| !self.headers.contains(&h.key));
        Ok(Applied::Kept)
    }
}

fn build(c: &ParsedConfig) -> Result<Box<dyn Transformation>> {
    Ok(Box::new(DropHeaders {
        headers: c.list("headers")?,
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
    use crate::data::{Header, SchemaAndValue, Value};

    #[test]
    fn removes_every_header_with_a_listed_name() {
        let mut t = build(&config_def().parse(&props(&[("headers", "a,b")])).unwrap()).unwrap();
        let h = |k: &str, v: &str| Header {
            key: k.into(),
            value: SchemaAndValue::new(None, Value::from(v)),
        };
        let r = ConnectRecord {
            headers: vec![h("a", "1"), h("c", "2"), h("b", "3"), h("a", "4")],
            ..Default::default()
        };
        let out = t.apply(r, &RecordContext::default()).unwrap().unwrap();
        assert_eq!(out.headers, vec![h("c", "2")]);
        let err = config_def().parse(&props(&[("headers", "")])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Invalid value [] for configuration headers: Empty list"
        );
    }
}
