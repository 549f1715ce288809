//! `mamori demo`: the service on a temporary store, five institutions, a short scripted
//! day with one of each seed incident among honest traffic, all through the HTTP API,
//! and a readable account of what was decided; then weeks of simulated traffic
//! (`mamori simulate`) judged by the same packs, with what was stopped and what it cost
//! honest customers (`mamori eval`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use mamori_core::Clock;
use mamori_server::serve::{LogFormat, ServeConfig, Service, init_logging, shutdown_signal};
use mamori_store::{InstitutionKind, Store};
use serde_json::{Value, json};

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Exit after the summary instead of serving until Ctrl-C.
    #[arg(long)]
    once: bool,
    /// Address to listen on (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: String,
    /// Keep the store here instead of a temporary directory.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Seed of the simulated weeks shown after the story (as for `mamori simulate`).
    #[arg(long, default_value_t = 2026)]
    seed: u64,
    /// Days of simulated traffic.
    #[arg(long, default_value_t = 28)]
    days: u32,
    /// Size of the simulated world (1.0: a few thousand customers per incident).
    #[arg(long, default_value_t = 0.3)]
    scale: f64,
}

/// The institutions of the story: (id, kind).
const INSTITUTIONS: &[(&str, InstitutionKind)] = &[
    ("yamato-bank", InstitutionKind::Bank),
    ("pocket-pay", InstitutionKind::Emoney),
    ("sakura-sec", InstitutionKind::Broker),
    ("kumo-exchange", InstitutionKind::Exchange),
    ("tsubame-card", InstitutionKind::Card),
];

/// One step of the story: who sends it, which incident it belongs to (None: honest), the event.
struct Step {
    from: &'static str,
    incident: Option<&'static str>,
    event: Value,
}

const LINK: &str = "Link, then drain (Japan Post Bank / Docomo, 2020)";
const TAKEOVER: &str = "Takeover, then cash out (SBI Securities, 2020)";
const HOT: &str = "Hot wallet drain (Coincheck, 2018)";
const CARD: &str = "Card data used at once (GMO Payment Gateway, 2017)";

fn t(hhmmss: &str) -> String {
    format!("2026-11-21T{hhmmss}+09:00")
}

