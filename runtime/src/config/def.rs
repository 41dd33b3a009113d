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

/// A check applied to a parsed value: Kafka's `ConfigDef.Validator`. The messages and the
/// handling of null (an unset key without default, or a value that failed to parse) are
/// Kafka's: `Range` and `ValidString` reject null, the string validators accept it.
#[derive(Debug, Clone)]
pub enum Validator {
    /// `Range.atLeast`: a number at least this large; rejects null.
    AtLeast(i64),
    /// `Range.between`: a number in this inclusive range; rejects null.
    Between(i64, i64),
    /// `ValidString.in`: one of these strings, compared case-sensitively; rejects null.
    OneOf(&'static [&'static str]),
    /// `ValidList.in`: every list element is one of these (case-sensitively). Null passes
    /// (Kafka fails on it with a NullPointerException, not a validation message).
    ListOf(&'static [&'static str]),
    /// `NonEmptyString`: not the empty string; null passes.
    NonEmptyString,
    /// `NonEmptyStringWithoutControlChars`: not empty and no ISO control characters; null passes.
    NonEmptyStringWithoutControlChars,
    /// Connect's `RegexValidator`: a string that compiles as a regular expression. Null
    /// passes (Kafka's message for it is the JVM's NullPointerException text).
    Regex,
    /// Anything else: returns the reason the value is wrong; sees null too.
    Custom(fn(&Parsed) -> std::result::Result<(), String>),
}

impl Validator {
    /// Checks a parsed value; the error is Kafka's whole message,
    /// `Invalid value <value> for configuration <name>: <reason>`.
    fn check(&self, name: &str, value: &Parsed) -> std::result::Result<(), String> {
        let invalid = |shown: &str, why: &str| {
            Err(format!(
                "Invalid value {shown} for configuration {name}: {why}"
            ))
        };
        match self {
            Validator::AtLeast(min) | Validator::Between(min, _) => {
                let max = match self {
                    Validator::Between(_, max) => Some(*max),
                    _ => None,
                };
                // Kafka compares `Number.doubleValue()`s.
                let n = match value {
                    Parsed::Null => return invalid("null", "Value must be non-null"),
                    Parsed::Int(v) => *v as f64,
                    Parsed::Double(v) => *v,
                    _ => return Ok(()),
                };
                if n < *min as f64 {
                    invalid(
                        &value.java_string(),
                        &format!("Value must be at least {min}"),
                    )
                } else if let Some(max) = max.filter(|max| n > *max as f64) {
                    invalid(
                        &value.java_string(),
                        &format!("Value must be no more than {max}"),
                    )
                } else {
                    Ok(())
                }
            }
            Validator::OneOf(allowed) => match value {
                Parsed::Str(s) if allowed.contains(&s.as_str()) => Ok(()),
                Parsed::Str(_) | Parsed::Null => invalid(
                    &value.java_string(),
                    &format!("String must be one of: {}", allowed.join(", ")),
                ),
                _ => Ok(()),
            },
            Validator::ListOf(allowed) => match value {
                Parsed::List(items) => {
                    match items.iter().find(|i| !allowed.contains(&i.as_str())) {
                        Some(bad) => invalid(
                            bad,
                            &format!("String must be one of: {}", allowed.join(", ")),
                        ),
                        None => Ok(()),
                    }
                }
                _ => Ok(()),
            },
            Validator::NonEmptyString => match value {
                Parsed::Str(s) if s.is_empty() => invalid(s, "String must be non-empty"),
                _ => Ok(()),
            },
            Validator::NonEmptyStringWithoutControlChars => match value {
                Parsed::Str(s) if s.is_empty() => invalid(s, "String may not be empty"),
                Parsed::Str(s) => {
                    // `Character.isISOControl`: U+0000..U+001F and U+007F..U+009F, which is
                    // Rust's `char::is_control`.
                    let found: Vec<String> = s
                        .chars()
                        .filter(|c| c.is_control())
                        .map(|c| u32::from(c).to_string())
                        .collect();
                    if found.is_empty() {
                        Ok(())
                    } else {
                        invalid(
                            s,
                            &format!(
                                "String may not contain control sequences but had the following ASCII chars: {}",
                                found.join(", ")
                            ),
                        )
                    }
                }
                _ => Ok(()),
            },
            Validator::Regex => match value {
                Parsed::Str(s) => match regex::Regex::new(s) {
                    Ok(_) => Ok(()),
                    Err(e) => invalid(s, &format!("Invalid regex: {e}")),
                },
                _ => Ok(()),
            },
            Validator::Custom(f) => match f(value) {
                Ok(()) => Ok(()),
                Err(why) => invalid(&value.java_string(), &why),
            },
        }
    }

