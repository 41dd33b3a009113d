//! The standalone herder: every connector and task runs in this process; connector
//! configs live in memory (as in Kafka Connect's standalone mode), offsets in a file.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use futures::FutureExt;
use futures::future::BoxFuture;
use tokio::sync::{mpsc, oneshot};

use super::offsets::{alter_offsets, connector_offsets};
use super::runtime::LocalRuntime;
use super::views::{Snapshot, info_of, status_of, validate};
use super::{ConfigPatch, Created, Herder, HerderError, apply_patch};
use crate::config::Props;
use crate::config::connector::NAME;
use crate::plugins::{ConnectorFactory, Plugin};
use crate::rest::api::{ConnectorInfo, ConnectorOffsets, ConnectorStateInfo, Message};
use crate::storage::{State, TaskStatus};
use crate::worker::{TargetState, TaskId, WorkerContext};
use async_trait::async_trait;

type Shared = Arc<RwLock<BTreeMap<String, Snapshot>>>;

/// A connector as the actor owns it: its config and what it should be doing.
struct Entry {
    config: Props,
    target: TargetState,
    plugin: Plugin,
    factory: ConnectorFactory,
    task_configs: Vec<Props>,
}

impl Entry {
    fn snapshot(&self) -> Snapshot {
        Snapshot {
            config: self.config.clone(),
            ty: self.factory.connector_type(),
            class: self.plugin.class,
            version: self.plugin.version,
            task_configs: self.task_configs.clone(),
        }
    }
}

type Job = Box<dyn for<'a> FnOnce(&'a mut Inner) -> BoxFuture<'a, ()> + Send>;

/// A handle on the standalone herder; cheap to clone.
#[derive(Clone)]
pub struct StandaloneHerder {
    tx: mpsc::UnboundedSender<Job>,
    shared: Shared,
    ctx: WorkerContext,
    /// False while the connectors named on the command line are being created
    /// (`GET /health` answers 503 then).
    ready: Arc<AtomicBool>,
}

struct Inner {
    ctx: WorkerContext,
    entries: BTreeMap<String, Entry>,
    runtime: LocalRuntime,
    shared: Shared,
}

fn read<R>(shared: &Shared, f: impl FnOnce(&BTreeMap<String, Snapshot>) -> R) -> R {
    match shared.read() {
        Ok(g) => f(&g),
        Err(p) => f(&p.into_inner()),
    }
}

impl StandaloneHerder {
    /// Starts the herder's actor on the current runtime.
    pub fn start(ctx: WorkerContext) -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel::<Job>();
        let shared: Shared = Arc::default();
        let mut inner = Inner {
            ctx: ctx.clone(),
            entries: BTreeMap::new(),
            runtime: LocalRuntime::new(ctx.clone()),
            shared: shared.clone(),
        };
        tokio::spawn(async move {
            while let Some(job) = rx.recv().await {
                job(&mut inner).await;
            }
        });
        StandaloneHerder {
            tx,
            shared,
            ctx,
            ready: Arc::new(AtomicBool::new(true)),
        }
    }

    /// Runs `f` on the actor and waits for its answer.
    async fn call<R: Send + 'static>(
        &self,
        f: impl for<'a> FnOnce(&'a mut Inner) -> BoxFuture<'a, R> + Send + 'static,
    ) -> Result<R, HerderError> {
        let (reply_tx, reply_rx) = oneshot::channel();
        let job: Job = Box::new(move |inner: &mut Inner| {
            async move {
                let r = f(inner).await;
                let _ = reply_tx.send(r);
            }
            .boxed()
        });
        self.tx
            .send(job)
            .map_err(|_| HerderError::Internal("the herder has stopped".into()))?;
        reply_rx
            .await
            .map_err(|_| HerderError::Internal("the herder dropped the request".into()))
    }

    /// Reports "starting" on `GET /health` until [`set_ready`](Self::set_ready).
    pub fn set_starting(&self) {
        self.ready.store(false, Ordering::Release);
    }

    /// The worker's connector configs are loaded: `GET /health` reports healthy.
    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::Release);
    }

    fn snapshot(&self, name: &str) -> Result<Snapshot, HerderError> {
        read(&self.shared, |m| m.get(name).cloned())
            .ok_or_else(|| HerderError::not_found_connector(name))
    }
}

