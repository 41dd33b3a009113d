//! Kafka's `EnvVarConfigProvider` (KIP-887): `${env:VARIABLE}`.

use std::collections::{BTreeMap, BTreeSet};

use regex::Regex;

use super::ConfigProvider;
use crate::config::Props;
use crate::errors::{ConnectError, Result};

/// The parameter restricting which variables may be read (a regex over the whole name).
pub const ALLOWLIST_PATTERN: &str = "allowlist.pattern";

/// Reads environment variables whose names match `allowlist.pattern` (all by default).
pub struct EnvProvider {
    allow: Option<Regex>,
}

impl EnvProvider {
    pub fn new(params: &Props) -> Result<Self> {
        let allow = match params.get(ALLOWLIST_PATTERN) {
            None => None,
            // Java's `Matcher.matches`: the whole name.
            Some(p) => Some(Regex::new(&format!("^(?:{p})$")).map_err(|e| {
                ConnectError::config(format!(
                    "Invalid value {p} for configuration {ALLOWLIST_PATTERN}: {e}"
                ))
            })?),
        };
        Ok(EnvProvider { allow })
    }
}

#[async_trait::async_trait]
impl ConfigProvider for EnvProvider {
    async fn get(&self, path: &str, keys: &BTreeSet<String>) -> Result<BTreeMap<String, String>> {
        if !path.is_empty() {
            return Err(ConnectError::config(format!(
                "Path is not supported for EnvVarConfigProvider, invalid value '{path}'"
            )));
        }
        Ok(keys
            .iter()
            .filter(|k| self.allow.as_ref().is_none_or(|re| re.is_match(k)))
            .filter_map(|k| std::env::var(k).ok().map(|v| (k.clone(), v)))
            .collect())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::props;

    #[tokio::test]
    async fn reads_allowed_variables_only() {
        // PATH and HOME are set wherever tests run; nothing here changes the environment.
        let keys: BTreeSet<String> = ["PATH", "HOME"].map(String::from).into();
        let all = EnvProvider::new(&Props::new()).unwrap();
        assert_eq!(all.get("", &keys).await.unwrap().len(), 2);
        let only_path = EnvProvider::new(&props(&[(ALLOWLIST_PATTERN, "PA.*")])).unwrap();
        let got = only_path.get("", &keys).await.unwrap();
        assert_eq!(got.keys().collect::<Vec<_>>(), ["PATH"]);
        assert_eq!(
            all.get("/x", &keys).await.unwrap_err().to_string(),
            "Path is not supported for EnvVarConfigProvider, invalid value '/x'"
        );
    }
}
