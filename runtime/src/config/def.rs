//! Typed configuration declarations, Kafka's `ConfigDef`.
//!
//! Each connector, converter and the worker declare their keys once (type, default,
//! importance, documentation, validator). The same declaration drives parsing,
//! `PUT /connector-plugins/{plugin}/config/validate`, `GET /connector-plugins/{plugin}/config`
//! and the generated reference docs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Props;
use crate::errors::{ConnectError, Result};

/// The value printed instead of a password.
pub const HIDDEN: &str = "[hidden]";

/// Kafka's config types, serialised as Kafka names them (`STRING`, `INT`...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ConfigType {
    Boolean,
    String,
    Int,
    Short,
    Long,
    Double,
    List,
    Class,
    Password,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Importance {
    High,
    Medium,
    Low,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Width {
    None,
    Short,
    Medium,
    Long,
}

/// A check applied to a parsed value; the message says what is allowed.
#[derive(Debug, Clone)]
pub enum Validator {
    /// A number at least this large.
    AtLeast(i64),
    /// A number in this inclusive range.
    Between(i64, i64),
    /// One of these strings, compared case-insensitively (`ValidString`/`CaseInsensitiveValidString`).
    OneOf(&'static [&'static str]),
    /// Every list element is one of these.
    ListOf(&'static [&'static str]),
    /// A string that is not empty and has no control characters.
    NonEmptyString,
    /// A string that is empty or compiles as a regular expression.
    Regex,
    /// Anything else: returns the reason the value is wrong.
    Custom(fn(&Parsed) -> std::result::Result<(), String>),
}

impl Validator {
    fn check(&self, value: &Parsed) -> std::result::Result<(), String> {
        match (self, value) {
            (_, Parsed::Null) => Ok(()),
            (Validator::AtLeast(min), Parsed::Int(v)) => {
                if v < min {
                    Err(format!("Value must be at least {min}"))
                } else {
                    Ok(())
                }
            }
            (Validator::Between(min, max), Parsed::Int(v)) => {
                if v < min || v > max {
                    Err(format!(
                        "Value must be no less than {min} and no more than {max}"
                    ))
                } else {
                    Ok(())
                }
            }
            (Validator::OneOf(allowed), Parsed::Str(s)) => {
                if allowed.iter().any(|a| a.eq_ignore_ascii_case(s)) {
                    Ok(())
                } else {
                    Err(format!("String must be one of: {}", allowed.join(", ")))
                }
            }
            (Validator::ListOf(allowed), Parsed::List(items)) => {
                match items
                    .iter()
                    .find(|i| !allowed.iter().any(|a| a.eq_ignore_ascii_case(i)))
                {
                    Some(bad) => Err(format!(
                        "Invalid value {bad}: must be one of: {}",
                        allowed.join(", ")
                    )),
                    None => Ok(()),
                }
            }
            (Validator::NonEmptyString, Parsed::Str(s)) => {
                if s.is_empty() {
                    Err("String must be non-empty".into())
                } else if s.chars().any(char::is_control) {
                    Err("String must be non-empty and contain no ISO control characters".into())
                } else {
                    Ok(())
                }
            }
            (Validator::Regex, Parsed::Str(s)) => {
                if s.is_empty() {
                    return Ok(());
                }
                regex::Regex::new(s)
                    .map(|_| ())
                    .map_err(|e| format!("Not a valid regular expression: {e}"))
            }
            (Validator::Custom(f), v) => f(v),
            _ => Ok(()),
        }
    }

    /// The human-readable rule, for documentation.
    pub fn describe(&self) -> String {
        match self {
            Validator::AtLeast(min) => format!("[{min},...]"),
            Validator::Between(min, max) => format!("[{min},...,{max}]"),
            Validator::OneOf(allowed) | Validator::ListOf(allowed) => {
                format!("[{}]", allowed.join(", "))
            }
            Validator::NonEmptyString => "non-empty string without ISO control characters".into(),
            Validator::Regex => "a regular expression".into(),
            Validator::Custom(_) => String::new(),
        }
    }
}

/// The default of a key.
#[derive(Debug, Clone, PartialEq)]
pub enum Default {
    /// No default: the key must be set.
    Required,
    /// Defaults to null (unset).
    Null,
    /// Defaults to this value, written as a user would write it.
    Value(String),
}

/// A parsed config value.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    Null,
    Bool(bool),
    Str(String),
    Int(i64),
    Double(f64),
    List(Vec<String>),
    Password(String),
}

