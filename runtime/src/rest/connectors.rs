//! `/connectors`: create, configure, inspect, pause, stop, restart and delete connectors.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value as JsonValue;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::api::{
    ActiveTopics, ConfigPatchValue, ConfigValue, ConnectorExpansion, ConnectorInfo, ConnectorList,
    ConnectorOffsets, ConnectorStateInfo, CreateConnectorRequest, Expand, Message, TaskInfo,
    TaskState,
};
use super::error::SignedJson;
use super::error::query_flag;
use super::openapi::{
    BadRequest, Conflict, Forbidden, NotFound, ServerError, UnsupportedMediaType,
};
use super::{ApiError, AppState, Json, Path, Query};
use crate::config::Props;
use crate::herder::{ConfigPatch, HerderError};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(info, delete))
        .routes(routes!(config, put_config, patch_config))
        .routes(routes!(status))
        .routes(routes!(tasks, put_task_configs))
        .routes(routes!(task_status))
        .routes(routes!(restart_task))
        .routes(routes!(pause))
        .routes(routes!(resume))
        .routes(routes!(stop))
        .routes(routes!(restart))
        .routes(routes!(topics))
        .routes(routes!(reset_topics))
        .routes(routes!(offsets, alter_offsets, reset_offsets))
}

/// Connector configs are string maps; numbers and booleans are accepted as their text.
pub fn string_config(body: BTreeMap<String, JsonValue>) -> Result<Props, ApiError> {
    body.into_iter()
        .map(|(k, v)| match v {
            JsonValue::String(s) => Ok((k, s)),
            JsonValue::Number(n) => Ok((k, n.to_string())),
            JsonValue::Bool(b) => Ok((k, b.to_string())),
            JsonValue::Null => Err(ApiError::bad_request(format!(
                "The value of config key {k} is null; leave the key out instead"
            ))),
            other => Err(ApiError::bad_request(format!(
                "The value of config key {k} must be a string, got {other}"
            ))),
        })
        .collect()
}

fn location(headers: &HeaderMap, name: &str) -> Option<HeaderValue> {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    // Connector names may hold characters that are not allowed in a URL path.
    let encoded = super::encode_path_segment(name);
    HeaderValue::from_str(&format!("http://{host}/connectors/{encoded}")).ok()
}

/// The expansions asked for, `None` without any `expand` parameter. Unknown values are
/// ignored, as Kafka Connect does.
pub(super) fn expands(query: &[(String, String)]) -> Option<(bool, bool)> {
    let mut found = false;
    let mut status = false;
    let mut info = false;
    for (_, v) in query.iter().filter(|(k, _)| k == "expand") {
        found = true;
        status |= v == "status";
        info |= v == "info";
    }
    found.then_some((status, info))
}

/// The connectors' names; with `expand=status` and/or `expand=info`, each one's status and/or
/// definition by name.
#[utoipa::path(
    get,
    operation_id = "listConnectors",
    path = "/connectors",
    tag = "connectors",
    params(("expand" = Option<Vec<Expand>>, Query, style = Form, explode, description = "Add each connector's `status` and/or `info`")),
    responses((status = 200, description = "The connectors' names, or their expansions by name", body = ConnectorList))
)]
async fn list(
    State(state): State<AppState>,
    Query(q): Query<Vec<(String, String)>>,
) -> Json<ConnectorList> {
    let names = state.herder.connectors();
    let Some((status, info)) = expands(&q) else {
        return Json(ConnectorList::Names(names));
    };
    let mut out = BTreeMap::new();
    for name in names {
        let mut entry = ConnectorExpansion {
            status: None,
            info: None,
        };
        // A connector deleted meanwhile is left out rather than failing the whole list.
        if status {
            match state.herder.connector_status(&name) {
                Ok(s) => entry.status = Some(s),
                Err(_) => continue,
            }
        }
        if info {
            match state.herder.connector_info(&name) {
                Ok(i) => entry.info = Some(i),
                Err(_) => continue,
            }
        }
        out.insert(name, entry);
    }
    Json(ConnectorList::Expanded(out))
}

/// Creates a connector (running, unless `initial_state` says otherwise).
#[utoipa::path(
    post,
    operation_id = "createConnector",
    path = "/connectors",
    tag = "connectors",
    request_body = CreateConnectorRequest,
    responses(
        (status = 201, description = "Created", body = ConnectorInfo, headers(("Location" = String, description = "The connector's URL"))),
        BadRequest, Conflict, UnsupportedMediaType, ServerError
    )
)]
async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(req): Json<CreateConnectorRequest>,
) -> Result<Response, ApiError> {
    let name = req.name.trim().to_owned();
    if name.is_empty() {
        return Err(ApiError::bad_request("Connector name cannot be empty"));
    }
    let mut config = string_config(req.config)?;
    check_name(&config, &name)?;
    config.insert("name".into(), name.clone());
    let info = state
        .timed(
            state
                .herder
                .create(name.clone(), config, req.initial_state.map(Into::into)),
        )
        .await?;
    Ok(created(&headers, &name, info))
}

