//! The FileStream connectors' keys, as Kafka declares them.

use crate::config::{ConfigDef, ConfigKey, ConfigType, Importance, Validator};

pub const FILE: &str = "file";
pub const TOPIC: &str = "topic";
pub const BATCH_SIZE: &str = "batch.size";
pub const DEFAULT_BATCH_SIZE: i64 = 2000;

pub fn source_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            ConfigKey::new(FILE, ConfigType::String)
                .default_null()
                .importance(Importance::High)
                .doc("Source filename. If not specified, the standard input will be used"),
        )
        .define(
            ConfigKey::new(TOPIC, ConfigType::String)
                .validator(Validator::NonEmptyString)
                .importance(Importance::High)
                .doc("The topic to publish data to"),
        )
        .define(
            ConfigKey::new(BATCH_SIZE, ConfigType::Int)
                .default_value(DEFAULT_BATCH_SIZE.to_string())
                .validator(Validator::AtLeast(1))
                .importance(Importance::Low)
                .doc(
                    "The maximum number of records the source task can read from the file each \
                     time it is polled",
                ),
        )
}

pub fn sink_def() -> ConfigDef {
    ConfigDef::new().define(
        ConfigKey::new(FILE, ConfigType::String)
            .default_null()
            .importance(Importance::High)
            .doc("Destination filename. If not specified, the standard output will be used"),
    )
}
