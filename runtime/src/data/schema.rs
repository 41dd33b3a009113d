//! Connect schemas: the types of Kafka Connect's `org.apache.kafka.connect.data.Schema`.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use super::value::Value;

/// A shared, immutable schema.
pub type SchemaRef = Arc<Schema>;

/// The physical type of a schema, as Kafka Connect names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SchemaType {
    Int8,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    Boolean,
    String,
    Bytes,
    Array,
    Map,
    Struct,
}

impl SchemaType {
    /// The lower-case name used on the wire by the JSON converter (`"int32"`, `"struct"`...).
    pub fn wire_name(self) -> &'static str {
        match self {
            SchemaType::Int8 => "int8",
            SchemaType::Int16 => "int16",
            SchemaType::Int32 => "int32",
            SchemaType::Int64 => "int64",
            SchemaType::Float32 => "float",
            SchemaType::Float64 => "double",
            SchemaType::Boolean => "boolean",
            SchemaType::String => "string",
            SchemaType::Bytes => "bytes",
            SchemaType::Array => "array",
            SchemaType::Map => "map",
            SchemaType::Struct => "struct",
        }
    }

    /// Parses the JSON converter's type names.
    pub fn from_wire_name(name: &str) -> Option<Self> {
        Some(match name {
            "int8" => SchemaType::Int8,
            "int16" => SchemaType::Int16,
            "int32" => SchemaType::Int32,
            "int64" => SchemaType::Int64,
            "float" => SchemaType::Float32,
            "double" => SchemaType::Float64,
            "boolean" => SchemaType::Boolean,
            "string" => SchemaType::String,
            "bytes" => SchemaType::Bytes,
            "array" => SchemaType::Array,
            "map" => SchemaType::Map,
            "struct" => SchemaType::Struct,
            _ => return None,
        })
    }

    /// Whether values of this type are primitives (not array, map or struct).
    pub fn is_primitive(self) -> bool {
        !matches!(
            self,
            SchemaType::Array | SchemaType::Map | SchemaType::Struct
        )
    }
}

impl fmt::Display for SchemaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Kafka Connect prints the enum constant (INT32, STRUCT...) in its error messages.
        f.write_str(
            &self
                .wire_name()
                .to_ascii_uppercase()
                .replace("FLOAT", "FLOAT32")
                .replace("DOUBLE", "FLOAT64"),
        )
    }
}

/// A field of a struct schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    pub index: usize,
    pub schema: SchemaRef,
}

/// Schema parameters in insertion order, as the `LinkedHashMap` of Kafka's `SchemaBuilder`
/// keeps them (and the JSON converter writes them); equal, and hashed, regardless of order,
/// as `Map.equals` compares them.
#[derive(Debug, Clone, Default)]
pub struct Parameters(Vec<(String, String)>);

impl Parameters {
    pub fn new() -> Self {
        Parameters::default()
    }

    pub fn get(&self, key: &str) -> Option<&String> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Sets a parameter; a key already set keeps its place (`LinkedHashMap.put`). Answers
    /// the previous value.
    pub fn insert(&mut self, key: String, value: String) -> Option<String> {
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => Some(std::mem::replace(v, value)),
            None => {
                self.0.push((key, value));
                None
            }
        }
    }

    /// The parameters in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &String)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl PartialEq for Parameters {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|(k, v)| other.get(k) == Some(v))
    }
}

impl Eq for Parameters {}

impl Hash for Parameters {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let mut sorted: Vec<_> = self.iter().collect();
        sorted.sort();
        sorted.hash(state);
    }
}

impl FromIterator<(String, String)> for Parameters {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> Self {
        let mut p = Parameters::new();
        for (k, v) in iter {
            p.insert(k, v);
        }
        p
    }
}

/// A Connect schema. Build one with [`SchemaBuilder`] or the constructors below.
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    pub ty: SchemaType,
    pub optional: bool,
    pub default: Option<Value>,
    pub name: Option<String>,
    pub version: Option<i32>,
    pub doc: Option<String>,
    pub parameters: Option<Parameters>,
    /// Struct fields, in order (empty for other types).
    pub fields: Vec<Field>,
    /// Map key schema.
    pub key_schema: Option<SchemaRef>,
    /// Map value schema and array element schema.
    pub value_schema: Option<SchemaRef>,
}

