//! The keys a connector's `transforms` and `predicates` add to its declaration, as Kafka's
//! `ConnectorConfig.enrich` adds them: per alias, `transforms.NAME.type` then the
//! transform's own keys (with the implicit `predicate` and `negate`), under the group
//! `Transforms: NAME`; likewise `predicates.NAME.*` under `Predicates: NAME`.

use crate::config::def::{ConfigKey, Parsed, Recommender, Validator};
use crate::config::{ConfigDef, ConfigType, Importance, Props, Width};
use crate::plugins::{Factory, Registry};

pub const PREDICATE: &str = "predicate";
pub const NEGATE: &str = "negate";

#[derive(Clone, Copy)]
enum Kind {
    Transformation,
    Predicate,
}

impl Kind {
    fn config(self) -> &'static str {
        match self {
            Kind::Transformation => "transforms",
            Kind::Predicate => "predicates",
        }
    }
    fn group(self) -> &'static str {
        match self {
            Kind::Transformation => "Transforms",
            Kind::Predicate => "Predicates",
        }
    }
    fn name(self) -> &'static str {
        match self {
            Kind::Transformation => "Transformation",
            Kind::Predicate => "Predicate",
        }
    }
    fn matches(self, f: &Factory) -> bool {
        matches!(
            (self, f),
            (Kind::Transformation, Factory::Transformation(_))
                | (Kind::Predicate, Factory::Predicate(_))
        )
    }
}

fn check_class(kind: Kind, v: &Parsed) -> Result<(), String> {
    let Parsed::Str(class) = v else {
        return Ok(());
    };
    match Registry::builtin().find(class) {
        None => Err(format!("Class {class} could not be found.")),
        Some(p) if !kind.matches(&p.factory) => Err(format!("Not a {}", kind.name())),
        Some(_) => Ok(()),
    }
}

fn check_transformation(v: &Parsed) -> Result<(), String> {
    check_class(Kind::Transformation, v)
}

fn check_predicate(v: &Parsed) -> Result<(), String> {
    check_class(Kind::Predicate, v)
}

fn classes(kind: Kind) -> Vec<String> {
    let mut out: Vec<String> = Registry::builtin()
        .plugins()
        .iter()
        .filter(|p| kind.matches(&p.factory))
        .map(|p| p.class.to_owned())
        .collect();
    out.sort();
    out
}

fn transformation_classes(_: &Props) -> Vec<String> {
    classes(Kind::Transformation)
}

fn predicate_classes(_: &Props) -> Vec<String> {
    classes(Kind::Predicate)
}

/// The aliases listed under `key`, without repeats, in order.
fn aliases(props: &Props, key: &str) -> Vec<String> {
    let Some(raw) = props.get(key) else {
        return Vec::new();
    };
    let mut out: Vec<String> = Vec::new();
    if let Ok(Parsed::List(items)) = ConfigKey::new(key, ConfigType::List).parse(raw) {
        for a in items {
            if !out.contains(&a) {
                out.push(a);
            }
        }
    }
    out
}

/// `ConfigDef.sortedConfigs`: by group order, order in group, required first, importance,
/// then name.
fn sorted(def: &ConfigDef) -> Vec<ConfigKey> {
    let groups = def.groups();
    let group_ord = |k: &ConfigKey| -> i64 {
        k.group
            .as_ref()
            .and_then(|g| groups.iter().position(|x| x == g))
            .map_or(-1, |p| p as i64)
    };
    let importance = |k: &ConfigKey| match k.importance {
        Importance::High => 0,
        Importance::Medium => 1,
        Importance::Low => 2,
    };
    let mut keys = def.keys().to_vec();
    keys.sort_by(|a, b| {
        (group_ord(a), a.order, !a.required(), importance(a), &a.name).cmp(&(
            group_ord(b),
            b.order,
            !b.required(),
            importance(b),
            &b.name,
        ))
    });
    keys
}

/// `ConfigDef.embed`: the child's keys under `prefix`, in `group`, numbered from `start`.
fn embed(
    mut into: ConfigDef,
    prefix: &str,
    group: &str,
    start: i32,
    child: &ConfigDef,
) -> ConfigDef {
    for (i, k) in sorted(child).into_iter().enumerate() {
        let mut k = k;
        k.name = format!("{prefix}{}", k.name);
        k.group = Some(match &k.group {
            Some(g) => format!("{group}: {g}"),
            None => group.to_owned(),
        });
        k.order = start + i as i32;
        k.dependents = k
            .dependents
            .iter()
            .map(|d| format!("{prefix}{d}"))
            .collect();
        into = into.define(k);
    }
    into
}

