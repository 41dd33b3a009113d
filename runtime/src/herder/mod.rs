//! The brain behind the REST API: creates, reconfigures, pauses, stops and restarts
//! connectors and their tasks, and answers status questions.
//!
//! Mutations are serialised through one actor task (like Kafka Connect's herder thread);
//! reads come from a shared snapshot, so a slow connector start never blocks a status call.

mod error;
mod offsets;
mod runtime;
mod standalone;
mod views;

pub use error::HerderError;
pub use standalone::Herder;

use crate::config::Props;

/// A config patch: a `null` value removes the key.
pub type ConfigPatch = std::collections::BTreeMap<String, Option<String>>;

/// The outcome of `PUT /connectors/{name}/config`.
#[derive(Debug, Clone, PartialEq)]
pub struct Created<T> {
    pub created: bool,
    pub value: T,
}

/// Applies a patch to a config.
pub fn apply_patch(config: &Props, patch: &ConfigPatch) -> Props {
    let mut out = config.clone();
    for (k, v) in patch {
        match v {
            Some(v) => {
                out.insert(k.clone(), v.clone());
            }
            None => {
                out.remove(k);
            }
        }
    }
    out
}
