//! Ferry: a Kafka Connect-compatible worker runtime without a JVM.
//!
//! The path of a record (see DESIGN.md): a source task's records pass through the
//! converters in [`worker::source`] to the Kafka producer; a sink's records come from
//! the consumer in [`worker::sink`], through the converters, to the task.

pub mod cli;
pub mod cluster;
pub mod config;
pub mod connectors;
pub mod converters;
pub mod data;
pub mod docs;
pub mod errors;
pub mod herder;
pub mod metrics;
pub mod plugins;
pub mod rest;
pub mod storage;
pub mod transforms;
pub mod worker;

/// Ferry's own version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The Kafka Connect version whose behaviour Ferry matches; `GET /` reports it as `version`
/// so clients that gate features on the Connect version keep working.
pub const VERSION_COMPAT: &str = "4.3.1";
