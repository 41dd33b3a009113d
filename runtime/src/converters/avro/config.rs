//! The AvroConverter's keys, as Confluent's `AvroConverterConfig` declares them (after the
//! `key.converter.` / `value.converter.` prefix is stripped).

use crate::config::def::{Parsed, Recommender};
use crate::config::{ConfigDef, ConfigKey, ConfigType, Importance, Validator};
use crate::errors::{ConnectError, Result};

use super::super::ConverterConfig;

pub const SCHEMA_REGISTRY_URL: &str = "schema.registry.url";
pub const BASIC_AUTH_CREDENTIALS_SOURCE: &str = "basic.auth.credentials.source";
pub const BASIC_AUTH_USER_INFO: &str = "basic.auth.user.info";
pub const AUTO_REGISTER_SCHEMAS: &str = "auto.register.schemas";
pub const USE_LATEST_VERSION: &str = "use.latest.version";
pub const KEY_SUBJECT_NAME_STRATEGY: &str = "key.subject.name.strategy";
pub const VALUE_SUBJECT_NAME_STRATEGY: &str = "value.subject.name.strategy";
pub const SCHEMAS_CACHE_SIZE: &str = "schemas.cache.size";
pub const CONNECT_META_DATA: &str = "connect.meta.data";
pub const MAX_SCHEMAS_PER_SUBJECT: &str = "max.schemas.per.subject";

const TOPIC_NAME_STRATEGY: &str = "io.confluent.kafka.serializers.subject.TopicNameStrategy";
const RECORD_NAME_STRATEGY: &str = "io.confluent.kafka.serializers.subject.RecordNameStrategy";
const TOPIC_RECORD_NAME_STRATEGY: &str =
    "io.confluent.kafka.serializers.subject.TopicRecordNameStrategy";
const STRATEGIES: &[&str] = &[
    TOPIC_NAME_STRATEGY,
    RECORD_NAME_STRATEGY,
    TOPIC_RECORD_NAME_STRATEGY,
];
const CREDENTIALS_SOURCES: &[&str] = &["URL", "USER_INFO"];

/// How the subject a schema is registered under is named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjectNameStrategy {
    /// `<topic>-key` / `<topic>-value` (Confluent's default).
    Topic,
    /// The record's full name.
    Record,
    /// `<topic>-<record full name>`.
    TopicRecord,
}

impl SubjectNameStrategy {
    fn from_class(class: &str) -> Option<Self> {
        // Confluent resolves the class by its full name; the simple name is accepted too.
        let simple = class.rsplit('.').next().unwrap_or(class);
        match simple {
            "TopicNameStrategy" => Some(Self::Topic),
            "RecordNameStrategy" => Some(Self::Record),
            "TopicRecordNameStrategy" => Some(Self::TopicRecord),
            _ => None,
        }
    }

    /// The subject for a schema named `record_name` (the Avro full name, or the type name
    /// of an unnamed schema) on `topic`.
    pub fn subject(self, topic: &str, is_key: bool, record_name: &str) -> String {
        match self {
            Self::Topic => format!("{topic}-{}", if is_key { "key" } else { "value" }),
            Self::Record => record_name.to_owned(),
            Self::TopicRecord => format!("{topic}-{record_name}"),
        }
    }
}

/// Where basic-auth credentials for the registry come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialsSource {
    /// The user info of each registry URL (`http://user:pass@host`).
    Url,
    /// `basic.auth.user.info` (`user:password`).
    UserInfo,
}

/// The parsed settings of one AvroConverter.
#[derive(Clone)]
pub struct AvroConfig {
    pub urls: Vec<String>,
    pub credentials_source: CredentialsSource,
    /// `user:password`, for [`CredentialsSource::UserInfo`].
    pub user_info: Option<String>,
    pub auto_register: bool,
    pub use_latest_version: bool,
    pub subject_strategy: SubjectNameStrategy,
    pub cache_size: usize,
    pub connect_meta_data: bool,
}

impl std::fmt::Debug for AvroConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AvroConfig")
            .field("urls", &self.urls)
            .field("credentials_source", &self.credentials_source)
            .field("user_info", &self.user_info.as_ref().map(|_| "[hidden]"))
            .field("auto_register", &self.auto_register)
            .field("use_latest_version", &self.use_latest_version)
            .field("subject_strategy", &self.subject_strategy)
            .field("cache_size", &self.cache_size)
            .field("connect_meta_data", &self.connect_meta_data)
            .finish()
    }
}

