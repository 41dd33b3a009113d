//! The keys every connector accepts (Kafka's `ConnectorConfig`, `SourceConnectorConfig`
//! and `SinkConnectorConfig`), merged with each connector's own declaration.

use super::def::{ConfigDef, ConfigKey, ConfigType as T, Importance as I, Validator, Width as W};
use crate::connectors::ConnectorType;

pub const NAME: &str = "name";
pub const CONNECTOR_CLASS: &str = "connector.class";
pub const TASKS_MAX: &str = "tasks.max";
pub const KEY_CONVERTER: &str = "key.converter";
pub const VALUE_CONVERTER: &str = "value.converter";
pub const HEADER_CONVERTER: &str = "header.converter";
pub const TOPICS: &str = "topics";
pub const TOPICS_REGEX: &str = "topics.regex";

const COMMON: &str = "Common";
const TRANSFORMS: &str = "Transforms";
const PREDICATES: &str = "Predicates";
const ERRORS: &str = "Error Handling";

/// The keys common to every connector.
pub fn base_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            ConfigKey::new(NAME, T::String)
                .importance(I::High)
                .doc("Globally unique name to use for this connector.")
                .group(COMMON, 1)
                .width(W::Medium)
                .display("Connector name")
                .validator(Validator::NonEmptyString),
        )
        .define(
            ConfigKey::new(CONNECTOR_CLASS, T::String)
                .importance(I::High)
                .doc(
                    "Name or alias of the class for this connector. Must be a subclass of \
                     org.apache.kafka.connect.connector.Connector. If the connector is \
                     org.apache.kafka.connect.file.FileStreamSinkConnector, you can either \
                     specify this full name,  or use \"FileStreamSink\" or \
                     \"FileStreamSinkConnector\" to make the configuration a bit shorter",
                )
                .group(COMMON, 2)
                .width(W::Long)
                .display("Connector class"),
        )
        .define(
            ConfigKey::new("connector.plugin.version", T::String)
                .default_value(crate::VERSION_COMPAT)
                .importance(I::Medium)
                .doc("Version of the connector.")
                .group(COMMON, 3)
                .width(W::Medium)
                .display("Connector version"),
        )
        .define(
            ConfigKey::new(TASKS_MAX, T::Int)
                .default_value("1")
                .validator(Validator::AtLeast(1))
                .importance(I::High)
                .doc("Maximum number of tasks to use for this connector.")
                .group(COMMON, 4)
                .width(W::Short)
                .display("Tasks max"),
        )
        .define(
            ConfigKey::new("tasks.max.enforce", T::Boolean)
                .default_value("true")
                .importance(I::Low)
                .doc(
                    "(Deprecated) Whether to enforce that the tasks.max property is respected \
                     by the connector.",
                )
                .group(COMMON, 5)
                .width(W::Short)
                .display("Enforce tasks max"),
        )
        .define(
            ConfigKey::new(KEY_CONVERTER, T::Class)
                .default_value("org.apache.kafka.connect.json.JsonConverter")
                .importance(I::Low)
                .doc(
                    "Converter class used to convert between Kafka Connect format and the \
                     serialized form that is written to Kafka. This controls the format of the \
                     keys in messages written to or read from Kafka.",
                )
                .group(COMMON, 6)
                .width(W::Short)
                .display("Key converter class"),
        )
        .define(
            ConfigKey::new("key.converter.plugin.version", T::String)
                .default_value(crate::VERSION_COMPAT)
                .importance(I::Low)
                .doc("Version of the key converter.")
                .group(COMMON, 7)
                .width(W::Short)
                .display("Key converter version"),
        )
        .define(
            ConfigKey::new(VALUE_CONVERTER, T::Class)
                .default_value("org.apache.kafka.connect.json.JsonConverter")
                .importance(I::Low)
                .doc(
                    "Converter class used to convert between Kafka Connect format and the \
                     serialized form that is written to Kafka. This controls the format of the \
                     values in messages written to or read from Kafka.",
                )
                .group(COMMON, 8)
                .width(W::Short)
                .display("Value converter class"),
        )
        .define(
            ConfigKey::new("value.converter.plugin.version", T::String)
                .default_value(crate::VERSION_COMPAT)
                .importance(I::Low)
                .doc("Version of the value converter.")
                .group(COMMON, 9)
                .width(W::Short)
                .display("Value converter version"),
        )
        .define(
            ConfigKey::new(HEADER_CONVERTER, T::Class)
                .default_value("org.apache.kafka.connect.storage.SimpleHeaderConverter")
                .importance(I::Low)
                .doc(
                    "HeaderConverter class used to convert between Kafka Connect format and the \
                     serialized form that is written to Kafka.",
                )
                .group(COMMON, 10)
                .width(W::Short)
                .display("Header converter class"),
        )
        .define(
            ConfigKey::new("header.converter.plugin.version", T::String)
                .default_value(crate::VERSION_COMPAT)
                .importance(I::Low)
                .doc("Version of the header converter.")
                .group(COMMON, 11)
                .width(W::Short)
                .display("Header converter version"),
        )
        .define(
            ConfigKey::new("transforms", T::List)
                .default_value("")
                .importance(I::Low)
                .doc("Aliases for the transformations to be applied to records.")
                .group(TRANSFORMS, 12)
                .width(W::Long)
                .display("Transforms"),
        )
        .define(
            ConfigKey::new("predicates", T::List)
                .default_value("")
                .importance(I::Low)
                .doc("Aliases for the predicates used by transformations.")
                .group(PREDICATES, 13)
                .width(W::Long)
                .display("Predicates"),
        )
        .define(
            ConfigKey::new("config.action.reload", T::String)
                .default_value("restart")
                .validator(Validator::OneOf(&["none", "restart"]))
                .importance(I::Low)
                .doc(
                    "The action that Connect should take on the connector when changes in \
                     external configuration providers result in a change in the connector's \
                     configuration properties.",
                )
                .group(COMMON, 14)
                .width(W::Medium)
                .display("Reload Action"),
        )
        .define(
            ConfigKey::new("errors.retry.timeout", T::Long)
                .default_value("0")
                .importance(I::Medium)
                .doc(
                    "The maximum duration in milliseconds that a failed operation will be \
                     reattempted. The default is 0, which means no retries will be attempted. \
                     Use -1 for infinite retries.",
                )
                .group(ERRORS, 1)
                .width(W::Medium)
                .display("Retry Timeout for Errors"),
        )
        .define(
            ConfigKey::new("errors.retry.delay.max.ms", T::Long)
                .default_value("60000")
                .importance(I::Medium)
                .doc(
                    "The maximum duration in milliseconds between consecutive retry attempts. \
                     Jitter will be added to the delay once this limit is reached to prevent \
                     thundering herd issues.",
                )
                .group(ERRORS, 2)
                .width(W::Medium)
                .display("Maximum Delay Between Retries for Errors"),
        )
        .define(
            ConfigKey::new("errors.tolerance", T::String)
                .default_value("none")
                .validator(Validator::OneOf(&["none", "all"]))
                .importance(I::Medium)
                .doc(
                    "Behavior for tolerating errors during connector operation. 'none' is the \
                     default value and signals that any error will result in an immediate \
                     connector task failure; 'all' changes the behavior to skip over \
                     problematic records.",
                )
                .group(ERRORS, 3)
                .width(W::Short)
                .display("Error Tolerance"),
        )
        .define(
            ConfigKey::new("errors.log.enable", T::Boolean)
                .default_value("false")
                .importance(I::Medium)
                .doc(
                    "If true, write each error and the details of the failed operation and \
                     problematic record to the Connect application log. This is 'false' by \
                     default, so that only errors that are not tolerated are reported.",
                )
                .group(ERRORS, 4)
                .width(W::Short)
                .display("Log Errors"),
        )
        .define(
            ConfigKey::new("errors.log.include.messages", T::Boolean)
                .default_value("false")
                .importance(I::Medium)
                .doc(
                    "Whether to include in the log the Connect record that resulted in a \
                     failure. For sink records, the topic, partition, offset, and timestamp \
                     will be logged. For source records, the key and value (and their schemas), \
                     all headers, and the timestamp, Kafka topic, Kafka partition, source \
                     partition, and source offset will be logged. This is 'false' by default, \
                     which will prevent record keys, values, and headers from being written to \
                     log files.",
                )
                .group(ERRORS, 5)
                .width(W::Short)
                .display("Log Error Details"),
        )
}

