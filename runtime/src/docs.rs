//! Reference documentation generated from the config declarations: `ferry docs config` prints
//! `docs/configuration.md` — the worker's keys, the keys every connector takes, then every plugin
//! of the registry with its own keys. It iterates the registry, so a plugin registered in
//! [`Registry::builtin`] (a transform, a converter, a connector) appears without touching this
//! file; `runtime/tests/docs.rs` fails when the committed file is stale.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::config::connector::{base_def, sink_def};
use crate::config::def::{ConfigKey, Default, Recommender};
use crate::config::worker::{distributed_def, standalone_def};
use crate::config::{ConfigDef, ConfigType, Importance};
use crate::plugins::{Plugin, PluginType, Registry};

/// The command that regenerates the committed file (from the workspace root).
pub const REGENERATE: &str =
    "cargo run -p ferry-runtime --bin ferry -- docs config > docs/configuration.md";

/// Section title and position of each plugin type. Exhaustive on purpose: a new plugin type
/// must get a section.
fn section(ty: PluginType) -> (u8, &'static str) {
    match ty {
        PluginType::Source => (0, "Source connectors"),
        PluginType::Sink => (1, "Sink connectors"),
        PluginType::Converter => (2, "Converters"),
        PluginType::HeaderConverter => (3, "Header converters"),
        PluginType::Transformation => (4, "Transformations"),
        PluginType::Predicate => (5, "Predicates"),
    }
}

/// The whole reference, as Markdown.
pub fn configuration_reference(registry: &Registry) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<!-- Generated from the config declarations by `{REGENERATE}`; do not edit. -->\n"
    );
    out.push_str("# Configuration reference\n\n");
    out.push_str(
        "Every key Ferry declares, as `GET /connector-plugins/{plugin}/config` and \
         `PUT /connector-plugins/{plugin}/config/validate` know them. Keys are listed as Kafka's \
         `ConfigDef` documents them: required keys first, then by importance, then by name. \
         Keys a plugin does not declare are ignored with a warning, as Kafka Connect does.\n\n",
    );

    let standalone = standalone_def();
    let distributed = distributed_def();
    let names = |def: &ConfigDef| -> BTreeSet<String> {
        def.keys().iter().map(|k| k.name.clone()).collect()
    };
    let (s_names, d_names) = (names(&standalone), names(&distributed));
    out.push_str("## Worker\n\n");
    out.push_str(
        "The worker properties file of `ferry standalone WORKER.properties ...` and \
         `ferry distributed WORKER.properties` (and `ConnectCluster.spec.config`). \
         `producer.*`, `consumer.*` and `admin.*` keys configure the tasks' Kafka clients, \
         `key.converter.*` / `value.converter.*` the worker's converters.\n\n",
    );
    out.push_str("### Both modes\n\n");
    table(
        &mut out,
        standalone
            .keys()
            .iter()
            .filter(|k| d_names.contains(&k.name)),
    );
    out.push_str("### Standalone only\n\n");
    table(
        &mut out,
        standalone
            .keys()
            .iter()
            .filter(|k| !d_names.contains(&k.name)),
    );
    out.push_str("### Distributed only\n\n");
    table(
        &mut out,
        distributed
            .keys()
            .iter()
            .filter(|k| !s_names.contains(&k.name)),
    );

    let base = base_def();
    let base_names = names(&base);
    out.push_str("## Every connector\n\n");
    out.push_str("Keys every connector config takes, besides its own (listed below).\n\n");
    table(&mut out, base.keys().iter());
    out.push_str("### Sink connectors also take\n\n");
    let sink = sink_def();
    table(
        &mut out,
        sink.keys().iter().filter(|k| !base_names.contains(&k.name)),
    );

    let mut plugins: Vec<&Plugin> = registry.plugins().iter().collect();
    plugins.sort_by_key(|p| (section(p.plugin_type()).0, p.class));
    let mut current = None;
    for plugin in plugins {
        let (order, title) = section(plugin.plugin_type());
        if current != Some(order) {
            let _ = writeln!(out, "## {title}\n");
            current = Some(order);
        }
        plugin_section(&mut out, plugin);
    }
    // One newline at the end, as editors and `git diff --check` expect.
    let mut out = out.trim_end().to_owned();
    out.push('\n');
    out
}

