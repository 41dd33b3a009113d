//! The brain behind the REST API: creates, reconfigures, pauses, stops and restarts
//! connectors and their tasks, and answers status questions.
//!
//! Mutations are serialised through one actor task (like Kafka Connect's herder thread);
//! reads come from a shared snapshot, so a slow connector start never blocks a status call.

mod distributed;
mod error;
mod offsets;
mod runtime;
mod standalone;
mod views;

pub use distributed::{DistributedHerder, DistributedSettings, parse_task_configs};
pub use error::HerderError;
pub use standalone::StandaloneHerder;
pub use views::Snapshot as ConnectorView;

use async_trait::async_trait;

use crate::config::Props;
use crate::config::def::{ConfigInfos, PluginConfigKey};
use crate::plugins::Factory;
use crate::rest::api::{
    ConnectorInfo, ConnectorOffsets, ConnectorStateInfo, Message, PluginInfo, TaskInfo, TaskState,
};
use crate::worker::{TargetState, WorkerContext};

/// A worker's health as `GET /health` reports it (KIP-1017).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkerHealth {
    /// Started and able to handle requests (200).
    Healthy,
    /// Still starting, e.g. not yet a member of its group (503).
    Starting,
    /// Started, but its herder does not answer: requests would hang (500); the reason.
    Unhealthy(String),
}

/// What the REST API asks of a worker, answered by the standalone or the distributed herder.
#[async_trait]
pub trait Herder: Send + Sync {
    /// The worker's context (id, config, registry, stores).
    fn context(&self) -> &WorkerContext;

    fn connectors(&self) -> Vec<String>;

    /// What the read endpoints show of one connector; 404 when it does not exist.
    fn view(&self, name: &str) -> Result<ConnectorView, HerderError>;

    fn connector_info(&self, name: &str) -> Result<ConnectorInfo, HerderError> {
        Ok(views::info_of(name, &self.view(name)?))
    }

    fn connector_config(&self, name: &str) -> Result<Props, HerderError> {
        Ok(self.view(name)?.config)
    }

    fn connector_status(&self, name: &str) -> Result<ConnectorStateInfo, HerderError> {
        Ok(views::status_of(self.context(), name, &self.view(name)?))
    }

    fn task_status(&self, name: &str, task: u32) -> Result<TaskState, HerderError> {
        views::task_status_of(self.context(), name, task, &self.view(name)?)
    }

    /// Task configs with secrets hidden.
    fn task_infos(&self, name: &str) -> Result<Vec<TaskInfo>, HerderError> {
        Ok(views::task_infos_of(
            self.context(),
            name,
            &self.view(name)?,
        ))
    }

    fn topics(&self, name: &str) -> Result<Vec<String>, HerderError> {
        self.view(name)?;
        Ok(self.context().status.topics(name))
    }

    fn reset_topics(&self, name: &str) -> Result<(), HerderError> {
        self.view(name)?;
        self.context().status.reset_topics(name);
        Ok(())
    }

    /// `GET /connector-plugins`.
    fn plugins(&self, connectors_only: bool) -> Vec<PluginInfo> {
        let mut out: Vec<PluginInfo> = self
            .context()
            .registry
            .plugins()
            .iter()
            .filter(|p| !connectors_only || matches!(p.factory, Factory::Connector(_)))
            .map(|p| PluginInfo {
                class: p.class.to_owned(),
                ty: p.plugin_type(),
                version: p.version.to_owned(),
            })
            .collect();
        // Kafka lists connectors, then transformations, predicates and converters, each
        // sorted by class.
        let rank = |t: &crate::plugins::PluginType| {
            use crate::plugins::PluginType as P;
            match t {
                P::Source | P::Sink => 0,
                P::Transformation => 1,
                P::Predicate => 2,
                P::Converter => 3,
                P::HeaderConverter => 4,
            }
        };
        out.sort_by(|a, b| (rank(&a.ty), &a.class).cmp(&(rank(&b.ty), &b.class)));
        out
    }

