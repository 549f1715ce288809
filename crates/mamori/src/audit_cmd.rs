//! `mamori audit verify`: checks the audit chain of a store's events.

use std::path::PathBuf;

use mamori_server::serve::ServeConfig;
use mamori_store::Store;

#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// Check that no entry of the store's events (institutions' events with their
    /// decisions, and the service's own records) was removed or edited. Read-only: it may
    /// run beside the service. Prints the head (seq and hash): keep it somewhere else and
    /// pass it back with --expect-head, which also catches removed newest entries and a
    /// chain recomputed after an edit.
    Verify {
        /// Directory of the embedded store.
        #[arg(long, env = "MAMORI_DATA_DIR", default_value = ServeConfig::DEFAULT_DATA_DIR)]
        data_dir: PathBuf,
        /// A head printed by an earlier run: SEQ:HEX or SEQ:sha256:HEX (64 hex digits).
        #[arg(long, value_name = "SEQ:HEX", value_parser = parse_head)]
        expect_head: Option<Head>,
    },
}

/// An expected head: the seq of an entry and the chain there.
#[derive(Debug, Clone, Copy)]
pub struct Head {
    seq: u64,
    chain: [u8; 32],
}

fn parse_head(s: &str) -> Result<Head, String> {
    let (seq, hash) = s.split_once(':').ok_or("expected SEQ:HEX, e.g. 1234:sha256:9f86d0...")?;
    let seq = seq.parse().map_err(|_| format!("{seq:?} is not an entry's seq"))?;
    let hash = hash.strip_prefix("sha256:").unwrap_or(hash);
    let mut chain = [0; 32];
    hex::decode_to_slice(hash, &mut chain).map_err(|_| "the hash is not 64 hex digits".to_string())?;
    Ok(Head { seq, chain })
}

pub fn run(c: AuditCommand) -> Result<(), Box<dyn std::error::Error>> {
    match c {
        AuditCommand::Verify { data_dir, expect_head } => {
            let expect = expect_head.map(|h| (h.seq, h.chain));
            match Store::verify_dir(&data_dir, expect).map_err(|e| format!("store {}: {e}", data_dir.display()))? {
                Ok(v) => {
                    println!("audit chain intact: {} entries, head seq {} sha256:{}", v.entries, v.head_seq, hex::encode(v.head));
                    Ok(())
                }
                Err(broken) => Err(format!("audit chain broken: {broken}").into()),
            }
        }
    }
}
