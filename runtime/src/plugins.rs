//! The plugin registry: class names and aliases → constructors and config declarations.
//!
//! A class resolves exactly as in Kafka Connect: by its full name, its simple name, or
//! (for connectors and converters) its simple name without the `Connector`/`Converter`
//! suffix. Adding a plugin is one line in [`Registry::builtin`].

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::config::{ConfigDef, Props};
use crate::connectors::{
    Connector, ConnectorType, SinkTask, SourceTask, elasticsearch, file, jdbc,
};
use crate::converters::{
    ByteArrayConverter, Converter, ConverterConfig, JsonConverter, StringConverter,
};
use crate::errors::{ConnectError, Result};

/// What role a plugin plays, as the REST API names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PluginType {
    Source,
    Sink,
    Converter,
    HeaderConverter,
    Transformation,
    Predicate,
}

/// A connector plugin's constructors.
#[derive(Clone, Copy)]
pub enum ConnectorFactory {
    Source {
        connector: fn() -> Box<dyn Connector>,
        task: fn() -> Box<dyn SourceTask>,
    },
    Sink {
        connector: fn() -> Box<dyn Connector>,
        task: fn() -> Box<dyn SinkTask>,
    },
}

impl ConnectorFactory {
    pub fn connector_type(&self) -> ConnectorType {
        match self {
            ConnectorFactory::Source { .. } => ConnectorType::Source,
            ConnectorFactory::Sink { .. } => ConnectorType::Sink,
        }
    }
    pub fn new_connector(&self) -> Box<dyn Connector> {
        match self {
            ConnectorFactory::Source { connector, .. }
            | ConnectorFactory::Sink { connector, .. } => connector(),
        }
    }
}

/// Builds a configured converter: settings (prefix stripped) and whether it is for keys.
pub type ConverterFactory = fn(&ConverterConfig, bool) -> Result<Arc<dyn Converter>>;

/// What a plugin builds.
#[derive(Clone, Copy)]
pub enum Factory {
    Connector(ConnectorFactory),
    Converter(ConverterFactory),
    Transformation(crate::transforms::TransformFactory),
    Predicate(crate::transforms::PredicateFactory),
}

/// One registered plugin.
#[derive(Clone)]
pub struct Plugin {
    /// The Kafka Connect class name (`org.apache.kafka.connect.file.FileStreamSinkConnector`).
    pub class: &'static str,
    pub version: &'static str,
    pub factory: Factory,
    /// The plugin's own keys (without the common connector keys).
    pub config_def: fn() -> ConfigDef,
}

impl Plugin {
    pub fn plugin_type(&self) -> PluginType {
        match &self.factory {
            Factory::Connector(c) => match c.connector_type() {
                ConnectorType::Source => PluginType::Source,
                ConnectorType::Sink => PluginType::Sink,
            },
            Factory::Converter(_) => PluginType::Converter,
            Factory::Transformation(_) => PluginType::Transformation,
            Factory::Predicate(_) => PluginType::Predicate,
        }
    }

    /// The simple class name (after the last `.` or `$`).
    pub fn simple_name(&self) -> &'static str {
        simple_name(self.class)
    }

    /// Every name this plugin may answer to; [`Registry::find`] uses an alias only when no
    /// other plugin claims it (Kafka's `PluginUtils.computeAliases`), so `Value` of the many
    /// `$Value` transforms names none of them.
    pub fn aliases(&self) -> Vec<&'static str> {
        let simple = self.simple_name();
        let mut names = vec![self.class, simple];
        for suffix in ["Connector", "Converter"] {
            if let Some(short) = simple.strip_suffix(suffix)
                && !short.is_empty()
            {
                names.push(short);
            }
        }
        names
    }
}

fn simple_name(class: &str) -> &str {
    class.rsplit(['.', '$']).next().unwrap_or(class)
}

/// All plugins known to this build.
#[derive(Clone)]
pub struct Registry {
    plugins: Vec<Plugin>,
}

fn json_converter(c: &ConverterConfig, is_key: bool) -> Result<Arc<dyn Converter>> {
    Ok(Arc::new(JsonConverter::new(c, is_key)?))
}
fn string_converter(c: &ConverterConfig, is_key: bool) -> Result<Arc<dyn Converter>> {
    Ok(Arc::new(StringConverter::new(c, is_key)?))
}
fn bytearray_converter(_: &ConverterConfig, _: bool) -> Result<Arc<dyn Converter>> {
    Ok(Arc::new(ByteArrayConverter))
}

