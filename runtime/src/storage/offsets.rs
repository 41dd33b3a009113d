//! Source offset stores. An offset is written only after the records it covers were
//! acknowledged by Kafka; the file store makes each write durable (temp file, fsync,
//! rename) before returning, so a SIGKILL loses at most uncommitted progress.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::{Value as Json, json};

use crate::connectors::{SourceOffset, SourcePartition};
use crate::errors::{ConnectError, Result};

/// The key Kafka Connect uses for an offset: `["connector", {partition}]` as JSON text.
pub fn offset_key(connector: &str, partition: &SourcePartition) -> String {
    json!([connector, partition]).to_string()
}

/// Reads and writes committed source offsets.
#[async_trait]
pub trait OffsetStore: Send + Sync {
    /// The committed offset of one partition of one connector.
    fn get(&self, connector: &str, partition: &SourcePartition) -> Option<SourceOffset>;

    /// Every committed partition and offset of a connector.
    fn connector_offsets(&self, connector: &str) -> Vec<(SourcePartition, SourceOffset)>;

    /// Writes offsets durably; `None` removes a partition's offset.
    async fn put(
        &self,
        connector: &str,
        offsets: Vec<(SourcePartition, Option<SourceOffset>)>,
    ) -> Result<()>;
}

type OffsetMap = BTreeMap<String, (String, SourcePartition, SourceOffset)>;

fn apply(
    map: &mut OffsetMap,
    connector: &str,
    offsets: Vec<(SourcePartition, Option<SourceOffset>)>,
) {
    for (partition, offset) in offsets {
        let key = offset_key(connector, &partition);
        match offset {
            Some(o) => {
                map.insert(key, (connector.to_owned(), partition, o));
            }
            None => {
                map.remove(&key);
            }
        }
    }
}

fn lookup(map: &OffsetMap, connector: &str, partition: &SourcePartition) -> Option<SourceOffset> {
    map.get(&offset_key(connector, partition))
        .map(|(_, _, o)| o.clone())
}

fn of_connector(map: &OffsetMap, connector: &str) -> Vec<(SourcePartition, SourceOffset)> {
    map.values()
        .filter(|(c, _, _)| c == connector)
        .map(|(_, p, o)| (p.clone(), o.clone()))
        .collect()
}

/// Offsets kept in memory only (tests, and connectors without durable offsets).
#[derive(Default)]
pub struct MemoryOffsetStore {
    map: Mutex<OffsetMap>,
}

#[async_trait]
impl OffsetStore for MemoryOffsetStore {
    fn get(&self, connector: &str, partition: &SourcePartition) -> Option<SourceOffset> {
        self.map
            .lock()
            .ok()
            .and_then(|m| lookup(&m, connector, partition))
    }
    fn connector_offsets(&self, connector: &str) -> Vec<(SourcePartition, SourceOffset)> {
        self.map
            .lock()
            .map(|m| of_connector(&m, connector))
            .unwrap_or_default()
    }
    async fn put(
        &self,
        connector: &str,
        offsets: Vec<(SourcePartition, Option<SourceOffset>)>,
    ) -> Result<()> {
        let mut m = self
            .map
            .lock()
            .map_err(|_| ConnectError::internal("offset store lock poisoned"))?;
        apply(&mut m, connector, offsets);
        Ok(())
    }
}

/// Offsets in a JSON file (`offset.storage.file.filename`), standalone mode's store.
///
/// The file is `{"version":1,"offsets":[[["connector",{partition}],{offset}],...]}`:
/// Kafka Connect's own file is a Java-serialised map no other program can read.
pub struct FileOffsetStore {
    path: PathBuf,
    map: Arc<Mutex<OffsetMap>>,
    /// Serialises file writes; taken only inside blocking threads.
    write_lock: Arc<Mutex<()>>,
}

