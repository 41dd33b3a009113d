//! `org.apache.kafka.connect.converters.ByteArrayConverter`: passes bytes through untouched.

use async_trait::async_trait;

use super::json::java_class;
use super::{Converter, ConverterConfig};
use crate::data::{Header, Schema, SchemaAndValue, SchemaType, Value};
use crate::errors::{ConnectError, Result};

/// Kafka Connect's `ByteArrayConverter`. It has no settings.
#[derive(Debug, Clone, Copy, Default)]
pub struct ByteArrayConverter;

impl ByteArrayConverter {
    /// Configures a converter; like Kafka's, it ignores its settings and never fails.
    pub fn new(_config: &ConverterConfig, _is_key: bool) -> Result<Self> {
        Ok(ByteArrayConverter)
    }
}

#[async_trait]
impl Converter for ByteArrayConverter {
    async fn from_connect(
        &self,
        topic: &str,
        _headers: &[Header],
        data: &SchemaAndValue,
    ) -> Result<Option<Vec<u8>>> {
        if let Some(schema) = &data.schema {
            if schema.ty != SchemaType::Bytes {
                return Err(ConnectError::data(format!(
                    "Invalid schema type for ByteArrayConverter: {} (topic {topic})",
                    schema.ty
                )));
            }
        }
        match &data.value {
            Value::Null => Ok(None),
            Value::Bytes(bytes) => Ok(Some(bytes.to_vec())),
            other => Err(ConnectError::data(format!(
                "ByteArrayConverter is not compatible with objects of type {} (topic {topic})",
                java_class(other)
            ))),
        }
    }

    async fn to_connect(
        &self,
        _topic: &str,
        _headers: &[Header],
        bytes: Option<&[u8]>,
    ) -> Result<SchemaAndValue> {
        let value = match bytes {
            None => Value::Null,
            Some(bytes) => Value::Bytes(bytes.to_vec().into()),
        };
        Ok(SchemaAndValue::new(Some(Schema::optional_bytes()), value))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::data::{SchemaBuilder, logical};
    use bigdecimal::BigDecimal;
    use bytes::Bytes;
    use std::str::FromStr;

    fn converter() -> ByteArrayConverter {
        ByteArrayConverter::new(&ConverterConfig::new(), false).unwrap()
    }

    #[tokio::test]
    async fn passes_bytes_through_with_or_without_a_bytes_schema() {
        let c = converter();
        let raw = Bytes::from_static(&[0, 1, 0xFF, b'x']);
        for schema in [None, Some(Schema::bytes()), Some(Schema::optional_bytes())] {
            let data = SchemaAndValue::new(schema, Value::Bytes(raw.clone()));
            assert_eq!(
                c.from_connect("t", &[], &data).await.unwrap(),
                Some(vec![0, 1, 0xFF, b'x'])
            );
        }
    }

    #[tokio::test]
    async fn null_is_a_tombstone() {
        let c = converter();
        assert_eq!(
            c.from_connect("t", &[], &SchemaAndValue::null())
                .await
                .unwrap(),
            None
        );
        let data = SchemaAndValue::new(Some(Schema::optional_bytes()), Value::Null);
        assert_eq!(c.from_connect("t", &[], &data).await.unwrap(), None);
    }

    #[tokio::test]
    async fn rejects_other_schema_types() {
        let c = converter();
        let data = SchemaAndValue::new(
            Some(Schema::string()),
            Value::Bytes(Bytes::from_static(b"x")),
        );
        let err = c.from_connect("orders", &[], &data).await.unwrap_err();
        assert!(matches!(err, ConnectError::Data(_)));
        assert_eq!(
            err.to_string(),
            "Invalid schema type for ByteArrayConverter: STRING (topic orders)"
        );
        let data = SchemaAndValue::new(Some(SchemaBuilder::int32().build()), Value::Int32(1));
        let err = c.from_connect("orders", &[], &data).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "Invalid schema type for ByteArrayConverter: INT32 (topic orders)"
        );
    }

    #[tokio::test]
    async fn rejects_values_that_are_not_bytes() {
        let c = converter();
        let data = SchemaAndValue::new(None, Value::from("text"));
        let err = c.from_connect("orders", &[], &data).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "ByteArrayConverter is not compatible with objects of type class java.lang.String (topic orders)"
        );
        // A Decimal schema is a bytes schema, but its value is a BigDecimal, as in Kafka.
        let data = SchemaAndValue::new(
            Some(logical::decimal_schema(2)),
            Value::Decimal(BigDecimal::from_str("1.50").unwrap()),
        );
        let err = c.from_connect("orders", &[], &data).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "ByteArrayConverter is not compatible with objects of type class java.math.BigDecimal (topic orders)"
        );
    }

    #[tokio::test]
    async fn to_connect_gives_optional_bytes() {
        let c = converter();
        let got = c.to_connect("t", &[], Some(&[9, 8, 7])).await.unwrap();
        assert_eq!(got.schema, Some(Schema::optional_bytes()));
        assert_eq!(got.value, Value::Bytes(Bytes::from_static(&[9, 8, 7])));
        let got = c.to_connect("t", &[], Some(&[])).await.unwrap();
        assert_eq!(got.value, Value::Bytes(Bytes::new()));
        // Kafka keeps the schema for a null too: (OPTIONAL_BYTES_SCHEMA, null).
        let got = c.to_connect("t", &[], None).await.unwrap();
        assert_eq!(
            got,
            SchemaAndValue::new(Some(Schema::optional_bytes()), Value::Null)
        );
    }
}
