//! The JSON shapes of the Kafka Connect REST API, defined once for the server,
//! the CLI client and the operator.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use utoipa::ToSchema;

use crate::config::Props;
use crate::connectors::ConnectorType;
use crate::plugins::PluginType;
use crate::storage::State;
use crate::worker::TargetState;

/// `GET /`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ServerInfo {
    pub version: String,
    pub commit: String,
    /// `null` until the worker has reached Kafka.
    #[schema(required = true)]
    pub kafka_cluster_id: Option<String>,
}

/// A task's identity, `{"connector": "..", "task": 0}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ConnectorTaskId {
    pub connector: String,
    pub task: u32,
}

/// `GET /connectors/{name}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ConnectorInfo {
    pub name: String,
    #[schema(value_type = BTreeMap<String, String>)]
    pub config: Props,
    pub tasks: Vec<ConnectorTaskId>,
    #[serde(rename = "type")]
    pub ty: ConnectorType,
}

/// A connector's state inside a status answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ConnectorState {
    pub state: State,
    pub worker_id: String,
    /// The failure's stack trace; absent unless the state is FAILED.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub trace: Option<String>,
    /// The plugin's version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub version: Option<String>,
}

/// A task's state inside a status answer, and `GET /connectors/{name}/tasks/{id}/status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TaskState {
    pub id: u32,
    pub state: State,
    pub worker_id: String,
    /// The failure's stack trace; absent unless the state is FAILED.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub trace: Option<String>,
    /// The plugin's version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub version: Option<String>,
}

/// `GET /connectors/{name}/status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ConnectorStateInfo {
    pub name: String,
    pub connector: ConnectorState,
    pub tasks: Vec<TaskState>,
    #[serde(rename = "type")]
    pub ty: ConnectorType,
}

/// An entry of `GET /connectors/{name}/tasks`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TaskInfo {
    pub id: ConnectorTaskId,
    /// The task's config, with `task.class`; secrets are shown as `[hidden]`.
    #[schema(value_type = BTreeMap<String, String>)]
    pub config: Props,
}

/// The body of `POST /connectors`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "name": "local-file-source",
    "config": {"connector.class": "FileStreamSource", "file": "input.txt", "topic": "lines", "tasks.max": "1"}
}))]
pub struct CreateConnectorRequest {
    pub name: String,
    #[schema(value_type = BTreeMap<String, ConfigValue>)]
    pub config: BTreeMap<String, Json>,
    /// The state the connector starts in; RUNNING when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_state: Option<InitialState>,
}

/// A connector config value: a string; numbers and booleans are accepted as their text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum ConfigValue {
    String(String),
    Number(f64),
    Boolean(bool),
}

/// A value in a `PATCH /connectors/{name}/config` body: a config value, or `null` to
/// remove the key. (Documentation only: the handler reads the body as JSON.)
pub struct ConfigPatchValue;

impl utoipa::PartialSchema for ConfigPatchValue {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
        OneOfBuilder::new()
            .item(utoipa::openapi::Ref::from_schema_name(ConfigValue::name()))
            .item(ObjectBuilder::new().schema_type(Type::Null))
            .description(Some("A config value, or `null` to remove the key"))
            .into()
    }
}

impl ToSchema for ConfigPatchValue {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        use utoipa::PartialSchema;
        schemas.push((ConfigValue::name().into_owned(), ConfigValue::schema()));
        <ConfigValue as ToSchema>::schemas(schemas);
    }
}

/// `initial_state` of `POST /connectors`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum InitialState {
    Running,
    Paused,
    Stopped,
}

impl From<InitialState> for TargetState {
    fn from(s: InitialState) -> Self {
        match s {
            InitialState::Running => TargetState::Started,
            InitialState::Paused => TargetState::Paused,
            InitialState::Stopped => TargetState::Stopped,
        }
    }
}

/// An entry of `GET /connector-plugins`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PluginInfo {
    pub class: String,
    #[serde(rename = "type")]
    pub ty: PluginType,
    pub version: String,
}

/// One partition's offset in `GET`/`PATCH /connectors/{name}/offsets`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ConnectorOffset {
    /// The source partition (for a sink: `kafka_topic` and `kafka_partition`).
    #[schema(value_type = Option<Object>, required = true)]
    pub partition: Option<serde_json::Map<String, Json>>,
    /// The offset (for a sink: `kafka_offset`); `null` in a `PATCH` resets the partition.
    #[schema(value_type = Option<Object>)]
    pub offset: Option<serde_json::Map<String, Json>>,
}

/// `GET /connectors/{name}/offsets` and the body of its `PATCH`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"offsets": [{"partition": {"filename": "input.txt"}, "offset": {"position": 0}}]}))]
pub struct ConnectorOffsets {
    pub offsets: Vec<ConnectorOffset>,
}

/// `{"message": ".."}` answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Message {
    pub message: String,
}

/// The error body of every failing request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ErrorMessage {
    pub error_code: u16,
    pub message: String,
}

/// `GET /health`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Health {
    pub status: String,
    pub message: String,
}

/// `GET /connectors/{name}/topics`: `{"name": {"topics": [..]}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ActiveTopics {
    pub topics: Vec<String>,
}

/// A logger's level in `GET /admin/loggers`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LoggerLevel {
    pub level: String,
    /// When the level was last set through the API, in milliseconds since the epoch.
    #[schema(required = true)]
    pub last_modified: Option<i64>,
}

/// The body of `PUT /admin/loggers/{logger}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"level": "DEBUG"}))]
pub struct LoggerLevelRequest {
    /// OFF, ERROR, WARN, INFO, DEBUG or TRACE, in any case.
    #[schema(required = true, nullable = false)]
    pub level: Option<String>,
}

/// What `GET /connectors?expand=..` shows per connector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ConnectorExpansion {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub status: Option<ConnectorStateInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub info: Option<ConnectorInfo>,
}

/// `GET /connectors`: the names, or with `expand`, each connector's expansions by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum ConnectorList {
    Names(Vec<String>),
    Expanded(BTreeMap<String, ConnectorExpansion>),
}

/// A value of `GET /connectors?expand=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Expand {
    Status,
    Info,
}
