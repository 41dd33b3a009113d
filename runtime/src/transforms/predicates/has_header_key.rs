//! `HasHeaderKey`: true when the record has at least one header with the configured name.

use crate::config::def::{ConfigKey, Validator};
use crate::config::{ConfigDef, ConfigType, Importance, ParsedConfig};
use crate::data::ConnectRecord;
use crate::errors::{ConnectError, Result};
use crate::plugins::Plugin;
use crate::transforms::Predicate;

pub const CLASS: &str = "org.apache.kafka.connect.transforms.predicates.HasHeaderKey";

pub fn config_def() -> ConfigDef {
    ConfigDef::new().define(
        ConfigKey::new("name", ConfigType::String)
            .validator(Validator::NonEmptyString)
            .importance(Importance::Medium)
            .doc("The header name."),
    )
}

pub struct HasHeaderKey {
    name: String,
}

impl HasHeaderKey {
    pub fn new(c: &ParsedConfig) -> Result<Self> {
        let name = c
            .string("name")?
            .ok_or_else(|| ConnectError::config("name must be set"))?;
        Ok(HasHeaderKey {
            name: name.to_owned(),
        })
    }
}

impl Predicate for HasHeaderKey {
    fn test(&self, record: &ConnectRecord) -> bool {
        record.headers.iter().any(|h| h.key == self.name)
    }
}

pub fn plugin() -> Plugin {
    crate::transforms::plugins::predicate(
        CLASS,
        |c| Ok(Box::new(HasHeaderKey::new(c)?)),
        config_def,
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::props;
    use crate::data::{Header, SchemaAndValue};

    #[test]
    fn matches_any_header_with_the_name() {
        let p = HasHeaderKey::new(&config_def().parse(&props(&[("name", "h")])).unwrap()).unwrap();
        let mut r = ConnectRecord::default();
        assert!(!p.test(&r));
        r.headers.push(Header {
            key: "other".into(),
            value: SchemaAndValue::null(),
        });
        assert!(!p.test(&r));
        r.headers.push(Header {
            key: "h".into(),
            value: SchemaAndValue::null(),
        });
        assert!(p.test(&r));
        let err = config_def().parse(&props(&[("name", "")])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Invalid value  for configuration name: String must be non-empty"
        );
    }
}
