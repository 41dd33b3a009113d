//! The transforms a task applies, in order, each behind its optional predicate.

use std::collections::HashMap;
use std::sync::Arc;

use super::enrich::{self, NEGATE, PREDICATE};
use super::{Applied, Predicate, RecordContext, TransformError, Transformation};
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

    /// Applies every transform in order, in place; `Dropped` when one of them dropped the
    /// record.
    pub fn apply<R: TransformableRecord>(
        &mut self,
        record: &mut R,
    ) -> std::result::Result<Applied, Box<TransformError>> {
        if self.steps.is_empty() {
            return Ok(Applied::Kept);
        }
        let ctx = record.context();
        for step in &mut self.steps {
            let connect = record.connect_mut();
            if let Some((p, negate)) = &step.predicate
                && p.test(connect) == *negate
            {
                continue;
            }
            match step.transform.apply_mut(connect, &ctx) {
                Ok(Applied::Kept) => {}
                Ok(Applied::Dropped) => return Ok(Applied::Dropped),
                Err(source) => {
                    // A failing transform leaves the topic and partition as it found them.
                    let partition = connect
                        .partition
                        .map_or_else(|| "unassigned".to_owned(), |p| p.to_string());
                    let topic = connect.topic.clone();
                    return Err(Box::new(TransformError {
                        alias: step.alias.clone(),
                        class: step.class.to_owned(),
                        topic,
                        partition,
                        offset: record.offset(),
                        source,
                    }));
                }
            }
        }
        Ok(Applied::Kept)
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::props;
    use crate::data::{Schema, SchemaAndValue, SchemaBuilder, SchemaType, Struct, Value};

    fn chain(p: &[(&str, &str)]) -> Result<TransformChain> {
        TransformChain::from_config(&Registry::builtin(), &props(p))
    }

    /// The chain applied to a record it is given; `None` when dropped.
    fn run<R: TransformableRecord>(
        c: &mut TransformChain,
        mut r: R,
    ) -> std::result::Result<Option<R>, Box<TransformError>> {
        Ok(match c.apply(&mut r)? {
            Applied::Kept => Some(r),
            Applied::Dropped => None,
        })
    }

    fn sink(value: SchemaAndValue) -> SinkRecord {
        SinkRecord {
            record: ConnectRecord {
                topic: "t".into(),
                partition: Some(3),
                value,
                ..Default::default()
            },
            kafka_offset: 42,
            ..Default::default()
        }
    }

    /// The README's seed option: the JDBC row's `id` becomes the record key.
    #[test]
    fn value_to_key_then_extract_field_keys_by_the_row_id() {
        let mut c = chain(&[
            ("transforms", "createKey,extractId"),
            (
                "transforms.createKey.type",
                "org.apache.kafka.connect.transforms.ValueToKey",
            ),
            ("transforms.createKey.fields", "id"),
            (
                "transforms.extractId.type",
                "org.apache.kafka.connect.transforms.ExtractField$Key",
            ),
            ("transforms.extractId.field", "id"),
        ])
        .unwrap();
        assert_eq!(c.len(), 2);
        let schema = SchemaBuilder::struct_()
            .field("id", Schema::primitive(SchemaType::Int64))
            .field("name", Schema::optional_string())
            .build();
        let row = Struct::new(schema.clone())
            .with("id", Value::Int64(7))
            .with("name", Value::from("seven"));
        let rec = SourceRecord {
            record: ConnectRecord {
                topic: "mysql-sample_data".into(),
                value: SchemaAndValue::new(Some(schema), Value::Struct(row.clone())),
                ..Default::default()
            },
            ..Default::default()
        };
        let out = run(&mut c, rec).unwrap().unwrap();
        assert_eq!(
            out.record.key,
            SchemaAndValue::new(Some(Schema::primitive(SchemaType::Int64)), Value::Int64(7))
        );
        assert_eq!(out.record.value.value, Value::Struct(row));
    }

    #[test]
    fn predicates_and_negation_choose_the_records() {
        let filter = |negate: &str| {
            chain(&[
                ("transforms", "drop"),
                ("transforms.drop.type", "Filter"),
                ("transforms.drop.predicate", "tomb"),
                ("transforms.drop.negate", negate),
                ("predicates", "tomb"),
                ("predicates.tomb.type", "RecordIsTombstone"),
            ])
            .unwrap()
        };
        let live = || sink(SchemaAndValue::new(None, Value::from("x")));
        let tomb = || sink(SchemaAndValue::null());
        let mut drop_tombstones = filter("false");
        assert!(run(&mut drop_tombstones, tomb()).unwrap().is_none());
        assert_eq!(run(&mut drop_tombstones, live()).unwrap(), Some(live()));
        let mut keep_tombstones = filter("true");
        assert_eq!(run(&mut keep_tombstones, tomb()).unwrap(), Some(tomb()));
        assert!(run(&mut keep_tombstones, live()).unwrap().is_none());
        // No transforms: the record as it was.
        assert_eq!(run(&mut chain(&[]).unwrap(), live()).unwrap(), Some(live()));
    }

    #[test]
    fn a_failure_names_the_transform_and_the_record() {
        let mut c = chain(&[
            ("transforms", "pick"),
            (
                "transforms.pick.type",
                "org.apache.kafka.connect.transforms.ExtractField$Value",
            ),
            ("transforms.pick.field", "id"),
        ])
        .unwrap();
        let err = run(&mut c, sink(SchemaAndValue::new(None, Value::Int32(1)))).unwrap_err();
        assert_eq!(
            err.to_string(),
            "transformation 'pick' (org.apache.kafka.connect.transforms.ExtractField$Value) failed \
             on the record from topic t partition 3 offset 42: Only Map objects supported in \
             absence of schema for [field extraction], found: java.lang.Integer"
        );
        let e: ConnectError = err.into();
        assert_eq!(e.blame(), crate::errors::Blame::User);
        assert!(
            e.trace()
                .starts_with("org.apache.kafka.connect.errors.DataException: ")
        );
    }

    #[test]
    fn bad_configurations_name_the_alias_and_key() {
        let err = |p: &[(&str, &str)]| chain(p).err().unwrap().to_string();
        assert_eq!(
            err(&[("transforms", "a")]),
            "Invalid transformation configuration: transforms.a.type: Missing required \
             configuration \"transforms.a.type\" which has no default value."
        );
        assert_eq!(
            err(&[("transforms", "a"), ("transforms.a.type", "JsonConverter")]),
            "Invalid transformation configuration: transforms.a.type: Invalid value JsonConverter \
             for configuration transforms.a.type: Not a Transformation"
        );
        assert_eq!(
            err(&[
                ("transforms", "a"),
                (
                    "transforms.a.type",
                    "org.apache.kafka.connect.transforms.HoistField$Value"
                ),
            ]),
            "Invalid transformation configuration: transforms.a.field: Missing required \
             configuration \"transforms.a.field\" which has no default value."
        );
        assert_eq!(
            err(&[
                ("transforms", "a"),
                ("transforms.a.type", "Filter"),
                ("transforms.a.predicate", "p"),
            ]),
            "Invalid transformation configuration: Invalid value p for configuration \
             transforms.a.predicate: no predicate named 'p' is configured (predicates.p.type is \
             not set)"
        );
        assert!(
            err(&[("transforms", "a,a"), ("transforms.a.type", "Filter")])
                .contains("Duplicate alias")
        );
        // An ambiguous simple name is no alias.
        assert!(
            err(&[("transforms", "a"), ("transforms.a.type", "Value")])
                .contains("Class Value could not be found.")
        );
    }
}
