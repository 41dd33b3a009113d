//! `org.apache.kafka.connect.storage.StringConverter`: values as their `toString()` text.

use async_trait::async_trait;

use super::{Converter, ConverterConfig};
use crate::data::{Header, Schema, SchemaAndValue, Value};
use crate::errors::{ConnectError, Result};

const ENCODING_CONFIG: &str = "converter.encoding";

/// The key StringConverter reads, as Kafka's `StringConverterConfig` declares it (for
/// `GET /connector-plugins/StringConverter/config` and docs/configuration.md).
pub fn config_def() -> crate::config::ConfigDef {
    use crate::config::{ConfigDef, ConfigKey, ConfigType, Importance};
    ConfigDef::new().define(
        ConfigKey::new(ENCODING_CONFIG, ConfigType::String)
            .default_value("UTF8")
            .importance(Importance::High)
            .doc("The name of the Java character set to use for encoding strings as byte arrays."),
    )
}

/// The Java charsets this converter supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Charset {
    Utf8,
    Iso8859_1,
    UsAscii,
    /// Writes a big-endian byte order mark; reads either, big-endian without one.
    Utf16,
    Utf16Be,
    Utf16Le,
}

impl Charset {
    /// `Charset.forName`: canonical names and the usual aliases, case-insensitively.
    fn for_name(name: &str) -> Option<Self> {
        Some(match name.trim().to_ascii_lowercase().as_str() {
            "utf-8" | "utf8" | "unicode-1-1-utf-8" => Charset::Utf8,
            "iso-8859-1" | "iso8859-1" | "iso8859_1" | "iso_8859_1" | "iso_8859-1"
            | "iso_8859-1:1987" | "8859_1" | "latin1" | "l1" | "ibm819" | "ibm-819" | "cp819"
            | "819" | "csisolatin1" | "iso-ir-100" => Charset::Iso8859_1,
            "us-ascii" | "ascii" | "us" | "iso646-us" | "iso_646.irv:1991" | "iso_646.irv:1983"
            | "ansi_x3.4-1968" | "ansi_x3.4-1986" | "iso-ir-6" | "cp367" | "ibm367" | "csascii"
            | "646" | "default" | "ascii7" => Charset::UsAscii,
            "utf-16" | "utf_16" | "utf16" | "unicode" | "unicodebig" => Charset::Utf16,
            "utf-16be" | "utf_16be" | "iso-10646-ucs-2" | "x-utf-16be" | "unicodebigunmarked" => {
                Charset::Utf16Be
            }
            "utf-16le" | "utf_16le" | "x-utf-16le" | "unicodelittleunmarked" => Charset::Utf16Le,
            _ => return None,
        })
    }

    /// `String.getBytes(charset)`: characters the charset cannot hold become `?`.
    fn encode(self, s: &str) -> Vec<u8> {
        match self {
            Charset::Utf8 => s.as_bytes().to_vec(),
            Charset::Iso8859_1 => s.chars().map(|c| u8::try_from(c).unwrap_or(b'?')).collect(),
            Charset::UsAscii => s
                .chars()
                .map(|c| if c.is_ascii() { c as u8 } else { b'?' })
                .collect(),
            Charset::Utf16 | Charset::Utf16Be => {
                let mut out = Vec::with_capacity(s.len() * 2 + 2);
                if self == Charset::Utf16 && !s.is_empty() {
                    out.extend_from_slice(&[0xFE, 0xFF]);
                }
                for unit in s.encode_utf16() {
                    out.extend_from_slice(&unit.to_be_bytes());
                }
                out
            }
            Charset::Utf16Le => s.encode_utf16().flat_map(u16::to_le_bytes).collect(),
        }
    }

    /// `new String(bytes, charset)`: malformed input becomes U+FFFD, as in Java.
    fn decode(self, bytes: &[u8]) -> String {
        match self {
            Charset::Utf8 => String::from_utf8_lossy(bytes).into_owned(),
            Charset::Iso8859_1 => bytes.iter().map(|&b| char::from(b)).collect(),
            Charset::UsAscii => bytes
                .iter()
                .map(|&b| {
                    if b.is_ascii() {
                        char::from(b)
                    } else {
                        char::REPLACEMENT_CHARACTER
                    }
                })
                .collect(),
            Charset::Utf16 => match bytes {
                [0xFE, 0xFF, rest @ ..] => decode_utf16(rest, true),
                [0xFF, 0xFE, rest @ ..] => decode_utf16(rest, false),
                _ => decode_utf16(bytes, true),
            },
            Charset::Utf16Be => decode_utf16(bytes, true),
            Charset::Utf16Le => decode_utf16(bytes, false),
        }
    }
}

