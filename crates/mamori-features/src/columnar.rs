//! The whole-file path of `mamori features`: when a file is in time order and every
//! windowed feature is a plain count, sum or average over a finite window of the entity
//! the event belongs to, the features of all rows are computed column by column — rows
//! grouped by entity, each window slid over its entity's rows with two pointers and exact
//! running sums — instead of event by event. Memory is then read in order, not at random.
//!
//! It computes exactly what [`crate::Engine`] computes for the same rows in the same order
//! (a test runs both on random files); any file or feature set outside these conditions
//! goes through the streaming engine.

use mamori_core::{OwnedValue, Record, Timestamp};

use crate::engine::{Aggregate, FeatureSet, Kind};
use crate::output::{write_owned, write_value};
use crate::window::Scaled;

impl FeatureSet {
    /// Whether [`Columns`] can compute this set (given time-ordered input).
    pub fn is_columnar(&self) -> bool {
        self.features.iter().all(|f| match &f.kind {
            Kind::Window { group, read_key, window: Some(_), agg, include_current: true, .. } => {
                let g = &self.groups[*group];
                matches!(agg, Aggregate::Count | Aggregate::Sum | Aggregate::Avg)
                    && g.filter.is_none()
                    && g.shape.bucket == 0
                    && *read_key == g.key
                    && g.value.as_ref().is_none_or(|v| v.last_feature_read().is_none())
                    && self.keys[g.key].parts.iter().all(|p| p.last_feature_read().is_none())
            }
            Kind::Window { .. } => false,
            Kind::Expr(g) => g.last_feature_read().is_none(),
            Kind::Ratio { .. } => true,
        })
    }
}

/// Why rows cannot go through the columnar path after all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotColumnar {
    /// A row's time is earlier than the row before it.
    OutOfOrder,
    /// A value does not fit 64 bits at its group's scale.
    Wide,
}

/// One group's column of entity numbers and values.
#[derive(Debug, Default)]
struct GroupCols {
    /// Entity number of each row (`u32::MAX`: the row has no key for this group).
    entity: Vec<u32>,
    /// Keys of up to 15 bytes, packed with their length into one integer (no byte compare).
    short: hashbrown::HashMap<u128, u32, foldhash::fast::FixedState>,
    index: hashbrown::HashMap<Box<[u8]>, u32, foldhash::fast::FixedState>,
    entities: u32,
    /// Value mantissa and scale of each row (`None`: no value).
    values: Vec<Option<(i64, u32)>>,
    max_scale: u32,
}

impl GroupCols {
    /// The number of the entity `key` names, given in order of first appearance.
    fn number(&mut self, key: &[u8]) -> u32 {
        let next = self.entities;
        let e = if key.len() < 16 {
            let mut packed = [0u8; 16];
            packed[..key.len()].copy_from_slice(key);
            packed[15] = key.len() as u8;
            *self.short.entry(u128::from_le_bytes(packed)).or_insert(next)
        } else {
            match self.index.get(key) {
                Some(&e) => e,
                None => {
                    self.index.insert(Box::from(key), next);
                    next
                }
            }
        };
        if e == next {
            self.entities += 1;
        }
        e
    }
}

/// What one row found in one window: its events, those with a value, and their exact
/// sum at the group's scale.
#[derive(Debug, Clone, Copy, Default)]
struct Win {
    count: u32,
    valued: u32,
    sum: i64,
}

/// The (window, delay) pairs of a group and, row by row, what each row found in each.
type GroupWindows = Vec<(Vec<(i64, i64)>, Vec<Win>)>;

/// Where the value of one feature for every row comes from.
#[derive(Debug)]
enum Col {
    Empty,
    /// A window's results (index into `Columns::wins`), read as this aggregate.
    Window {
        win: usize,
        /// Which of the table's windows.
        k: usize,
        agg: Aggregate,
        scale: u32,
        int_sum: bool,
    },
    Owned(Vec<OwnedValue>),
    /// An expression's values as numbers (`as_f64` of the value, or of its `empty`).
    Numbers(Vec<Option<f64>>),
    /// An expression's values already written as CSV cells, with where each row's ends.
    Written {
        bytes: Vec<u8>,
        ends: Vec<usize>,
    },
}