/// One declared key.
#[derive(Debug, Clone)]
pub struct ConfigKey {
    pub name: String,
    pub ty: ConfigType,
    pub default: Default,
    pub importance: Importance,
    pub documentation: String,
    pub group: Option<String>,
    pub order: i32,
    pub width: Width,
    pub display_name: String,
    pub dependents: Vec<String>,
    pub validator: Option<Validator>,
}

impl ConfigKey {
    /// A required key of the given type with MEDIUM importance; refine with the builder methods.
    pub fn new(name: impl Into<String>, ty: ConfigType) -> Self {
        let name = name.into();
        ConfigKey {
            display_name: name.clone(),
            name,
            ty,
            default: Default::Required,
            importance: Importance::Medium,
            documentation: String::new(),
            group: None,
            order: -1,
            width: Width::None,
            dependents: Vec::new(),
            validator: None,
        }
    }
    pub fn default_value(mut self, v: impl Into<String>) -> Self {
        self.default = Default::Value(v.into());
        self
    }
    pub fn default_null(mut self) -> Self {
        self.default = Default::Null;
        self
    }
    pub fn importance(mut self, i: Importance) -> Self {
        self.importance = i;
        self
    }
    pub fn doc(mut self, d: impl Into<String>) -> Self {
        self.documentation = d.into();
        self
    }
    pub fn group(mut self, g: impl Into<String>, order: i32) -> Self {
        self.group = Some(g.into());
        self.order = order;
        self
    }
    pub fn width(mut self, w: Width) -> Self {
        self.width = w;
        self
    }
    pub fn display(mut self, d: impl Into<String>) -> Self {
        self.display_name = d.into();
        self
    }
    pub fn validator(mut self, v: Validator) -> Self {
        self.validator = Some(v);
        self
    }
    pub fn dependents(mut self, deps: &[&str]) -> Self {
        self.dependents = deps.iter().map(|s| (*s).to_owned()).collect();
        self
    }

    /// Whether the key has no default and must be set.
    pub fn required(&self) -> bool {
        self.default == Default::Required
    }

    /// The default as Kafka prints it in `GET /connector-plugins/{plugin}/config`.
    pub fn default_string(&self) -> Option<String> {
        match &self.default {
            Default::Value(v) => Some(v.clone()),
            _ => None,
        }
    }

    /// Parses a raw string according to the key's type.
    pub fn parse(&self, raw: &str) -> std::result::Result<Parsed, String> {
        let trimmed = raw.trim();
        let not_a = |what: &str| format!("Not a number of type {what}");
        Ok(match self.ty {
            ConfigType::Boolean => {
                if trimmed.eq_ignore_ascii_case("true") {
                    Parsed::Bool(true)
                } else if trimmed.eq_ignore_ascii_case("false") {
                    Parsed::Bool(false)
                } else {
                    return Err("Expected value to be either true or false".into());
                }
            }
            ConfigType::String => Parsed::Str(trimmed.to_owned()),
            ConfigType::Class => {
                if trimmed.is_empty() {
                    return Err("Expected a class name, got an empty string".into());
                }
                Parsed::Str(trimmed.to_owned())
            }
            ConfigType::Password => Parsed::Password(raw.to_owned()),
            ConfigType::Int => {
                let v: i32 = trimmed.parse().map_err(|_| not_a("INT"))?;
                Parsed::Int(i64::from(v))
            }
            ConfigType::Short => {
                let v: i16 = trimmed.parse().map_err(|_| not_a("SHORT"))?;
                Parsed::Int(i64::from(v))
            }
            ConfigType::Long => Parsed::Int(trimmed.parse().map_err(|_| not_a("LONG"))?),
            ConfigType::Double => Parsed::Double(trimmed.parse().map_err(|_| not_a("DOUBLE"))?),
            ConfigType::List => Parsed::List(if trimmed.is_empty() {
                Vec::new()
            } else {
                trimmed.split(',').map(|s| s.trim().to_owned()).collect()
            }),
        })
    }
}

/// A set of declared keys, in declaration order.
#[derive(Debug, Clone, Default)]
pub struct ConfigDef {
    keys: Vec<ConfigKey>,
}

/// The result of validating one key: Kafka's `ConfigValue`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConfigValueInfo {
    pub name: String,
    pub value: Option<String>,
    pub recommended_values: Vec<String>,
    pub errors: Vec<String>,
    pub visible: bool,
}

