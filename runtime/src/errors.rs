//! The error type shared across the runtime's library boundaries.
//!
//! Each error says whose fault it is and whether trying again can help: that is
//! what task restarts, `errors.tolerance` and retry loops decide on.

use std::fmt;

/// Whose fault an error is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blame {
    /// Bad configuration or bad data: retrying the same input fails again.
    User,
    /// Kafka, a database, a file system or a network peer misbehaved.
    External,
    /// A bug in Ferry.
    Internal,
}

impl fmt::Display for Blame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Blame::User => "user",
            Blame::External => "external",
            Blame::Internal => "internal",
        })
    }
}

/// Errors raised by connectors, converters, transforms and the worker.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// A configuration is invalid; the message names the key and why.
    #[error("{0}")]
    Config(String),
    /// A record could not be converted, transformed or written because of its contents.
    #[error("{0}")]
    Data(String),
    /// An external system failed; `retriable` says whether the same call may succeed later.
    #[error("{message}")]
    External { message: String, retriable: bool },
    /// An I/O error, with what Ferry was doing (`"reading /tmp/in.txt"`).
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// A Kafka client error, with what Ferry was doing.
    #[error("{context}: {source}")]
    Kafka {
        context: String,
        #[source]
        source: rdkafka::error::KafkaError,
    },
    /// A bug in Ferry.
    #[error("internal error: {0}")]
    Internal(String),
    /// An operation failed and `errors.tolerance` does not allow skipping it: Kafka
    /// Connect's "Tolerance exceeded in error handler", with the failure as its cause.
    #[error("{message}")]
    Tolerance {
        message: String,
        #[source]
        source: Box<ConnectError>,
    },
}

impl ConnectError {
    pub fn config(msg: impl Into<String>) -> Self {
        ConnectError::Config(msg.into())
    }
    pub fn data(msg: impl Into<String>) -> Self {
        ConnectError::Data(msg.into())
    }
    pub fn external(msg: impl Into<String>, retriable: bool) -> Self {
        ConnectError::External {
            message: msg.into(),
            retriable,
        }
    }
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        ConnectError::Io {
            context: context.into(),
            source,
        }
    }
    pub fn kafka(context: impl Into<String>, source: rdkafka::error::KafkaError) -> Self {
        ConnectError::Kafka {
            context: context.into(),
            source,
        }
    }
    pub fn internal(msg: impl Into<String>) -> Self {
        ConnectError::Internal(msg.into())
    }

    /// Whose fault this error is.
    pub fn blame(&self) -> Blame {
        match self {
            ConnectError::Config(_) | ConnectError::Data(_) => Blame::User,
            ConnectError::External { .. }
            | ConnectError::Io { .. }
            | ConnectError::Kafka { .. } => Blame::External,
            ConnectError::Internal(_) => Blame::Internal,
            ConnectError::Tolerance { source, .. } => source.blame(),
        }
    }

    /// Whether the same operation may succeed if tried again.
    pub fn retriable(&self) -> bool {
        match self {
            ConnectError::External { retriable, .. } => *retriable,
            ConnectError::Io { source, .. } => matches!(
                source.kind(),
                std::io::ErrorKind::Interrupted
                    | std::io::ErrorKind::TimedOut
                    | std::io::ErrorKind::WouldBlock
            ),
            ConnectError::Kafka { source, .. } => source.rdkafka_error_code().is_some_and(|c| {
                !matches!(c, rdkafka::types::RDKafkaErrorCode::MessageSizeTooLarge)
            }),
            _ => false,
        }
    }

    /// The Kafka Connect exception class this error stands for (task traces and the
    /// `__connect.errors.exception.class.name` dead-letter-queue header).
    pub fn exception_class(&self) -> &'static str {
        match self {
            ConnectError::Config(_) => "org.apache.kafka.common.config.ConfigException",
            ConnectError::Data(_) => "org.apache.kafka.connect.errors.DataException",
            ConnectError::External {
                retriable: true, ..
            } => "org.apache.kafka.connect.errors.RetriableException",
            _ => "org.apache.kafka.connect.errors.ConnectException",
        }
    }

    /// The Java-style trace shown in task status: the exception-like class and the cause
    /// chain (causes that are themselves `ConnectError`s show their class too).
    pub fn trace(&self) -> String {
        let mut out = format!("{}: {self}", self.exception_class());
        let mut source = std::error::Error::source(self);
        while let Some(s) = source {
            out.push_str("\nCaused by: ");
            let connect = s
                .downcast_ref::<ConnectError>()
                .or_else(|| s.downcast_ref::<Box<ConnectError>>().map(|b| &**b));
            if let Some(c) = connect {
                out.push_str(c.exception_class());
                out.push_str(": ");
            }
            out.push_str(&s.to_string());
            source = s.source();
        }
        out
    }
}

/// Result alias for the runtime.
pub type Result<T, E = ConnectError> = std::result::Result<T, E>;