    /// `GET /connector-plugins/{plugin}/config`: the plugin's own keys, then the common ones.
    fn plugin_config(&self, plugin: &str) -> Result<Vec<PluginConfigKey>, HerderError> {
        let p = self
            .context()
            .registry
            .find(plugin)
            .ok_or_else(|| HerderError::NotFound(format!("Unknown plugin {plugin}.")))?;
        let own = (p.config_def)();
        let all = match &p.factory {
            Factory::Connector(f) => {
                own.merge(&crate::config::connector::common_def(f.connector_type()))
            }
            _ => own,
        };
        Ok(all.describe())
    }

    /// `PUT /connector-plugins/{plugin}/config/validate` and the check before every create.
    async fn validate(&self, config: &Props) -> Result<ConfigInfos, HerderError> {
        views::validate(self.context(), config)
            .await
            .map(|(_, _, infos)| infos)
    }

    /// `POST /connectors`: 409 when it exists.
    async fn create(
        &self,
        name: String,
        config: Props,
        initial: Option<TargetState>,
    ) -> Result<ConnectorInfo, HerderError>;
    /// `PUT /connectors/{name}/config`: creates or replaces.
    async fn put_config(
        &self,
        name: String,
        config: Props,
    ) -> Result<Created<ConnectorInfo>, HerderError>;
    /// `PATCH /connectors/{name}/config`.
    async fn patch_config(
        &self,
        name: String,
        patch: ConfigPatch,
    ) -> Result<ConnectorInfo, HerderError>;
    async fn delete(&self, name: String) -> Result<(), HerderError>;
    async fn pause(&self, name: String) -> Result<(), HerderError>;
    async fn resume(&self, name: String) -> Result<(), HerderError>;
    async fn stop(&self, name: String) -> Result<(), HerderError>;
    /// `None` when only the connector restarts (204), else the plan with RESTARTING (202).
    async fn restart(
        &self,
        name: String,
        include_tasks: bool,
        only_failed: bool,
    ) -> Result<Option<ConnectorStateInfo>, HerderError>;
    async fn restart_task(&self, name: String, task: u32) -> Result<(), HerderError>;
    async fn offsets(&self, name: String) -> Result<ConnectorOffsets, HerderError>;
    /// `PATCH /connectors/{name}/offsets` (only when STOPPED).
    async fn alter_offsets(
        &self,
        name: String,
        offsets: ConnectorOffsets,
    ) -> Result<Message, HerderError>;
    /// `DELETE /connectors/{name}/offsets` (only when STOPPED).
    async fn reset_offsets(&self, name: String) -> Result<Message, HerderError>;
    /// Stops every connector and task, committing what they finished.
    async fn shutdown(&self);

    /// What `GET /health` reports (KIP-1017); a worker that answers at all is healthy unless
    /// its herder says otherwise.
    async fn health(&self) -> WorkerHealth {
        WorkerHealth::Healthy
    }

    /// Internal (distributed mode): task configs computed by the worker running a
    /// connector, for the leader to write; `request` carries what its signature covers.
    async fn put_task_configs(
        &self,
        name: String,
        configs: Vec<Props>,
        request: InternalRequest,
    ) -> Result<(), HerderError> {
        let _ = (configs, request);
        Err(HerderError::NotFound(format!(
            "Connector {name}: task configs are only accepted by distributed workers"
        )))
    }
}

tokio::task_local! {
    /// Set while serving a request another worker forwarded (`?forward=false`).
    pub static FORWARDED: bool;
}

/// Whether the current request was forwarded by another worker; such requests are
/// never forwarded again, so two workers disagreeing about the leader cannot loop.
pub fn is_forwarded() -> bool {
    FORWARDED.try_with(|f| *f).unwrap_or(false)
}

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

/// An internal request as received: the exact body bytes and the signature headers
/// (KIP-507), which the leader checks against the session key.
#[derive(Debug, Clone, Default)]
pub struct InternalRequest {
    pub body: bytes::Bytes,
    pub signature: Option<String>,
    pub algorithm: Option<String>,
}
