//! E-mail over SMTP.
//!
//! Messages are built by lettre. The connections are opened here, with `TCP_NODELAY`, and
//! kept in a pool of our own. Where the server is reached without STARTTLS and without a
//! login (a local relay, or TLS from the first byte), the dialogue is our own (`smtp.rs`):
//! `MAIL`, `RCPT` and `DATA` in one write when the server offers `PIPELINING`, the content
//! and its closing dot in another. Otherwise lettre speaks it (STARTTLS, logins). lettre
//! writes a message's body and its closing `.` in two writes; with Nagle's algorithm on
//! (lettre's own connections) the second waits for the server's delayed acknowledgement
//! of the first, 40 ms on Linux, on every message.

use std::fmt;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::{DeliveryError, Message};

/// How long one delivery may take, connection to final reply.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections open to the SMTP server at most: further messages wait for one.
const POOL_SIZE: usize = 16;
/// How long an unused connection is kept.
const POOL_IDLE: Duration = Duration::from_secs(30);
/// A connection unused for longer than this is checked (`NOOP`) before it carries a message.
const POOL_CHECK: Duration = Duration::from_secs(1);

/// How the connection is secured, as the URL says.
enum Security {
    /// `smtp://host:port`: none (a local relay only).
    Plain,
    /// `?tls=opportunistic`: STARTTLS when the server offers it.
    Opportunistic(TlsParameters),
    /// `?tls=required`: STARTTLS, or no delivery.
    Required(TlsParameters),
    /// `smtps://`: TLS from the first byte.
    Wrapper(tokio_rustls::TlsConnector, rustls::pki_types::ServerName<'static>),
}

/// Where and how to connect, from the URL.
struct Server {
    host: String,
    port: u16,
    security: Security,
    hello: ClientId,
    credentials: Option<Credentials>,
}

/// An open connection: our own dialogue, or lettre's.
enum Conn {
    Own(crate::smtp::Conn),
    Lettre(Box<AsyncSmtpConnection>),
}

impl Conn {
    /// One message; the connection stays fit for another only if this returns `Ok`.
    async fn send(&mut self, email: &lettre::Message, body: &[u8]) -> Result<(), Failure> {
        match self {
            Conn::Lettre(c) => c.send(email.envelope(), body).await.map(drop).map_err(Failure::Smtp),
            Conn::Own(c) => {
                let envelope = email.envelope();
                let from = envelope.from().map_or("", AsRef::as_ref);
                let [to] = envelope.to() else {
                    return Err(Failure::Own(crate::smtp::Error::Unsupported("a notice has one recipient".into())));
                };
                c.send(from, to.as_ref(), body).await.map(drop).map_err(Failure::Own)
            }
        }
    }

    fn is_sound(&self) -> bool {
        match self {
            Conn::Lettre(c) => !c.has_broken(),
            Conn::Own(c) => c.is_sound(),
        }
    }

    async fn answers(&mut self) -> bool {
        match self {
            Conn::Lettre(c) => c.test_connected().await,
            Conn::Own(c) => c.answers().await,
        }
    }

    async fn abort(self) {
        match self {
            Conn::Lettre(mut c) => c.abort().await,
            Conn::Own(c) => c.quit().await,
        }
    }
}

/// Open connections not in use, with when each was last used.
#[derive(Default)]
struct Idle(Mutex<Vec<(Conn, Instant)>>);

/// E-mail over SMTP, through a pool of connections kept open between messages (each
/// message still has its own transaction: `MAIL`, `RCPT`, `DATA`).
pub struct Mailer {
    server: Server,
    idle: Idle,
    /// One permit per connection that may be open at once.
    slots: tokio::sync::Semaphore,
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
    /// only; port 25 by default), `smtp://host:port?tls=required` (STARTTLS; 587),
    /// `?tls=opportunistic` (STARTTLS when offered; 587), `smtps://host:port` (TLS from the
    /// start; 465); `user:password@` before the host to log in (percent-encoded), and a path
    /// `/name` for the name given in `EHLO`. `from` is the envelope and header sender,
    /// e.g. `mamori <notices@mamori.invalid>`.
    pub fn new(url: &str, from: &str) -> Result<Mailer, String> {
        let shown = mask_credentials(url);
        let server = Server::from_url(url).map_err(|e| format!("invalid SMTP URL {shown}: {e}"))?;
        let from: Mailbox = from.parse().map_err(|e| format!("invalid sender address {from:?}: {e}"))?;
        Ok(Mailer { server, idle: Idle::default(), slots: tokio::sync::Semaphore::new(POOL_SIZE), from, shown })
    }

