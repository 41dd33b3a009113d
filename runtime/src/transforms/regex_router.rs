//! `RegexRouter`: renames the topic when the whole name matches a regular expression.

use regex::Regex;

use crate::config::def::{ConfigKey, Validator};
use crate::config::{ConfigDef, ConfigType, Importance, ParsedConfig};
use crate::data::ConnectRecord;
use crate::errors::{ConnectError, Result};
use crate::plugins::Plugin;
use crate::transforms::{Applied, RecordContext, Transformation};

pub const CLASS: &str = "org.apache.kafka.connect.transforms.RegexRouter";

pub fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            ConfigKey::new("regex", ConfigType::String)
                .validator(Validator::Regex)
                .importance(Importance::High)
                .doc("Regular expression to use for matching."),
        )
        .define(
            ConfigKey::new("replacement", ConfigType::String)
                .importance(Importance::High)
                .doc("Replacement string."),
        )
}

/// A Java `Matcher.replaceFirst` replacement (`$1`, `${name}`, `\$`) in the regex crate's
/// syntax (`${1}`, `${name}`, `$$`).
pub fn java_replacement(java: &str) -> String {
    let mut out = String::with_capacity(java.len() + 4);
    let mut chars = java.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('$') => out.push_str("$$"),
                Some(other) => out.push(other),
                None => {}
            },
            '$' => {
                if chars.peek() == Some(&'{') {
                    out.push('$');
                } else {
                    let mut digits = String::new();
                    while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                        digits.push(*d);
                        chars.next();
                    }
                    out.push_str(&format!("${{{digits}}}"));
                }
            }
            other => out.push(other),
        }
    }
    out
}

pub struct RegexRouter {
    regex: Regex,
    replacement: String,
    /// The last topic routed and its new name: a task mostly sees the same few topics.
    last: Option<(String, String)>,
}

impl RegexRouter {
    pub fn new(c: &ParsedConfig) -> Result<Self> {
        let regex = c.string("regex")?.unwrap_or_default();
        // `Matcher.matches`: the whole topic name.
        let regex = Regex::new(&format!("^(?:{regex})$")).map_err(|e| {
            ConnectError::config(format!(
                "Invalid value {regex} for configuration regex: {e}"
            ))
        })?;
        Ok(RegexRouter {
            regex,
            replacement: java_replacement(c.string("replacement")?.unwrap_or_default()),
            last: None,
        })
    }
}

impl Transformation for RegexRouter {
    fn apply_mut(&mut self, record: &mut ConnectRecord, _: &RecordContext) -> Result<Applied> {
        if let Some((from, to)) = &self.last
            && *from == record.topic
        {
            record.topic.clone_from(to);
            return Ok(Applied::Kept);
        }
        let routed = if self.regex.is_match(&record.topic) {
            self.regex
                .replace(&record.topic, self.replacement.as_str())
                .into_owned()
        } else {
            record.topic.clone()
        };
        let from = std::mem::replace(&mut record.topic, routed);
        self.last = Some((from, record.topic.clone()));
        Ok(Applied::Kept)
    }
}

pub fn plugins() -> Vec<Plugin> {
    vec![crate::transforms::plugins::transform(
        CLASS,
        |c| Ok(Box::new(RegexRouter::new(c)?)),
        config_def,
    )]
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::props;

    fn route(regex: &str, replacement: &str, topic: &str) -> String {
        let mut t = RegexRouter::new(
            &config_def()
                .parse(&props(&[("regex", regex), ("replacement", replacement)]))
                .unwrap(),
        )
        .unwrap();
        let r = ConnectRecord {
            topic: topic.into(),
            ..Default::default()
        };
        t.apply(r, &RecordContext::default())
            .unwrap()
            .unwrap()
            .topic
    }

    #[test]
    fn routes_like_kafkas_examples() {
        assert_eq!(route("(.*)", "prefix-$1", "orders"), "prefix-orders");
        assert_eq!(route("(.*)-(\\d+)", "$1x", "orders-12"), "ordersx");
        assert_eq!(route("orders", "sales", "orders"), "sales");
        // Only a match of the whole name counts.
        assert_eq!(route("orders", "sales", "my-orders"), "my-orders");
        assert_eq!(route("(?<name>.*)", "${name}\\$", "t"), "t$");
        // The remembered last route never leaks to another topic.
        let mut t = RegexRouter::new(
            &config_def()
                .parse(&props(&[("regex", "a(.*)"), ("replacement", "b$1")]))
                .unwrap(),
        )
        .unwrap();
        let mut routed = Vec::new();
        for topic in ["a1", "a1", "x", "a2", "x"] {
            let r = ConnectRecord {
                topic: topic.into(),
                ..Default::default()
            };
            routed.push(
                t.apply(r, &RecordContext::default())
                    .unwrap()
                    .unwrap()
                    .topic,
            );
        }
        assert_eq!(routed, ["b1", "b1", "x", "b2", "x"]);
        assert!(
            config_def()
                .parse(&props(&[("regex", "("), ("replacement", "x")]))
                .is_err()
        );
    }
}
