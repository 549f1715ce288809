//! `mamori serve` and `mamori institution add`.

use std::path::PathBuf;

use mamori_core::Clock;
use mamori_server::serve::{NotifyFile, Overrides, ServeConfig, Service, SmtpFile, init_logging, shutdown_signal};
use mamori_store::{InstitutionKind, Role, Store};

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Directory of the embedded store (created if missing).
    #[arg(long, env = "MAMORI_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, env = "MAMORI_LISTEN")]
    listen: Option<String>,
    /// Directory of rule packs (*.toml) and at most one features.toml; default: the built-in packs.
    #[arg(long, env = "MAMORI_RULES")]
    rules: Option<PathBuf>,
    /// Configuration file (TOML: data_dir, listen, rules, log_format, log_level, snapshot_every, [notify], [notify.smtp], [links]); flags and MAMORI_* variables override it.
    #[arg(long, env = "MAMORI_CONFIG")]
    config: Option<PathBuf>,
    /// Log format: text or json.
    #[arg(long, env = "MAMORI_LOG_FORMAT")]
    log_format: Option<String>,
    /// Log level or filter (info, debug, mamori_server=debug, ...).
    #[arg(long, env = "MAMORI_LOG_LEVEL")]
    log_level: Option<String>,
    /// New events between two snapshots of the feature state (0: only at shutdown); default 100000.
    #[arg(long, env = "MAMORI_SNAPSHOT_EVERY")]
    snapshot_every: Option<u64>,
    /// SMTP server for e-mail notices (notify.smtp.url): smtp://127.0.0.1:2525 (plain, a local relay), smtp://host:587?tls=required, smtps://host:465.
    #[arg(long, env = "MAMORI_SMTP_URL")]
    smtp_url: Option<String>,
    /// Whether events write customer notices (notify.enabled; default true).
    #[arg(long, env = "MAMORI_NOTIFY")]
    notify: Option<bool>,
}

#[derive(Debug, clap::Subcommand)]
pub enum InstitutionCommand {
    /// Register an institution; its new API key is printed once, alone on the last line.
    Add {
        /// The institution's id (1-64 characters of A-Z a-z 0-9 . _ -).
        id: String,
        /// What the institution is.
        #[arg(long, value_enum)]
        kind: KindArg,
        /// Directory of the embedded store.
        #[arg(long, env = "MAMORI_DATA_DIR", default_value = ServeConfig::DEFAULT_DATA_DIR)]
        data_dir: PathBuf,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum KeyCommand {
    /// Add a key with a role for an institution; the key is printed once, alone on the last
    /// line. The service reads keys when it starts: add them while it is stopped.
    Add {
        /// The institution (registered with `mamori institution add`).
        #[arg(long)]
        institution: String,
        /// integrator (sends events, runs the link flow), analyst (reads events, works
        /// cases), admin (partner controls, releases, webhooks, and all of the above).
        #[arg(long, value_enum)]
        role: RoleArg,
        /// Directory of the embedded store.
        #[arg(long, env = "MAMORI_DATA_DIR", default_value = ServeConfig::DEFAULT_DATA_DIR)]
        data_dir: PathBuf,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum RoleArg {
    Integrator,
    Analyst,
    Admin,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Self {
        match r {
            RoleArg::Integrator => Role::Integrator,
            RoleArg::Analyst => Role::Analyst,
            RoleArg::Admin => Role::Admin,
        }
    }
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum KindArg {
    Bank,
    Emoney,
    Broker,
    Exchange,
    Card,
}

impl From<KindArg> for InstitutionKind {
    fn from(k: KindArg) -> Self {
        match k {
            KindArg::Bank => InstitutionKind::Bank,
            KindArg::Emoney => InstitutionKind::Emoney,
            KindArg::Broker => InstitutionKind::Broker,
            KindArg::Exchange => InstitutionKind::Exchange,
            KindArg::Card => InstitutionKind::Card,
        }
    }
}

pub fn serve(a: ServeArgs) -> Result<(), Box<dyn std::error::Error>> {
    let over = Overrides {
        data_dir: a.data_dir,
        listen: a.listen,
        rules: a.rules,
        log_format: a.log_format,
        log_level: a.log_level,
        snapshot_every: a.snapshot_every,
        notify: Some(NotifyFile { enabled: a.notify, smtp: Some(SmtpFile { url: a.smtp_url, from: None }), ..NotifyFile::default() }),
        links: None,
        reimbursement: None,
    };
    let cfg = ServeConfig::resolve(a.config.as_deref(), over)?;
    init_logging(cfg.log_format, &cfg.log_level);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async {
        let service = Service::start(&cfg).await?;
        eprintln!("mamori: serving on http://{} (store {})", service.addr, cfg.data_dir.display());
        service.run(shutdown_signal()).await
    })?;
    Ok(())
}

pub fn institution(c: InstitutionCommand) -> Result<(), Box<dyn std::error::Error>> {
    match c {
        InstitutionCommand::Add { id, kind, data_dir } => {
            let kind = InstitutionKind::from(kind);
            let store = Store::open(&data_dir).map_err(|e| format!("store {}: {e}", data_dir.display()))?;
            let now = mamori_core::time::SystemClock.now().as_micros();
            let key = store.add_institution(&id, kind, now)?;
            store.close()?;
            println!("institution {id} ({kind}) registered; its API key, shown only this once:");
            println!("{}", key.expose());
            Ok(())
        }
    }
}

pub fn key(c: KeyCommand) -> Result<(), Box<dyn std::error::Error>> {
    match c {
        KeyCommand::Add { institution, role, data_dir } => {
            let role = Role::from(role);
            let store = Store::open(&data_dir).map_err(|e| format!("store {}: {e}", data_dir.display()))?;
            let now = mamori_core::time::SystemClock.now().as_micros();
            let key = store.add_key(&institution, role, now)?;
            store.close()?;
            println!("a {role} key for {institution}, shown only this once:");
            println!("{}", key.expose());
            Ok(())
        }
    }
}