/// A key's declaration as the REST API shows it: Kafka's `ConfigKeyInfo`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConfigKeyInfo {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: ConfigType,
    pub required: bool,
    pub default_value: Option<String>,
    pub importance: Importance,
    pub documentation: String,
    pub group: Option<String>,
    pub width: Width,
    pub display_name: String,
    pub dependents: Vec<String>,
    #[serde(rename = "order_in_group")]
    pub order: i32,
}

/// One entry of a validation answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConfigInfo {
    pub definition: ConfigKeyInfo,
    pub value: ConfigValueInfo,
}

/// The body of `PUT /connector-plugins/{plugin}/config/validate`: Kafka's `ConfigInfos`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConfigInfos {
    pub name: String,
    pub error_count: usize,
    pub groups: Vec<String>,
    pub configs: Vec<ConfigInfo>,
}

impl ConfigInfos {
    /// Every error, as `key: message` lines, for logs and CLI output.
    pub fn error_lines(&self) -> Vec<String> {
        self.configs
            .iter()
            .flat_map(|c| {
                c.value
                    .errors
                    .iter()
                    .map(move |e| format!("{}: {e}", c.value.name))
            })
            .collect()
    }
}

/// The entry of `GET /connector-plugins/{plugin}/config`: Kafka's `ConfigKeyInfo` subset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PluginConfigKey {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: ConfigType,
    pub required: bool,
    pub default_value: Option<String>,
    pub importance: Importance,
    pub documentation: String,
    pub group: Option<String>,
    pub width: Width,
    pub display_name: String,
    pub dependents: Vec<String>,
    #[serde(rename = "order_in_group")]
    pub order: i32,
}

impl ConfigDef {
    pub fn new() -> Self {
        ConfigDef::default()
    }

    /// Adds a key; a later key with the same name replaces the earlier one.
    pub fn define(mut self, key: ConfigKey) -> Self {
        self.keys.retain(|k| k.name != key.name);
        self.keys.push(key);
        self
    }

    /// Appends every key of `other`.
    pub fn merge(mut self, other: &ConfigDef) -> Self {
        for k in &other.keys {
            self = self.define(k.clone());
        }
        self
    }

    pub fn keys(&self) -> &[ConfigKey] {
        &self.keys
    }

    pub fn key(&self, name: &str) -> Option<&ConfigKey> {
        self.keys.iter().find(|k| k.name == name)
    }

    /// The groups in first-seen order.
    pub fn groups(&self) -> Vec<String> {
        let mut groups: Vec<String> = Vec::new();
        for g in self.keys.iter().filter_map(|k| k.group.as_ref()) {
            if !groups.contains(g) {
                groups.push(g.clone());
            }
        }
        groups
    }

    /// Validates every key at once: a `ConfigValueInfo` per declared key, in order.
    /// Pure: no I/O, never fails; errors are inside the values.
    pub fn validate(&self, props: &Props) -> Vec<(ConfigKeyInfo, ConfigValueInfo)> {
        self.keys
            .iter()
            .map(|k| (key_info(k), validate_key(k, props.get(&k.name)).1))
            .collect()
    }

    /// Validates and builds the REST `ConfigInfos` answer.
    pub fn config_infos(&self, name: &str, props: &Props) -> ConfigInfos {
        let configs: Vec<ConfigInfo> = self
            .validate(props)
            .into_iter()
            .map(|(definition, value)| ConfigInfo { definition, value })
            .collect();
        ConfigInfos {
            name: name.to_owned(),
            error_count: configs.iter().map(|c| c.value.errors.len()).sum(),
            groups: self.groups(),
            configs,
        }
    }

    /// Parses every declared key, or returns all errors at once as one message.
    pub fn parse(&self, props: &Props) -> Result<ParsedConfig> {
        let mut values = BTreeMap::new();
        let mut errors = Vec::new();
        for k in &self.keys {
            let (parsed, info) = validate_key(k, props.get(&k.name));
            errors.extend(info.errors.iter().cloned());
            values.insert(k.name.clone(), parsed);
        }
        if errors.is_empty() {
            Ok(ParsedConfig {
                values,
                originals: props.clone(),
            })
        } else {
            Err(ConnectError::config(errors.join("; ")))
        }
    }

