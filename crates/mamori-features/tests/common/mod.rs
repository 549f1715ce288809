//! Helpers shared by the integration tests.

// Each test file uses some of them.
#![allow(dead_code)]

use std::path::PathBuf;

use mamori_core::{StaticSchema, Type};

/// The input of the tests that build random feature files and event streams: a time, two
/// parties, an amount, a kind and a flag.
pub fn small_schema() -> StaticSchema {
    StaticSchema::new([
        ("time", Type::Timestamp),
        ("customer", Type::String),
        ("payee", Type::String),
        ("amount", Type::Decimal),
        ("kind", Type::String),
        ("flag", Type::Int),
    ])
}

/// A directory of its own under the system's temporary directory, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let dir = std::env::temp_dir().join(format!("mamori-features-{name}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self, file: &str) -> String {
        self.0.join(file).to_str().unwrap().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