    /// Sends one message to `to`, with header `Message-ID: <{message_id}@mamori>` (so that
    /// the receiver can drop a retried delivery it already has) and
    /// `Content-Type: text/plain; charset=utf-8`. Takes at most 10 s, waiting for a free
    /// connection included. 5xx replies, an invalid recipient and a `message_id` outside
    /// `[A-Za-z0-9._-]` are permanent; connection errors, TLS errors, timeouts and 4xx
    /// replies are not.
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
        match tokio::time::timeout(SEND_TIMEOUT, self.transmit(&email)).await {
            Err(_) => Err(DeliveryError::retry(format!("SMTP delivery via {} timed out after {} s", self.shown, SEND_TIMEOUT.as_secs()))),
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => {
                let reason = format!("SMTP delivery via {}: {e}", self.shown);
                Err(if e.is_permanent() { DeliveryError::dead(reason) } else { DeliveryError::retry(reason) })
            }
        }
    }

    /// One message down a pooled connection, or a new one; the connection goes back to the
    /// pool only after a delivery that left it sound. A pooled connection that fails with
    /// anything but a 5xx reply (the server may have closed it meanwhile) is dropped and
    /// the message tried once more on a new one; should the first try have gone through
    /// after all, the receiver sees the same Message-ID twice.
    async fn transmit(&self, email: &lettre::Message) -> Result<(), Failure> {
        // Never closed: a permit always comes.
        let _slot = self.slots.acquire().await;
        let body = email.formatted();
        if let Some(conn) = self.idle.take().await {
            match self.send_on(conn, email, &body).await {
                // Not logged here: a server's reply may quote an address (the courier logs
                // the final outcome, masked).
                Err(e) if !e.is_permanent() => {}
                done => return done,
            }
        }
        let conn = self.server.connect().await?;
        self.send_on(conn, email, &body).await
    }

    async fn send_on(&self, mut conn: Conn, email: &lettre::Message, body: &[u8]) -> Result<(), Failure> {
        let sent = conn.send(email, body).await;
        if sent.is_ok() && conn.is_sound() {
            self.idle.put(conn);
        } else {
            conn.abort().await;
        }
        sent
    }
}

/// Why a message did not go.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error("connection: {0}")]
    Connect(std::io::Error),
    #[error("TLS: {0}")]
    Tls(std::io::Error),
    #[error("{0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
    #[error("{0}")]
    Own(crate::smtp::Error),
}

impl Failure {
    /// A 5xx reply: sending again would not help.
    fn is_permanent(&self) -> bool {
        match self {
            Failure::Smtp(e) => e.is_permanent(),
            Failure::Own(e) => e.is_permanent(),
            Failure::Connect(_) | Failure::Tls(_) => false,
        }
    }
}

/// A TCP connection to `host:port` (each address it resolves to in turn), with Nagle's
/// algorithm off: SMTP is a dialogue of short writes, each waiting for a reply.
async fn open_tcp(host: &str, port: u16) -> Result<TcpStream, Failure> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let mut last = None;
    for addr in tokio::net::lookup_host((host, port)).await.map_err(Failure::Connect)? {
        match TcpStream::connect(addr).await {
            Ok(tcp) => {
                tcp.set_nodelay(true).map_err(Failure::Connect)?;
                return Ok(tcp);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(Failure::Connect(last.unwrap_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, format!("{host} has no address")))))
}

/// A TLS stream as lettre takes it.
struct Tls(tokio_rustls::client::TlsStream<TcpStream>);

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls").finish_non_exhaustive()
    }
}

impl AsyncTokioStream for Tls {
    fn peer_addr(&self) -> std::io::Result<SocketAddr> {
        self.0.get_ref().0.peer_addr()
    }
}

