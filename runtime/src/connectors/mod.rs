//! The connector model: one small trait per role, and the connectors Ferry ships.
//!
//! A connector splits its job into task configs; tasks move the data. Source tasks
//! return records from `poll`; sink tasks receive them in `put` and make them durable in
//! `flush`, after which the worker commits the consumer offsets.

pub mod elasticsearch;
pub mod file;
pub mod jdbc;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Map, Value as Json};

use crate::config::{ConfigDef, Props};
use crate::data::{SinkRecord, SourceRecord};
use crate::errors::Result;

/// Which way a connector moves data.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ConnectorType {
    Source,
    Sink,
}

/// The connector half of a plugin: validates its config and splits the work into tasks.
#[async_trait]
pub trait Connector: Send + Sync {
    /// The keys this connector accepts, beyond the common connector keys.
    fn config_def(&self) -> ConfigDef;

    /// Checks a config against the outside system (Kafka's `Connector.validate`), after
    /// and whatever the `config_def` validation found: `(key, message)` for each problem.
    /// Run by `…/config/validate` and before a connector is created or reconfigured; an
    /// outside system that cannot be reached is no error here (the tasks retry and report
    /// it), and a config this connector cannot parse is left to the declared validation.
    async fn validate_external(&self, props: &Props) -> Vec<(String, String)> {
        let _ = props;
        Vec::new()
    }

    /// Starts with the connector's full configuration (already validated against `config_def`).
    async fn start(&mut self, props: &Props) -> Result<()>;

    /// At most `max_tasks` task configurations.
    fn task_configs(&self, max_tasks: usize) -> Result<Vec<Props>>;

    async fn stop(&mut self) -> Result<()> {
        Ok(())
    }
}

/// A source partition, as a JSON object (e.g. `{"filename": "/tmp/in.txt"}`).
pub type SourcePartition = Map<String, Json>;
/// A source offset, as a JSON object (e.g. `{"position": 1024}`).
pub type SourceOffset = Map<String, Json>;

/// Read access to a source task's committed offsets.
pub trait OffsetReader: Send + Sync {
    /// The last committed offset of this partition, if any.
    fn offset(&self, partition: &SourcePartition) -> Option<SourceOffset>;
}

/// What a source task gets from its worker.
#[derive(Clone)]
pub struct SourceTaskContext {
    pub offsets: Arc<dyn OffsetReader>,
}

/// A source task: turns an external system into records.
#[async_trait]
pub trait SourceTask: Send {
    async fn start(&mut self, props: &Props, context: SourceTaskContext) -> Result<()>;

    /// The next batch of records; may be empty. The worker cancels a pending poll when
    /// the task stops, so implementations must not lose committed state if dropped mid-way.
    async fn poll(&mut self) -> Result<Vec<SourceRecord>>;

    /// Called after offsets were committed.
    async fn commit(&mut self) -> Result<()> {
        Ok(())
    }

    async fn stop(&mut self) -> Result<()> {
        Ok(())
    }
}

/// A Kafka topic and partition.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    pub topic: String,
    pub partition: i32,
}

/// Offsets per partition: the offset of the next record to consume.
pub type Offsets = HashMap<TopicPartition, i64>;

/// Lets a sink task show in its status that it is retrying a failed write (`Some(why)`)
/// or has recovered (`None`). The state stays RUNNING, as in Kafka Connect while a task
/// retries; `why` shows as the status trace, so the REST shape is unchanged.
pub type RetryReporter = Arc<dyn Fn(Option<String>) + Send + Sync>;

/// A sink task: writes records to an external system.
#[async_trait]
pub trait SinkTask: Send {
    /// Called before `start`; tasks that retry writes in the background keep it.
    fn set_retry_reporter(&mut self, _reporter: RetryReporter) {}

    async fn start(&mut self, props: &Props) -> Result<()>;

    /// Hands over records; they need not be durable until `flush`.
    async fn put(&mut self, records: Vec<SinkRecord>) -> Result<()>;

    /// Makes everything `put` so far durable. The worker commits `offsets` only after this.
    async fn flush(&mut self, offsets: &Offsets) -> Result<()>;

    /// The offsets safe to commit; by default flushes and returns `offsets`.
    async fn pre_commit(&mut self, offsets: &Offsets) -> Result<Offsets> {
        self.flush(offsets).await?;
        Ok(offsets.clone())
    }

    async fn stop(&mut self) -> Result<()> {
        Ok(())
    }
}
