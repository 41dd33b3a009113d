//! `io.confluent.connect.jdbc.JdbcSourceConnector`: MySQL/MariaDB and PostgreSQL tables
//! (or a query) into Kafka, with Confluent's configuration keys, modes, record shapes and
//! source offsets, over sqlx's pure-Rust drivers.

pub mod config;
mod connection;
mod connector;
pub mod dialect;
pub mod offsets;
mod querier;
pub mod schema;
mod tables;
mod task;
pub mod url;
mod validate;

pub use connector::JdbcSourceConnector;
pub use task::JdbcSourceTask;

use crate::plugins::{ConnectorFactory, Factory, Plugin};

/// The Confluent connector version whose behaviour this matches.
const VERSION: &str = "10.8.4";

/// Registry entry for `io.confluent.connect.jdbc.JdbcSourceConnector`.
pub fn source_plugin() -> Plugin {
    Plugin {
        class: "io.confluent.connect.jdbc.JdbcSourceConnector",
        version: VERSION,
        factory: Factory::Connector(ConnectorFactory::Source {
            connector: || Box::new(JdbcSourceConnector::default()),
            task: || Box::new(JdbcSourceTask::default()),
        }),
        config_def: config::def,
    }
}
