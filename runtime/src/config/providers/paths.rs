//! Kafka's `allowed.paths` parameter of the file and directory providers.

use std::path::{Component, Path, PathBuf};

use crate::config::Props;
use crate::errors::{ConnectError, Result};

/// The parameter naming the only paths a provider may read (all when unset).
pub const ALLOWED_PATHS: &str = "allowed.paths";

/// The directories a provider may read below; `None` allows every path.
#[derive(Debug, Clone, Default)]
pub struct AllowedPaths(Option<Vec<PathBuf>>);

/// `path` with `.` and `..` removed lexically, as Java's `Path.normalize`.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

impl AllowedPaths {
    /// Reads `allowed.paths` (comma-separated absolute paths that exist).
    pub fn from_params(params: &Props) -> Result<Self> {
        let Some(list) = params.get(ALLOWED_PATHS).filter(|v| !v.trim().is_empty()) else {
            return Ok(AllowedPaths(None));
        };
        let mut paths = Vec::new();
        for p in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let path = normalize(Path::new(p));
            if !path.is_absolute() {
                return Err(ConnectError::config(format!(
                    "Invalid value {p} for configuration {ALLOWED_PATHS}: Path {} is not absolute",
                    path.display()
                )));
            }
            if !path.exists() {
                return Err(ConnectError::config(format!(
                    "Invalid value {p} for configuration {ALLOWED_PATHS}: Path {} does not exist",
                    path.display()
                )));
            }
            paths.push(path);
        }
        Ok(AllowedPaths(Some(paths)))
    }

    /// The normalized path if it may be read, else an error naming it.
    pub fn check(&self, path: &str) -> Result<PathBuf> {
        let normalized = normalize(Path::new(path));
        match &self.0 {
            Some(allowed) if !allowed.iter().any(|a| normalized.starts_with(a)) => {
                Err(ConnectError::config(format!(
                    "path {path} is not under the provider's {ALLOWED_PATHS}"
                )))
            }
            _ => Ok(normalized),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::props;

    #[test]
    fn only_paths_below_allowed_ones_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().display().to_string();
        let allowed = AllowedPaths::from_params(&props(&[(ALLOWED_PATHS, &root)])).unwrap();
        assert!(allowed.check(&format!("{root}/a/b.properties")).is_ok());
        let escape = format!("{root}/../etc/passwd");
        assert_eq!(
            allowed.check(&escape).unwrap_err().to_string(),
            format!("path {escape} is not under the provider's allowed.paths")
        );
        assert!(AllowedPaths::default().check("/etc/passwd").is_ok());
        let e = AllowedPaths::from_params(&props(&[(ALLOWED_PATHS, "relative/dir")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("is not absolute"), "{e}");
    }
}
