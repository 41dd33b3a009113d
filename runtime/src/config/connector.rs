//! The keys every connector accepts (Kafka's `ConnectorConfig`, `SourceConnectorConfig`
//! and `SinkConnectorConfig`), merged with each connector's own declaration.

use super::Props;
use super::def::{
    ConfigDef, ConfigInfos, ConfigKey, ConfigType as T, Importance as I, Recommender, Validator,
    Width as W,
};
use super::worker::WorkerConfig;
use crate::connectors::ConnectorType;
use crate::plugins::{Factory, Registry};

pub const NAME: &str = "name";
pub const CONNECTOR_CLASS: &str = "connector.class";
pub const TASKS_MAX: &str = "tasks.max";
pub const KEY_CONVERTER: &str = "key.converter";
pub const VALUE_CONVERTER: &str = "value.converter";
pub const HEADER_CONVERTER: &str = "header.converter";
pub const CONNECTOR_VERSION: &str = "connector.plugin.version";
pub const KEY_CONVERTER_VERSION: &str = "key.converter.plugin.version";
pub const VALUE_CONVERTER_VERSION: &str = "value.converter.plugin.version";
pub const HEADER_CONVERTER_VERSION: &str = "header.converter.plugin.version";
/// The worker's header converter when it names none.
pub const SIMPLE_HEADER_CONVERTER: &str = "org.apache.kafka.connect.storage.SimpleHeaderConverter";
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
                .validator(Validator::NonEmptyStringWithoutControlChars),
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
            ConfigKey::new(CONNECTOR_VERSION, T::String)
                .default_value(crate::VERSION_COMPAT)
                .recommender(Recommender::Dynamic(connector_versions))
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
                     by the connector. By default, connectors that generate too many tasks will \
                     fail, and existing sets of tasks that exceed the tasks.max property will \
                     also be failed. If this property is set to false, then connectors will be \
                     allowed to generate more than the maximum number of tasks, and existing \
                     sets of tasks that exceed the tasks.max property will be allowed to run. \
                     This property is deprecated and will be removed in an upcoming major \
                     release.",
                )
                .group(COMMON, 5)
                .width(W::Short)
                .display("Enforce tasks max"),
        )
        .define(
            ConfigKey::new(KEY_CONVERTER, T::Class)
                .default_null()
                .recommender(Recommender::Dynamic(converter_classes))
                .importance(I::Low)
                .doc(
                    "Converter class used to convert between Kafka Connect format and the \
                     serialized form that is written to Kafka. This controls the format of the \
                     keys in messages written to or read from Kafka, and since this is \
                     independent of connectors it allows any connector to work with any \
                     serialization format. Examples of common formats include JSON and Avro.",
                )
                .group(COMMON, 6)
                .width(W::Short)
                .display("Key converter class"),
        )
        .define(
            ConfigKey::new(KEY_CONVERTER_VERSION, T::String)
                .default_null()
                .recommender(Recommender::Dynamic(key_converter_versions))
                .importance(I::Low)
                .doc("Version of the key converter.")
                .group(COMMON, 7)
                .width(W::Short)
                .display("Key converter version"),
        )
        .define(
            ConfigKey::new(VALUE_CONVERTER, T::Class)
                .default_null()
                .recommender(Recommender::Dynamic(converter_classes))
                .importance(I::Low)
                .doc(
                    "Converter class used to convert between Kafka Connect format and the \
                     serialized form that is written to Kafka. This controls the format of the \
                     values in messages written to or read from Kafka, and since this is \
                     independent of connectors it allows any connector to work with any \
                     serialization format. Examples of common formats include JSON and Avro.",
                )
                .group(COMMON, 8)
                .width(W::Short)
                .display("Value converter class"),
        )
        .define(
            ConfigKey::new(VALUE_CONVERTER_VERSION, T::String)
                .default_null()
                .recommender(Recommender::Dynamic(value_converter_versions))
                .importance(I::Low)
                .doc("Version of the value converter.")
                .group(COMMON, 9)
                .width(W::Short)
                .display("Value converter version"),
        )
        .define(
            ConfigKey::new(HEADER_CONVERTER, T::Class)
                .default_null()
                .recommender(Recommender::Dynamic(header_converter_classes))
                .importance(I::Low)
                .doc(
                    "HeaderConverter class used to convert between Kafka Connect format and the \
                     serialized form that is written to Kafka. This controls the format of the \
                     header values in messages written to or read from Kafka, and since this is \
                     independent of connectors it allows any connector to work with any \
                     serialization format. Examples of common formats include JSON and Avro. By \
                     default, the SimpleHeaderConverter is used to serialize header values to \
                     strings and deserialize them by inferring the schemas.",
                )
                .group(COMMON, 10)
                .width(W::Short)
                .display("Header converter class"),
        )
        .define(
            ConfigKey::new(HEADER_CONVERTER_VERSION, T::String)
                .default_null()
                .recommender(Recommender::Dynamic(header_converter_versions))
                .importance(I::Low)
                .doc("Version of the header converter.")
                .group(COMMON, 11)
                .width(W::Short)
                .display("Header converter version"),
        )
        .define(
            ConfigKey::new("transforms", T::List)
                .default_value("")
                .validator(Validator::Custom(unique_aliases))
                .importance(I::Low)
                .doc("Aliases for the transformations to be applied to records.")
                .group(TRANSFORMS, 12)
                .width(W::Long)
                .display("Transforms"),
        )
        .define(
            ConfigKey::new("predicates", T::List)
                .default_value("")
                .validator(Validator::Custom(unique_aliases))
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
                     configuration properties. A value of 'none' indicates that Connect will do \
                     nothing. A value of 'restart' indicates that Connect should restart/reload \
                     the connector with the updated configuration properties.The restart may \
                     actually be scheduled in the future if the external configuration provider \
                     indicates that a configuration value will expire in the future.",
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

/// Kafka's alias validator for `transforms` and `predicates`: no alias twice.
fn unique_aliases(v: &super::def::Parsed) -> Result<(), String> {
    if let super::def::Parsed::List(items) = v {
        let mut seen = std::collections::HashSet::new();
        if !items.iter().all(|a| seen.insert(a)) {
            return Err("Duplicate alias provided.".into());
        }
    }
    Ok(())
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

/// The version of a converter or header converter class (or alias): Ferry's plugins are
/// built in, so [`Registry::builtin`] is every worker's registry.
fn plugin_version(class: &str) -> Option<&'static str> {
    let class = class.trim();
    if resolve_simple_header_converter(class).is_some() {
        return Some(crate::VERSION_COMPAT);
    }
    Registry::builtin().find(class).map(|p| p.version)
}

/// SimpleHeaderConverter, which Ferry's handling of headers stands for, by any of its names.
fn resolve_simple_header_converter(class: &str) -> Option<&'static str> {
    matches!(
        class,
        SIMPLE_HEADER_CONVERTER | "SimpleHeaderConverter" | "SimpleHeader"
    )
    .then_some(SIMPLE_HEADER_CONVERTER)
}