impl AsyncRead for Tls {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Tls {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl Idle {
    /// The most recently used sound connection, if any: connections past [`POOL_IDLE`] are
    /// closed, and one unused for more than [`POOL_CHECK`] must answer a `NOOP` first.
    async fn take(&self) -> Option<Conn> {
        loop {
            let (mut conn, since) = self.0.lock().unwrap_or_else(PoisonError::into_inner).pop()?;
            let idle = since.elapsed();
            if idle <= POOL_CHECK || (idle <= POOL_IDLE && conn.answers().await) {
                return Some(conn);
            }
            conn.abort().await;
        }
    }

    /// Back into the pool; those left unused past [`POOL_IDLE`] are closed (dropped: the
    /// server has likely closed them already).
    fn put(&self, conn: Conn) {
        let mut idle = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        idle.retain(|(_, since)| since.elapsed() <= POOL_IDLE);
        idle.push((conn, Instant::now()));
    }
}

impl Server {
    fn from_url(url: &str) -> Result<Server, String> {
        let url = url::Url::parse(url).map_err(|e| e.to_string())?;
        let host = url.host_str().ok_or("no host")?.to_string();
        let tls = url.query_pairs().find(|(k, _)| k == "tls").map(|(_, v)| v.into_owned());
        let starttls = || TlsParameters::new(host.clone()).map_err(|e| e.to_string());
        let (security, port) = match (url.scheme(), tls.as_deref()) {
            ("smtp", None) => (Security::Plain, 25),
            ("smtp", Some("required")) => (Security::Required(starttls()?), 587),
            ("smtp", Some("opportunistic")) => (Security::Opportunistic(starttls()?), 587),
            // As lettre: `tls` means nothing after `smtps`.
            ("smtps", _) => {
                use rustls_platform_verifier::ConfigVerifierExt;
                crate::install_crypto_provider();
                let config = rustls::ClientConfig::with_platform_verifier().map_err(|e| e.to_string())?;
                let name = rustls::pki_types::ServerName::try_from(host.trim_start_matches('[').trim_end_matches(']').to_string())
                    .map_err(|e| e.to_string())?;
                (Security::Wrapper(tokio_rustls::TlsConnector::from(Arc::new(config)), name), 465)
            }
            (scheme, tls) => {
                return Err(format!(
                    "scheme {scheme:?} with tls {tls:?}: expected smtp, smtp with tls=required or opportunistic, or smtps"
                ));
            }
        };
        let decode = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8().map(|s| s.into_owned()).map_err(|e| e.to_string());
        let credentials = match url.password() {
            Some(password) => Some(Credentials::new(decode(url.username())?, decode(password)?)),
            None => None,
        };
        let name = url.path().trim_matches('/');
        let hello = if name.is_empty() { ClientId::default() } else { ClientId::Domain(name.to_string()) };
        Ok(Server { port: url.port().unwrap_or(port), host, security, hello, credentials })
    }

    /// A new connection: greeted, secured as the URL says, logged in.
    async fn connect(&self) -> Result<Conn, Failure> {
        let tcp = open_tcp(&self.host, self.port).await?;
        let own = async |stream: Box<dyn crate::smtp::Io>| {
            crate::smtp::Conn::open(stream, &self.hello.to_string()).await.map(Conn::Own).map_err(Failure::Own)
        };
        match (&self.security, &self.credentials) {
            // Our own dialogue: plain, or TLS from the first byte, with no login.
            (Security::Plain, None) => own(Box::new(tcp)).await,
            (Security::Wrapper(connector, name), None) => {
                own(Box::new(connector.connect(name.clone(), tcp).await.map_err(Failure::Tls)?)).await
            }
            (Security::Wrapper(connector, name), Some(_)) => {
                let tls = Tls(connector.connect(name.clone(), tcp).await.map_err(Failure::Tls)?);
                self.lettre(Box::new(tls)).await.map(|c| Conn::Lettre(Box::new(c)))
            }
            _ => self.lettre(Box::new(tcp)).await.map(|c| Conn::Lettre(Box::new(c))),
        }
    }