/// Java's UTF-16 decoder: an unpaired low surrogate is one U+FFFD, a high surrogate not
/// followed by a low one is one U+FFFD together with the unit after it, and an incomplete
/// tail is one U+FFFD.
fn decode_utf16(bytes: &[u8], big_endian: bool) -> String {
    let unit = |i: usize| -> Option<u16> {
        let pair = [*bytes.get(i)?, *bytes.get(i + 1)?];
        Some(if big_endian {
            u16::from_be_bytes(pair)
        } else {
            u16::from_le_bytes(pair)
        })
    };
    let mut out = String::with_capacity(bytes.len() / 2);
    let mut i = 0;
    while let Some(high) = unit(i) {
        match high {
            0xD800..=0xDBFF => {
                let Some(low) = unit(i + 2) else {
                    break;
                };
                let combined = (0xDC00..=0xDFFF)
                    .contains(&low)
                    .then(|| {
                        0x10000 + ((u32::from(high) - 0xD800) << 10) + (u32::from(low) - 0xDC00)
                    })
                    .and_then(char::from_u32);
                out.push(combined.unwrap_or(char::REPLACEMENT_CHARACTER));
                i += 4;
            }
            0xDC00..=0xDFFF => {
                out.push(char::REPLACEMENT_CHARACTER);
                i += 2;
            }
            _ => {
                out.push(char::from_u32(u32::from(high)).unwrap_or(char::REPLACEMENT_CHARACTER));
                i += 2;
            }
        }
    }
    if i < bytes.len() {
        out.push(char::REPLACEMENT_CHARACTER);
    }
    out
}

/// Kafka Connect's `StringConverter`.
///
/// Settings: `converter.encoding` (default UTF-8). As in Kafka, `key.serializer.encoding` /
/// `value.serializer.encoding` (and the `deserializer` ones), for whichever of key or value
/// this converter handles, take precedence over it; the unprefixed `serializer.encoding`
/// and `deserializer.encoding` are overridden by `converter.encoding` and its default.
#[derive(Debug, Clone)]
pub struct StringConverter {
    serializer: Charset,
    deserializer: Charset,
}

impl StringConverter {
    pub fn new(config: &ConverterConfig, is_key: bool) -> Result<Self> {
        let side = if is_key { "key" } else { "value" };
        let encoding = config.get(ENCODING_CONFIG).map_or("UTF-8", String::as_str);
        let pick = |kind: &str| -> Result<Charset> {
            let specific = format!("{side}.{kind}.encoding");
            let (key, name) = match config.get(&specific) {
                Some(name) => (specific, name.as_str()),
                None => (ENCODING_CONFIG.to_owned(), encoding),
            };
            Charset::for_name(name).ok_or_else(|| {
                ConnectError::config(format!(
                    "Invalid value {name} for configuration {key}: Unsupported encoding {name} (supported: UTF-8, ISO-8859-1, US-ASCII, UTF-16, UTF-16BE, UTF-16LE)"
                ))
            })
        };
        Ok(StringConverter {
            serializer: pick("serializer")?,
            deserializer: pick("deserializer")?,
        })
    }
}

#[async_trait]
impl Converter for StringConverter {
    async fn from_connect(
        &self,
        _topic: &str,
        _headers: &[Header],
        data: &SchemaAndValue,
    ) -> Result<Option<Vec<u8>>> {
        // The schema is ignored: any value is written as its toString().
        Ok(match &data.value {
            Value::Null => None,
            Value::String(s) => Some(self.serializer.encode(s)),
            other => Some(self.serializer.encode(&other.to_string())),
        })
    }

