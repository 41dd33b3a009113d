//! What the read endpoints show of a connector, shared by both herders, and the
//! validation every create and update goes through.

use super::HerderError;
use crate::config::Props;
use crate::config::connector::{CONNECTOR_CLASS, cross_validate};
use crate::config::def::ConfigInfos;
use crate::connectors::ConnectorType;
use crate::plugins::{ConnectorFactory, Plugin, redact};
use crate::rest::api::{
    ConnectorInfo, ConnectorState, ConnectorStateInfo, ConnectorTaskId, TaskInfo, TaskState,
};
use crate::storage::{State, TaskStatus};
use crate::worker::WorkerContext;

/// What readers see of a connector without asking the actor.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub config: Props,
    pub ty: ConnectorType,
    pub class: &'static str,
    pub version: &'static str,
    pub task_configs: Vec<Props>,
}

impl Snapshot {
    /// A connector known by its config and committed task configs.
    #[allow(dead_code)] // used by the distributed herder, which lands next
    pub fn of(ctx: &WorkerContext, config: &Props, task_configs: Vec<Props>) -> Option<Snapshot> {
        let class = config.get(CONNECTOR_CLASS)?;
        let (plugin, factory) = ctx.registry.connector(class).ok()?;
        Some(Snapshot {
            config: config.clone(),
            ty: factory.connector_type(),
            class: plugin.class,
            version: plugin.version,
            task_configs,
        })
    }
}

pub fn info_of(name: &str, s: &Snapshot) -> ConnectorInfo {
    ConnectorInfo {
        name: name.to_owned(),
        config: s.config.clone(),
        tasks: (0..s.task_configs.len())
            .map(|i| ConnectorTaskId {
                connector: name.to_owned(),
                task: i as u32,
            })
            .collect(),
        ty: s.ty,
    }
}

pub fn task_state(id: u32, st: TaskStatus, version: &str) -> TaskState {
    TaskState {
        id,
        state: st.state,
        worker_id: st.worker_id,
        trace: st.trace,
        version: Some(version.to_owned()),
    }
}

pub fn status_of(ctx: &WorkerContext, name: &str, s: &Snapshot) -> ConnectorStateInfo {
    let connector = ctx.status.connector(name).unwrap_or(TaskStatus {
        state: State::Unassigned,
        trace: None,
        worker_id: ctx.worker_id.clone(),
        generation: 0,
    });
    let tasks = (0..s.task_configs.len() as u32)
        .map(|i| {
            let st = ctx.status.task(name, i).unwrap_or(TaskStatus {
                state: State::Unassigned,
                trace: None,
                worker_id: ctx.worker_id.clone(),
                generation: 0,
            });
            task_state(i, st, s.version)
        })
        .collect();
    ConnectorStateInfo {
        name: name.to_owned(),
        connector: ConnectorState {
            state: connector.state,
            worker_id: connector.worker_id,
            trace: connector.trace,
            version: Some(s.version.to_owned()),
        },
        tasks,
        ty: s.ty,
    }
}

/// Resolves the class and validates a connector config against its full declaration,
/// then against the outside system through the connector's `validate_external`, bounded
/// by [`EXTERNAL_VALIDATION_TIMEOUT`].
pub async fn validate(
    ctx: &WorkerContext,
    config: &Props,
) -> Result<(Plugin, ConnectorFactory, ConfigInfos), HerderError> {
    let (plugin, factory, mut infos) = validate_declared(ctx, config)?;
    // As Kafka calls `Connector.validate` whatever the declaration found: an error in,
    // say, `name` should not hide a missing column.
    let connector = factory.new_connector();
    // The outside system needs the real values (a password through a config provider); the
    // answer keeps the references, and an unresolvable one is reported when the connector
    // starts.
    let resolved = match ctx.providers.resolve(config, "connector validation").await {
        Ok(resolved) => resolved,
        Err(e) => {
            tracing::warn!(class = plugin.class, error = %e, "config references could not be resolved; not validated against the outside system");
            return Ok((plugin, factory, infos));
        }
    };
    match tokio::time::timeout(
        EXTERNAL_VALIDATION_TIMEOUT,
        connector.validate_external(&resolved),
    )
    .await
    {
        Ok(errors) => add_errors(&mut infos, errors),
        Err(_) => tracing::warn!(
            class = plugin.class,
            "the connector's check against its outside system timed out; not validated there"
        ),
    }
    Ok((plugin, factory, infos))
}

