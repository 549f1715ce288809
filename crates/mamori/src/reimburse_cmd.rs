//! `mamori reimbursements export --csv`: every claim of the store, as a regulator's report
//! starts from, read beside a running service.

use std::path::PathBuf;

use mamori_core::Clock;
use mamori_server::cases::{Casebook, Claim};
use mamori_server::journal::{RECORD_TYPE, Record};
use mamori_server::serve::ServeConfig;
use mamori_store::Store;

#[derive(Debug, clap::Subcommand)]
pub enum ReimbursementsCommand {
    /// Write every claim (shares, payments, status as of today in Japan) as CSV.
    Export {
        /// CSV (the one format).
        #[arg(long, required = true)]
        csv: bool,
        /// Only the claims this institution is involved in.
        #[arg(long)]
        institution: Option<String>,
        /// Where to write; default standard output.
        #[arg(long)]
        output: Option<PathBuf>,
        /// Directory of the embedded store.
        #[arg(long, env = "MAMORI_DATA_DIR", default_value = ServeConfig::DEFAULT_DATA_DIR)]
        data_dir: PathBuf,
    },
}

/// The claims recorded in a store folder, with their payments and disputes.
pub fn claims(dir: &std::path::Path) -> Result<Vec<Claim>, Box<dyn std::error::Error>> {
    let mut book = Casebook::default();
    Store::scan_dir(dir, 1, |s| {
        if s.event_type == RECORD_TYPE
            && let Record::Case(c) = Record::from_json(&s.body).map_err(|e| format!("record {}: {e}", s.seq))?
        {
            book.apply(&c);
        }
        Ok::<(), String>(())
    })
    .map_err(|e| format!("store {}: {e}", dir.display()))?;
    Ok(book.claims().to_vec())
}

pub fn run(c: ReimbursementsCommand) -> Result<(), Box<dyn std::error::Error>> {
    let ReimbursementsCommand::Export { csv: _, institution, output, data_dir } = c;
    let today = mamori_server::links::japan_date(mamori_core::time::SystemClock.now()).to_string();
    let out: Box<dyn std::io::Write> = match &output {
        Some(p) => Box::new(std::fs::File::create(p).map_err(|e| format!("{}: {e}", p.display()))?),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
        "claim",
        "case",
        "institution",
        "victim",
        "currency",
        "loss",
        "reimbursed",
        "unreimbursed",
        "paid",
        "outstanding",
        "status",
        "opened",
        "due",
        "rule",
        "shares",
    ])?;
    for c in claims(&data_dir)?.iter().filter(|c| institution.as_deref().is_none_or(|i| c.involves(i))) {
        let r = &c.record;
        let shares: Vec<String> = r.shares.iter().map(|s| format!("{}={}", s.institution, s.amount)).collect();
        w.write_record([
            r.id.as_str(),
            &r.case,
            &r.institution,
            &r.victim,
            &r.currency,
            &r.loss.to_string(),
            &r.reimbursed.to_string(),
            &r.unreimbursed.to_string(),
            &c.paid().to_string(),
            &(r.reimbursed - c.paid()).to_string(),
            c.status(&today),
            &r.opened,
            &r.due,
            &r.rule,
            &shares.join(";"),
        ])?;
    }
    w.flush()?;
    Ok(())
}
