//! Where in a task's pipeline an operation failed: Kafka Connect's `Stage`.

use std::fmt;

/// A step of the source or sink pipeline, named as Kafka Connect names it in logs and in
/// the `__connect.errors.stage` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    /// `SourceTask::poll`.
    TaskPoll,
    /// `SinkTask::put`.
    TaskPut,
    /// A single message transform or its predicate.
    Transformation,
    KeyConverter,
    ValueConverter,
    HeaderConverter,
    /// Writing a record to Kafka.
    KafkaProduce,
    /// Reading a record from Kafka.
    KafkaConsume,
}

impl Stage {
    /// The Java enum constant's name.
    pub fn name(self) -> &'static str {
        match self {
            Stage::TaskPoll => "TASK_POLL",
            Stage::TaskPut => "TASK_PUT",
            Stage::Transformation => "TRANSFORMATION",
            Stage::KeyConverter => "KEY_CONVERTER",
            Stage::ValueConverter => "VALUE_CONVERTER",
            Stage::HeaderConverter => "HEADER_CONVERTER",
            Stage::KafkaProduce => "KAFKA_PRODUCE",
            Stage::KafkaConsume => "KAFKA_CONSUME",
        }
    }

    /// Whether `errors.tolerance=all` may skip a record that failed here for any reason.
    /// Elsewhere (the task itself, the Kafka clients) only retriable errors are handled, as
    /// in Kafka Connect: anything else fails the task whatever the tolerance.
    pub fn tolerates_any_error(self) -> bool {
        matches!(
            self,
            Stage::Transformation
                | Stage::KeyConverter
                | Stage::ValueConverter
                | Stage::HeaderConverter
        )
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_and_tolerable_stages_match_kafka_connect() {
        assert_eq!(Stage::ValueConverter.to_string(), "VALUE_CONVERTER");
        assert_eq!(Stage::KafkaProduce.name(), "KAFKA_PRODUCE");
        let tolerable: Vec<&str> = [
            Stage::TaskPoll,
            Stage::TaskPut,
            Stage::Transformation,
            Stage::KeyConverter,
            Stage::ValueConverter,
            Stage::HeaderConverter,
            Stage::KafkaProduce,
            Stage::KafkaConsume,
        ]
        .into_iter()
        .filter(|s| s.tolerates_any_error())
        .map(Stage::name)
        .collect();
        assert_eq!(
            tolerable,
            [
                "TRANSFORMATION",
                "KEY_CONVERTER",
                "VALUE_CONVERTER",
                "HEADER_CONVERTER"
            ]
        );
    }
}
