//! The connectors and tasks running in this process, whichever herder decided they
//! should run here: starting, pausing, stopping and restarting them, and reporting
//! their states.

use std::collections::BTreeMap;

use crate::config::Props;
use crate::config::connector::{CONNECTOR_CLASS, TASKS_MAX};
use crate::connectors::Connector;
use crate::errors::ConnectError;
use crate::plugins::ConnectorFactory;
use crate::storage::{State, TaskStatus};
use crate::worker::{self, TargetState, TaskHandle, TaskId, WorkerContext};

/// A connector instance running here.
struct LocalConnector {
    instance: Box<dyn Connector>,
    config: Props,
    class: &'static str,
    target: TargetState,
}

/// A task running here, with the config it was started with.
struct LocalTask {
    handle: TaskHandle,
    config: Props,
}

/// Connector instances and tasks of this worker.
pub struct LocalRuntime {
    ctx: WorkerContext,
    connectors: BTreeMap<String, LocalConnector>,
    tasks: BTreeMap<TaskId, LocalTask>,
}

/// The Java class name of a connector's task, as Kafka Connect records it in `task.class`.
pub fn task_class(connector_class: &str) -> String {
    match connector_class.strip_suffix("Connector") {
        Some(base) => format!("{base}Task"),
        None => format!("{connector_class}Task"),
    }
}

fn state_of(target: TargetState) -> State {
    match target {
        TargetState::Started => State::Running,
        TargetState::Paused => State::Paused,
        TargetState::Stopped => State::Stopped,
    }
}

impl LocalRuntime {
    pub fn new(ctx: WorkerContext) -> Self {
        LocalRuntime {
            ctx,
            connectors: BTreeMap::new(),
            tasks: BTreeMap::new(),
        }
    }

    /// Records a connector's state; FAILED and UNASSIGNED conditionally, as for tasks
    /// ([`WorkerContext::report`]).
    pub fn report_connector(&self, name: &str, state: State, trace: Option<String>) {
        let status = TaskStatus {
            state,
            trace,
            worker_id: self.ctx.worker_id.clone(),
            generation: self.ctx.status.generation(),
        };
        if matches!(state, State::Failed | State::Unassigned) {
            self.ctx.status.put_connector_safe(name, status);
        } else {
            self.ctx.status.put_connector(name, status);
        }
    }

    fn factory(&self, config: &Props) -> Result<(&'static str, ConnectorFactory), ConnectError> {
        let class = config
            .get(CONNECTOR_CLASS)
            .ok_or_else(|| ConnectError::config("connector.class is not set"))?;
        let (plugin, factory) = self.ctx.registry.connector(class)?;
        Ok((plugin.class, factory))
    }

    /// The config a running connector was started with.
    pub fn connector_config(&self, name: &str) -> Option<&Props> {
        self.connectors.get(name).map(|c| &c.config)
    }

    /// The state a running connector was asked to be in.
    pub fn connector_target(&self, name: &str) -> Option<TargetState> {
        self.connectors.get(name).map(|c| c.target)
    }

    /// The config a running task was started with.
    pub fn task_config(&self, id: &TaskId) -> Option<&Props> {
        self.tasks.get(id).map(|t| &t.config)
    }

    /// Pauses or resumes one task.
    pub fn set_task_target(&self, id: &TaskId, target: TargetState) {
        if let Some(t) = self.tasks.get(id)
            && t.handle.control.get() != target
        {
            t.handle.control.set(target);
            let (from, to) = match target {
                TargetState::Paused => (State::Running, State::Paused),
                _ => (State::Paused, State::Running),
            };
            if self
                .ctx
                .status
                .task(&id.connector, id.task)
                .is_some_and(|s| s.state == from)
            {
                self.ctx.report(id, to, None);
            }
        }
    }

    pub fn has_connector(&self, name: &str) -> bool {
        self.connectors.contains_key(name)
    }

    pub fn connector_names(&self) -> Vec<String> {
        self.connectors.keys().cloned().collect()
    }

    pub fn task_ids(&self) -> Vec<TaskId> {
        self.tasks.keys().cloned().collect()
    }

    pub fn tasks_of(&self, name: &str) -> Vec<TaskId> {
        self.tasks
            .keys()
            .filter(|id| id.connector == name)
            .cloned()
            .collect()
    }