impl Schema {
    fn bare(ty: SchemaType, optional: bool) -> Self {
        Schema {
            ty,
            optional,
            default: None,
            name: None,
            version: None,
            doc: None,
            parameters: None,
            fields: Vec::new(),
            key_schema: None,
            value_schema: None,
        }
    }

    /// A required primitive schema of the given type.
    pub fn primitive(ty: SchemaType) -> SchemaRef {
        Arc::new(Self::bare(ty, false))
    }

    /// An optional primitive schema of the given type.
    pub fn optional_primitive(ty: SchemaType) -> SchemaRef {
        Arc::new(Self::bare(ty, true))
    }

    /// `Schema.STRING_SCHEMA`.
    pub fn string() -> SchemaRef {
        Self::primitive(SchemaType::String)
    }

    /// `Schema.OPTIONAL_STRING_SCHEMA`.
    pub fn optional_string() -> SchemaRef {
        Self::optional_primitive(SchemaType::String)
    }

    /// `Schema.BYTES_SCHEMA`.
    pub fn bytes() -> SchemaRef {
        Self::primitive(SchemaType::Bytes)
    }

    /// `Schema.OPTIONAL_BYTES_SCHEMA`.
    pub fn optional_bytes() -> SchemaRef {
        Self::optional_primitive(SchemaType::Bytes)
    }

    /// The field with this name, for struct schemas.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The logical type this schema carries, if its name is one Kafka Connect defines.
    pub fn logical(&self) -> Option<logical::Logical> {
        logical::Logical::of(self)
    }
}

/// Builds schemas the way `SchemaBuilder` does in Kafka Connect.
#[derive(Debug, Clone)]
pub struct SchemaBuilder {
    schema: Schema,
}

impl SchemaBuilder {
    pub fn new(ty: SchemaType) -> Self {
        SchemaBuilder {
            schema: Schema::bare(ty, false),
        }
    }
    pub fn int8() -> Self {
        Self::new(SchemaType::Int8)
    }
    pub fn int16() -> Self {
        Self::new(SchemaType::Int16)
    }
    pub fn int32() -> Self {
        Self::new(SchemaType::Int32)
    }
    pub fn int64() -> Self {
        Self::new(SchemaType::Int64)
    }
    pub fn float32() -> Self {
        Self::new(SchemaType::Float32)
    }
    pub fn float64() -> Self {
        Self::new(SchemaType::Float64)
    }
    pub fn boolean() -> Self {
        Self::new(SchemaType::Boolean)
    }
    pub fn string() -> Self {
        Self::new(SchemaType::String)
    }
    pub fn bytes() -> Self {
        Self::new(SchemaType::Bytes)
    }
    pub fn struct_() -> Self {
        Self::new(SchemaType::Struct)
    }
    pub fn array(value_schema: SchemaRef) -> Self {
        let mut b = Self::new(SchemaType::Array);
        b.schema.value_schema = Some(value_schema);
        b
    }
    pub fn map(key_schema: SchemaRef, value_schema: SchemaRef) -> Self {
        let mut b = Self::new(SchemaType::Map);
        b.schema.key_schema = Some(key_schema);
        b.schema.value_schema = Some(value_schema);
        b
    }
    pub fn optional(mut self) -> Self {
        self.schema.optional = true;
        self
    }
    pub fn required(mut self) -> Self {
        self.schema.optional = false;
        self
    }
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.schema.name = Some(name.into());
        self
    }
    pub fn version(mut self, version: i32) -> Self {
        self.schema.version = Some(version);
        self
    }
    pub fn doc(mut self, doc: impl Into<String>) -> Self {
        self.schema.doc = Some(doc.into());
        self
    }
    pub fn default_value(mut self, value: Value) -> Self {
        self.schema.default = Some(value);
        self
    }
    pub fn parameter(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.schema
            .parameters
            .get_or_insert_with(Parameters::new)
            .insert(key.into(), value.into());
        self
    }
    /// Adds a struct field; the index is its position.
    pub fn field(mut self, name: impl Into<String>, schema: SchemaRef) -> Self {
        let index = self.schema.fields.len();
        self.schema.fields.push(Field {
            name: name.into(),
            index,
            schema,
        });
        self
    }
    pub fn build(self) -> SchemaRef {
        Arc::new(self.schema)
    }
}

