//! Signed webhooks.
//!
//! A delivery is a `POST` of JSON with three headers:
//!
//! - `Mamori-Timestamp`: unix seconds when it was signed;
//! - `Mamori-Signature`: `v1=` and the lowercase hex of HMAC-SHA256 over
//!   `"{timestamp}.{body}"` with the receiver's secret;
//! - `Mamori-Delivery`: the delivery's id, the same on every retry, so that the receiver
//!   can drop a duplicate.
//!
//! A receiver checks the signature and the timestamp with [`verify`] before reading the
//! body, and refuses an old timestamp so that a captured request cannot be replayed later.

use std::fmt;
use std::time::Duration;

use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use sha2::Sha256;

use crate::DeliveryError;

/// How long one delivery may take, connection to response.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Unix seconds when the delivery was signed.
pub const HEADER_TIMESTAMP: &str = "Mamori-Timestamp";
/// `v1=<hex>`, see [`sign`].
pub const HEADER_SIGNATURE: &str = "Mamori-Signature";
/// The delivery's id, the same on every retry.
pub const HEADER_DELIVERY: &str = "Mamori-Delivery";

type HmacSha256 = Hmac<Sha256>;

/// Signed webhooks over one HTTP client (connections are reused).
pub struct Webhook {
    client: reqwest::Client,
}

impl fmt::Debug for Webhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Webhook").field("timeout", &SEND_TIMEOUT).finish_non_exhaustive()
    }
}

impl Webhook {
    /// One client: 10 s timeout, redirects not followed (a redirect is a refusal),
    /// `HTTP_PROXY`/`HTTPS_PROXY`/`NO_PROXY` honoured.
    pub fn new() -> Result<Webhook, String> {
        crate::install_crypto_provider();
        let client = reqwest::Client::builder()
            .timeout(SEND_TIMEOUT)
            .connect_timeout(SEND_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("mamori-notify/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot set up the HTTP client: {e}"))?;
        Ok(Webhook { client })
    }

    /// POSTs `body` (JSON) to `url`, signed with `secret` at `now_secs`. 2xx: delivered.
    /// 408, 429, 5xx, connection errors and timeouts: retry. Any other status, and a URL
    /// or delivery id that cannot be sent: permanent. Reasons never show the URL (it may
    /// carry a token).
    pub async fn send(&self, url: &str, secret: &[u8], delivery_id: &str, now_secs: i64, body: &[u8]) -> Result<(), DeliveryError> {
        let request = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(HEADER_TIMESTAMP, now_secs.to_string())
            .header(HEADER_SIGNATURE, sign(secret, now_secs, body))
            .header(HEADER_DELIVERY, delivery_id)
            .body(body.to_vec());
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => {
                let permanent = e.is_builder();
                let reason = format!("webhook: {}", error_chain(&e.without_url()));
                return Err(if permanent { DeliveryError::dead(reason) } else { DeliveryError::retry(reason) });
            }
        };
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let reason = format!("webhook answered {status}");
        if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT || status == StatusCode::TOO_MANY_REQUESTS {
            Err(DeliveryError::retry(reason))
        } else {
            Err(DeliveryError::dead(reason))
        }
    }
}

/// An error and its causes: reqwest's own message alone says little ("error sending
/// request").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cause = c.source();
    }
    s
}

fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The signature header value for (secret, timestamp, body): `v1=<hex>`.
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    format!("v1={}", hex::encode(mac(secret, timestamp, body).finalize().into_bytes()))
}