    /// The declaration as `GET /connector-plugins/{plugin}/config` shows it.
    pub fn describe(&self) -> Vec<PluginConfigKey> {
        self.keys
            .iter()
            .map(|k| {
                let i = key_info(k);
                PluginConfigKey {
                    name: i.name,
                    ty: i.ty,
                    required: i.required,
                    default_value: i.default_value,
                    importance: i.importance,
                    documentation: i.documentation,
                    group: i.group,
                    width: i.width,
                    display_name: i.display_name,
                    dependents: i.dependents,
                    order: i.order,
                }
            })
            .collect()
    }

    /// Keys in `props` that this definition does not declare (for "unknown key" warnings).
    pub fn unknown_keys<'a>(&self, props: &'a Props) -> Vec<&'a str> {
        props
            .keys()
            .filter(|k| self.key(k).is_none())
            .map(String::as_str)
            .collect()
    }

    /// Whether the key holds a secret: its value must never be shown.
    pub fn is_password(&self, name: &str) -> bool {
        self.key(name).is_some_and(|k| k.ty == ConfigType::Password)
    }
}

fn key_info(k: &ConfigKey) -> ConfigKeyInfo {
    ConfigKeyInfo {
        name: k.name.clone(),
        ty: k.ty,
        required: k.required(),
        default_value: k.default_string(),
        importance: k.importance,
        documentation: k.documentation.clone(),
        group: k.group.clone(),
        width: k.width,
        display_name: k.display_name.clone(),
        dependents: k.dependents.clone(),
        order: k.order,
    }
}

fn validate_key(k: &ConfigKey, raw: Option<&String>) -> (Parsed, ConfigValueInfo) {
    let mut errors = Vec::new();
    let shown = |v: &str| {
        if k.ty == ConfigType::Password {
            HIDDEN.to_owned()
        } else {
            v.to_owned()
        }
    };
    let (parsed, value) = match (raw, &k.default) {
        (Some(v), _) => match k.parse(v) {
            Ok(p) => (p, Some(shown(v))),
            Err(why) => {
                errors.push(format!(
                    "Invalid value {} for configuration {}: {why}",
                    shown(v),
                    k.name
                ));
                (Parsed::Null, None)
            }
        },
        (None, Default::Required) => {
            errors.push(format!(
                "Missing required configuration \"{}\" which has no default value.",
                k.name
            ));
            (Parsed::Null, None)
        }
        (None, Default::Null) => (Parsed::Null, None),
        (None, Default::Value(d)) => match k.parse(d) {
            Ok(p) => (p, Some(shown(d))),
            Err(why) => {
                errors.push(format!("Invalid default for {}: {why}", k.name));
                (Parsed::Null, Some(shown(d)))
            }
        },
    };
    if errors.is_empty()
        && let Some(v) = &k.validator
        && let Err(why) = v.check(&parsed)
    {
        let shown_value = value.clone().unwrap_or_else(|| "null".into());
        errors.push(format!(
            "Invalid value {shown_value} for configuration {}: {why}",
            k.name
        ));
    }
    let recommended_values = match &k.validator {
        Some(Validator::OneOf(allowed)) => allowed.iter().map(|s| (*s).to_owned()).collect(),
        _ => Vec::new(),
    };
    (
        parsed,
        ConfigValueInfo {
            name: k.name.clone(),
            value,
            recommended_values,
            errors,
            visible: true,
        },
    )
}

/// Values parsed by a [`ConfigDef`], with typed getters.
///
/// Getters return an internal error for an undeclared key or a type mismatch: both are
/// bugs in the declaring code, not user errors.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedConfig {
    values: BTreeMap<String, Parsed>,
    originals: Props,
}

impl ParsedConfig {
    fn get(&self, name: &str) -> Result<&Parsed> {
        self.values
            .get(name)
            .ok_or_else(|| ConnectError::internal(format!("config key {name} is not declared")))
    }

    fn mismatch(name: &str, want: &str) -> ConnectError {
        ConnectError::internal(format!("config key {name} is not of type {want}"))
    }

    /// A string, or None when unset and defaulting to null.
    pub fn string(&self, name: &str) -> Result<Option<&str>> {
        match self.get(name)? {
            Parsed::Str(s) | Parsed::Password(s) => Ok(Some(s)),
            Parsed::Null => Ok(None),
            _ => Err(Self::mismatch(name, "STRING")),
        }
    }

    pub fn int(&self, name: &str) -> Result<i64> {
        match self.get(name)? {
            Parsed::Int(v) => Ok(*v),
            _ => Err(Self::mismatch(name, "INT/LONG")),
        }
    }

