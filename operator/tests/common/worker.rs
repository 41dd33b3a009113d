//! `ferry` worker processes for the operator's tests, killed on drop.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{eventually, ferry_bin, required_env};

/// How long a worker may take to answer.
const START: Duration = Duration::from_secs(60);

/// A running `ferry` worker; its log is printed if the test panics.
pub struct Worker {
    child: Child,
    /// REST base URL.
    pub url: String,
    /// Scratch directory of the worker (its properties, offsets and log).
    pub dir: tempfile::TempDir,
}

/// A free local port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

impl Worker {
    /// `ferry MODE worker.properties ARGS...` with `props` as the worker properties, listening
    /// on `port`; returns once `ready_path` answers 2xx.
    pub async fn spawn(
        http: &reqwest::Client,
        dir: tempfile::TempDir,
        mode: &str,
        props: &str,
        args: &[&str],
        port: u16,
        ready_path: &str,
    ) -> Self {
        let path = dir.path().join("worker.properties");
        std::fs::write(&path, props).expect("write worker.properties");
        let log = std::fs::File::create(dir.path().join("worker.log")).expect("log file");
        let child = Command::new(ferry_bin())
            .arg(mode)
            .arg(&path)
            .args(args)
            .stdout(Stdio::from(log.try_clone().expect("log file")))
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap_or_else(|e| panic!("spawn ferry {mode}: {e}"));
        let worker = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            dir,
        };
        let url = format!("{}{ready_path}", worker.url);
        eventually(
            &format!("the ferry worker to answer {url}"),
            START,
            || async {
                let r = http.get(&url).send().await.ok()?;
                r.status().is_success().then_some(())
            },
        )
        .await;
        worker
    }

    /// A `ferry standalone` worker on the shared broker, JSON converters without schemas.
    pub async fn standalone(http: &reqwest::Client) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let props = [
            ("bootstrap.servers", required_env("KAFKA_BOOTSTRAP_SERVERS")),
            (
                "key.converter",
                "org.apache.kafka.connect.json.JsonConverter".into(),
            ),
            (
                "value.converter",
                "org.apache.kafka.connect.json.JsonConverter".into(),
            ),
            ("key.converter.schemas.enable", "false".into()),
            ("value.converter.schemas.enable", "false".into()),
            (
                "offset.storage.file.filename",
                dir.path().join("offsets.json").display().to_string(),
            ),
            ("offset.flush.interval.ms", "300".into()),
            ("listeners", format!("http://127.0.0.1:{port}")),
        ];
        let text: String = props.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
        Self::spawn(http, dir, "standalone", &text, &[], port, "/").await
    }

    /// The worker's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("worker.log")).unwrap_or_default()
    }

    /// SIGKILL.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("ferry worker log:\n{}", self.log());
        }
        self.stop();
    }
}
