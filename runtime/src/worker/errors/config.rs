//! The `errors.*` settings of a connector, parsed once when a task starts.

use std::time::Duration;

use crate::config::Props;
use crate::config::connector::{base_def, sink_def};
use crate::config::def::ConfigDef;
use crate::errors::{ConnectError, Result};

pub const TOLERANCE: &str = "errors.tolerance";
pub const RETRY_TIMEOUT: &str = "errors.retry.timeout";
pub const RETRY_DELAY_MAX: &str = "errors.retry.delay.max.ms";
pub const LOG_ENABLE: &str = "errors.log.enable";
pub const LOG_INCLUDE_MESSAGES: &str = "errors.log.include.messages";
pub const DLQ_TOPIC: &str = "errors.deadletterqueue.topic.name";
pub const DLQ_REPLICATION_FACTOR: &str = "errors.deadletterqueue.topic.replication.factor";
pub const DLQ_CONTEXT_HEADERS: &str = "errors.deadletterqueue.context.headers.enable";

/// `errors.tolerance`: Kafka Connect's `ToleranceType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ToleranceType {
    /// The first failed record fails the task.
    #[default]
    None,
    /// Failed records are skipped (logged, and for sinks sent to the dead letter queue).
    All,
}

impl ToleranceType {
    /// Parses `none` or `all`, in any case as Kafka does (`valueOf(toUpperCase())`).
    pub fn parse(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "none" => Ok(ToleranceType::None),
            "all" => Ok(ToleranceType::All),
            other => Err(ConnectError::config(format!(
                "Invalid value {other} for configuration {TOLERANCE}: String must be one of: none, all"
            ))),
        }
    }
}

/// Where failed sink records go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetterQueue {
    pub topic: String,
    pub replication_factor: i16,
    /// Add the `__connect.errors.*` headers.
    pub context_headers: bool,
}

/// A connector's error handling settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorsConfig {
    pub tolerance: ToleranceType,
    /// How long a retriable failure is retried: `Some(ZERO)` never, `None` forever (-1).
    pub retry_timeout: Option<Duration>,
    /// The longest wait between two attempts.
    pub retry_delay_max: Duration,
    pub log_enable: bool,
    pub log_include_messages: bool,
    /// Sinks only, when `errors.deadletterqueue.topic.name` is not blank.
    pub dead_letter_queue: Option<DeadLetterQueue>,
}

impl Default for ErrorsConfig {
    fn default() -> Self {
        ErrorsConfig {
            tolerance: ToleranceType::None,
            retry_timeout: Some(Duration::ZERO),
            retry_delay_max: Duration::from_millis(60_000),
            log_enable: false,
            log_include_messages: false,
            dead_letter_queue: None,
        }
    }
}

/// Only the `errors.*` keys of a declaration, so that parsing them does not trip over
/// the connector's other keys.
fn errors_def(full: ConfigDef) -> ConfigDef {
    full.keys()
        .iter()
        .filter(|k| k.name.starts_with("errors."))
        .fold(ConfigDef::new(), |def, k| def.define(k.clone()))
}

impl ErrorsConfig {
    /// Reads the settings of a connector's configuration; `sink` adds the dead letter queue.
    pub fn from_props(props: &Props, sink: bool) -> Result<Self> {
        let def = errors_def(if sink { sink_def() } else { base_def() });
        let parsed = def.parse(props)?;
        let tolerance = ToleranceType::parse(parsed.string(TOLERANCE)?.unwrap_or("none"))?;
        let timeout = parsed.int(RETRY_TIMEOUT)?;
        let retry_timeout = match timeout {
            -1 => None,
            t if t >= 0 => Some(Duration::from_millis(t.unsigned_abs())),
            t => {
                return Err(ConnectError::config(format!(
                    "Invalid value {t} for configuration {RETRY_TIMEOUT}: must be -1 (retry forever) or at least 0"
                )));
            }
        };
        let max = parsed.int(RETRY_DELAY_MAX)?;
        if max < 0 {
            return Err(ConnectError::config(format!(
                "Invalid value {max} for configuration {RETRY_DELAY_MAX}: must be at least 0"
            )));
        }
        let dead_letter_queue = if sink {
            let topic = parsed.string(DLQ_TOPIC)?.unwrap_or("").trim().to_owned();
            let rf = parsed.int(DLQ_REPLICATION_FACTOR)?;
            let replication_factor = i16::try_from(rf)
                .ok()
                .filter(|rf| *rf == -1 || *rf >= 1)
                .ok_or_else(|| {
                    ConnectError::config(format!(
                        "Invalid value {rf} for configuration {DLQ_REPLICATION_FACTOR}: must be -1 (the broker's default) or at least 1"
                    ))
                })?;
            (!topic.is_empty()).then(|| DeadLetterQueue {
                topic,
                replication_factor,
                context_headers: parsed.bool(DLQ_CONTEXT_HEADERS).unwrap_or(false),
            })
        } else {
            None
        };
        Ok(ErrorsConfig {
            tolerance,
            retry_timeout,
            retry_delay_max: Duration::from_millis(max.unsigned_abs()),
            log_enable: parsed.bool(LOG_ENABLE)?,
            log_include_messages: parsed.bool(LOG_INCLUDE_MESSAGES)?,
            dead_letter_queue,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> Props {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_are_kafka_connects() {
        let c = ErrorsConfig::from_props(&props(&[]), true).unwrap();
        assert_eq!(c, ErrorsConfig::default());
    }

    #[test]
    fn reads_every_key() {
        let c = ErrorsConfig::from_props(
            &props(&[
                (TOLERANCE, "all"),
                (RETRY_TIMEOUT, "-1"),
                (RETRY_DELAY_MAX, "5000"),
                (LOG_ENABLE, "true"),
                (LOG_INCLUDE_MESSAGES, "true"),
                (DLQ_TOPIC, " dlq "),
                (DLQ_REPLICATION_FACTOR, "1"),
                (DLQ_CONTEXT_HEADERS, "true"),
            ]),
            true,
        )
        .unwrap();
        assert_eq!(
            c,
            ErrorsConfig {
                tolerance: ToleranceType::All,
                retry_timeout: None,
                retry_delay_max: Duration::from_secs(5),
                log_enable: true,
                log_include_messages: true,
                dead_letter_queue: Some(DeadLetterQueue {
                    topic: "dlq".into(),
                    replication_factor: 1,
                    context_headers: true,
                }),
            }
        );
        // Sources have no dead letter queue.
        let source = ErrorsConfig::from_props(&props(&[(DLQ_TOPIC, "dlq")]), false).unwrap();
        assert_eq!(source.dead_letter_queue, None);
    }

    #[test]
    fn bad_values_name_the_key() {
        for (k, v) in [
            (TOLERANCE, "some"),
            (RETRY_TIMEOUT, "-2"),
            (RETRY_DELAY_MAX, "-1"),
            (DLQ_REPLICATION_FACTOR, "0"),
        ] {
            let e = ErrorsConfig::from_props(&props(&[(k, v), (DLQ_TOPIC, "d")]), true)
                .unwrap_err()
                .to_string();
            assert!(e.contains(k), "{k}={v}: {e}");
        }
        assert_eq!(ToleranceType::parse("ALL").unwrap(), ToleranceType::All);
    }
}
