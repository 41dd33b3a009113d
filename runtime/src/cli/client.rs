//! The HTTP side of the client: one call to the worker's REST API, its errors as the
//! worker words them.

use std::time::Duration;

use serde_json::Value;

/// A REST error: the worker's `message` and HTTP status.
#[derive(Debug, thiserror::Error)]
#[error("{message} (HTTP {status})")]
pub struct RestError {
    pub status: u16,
    pub message: String,
}

/// A validation with errors: the report, printed as it is.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

pub struct Client {
    base: String,
    http: reqwest::Client,
}

impl Client {
    pub fn new(url: &str) -> anyhow::Result<Self> {
        let base = url.trim_end_matches('/').to_owned();
        reqwest::Url::parse(&base).map_err(|e| anyhow::anyhow!("invalid --url {url}: {e}"))?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            .build()?;
        Ok(Client { base, http })
    }

    /// Calls the worker; the status and JSON body (null when empty) of a 2xx answer.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<(u16, Value)> {
        let url = format!("{}{path}", self.base);
        let mut req = self.http.request(method.clone(), &url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("cannot reach the worker at {}: {e}", self.base))?;
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        let json: Value = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text.clone()))
        };
        if (200..300).contains(&status) {
            return Ok((status, json));
        }
        let message = json["message"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| format!("{method} {url}: {}", text.trim()));
        Err(RestError { status, message }.into())
    }
}
