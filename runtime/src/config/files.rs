//! Config files named on the `ferry standalone` command line.
//!
//! A worker config is a Java properties file. A connector config is either a
//! properties file or, as Kafka Connect 3.x standalone accepts, a JSON file in one
//! of two shapes:
//!
//! * the REST API's create request, `{"name": "...", "config": {"k": "v", ...}}`
//!   (other top-level fields such as `initial_state` are ignored, like Kafka does);
//! * a flat object of config keys, `{"name": "...", "connector.class": "...", ...}`.
//!
//! A file is JSON when its extension is `.json` or its content, after leading
//! whitespace, starts with `{`. JSON must be UTF-8; properties files may be UTF-8
//! or ISO-8859-1 (see [`super::properties`]).
//!
//! JSON config values may be strings, numbers or booleans; numbers and booleans
//! are stringified (`1` → `"1"`, `true` → `"true"`). `null`, arrays and objects
//! are errors naming the key. Duplicate JSON keys are accepted and the last one
//! wins, so the commented configs people write with repeated `"_comment"` keys
//! load (the `_comment` key itself stays in the config, as in Kafka).
//!
//! Every error is a [`ConnectError::Config`] naming the file.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value};

use super::properties;
use crate::errors::ConnectError;

/// The config key holding the connector's name.
const NAME: &str = "name";

/// A connector config read from a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectorFile {
    /// The connector's name: the JSON top-level `name`, else the config's `name`.
    /// `None` when the file gives none; the caller decides whether that is fatal.
    pub name: Option<String>,
    /// The connector config. When the JSON top-level `name` is given and the
    /// config has none, it is copied into the config under `name`, as Kafka does.
    pub config: BTreeMap<String, String>,
}

/// Reads a connector config file, JSON or Java properties.
pub fn load_connector_config(path: &Path) -> Result<ConnectorFile, ConnectError> {
    let bytes = read(path, "connector config")?;
    let not_utf8_at = std::str::from_utf8(&bytes).err().map(|e| e.valid_up_to());
    let (text, _) = properties::decode(bytes);
    if let Some(offset) = not_utf8_at.filter(|_| is_json(&text, path)) {
        return Err(ConnectError::config(format!(
            "{}: JSON connector config is not valid UTF-8 (bad byte at offset {offset})",
            path.display()
        )));
    }
    parse_connector_config(&text, path)
}

/// Parses the text of a connector config file; `path` picks the format by its
/// extension and names the file in errors.
pub fn parse_connector_config(text: &str, path: &Path) -> Result<ConnectorFile, ConnectError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if is_json(text, path) {
        return parse_json(text, path);
    }
    let config = properties::parse_map(text).map_err(|e| e.with_path(path))?;
    Ok(ConnectorFile {
        name: config.get(NAME).cloned(),
        config,
    })
}

/// Reads a worker config, a Java properties file.
pub fn load_worker_config(path: &Path) -> Result<BTreeMap<String, String>, ConnectError> {
    let bytes = read(path, "worker config")?;
    let (text, _) = properties::decode(bytes);
    properties::parse_map(&text).map_err(|e| e.with_path(path).into())
}

