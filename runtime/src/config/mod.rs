//! Configuration: the Java-properties reader, connector config files, typed
//! config declarations ([`def::ConfigDef`]) and the worker's own configuration.

pub mod connector;
pub mod def;
pub mod files;
pub mod properties;
pub mod providers;
pub mod worker;

pub use def::{ConfigDef, ConfigKey, ConfigType, Importance, ParsedConfig, Validator, Width};

/// Raw string settings, as read from a properties file or a REST body.
pub type Props = std::collections::BTreeMap<String, String>;

/// Settings from `(key, value)` pairs, for tests.
#[cfg(test)]
pub(crate) fn props(pairs: &[(&str, &str)]) -> Props {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}
