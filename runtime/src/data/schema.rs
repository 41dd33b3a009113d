//! Connect schemas: the types of Kafka Connect's `org.apache.kafka.connect.data.Schema`.

use std::collections::BTreeMap;
use std::fmt;
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

/// A Connect schema. Build one with [`SchemaBuilder`] or the constructors below.
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    pub ty: SchemaType,
    pub optional: bool,
    pub default: Option<Value>,
    pub name: Option<String>,
    pub version: Option<i32>,
    pub doc: Option<String>,
    pub parameters: Option<BTreeMap<String, String>>,
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
            .get_or_insert_with(BTreeMap::new)
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
