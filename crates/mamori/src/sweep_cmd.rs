//! `mamori sweep`: history through today's packs, and the victims nobody noticed.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use mamori_core::Timestamp;
use mamori_core::event::EventSchema;
use mamori_server::scorer::Scorer;
use mamori_server::serve::load_packs;
use mamori_sweep::report;
use mamori_sweep::zengin_events::ZenginOptions;
use mamori_sweep::{Context, Input, Mapping, OnError, Options, Phase};

use crate::OnErrorArg;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum MinAction {
    Hold,
    Challenge,
}

#[derive(Debug, clap::Args)]
pub struct SweepArgs {
    /// Rule packs to sweep with (a directory, as for `serve`); default: the built-in packs.
    #[arg(long)]
    rules: Option<PathBuf>,
    /// A feature file to use in place of the --rules directory's features.toml.
    #[arg(long, requires = "rules")]
    features: Option<PathBuf>,
    /// History: NDJSON in the v1 contract, CSV (with --mapping), Parquet (with --mapping) or
    /// Zengin transfer files; the format from the name (.ndjson, .csv, .parquet, .zengin;
    /// .gz read directly) or written before it (`zengin:FILE`). In any order of time.
    #[arg(long, num_args = 1.., required = true)]
    input: Vec<String>,
    /// The column mapping of CSV and Parquet inputs: a feature file, or a file with only its [input] section.
    #[arg(long)]
    mapping: Option<PathBuf>,
    /// First day to report (YYYY-MM-DD, Japan time). Earlier events only build state.
    #[arg(long)]
    from: String,
    /// Last day to report (YYYY-MM-DD, Japan time, included). Later events are left out.
    #[arg(long)]
    to: String,
    /// Where to write findings, victims and the summary (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// A model from `mamori train` (model.json) to score with, as the service would.
    #[arg(long)]
    model: Option<PathBuf>,
    /// What to do with a record that cannot be read: report it and go on, or stop.
    #[arg(long, value_enum, default_value_t = OnErrorArg::Skip)]
    on_error: OnErrorArg,
    /// The weakest decision that makes a finding: hold (held or blocked), or challenge to
    /// list also what would have needed strong authentication.
    #[arg(long, value_enum, default_value_t = MinAction::Hold)]
    min_action: MinAction,
    /// Threads that judge (default: the machine's cores, or one on a machine of two cores
    /// or fewer). One judge has the features of its events computed a batch ahead on a
    /// thread of its own, which keeps two cores busy: on two cores that does better than
    /// two judges, which must read the history twice to split it. A history in time order
    /// whose first events are mostly one set of entities (card payments, which the
    /// compromise analysis joins) is judged by one judge as it is read.
    #[arg(long)]
    threads: Option<usize>,
    /// Memory for sorting history that is not in time order, in MiB, before spilling to disk.
    #[arg(long, default_value_t = 512)]
    sort_memory: usize,
    /// The institution id of Zengin files' originating bank (default: its bank code).
    #[arg(long)]
    zengin_institution: Option<String>,
    /// The year of Zengin files' transfer dates (the records carry only month and day);
    /// default: the year that puts the date within --from..--to.
    #[arg(long)]
    zengin_year: Option<i16>,
    /// Queue a notice to every victim found (e-mail and the institution's webhook) in the
    /// outbox of the store in --data-dir; a finding is never notified twice. The service
    /// delivers them; it must not be running during the sweep.
    #[arg(long)]
    notify: bool,
    /// The service's data directory, for --notify.
    #[arg(long, default_value = "mamori-data", requires = "notify")]
    data_dir: PathBuf,
}

fn day(s: &str, flag: &str) -> Result<jiff::civil::Date, String> {
    s.parse::<jiff::civil::Date>().map_err(|e| format!("{flag} {s:?}: give a date as YYYY-MM-DD ({e})"))
}

/// Midnight of `d` in Japan.
fn jst_midnight(d: jiff::civil::Date) -> Timestamp {
    let days = i64::from(d.since(jiff::civil::date(1970, 1, 1)).map(|s| s.get_days()).unwrap_or(0));
    Timestamp(days * 86_400_000_000 - 9 * 3_600_000_000)
}