/// Rows loaded column by column, then computed all at once.
#[derive(Debug)]
pub struct Columns<'s> {
    set: &'s FeatureSet,
    times: Vec<i64>,
    groups: Vec<GroupCols>,
    exprs: Vec<Col>,
    cols: Vec<Col>,
    /// Per group with windows: the number of windows and their results, row by row.
    wins: Vec<(usize, Vec<Win>)>,
    key: Vec<u8>,
}

impl<'s> Columns<'s> {
    /// Columns for [`Columns::write_row`].
    pub fn new(set: &'s FeatureSet) -> Self {
        Columns::build(set, false)
    }

    /// Columns for [`Columns::number`] (expressions keep their values, not their text).
    pub fn for_numbers(set: &'s FeatureSet) -> Self {
        Columns::build(set, true)
    }

    fn build(set: &'s FeatureSet, values: bool) -> Self {
        // Expressions are written as they load, unless a ratio (or the caller) needs their values.
        let read_by_ratio = |i: usize| set.features.iter().any(|f| matches!(f.kind, Kind::Ratio { num, den } if num == i || den == i));
        let exprs = set
            .features
            .iter()
            .enumerate()
            .map(|(i, f)| match f.kind {
                Kind::Expr(_) if values => Col::Numbers(Vec::new()),
                Kind::Expr(_) if read_by_ratio(i) => Col::Owned(Vec::new()),
                Kind::Expr(_) => Col::Written { bytes: Vec::new(), ends: Vec::new() },
                _ => Col::Empty,
            })
            .collect();
        Columns {
            set,
            times: Vec::new(),
            groups: set.groups.iter().map(|_| GroupCols::default()).collect(),
            exprs,
            cols: Vec::new(),
            wins: Vec::new(),
            key: Vec::new(),
        }
    }

    /// Number of rows loaded.
    pub fn len(&self) -> usize {
        self.times.len()
    }

    pub fn is_empty(&self) -> bool {
        self.times.is_empty()
    }

