//! Running the service: configuration (defaults < file < `MAMORI_*` environment < flags),
//! start-up (store, packs, state rebuilt), reload on SIGHUP, graceful shutdown.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use mamori_core::event::EventSchema;
use mamori_core::time::SystemClock;
use mamori_core::{Clock, Span};
use mamori_store::Store;
use serde::Deserialize;

use crate::detector::{Detector, Reimbursement};
use crate::notices::{Courier, NotifySettings};
use crate::packs::Packs;
use crate::routes::{AppState, app};

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!("log format {other:?}: expected text or json")),
        }
    }
}

/// One layer of settings, every one optional: the configuration file (TOML; unknown keys
/// are refused), or what the command line and the environment give (clap merges the two).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Overrides {
    pub data_dir: Option<PathBuf>,
    pub listen: Option<String>,
    pub rules: Option<PathBuf>,
    pub log_format: Option<String>,
    pub log_level: Option<String>,
    pub snapshot_every: Option<u64>,
    /// `[notify]`: customer notices.
    pub notify: Option<NotifyFile>,
    /// `[links]`: the link flow.
    pub links: Option<LinksFile>,
    /// `[reimbursement]`: liability policy and deadline of claims.
    pub reimbursement: Option<ReimbursementFile>,
}

/// `[reimbursement]` of the configuration file.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReimbursementFile {
    /// A liability policy file (TOML, see `mamori-claims`); default: the built-in policy.
    pub policy: Option<PathBuf>,
    /// Business days in Japan to pay a claim (default 5).
    pub due_business_days: Option<u32>,
}

/// `[notify]` of the configuration file.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyFile {
    /// Whether events write notices (default true).
    pub enabled: Option<bool>,
    /// How long a "this wasn't me" code is valid (default `90d`).
    pub report_code_valid: Option<String>,
    /// How long an event's notices wait, at most, to be written with other events' (default
    /// `5ms`).
    pub outbox_delay: Option<String>,
    pub smtp: Option<SmtpFile>,
}

/// `[notify.smtp]`: the SMTP server notices are sent through.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpFile {
    /// `smtp://host:port` (plain, a local relay), `smtp://host:port?tls=required`, `smtps://host:port`.
    pub url: Option<String>,
    /// The sender, e.g. `Bank notices <notices@bank.example>`.
    pub from: Option<String>,
}

/// `[links]` of the configuration file.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinksFile {
    /// How long a link's code is valid (default `5m`).
    pub code_valid: Option<String>,
}

/// The validated configuration of `mamori serve`.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    /// `None`: the built-in packs.
    pub rules: Option<PathBuf>,
    pub log_format: LogFormat,
    pub log_level: String,
    /// New events between two snapshots of the feature state (0: only at shutdown).
    pub snapshot_every: u64,
    pub notify: NotifySettings,
    /// The SMTP server's URL and the sender; `None`: e-mail notices wait in the outbox.
    pub smtp: Option<(String, String)>,
    pub reimbursement: Reimbursement,
}

/// The sender of notices unless configured.
pub const DEFAULT_FROM: &str = "mamori notices <notices@mamori.invalid>";

fn span(what: &str, text: Option<String>, default: Span) -> Result<Span, String> {
    match text {
        None => Ok(default),
        Some(t) => match Span::parse(&t) {
            Ok(s) if s.0 > 0 => Ok(s),
            _ => Err(format!("{what} {t:?}: expected a positive span such as 90s, 5m, 24h or 90d")),
        },
    }
}

impl ServeConfig {
    pub const DEFAULT_DATA_DIR: &'static str = "./mamori-data";
    pub const DEFAULT_LISTEN: &'static str = "127.0.0.1:7878";