fn strategy_key(name: &'static str, doc: &'static str) -> ConfigKey {
    ConfigKey::new(name, ConfigType::Class)
        .default_value(TOPIC_NAME_STRATEGY)
        .importance(Importance::Medium)
        .validator(Validator::Custom(|v| match v {
            Parsed::Str(s) if SubjectNameStrategy::from_class(s).is_none() => Err(format!(
                "Invalid value {s}: must be one of {}",
                STRATEGIES.join(", ")
            )),
            _ => Ok(()),
        }))
        .recommender(Recommender::Values(STRATEGIES))
        .doc(doc)
}

/// The declaration behind `/connector-plugins/AvroConverter/config` and validation.
pub fn def() -> ConfigDef {
    ConfigDef::new()
        .define(
            ConfigKey::new(SCHEMA_REGISTRY_URL, ConfigType::List)
                .importance(Importance::High)
                .doc(
                    "Comma-separated list of URLs for Schema Registry instances that can be used \
                     to register or look up schemas.",
                ),
        )
        .define(
            ConfigKey::new(BASIC_AUTH_CREDENTIALS_SOURCE, ConfigType::String)
                .default_value("URL")
                .importance(Importance::Medium)
                .validator(Validator::OneOf(CREDENTIALS_SOURCES))
                .recommender(Recommender::Values(CREDENTIALS_SOURCES))
                .doc(
                    "Specify how to pick the credentials for the Basic authentication header: URL \
                     (the user info of the registry URL) or USER_INFO (basic.auth.user.info).",
                ),
        )
        .define(
            ConfigKey::new(BASIC_AUTH_USER_INFO, ConfigType::Password)
                .default_value("")
                .importance(Importance::Medium)
                .doc("Specify the user info for Basic Auth in the form of {username}:{password}"),
        )
        .define(
            ConfigKey::new(AUTO_REGISTER_SCHEMAS, ConfigType::Boolean)
                .default_value("true")
                .importance(Importance::Medium)
                .doc("Specify if the Serializer should attempt to register the Schema with Schema Registry"),
        )
        .define(
            ConfigKey::new(USE_LATEST_VERSION, ConfigType::Boolean)
                .default_value("false")
                .importance(Importance::Low)
                .doc(
                    "Specify if the Serializer should use the latest subject version for \
                     serialization",
                ),
        )
        .define(strategy_key(
            KEY_SUBJECT_NAME_STRATEGY,
            "Determines how to construct the subject name under which the key schema is \
             registered with the schema registry.",
        ))
        .define(strategy_key(
            VALUE_SUBJECT_NAME_STRATEGY,
            "Determines how to construct the subject name under which the value schema is \
             registered with the schema registry.",
        ))
        .define(
            ConfigKey::new(SCHEMAS_CACHE_SIZE, ConfigType::Int)
                .default_value("1000")
                .validator(Validator::AtLeast(0))
                .importance(Importance::Low)
                .doc("Size of the converted schemas cache"),
        )
        .define(
            ConfigKey::new(MAX_SCHEMAS_PER_SUBJECT, ConfigType::Int)
                .default_value("1000")
                .importance(Importance::Low)
                .doc("Maximum number of schemas to create or cache locally."),
        )
        .define(
            ConfigKey::new(CONNECT_META_DATA, ConfigType::Boolean)
                .default_value("true")
                .importance(Importance::Low)
                .doc(
                    "Toggle for enabling/disabling connect converter to add its meta data to the \
                     output schema or not",
                ),
        )
}

