//! Customer notices: what a customer is told when money leaves an account or a link
//! between a bank account and an e-money wallet changes, and how it reaches them.
//!
//! A [`Notice`] is rendered into one plain-text [`Message`], Japanese first, then English
//! (see [`render`] for what every message says and never says). A message goes out by
//! e-mail over SMTP ([`Mailer`]) or by a signed JSON webhook ([`Webhook`], [`sign`],
//! [`verify`]).
//!
//! # Text from outside
//! The institution, account, counterparty, link, currency, amount and codes are data, and a
//! counterparty may be chosen by a fraudster ("call 03-... now", "bank-support.example").
//! Each is made inert before [`render`] places it in a message:
//!
//! 1. Full-width ASCII forms and the ideographic full stop are read as their ASCII
//!    counterparts (so that `ｈｔｔｐ` or `example。com` are seen for what they are); line
//!    breaks and other control characters become spaces; invisible characters (zero-width,
//!    bidirectional controls, soft hyphen, variation selectors, tags) are dropped; runs of
//!    spaces collapse; the text is cut to 120 characters.
//! 2. It is defanged the way threat reports write indicators: `http` becomes `hxxp`, a `.`
//!    between two letters or digits (or after `www`) becomes `[.]`, a `:` before `/` or
//!    `\`, or between a letter and a non-space, becomes `[:]`, and an `@` inside a word
//!    becomes `[@]`. The text stays readable, and no domain, address or URL survives for
//!    a mail client to turn into a link.
//!
//! A last pass over the whole message defangs any `http`, `www.` or `://` that a field
//! and the text around it might have formed together.
//!
//! # Delivery
//! The outbox lives in the store. This crate sends one message once and says whether a
//! failure is worth retrying ([`DeliveryError::permanent`]); the caller retries after
//! [`backoff`] and gives up after [`MAX_ATTEMPTS`]. A retried delivery carries the same
//! Message-ID (e-mail) or `Mamori-Delivery` header (webhook), so that the receiver can drop
//! the duplicate: delivery is at least once.
//!
//! # TLS
//! rustls with the `ring` provider for both SMTP and HTTPS; certificates are checked
//! against the operating system's trust store. [`Webhook::new`] installs `ring` as the
//! process's default rustls provider unless one is already installed.
//!
//! [`sink`] runs a real SMTP server on loopback for tests.

mod mail;
mod notice;
mod render;
pub mod sink;
mod smtp;
mod webhook;

use std::time::Duration;

pub use mail::Mailer;
pub use notice::{Kind, Notice};
pub use render::{Message, render};
pub use webhook::{HEADER_DELIVERY, HEADER_SIGNATURE, HEADER_TIMESTAMP, Webhook, sign, verify};

/// Installs `ring` as the process's TLS crypto provider, for the clients built without one
/// of their own (reqwest for webhooks, rustls for `smtps://`). Installing twice is harmless.
fn install_crypto_provider() {
    // Err: a provider is installed already.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Why a delivery failed; `permanent` failures go straight to the dead-letter list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct DeliveryError {
    /// Retrying cannot help: the address is invalid, the receiver refused for good.
    pub permanent: bool,
    /// What went wrong, without credentials or secrets.
    pub reason: String,
}

impl DeliveryError {
    /// Goes to the dead-letter list.
    pub(crate) fn dead(reason: impl Into<String>) -> Self {
        DeliveryError { permanent: true, reason: reason.into() }
    }

    /// Worth another attempt.
    pub(crate) fn retry(reason: impl Into<String>) -> Self {
        DeliveryError { permanent: false, reason: reason.into() }
    }
}

/// Attempts after which a message goes to the dead-letter list.
pub const MAX_ATTEMPTS: u32 = 12;

/// The first delay.
const BACKOFF_BASE: Duration = Duration::from_secs(5);
/// The longest delay.
const BACKOFF_CAP: Duration = Duration::from_secs(3_600);

/// Delay before the next attempt after `failures` failed ones: 5 s, 10 s, 20 s, ...
/// doubling, capped at 1 h. Zero failures: no delay.
pub fn backoff(failures: u32) -> Duration {
    match failures {
        0 => Duration::ZERO,
        // 5 s × 2^10 is past the cap already.
        n if n > 10 => BACKOFF_CAP,
        n => (BACKOFF_BASE * (1 << (n - 1))).min(BACKOFF_CAP),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_then_caps() {
        let secs: Vec<u64> = (0..=14).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(secs, [0, 5, 10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600, 3600, 3600]);
        assert_eq!(backoff(u32::MAX), BACKOFF_CAP);
        // Dead-lettered after about 2.3 h of trying.
        let total: Duration = (1..MAX_ATTEMPTS).map(backoff).sum();
        assert_eq!(total.as_secs(), 5 + 10 + 20 + 40 + 80 + 160 + 320 + 640 + 1280 + 2560 + 3600);
    }

    #[test]
    fn delivery_error_shows_reason() {
        let e = DeliveryError::retry("connection refused");
        assert_eq!(e.to_string(), "connection refused");
        assert!(!e.permanent);
        assert!(DeliveryError::dead("550").permanent);
    }
}
