//! The `__connect.errors.*` headers Kafka Connect's `DeadLetterQueueReporter` adds to a
//! dead-lettered record when `errors.deadletterqueue.context.headers.enable=true`.

use rdkafka::message::{Header, Headers, Message, OwnedHeaders, OwnedMessage};

use super::operator::Failure;
use crate::worker::TaskId;

pub const HEADER_PREFIX: &str = "__connect.errors.";
pub const ORIG_TOPIC: &str = "__connect.errors.topic";
pub const ORIG_PARTITION: &str = "__connect.errors.partition";
pub const ORIG_OFFSET: &str = "__connect.errors.offset";
pub const CONNECTOR_NAME: &str = "__connect.errors.connector.name";
pub const TASK_ID: &str = "__connect.errors.task.id";
pub const STAGE: &str = "__connect.errors.stage";
pub const EXECUTING_CLASS: &str = "__connect.errors.class.name";
pub const EXCEPTION: &str = "__connect.errors.exception.class.name";
pub const EXCEPTION_MESSAGE: &str = "__connect.errors.exception.message";
pub const EXCEPTION_STACK_TRACE: &str = "__connect.errors.exception.stacktrace";

/// The error context headers, in Kafka Connect's order; every value is UTF-8 text
/// (numbers in decimal, as Java's `String.valueOf`).
pub fn context_headers(
    original: &OwnedMessage,
    task: &TaskId,
    failure: &Failure,
) -> Vec<(&'static str, String)> {
    vec![
        (ORIG_TOPIC, original.topic().to_owned()),
        (ORIG_PARTITION, original.partition().to_string()),
        (ORIG_OFFSET, original.offset().to_string()),
        (CONNECTOR_NAME, task.connector.clone()),
        (TASK_ID, task.task.to_string()),
        (STAGE, failure.stage.name().to_owned()),
        (EXECUTING_CLASS, failure.class.clone()),
        (EXCEPTION, failure.error.exception_class().to_owned()),
        (EXCEPTION_MESSAGE, failure.error.to_string()),
        (EXCEPTION_STACK_TRACE, failure.error.trace()),
    ]
}

/// The dead-lettered record's headers: the original ones unchanged, then (if enabled)
/// the context headers.
pub fn dlq_headers(
    original: &OwnedMessage,
    context: Option<(&TaskId, &Failure)>,
) -> Option<OwnedHeaders> {
    let extra = context.map(|(task, failure)| context_headers(original, task, failure));
    let count = original.headers().map_or(0, |h| h.count()) + extra.as_ref().map_or(0, Vec::len);
    if count == 0 {
        return None;
    }
    let mut out = OwnedHeaders::new_with_capacity(count);
    if let Some(hs) = original.headers() {
        for h in hs.iter() {
            out = out.insert(h);
        }
    }
    for (key, value) in extra.into_iter().flatten() {
        out = out.insert(Header {
            key,
            value: Some(value.as_bytes()),
        });
    }
    Some(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use rdkafka::Timestamp;

    use super::*;
    use crate::errors::ConnectError;
    use crate::worker::errors::stage::Stage;

    #[test]
    fn keeps_original_headers_and_adds_kafka_connects() {
        let original = OwnedMessage::new(
            Some(b"{bad".to_vec()),
            Some(b"k".to_vec()),
            "orders".into(),
            Timestamp::CreateTime(42),
            3,
            1234,
            Some(OwnedHeaders::new().insert(Header {
                key: "trace-id",
                value: Some(b"abc".as_slice()),
            })),
        );
        let task = TaskId {
            connector: "sink".into(),
            task: 2,
        };
        let failure = Failure {
            stage: Stage::ValueConverter,
            class: "org.apache.kafka.connect.json.JsonConverter".into(),
            error: ConnectError::data("not JSON"),
            attempts: 1,
        };
        let headers = dlq_headers(&original, Some((&task, &failure))).unwrap();
        let got: Vec<(String, Option<String>)> = headers
            .iter()
            .map(|h| {
                (
                    h.key.to_owned(),
                    h.value.map(|v| String::from_utf8_lossy(v).into_owned()),
                )
            })
            .collect();
        let want: Vec<(String, Option<String>)> = [
            ("trace-id", "abc"),
            ("__connect.errors.topic", "orders"),
            ("__connect.errors.partition", "3"),
            ("__connect.errors.offset", "1234"),
            ("__connect.errors.connector.name", "sink"),
            ("__connect.errors.task.id", "2"),
            ("__connect.errors.stage", "VALUE_CONVERTER"),
            (
                "__connect.errors.class.name",
                "org.apache.kafka.connect.json.JsonConverter",
            ),
            (
                "__connect.errors.exception.class.name",
                "org.apache.kafka.connect.errors.DataException",
            ),
            ("__connect.errors.exception.message", "not JSON"),
            (
                "__connect.errors.exception.stacktrace",
                "org.apache.kafka.connect.errors.DataException: not JSON",
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), Some(v.to_owned())))
        .collect();
        assert_eq!(got, want);
        assert!(got[1..].iter().all(|(k, _)| k.starts_with(HEADER_PREFIX)));
        // Without context headers only the original ones remain.
        assert_eq!(dlq_headers(&original, None).unwrap().count(), 1);
    }
}
