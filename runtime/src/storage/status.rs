//! Connector and task states, as `GET /connectors/{name}/status` reports them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

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

#[derive(Debug, Default)]
struct ConnectorEntry {
    connector: Option<TaskStatus>,
    tasks: BTreeMap<u32, TaskStatus>,
    topics: BTreeSet<String>,
}

/// States of every connector and task on this worker, and the topics each connector used.
#[derive(Debug, Default)]
pub struct StatusStore {
    entries: Mutex<BTreeMap<String, ConnectorEntry>>,
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

    pub fn put_connector(&self, name: &str, status: TaskStatus) {
        self.with(|m| m.entry(name.to_owned()).or_default().connector = Some(status));
    }

    pub fn put_task(&self, name: &str, task: u32, status: TaskStatus) {
        self.with(|m| {
            m.entry(name.to_owned())
                .or_default()
                .tasks
                .insert(task, status);
        });
    }

    /// Drops task states at or above `count` (after a reconfiguration shrank the task set).
    pub fn retain_tasks(&self, name: &str, count: u32) {
        self.with(|m| {
            if let Some(e) = m.get_mut(name) {
                e.tasks.retain(|id, _| *id < count);
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

    /// Records that a connector produced to or consumed from a topic.
    pub fn add_topic(&self, name: &str, topic: &str) {
        self.with(|m| {
            let e = m.entry(name.to_owned()).or_default();
            if !e.topics.contains(topic) {
                e.topics.insert(topic.to_owned());
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
        self.with(|m| {
            if let Some(e) = m.get_mut(name) {
                e.topics.clear();
            }
        });
    }

    pub fn remove(&self, name: &str) {
        self.with(|m| {
            m.remove(name);
        });
    }
}
