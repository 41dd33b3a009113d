//! `JdbcSourceConnector`: validates the configuration and splits the tables over
//! `tasks.max` tasks (each task finds its share itself, so tables added later are
//! picked up without a reconfiguration).

use std::time::Duration;

use async_trait::async_trait;

use super::config::{self, JdbcSourceConfig, TASK_COUNT, TASK_INDEX};
use super::connection::ConnectSpec;
use super::tables;
use crate::config::{ConfigDef, Props};
use crate::connectors::Connector;
use crate::errors::Result;

/// How long the connector waits for the database when counting tables at start.
const DISCOVERY_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Default)]
pub struct JdbcSourceConnector {
    props: Props,
    /// Tables selected at start, when known.
    tables: Option<usize>,
    query: bool,
}

#[async_trait]
impl Connector for JdbcSourceConnector {
    fn config_def(&self) -> ConfigDef {
        config::def()
    }

    /// The selected tables' incrementing/timestamp columns, checked before the connector
    /// is created rather than only when a task starts.
    async fn validate_external(&self, props: &Props) -> Vec<(String, String)> {
        match JdbcSourceConfig::parse(props) {
            Ok(cfg) => super::validate::against_database(&cfg).await,
            Err(_) => Vec::new(),
        }
    }

    async fn start(&mut self, props: &Props) -> Result<()> {
        let cfg = JdbcSourceConfig::parse(props)?;
        let spec = ConnectSpec::new(&cfg)?;
        self.props = props.clone();
        self.query = cfg.query.is_some();
        self.tables = if self.query {
            Some(1)
        } else if !cfg.whitelist.is_empty() {
            Some(cfg.whitelist.len())
        } else {
            // One attempt: a database that is down fails the tasks (with retries and
            // the reason in their status), not the connector.
            let count = async {
                let mut db = spec.connect_once_for_discovery().await?;
                let all = db.tables(&cfg).await;
                db.close().await;
                Ok::<_, crate::errors::ConnectError>(tables::select(&cfg, all?).len())
            };
            match tokio::time::timeout(DISCOVERY_TIMEOUT, count).await {
                Ok(Ok(n)) => Some(n),
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "could not list tables at connector start; using tasks.max tasks");
                    None
                }
                Err(_) => None,
            }
        };
        Ok(())
    }

    fn task_configs(&self, max_tasks: usize) -> Result<Vec<Props>> {
        let n = match self.tables {
            Some(t) => t.min(max_tasks).max(1),
            None => max_tasks.max(1),
        };
        Ok((0..n)
            .map(|i| {
                let mut p = self.props.clone();
                p.insert(TASK_INDEX.into(), i.to_string());
                p.insert(TASK_COUNT.into(), n.to_string());
                p
            })
            .collect())
    }
}
