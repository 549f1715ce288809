//! `mamori packs`: the built-in packs as files to read and adapt, and a check of a pack
//! directory before a service loads it.

use std::path::PathBuf;

use mamori_core::event::EventSchema;
use mamori_server::packs::BUILTIN;
use mamori_server::serve::load_packs;

#[derive(Debug, clap::Subcommand)]
pub enum PacksCommand {
    /// Write the built-in feature file and rule packs into a directory (for `--rules DIR`).
    Export {
        /// The directory (created if missing); existing files are not overwritten.
        #[arg(long)]
        out: PathBuf,
        /// Overwrite files of the same names.
        #[arg(long)]
        force: bool,
    },
    /// Compile a pack directory as `serve --rules DIR` would, and list its rules.
    Check {
        /// The directory; without it, the built-in packs.
        #[arg(long)]
        rules: Option<PathBuf>,
    },
}

pub fn run(c: PacksCommand) -> Result<(), Box<dyn std::error::Error>> {
    match c {
        PacksCommand::Export { out, force } => {
            std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
            let existing: Vec<String> =
                BUILTIN.iter().map(|(n, _)| out.join(n)).filter(|p| p.exists()).map(|p| p.display().to_string()).collect();
            if !force && !existing.is_empty() {
                return Err(format!("{} already exist; nothing written (--force to overwrite)", existing.join(", ")).into());
            }
            for (name, text) in BUILTIN {
                let path = out.join(name);
                std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
                println!("{}", path.display());
            }
            Ok(())
        }
        PacksCommand::Check { rules } => {
            let events = EventSchema::new();
            let packs = load_packs(rules.as_deref(), &events)?;
            println!(
                "{}: {} features, {} rules, ruleset {}",
                packs.origin,
                packs.features.len(),
                packs.rules.rules().len(),
                packs.rules.id()
            );
            for r in packs.rules.rules() {
                let shadow = if r.shadow { " (shadow)" } else { "" };
                println!("  {:<38} {:>5} {:<9} {}{shadow}", r.id, r.score, r.action.as_str(), r.description);
            }
            Ok(())
        }
    }
}