fn story() -> Vec<Step> {
    let mut s = Vec::new();
    let mut add = |from, incident, event| s.push(Step { from, incident, event });
    // Morning: honest customers.
    add(
        "yamato-bank",
        None,
        json!({"id":"b-001","type":"login","time":t("08:01:00"),"customer":"c-100","account":"a-100","success":true,"method":"passkey","device":"ph-100","ip":"198.51.100.10"}),
    );
    add(
        "yamato-bank",
        None,
        json!({"id":"b-002","type":"transfer","time":t("08:03:00"),"customer":"c-100","account":"a-100","direction":"out","counterparty":{"institution":"other-bank","account":"x-9"},"holder":{"name_kana":"サトウ ハナコ"},"amount":"45000"}),
    );
    add(
        "pocket-pay",
        None,
        json!({"id":"p-001","type":"account_opened","time":t("08:10:00"),"customer":"pc-1","account":"w-honest","kyc":"ic_chip","device":"ph-200","holder":{"name_kana":"スズキ イチロウ","birth_date":"1985-02-11"}}),
    );
    add(
        "yamato-bank",
        None,
        json!({"id":"b-003","type":"link_requested","time":t("08:20:00"),"customer":"c-200","account":"a-200","link":"L-honest","bank":{"institution":"yamato-bank","account":"a-200"},"wallet":{"institution":"pocket-pay","account":"w-honest"},"holder":{"name_kana":"ｽｽﾞｷ ｲﾁﾛｳ"},"auth":"passkey"}),
    );
    add("yamato-bank", None, json!({"id":"b-004","type":"link_verified","time":t("08:21:00"),"account":"a-200","link":"L-honest"}));
    add(
        "pocket-pay",
        None,
        json!({"id":"p-002","type":"charge","time":t("09:30:00"),"account":"w-honest","link":"L-honest","amount":"5000"}),
    );
    add(
        "sakura-sec",
        None,
        json!({"id":"s-001","type":"login","time":t("09:00:00"),"customer":"sc-1","account":"s-1","success":true,"method":"otp","device":"pc-1","ip":"198.51.100.20"}),
    );
    add(
        "sakura-sec",
        None,
        json!({"id":"s-002","type":"trade","time":t("09:05:00"),"customer":"sc-1","account":"s-1","side":"buy","instrument":"7203","quantity":"100","amount":"280000"}),
    );
    add(
        "kumo-exchange",
        None,
        json!({"id":"k-001","type":"wallet_balance","time":t("09:08:00"),"asset":"XEM","hot":"500000000","cold":"20000000","customer_total":"520000000"}),
    );
    add(
        "kumo-exchange",
        None,
        json!({"id":"k-002","type":"crypto_withdrawal","time":t("09:10:00"),"customer":"kc-1","account":"k-1","asset":"XEM","amount":"1200","wallet":{"id":"hot-1","tier":"hot"},"to_address":"NA-honest-1"}),
    );
    add(
        "tsubame-card",
        None,
        json!({"id":"c-001","type":"card_payment","time":t("10:00:00"),"card":"tok-honest","merchant":"m-bakery","terminal":"t-1","amount":"850"}),
    );

    // Link, then drain: one device opens wallets in three people's names, links a
    // victim's bank account with a PIN, and charges at once.
    for (i, name) in ["タナカ ヨシコ", "イトウ ケンジ", "ワタナベ フミ"].iter().enumerate() {
        add(
            "pocket-pay",
            Some(LINK),
            json!({"id":format!("p-x{i}"),"type":"account_opened","time":t(&format!("11:0{i}:00")),"customer":format!("px-{i}"),"account":format!("w-x{i}"),"kyc":"mail","device":"dev-crook","holder":{"name_kana":name,"birth_date":"1948-06-01"}}),
        );
    }
    add(
        "yamato-bank",
        Some(LINK),
        json!({"id":"b-x1","type":"link_requested","time":t("11:20:00"),"customer":"c-victim","account":"a-victim","link":"L-x","bank":{"institution":"yamato-bank","account":"a-victim"},"wallet":{"institution":"pocket-pay","account":"w-x2"},"holder":{"name_kana":"ワタナベ フミ"},"auth":"pin_only"}),
    );
    add("yamato-bank", Some(LINK), json!({"id":"b-x2","type":"link_verified","time":t("11:21:00"),"account":"a-victim","link":"L-x"}));
    for i in 0..4 {
        add(
            "pocket-pay",
            Some(LINK),
            json!({"id":format!("p-c{i}"),"type":"charge","time":t(&format!("11:3{i}:00")),"account":"w-x2","link":"L-x","amount":"49000"}),
        );
    }

    // Takeover, then cash out: credential stuffing from one address, one success from a
    // new device, a new payee, a large sale and a withdrawal of most of it.
    for i in 0..6 {
        add(
            "sakura-sec",
            Some(TAKEOVER),
            json!({"id":format!("s-f{i}"),"type":"login","time":t(&format!("12:0{i}:00")),"account":format!("s-v{i}"),"success":false,"method":"password","ip":"203.0.113.7","device":"bot-1"}),
        );
    }
    add(
        "sakura-sec",
        Some(TAKEOVER),
        json!({"id":"s-old","type":"login","time":"2026-11-01T09:00:00+09:00","customer":"sc-v","account":"s-v3","success":true,"method":"password","device":"pc-victim","ip":"198.51.100.30"}),
    );
    add(
        "sakura-sec",
        Some(TAKEOVER),
        json!({"id":"s-x1","type":"login","time":t("12:10:00"),"customer":"sc-v","account":"s-v3","success":true,"method":"password","device":"bot-2","ip":"203.0.113.8"}),
    );
    add(
        "sakura-sec",
        Some(TAKEOVER),
        json!({"id":"s-x2","type":"payee_registered","time":t("12:15:00"),"customer":"sc-v","account":"s-v3","payee":{"institution":"net-bank","account":"n-777"},"holder":{"name_kana":"コバヤシ マサオ"}}),
    );
    add(
        "sakura-sec",
        Some(TAKEOVER),
        json!({"id":"s-x3","type":"trade","time":t("12:20:00"),"customer":"sc-v","account":"s-v3","side":"sell","instrument":"9984","quantity":"300","amount":"2400000"}),
    );
    add(
        "sakura-sec",
        Some(TAKEOVER),
        json!({"id":"s-x4","type":"withdrawal","time":t("12:40:00"),"customer":"sc-v","account":"s-v3","payee":{"institution":"net-bank","account":"n-777"},"amount":"2300000"}),
    );

    // Hot wallet drain: large withdrawals to a new address, minutes apart.
    for i in 0..5 {
        add(
            "kumo-exchange",
            Some(HOT),
            json!({"id":format!("k-x{i}"),"type":"crypto_withdrawal","time":t(&format!("13:0{i}:30")),"account":"k-ops","asset":"XEM","amount":"10000000","wallet":{"id":"hot-1","tier":"hot"},"to_address":"NC-unknown-drain"}),
        );
    }

    // Card data used at once: card numbers from a leak tried at several shops in minutes.
    for (i, m) in ["m-a", "m-b", "m-c", "m-d", "m-e", "m-f"].iter().enumerate() {
        add(
            "tsubame-card",
            Some(CARD),
            json!({"id":format!("c-x{i}"),"type":"card_payment","time":t(&format!("14:0{i}:00")),"card":"tok-leaked-1","merchant":m,"terminal":format!("t-{m}"),"amount":"29800"}),
        );
    }
    s
}