    pub fn bool(&self, name: &str) -> Result<bool> {
        match self.get(name)? {
            Parsed::Bool(v) => Ok(*v),
            _ => Err(Self::mismatch(name, "BOOLEAN")),
        }
    }

    pub fn double(&self, name: &str) -> Result<f64> {
        match self.get(name)? {
            Parsed::Double(v) => Ok(*v),
            _ => Err(Self::mismatch(name, "DOUBLE")),
        }
    }

    /// A list; an unset null list is empty.
    pub fn list(&self, name: &str) -> Result<Vec<String>> {
        match self.get(name)? {
            Parsed::List(v) => Ok(v.clone()),
            Parsed::Null => Ok(Vec::new()),
            _ => Err(Self::mismatch(name, "LIST")),
        }
    }

    /// The raw settings this config was parsed from, declared or not.
    pub fn originals(&self) -> &Props {
        &self.originals
    }

    /// Raw settings starting with `prefix`, with the prefix stripped.
    pub fn originals_with_prefix(&self, prefix: &str) -> Props {
        with_prefix(&self.originals, prefix)
    }
}

/// Settings starting with `prefix`, with the prefix stripped.
pub fn with_prefix(props: &Props, prefix: &str) -> Props {
    props
        .iter()
        .filter_map(|(k, v)| k.strip_prefix(prefix).map(|s| (s.to_owned(), v.clone())))
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn def() -> ConfigDef {
        ConfigDef::new()
            .define(
                ConfigKey::new("tasks.max", ConfigType::Int)
                    .default_value("1")
                    .validator(Validator::AtLeast(1))
                    .group("Common", 3),
            )
            .define(ConfigKey::new("topic", ConfigType::String).group("Common", 1))
            .define(ConfigKey::new("password", ConfigType::Password).default_null())
            .define(
                ConfigKey::new("mode", ConfigType::String)
                    .default_value("bulk")
                    .validator(Validator::OneOf(&["bulk", "incrementing"])),
            )
            .define(ConfigKey::new("topics", ConfigType::List).default_value(""))
    }

    fn props(pairs: &[(&str, &str)]) -> Props {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn returns_every_error_at_once() {
        let infos = def().config_infos("X", &props(&[("tasks.max", "0"), ("mode", "weird")]));
        assert_eq!(infos.error_count, 3);
        assert_eq!(
            infos.error_lines(),
            vec![
                "tasks.max: Invalid value 0 for configuration tasks.max: Value must be at least 1",
                "topic: Missing required configuration \"topic\" which has no default value.",
                "mode: Invalid value weird for configuration mode: String must be one of: bulk, incrementing",
            ]
        );
        assert_eq!(infos.groups, vec!["Common"]);
    }

    #[test]
    fn parses_typed_values_and_hides_passwords() {
        let p = props(&[
            ("topic", "t"),
            ("password", "s3cret"),
            ("topics", "a, b"),
            ("tasks.max", " 4 "),
        ]);
        let parsed = def().parse(&p).unwrap();
        assert_eq!(parsed.int("tasks.max").unwrap(), 4);
        assert_eq!(parsed.string("topic").unwrap(), Some("t"));
        assert_eq!(parsed.string("mode").unwrap(), Some("bulk"));
        assert_eq!(parsed.list("topics").unwrap(), vec!["a", "b"]);
        assert!(parsed.int("topic").is_err());
        let infos = def().config_infos("X", &p);
        let pw = infos
            .configs
            .iter()
            .find(|c| c.value.name == "password")
            .unwrap();
        assert_eq!(pw.value.value.as_deref(), Some(HIDDEN));
    }

    #[test]
    fn bad_number_names_the_key() {
        let err = def()
            .parse(&props(&[("topic", "t"), ("tasks.max", "many")]))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Invalid value many for configuration tasks.max: Not a number of type INT"
        );
    }

    #[test]
    fn serialises_like_kafka() {
        let infos = def().config_infos("X", &props(&[("topic", "t")]));
        let json = serde_json::to_value(&infos.configs[0]).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "definition": {"name": "tasks.max", "type": "INT", "required": false,
                    "default_value": "1", "importance": "MEDIUM", "documentation": "",
                    "group": "Common", "width": "NONE", "display_name": "tasks.max",
                    "dependents": [], "order_in_group": 3},
                "value": {"name": "tasks.max", "value": "1", "recommended_values": [],
                    "errors": [], "visible": true}
            })
        );
    }
}