fn check_name(config: &Props, name: &str) -> Result<(), ApiError> {
    match config.get("name") {
        Some(n) if n != name => Err(ApiError::bad_request(format!(
            "Connector name configuration ({n}) doesn't match connector name in the URL ({name})"
        ))),
        _ => Ok(()),
    }
}

fn created(headers: &HeaderMap, name: &str, info: ConnectorInfo) -> Response {
    let mut resp = (StatusCode::CREATED, Json(info)).into_response();
    if let Some(loc) = location(headers, name) {
        resp.headers_mut().insert(header::LOCATION, loc);
    }
    resp
}

/// The connector's config, its tasks and its type.
#[utoipa::path(
    get,
    operation_id = "getConnector",
    path = "/connectors/{name}",
    tag = "connectors",
    params(("name" = String, Path, description = "The connector's name")),
    responses((status = 200, description = "The connector", body = ConnectorInfo), NotFound)
)]
async fn info(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<ConnectorInfo>, ApiError> {
    Ok(Json(state.herder.connector_info(&name)?))
}

/// Stops and deletes the connector and its tasks.
#[utoipa::path(
    delete,
    operation_id = "deleteConnector",
    path = "/connectors/{name}",
    tag = "connectors",
    params(("name" = String, Path, description = "The connector's name")),
    responses((status = 204, description = "Deleted"), NotFound, ServerError)
)]
async fn delete(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.timed(state.herder.delete(name)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The connector's config.
#[utoipa::path(
    get,
    operation_id = "getConnectorConfig",
    path = "/connectors/{name}/config",
    tag = "connectors",
    params(("name" = String, Path, description = "The connector's name")),
    responses((status = 200, description = "The config", body = BTreeMap<String, String>), NotFound)
)]
async fn config(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Props>, ApiError> {
    Ok(Json(state.herder.connector_config(&name)?))
}

/// Creates the connector with this config (201), or replaces its config (200).
#[utoipa::path(
    put,
    operation_id = "putConnectorConfig",
    path = "/connectors/{name}/config",
    tag = "connectors",
    params(("name" = String, Path, description = "The connector's name")),
    request_body(
        content = BTreeMap<String, ConfigValue>,
        description = "The full config; `name`, if given, must be the name in the URL",
        example = json!({"connector.class": "FileStreamSource", "file": "input.txt", "topic": "lines"})
    ),
    responses(
        (status = 200, description = "Updated", body = ConnectorInfo),
        (status = 201, description = "Created", body = ConnectorInfo, headers(("Location" = String, description = "The connector's URL"))),
        BadRequest, NotFound, UnsupportedMediaType, ServerError
    )
)]
async fn put_config(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Json(body): Json<BTreeMap<String, JsonValue>>,
) -> Result<Response, ApiError> {
    let config = string_config(body)?;
    check_name(&config, &name)?;
    let result = state
        .timed(state.herder.put_config(name.clone(), config))
        .await?;
    if result.created {
        Ok(created(&headers, &name, result.value))
    } else {
        Ok(Json(result.value).into_response())
    }
}

/// Changes some keys of the connector's config; a `null` value removes the key.
#[utoipa::path(
    patch,
    operation_id = "patchConnectorConfig",
    path = "/connectors/{name}/config",
    tag = "connectors",
    params(("name" = String, Path, description = "The connector's name")),
    request_body(
        content = BTreeMap<String, ConfigPatchValue>,
        description = "The keys to set, and (with `null`) to remove",
        example = json!({"tasks.max": "1", "batch.size": null})
    ),
    responses(
        (status = 200, description = "Updated", body = ConnectorInfo),
        BadRequest, NotFound, UnsupportedMediaType, ServerError
    )
)]
async fn patch_config(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Json(body): Json<BTreeMap<String, JsonValue>>,
) -> Result<Json<ConnectorInfo>, ApiError> {
    let mut patch = ConfigPatch::new();
    for (k, v) in body {
        let v = match v {
            JsonValue::Null => None,
            JsonValue::String(s) => Some(s),
            JsonValue::Number(n) => Some(n.to_string()),
            JsonValue::Bool(b) => Some(b.to_string()),
            other => {
                return Err(ApiError::bad_request(format!(
                    "The value of config key {k} must be a string or null, got {other}"
                )));
            }
        };
        if k == "name" && v.as_deref().is_some_and(|n| n != name) {
            return Err(ApiError::bad_request(format!(
                "Connector name configuration ({}) doesn't match connector name in the URL ({name})",
                v.unwrap_or_default()
            )));
        }
        patch.insert(k, v);
    }
    Ok(Json(
        state.timed(state.herder.patch_config(name, patch)).await?,
    ))
}