/// What the demo found, per incident and overall.
#[derive(Default)]
struct Tally {
    outcomes: BTreeMap<String, u64>,
    stopped: BTreeMap<&'static str, (u64, u64, String)>,
    halted: std::collections::BTreeSet<&'static str>,
    highlights: Vec<(i64, String)>,
    card_refusal: String,
}

pub fn run(a: DemoArgs) -> Result<(), Box<dyn std::error::Error>> {
    init_logging(LogFormat::Text, "warn");
    let sim = mamori_sim::Config { scenarios: mamori_sim::Scenario::ALL.to_vec(), seed: a.seed, days: a.days, scale: a.scale };
    sim.check()?;
    let temp;
    let dir = match a.data_dir {
        Some(d) => d,
        None => {
            temp = TempStore::new()?;
            temp.0.clone()
        }
    };
    // Register the institutions before the service opens the store.
    let store = Store::open(&dir).map_err(|e| format!("store {}: {e}", dir.display()))?;
    let now = mamori_core::time::SystemClock.now().as_micros();
    let mut keys = BTreeMap::new();
    for (id, kind) in INSTITUTIONS {
        let key = store.add_institution(id, *kind, now)?;
        keys.insert(*id, key.expose().to_string());
    }
    store.close()?;
    let cfg = ServeConfig {
        data_dir: dir.clone(),
        listen: a.listen.parse().map_err(|e| format!("--listen {}: {e}", a.listen))?,
        rules: None,
        log_format: LogFormat::Text,
        log_level: "warn".into(),
        snapshot_every: mamori_server::detector::DEFAULT_SNAPSHOT_EVERY,
        notify: mamori_server::notices::NotifySettings::default(),
        smtp: None,
        reimbursement: mamori_server::detector::Reimbursement::default(),
    };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        let service = Service::start(&cfg).await?;
        let base = format!("http://{}", service.addr);
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(service.run(async move {
            let _ = stop_rx.await;
        }));
        let url = base.clone();
        let tally = tokio::task::spawn_blocking(move || play(&url, &keys)).await.map_err(|e| e.to_string())??;
        print_summary(&tally, &base);
        let weeks = tokio::task::spawn_blocking(move || simulated_weeks(&sim)).await.map_err(|e| e.to_string())??;
        print!("{weeks}");
        if a.once {
            let _ = stop_tx.send(());
        } else {
            println!("\nServing on {base} until Ctrl-C (try: curl {base}/metrics).");
            shutdown_signal().await;
            let _ = stop_tx.send(());
        }
        server.await.map_err(|e| e.to_string())?
    })?;
    Ok(())
}

