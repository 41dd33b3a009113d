//! The transforms a task applies, in order, each behind its optional predicate.

use std::collections::HashMap;
use std::sync::Arc;

use super::enrich::{self, NEGATE, PREDICATE};
use super::{Predicate, RecordContext, TransformError, Transformation};
use crate::config::def::with_prefix;
use crate::config::{ConfigKey, ConfigType, Props};
use crate::data::{ConnectRecord, SinkRecord, SourceRecord};
use crate::errors::{ConnectError, Result};
use crate::plugins::{Factory, Registry};

/// A record a chain can transform: a source or a sink record.
pub trait TransformableRecord {
    fn connect_mut(&mut self) -> &mut ConnectRecord;
    fn context(&self) -> RecordContext;
    /// Where in its partition the record is, for error messages.
    fn offset(&self) -> String;
}

impl TransformableRecord for SourceRecord {
    fn connect_mut(&mut self) -> &mut ConnectRecord {
        &mut self.record
    }
    fn context(&self) -> RecordContext {
        RecordContext { kafka_offset: None }
    }
    fn offset(&self) -> String {
        serde_json::Value::Object(self.source_offset.clone()).to_string()
    }
}

impl TransformableRecord for SinkRecord {
    fn connect_mut(&mut self) -> &mut ConnectRecord {
        &mut self.record
    }
    fn context(&self) -> RecordContext {
        RecordContext {
            kafka_offset: Some(self.kafka_offset),
        }
    }
    fn offset(&self) -> String {
        self.kafka_offset.to_string()
    }
}

struct Step {
    alias: String,
    class: &'static str,
    transform: Box<dyn Transformation>,
    /// The predicate and whether it is negated.
    predicate: Option<(Arc<dyn Predicate>, bool)>,
}

/// The configured transforms of a connector, built once per task.
#[derive(Default)]
pub struct TransformChain {
    steps: Vec<Step>,
}

impl std::fmt::Debug for TransformChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.steps.iter().map(|s| (&s.alias, s.class)))
            .finish()
    }
}

fn list(props: &Props, key: &str) -> Result<Vec<String>> {
    match props.get(key) {
        None => Ok(Vec::new()),
        Some(raw) => match ConfigKey::new(key, ConfigType::List).parse(raw) {
            Ok(crate::config::def::Parsed::List(items)) => Ok(items),
            _ => Err(ConnectError::config(format!(
                "Invalid value {raw} for configuration {key}"
            ))),
        },
    }
}