/// How long `validate` waits for a connector's check against its outside system.
pub const EXTERNAL_VALIDATION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

/// Adds `(key, message)` errors to the keys' entries (to `connector.class` for a key the
/// declaration lacks).
fn add_errors(infos: &mut ConfigInfos, errors: Vec<(String, String)>) {
    for (key, message) in errors {
        let idx = infos
            .configs
            .iter()
            .position(|c| c.value.name == key)
            .or_else(|| {
                infos
                    .configs
                    .iter()
                    .position(|c| c.value.name == CONNECTOR_CLASS)
            });
        if let Some(c) = idx.and_then(|i| infos.configs.get_mut(i)) {
            c.value.errors.push(message);
            infos.error_count += 1;
        }
    }
}

/// Resolves the class and validates a connector config against its full declaration.
fn validate_declared(
    ctx: &WorkerContext,
    config: &Props,
) -> Result<(Plugin, ConnectorFactory, ConfigInfos), HerderError> {
    let class = config
        .get(CONNECTOR_CLASS)
        .filter(|c| !c.trim().is_empty())
        .ok_or_else(|| {
            HerderError::BadRequest(format!(
                "Connector config {{{}}} contains no connector type",
                config
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
    let (plugin, factory) = ctx.registry.connector(class)?;
    let def =
        ctx.registry
            .connector_config_def(plugin)
            .merge(&crate::transforms::enrich::enrich_def(
                &ctx.registry,
                config,
            ));
    let mut infos = def.config_infos(plugin.class, config);
    cross_validate(factory.connector_type(), &mut infos);
    crate::transforms::enrich::add_cross_errors(config, &mut infos);
    crate::config::connector::enrich_with_worker(&mut infos, &ctx.config);
    // Converters named by the connector must exist and accept their settings.
    for (key, is_key) in [("key.converter", true), ("value.converter", false)] {
        if let Some(class) = config.get(key).filter(|c| !c.trim().is_empty()) {
            let settings = crate::config::def::with_prefix(config, &format!("{key}."));
            if let Err(e) = ctx.registry.converter(class, &settings, is_key)
                && let Some(c) = infos.configs.iter_mut().find(|c| c.value.name == key)
            {
                c.value.errors.push(e.to_string());
                infos.error_count += 1;
            }
        }
    }
    Ok((plugin.clone(), factory, infos))
}

/// `GET /connectors/{name}/tasks/{task}/status`.
pub fn task_status_of(
    ctx: &WorkerContext,
    name: &str,
    task: u32,
    s: &Snapshot,
) -> Result<TaskState, HerderError> {
    let found = (task as usize) < s.task_configs.len();
    match ctx.status.task(name, task).filter(|_| found) {
        Some(st) => Ok(task_state(task, st, s.version)),
        None => Err(HerderError::NotFound(format!(
            "No status found for task {name}-{task}"
        ))),
    }
}

/// `GET /connectors/{name}/tasks`, secrets hidden.
pub fn task_infos_of(ctx: &WorkerContext, name: &str, s: &Snapshot) -> Vec<TaskInfo> {
    let def = match ctx.registry.find(s.class) {
        Some(p) => ctx.registry.connector_config_def(p),
        None => crate::config::ConfigDef::new(),
    };
    s.task_configs
        .iter()
        .enumerate()
        .map(|(i, c)| TaskInfo {
            id: ConnectorTaskId {
                connector: name.to_owned(),
                task: i as u32,
            },
            config: redact(&def, c),
        })
        .collect()
}