    /// Layers `over` (flags, then environment) on the file at `file` (if any) on the defaults,
    /// and validates the result.
    pub fn resolve(file: Option<&Path>, over: Overrides) -> Result<ServeConfig, String> {
        let fc: Overrides = match file {
            None => Overrides::default(),
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
                toml::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))?
            }
        };
        let listen_text = over.listen.or(fc.listen).unwrap_or_else(|| Self::DEFAULT_LISTEN.to_string());
        let listen: SocketAddr =
            listen_text.parse().map_err(|_| format!("listen address {listen_text:?}: expected IP:PORT such as 127.0.0.1:7878"))?;
        let log_format = over.log_format.or(fc.log_format).map_or(Ok(LogFormat::Text), |s| s.parse())?;
        let log_level = over.log_level.or(fc.log_level).unwrap_or_else(|| "info".to_string());
        tracing_subscriber::EnvFilter::try_new(&log_level).map_err(|e| format!("log level {log_level:?}: {e}"))?;
        let rules = over.rules.or(fc.rules);
        if let Some(r) = &rules
            && !r.is_dir()
        {
            return Err(format!("rules {}: not a directory", r.display()));
        }
        let (nf, lf) = (fc.notify.unwrap_or_default(), fc.links.unwrap_or_default());
        let (no, lo) = (over.notify.unwrap_or_default(), over.links.unwrap_or_default());
        let defaults = NotifySettings::default();
        let notify = NotifySettings {
            enabled: no.enabled.or(nf.enabled).unwrap_or(true),
            code_valid: span("links.code_valid", lo.code_valid.or(lf.code_valid), defaults.code_valid)?,
            report_code_valid: span("notify.report_code_valid", no.report_code_valid.or(nf.report_code_valid), defaults.report_code_valid)?,
            outbox_delay: std::time::Duration::from_micros(
                span("notify.outbox_delay", no.outbox_delay.or(nf.outbox_delay), Span(defaults.outbox_delay.as_micros() as i64))?.0 as u64,
            ),
        };
        let (smtp_f, smtp_o) = (nf.smtp.unwrap_or_default(), no.smtp.unwrap_or_default());
        let from = smtp_o.from.or(smtp_f.from).unwrap_or_else(|| DEFAULT_FROM.to_string());
        let smtp = smtp_o.url.or(smtp_f.url).filter(|u| !u.is_empty()).map(|u| (u, from));
        if let Some((url, from)) = &smtp {
            mamori_notify::Mailer::new(url, from).map_err(|e| format!("notify.smtp: {e}"))?;
        }
        let rf = over.reimbursement.or(fc.reimbursement).unwrap_or_default();
        let mut reimbursement = Reimbursement::default();
        if let Some(p) = &rf.policy {
            let text = std::fs::read_to_string(p).map_err(|e| format!("reimbursement.policy {}: {e}", p.display()))?;
            let policy = mamori_claims::PolicySet::from_toml(&text).map_err(|e| format!("reimbursement.policy {}: {e}", p.display()))?;
            reimbursement.policy = Arc::new(policy);
        }
        if let Some(d) = rf.due_business_days {
            reimbursement.due_business_days = d;
        }
        Ok(ServeConfig {
            notify,
            smtp,
            reimbursement,
            data_dir: over.data_dir.or(fc.data_dir).unwrap_or_else(|| PathBuf::from(Self::DEFAULT_DATA_DIR)),
            listen,
            rules,
            log_format,
            log_level,
            snapshot_every: over.snapshot_every.or(fc.snapshot_every).unwrap_or(crate::detector::DEFAULT_SNAPSHOT_EVERY),
        })
    }
}

