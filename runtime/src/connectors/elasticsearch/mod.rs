//! `io.confluent.connect.elasticsearch.ElasticsearchSinkConnector`: Confluent's
//! Elasticsearch sink with the same class name and keys, writing through the `_bulk` API
//! of Elasticsearch 7/8 or OpenSearch 1/2.

mod client;
mod config;
mod mapping;
mod request_builder;
mod service;
mod task;

use async_trait::async_trait;

pub use task::ElasticsearchSinkTask;

use crate::config::connector::TOPICS;
use crate::config::{ConfigDef, Props};
use crate::connectors::Connector;
use crate::errors::Result;
use crate::plugins::{ConnectorFactory, Factory, Plugin};

/// The Confluent connector version whose configuration this one follows.
const VERSION: &str = "14.1.2";

/// The connector half: checks the configuration, including that every listed topic maps
/// to a valid index name, before any task writes.
#[derive(Default)]
pub struct ElasticsearchSinkConnector {
    props: Props,
}

#[async_trait]
impl Connector for ElasticsearchSinkConnector {
    fn config_def(&self) -> ConfigDef {
        config::def()
    }

    async fn start(&mut self, props: &Props) -> Result<()> {
        let parsed = config::EsConfig::parse(props)?;
        for topic in props
            .get(TOPICS)
            .map(|t| t.split(',').map(str::trim).filter(|t| !t.is_empty()))
            .into_iter()
            .flatten()
        {
            parsed.index_for(topic)?;
        }
        self.props = props.clone();
        Ok(())
    }

    fn task_configs(&self, max_tasks: usize) -> Result<Vec<Props>> {
        Ok(vec![self.props.clone(); max_tasks.max(1)])
    }
}

/// Registry entry for `io.confluent.connect.elasticsearch.ElasticsearchSinkConnector`.
pub fn plugin() -> Plugin {
    Plugin {
        class: "io.confluent.connect.elasticsearch.ElasticsearchSinkConnector",
        version: VERSION,
        factory: Factory::Connector(ConnectorFactory::Sink {
            connector: || Box::new(ElasticsearchSinkConnector::default()),
            task: || Box::new(ElasticsearchSinkTask::default()),
        }),
        config_def: config::def,
    }
}