    /// lettre's dialogue on `stream`: greeted, STARTTLS as the URL says, logged in.
    async fn lettre(&self, stream: Box<dyn AsyncTokioStream>) -> Result<AsyncSmtpConnection, Failure> {
        let mut conn = AsyncSmtpConnection::connect_with_transport(stream, &self.hello).await?;
        match &self.security {
            Security::Required(params) => conn.starttls(params.clone(), &self.hello).await?,
            Security::Opportunistic(params) if conn.can_starttls() => conn.starttls(params.clone(), &self.hello).await?,
            _ => {}
        }
        if let Some(credentials) = &self.credentials {
            conn.auth(DEFAULT_MECHANISMS, credentials).await?;
        }
        Ok(conn)
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
    use crate::sink::MinimalSmtp;

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

    #[test]
    fn urls_give_port_security_login_and_name() {
        let s = Server::from_url("smtp://127.0.0.1").unwrap();
        assert_eq!((s.host.as_str(), s.port), ("127.0.0.1", 25));
        assert!(matches!(s.security, Security::Plain) && s.credentials.is_none());
        assert_eq!(s.hello, ClientId::default());
        let s = Server::from_url("smtp://relay.example.jp?tls=required").unwrap();
        assert!(matches!(s.security, Security::Required(_)) && s.port == 587);
        let s = Server::from_url("smtp://relay.example.jp:2587?tls=opportunistic").unwrap();
        assert!(matches!(s.security, Security::Opportunistic(_)) && s.port == 2587);
        let s = Server::from_url("smtps://al%40ice:p%2Fss@smtp.example.jp/mamori.example.jp").unwrap();
        assert!(matches!(s.security, Security::Wrapper(..)) && s.port == 465);
        assert_eq!(s.credentials, Some(Credentials::new("al@ice".into(), "p/ss".into())));
        assert_eq!(s.hello, ClientId::Domain("mamori.example.jp".into()));
        assert!(matches!(Server::from_url("smtps://host?tls=required").unwrap().security, Security::Wrapper(..)));
        for bad in ["http://host", "smtp://host?tls=sometimes", "smtp://", "smtp://u:%FF@host"] {
            assert!(Server::from_url(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn connections_have_nagle_off() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let tcp = open_tcp("127.0.0.1", port).await.unwrap();
        assert!(tcp.nodelay().unwrap(), "without TCP_NODELAY every message waits 40 ms for a delayed ACK");
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        drop(listener);
        assert!(matches!(open_tcp("127.0.0.1", closed).await, Err(Failure::Connect(_))));
    }

    #[tokio::test]
    async fn one_connection_carries_message_after_message() {
        let smtp = MinimalSmtp::start(usize::MAX).unwrap();
        let mailer = Mailer::new(&smtp.url, "notices@mamori.invalid").unwrap();
        let m = Message { subject: "件名".into(), text: "本文 text".into() };
        for i in 0..5 {
            mailer.send("customer@example.invalid", &format!("id-{i}"), &m).await.unwrap();
        }
        assert_eq!((smtp.connections(), smtp.messages()), (1, 5));
    }

    #[tokio::test]
    async fn a_pooled_connection_the_server_closed_is_replaced() {
        // The server hangs up after every message: each send finds its pooled connection
        // dead, and goes through on a new one.
        let smtp = MinimalSmtp::start(1).unwrap();
        let mailer = Mailer::new(&smtp.url, "notices@mamori.invalid").unwrap();
        let m = Message { subject: "s".into(), text: "t".into() };
        for i in 0..3 {
            mailer.send("customer@example.invalid", &format!("id-{i}"), &m).await.unwrap();
            // Let the server's close reach us before the next send.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!((smtp.connections(), smtp.messages()), (3, 3));
    }

    #[tokio::test]
    async fn tls_to_a_plain_server_fails_and_is_retried() {
        let smtp = MinimalSmtp::start(usize::MAX).unwrap();
        let url = &smtp.url;
        let m = Message { subject: "s".into(), text: "t".into() };
        // STARTTLS required, and the server does not offer it.
        let mailer = Mailer::new(&format!("{url}?tls=required"), "notices@mamori.invalid").unwrap();
        let e = mailer.send("customer@example.invalid", "id-1", &m).await.unwrap_err();
        assert!(!e.permanent && e.reason.contains("STARTTLS"), "{e}");
        // TLS from the start, and the server speaks plain SMTP.
        let mailer = Mailer::new(&url.replacen("smtp://", "smtps://", 1), "notices@mamori.invalid").unwrap();
        let e = mailer.send("customer@example.invalid", "id-2", &m).await.unwrap_err();
        assert!(!e.permanent && e.reason.contains("TLS"), "{e}");
        assert_eq!(smtp.messages(), 0);
    }
}
