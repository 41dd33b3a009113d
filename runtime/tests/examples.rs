//! Every file under `examples/` is covered: worker properties parse into a worker config,
//! connector configs (properties and the seed's REST JSON) validate against their connector's
//! declaration through the same path as `PUT /connector-plugins/{class}/config/validate`, every
//! file has a one-line description, and `examples/README.md` lists every file. Kubernetes YAML is
//! applied against a real API server by `operator/tests/chart.rs`.
//!
//! No services needed: `cargo test -p ferry-runtime --test examples`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ferry_runtime::config::files::{load_connector_config, load_worker_config};
use ferry_runtime::config::worker::WorkerConfig;
use ferry_runtime::herder::{Herder, StandaloneHerder};
use ferry_runtime::plugins::Registry;
use ferry_runtime::storage::{FileOffsetStore, StatusStore};
use ferry_runtime::worker::WorkerContext;

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

/// Every file under `examples/`, as paths relative to it (`standalone/run.sh`), sorted.
fn example_files() -> Vec<String> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
        let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                walk(&path, root, out);
            } else {
                let rel = path.strip_prefix(root).expect("under examples/");
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let root = examples_dir();
    let mut files = Vec::new();
    walk(&root, &root, &mut files);
    files.sort();
    files
}

fn files_with(ext: &str) -> Vec<String> {
    example_files()
        .into_iter()
        .filter(|f| f.ends_with(ext))
        .collect()
}

/// How each kind of file is checked; a file of any other kind fails [`every_file_is_covered`].
#[derive(Debug, PartialEq)]
enum Kind {
    /// `.properties` and `.json`: parsed and validated here.
    Config,
    /// `.yaml`: applied with `kubectl apply --dry-run=server` by `operator/tests/chart.rs`.
    Kubernetes,
    /// `.sh`: a script; checked for a description and the executable bit.
    Script,
    /// `.sql`: a database script run by `runtime/tests/seed_pipeline.rs`.
    Sql,
    /// `README.md`: the index of the examples.
    Index,
}

fn kind(file: &str) -> Option<Kind> {
    if file.ends_with(".properties") || file.ends_with(".json") {
        Some(Kind::Config)
    } else if file.starts_with("kubernetes/") && file.ends_with(".yaml") {
        Some(Kind::Kubernetes)
    } else if file.ends_with(".sh") {
        Some(Kind::Script)
    } else if file.ends_with(".sql") {
        Some(Kind::Sql)
    } else if file == "README.md" {
        Some(Kind::Index)
    } else {
        None
    }
}

#[test]
fn every_file_is_covered() {
    let files = example_files();
    assert!(
        files.len() >= 14,
        "expected the shipped examples, found {files:?}"
    );
    let uncovered: Vec<&String> = files.iter().filter(|f| kind(f).is_none()).collect();
    assert!(
        uncovered.is_empty(),
        "examples without a test: {uncovered:?} — add a check for their kind to \
         runtime/tests/examples.rs (or operator/tests/chart.rs for Kubernetes YAML)"
    );
}

#[test]
fn readme_lists_every_file_and_nothing_else() {
    let readme = std::fs::read_to_string(examples_dir().join("README.md")).expect("README.md");
    // Rows of the table: "| `path` | description |".
    let listed: BTreeSet<String> = readme
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split_once('`'))
        .map(|(path, rest)| {
            let description = rest.trim_start_matches(" |").trim().trim_end_matches('|');
            assert!(
                description.trim().len() > 10,
                "examples/README.md: the row of {path} has no description"
            );
            path.to_owned()
        })
        .collect();
    let present: BTreeSet<String> = example_files()
        .into_iter()
        .filter(|f| f != "README.md")
        .collect();
    let missing: Vec<_> = present.difference(&listed).collect();
    let stale: Vec<_> = listed.difference(&present).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "examples/README.md is out of date: files without a row {missing:?}, rows without a \
         file {stale:?}"
    );
}

/// Every file but JSON (which cannot hold comments; its description is the README row) opens
/// with a one-line `#` description (after the shebang of a script, and a YAML document's
/// `---`-free first line).
#[test]
fn every_commentable_file_starts_with_a_description() {
    for file in example_files() {
        if file.ends_with(".json") || file.ends_with(".md") {
            continue;
        }
        let text = std::fs::read_to_string(examples_dir().join(&file)).expect("read example");
        let mut lines = text.lines();
        let mut first = lines.next().unwrap_or_default();
        if first.starts_with("#!") {
            first = lines.next().unwrap_or_default();
        }
        let marker = if file.ends_with(".sql") { "-- " } else { "# " };
        let description = first.strip_prefix(marker).unwrap_or_default();
        assert!(
            description.len() > 20,
            "examples/{file} must start with a one-line `{marker}description`, found {first:?}"
        );
    }
}

#[cfg(unix)]
#[test]
fn scripts_are_executable() {
    use std::os::unix::fs::PermissionsExt;
    for file in files_with(".sh") {
        let mode = std::fs::metadata(examples_dir().join(&file))
            .expect("metadata")
            .permissions()
            .mode();
        assert!(mode & 0o111 != 0, "examples/{file} is not executable");
    }
}

/// Whether a properties file is a worker config (no `connector.class`).
fn is_worker_config(props: &std::collections::BTreeMap<String, String>) -> bool {
    !props.contains_key("connector.class")
}

