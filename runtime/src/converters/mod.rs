//! Converters turn Connect data into Kafka bytes and back:
//! `JsonConverter`, `StringConverter`, `ByteArrayConverter` under their Kafka class names,
//! and Confluent's `AvroConverter` (in [`avro`]).

pub mod avro;
mod bytearray;
mod json;
mod string;

pub use bytearray::ByteArrayConverter;
pub use json::{JsonConverter, config_def as json_config_def};
pub use string::{StringConverter, config_def as string_config_def};

/// Java's `Double.toString`, `Float.toString` and `BigDecimal.toString`, for `Value`'s Display.
pub(crate) use json::{write_java_bigdecimal, write_java_f32, write_java_f64};

use std::collections::BTreeMap;

use async_trait::async_trait;

use crate::data::{Header, SchemaAndValue};
use crate::errors::Result;

/// Converts between Connect data and the bytes stored in Kafka, for a key or a value.
///
/// Converters are configured once with their settings (the `key.converter.` or
/// `value.converter.` prefix already stripped) and then shared by a task.
#[async_trait]
#[allow(clippy::wrong_self_convention)] // Kafka's names: fromConnectData / toConnectData.
pub trait Converter: Send + Sync {
    /// Connect data to bytes; `None` for a null (tombstone) value.
    async fn from_connect(
        &self,
        topic: &str,
        headers: &[Header],
        data: &SchemaAndValue,
    ) -> Result<Option<Vec<u8>>>;

    /// Bytes from Kafka (None for null) to Connect data.
    async fn to_connect(
        &self,
        topic: &str,
        headers: &[Header],
        bytes: Option<&[u8]>,
    ) -> Result<SchemaAndValue>;
}

/// Settings for one converter, prefix stripped (`schemas.enable`, `converter.encoding`...).
pub type ConverterConfig = BTreeMap<String, String>;
