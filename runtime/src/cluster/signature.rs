//! Signed internal requests (KIP-507): under the `sessioned` protocol the leader keeps a
//! session key in the config topic, and workers sign the requests they send each other
//! (task configs) with an HMAC of the body, so nobody else can write task configs through
//! a worker's REST port. Header names and algorithms are Kafka Connect's, so signatures work
//! between Ferry and Java workers in one group.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

use crate::storage::kafka::SessionKey;

/// The header carrying the base64 HMAC of the body.
pub const SIGNATURE_HEADER: &str = "X-Connect-Authorization";
/// The header naming the HMAC algorithm (a `javax.crypto` name).
pub const ALGORITHM_HEADER: &str = "X-Connect-Request-Signature-Algorithm";
/// `inter.worker.key.generation.algorithm` and `inter.worker.signature.algorithm` default.
pub const DEFAULT_ALGORITHM: &str = "HmacSHA256";
/// `inter.worker.key.ttl.ms` default: one hour.
pub const DEFAULT_KEY_TTL: Duration = Duration::from_secs(3600);

fn algorithm(name: &str) -> Option<hmac::Algorithm> {
    match name {
        "HmacSHA256" => Some(hmac::HMAC_SHA256),
        "HmacSHA384" => Some(hmac::HMAC_SHA384),
        "HmacSHA512" => Some(hmac::HMAC_SHA512),
        _ => None,
    }
}

/// A new random key, as Java's `KeyGenerator` makes for the algorithm (its digest length).
pub fn generate_key(algorithm_name: &str) -> Option<SessionKey> {
    let alg = algorithm(algorithm_name)?;
    let mut key = vec![0u8; alg.digest_algorithm().output_len()];
    SystemRandom::new().fill(&mut key).ok()?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    Some(SessionKey {
        key,
        algorithm: algorithm_name.to_owned(),
        creation_timestamp: now,
    })
}

/// Whether `key` is older than `ttl` (the leader then writes a new one).
pub fn is_expired(key: &SessionKey, ttl: Duration) -> bool {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    let ttl = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
    now.saturating_sub(key.creation_timestamp) >= ttl
}

/// The two headers signing `body` with `key`, or `None` for an algorithm Ferry lacks.
pub fn sign(key: &SessionKey, body: &[u8]) -> Option<[(&'static str, String); 2]> {
    let alg = algorithm(&key.algorithm)?;
    let tag = hmac::sign(&hmac::Key::new(alg, &key.key), body);
    Some([
        (SIGNATURE_HEADER, B64.encode(tag.as_ref())),
        (ALGORITHM_HEADER, key.algorithm.clone()),
    ])
}

/// Why a signed request was refused; the messages are Kafka Connect's.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// 400.
    Missing,
    /// 400.
    UnsupportedAlgorithm(String),
    /// 403.
    Invalid,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Missing => f.write_str("Internal request missing required signature"),
            Refusal::UnsupportedAlgorithm(a) => write!(
                f,
                "This worker does not support the '{a}' key signing algorithm used by other workers. This worker is currently configured to use: [{DEFAULT_ALGORITHM}]. Check that all workers' configuration files permit the same set of signature algorithms, and correct any misconfigured worker and restart it."
            ),
            Refusal::Invalid => f.write_str("Internal request contained invalid signature."),
        }
    }
}

/// Checks the signature headers of a request against `key`.
pub fn verify(
    key: &SessionKey,
    signature: Option<&str>,
    algorithm_name: Option<&str>,
    body: &[u8],
) -> Result<(), Refusal> {
    let (Some(signature), Some(algorithm_name)) = (signature, algorithm_name) else {
        return Err(Refusal::Missing);
    };
    let Some(alg) = algorithm(algorithm_name) else {
        return Err(Refusal::UnsupportedAlgorithm(algorithm_name.to_owned()));
    };
    if algorithm_name != key.algorithm {
        return Err(Refusal::Invalid);
    }
    let tag = B64.decode(signature.trim()).map_err(|_| Refusal::Invalid)?;
    hmac::verify(&hmac::Key::new(alg, &key.key), body, &tag).map_err(|_| Refusal::Invalid)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn signs_and_verifies_like_javax_crypto_mac() {
        // HMAC-SHA256 of "[]" under the key 0x00..0x1f, as `Mac.getInstance("HmacSHA256")`
        // computes it (RFC 4231 style; checked with openssl dgst -hmac).
        let key = SessionKey {
            key: (0u8..32).collect(),
            algorithm: "HmacSHA256".into(),
            creation_timestamp: 0,
        };
        let [(h1, sig), (h2, alg)] = sign(&key, b"[]").unwrap();
        assert_eq!(sig, "RFz4uuvEwRyKDg2eLYkj6DfD/GYfMQFAut0Di01ZS3o=");
        assert_eq!(
            (h1, h2, alg.as_str()),
            (SIGNATURE_HEADER, ALGORITHM_HEADER, "HmacSHA256")
        );
        assert_eq!(verify(&key, Some(&sig), Some("HmacSHA256"), b"[]"), Ok(()));
        assert_eq!(
            verify(&key, Some(&sig), Some("HmacSHA256"), b"[{}]"),
            Err(Refusal::Invalid)
        );
        assert_eq!(verify(&key, None, None, b"[]"), Err(Refusal::Missing));
        assert_eq!(
            verify(&key, Some(&sig), Some("HmacMD5"), b"[]"),
            Err(Refusal::UnsupportedAlgorithm("HmacMD5".into()))
        );
        let fresh = generate_key("HmacSHA256").unwrap();
        assert_eq!(fresh.key.len(), 32);
        assert!(!is_expired(&fresh, DEFAULT_KEY_TTL));
        assert!(is_expired(&key, DEFAULT_KEY_TTL));
    }
}