/// `PluginsRecommenders.connectorPluginVersionRecommender`: the versions of the connector.
fn connector_versions(props: &Props) -> Vec<String> {
    props
        .get(CONNECTOR_CLASS)
        .and_then(|c| Registry::builtin().find(c).map(|p| p.version.to_owned()))
        .into_iter()
        .collect()
}

/// `PluginsRecommenders.converterPluginRecommender`: every converter class, sorted.
fn converter_classes(_: &Props) -> Vec<String> {
    let mut classes: Vec<String> = Registry::builtin()
        .plugins()
        .iter()
        .filter(|p| matches!(p.factory, Factory::Converter(_)))
        .map(|p| p.class.to_owned())
        .collect();
    classes.sort();
    classes
}

/// `PluginsRecommenders.headerConverterPluginRecommender`: every header converter class,
/// sorted. Kafka's converters are header converters too; SimpleHeaderConverter is the one
/// Ferry's handling of headers stands for. Confluent's AvroConverter is no header converter.
fn header_converter_classes(props: &Props) -> Vec<String> {
    let mut classes = converter_classes(props);
    classes.retain(|c| c != "io.confluent.connect.avro.AvroConverter");
    classes.push(SIMPLE_HEADER_CONVERTER.to_owned());
    classes.sort();
    classes
}

/// The versions of the converter the connector names (for the worker's converter, see
/// [`enrich_with_worker`]).
fn converter_versions(props: &Props, key: &str) -> Vec<String> {
    props
        .get(key)
        .and_then(|c| plugin_version(c))
        .map(str::to_owned)
        .into_iter()
        .collect()
}

