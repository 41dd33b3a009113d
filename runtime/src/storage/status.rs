//! Connector and task states, as `GET /connectors/{name}/status` reports them.
//!
//! Standalone workers keep them in memory only. Distributed workers share them through
//! Kafka Connect's status topic: a [`StatusWriter`] set with [`StatusStore::set_writer`]
//! publishes every local change, and the topic's reader feeds other workers' changes
//! back in through the `apply_remote_*` methods (which never write).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

/// Kafka Connect's connector and task states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum State {
    Unassigned,
    Running,
    Paused,
    Stopped,
    Failed,
    Restarting,
}

/// A connector's or a task's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskStatus {
    pub state: State,
    /// The failure, Java-stack-trace style; only for FAILED.
    pub trace: Option<String>,
    pub worker_id: String,
    pub generation: i32,
}

impl State {
    /// Whether Kafka Connect reports the plugin version with this state: only states
    /// a loaded connector or task reports (not UNASSIGNED or RESTARTING).
    pub fn reports_version(self) -> bool {
        matches!(
            self,
            State::Running | State::Paused | State::Stopped | State::Failed
        )
    }
}

/// Publishes status changes to other workers (the status topic). Every method only
/// enqueues: callers hold the status lock and may be on any thread.
pub trait StatusWriter: Send + Sync {
    /// `version` is the connector plugin's version, or `None` when unknown or when the
    /// state does not report one.
    fn write_connector(&self, connector: &str, status: &TaskStatus, version: Option<&str>);
    fn write_task(&self, connector: &str, task: u32, status: &TaskStatus, version: Option<&str>);
    /// The connector's status is gone (deleted).
    fn remove_connector(&self, connector: &str);
    /// The task's status is gone (deleted, or the task set shrank).
    fn remove_task(&self, connector: &str, task: u32);
    /// `task` first produced to or consumed from `topic`.
    fn write_topic(&self, connector: &str, topic: &str, task: u32);
    /// The connector's use of `topic` was forgotten (`PUT .../topics/reset`).
    fn remove_topic(&self, connector: &str, topic: &str);
}

#[derive(Debug, Default)]
struct ConnectorEntry {
    connector: Option<TaskStatus>,
    tasks: BTreeMap<u32, TaskStatus>,
    topics: BTreeSet<String>,
    /// The plugin version this worker reports for the connector and its tasks.
    plugin_version: Option<String>,
    /// Versions that came with the current statuses (local or read from the topic).
    connector_version: Option<String>,
    task_versions: BTreeMap<u32, String>,
}

impl ConnectorEntry {
    fn is_empty(&self) -> bool {
        self.connector.is_none()
            && self.tasks.is_empty()
            && self.topics.is_empty()
            && self.plugin_version.is_none()
    }

    fn version_for(&self, state: State) -> Option<String> {
        self.plugin_version
            .clone()
            .filter(|_| state.reports_version())
    }
}

/// Kafka Connect's rule for conditional (`putSafe`) writes: allowed when nothing is
/// known yet, when the previous value came from the same worker, or when it is not
/// from a newer generation. It narrows the window in which a worker that lost its
/// assignment overwrites the status written by the worker that took over.
fn can_write_safely(current: Option<&TaskStatus>, next: &TaskStatus) -> bool {
    match current {
        None => true,
        Some(c) => c.worker_id == next.worker_id || c.generation <= next.generation,
    }
}

/// Kafka Connect's read-side rule for task statuses: an UNASSIGNED from the same or an
/// older generation does not replace RUNNING.
fn is_stale_unassigned(current: Option<&TaskStatus>, next: &TaskStatus) -> bool {
    next.state == State::Unassigned
        && current.is_some_and(|c| c.state == State::Running && c.generation >= next.generation)
}

#[derive(Default)]
struct WriterSlot(Mutex<Option<Arc<dyn StatusWriter>>>);

impl std::fmt::Debug for WriterSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = self.0.lock().map(|w| w.is_some()).unwrap_or(false);
        f.write_str(if set { "Some(StatusWriter)" } else { "None" })
    }
}

/// States of every connector and task on this worker, and the topics each connector used.
#[derive(Debug, Default)]
pub struct StatusStore {
    entries: Mutex<BTreeMap<String, ConnectorEntry>>,
    writer: WriterSlot,
    /// The group generation this worker reports states with (0 in standalone mode).
    generation: AtomicI32,
}

impl StatusStore {
    fn with<R>(&self, f: impl FnOnce(&mut BTreeMap<String, ConnectorEntry>) -> R) -> R {
        // A poisoned lock only means a panic elsewhere; the map is still consistent.
        let mut guard = match self.entries.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        f(&mut guard)
    }