/// Installs the global log subscriber (once per process).
pub fn init_logging(format: LogFormat, level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(level).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Loads the packs a configuration names.
pub fn load_packs(rules: Option<&Path>, events: &EventSchema) -> Result<Packs, String> {
    match rules {
        Some(dir) => Packs::from_dir(dir, events).map_err(|e| format!("rule packs refused:\n{e}")),
        None => Packs::builtin(events).map_err(|e| format!("built-in packs refused:\n{e}")),
    }
}

/// A started service: store open, state rebuilt, port bound.
#[derive(Debug)]
pub struct Service {
    pub addr: SocketAddr,
    state: AppState,
    listener: tokio::net::TcpListener,
    rules: Option<PathBuf>,
    events: Arc<EventSchema>,
    courier: Courier,
}

impl Service {
    /// Opens the store, compiles the packs, rebuilds the feature state and binds the port.
    /// Nothing listens if any of it fails.
    pub async fn start(cfg: &ServeConfig) -> Result<Service, String> {
        let events = Arc::new(EventSchema::new());
        let packs = load_packs(cfg.rules.as_deref(), &events)?;
        let store = Store::open(&cfg.data_dir).map_err(|e| format!("store {}: {e}", cfg.data_dir.display()))?;
        let started = Instant::now();
        let ruleset = packs.rules.id().to_string();
        let (detector, rebuilt) = Detector::open_with(store, packs, Arc::clone(&events), cfg.notify.clone())?;
        detector.set_snapshot_every(cfg.snapshot_every);
        detector.set_reimbursement(cfg.reimbursement.clone());
        let seq = detector.record_ruleset("start", SystemClock.now()).map_err(|e| e.to_string())?;
        detector.store().wait_durable(seq).map_err(|e| e.to_string())?;
        match detector.load_model()? {
            Some(m) => tracing::info!(model = %m.id, trained_from = %m.trained_from, trained_to = %m.trained_to, "model loaded"),
            None => tracing::info!("no model in the data directory; model.score is null"),
        }
        tracing::info!(
            snapshot_seq = rebuilt.snapshot_seq,
            events = rebuilt.events,
            notices_planned_again = rebuilt.replanned,
            millis = started.elapsed().as_millis() as u64,
            ruleset = %ruleset,
            "feature state rebuilt from the store"
        );
        let listener = tokio::net::TcpListener::bind(cfg.listen).await.map_err(|e| format!("listen on {}: {e}", cfg.listen))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let clock: Arc<dyn mamori_core::Clock> = Arc::new(SystemClock);
        let mailer = match &cfg.smtp {
            Some((url, from)) => Some(mamori_notify::Mailer::new(url, from)?),
            None => {
                tracing::info!("no SMTP server configured (notify.smtp.url, MAMORI_SMTP_URL): e-mail notices wait in the outbox");
                None
            }
        };
        let courier = Courier::new(detector.store().clone(), mailer, Arc::clone(&clock), detector.wake())?;
        let state = AppState::new(detector, clock);
        Ok(Service { addr, state, listener, rules: cfg.rules.clone(), events, courier })
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then finishes the requests in flight and closes
    /// the store. SIGHUP reloads the packs.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> Result<(), String> {
        let Service { addr, state, listener, rules, events, courier } = self;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        // The courier has a runtime of its own: deliveries never wait for, nor hold up, a
        // worker thread that answers requests.
        // It also runs at a lower priority, it and the threads it starts (Linux's idle
        // class): when the cores are busy, delivery waits and decisions do not.
        let courier = std::thread::Builder::new()
            .name("mamori-courier".into())
            .spawn(move || {
                match lower_this_thread_priority() {
                    Ok(priority) => tracing::debug!(?priority, "courier scheduled"),
                    Err(e) => tracing::warn!(error = %e, "the courier runs at the requests' priority"),
                }
                match tokio::runtime::Builder::new_current_thread().thread_name("mamori-courier-io").enable_all().build() {
                    Ok(rt) => rt.block_on(courier.run(stopped)),
                    Err(e) => tracing::error!(error = %e, "no runtime for the courier: notices wait in the outbox"),
                }
            })
            .map_err(|e| format!("courier thread: {e}"))?;
        #[cfg(unix)]
        {
            let state = state.clone();
            if let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
                tokio::spawn(async move {
                    while hup.recv().await.is_some() {
                        reload(&state, rules.as_deref(), &events);
                    }
                });
            }
        }
        tracing::info!(%addr, "listening");
        axum::serve(listener, app(state.clone())).with_graceful_shutdown(shutdown).await.map_err(|e| e.to_string())?;
        tracing::info!("stopped taking requests; saving a snapshot and closing the store");
        let _ = stop.send(true);
        let _ = tokio::task::spawn_blocking(move || courier.join()).await;
        if let Err(e) = state.detector().snapshot_now() {
            tracing::warn!(error = %e, "no snapshot at shutdown; the next start replays the events");
        }
        let store = state.detector().store().clone();
        drop(state);
        store.close().map_err(|e| e.to_string())
    }
}

/// How much lower than the threads that answer requests the courier runs, as a nice
/// value, where the idle class is refused: at 10 the scheduler gives it about a tenth of
/// the share of a request thread when both want a core.
pub const COURIER_NICE: i32 = 10;