impl AvroConfig {
    /// Parses and validates the converter's settings.
    pub fn parse(config: &ConverterConfig, is_key: bool) -> Result<Self> {
        let parsed = def().parse(config)?;
        let urls: Vec<String> = parsed
            .list(SCHEMA_REGISTRY_URL)?
            .into_iter()
            .filter(|u| !u.is_empty())
            .collect();
        if urls.is_empty() {
            return Err(ConnectError::config(format!(
                "Missing required configuration \"{SCHEMA_REGISTRY_URL}\" which has no default value."
            )));
        }
        for u in &urls {
            let ok = reqwest::Url::parse(u)
                .map(|p| matches!(p.scheme(), "http" | "https") && p.has_host())
                .unwrap_or(false);
            if !ok {
                return Err(ConnectError::config(format!(
                    "Invalid value {u} for configuration {SCHEMA_REGISTRY_URL}: not an http(s) URL"
                )));
            }
        }
        let credentials_source = match parsed.string(BASIC_AUTH_CREDENTIALS_SOURCE)? {
            Some("USER_INFO") => CredentialsSource::UserInfo,
            _ => CredentialsSource::Url,
        };
        let user_info = parsed
            .string(BASIC_AUTH_USER_INFO)?
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        if credentials_source == CredentialsSource::UserInfo && user_info.is_none() {
            return Err(ConnectError::config(format!(
                "{BASIC_AUTH_CREDENTIALS_SOURCE}=USER_INFO needs {BASIC_AUTH_USER_INFO} (user:password)"
            )));
        }
        let strategy_name = if is_key {
            KEY_SUBJECT_NAME_STRATEGY
        } else {
            VALUE_SUBJECT_NAME_STRATEGY
        };
        let class = parsed.string(strategy_name)?.unwrap_or(TOPIC_NAME_STRATEGY);
        let subject_strategy = SubjectNameStrategy::from_class(class).ok_or_else(|| {
            ConnectError::config(format!(
                "Invalid value {class} for configuration {strategy_name}: must be one of {}",
                STRATEGIES.join(", ")
            ))
        })?;
        Ok(AvroConfig {
            urls,
            credentials_source,
            user_info,
            auto_register: parsed.bool(AUTO_REGISTER_SCHEMAS)?,
            use_latest_version: parsed.bool(USE_LATEST_VERSION)?,
            subject_strategy,
            cache_size: usize::try_from(parsed.int(SCHEMAS_CACHE_SIZE)?).unwrap_or(0),
            connect_meta_data: parsed.bool(CONNECT_META_DATA)?,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn cfg(pairs: &[(&str, &str)]) -> ConverterConfig {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn parses_confluent_keys() {
        let c = AvroConfig::parse(
            &cfg(&[
                (SCHEMA_REGISTRY_URL, "http://a:1, http://b:2"),
                (BASIC_AUTH_CREDENTIALS_SOURCE, "USER_INFO"),
                (BASIC_AUTH_USER_INFO, "u:p"),
                (AUTO_REGISTER_SCHEMAS, "false"),
                (
                    VALUE_SUBJECT_NAME_STRATEGY,
                    "io.confluent.kafka.serializers.subject.RecordNameStrategy",
                ),
            ]),
            false,
        )
        .unwrap();
        assert_eq!(c.urls, vec!["http://a:1", "http://b:2"]);
        assert_eq!(c.credentials_source, CredentialsSource::UserInfo);
        assert_eq!(c.user_info.as_deref(), Some("u:p"));
        assert!(!c.auto_register);
        assert_eq!(c.subject_strategy, SubjectNameStrategy::Record);
        // the key side keeps its own default
        let k = AvroConfig::parse(&cfg(&[(SCHEMA_REGISTRY_URL, "http://a:1")]), true).unwrap();
        assert_eq!(k.subject_strategy, SubjectNameStrategy::Topic);
        assert_eq!(k.subject_strategy.subject("t", true, "x"), "t-key");
        assert!(!format!("{c:?}").contains("u:p"));
    }

    #[test]
    fn bad_settings_name_the_key() {
        let e = AvroConfig::parse(&cfg(&[]), false).unwrap_err().to_string();
        assert!(e.contains(SCHEMA_REGISTRY_URL), "{e}");
        let e = AvroConfig::parse(&cfg(&[(SCHEMA_REGISTRY_URL, "nope")]), false)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("Invalid value nope for configuration schema.registry.url"),
            "{e}"
        );
        let e = AvroConfig::parse(
            &cfg(&[
                (SCHEMA_REGISTRY_URL, "http://a:1"),
                (VALUE_SUBJECT_NAME_STRATEGY, "com.example.Mine"),
            ]),
            false,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("com.example.Mine"), "{e}");
    }
}
