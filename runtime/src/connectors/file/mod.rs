//! `FileStreamSourceConnector` and `FileStreamSinkConnector`: Kafka's example connectors,
//! with the same class names, keys, source partition and offset shapes.

mod config;
mod sink;
mod source;

pub use sink::{FileStreamSinkConnector, FileStreamSinkTask};
pub use source::{FileStreamSourceConnector, FileStreamSourceTask};

use crate::plugins::{ConnectorFactory, Factory, Plugin};

const VERSION: &str = crate::VERSION_COMPAT;

/// Registry entry for `org.apache.kafka.connect.file.FileStreamSourceConnector`.
pub fn source_plugin() -> Plugin {
    Plugin {
        class: "org.apache.kafka.connect.file.FileStreamSourceConnector",
        version: VERSION,
        factory: Factory::Connector(ConnectorFactory::Source {
            connector: || Box::new(FileStreamSourceConnector::default()),
            task: || Box::new(FileStreamSourceTask::default()),
        }),
        config_def: config::source_def,
    }
}

/// Registry entry for `org.apache.kafka.connect.file.FileStreamSinkConnector`.
pub fn sink_plugin() -> Plugin {
    Plugin {
        class: "org.apache.kafka.connect.file.FileStreamSinkConnector",
        version: VERSION,
        factory: Factory::Connector(ConnectorFactory::Sink {
            connector: || Box::new(FileStreamSinkConnector::default()),
            task: || Box::new(FileStreamSinkTask::default()),
        }),
        config_def: config::sink_def,
    }
}
