//! `/connector-plugins`: the registry and config validation.

use std::collections::BTreeMap;

use axum::extract::State;
use serde_json::Value as JsonValue;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::api::{ConfigValue, PluginInfo};
use super::connectors::string_config;
use super::error::query_flag;
use super::openapi::{BadRequest, NotFound, ServerError, UnsupportedMediaType};
use super::{ApiError, AppState, Json, Path, Query};
use crate::config::def::{ConfigInfos, PluginConfigKey};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(config))
        .routes(routes!(validate))
}

/// The installed plugins: connectors, and with `connectorsOnly=false` converters too.
#[utoipa::path(
    get,
    operation_id = "listConnectorPlugins",
    path = "/connector-plugins",
    tag = "plugins",
    params(("connectorsOnly" = Option<bool>, Query, description = "List only connectors (default true)")),
    responses((status = 200, description = "The plugins", body = Vec<PluginInfo>))
)]
async fn list(
    State(state): State<AppState>,
    Query(q): Query<Vec<(String, String)>>,
) -> Json<Vec<PluginInfo>> {
    Json(state.herder.plugins(query_flag(&q, "connectorsOnly", true)))
}

/// The config keys a plugin accepts.
#[utoipa::path(
    get,
    operation_id = "getConnectorPluginConfig",
    path = "/connector-plugins/{plugin}/config",
    tag = "plugins",
    params(("plugin" = String, Path, description = "The plugin's class name or alias")),
    responses((status = 200, description = "The plugin's config keys", body = Vec<PluginConfigKey>), NotFound)
)]
async fn config(
    State(state): State<AppState>,
    Path(plugin): Path<String>,
) -> Result<Json<Vec<PluginConfigKey>>, ApiError> {
    Ok(Json(state.herder.plugin_config(&plugin)?))
}

/// Validates a connector config without creating anything: each key's value and errors.
#[utoipa::path(
    put,
    operation_id = "validateConnectorConfig",
    path = "/connector-plugins/{plugin}/config/validate",
    tag = "plugins",
    params(("plugin" = String, Path, description = "The connector's class name or alias")),
    request_body(
        content = BTreeMap<String, ConfigValue>,
        description = "The connector config; `connector.class`, if given, must name the same plugin",
        example = json!({"connector.class": "FileStreamSink", "name": "my-sink", "topics": "lines", "file": "output.txt"})
    ),
    responses(
        (status = 200, description = "The validation result (`error_count` > 0 when invalid)", body = ConfigInfos),
        BadRequest, NotFound, UnsupportedMediaType, ServerError
    )
)]
async fn validate(
    State(state): State<AppState>,
    Path(plugin): Path<String>,
    Json(body): Json<BTreeMap<String, JsonValue>>,
) -> Result<Json<ConfigInfos>, ApiError> {
    let mut config = string_config(body)?;
    // The path names the plugin; a body class, if given, must agree with it.
    let registry = &state.herder.context().registry;
    let path_class = registry.find(&plugin).map(|p| p.class);
    if let Some(given) = config.get("connector.class") {
        let body_class = registry.find(given).map(|p| p.class);
        if body_class.is_some() && body_class != path_class {
            return Err(ApiError::bad_request(format!(
                "Included connector type {given} does not match request type {plugin}"
            )));
        }
    } else {
        config.insert("connector.class".into(), plugin.clone());
    }
    Ok(Json(state.herder.validate(&config).await?))
}