/// The implicit keys of every transformation.
fn implicit() -> ConfigDef {
    ConfigDef::new()
        .define(
            ConfigKey::new(PREDICATE, ConfigType::String)
                .default_value("")
                .importance(Importance::Medium)
                .doc("The alias of a predicate used to determine whether to apply this transformation."),
        )
        .define(
            ConfigKey::new(NEGATE, ConfigType::Boolean)
                .default_value("false")
                .importance(Importance::Medium)
                .doc("Whether the configured predicate should be negated."),
        )
}

fn enrich_kind(mut def: ConfigDef, registry: &Registry, props: &Props, kind: Kind) -> ConfigDef {
    for alias in aliases(props, kind.config()) {
        let prefix = format!("{}.{alias}.", kind.config());
        let group = format!("{}: {alias}", kind.group());
        let type_key = format!("{prefix}type");
        let (validator, recommender): (Validator, Recommender) = match kind {
            Kind::Transformation => (
                Validator::Custom(check_transformation),
                Recommender::Dynamic(transformation_classes),
            ),
            Kind::Predicate => (
                Validator::Custom(check_predicate),
                Recommender::Dynamic(predicate_classes),
            ),
        };
        def = def.define(
            ConfigKey::new(&type_key, ConfigType::Class)
                .importance(Importance::High)
                .doc(format!(
                    "Class for the '{alias}' {}.",
                    kind.name().to_ascii_lowercase()
                ))
                .group(&group, 0)
                .width(Width::Long)
                .display(format!("{} type for {alias}", kind.name()))
                .validator(validator)
                .recommender(recommender),
        );
        let plugin = props
            .get(&type_key)
            .and_then(|c| registry.find(c))
            .filter(|p| kind.matches(&p.factory));
        let Some(plugin) = plugin else { continue };
        let child = match kind {
            Kind::Transformation => {
                let own = (plugin.config_def)();
                let mut child = implicit();
                for k in own.keys() {
                    // The implicit keys mask any of the transform's own with their names.
                    if k.name != PREDICATE && k.name != NEGATE {
                        child = child.define(k.clone());
                    }
                }
                child
            }
            Kind::Predicate => (plugin.config_def)(),
        };
        def = embed(def, &prefix, &group, 1, &child);
    }
    def
}

/// The keys `transforms` and `predicates` add to a connector's declaration for these settings.
pub fn enrich_def(registry: &Registry, props: &Props) -> ConfigDef {
    let def = enrich_kind(ConfigDef::new(), registry, props, Kind::Transformation);
    enrich_kind(def, registry, props, Kind::Predicate)
}

/// Checks across keys: `negate` without `predicate` (reported on the `type` key, as Kafka
/// does), and a predicate alias with no `predicates.NAME.type`. Answers (key, message).
pub fn cross_errors(props: &Props) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for alias in aliases(props, "transforms") {
        let prefix = format!("transforms.{alias}.");
        let negate = format!("{prefix}{NEGATE}");
        let predicate = format!("{prefix}{PREDICATE}");
        if props.contains_key(&negate) && !props.contains_key(&predicate) {
            out.push((
                format!("{prefix}type"),
                format!(
                    "Config '{negate}' was provided but there is no config '{predicate}' defining a predicate to be negated."
                ),
            ));
        }
        if let Some(p) = props
            .get(&predicate)
            .map(|p| p.trim())
            .filter(|p| !p.is_empty())
            && !props.contains_key(&format!("predicates.{p}.type"))
        {
            out.push((
                predicate.clone(),
                format!(
                    "Invalid value {p} for configuration {predicate}: no predicate named '{p}' is configured (predicates.{p}.type is not set)"
                ),
            ));
        }
    }
    out
}

/// Adds [`cross_errors`] to a validation answer.
pub fn add_cross_errors(props: &Props, infos: &mut crate::config::def::ConfigInfos) {
    for (key, msg) in cross_errors(props) {
        if let Some(c) = infos.configs.iter_mut().find(|c| c.value.name == key) {
            c.value.errors.push(msg);
            infos.error_count += 1;
        }
    }
}