#[async_trait]
impl Herder for StandaloneHerder {
    fn context(&self) -> &WorkerContext {
        &self.ctx
    }

    async fn health(&self) -> super::WorkerHealth {
        if self.ready.load(Ordering::Acquire) {
            super::WorkerHealth::Healthy
        } else {
            super::WorkerHealth::Starting
        }
    }

    fn connectors(&self) -> Vec<String> {
        read(&self.shared, |m| m.keys().cloned().collect())
    }

    fn view(&self, name: &str) -> Result<Snapshot, HerderError> {
        self.snapshot(name)
    }

    /// `POST /connectors`: 409 when it exists.
    async fn create(
        &self,
        name: String,
        config: Props,
        initial: Option<TargetState>,
    ) -> Result<ConnectorInfo, HerderError> {
        self.call(move |inner| inner.put(name, config, false, initial).boxed())
            .await?
            .map(|c| c.value)
    }

    /// `PUT /connectors/{name}/config`: creates or replaces.
    async fn put_config(
        &self,
        name: String,
        config: Props,
    ) -> Result<Created<ConnectorInfo>, HerderError> {
        self.call(move |inner| inner.put(name, config, true, None).boxed())
            .await?
    }

    /// `PATCH /connectors/{name}/config`.
    async fn patch_config(
        &self,
        name: String,
        patch: ConfigPatch,
    ) -> Result<ConnectorInfo, HerderError> {
        self.call(move |inner| {
            async move {
                let current = inner
                    .entries
                    .get(&name)
                    .map(|e| e.config.clone())
                    .ok_or_else(|| HerderError::not_found_connector(&name))?;
                let mut config = apply_patch(&current, &patch);
                config.insert(NAME.into(), name.clone());
                inner.put(name, config, true, None).await.map(|c| c.value)
            }
            .boxed()
        })
        .await?
    }

    async fn delete(&self, name: String) -> Result<(), HerderError> {
        self.call(move |inner| inner.delete(name).boxed()).await?
    }

    async fn pause(&self, name: String) -> Result<(), HerderError> {
        self.call(move |inner| inner.set_target(name, TargetState::Paused).boxed())
            .await?
    }

    async fn resume(&self, name: String) -> Result<(), HerderError> {
        self.call(move |inner| inner.set_target(name, TargetState::Started).boxed())
            .await?
    }

    async fn stop(&self, name: String) -> Result<(), HerderError> {
        self.call(move |inner| inner.set_target(name, TargetState::Stopped).boxed())
            .await?
    }

    /// `POST /connectors/{name}/restart`: `None` when only the connector was restarted (204),
    /// else the states with what will restart marked RESTARTING (202).
    async fn restart(
        &self,
        name: String,
        include_tasks: bool,
        only_failed: bool,
    ) -> Result<Option<ConnectorStateInfo>, HerderError> {
        let (tx, rx) = oneshot::channel();
        // The plan is answered before the restarts run, as in Kafka Connect.
        self.call(move |inner| inner.restart(name, include_tasks, only_failed, tx).boxed())
            .await?;
        rx.await
            .map_err(|_| HerderError::Internal("restart was abandoned".into()))?
    }

    async fn restart_task(&self, name: String, task: u32) -> Result<(), HerderError> {
        self.call(move |inner| inner.restart_task(name, task).boxed())
            .await?
    }

    /// `GET /connectors/{name}/offsets`.
    async fn offsets(&self, name: String) -> Result<ConnectorOffsets, HerderError> {
        let s = self.snapshot(&name)?;
        connector_offsets(&self.ctx, &name, s.ty, &s.config).await
    }

    /// `PATCH /connectors/{name}/offsets` (only when STOPPED).
    async fn alter_offsets(
        &self,
        name: String,
        offsets: ConnectorOffsets,
    ) -> Result<Message, HerderError> {
        self.call(move |inner| inner.alter_offsets(name, Some(offsets)).boxed())
            .await?
    }