/// Whether `header_signature` is the signature of `body` at `header_timestamp` (compared in
/// constant time) and `|now_secs - timestamp| <= tolerance_secs`. For receivers.
pub fn verify(secret: &[u8], header_timestamp: &str, header_signature: &str, body: &[u8], now_secs: i64, tolerance_secs: i64) -> bool {
    let Ok(timestamp) = header_timestamp.parse::<i64>() else {
        return false;
    };
    let Ok(tolerance) = u64::try_from(tolerance_secs) else {
        return false;
    };
    if now_secs.abs_diff(timestamp) > tolerance {
        return false;
    }
    let Some(Ok(given)) = header_signature.strip_prefix("v1=").map(hex::decode) else {
        return false;
    };
    mac(secret, timestamp, body).verify_slice(&given).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"whsec-test-0123456789";
    const NOW: i64 = 1_795_255_200;

    #[test]
    fn rfc4231_test_case_2() {
        // HMAC-SHA256 of "what do ya want for nothing?" with key "Jefe".
        let mut mac = HmacSha256::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        assert_eq!(hex::encode(mac.finalize().into_bytes()), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        // The same through `sign`: the signed text is "{timestamp}.{body}".
        let mut mac = HmacSha256::new_from_slice(b"Jefe").unwrap();
        mac.update(b"1795255200.what do ya want for nothing?");
        let want = format!("v1={}", hex::encode(mac.finalize().into_bytes()));
        assert_eq!(sign(b"Jefe", NOW, b"what do ya want for nothing?"), want);
    }

    #[test]
    fn sign_format() {
        let s = sign(SECRET, NOW, b"{}");
        assert!(s.starts_with("v1="));
        assert_eq!(s.len(), 3 + 64);
        assert!(s[3..].bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        assert_eq!(s, sign(SECRET, NOW, b"{}"));
        assert_ne!(s, sign(SECRET, NOW + 1, b"{}"));
        assert_ne!(s, sign(b"other", NOW, b"{}"));
        // An empty secret still signs (HMAC pads the key).
        assert!(sign(b"", NOW, b"{}").starts_with("v1="));
    }

    #[test]
    fn verify_roundtrip_and_rejections() {
        let body = br#"{"kind":"charge","amount":"100000"}"#;
        let ts = NOW.to_string();
        let sig = sign(SECRET, NOW, body);
        assert!(verify(SECRET, &ts, &sig, body, NOW, 300));
        assert!(verify(SECRET, &ts, &sig, body, NOW + 300, 300));
        assert!(verify(SECRET, &ts, &sig, body, NOW - 300, 300));

        // Tampered body.
        assert!(!verify(SECRET, &ts, &sig, br#"{"kind":"charge","amount":"900000"}"#, NOW, 300));
        // Tampered timestamp: the signature covers it.
        assert!(!verify(SECRET, &(NOW + 1).to_string(), &sig, body, NOW, 300));
        // Too old, or from too far ahead.
        assert!(!verify(SECRET, &ts, &sig, body, NOW + 301, 300));
        assert!(!verify(SECRET, &ts, &sig, body, NOW - 301, 300));
        // Wrong secret.
        assert!(!verify(b"other", &ts, &sig, body, NOW, 300));
        // Malformed headers.
        assert!(!verify(SECRET, "", &sig, body, NOW, 300));
        assert!(!verify(SECRET, " 1795255200", &sig, body, NOW, 300));
        assert!(!verify(SECRET, &ts, &sig[3..], body, NOW, 300));
        assert!(!verify(SECRET, &ts, "v1=zz", body, NOW, 300));
        assert!(!verify(SECRET, &ts, &sig[..sig.len() - 2], body, NOW, 300));
        assert!(!verify(SECRET, &ts, &sig.replace("v1=", "v2="), body, NOW, 300));
        assert!(!verify(SECRET, &ts, &sig, body, NOW, -1));
        // Extreme values do not overflow.
        assert!(!verify(SECRET, &i64::MIN.to_string(), &sign(SECRET, i64::MIN, body), body, i64::MAX, 300));
        assert!(verify(SECRET, &i64::MIN.to_string(), &sign(SECRET, i64::MIN, body), body, i64::MIN, 0));
    }

    #[test]
    fn debug_shows_no_client_internals() {
        let w = Webhook::new().unwrap();
        assert_eq!(format!("{w:?}"), "Webhook { timeout: 10s, .. }");
    }
}