/// The state of the connector and of each of its tasks.
#[utoipa::path(
    get,
    operation_id = "getConnectorStatus",
    path = "/connectors/{name}/status",
    tag = "connectors",
    params(("name" = String, Path, description = "The connector's name")),
    responses((status = 200, description = "The states", body = ConnectorStateInfo), NotFound)
)]
async fn status(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<ConnectorStateInfo>, ApiError> {
    match state.herder.connector_status(&name) {
        Ok(s) => Ok(Json(s)),
        // Kafka Connect's wording for this endpoint.
        Err(HerderError::NotFound(_)) => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("No status found for connector {name}"),
        )),
        Err(e) => Err(e.into()),
    }
}

/// Internal, between workers of a distributed cluster: the task configs a connector's
/// worker computed, for the leader to write to the config topic.
#[utoipa::path(
    post,
    operation_id = "putConnectorTaskConfigs",
    path = "/connectors/{name}/tasks",
    tag = "internal",
    params(("name" = String, Path, description = "The connector's name")),
    request_body(content = Vec<BTreeMap<String, String>>, description = "One config per task"),
    responses(
        (status = 204, description = "Written"),
        BadRequest,
        Forbidden,
        NotFound,
        Conflict,
        UnsupportedMediaType,
        ServerError
    )
)]
async fn put_task_configs(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: axum::http::HeaderMap,
    SignedJson(body, raw): SignedJson<Vec<BTreeMap<String, String>>>,
) -> Result<StatusCode, ApiError> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let request = crate::herder::InternalRequest {
        body: raw,
        signature: header(crate::cluster::signature::SIGNATURE_HEADER),
        algorithm: header(crate::cluster::signature::ALGORITHM_HEADER),
    };
    state
        .timed(state.herder.put_task_configs(name, body, request))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The tasks' configs (secrets hidden).
#[utoipa::path(
    get,
    operation_id = "getConnectorTasks",
    path = "/connectors/{name}/tasks",
    tag = "connectors",
    params(("name" = String, Path, description = "The connector's name")),
    responses((status = 200, description = "The tasks", body = Vec<TaskInfo>), NotFound)
)]
async fn tasks(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Vec<TaskInfo>>, ApiError> {
    Ok(Json(state.herder.task_infos(&name)?))
}

/// One task's state.
#[utoipa::path(
    get,
    operation_id = "getTaskStatus",
    path = "/connectors/{name}/tasks/{task}/status",
    tag = "connectors",
    params(("name" = String, Path, description = "The connector's name"), ("task" = u32, Path, description = "The task's number")),
    responses((status = 200, description = "The task's state", body = TaskState), NotFound)
)]
async fn task_status(
    State(state): State<AppState>,
    Path((name, task)): Path<(String, u32)>,
) -> Result<Json<TaskState>, ApiError> {
    Ok(Json(state.herder.task_status(&name, task)?))
}

/// Restarts one task.
#[utoipa::path(
    post,
    operation_id = "restartTask",
    path = "/connectors/{name}/tasks/{task}/restart",
    tag = "connectors",
    params(("name" = String, Path, description = "The connector's name"), ("task" = u32, Path, description = "The task's number")),
    responses((status = 204, description = "Restarted"), NotFound, ServerError)
)]
async fn restart_task(
    State(state): State<AppState>,
    Path((name, task)): Path<(String, u32)>,
) -> Result<StatusCode, ApiError> {
    state.timed(state.herder.restart_task(name, task)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Pauses the connector and its tasks.
#[utoipa::path(
    put,
    operation_id = "pauseConnector",
    path = "/connectors/{name}/pause",
    tag = "connectors",
    params(("name" = String, Path, description = "The connector's name")),
    responses((status = 202, description = "Pausing"), NotFound, ServerError)
)]
async fn pause(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.timed(state.herder.pause(name)).await?;
    Ok(StatusCode::ACCEPTED)
}

/// Resumes a paused or stopped connector.
#[utoipa::path(
    put,
    operation_id = "resumeConnector",
    path = "/connectors/{name}/resume",
    tag = "connectors",
    params(("name" = String, Path, description = "The connector's name")),
    responses((status = 202, description = "Resuming"), NotFound, ServerError)
)]
async fn resume(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.timed(state.herder.resume(name)).await?;
    Ok(StatusCode::ACCEPTED)
}

