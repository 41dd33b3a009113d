//! FileStreamSource: each line of a file (or stdin) becomes a record; the offset is the
//! byte position after the line, so a restart resumes where the last commit left off.

use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Map, Value as Json};

use super::config::{self, BATCH_SIZE, FILE, TOPIC};
use crate::config::{ConfigDef, Props};
use crate::connectors::{Connector, SourceTask, SourceTaskContext};
use crate::data::{ConnectRecord, Schema, SchemaAndValue, SchemaRef, SourceRecord, Value};
use crate::errors::{ConnectError, Result};

/// How long to wait for more data at the end of the input.
const IDLE_WAIT: Duration = Duration::from_millis(100);
const READ_BUFFER: usize = 256 * 1024;

#[derive(Default)]
pub struct FileStreamSourceConnector {
    props: Props,
}

#[async_trait]
impl Connector for FileStreamSourceConnector {
    fn config_def(&self) -> ConfigDef {
        config::source_def()
    }

    async fn start(&mut self, props: &Props) -> Result<()> {
        self.props = props.clone();
        Ok(())
    }

    /// One task: a file has one reader.
    fn task_configs(&self, _max_tasks: usize) -> Result<Vec<Props>> {
        Ok(vec![self.props.clone()])
    }
}

/// The input: a file, with its path for error messages, or stdin.
enum Input {
    File {
        path: String,
        reader: BufReader<std::fs::File>,
    },
    Stdin(BufReader<std::io::Stdin>),
}

impl Input {
    fn reader(&mut self) -> &mut dyn BufRead {
        match self {
            Input::File { reader, .. } => reader,
            Input::Stdin(r) => r,
        }
    }
    fn describe(&self) -> &str {
        match self {
            Input::File { path, .. } => path,
            Input::Stdin(_) => "stdin",
        }
    }
}

/// State moved into the blocking reader thread and back on every poll.
struct ReadState {
    input: Input,
    /// Bytes of an unfinished last line, kept until its newline arrives.
    pending: Vec<u8>,
    /// Byte position after the last complete line.
    position: u64,
}

#[derive(Default)]
pub struct FileStreamSourceTask {
    topic: String,
    batch_size: usize,
    partition: Option<Map<String, Json>>,
    state: Option<ReadState>,
    /// One `Arc` for all the task's records, so schema caches downstream (transforms,
    /// converters) find it by pointer.
    schema: Option<SchemaRef>,
}

fn open_at(path: &str, position: u64) -> Result<BufReader<std::fs::File>> {
    let mut file = std::fs::File::open(path)
        .map_err(|e| ConnectError::io(format!("could not open source file {path}"), e))?;
    if position > 0 {
        file.seek(SeekFrom::Start(position))
            .map_err(|e| ConnectError::io(format!("could not seek to {position} in {path}"), e))?;
    }
    Ok(BufReader::with_capacity(READ_BUFFER, file))
}

/// Reads up to `max` complete lines; returns them with the position after each.
fn read_lines(state: &mut ReadState, max: usize) -> Result<Vec<(String, u64)>> {
    let mut lines = Vec::new();
    while lines.len() < max {
        let n = state
            .input
            .reader()
            .read_until(b'\n', &mut state.pending)
            .map_err(|e| {
                ConnectError::io(format!("error reading {}", state.input.describe()), e)
            })?;
        if n == 0 || state.pending.last() != Some(&b'\n') {
            // End of input for now; a partial line waits for the rest.
            break;
        }
        state.position += state.pending.len() as u64;
        let mut line = std::mem::take(&mut state.pending);
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        let text = match String::from_utf8(line) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        };
        lines.push((text, state.position));
    }
    Ok(lines)
}

/// The key of the source offset: Kafka's `FileStreamSourceTask.POSITION_FIELD`.
const POSITION: &str = "position";

#[async_trait]
impl SourceTask for FileStreamSourceTask {
    async fn start(&mut self, props: &Props, context: SourceTaskContext) -> Result<()> {
        let parsed = config::source_def().parse(props)?;
        self.topic = parsed.string(TOPIC)?.unwrap_or_default().to_owned();
        self.batch_size = usize::try_from(parsed.int(BATCH_SIZE)?).unwrap_or(1).max(1);
        let file = parsed
            .string(FILE)?
            .filter(|f| !f.is_empty())
            .map(str::to_owned);
        self.state = Some(match file {
            Some(path) => {
                let mut partition = Map::new();
                partition.insert("filename".into(), Json::String(path.clone()));
                let position = context
                    .offsets
                    .offset(&partition)
                    .and_then(|o| o.get(POSITION).and_then(Json::as_u64))
                    .unwrap_or(0);
                let reader = open_at(&path, position)?;
                tracing::info!(file = %path, position, "reading file");
                self.partition = Some(partition);
                ReadState {
                    input: Input::File { path, reader },
                    pending: Vec::new(),
                    position,
                }
            }
            None => ReadState {
                input: Input::Stdin(BufReader::new(std::io::stdin())),
                pending: Vec::new(),
                position: 0,
            },
        });
        Ok(())
    }

    async fn poll(&mut self) -> Result<Vec<SourceRecord>> {
        let mut state = self
            .state
            .take()
            .ok_or_else(|| ConnectError::internal("FileStreamSourceTask polled before start"))?;
        let max = self.batch_size;
        let (state, lines) = tokio::task::spawn_blocking(move || {
            let r = read_lines(&mut state, max);
            (state, r)
        })
        .await
        .map_err(|e| ConnectError::internal(format!("file reader thread failed: {e}")))?;
        self.state = Some(state);
        let lines = lines?;
        if lines.is_empty() {
            tokio::time::sleep(IDLE_WAIT).await;
            return Ok(Vec::new());
        }
        let schema = self.schema.get_or_insert_with(Schema::string).clone();
        Ok(lines
            .into_iter()
            .map(|(line, position)| {
                let (source_partition, source_offset) = match &self.partition {
                    Some(p) => {
                        let mut offset = Map::new();
                        offset.insert(POSITION.to_owned(), Json::from(position));
                        (p.clone(), offset)
                    }
                    None => (Map::new(), Map::new()),
                };
                SourceRecord {
                    record: ConnectRecord {
                        topic: self.topic.clone(),
                        value: SchemaAndValue::new(Some(schema.clone()), Value::String(line)),
                        ..ConnectRecord::default()
                    },
                    source_partition,
                    source_offset,
                }
            })
            .collect())
    }
}
