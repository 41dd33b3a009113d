//! The standalone herder: every connector and task runs in this process; connector
//! configs live in memory (as in Kafka Connect's standalone mode), offsets in a file.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::Value as Json;
use tokio::sync::{mpsc, oneshot};

use super::{ConfigPatch, Created, HerderError, apply_patch};
use crate::config::Props;
use crate::config::connector::{
    CONNECTOR_CLASS, NAME, TASKS_MAX, TOPICS, TOPICS_REGEX, cross_validate,
};
use crate::config::def::{ConfigInfos, PluginConfigKey};
use crate::connectors::{Connector, ConnectorType, SourceOffset, SourcePartition};
use crate::plugins::{ConnectorFactory, Factory, Plugin, redact};
use crate::rest::api::{
    ConnectorInfo, ConnectorOffset, ConnectorOffsets, ConnectorState, ConnectorStateInfo,
    ConnectorTaskId, Message, PluginInfo, TaskInfo, TaskState,
};
use crate::storage::{State, TaskStatus};
use crate::worker::{self, TargetState, TaskHandle, TaskId, WorkerContext};

/// What readers see of a connector without asking the actor.
#[derive(Debug, Clone)]
struct Snapshot {
    config: Props,
    ty: ConnectorType,
    class: &'static str,
    version: &'static str,
    task_configs: Vec<Props>,
}

type Shared = Arc<RwLock<BTreeMap<String, Snapshot>>>;

/// A connector as the actor owns it.
struct Entry {
    config: Props,
    target: TargetState,
    plugin: Plugin,
    factory: ConnectorFactory,
    instance: Option<Box<dyn Connector>>,
    task_configs: Vec<Props>,
    tasks: BTreeMap<u32, TaskHandle>,
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
pub struct Herder {
    tx: mpsc::UnboundedSender<Job>,
    shared: Shared,
    ctx: WorkerContext,
}

struct Inner {
    ctx: WorkerContext,
    entries: BTreeMap<String, Entry>,
    shared: Shared,
}

fn read<R>(shared: &Shared, f: impl FnOnce(&BTreeMap<String, Snapshot>) -> R) -> R {
    match shared.read() {
        Ok(g) => f(&g),
        Err(p) => f(&p.into_inner()),
    }
}

impl Herder {
    /// Starts the herder's actor on the current runtime.
    pub fn start(ctx: WorkerContext) -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel::<Job>();
        let shared: Shared = Arc::default();
        let mut inner = Inner {
            ctx: ctx.clone(),
            entries: BTreeMap::new(),
            shared: shared.clone(),
        };
        tokio::spawn(async move {
            while let Some(job) = rx.recv().await {
                job(&mut inner).await;
            }
        });
        Herder { tx, shared, ctx }
    }