/// Stops the connector and shuts its tasks down (their configs are dropped).
#[utoipa::path(
    put,
    operation_id = "stopConnector",
    path = "/connectors/{name}/stop",
    tag = "connectors",
    params(("name" = String, Path, description = "The connector's name")),
    responses((status = 204, description = "Stopped"), NotFound, ServerError)
)]
async fn stop(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.timed(state.herder.stop(name)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Restarts the connector; with `includeTasks`, its tasks too; with `onlyFailed`, only
/// the failed ones.
#[utoipa::path(
    post,
    operation_id = "restartConnector",
    path = "/connectors/{name}/restart",
    tag = "connectors",
    params(
        ("name" = String, Path, description = "The connector's name"),
        ("includeTasks" = Option<bool>, Query, description = "Restart the tasks too (default false)"),
        ("onlyFailed" = Option<bool>, Query, description = "Restart only what has FAILED (default false)"),
    ),
    responses(
        (status = 202, description = "Restarting: the states, with what restarts marked RESTARTING", body = ConnectorStateInfo),
        (status = 204, description = "The connector was restarted (neither flag set)"),
        NotFound, ServerError
    )
)]
async fn restart(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let include_tasks = query_flag(&q, "includeTasks", false);
    let only_failed = query_flag(&q, "onlyFailed", false);
    match state
        .timed(state.herder.restart(name, include_tasks, only_failed))
        .await?
    {
        None => Ok(StatusCode::NO_CONTENT.into_response()),
        Some(plan) => Ok((StatusCode::ACCEPTED, Json(plan)).into_response()),
    }
}

/// The topics the connector has used since its creation or the last topic reset.
#[utoipa::path(
    get,
    operation_id = "getConnectorTopics",
    path = "/connectors/{name}/topics",
    tag = "connectors",
    params(("name" = String, Path, description = "The connector's name")),
    responses((status = 200, description = "`{name: {topics: [..]}}`", body = BTreeMap<String, ActiveTopics>), NotFound)
)]
async fn topics(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<BTreeMap<String, ActiveTopics>>, ApiError> {
    let topics = state.herder.topics(&name)?;
    Ok(Json(BTreeMap::from([(name, ActiveTopics { topics })])))
}

/// Forgets the topics the connector has used.
#[utoipa::path(
    put,
    operation_id = "resetConnectorTopics",
    path = "/connectors/{name}/topics/reset",
    tag = "connectors",
    params(("name" = String, Path, description = "The connector's name")),
    responses((status = 202, description = "Reset"), NotFound)
)]
async fn reset_topics(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.herder.reset_topics(&name)?;
    Ok(StatusCode::ACCEPTED)
}

/// The connector's committed offsets: source partitions and offsets, or a sink's
/// consumer group offsets.
#[utoipa::path(
    get,
    operation_id = "getConnectorOffsets",
    path = "/connectors/{name}/offsets",
    tag = "offsets",
    params(("name" = String, Path, description = "The connector's name")),
    responses((status = 200, description = "The offsets", body = ConnectorOffsets), NotFound, ServerError)
)]
async fn offsets(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<ConnectorOffsets>, ApiError> {
    Ok(Json(state.timed(state.herder.offsets(name)).await?))
}

/// Alters the offsets of a STOPPED connector.
#[utoipa::path(
    patch,
    operation_id = "alterConnectorOffsets",
    path = "/connectors/{name}/offsets",
    tag = "offsets",
    params(("name" = String, Path, description = "The connector's name")),
    request_body = ConnectorOffsets,
    responses(
        (status = 200, description = "Altered", body = Message),
        BadRequest, NotFound, UnsupportedMediaType, ServerError
    )
)]
async fn alter_offsets(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Json(body): Json<ConnectorOffsets>,
) -> Result<Json<Message>, ApiError> {
    // Kafka Connect's check, before the herder sees the request.
    if body.offsets.is_empty() {
        return Err(ApiError::bad_request(
            "Partitions / offsets need to be provided for an alter offsets request",
        ));
    }
    Ok(Json(
        state.timed(state.herder.alter_offsets(name, body)).await?,
    ))
}

/// Resets the offsets of a STOPPED connector.
#[utoipa::path(
    delete,
    operation_id = "resetConnectorOffsets",
    path = "/connectors/{name}/offsets",
    tag = "offsets",
    params(("name" = String, Path, description = "The connector's name")),
    responses((status = 200, description = "Reset", body = Message), BadRequest, NotFound, ServerError)
)]
async fn reset_offsets(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Message>, ApiError> {
    Ok(Json(state.timed(state.herder.reset_offsets(name)).await?))
}
