//! One connection to a Kafka broker: TLS when configured, request framing, correlation ids,
//! the ApiVersions handshake that tells which version of each API both sides speak, and the
//! SASL login (SaslHandshake + SaslAuthenticate) when configured.
//!
//! A request is `int32 size | request header | body`; the response is `int32 size | response
//! header | body`, matched by correlation id. The connection keeps one request in flight (the
//! broker answers a connection's requests in order anyway), so a call owns it until the response
//! has been read. If a call is cancelled or fails half-way the connection is marked unusable and
//! its owner opens a new one, rather than reading some other request's response.

use std::collections::HashMap;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::ResponseError;
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, FindCoordinatorRequest,
    FindCoordinatorResponse, HeartbeatRequest, HeartbeatResponse, JoinGroupRequest,
    JoinGroupResponse, LeaveGroupRequest, LeaveGroupResponse, RequestHeader, ResponseHeader,
    SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest, SaslHandshakeResponse,
    SyncGroupRequest, SyncGroupResponse,
};
use kafka_protocol::protocol::{
    Decodable, Encodable, HeaderVersion, Message, StrBytes, VersionRange,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::membership::MembershipError;
use super::security::{SaslClient, SaslSettings, TlsConnector};

/// How connections are secured: TLS and SASL, each when configured.
#[derive(Clone, Default)]
pub(crate) struct ConnectionSecurity {
    pub tls: Option<TlsConnector>,
    pub sasl: Option<SaslSettings>,
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send + Sync {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Sync> Stream for T {}

/// Responses larger than this are refused rather than buffered (a JoinGroup response of a big
/// group is the largest thing read here, far below it).
const MAX_RESPONSE_BYTES: usize = 100 * 1024 * 1024;

/// The ApiVersions version asked first: v3 (KIP-511) is understood by every broker since 2.4,
/// and older ones answer UNSUPPORTED_VERSION with their own range.
const API_VERSIONS_FIRST: i16 = 3;

/// A request this client sends, tied to its API key and response type. (kafka-protocol's own
/// `Request` trait needs its `broker` feature; with `client` alone requests only encode and
/// responses only decode, which is all a client needs.)
pub(crate) trait ClientRequest: Encodable + HeaderVersion + Message {
    const KEY: ApiKey;
    type Response: Decodable + HeaderVersion;
}

macro_rules! client_requests {
    ($($key:ident: $req:ty => $resp:ty,)*) => {$(
        impl ClientRequest for $req {
            const KEY: ApiKey = ApiKey::$key;
            type Response = $resp;
        }
    )*};
}

client_requests! {
    ApiVersions: ApiVersionsRequest => ApiVersionsResponse,
    FindCoordinator: FindCoordinatorRequest => FindCoordinatorResponse,
    JoinGroup: JoinGroupRequest => JoinGroupResponse,
    SyncGroup: SyncGroupRequest => SyncGroupResponse,
    Heartbeat: HeartbeatRequest => HeartbeatResponse,
    LeaveGroup: LeaveGroupRequest => LeaveGroupResponse,
    SaslHandshake: SaslHandshakeRequest => SaslHandshakeResponse,
    SaslAuthenticate: SaslAuthenticateRequest => SaslAuthenticateResponse,
}

/// The name of an API, for messages.
pub(crate) fn api_name(key: ApiKey) -> &'static str {
    match key {
        ApiKey::ApiVersions => "ApiVersions",
        ApiKey::FindCoordinator => "FindCoordinator",
        ApiKey::JoinGroup => "JoinGroup",
        ApiKey::SyncGroup => "SyncGroup",
        ApiKey::Heartbeat => "Heartbeat",
        ApiKey::LeaveGroup => "LeaveGroup",
        ApiKey::SaslHandshake => "SaslHandshake",
        ApiKey::SaslAuthenticate => "SaslAuthenticate",
        _ => "request",
    }
}

pub(crate) struct Connection {
    broker: String,
    stream: Box<dyn Stream>,
    client_id: StrBytes,
    next_correlation_id: i32,
    /// Set while a request is on the wire; still set afterwards means the call was cancelled or
    /// failed half-way and the stream position is unknown.
    in_flight: bool,
    /// The broker's supported version range of each API, from ApiVersions.
    api_versions: HashMap<i16, VersionRange>,
}

impl Connection {
    /// Connects to `broker` (`host:port`), runs the TLS handshake when configured, negotiates
    /// API versions, and logs in with SASL when configured.
    pub(crate) async fn open(
        broker: &str,
        client_id: &str,
        security: &ConnectionSecurity,
        timeout: Duration,
    ) -> Result<Self, MembershipError> {
        let tcp = tokio::time::timeout(timeout, TcpStream::connect(broker))
            .await
            .map_err(|_| MembershipError::Timeout {
                what: format!("connecting to Kafka broker {broker}"),
                timeout,
            })?
            .map_err(|e| MembershipError::Connection {
                broker: broker.to_string(),
                detail: e.to_string(),
            })?;
        // Small request/response exchanges: don't let Nagle hold them back.
        let _ = tcp.set_nodelay(true);
        let stream: Box<dyn Stream> = match &security.tls {
            None => Box::new(tcp),
            Some(tls) => {
                let host = broker
                    .rsplit_once(':')
                    .map_or(broker, |(h, _)| h)
                    .trim_start_matches('[')
                    .trim_end_matches(']');
                let handshake = tokio::time::timeout(timeout, tls.connect(host, tcp))
                    .await
                    .map_err(|_| MembershipError::Timeout {
                        what: format!("TLS handshake with Kafka broker {broker}"),
                        timeout,
                    })?;
                Box::new(handshake.map_err(|e| {
                    // A refused certificate will be refused again; a reset connection may not.
                    if e.kind() == std::io::ErrorKind::InvalidData {
                        MembershipError::Authentication {
                            broker: broker.to_string(),
                            detail: format!("TLS handshake failed: {e}"),
                        }
                    } else {
                        MembershipError::Connection {
                            broker: broker.to_string(),
                            detail: format!("TLS handshake failed: {e}"),
                        }
                    }
                })?)
            }
        };
        let mut conn = Connection {
            broker: broker.to_string(),
            stream,
            client_id: StrBytes::from_string(client_id.to_string()),
            next_correlation_id: 0,
            in_flight: false,
            api_versions: HashMap::new(),
        };
        conn.negotiate(timeout).await?;
        if let Some(sasl) = &security.sasl {
            conn.authenticate(sasl, timeout).await?;
        }
        Ok(conn)
    }

    /// SASL login: SaslHandshake names the mechanism, then SaslAuthenticate carries the
    /// mechanism's messages until the client has nothing more to say.
    async fn authenticate(
        &mut self,
        sasl: &SaslSettings,
        timeout: Duration,
    ) -> Result<(), MembershipError> {
        let mechanism = sasl.mechanism.name();
        let refused = |broker: &str, detail: String| MembershipError::Authentication {
            broker: broker.to_string(),
            detail,
        };
        let version = self.pick_version::<SaslHandshakeRequest>(1)?;
        let response = self
            .request(
                &SaslHandshakeRequest::default()
                    .with_mechanism(StrBytes::from_static_str(mechanism)),
                version,
                timeout,
            )
            .await?;
        if let Some(error) = ResponseError::try_from_code(response.error_code) {
            let offered: Vec<&str> = response.mechanisms.iter().map(|m| m.as_str()).collect();
            return Err(refused(
                &self.broker,
                format!(
                    "SASL mechanism {mechanism} refused ({error}); the broker offers {}",
                    offered.join(", ")
                ),
            ));
        }
        let version = self.pick_version::<SaslAuthenticateRequest>(2)?;
        let mut client = SaslClient::new(sasl);
        let mut server = Bytes::new();
        loop {
            let next = client
                .step(&server)
                .map_err(|e| refused(&self.broker, format!("{mechanism} login failed: {e}")))?;
            let Some(message) = next else {
                return Ok(());
            };
            let response = self
                .request(
                    &SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from(message)),
                    version,
                    timeout,
                )
                .await?;
            if let Some(error) = ResponseError::try_from_code(response.error_code) {
                return Err(refused(
                    &self.broker,
                    format!(
                        "{mechanism} login of user '{}' refused: {}",
                        sasl.username,
                        response
                            .error_message
                            .as_deref()
                            .map_or_else(|| error.to_string(), str::to_owned)
                    ),
                ));
            }
            server = response.auth_bytes;
        }
    }

    /// `host:port` of the broker.
    pub(crate) fn broker(&self) -> &str {
        &self.broker
    }

    /// False once a request was interrupted; the owner must open a new connection.
    pub(crate) fn is_usable(&self) -> bool {
        !self.in_flight
    }

    /// The highest version of request `R` that the broker, kafka-protocol and Ferry (`cap`, the
    /// highest version whose fields Ferry fills in) all support.
    pub(crate) fn pick_version<R: ClientRequest>(&self, cap: i16) -> Result<i16, MembershipError> {
        let ours = VersionRange {
            min: R::VERSIONS.min,
            max: R::VERSIONS.max.min(cap),
        };
        let unsupported = |theirs: String| MembershipError::UnsupportedVersion {
            api: api_name(R::KEY),
            broker: self.broker.clone(),
            broker_versions: theirs,
            ferry_versions: format!("{}..={}", ours.min, ours.max),
        };
        let Some(theirs) = self.api_versions.get(&(R::KEY as i16)) else {
            return Err(unsupported("none".to_string()));
        };
        let both = ours.intersect(theirs);
        if both.is_empty() {
            return Err(unsupported(format!("{}..={}", theirs.min, theirs.max)));
        }
        Ok(both.max)
    }

    /// Sends `request` at `version` and decodes the response.
    pub(crate) async fn request<R: ClientRequest>(
        &mut self,
        request: &R,
        version: i16,
        timeout: Duration,
    ) -> Result<R::Response, MembershipError> {
        let mut body = self.round_trip(request, version, timeout).await?;
        R::Response::decode(&mut body, version).map_err(|e| self.malformed(R::KEY, e))
    }

    fn malformed(&self, key: ApiKey, detail: impl std::fmt::Display) -> MembershipError {
        MembershipError::MalformedResponse {
            api: api_name(key),
            broker: self.broker.clone(),
            detail: detail.to_string(),
        }
    }

    /// Writes one request and reads its response; returns the response body (after the header).
    async fn round_trip<R: ClientRequest>(
        &mut self,
        request: &R,
        version: i16,
        timeout: Duration,
    ) -> Result<Bytes, MembershipError> {
        let api = api_name(R::KEY);
        if self.in_flight {
            return Err(MembershipError::Connection {
                broker: self.broker.clone(),
                detail: "an earlier request on this connection was interrupted".to_string(),
            });
        }
        let correlation_id = self.next_correlation_id;
        self.next_correlation_id = self.next_correlation_id.wrapping_add(1);

        let header = RequestHeader::default()
            .with_request_api_key(R::KEY as i16)
            .with_request_api_version(version)
            .with_correlation_id(correlation_id)
            .with_client_id(Some(self.client_id.clone()));
        let mut frame = BytesMut::with_capacity(256);
        frame.put_i32(0); // size, filled in below
        header
            .encode(&mut frame, R::header_version(version))
            .and_then(|()| request.encode(&mut frame, version))
            .map_err(|e| {
                MembershipError::Internal(format!("cannot encode {api} v{version} request: {e}"))
            })?;
        let size = i32::try_from(frame.len() - 4).map_err(|_| {
            MembershipError::Internal(format!(
                "{api} request of {} bytes is too large",
                frame.len()
            ))
        })?;
        frame[..4].copy_from_slice(&size.to_be_bytes());

        self.in_flight = true;
        let stream = &mut self.stream;
        let exchange = async {
            stream.write_all(&frame).await?;
            let mut size = [0u8; 4];
            stream.read_exact(&mut size).await?;
            let size = i32::from_be_bytes(size);
            let size = usize::try_from(size)
                .ok()
                .filter(|s| (4..=MAX_RESPONSE_BYTES).contains(s))
                .ok_or_else(|| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("response size {size} is outside 4..={MAX_RESPONSE_BYTES} bytes"),
                    )
                })?;
            let mut body = vec![0u8; size];
            stream.read_exact(&mut body).await?;
            Ok::<_, std::io::Error>(body)
        };
        let response = match tokio::time::timeout(timeout, exchange).await {
            Err(_) => {
                return Err(MembershipError::Timeout {
                    what: format!("{api} request to broker {}", self.broker),
                    timeout,
                });
            }
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::InvalidData => {
                return Err(self.malformed(R::KEY, e));
            }
            Ok(Err(e)) => {
                return Err(MembershipError::Connection {
                    broker: self.broker.clone(),
                    detail: format!("{api} request failed: {e}"),
                });
            }
            Ok(Ok(body)) => body,
        };
        self.in_flight = false;

        let mut response = Bytes::from(response);
        let header = ResponseHeader::decode(&mut response, R::Response::header_version(version))
            .map_err(|e| self.malformed(R::KEY, format!("bad response header: {e}")))?;
        if header.correlation_id != correlation_id {
            // The stream is out of step with our requests: nothing read from it can be trusted.
            self.in_flight = true;
            return Err(self.malformed(
                R::KEY,
                format!(
                    "correlation id {} does not match request {correlation_id}",
                    header.correlation_id
                ),
            ));
        }
        Ok(response)
    }

    /// ApiVersions: learns the broker's version range of every API. A broker that does not know
    /// the version asked answers UNSUPPORTED_VERSION in the v0 layout with its own range, and we
    /// ask again at a version it knows (as Java's NetworkClient does).
    async fn negotiate(&mut self, timeout: Duration) -> Result<(), MembershipError> {
        let mut version = API_VERSIONS_FIRST;
        for _ in 0..2 {
            let request = ApiVersionsRequest::default()
                .with_client_software_name(StrBytes::from_static_str("ferry"))
                .with_client_software_version(StrBytes::from_static_str(crate::VERSION));
            let body = self.round_trip(&request, version, timeout).await?;
            let response = match ApiVersionsResponse::decode(&mut body.clone(), version) {
                Ok(r) => r,
                Err(first) => ApiVersionsResponse::decode(&mut body.clone(), 0)
                    .map_err(|_| self.malformed(ApiKey::ApiVersions, first))?,
            };
            match ResponseError::try_from_code(response.error_code) {
                None => {
                    self.api_versions = response
                        .api_keys
                        .iter()
                        .map(|k| {
                            (
                                k.api_key,
                                VersionRange {
                                    min: k.min_version,
                                    max: k.max_version,
                                },
                            )
                        })
                        .collect();
                    return Ok(());
                }
                Some(ResponseError::UnsupportedVersion) => {
                    let theirs = response
                        .api_keys
                        .iter()
                        .find(|k| k.api_key == ApiKey::ApiVersions as i16)
                        .map(|k| k.max_version)
                        .unwrap_or(0);
                    version = theirs.clamp(0, API_VERSIONS_FIRST);
                }
                Some(error) => {
                    return Err(MembershipError::Broker {
                        api: "ApiVersions",
                        group: String::new(),
                        error,
                        message: None,
                    });
                }
            }
        }
        Err(MembershipError::UnsupportedVersion {
            api: "ApiVersions",
            broker: self.broker.clone(),
            broker_versions: "unknown".to_string(),
            ferry_versions: format!("0..={API_VERSIONS_FIRST}"),
        })
    }
}