    /// Adds one row (which happened at `time`).
    pub fn push(&mut self, rec: &dyn Record, time: Timestamp) -> Result<(), NotColumnar> {
        let t = time.as_micros();
        if self.times.last().is_some_and(|&last| t < last) {
            return Err(NotColumnar::OutOfOrder);
        }
        self.times.push(t);
        for (g, group) in self.set.groups.iter().enumerate() {
            let cols = &mut self.groups[g];
            self.key.clear();
            let mut ok = true;
            for (i, part) in self.set.keys[group.key].parts.iter().enumerate() {
                if i > 0 {
                    self.key.push(0x1f);
                }
                let buf = &mut self.key;
                ok &= part.with(rec, |v| crate::engine::write_key_part(buf, v));
                if !ok {
                    break;
                }
            }
            let entity = if ok { cols.number(&self.key) } else { u32::MAX };
            cols.entity.push(entity);
            if let Some(getter) = &group.value {
                let v = getter.with(rec, crate::engine::scaled);
                let v = match v {
                    None => None,
                    Some(Scaled { mantissa, scale }) => {
                        let m = i64::try_from(mantissa).map_err(|_| NotColumnar::Wide)?;
                        cols.max_scale = cols.max_scale.max(scale);
                        Some((m, scale))
                    }
                };
                cols.values.push(v);
            }
        }
        for (i, f) in self.set.features.iter().enumerate() {
            match (&f.kind, &mut self.exprs[i]) {
                (Kind::Expr(g), Col::Numbers(col)) => {
                    col.push(g.with(rec, |v| if v.is_null() { f.empty.as_value().as_f64() } else { v.as_f64() }));
                }
                (Kind::Expr(g), Col::Owned(col)) => {
                    col.push(g.with(rec, |v| if v.is_null() { f.empty.clone() } else { v.to_owned_value() }));
                }
                (Kind::Expr(g), Col::Written { bytes, ends }) => {
                    g.with(rec, |v| if v.is_null() { write_owned(bytes, &f.empty) } else { write_value(bytes, v) });
                    ends.push(bytes.len());
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Computes every windowed feature for every row.
    pub fn compute(&mut self) -> Result<(), NotColumnar> {
        let set = self.set;
        let mut cols: Vec<Col> = std::mem::take(&mut self.exprs);
        // Groups are independent: compute them on all cores.
        let this = &*self;
        let results: Vec<Result<GroupWindows, NotColumnar>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..set.groups.len()).map(|g| scope.spawn(move || this.compute_group(g))).collect();
            handles.into_iter().map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
        });
        for (g, result) in results.into_iter().enumerate() {
            let scale = self.groups[g].max_scale;
            for (windows, win) in result? {
                self.wins.push((windows.len(), win));
                let table = self.wins.len() - 1;
                for (i, f) in set.features.iter().enumerate() {
                    let Kind::Window { group: fg, window: Some(fw), agg, int_sum, .. } = f.kind else { continue };
                    if let Some(k) = windows.iter().position(|&w| w == fw)
                        && fg == g
                    {
                        cols[i] = Col::Window { win: table, k, agg, scale, int_sum };
                    }
                }
            }
        }
        self.cols = cols;
        Ok(())
    }

    /// Every window of group `g`, for every row (in row order).
    fn compute_group(&self, g: usize) -> Result<GroupWindows, NotColumnar> {
        let set = self.set;
        let n = self.times.len();
        let group = &set.groups[g];
        let mut out = Vec::new();
        let gc = &self.groups[g];
        if group.value.is_some() && gc.max_scale > 18 {
            return Err(NotColumnar::Wide);
        }
        // Values at the group's scale.
        let scaled: Vec<Option<i64>> = gc
            .values
            .iter()
            .map(|v| match v {
                None => Ok(None),
                Some((m, s)) => m.checked_mul(10i64.pow(gc.max_scale - s)).map(Some).ok_or(NotColumnar::Wide),
            })
            .collect::<Result<_, _>>()?;
        // Rows of each entity, in input (= time) order.
        let entities = gc.entities as usize;
        if n > u32::MAX as usize {
            return Err(NotColumnar::Wide);
        }
        let mut start = vec![0usize; entities + 1];
        for &e in &gc.entity {
            if e != u32::MAX {
                start[e as usize + 1] += 1;
            }
        }
        for i in 0..entities {
            start[i + 1] += start[i];
        }
        let mut fill = start.clone();
        let mut order = vec![0u32; start[entities]];
        for (row, &e) in gc.entity.iter().enumerate() {
            if e != u32::MAX {
                order[fill[e as usize]] = row as u32;
                fill[e as usize] += 1;
            }
        }
        // Each window of the group, slid over each entity's rows.
        let mut windows: Vec<(i64, i64)> = Vec::new();
        for f in &set.features {
            if let Kind::Window { group: fg, window: Some(w), .. } = f.kind
                && fg == g
                && !windows.contains(&w)
            {
                windows.push(w);
            }
        }
        // Times and values in entity order, so that every window reads them in sequence.
        let ent_times: Vec<i64> = order.iter().map(|&r| self.times[r as usize]).collect();
        let ent_vals: Vec<Option<i64>> = if scaled.is_empty() { Vec::new() } else { order.iter().map(|&r| scaled[r as usize]).collect() };
        // All windows of an entity slide together, and each row's results go straight to
        // its place in row order (side by side, so one cache line per row); rows without
        // a key keep empty windows.
        let kw = windows.len();
        let mut win = vec![Win::default(); n * kw];
        let mut slides = vec![(0usize, 0usize, 0i64, 0u32); kw];
        for e in 0..entities {
            let (first, last) = (start[e], start[e + 1]);
            let times = &ent_times[first..last];
            let vals = if ent_vals.is_empty() { &[][..] } else { &ent_vals[first..last] };
            slides.fill((0, 0, 0, 0));
            for (p, &t) in times.iter().enumerate() {
                let r = order[first + p] as usize;
                let row = &mut win[r * kw..(r + 1) * kw];
                for (wi, &(w, d)) in windows.iter().enumerate() {
                    let (lo, hi, sum, k) = &mut slides[wi];
                    let to = t.saturating_sub(d);
                    let from = to.saturating_sub(w);
                    while *hi <= p && times[*hi] <= to {
                        if let Some(x) = vals.get(*hi).copied().flatten() {
                            *sum = sum.checked_add(x).ok_or(NotColumnar::Wide)?;
                            *k += 1;
                        }
                        *hi += 1;
                    }
                    while *lo < *hi && times[*lo] <= from {
                        if let Some(x) = vals.get(*lo).copied().flatten() {
                            *sum -= x;
                            *k -= 1;
                        }
                        *lo += 1;
                    }
                    row[wi] = Win { count: (*hi - *lo) as u32, valued: *k, sum: *sum };
                }
            }
        }
        out.push((windows, win));
        Ok(out)
    }

    /// Writes row `row`'s output features as CSV cells, each after a comma (after
    /// [`Columns::compute`]). The same bytes [`crate::CsvOut`] writes for the same values.
    pub fn write_row(&self, row: usize, out: &mut Vec<u8>) {
        for c in self.set.outputs() {
            out.push(b',');
            match &self.cols[c] {
                Col::Written { bytes, ends } => {
                    let begin = if row == 0 { 0 } else { ends[row - 1] };
                    out.extend_from_slice(&bytes[begin..ends[row]]);
                }
                Col::Window { agg: Aggregate::Count, win, k, .. } => {
                    let (kw, table) = &self.wins[*win];
                    match table[row * kw + k].count {
                        0 => write_owned(out, &self.set.features[c].empty),
                        n => out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes()),
                    }
                }
                _ => write_owned(out, &self.value(c, row)),
            }
        }
    }