impl FileOffsetStore {
    /// Opens the store, reading existing offsets; a missing file is an empty store.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self> {
        let path = path.into();
        let mut map = OffsetMap::new();
        match std::fs::read(&path) {
            Ok(bytes) if bytes.is_empty() => {}
            Ok(bytes) => {
                let doc: Json = serde_json::from_slice(&bytes).map_err(|e| {
                    ConnectError::config(format!(
                        "offset file {} is not valid JSON ({e}); move it away to start from scratch",
                        path.display()
                    ))
                })?;
                let entries = doc.get("offsets").and_then(Json::as_array).ok_or_else(|| {
                    ConnectError::config(format!(
                        "offset file {} has no \"offsets\" array",
                        path.display()
                    ))
                })?;
                for entry in entries {
                    let parsed = (|| {
                        let key = entry.get(0)?;
                        let connector = key.get(0)?.as_str()?.to_owned();
                        let partition = key.get(1)?.as_object()?.clone();
                        let offset = entry.get(1)?.as_object()?.clone();
                        Some((connector, partition, offset))
                    })();
                    let (connector, partition, offset) = parsed.ok_or_else(|| {
                        ConnectError::config(format!(
                            "offset file {} has a malformed entry: {entry}",
                            path.display()
                        ))
                    })?;
                    apply(&mut map, &connector, vec![(partition, Some(offset))]);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(ConnectError::io(
                    format!("could not read offset file {}", path.display()),
                    e,
                ));
            }
        }
        Ok(FileOffsetStore {
            path,
            map: Arc::new(Mutex::new(map)),
            write_lock: Arc::new(Mutex::new(())),
        })
    }

    fn write_file(path: &Path, doc: &Json) -> std::io::Result<()> {
        use std::io::Write;
        let tmp = path.with_extension("tmp");
        {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(doc.to_string().as_bytes())?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    }
}

#[async_trait]
impl OffsetStore for FileOffsetStore {
    fn get(&self, connector: &str, partition: &SourcePartition) -> Option<SourceOffset> {
        self.map
            .lock()
            .ok()
            .and_then(|m| lookup(&m, connector, partition))
    }

    fn connector_offsets(&self, connector: &str) -> Vec<(SourcePartition, SourceOffset)> {
        self.map
            .lock()
            .map(|m| of_connector(&m, connector))
            .unwrap_or_default()
    }

    async fn put(
        &self,
        connector: &str,
        offsets: Vec<(SourcePartition, Option<SourceOffset>)>,
    ) -> Result<()> {
        let map = self.map.clone();
        let write_lock = self.write_lock.clone();
        let path = self.path.clone();
        let connector = connector.to_owned();
        tokio::task::spawn_blocking(move || {
            let _guard = write_lock
                .lock()
                .map_err(|_| ConnectError::internal("offset file lock poisoned"))?;
            let doc = {
                let mut m = map
                    .lock()
                    .map_err(|_| ConnectError::internal("offset store lock poisoned"))?;
                apply(&mut m, &connector, offsets);
                let entries: Vec<Json> = m.values().map(|(c, p, o)| json!([[c, p], o])).collect();
                json!({ "version": 1, "offsets": entries })
            };
            Self::write_file(&path, &doc).map_err(|e| {
                ConnectError::io(format!("could not write offset file {}", path.display()), e)
            })
        })
        .await
        .map_err(|e| ConnectError::internal(format!("offset writer failed: {e}")))?
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn part(f: &str) -> SourcePartition {
        json!({ "filename": f }).as_object().cloned().unwrap()
    }
    fn off(p: u64) -> SourceOffset {
        json!({ "position": p }).as_object().cloned().unwrap()
    }

    #[tokio::test]
    async fn file_store_survives_reopen_and_removes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("offsets.json");
        let store = FileOffsetStore::open(&path).unwrap();
        store
            .put(
                "a",
                vec![(part("/x"), Some(off(10))), (part("/y"), Some(off(3)))],
            )
            .await
            .unwrap();
        store
            .put("b", vec![(part("/x"), Some(off(99)))])
            .await
            .unwrap();
        store.put("a", vec![(part("/y"), None)]).await.unwrap();

        let reopened = FileOffsetStore::open(&path).unwrap();
        assert_eq!(reopened.get("a", &part("/x")), Some(off(10)));
        assert_eq!(reopened.get("a", &part("/y")), None);
        assert_eq!(reopened.get("b", &part("/x")), Some(off(99)));
        assert_eq!(reopened.connector_offsets("a"), vec![(part("/x"), off(10))]);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains(r#"[["a",{"filename":"/x"}],{"position":10}]"#),
            "{text}"
        );
    }

    #[test]
    fn corrupt_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("offsets.json");
        std::fs::write(&path, "{not json").unwrap();
        let err = FileOffsetStore::open(&path).err().unwrap().to_string();
        assert!(err.contains("offsets.json is not valid JSON"), "{err}");
    }
}
