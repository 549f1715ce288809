//! The SMTP dialogue of our own connections: greeting, `EHLO`, and message transactions,
//! pipelined when the server offers `PIPELINING` (RFC 2920).
//!
//! Used for servers reached without STARTTLS and without a login (a local relay, or TLS
//! from the first byte), where it takes two writes a message instead of lettre's five:
//! `MAIL`, `RCPT` and `DATA` in one, the content and its closing dot in the other. Every
//! write on loopback also runs the receiver's side of TCP on the sending core, and every
//! reply waited for is a wake-up; at thousands of notices a second that was the largest
//! part of the courier's work. STARTTLS and logins stay with lettre.

use std::fmt;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};

/// The longest reply line read, and the longest reply, in bytes.
const MAX_LINE: usize = 4096;
const MAX_REPLY: usize = 65_536;

/// A byte stream a connection runs on: TCP, or TLS over TCP.
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A server's reply: its code and its text (lines joined by spaces).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reply {
    pub code: u16,
    pub text: String,
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code, self.text)
    }
}

/// What went wrong on a connection.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    #[error("network: {0}")]
    Io(#[from] std::io::Error),
    /// A reply that does not parse, or is too long.
    #[error("protocol: {0}")]
    Protocol(String),
    /// The server refused a step: `what` was answered with `reply`.
    #[error("{what} refused: {reply}")]
    Refused { what: &'static str, reply: Reply },
    /// Something the server does not offer and the message needs.
    #[error("{0}")]
    Unsupported(String),
}

impl Error {
    /// A 5xx reply: the same message would be refused again.
    pub(crate) fn is_permanent(&self) -> bool {
        matches!(self, Error::Refused { reply, .. } if reply.code >= 500)
    }
}

/// A greeted connection.
pub(crate) struct Conn {
    stream: BufReader<Box<dyn Io>>,
    pipelining: bool,
    eight_bit: bool,
    utf8: bool,
    /// Whether the last transaction left it fit for another.
    sound: bool,
}

impl fmt::Debug for Conn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Conn").field("pipelining", &self.pipelining).field("sound", &self.sound).finish_non_exhaustive()
    }
}

impl Conn {
    /// Reads the greeting and says `EHLO hello`.
    pub(crate) async fn open(stream: Box<dyn Io>, hello: &str) -> Result<Conn, Error> {
        let mut conn = Conn { stream: BufReader::new(stream), pipelining: false, eight_bit: false, utf8: false, sound: false };
        conn.expect("greeting", &[220]).await?;
        conn.write(format!("EHLO {hello}\r\n").as_bytes()).await?;
        let reply = conn.expect("EHLO", &[250]).await?;
        // The first line names the server; each after it is an extension.
        for ext in reply.text.split('\n').skip(1) {
            let keyword = ext.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
            match keyword.as_str() {
                "PIPELINING" => conn.pipelining = true,
                "8BITMIME" => conn.eight_bit = true,
                "SMTPUTF8" => conn.utf8 = true,
                _ => {}
            }
        }
        conn.sound = true;
        Ok(conn)
    }

    /// Whether it may carry another message.
    pub(crate) fn is_sound(&self) -> bool {
        self.sound
    }

    /// One message from `from` to `to` (addresses without angle brackets), `content` the
    /// whole message with CRLF line ends. A failure leaves the connection unfit.
    pub(crate) async fn send(&mut self, from: &str, to: &str, content: &[u8]) -> Result<Reply, Error> {
        self.sound = false;
        let utf8 = if from.is_ascii() && to.is_ascii() {
            ""
        } else if self.utf8 {
            " SMTPUTF8"
        } else {
            return Err(Error::Unsupported("an address is not ASCII and the server does not offer SMTPUTF8".into()));
        };
        let body = if content.is_ascii() {
            ""
        } else if self.eight_bit {
            " BODY=8BITMIME"
        } else {
            return Err(Error::Unsupported("the message is not ASCII and the server does not offer 8BITMIME".into()));
        };
        let mail = format!("MAIL FROM:<{from}>{body}{utf8}\r\n");
        let rcpt = format!("RCPT TO:<{to}>\r\n");
        if self.pipelining {
            self.write(format!("{mail}{rcpt}DATA\r\n").as_bytes()).await?;
            // Every reply is read, in order, before any is acted on.
            let replies = [self.reply().await?, self.reply().await?, self.reply().await?];
            check("MAIL", &replies[0], &[250])?;
            check("RCPT", &replies[1], &[250, 251])?;
            check("DATA", &replies[2], &[354])?;
        } else {
            self.write(mail.as_bytes()).await?;
            self.expect("MAIL", &[250]).await?;
            self.write(rcpt.as_bytes()).await?;
            self.expect("RCPT", &[250, 251]).await?;
            self.write(b"DATA\r\n").await?;
            self.expect("DATA", &[354]).await?;
        }
        self.write(&stuffed(content)).await?;
        let reply = self.expect("the message", &[250]).await?;
        self.sound = true;
        Ok(reply)
    }

