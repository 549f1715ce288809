//! Feature-state snapshots: one file each in `snapshots/`, never in the database, so that a
//! snapshot of any size is written without holding the database's write lock.
//!
//! A file is `snapshot-<seq, 20 digits>.bin`: the magic `MAMORISNAP1\n`, the seq and the
//! length (u64 little-endian), the SHA-256 of the bytes, then the bytes. It is written under a
//! temporary name, synced, renamed into place and the folder synced, so a crash leaves either
//! the whole file or none. A file that does not check out is skipped for the older one: the
//! event log has everything, a snapshot only saves replaying it.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::StoreError;

const MAGIC: &[u8; 12] = b"MAMORISNAP1\n";
const HEADER: usize = MAGIC.len() + 8 + 8 + 32;
/// How many snapshots are kept.
pub(crate) const KEEP: usize = 2;

pub(crate) fn folder(dir: &Path) -> PathBuf {
    dir.join("snapshots")
}

fn file_name(seq: u64) -> String {
    format!("snapshot-{seq:020}.bin")
}

fn seq_of(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("snapshot-")?.strip_suffix(".bin")?;
    if digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()) { digits.parse().ok() } else { None }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |e| StoreError::io(path, e)
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

/// The seqs of the snapshot files present, highest first.
fn list(folder: &Path) -> Result<Vec<u64>, StoreError> {
    let mut seqs = Vec::new();
    let entries = match fs::read_dir(folder) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(seqs),
        Err(e) => return Err(StoreError::io(folder, e)),
    };
    for entry in entries {
        let entry = entry.map_err(io(folder))?;
        if let Some(seq) = entry.file_name().to_str().and_then(seq_of) {
            seqs.push(seq);
        }
    }
    seqs.sort_unstable_by(|a, b| b.cmp(a));
    Ok(seqs)
}

pub(crate) fn save(dir: &Path, seq: u64, bytes: &[u8]) -> Result<(), StoreError> {
    let folder = folder(dir);
    fs::create_dir_all(&folder).map_err(io(&folder))?;
    sync_dir(dir)?;
    let tmp = folder.join(format!("tmp-{}", file_name(seq)));
    {
        let mut f = File::create(&tmp).map_err(io(&tmp))?;
        let mut header = Vec::with_capacity(HEADER);
        header.extend_from_slice(MAGIC);
        header.extend_from_slice(&seq.to_le_bytes());
        header.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        header.extend_from_slice(&Sha256::digest(bytes));
        f.write_all(&header).and_then(|()| f.write_all(bytes)).and_then(|()| f.sync_all()).map_err(io(&tmp))?;
    }
    let path = folder.join(file_name(seq));
    fs::rename(&tmp, &path).map_err(io(&path))?;
    sync_dir(&folder)?;
    for old in list(&folder)?.into_iter().skip(KEEP) {
        let path = folder.join(file_name(old));
        fs::remove_file(&path).map_err(io(&path))?;
    }
    // Left by a crash in the middle of an earlier save.
    for entry in fs::read_dir(&folder).map_err(io(&folder))? {
        let path = entry.map_err(io(&folder))?.path();
        if path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("tmp-")) {
            fs::remove_file(&path).map_err(io(&path))?;
        }
    }
    Ok(())
}

/// The newest snapshot that checks out and is not ahead of `durable_seq`.
pub(crate) fn latest(dir: &Path, durable_seq: u64) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
    let folder = folder(dir);
    for seq in list(&folder)? {
        if seq > durable_seq {
            continue;
        }
        let path = folder.join(file_name(seq));
        let data = fs::read(&path).map_err(io(&path))?;
        if let Some(bytes) = check(&data, seq) {
            return Ok(Some((seq, bytes.to_vec())));
        }
    }
    Ok(None)
}

fn check(data: &[u8], seq: u64) -> Option<&[u8]> {
    let (header, bytes) = data.split_at_checked(HEADER)?;
    let (magic, rest) = header.split_at(MAGIC.len());
    let (file_seq, rest) = rest.split_at(8);
    let (len, hash) = rest.split_at(8);
    let ok = magic == MAGIC
        && u64::from_le_bytes(file_seq.try_into().ok()?) == seq
        && u64::from_le_bytes(len.try_into().ok()?) == bytes.len() as u64
        && Sha256::digest(bytes).as_slice() == hash;
    ok.then_some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(file_name(42), "snapshot-00000000000000000042.bin");
        assert_eq!(seq_of(&file_name(42)), Some(42));
        assert_eq!(seq_of(&file_name(u64::MAX)), Some(u64::MAX));
        assert_eq!(seq_of("snapshot-42.bin"), None);
        assert_eq!(seq_of("tmp-snapshot-00000000000000000042.bin"), None);
    }

    #[test]
    fn check_refuses_damage() {
        let mut data = Vec::new();
        data.extend_from_slice(MAGIC);
        data.extend_from_slice(&7u64.to_le_bytes());
        data.extend_from_slice(&3u64.to_le_bytes());
        data.extend_from_slice(&Sha256::digest(b"abc"));
        data.extend_from_slice(b"abc");
        assert_eq!(check(&data, 7), Some(&b"abc"[..]));
        assert_eq!(check(&data, 8), None);
        assert_eq!(check(&data[..data.len() - 1], 7), None);
        let mut flipped = data.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert_eq!(check(&flipped, 7), None);
        assert_eq!(check(&data[..10], 7), None);
    }
}
