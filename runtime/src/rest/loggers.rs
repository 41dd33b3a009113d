//! `/admin/loggers`: read and change log levels at run time, per tracing target.
//!
//! Logger names are tracing targets (`ferry_runtime::worker`, or any prefix); Kafka's Java
//! logger names are accepted too and map onto the same filter. `root` is the default level.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::api::{LoggerLevel, LoggerLevelRequest};
use super::openapi::{BadRequest, NotFound, ServerError, UnsupportedMediaType};
use super::{ApiError, AppState, Json, Path};

/// Applies a full filter directive string (e.g. `info,ferry_runtime::worker=debug`).
pub type ReloadFn = Arc<dyn Fn(&str) -> Result<(), String> + Send + Sync>;

const LEVELS: &[&str] = &["OFF", "ERROR", "WARN", "INFO", "DEBUG", "TRACE"];

/// The levels set through the API, and how to apply them to the running subscriber.
#[derive(Clone)]
pub struct Loggers {
    levels: Arc<Mutex<BTreeMap<String, LoggerLevel>>>,
    reload: Option<ReloadFn>,
}

impl Default for Loggers {
    fn default() -> Self {
        let mut levels = BTreeMap::new();
        levels.insert(
            "root".to_owned(),
            LoggerLevel {
                level: "INFO".into(),
                last_modified: None,
            },
        );
        Loggers {
            levels: Arc::new(Mutex::new(levels)),
            reload: None,
        }
    }
}

impl Loggers {
    /// Loggers that apply changes through `reload`, starting from `root` at `root_level`.
    pub fn with_reload(root_level: &str, reload: ReloadFn) -> Self {
        let l = Loggers {
            reload: Some(reload),
            ..Loggers::default()
        };
        if let Ok(mut m) = l.levels.lock() {
            m.insert(
                "root".into(),
                LoggerLevel {
                    level: root_level.to_ascii_uppercase(),
                    last_modified: None,
                },
            );
        }
        l
    }

    fn snapshot(&self) -> BTreeMap<String, LoggerLevel> {
        match self.levels.lock() {
            Ok(m) => m.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Sets a level; nothing changes unless the resulting filter is valid and applied.
    fn set(&self, name: &str, level: &str) -> Result<Vec<String>, ApiError> {
        check_name(name)?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        let mut m = self.levels.lock().map_err(|_| {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "logger state poisoned")
        })?;
        let mut levels = m.clone();
        levels.insert(
            name.to_owned(),
            LoggerLevel {
                level: level.to_owned(),
                last_modified: Some(now),
            },
        );
        let directives = directives_of(&levels);
        tracing_subscriber::EnvFilter::try_new(&directives)
            .map_err(|e| ApiError::bad_request(format!("Invalid logger name {name}: {e}")))?;
        if let Some(reload) = &self.reload {
            reload(&directives).map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e))?;
        }
        *m = levels;
        Ok(vec![name.to_owned()])
    }
}

/// Logger names become `EnvFilter` targets, so they are limited to the characters of Rust
/// paths and Java class names; anything else would change the meaning of the filter.
fn check_name(name: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-' | '$'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "Invalid logger name {name}: use letters, digits and _ . : - $ (a tracing target or a Java logger name)"
        )))
    }
}

/// Turns logger levels into an `EnvFilter` directive string.
fn directives_of(levels: &BTreeMap<String, LoggerLevel>) -> String {
    let mut parts = Vec::new();
    if let Some(root) = levels.get("root") {
        parts.push(root.level.to_ascii_lowercase());
    }
    for (name, l) in levels.iter().filter(|(n, _)| n.as_str() != "root") {
        let target = name.replace('.', "::").replace('-', "_");
        parts.push(format!("{target}={}", l.level.to_ascii_lowercase()));
    }
    parts.join(",")
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(get_one, put_one))
}

/// The loggers whose level is known: `root` and those set through this API.
#[utoipa::path(
    get,
    operation_id = "listLoggers",
    path = "/admin/loggers",
    tag = "loggers",
    responses((status = 200, description = "Levels by logger name", body = BTreeMap<String, LoggerLevel>))
)]
async fn list(State(state): State<AppState>) -> Json<BTreeMap<String, LoggerLevel>> {
    Json(state.loggers.snapshot())
}

/// One logger's level.
#[utoipa::path(
    get,
    operation_id = "getLogger",
    path = "/admin/loggers/{logger}",
    tag = "loggers",
    params(("logger" = String, Path, description = "A tracing target (`ferry_runtime::worker`), a Java logger name, or `root`")),
    responses((status = 200, description = "The level", body = LoggerLevel), NotFound)
)]
async fn get_one(
    State(state): State<AppState>,
    Path(logger): Path<String>,
) -> Result<Json<LoggerLevel>, ApiError> {
    state
        .loggers
        .snapshot()
        .remove(&logger)
        .map(Json)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("Logger {logger} not found.")))
}

/// Sets a logger's level; answers the names of the loggers it changed.
#[utoipa::path(
    put,
    operation_id = "setLoggerLevel",
    path = "/admin/loggers/{logger}",
    tag = "loggers",
    params(("logger" = String, Path, description = "A tracing target (`ferry_runtime::worker`), a Java logger name, or `root`")),
    request_body = LoggerLevelRequest,
    responses(
        (status = 200, description = "The loggers changed", body = Vec<String>),
        BadRequest, NotFound, UnsupportedMediaType, ServerError
    )
)]
async fn put_one(
    State(state): State<AppState>,
    Path(logger): Path<String>,
    Json(body): Json<LoggerLevelRequest>,
) -> Result<Json<Vec<String>>, ApiError> {
    let level = body
        .level
        .ok_or_else(|| ApiError::bad_request("The request body must contain a 'level' field"))?;
    let upper = level.to_ascii_uppercase();
    // Kafka answers 404 for a bad level; a bad value in the body is a 400.
    if !LEVELS.contains(&upper.as_str()) {
        return Err(ApiError::bad_request(format!(
            "invalid log level '{level}'."
        )));
    }
    Ok(Json(state.loggers.set(&logger, &upper)?))
}
