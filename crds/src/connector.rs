//! The `Connector` kind: one connector on a `ConnectCluster`, managed over the REST API.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Keys of `spec.config` the API server refuses, because they come from other fields
/// (`metadata.name`, `spec.class`, `spec.tasksMax`).
pub const RESERVED_CONFIG_KEYS: [&str; 3] = ["name", "connector.class", "tasks.max"];

/// The CEL rule on `ConnectorSpec` that enforces [`RESERVED_CONFIG_KEYS`].
pub const RESERVED_CONFIG_KEYS_RULE: &str = "!has(self.config) || !('name' in self.config || 'connector.class' in self.config || 'tasks.max' in self.config)";

/// Desired state of a Connector.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "ferry.dev",
    version = "v1alpha1",
    kind = "Connector",
    namespaced,
    status = "ConnectorStatus",
    derive = "PartialEq",
    shortname = "kctr",
    category = "ferry",
    doc = "A Kafka Connect connector running on a ConnectCluster.",
    printcolumn = r#"{"name":"Cluster","type":"string","description":"ConnectCluster it runs on","jsonPath":".spec.clusterRef.name"}"#,
    printcolumn = r#"{"name":"Class","type":"string","description":"Connector class","jsonPath":".spec.class"}"#,
    printcolumn = r#"{"name":"Tasks","type":"integer","description":"Maximum number of tasks","jsonPath":".spec.tasksMax"}"#,
    printcolumn = r#"{"name":"State","type":"string","description":"Connector state reported by the cluster","jsonPath":".status.connectorStatus.connector.state"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[x_kube(validation = Rule::new(RESERVED_CONFIG_KEYS_RULE).message("spec.config must not contain 'name', 'connector.class' or 'tasks.max': they come from metadata.name, spec.class and spec.tasksMax"))]
#[serde(rename_all = "camelCase")]
pub struct ConnectorSpec {
    /// The ConnectCluster this connector runs on.
    pub cluster_ref: ClusterRef,

    /// Connector class (`connector.class`): a fully qualified class name or an alias such as
    /// `FileStreamSink`.
    #[schemars(length(min = 1))]
    pub class: String,

    /// Maximum number of tasks (`tasks.max`).
    #[serde(default = "default_tasks_max")]
    #[schemars(range(min = 1))]
    pub tasks_max: i32,

    /// Connector configuration, without `name`, `connector.class` and `tasks.max`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub config: BTreeMap<String, String>,

    /// Desired run state.
    #[serde(default)]
    pub state: ConnectorState,

    /// Automatic restart of failed connectors and tasks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_restart: Option<AutoRestartSpec>,

    /// Source of offsets to apply with the `ferry.dev/offsets` annotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offsets: Option<OffsetsSpec>,
}

fn default_tasks_max() -> i32 {
    1
}

impl Default for ConnectorSpec {
    fn default() -> Self {
        Self {
            cluster_ref: ClusterRef::default(),
            class: String::new(),
            tasks_max: default_tasks_max(),
            config: BTreeMap::new(),
            state: ConnectorState::default(),
            auto_restart: None,
            offsets: None,
        }
    }
}

impl ConnectorSpec {
    /// The full connector configuration to send to the REST API: `spec.config` plus
    /// `connector.class`, `tasks.max` and `name`.
    pub fn rest_config(&self, name: &str) -> BTreeMap<String, String> {
        let mut config = self.config.clone();
        config.insert("connector.class".to_owned(), self.class.clone());
        config.insert("tasks.max".to_owned(), self.tasks_max.to_string());
        config.insert("name".to_owned(), name.to_owned());
        config
    }

    /// The keys of `spec.config` that [`RESERVED_CONFIG_KEYS`] forbids (the API server refuses
    /// them; this is for objects that did not pass through it, e.g. in tests).
    pub fn reserved_keys_in_config(&self) -> Vec<&str> {
        RESERVED_CONFIG_KEYS
            .into_iter()
            .filter(|k| self.config.contains_key(*k))
            .collect()
    }

    /// `spec.autoRestart`, or its defaults when unset.
    pub fn auto_restart_or_default(&self) -> AutoRestartSpec {
        self.auto_restart.clone().unwrap_or_default()
    }
}

/// Reference to a ConnectCluster.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ClusterRef {
    /// Name of the ConnectCluster.
    #[schemars(length(min = 1))]
    pub name: String,

    /// Namespace of the ConnectCluster. Unset: the Connector's namespace. The cluster must allow
    /// this Connector's namespace (`spec.allowedNamespaces`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// Desired run state of a connector; serialised lower-case (`running`, `paused`, `stopped`).
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum ConnectorState {
    /// Running (`PUT /connectors/{name}/resume`).
    #[default]
    Running,
    /// Paused: tasks stay assigned but idle (`PUT /connectors/{name}/pause`).
    Paused,
    /// Stopped: tasks shut down, offsets can be altered (`PUT /connectors/{name}/stop`).
    Stopped,
}