    /// `DELETE /connectors/{name}/offsets` (only when STOPPED).
    async fn reset_offsets(&self, name: String) -> Result<Message, HerderError> {
        self.call(move |inner| inner.alter_offsets(name, None).boxed())
            .await?
    }

    /// Stops every connector and task, committing what they finished.
    async fn shutdown(&self) {
        let _ = self
            .call(|inner| {
                async move {
                    inner.runtime.shutdown().await;
                    inner.entries.clear();
                }
                .boxed()
            })
            .await;
    }
}

impl Inner {
    fn publish(&self, name: &str) {
        let snap = self.entries.get(name).map(Entry::snapshot);
        let mut m = match self.shared.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        match snap {
            Some(s) => {
                m.insert(name.to_owned(), s);
            }
            None => {
                m.remove(name);
            }
        }
    }

    async fn put(
        &mut self,
        name: String,
        mut config: Props,
        allow_replace: bool,
        initial: Option<TargetState>,
    ) -> Result<Created<ConnectorInfo>, HerderError> {
        let exists = self.entries.contains_key(&name);
        if exists && !allow_replace {
            return Err(HerderError::Conflict(format!(
                "Connector {name} already exists"
            )));
        }
        config.insert(NAME.into(), name.clone());
        let (plugin, factory, infos) = validate(&self.ctx, &config).await?;
        if infos.error_count > 0 {
            return Err(HerderError::InvalidConfig(Box::new(infos)));
        }
        let mut target = initial.unwrap_or(TargetState::Started);
        if let Some(old) = self.entries.remove(&name) {
            target = old.target;
            self.stop_all(&name).await;
        }
        self.entries.insert(
            name.clone(),
            Entry {
                config,
                target,
                plugin,
                factory,
                task_configs: Vec::new(),
            },
        );
        self.start_entry(&name).await;
        self.publish(&name);
        let info = read(&self.shared, |m| m.get(&name).map(|s| info_of(&name, s)))
            .ok_or_else(|| HerderError::Internal(format!("connector {name} vanished")))?;
        Ok(Created {
            created: !exists,
            value: info,
        })
    }

    /// Starts the connector per its target state, and its tasks when STARTED.
    async fn start_entry(&mut self, name: &str) {
        let Some(entry) = self.entries.get(name) else {
            return;
        };
        let (config, target) = (entry.config.clone(), entry.target);
        let started = self.runtime.start_connector(name, &config, target).await;
        if target == TargetState::Stopped {
            if let Some(e) = self.entries.get_mut(name) {
                e.task_configs.clear();
            }
            self.ctx.status.retain_tasks(name, 0);
        } else if started && target == TargetState::Started {
            self.start_tasks(name).await;
        }
    }

    /// Asks the connector for task configs and starts one task per config.
    async fn start_tasks(&mut self, name: &str) {
        let Some(configs) = self.runtime.task_configs(name) else {
            return;
        };
        let Some(entry) = self.entries.get_mut(name) else {
            return;
        };
        entry.task_configs = configs.clone();
        let (config, target) = (entry.config.clone(), entry.target);
        self.ctx.status.retain_tasks(name, configs.len() as u32);
        for (i, props) in configs.iter().enumerate() {
            let id = TaskId {
                connector: name.to_owned(),
                task: i as u32,
            };
            self.runtime.start_task(id, &config, props, target).await;
        }
    }

    async fn stop_all(&mut self, name: &str) {
        let tasks = self.runtime.tasks_of(name);
        self.runtime.stop_tasks(tasks).await;
        self.runtime.stop_connector(name).await;
    }

    async fn delete(&mut self, name: String) -> Result<(), HerderError> {
        self.entries
            .remove(&name)
            .ok_or_else(|| HerderError::not_found_connector(&name))?;
        self.stop_all(&name).await;
        self.ctx.status.remove(&name);
        self.publish(&name);
        Ok(())
    }

