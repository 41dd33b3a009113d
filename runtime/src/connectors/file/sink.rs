//! FileStreamSink: writes each record's value, Java-`toString`-style, as a line of a
//! file (or stdout). `flush` fsyncs the file, so committed offsets cover durable lines.

use std::io::Write;

use async_trait::async_trait;

use super::config::{self, FILE};
use crate::config::{ConfigDef, Props};
use crate::connectors::{Connector, Offsets, SinkTask};
use crate::data::SinkRecord;
use crate::errors::{ConnectError, Result};

#[derive(Default)]
pub struct FileStreamSinkConnector {
    props: Props,
}

#[async_trait]
impl Connector for FileStreamSinkConnector {
    fn config_def(&self) -> ConfigDef {
        config::sink_def()
    }

    async fn start(&mut self, props: &Props) -> Result<()> {
        self.props = props.clone();
        Ok(())
    }

    fn task_configs(&self, max_tasks: usize) -> Result<Vec<Props>> {
        Ok(vec![self.props.clone(); max_tasks.max(1)])
    }
}

enum Output {
    File {
        path: String,
        file: std::io::BufWriter<std::fs::File>,
    },
    Stdout(std::io::Stdout),
}

#[derive(Default)]
pub struct FileStreamSinkTask {
    output: Option<Output>,
}

impl FileStreamSinkTask {
    fn output(&mut self) -> Result<&mut Output> {
        self.output
            .as_mut()
            .ok_or_else(|| ConnectError::internal("FileStreamSinkTask used before start"))
    }
}

#[async_trait]
impl SinkTask for FileStreamSinkTask {
    async fn start(&mut self, props: &Props) -> Result<()> {
        let parsed = config::sink_def().parse(props)?;
        let file = parsed
            .string(FILE)?
            .filter(|f| !f.is_empty())
            .map(str::to_owned);
        self.output = Some(match file {
            Some(path) => {
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .map_err(|e| {
                        ConnectError::io(
                            format!("Couldn't find or create file '{path}' for FileStreamSinkTask"),
                            e,
                        )
                    })?;
                Output::File {
                    path,
                    file: std::io::BufWriter::with_capacity(256 * 1024, file),
                }
            }
            None => Output::Stdout(std::io::stdout()),
        });
        Ok(())
    }

    async fn put(&mut self, records: Vec<SinkRecord>) -> Result<()> {
        // Buffered writes of a batch are cheap enough to do inline.
        let out = self.output()?;
        let mut text = String::new();
        for r in &records {
            use std::fmt::Write as _;
            let _ = writeln!(text, "{}", r.record.value.value);
        }
        match out {
            Output::File { path, file } => file
                .write_all(text.as_bytes())
                .map_err(|e| ConnectError::io(format!("error writing to {path}"), e)),
            Output::Stdout(s) => s
                .write_all(text.as_bytes())
                .map_err(|e| ConnectError::io("error writing to stdout", e)),
        }
    }

    async fn flush(&mut self, _offsets: &Offsets) -> Result<()> {
        match self.output()? {
            Output::File { path, file } => {
                // fsync can take a while: keep it off the async threads' hot path.
                let mut sync = || -> std::io::Result<()> {
                    file.flush()?;
                    file.get_ref().sync_data()
                };
                let result = match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor())
                {
                    Ok(tokio::runtime::RuntimeFlavor::MultiThread) => {
                        tokio::task::block_in_place(sync)
                    }
                    _ => sync(),
                };
                result.map_err(|e| ConnectError::io(format!("error syncing {path}"), e))
            }
            Output::Stdout(s) => s
                .flush()
                .map_err(|e| ConnectError::io("error flushing stdout", e)),
        }
    }

    async fn stop(&mut self) -> Result<()> {
        if self.output.is_some() {
            self.flush(&Offsets::new()).await?;
        }
        self.output = None;
        Ok(())
    }
}