fn plugin_section(out: &mut String, plugin: &Plugin) {
    let _ = writeln!(out, "### {}\n", plugin.simple_name());
    let aliases: Vec<String> = plugin
        .aliases()
        .iter()
        .skip(1)
        .map(|a| format!("`{a}`"))
        .collect();
    let _ = writeln!(
        out,
        "`{}` (also {}), version {}.\n",
        plugin.class,
        aliases.join(", "),
        plugin.version
    );
    let def = (plugin.config_def)();
    if def.keys().is_empty() {
        out.push_str("Declares no keys of its own.\n\n");
    } else {
        table(out, def.keys().iter());
    }
}

/// A table of `keys` in Kafka's documentation order.
fn table<'a>(out: &mut String, keys: impl Iterator<Item = &'a ConfigKey>) {
    let mut keys: Vec<&ConfigKey> = keys.collect();
    if keys.is_empty() {
        out.push_str("None.\n\n");
        return;
    }
    keys.sort_by(|a, b| {
        (!a.required(), importance_rank(a.importance), &a.name).cmp(&(
            !b.required(),
            importance_rank(b.importance),
            &b.name,
        ))
    });
    out.push_str("| key | type | default | valid values | importance | description |\n");
    out.push_str("| --- | --- | --- | --- | --- | --- |\n");
    for k in keys {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} | {} |",
            k.name,
            type_name(k.ty),
            default(k),
            cell(&valid_values(k)),
            importance_name(k.importance),
            cell(&k.documentation)
        );
    }
    out.push('\n');
}

fn importance_rank(i: Importance) -> u8 {
    match i {
        Importance::High => 0,
        Importance::Medium => 1,
        Importance::Low => 2,
    }
}

fn importance_name(i: Importance) -> &'static str {
    match i {
        Importance::High => "high",
        Importance::Medium => "medium",
        Importance::Low => "low",
    }
}

fn type_name(t: ConfigType) -> &'static str {
    match t {
        ConfigType::Boolean => "boolean",
        ConfigType::String => "string",
        ConfigType::Int => "int",
        ConfigType::Short => "short",
        ConfigType::Long => "long",
        ConfigType::Double => "double",
        ConfigType::List => "list",
        ConfigType::Class => "class",
        ConfigType::Password => "password",
    }
}

fn default(k: &ConfigKey) -> String {
    match &k.default {
        Default::Required => "*required*".to_owned(),
        Default::Null => "null".to_owned(),
        Default::Value(_) => match k.default_string() {
            Some(v) if v.is_empty() => "`\"\"`".to_owned(),
            Some(v) => code(&v),
            None => "null".to_owned(),
        },
    }
}

/// The validator's rule, else the fixed recommended values.
fn valid_values(k: &ConfigKey) -> String {
    let rule = k
        .validator
        .as_ref()
        .map(|v| v.describe())
        .unwrap_or_default();
    if !rule.is_empty() {
        return rule;
    }
    match &k.recommender {
        Some(Recommender::Values(values)) if !values.is_empty() => {
            format!("[{}]", values.join(", "))
        }
        _ => String::new(),
    }
}

/// Inline code that survives backticks and pipes inside.
fn code(v: &str) -> String {
    let v = v.replace('|', "\\|");
    if v.contains('`') {
        format!("`` {v} ``")
    } else {
        format!("`{v}`")
    }
}

/// A table cell: one line, pipes escaped.
fn cell(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_registered_plugin_has_a_section() {
        let registry = Registry::builtin();
        let doc = configuration_reference(&registry);
        for p in registry.plugins() {
            assert!(
                doc.contains(&format!("### {}\n\n`{}`", p.simple_name(), p.class)),
                "{} missing",
                p.class
            );
        }
    }

    #[test]
    fn keys_show_type_default_rule_and_escaped_docs() {
        let def = ConfigDef::new()
            .define(
                ConfigKey::new("b.mode", ConfigType::String)
                    .default_value("x")
                    .importance(Importance::Low)
                    .validator(crate::config::Validator::OneOf(&["x", "y"]))
                    .doc("Pick one |\n  of two."),
            )
            .define(
                ConfigKey::new("a.url", ConfigType::String)
                    .importance(Importance::Low)
                    .doc("Where."),
            )
            .define(
                ConfigKey::new("c.size", ConfigType::Int)
                    .default_value("5")
                    .importance(Importance::High)
                    .doc("How many."),
            );
        let mut out = String::new();
        table(&mut out, def.keys().iter());
        let rows: Vec<&str> = out.lines().skip(2).filter(|l| !l.is_empty()).collect();
        assert_eq!(
            rows,
            [
                "| `a.url` | string | *required* |  | low | Where. |",
                "| `c.size` | int | `5` |  | high | How many. |",
                "| `b.mode` | string | `x` | [x, y] | low | Pick one \\| of two. |",
            ]
        );
    }
}
