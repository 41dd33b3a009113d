//! Kafka's `DirectoryConfigProvider`: one file per key, as Kubernetes mounts a Secret or
//! ConfigMap volume.

use std::collections::{BTreeMap, BTreeSet};

use super::ConfigProvider;
use super::paths::AllowedPaths;
use crate::config::Props;
use crate::errors::{ConnectError, Result};

/// Reads `${dir:/path/to/dir:filename}`: the whole file, as is.
pub struct DirectoryProvider {
    allowed: AllowedPaths,
}

impl DirectoryProvider {
    pub fn new(params: &Props) -> Result<Self> {
        Ok(DirectoryProvider {
            allowed: AllowedPaths::from_params(params)?,
        })
    }
}

#[async_trait::async_trait]
impl ConfigProvider for DirectoryProvider {
    async fn get(&self, path: &str, keys: &BTreeSet<String>) -> Result<BTreeMap<String, String>> {
        let dir = self.allowed.check(path)?;
        if !dir.is_dir() {
            return Err(ConnectError::config(format!("{path} is not a directory")));
        }
        let mut out = BTreeMap::new();
        for key in keys {
            // A key names a file directly in the directory, never one elsewhere.
            if key.is_empty() || key.contains('/') || key == "." || key == ".." {
                continue;
            }
            let file = dir.join(key);
            // Kubernetes volumes link each key to a file in a hidden timestamped directory;
            // `is_file` follows the link.
            if !file.is_file() {
                continue;
            }
            let text = tokio::fs::read_to_string(&file)
                .await
                .map_err(|e| ConnectError::io(format!("could not read {}", file.display()), e))?;
            out.insert(key.clone(), text);
        }
        Ok(out)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn each_file_is_a_key() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("password"), "p@ss\n").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let keys: BTreeSet<String> = ["password", "sub", "../password", "none"]
            .map(String::from)
            .into();
        let got = DirectoryProvider::new(&Props::new())
            .unwrap()
            .get(&dir.path().display().to_string(), &keys)
            .await
            .unwrap();
        assert_eq!(
            got,
            BTreeMap::from([("password".to_owned(), "p@ss\n".to_owned())])
        );
    }
}
