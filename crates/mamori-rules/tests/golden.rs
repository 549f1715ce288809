//! Golden, data-driven tests: every `tests/golden/*.toml` is one case.
//!
//! A case file is a rule pack (`[pack]`, `[thresholds]`, `[[rule]]`) followed by a
//! `[test.*]` part, which starts at the first line beginning with `[test` and runs to
//! the end of the file. The pack is compiled from the text before that line, so lines
//! and columns in errors are those of the case file.
//!
//! ```toml
//! [test.schema]            # path = type: int double decimal string bool timestamp duration dyn list
//! "event.amount" = "decimal"
//! [test.input]             # path = value; decimals, timestamps and durations as strings
//! "event.amount" = "100000"
//! [test.expect]            # a decision...
//! decision = "hold"
//! score = 640
//! reasons = ["rule-a", "rule-b"]   # rule ids in decision order
//! details = ["..."]                # optional: their rendered details
//! shadow = ["rule-c"]              # optional: fired shadow rules
//! # ...or the first error:  error = "E001", line = 12, column = 20,
//! # and optionally message = "substring", help = "substring", count = 2, rendered = """exact"""
//! ```
//!
//! `GOLDEN_SHOW=1 cargo test -p mamori-rules --test golden -- --nocapture` prints every
//! expected error as a rule author would see it.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use mamori_core::{Decimal, OwnedValue, Span, StaticSchema, Timestamp, Type, VecRecord};
use mamori_rules::{PackSource, Ruleset, render_all};
use toml::{Table, Value};

fn type_named(name: &str) -> Result<Type, String> {
    Ok(match name {
        "int" => Type::Int,
        "double" => Type::Double,
        "decimal" => Type::Decimal,
        "string" => Type::String,
        "bool" => Type::Bool,
        "timestamp" => Type::Timestamp,
        "duration" => Type::Duration,
        "dyn" => Type::Dyn,
        "list" => Type::List(Box::new(Type::String)),
        other => return Err(format!("unknown type name {other:?} in [test.schema]")),
    })
}

fn value_of(path: &str, ty: &Type, v: &Value) -> Result<OwnedValue, String> {
    let bad = || format!("input {path:?}: {v} is not a {ty}");
    Ok(match (ty, v) {
        (Type::Decimal, Value::String(s)) => OwnedValue::Decimal(Decimal::from_str(s).map_err(|_| bad())?),
        (Type::Decimal, Value::Integer(i)) => OwnedValue::Decimal(Decimal::from(*i)),
        (Type::Int | Type::Dyn, Value::Integer(i)) => OwnedValue::Int(*i),
        (Type::Double, Value::Integer(i)) => OwnedValue::Double(*i as f64),
        (Type::Double | Type::Dyn, Value::Float(f)) => OwnedValue::Double(*f),
        (Type::String | Type::Dyn, Value::String(s)) => OwnedValue::Str(s.as_str().into()),
        (Type::Bool | Type::Dyn, Value::Boolean(b)) => OwnedValue::Bool(*b),
        (Type::Timestamp, Value::String(s)) => OwnedValue::Timestamp(Timestamp::parse_rfc3339(s).map_err(|e| e.to_string())?),
        (Type::Timestamp, Value::Datetime(d)) => {
            OwnedValue::Timestamp(Timestamp::parse_rfc3339(&d.to_string()).map_err(|e| e.to_string())?)
        }
        (Type::Duration, Value::String(s)) => OwnedValue::Duration(Span::parse(s).map_err(|e| e.to_string())?),
        (Type::List(_), Value::Array(items)) => {
            let strs: Option<Vec<String>> = items.iter().map(|i| i.as_str().map(str::to_string)).collect();
            OwnedValue::StrList(strs.ok_or_else(bad)?.into())
        }
        _ => return Err(bad()),
    })
}

fn strings(t: &Table, key: &str) -> Result<Option<Vec<String>>, String> {
    match t.get(key) {
        None => Ok(None),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| v.as_str().map(str::to_string).ok_or_else(|| format!("`{key}` must hold strings")))
            .collect::<Result<_, _>>()
            .map(Some),
        Some(_) => Err(format!("`{key}` must be an array of strings")),
    }
}

