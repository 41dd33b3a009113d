//! `TopicNameMatches`: true when the whole topic name matches a regular expression.

use regex::Regex;

use crate::config::def::{ConfigKey, Validator};
use crate::config::{ConfigDef, ConfigType, Importance, ParsedConfig};
use crate::data::ConnectRecord;
use crate::errors::{ConnectError, Result};
use crate::plugins::Plugin;
use crate::transforms::Predicate;

pub const CLASS: &str = "org.apache.kafka.connect.transforms.predicates.TopicNameMatches";

pub fn config_def() -> ConfigDef {
    ConfigDef::new().define(
        ConfigKey::new("pattern", ConfigType::String)
            .validator(Validator::Custom(|v| match v {
                crate::config::def::Parsed::Str(s) if s.is_empty() => {
                    Err("String must be non-empty".into())
                }
                crate::config::def::Parsed::Str(s) => Regex::new(s)
                    .map(|_| ())
                    .map_err(|e| format!("entry must be a Java-compatible pattern: {e}")),
                _ => Ok(()),
            }))
            .importance(Importance::Medium)
            .doc("A Java regular expression for matching against the name of a record's topic."),
    )
}

pub struct TopicNameMatches {
    pattern: Regex,
}

impl TopicNameMatches {
    pub fn new(c: &ParsedConfig) -> Result<Self> {
        let p = c.string("pattern")?.unwrap_or_default();
        // `Matcher.matches`: the whole name.
        let pattern = Regex::new(&format!("^(?:{p})$")).map_err(|e| {
            ConnectError::config(format!("Invalid value {p} for configuration pattern: {e}"))
        })?;
        Ok(TopicNameMatches { pattern })
    }
}

impl Predicate for TopicNameMatches {
    fn test(&self, record: &ConnectRecord) -> bool {
        self.pattern.is_match(&record.topic)
    }
}

pub fn plugin() -> Plugin {
    crate::transforms::plugins::predicate(
        CLASS,
        |c| Ok(Box::new(TopicNameMatches::new(c)?)),
        config_def,
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::props;

    #[test]
    fn the_whole_topic_must_match() {
        let p = TopicNameMatches::new(
            &config_def()
                .parse(&props(&[("pattern", "my-prefix-.*")]))
                .unwrap(),
        )
        .unwrap();
        let rec = |t: &str| ConnectRecord {
            topic: t.into(),
            ..Default::default()
        };
        assert!(p.test(&rec("my-prefix-a")));
        assert!(!p.test(&rec("x-my-prefix-a")));
        assert!(!p.test(&rec("my-prefix")));
        let err = config_def().parse(&props(&[("pattern", "(")])).unwrap_err();
        assert!(
            err.to_string().starts_with(
                "Invalid value ( for configuration pattern: entry must be a Java-compatible pattern"
            ),
            "{err}"
        );
    }
}
