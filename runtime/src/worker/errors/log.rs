//! `errors.log.enable`: a tolerated failure is written to the worker's log, as Kafka
//! Connect's `LogReporter` does.

use std::fmt::Write as _;

use rdkafka::Timestamp;
use rdkafka::message::{Message, OwnedMessage};

use super::config::ErrorsConfig;
use super::operator::Failure;
use crate::data::SourceRecord;
use crate::worker::TaskId;

/// Logs tolerated failures at ERROR level.
#[derive(Debug, Clone)]
pub struct LogReporter {
    task: TaskId,
    enabled: bool,
    include_messages: bool,
}

impl LogReporter {
    pub fn new(task: &TaskId, config: &ErrorsConfig) -> Self {
        LogReporter {
            task: task.clone(),
            enabled: config.log_enable,
            include_messages: config.log_include_messages,
        }
    }

    /// A consumed record failed: its position is always logged, its key and value only
    /// with `errors.log.include.messages=true` (they may hold personal data).
    /// Whether failures are logged (`errors.log.enable`).
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    pub fn report_sink(&self, original: &OwnedMessage, failure: &Failure) {
        if !self.enabled {
            return;
        }
        let mut record = format!(
            "{{topic='{}', partition={}, offset={}",
            original.topic(),
            original.partition(),
            original.offset()
        );
        match original.timestamp() {
            Timestamp::CreateTime(t) => {
                let _ = write!(record, ", timestamp={t}, timestampType=CreateTime");
            }
            Timestamp::LogAppendTime(t) => {
                let _ = write!(record, ", timestamp={t}, timestampType=LogAppendTime");
            }
            Timestamp::NotAvailable => {}
        }
        if self.include_messages {
            let text = |b: Option<&[u8]>| {
                b.map_or_else(
                    || "null".to_owned(),
                    |b| String::from_utf8_lossy(b).into_owned(),
                )
            };
            let _ = write!(
                record,
                ", key={}, value={}",
                text(original.key()),
                text(original.payload())
            );
        }
        record.push('}');
        self.log(failure, &format!(", where consumed record is {record}"));
    }

    /// A source record failed: its topic is always logged, the whole record only with
    /// `errors.log.include.messages=true`.
    pub fn report_source(&self, original: &SourceRecord, failure: &Failure) {
        if !self.enabled {
            return;
        }
        let detail = if self.include_messages {
            format!(", where source record is = {original:?}")
        } else {
            format!(", for topic '{}'", original.record.topic)
        };
        self.log(failure, &detail);
    }

    fn log(&self, failure: &Failure, detail: &str) {
        tracing::error!(
            task = %self.task,
            stage = %failure.stage,
            attempts = failure.attempts,
            error = %failure.error.trace(),
            "Error encountered in task {}. Executing stage '{}' with class '{}'{detail}.",
            self.task,
            failure.stage,
            failure.class,
        );
    }
}
