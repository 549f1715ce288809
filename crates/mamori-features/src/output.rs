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

    /// A row whose id is already written as CSV.
    pub fn row_raw_id(&mut self, id: &[u8], f: &FeatureVector) -> io::Result<()> {
        self.line.clear();
        self.line.extend_from_slice(id);
        for &c in &self.cols {
            self.line.push(b',');
            write_owned(&mut self.line, &f.0[c]);
        }
        self.line.push(b'\n');
        self.w.write_all(&self.line)
    }

    pub fn finish(mut self) -> io::Result<W> {
        self.w.flush()?;
        Ok(self.w)
    }
}

/// Rows formatted into memory, to be written by a [`CsvOut`] of the same feature set.
#[derive(Debug)]
pub struct RowBuf {
    cols: Vec<usize>,
    buf: Vec<u8>,
}

impl CsvOut<Vec<u8>> {
    /// A formatter of rows into memory (no header).
    pub fn detached(set: &FeatureSet) -> RowBuf {
        RowBuf { cols: set.outputs().collect(), buf: Vec::with_capacity(1 << 22) }
    }
}

impl RowBuf {
    pub fn push_row(&mut self, id: &[u8], f: &FeatureVector) {
        self.buf.extend_from_slice(id);
        for &c in &self.cols {
            self.buf.push(b',');
            write_owned(&mut self.buf, &f.0[c]);
        }
        self.buf.push(b'\n');
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
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

pub(crate) fn write_value(out: &mut Vec<u8>, v: Value<'_>) {
    match v {
        Value::Null => {}
        Value::Bool(b) => out.extend_from_slice(if b { b"1" } else { b"0" }),
        Value::Int(i) => out.extend_from_slice(itoa::Buffer::new().format(i).as_bytes()),
        Value::Double(d) => write_f64(out, d),
        Value::Decimal(d) => {
            use std::io::Write as _;
            let _ = write!(out, "{}", d.normalize());
        }
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
