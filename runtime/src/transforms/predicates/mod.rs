//! Predicates: conditions that decide whether a transform applies to a record.

pub mod has_header_key;
pub mod record_is_tombstone;
pub mod topic_name_matches;

use crate::plugins::Plugin;

pub fn plugins() -> Vec<Plugin> {
    vec![
        has_header_key::plugin(),
        record_is_tombstone::plugin(),
        topic_name_matches::plugin(),
    ]
}
