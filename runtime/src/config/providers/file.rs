//! Kafka's `FileConfigProvider`: keys of a Java properties file.

use std::collections::{BTreeMap, BTreeSet};

use super::ConfigProvider;
use super::paths::AllowedPaths;
use crate::config::Props;
use crate::errors::{ConnectError, Result};

/// Reads `${file:/path/to.properties:key}`.
pub struct FileProvider {
    allowed: AllowedPaths,
}

impl FileProvider {
    pub fn new(params: &Props) -> Result<Self> {
        Ok(FileProvider {
            allowed: AllowedPaths::from_params(params)?,
        })
    }
}

#[async_trait::async_trait]
impl ConfigProvider for FileProvider {
    async fn get(&self, path: &str, keys: &BTreeSet<String>) -> Result<BTreeMap<String, String>> {
        let file = self.allowed.check(path)?;
        let text = tokio::fs::read_to_string(&file)
            .await
            .map_err(|e| ConnectError::io(format!("could not read {path}"), e))?;
        // The parser's errors quote the offending line, which may hold a secret.
        let all = crate::config::properties::parse_map(&text).map_err(|_| {
            ConnectError::config(format!("{path} is not a valid Java properties file"))
        })?;
        Ok(all.into_iter().filter(|(k, _)| keys.contains(k)).collect())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_requested_keys_of_a_properties_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.properties");
        std::fs::write(&path, "user=ferry\npassword = s3cr=t\nother=x\n").unwrap();
        let keys: BTreeSet<String> = ["user", "password", "absent"].map(String::from).into();
        let got = FileProvider::new(&Props::new())
            .unwrap()
            .get(&path.display().to_string(), &keys)
            .await
            .unwrap();
        assert_eq!(
            got,
            BTreeMap::from([
                ("password".to_owned(), "s3cr=t".to_owned()),
                ("user".to_owned(), "ferry".to_owned())
            ])
        );
        let e = FileProvider::new(&Props::new())
            .unwrap()
            .get("/nonexistent/x.properties", &keys)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("could not read /nonexistent/x.properties: "),
            "{e}"
        );
    }
}
