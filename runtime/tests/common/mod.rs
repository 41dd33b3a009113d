//! Shared helpers for tests that run the `ferry` binary against the real Kafka broker
//! started by `e2e/services up kafka` (its address comes from KAFKA_BOOTSTRAP_SERVERS).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use serde_json::Value;

pub mod broker;

/// The broker's address; tests need the real broker and say so plainly when it is missing.
pub fn bootstrap() -> String {
    std::env::var("KAFKA_BOOTSTRAP_SERVERS").expect(
        "KAFKA_BOOTSTRAP_SERVERS is not set: run `e2e/services up kafka && eval \"$(e2e/services env)\"` first (e2e/test does this)",
    )
}

/// A name no other test run uses.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{prefix}-{}-{nanos}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Polls `f` until it returns Some, at most `timeout`; panics with `what` otherwise.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        if Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `ferry standalone` process, killed when dropped.
pub struct Worker {
    pub child: Child,
    pub url: String,
    pub dir: PathBuf,
    pub log: PathBuf,
    pub port: u16,
}

/// Worker settings used by default: JSON values without schemas, fast offset flushes.
pub fn worker_props(dir: &Path, port: u16) -> Vec<(String, String)> {
    vec![
        ("bootstrap.servers".into(), bootstrap()),
        (
            "key.converter".into(),
            "org.apache.kafka.connect.json.JsonConverter".into(),
        ),
        (
            "value.converter".into(),
            "org.apache.kafka.connect.json.JsonConverter".into(),
        ),
        ("key.converter.schemas.enable".into(), "false".into()),
        ("value.converter.schemas.enable".into(), "false".into()),
        (
            "offset.storage.file.filename".into(),
            dir.join("offsets.json").display().to_string(),
        ),
        ("offset.flush.interval.ms".into(), "300".into()),
        ("listeners".into(), format!("http://127.0.0.1:{port}")),
    ]
}

pub fn write_props(path: &Path, props: &[(String, String)]) {
    let text: String = props.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    std::fs::write(path, text).unwrap();
}

/// Settings of a distributed worker of group `group` whose internal topics start with it.
pub fn distributed_props(group: &str, port: u16) -> Vec<(String, String)> {
    vec![
        ("bootstrap.servers".into(), bootstrap()),
        ("group.id".into(), group.into()),
        ("config.storage.topic".into(), format!("{group}-configs")),
        ("offset.storage.topic".into(), format!("{group}-offsets")),
        ("status.storage.topic".into(), format!("{group}-status")),
        ("config.storage.replication.factor".into(), "1".into()),
        ("offset.storage.replication.factor".into(), "1".into()),
        ("status.storage.replication.factor".into(), "1".into()),
        ("offset.storage.partitions".into(), "3".into()),
        ("status.storage.partitions".into(), "2".into()),
        (
            "key.converter".into(),
            "org.apache.kafka.connect.json.JsonConverter".into(),
        ),
        (
            "value.converter".into(),
            "org.apache.kafka.connect.json.JsonConverter".into(),
        ),
        ("key.converter.schemas.enable".into(), "false".into()),
        ("value.converter.schemas.enable".into(), "false".into()),
        ("offset.flush.interval.ms".into(), "300".into()),
        ("session.timeout.ms".into(), "6000".into()),
        ("heartbeat.interval.ms".into(), "1000".into()),
        ("scheduled.rebalance.max.delay.ms".into(), "0".into()),
        ("listeners".into(), format!("http://127.0.0.1:{port}")),
    ]
}

impl Worker {
    /// Starts a distributed worker with `props` and waits until REST answers.
    pub async fn start_distributed(dir: &Path, props: &[(String, String)]) -> Worker {
        Self::spawn(dir, props, "distributed", &[], &[]).await
    }

    /// Starts a distributed worker with extra environment variables.
    pub async fn start_distributed_env(
        dir: &Path,
        props: &[(String, String)],
        env: &[(&str, &str)],
    ) -> Worker {
        Self::spawn(dir, props, "distributed", &[], env).await
    }

