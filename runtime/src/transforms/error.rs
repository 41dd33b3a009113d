//! The error a transform raises on a record, with where it happened.

use crate::errors::ConnectError;

/// A transform failed on a record: which transform (alias and class), which record
/// (topic, partition, offset) and why.
#[derive(Debug, thiserror::Error)]
#[error(
    "transformation '{alias}' ({class}) failed on the record from topic {topic} partition {partition} offset {offset}: {source}"
)]
pub struct TransformError {
    pub alias: String,
    pub class: String,
    pub topic: String,
    /// The partition, or `unassigned` for a source record that names none.
    pub partition: String,
    /// The Kafka offset of a sink record, or the source offset of a source record.
    pub offset: String,
    #[source]
    pub source: ConnectError,
}

impl TransformError {
    /// Whose fault it is: the cause's.
    pub fn blame(&self) -> crate::errors::Blame {
        self.source.blame()
    }
    pub fn retriable(&self) -> bool {
        self.source.retriable()
    }
}

/// Keeps the cause's kind (a data error stays a data error), with the location in the message.
impl From<TransformError> for ConnectError {
    fn from(e: TransformError) -> Self {
        let msg = e.to_string();
        match e.source {
            ConnectError::Config(_) => ConnectError::Config(msg),
            ConnectError::External { retriable, .. } => ConnectError::External {
                message: msg,
                retriable,
            },
            ConnectError::Internal(_) => ConnectError::Internal(msg),
            _ => ConnectError::Data(msg),
        }
    }
}

impl From<Box<TransformError>> for ConnectError {
    fn from(e: Box<TransformError>) -> Self {
        ConnectError::from(*e)
    }
}