    /// The human-readable rule, for documentation: the validator's `toString()` in Kafka.
    pub fn describe(&self) -> String {
        match self {
            Validator::AtLeast(min) => format!("[{min},...]"),
            Validator::Between(min, max) => format!("[{min},...,{max}]"),
            Validator::OneOf(allowed) | Validator::ListOf(allowed) => {
                format!("[{}]", allowed.join(", "))
            }
            Validator::NonEmptyString => "non-empty string".into(),
            Validator::NonEmptyStringWithoutControlChars => {
                "non-empty string without ISO control characters".into()
            }
            Validator::Regex => "valid regex".into(),
            Validator::Custom(_) => String::new(),
        }
    }
}

/// Where a key's recommended values come from: Kafka's `ConfigDef.Recommender`, which is
/// separate from the validator (a `ValidString` recommends nothing).
#[derive(Debug, Clone, Copy)]
pub enum Recommender {
    /// Always these values.
    Values(&'static [&'static str]),
    /// Computed from the settings being validated (Kafka hands its recommenders the parsed
    /// values; these get the raw ones).
    Dynamic(fn(&Props) -> Vec<String>),
}

impl Recommender {
    pub fn values(&self, props: &Props) -> Vec<String> {
        match self {
            Recommender::Values(values) => values.iter().map(|v| (*v).to_owned()).collect(),
            Recommender::Dynamic(f) => f(props),
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

impl Parsed {
    /// `ConfigDef.convertToString`: how the REST API shows a parsed value (lists joined by
    /// `,`, doubles as Java prints them, passwords hidden); None for null.
    pub fn rest_string(&self) -> Option<String> {
        Some(match self {
            Parsed::Null => return None,
            Parsed::List(items) => items.join(","),
            other => other.java_string(),
        })
    }

    /// The value's `toString()` in Java, as Kafka's messages print it: `null`, `[a, b]` for
    /// a list, `[hidden]` for a password.
    pub fn java_string(&self) -> String {
        match self {
            Parsed::Null => "null".to_owned(),
            Parsed::Bool(b) => b.to_string(),
            Parsed::Str(s) => s.clone(),
            Parsed::Int(v) => v.to_string(),
            Parsed::Double(v) => java_double(*v),
            Parsed::List(items) => format!("[{}]", items.join(", ")),
            Parsed::Password(_) => HIDDEN.to_owned(),
        }
    }
}

/// `Double.toString`.
fn java_double(v: f64) -> String {
    if v.is_nan() {
        return "NaN".to_owned();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity" } else { "-Infinity" }.to_owned();
    }
    let mut out = String::new();
    crate::converters::write_java_f64(&mut out, v);
    out
}

/// `String.trim()`: strips every character up to U+0020, control characters included
/// (and, unlike `str::trim`, no other Unicode white space).
fn java_trim(s: &str) -> &str {
    s.trim_matches(|c: char| c <= ' ')
}

/// `Double.parseDouble` of a trimmed string: Rust's syntax plus Java's optional `d`/`f`
/// suffix, with only Java's spellings of infinity and NaN.
fn java_parse_double(s: &str) -> Option<f64> {
    let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s);
    if unsigned == "Infinity" || unsigned == "NaN" {
        let v = if unsigned == "NaN" {
            f64::NAN
        } else {
            f64::INFINITY
        };
        return Some(if s.starts_with('-') { -v } else { v });
    }
    let body = s.strip_suffix(['d', 'D', 'f', 'F']).unwrap_or(s);
    if body
        .chars()
        .any(|c| !(c.is_ascii_digit() || matches!(c, '+' | '-' | '.' | 'e' | 'E')))
    {
        return None;
    }
    body.parse().ok()
}

/// Java's `\s`.
fn is_java_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\u{0B}' | '\u{0C}' | '\r')
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
    pub recommender: Option<Recommender>,
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
            recommender: None,
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
    pub fn recommender(mut self, r: Recommender) -> Self {
        self.recommender = Some(r);
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

    /// The default as Kafka prints it in `GET /connector-plugins/{plugin}/config`: parsed,
    /// then shown as `ConfigDef.convertToString` does.
    pub fn default_string(&self) -> Option<String> {
        match &self.default {
            Default::Value(v) => Some(
                self.parse(v)
                    .ok()
                    .and_then(|p| p.rest_string())
                    .unwrap_or_else(|| v.clone()),
            ),
            _ => None,
        }
    }

    /// Parses a raw string according to the key's type: `ConfigDef.parseType`.
    pub fn parse(&self, raw: &str) -> std::result::Result<Parsed, String> {
        let trimmed = java_trim(raw);
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
                // Kafka loads the class; Ferry's plugins are checked where they are used, but
                // nothing is called "".
                if trimmed.is_empty() {
                    return Err(format!("Class {raw} could not be found."));
                }
                Parsed::Str(trimmed.to_owned())
            }
            ConfigType::Password => Parsed::Password(trimmed.to_owned()),
            ConfigType::Int => {
                let v: i32 = trimmed.parse().map_err(|_| not_a("INT"))?;
                Parsed::Int(i64::from(v))
            }
            ConfigType::Short => {
                let v: i16 = trimmed.parse().map_err(|_| not_a("SHORT"))?;
                Parsed::Int(i64::from(v))
            }
            ConfigType::Long => Parsed::Int(trimmed.parse().map_err(|_| not_a("LONG"))?),
            ConfigType::Double => {
                Parsed::Double(java_parse_double(trimmed).ok_or_else(|| not_a("DOUBLE"))?)
            }
            // `trimmed.split("\\s*,\\s*", -1)`: empty elements are kept.
            ConfigType::List => Parsed::List(if trimmed.is_empty() {
                Vec::new()
            } else {
                trimmed
                    .split(',')
                    .map(|s| s.trim_matches(is_java_space).to_owned())
                    .collect()
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
            .map(|k| (key_info(k), validate_key(k, props, Mode::Validate).1))
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
            let (parsed, info) = validate_key(k, props, Mode::Parse);
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

/// What a key is checked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `ConfigDef.validate`: every message about the key, recommended values included. As in
    /// Kafka, the validator also sees the null a failed parse or a missing required value
    /// leaves (`Range` then adds "Value must be non-null").
    Validate,
    /// `ConfigDef.parse`: the first message about the key.
    Parse,
}

fn validate_key(k: &ConfigKey, props: &Props, mode: Mode) -> (Parsed, ConfigValueInfo) {
    let mut errors = Vec::new();
    // Kafka declares a null default only where the validator accepts null (it checks the
    // default when the key is declared); Ferry does not check it at all.
    let mut null_default = false;
    let parsed = match (props.get(&k.name), &k.default) {
        (Some(v), _) => match k.parse(v) {
            Ok(p) => p,
            Err(why) => {
                let shown = if k.ty == ConfigType::Password {
                    HIDDEN
                } else {
                    v.as_str()
                };
                errors.push(format!(
                    "Invalid value {shown} for configuration {}: {why}",
                    k.name
                ));
                Parsed::Null
            }
        },
        (None, Default::Required) => {
            errors.push(format!(
                "Missing required configuration \"{}\" which has no default value.",
                k.name
            ));
            Parsed::Null
        }
        (None, Default::Null) => {
            null_default = true;
            Parsed::Null
        }
        (None, Default::Value(d)) => match k.parse(d) {
            Ok(p) => p,
            Err(why) => {
                errors.push(format!("Invalid default for {}: {why}", k.name));
                Parsed::Null
            }
        },
    };
    let check = !null_default && (mode == Mode::Validate || errors.is_empty());
    if check
        && let Some(v) = &k.validator
        && let Err(e) = v.check(&k.name, &parsed)
    {
        errors.push(e);
    }
    let recommended_values = match (mode, &k.recommender) {
        (Mode::Validate, Some(r)) => r.values(props),
        _ => Vec::new(),
    };
    let value = parsed.rest_string();
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

    use crate::config::props;

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
    fn errors_of(infos: &ConfigInfos, key: &str) -> Vec<String> {
        infos
            .configs
            .iter()
            .find(|c| c.value.name == key)
            .unwrap()
            .value
            .errors
            .clone()
    }

    fn value_of(infos: &ConfigInfos, key: &str) -> ConfigValueInfo {
        infos
            .configs
            .iter()
            .find(|c| c.value.name == key)
            .unwrap()
            .value
            .clone()
    }

    #[test]
    fn validation_runs_the_validator_on_the_null_a_failed_parse_leaves() {
        // Kafka's answer for {"tasks.max": "abc"}.
        let infos = def().config_infos("X", &props(&[("topic", "t"), ("tasks.max", "abc")]));
        assert_eq!(
            errors_of(&infos, "tasks.max"),
            vec![
                "Invalid value abc for configuration tasks.max: Not a number of type INT",
                "Invalid value null for configuration tasks.max: Value must be non-null",
            ]
        );
        assert_eq!(value_of(&infos, "tasks.max").value, None);
        assert_eq!(infos.error_count, 2);
        // A missing required key too; a ValidString rejects null as well.
        let d = ConfigDef::new()
            .define(ConfigKey::new("n", ConfigType::Int).validator(Validator::AtLeast(0)))
            .define(
                ConfigKey::new("s", ConfigType::String).validator(Validator::OneOf(&["a", "b"])),
            );
        let infos = d.config_infos("X", &Props::new());
        assert_eq!(
            errors_of(&infos, "n"),
            vec![
                "Missing required configuration \"n\" which has no default value.",
                "Invalid value null for configuration n: Value must be non-null",
            ]
        );
        assert_eq!(
            errors_of(&infos, "s")[1],
            "Invalid value null for configuration s: String must be one of: a, b"
        );
        // Parsing stops at a key's first error, as Kafka's ConfigDef.parse throws it.
        let err = d.parse(&props(&[("n", "x"), ("s", "a")])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Invalid value x for configuration n: Not a number of type INT"
        );
    }

    #[test]
    fn a_null_default_is_not_validated() {
        let d = ConfigDef::new().define(
            ConfigKey::new("port", ConfigType::Int)
                .default_null()
                .validator(Validator::Between(0, 65535)),
        );
        assert!(d.parse(&Props::new()).is_ok());
        assert_eq!(d.config_infos("X", &Props::new()).error_count, 0);
    }

    #[test]
    fn validator_messages_are_kafkas() {
        let check = |v: Validator, ty: ConfigType, raw: &str| {
            let d = ConfigDef::new().define(ConfigKey::new("k", ty).validator(v));
            errors_of(&d.config_infos("X", &props(&[("k", raw)])), "k")
        };
        assert_eq!(
            check(Validator::Between(0, 10), ConfigType::Int, "-1"),
            vec!["Invalid value -1 for configuration k: Value must be at least 0"]
        );
        assert_eq!(
            check(Validator::Between(0, 10), ConfigType::Long, " 11 "),
            vec!["Invalid value 11 for configuration k: Value must be no more than 10"]
        );
        assert_eq!(
            check(Validator::AtLeast(1), ConfigType::Double, "0.5"),
            vec!["Invalid value 0.5 for configuration k: Value must be at least 1"]
        );
        // ValidString compares case-sensitively.
        assert_eq!(
            check(
                Validator::OneOf(&["none", "all"]),
                ConfigType::String,
                "ALL"
            ),
            vec!["Invalid value ALL for configuration k: String must be one of: none, all"]
        );
        assert_eq!(
            check(Validator::ListOf(&["a", "b"]), ConfigType::List, "a, c"),
            vec!["Invalid value c for configuration k: String must be one of: a, b"]
        );
        assert_eq!(
            check(Validator::NonEmptyString, ConfigType::String, "  "),
            vec!["Invalid value  for configuration k: String must be non-empty"]
        );
        let no_ctl = Validator::NonEmptyStringWithoutControlChars;
        assert_eq!(
            check(no_ctl.clone(), ConfigType::String, ""),
            vec!["Invalid value  for configuration k: String may not be empty"]
        );
        assert_eq!(
            check(no_ctl, ConfigType::String, "a\nb\u{7f}c"),
            vec![
                "Invalid value a\nb\u{7f}c for configuration k: String may not contain control sequences but had the following ASCII chars: 10, 127"
            ]
        );
        assert!(
            check(Validator::Regex, ConfigType::String, "a(")[0]
                .starts_with("Invalid value a( for configuration k: Invalid regex: ")
        );
        assert_eq!(
            check(
                Validator::Custom(|_| Err("no".into())),
                ConfigType::List,
                "x,y"
            ),
            vec!["Invalid value [x, y] for configuration k: no"]
        );
        assert_eq!(
            Validator::NonEmptyStringWithoutControlChars.describe(),
            "non-empty string without ISO control characters"
        );
        assert_eq!(Validator::Between(0, 65535).describe(), "[0,...,65535]");
    }

    #[test]
    fn recommended_values_come_from_the_recommender_not_the_validator() {
        fn by_mode(p: &Props) -> Vec<String> {
            match p.get("mode").map(String::as_str) {
                Some("bulk") => vec!["b1".into()],
                _ => Vec::new(),
            }
        }
        let d = def()
            .define(
                ConfigKey::new("fixed", ConfigType::String)
                    .default_value("x")
                    .recommender(Recommender::Values(&["x", "y"])),
            )
            .define(
                ConfigKey::new("dynamic", ConfigType::String)
                    .default_null()
                    .recommender(Recommender::Dynamic(by_mode)),
            );
        let infos = d.config_infos("X", &props(&[("topic", "t"), ("mode", "bulk")]));
        // A ValidString recommends nothing, as in Kafka.
        assert!(value_of(&infos, "mode").recommended_values.is_empty());
        assert_eq!(value_of(&infos, "fixed").recommended_values, vec!["x", "y"]);
        assert_eq!(value_of(&infos, "dynamic").recommended_values, vec!["b1"]);
    }

    #[test]
    fn values_are_shown_parsed_as_kafka_shows_them() {
        let d = ConfigDef::new()
            .define(ConfigKey::new("list", ConfigType::List).default_value("a , b,c"))
            .define(ConfigKey::new("int", ConfigType::Int).default_value("1"))
            .define(ConfigKey::new("double", ConfigType::Double).default_value("1e-5"))
            .define(ConfigKey::new("bool", ConfigType::Boolean).default_value("TRUE"))
            .define(ConfigKey::new("pw", ConfigType::Password).default_value("s"))
            .define(ConfigKey::new("str", ConfigType::String).default_value(""));
        let defaults: Vec<Option<String>> =
            d.describe().into_iter().map(|k| k.default_value).collect();
        assert_eq!(
            defaults,
            vec![
                Some("a,b,c".to_owned()),
                Some("1".to_owned()),
                Some("1.0E-5".to_owned()),
                Some("true".to_owned()),
                Some(HIDDEN.to_owned()),
                Some(String::new()),
            ]
        );
        let infos = d.config_infos(
            "X",
            &props(&[
                ("list", "x,, y "),
                ("int", " 7 "),
                ("double", "2"),
                ("bool", "False"),
                ("str", "\u{1} s\t"),
            ]),
        );
        let shown: Vec<Option<String>> = infos
            .configs
            .iter()
            .map(|c| c.value.value.clone())
            .collect();
        assert_eq!(
            shown,
            vec![
                Some("x,,y".to_owned()),
                Some("7".to_owned()),
                Some("2.0".to_owned()),
                Some("false".to_owned()),
                Some(HIDDEN.to_owned()),
                // String.trim() strips control characters too.
                Some("s".to_owned()),
            ]
        );
    }

    #[test]
    fn parses_numbers_and_classes_as_java_does() {
        let key = |ty| ConfigKey::new("k", ty);
        assert_eq!(
            key(ConfigType::Double).parse("1.5d"),
            Ok(Parsed::Double(1.5))
        );
        assert_eq!(
            key(ConfigType::Double).parse("+.5"),
            Ok(Parsed::Double(0.5))
        );
        assert_eq!(
            key(ConfigType::Double).parse("-Infinity"),
            Ok(Parsed::Double(f64::NEG_INFINITY))
        );
        for bad in ["inf", "nan", "1_0", "", "0x10"] {
            assert_eq!(
                key(ConfigType::Double).parse(bad),
                Err("Not a number of type DOUBLE".to_owned()),
                "{bad}"
            );
        }
        assert_eq!(
            key(ConfigType::Short).parse("40000"),
            Err("Not a number of type SHORT".to_owned())
        );
        assert_eq!(key(ConfigType::Int).parse("+3"), Ok(Parsed::Int(3)));
        assert_eq!(
            key(ConfigType::Class).parse(" "),
            Err("Class   could not be found.".to_owned())
        );
        assert_eq!(
            key(ConfigType::Password).parse(" p "),
            Ok(Parsed::Password("p".to_owned()))
        );
    }
}