/// The keys only sink connectors accept.
pub fn sink_def() -> ConfigDef {
    base_def()
        .define(
            ConfigKey::new(TOPICS, T::List)
                .default_value("")
                .importance(I::High)
                .doc("List of topics to consume, separated by commas")
                .group(COMMON, 4)
                .width(W::Long)
                .display("Topics"),
        )
        .define(
            ConfigKey::new(TOPICS_REGEX, T::String)
                .default_value("")
                .validator(Validator::Regex)
                .importance(I::High)
                .doc(
                    "Regular expression giving topics to consume. Under the hood, the regex is \
                     compiled to a <code>java.util.regex.Pattern</code>. Only one of topics or \
                     topics.regex should be specified.",
                )
                .group(COMMON, 4)
                .width(W::Long)
                .display("Topics regex"),
        )
        .define(
            ConfigKey::new("errors.deadletterqueue.topic.name", T::String)
                .default_value("")
                .importance(I::Medium)
                .doc(
                    "The name of the topic to be used as the dead letter queue (DLQ) for \
                     messages that result in an error when processed by this sink connector, or \
                     its transformations or converters. The topic name is blank by default, \
                     which means that no messages are to be recorded in the DLQ.",
                )
                .group(ERRORS, 6)
                .width(W::Medium)
                .display("Dead Letter Queue Topic Name"),
        )
        .define(
            ConfigKey::new("errors.deadletterqueue.topic.replication.factor", T::Short)
                .default_value("3")
                .importance(I::Medium)
                .doc(
                    "Replication factor used to create the dead letter queue topic when it \
                     doesn't already exist.",
                )
                .group(ERRORS, 7)
                .width(W::Medium)
                .display("Dead Letter Queue Topic Replication Factor"),
        )
        .define(
            ConfigKey::new("errors.deadletterqueue.context.headers.enable", T::Boolean)
                .default_value("false")
                .importance(I::Medium)
                .doc(
                    "If true, add headers containing error context to the messages written to \
                     the dead letter queue. To avoid clashing with headers from the original \
                     record, all error context header keys, all error context header keys will \
                     start with <code>__connect.errors.</code>",
                )
                .group(ERRORS, 8)
                .width(W::Medium)
                .display("Enable Error Context Headers"),
        )
}

/// Checks that span several keys, which a per-key declaration cannot express.
pub fn cross_validate(ty: ConnectorType, infos: &mut super::def::ConfigInfos) {
    if ty != ConnectorType::Sink {
        return;
    }
    let set = |name: &str, infos: &super::def::ConfigInfos| {
        infos.configs.iter().any(|c| {
            c.value.name == name
                && c.value
                    .value
                    .as_deref()
                    .is_some_and(|v| !v.trim().is_empty())
        })
    };
    let (topics, regex) = (set(TOPICS, infos), set(TOPICS_REGEX, infos));
    let msg = match (topics, regex) {
        (false, false) => "Must configure one of topics or topics.regex",
        (true, true) => "topics and topics.regex are mutually exclusive options, but both are set.",
        _ => return,
    };
    for c in infos
        .configs
        .iter_mut()
        .filter(|c| c.value.name == TOPICS || c.value.name == TOPICS_REGEX)
    {
        c.value.errors.push(msg.to_owned());
        infos.error_count += 1;
    }
}

/// The common keys for a connector of this type.
pub fn common_def(ty: ConnectorType) -> ConfigDef {
    match ty {
        ConnectorType::Source => base_def(),
        ConnectorType::Sink => sink_def(),
    }
}