/// Kafka Connect's logical types: Decimal, Date, Time and Timestamp.
pub mod logical {
    use super::{Schema, SchemaBuilder, SchemaRef};

    pub const DECIMAL: &str = "org.apache.kafka.connect.data.Decimal";
    pub const DECIMAL_SCALE: &str = "scale";
    pub const DATE: &str = "org.apache.kafka.connect.data.Date";
    pub const TIME: &str = "org.apache.kafka.connect.data.Time";
    pub const TIMESTAMP: &str = "org.apache.kafka.connect.data.Timestamp";

    /// A recognised logical type.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Logical {
        /// Bytes holding a two's-complement big-endian unscaled integer; the value's scale.
        Decimal { scale: i32 },
        /// Int32 days since the Unix epoch.
        Date,
        /// Int32 milliseconds since midnight.
        Time,
        /// Int64 milliseconds since the Unix epoch.
        Timestamp,
    }

    impl Logical {
        pub fn of(schema: &Schema) -> Option<Self> {
            match schema.name.as_deref()? {
                DECIMAL => {
                    let scale = schema
                        .parameters
                        .as_ref()
                        .and_then(|p| p.get(DECIMAL_SCALE))
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(0);
                    Some(Logical::Decimal { scale })
                }
                DATE => Some(Logical::Date),
                TIME => Some(Logical::Time),
                TIMESTAMP => Some(Logical::Timestamp),
                _ => None,
            }
        }
    }

    /// `Decimal.builder(scale)`.
    pub fn decimal(scale: i32) -> SchemaBuilder {
        SchemaBuilder::bytes()
            .name(DECIMAL)
            .version(1)
            .parameter(DECIMAL_SCALE, scale.to_string())
    }
    /// `Date.builder()`.
    pub fn date() -> SchemaBuilder {
        SchemaBuilder::int32().name(DATE).version(1)
    }
    /// `Time.builder()`.
    pub fn time() -> SchemaBuilder {
        SchemaBuilder::int32().name(TIME).version(1)
    }
    /// `Timestamp.builder()`.
    pub fn timestamp() -> SchemaBuilder {
        SchemaBuilder::int64().name(TIMESTAMP).version(1)
    }
    /// `Decimal.schema(scale)`.
    pub fn decimal_schema(scale: i32) -> SchemaRef {
        decimal(scale).build()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::hash_map::DefaultHasher;
    use std::hash::{Hash, Hasher};

    use super::*;

    #[test]
    fn parameters_keep_insertion_order_and_compare_as_a_map() {
        let schema = SchemaBuilder::string()
            .parameter("z", "1")
            .parameter("a", "2")
            .parameter("z", "3")
            .build();
        let params = schema.parameters.clone().unwrap_or_default();
        let listed: Vec<(&String, &String)> = params.iter().collect();
        assert_eq!(
            listed,
            vec![
                (&"z".to_owned(), &"3".to_owned()),
                (&"a".to_owned(), &"2".to_owned())
            ]
        );
        assert_eq!(params.get("a").map(String::as_str), Some("2"));
        let reversed: Parameters = [("a", "2"), ("z", "3")]
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        assert_eq!(params, reversed);
        let hash = |p: &Parameters| {
            let mut h = DefaultHasher::new();
            p.hash(&mut h);
            h.finish()
        };
        assert_eq!(hash(&params), hash(&reversed));
        let mut other = reversed.clone();
        other.insert("a".into(), "9".into());
        assert_ne!(params, other);
        assert_eq!(params.len(), 2);
        assert!(!params.is_empty());
    }
}