    /// The worker's context (id, config, registry, stores).
    pub fn context(&self) -> &WorkerContext {
        &self.ctx
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

    fn snapshot(&self, name: &str) -> Result<Snapshot, HerderError> {
        read(&self.shared, |m| m.get(name).cloned())
            .ok_or_else(|| HerderError::not_found_connector(name))
    }

    // ---- reads ----

    pub fn connectors(&self) -> Vec<String> {
        read(&self.shared, |m| m.keys().cloned().collect())
    }

    pub fn connector_info(&self, name: &str) -> Result<ConnectorInfo, HerderError> {
        let s = self.snapshot(name)?;
        Ok(info_of(name, &s))
    }

    pub fn connector_config(&self, name: &str) -> Result<Props, HerderError> {
        Ok(self.snapshot(name)?.config)
    }

    pub fn connector_status(&self, name: &str) -> Result<ConnectorStateInfo, HerderError> {
        let s = self.snapshot(name)?;
        Ok(status_of(&self.ctx, name, &s))
    }

    pub fn task_status(&self, name: &str, task: u32) -> Result<TaskState, HerderError> {
        let s = self.snapshot(name)?;
        let found = (task as usize) < s.task_configs.len();
        match self.ctx.status.task(name, task).filter(|_| found) {
            Some(st) => Ok(task_state(task, st, s.version)),
            None => Err(HerderError::NotFound(format!(
                "No status found for task {name}-{task}"
            ))),
        }
    }

    /// Task configs with secrets hidden.
    pub fn task_infos(&self, name: &str) -> Result<Vec<TaskInfo>, HerderError> {
        let s = self.snapshot(name)?;
        let def = self.connector_def_for(s.class);
        Ok(s.task_configs
            .iter()
            .enumerate()
            .map(|(i, c)| TaskInfo {
                id: ConnectorTaskId {
                    connector: name.to_owned(),
                    task: i as u32,
                },
                config: redact(&def, c),
            })
            .collect())
    }

    pub fn topics(&self, name: &str) -> Result<Vec<String>, HerderError> {
        self.snapshot(name)?;
        Ok(self.ctx.status.topics(name))
    }

    pub fn reset_topics(&self, name: &str) -> Result<(), HerderError> {
        self.snapshot(name)?;
        self.ctx.status.reset_topics(name);
        Ok(())
    }

    fn connector_def_for(&self, class: &str) -> crate::config::ConfigDef {
        match self.ctx.registry.find(class) {
            Some(p) => self.ctx.registry.connector_config_def(p),
            None => crate::config::ConfigDef::new(),
        }
    }

    // ---- plugins and validation ----

    /// `GET /connector-plugins`.
    pub fn plugins(&self, connectors_only: bool) -> Vec<PluginInfo> {
        let mut out: Vec<PluginInfo> = self
            .ctx
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
        out.sort_by(|a, b| a.class.cmp(&b.class));
        out
    }

    /// `GET /connector-plugins/{plugin}/config`: the plugin's own keys, then the common ones.
    pub fn plugin_config(&self, plugin: &str) -> Result<Vec<PluginConfigKey>, HerderError> {
        let p = self
            .ctx
            .registry
            .find(plugin)
            .ok_or_else(|| HerderError::NotFound(format!("Unknown plugin {plugin}.")))?;
        let own = (p.config_def)();
        let all = match &p.factory {
            Factory::Connector(f) => {
                own.merge(&crate::config::connector::common_def(f.connector_type()))
            }
            Factory::Converter(_) => own,
        };
        Ok(all.describe())
    }

    /// `PUT /connector-plugins/{plugin}/config/validate` and the check before every create.
    pub fn validate(&self, config: &Props) -> Result<ConfigInfos, HerderError> {
        validate(&self.ctx, config).map(|(_, _, infos)| infos)
    }

    // ---- mutations ----

    /// `POST /connectors`: 409 when it exists.
    pub async fn create(
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
    pub async fn put_config(
        &self,
        name: String,
        config: Props,
    ) -> Result<Created<ConnectorInfo>, HerderError> {
        self.call(move |inner| inner.put(name, config, true, None).boxed())
            .await?
    }

    /// `PATCH /connectors/{name}/config`.
    pub async fn patch_config(
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

    pub async fn delete(&self, name: String) -> Result<(), HerderError> {
        self.call(move |inner| inner.delete(name).boxed()).await?
    }

    pub async fn pause(&self, name: String) -> Result<(), HerderError> {
        self.call(move |inner| inner.set_target(name, TargetState::Paused).boxed())
            .await?
    }

    pub async fn resume(&self, name: String) -> Result<(), HerderError> {
        self.call(move |inner| inner.set_target(name, TargetState::Started).boxed())
            .await?
    }

    pub async fn stop(&self, name: String) -> Result<(), HerderError> {
        self.call(move |inner| inner.set_target(name, TargetState::Stopped).boxed())
            .await?
    }

    /// `POST /connectors/{name}/restart`: `None` when only the connector was restarted (204),
    /// else the states with what will restart marked RESTARTING (202).
    pub async fn restart(
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

    pub async fn restart_task(&self, name: String, task: u32) -> Result<(), HerderError> {
        self.call(move |inner| inner.restart_task(name, task).boxed())
            .await?
    }

    /// `GET /connectors/{name}/offsets`.
    pub async fn offsets(&self, name: String) -> Result<ConnectorOffsets, HerderError> {
        let s = self.snapshot(&name)?;
        match s.ty {
            ConnectorType::Source => Ok(ConnectorOffsets {
                offsets: self
                    .ctx
                    .offsets
                    .connector_offsets(&name)
                    .into_iter()
                    .map(|(p, o)| ConnectorOffset {
                        partition: Some(p),
                        offset: Some(o),
                    })
                    .collect(),
            }),
            ConnectorType::Sink => sink_offsets(&self.ctx, &name, &s.config).await,
        }
    }

    /// `PATCH /connectors/{name}/offsets` (only when STOPPED).
    pub async fn alter_offsets(
        &self,
        name: String,
        offsets: ConnectorOffsets,
    ) -> Result<Message, HerderError> {
        self.call(move |inner| inner.alter_offsets(name, Some(offsets)).boxed())
            .await?
    }

    /// `DELETE /connectors/{name}/offsets` (only when STOPPED).
    pub async fn reset_offsets(&self, name: String) -> Result<Message, HerderError> {
        self.call(move |inner| inner.alter_offsets(name, None).boxed())
            .await?
    }

    /// Stops every connector and task, committing what they finished.
    pub async fn shutdown(&self) {
        let _ = self
            .call(|inner| {
                async move {
                    let names: Vec<String> = inner.entries.keys().cloned().collect();
                    for name in names {
                        if let Some(mut e) = inner.entries.remove(&name) {
                            inner.stop_entry(&name, &mut e).await;
                        }
                    }
                }
                .boxed()
            })
            .await;
    }
}

fn info_of(name: &str, s: &Snapshot) -> ConnectorInfo {
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

fn task_state(id: u32, st: TaskStatus, version: &str) -> TaskState {
    TaskState {
        id,
        state: st.state,
        worker_id: st.worker_id,
        trace: st.trace,
        version: Some(version.to_owned()),
    }
}

fn status_of(ctx: &WorkerContext, name: &str, s: &Snapshot) -> ConnectorStateInfo {
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

/// Resolves the class and validates a connector config against its full declaration.
fn validate(
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
    let def = ctx.registry.connector_config_def(plugin);
    let mut infos = def.config_infos(plugin.class, config);
    cross_validate(factory.connector_type(), &mut infos);
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

/// The Java class name of a connector's task, as Kafka Connect records it in `task.class`.
fn task_class(connector_class: &str) -> String {
    match connector_class.strip_suffix("Connector") {
        Some(base) => format!("{base}Task"),
        None => format!("{connector_class}Task"),
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

    fn report_connector(&self, name: &str, state: State, trace: Option<String>) {
        self.ctx.status.put_connector(
            name,
            TaskStatus {
                state,
                trace,
                worker_id: self.ctx.worker_id.clone(),
                generation: 0,
            },
        );
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
        let (plugin, factory, infos) = validate(&self.ctx, &config)?;
        if infos.error_count > 0 {
            return Err(HerderError::InvalidConfig(Box::new(infos)));
        }
        let mut target = initial.unwrap_or(TargetState::Started);
        if let Some(mut old) = self.entries.remove(&name) {
            target = old.target;
            self.stop_entry(&name, &mut old).await;
        }
        let mut entry = Entry {
            config,
            target,
            plugin,
            factory,
            instance: None,
            task_configs: Vec::new(),
            tasks: BTreeMap::new(),
        };
        self.start_entry(&name, &mut entry).await;
        self.entries.insert(name.clone(), entry);
        self.publish(&name);
        let info = read(&self.shared, |m| m.get(&name).map(|s| info_of(&name, s)))
            .ok_or_else(|| HerderError::Internal(format!("connector {name} vanished")))?;
        Ok(Created {
            created: !exists,
            value: info,
        })
    }

    /// Starts the connector per its target state, and its tasks when STARTED.
    async fn start_entry(&self, name: &str, entry: &mut Entry) {
        if entry.target == TargetState::Stopped {
            entry.task_configs.clear();
            self.ctx.status.retain_tasks(name, 0);
            self.report_connector(name, State::Stopped, None);
            return;
        }
        let mut instance = entry.factory.new_connector();
        if let Err(e) = instance.start(&entry.config).await {
            tracing::error!(connector = name, error = %e, "connector failed to start");
            self.report_connector(name, State::Failed, Some(e.trace()));
            return;
        }
        let state = if entry.target == TargetState::Paused {
            State::Paused
        } else {
            State::Running
        };
        self.report_connector(name, state, None);
        entry.instance = Some(instance);
        if entry.target == TargetState::Started {
            self.start_tasks(name, entry);
        }
    }

    /// Asks the connector for task configs and starts one task per config.
    fn start_tasks(&self, name: &str, entry: &mut Entry) {
        let Some(instance) = entry.instance.as_ref() else {
            return;
        };
        let max = entry
            .config
            .get(TASKS_MAX)
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(1);
        let configs = match instance.task_configs(max) {
            Ok(c) if c.len() > max => {
                let msg = format!(
                    "The connector {name} has generated {} tasks, which is greater than {max}, the maximum number of tasks it is configured to create.",
                    c.len()
                );
                self.report_connector(
                    name,
                    State::Failed,
                    Some(crate::errors::ConnectError::config(msg).trace()),
                );
                return;
            }
            Ok(c) => c,
            Err(e) => {
                self.report_connector(name, State::Failed, Some(e.trace()));
                return;
            }
        };
        let class = task_class(entry.plugin.class);
        entry.task_configs = configs
            .into_iter()
            .map(|mut c| {
                c.insert("task.class".into(), class.clone());
                c
            })
            .collect();
        self.ctx
            .status
            .retain_tasks(name, entry.task_configs.len() as u32);
        for (i, props) in entry.task_configs.iter().enumerate() {
            let id = TaskId {
                connector: name.to_owned(),
                task: i as u32,
            };
            let handle = worker::start_task(
                &self.ctx,
                entry.factory,
                id,
                entry.config.clone(),
                props.clone(),
                entry.target,
            );
            entry.tasks.insert(i as u32, handle);
        }
    }

    async fn stop_tasks(&self, entry: &mut Entry) {
        let timeout = self.ctx.config.task_shutdown_timeout;
        let handles: Vec<TaskHandle> = std::mem::take(&mut entry.tasks).into_values().collect();
        futures::future::join_all(handles.into_iter().map(|h| h.stop(timeout))).await;
    }

    async fn stop_entry(&self, name: &str, entry: &mut Entry) {
        self.stop_tasks(entry).await;
        if let Some(mut instance) = entry.instance.take()
            && let Err(e) = instance.stop().await
        {
            tracing::warn!(connector = name, error = %e, "connector did not stop cleanly");
        }
    }

    async fn delete(&mut self, name: String) -> Result<(), HerderError> {
        let mut entry = self
            .entries
            .remove(&name)
            .ok_or_else(|| HerderError::not_found_connector(&name))?;
        self.stop_entry(&name, &mut entry).await;
        self.ctx.status.remove(&name);
        self.publish(&name);
        Ok(())
    }

    async fn set_target(&mut self, name: String, target: TargetState) -> Result<(), HerderError> {
        let mut entry = self
            .entries
            .remove(&name)
            .ok_or_else(|| HerderError::not_found_connector(&name))?;
        let previous = entry.target;
        entry.target = target;
        match (previous, target) {
            (a, b) if a == b => {}
            (_, TargetState::Stopped) => {
                self.stop_entry(&name, &mut entry).await;
                self.start_entry(&name, &mut entry).await;
            }
            (TargetState::Stopped, _) => self.start_entry(&name, &mut entry).await,
            (_, TargetState::Paused) => {
                self.report_connector(&name, State::Paused, None);
                for (id, t) in &entry.tasks {
                    t.control.set(TargetState::Paused);
                    if self
                        .ctx
                        .status
                        .task(&name, *id)
                        .is_some_and(|s| s.state == State::Running)
                    {
                        self.ctx.report(&t.id, State::Paused, None);
                    }
                }
            }
            (_, TargetState::Started) => {
                if entry.instance.is_none() {
                    self.start_entry(&name, &mut entry).await;
                } else {
                    self.report_connector(&name, State::Running, None);
                    if entry.tasks.is_empty() {
                        self.start_tasks(&name, &mut entry);
                    }
                    for (id, t) in &entry.tasks {
                        t.control.set(TargetState::Started);
                        if self
                            .ctx
                            .status
                            .task(&name, *id)
                            .is_some_and(|s| s.state == State::Paused)
                        {
                            self.ctx.report(&t.id, State::Running, None);
                        }
                    }
                }
            }
        }
        self.entries.insert(name.clone(), entry);
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
        let Some(mut entry) = self.entries.remove(&name) else {
            let _ = reply.send(Err(HerderError::not_found_connector(&name)));
            return;
        };
        let failed = |s: Option<TaskStatus>| s.is_some_and(|s| s.state == State::Failed);
        let restart_connector = !only_failed || failed(self.ctx.status.connector(&name));
        let tasks: Vec<u32> = if include_tasks {
            entry
                .tasks
                .keys()
                .copied()
                .filter(|id| !only_failed || failed(self.ctx.status.task(&name, *id)))
                .collect()
        } else {
            Vec::new()
        };
        let plain = !include_tasks && !only_failed;
        if !plain {
            if restart_connector {
                self.report_connector(&name, State::Restarting, None);
            }
            for id in &tasks {
                if let Some(t) = entry.tasks.get(id) {
                    self.ctx.report(&t.id, State::Restarting, None);
                }
            }
            let snapshot = entry.snapshot();
            let _ = reply.send(Ok(Some(status_of(&self.ctx, &name, &snapshot))));
        } else {
            let _ = reply.send(Ok(None));
        }
        if restart_connector && entry.target != TargetState::Stopped {
            if let Some(mut instance) = entry.instance.take() {
                let _ = instance.stop().await;
            }
            let had_tasks = !entry.tasks.is_empty();
            let old_configs = entry.task_configs.clone();
            let mut instance = entry.factory.new_connector();
            match instance.start(&entry.config).await {
                Ok(()) => {
                    let state = if entry.target == TargetState::Paused {
                        State::Paused
                    } else {
                        State::Running
                    };
                    self.report_connector(&name, state, None);
                    entry.instance = Some(instance);
                    // New task configs replace the tasks; the same configs leave them running.
                    if had_tasks || entry.target == TargetState::Started {
                        let probe = entry
                            .instance
                            .as_ref()
                            .and_then(|i| i.task_configs(old_configs.len().max(1)).ok());
                        let unchanged = probe.is_some_and(|p| {
                            p.len() == old_configs.len()
                                && p.iter().zip(&old_configs).all(|(a, b)| {
                                    let mut b = b.clone();
                                    b.remove("task.class");
                                    *a == b
                                })
                        });
                        if !unchanged {
                            self.stop_tasks(&mut entry).await;
                            self.start_tasks(&name, &mut entry);
                        }
                    }
                }
                Err(e) => self.report_connector(&name, State::Failed, Some(e.trace())),
            }
        } else if restart_connector {
            self.report_connector(&name, State::Stopped, None);
        }
        for id in tasks {
            self.restart_task_of(&name, &mut entry, id).await;
        }
        self.entries.insert(name.clone(), entry);
        self.publish(&name);
    }

    async fn restart_task_of(&self, name: &str, entry: &mut Entry, id: u32) {
        let Some(props) = entry.task_configs.get(id as usize).cloned() else {
            return;
        };
        if let Some(h) = entry.tasks.remove(&id) {
            h.stop(self.ctx.config.task_shutdown_timeout).await;
        }
        let handle = worker::start_task(
            &self.ctx,
            entry.factory,
            TaskId {
                connector: name.to_owned(),
                task: id,
            },
            entry.config.clone(),
            props,
            entry.target,
        );
        entry.tasks.insert(id, handle);
    }

    async fn restart_task(&mut self, name: String, task: u32) -> Result<(), HerderError> {
        let mut entry = self
            .entries
            .remove(&name)
            .ok_or_else(|| HerderError::not_found_connector(&name))?;
        let result = if (task as usize) < entry.task_configs.len() {
            self.restart_task_of(&name, &mut entry, task).await;
            Ok(())
        } else {
            Err(HerderError::NotFound(format!(
                "Task {name}-{task} not found"
            )))
        };
        self.entries.insert(name.clone(), entry);
        self.publish(&name);
        result
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
        let reset = offsets.is_none();
        match entry.factory.connector_type() {
            ConnectorType::Source => {
                let changes: Vec<(SourcePartition, Option<SourceOffset>)> = match offsets {
                    Some(o) => o
                        .offsets
                        .into_iter()
                        .map(|e| {
                            e.partition.map(|p| (p, e.offset)).ok_or_else(|| {
                                HerderError::BadRequest("Partition objects cannot be null".into())
                            })
                        })
                        .collect::<Result<_, _>>()?,
                    None => self
                        .ctx
                        .offsets
                        .connector_offsets(&name)
                        .into_iter()
                        .map(|(p, _)| (p, None))
                        .collect(),
                };
                self.ctx.offsets.put(&name, changes).await?;
            }
            ConnectorType::Sink => alter_sink_offsets(&self.ctx, &name, offsets).await?,
        }
        Ok(Message {
            message: if reset {
                "The offsets for this connector have been reset successfully".into()
            } else {
                "The offsets for this connector have been altered successfully".into()
            },
        })
    }
}

/// A consumer in a sink connector's group that never subscribes: used to read and
/// write the group's committed offsets while the connector is stopped.
fn group_consumer(ctx: &WorkerContext, connector: &str) -> Result<BaseConsumer, HerderError> {
    let mut cfg = rdkafka::ClientConfig::new();
    for (k, v) in ctx.config.consumer_settings() {
        cfg.set(k, v);
    }
    cfg.set("group.id", worker::sink::group_id(connector))
        .set("enable.auto.commit", "false");
    cfg.create().map_err(|e| {
        HerderError::Internal(format!(
            "could not create a consumer for group connect-{connector}: {e}"
        ))
    })
}

const ADMIN_TIMEOUT: Duration = Duration::from_secs(30);

fn partitions_of(
    consumer: &BaseConsumer,
    config: &Props,
) -> Result<TopicPartitionList, HerderError> {
    let md = consumer
        .fetch_metadata(None, ADMIN_TIMEOUT)
        .map_err(|e| HerderError::Internal(format!("could not read topic metadata: {e}")))?;
    let topics: Vec<String> = config
        .get(TOPICS)
        .map(|t| {
            t.split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let regex = config
        .get(TOPICS_REGEX)
        .filter(|r| !r.trim().is_empty())
        .and_then(|r| regex::Regex::new(&format!("^(?:{})$", r.trim())).ok());
    let mut tpl = TopicPartitionList::new();
    for t in md.topics() {
        let wanted = topics.iter().any(|x| x == t.name())
            || regex.as_ref().is_some_and(|r| r.is_match(t.name()));
        if wanted {
            for p in t.partitions() {
                tpl.add_partition(t.name(), p.id());
            }
        }
    }
    Ok(tpl)
}

async fn sink_offsets(
    ctx: &WorkerContext,
    name: &str,
    config: &Props,
) -> Result<ConnectorOffsets, HerderError> {
    let consumer = group_consumer(ctx, name)?;
    let config = config.clone();
    tokio::task::spawn_blocking(move || {
        let tpl = partitions_of(&consumer, &config)?;
        let committed = consumer
            .committed_offsets(tpl, ADMIN_TIMEOUT)
            .map_err(|e| HerderError::Internal(format!("could not read committed offsets: {e}")))?;
        let offsets = committed
            .elements()
            .iter()
            .filter_map(|e| match e.offset() {
                Offset::Offset(o) => Some(ConnectorOffset {
                    partition: serde_json::json!({"kafka_topic": e.topic(), "kafka_partition": e.partition()})
                        .as_object()
                        .cloned(),
                    offset: serde_json::json!({ "kafka_offset": o }).as_object().cloned(),
                }),
                _ => None,
            })
            .collect();
        Ok(ConnectorOffsets { offsets })
    })
    .await
    .map_err(|e| HerderError::Internal(format!("offset reader failed: {e}")))?
}

async fn alter_sink_offsets(
    ctx: &WorkerContext,
    name: &str,
    offsets: Option<ConnectorOffsets>,
) -> Result<(), HerderError> {
    let Some(offsets) = offsets else {
        // Reset: drop the consumer group; the next start reads from the beginning.
        let admin: rdkafka::admin::AdminClient<rdkafka::client::DefaultClientContext> = {
            let mut cfg = rdkafka::ClientConfig::new();
            for (k, v) in ctx.config.consumer_settings() {
                cfg.set(k, v);
            }
            cfg.create().map_err(|e| {
                HerderError::Internal(format!("could not create an admin client: {e}"))
            })?
        };
        let group = worker::sink::group_id(name);
        let results = admin
            .delete_groups(&[&group], &rdkafka::admin::AdminOptions::new())
            .await
            .map_err(|e| {
                HerderError::Internal(format!("could not delete consumer group {group}: {e}"))
            })?;
        for r in results {
            if let Err((g, code)) = r
                && code != rdkafka::types::RDKafkaErrorCode::GroupIdNotFound
            {
                return Err(HerderError::Internal(format!(
                    "could not delete consumer group {g}: {code}"
                )));
            }
        }
        return Ok(());
    };
    let mut tpl = TopicPartitionList::new();
    for e in offsets.offsets {
        let p = e
            .partition
            .ok_or_else(|| HerderError::BadRequest("Partition objects cannot be null".into()))?;
        let topic = p.get("kafka_topic").and_then(Json::as_str).ok_or_else(|| {
            HerderError::BadRequest(format!(
                "Kafka topic field must be a string in partition {}",
                Json::Object(p.clone())
            ))
        })?;
        let partition = p
            .get("kafka_partition")
            .and_then(Json::as_i64)
            .and_then(|v| i32::try_from(v).ok())
            .ok_or_else(|| {
                HerderError::BadRequest(format!(
                    "Kafka partition field must be an integer in partition {}",
                    Json::Object(p.clone())
                ))
            })?;
        let offset = match e.offset {
            None => {
                return Err(HerderError::BadRequest(
                    "Resetting a single sink partition (a null offset) is not supported yet; use DELETE /connectors/{name}/offsets".into(),
                ));
            }
            Some(o) => o
                .get("kafka_offset")
                .and_then(Json::as_i64)
                .ok_or_else(|| {
                    HerderError::BadRequest(format!(
                        "Kafka offset field must be an integer in offset {}",
                        Json::Object(o.clone())
                    ))
                })?,
        };
        tpl.add_partition_offset(topic, partition, Offset::Offset(offset))
            .map_err(|e| {
                HerderError::BadRequest(format!("invalid offset for {topic}-{partition}: {e}"))
            })?;
    }
    let consumer = group_consumer(ctx, name)?;
    tokio::task::spawn_blocking(move || consumer.commit(&tpl, CommitMode::Sync))
        .await
        .map_err(|e| HerderError::Internal(format!("offset writer failed: {e}")))?
        .map_err(|e| HerderError::Internal(format!("could not commit offsets: {e}")))
}
