//! `RecordIsTombstone`: true when the record's value is null.

use crate::config::{ConfigDef, ParsedConfig};
use crate::data::ConnectRecord;
use crate::errors::Result;
use crate::plugins::Plugin;
use crate::transforms::Predicate;

pub const CLASS: &str = "org.apache.kafka.connect.transforms.predicates.RecordIsTombstone";

pub struct RecordIsTombstone;

impl RecordIsTombstone {
    pub fn new(_: &ParsedConfig) -> Result<Self> {
        Ok(RecordIsTombstone)
    }
}

impl Predicate for RecordIsTombstone {
    fn test(&self, record: &ConnectRecord) -> bool {
        record.value.value.is_null()
    }
}

pub fn plugin() -> Plugin {
    crate::transforms::plugins::predicate(
        CLASS,
        |c| Ok(Box::new(RecordIsTombstone::new(c)?)),
        ConfigDef::new,
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::data::Value;

    #[test]
    fn null_value_is_a_tombstone() {
        let p = RecordIsTombstone;
        let mut r = ConnectRecord::default();
        assert!(p.test(&r));
        r.value.value = Value::from("x");
        assert!(!p.test(&r));
        // A null key does not matter.
        r.key.value = Value::Null;
        assert!(!p.test(&r));
    }
}