#[test]
fn worker_properties_parse_into_worker_configs() {
    let mut workers = Vec::new();
    for file in files_with(".properties") {
        let path = examples_dir().join(&file);
        let props = load_worker_config(&path).unwrap_or_else(|e| panic!("examples/{file}: {e}"));
        if !is_worker_config(&props) {
            continue;
        }
        let config = if props.contains_key("group.id") {
            WorkerConfig::distributed(&props)
        } else {
            WorkerConfig::standalone(&props)
        };
        config.unwrap_or_else(|e| panic!("examples/{file} is not a valid worker config: {e}"));
        workers.push(file);
    }
    assert_eq!(
        workers,
        [
            "distributed/connect-distributed.properties",
            "standalone/connect-standalone.properties"
        ]
    );
}

/// A standalone herder with the example worker config, whose `validate` is what
/// `PUT /connector-plugins/{class}/config/validate` answers.
fn herder(dir: &Path) -> StandaloneHerder {
    let props =
        load_worker_config(&examples_dir().join("standalone/connect-standalone.properties"))
            .expect("worker properties");
    let config = WorkerConfig::standalone(&props).expect("worker config");
    let ctx = WorkerContext {
        worker_id: "127.0.0.1:8083".into(),
        config: Arc::new(config),
        registry: Arc::new(Registry::builtin()),
        offsets: Arc::new(FileOffsetStore::open(dir.join("offsets")).expect("offset store")),
        status: Arc::new(StatusStore::default()),
        providers: Arc::default(),
        metrics: Arc::default(),
    };
    StandaloneHerder::start(ctx)
}

#[tokio::test]
async fn connector_configs_validate_against_their_connectors() {
    let dir = tempfile::tempdir().expect("temp dir");
    let herder = herder(dir.path());
    let mut validated = Vec::new();
    for file in example_files()
        .into_iter()
        .filter(|f| f.ends_with(".properties") || f.ends_with(".json"))
    {
        let path = examples_dir().join(&file);
        let loaded =
            load_connector_config(&path).unwrap_or_else(|e| panic!("examples/{file}: {e}"));
        if is_worker_config(&loaded.config) {
            continue;
        }
        let name = loaded
            .name
            .unwrap_or_else(|| panic!("examples/{file} names no connector"));
        let infos = herder
            .validate(&loaded.config)
            .await
            .unwrap_or_else(|e| panic!("examples/{file}: validation refused: {e}"));
        assert_eq!(
            infos.error_count,
            0,
            "examples/{file} does not validate: {:?}",
            infos.error_lines()
        );
        validated.push((file, name, infos.name));
    }
    let expected = [
        (
            "rest/es-sink-mysql-sampleData-01.json",
            "es-sink-mysql-sampleData-01",
            "io.confluent.connect.elasticsearch.ElasticsearchSinkConnector",
        ),
        (
            "rest/jdbc_source_mysql_sample_01.json",
            "jdbc_source_mysql_sample_01",
            "io.confluent.connect.jdbc.JdbcSourceConnector",
        ),
        (
            "standalone/connect-file-sink.properties",
            "local-file-sink",
            "org.apache.kafka.connect.file.FileStreamSinkConnector",
        ),
        (
            "standalone/connect-file-source.properties",
            "local-file-source",
            "org.apache.kafka.connect.file.FileStreamSourceConnector",
        ),
        (
            "standalone/elasticsearch-sink.properties",
            "elasticsearch-sink",
            "io.confluent.connect.elasticsearch.ElasticsearchSinkConnector",
        ),
    ];
    let got: Vec<(&str, &str, &str)> = validated
        .iter()
        .map(|(f, n, c)| (f.as_str(), n.as_str(), c.as_str()))
        .collect();
    assert_eq!(got, expected);
}

/// The validation above can fail: a broken copy of an example is refused with the key named.
#[tokio::test]
async fn a_broken_example_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let herder = herder(dir.path());
    let path = examples_dir().join("standalone/elasticsearch-sink.properties");
    let mut config = load_connector_config(&path).expect("load").config;
    config.remove("connection.url");
    config.insert("batch.size".into(), "lots".into());
    let infos = herder.validate(&config).await.expect("validate");
    let errors = infos.error_lines().join("\n");
    let keys: Vec<&str> = infos
        .configs
        .iter()
        .filter(|c| !c.value.errors.is_empty())
        .map(|c| c.value.name.as_str())
        .collect();
    assert_eq!(keys, ["connection.url", "batch.size"], "{errors}");
    assert!(errors.contains("Not a number of type INT"), "{errors}");
    assert!(
        errors.contains("Missing required configuration"),
        "{errors}"
    );
}

/// The REST examples are the seed's JSON, byte for byte: the repeated `_comment` keys included.
#[test]
fn rest_examples_are_the_seeds_configs_verbatim() {
    let text =
        std::fs::read_to_string(examples_dir().join("rest/jdbc_source_mysql_sample_01.json"))
            .expect("read");
    assert_eq!(text.matches("\"_comment\"").count(), 11);
    let loaded =
        load_connector_config(&examples_dir().join("rest/jdbc_source_mysql_sample_01.json"))
            .expect("load");
    assert_eq!(
        loaded.config["connector.class"],
        "io.confluent.connect.jdbc.JdbcSourceConnector"
    );
    assert_eq!(loaded.config["mode"], "timestamp");
    assert_eq!(loaded.config["name"], "jdbc_source_mysql_sample_01");
}