fn key_converter_versions(props: &Props) -> Vec<String> {
    converter_versions(props, KEY_CONVERTER)
}

fn value_converter_versions(props: &Props) -> Vec<String> {
    converter_versions(props, VALUE_CONVERTER)
}

fn header_converter_versions(props: &Props) -> Vec<String> {
    converter_versions(props, HEADER_CONVERTER)
}

/// What Kafka's `ConnectorConfig.enrichedConfigDef` adds to a validation from the worker's
/// configuration (`GET /connector-plugins/{plugin}/config` shows none of it):
///
/// * the worker's converters are the defaults of `key.converter`, `value.converter` and
///   `header.converter`, and so their values when the connector names none;
/// * the version of the converter in use (the connector's, else the worker's) is the default
///   of the matching `*.converter.plugin.version` key (the worker's
///   `*.converter.plugin.version` when the connector names no converter), its value when
///   unset, and its recommended value.
///
/// Call it on the answer of [`ConfigDef::config_infos`] for a connector's full declaration.
pub fn enrich_with_worker(infos: &mut ConfigInfos, worker: &WorkerConfig) {
    let header = worker
        .originals
        .get(HEADER_CONVERTER)
        .map(|h| h.trim())
        .filter(|h| !h.is_empty())
        .map(|h| {
            resolve_simple_header_converter(h)
                .or_else(|| Registry::builtin().find(h).map(|p| p.class))
                .unwrap_or(h)
                .to_owned()
        })
        .unwrap_or_else(|| SIMPLE_HEADER_CONVERTER.to_owned());
    let converters = [
        (
            KEY_CONVERTER,
            KEY_CONVERTER_VERSION,
            worker.key_converter.clone(),
        ),
        (
            VALUE_CONVERTER,
            VALUE_CONVERTER_VERSION,
            worker.value_converter.clone(),
        ),
        (HEADER_CONVERTER, HEADER_CONVERTER_VERSION, header),
    ];
    for (class_key, version_key, worker_class) in converters {
        let Some(class) = infos.configs.iter_mut().find(|c| c.value.name == class_key) else {
            continue;
        };
        // The connector's own converter, when it names one, by its class name (Kafka shows
        // the loaded class, whatever alias named it).
        let own = class.value.value.clone().map(|c| {
            let header = class_key == HEADER_CONVERTER;
            header
                .then(|| resolve_simple_header_converter(&c))
                .flatten()
                .or_else(|| {
                    Registry::builtin()
                        .find(&c)
                        .filter(|p| matches!(p.factory, Factory::Converter(_)))
                        .map(|p| p.class)
                })
                .map_or(c, str::to_owned)
        });
        if own.is_some() {
            class.value.value.clone_from(&own);
        }
        let worker_class = (!worker_class.trim().is_empty()).then_some(worker_class);
        class.definition.default_value = worker_class.clone();
        if own.is_none() && class.value.errors.is_empty() {
            class.value.value = worker_class.clone();
        }
        let version = match &own {
            Some(c) => plugin_version(c).map(str::to_owned),
            None => worker
                .originals
                .get(version_key)
                .map(|v| v.trim().to_owned())
                .or_else(|| {
                    worker_class
                        .as_deref()
                        .and_then(plugin_version)
                        .map(str::to_owned)
                }),
        };
        let Some(v) = infos
            .configs
            .iter_mut()
            .find(|c| c.value.name == version_key)
        else {
            continue;
        };
        v.definition.default_value = version.clone();
        if v.value.value.is_none() && v.value.errors.is_empty() {
            v.value.value = version.clone();
        }
        if v.value.recommended_values.is_empty() {
            let class = own.or(worker_class);
            v.value.recommended_values = class
                .as_deref()
                .and_then(plugin_version)
                .map(str::to_owned)
                .into_iter()
                .collect();
        }
    }
}

