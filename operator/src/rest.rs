//! A small client of the Kafka Connect REST API: only the calls the operator makes, each bounded
//! by the timeouts of the shared `reqwest::Client` (see [`crate::Context`]).

use std::collections::BTreeMap;

use ferry_crds::{ConnectorPlugin, ConnectorStatusReport};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// What went wrong talking to a Connect cluster.
#[derive(Debug, thiserror::Error)]
pub enum RestError {
    /// The cluster did not answer (connection refused, DNS, timeout...).
    #[error("cluster at {url} unreachable: {source}")]
    Unreachable {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// The cluster answered with an error status (`ErrorMessage` body when it has one).
    #[error("{method} {path} returned {status}: {message}")]
    Status {
        method: Method,
        path: String,
        status: StatusCode,
        message: String,
    },
    /// The cluster answered 2xx with a body we cannot read.
    #[error("{path}: unexpected response body: {message}")]
    Body { path: String, message: String },
}

impl RestError {
    /// The HTTP status, when the cluster answered.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether this is a 404.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(StatusCode::NOT_FOUND)
    }

    /// Whether this is a 409 (the workers are rebalancing): worth a retry shortly.
    pub fn is_conflict(&self) -> bool {
        self.status() == Some(StatusCode::CONFLICT)
    }
}

/// The REST API of one Connect cluster at `base` (no trailing slash).
#[derive(Clone, Debug)]
pub struct ConnectRest<'a> {
    http: &'a reqwest::Client,
    base: String,
}

/// The result of `PUT /connector-plugins/{class}/config/validate`, reduced to its errors.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Validation {
    /// `(key, error message)` for every error the cluster reported.
    pub errors: Vec<(String, String)>,
}

