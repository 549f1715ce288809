//! The `mamori` command. Thin: it parses arguments and calls the library crates.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// mimalloc: the sweep, the feature engine and the service allocate small objects on
/// several threads at once, where it is measurably faster than the system allocator
/// (`docs/benchmarks.md`, the sweep).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod audit_cmd;
mod breaker_cmd;
mod demo;
mod eval_cmd;
mod features_cmd;
mod model_cmd;
mod packs_cmd;
mod reimburse_cmd;
mod serve_cmd;
mod simulate_cmd;
mod sweep_cmd;

/// mamori: a shared abnormal-transaction detection network.
#[derive(Debug, Parser)]
#[command(name = "mamori", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Compute declared features for every input row and write them as CSV.
    Features(FeaturesArgs),
    /// Run the decision service (the v1 HTTP contract) on the embedded store.
    Serve(serve_cmd::ServeArgs),
    /// Look at and release the circuit breakers your events tripped (through the running service).
    #[command(subcommand)]
    Breaker(breaker_cmd::BreakerCommand),
    /// Manage the institutions allowed to send events.
    #[command(subcommand)]
    Institution(serve_cmd::InstitutionCommand),
    /// Reimbursement claims: export them for a report.
    #[command(subcommand)]
    Reimbursements(reimburse_cmd::ReimbursementsCommand),
    /// Manage an institution's API keys and their roles.
    #[command(subcommand)]
    Key(serve_cmd::KeyCommand),
    /// Check the audit chain of the store's events: nothing removed or edited.
    #[command(subcommand)]
    Audit(audit_cmd::AuditCommand),
    /// The first command to run: a service on a temporary store, five institutions, a
    /// scripted day with one of each seed incident, what mamori decided, then a simulated
    /// month judged by the same packs.
    Demo(demo::DemoArgs),
    /// Run labelled traffic (from `mamori simulate`) through the rule packs and report the
    /// fraud value stopped and the honest customers held or challenged.
    Eval(eval_cmd::EvalArgs),
    /// Replay history (years of it, in any order, from NDJSON, CSV, Parquet or Zengin
    /// files) through today's packs as of each event's own time, and list every event that
    /// would have been held or blocked and every customer affected.
    Sweep(sweep_cmd::SweepArgs),
    /// Write labelled synthetic traffic of the seed incidents (events, labels, institutions, summary).
    Simulate(simulate_cmd::SimulateArgs),
    /// Train a model of fraud labels on the features a feature file declares.
    Train(model_cmd::TrainArgs),
    /// Score every row of an input with a model from `mamori train`.
    Score(model_cmd::ScoreArgs),
    /// The built-in feature and rule packs: export them as files, or check a pack directory.
    #[command(subcommand)]
    Packs(packs_cmd::PacksCommand),
}

#[derive(Debug, clap::Args)]
struct FeaturesArgs {
    /// The feature file (TOML).
    #[arg(long)]
    config: String,
    /// Events: CSV (mapped by the config's [input]) or NDJSON in the v1 contract; `.gz` is read directly; `-` is standard input.
    #[arg(long)]
    input: String,
    /// Where to write the features (CSV); `-` is standard output.
    #[arg(long)]
    output: String,
    /// What to do with a malformed row.
    #[arg(long, value_enum, default_value_t = OnErrorArg::Skip)]
    on_error: OnErrorArg,
    /// The input format, if the file name does not tell.
    #[arg(long, value_enum)]
    format: Option<FormatArg>,
    /// Compute event by event even where the whole-file path could be used: memory stays
    /// bounded by the windows' state instead of growing with the file.
    #[arg(long)]
    streaming: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum OnErrorArg {
    Skip,
    Stop,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum FormatArg {
    Csv,
    Ndjson,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Features(a) => features_cmd::run(&a, std::io::stderr().is_terminal()),
        Command::Serve(a) => serve_cmd::serve(a),
        Command::Institution(c) => serve_cmd::institution(c),
        Command::Key(c) => serve_cmd::key(c),
        Command::Reimbursements(c) => reimburse_cmd::run(c),
        Command::Audit(c) => audit_cmd::run(c),
        Command::Demo(a) => demo::run(a),
        Command::Breaker(c) => breaker_cmd::run(c),
        Command::Eval(a) => eval_cmd::run(a),
        Command::Simulate(a) => simulate_cmd::run(a),
        Command::Sweep(a) => sweep_cmd::run(a, std::io::stderr().is_terminal()),
        Command::Packs(c) => packs_cmd::run(c),
        Command::Train(a) => model_cmd::train(a),
        Command::Score(a) => model_cmd::score(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let msg = e.to_string();
            let mut lines = msg.lines();
            eprintln!("mamori: {}", lines.next().unwrap_or("failed"));
            for l in lines {
                eprintln!("  {l}");
            }
            ExitCode::from(1)
        }
    }
}
