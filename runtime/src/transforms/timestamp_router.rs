//! `TimestampRouter`: rewrites the topic from a format of the topic and the record's timestamp.

use crate::config::def::ConfigKey;
use crate::config::{ConfigDef, ConfigType, Importance, ParsedConfig};
use crate::data::ConnectRecord;
use crate::errors::{ConnectError, Result};
use crate::plugins::Plugin;
use crate::transforms::date_format::JavaDateFormat;
use crate::transforms::{Applied, RecordContext, Transformation};

pub const CLASS: &str = "org.apache.kafka.connect.transforms.TimestampRouter";

pub fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            ConfigKey::new("topic.format", ConfigType::String)
                .default_value("${topic}-${timestamp}")
                .importance(Importance::High)
                .doc(
                    "Format string which can contain <code>${topic}</code> and \
                     <code>${timestamp}</code> as placeholders for the topic and timestamp, \
                     respectively.",
                ),
        )
        .define(
            ConfigKey::new("timestamp.format", ConfigType::String)
                .default_value("yyyyMMdd")
                .importance(Importance::High)
                .doc(
                    "Format string for the timestamp that is compatible with \
                     <code>java.text.SimpleDateFormat</code>.",
                ),
        )
}

pub struct TimestampRouter {
    topic_format: String,
    timestamp_format: JavaDateFormat,
}

impl TimestampRouter {
    pub fn new(c: &ParsedConfig) -> Result<Self> {
        let ts = c.string("timestamp.format")?.unwrap_or_default();
        Ok(TimestampRouter {
            topic_format: c.string("topic.format")?.unwrap_or_default().to_owned(),
            timestamp_format: JavaDateFormat::new(ts).map_err(|e| {
                ConnectError::config(format!(
                    "Invalid value {ts} for configuration timestamp.format: {e}"
                ))
            })?,
        })
    }
}

impl Transformation for TimestampRouter {
    fn apply_mut(&mut self, record: &mut ConnectRecord, _: &RecordContext) -> Result<Applied> {
        let Some(ts) = record.timestamp else {
            return Err(ConnectError::data(format!(
                "Timestamp missing on record: topic {}",
                record.topic
            )));
        };
        let formatted = self.timestamp_format.format(ts);
        record.topic = self
            .topic_format
            .replace("${topic}", &record.topic)
            .replace("${timestamp}", &formatted);
        Ok(Applied::Kept)
    }
}

pub fn plugins() -> Vec<Plugin> {
    vec![crate::transforms::plugins::transform(
        CLASS,
        |c| Ok(Box::new(TimestampRouter::new(c)?)),
        config_def,
    )]
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::props;

    #[test]
    fn formats_topic_and_timestamp() {
        let mut t = TimestampRouter::new(&config_def().parse(&props(&[])).unwrap()).unwrap();
        let r = ConnectRecord {
            topic: "orders".into(),
            timestamp: Some(1_700_000_000_000),
            ..Default::default()
        };
        let out = t.apply(r, &RecordContext::default()).unwrap().unwrap();
        assert_eq!(out.topic, "orders-20231114");
        let mut t = TimestampRouter::new(
            &config_def()
                .parse(&props(&[
                    ("topic.format", "${timestamp}_${topic}"),
                    ("timestamp.format", "yyyy-MM"),
                ]))
                .unwrap(),
        )
        .unwrap();
        let r = ConnectRecord {
            topic: "t".into(),
            timestamp: Some(0),
            ..Default::default()
        };
        assert_eq!(
            t.apply(r, &RecordContext::default())
                .unwrap()
                .unwrap()
                .topic,
            "1970-01_t"
        );
        let err = t
            .apply(ConnectRecord::default(), &RecordContext::default())
            .unwrap_err();
        assert!(
            err.to_string().starts_with("Timestamp missing on record"),
            "{err}"
        );
    }
}