    /// `NOOP`: whether the server still answers.
    pub(crate) async fn answers(&mut self) -> bool {
        self.sound = self.write(b"NOOP\r\n").await.is_ok() && self.expect("NOOP", &[250]).await.is_ok();
        self.sound
    }

    /// `QUIT`, without waiting for the answer.
    pub(crate) async fn quit(mut self) {
        let _ = self.write(b"QUIT\r\n").await;
        let _ = self.stream.get_mut().shutdown().await;
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let s = self.stream.get_mut();
        s.write_all(bytes).await?;
        s.flush().await?;
        Ok(())
    }

    async fn expect(&mut self, what: &'static str, codes: &[u16]) -> Result<Reply, Error> {
        let reply = self.reply().await?;
        check(what, &reply, codes)?;
        Ok(reply)
    }

    /// One reply, all its lines (`250-...` continues, `250 ...` ends).
    async fn reply(&mut self) -> Result<Reply, Error> {
        let mut code = None;
        let mut text = String::new();
        let mut line = Vec::new();
        loop {
            line.clear();
            let n = (&mut self.stream).take(MAX_LINE as u64 + 1).read_until(b'\n', &mut line).await?;
            if n == 0 {
                return Err(Error::Io(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the server closed the connection")));
            }
            if n > MAX_LINE {
                return Err(Error::Protocol(format!("a reply line longer than {MAX_LINE} bytes")));
            }
            if line.last() != Some(&b'\n') {
                let eof = "the server closed the connection in the middle of a reply";
                return Err(Error::Io(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, eof)));
            }
            let l = std::str::from_utf8(&line).map_err(|_| Error::Protocol("a reply that is not UTF-8".into()))?;
            let l = l.trim_end_matches(['\r', '\n']);
            let (digits, rest) = (l.get(..3).unwrap_or(""), l.get(3..).unwrap_or(""));
            let this: u16 = match digits.parse() {
                Ok(c) if (200..600).contains(&c) && digits.bytes().all(|b| b.is_ascii_digit()) => c,
                _ => return Err(Error::Protocol(format!("a reply line without a code: {l:?}"))),
            };
            if code.is_some_and(|c| c != this) {
                return Err(Error::Protocol(format!("a reply whose lines carry different codes: {l:?}")));
            }
            code = Some(this);
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(rest.get(1..).unwrap_or(""));
            if text.len() > MAX_REPLY {
                return Err(Error::Protocol(format!("a reply longer than {MAX_REPLY} bytes")));
            }
            match rest.as_bytes().first() {
                Some(b'-') => {}
                None | Some(b' ') => return Ok(Reply { code: this, text }),
                Some(_) => return Err(Error::Protocol(format!("a reply line with no space or dash after its code: {l:?}"))),
            }
        }
    }
}

fn check(what: &'static str, reply: &Reply, codes: &[u16]) -> Result<(), Error> {
    if codes.contains(&reply.code) { Ok(()) } else { Err(Error::Refused { what, reply: reply.clone() }) }
}

/// The content as sent after `DATA`: a dot doubled at the start of every line, CRLF at the
/// end, then the closing `.` line.
fn stuffed(content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 16);
    let mut line_start = true;
    for &b in content {
        if line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        line_start = b == b'\n';
    }
    if !content.is_empty() && !content.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scripted server on one end of an in-memory pipe. Returns what the client wrote,
    /// each read the server made marked off by `|`: the client's writes, as it grouped them.
    async fn talk(
        script: &'static [&'static str],
        client: impl AsyncFnOnce(Box<dyn Io>) -> Result<(), Error>,
    ) -> (String, Result<(), Error>) {
        let (ours, theirs) = tokio::io::duplex(1 << 16);
        let server = tokio::spawn(async move {
            let mut theirs = theirs;
            let mut heard: Vec<String> = Vec::new();
            let mut buf = vec![0; 4096];
            for answer in script {
                // The greeting comes first; every other answer once the client's words end a line.
                if !answer.starts_with("220") {
                    let mut chunk = Vec::new();
                    while !chunk.ends_with(b"\r\n") {
                        let n = theirs.read(&mut buf).await.unwrap();
                        if n == 0 {
                            heard.push(String::from_utf8(chunk).unwrap());
                            return heard.join("|");
                        }
                        chunk.extend_from_slice(&buf[..n]);
                    }
                    heard.push(String::from_utf8(chunk).unwrap());
                }
                theirs.write_all(answer.as_bytes()).await.unwrap();
            }
            let mut rest = Vec::new();
            let _ = theirs.read_to_end(&mut rest).await;
            if !rest.is_empty() {
                heard.push(String::from_utf8(rest).unwrap());
            }
            heard.join("|")
        });
        let result = client(Box::new(ours)).await;
        (server.await.unwrap(), result)
    }

    #[tokio::test]
    async fn a_pipelining_server_gets_two_writes_a_message() {
        let script: &[&str] = &[
            "220 relay ESMTP\r\n",
            "250-relay greets you\r\n250-PIPELINING\r\n250 8BITMIME\r\n",
            "250 sender ok\r\n250 recipient ok\r\n354 go ahead\r\n",
            "250 queued\r\n",
        ];
        let (heard, result) = talk(script, async |io| {
            let mut c = Conn::open(io, "mamori.example").await?;
            assert!(c.pipelining && c.eight_bit);
            let reply = c.send("notices@mamori.invalid", "taro@example.invalid", b"Subject: s\r\n\r\n.hidden\r\nline\r\n").await?;
            assert_eq!(reply, Reply { code: 250, text: "queued".into() });
            assert!(c.is_sound());
            c.quit().await;
            Ok(())
        })
        .await;
        result.unwrap();
        assert_eq!(
            heard,
            "EHLO mamori.example\r\n|MAIL FROM:<notices@mamori.invalid>\r\nRCPT TO:<taro@example.invalid>\r\nDATA\r\n|\
             Subject: s\r\n\r\n..hidden\r\nline\r\n.\r\n|QUIT\r\n"
        );
    }

    #[tokio::test]
    async fn a_server_without_pipelining_is_answered_step_by_step() {
        let script: &[&str] =
            &["220 relay\r\n", "250 relay\r\n", "250 ok\r\n", "251 will forward\r\n", "354 go\r\n", "250 done\r\n", "250 still here\r\n"];
        let (heard, result) = talk(script, async |io| {
            let mut c = Conn::open(io, "h").await?;
            assert!(!c.pipelining);
            c.send("a@b.invalid", "c@d.invalid", b"x").await?;
            assert!(c.answers().await);
            Ok(())
        })
        .await;
        result.unwrap();
        assert_eq!(heard, "EHLO h\r\n|MAIL FROM:<a@b.invalid>\r\n|RCPT TO:<c@d.invalid>\r\n|DATA\r\n|x\r\n.\r\n|NOOP\r\n");
    }

    #[tokio::test]
    async fn a_refused_recipient_is_permanent_and_the_connection_is_not_reused() {
        let script: &[&str] =
            &["220 relay\r\n", "250-relay\r\n250 PIPELINING\r\n", "250 ok\r\n550 5.1.1 no such user\r\n554 no valid recipients\r\n"];
        let (_, result) = talk(script, async |io| {
            let mut c = Conn::open(io, "h").await?;
            let e = c.send("a@b.invalid", "nobody@d.invalid", b"x").await.unwrap_err();
            assert!(e.is_permanent() && e.to_string().contains("RCPT refused: 550 5.1.1 no such user"), "{e}");
            assert!(!c.is_sound());
            Ok(())
        })
        .await;
        result.unwrap();
        // A 4xx is worth trying again.
        let script: &[&str] = &["220 relay\r\n", "250 relay\r\n", "451 try later\r\n"];
        let (_, result) = talk(script, async |io| {
            let mut c = Conn::open(io, "h").await?;
            let e = c.send("a@b.invalid", "c@d.invalid", b"x").await.unwrap_err();
            assert!(!e.is_permanent() && e.to_string().contains("MAIL refused: 451"), "{e}");
            Ok(())
        })
        .await;
        result.unwrap();
    }

    #[tokio::test]
    async fn addresses_outside_ascii_go_with_smtputf8_where_offered() {
        let script: &[&str] = &[
            "220 relay\r\n",
            "250-relay\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n",
            "250 ok\r\n250 ok\r\n354 go\r\n",
            "250 queued\r\n",
        ];
        let (heard, result) = talk(script, async |io| {
            let mut c = Conn::open(io, "h").await?;
            c.send("a@b.invalid", "太郎@例え.jp", "本文".as_bytes()).await?;
            Ok(())
        })
        .await;
        result.unwrap();
        assert!(heard.contains("MAIL FROM:<a@b.invalid> BODY=8BITMIME SMTPUTF8\r\nRCPT TO:<太郎@例え.jp>\r\nDATA\r\n"), "{heard}");
    }

    #[tokio::test]
    async fn what_the_server_cannot_take_is_refused_before_sending() {
        let script: &[&str] = &["220 relay\r\n", "250 relay\r\n"];
        let (heard, result) = talk(script, async |io| {
            let mut c = Conn::open(io, "h").await?;
            let e = c.send("a@b.invalid", "c@d.invalid", "本文".as_bytes()).await.unwrap_err();
            assert!(e.to_string().contains("8BITMIME"), "{e}");
            let e = c.send("a@b.invalid", "太郎@d.invalid", b"x").await.unwrap_err();
            assert!(e.to_string().contains("SMTPUTF8"), "{e}");
            Ok(())
        })
        .await;
        result.unwrap();
        assert_eq!(heard, "EHLO h\r\n");
    }

    #[tokio::test]
    async fn malformed_replies_are_errors() {
        for (bad, expect) in [
            ("hello there\r\n", "without a code"),
            ("2500 ok\r\n", "no space or dash"),
            ("250-first\r\n220 second\r\n", "different codes"),
            ("250 ok", "closed the connection"),
            ("099 low\r\n", "without a code"),
        ] {
            let (ours, mut theirs) = tokio::io::duplex(1 << 16);
            theirs.write_all(format!("220 relay\r\n{bad}").as_bytes()).await.unwrap();
            // Nothing more from the server; what the client says is still read.
            theirs.shutdown().await.unwrap();
            let e = Conn::open(Box::new(ours), "h").await.unwrap_err();
            assert!(e.to_string().contains(expect) && !e.is_permanent(), "{bad:?}: {e}");
        }
        let (ours, mut theirs) = tokio::io::duplex(1 << 16);
        theirs.write_all(format!("220 {}\r\n", "x".repeat(MAX_LINE)).as_bytes()).await.unwrap();
        assert!(Conn::open(Box::new(ours), "h").await.unwrap_err().to_string().contains("longer than"));
        let (ours, mut theirs) = tokio::io::duplex(1 << 16);
        theirs.write_all(b"554 no service here\r\n").await.unwrap();
        let e = Conn::open(Box::new(ours), "h").await.unwrap_err();
        assert!(e.is_permanent() && e.to_string().contains("greeting refused: 554"), "{e}");
    }

    #[test]
    fn content_is_dot_stuffed_and_closed() {
        assert_eq!(stuffed(b".a\r\nb\r\n..c\r\n"), b"..a\r\nb\r\n...c\r\n.\r\n");
        assert_eq!(stuffed(b"no end"), b"no end\r\n.\r\n");
        assert_eq!(stuffed(b""), b".\r\n");
        assert_eq!(stuffed(b"a.b\r\n.\r\n"), b"a.b\r\n..\r\n.\r\n");
    }
}