    /// Starts a worker with `props` and connector config files, and waits until REST answers.
    pub async fn start(dir: &Path, props: &[(String, String)], connectors: &[PathBuf]) -> Worker {
        Self::spawn(dir, props, "standalone", connectors, &[]).await
    }

    async fn spawn(
        dir: &Path,
        props: &[(String, String)],
        mode: &str,
        connectors: &[PathBuf],
        env: &[(&str, &str)],
    ) -> Worker {
        let port = props
            .iter()
            .find(|(k, _)| k == "listeners")
            .and_then(|(_, v)| v.rsplit(':').next())
            .and_then(|p| p.parse().ok())
            .expect("listeners with a port");
        let worker_file = dir.join(format!("worker-{port}.properties"));
        write_props(&worker_file, props);
        let log = dir.join(format!("worker-{}.log", unique("run")));
        let child = Command::new(env!("CARGO_BIN_EXE_ferry"))
            .arg(mode)
            .arg(&worker_file)
            .args(connectors)
            .env("FERRY_LOG", "info,ferry_runtime=debug")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let url = format!("http://127.0.0.1:{port}");
        let mut w = Worker {
            child,
            url,
            dir: dir.to_owned(),
            log,
            port,
        };
        let client = reqwest::Client::new();
        let url = w.url.clone();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = client.get(format!("{url}/")).send().await
                && r.status() == 200
            {
                break;
            }
            if let Ok(Some(status)) = w.child.try_wait() {
                panic!("ferry exited early with {status}; log:\n{}", w.log_text());
            }
            if Instant::now() > deadline {
                panic!("ferry did not answer on {url}; log:\n{}", w.log_text());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        w
    }

    /// Starts a reference Kafka Connect 4.3.1 distributed worker (the jars `e2e/services up
    /// kafka-connect-distributed` installed) with `props`, and waits until it has joined its
    /// group (`GET /connectors` answers only then).
    pub async fn start_java_distributed(dir: &Path, props: &[(String, String)]) -> Worker {
        let lib = std::env::var("KAFKA_CONNECT_LIB").expect(
            "KAFKA_CONNECT_LIB is not set: run `e2e/services up kafka-connect-distributed && eval \"$(e2e/services env)\"` first (e2e/test does this)",
        );
        let port = props
            .iter()
            .find(|(k, _)| k == "listeners")
            .and_then(|(_, v)| v.rsplit(':').next())
            .and_then(|p| p.parse().ok())
            .expect("listeners with a port");
        let mut props = props.to_vec();
        props.push(("rest.advertised.host.name".into(), "127.0.0.1".into()));
        props.push(("plugin.discovery".into(), "service_load".into()));
        let worker_file = dir.join(format!("java-worker-{port}.properties"));
        write_props(&worker_file, &props);
        let log = dir.join(format!("java-worker-{}.log", unique("run")));
        let out = std::fs::File::create(&log).unwrap();
        // INFO to stdout (the log file), as connect-log4j2.properties does.
        let log4j = dir.join(format!("java-log4j2-{port}.properties"));
        std::fs::write(
            &log4j,
            "status = warn\nappender.out.type = Console\nappender.out.name = OUT\n\
             appender.out.layout.type = PatternLayout\nappender.out.layout.pattern = [%d] %p %m (%c)%n\n\
             rootLogger.level = INFO\nrootLogger.appenderRef.out.ref = OUT\n\
             logger.kafka.name = org.apache.kafka.clients\nlogger.kafka.level = WARN\n",
        )
        .unwrap();
        let child = Command::new("java")
            .args(["-Xms64m", "-Xmx384m", "-XX:TieredStopAtLevel=1"])
            .arg(format!("-Dlog4j2.configurationFile={}", log4j.display()))
            .arg("-cp")
            .arg(format!("{lib}/*"))
            .arg("org.apache.kafka.connect.cli.ConnectDistributed")
            .arg(&worker_file)
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap();
        let mut w = Worker {
            child,
            url: format!("http://127.0.0.1:{port}"),
            dir: dir.to_owned(),
            log,
            port,
        };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Ok(r) = client.get(format!("{}/connectors", w.url)).send().await
                && r.status() == 200
            {
                break;
            }
            if let Ok(Some(status)) = w.child.try_wait() {
                panic!(
                    "Kafka Connect exited early with {status}; log:\n{}",
                    w.log_text()
                );
            }
            if Instant::now() > deadline {
                panic!(
                    "Kafka Connect did not answer on {}; log:\n{}",
                    w.url,
                    w.log_text()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        w
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL: no shutdown hooks run.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then wait for a clean exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(s)) = self.child.try_wait() {
                return s;
            }
            if Instant::now() > deadline {
                self.kill9();
                panic!(
                    "the worker did not stop after SIGTERM; log:\n{}",
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value, reqwest::header::HeaderMap) {
        let client = reqwest::Client::new();
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = client.request(m, format!("{}{path}", self.url));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, json, headers)
    }

    pub async fn get(&self, path: &str) -> Value {
        let (status, body, _) = self.call("GET", path, None).await;
        assert_eq!(status, 200, "GET {path} answered {status}: {body}");
        body
    }

    /// Creates connector `name` through this worker, trying again while a rebalance answers
    /// 409 (a 409 after the connector was written is the next try's "already exists").
    pub async fn create_connector(&self, name: &str, config: Value) {
        wait_for(
            &format!("{name} created"),
            Duration::from_secs(60),
            || async {
                let (code, body, _) = self
                    .call(
                        "PUT",
                        &format!("/connectors/{name}/config"),
                        Some(config.clone()),
                    )
                    .await;
                assert!(code == 201 || code == 409, "{code} {body}");
                (code == 201).then_some(())
            },
        )
        .await;
    }

    /// Waits until the connector and all its tasks are in `state` (and it has `tasks` tasks).
    /// On timeout it panics with the last status seen and the end of the worker's log, so
    /// a failure in CI can be read without rerunning it.
    pub async fn wait_state(&self, name: &str, state: &str, tasks: usize) -> Value {
        let path = format!("/connectors/{name}/status");
        let timeout = Duration::from_secs(30);
        let deadline = Instant::now() + timeout;
        loop {
            let (code, s, _) = self.call("GET", &path, None).await;
            let ok = code == 200
                && s["connector"]["state"] == state
                && s["tasks"]
                    .as_array()
                    .is_some_and(|t| t.len() == tasks && t.iter().all(|t| t["state"] == state));
            if ok {
                return s;
            }
            if Instant::now() > deadline {
                let log = self.log_text();
                let tail: Vec<&str> = log.lines().rev().take(60).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                panic!(
                    "timed out after {timeout:?} waiting for {name} to be {state} with {tasks} tasks on {}; last answer {code}: {s}\nlast lines of {}:\n{}",
                    self.url,
                    self.log.display(),
                    tail.join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A consumed record's key and value.
pub type Record = (Option<Vec<u8>>, Option<Vec<u8>>);

/// Reads every message of a topic from the beginning until `n` arrived or `timeout` passed.
pub fn consume(topic: &str, n: usize, timeout: Duration) -> Vec<Record> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap())
        .set("group.id", unique("test-reader"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    consumer.subscribe(&[topic]).unwrap();
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    while out.len() < n && Instant::now() < deadline {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
            out.push((m.key().map(<[u8]>::to_vec), m.payload().map(<[u8]>::to_vec)));
        }
    }
    out
}

/// Produces raw values to a topic and waits for their acknowledgement.
pub fn produce(topic: &str, values: &[&[u8]]) {
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap())
        .create()
        .unwrap();
    for v in values {
        producer
            .send(BaseRecord::<(), [u8]>::to(topic).payload(v))
            .unwrap();
    }
    producer.flush(Duration::from_secs(30)).unwrap();
}

/// Lines of a file (empty when it does not exist yet).
pub fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .map(|s| s.lines().map(str::to_owned).collect())
        .unwrap_or_default()
}

/// The value of the sample named exactly `series` (name and labels) in a `/metrics`
/// exposition.
pub fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}