impl TransformChain {
    /// A chain that passes every record through.
    pub fn none() -> Self {
        TransformChain::default()
    }

    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// Builds the chain a connector's `transforms` and `predicates` describe. Errors name
    /// the alias and the key.
    pub fn from_config(registry: &Registry, connector: &Props) -> Result<Self> {
        let aliases = list(connector, "transforms")?;
        let mut seen = std::collections::HashSet::new();
        if let Some(dup) = aliases.iter().find(|a| !seen.insert(a.as_str())) {
            return Err(ConnectError::config(format!(
                "Invalid value {} for configuration transforms: Duplicate alias provided ({dup}).",
                connector.get("transforms").map_or("", String::as_str)
            )));
        }
        // Every declared key of every transform and predicate, checked as /validate does.
        let def = enrich::enrich_def(registry, connector);
        let infos = def.config_infos("", connector);
        let mut errors = infos.error_lines();
        errors.extend(enrich::cross_errors(connector).into_iter().map(|(_, e)| e));
        if !errors.is_empty() {
            return Err(ConnectError::config(format!(
                "Invalid transformation configuration: {}",
                errors.join("; ")
            )));
        }
        let mut predicates: HashMap<String, Arc<dyn Predicate>> = HashMap::new();
        let mut steps = Vec::with_capacity(aliases.len());
        for alias in aliases {
            let prefix = format!("transforms.{alias}.");
            let type_key = format!("{prefix}type");
            let class = connector.get(&type_key).map(|s| s.trim()).unwrap_or("");
            let (plugin, factory) = match registry.find(class) {
                Some(
                    p @ crate::plugins::Plugin {
                        factory: Factory::Transformation(f),
                        ..
                    },
                ) => (p, *f),
                _ => {
                    return Err(ConnectError::config(format!(
                        "Invalid value {class} for configuration {type_key}: not a transformation"
                    )));
                }
            };
            let mut own = with_prefix(connector, &prefix);
            let predicate_alias = own.remove(PREDICATE).filter(|p| !p.trim().is_empty());
            let negate = own
                .remove(NEGATE)
                .is_some_and(|n| n.trim().eq_ignore_ascii_case("true"));
            let wrap = |e: ConnectError| {
                ConnectError::config(format!(
                    "Could not configure transformation '{alias}' ({}): {e}",
                    plugin.class
                ))
            };
            let parsed = (plugin.config_def)().parse(&own).map_err(wrap)?;
            let transform = factory(&parsed).map_err(wrap)?;
            let predicate = match predicate_alias {
                None => None,
                Some(p) => {
                    let p = p.trim().to_owned();
                    let built = match predicates.get(&p) {
                        Some(built) => built.clone(),
                        None => {
                            let built = build_predicate(registry, connector, &alias, &p)?;
                            predicates.insert(p.clone(), built.clone());
                            built
                        }
                    };
                    Some((built, negate))
                }
            };
            steps.push(Step {
                alias,
                class: plugin.class,
                transform,
                predicate,
            });
        }
        Ok(TransformChain { steps })
    }

    /// Applies every transform in order; `None` when one of them dropped the record.
    pub fn apply<R: TransformableRecord>(
        &mut self,
        mut record: R,
    ) -> std::result::Result<Option<R>, Box<TransformError>> {
        if self.steps.is_empty() {
            return Ok(Some(record));
        }
        let ctx = record.context();
        for step in &mut self.steps {
            let connect = record.connect_mut();
            if let Some((p, negate)) = &step.predicate
                && p.test(connect) == *negate
            {
                continue;
            }
            let taken = std::mem::take(connect);
            let (topic, partition) = (taken.topic.clone(), taken.partition);
            match step.transform.apply(taken, &ctx) {
                Ok(Some(out)) => *record.connect_mut() = out,
                Ok(None) => return Ok(None),
                Err(source) => {
                    let partition =
                        partition.map_or_else(|| "unassigned".to_owned(), |p| p.to_string());
                    let offset = record.offset();
                    return Err(Box::new(TransformError {
                        alias: step.alias.clone(),
                        class: step.class.to_owned(),
                        topic,
                        partition,
                        offset,
                        source,
                    }));
                }
            }
        }
        Ok(Some(record))
    }
}

fn build_predicate(
    registry: &Registry,
    connector: &Props,
    transform: &str,
    alias: &str,
) -> Result<Arc<dyn Predicate>> {
    let prefix = format!("predicates.{alias}.");
    let type_key = format!("{prefix}type");
    let Some(class) = connector.get(&type_key).map(|c| c.trim()) else {
        return Err(ConnectError::config(format!(
            "transforms.{transform}.predicate names the predicate '{alias}', but \"{type_key}\" is not set"
        )));
    };
    match registry.find(class) {
        Some(
            p @ crate::plugins::Plugin {
                factory: Factory::Predicate(f),
                ..
            },
        ) => {
            let wrap = |e: ConnectError| {
                ConnectError::config(format!(
                    "Could not configure predicate '{alias}' ({}): {e}",
                    p.class
                ))
            };
            let parsed = (p.config_def)()
                .parse(&with_prefix(connector, &prefix))
                .map_err(wrap)?;
            Ok(Arc::from(f(&parsed).map_err(wrap)?))
        }
        _ => Err(ConnectError::config(format!(
            "Invalid value {class} for configuration {type_key}: not a predicate"
        ))),
    }
}