impl<'a> ConnectRest<'a> {
    /// A client of the cluster at `base` (e.g. `http://connect:8083`).
    pub fn new(http: &'a reqwest::Client, base: &str) -> Self {
        Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
        }
    }

    /// The cluster's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Option<Value>), RestError> {
        let url = format!("{}{}", self.base, path);
        let mut req = self
            .http
            .request(method.clone(), &url)
            .header("accept", "application/json");
        if let Some(body) = body {
            req = req.json(body);
        }
        let unreachable = |source| RestError::Unreachable {
            url: self.base.clone(),
            source,
        };
        let resp = req.send().await.map_err(unreachable)?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(unreachable)?;
        let json: Option<Value> = if bytes.is_empty() {
            None
        } else {
            serde_json::from_slice(&bytes).ok()
        };
        if status.is_success() {
            return Ok((status, json));
        }
        let message = json
            .as_ref()
            .and_then(|v| v.get("message"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| String::from_utf8_lossy(&bytes).chars().take(500).collect());
        Err(RestError::Status {
            method,
            path: path.to_owned(),
            status,
            message,
        })
    }

    async fn call_json<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<T, RestError> {
        let (_, json) = self.call(method, path, body).await?;
        serde_json::from_value(json.unwrap_or(Value::Null)).map_err(|e| RestError::Body {
            path: path.to_owned(),
            message: e.to_string(),
        })
    }

    /// `PUT /connector-plugins/{class}/config/validate`.
    pub async fn validate(
        &self,
        class: &str,
        config: &BTreeMap<String, String>,
    ) -> Result<Validation, RestError> {
        let path = format!("/connector-plugins/{}/config/validate", encode(class));
        let body = serde_json::to_value(config).map_err(|e| RestError::Body {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let infos: Value = self.call_json(Method::PUT, &path, Some(&body)).await?;
        Ok(parse_validation(&infos))
    }

    /// `GET /connector-plugins`: the connector plugins the workers offer, in the cluster's order.
    pub async fn connector_plugins(&self) -> Result<Vec<ConnectorPlugin>, RestError> {
        self.call_json(Method::GET, "/connector-plugins", None)
            .await
    }

    /// `GET /connectors/{name}/config`; `None` when the connector does not exist.
    pub async fn config(&self, name: &str) -> Result<Option<BTreeMap<String, String>>, RestError> {
        let path = format!("/connectors/{}/config", encode(name));
        match self
            .call_json::<BTreeMap<String, Value>>(Method::GET, &path, None)
            .await
        {
            Ok(map) => Ok(Some(
                map.into_iter()
                    .map(|(k, v)| (k, canonical_value(&v)))
                    .collect(),
            )),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `PUT /connectors/{name}/config` (creates or updates).
    pub async fn put_config(
        &self,
        name: &str,
        config: &BTreeMap<String, String>,
    ) -> Result<(), RestError> {
        let path = format!("/connectors/{}/config", encode(name));
        let body = serde_json::to_value(config).map_err(|e| RestError::Body {
            path: path.clone(),
            message: e.to_string(),
        })?;
        self.call(Method::PUT, &path, Some(&body)).await.map(|_| ())
    }

    /// `GET /connectors/{name}/status`; `None` when the connector does not exist.
    pub async fn status(&self, name: &str) -> Result<Option<ConnectorStatusReport>, RestError> {
        let path = format!("/connectors/{}/status", encode(name));
        match self.call_json(Method::GET, &path, None).await {
            Ok(s) => Ok(Some(s)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `GET /connectors/{name}/topics`: the topic names, sorted.
    pub async fn topics(&self, name: &str) -> Result<Vec<String>, RestError> {
        let path = format!("/connectors/{}/topics", encode(name));
        let v: Value = self.call_json(Method::GET, &path, None).await?;
        let mut topics: Vec<String> = v
            .get(name)
            .and_then(|c| c.get("topics"))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        topics.sort();
        Ok(topics)
    }

    /// `PUT /connectors/{name}/{pause|resume|stop}`.
    pub async fn set_state(&self, name: &str, action: &str) -> Result<(), RestError> {
        let path = format!("/connectors/{}/{action}", encode(name));
        self.call(Method::PUT, &path, None).await.map(|_| ())
    }

    /// `POST /connectors/{name}/restart?includeTasks=true&onlyFailed=false`.
    pub async fn restart(&self, name: &str) -> Result<(), RestError> {
        let path = format!(
            "/connectors/{}/restart?includeTasks=true&onlyFailed=false",
            encode(name)
        );
        self.call(Method::POST, &path, None).await.map(|_| ())
    }

    /// `POST /connectors/{name}/restart?includeTasks=true&onlyFailed=true`: the connector and
    /// the tasks that FAILED.
    pub async fn restart_failed(&self, name: &str) -> Result<(), RestError> {
        let path = format!(
            "/connectors/{}/restart?includeTasks=true&onlyFailed=true",
            encode(name)
        );
        self.call(Method::POST, &path, None).await.map(|_| ())
    }

    /// `POST /connectors/{name}/tasks/{task}/restart`.
    pub async fn restart_task(&self, name: &str, task: i32) -> Result<(), RestError> {
        let path = format!("/connectors/{}/tasks/{task}/restart", encode(name));
        self.call(Method::POST, &path, None).await.map(|_| ())
    }

    /// `GET /connectors/{name}/offsets`, as the cluster returns it.
    pub async fn offsets(&self, name: &str) -> Result<Value, RestError> {
        let path = format!("/connectors/{}/offsets", encode(name));
        self.call_json(Method::GET, &path, None).await
    }

    /// `PATCH /connectors/{name}/offsets` with `offsets` (`{"offsets": [...]}`).
    pub async fn alter_offsets(&self, name: &str, offsets: &Value) -> Result<(), RestError> {
        let path = format!("/connectors/{}/offsets", encode(name));
        self.call(Method::PATCH, &path, Some(offsets))
            .await
            .map(|_| ())
    }

    /// `DELETE /connectors/{name}/offsets`.
    pub async fn reset_offsets(&self, name: &str) -> Result<(), RestError> {
        let path = format!("/connectors/{}/offsets", encode(name));
        self.call(Method::DELETE, &path, None).await.map(|_| ())
    }

    /// `DELETE /connectors/{name}`; `false` when it did not exist.
    pub async fn delete(&self, name: &str) -> Result<bool, RestError> {
        let path = format!("/connectors/{}", encode(name));
        match self.call(Method::DELETE, &path, None).await {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// Percent-encodes a path segment (connector names and class names are usually safe already).
fn encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A config value as a string, the way the operator compares configs.
fn canonical_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The errors of a `ConfigInfos` body: `configs[].value.{name, errors}`.
pub fn parse_validation(infos: &Value) -> Validation {
    let errors = infos
        .get("configs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c.get("value"))
        .flat_map(|value| {
            let key = value
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            value
                .get("errors")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(move |m| (key.clone(), m.to_owned()))
        })
        .collect();
    Validation { errors }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn validation_errors_are_collected_per_key() {
        let infos = json!({
            "name": "FileStreamSource",
            "error_count": 2,
            "groups": ["Common"],
            "configs": [
                {"definition": {"name": "topic"}, "value": {"name": "topic", "value": null, "recommended_values": [], "errors": ["Missing required configuration \"topic\" which has no default value."], "visible": true}},
                {"definition": {"name": "file"}, "value": {"name": "file", "value": "/x", "recommended_values": [], "errors": [], "visible": true}},
                {"definition": {"name": "batch.size"}, "value": {"name": "batch.size", "value": "x", "recommended_values": [], "errors": ["bad", "worse"], "visible": true}}
            ]
        });
        let v = parse_validation(&infos);
        assert_eq!(
            v.errors,
            vec![
                (
                    "topic".to_owned(),
                    "Missing required configuration \"topic\" which has no default value."
                        .to_owned()
                ),
                ("batch.size".to_owned(), "bad".to_owned()),
                ("batch.size".to_owned(), "worse".to_owned()),
            ]
        );
        assert_eq!(parse_validation(&json!({})), Validation::default());
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(encode("orders-sink.v1"), "orders-sink.v1");
        assert_eq!(encode("a b/c"), "a%20b%2Fc");
    }

    #[test]
    fn config_values_compare_as_strings() {
        assert_eq!(canonical_value(&json!("1")), "1");
        assert_eq!(canonical_value(&json!(1)), "1");
        assert_eq!(canonical_value(&json!(true)), "true");
        assert_eq!(canonical_value(&Value::Null), "");
    }
}