pub fn run(a: SweepArgs, terminal: bool) -> Result<(), Box<dyn std::error::Error>> {
    let from_day = day(&a.from, "--from")?;
    let to_day = day(&a.to, "--to")?;
    if to_day < from_day {
        return Err(format!("--to {} is before --from {}", a.to, a.from).into());
    }
    let from = jst_midnight(from_day);
    let to = jst_midnight(to_day.tomorrow().map_err(|e| e.to_string())?);
    let events = Arc::new(EventSchema::new());
    let packs = match (&a.rules, &a.features) {
        (Some(dir), Some(features)) => {
            mamori_server::Packs::from_dir_with_features(dir, features, &events).map_err(|e| format!("rule packs refused:\n{e}"))?
        }
        _ => load_packs(a.rules.as_deref(), &events)?,
    };
    let model = match &a.model {
        None => None,
        Some(p) => {
            let bytes = std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?;
            Some(Arc::new(Scorer::from_bytes(&bytes, &packs.features).map_err(|e| format!("{}: {e}", p.display()))?))
        }
    };
    let inputs = a.input.iter().map(|s| Input::parse(s)).collect::<Result<Vec<_>, _>>()?;
    let mapping = a.mapping.as_deref().map(Mapping::load).transpose()?;
    let year = match a.zengin_year {
        Some(y) => Some(y),
        None if from_day.year() == to_day.year() => Some(from_day.year()),
        None => None,
    };
    let zengin = ZenginOptions { institution: a.zengin_institution.clone(), year, range: Some((from, to)) };
    let threads = a.threads.unwrap_or_else(|| default_threads(std::thread::available_parallelism().map_or(1, |n| n.get()))).max(1);
    std::fs::create_dir_all(&a.out).map_err(|e| format!("{}: {e}", a.out.display()))?;
    let opts = Options {
        inputs,
        context: Context { mapping, zengin },
        from,
        to,
        on_error: match a.on_error {
            OnErrorArg::Skip => OnError::Skip,
            OnErrorArg::Stop => OnError::Stop,
        },
        min_action: match a.min_action {
            MinAction::Hold => mamori_rules::Action::Hold,
            MinAction::Challenge => mamori_rules::Action::Challenge,
        },
        threads,
        spill_dir: a.out.join(".sort"),
        sort_budget: a.sort_memory.saturating_mul(1 << 20),
    };
    let bar = if terminal {
        let b = ProgressBar::new_spinner();
        b.set_style(
            ProgressStyle::with_template("{spinner} reading {human_pos} records  {per_sec}  {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        b.enable_steady_tick(Duration::from_millis(200));
        b
    } else {
        ProgressBar::hidden()
    };
    let judging = std::sync::OnceLock::new();
    let progress = |phase: Phase, done: u64, total: u64| match phase {
        Phase::Read => bar.set_position(done),
        Phase::Judge => {
            judging.get_or_init(|| {
                bar.set_length(total);
                bar.set_position(0);
                bar.reset_eta();
                bar.set_style(
                    ProgressStyle::with_template("{bar:30} judged {human_pos}/{human_len} events  {per_sec}  ETA {eta}")
                        .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
            });
            bar.set_position(done);
        }
    };
    let outcome = mamori_sweep::run(&packs, &events, model, &opts, &progress);
    bar.finish_and_clear();
    let _ = std::fs::remove_dir(&opts.spill_dir);
    let outcome = outcome?;
    let victims = report::victims(&outcome);
    let months = report::months_between(from_day, to_day);
    let summary = report::summarize(&outcome, packs.rules.id(), &a.from, &a.to, &months, victims.len());
    report::write_all(&a.out, &outcome, &summary, &victims).map_err(|e| format!("{}: {e}", a.out.display()))?;
    let s = &outcome.stats;
    for e in s.errors.iter().take(20) {
        eprintln!("rejected: {e}");
    }
    if s.rejected > 20 {
        eprintln!("rejected: {} more (the first {} are in summary.json)", s.rejected - 20, s.errors.len().min(1000));
    }
    let took = if s.one_reading {
        format!("in one reading of {:.1} s", s.judge_secs)
    } else {
        format!("in {:.1} s + {:.1} s", s.read_secs, s.judge_secs)
    };
    let sets = match (s.entities, s.sets, s.largest_share) {
        (Some(e), Some(n), Some(share)) => {
            let sets = if n == 1 { "one set" } else { &format!("{n} sets") };
            format!(" ({e} entities in {sets}, the largest {:.1}% of events)", share * 100.0)
        }
        _ => String::new(),
    };
    println!(
        "{} records read ({} rejected), {} events replayed {took} on {} thread(s){sets}",
        s.records,
        s.rejected,
        s.replayed,
        s.load.len(),
    );
    println!(
        "{} findings ({} held, {} blocked, {} challenged) from {} to {}, {} customers affected",
        summary.all.findings,
        summary.all.held,
        summary.all.blocked,
        summary.all.challenged,
        a.from,
        a.to,
        victims.len()
    );
    if a.notify {
        let now = mamori_core::Clock::now(&mamori_core::time::SystemClock);
        let q = mamori_sweep::outreach::queue(&a.data_dir, &outcome, now)?;
        println!(
            "notices queued in {} for {} findings ({} outbox rows); {} notified before; {} reach no registered channel (see victims.csv)",
            a.data_dir.display(),
            q.findings,
            q.notices,
            q.already,
            q.unreachable
        );
    }
    println!(
        "written to {}: findings.csv, findings.ndjson, victims.csv, summary.json, summary.txt, findings-by-month.svg",
        a.out.display()
    );
    Ok(())
}

/// The judging threads on a machine of `cores` cores: one on two cores or fewer, where a
/// judge and the stage computing its features ahead of it keep both busy (and the history
/// is read once), otherwise one per core.
fn default_threads(cores: usize) -> usize {
    if cores <= 2 { 1 } else { cores }
}

#[cfg(test)]
mod threads {
    use super::default_threads;

    #[test]
    fn one_judge_on_two_cores_or_fewer() {
        assert_eq!([1, 2, 3, 8].map(default_threads), [1, 1, 3, 8]);
    }
}
