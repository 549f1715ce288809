//! A real SMTP server on loopback for tests: `scripts/smtp_sink.py` (aiosmtpd) in the
//! repository's `.venv-test`, installed by `scripts/install-test-deps`.
//!
//! ```no_run
//! # fn main() -> Result<(), String> {
//! use std::time::Duration;
//! let Some(sink) = mamori_notify::sink::SmtpSink::start(0)? else {
//!     return Ok(()); // test dependencies not installable here: skipped
//! };
//! // ... send to sink.url() ...
//! let mail = sink.wait_for(1, Duration::from_secs(5));
//! # Ok(())
//! # }
//! ```
//!
//! When the dependencies cannot be installed (no network), [`SmtpSink::start`] prints
//! `SKIP: ...` to stderr and returns `Ok(None)`, unless `MAMORI_REQUIRE_TEST_DEPS=1`, when it
//! fails instead.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Set to `1` to make missing test dependencies a failure rather than a skip.
pub const REQUIRE_ENV: &str = "MAMORI_REQUIRE_TEST_DEPS";

/// How long the sink may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A running `smtp_sink.py`. Stopped (and waited for) on drop; its output file is removed.
#[derive(Debug)]
pub struct SmtpSink {
    /// The port it listens on, on 127.0.0.1.
    pub port: u16,
    /// The JSON-lines file it appends each message to.
    pub out: PathBuf,
    child: Child,
    /// Held open: the sink exits when its stdin closes.
    _stdin: Option<ChildStdin>,
}

/// The repository root: two levels above this crate.
pub fn repo_root() -> PathBuf {
    let krate = Path::new(env!("CARGO_MANIFEST_DIR"));
    krate.parent().and_then(Path::parent).map_or_else(|| krate.join("../.."), Path::to_path_buf)
}

/// Runs `scripts/install-test-deps` once per process.
fn install() -> &'static Result<(), String> {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| {
        let script = repo_root().join("scripts/install-test-deps");
        let out =
            Command::new("bash").arg(&script).stdin(Stdio::null()).output().map_err(|e| format!("cannot run {}: {e}", script.display()))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{} failed ({}): {}",
                script.display(),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim().lines().last().unwrap_or("no output")
            ))
        }
    })
}

impl SmtpSink {
    /// Installs the test dependencies if needed and starts a sink on a free port. The first
    /// `fail_first` DATA commands are answered `451 4.3.0 try again later`. `Ok(None)`: the
    /// dependencies cannot be installed and the caller should skip.
    pub fn start(fail_first: u32) -> Result<Option<SmtpSink>, String> {
        SmtpSink::start_on(0, fail_first)
    }

    /// Like [`SmtpSink::start`], on `port` (0: a free one): a sink that comes up where a
    /// service was already told to deliver.
    pub fn start_on(port: u16, fail_first: u32) -> Result<Option<SmtpSink>, String> {
        if let Err(why) = install() {
            if std::env::var(REQUIRE_ENV).is_ok_and(|v| v == "1") {
                return Err(format!("test dependencies required ({REQUIRE_ENV}=1): {why}"));
            }
            // Straight to the process's stderr, past the test harness's capture.
            let _ = writeln!(std::io::stderr(), "SKIP: SMTP sink unavailable: {why}");
            return Ok(None);
        }
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let out =
            std::env::temp_dir().join(format!("mamori-smtp-sink-{}-{}.jsonl", std::process::id(), SEQ.fetch_add(1, Ordering::Relaxed)));
        std::fs::write(&out, "").map_err(|e| format!("cannot create {}: {e}", out.display()))?;

        let root = repo_root();
        let mut child = Command::new(root.join(".venv-test/bin/python"))
            .arg(root.join("scripts/smtp_sink.py"))
            .args(["--port", &port.to_string(), "--fail-first", &fail_first.to_string(), "--out"])
            .arg(&out)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start smtp_sink.py: {e}"))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take();
        // From here on, drop kills the child.
        let mut sink = SmtpSink { port: 0, out, child, _stdin: stdin };

        let (tx, rx) = mpsc::channel();
        if let Some(stdout) = stdout {
            std::thread::spawn(move || {
                let mut line = String::new();
                let _ = BufReader::new(stdout).read_line(&mut line);
                let _ = tx.send(line);
            });
        }
        let line = rx.recv_timeout(START_TIMEOUT).map_err(|_| format!("smtp_sink.py did not start within {START_TIMEOUT:?}"))?;
        sink.port = line
            .trim()
            .strip_prefix("listening ")
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| format!("smtp_sink.py said {line:?}, not \"listening <port>\""))?;
        Ok(Some(sink))
    }

    /// `smtp://127.0.0.1:<port>`, for [`crate::Mailer::new`].
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message received so far, in order.
    pub fn messages(&self) -> Vec<serde_json::Value> {
        let text = std::fs::read_to_string(&self.out).unwrap_or_default();
        // Only whole lines: one may be half written.
        text.split_inclusive('\n').filter(|l| l.ends_with('\n')).filter_map(|l| serde_json::from_str(l).ok()).collect()
    }

    /// The messages once there are at least `n`, or whatever there is after `timeout`.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<serde_json::Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.messages();
            if got.len() >= n || Instant::now() >= deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for SmtpSink {
    /// Closes the sink's stdin so that it stops by itself; kills it if it has not within 2 s.
    fn drop(&mut self) {
        drop(self._stdin.take());
        let deadline = Instant::now() + Duration::from_secs(2);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.out);
    }
}