    async fn set_target(&mut self, name: String, target: TargetState) -> Result<(), HerderError> {
        let entry = self
            .entries
            .get_mut(&name)
            .ok_or_else(|| HerderError::not_found_connector(&name))?;
        let previous = entry.target;
        entry.target = target;
        match (previous, target) {
            (a, b) if a == b => {}
            (_, TargetState::Stopped) => {
                self.stop_all(&name).await;
                self.start_entry(&name).await;
            }
            (TargetState::Stopped, _) => self.start_entry(&name).await,
            (_, TargetState::Paused) => self.runtime.set_paused(&name, TargetState::Paused),
            (_, TargetState::Started) => {
                if !self.runtime.has_connector(&name) {
                    self.start_entry(&name).await;
                } else {
                    self.runtime.set_paused(&name, TargetState::Started);
                    // A connector created PAUSED has no tasks yet.
                    if self.runtime.tasks_of(&name).is_empty() {
                        self.start_tasks(&name).await;
                    }
                }
            }
        }
        self.publish(&name);
        Ok(())
    }

    async fn restart(
        &mut self,
        name: String,
        include_tasks: bool,
        only_failed: bool,
        reply: oneshot::Sender<Result<Option<ConnectorStateInfo>, HerderError>>,
    ) {
        let Some(entry) = self.entries.get(&name) else {
            let _ = reply.send(Err(HerderError::not_found_connector(&name)));
            return;
        };
        let failed = |s: Option<TaskStatus>| s.is_some_and(|s| s.state == State::Failed);
        let restart_connector = !only_failed || failed(self.ctx.status.connector(&name));
        let tasks: Vec<TaskId> = if include_tasks {
            self.runtime
                .tasks_of(&name)
                .into_iter()
                .filter(|id| !only_failed || failed(self.ctx.status.task(&name, id.task)))
                .collect()
        } else {
            Vec::new()
        };
        if include_tasks || only_failed {
            if restart_connector {
                self.runtime
                    .report_connector(&name, State::Restarting, None);
            }
            for id in &tasks {
                self.ctx.report(id, State::Restarting, None);
            }
            let _ = reply.send(Ok(Some(status_of(&self.ctx, &name, &entry.snapshot()))));
        } else {
            let _ = reply.send(Ok(None));
        }
        let (config, target, old_configs) = (
            entry.config.clone(),
            entry.target,
            entry.task_configs.clone(),
        );
        if restart_connector {
            let started = self.runtime.start_connector(&name, &config, target).await;
            // New task configs replace the tasks; the same configs leave them running.
            if started
                && target != TargetState::Stopped
                && self.runtime.task_configs(&name) != Some(old_configs)
            {
                let running = self.runtime.tasks_of(&name);
                self.runtime.stop_tasks(running).await;
                if target == TargetState::Started {
                    self.start_tasks(&name).await;
                }
            }
        }
        for id in tasks {
            self.restart_task_of(&name, id.task).await;
        }
        self.publish(&name);
    }

    async fn restart_task_of(&mut self, name: &str, task: u32) -> bool {
        let Some(entry) = self.entries.get(name) else {
            return false;
        };
        let Some(props) = entry.task_configs.get(task as usize).cloned() else {
            return false;
        };
        let (config, target) = (entry.config.clone(), entry.target);
        let id = TaskId {
            connector: name.to_owned(),
            task,
        };
        self.runtime.start_task(id, &config, &props, target).await;
        true
    }

    async fn restart_task(&mut self, name: String, task: u32) -> Result<(), HerderError> {
        if !self.entries.contains_key(&name) {
            return Err(HerderError::not_found_connector(&name));
        }
        if self.restart_task_of(&name, task).await {
            Ok(())
        } else {
            Err(HerderError::NotFound(format!(
                "Task {name}-{task} not found"
            )))
        }
    }

    async fn alter_offsets(
        &mut self,
        name: String,
        offsets: Option<ConnectorOffsets>,
    ) -> Result<Message, HerderError> {
        let entry = self
            .entries
            .get(&name)
            .ok_or_else(|| HerderError::not_found_connector(&name))?;
        if entry.target != TargetState::Stopped {
            return Err(HerderError::BadRequest(format!(
                "Connectors must be in the STOPPED state before their offsets can be modified. This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/{name}/stop' endpoint"
            )));
        }
        alter_offsets(&self.ctx, &name, entry.factory.connector_type(), offsets).await
    }
}
