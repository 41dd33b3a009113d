//! `docs/configuration.md` is what `ferry docs config` generates from the config declarations
//! (as crds/ferry-crds.yaml is checked against the CRD types).

use std::path::Path;

use ferry_runtime::docs::{REGENERATE, configuration_reference};
use ferry_runtime::plugins::Registry;

#[test]
fn committed_configuration_reference_is_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/configuration.md");
    let generated = configuration_reference(&Registry::builtin());
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != generated {
        let first_difference = committed
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .map_or_else(
                || "one file is a prefix of the other".to_owned(),
                |i| format!("first difference at line {}", i + 1),
            );
        panic!(
            "{} is out of date with the config declarations ({first_difference}).\n\
             Regenerate it from the workspace root with:\n\n    {REGENERATE}\n",
            path.display()
        );
    }
}

/// The generated file documents what a user looks for: the seed's keys with their defaults.
#[test]
fn reference_covers_worker_connectors_and_converters() {
    let doc = configuration_reference(&Registry::builtin());
    for needle in [
        "## Worker",
        "| `bootstrap.servers` |",
        "| `offset.storage.file.filename` |",
        "| `group.id` |",
        "## Every connector",
        "| `connector.class` |",
        "### ElasticsearchSinkConnector",
        "| `key.ignore` | boolean | `false` |",
        "### JdbcSourceConnector",
        "| `mode` |",
        "### FileStreamSourceConnector",
        "### JsonConverter",
        "### AvroConverter",
    ] {
        assert!(doc.contains(needle), "missing {needle:?}");
    }
}
