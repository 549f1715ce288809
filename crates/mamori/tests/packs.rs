//! `mamori packs`: the built-in packs exported as files are the repository's `packs/`,
//! load as a `--rules` directory, are never overwritten by accident, and a broken pack
//! is refused with its place.

use std::path::PathBuf;
use std::process::{Command, Output};

fn mamori(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mamori")).args(args).output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn export_then_check() {
    let dir: PathBuf = std::env::temp_dir().join(format!("mamori-packs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = dir.to_str().unwrap();
    let r = mamori(&["packs", "export", "--out", out]);
    assert_eq!(r.status.code(), Some(0), "{}", text(&r.stderr));
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../packs");
    for name in ["features.toml", "incidents.toml"] {
        assert_eq!(std::fs::read_to_string(dir.join(name)).unwrap(), std::fs::read_to_string(repo.join(name)).unwrap(), "{name}");
    }

    // The exported directory compiles to the same ruleset as the built-in packs.
    let builtin = mamori(&["packs", "check"]);
    let exported = mamori(&["packs", "check", "--rules", out]);
    assert_eq!(exported.status.code(), Some(0), "{}", text(&exported.stderr));
    let ruleset = |o: &Output| text(&o.stdout).lines().next().unwrap().split("ruleset ").nth(1).unwrap().to_string();
    assert_eq!(ruleset(&builtin), ruleset(&exported));
    assert!(text(&exported.stdout).contains("card-compromised-point"), "{}", text(&exported.stdout));

    // A second export does not overwrite what is there.
    std::fs::write(dir.join("incidents.toml"), "# mine\n").unwrap();
    let again = mamori(&["packs", "export", "--out", out]);
    assert_eq!(again.status.code(), Some(1));
    assert!(text(&again.stderr).contains("already exist"), "{}", text(&again.stderr));
    assert_eq!(std::fs::read_to_string(dir.join("incidents.toml")).unwrap(), "# mine\n");

    // A broken pack is refused with file, line and column.
    std::fs::write(dir.join("incidents.toml"), "[pack]\nname = \"x\"\n\n[[rule]]\nid = \"r\"\nwhen = 'event.amout > 1'\nscore = 1\n")
        .unwrap();
    let bad = mamori(&["packs", "check", "--rules", out]);
    assert_eq!(bad.status.code(), Some(1));
    let err = text(&bad.stderr);
    assert!(err.contains("incidents.toml:6:") && err.contains("event.amount"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