/// Simulated traffic of the four incidents among their honest look-alikes, judged by
/// the built-in packs (the same judge the service runs), as `mamori eval` reports it.
fn simulated_weeks(config: &mamori_sim::Config) -> Result<String, String> {
    let (seed, days, scale) = (config.seed, config.days, config.scale);
    let sim = mamori_sim::generate(config);
    let labels = mamori_eval::parse_labels(sim.labels_csv().as_bytes(), "simulated labels").map_err(|e| e.to_string())?;
    let events = std::sync::Arc::new(mamori_core::event::EventSchema::new());
    let packs = mamori_server::Packs::builtin(&events).map_err(|e| e.to_string())?;
    let mut judge = mamori_server::Judge::new(packs, events);
    // The operator releases a tripped breaker an hour later, as `mamori eval` assumes.
    let opts = mamori_eval::Options { release_after_us: Some(3_600_000_000) };
    let report = mamori_eval::evaluate_with(&mut judge, std::io::Cursor::new(sim.events_ndjson()), &labels, &opts, |_, _, _| {})
        .map_err(|e| e.to_string())?;
    let mut out = format!(
        "\n{days} days of simulated traffic (mamori simulate --scenario all --seed {seed} --days {days} --scale {scale}): \
         {} events from {} institutions, judged by the same built-in packs:\n\n",
        sim.events.len(),
        sim.institutions.len()
    );
    out.push_str(&mamori_eval::render_scenarios(&report));
    let missed: Vec<&str> = report.scenarios.iter().filter(|s| !s.meets_targets()).map(|s| s.scenario.as_str()).collect();
    out.push_str("\nTargets (at least 99% of the fraud value stopped, at most 0.5% of honest money events held or blocked, at most 5% of honest events challenged): ");
    if missed.is_empty() {
        out.push_str("met in every scenario.\n");
    } else {
        out.push_str(&format!("NOT met in {}.\n", missed.join(", ")));
    }
    for c in &report.compromised {
        out.push_str(&format!(
            "Compromised point of purchase found from the fraud reports: {} (breach {} to {}, {} reported cards paid there).\n",
            c.merchant, c.breach_from, c.breach_to, c.reported_cards
        ));
    }
    out.push_str(&format!(
        "Per rule: mamori simulate --scenario all --seed {seed} --days {days} --scale {scale} --out sim && mamori eval --in sim\n"
    ));
    Ok(out)
}

