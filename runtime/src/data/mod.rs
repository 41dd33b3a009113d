//! The Connect data model shared by every connector, converter and transform:
//! schemas, values, and the records that carry them.

mod record;
mod schema;
mod value;

pub use record::{ConnectRecord, Header, SinkRecord, SourceRecord, TimestampType};
pub use schema::{Field, Parameters, Schema, SchemaBuilder, SchemaRef, SchemaType, logical};
pub use value::{SchemaAndValue, Struct, Value};