/// How the courier's threads are scheduled, as [`lower_this_thread_priority`] left them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CourierPriority {
    #[cfg(target_os = "linux")]
    /// Linux's idle class (`SCHED_IDLE`): the courier runs only on cycles that no other
    /// thread wants, and a request thread that wakes takes its core at once.
    Idle,
    #[cfg(target_os = "linux")]
    /// Nice +[`COURIER_NICE`], where the idle class is refused.
    Nice,
    #[cfg(not(target_os = "linux"))]
    /// Unchanged (not Linux).
    Unchanged,
}

/// Lowers the calling thread's scheduling priority; threads it starts inherit it (on Linux
/// the policy and the nice value belong to the thread). On Linux it takes the idle class,
/// or else nice +[`COURIER_NICE`]. Elsewhere it does nothing.
fn lower_this_thread_priority() -> std::io::Result<CourierPriority> {
    #[cfg(target_os = "linux")]
    {
        use thread_priority::unix::{NormalThreadSchedulePolicy, ThreadSchedulePolicy, set_thread_priority_and_policy, thread_native_id};
        let idle = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
        if set_thread_priority_and_policy(thread_native_id(), thread_priority::ThreadPriority::Min, idle).is_ok() {
            return Ok(CourierPriority::Idle);
        }
        let tid = Some(rustix::thread::gettid());
        let now = rustix::process::getpriority_process(tid)?;
        rustix::process::setpriority_process(tid, (now + COURIER_NICE).min(19))?;
        Ok(CourierPriority::Nice)
    }
    #[cfg(not(target_os = "linux"))]
    Ok(CourierPriority::Unchanged)
}

