//! How the membership connection authenticates and encrypts: `security.protocol`, SASL
//! (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) and TLS, read from the worker's Kafka Connect keys
//! so one worker file configures every client of the worker alike.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ring::{digest, hmac, pbkdf2};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use super::membership::MembershipError;
use crate::config::Props;

/// `security.protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SecurityProtocol {
    #[default]
    Plaintext,
    Ssl,
    SaslPlaintext,
    SaslSsl,
}

impl SecurityProtocol {
    fn parse(raw: &str) -> Result<Self, MembershipError> {
        match raw.to_ascii_uppercase().as_str() {
            "PLAINTEXT" => Ok(Self::Plaintext),
            "SSL" => Ok(Self::Ssl),
            "SASL_PLAINTEXT" => Ok(Self::SaslPlaintext),
            "SASL_SSL" => Ok(Self::SaslSsl),
            _ => Err(config(format!(
                "Invalid value {raw} for configuration security.protocol: expected one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL"
            ))),
        }
    }

    pub fn uses_tls(self) -> bool {
        matches!(self, Self::Ssl | Self::SaslSsl)
    }

    pub fn uses_sasl(self) -> bool {
        matches!(self, Self::SaslPlaintext | Self::SaslSsl)
    }
}

/// `sasl.mechanism`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaslMechanism {
    Plain,
    ScramSha256,
    ScramSha512,
}

impl SaslMechanism {
    pub fn name(self) -> &'static str {
        match self {
            Self::Plain => "PLAIN",
            Self::ScramSha256 => "SCRAM-SHA-256",
            Self::ScramSha512 => "SCRAM-SHA-512",
        }
    }
}

/// SASL login: the mechanism and the `username`/`password` of `sasl.jaas.config`.
#[derive(Clone, PartialEq, Eq)]
pub struct SaslSettings {
    pub mechanism: SaslMechanism,
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for SaslSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SaslSettings")
            .field("mechanism", &self.mechanism)
            .field("username", &self.username)
            .field("password", &"[hidden]")
            .finish()
    }
}

/// TLS trust and (for mutual TLS) identity, as PEM text.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TlsSettings {
    /// CA certificates; the system's roots when empty.
    pub trusted_pem: Option<String>,
    /// Client certificate chain and key, for brokers that require client authentication.
    pub identity_pem: Option<(String, String)>,
    /// `ssl.endpoint.identification.algorithm` is `https` (the default): the broker's
    /// certificate must name the host connected to.
    pub verify_hostname: bool,
}

impl std::fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsSettings")
            .field("trusted_pem", &self.trusted_pem.as_ref().map(|_| "[pem]"))
            .field("identity_pem", &self.identity_pem.as_ref().map(|_| "[pem]"))
            .field("verify_hostname", &self.verify_hostname)
            .finish()
    }
}

/// Everything about how the membership connection is secured.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Security {
    pub protocol: SecurityProtocol,
    pub sasl: Option<SaslSettings>,
    pub tls: Option<TlsSettings>,
}

fn config(msg: String) -> MembershipError {
    MembershipError::Config(msg)
}

fn read_file(key: &str, path: &str) -> Result<String, MembershipError> {
    std::fs::read_to_string(path).map_err(|e| config(format!("cannot read {key} file {path}: {e}")))
}

/// A `key="value"` option of a JAAS login line.
pub(crate) fn jaas_option(jaas: &str, name: &str) -> Option<String> {
    let at = jaas
        .match_indices(&format!("{name}="))
        .find(|(i, _)| *i == 0 || jaas[..*i].ends_with(char::is_whitespace))?
        .0;
    let rest = jaas[at + name.len() + 1..].strip_prefix('"')?;
    let end = rest.find('"')?;
    Some(rest[..end].to_owned())
}

