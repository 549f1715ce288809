//! `mamori features`.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use mamori_features::batch::{self, OnError};
use mamori_features::input::{CsvMapping, Format};
use mamori_features::{FeatureSet, SourceMap};

use crate::{FeaturesArgs, FormatArg, OnErrorArg};

pub fn run(a: &FeaturesArgs, tty: bool) -> Result<(), Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string(&a.config).map_err(|e| format!("{}: {e}", a.config))?;
    let file = mamori_features::config::parse(&a.config, &text)?;
    let map = SourceMap { file: &a.config, text: &text };
    let declared = file.input.format.as_ref().map(|f| f.get_ref().as_str());
    let format = match (a.format, declared) {
        (Some(FormatArg::Csv), _) => Format::Csv,
        (Some(FormatArg::Ndjson), _) => Format::Ndjson,
        (None, _) if Format::from_path(&a.input).is_some() => Format::from_path(&a.input).unwrap_or(Format::Csv),
        (None, Some("csv")) => Format::Csv,
        (None, Some("ndjson")) => Format::Ndjson,
        (None, _) => {
            return Err(format!("cannot tell the format of {}: name it .csv or .ndjson (optionally .gz), or pass --format", a.input).into());
        }
    };
    let on_error = match a.on_error {
        OnErrorArg::Skip => OnError::Skip,
        OnErrorArg::Stop => OnError::Stop,
    };
    let id_column = file.output.id_column.clone().unwrap_or_else(|| "event_id".to_string());
    let events = mamori_core::event::EventSchema::new();
    let bar = if tty {
        let b = ProgressBar::new_spinner();
        b.set_style(
            ProgressStyle::with_template("{spinner} {human_pos} rows  {per_sec}  {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        b.enable_steady_tick(Duration::from_millis(200));
        b
    } else {
        ProgressBar::hidden()
    };
    let mut progress = |n: u64| bar.set_position(n);
    let input = batch::open_input(&a.input)?;
    let summary = match format {
        Format::Csv => {
            let mut mapping = CsvMapping::from_config(&file, &map, &events)?;
            let set = FeatureSet::compile(&file, &map, mapping.schema())?;
            // A file in time order whose features are all plain windows is computed column
            // by column; anything else (or a file found out of order) event by event.
            let mut input = Some(input);
            let columnar = match input.take() {
                Some(i) if set.is_columnar() && !a.streaming && a.input != "-" => {
                    batch::run_csv_columnar(&set, &mut mapping, i, || batch::open_output(&a.output), &id_column, on_error, &mut progress)?
                        .ok()
                }
                other => {
                    input = other;
                    None
                }
            };
            match columnar {
                Some(summary) => summary,
                None => {
                    // Not tried, or the file was out of time order: read it (again) event by event.
                    let input = match input {
                        Some(i) => i,
                        None => batch::open_input(&a.input)?,
                    };
                    let output = batch::open_output(&a.output)?;
                    batch::run_csv(&set, &mut mapping, input, output, &id_column, on_error, &mut progress)?
                }
            }
        }
        Format::Ndjson => {
            let set = FeatureSet::compile(&file, &map, &events)?;
            batch::run_ndjson(&set, &events, input, batch::open_output(&a.output)?, &id_column, on_error, &mut progress)?
        }
    };
    bar.finish_and_clear();
    for e in &summary.errors {
        eprintln!("malformed: {e}");
    }
    if summary.malformed as usize > summary.errors.len() {
        eprintln!("malformed: ... and {} more", summary.malformed as usize - summary.errors.len());
    }
    if summary.stats.late > 0 {
        let lines: Vec<String> = summary.late_lines.iter().map(|l| l.to_string()).collect();
        eprintln!(
            "late: {} events arrived after the lateness allowed and did not update state (lines {}{})",
            summary.stats.late,
            lines.join(", "),
            if summary.stats.late as usize > lines.len() { ", ..." } else { "" }
        );
    }
    eprintln!(
        "rows: {}, written: {}, malformed: {}, late: {}, overflow: {}, {:.2} s, {:.0} rows/s, {}",
        summary.rows,
        summary.written,
        summary.malformed,
        summary.stats.late,
        summary.stats.overflow,
        summary.elapsed.as_secs_f64(),
        summary.rate(),
        summary.path
    );
    Ok(())
}
