//! A private single-node Kafka broker (KRaft) for tests that stop and restart it; the shared
//! broker of `e2e/services` must stay up for every other test.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};

use super::free_port;

/// A broker process on its own ports and data directory, killed when dropped.
pub struct PrivateBroker {
    child: Option<Child>,
    pub bootstrap: String,
    /// The SASL_PLAINTEXT listener of a broker started with [`PrivateBroker::start_with_sasl`].
    pub sasl_bootstrap: Option<String>,
    /// The SSL listener of a broker started with [`PrivateBroker::start_with_tls`], and the
    /// PEM file of the CA that signed its certificate.
    pub tls: Option<(String, PathBuf)>,
    dir: PathBuf,
    lib: String,
}

impl PrivateBroker {
    /// Formats a data directory under `dir` and starts the broker; waits until it answers.
    pub fn start(dir: &Path) -> PrivateBroker {
        Self::start_inner(dir, false, false)
    }

    /// Like [`start`](Self::start), with a second listener, SSL, whose certificate (for
    /// 127.0.0.1 and localhost) a throwaway CA signed; see [`PrivateBroker::tls`].
    pub fn start_with_tls(dir: &Path) -> PrivateBroker {
        Self::start_inner(dir, false, true)
    }

    /// Like [`start`](Self::start), with a second listener, SASL_PLAINTEXT, that accepts
    /// PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 logins of user `alice`, password `alice-secret`.
    pub fn start_with_sasl(dir: &Path) -> PrivateBroker {
        Self::start_inner(dir, true, false)
    }

    fn start_inner(dir: &Path, sasl: bool, tls: bool) -> PrivateBroker {
        let lib = std::env::var("KAFKA_LIB").expect(
            "KAFKA_LIB is not set: run `e2e/services up kafka && eval \"$(e2e/services env)\"` first (e2e/test does this)",
        );
        let dir = dir.join("broker");
        std::fs::create_dir_all(&dir).unwrap();
        let (port, cport, sport, tport) = (free_port(), free_port(), free_port(), free_port());
        let mut listeners = format!("PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{cport}");
        let mut protocols = "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT".to_owned();
        let mut extra = String::new();
        if sasl {
            listeners.push_str(&format!(",SASL_PLAINTEXT://127.0.0.1:{sport}"));
            protocols.push_str(",SASL_PLAINTEXT:SASL_PLAINTEXT");
            extra = "sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512\n\
                listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_alice=\"alice-secret\";\n\
                listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;\n\
                listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;\n"
                .to_owned();
        }
        let mut ca = None;
        if tls {
            let (ca_pem, keystore) = make_certificates(&dir);
            listeners.push_str(&format!(",SSL://127.0.0.1:{tport}"));
            protocols.push_str(",SSL:SSL");
            extra.push_str(&format!(
                "listener.name.ssl.ssl.keystore.type=PEM\nlistener.name.ssl.ssl.keystore.location={}\n",
                keystore.display()
            ));
            ca = Some(ca_pem);
        }
        std::fs::write(
            dir.join("server.properties"),
            format!(
                "process.roles=broker,controller\nnode.id=1\n\
                 controller.quorum.bootstrap.servers=127.0.0.1:{cport}\n\
                 listeners={listeners}\nadvertised.listeners={listeners}\n\
                 controller.listener.names=CONTROLLER\ninter.broker.listener.name=PLAINTEXT\n\
                 listener.security.protocol.map={protocols}\n\
                 log.dirs={}\nnum.partitions=1\ndefault.replication.factor=1\n\
                 offsets.topic.replication.factor=1\ntransaction.state.log.replication.factor=1\n\
                 transaction.state.log.min.isr=1\nshare.coordinator.state.topic.replication.factor=1\n\
                 share.coordinator.state.topic.min.isr=1\ngroup.initial.rebalance.delay.ms=0\n{extra}",
                dir.join("logs").display()
            ),
        )
        .unwrap();
        let cluster_id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand_bytes());
        let out = Command::new("java")
            .args(java_args(&lib, &dir))
            .args(["kafka.tools.StorageTool", "format", "--standalone", "-t"])
            .arg(&cluster_id)
            .args(if sasl {
                vec![
                    "--add-scram",
                    "SCRAM-SHA-256=[name=alice,password=alice-secret]",
                    "--add-scram",
                    "SCRAM-SHA-512=[name=alice,password=alice-secret]",
                ]
            } else {
                vec![]
            })
            .arg("-c")
            .arg(dir.join("server.properties"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "formatting the private broker failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let mut b = PrivateBroker {
            child: None,
            bootstrap: format!("127.0.0.1:{port}"),
            sasl_bootstrap: sasl.then(|| format!("127.0.0.1:{sport}")),
            tls: ca.map(|ca| (format!("127.0.0.1:{tport}"), ca)),
            dir,
            lib,
        };
        b.resume();
        b
    }

    /// Starts the (stopped) broker again on the same ports and data; waits until it answers.
    pub fn resume(&mut self) {
        let log = std::fs::File::create(self.dir.join(format!(
            "broker-{}.log",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis()
        )))
        .unwrap();
        let child = Command::new("java")
            .args(java_args(&self.lib, &self.dir))
            .arg("kafka.Kafka")
            .arg(self.dir.join("server.properties"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &self.bootstrap)
            .create()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while consumer
            .fetch_metadata(None, Duration::from_secs(2))
            .map(|m| m.brokers().is_empty())
            .unwrap_or(true)
        {
            assert!(
                Instant::now() < deadline,
                "the private broker did not answer on {}",
                self.bootstrap
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Stops the broker with SIGTERM (a controlled shutdown) and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(60);
            while child.try_wait().ok().flatten().is_none() {
                if Instant::now() > deadline {
                    let _ = child.kill();
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

impl Drop for PrivateBroker {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A CA and a server certificate for 127.0.0.1/localhost signed by it, made with openssl.
/// Returns the CA's PEM file and the broker's PEM keystore (key and certificate).
fn make_certificates(dir: &Path) -> (PathBuf, PathBuf) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl is needed to make test certificates");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=ferry-test-ca",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
    ]);
    std::fs::write(
        dir.join("san.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "2",
        "-extfile",
        "san.ext",
    ]);
    let key = std::fs::read_to_string(dir.join("server.key")).unwrap();
    let cert = std::fs::read_to_string(dir.join("server.crt")).unwrap();
    std::fs::write(dir.join("server.pem"), format!("{key}{cert}")).unwrap();
    (dir.join("ca.pem"), dir.join("server.pem"))
}

fn java_args(lib: &str, dir: &Path) -> Vec<String> {
    vec![
        "-Xms64m".into(),
        "-Xmx384m".into(),
        "-XX:TieredStopAtLevel=1".into(),
        format!("-Dkafka.logs.dir={}", dir.display()),
        "-cp".into(),
        format!("{lib}/*"),
    ]
}

/// 16 bytes for a cluster id, distinct per run.
fn rand_bytes() -> [u8; 16] {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let mut b = nanos.to_le_bytes();
    b[15] ^= std::process::id() as u8;
    b
}
