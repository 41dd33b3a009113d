//! Registry entries for every transform and predicate, under Kafka's class names.

use super::{PredicateFactory, TransformFactory};
use crate::config::ConfigDef;
use crate::plugins::{Factory, Plugin};

const PACKAGE: &str = "org.apache.kafka.connect.transforms";

/// A transform's registry entry.
pub fn transform(
    class: &'static str,
    factory: TransformFactory,
    config_def: fn() -> ConfigDef,
) -> Plugin {
    debug_assert!(class.starts_with(PACKAGE));
    Plugin {
        class,
        version: crate::VERSION_COMPAT,
        factory: Factory::Transformation(factory),
        config_def,
    }
}

/// A predicate's registry entry.
pub fn predicate(
    class: &'static str,
    factory: PredicateFactory,
    config_def: fn() -> ConfigDef,
) -> Plugin {
    Plugin {
        class,
        version: crate::VERSION_COMPAT,
        factory: Factory::Predicate(factory),
        config_def,
    }
}

/// Every transform and predicate Ferry ships.
pub fn all() -> Vec<Plugin> {
    let mut out = Vec::new();
    out.extend(super::cast::plugins());
    out.extend(super::drop_headers::plugins());
    out.extend(super::extract_field::plugins());
    out.extend(super::filter::plugins());
    out.extend(super::flatten::plugins());
    out.extend(super::header_from::plugins());
    out.extend(super::hoist_field::plugins());
    out.extend(super::insert_field::plugins());
    out.extend(super::insert_header::plugins());
    out.extend(super::mask_field::plugins());
    out.extend(super::regex_router::plugins());
    out.extend(super::replace_field::plugins());
    out.extend(super::set_schema_metadata::plugins());
    out.extend(super::timestamp_converter::plugins());
    out.extend(super::timestamp_router::plugins());
    out.extend(super::value_to_key::plugins());
    out.extend(super::predicates::plugins());
    out
}
