//! `mamori eval`: labelled traffic through the packs, and what it would have meant.

use std::io::BufReader;
use std::path::PathBuf;
use std::sync::Arc;

use mamori_core::event::EventSchema;
use mamori_server::Judge;
use mamori_server::serve::load_packs;

#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// A directory written by `mamori simulate` (events.ndjson and labels.csv).
    #[arg(long = "in", required_unless_present = "model_config")]
    input: Option<PathBuf>,
    /// Evaluate a learned model instead, by the handbook's protocol: the model config (as
    /// for `mamori train`), with --input, --train-from, --train-to and --weeks.
    #[arg(long, requires_all = ["events", "train_from", "train_to"], conflicts_with_all = ["input", "rules", "svg", "decisions"])]
    model_config: Option<PathBuf>,
    /// With --model-config: labelled events as CSV, mapped by the feature file's [input].
    #[arg(long = "input", requires = "model_config")]
    events: Option<String>,
    /// With --model-config: first day of the first training window (YYYY-MM-DD, UTC).
    #[arg(long, requires = "model_config")]
    train_from: Option<String>,
    /// With --model-config: day after the first training window.
    #[arg(long, requires = "model_config")]
    train_to: Option<String>,
    /// With --model-config: windows to evaluate, each a week after the one before.
    #[arg(long, default_value_t = 1, requires = "model_config")]
    weeks: usize,
    /// Rule packs to evaluate instead of the built-in ones (a directory, as for `serve`).
    #[arg(long)]
    rules: Option<PathBuf>,
    /// Where to write the score distributions (SVG); default: eval.svg in the input directory.
    #[arg(long)]
    svg: Option<PathBuf>,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Model the operator: release a tripped breaker this long after it tripped ("never" to keep it).
    #[arg(long, default_value = "1h")]
    release_after: String,
    /// Also write every decision as CSV (institution, id, scenario, fraud, step, decision, rules).
    #[arg(long)]
    decisions: Option<PathBuf>,
}

pub fn run(a: EvalArgs) -> Result<(), Box<dyn std::error::Error>> {
    if let (Some(config), Some(input), Some(from), Some(to)) = (&a.model_config, &a.events, &a.train_from, &a.train_to) {
        return crate::model_cmd::evaluate(config, input, from, to, a.weeks, a.json);
    }
    let Some(dir) = &a.input else { return Err("give --in DIR (simulated traffic) or --model-config FILE".into()) };
    let events = Arc::new(EventSchema::new());
    let packs = load_packs(a.rules.as_deref(), &events)?;
    let labels = mamori_eval::read_labels(&dir.join("labels.csv"))?;
    let path = dir.join("events.ndjson");
    let file = std::fs::File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut judge = Judge::new(packs, events);
    let release_after_us = match a.release_after.as_str() {
        "never" => None,
        s => Some(mamori_core::Span::parse(s).map_err(|e| format!("--release-after {s}: {e}"))?.as_micros()),
    };
    let opts = mamori_eval::Options { release_after_us };
    let mut out = match &a.decisions {
        Some(p) => {
            let mut w = csv::Writer::from_path(p).map_err(|e| format!("{}: {e}", p.display()))?;
            w.write_record(["institution", "id", "scenario", "fraud", "step", "decision", "rules"])?;
            Some(w)
        }
        None => None,
    };
    let mut failed = None;
    let report = mamori_eval::evaluate_with(&mut judge, BufReader::with_capacity(1 << 20, file), &labels, &opts, |l, action, rules| {
        if let Some(w) = out.as_mut()
            && let Err(e) =
                w.write_record([&l.institution, &l.id, &l.scenario, &l.fraud.to_string(), &l.step, action.as_str(), &rules.join(" ")])
        {
            failed.get_or_insert(e);
        }
    })?;
    if let Some(e) = failed {
        return Err(e.into());
    }
    if let Some(mut w) = out {
        w.flush()?;
    }
    let svg_path = a.svg.clone().unwrap_or_else(|| dir.join("eval.svg"));
    std::fs::write(&svg_path, mamori_eval::render_svg(&report)).map_err(|e| format!("{}: {e}", svg_path.display()))?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", mamori_eval::render_table(&report));
        println!("\nscore distributions: {}", svg_path.display());
    }
    Ok(())
}