    async fn to_connect(
        &self,
        _topic: &str,
        _headers: &[Header],
        bytes: Option<&[u8]>,
    ) -> Result<SchemaAndValue> {
        let value = match bytes {
            None => Value::Null,
            Some(bytes) => Value::String(self.deserializer.decode(bytes)),
        };
        Ok(SchemaAndValue::new(Some(Schema::optional_string()), value))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::data::{SchemaBuilder, Struct};

    fn config(pairs: &[(&str, &str)]) -> ConverterConfig {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    async fn write(c: &StringConverter, value: Value) -> Option<Vec<u8>> {
        c.from_connect("t", &[], &SchemaAndValue::new(None, value))
            .await
            .unwrap()
    }

    async fn read(c: &StringConverter, bytes: &[u8]) -> Value {
        let got = c.to_connect("t", &[], Some(bytes)).await.unwrap();
        assert_eq!(got.schema, Some(Schema::optional_string()));
        got.value
    }

    #[tokio::test]
    async fn utf8_by_default() {
        let c = StringConverter::new(&ConverterConfig::new(), false).unwrap();
        assert_eq!(
            write(&c, Value::from("héllo €")).await,
            Some("héllo €".as_bytes().to_vec())
        );
        assert_eq!(read(&c, "héllo €".as_bytes()).await, Value::from("héllo €"));
        assert_eq!(read(&c, b"").await, Value::from(""));
    }

    #[tokio::test]
    async fn writes_any_value_as_its_to_string() {
        let c = StringConverter::new(&ConverterConfig::new(), false).unwrap();
        assert_eq!(write(&c, Value::Int32(42)).await, Some(b"42".to_vec()));
        assert_eq!(write(&c, Value::Int64(-7)).await, Some(b"-7".to_vec()));
        assert_eq!(
            write(&c, Value::Boolean(true)).await,
            Some(b"true".to_vec())
        );
        assert_eq!(write(&c, Value::Float64(1.5)).await, Some(b"1.5".to_vec()));
        assert_eq!(
            write(&c, Value::Array(vec![Value::Int32(1), Value::from("a")])).await,
            Some(b"[1, a]".to_vec())
        );
        let schema = SchemaBuilder::struct_()
            .field("a", SchemaBuilder::int32().build())
            .field("b", SchemaBuilder::string().optional().build())
            .field("c", SchemaBuilder::string().build())
            .build();
        let st = Struct::new(schema)
            .with("a", Value::Int32(1))
            .with("c", Value::from("x"));
        assert_eq!(
            write(&c, Value::Struct(st)).await,
            Some(b"Struct{a=1,c=x}".to_vec())
        );
        // The schema plays no part, even when it does not match.
        let data = SchemaAndValue::new(Some(SchemaBuilder::int32().build()), Value::from("text"));
        assert_eq!(
            c.from_connect("t", &[], &data).await.unwrap(),
            Some(b"text".to_vec())
        );
    }

    #[tokio::test]
    async fn null_is_a_tombstone_both_ways() {
        let c = StringConverter::new(&ConverterConfig::new(), true).unwrap();
        assert_eq!(write(&c, Value::Null).await, None);
        let data = SchemaAndValue::new(Some(Schema::optional_string()), Value::Null);
        assert_eq!(c.from_connect("t", &[], &data).await.unwrap(), None);
        let got = c.to_connect("t", &[], None).await.unwrap();
        assert_eq!(
            got,
            SchemaAndValue::new(Some(Schema::optional_string()), Value::Null)
        );
    }

    #[tokio::test]
    async fn malformed_utf8_is_replaced_as_java_does() {
        let c = StringConverter::new(&ConverterConfig::new(), false).unwrap();
        assert_eq!(
            read(&c, b"a\xFFb\xE2\x82").await,
            Value::from("a\u{FFFD}b\u{FFFD}")
        );
    }

    #[tokio::test]
    async fn iso_8859_1_and_ascii() {
        let latin1 =
            StringConverter::new(&config(&[("converter.encoding", " Latin1 ")]), false).unwrap();
        assert_eq!(
            write(&latin1, Value::from("é€")).await,
            Some(vec![0xE9, b'?'])
        );
        assert_eq!(
            read(&latin1, &[0x63, 0x61, 0x66, 0xE9]).await,
            Value::from("café")
        );

        let iso =
            StringConverter::new(&config(&[("converter.encoding", "iso-8859-1")]), false).unwrap();
        assert_eq!(write(&iso, Value::from("ÿ")).await, Some(vec![0xFF]));

        let ascii =
            StringConverter::new(&config(&[("converter.encoding", "US-ASCII")]), false).unwrap();
        assert_eq!(
            write(&ascii, Value::from("aé😀")).await,
            Some(b"a??".to_vec())
        );
        assert_eq!(read(&ascii, &[b'a', 0xE9]).await, Value::from("a\u{FFFD}"));
    }

    #[tokio::test]
    async fn utf16_variants() {
        let bom =
            StringConverter::new(&config(&[("converter.encoding", "UTF-16")]), false).unwrap();
        assert_eq!(
            write(&bom, Value::from("A😀")).await,
            Some(vec![0xFE, 0xFF, 0x00, 0x41, 0xD8, 0x3D, 0xDE, 0x00])
        );
        assert_eq!(
            read(&bom, &[0xFF, 0xFE, 0x41, 0x00]).await,
            Value::from("A")
        );
        assert_eq!(read(&bom, &[0x00, 0x41]).await, Value::from("A"));
        let le =
            StringConverter::new(&config(&[("converter.encoding", "UTF-16LE")]), false).unwrap();
        assert_eq!(
            write(&le, Value::from("Ab")).await,
            Some(vec![0x41, 0x00, 0x62, 0x00])
        );
        // Malformed input is replaced the way Java's decoder does it.
        assert_eq!(
            read(&le, &[0x41, 0x00, 0x00, 0xD8, 0x62]).await,
            Value::from("A\u{FFFD}")
        );
        assert_eq!(
            read(&le, &[0x00, 0xD8, 0x41, 0x00, 0x42, 0x00]).await,
            Value::from("\u{FFFD}B")
        );
        assert_eq!(
            read(&le, &[0x00, 0xDC, 0x41, 0x00]).await,
            Value::from("\u{FFFD}A")
        );
        assert_eq!(
            read(&le, &[0x3D, 0xD8, 0x00, 0xDE]).await,
            Value::from("😀")
        );
        let be =
            StringConverter::new(&config(&[("converter.encoding", "utf-16be")]), false).unwrap();
        assert_eq!(write(&be, Value::from("A")).await, Some(vec![0x00, 0x41]));
        // Only UTF-16 (not UTF-16BE, nor UTF-8) treats a byte order mark as one.
        assert_eq!(
            read(&be, &[0xFE, 0xFF, 0x00, 0x41]).await,
            Value::from("\u{FEFF}A")
        );
        assert_eq!(write(&bom, Value::from("")).await, Some(vec![]));
    }

    #[tokio::test]
    async fn side_specific_serializer_settings_win_as_in_kafka() {
        let cfg = config(&[
            ("converter.encoding", "ISO-8859-1"),
            ("value.serializer.encoding", "US-ASCII"),
            ("value.deserializer.encoding", "UTF-16BE"),
            ("serializer.encoding", "UTF-16LE"),
        ]);
        let value = StringConverter::new(&cfg, false).unwrap();
        assert_eq!(write(&value, Value::from("é")).await, Some(b"?".to_vec()));
        assert_eq!(read(&value, &[0x00, 0x41]).await, Value::from("A"));
        // For a key converter the value.* settings do not apply, and the unprefixed
        // serializer.encoding is overridden by converter.encoding.
        let key = StringConverter::new(&cfg, true).unwrap();
        assert_eq!(write(&key, Value::from("é")).await, Some(vec![0xE9]));
        assert_eq!(read(&key, &[0xE9]).await, Value::from("é"));
    }

    #[tokio::test]
    async fn unknown_encodings_are_config_errors() {
        let err = StringConverter::new(&config(&[("converter.encoding", "EBCDIC-XYZ")]), false)
            .unwrap_err();
        assert!(matches!(err, ConnectError::Config(_)));
        assert_eq!(
            err.to_string(),
            "Invalid value EBCDIC-XYZ for configuration converter.encoding: Unsupported encoding EBCDIC-XYZ (supported: UTF-8, ISO-8859-1, US-ASCII, UTF-16, UTF-16BE, UTF-16LE)"
        );
        let err = StringConverter::new(&config(&[("key.deserializer.encoding", "nope")]), true)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Invalid value nope for configuration key.deserializer.encoding: Unsupported encoding nope (supported: UTF-8, ISO-8859-1, US-ASCII, UTF-16, UTF-16BE, UTF-16LE)"
        );
    }
}