impl ConnectorState {
    /// The state as the REST API reports it (`RUNNING`, `PAUSED`, `STOPPED`).
    pub fn as_rest_state(self) -> &'static str {
        match self {
            Self::Running => "RUNNING",
            Self::Paused => "PAUSED",
            Self::Stopped => "STOPPED",
        }
    }
}

/// Automatic restart of failed connectors and tasks.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AutoRestartSpec {
    /// Whether the operator restarts a failed connector or task.
    #[serde(default = "default_true")]
    pub enabled: bool,

    /// Restarts after which the operator gives up. Unset: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub max_restarts: Option<i32>,
}

fn default_true() -> bool {
    true
}

impl Default for AutoRestartSpec {
    fn default() -> Self {
        Self {
            enabled: true,
            max_restarts: None,
        }
    }
}

/// Where the offsets for the `ferry.dev/offsets` annotation come from.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct OffsetsSpec {
    /// ConfigMap holding the offsets JSON in the shape of `GET /connectors/{name}/offsets`.
    pub config_map: ConfigMapKeyRef,
}

/// A key of a ConfigMap in the Connector's namespace.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ConfigMapKeyRef {
    /// Name of the ConfigMap.
    #[schemars(length(min = 1))]
    pub name: String,

    /// Key in the ConfigMap. Unset: `offsets.json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

impl ConfigMapKeyRef {
    /// The key used when `key` is unset.
    pub const DEFAULT_KEY: &str = "offsets.json";

    /// `key`, or [`Self::DEFAULT_KEY`].
    pub fn key_or_default(&self) -> &str {
        self.key.as_deref().unwrap_or(Self::DEFAULT_KEY)
    }
}

/// Observed state of a Connector.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ConnectorStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// Last status reported by `GET /connectors/{name}/status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connector_status: Option<ConnectorStatusReport>,

    /// Number of tasks the connector runs (may be below `spec.tasksMax`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tasks_max: Option<i32>,

    /// Topics the connector uses (`GET /connectors/{name}/topics`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub topics: Vec<String>,

    /// Standard conditions (`Ready`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,

    /// Automatic restarts done so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_restart: Option<AutoRestartStatus>,

    /// The REST URL of the cluster the connector was last applied to: where it is deleted
    /// from when its ConnectCluster is gone by the time the Connector is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rest_url: Option<String>,
}

/// The body of `GET /connectors/{name}/status` (field names as on the wire).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct ConnectorStatusReport {
    /// Connector name.
    pub name: String,

    /// State of the connector instance.
    pub connector: WorkerStatus,

    /// State of each task.
    #[serde(default)]
    pub tasks: Vec<TaskStatusReport>,

    /// `source` or `sink`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
}

/// Where and how the connector instance runs.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct WorkerStatus {
    /// `UNASSIGNED`, `RUNNING`, `PAUSED`, `STOPPED`, `FAILED` or `RESTARTING`.
    pub state: String,

    /// The worker it runs on (`host:port`).
    pub worker_id: String,

    /// Error trace when `FAILED`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<String>,
}

/// Where and how one task runs.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct TaskStatusReport {
    /// Task id, from 0.
    pub id: i32,

    /// `UNASSIGNED`, `RUNNING`, `PAUSED`, `STOPPED`, `FAILED` or `RESTARTING`.
    pub state: String,

    /// The worker it runs on (`host:port`).
    pub worker_id: String,

    /// Error trace when `FAILED`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<String>,
}