/// A minimal SMTP server on loopback, in threads of this process: accepts every message
/// at once and only counts connections and messages, so that its own CPU is near
/// nothing. Offers `PIPELINING`. Closes each connection after `close_after` messages on it. Its threads live
/// as long as the process.
#[derive(Debug, Clone)]
pub struct MinimalSmtp {
    /// `smtp://127.0.0.1:<port>`.
    pub url: String,
    connections: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    messages: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl MinimalSmtp {
    pub fn start(close_after: usize) -> std::io::Result<MinimalSmtp> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let url = format!("smtp://{}", listener.local_addr()?);
        let smtp = MinimalSmtp { url, connections: Default::default(), messages: Default::default() };
        let (connections, messages) = (std::sync::Arc::clone(&smtp.connections), std::sync::Arc::clone(&smtp.messages));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                connections.fetch_add(1, Ordering::SeqCst);
                let messages = std::sync::Arc::clone(&messages);
                std::thread::spawn(move || {
                    if stream.set_nodelay(true).is_err() || stream.write_all(b"220 127.0.0.1 ESMTP\r\n").is_err() {
                        return;
                    }
                    let mut reader = BufReader::new(stream);
                    let mut here = 0;
                    // Answers to pipelined commands go out together, once every command
                    // read is answered (as RFC 2920 asks of a server).
                    let mut answers = Vec::new();
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let answer: &[u8] = match line.get(..4).unwrap_or("").to_ascii_uppercase().as_str() {
                            "QUIT" => {
                                let _ = reader.get_mut().write_all(b"221 bye\r\n");
                                return;
                            }
                            "DATA" => {
                                answers.extend_from_slice(b"354 go ahead\r\n");
                                if reader.get_mut().write_all(&answers).is_err() {
                                    return;
                                }
                                answers.clear();
                                loop {
                                    let mut l = String::new();
                                    if reader.read_line(&mut l).unwrap_or(0) == 0 {
                                        return;
                                    }
                                    if l == ".\r\n" || l == ".\n" {
                                        break;
                                    }
                                }
                                messages.fetch_add(1, Ordering::SeqCst);
                                here += 1;
                                b"250 accepted\r\n"
                            }
                            // As a production relay (Postfix, for one) does.
                            "EHLO" => b"250-127.0.0.1\r\n250 PIPELINING\r\n",
                            _ => b"250 ok\r\n",
                        };
                        answers.extend_from_slice(answer);
                        if reader.buffer().is_empty() {
                            if reader.get_mut().write_all(&answers).is_err() {
                                return;
                            }
                            answers.clear();
                        }
                        if here == close_after {
                            let _ = reader.get_mut().write_all(&answers);
                            return;
                        }
                    }
                });
            }
        });
        Ok(smtp)
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// Messages accepted so far.
    pub fn messages(&self) -> usize {
        self.messages.load(Ordering::SeqCst)
    }
}

/// One request a [`WebhookSink`] got: its headers (names in lower case) and body.
pub type Delivery = (std::collections::HashMap<String, String>, Vec<u8>);

/// A webhook receiver on loopback (HTTP/1.1, keep-alive): records every request and
/// answers 500 to the first `fail_first`, 200 after. Its thread lives as long as the
/// process.
#[derive(Debug, Clone)]
pub struct WebhookSink {
    /// `http://127.0.0.1:<port>/hooks/mamori`.
    pub url: String,
    got: std::sync::Arc<std::sync::Mutex<Vec<Delivery>>>,
}

impl WebhookSink {
    pub fn start(fail_first: usize) -> std::io::Result<WebhookSink> {
        use std::io::Read;
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let url = format!("http://{}/hooks/mamori", listener.local_addr()?);
        let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = std::sync::Arc::clone(&got);
        let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (seen, count) = (std::sync::Arc::clone(&seen), std::sync::Arc::clone(&count));
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream);
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let mut headers = std::collections::HashMap::new();
                        loop {
                            let mut h = String::new();
                            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                                return;
                            }
                            let h = h.trim_end();
                            if h.is_empty() {
                                break;
                            }
                            if let Some((k, v)) = h.split_once(':') {
                                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
                            }
                        }
                        let len: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
                        let mut body = vec![0; len];
                        if reader.read_exact(&mut body).is_err() {
                            return;
                        }
                        let n = count.fetch_add(1, Ordering::SeqCst);
                        seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push((headers, body));
                        let status = if n < fail_first { "500 Internal Server Error" } else { "200 OK" };
                        let answer = format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\n\r\n");
                        if reader.get_mut().write_all(answer.as_bytes()).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Ok(WebhookSink { url, got })
    }

    /// How many requests so far.
    pub fn count(&self) -> usize {
        self.got.lock().unwrap_or_else(std::sync::PoisonError::into_inner).len()
    }

    /// Every request so far, in order.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.got.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// The requests once there are at least `n`, or whatever there is after `timeout`.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Delivery> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.deliveries();
            if got.len() >= n || Instant::now() >= deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
