//! Task runners: the source loop, the sink loop, and what they share
//! (converters, Kafka clients, status reporting, control signals).

mod control;
pub mod errors;
mod lag;
pub mod sink;
pub mod source;

pub use control::{Control, TargetState};

use std::sync::Arc;

use crate::config::Props;
use crate::config::connector::{KEY_CONVERTER, VALUE_CONVERTER};
use crate::config::providers::ConfigProviders;
use crate::config::worker::WorkerConfig;
use crate::converters::Converter;
use crate::errors::{ConnectError, Result};
use crate::metrics::Metrics;
use crate::plugins::{ConnectorFactory, Registry};
use crate::storage::{OffsetStore, State, StatusStore, TaskStatus};

/// Identifies a task: its connector and number.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct TaskId {
    pub connector: String,
    pub task: u32,
}

impl std::fmt::Display for TaskId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.connector, self.task)
    }
}

/// What every task runner needs from its worker.
#[derive(Clone)]
pub struct WorkerContext {
    /// `host:port`, as Kafka Connect names workers in status.
    pub worker_id: String,
    pub config: Arc<WorkerConfig>,
    pub registry: Arc<Registry>,
    pub offsets: Arc<dyn OffsetStore>,
    pub status: Arc<StatusStore>,
    /// Resolve `${provider:path:key}` references when connectors and tasks start.
    pub providers: Arc<ConfigProviders>,
    pub metrics: Arc<Metrics>,
}

impl WorkerContext {
    /// Records a task's state, with the worker's current generation. FAILED and UNASSIGNED
    /// are written only if no newer generation's status from another worker is known
    /// (Kafka Connect's `putSafe`): a worker that lost the task must not hide the state the
    /// new owner reported.
    pub fn report(&self, id: &TaskId, state: State, trace: Option<String>) {
        let status = TaskStatus {
            state,
            trace,
            worker_id: self.worker_id.clone(),
            generation: self.status.generation(),
        };
        if matches!(state, State::Failed | State::Unassigned) {
            self.status.put_task_safe(&id.connector, id.task, status);
        } else {
            self.status.put_task(&id.connector, id.task, status);
        }
    }

    /// Reports a task whose start() succeeded: RUNNING, or PAUSED if it was paused meanwhile.
    pub fn report_started(&self, id: &TaskId, control: &tokio::sync::watch::Receiver<TargetState>) {
        let state = if *control.borrow() == TargetState::Paused {
            State::Paused
        } else {
            State::Running
        };
        self.report(id, state, None);
    }

    /// The full class name of a connector's key or value converter, for error reports.
    pub fn converter_class(&self, connector: &Props, is_key: bool) -> String {
        let key = if is_key {
            KEY_CONVERTER
        } else {
            VALUE_CONVERTER
        };
        let class = match connector.get(key).filter(|c| !c.trim().is_empty()) {
            Some(c) => c.trim(),
            None if is_key => self.config.key_converter.as_str(),
            None => self.config.value_converter.as_str(),
        };
        self.registry
            .find(class)
            .map_or_else(|| class.to_owned(), |p| p.class.to_owned())
    }

    /// The key or value converter for a connector: the connector's own class and settings
    /// when it names one, else the worker's.
    pub fn converter(&self, connector: &Props, is_key: bool) -> Result<Arc<dyn Converter>> {
        let (key, prefix) = if is_key {
            (KEY_CONVERTER, "key.converter.")
        } else {
            (VALUE_CONVERTER, "value.converter.")
        };
        match connector.get(key).filter(|c| !c.trim().is_empty()) {
            Some(class) => {
                let settings = crate::config::def::with_prefix(connector, prefix);
                self.registry.converter(class, &settings, is_key)
            }
            None => {
                let class = if is_key {
                    &self.config.key_converter
                } else {
                    &self.config.value_converter
                };
                self.registry
                    .converter(class, &self.config.with_prefix(prefix), is_key)
            }
        }
    }
}

/// A running task: its control handle and its join handle.
pub struct TaskHandle {
    pub id: TaskId,
    pub control: Control,
    join: tokio::task::JoinHandle<()>,
}

impl TaskHandle {
    /// Asks the task to stop and waits for it, at most `timeout`; then aborts it.
    pub async fn stop(self, timeout: std::time::Duration) {
        self.control.set(TargetState::Stopped);
        let abort = self.join.abort_handle();
        if tokio::time::timeout(timeout, self.join).await.is_err() {
            tracing::warn!(task = %self.id, "task did not stop in time; aborting it");
            abort.abort();
        }
    }
}

/// Starts a task of a connector: `connector` is the connector's config (for converters and
/// client overrides), `props` the task's own config.
pub fn start_task(
    ctx: &WorkerContext,
    factory: ConnectorFactory,
    id: TaskId,
    connector: Props,
    props: Props,
    initial: TargetState,
) -> TaskHandle {
    let control = Control::new(initial);
    let rx = control.subscribe();
    let ctx2 = ctx.clone();
    let id2 = id.clone();
    // RUNNING is reported once the task's start() succeeded ([`WorkerContext::report_started`]),
    // as Kafka Connect's onStartup: a task that fails to start never shows RUNNING.
    if initial == TargetState::Paused {
        ctx.report(&id, State::Paused, None);
    }
    let join = tokio::spawn(async move {
        let result = match factory {
            ConnectorFactory::Source { task, .. } => {
                source::run(&ctx2, &id2, task(), &connector, &props, rx).await
            }
            ConnectorFactory::Sink { task, .. } => {
                sink::run(&ctx2, &id2, task(), &connector, &props, rx).await
            }
        };
        match result {
            Ok(()) => {
                tracing::info!(task = %id2, "task stopped");
                // As Kafka Connect's onShutdown: the task runs nowhere until its next owner
                // reports it.
                ctx2.report(&id2, State::Unassigned, None);
            }
            Err(e) => {
                tracing::error!(task = %id2, error = %e, "task failed");
                ctx2.report(&id2, State::Failed, Some(e.trace()));
            }
        }
    });
    TaskHandle { id, control, join }
}

/// Wraps a poisoned-join or similar failure of a helper thread.
pub(crate) fn join_error(what: &str, e: impl std::fmt::Display) -> ConnectError {
    ConnectError::internal(format!("{what}: {e}"))
}

/// The topics a task has written or read, for the connector's `/topics`: checked per record,
/// so the last topic is compared before the set is hashed.
#[derive(Debug, Default)]
pub(crate) struct SeenTopics {
    all: std::collections::HashSet<String>,
    last: String,
}

impl SeenTopics {
    /// Whether `topic` is seen for the first time (it is remembered).
    pub(crate) fn first_time(&mut self, topic: &str) -> bool {
        if self.last == topic {
            return false;
        }
        self.last.clear();
        self.last.push_str(topic);
        if self.all.contains(topic) {
            return false;
        }
        self.all.insert(topic.to_owned())
    }
}

#[cfg(test)]
mod seen_topics_tests {
    use super::SeenTopics;

    #[test]
    fn each_topic_is_new_once() {
        let mut seen = SeenTopics::default();
        let firsts: Vec<bool> = ["a", "a", "b", "a", "b", "c", "c"]
            .into_iter()
            .map(|t| seen.first_time(t))
            .collect();
        assert_eq!(firsts, [true, false, true, false, false, true, false]);
    }
}