impl Registry {
    /// The plugins Ferry ships.
    pub fn builtin() -> Self {
        const KAFKA: &str = crate::VERSION_COMPAT;
        Registry {
            plugins: vec![
                file::source_plugin(),
                file::sink_plugin(),
                crate::converters::avro::plugin(),
                elasticsearch::plugin(),
                jdbc::source_plugin(),
            ]
            .into_iter()
            .chain(crate::transforms::plugins::all())
            .chain([
                Plugin {
                    class: "org.apache.kafka.connect.json.JsonConverter",
                    version: KAFKA,
                    factory: Factory::Converter(json_converter),
                    config_def: crate::converters::json_config_def,
                },
                Plugin {
                    class: "org.apache.kafka.connect.storage.StringConverter",
                    version: KAFKA,
                    factory: Factory::Converter(string_converter),
                    config_def: crate::converters::string_config_def,
                },
                Plugin {
                    class: "org.apache.kafka.connect.converters.ByteArrayConverter",
                    version: KAFKA,
                    factory: Factory::Converter(bytearray_converter),
                    config_def: ConfigDef::new,
                },
            ])
            .collect(),
        }
    }

    pub fn plugins(&self) -> &[Plugin] {
        &self.plugins
    }

    /// Finds a plugin by class name or alias.
    pub fn find(&self, name: &str) -> Option<&Plugin> {
        let name = name.trim();
        if let Some(p) = self.plugins.iter().find(|p| p.class == name) {
            return Some(p);
        }
        let mut claimed = self.plugins.iter().filter(|p| p.aliases().contains(&name));
        match (claimed.next(), claimed.next()) {
            (Some(p), None) => Some(p),
            _ => None,
        }
    }

    /// Finds a connector plugin, or says which ones exist.
    pub fn connector(&self, class: &str) -> Result<(&Plugin, ConnectorFactory)> {
        match self.find(class) {
            Some(
                p @ Plugin {
                    factory: Factory::Connector(f),
                    ..
                },
            ) => Ok((p, *f)),
            _ => Err(ConnectError::config(format!(
                "Failed to find any class that implements Connector and which name matches {class}, available connectors are: {}",
                self.names_of(|p| matches!(p.factory, Factory::Connector(_)))
            ))),
        }
    }

    /// Builds a converter from its class name and settings.
    pub fn converter(
        &self,
        class: &str,
        config: &ConverterConfig,
        is_key: bool,
    ) -> Result<Arc<dyn Converter>> {
        match self.find(class) {
            Some(Plugin {
                factory: Factory::Converter(f),
                ..
            }) => f(config, is_key),
            _ => Err(ConnectError::config(format!(
                "Failed to find any class that implements Converter and which name matches {class}, available converters are: {}",
                self.names_of(|p| matches!(p.factory, Factory::Converter(_)))
            ))),
        }
    }

    fn names_of(&self, pred: impl Fn(&Plugin) -> bool) -> String {
        self.plugins
            .iter()
            .filter(|p| pred(p))
            .map(|p| p.class)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The full declaration for a connector: common keys plus the connector's own.
    pub fn connector_config_def(&self, plugin: &Plugin) -> ConfigDef {
        match &plugin.factory {
            Factory::Connector(f) => crate::config::connector::common_def(f.connector_type())
                .merge(&(plugin.config_def)()),
            _ => (plugin.config_def)(),
        }
    }
}

/// Whether a key of a connector's config holds a secret, by its declaration or its name.
pub fn is_secret_key(def: &ConfigDef, key: &str) -> bool {
    def.is_password(key) || {
        let k = key.to_ascii_lowercase();
        k.ends_with("password") || k.ends_with(".secret") || k.contains("basic.auth.user.info")
    }
}

/// A copy of `props` with secret values replaced by `[hidden]`.
pub fn redact(def: &ConfigDef, props: &Props) -> Props {
    props
        .iter()
        .map(|(k, v)| {
            let v = if is_secret_key(def, k) {
                crate::config::def::HIDDEN.to_owned()
            } else {
                v.clone()
            };
            (k.clone(), v)
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn resolves_classes_like_kafka_connect() {
        let r = Registry::builtin();
        for name in [
            "org.apache.kafka.connect.file.FileStreamSinkConnector",
            "FileStreamSinkConnector",
            "FileStreamSink",
        ] {
            let (p, f) = r.connector(name).unwrap();
            assert_eq!(
                p.class,
                "org.apache.kafka.connect.file.FileStreamSinkConnector"
            );
            assert_eq!(f.connector_type(), ConnectorType::Sink);
        }
        for name in [
            "org.apache.kafka.connect.json.JsonConverter",
            "JsonConverter",
            "Json",
        ] {
            assert_eq!(
                r.find(name).unwrap().class,
                "org.apache.kafka.connect.json.JsonConverter"
            );
        }
        assert!(
            r.converter("StringConverter", &ConverterConfig::new(), false)
                .is_ok()
        );
    }

    #[test]
    fn unknown_class_lists_the_known_ones() {
        let r = Registry::builtin();
        let err = r.connector("com.example.Nope").err().unwrap().to_string();
        assert!(err.contains("which name matches com.example.Nope"), "{err}");
        assert!(
            err.contains("org.apache.kafka.connect.file.FileStreamSourceConnector"),
            "{err}"
        );
        assert!(
            err.contains("org.apache.kafka.connect.file.FileStreamSinkConnector"),
            "{err}"
        );
        // a converter is not a connector
        assert!(r.connector("JsonConverter").is_err());
    }
}