impl Security {
    /// Reads `security.protocol`, `sasl.*` and `ssl.*` (Kafka's keys). Keystores and
    /// truststores must be PEM (`ssl.*store.type=PEM`, or the inline `ssl.truststore.certificates`,
    /// `ssl.keystore.certificate.chain` and `ssl.keystore.key`); errors name the key.
    pub fn from_worker(props: &Props) -> Result<Self, MembershipError> {
        let get = |key: &str| props.get(key).map(|v| v.trim()).filter(|v| !v.is_empty());
        let protocol = SecurityProtocol::parse(get("security.protocol").unwrap_or("PLAINTEXT"))?;
        let sasl = if protocol.uses_sasl() {
            let mechanism = match get("sasl.mechanism").unwrap_or("GSSAPI") {
                "PLAIN" => SaslMechanism::Plain,
                "SCRAM-SHA-256" => SaslMechanism::ScramSha256,
                "SCRAM-SHA-512" => SaslMechanism::ScramSha512,
                other => {
                    return Err(config(format!(
                        "sasl.mechanism={other} is not supported by the distributed worker's group membership client: use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"
                    )));
                }
            };
            let jaas = get("sasl.jaas.config").ok_or_else(|| {
                config(format!(
                    "security.protocol={} needs sasl.jaas.config with username and password",
                    get("security.protocol").unwrap_or_default()
                ))
            })?;
            let (Some(username), Some(password)) =
                (jaas_option(jaas, "username"), jaas_option(jaas, "password"))
            else {
                return Err(config(
                    "sasl.jaas.config must carry username=\"...\" and password=\"...\"".into(),
                ));
            };
            Some(SaslSettings {
                mechanism,
                username,
                password,
            })
        } else {
            None
        };
        let tls = if protocol.uses_tls() {
            Some(Self::tls_settings(&get)?)
        } else {
            None
        };
        Ok(Security {
            protocol,
            sasl,
            tls,
        })
    }

    fn tls_settings<'a>(
        get: &impl Fn(&str) -> Option<&'a str>,
    ) -> Result<TlsSettings, MembershipError> {
        let pem_only = |type_key: &str| -> Result<(), MembershipError> {
            match get(type_key).unwrap_or("JKS") {
                t if t.eq_ignore_ascii_case("PEM") => Ok(()),
                t => Err(config(format!(
                    "{type_key}={t} is not supported by the distributed worker's group membership client: convert the store to PEM and set {type_key}=PEM"
                ))),
            }
        };
        let trusted_pem = match (
            get("ssl.truststore.certificates"),
            get("ssl.truststore.location"),
        ) {
            (Some(inline), _) => Some(inline.to_owned()),
            (None, Some(path)) => {
                pem_only("ssl.truststore.type")?;
                Some(read_file("ssl.truststore.location", path)?)
            }
            (None, None) => None,
        };
        let identity_pem = match (
            get("ssl.keystore.certificate.chain"),
            get("ssl.keystore.key"),
            get("ssl.keystore.location"),
        ) {
            (Some(chain), Some(key), _) => Some((chain.to_owned(), key.to_owned())),
            (None, None, Some(path)) => {
                pem_only("ssl.keystore.type")?;
                // A PEM keystore file holds the key and the certificate chain together.
                let text = read_file("ssl.keystore.location", path)?;
                Some((text.clone(), text))
            }
            (None, None, None) => None,
            _ => {
                return Err(config(
                    "ssl.keystore.certificate.chain and ssl.keystore.key must be set together"
                        .into(),
                ));
            }
        };
        let verify_hostname = get("ssl.endpoint.identification.algorithm")
            .is_none_or(|a| a.eq_ignore_ascii_case("https"));
        Ok(TlsSettings {
            trusted_pem,
            identity_pem,
            verify_hostname,
        })
    }

    /// The TLS client of these settings, if TLS is used; built once per member.
    pub fn tls_connector(&self) -> Result<Option<TlsConnector>, MembershipError> {
        self.tls.as_ref().map(TlsConnector::new).transpose()
    }
}

/// A configured TLS client.
#[derive(Clone)]
pub struct TlsConnector {
    connector: tokio_rustls::TlsConnector,
}

impl TlsConnector {
    fn new(settings: &TlsSettings) -> Result<Self, MembershipError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        match &settings.trusted_pem {
            Some(pem) => {
                for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                    let cert = cert.map_err(|e| {
                        config(format!(
                            "the SSL truststore holds an unreadable certificate: {e}"
                        ))
                    })?;
                    roots.add(cert).map_err(|e| {
                        config(format!(
                            "the SSL truststore holds an unusable certificate: {e}"
                        ))
                    })?;
                }
                if roots.is_empty() {
                    return Err(config("the SSL truststore holds no certificate".into()));
                }
            }
            None => {
                for cert in rustls_native_certs::load_native_certs().certs {
                    let _ = roots.add(cert);
                }
            }
        }
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| MembershipError::Internal(format!("TLS setup failed: {e}")))?;
        let builder = if settings.verify_hostname {
            builder.with_root_certificates(roots)
        } else {
            let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .map_err(|e| config(format!("the SSL truststore cannot verify servers: {e}")))?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoHostnameVerifier(verifier)))
        };
        let config = match &settings.identity_pem {
            Some((chain, key)) => {
                let certs: Vec<CertificateDer<'static>> =
                    CertificateDer::pem_slice_iter(chain.as_bytes())
                        .collect::<Result<_, _>>()
                        .map_err(|e| {
                            config(format!(
                                "the SSL keystore's certificate chain is unreadable: {e}"
                            ))
                        })?;
                let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).map_err(|e| {
                    config(format!("the SSL keystore's private key is unreadable (an unencrypted PKCS#8, PKCS#1 or SEC1 key is needed): {e}"))
                })?;
                builder
                    .with_client_auth_cert(certs, key)
                    .map_err(|e| config(format!("the SSL keystore is unusable: {e}")))?
            }
            None => builder.with_no_client_auth(),
        };
        Ok(TlsConnector {
            connector: tokio_rustls::TlsConnector::from(Arc::new(config)),
        })
    }

    /// Runs the TLS handshake over `stream` with the broker at `host`.
    pub async fn connect(
        &self,
        host: &str,
        stream: tokio::net::TcpStream,
    ) -> std::io::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
        let name = ServerName::try_from(host.to_owned())
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        self.connector.connect(name, stream).await
    }
}

