//! Writing feature vectors as CSV: the id column, then one column per output feature.

use std::io::{self, Write};

use mamori_core::{OwnedValue, Value};

use crate::engine::{FeatureSet, FeatureVector};

/// Writes rows of features. Numbers are written exactly (decimals as decimals, doubles
/// in their shortest round-trip form), durations in seconds, times in RFC 3339.
#[derive(Debug)]
pub struct CsvOut<W: Write> {
    w: W,
    cols: Vec<usize>,
    line: Vec<u8>,
}

impl<W: Write> CsvOut<W> {
    pub fn new(mut w: W, set: &FeatureSet, id_column: &str) -> io::Result<Self> {
        let cols: Vec<usize> = set.outputs().collect();
        let names: Vec<&str> = set.names().collect();
        let mut line = Vec::with_capacity(256);
        write_str(&mut line, id_column);
        for &c in &cols {
            line.push(b',');
            write_str(&mut line, names[c]);
        }
        line.push(b'\n');
        w.write_all(&line)?;
        Ok(CsvOut { w, cols, line })
    }

    pub fn row(&mut self, id: Value<'_>, f: &FeatureVector) -> io::Result<()> {
        self.line.clear();
        write_value(&mut self.line, id);
        for &c in &self.cols {
            self.line.push(b',');
            write_owned(&mut self.line, &f.0[c]);
        }
        self.line.push(b'\n');
        self.w.write_all(&self.line)
    }

    /// Bytes already formatted as rows of this output.
    pub fn write_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.w.write_all(bytes)
    }

    pub fn finish(mut self) -> io::Result<W> {
        self.w.flush()?;
        Ok(self.w)
    }
}

pub(crate) fn write_owned(out: &mut Vec<u8>, v: &OwnedValue) {
    match v {
        OwnedValue::Int(i) => out.extend_from_slice(itoa::Buffer::new().format(*i).as_bytes()),
        OwnedValue::Double(d) => write_f64(out, *d),
        other => write_value(out, other.as_value()),
    }
}

fn write_f64(out: &mut Vec<u8>, d: f64) {
    if d.is_finite() && d == d.trunc() && d.abs() < 1e15 {
        out.extend_from_slice(itoa::Buffer::new().format(d as i64).as_bytes());
    } else if d.is_finite() {
        out.extend_from_slice(ryu::Buffer::new().format_finite(d).as_bytes());
    }
}

/// One value as a CSV cell: what `mamori features` writes for it (strings quoted when needed).
pub fn write_value(out: &mut Vec<u8>, v: Value<'_>) {
    match v {
        Value::Null => {}
        Value::Bool(b) => out.extend_from_slice(if b { b"1" } else { b"0" }),
        Value::Int(i) => out.extend_from_slice(itoa::Buffer::new().format(i).as_bytes()),
        Value::Double(d) => write_f64(out, d),
        Value::Decimal(d) => write_decimal(out, d),
        Value::Str(s) => write_str(out, s),
        Value::Timestamp(t) => out.extend_from_slice(t.to_rfc3339().as_bytes()),
        Value::Duration(s) => {
            let micros = s.as_micros();
            if micros % 1_000_000 == 0 {
                out.extend_from_slice(itoa::Buffer::new().format(micros / 1_000_000).as_bytes());
            } else {
                write_f64(out, micros as f64 / 1e6);
            }
        }
        Value::StrList(l) => write_str(out, &l.join(" ")),
    }
}

/// An exact decimal in its shortest plain form (`57.16`, `100`, `-0.5`).
fn write_decimal(out: &mut Vec<u8>, d: mamori_core::Decimal) {
    let d = d.normalize();
    let m = d.mantissa();
    let scale = d.scale() as usize;
    if m < 0 {
        out.push(b'-');
    }
    let mut buf = itoa::Buffer::new();
    let digits = buf.format(m.unsigned_abs()).as_bytes();
    if scale == 0 {
        out.extend_from_slice(digits);
    } else if digits.len() > scale {
        let (int, frac) = digits.split_at(digits.len() - scale);
        out.extend_from_slice(int);
        out.push(b'.');
        out.extend_from_slice(frac);
    } else {
        out.extend_from_slice(b"0.");
        out.extend(std::iter::repeat_n(b'0', scale - digits.len()));
        out.extend_from_slice(digits);
    }
}

fn write_str(out: &mut Vec<u8>, s: &str) {
    if s.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
        out.push(b'"');
        for b in s.bytes() {
            if b == b'"' {
                out.push(b'"');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(s.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_print_exactly() {
        for (m, s, want) in
            [(5716, 2, "57.16"), (100, 0, "100"), (-5, 1, "-0.5"), (10000, 2, "100"), (7, 5, "0.00007"), (-123456, 3, "-123.456")]
        {
            let mut out = Vec::new();
            write_decimal(&mut out, mamori_core::Decimal::new(m, s));
            assert_eq!(String::from_utf8(out).unwrap(), want);
        }
        let mut out = Vec::new();
        write_decimal(&mut out, mamori_core::Decimal::MAX);
        assert_eq!(String::from_utf8(out).unwrap(), mamori_core::Decimal::MAX.to_string());
    }
}