/// Recompiles the packs and swaps them in, or keeps the old ones and says why; then the
/// same for the model file of the data directory.
pub fn reload(state: &AppState, rules: Option<&Path>, events: &EventSchema) {
    match load_packs(rules, events).and_then(|p| {
        let id = p.rules.id().to_string();
        state.detector().reload(p).map(|r| (id, r))
    }) {
        Ok((id, rebuilt)) => {
            tracing::info!(ruleset = %id, rebuilt_events = rebuilt.events, "packs reloaded");
            if let Err(e) = state.detector().record_ruleset("reload", SystemClock.now()) {
                tracing::error!(error = %e, "the reload was not recorded");
            }
        }
        Err(e) => tracing::error!(error = %e, "packs not reloaded; the previous ones stay in use"),
    }
    match state.detector().load_model() {
        Ok(Some(m)) => tracing::info!(model = %m.id, "model loaded"),
        Ok(None) => tracing::info!("no model in the data directory; model.score is null"),
        Err(e) => tracing::error!(error = %e, "model not loaded; the previous one stays in use"),
    }
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, text: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("mamori-serve-cfg-{}-{name}", std::process::id()));
        std::fs::write(&p, text).unwrap();
        p
    }

    /// The calling thread's scheduling policy and nice value, from the kernel's own account.
    #[cfg(target_os = "linux")]
    fn scheduling_of_this_thread() -> (u32, i32) {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
        // After the command name in parentheses: state is field 3, nice field 19, policy 41.
        let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 1..].split_whitespace().collect();
        (fields[38].parse().unwrap(), fields[16].parse().unwrap())
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_courier_thread_and_those_it_starts_run_in_the_idle_class() {
        const SCHED_IDLE: u32 = 5;
        let before = scheduling_of_this_thread();
        let (priority, lowered, child) = std::thread::spawn(|| {
            let priority = lower_this_thread_priority().unwrap();
            (priority, scheduling_of_this_thread(), std::thread::spawn(scheduling_of_this_thread).join().unwrap())
        })
        .join()
        .unwrap();
        assert_eq!(priority, CourierPriority::Idle);
        assert_eq!(lowered.0, SCHED_IDLE, "{lowered:?}");
        assert_eq!(child, lowered, "a thread started by the courier inherits its class");
        assert_eq!(scheduling_of_this_thread(), before, "only the calling thread is lowered");
    }

    #[test]
    fn flags_over_file_over_defaults() {
        let cfg = ServeConfig::resolve(None, Overrides::default()).unwrap();
        assert_eq!(cfg.listen.to_string(), ServeConfig::DEFAULT_LISTEN);
        assert_eq!(cfg.data_dir, PathBuf::from(ServeConfig::DEFAULT_DATA_DIR));
        assert_eq!(cfg.log_format, LogFormat::Text);

        let p = file("layered.toml", "listen = \"127.0.0.1:9000\"\ndata_dir = \"/var/lib/mamori\"\nlog_format = \"json\"\n");
        let cfg = ServeConfig::resolve(Some(&p), Overrides::default()).unwrap();
        assert_eq!(cfg.listen.port(), 9000);
        assert_eq!(cfg.data_dir, PathBuf::from("/var/lib/mamori"));
        assert_eq!(cfg.log_format, LogFormat::Json);
        let over = Overrides { listen: Some("0.0.0.0:7000".into()), ..Overrides::default() };
        let cfg = ServeConfig::resolve(Some(&p), over).unwrap();
        assert_eq!(cfg.listen.port(), 7000);
        assert_eq!(cfg.data_dir, PathBuf::from("/var/lib/mamori"));
        let _ = std::fs::remove_file(p);
    }

    #[test]
    fn bad_configuration_is_refused_at_start() {
        let p = file("unknown.toml", "listen = \"127.0.0.1:9000\"\nlisten_port = 3\n");
        let e = ServeConfig::resolve(Some(&p), Overrides::default()).unwrap_err();
        assert!(e.contains("unknown field `listen_port`"), "{e}");
        let p2 = file("broken.toml", "listen = \n");
        assert!(ServeConfig::resolve(Some(&p2), Overrides::default()).is_err());
        let bad = |o: Overrides| ServeConfig::resolve(None, o).unwrap_err();
        assert!(bad(Overrides { listen: Some("localhost".into()), ..Overrides::default() }).contains("IP:PORT"));
        assert!(bad(Overrides { log_format: Some("xml".into()), ..Overrides::default() }).contains("text or json"));
        assert!(bad(Overrides { log_level: Some("[".into()), ..Overrides::default() }).contains("log level"));
        assert!(bad(Overrides { rules: Some("/nonexistent-rules".into()), ..Overrides::default() }).contains("not a directory"));
        assert!(ServeConfig::resolve(Some(Path::new("/nonexistent.toml")), Overrides::default()).is_err());
        // A liability policy is read and checked at start.
        let policy = file("policy.toml", "[[rule]]\nkinds = [\"bank\", \"emoney\"]\nsplit = { bank = \"0.5\", emoney = \"0.4\" }\n");
        let cfg =
            file("with-policy.toml", &format!("[reimbursement]\npolicy = {:?}\ndue_business_days = 3\n", policy.display().to_string()));
        let e = ServeConfig::resolve(Some(&cfg), Overrides::default()).unwrap_err();
        assert!(e.contains("reimbursement.policy"), "{e}");
        std::fs::write(&policy, "[[rule]]\nkinds = [\"bank\", \"emoney\"]\nsplit = { bank = \"0.7\", emoney = \"0.3\" }\n").unwrap();
        let ok = ServeConfig::resolve(Some(&cfg), Overrides::default()).unwrap();
        assert_eq!(ok.reimbursement.due_business_days, 3);
        let bad_span = file("span.toml", "[links]\ncode_valid = \"0s\"\n");
        assert!(ServeConfig::resolve(Some(&bad_span), Overrides::default()).unwrap_err().contains("links.code_valid"));
        let bad_delay = file("delay.toml", "[notify]\noutbox_delay = \"soon\"\n");
        assert!(ServeConfig::resolve(Some(&bad_delay), Overrides::default()).unwrap_err().contains("notify.outbox_delay"));
        let delay = file("delay-ok.toml", "[notify]\noutbox_delay = \"250ms\"\n");
        let resolved = ServeConfig::resolve(Some(&delay), Overrides::default()).unwrap();
        assert_eq!(resolved.notify.outbox_delay, std::time::Duration::from_millis(250));
        for f in [policy, cfg, bad_span, bad_delay, delay] {
            let _ = std::fs::remove_file(f);
        }
        for f in [p, p2] {
            let _ = std::fs::remove_file(f);
        }
    }
}
