//! E-mail over SMTP.

use std::fmt;
use std::sync::OnceLock;
use std::time::Duration;

use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::{AsyncSmtpTransportBuilder, PoolConfig};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::{DeliveryError, Message};

/// How long one delivery may take, connection to final reply.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections kept open to the SMTP server for the next messages.
const POOL_SIZE: u32 = 16;
/// How long an unused connection is kept.
const POOL_IDLE: Duration = Duration::from_secs(30);

/// E-mail over SMTP, through a pool of connections kept open between messages (each
/// message still has its own transaction: `MAIL`, `RCPT`, `DATA`).
pub struct Mailer {
    builder: AsyncSmtpTransportBuilder,
    /// Built on the first message, inside the runtime that sends: the pool's upkeep is a
    /// task of that runtime.
    transport: OnceLock<AsyncSmtpTransport<Tokio1Executor>>,
    from: Mailbox,
    /// The URL with any credentials masked.
    shown: String,
}

impl fmt::Debug for Mailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mailer").field("url", &self.shown).field("from", &self.from.to_string()).finish()
    }
}

impl Mailer {
    /// From a URL in lettre's forms: `smtp://host:port` (plain SMTP, no TLS: a local relay
    /// only), `smtp://host:port?tls=required` (STARTTLS), `smtps://host:port` (TLS from the
    /// start); `user:password@` before the host to log in. `from` is the envelope and header
    /// sender, e.g. `mamori <notices@mamori.invalid>`.
    pub fn new(url: &str, from: &str) -> Result<Mailer, String> {
        let shown = mask_credentials(url);
        let builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url).map_err(|e| format!("invalid SMTP URL {shown}: {e}"))?;
        let from: Mailbox = from.parse().map_err(|e| format!("invalid sender address {from:?}: {e}"))?;
        let builder = builder.timeout(Some(SEND_TIMEOUT)).pool_config(PoolConfig::new().max_size(POOL_SIZE).idle_timeout(POOL_IDLE));
        Ok(Mailer { builder, transport: OnceLock::new(), from, shown })
    }

    /// Sends one message to `to`, with header `Message-ID: <{message_id}@mamori>` (so that
    /// the receiver can drop a retried delivery it already has) and
    /// `Content-Type: text/plain; charset=utf-8`. Takes at most 10 s. Call it from one
    /// runtime: the first call ties the connection pool to its runtime. 5xx replies, an
    /// invalid recipient and a `message_id` outside `[A-Za-z0-9._-]` are permanent;
    /// connection errors, TLS errors, timeouts and 4xx replies are not.
    pub async fn send(&self, to: &str, message_id: &str, m: &Message) -> Result<(), DeliveryError> {
        let to: Mailbox = to.parse().map_err(|e| DeliveryError::dead(format!("invalid recipient address {to:?}: {e}")))?;
        if message_id.is_empty() || !message_id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')) {
            return Err(DeliveryError::dead(format!("message id {message_id:?} cannot stand in a Message-ID header")));
        }
        let email = lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(m.subject.as_str())
            .message_id(Some(format!("<{message_id}@mamori>")))
            .header(ContentType::TEXT_PLAIN)
            .body(m.text.clone())
            .map_err(|e| DeliveryError::dead(format!("cannot build the message: {e}")))?;
        let transport = self.transport.get_or_init(|| self.builder.clone().build());
        match tokio::time::timeout(SEND_TIMEOUT, transport.send(email)).await {
            Err(_) => Err(DeliveryError::retry(format!("SMTP delivery via {} timed out after {} s", self.shown, SEND_TIMEOUT.as_secs()))),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => {
                let reason = format!("SMTP delivery via {}: {e}", self.shown);
                Err(if e.is_permanent() { DeliveryError::dead(reason) } else { DeliveryError::retry(reason) })
            }
        }
    }
}

/// `smtps://user:pass@host` → `smtps://***@host`.
fn mask_credentials(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return if url.contains('@') { "***".into() } else { url.into() };
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => format!("{scheme}://***{}", &rest[at..]),
        None => url.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_credentials() {
        assert_eq!(mask_credentials("smtp://127.0.0.1:2525"), "smtp://127.0.0.1:2525");
        assert_eq!(mask_credentials("smtps://user:p%40ss@smtp.example.com:465"), "smtps://***@smtp.example.com:465");
        assert_eq!(mask_credentials("smtp://u:p@host:587?tls=required"), "smtp://***@host:587?tls=required");
        assert_eq!(mask_credentials("smtp://host/ehlo@name"), "smtp://host/ehlo@name");
        assert_eq!(mask_credentials("u:p@host"), "***");
    }

    #[test]
    fn new_checks_url_and_sender() {
        let m = Mailer::new("smtps://alice:s3cret@smtp.example.com:465", "mamori <notices@mamori.invalid>").unwrap();
        let d = format!("{m:?}");
        assert!(!d.contains("s3cret") && !d.contains("alice"), "{d}");
        assert!(d.contains("smtps://***@smtp.example.com:465") && d.contains("notices@mamori.invalid"), "{d}");
        assert!(Mailer::new("smtp://127.0.0.1:2525", "notices@mamori.invalid").is_ok());
        assert!(Mailer::new("smtp://127.0.0.1:587?tls=required", "notices@mamori.invalid").is_ok());

        let e = Mailer::new("http://u:pw@example.com", "notices@mamori.invalid").unwrap_err();
        assert!(e.starts_with("invalid SMTP URL http://***@example.com") && !e.contains("pw"), "{e}");
        assert!(Mailer::new("not a url", "notices@mamori.invalid").unwrap_err().starts_with("invalid SMTP URL"));
        let e = Mailer::new("smtp://127.0.0.1:2525", "not an address").unwrap_err();
        assert!(e.starts_with("invalid sender address"), "{e}");
    }

    #[tokio::test]
    async fn bad_recipient_and_id_are_permanent() {
        let mailer = Mailer::new("smtp://127.0.0.1:9", "notices@mamori.invalid").unwrap();
        let m = Message { subject: "s".into(), text: "t".into() };
        let e = mailer.send("not an address", "id-1", &m).await.unwrap_err();
        assert!(e.permanent && e.reason.contains("invalid recipient"), "{e}");
        let e = mailer.send("a@b.invalid", "id 1>", &m).await.unwrap_err();
        assert!(e.permanent && e.reason.contains("Message-ID"), "{e}");
    }

    #[tokio::test]
    async fn refused_connection_is_retried() {
        // Bind, then close: nothing listens on the port.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mailer = Mailer::new(&format!("smtp://127.0.0.1:{port}"), "notices@mamori.invalid").unwrap();
        let m = Message { subject: "s".into(), text: "t".into() };
        let e = mailer.send("customer@example.invalid", "id-1", &m).await.unwrap_err();
        assert!(!e.permanent, "{e}");
    }
}
