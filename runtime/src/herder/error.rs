//! Herder errors, each mapping onto one HTTP status.

use crate::config::def::ConfigInfos;
use crate::errors::ConnectError;

/// Why a herder request failed.
#[derive(Debug, thiserror::Error)]
pub enum HerderError {
    /// 404: no such connector, task or plugin.
    #[error("{0}")]
    NotFound(String),
    /// 409: the connector exists, or a rebalance is under way.
    #[error("{0}")]
    Conflict(String),
    /// 400: a bad request the user can fix.
    #[error("{0}")]
    BadRequest(String),
    /// 403: an internal request that is not signed with the cluster's session key.
    #[error("{0}")]
    Forbidden(String),
    /// 400: the connector config is invalid; the body lists every error.
    #[error("Connector configuration is invalid and contains the following {} error(s):\n{}\nYou can also find the above list of errors at the endpoint `/connector-plugins/{{connectorType}}/config/validate`", .0.error_count, .0.configs.iter().flat_map(|c| c.value.errors.iter().cloned()).collect::<Vec<_>>().join("\n"))]
    InvalidConfig(Box<ConfigInfos>),
    /// 500: the request did not finish within the REST request timeout.
    #[error("Request timed out")]
    Timeout,
    /// 500: anything else.
    #[error("{0}")]
    Internal(String),
}

impl HerderError {
    pub fn not_found_connector(name: &str) -> Self {
        HerderError::NotFound(format!("Connector {name} not found"))
    }

    /// The HTTP status code of this error.
    pub fn status_code(&self) -> u16 {
        match self {
            HerderError::NotFound(_) => 404,
            HerderError::Conflict(_) => 409,
            HerderError::BadRequest(_) | HerderError::InvalidConfig(_) => 400,
            HerderError::Forbidden(_) => 403,
            HerderError::Timeout | HerderError::Internal(_) => 500,
        }
    }
}

impl From<ConnectError> for HerderError {
    fn from(e: ConnectError) -> Self {
        match e {
            ConnectError::Config(m) => HerderError::BadRequest(m),
            other => HerderError::Internal(other.to_string()),
        }
    }
}