fn run_case(path: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let cut = text
        .match_indices('\n')
        .map(|(i, _)| i + 1)
        .chain(std::iter::once(0))
        .filter(|&i| text[i..].starts_with("[test"))
        .min()
        .ok_or("no [test.*] part")?;
    let (pack_text, test_text) = text.split_at(cut);
    let test: Table = toml::from_str(test_text).map_err(|e| format!("the [test] part is not TOML: {e}"))?;
    let test = test.get("test").and_then(Value::as_table).ok_or("no [test] table")?;
    let empty = Table::new();
    let schema_t = test.get("schema").and_then(Value::as_table).unwrap_or(&empty);
    let input = test.get("input").and_then(Value::as_table).unwrap_or(&empty);
    let expect = test.get("expect").and_then(Value::as_table).ok_or("no [test.expect]")?;

    let mut fields = Vec::new();
    for (p, t) in schema_t {
        let name = t.as_str().ok_or_else(|| format!("schema type of {p:?} must be a string"))?;
        fields.push((p.clone(), type_named(name)?));
    }
    let schema = StaticSchema::new(fields.clone());
    let mut values = vec![OwnedValue::Null; fields.len()];
    for (p, v) in input {
        let i = fields.iter().position(|(f, _)| f == p).ok_or_else(|| format!("input {p:?} is not in [test.schema]"))?;
        values[i] = value_of(p, &fields[i].1, v)?;
    }
    let record = VecRecord(values);

    let file = path.file_name().unwrap().to_string_lossy().to_string();
    let compiled = Ruleset::compile(&[PackSource::new(file, pack_text)], &schema);

    if let Some(code) = expect.get("error") {
        let errs = match compiled {
            Ok(_) => return Err(format!("expected error {code}, but the pack compiled")),
            Err(e) => e,
        };
        let first = &errs[0];
        let all = render_all(&errs);
        if std::env::var_os("GOLDEN_SHOW").is_some() {
            println!("{all}\n");
        }
        let mut problems = Vec::new();
        if Some(first.code) != code.as_str() {
            problems.push(format!("code {} (want {code})", first.code));
        }
        if let Some(l) = expect.get("line").and_then(Value::as_integer)
            && first.line as i64 != l
        {
            problems.push(format!("line {} (want {l})", first.line));
        }
        if let Some(c) = expect.get("column").and_then(Value::as_integer)
            && first.column as i64 != c
        {
            problems.push(format!("column {} (want {c})", first.column));
        }
        if let Some(m) = expect.get("message").and_then(Value::as_str)
            && !first.message.contains(m)
        {
            problems.push(format!("message {:?} lacks {m:?}", first.message));
        }
        if let Some(h) = expect.get("help").and_then(Value::as_str)
            && !first.help.as_deref().unwrap_or("").contains(h)
        {
            problems.push(format!("help {:?} lacks {h:?}", first.help));
        }
        if let Some(n) = expect.get("count").and_then(Value::as_integer)
            && errs.len() as i64 != n
        {
            problems.push(format!("{} errors (want {n})", errs.len()));
        }
        if let Some(r) = expect.get("rendered").and_then(Value::as_str)
            && first.to_string() != r.trim_end()
        {
            problems.push(format!("rendered differently:\n{first}"));
        }
        return if problems.is_empty() { Ok(()) } else { Err(format!("{}\n{all}", problems.join("; "))) };
    }

    let rs = compiled.map_err(|e| format!("does not compile:\n{}", render_all(&e)))?;
    let d = rs.evaluate(&record);
    let mut problems = Vec::new();
    let want = expect.get("decision").and_then(Value::as_str).ok_or("[test.expect] needs `decision` or `error`")?;
    if d.action.as_str() != want {
        problems.push(format!("decision {} (want {want})", d.action));
    }
    if let Some(s) = expect.get("score").and_then(Value::as_integer)
        && d.score != s
    {
        problems.push(format!("score {} (want {s})", d.score));
    }
    let ids: Vec<String> = d.reasons.iter().map(|r| r.rule.clone()).collect();
    if let Some(want) = strings(expect, "reasons")?
        && ids != want
    {
        problems.push(format!("reasons {ids:?} (want {want:?})"));
    }
    let details: Vec<String> = d.reasons.iter().map(|r| r.detail.clone()).collect();
    if let Some(want) = strings(expect, "details")?
        && details != want
    {
        problems.push(format!("details {details:?} (want {want:?})"));
    }
    let shadow: Vec<String> = d.shadow.iter().map(|r| r.rule.clone()).collect();
    if shadow != strings(expect, "shadow")?.unwrap_or_default() {
        problems.push(format!("shadow {shadow:?}"));
    }
    if problems.is_empty() { Ok(()) } else { Err(problems.join("; ")) }
}

#[test]
fn golden_cases() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "toml")).collect();
    files.sort();
    assert!(files.len() >= 25, "only {} golden cases", files.len());
    let failures: Vec<String> =
        files.iter().filter_map(|f| run_case(f).err().map(|e| format!("--- {}: {e}", f.file_name().unwrap().to_string_lossy()))).collect();
    assert!(failures.is_empty(), "{} of {} golden cases failed:\n{}", failures.len(), files.len(), failures.join("\n"));
}

/// Every diagnostic code has at least one golden case (R111 needs two packs: see the unit tests).
#[test]
fn every_code_has_a_golden_case() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut all = String::new();
    for e in std::fs::read_dir(&dir).unwrap() {
        all.push_str(&std::fs::read_to_string(e.unwrap().path()).unwrap());
    }
    let missing: Vec<&str> = mamori_rules::codes::ALL
        .iter()
        .chain(mamori_expr::codes::ALL)
        .map(|(c, _)| *c)
        .filter(|c| *c != mamori_rules::codes::DUPLICATE_PACK && !all.contains(&format!("error = \"{c}\"")))
        .collect();
    assert!(missing.is_empty(), "codes without a golden case: {missing:?}");
}
