//! Single message transforms and predicates: Kafka Connect's `transforms=` and `predicates=`.
//!
//! Each transform and predicate lives in its own file and declares its keys with a
//! [`ConfigDef`]; the registry entries in [`plugins`] put them in [`crate::plugins::Registry`]
//! under Kafka's class names. [`chain::TransformChain`] is what a task runs: built once from
//! the connector's config, applied to every record between the converters and the task.

pub mod cast;
pub mod chain;
pub(crate) mod date_format;
pub mod drop_headers;
pub mod enrich;
pub mod error;
pub mod extract_field;
pub mod filter;
pub mod flatten;
pub mod header_from;
pub mod hoist_field;
pub mod insert_field;
pub mod insert_header;
pub mod mask_field;
pub mod plugins;
pub mod predicates;
pub mod regex_router;
pub mod replace_field;
pub mod set_schema_metadata;
pub mod timestamp_converter;
pub mod timestamp_router;
pub(crate) mod util;
pub mod value_to_key;

pub use chain::TransformChain;
pub use error::TransformError;

use crate::config::ParsedConfig;
use crate::data::ConnectRecord;
use crate::errors::Result;

/// What a transform may know about a record beyond its contents.
#[derive(Debug, Clone, Copy, Default)]
pub struct RecordContext {
    /// The Kafka offset of a sink record; None for a source record.
    pub kafka_offset: Option<i64>,
}

/// Whether a record goes on after a transform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Applied {
    Kept,
    /// Filtered out: the record goes no further.
    Dropped,
}

/// A single message transform: Kafka's `Transformation`.
pub trait Transformation: Send + Sync {
    /// Transforms a record in place. A chain hands each record down its steps this way, so a
    /// step moves no record and a field it leaves alone is not copied. On an error the
    /// record may be half transformed; the chain then discards it (a sink's dead-letter
    /// queue gets the bytes consumed from Kafka, not the record).
    fn apply_mut(&mut self, record: &mut ConnectRecord, ctx: &RecordContext) -> Result<Applied>;

    /// Transforms a record it is given; `None` drops it.
    fn apply(
        &mut self,
        mut record: ConnectRecord,
        ctx: &RecordContext,
    ) -> Result<Option<ConnectRecord>> {
        Ok(match self.apply_mut(&mut record, ctx)? {
            Applied::Kept => Some(record),
            Applied::Dropped => None,
        })
    }
}

/// A condition on a record: Kafka's `Predicate`.
pub trait Predicate: Send + Sync {
    fn test(&self, record: &ConnectRecord) -> bool;
}

/// Builds a configured transform from its parsed settings (prefix stripped).
pub type TransformFactory = fn(&ParsedConfig) -> Result<Box<dyn Transformation>>;
/// Builds a configured predicate from its parsed settings (prefix stripped).
pub type PredicateFactory = fn(&ParsedConfig) -> Result<Box<dyn Predicate>>;

/// Which part of a record a `$Key`/`$Value` transform works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Key,
    Value,
}

impl Side {
    pub(crate) fn of(self, r: &ConnectRecord) -> &crate::data::SchemaAndValue {
        match self {
            Side::Key => &r.key,
            Side::Value => &r.value,
        }
    }
    pub(crate) fn of_mut(self, r: &mut ConnectRecord) -> &mut crate::data::SchemaAndValue {
        match self {
            Side::Key => &mut r.key,
            Side::Value => &mut r.value,
        }
    }
}