/// Applies `KEY=VALUE` overrides (from `ferry distributed --override`) on top of a worker config.
///
/// The operator uses this to give each pod of a StatefulSet its own `rest.advertised.host.name`
/// while all pods share one properties file. The value may contain `=`; an item without `=` or
/// with an empty key is an error naming it.
pub fn apply_overrides(
    props: &mut BTreeMap<String, String>,
    overrides: &[String],
) -> Result<(), ConnectError> {
    for item in overrides {
        match item.split_once('=') {
            Some((key, value)) if !key.trim().is_empty() => {
                props.insert(key.trim().to_owned(), value.to_owned());
            }
            _ => {
                return Err(ConnectError::config(format!(
                    "--override {item:?}: expected KEY=VALUE"
                )));
            }
        }
    }
    Ok(())
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>, ConnectError> {
    std::fs::read(path)
        .map_err(|e| ConnectError::config(format!("cannot read {what} {}: {e}", path.display())))
}

fn is_json(text: &str, path: &Path) -> bool {
    path.extension()
        .is_some_and(|ext| ext.eq_ignore_ascii_case("json"))
        || text.trim_start().starts_with('{')
}

fn parse_json(text: &str, path: &Path) -> Result<ConnectorFile, ConnectError> {
    let err = |msg: String| ConnectError::config(format!("{}: {msg}", path.display()));
    let value: Value = serde_json::from_str(text)
        .map_err(|e| err(format!("invalid JSON connector config: {e}")))?;
    let Value::Object(top) = value else {
        return Err(err(format!(
            "a JSON connector config must be an object, not {}",
            kind(&value)
        )));
    };
    let Some(Value::Object(nested)) = top.get("config") else {
        // A flat map of config keys.
        let config = string_map(&top).map_err(err)?;
        return Ok(ConnectorFile {
            name: config.get(NAME).cloned(),
            config,
        });
    };
    let mut config = string_map(nested).map_err(|e| err(format!("in 'config': {e}")))?;
    let name = match top.get(NAME) {
        None => None,
        Some(Value::String(name)) => Some(name.clone()),
        Some(other) => {
            return Err(err(format!(
                "the connector 'name' must be a string, not {}",
                kind(other)
            )));
        }
    };
    let Some(name) = name else {
        return Ok(ConnectorFile {
            name: config.get(NAME).cloned(),
            config,
        });
    };
    match config.get(NAME) {
        Some(in_config) if *in_config != name => {
            return Err(err(format!(
                "connector name '{name}' does not match the 'name' in 'config' ('{in_config}')"
            )));
        }
        Some(_) => {}
        None => {
            config.insert(NAME.to_string(), name.clone());
        }
    }
    Ok(ConnectorFile {
        name: Some(name),
        config,
    })
}

/// Converts a JSON object of config values to strings.
fn string_map(map: &Map<String, Value>) -> Result<BTreeMap<String, String>, String> {
    map.iter()
        .map(|(key, value)| {
            let value = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                Value::Null | Value::Array(_) | Value::Object(_) => {
                    return Err(format!(
                        "config key '{key}' must be a string, number or boolean, not {}",
                        kind(value)
                    ));
                }
            };
            Ok((key.clone(), value))
        })
        .collect()
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    const JDBC: &str = include_str!("../../../examples/rest/jdbc_source_mysql_sample_01.json");
    const ES: &str = include_str!("../../../examples/rest/es-sink-mysql-sampleData-01.json");
    const ES_PROPS: &str =
        include_str!("../../tests/fixtures/config/elasticsearch-sink.properties");

    fn parse(text: &str, file: &str) -> Result<ConnectorFile, ConnectError> {
        parse_connector_config(text, Path::new(file))
    }

    fn get<'a>(file: &'a ConnectorFile, key: &str) -> Option<&'a str> {
        file.config.get(key).map(String::as_str)
    }

    fn err_msg(text: &str, file: &str) -> String {
        parse(text, file).unwrap_err().to_string()
    }

    #[test]
    fn overrides_replace_and_add_keys() {
        let mut props: BTreeMap<String, String> = [("group.id", "a"), ("rest.port", "8083")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        apply_overrides(
            &mut props,
            &[
                "group.id=b".to_owned(),
                "rest.advertised.host.name=c-0.c.ns.svc".to_owned(),
                "x=y=z".to_owned(),
            ],
        )
        .unwrap();
        assert_eq!(props["group.id"], "b");
        assert_eq!(props["rest.advertised.host.name"], "c-0.c.ns.svc");
        assert_eq!(props["x"], "y=z");
        assert_eq!(props["rest.port"], "8083");
        let err = apply_overrides(&mut props, &["novalue".to_owned()]).unwrap_err();
        assert!(
            err.to_string()
                .contains("--override \"novalue\": expected KEY=VALUE"),
            "{err}"
        );
        assert!(apply_overrides(&mut props, &["=v".to_owned()]).is_err());
    }

    #[test]
    fn seed_jdbc_source() {
        let file = parse(JDBC, "jdbc_source_mysql_sample_01.json").unwrap();
        assert_eq!(file.name.as_deref(), Some("jdbc_source_mysql_sample_01"));
        assert_eq!(get(&file, "name"), Some("jdbc_source_mysql_sample_01"));
        assert_eq!(
            get(&file, "connector.class"),
            Some("io.confluent.connect.jdbc.JdbcSourceConnector")
        );
        assert_eq!(get(&file, "mode"), Some("timestamp"));
        assert_eq!(get(&file, "timestamp.column.name"), Some("update_ts"));
        assert_eq!(get(&file, "validate.non.null"), Some("false"));
        assert_eq!(get(&file, "topic.prefix"), Some("mysql-"));
        assert_eq!(
            get(&file, "connection.url"),
            Some("jdbc:mysql://localhost:3306/kafka_demo?user=claus&password=LvRaikkonen_0306")
        );
        // The last of the repeated `_comment` keys wins.
        assert_eq!(
            get(&file, "_comment"),
            Some("The Kafka topic will be made up of this prefix, plus the table name  ")
        );
        assert_eq!(file.config.len(), 13);
    }

    #[test]
    fn seed_es_sink() {
        // Content detection: the extension alone would say properties.
        let file = parse(ES, "es-sink.conf").unwrap();
        assert_eq!(file.name.as_deref(), Some("es-sink-mysql-sampleData-01"));
        assert_eq!(get(&file, "type.name"), Some("type.name=kafka-connect"));
        assert_eq!(get(&file, "topics"), Some("mysql-sample_data"));
        assert_eq!(get(&file, "key.ignore"), Some("true"));
        assert_eq!(get(&file, "connection.url"), Some("http://localhost:9200"));
        assert_eq!(
            get(&file, "connector.class"),
            Some("io.confluent.connect.elasticsearch.ElasticsearchSinkConnector")
        );
        assert_eq!(file.config.len(), 11); // 10 keys and the copied `name`
    }

    #[test]
    fn seed_properties_connector() {
        let file = parse(ES_PROPS, "elasticsearch-connect.properties").unwrap();
        assert_eq!(file.name.as_deref(), Some("elasticsearch-sink"));
        assert_eq!(get(&file, "topic.index.map"), Some("logs:logs_index"));
        assert_eq!(file.config.len(), 9);
    }

    #[test]
    fn flat_json_with_scalars() {
        let file = parse(
            r#"{"name": "n", "tasks.max": 2, "ratio": 1.5, "big": -12345678901234, "flag": true}"#,
            "c.json",
        )
        .unwrap();
        assert_eq!(file.name.as_deref(), Some("n"));
        assert_eq!(get(&file, "tasks.max"), Some("2"));
        assert_eq!(get(&file, "ratio"), Some("1.5"));
        assert_eq!(get(&file, "big"), Some("-12345678901234"));
        assert_eq!(get(&file, "flag"), Some("true"));
        // A `config` key that is not an object is just a flat key.
        let file = parse(r#"{"config": "x"}"#, "c.json").unwrap();
        assert_eq!(file.name, None);
        assert_eq!(get(&file, "config"), Some("x"));
    }

    #[test]
    fn nested_json_names() {
        // Name only in config.
        let file = parse(r#"{"config": {"name": "a", "k": 1}}"#, "c.json").unwrap();
        assert_eq!(file.name.as_deref(), Some("a"));
        assert_eq!(get(&file, "k"), Some("1"));
        // Same name in both places.
        let file = parse(r#"{"name": "a", "config": {"name": "a"}}"#, "c.json").unwrap();
        assert_eq!(file.name.as_deref(), Some("a"));
        // No name anywhere.
        let file = parse(r#"{"config": {"k": "v"}}"#, "c.json").unwrap();
        assert_eq!(file.name, None);
        assert!(!file.config.contains_key("name"));
        // Unknown top-level fields are ignored.
        let file = parse(
            r#"{"name": "a", "initial_state": "PAUSED", "config": {}}"#,
            "c.json",
        )
        .unwrap();
        assert_eq!(get(&file, "name"), Some("a"));
        assert_eq!(file.config.len(), 1);
        // Different names.
        let msg = err_msg(r#"{"name": "a", "config": {"name": "b"}}"#, "/x/c.json");
        assert!(
            msg.contains("/x/c.json") && msg.contains("'a'") && msg.contains("'b'"),
            "{msg}"
        );
        let msg = err_msg(r#"{"name": 3, "config": {}}"#, "c.json");
        assert!(msg.contains("'name' must be a string"), "{msg}");
    }

    #[test]
    fn bad_json_values_name_the_key() {
        for (text, key, what) in [
            (r#"{"name": "a", "topics": null}"#, "topics", "null"),
            (r#"{"config": {"topics": ["a"]}}"#, "topics", "an array"),
            (r#"{"config": {"nested": {"a": 1}}}"#, "nested", "an object"),
            (r#"{"config": null}"#, "config", "null"),
        ] {
            let msg = err_msg(text, "/etc/c.json");
            assert!(msg.starts_with("/etc/c.json: "), "{msg}");
            assert!(msg.contains(&format!("'{key}'")), "{msg}");
            assert!(msg.contains(what), "{msg}");
        }
    }

    #[test]
    fn bad_json_documents() {
        let msg = err_msg("{\n  \"name\": \"a\",\n  \"x\": }\n", "/etc/c.json");
        assert!(msg.starts_with("/etc/c.json: invalid JSON"), "{msg}");
        assert!(msg.contains("line 3 column"), "{msg}");
        // `.json` forces JSON even when the content is not an object.
        let msg = err_msg("[1, 2]", "c.json");
        assert!(msg.contains("must be an object, not an array"), "{msg}");
        let msg = err_msg("name=x", "c.JSON");
        assert!(msg.contains("invalid JSON"), "{msg}");
        let msg = err_msg("", "c.json");
        assert!(msg.contains("invalid JSON"), "{msg}");
        // Trailing garbage is an error.
        let msg = err_msg("{} {}", "c.properties");
        assert!(msg.contains("invalid JSON"), "{msg}");
    }

    #[test]
    fn properties_errors_name_the_file() {
        let msg = err_msg("a=1\nb=\\u12\n", "/etc/c.properties");
        assert!(msg.starts_with("/etc/c.properties: line 2: "), "{msg}");
    }

    #[test]
    fn bom_is_ignored() {
        let file = parse("\u{feff}{\"name\": \"a\"}", "c.txt").unwrap();
        assert_eq!(file.name.as_deref(), Some("a"));
        let file = parse("\u{feff}name=b", "c.txt").unwrap();
        assert_eq!(file.name.as_deref(), Some("b"));
    }

    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> Self {
            let dir =
                std::env::temp_dir().join(format!("ferry-files-{tag}-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }
        fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
            let path = self.0.join(name);
            std::fs::write(&path, bytes).unwrap();
            path
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn load_files() {
        let dir = TempDir::new("load");
        let json = dir.write("jdbc.json", JDBC.as_bytes());
        let file = load_connector_config(&json).unwrap();
        assert_eq!(file.name.as_deref(), Some("jdbc_source_mysql_sample_01"));

        let props = dir.write("es.properties", ES_PROPS.as_bytes());
        let file = load_connector_config(&props).unwrap();
        assert_eq!(file.name.as_deref(), Some("elasticsearch-sink"));

        let latin1 = dir.write("latin1.properties", b"name=caf\xe9\n");
        assert_eq!(
            load_connector_config(&latin1).unwrap().name.as_deref(),
            Some("café")
        );
        let bad_json = dir.write("latin1.json", b"{\"name\": \"caf\xe9\"}");
        let msg = load_connector_config(&bad_json).unwrap_err().to_string();
        assert!(
            msg.contains("latin1.json") && msg.contains("UTF-8"),
            "{msg}"
        );

        let worker = dir.write(
            "worker.properties",
            b"bootstrap.servers=localhost:9092\n# comment\nkey.converter=org.apache.kafka.connect.json.JsonConverter\n",
        );
        let config = load_worker_config(&worker).unwrap();
        assert_eq!(config.len(), 2);
        assert_eq!(config["bootstrap.servers"], "localhost:9092");

        let missing = dir.0.join("missing.properties");
        for err in [
            load_worker_config(&missing).unwrap_err(),
            load_connector_config(&missing).unwrap_err(),
        ] {
            assert!(matches!(err, ConnectError::Config(_)));
            let msg = err.to_string();
            assert!(msg.contains("missing.properties"), "{msg}");
            assert!(msg.contains("os error"), "{msg}");
        }
    }

    #[test]
    fn never_panics() {
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        const PIECES: &[&str] = &[
            "{",
            "}",
            "[",
            "]",
            "\"name\"",
            "\"config\"",
            ":",
            ",",
            "\"a\"",
            "1",
            "null",
            "true",
            "\\",
            "\n",
            " ",
            "=",
        ];
        for _ in 0..5_000 {
            let len = (next() % 16) as usize;
            let text: String = (0..len)
                .map(|_| PIECES[(next() % PIECES.len() as u64) as usize])
                .collect();
            let _ = parse(&text, "f.json");
            let _ = parse(&text, "f.properties");
        }
        for end in 0..JDBC.len() {
            if let Some(prefix) = JDBC.get(..end) {
                let _ = parse(prefix, "f");
            }
        }
    }
}