/// Checks that span several keys, which a per-key declaration cannot express.
pub fn cross_validate(ty: ConnectorType, infos: &mut ConfigInfos) {
    if ty != ConnectorType::Sink {
        return;
    }
    let set = |name: &str, infos: &ConfigInfos| {
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    use crate::config::props;

    fn worker(extra: &[(&str, &str)]) -> WorkerConfig {
        let mut p = props(&[(super::super::worker::OFFSET_FILE, "/tmp/offsets")]);
        p.extend(props(extra));
        WorkerConfig::standalone(&p).unwrap()
    }

    fn validate(config: &[(&str, &str)], w: &WorkerConfig) -> ConfigInfos {
        let mut infos = sink_def().config_infos("S", &props(config));
        enrich_with_worker(&mut infos, w);
        infos
    }

    /// (default, value, recommended values) of a key.
    fn shown(infos: &ConfigInfos, key: &str) -> (Option<String>, Option<String>, Vec<String>) {
        let c = infos.configs.iter().find(|c| c.value.name == key).unwrap();
        (
            c.definition.default_value.clone(),
            c.value.value.clone(),
            c.value.recommended_values.clone(),
        )
    }

    const JSON: &str = "org.apache.kafka.connect.json.JsonConverter";
    const STRING: &str = "org.apache.kafka.connect.storage.StringConverter";
    const BYTES: &str = "org.apache.kafka.connect.converters.ByteArrayConverter";

    #[test]
    fn the_declaration_leaves_converters_to_the_worker() {
        let keys = base_def().describe();
        let default = |name: &str| {
            keys.iter()
                .find(|k| k.name == name)
                .unwrap()
                .default_value
                .clone()
        };
        assert_eq!(
            default(CONNECTOR_VERSION).as_deref(),
            Some(crate::VERSION_COMPAT)
        );
        for key in [
            KEY_CONVERTER,
            VALUE_CONVERTER,
            HEADER_CONVERTER,
            KEY_CONVERTER_VERSION,
            VALUE_CONVERTER_VERSION,
            HEADER_CONVERTER_VERSION,
        ] {
            assert_eq!(default(key), None, "{key}");
        }
    }

    #[test]
    fn validation_shows_the_workers_converters() {
        let config = [
            (CONNECTOR_CLASS, "FileStreamSink"),
            (NAME, "n"),
            (TOPICS, "t"),
        ];
        let infos = validate(&config, &worker(&[]));
        let v = || Some(crate::VERSION_COMPAT.to_owned());
        let versions = || vec![crate::VERSION_COMPAT.to_owned()];
        let converters: Vec<String> = [
            "io.confluent.connect.avro.AvroConverter",
            BYTES,
            JSON,
            STRING,
        ]
        .map(str::to_owned)
        .to_vec();
        assert_eq!(
            shown(&infos, KEY_CONVERTER),
            (Some(JSON.into()), Some(JSON.into()), converters.clone())
        );
        assert_eq!(
            shown(&infos, VALUE_CONVERTER),
            (Some(JSON.into()), Some(JSON.into()), converters.clone())
        );
        let headers: Vec<String> = [BYTES, JSON, SIMPLE_HEADER_CONVERTER, STRING]
            .map(str::to_owned)
            .to_vec();
        assert_eq!(
            shown(&infos, HEADER_CONVERTER),
            (
                Some(SIMPLE_HEADER_CONVERTER.into()),
                Some(SIMPLE_HEADER_CONVERTER.into()),
                headers
            )
        );
        for key in [
            CONNECTOR_VERSION,
            KEY_CONVERTER_VERSION,
            VALUE_CONVERTER_VERSION,
            HEADER_CONVERTER_VERSION,
        ] {
            assert_eq!(shown(&infos, key), (v(), v(), versions()), "{key}");
        }
        // Kafka's ValidStrings recommend nothing.
        assert!(shown(&infos, "errors.tolerance").2.is_empty());
        assert_eq!(infos.error_count, 0);
    }

    #[test]
    fn the_connectors_own_converter_wins_and_is_shown_by_class_name() {
        let config = [
            (CONNECTOR_CLASS, "FileStreamSink"),
            (NAME, "n"),
            (TOPICS, "t"),
            (VALUE_CONVERTER, "StringConverter"),
            (HEADER_CONVERTER, "SimpleHeaderConverter"),
        ];
        let w = worker(&[(KEY_CONVERTER, STRING), (VALUE_CONVERTER, BYTES)]);
        let infos = validate(&config, &w);
        assert_eq!(shown(&infos, KEY_CONVERTER).0.as_deref(), Some(STRING));
        assert_eq!(shown(&infos, KEY_CONVERTER).1.as_deref(), Some(STRING));
        // The default stays the worker's; the value is the connector's.
        assert_eq!(shown(&infos, VALUE_CONVERTER).0.as_deref(), Some(BYTES));
        assert_eq!(shown(&infos, VALUE_CONVERTER).1.as_deref(), Some(STRING));
        assert_eq!(
            shown(&infos, HEADER_CONVERTER).1.as_deref(),
            Some(SIMPLE_HEADER_CONVERTER)
        );
        assert_eq!(
            shown(&infos, VALUE_CONVERTER_VERSION).2,
            vec![crate::VERSION_COMPAT.to_owned()]
        );
    }

    #[test]
    fn the_workers_converter_version_is_the_default() {
        let w = worker(&[(KEY_CONVERTER_VERSION, "3.9.0")]);
        let infos = validate(&[(CONNECTOR_CLASS, "FileStreamSink")], &w);
        let (default, value, recommended) = shown(&infos, KEY_CONVERTER_VERSION);
        assert_eq!(default.as_deref(), Some("3.9.0"));
        assert_eq!(value.as_deref(), Some("3.9.0"));
        assert_eq!(recommended, vec![crate::VERSION_COMPAT.to_owned()]);
    }

    /// Converter classes Kafka Connect 4.3.1 ships that Ferry does not have yet.
    const MISSING_CONVERTERS: &[&str] = &[
        "org.apache.kafka.connect.converters.BooleanConverter",
        "org.apache.kafka.connect.converters.DoubleConverter",
        "org.apache.kafka.connect.converters.FloatConverter",
        "org.apache.kafka.connect.converters.IntegerConverter",
        "org.apache.kafka.connect.converters.LongConverter",
        "org.apache.kafka.connect.converters.ShortConverter",
    ];

    /// FileStreamSink's keys equal the ones Kafka Connect lists, field by field.
    #[test]
    fn plugin_config_is_kafkas() {
        let registry = Registry::builtin();
        let plugin = registry.find("FileStreamSink").unwrap();
        let own = (plugin.config_def)();
        let keys = own.merge(&common_def(ConnectorType::Sink)).describe();
        let kafka = crate::rest::tests::reference("get_connector_plugin_config.json");
        assert_eq!(serde_json::to_value(keys).unwrap(), kafka["body"]);
    }

    /// A validation, enriched with the default worker's converters, equals Kafka's answer
    /// field by field, but for the converters Ferry lacks.
    #[test]
    fn validation_is_kafkas() {
        let w = worker(&[]);
        for file in [
            "put_connector_plugin_validate_valid_200.json",
            "put_connector_plugin_validate_invalid_200.json",
        ] {
            let kafka = crate::rest::tests::reference(file);
            let config: Props = serde_json::from_value(kafka["request"]["body"].clone()).unwrap();
            let registry = Registry::builtin();
            let (plugin, factory) = registry.connector(&config[CONNECTOR_CLASS]).unwrap();
            let def = registry.connector_config_def(plugin);
            let mut infos = def.config_infos(plugin.class, &config);
            cross_validate(factory.connector_type(), &mut infos);
            enrich_with_worker(&mut infos, &w);
            let mut ours = serde_json::to_value(&infos).unwrap();
            for c in ours["configs"].as_array_mut().unwrap() {
                let name = c["value"]["name"].as_str().unwrap().to_owned();
                if [KEY_CONVERTER, VALUE_CONVERTER, HEADER_CONVERTER].contains(&name.as_str()) {
                    let kafka_list = kafka["body"]["configs"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .find(|k| k["value"]["name"] == name.as_str())
                        .unwrap()["value"]["recommended_values"]
                        .clone();
                    let without_missing: Vec<&serde_json::Value> = kafka_list
                        .as_array()
                        .unwrap()
                        .iter()
                        .filter(|v| !MISSING_CONVERTERS.contains(&v.as_str().unwrap()))
                        .collect();
                    // The reference worker ships no Confluent converters; Ferry does.
                    let ours_kafka: Vec<&serde_json::Value> = c["value"]["recommended_values"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .filter(|v| !v.as_str().unwrap().starts_with("io.confluent."))
                        .collect();
                    assert_eq!(
                        serde_json::to_value(without_missing).unwrap(),
                        serde_json::to_value(ours_kafka).unwrap(),
                        "{file}: {name}"
                    );
                    c["value"]["recommended_values"] = kafka_list;
                }
            }
            assert_eq!(ours, kafka["body"], "{file}");
        }
    }
}