/// Checks the chain against the truststore but not the host name
/// (`ssl.endpoint.identification.algorithm=`), as Kafka's clients allow.
#[derive(Debug)]
struct NoHostnameVerifier(Arc<rustls::client::WebPkiServerVerifier>);

impl rustls::client::danger::ServerCertVerifier for NoHostnameVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName))
            | Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForNameContext { .. },
            )) => Ok(rustls::client::danger::ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// The client side of a SASL exchange: the bytes to send next, given the server's last answer.
pub enum SaslClient {
    Plain { message: Option<Vec<u8>> },
    Scram(Box<ScramClient>),
}

impl SaslClient {
    pub fn new(settings: &SaslSettings) -> Self {
        match settings.mechanism {
            SaslMechanism::Plain => {
                let mut m = Vec::new();
                m.push(0);
                m.extend_from_slice(settings.username.as_bytes());
                m.push(0);
                m.extend_from_slice(settings.password.as_bytes());
                SaslClient::Plain { message: Some(m) }
            }
            SaslMechanism::ScramSha256 | SaslMechanism::ScramSha512 => {
                SaslClient::Scram(Box::new(ScramClient::new(settings)))
            }
        }
    }

    /// The next message, or `None` when the exchange is complete on the client's side.
    /// `server` is the server's previous answer (empty before the first message).
    pub fn step(&mut self, server: &[u8]) -> Result<Option<Vec<u8>>, String> {
        match self {
            SaslClient::Plain { message } => Ok(message.take()),
            SaslClient::Scram(s) => s.step(server),
        }
    }
}

/// SCRAM (RFC 5802) without channel binding, as Kafka's SCRAM-SHA-256/512.
pub struct ScramClient {
    sha512: bool,
    username: String,
    password: String,
    nonce: String,
    client_first_bare: String,
    server_signature: Option<Vec<u8>>,
    done: bool,
}

impl ScramClient {
    fn new(settings: &SaslSettings) -> Self {
        let mut raw = [0u8; 24];
        let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut raw);
        ScramClient {
            sha512: settings.mechanism == SaslMechanism::ScramSha512,
            // RFC 5802 saslname: ',' and '=' escaped.
            username: settings.username.replace('=', "=3D").replace(',', "=2C"),
            password: settings.password.clone(),
            nonce: B64.encode(raw),
            client_first_bare: String::new(),
            server_signature: None,
            done: false,
        }
    }

    fn hmac(&self, key: &[u8], data: &[u8]) -> Vec<u8> {
        let alg = if self.sha512 {
            hmac::HMAC_SHA512
        } else {
            hmac::HMAC_SHA256
        };
        hmac::sign(&hmac::Key::new(alg, key), data)
            .as_ref()
            .to_vec()
    }

    fn step(&mut self, server: &[u8]) -> Result<Option<Vec<u8>>, String> {
        if self.done {
            return Ok(None);
        }
        if self.client_first_bare.is_empty() {
            self.client_first_bare = format!("n={},r={}", self.username, self.nonce);
            return Ok(Some(format!("n,,{}", self.client_first_bare).into_bytes()));
        }
        let text =
            std::str::from_utf8(server).map_err(|_| "the server's SCRAM message is not UTF-8")?;
        if let Some(expected) = self.server_signature.take() {
            // server-final-message: v=signature, or e=error.
            if let Some(err) = text.strip_prefix("e=") {
                return Err(format!("the broker refused the SCRAM login: {err}"));
            }
            let got = text
                .strip_prefix("v=")
                .and_then(|v| B64.decode(v.trim()).ok())
                .ok_or("the broker's final SCRAM message carries no signature")?;
            if got != expected {
                return Err(
                    "the broker's SCRAM signature does not match: it does not know the password"
                        .into(),
                );
            }
            self.done = true;
            return Ok(None);
        }
        // server-first-message: r=nonce,s=salt,i=iterations
        let field = |name: &str| {
            text.split(',')
                .find_map(|f| f.strip_prefix(&format!("{name}=")))
                .map(str::to_owned)
        };
        let nonce = field("r").ok_or("the broker's SCRAM message has no nonce")?;
        if !nonce.starts_with(&self.nonce) {
            return Err("the broker's SCRAM nonce does not extend ours".into());
        }
        let salt = field("s")
            .and_then(|s| B64.decode(s).ok())
            .ok_or("the broker's SCRAM message has no salt")?;
        let iterations: u32 = field("i")
            .and_then(|i| i.parse().ok())
            .filter(|i| *i > 0)
            .ok_or("the broker's SCRAM message has no iteration count")?;
        let (alg, len) = if self.sha512 {
            (pbkdf2::PBKDF2_HMAC_SHA512, 64)
        } else {
            (pbkdf2::PBKDF2_HMAC_SHA256, 32)
        };
        let mut salted = vec![0u8; len];
        let iterations = std::num::NonZeroU32::new(iterations).ok_or("zero iterations")?;
        pbkdf2::derive(
            alg,
            iterations,
            &salt,
            self.password.as_bytes(),
            &mut salted,
        );
        let client_key = self.hmac(&salted, b"Client Key");
        let stored_key = if self.sha512 {
            digest::digest(&digest::SHA512, &client_key)
        } else {
            digest::digest(&digest::SHA256, &client_key)
        };
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{},{text},{without_proof}", self.client_first_bare);
        let client_signature = self.hmac(stored_key.as_ref(), auth_message.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&client_signature)
            .map(|(a, b)| a ^ b)
            .collect();
        let server_key = self.hmac(&salted, b"Server Key");
        self.server_signature = Some(self.hmac(&server_key, auth_message.as_bytes()));
        Ok(Some(
            format!("{without_proof},p={}", B64.encode(proof)).into_bytes(),
        ))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> Props {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn reads_sasl_settings_and_names_what_is_wrong() {
        let s = Security::from_worker(&props(&[
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanism", "SCRAM-SHA-512"),
            (
                "sasl.jaas.config",
                r#"org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="a\"b";"#,
            ),
        ]))
        .unwrap();
        assert_eq!(s.protocol, SecurityProtocol::SaslPlaintext);
        let sasl = s.sasl.unwrap();
        assert_eq!(sasl.mechanism, SaslMechanism::ScramSha512);
        assert_eq!(sasl.username, "alice");
        assert!(!format!("{sasl:?}").contains("a\\"));

        let err = |p: &[(&str, &str)]| Security::from_worker(&props(p)).unwrap_err().to_string();
        assert!(err(&[("security.protocol", "TLS")]).contains("security.protocol"));
        assert!(
            err(&[
                ("security.protocol", "SASL_SSL"),
                ("sasl.mechanism", "GSSAPI")
            ])
            .contains("sasl.mechanism=GSSAPI")
        );
        assert!(
            err(&[
                ("security.protocol", "SASL_PLAINTEXT"),
                ("sasl.mechanism", "PLAIN")
            ])
            .contains("sasl.jaas.config")
        );
        assert!(
            err(&[
                ("security.protocol", "SSL"),
                ("ssl.truststore.location", "/x.jks")
            ])
            .contains("ssl.truststore.type=JKS")
        );
    }

    /// RFC 7677's SCRAM-SHA-256 example (user "user", password "pencil").
    #[test]
    fn scram_sha_256_matches_the_rfc_example() {
        let mut c = ScramClient::new(&SaslSettings {
            mechanism: SaslMechanism::ScramSha256,
            username: "user".into(),
            password: "pencil".into(),
        });
        c.nonce = "rOprNGfwEbeRWgbNEkqO".into();
        let first = c.step(b"").unwrap().unwrap();
        assert_eq!(first, b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        let server_first =
            b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let last = c.step(server_first).unwrap().unwrap();
        assert_eq!(
            String::from_utf8(last).unwrap(),
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        assert_eq!(
            c.step(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
                .unwrap(),
            None
        );
    }
}