/// Automatic restarts done so far.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AutoRestartStatus {
    /// Restarts done since the connector was last healthy.
    #[serde(default)]
    pub count: i32,

    /// When the last restart was done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_restart_time: Option<Time>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::fixtures;

    #[test]
    fn state_wire_form_is_lower_case() {
        for (state, wire) in [
            (ConnectorState::Running, "running"),
            (ConnectorState::Paused, "paused"),
            (ConnectorState::Stopped, "stopped"),
        ] {
            assert_eq!(serde_json::to_value(state).unwrap(), json!(wire));
            assert_eq!(
                serde_json::from_value::<ConnectorState>(json!(wire)).unwrap(),
                state
            );
        }
        assert!(serde_json::from_value::<ConnectorState>(json!("RUNNING")).is_err());
        assert!(serde_json::from_value::<ConnectorState>(json!("failed")).is_err());
        assert_eq!(ConnectorState::Paused.as_rest_state(), "PAUSED");
    }

    #[test]
    fn defaults_apply_when_fields_are_missing() {
        let spec: ConnectorSpec = serde_json::from_value(json!({
            "clusterRef": {"name": "connect"},
            "class": "FileStreamSink",
        }))
        .unwrap();
        assert_eq!(spec.tasks_max, 1);
        assert_eq!(spec.state, ConnectorState::Running);
        assert!(spec.config.is_empty());
        assert_eq!(spec.auto_restart, None);
        assert_eq!(
            spec.auto_restart_or_default(),
            AutoRestartSpec {
                enabled: true,
                max_restarts: None
            }
        );
        assert_eq!(
            spec,
            ConnectorSpec {
                cluster_ref: ClusterRef {
                    name: "connect".into(),
                    namespace: None
                },
                class: "FileStreamSink".into(),
                ..ConnectorSpec::default()
            }
        );

        let auto: AutoRestartSpec = serde_json::from_value(json!({"maxRestarts": 3})).unwrap();
        assert!(auto.enabled);
        assert_eq!(auto.max_restarts, Some(3));
    }

    #[test]
    fn required_fields_are_required() {
        assert!(serde_json::from_value::<ConnectorSpec>(json!({"class": "X"})).is_err());
        assert!(
            serde_json::from_value::<ConnectorSpec>(json!({"clusterRef": {"name": "c"}})).is_err()
        );
    }

    #[test]
    fn connector_round_trips_through_yaml_and_json() {
        let manifest = r#"
apiVersion: ferry.dev/v1alpha1
kind: Connector
metadata:
  name: orders-sink
  namespace: team-a
  annotations:
    ferry.dev/restart: "2024-01-01T00:00:00Z"
spec:
  clusterRef:
    name: connect
    namespace: platform
  class: FileStreamSink
  tasksMax: 3
  state: paused
  config:
    topics: orders
    file: /tmp/orders.txt
  autoRestart:
    enabled: false
    maxRestarts: 5
  offsets:
    configMap:
      name: orders-offsets
status:
  observedGeneration: 2
  tasksMax: 3
  topics: [orders]
  connectorStatus:
    name: orders-sink
    type: sink
    connector:
      state: RUNNING
      worker_id: connect-0.connect:8083
    tasks:
      - id: 0
        state: FAILED
        worker_id: connect-1.connect:8083
        trace: boom
  conditions:
    - type: Ready
      status: "False"
      reason: TaskFailed
      message: task 0 failed
      lastTransitionTime: "2024-01-01T00:00:00Z"
      observedGeneration: 2
  autoRestart:
    count: 2
    lastRestartTime: "2024-01-01T00:05:00Z"
"#;
        let connector: Connector = serde_yaml::from_str(manifest).unwrap();
        assert_eq!(connector.spec.state, ConnectorState::Paused);
        assert_eq!(
            connector.spec.cluster_ref.namespace.as_deref(),
            Some("platform")
        );
        assert_eq!(
            connector
                .spec
                .offsets
                .as_ref()
                .unwrap()
                .config_map
                .key_or_default(),
            "offsets.json"
        );
        let status = connector.status.as_ref().unwrap();
        let report = status.connector_status.as_ref().unwrap();
        assert_eq!(report.tasks[0].trace.as_deref(), Some("boom"));
        assert_eq!(report.type_.as_deref(), Some("sink"));
        assert_eq!(status.auto_restart.as_ref().unwrap().count, 2);

        let value = serde_json::to_value(&connector).unwrap();
        assert_eq!(value["spec"]["tasksMax"], 3);
        assert_eq!(value["spec"]["state"], "paused");
        assert_eq!(
            value["status"]["connectorStatus"]["connector"]["worker_id"],
            "connect-0.connect:8083"
        );
        let back: Connector = serde_json::from_value(value).unwrap();
        assert_eq!(back, connector);
    }

    #[test]
    fn rest_status_body_deserialises() {
        // The body of GET /connectors/{name}/status as a Connect worker sends it.
        let body = json!({
            "name": "sink",
            "connector": {"state": "RUNNING", "worker_id": "10.0.0.1:8083"},
            "tasks": [{"id": 0, "state": "RUNNING", "worker_id": "10.0.0.2:8083"}],
            "type": "sink"
        });
        let report: ConnectorStatusReport = serde_json::from_value(body.clone()).unwrap();
        assert_eq!(report.tasks.len(), 1);
        assert_eq!(serde_json::to_value(&report).unwrap(), body);
    }

    #[test]
    fn absent_optionals_are_not_serialised() {
        let connector = fixtures::connector("c").build();
        let value = serde_json::to_value(&connector.spec).unwrap();
        assert_eq!(
            value,
            json!({
                "clusterRef": {"name": "connect"},
                "class": "FileStreamSink",
                "tasksMax": 1,
                "state": "running",
            })
        );
    }

    #[test]
    fn rest_config_adds_reserved_keys() {
        let connector = fixtures::connector("orders")
            .class("FileStreamSink")
            .tasks_max(2)
            .config("topics", "orders")
            .build();
        let config = connector.spec.rest_config("orders");
        assert_eq!(config["name"], "orders");
        assert_eq!(config["connector.class"], "FileStreamSink");
        assert_eq!(config["tasks.max"], "2");
        assert_eq!(config["topics"], "orders");
        assert!(connector.spec.reserved_keys_in_config().is_empty());

        let bad = fixtures::connector("x").config("tasks.max", "9").build();
        assert_eq!(bad.spec.reserved_keys_in_config(), ["tasks.max"]);
    }
}
