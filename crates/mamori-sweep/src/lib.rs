//! Retroactive sweeps: years of history, in event-time order, through today's packs, with
//! features as of each event's own time.

pub mod csv_rows;
pub mod extsort;
pub mod input;
pub mod outreach;
pub mod parallel;
pub mod parquet_input;
pub mod partition;
pub mod report;
pub mod source;
pub mod sweep;
pub mod zengin_events;

pub use input::{Context, Input, Mapping};
pub use sweep::{Finding, OnError, Options, Outcome, Phase, Stats, SweepError, run};