    /// Starts a connector instance (replacing one already running) in `target` state.
    /// STOPPED runs no instance. Failures are reported in the connector's status.
    pub async fn start_connector(
        &mut self,
        name: &str,
        config: &Props,
        target: TargetState,
    ) -> bool {
        self.stop_connector(name).await;
        if target == TargetState::Stopped {
            self.report_connector(name, State::Stopped, None);
            return true;
        }
        let (class, factory) = match self.factory(config) {
            Ok(f) => f,
            Err(e) => {
                self.report_connector(name, State::Failed, Some(e.trace()));
                return false;
            }
        };
        // The instance sees resolved values; everything stored or reported keeps the
        // references.
        let resolved = match self
            .ctx
            .providers
            .resolve(config, &format!("connector {name}"))
            .await
        {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(connector = name, error = %e, "connector failed to start");
                self.report_connector(name, State::Failed, Some(e.trace()));
                return false;
            }
        };
        let mut instance = factory.new_connector();
        if let Err(e) = instance.start(&resolved).await {
            tracing::error!(connector = name, error = %e, "connector failed to start");
            self.report_connector(name, State::Failed, Some(e.trace()));
            return false;
        }
        self.report_connector(name, state_of(target), None);
        self.connectors.insert(
            name.to_owned(),
            LocalConnector {
                instance,
                config: config.clone(),
                class,
                target,
            },
        );
        true
    }

    pub async fn stop_connector(&mut self, name: &str) {
        if let Some(mut c) = self.connectors.remove(name) {
            match c.instance.stop().await {
                Ok(()) => self.report_connector(name, State::Unassigned, None),
                Err(e) => {
                    tracing::warn!(connector = name, error = %e, "connector did not stop cleanly")
                }
            }
        }
    }

    /// The running connector's task configs (with `task.class`), at most `tasks.max`.
    /// `None` when it does not run here or failed (then its status says why).
    pub fn task_configs(&self, name: &str) -> Option<Vec<Props>> {
        let c = self.connectors.get(name)?;
        let max = c
            .config
            .get(TASKS_MAX)
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(1);
        match c.instance.task_configs(max) {
            Ok(configs) if configs.len() > max => {
                let msg = format!(
                    "The connector {name} has generated {} tasks, which is greater than {max}, the maximum number of tasks it is configured to create.",
                    configs.len()
                );
                self.report_connector(name, State::Failed, Some(ConnectError::config(msg).trace()));
                None
            }
            Ok(configs) => {
                let class = task_class(c.class);
                Some(
                    crate::config::providers::reverse_transform(&c.config, configs)
                        .into_iter()
                        .map(|mut t| {
                            t.insert("task.class".into(), class.clone());
                            t
                        })
                        .collect(),
                )
            }
            Err(e) => {
                self.report_connector(name, State::Failed, Some(e.trace()));
                None
            }
        }
    }

    /// Starts a task (replacing one already running with the same id).
    pub async fn start_task(
        &mut self,
        id: TaskId,
        connector_config: &Props,
        task_config: &Props,
        target: TargetState,
    ) {
        self.stop_tasks([id.clone()]).await;
        let factory = match self.factory(connector_config) {
            Ok((_, f)) => f,
            Err(e) => {
                self.ctx.report(&id, State::Failed, Some(e.trace()));
                return;
            }
        };
        let whose = format!("task {id}");
        let resolved = match self.ctx.providers.resolve(connector_config, &whose).await {
            Ok(c) => match self.ctx.providers.resolve(task_config, &whose).await {
                Ok(t) => Ok((c, t)),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        let (connector_resolved, task_resolved) = match resolved {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(task = %id, error = %e, "task failed to start");
                self.ctx.report(&id, State::Failed, Some(e.trace()));
                return;
            }
        };
        tracing::info!(task = %id, "starting task");
        let handle = worker::start_task(
            &self.ctx,
            factory,
            id.clone(),
            connector_resolved,
            task_resolved,
            target,
        );
        self.tasks.insert(
            id,
            LocalTask {
                handle,
                config: task_config.clone(),
            },
        );
    }

    /// Stops tasks concurrently, each bounded by `task.shutdown.graceful.timeout.ms`.
    pub async fn stop_tasks(&mut self, ids: impl IntoIterator<Item = TaskId>) {
        let timeout = self.ctx.config.task_shutdown_timeout;
        let handles: Vec<TaskHandle> = ids
            .into_iter()
            .filter_map(|id| self.tasks.remove(&id))
            .map(|t| t.handle)
            .collect();
        let stopped: Vec<TaskId> = handles.iter().map(|h| h.id.clone()).collect();
        futures::future::join_all(handles.into_iter().map(|h| h.stop(timeout))).await;
        for id in &stopped {
            self.ctx.metrics.remove_task(id);
        }
    }

    /// Pauses or resumes a connector and its local tasks (STOPPED is handled by stopping).
    pub fn set_paused(&mut self, name: &str, target: TargetState) {
        if let Some(c) = self.connectors.get_mut(name) {
            c.target = target;
            self.report_connector(name, state_of(target), None);
        }
        let (from, to) = match target {
            TargetState::Paused => (State::Running, State::Paused),
            _ => (State::Paused, State::Running),
        };
        for (id, t) in self.tasks.iter().filter(|(id, _)| id.connector == name) {
            t.handle.control.set(target);
            if self
                .ctx
                .status
                .task(name, id.task)
                .is_some_and(|s| s.state == from)
            {
                self.ctx.report(id, to, None);
            }
        }
    }

    /// Stops everything, committing what tasks finished.
    pub async fn shutdown(&mut self) {
        let ids = self.task_ids();
        self.stop_tasks(ids).await;
        for name in self.connector_names() {
            self.stop_connector(&name).await;
        }
    }
}