    /// Feature `i` of row `row` as a number (NaN when it has none), as
    /// `as_f64` reads the value the streaming engine gives (after [`Columns::compute`] on
    /// columns made by [`Columns::for_numbers`]).
    pub fn number(&self, i: usize, row: usize) -> f64 {
        let f = &self.set.features[i];
        match &self.cols[i] {
            Col::Window { win, k, agg: agg @ (Aggregate::Count | Aggregate::Avg), scale, .. } => {
                let (kw, table) = &self.wins[*win];
                let Win { count, valued, sum } = table[row * kw + k];
                match agg {
                    _ if count == 0 => f.empty.as_value().as_f64().unwrap_or(f64::NAN),
                    Aggregate::Count => f64::from(count),
                    _ if valued == 0 => f.empty.as_value().as_f64().unwrap_or(f64::NAN),
                    _ => Scaled { mantissa: i128::from(sum), scale: *scale }.over(i64::from(valued)),
                }
            }
            Col::Numbers(v) => v[row].unwrap_or(f64::NAN),
            _ => self.value(i, row).as_value().as_f64().unwrap_or(f64::NAN),
        }
    }

    /// The value of feature `i` for row `row` (after [`Columns::compute`]).
    fn value(&self, i: usize, row: usize) -> OwnedValue {
        let f = &self.set.features[i];
        match (&self.cols[i], &f.kind) {
            (Col::Window { win, k, agg, scale, int_sum }, _) => {
                let (kw, table) = &self.wins[*win];
                let Win { count, valued, sum } = table[row * kw + k];
                let (count, valued, sum) = (i64::from(count), i64::from(valued), i128::from(sum));
                match agg {
                    _ if count <= 0 => f.empty.clone(),
                    Aggregate::Count => OwnedValue::Int(count),
                    Aggregate::Sum if *int_sum && *scale == 0 => i64::try_from(sum).map_or(OwnedValue::Null, OwnedValue::Int),
                    Aggregate::Sum => Scaled { mantissa: sum, scale: *scale }.to_decimal().map_or(OwnedValue::Null, OwnedValue::Decimal),
                    _ if valued <= 0 => f.empty.clone(),
                    _ => OwnedValue::Double(Scaled { mantissa: sum, scale: *scale }.over(valued)),
                }
            }
            (Col::Owned(v), _) => v[row].clone(),
            (Col::Numbers(v), _) => v[row].map_or(OwnedValue::Null, OwnedValue::Double),
            (Col::Empty, Kind::Ratio { num, den }) => {
                match (self.value(*num, row).as_value().as_f64(), self.value(*den, row).as_value().as_f64()) {
                    (Some(a), Some(b)) if b != 0.0 => OwnedValue::Double(a / b),
                    _ => f.empty.clone(),
                }
            }
            (Col::Written { .. } | Col::Empty, _) => f.empty.clone(),
        }
    }
}