fn play(base: &str, keys: &BTreeMap<&str, String>) -> Result<Tally, String> {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut tally = Tally::default();
    let post = |from: &str, body: &Value| -> Result<(u16, Value), String> {
        let mut resp = agent
            .post(&format!("{base}/v1/events"))
            .header("Authorization", &format!("Bearer {}", keys[from]))
            .content_type("application/json")
            .send(body.to_string())
            .map_err(|e| format!("POST /v1/events: {e}"))?;
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().map_err(|e| e.to_string())?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    };
    // The leak itself: a card number sent where a token belongs is refused, never stored.
    let pan = json!({"id":"c-pan","type":"card_payment","time":t("13:59:00"),"card":"4111111111111111","merchant":"m-a","terminal":"t-m-a","amount":"29800"});
    let (status, problem) = post("tsubame-card", &pan)?;
    let refused = problem["errors"].get(0).and_then(|e| e["reason"].as_str()).unwrap_or("").to_string();
    tally.card_refusal = format!("a raw card number sent as `card` was refused with {status}, nothing stored: {refused}");
    // Institutions report in time order (late reports beyond the lateness do not update state).
    let mut steps = story();
    steps.sort_by_key(|s| {
        s.event["time"].as_str().map(|t| mamori_core::Timestamp::parse_rfc3339(t).map_or(0, |t| t.as_micros())).unwrap_or(0)
    });
    let n = steps.len();
    for step in steps {
        let (status, d) = post(step.from, &step.event)?;
        if status != 200 {
            return Err(format!("event {} got {status}: {d}", step.event["id"]));
        }
        let decision = d["decision"].as_str().unwrap_or("?").to_string();
        *tally.outcomes.entry(decision.clone()).or_default() += 1;
        if let Some(incident) = step.incident {
            let entry = tally.stopped.entry(incident).or_insert((0, 0, String::new()));
            let amount: u64 = step.event["amount"].as_str().and_then(|a| a.parse().ok()).unwrap_or(0);
            // A challenge goes to the customer's registered channel, which the fraudster
            // does not hold: once a step of an incident is not allowed, what follows of it
            // would not have happened.
            if decision != "allow" {
                tally.halted.insert(incident);
            }
            if amount > 0 && tally.halted.contains(incident) {
                entry.0 += amount;
                entry.1 += 1;
                if entry.2.is_empty() {
                    entry.2 = step.event["currency"].as_str().or(step.event["asset"].as_str()).unwrap_or("JPY").to_string();
                }
            }
            let score = d["score"].as_i64().unwrap_or(0);
            if decision != "allow" {
                let reasons: Vec<String> = d["reasons"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|r| format!("{}: {}", r["rule"].as_str().unwrap_or(""), r["detail"].as_str().unwrap_or("")))
                    .collect();
                let line = format!(
                    "{} {} → {decision} (score {score})\n      {}",
                    step.event["type"].as_str().unwrap_or(""),
                    step.event["id"].as_str().unwrap_or(""),
                    reasons.join("\n      ")
                );
                tally.highlights.push((score, format!("{incident}\n    {line}")));
            }
        }
    }
    tally.outcomes.insert("events sent".into(), n as u64);
    Ok(tally)
}

fn print_summary(tally: &Tally, base: &str) {
    println!("mamori demo: a simulated day through {base}\n");
    let sent = tally.outcomes.get("events sent").copied().unwrap_or(0);
    println!("{sent} events from 5 institutions (a bank, an e-money service, a broker, an exchange, a card acquirer)");
    for d in ["allow", "challenge", "hold", "block"] {
        println!("  {d:<9} {}", tally.outcomes.get(d).copied().unwrap_or(0));
    }
    println!("\nMoney stopped per incident (held, blocked, or after a step the fraudster could not pass):");
    for incident in [LINK, TAKEOVER, HOT, CARD] {
        let (amount, events, unit) = tally.stopped.get(incident).cloned().unwrap_or_default();
        let unit = if unit.is_empty() { "JPY".to_string() } else { unit };
        println!("  {incident}: {amount} {unit} in {events} event{}", if events == 1 { "" } else { "s" });
    }
    println!("\nThe most important decision of each incident:");
    for incident in [LINK, TAKEOVER, HOT, CARD] {
        let best = tally.highlights.iter().filter(|(_, l)| l.starts_with(incident)).max_by_key(|(score, _)| *score);
        match best {
            Some((_, line)) => println!("  - {line}"),
            None => println!("  - {incident}\n    nothing was held or challenged"),
        }
    }
    println!("  - {CARD}\n    {}", tally.card_refusal);
}

/// A temporary directory removed when dropped.
struct TempStore(PathBuf);

impl TempStore {
    fn new() -> std::io::Result<TempStore> {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        let dir = std::env::temp_dir().join(format!("mamori-demo-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        Ok(TempStore(dir))
    }
}

impl Drop for TempStore {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