    /// The writer, if any. Called with the entries lock held, so writes are enqueued
    /// in the order the map changed.
    fn writer(&self) -> Option<Arc<dyn StatusWriter>> {
        match self.writer.0.lock() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// The generation states are reported with from now on (the worker joined a new one).
    pub fn set_generation(&self, generation: i32) {
        self.generation.store(generation, Ordering::Relaxed);
    }

    /// The generation this worker reports states with.
    pub fn generation(&self) -> i32 {
        self.generation.load(Ordering::Relaxed)
    }

    /// Publishes every later change through `writer` (distributed mode).
    pub fn set_writer(&self, writer: Arc<dyn StatusWriter>) {
        match self.writer.0.lock() {
            Ok(mut g) => *g = Some(writer),
            Err(p) => *p.into_inner() = Some(writer),
        }
    }

    /// Stops publishing changes.
    pub fn clear_writer(&self) {
        match self.writer.0.lock() {
            Ok(mut g) => *g = None,
            Err(p) => *p.into_inner() = None,
        }
    }

    /// The plugin version this worker reports with the connector's and its tasks'
    /// RUNNING, PAUSED, STOPPED and FAILED states (Kafka Connect 4.x writes it).
    pub fn set_plugin_version(&self, name: &str, version: Option<String>) {
        self.with(|m| m.entry(name.to_owned()).or_default().plugin_version = version);
    }

    pub fn put_connector(&self, name: &str, status: TaskStatus) {
        self.store_connector(name, status, false);
    }

    pub fn put_task(&self, name: &str, task: u32, status: TaskStatus) {
        self.store_task(name, task, status, false);
    }

    /// [`put_connector`](Self::put_connector) unless the current status is from
    /// another worker in a newer generation (Kafka's `putSafe`, used for UNASSIGNED
    /// and FAILED). Returns whether the status was written.
    pub fn put_connector_safe(&self, name: &str, status: TaskStatus) -> bool {
        self.store_connector(name, status, true)
    }

    /// [`put_task`](Self::put_task) under the same rule as
    /// [`put_connector_safe`](Self::put_connector_safe).
    pub fn put_task_safe(&self, name: &str, task: u32, status: TaskStatus) -> bool {
        self.store_task(name, task, status, true)
    }

    fn store_connector(&self, name: &str, status: TaskStatus, safe: bool) -> bool {
        let writer = self.writer();
        self.with(|m| {
            let e = m.entry(name.to_owned()).or_default();
            if safe && !can_write_safely(e.connector.as_ref(), &status) {
                return false;
            }
            e.connector_version = e.version_for(status.state);
            if let Some(w) = &writer {
                w.write_connector(name, &status, e.connector_version.as_deref());
            }
            e.connector = Some(status);
            true
        })
    }

    fn store_task(&self, name: &str, task: u32, status: TaskStatus, safe: bool) -> bool {
        let writer = self.writer();
        self.with(|m| {
            let e = m.entry(name.to_owned()).or_default();
            if safe && !can_write_safely(e.tasks.get(&task), &status) {
                return false;
            }
            let version = e.version_for(status.state);
            if let Some(w) = &writer {
                w.write_task(name, task, &status, version.as_deref());
                // Keep the map as every worker, this one included, will have it once
                // the record is read back from the topic.
                if is_stale_unassigned(e.tasks.get(&task), &status) {
                    return true;
                }
            }
            match version {
                Some(v) => e.task_versions.insert(task, v),
                None => e.task_versions.remove(&task),
            };
            e.tasks.insert(task, status);
            true
        })
    }

    /// Drops task states at or above `count` (after a reconfiguration shrank the task set).
    pub fn retain_tasks(&self, name: &str, count: u32) {
        let writer = self.writer();
        self.with(|m| {
            if let Some(e) = m.get_mut(name) {
                let gone: Vec<u32> = e.tasks.keys().copied().filter(|id| *id >= count).collect();
                for id in gone {
                    e.tasks.remove(&id);
                    e.task_versions.remove(&id);
                    if let Some(w) = &writer {
                        w.remove_task(name, id);
                    }
                }
            }
        });
    }

    pub fn connector(&self, name: &str) -> Option<TaskStatus> {
        self.with(|m| m.get(name).and_then(|e| e.connector.clone()))
    }

    pub fn task(&self, name: &str, task: u32) -> Option<TaskStatus> {
        self.with(|m| m.get(name).and_then(|e| e.tasks.get(&task).cloned()))
    }

    pub fn tasks(&self, name: &str) -> Vec<(u32, TaskStatus)> {
        self.with(|m| {
            m.get(name)
                .map(|e| e.tasks.iter().map(|(k, v)| (*k, v.clone())).collect())
                .unwrap_or_default()
        })
    }

    /// Records that a connector produced to or consumed from a topic (reported as
    /// found by task 0; [`add_task_topic`](Self::add_task_topic) names the task).
    pub fn add_topic(&self, name: &str, topic: &str) {
        self.add_task_topic(name, 0, topic);
    }

    /// Records that task `task` of a connector produced to or consumed from a topic.
    pub fn add_task_topic(&self, name: &str, task: u32, topic: &str) {
        let writer = self.writer();
        self.with(|m| {
            let e = m.entry(name.to_owned()).or_default();
            if !e.topics.contains(topic) {
                e.topics.insert(topic.to_owned());
                if let Some(w) = &writer {
                    w.write_topic(name, topic, task);
                }
            }
        });
    }

    pub fn topics(&self, name: &str) -> Vec<String> {
        self.with(|m| {
            m.get(name)
                .map(|e| e.topics.iter().cloned().collect())
                .unwrap_or_default()
        })
    }

    pub fn reset_topics(&self, name: &str) {
        let writer = self.writer();
        self.with(|m| {
            if let Some(e) = m.get_mut(name) {
                for topic in std::mem::take(&mut e.topics) {
                    if let Some(w) = &writer {
                        w.remove_topic(name, &topic);
                    }
                }
            }
        });
    }

    /// Forgets a deleted connector: its tasks' statuses, then its own, are removed
    /// (in that order, as Kafka Connect deletes them). Topics the connector used stay
    /// in the status topic, as in Kafka Connect.
    pub fn remove(&self, name: &str) {
        let writer = self.writer();
        self.with(|m| {
            if let Some(e) = m.remove(name) {
                if let Some(w) = &writer {
                    for task in e.tasks.keys() {
                        w.remove_task(name, *task);
                    }
                    w.remove_connector(name);
                }
            }
        });
    }

    /// Names of every connector with a known status.
    pub fn connector_names(&self) -> Vec<String> {
        self.with(|m| {
            m.iter()
                .filter(|(_, e)| e.connector.is_some() || !e.tasks.is_empty())
                .map(|(k, _)| k.clone())
                .collect()
        })
    }

    /// The plugin version that came with the connector's current status.
    pub fn connector_version(&self, name: &str) -> Option<String> {
        self.with(|m| m.get(name).and_then(|e| e.connector_version.clone()))
    }

    /// The plugin version that came with the task's current status.
    pub fn task_version(&self, name: &str, task: u32) -> Option<String> {
        self.with(|m| {
            m.get(name)
                .and_then(|e| e.task_versions.get(&task).cloned())
        })
    }

    /// A connector status read from the status topic (`None`: a tombstone, which also
    /// drops its tasks' statuses, as in Kafka Connect). Never written back.
    pub fn apply_remote_connector(
        &self,
        name: &str,
        status: Option<TaskStatus>,
        version: Option<String>,
    ) {
        self.with(|m| match status {
            Some(s) => {
                let e = m.entry(name.to_owned()).or_default();
                e.connector = Some(s);
                e.connector_version = version;
            }
            None => {
                if let Some(e) = m.get_mut(name) {
                    e.connector = None;
                    e.connector_version = None;
                    e.tasks.clear();
                    e.task_versions.clear();
                    if e.is_empty() {
                        m.remove(name);
                    }
                }
            }
        });
    }

    /// A task status read from the status topic (`None`: a tombstone). An UNASSIGNED
    /// status does not replace a RUNNING one of the same or a newer generation: during
    /// rebalances a worker that has not yet read the new owner's RUNNING can still
    /// write UNASSIGNED for a task it gave up (Kafka Connect ignores it the same way).
    pub fn apply_remote_task(
        &self,
        name: &str,
        task: u32,
        status: Option<TaskStatus>,
        version: Option<String>,
    ) {
        self.with(|m| match status {
            Some(s) => {
                let e = m.entry(name.to_owned()).or_default();
                if is_stale_unassigned(e.tasks.get(&task), &s) {
                    tracing::trace!(
                        connector = name,
                        task,
                        "ignoring stale UNASSIGNED status in favour of RUNNING"
                    );
                    return;
                }
                e.tasks.insert(task, s);
                match version {
                    Some(v) => e.task_versions.insert(task, v),
                    None => e.task_versions.remove(&task),
                };
            }
            None => {
                if let Some(e) = m.get_mut(name) {
                    e.tasks.remove(&task);
                    e.task_versions.remove(&task);
                    if e.is_empty() {
                        m.remove(name);
                    }
                }
            }
        });
    }

    /// A topic-tracking record read from the status topic (`present: false`: a
    /// tombstone after a topics reset).
    pub fn apply_remote_topic(&self, name: &str, topic: &str, present: bool) {
        self.with(|m| {
            if present {
                m.entry(name.to_owned())
                    .or_default()
                    .topics
                    .insert(topic.to_owned());
            } else if let Some(e) = m.get_mut(name) {
                e.topics.remove(topic);
                if e.is_empty() {
                    m.remove(name);
                }
            }
        });
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Records what would be written to the status topic.
    #[derive(Default)]
    struct Recorder(Mutex<Vec<String>>);

    impl Recorder {
        fn take(&self) -> Vec<String> {
            std::mem::take(&mut *self.0.lock().unwrap())
        }
        fn push(&self, s: String) {
            self.0.lock().unwrap().push(s);
        }
    }

    impl StatusWriter for Recorder {
        fn write_connector(&self, c: &str, s: &TaskStatus, v: Option<&str>) {
            self.push(format!("connector {c} {:?} {v:?}", s.state));
        }
        fn write_task(&self, c: &str, t: u32, s: &TaskStatus, v: Option<&str>) {
            self.push(format!("task {c}-{t} {:?} {v:?}", s.state));
        }
        fn remove_connector(&self, c: &str) {
            self.push(format!("-connector {c}"));
        }
        fn remove_task(&self, c: &str, t: u32) {
            self.push(format!("-task {c}-{t}"));
        }
        fn write_topic(&self, c: &str, topic: &str, t: u32) {
            self.push(format!("topic {c} {topic} {t}"));
        }
        fn remove_topic(&self, c: &str, topic: &str) {
            self.push(format!("-topic {c} {topic}"));
        }
    }

    fn st(state: State, worker: &str, generation: i32) -> TaskStatus {
        TaskStatus {
            state,
            trace: None,
            worker_id: worker.into(),
            generation,
        }
    }

    #[test]
    fn local_changes_are_published_in_order() {
        let store = StatusStore::default();
        store.put_connector("c", st(State::Running, "w1", 1));
        let rec = Arc::new(Recorder::default());
        store.set_writer(rec.clone());
        store.set_plugin_version("c", Some("1.0".into()));
        store.put_connector("c", st(State::Running, "w1", 1));
        store.put_task("c", 0, st(State::Running, "w1", 1));
        store.put_task("c", 1, st(State::Unassigned, "w1", 1));
        store.add_task_topic("c", 1, "t");
        store.add_topic("c", "t");
        store.reset_topics("c");
        store.retain_tasks("c", 1);
        store.remove("c");
        assert_eq!(
            rec.take(),
            [
                "connector c Running Some(\"1.0\")",
                "task c-0 Running Some(\"1.0\")",
                "task c-1 Unassigned None",
                "topic c t 1",
                "-topic c t",
                "-task c-1",
                "-task c-0",
                "-connector c",
            ]
        );
        store.clear_writer();
        store.put_connector("c", st(State::Running, "w1", 1));
        assert!(rec.take().is_empty());
    }

    #[test]
    fn conflicting_writes_follow_kafka_connect() {
        let store = StatusStore::default();
        store.apply_remote_task("c", 0, Some(st(State::Running, "w2", 5)), None);
        // An older generation's UNASSIGNED does not hide RUNNING, remote or local.
        store.apply_remote_task("c", 0, Some(st(State::Unassigned, "w1", 4)), None);
        assert_eq!(store.task("c", 0).unwrap().state, State::Running);
        let rec = Arc::new(Recorder::default());
        store.set_writer(rec.clone());
        store.put_task("c", 0, st(State::Unassigned, "w1", 5));
        assert_eq!(store.task("c", 0).unwrap().state, State::Running);
        assert_eq!(
            rec.take(),
            ["task c-0 Unassigned None"],
            "still written, like Kafka"
        );
        // putSafe: refused over another worker's newer status, allowed otherwise.
        assert!(!store.put_task_safe("c", 0, st(State::Failed, "w1", 4)));
        assert!(store.put_task_safe("c", 0, st(State::Failed, "w2", 1)));
        assert!(store.put_task_safe("c", 1, st(State::Failed, "w1", 0)));
        // A connector tombstone drops its tasks too.
        store.apply_remote_connector("c", Some(st(State::Running, "w2", 5)), Some("2".into()));
        assert_eq!(store.connector_version("c").as_deref(), Some("2"));
        store.apply_remote_connector("c", None, None);
        assert!(store.tasks("c").is_empty() && store.connector("c").is_none());
        assert!(store.connector_names().is_empty());
        assert_eq!(rec.take().len(), 2, "remote records are never written back");
    }
}
