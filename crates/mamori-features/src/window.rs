//! Per-entity state: a time-ordered log of the events that matched a feature group,
//! held in compact columns, answering exact range queries `(from, to]` over event time.
//!
//! Times are kept as `u32` seconds from 2000-01-01 while every event time is a whole
//! second in range, and widen to `i64` microseconds the first time one is not. Values
//! are exact decimals kept as integers at the log's scale, `i32` while they fit, then
//! `i64`, then `i128`. A log never rounds: it widens. Windows are answered by binary
//! search for the bounds and a scan of the values inside them, so a late event is just
//! an insertion at its place and every query is exact at its own time.

use std::collections::VecDeque;

use mamori_core::Decimal;
use serde::{Deserialize, Serialize};

/// 2000-01-01T00:00:00Z in seconds since the Unix epoch.
const BASE_SECS: i64 = 946_684_800;
const MICROS: i64 = 1_000_000;

/// Event times of one log, and — while every time is a whole second from 2000 to 2136
/// and every value fits 32 bits — the values beside them in one `u64` per event
/// (time in the high half), so that a window is read from one run of memory.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum TimeCol {
    Packed(VecDeque<u64>),
    Micros(VecDeque<i64>),
}

/// A key of a sorted log, with a float near it for a search's first guess (no `i128`
/// arithmetic, whose conversion to `f64` is a library call).
trait Key: Copy + Ord {
    fn approx(self) -> f64;
}

impl Key for u64 {
    #[inline]
    fn approx(self) -> f64 {
        self as f64
    }
}

impl Key for i64 {
    #[inline]
    fn approx(self) -> f64 {
        self as f64
    }
}

/// Index of the first entry whose key is greater than `key`, in a deque sorted by key.
/// Times in a window are spread fairly evenly, so the search starts where the key would
/// sit if they were, walks a few steps, and falls back to bisection: one or two cache
/// lines instead of a binary search's several.
#[inline]
fn upper_bound_by<T: Copy, K: Key>(v: &VecDeque<T>, key: K, f: impl Fn(&T) -> K) -> usize {
    let n = v.len();
    if n == 0 || f(&v[0]) > key {
        return 0;
    }
    if f(&v[n - 1]) <= key {
        return n;
    }
    // Now f(v[0]) <= key < f(v[n-1]), so the answer is in 1..n.
    // Only a starting point, so a floating-point guess will do (rounding keeps the order,
    // so `frac` stays in 0..=1).
    let (lo_k, hi_k, k) = (f(&v[0]).approx(), f(&v[n - 1]).approx(), key.approx());
    let frac = (k - lo_k) / (hi_k - lo_k).max(1.0);
    let mut i = (frac * (n - 1) as f64) as usize;
    i = i.clamp(1, n - 1);
    const STEPS: usize = 4;
    if f(&v[i]) <= key {
        // Walk right to the first entry past the key.
        for _ in 0..STEPS {
            i += 1;
            if i == n || f(&v[i]) > key {
                return i;
            }
        }
        partition_in(v, i, n, |x| f(x) <= key)
    } else {
        // Walk left while the entry before is still past the key.
        for _ in 0..STEPS {
            if f(&v[i - 1]) <= key {
                return i;
            }
            i -= 1;
            if i == 0 {
                return 0;
            }
        }
        partition_in(v, 0, i, |x| f(x) <= key)
    }
}

/// Moves `i` past the entries of `sl` (packed) at or before `bound` (packed seconds),
/// adding their values to `acc`: four at a time while the fourth of them is (the times
/// are in order, so the three before it are too), then one at a time.
#[inline(always)]
fn walk_to(sl: &[u64], mut i: usize, bound: i64, acc: &mut i64) -> usize {
    let secs = |x: u64| i64::from(packed_secs(x));
    let value = |x: u64| i64::from(packed_value(x));
    while let Some(q) = sl.get(i..i + 4) {
        if secs(q[3]) > bound {
            break;
        }
        *acc += value(q[0]) + value(q[1]) + value(q[2]) + value(q[3]);
        i += 4;
    }
    while let Some(&x) = sl.get(i) {
        if secs(x) > bound {
            break;
        }
        *acc += value(x);
        i += 1;
    }
    i
}

/// One entry of every 64-byte cache line of `v`, combined: reads that do not wait for each
/// other, so that memory answers them together.
fn touch_lines<T>(v: &VecDeque<T>, bits: impl Fn(&T) -> u64) -> u64 {
    let step = (64 / std::mem::size_of::<T>().max(1)).max(1);
    let (a, b) = v.as_slices();
    let mut acc = 0;
    for part in [a, b] {
        let mut i = 0;
        while i < part.len() {
            acc ^= bits(&part[i]);
            i += step;
        }
    }
    acc
}

/// The most windows of one entity [`EntityLog::ranges_and_sums`] finds in one pass.
pub(crate) const MAX_FAMILY: usize = 4;

/// Asks for the cache line holding `x` without waiting for it: a hint, which changes
/// nothing but when memory answers (nothing at all where the processor has no such hint).
#[inline(always)]
pub fn prefetch<T>(x: &T) {
    #[cfg(target_arch = "x86_64")]
    safe_arch::prefetch_t0(x);
    #[cfg(not(target_arch = "x86_64"))]
    let _ = x;
}

/// Asks for every 64-byte cache line of `v`, without waiting for any.
fn prefetch_lines<T>(v: &VecDeque<T>) {
    let (a, b) = v.as_slices();
    prefetch_slice(a);
    prefetch_slice(b);
}

/// Asks for every 64-byte cache line of `v` (its last element's too), without waiting.
pub(crate) fn prefetch_slice<T>(v: &[T]) {
    let step = (64 / std::mem::size_of::<T>().max(1)).max(1);
    for x in v.iter().step_by(step) {
        prefetch(x);
    }
    if let Some(last) = v.last() {
        prefetch(last);
    }
}

/// First index in `lo..hi` where `pred` turns false (pred holds on a prefix).
#[inline]
fn partition_in<T>(v: &VecDeque<T>, mut lo: usize, mut hi: usize, pred: impl Fn(&T) -> bool) -> usize {
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(&v[mid]) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

#[inline]
fn pack(secs: u32, v: i32) -> u64 {
    (u64::from(secs) << 32) | u64::from(v as u32)
}

/// A packed entry's seconds past `BASE_SECS` ([`pack`]).
#[inline(always)]
fn packed_secs(x: u64) -> u32 {
    (x >> 32) as u32
}

/// A packed entry's value ([`pack`]).
#[inline(always)]
fn packed_value(x: u64) -> i32 {
    x as u32 as i32
}

impl TimeCol {
    fn new() -> Self {
        TimeCol::Packed(VecDeque::new())
    }

    fn len(&self) -> usize {
        match self {
            TimeCol::Packed(v) => v.len(),
            TimeCol::Micros(v) => v.len(),
        }
    }

    #[inline]
    fn get(&self, i: usize) -> i64 {
        match self {
            TimeCol::Packed(v) => (i64::from(packed_secs(v[i])) + BASE_SECS) * MICROS,
            TimeCol::Micros(v) => v[i],
        }
    }

    fn as_secs(t: i64) -> Option<u32> {
        if t % MICROS != 0 {
            return None;
        }
        u32::try_from(t / MICROS - BASE_SECS).ok()
    }

    /// Index of the first entry with time > t.
    /// The packed seconds an entry's time is at or before `t` by: entries are whole
    /// seconds, so time <= t exactly when packed seconds <= floor(t / 1 s) - base (whatever
    /// t, since packed seconds are 0..=u32::MAX).
    #[inline(always)]
    fn packed_bound(t: i64) -> i64 {
        t.div_euclid(MICROS) - BASE_SECS
    }

    #[inline]
    fn upper_bound(&self, t: i64) -> usize {
        match self {
            TimeCol::Packed(v) => {
                let s = Self::packed_bound(t);
                if s < 0 {
                    0
                } else if s >= i64::from(u32::MAX) {
                    v.len()
                } else {
                    upper_bound_by(v, s as u64, |&x| u64::from(packed_secs(x)))
                }
            }
            TimeCol::Micros(v) => upper_bound_by(v, t, |&x| x),
        }
    }

    fn pop_front(&mut self) {
        match self {
            TimeCol::Packed(v) => {
                v.pop_front();
            }
            TimeCol::Micros(v) => {
                v.pop_front();
            }
        }
    }

    fn shrink(&mut self) {
        match self {
            TimeCol::Packed(v) => v.shrink_to_fit(),
            TimeCol::Micros(v) => v.shrink_to_fit(),
        }
    }

    /// Reads one entry of every cache line the column holds ([`touch_lines`]).
    fn touch(&self) -> u64 {
        match self {
            TimeCol::Packed(v) => touch_lines(v, |&x| x),
            TimeCol::Micros(v) => touch_lines(v, |&x| x as u64),
        }
    }

    fn capacity(&self) -> usize {
        match self {
            TimeCol::Packed(v) => v.capacity(),
            TimeCol::Micros(v) => v.capacity(),
        }
    }

    fn heap_bytes(&self) -> usize {
        match self {
            TimeCol::Packed(v) => v.capacity() * 8,
            TimeCol::Micros(v) => v.capacity() * 8,
        }
    }
}

/// Exact values of one log as integers at `scale` decimal places.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum ValCol {
    I32(VecDeque<i32>),
    I64(VecDeque<i64>),
    I128(VecDeque<i128>),
}

impl ValCol {
    #[inline]
    fn get(&self, i: usize) -> i128 {
        match self {
            ValCol::I32(v) => i128::from(v[i]),
            ValCol::I64(v) => i128::from(v[i]),
            ValCol::I128(v) => v[i],
        }
    }

    fn insert(&mut self, i: usize, x: i128) {
        loop {
            match self {
                ValCol::I32(v) => {
                    if let Ok(n) = i32::try_from(x) {
                        v.insert(i, n);
                        return;
                    }
                    *self = ValCol::I64(v.iter().map(|&n| i64::from(n)).collect());
                }
                ValCol::I64(v) => {
                    if let Ok(n) = i64::try_from(x) {
                        v.insert(i, n);
                        return;
                    }
                    *self = ValCol::I128(v.iter().map(|&n| i128::from(n)).collect());
                }
                ValCol::I128(v) => {
                    v.insert(i, x);
                    return;
                }
            }
        }
    }

    /// Multiplies every value by 10^k; false when that would overflow.
    fn rescale(&mut self, k: u32) -> bool {
        let Some(f) = 10i128.checked_pow(k) else { return false };
        let all: Option<Vec<i128>> = (0..self.len()).map(|i| self.get(i).checked_mul(f)).collect();
        let Some(all) = all else { return false };
        *self = ValCol::I32(VecDeque::with_capacity(all.len()));
        for (i, x) in all.into_iter().enumerate() {
            self.insert(i, x);
        }
        true
    }

    fn len(&self) -> usize {
        match self {
            ValCol::I32(v) => v.len(),
            ValCol::I64(v) => v.len(),
            ValCol::I128(v) => v.len(),
        }
    }

    fn add_at(&mut self, i: usize, x: i128) -> bool {
        let Some(sum) = self.get(i).checked_add(x) else { return false };
        // Re-insert through the widening path.
        self.remove(i);
        self.insert(i, sum);
        true
    }

    fn remove(&mut self, i: usize) {
        match self {
            ValCol::I32(v) => {
                v.remove(i);
            }
            ValCol::I64(v) => {
                v.remove(i);
            }
            ValCol::I128(v) => {
                v.remove(i);
            }
        }
    }

    fn pop_front(&mut self) {
        match self {
            ValCol::I32(v) => {
                v.pop_front();
            }
            ValCol::I64(v) => {
                v.pop_front();
            }
            ValCol::I128(v) => {
                v.pop_front();
            }
        }
    }

    /// Sum of entries `a..b`.
    #[inline]
    fn sum(&self, a: usize, b: usize) -> i128 {
        match self {
            ValCol::I32(v) => i128::from(v.range(a..b).map(|&x| i64::from(x)).sum::<i64>()),
            ValCol::I64(v) => v.range(a..b).map(|&x| i128::from(x)).sum(),
            ValCol::I128(v) => v.range(a..b).sum(),
        }
    }

    fn shrink(&mut self) {
        match self {
            ValCol::I32(v) => v.shrink_to_fit(),
            ValCol::I64(v) => v.shrink_to_fit(),
            ValCol::I128(v) => v.shrink_to_fit(),
        }
    }

    fn heap_bytes(&self) -> usize {
        match self {
            ValCol::I32(v) => v.capacity() * 4,
            ValCol::I64(v) => v.capacity() * 8,
            ValCol::I128(v) => v.capacity() * 16,
        }
    }
}

/// A value as an exact scaled integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Scaled {
    pub mantissa: i128,
    pub scale: u32,
}

impl Scaled {
    pub fn from_decimal(d: Decimal) -> Self {
        Scaled { mantissa: d.mantissa(), scale: d.scale() }
    }

    pub fn from_int(i: i64) -> Self {
        Scaled { mantissa: i128::from(i), scale: 0 }
    }

    /// Back to a decimal; `None` if the value no longer fits 96 bits.
    pub fn to_decimal(self) -> Option<Decimal> {
        Decimal::try_from_i128_with_scale(self.mantissa, self.scale).ok()
    }

    pub fn to_f64(self) -> f64 {
        // The same rounding either way; from `i64` it is one instruction, from `i128` a
        // library call.
        let m = match i64::try_from(self.mantissa) {
            Ok(m) => m as f64,
            Err(_) => wide_to_f64(self.mantissa),
        };
        m / pow10(self.scale)
    }

    /// This value divided by `k` (an average), as a double. When the mantissa and
    /// `10^scale * k` are both exact doubles (below 2^53, as with any sum in yen or cents
    /// and any count of events), one division of the two: the quotient correctly rounded.
    /// Otherwise the value as [`Scaled::to_f64`] gives it, divided by `k`.
    pub fn over(self, k: i64) -> f64 {
        const EXACT: i128 = 1 << 53;
        if let Some(den) = 10i64.checked_pow(self.scale).and_then(|p| p.checked_mul(k))
            && (1..=EXACT).contains(&i128::from(den))
            && (-EXACT..=EXACT).contains(&self.mantissa)
        {
            return self.mantissa as i64 as f64 / den as f64;
        }
        self.to_f64() / k as f64
    }
}

/// `10f64.powi(k)`, from a table where the power is an exact double (`k <= 22`): the
/// same double (each step of `powi`'s squaring is exact there too) without a library
/// call on every average.
#[inline]
fn pow10(k: u32) -> f64 {
    const EXACT: [f64; 23] =
        [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22];
    match EXACT.get(k as usize) {
        Some(&p) => p,
        None => 10f64.powi(k as i32),
    }
}

/// `m` as the nearest `f64`: a library call, kept out of line so that the common case
/// (a mantissa that fits `i64`) does not make it too, as the compiler otherwise does.
#[cold]
#[inline(never)]
fn wide_to_f64(m: i128) -> f64 {
    m as f64
}

/// Aggregates of the events that have left a log, for `window = "all"`: a read over
/// all time combines these with an exact scan of the events the log still holds. Only
/// events older than any read can reach leave the log, so the combination is exact.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct AllAcc {
    pub count: i64,
    /// Events that had no value.
    pub nulls: i64,
    pub sum: i128,
    pub min: Option<i128>,
    pub max: Option<i128>,
    pub first: Option<i64>,
    pub last: Option<i64>,
    /// The value of the latest evicted event that had one (for `last_value`).
    #[serde(with = "crate::snapshot::owned_value")]
    pub last_value: mamori_core::OwnedValue,
    /// Hashes of the distinct values evicted (only when a distinct-all feature exists).
    #[serde(with = "crate::snapshot::hash_set")]
    pub distinct: Option<hashbrown::HashSet<u64, foldhash::fast::FixedState>>,
}

/// What a log keeps besides times.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct LogShape {
    pub values: bool,
    pub hashes: bool,
    pub all: bool,
    pub all_distinct: bool,
    pub last_value: bool,
    /// Bucket length in microseconds; 0 for one entry per event.
    pub bucket: i64,
}

/// The events of one entity for one feature group.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct EntityLog {
    times: TimeCol,
    /// Whether the group aggregates a value.
    has_values: bool,
    scale: u32,
    /// Columns most logs never need, kept out of line so the common log stays small.
    extra: Option<Box<Extra>>,
    all: Option<Box<AllAcc>>,
}

/// The columns of a log beyond times (and packed values).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Extra {
    /// Scaled values once they no longer fit beside the times (see [`TimeCol`]).
    values: Option<ValCol>,
    /// Hashes for distinct counts.
    hashes: Option<VecDeque<u64>>,
    /// Events per entry, when bucketed.
    counts: Option<VecDeque<u32>>,
    /// Which entries had no value (made the first time one has none).
    nulls: Option<VecDeque<bool>>,
    /// The values themselves, for `last_value`.
    #[serde(with = "crate::snapshot::owned_values")]
    owned: Option<VecDeque<mamori_core::OwnedValue>>,
}

/// One event to add.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub time: i64,
    pub value: Option<Scaled>,
    pub hash: u64,
    /// The value itself, for `last_value`.
    pub owned: Option<mamori_core::OwnedValue>,
    /// The event had no value (it still counts as an event).
    pub null: bool,
}

/// Why an entry could not be added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AddError {
    /// Its value would overflow 128 bits at the log's scale.
    Overflow,
}

impl EntityLog {
    fn owned(&self) -> Option<&VecDeque<mamori_core::OwnedValue>> {
        self.extra.as_ref().and_then(|e| e.owned.as_ref())
    }
    fn owned_mut(&mut self) -> Option<&mut VecDeque<mamori_core::OwnedValue>> {
        self.extra.as_mut().and_then(|e| e.owned.as_mut())
    }
    /// The value of entry `i`, for `last_value`.
    pub fn owned_at(&self, i: usize) -> Option<&mamori_core::OwnedValue> {
        self.owned().map(|o| &o[i])
    }
    /// Whether entry `i` had no value.
    pub fn null_at(&self, i: usize) -> bool {
        self.is_null_at(i)
    }
    /// The hash of entry `i`'s value, for distinct counts.
    pub fn hash_at(&self, i: usize) -> Option<u64> {
        self.hashes().map(|h| h[i])
    }

    fn extra_mut(&mut self) -> &mut Extra {
        self.extra.get_or_insert_with(Box::default)
    }
    fn values(&self) -> Option<&ValCol> {
        self.extra.as_ref().and_then(|e| e.values.as_ref())
    }
    fn values_mut(&mut self) -> Option<&mut ValCol> {
        self.extra.as_mut().and_then(|e| e.values.as_mut())
    }
    fn hashes(&self) -> Option<&VecDeque<u64>> {
        self.extra.as_ref().and_then(|e| e.hashes.as_ref())
    }
    fn hashes_mut(&mut self) -> Option<&mut VecDeque<u64>> {
        self.extra.as_mut().and_then(|e| e.hashes.as_mut())
    }
    fn counts(&self) -> Option<&VecDeque<u32>> {
        self.extra.as_ref().and_then(|e| e.counts.as_ref())
    }
    fn counts_mut(&mut self) -> Option<&mut VecDeque<u32>> {
        self.extra.as_mut().and_then(|e| e.counts.as_mut())
    }
    fn nulls(&self) -> Option<&VecDeque<bool>> {
        self.extra.as_ref().and_then(|e| e.nulls.as_ref())
    }
    fn nulls_mut(&mut self) -> Option<&mut VecDeque<bool>> {
        self.extra.as_mut().and_then(|e| e.nulls.as_mut())
    }
    pub fn new(shape: LogShape) -> Self {
        EntityLog {
            times: TimeCol::new(),
            has_values: shape.values,
            scale: 0,
            extra: (shape.hashes || shape.all_distinct || shape.last_value || shape.bucket > 0).then(|| {
                Box::new(Extra {
                    hashes: (shape.hashes || shape.all_distinct).then(VecDeque::new),
                    counts: (shape.bucket > 0).then(VecDeque::new),
                    owned: shape.last_value.then(VecDeque::new),
                    ..Extra::default()
                })
            }),
            all: shape.all.then(|| {
                Box::new(AllAcc {
                    distinct: shape.all_distinct.then(|| hashbrown::HashSet::with_hasher(foldhash::fast::FixedState::default())),
                    ..AllAcc::default()
                })
            }),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.times.len() == 0 && self.all.is_none()
    }

    pub fn scale(&self) -> u32 {
        self.scale
    }

    pub fn all(&self) -> Option<&AllAcc> {
        self.all.as_deref()
    }

    pub fn time(&self, i: usize) -> i64 {
        self.times.get(i)
    }

    /// Leaves the packed layout: times in microseconds, values in their own column.
    fn unpack(&mut self) {
        if let TimeCol::Packed(v) = &self.times {
            let times = v.iter().map(|&x| (i64::from(packed_secs(x)) + BASE_SECS) * MICROS).collect();
            let values = self.has_values.then(|| ValCol::I32(v.iter().map(|&x| packed_value(x)).collect()));
            self.times = TimeCol::Micros(times);
            if values.is_some() {
                self.extra_mut().values = values;
            }
        }
    }

    #[inline]
    fn value_at(&self, i: usize) -> i128 {
        match (&self.times, self.values()) {
            (TimeCol::Packed(v), _) => i128::from(packed_value(v[i])),
            (_, Some(c)) => c.get(i),
            _ => 0,
        }
    }

    fn insert_at(&mut self, pos: usize, time: i64, v: i128) {
        if let TimeCol::Packed(col) = &mut self.times {
            if let (Some(secs), Ok(x)) = (TimeCol::as_secs(time), i32::try_from(v)) {
                if col.len() == col.capacity() {
                    // Grow by a quarter, not double: windows hold steady counts of events.
                    col.reserve_exact((col.len() / 4).max(4));
                }
                if pos == col.len() {
                    col.push_back(pack(secs, x));
                } else {
                    col.insert(pos, pack(secs, x));
                }
                return;
            }
            self.unpack();
        }
        if let TimeCol::Micros(col) = &mut self.times {
            col.insert(pos, time);
        }
        if let Some(c) = self.values_mut() {
            c.insert(pos, v);
        }
    }

    /// Multiplies every value by 10^k; false when that would overflow.
    fn rescale(&mut self, k: u32) -> bool {
        if !self.has_values {
            return true;
        }
        if let TimeCol::Packed(col) = &mut self.times {
            let f = 10i64.pow(k.min(18));
            let fits = k <= 9 && col.iter().all(|&x| i32::try_from(i64::from(packed_value(x)) * f).is_ok());
            if fits {
                for x in col.iter_mut() {
                    *x = pack(packed_secs(*x), (i64::from(packed_value(*x)) * f) as i32);
                }
                return true;
            }
            self.unpack();
        }
        self.values_mut().is_none_or(|c| c.rescale(k))
    }

    /// Adds `x` to the value of entry `i` (merging into a bucket).
    fn add_at(&mut self, i: usize, x: i128) -> bool {
        if !self.has_values {
            return true;
        }
        if let TimeCol::Packed(col) = &mut self.times {
            let cur = i128::from(packed_value(col[i]));
            if let Ok(nv) = i32::try_from(cur + x) {
                col[i] = pack(packed_secs(col[i]), nv);
                return true;
            }
            self.unpack();
        }
        self.values_mut().is_none_or(|c| c.add_at(i, x))
    }

    /// Adds an event; returns the index it now has (for excluding it from its own reads).
    pub fn add(&mut self, e: &Entry, bucket: i64) -> Result<usize, AddError> {
        if let Some(at) = self.push_packed(e, bucket) {
            return Ok(at);
        }
        // Bring the value to the log's scale (or the log to the value's).
        let mut v = None;
        if let (true, Some(sv)) = (self.has_values, e.value) {
            if sv.scale > self.scale {
                let k = sv.scale - self.scale;
                let f = 10i128.checked_pow(k).ok_or(AddError::Overflow)?;
                // Check the accumulator first, so that a refusal changes nothing.
                let acc = match self.all.as_deref() {
                    Some(all) => Some((
                        all.sum.checked_mul(f).ok_or(AddError::Overflow)?,
                        all.min.map(|m| m.checked_mul(f).ok_or(AddError::Overflow)).transpose()?,
                        all.max.map(|m| m.checked_mul(f).ok_or(AddError::Overflow)).transpose()?,
                    )),
                    None => None,
                };
                if !self.rescale(k) {
                    return Err(AddError::Overflow);
                }
                if let (Some(all), Some((sum, min, max))) = (self.all.as_deref_mut(), acc) {
                    all.sum = sum;
                    all.min = min;
                    all.max = max;
                }
                self.scale = sv.scale;
                v = Some(sv.mantissa);
            } else {
                v = Some(sv.mantissa.checked_mul(10i128.pow(self.scale - sv.scale)).ok_or(AddError::Overflow)?);
            }
        }
        let time = if bucket > 0 { e.time.div_euclid(bucket) * bucket } else { e.time };
        let is_null = e.null && (self.has_values || self.hashes().is_some() || self.owned().is_some());
        let n = self.times.len();
        // Fast path: in order.
        let pos = if n == 0 || self.times.get(n - 1) <= time { n } else { self.times.upper_bound(time) };
        if self.counts().is_some() {
            if pos > 0 && self.times.get(pos - 1) == time {
                if let Some(counts) = self.counts_mut() {
                    counts[pos - 1] += 1;
                }
                if let Some(x) = v
                    && !self.add_at(pos - 1, x)
                {
                    return Err(AddError::Overflow);
                }
                return Ok(pos - 1);
            }
            if let Some(counts) = self.counts_mut() {
                counts.insert(pos, 1);
            }
        }
        self.insert_at(pos, time, v.unwrap_or(0));
        if is_null && self.nulls().is_none() {
            self.extra_mut().nulls = Some(std::iter::repeat_n(false, self.times.len() - 1).collect());
        }
        if let Some(nulls) = self.nulls_mut() {
            nulls.insert(pos, is_null);
        }
        if let Some(h) = self.hashes_mut() {
            h.insert(pos, e.hash);
        }
        if let Some(o) = self.owned_mut() {
            o.insert(pos, e.owned.clone().unwrap_or_default());
        }
        Ok(pos)
    }

    /// [`Self::add`] for most events: the log holds packed times (and values) and nothing
    /// beside them, the event is the newest, at a whole second, and its value, brought to
    /// the log's scale, fits 32 bits. It is pushed at the end and its index returned;
    /// `None`, with nothing changed, for any other event.
    #[inline]
    fn push_packed(&mut self, e: &Entry, bucket: i64) -> Option<usize> {
        // (An event with no value has none to push to a log of values; in a log without
        // values, with no column of nulls, it is an event like any other.)
        if bucket > 0 || self.extra.is_some() {
            return None;
        }
        let TimeCol::Packed(col) = &mut self.times else { return None };
        let value = match (self.has_values, e.value) {
            (false, _) => 0,
            (true, Some(sv)) if sv.scale <= self.scale => {
                let f = 10i64.checked_pow(self.scale - sv.scale)?;
                i32::try_from(i64::try_from(sv.mantissa).ok()?.checked_mul(f)?).ok()?
            }
            _ => return None,
        };
        let secs = TimeCol::as_secs(e.time)?;
        if col.back().is_some_and(|&last| packed_secs(last) > secs) {
            return None;
        }
        if col.len() == col.capacity() {
            // Grow by a quarter, not double: windows hold steady counts of events.
            col.reserve_exact((col.len() / 4).max(4));
        }
        col.push_back(pack(secs, value));
        Some(col.len() - 1)
    }

    /// Drops entries with time <= cutoff (they can no longer fall in any window).
    pub fn evict_through(&mut self, cutoff: i64) -> usize {
        let mut k = 0;
        while self.times.len() > 0 && self.times.get(0) <= cutoff {
            if self.all.is_some() {
                self.fold_front();
            }
            self.times.pop_front();
            if let Some(c) = self.values_mut() {
                c.pop_front();
            }
            if let Some(h) = self.hashes_mut() {
                h.pop_front();
            }
            if let Some(c) = self.counts_mut() {
                c.pop_front();
            }
            if let Some(c) = self.nulls_mut() {
                c.pop_front();
            }
            if let Some(c) = self.owned_mut() {
                c.pop_front();
            }
            k += 1;
        }
        k
    }

    fn capacity(&self) -> usize {
        self.times.capacity()
    }

    /// Adds the oldest entry to the accumulator, before it leaves the log.
    fn fold_front(&mut self) {
        let n = self.counts().map_or(1, |c| i64::from(c[0]));
        let null = self.is_null_at(0);
        let value = self.value_at(0);
        let time = self.times.get(0);
        let hash = self.hashes().map(|h| h[0]);
        let owned = self.owned().map(|o| o[0].clone());
        let has_values = self.has_values;
        let Some(all) = self.all.as_deref_mut() else { return };
        all.count += n;
        if null {
            all.nulls += n;
        } else {
            if has_values {
                // The log's values stay in range of the log's scale, so these cannot overflow
                // where the log itself did not.
                all.sum = all.sum.saturating_add(value);
                all.min = Some(all.min.map_or(value, |m| m.min(value)));
                all.max = Some(all.max.map_or(value, |m| m.max(value)));
            }
            if let (Some(set), Some(h)) = (all.distinct.as_mut(), hash) {
                set.insert(h);
            }
            if let Some(o) = owned {
                all.last_value = o;
            }
        }
        all.first = Some(all.first.map_or(time, |f| f.min(time)));
        all.last = Some(all.last.map_or(time, |l| l.max(time)));
    }

    /// Checks a log read from a snapshot against the shape of its group: every column it
    /// keeps there and no other, each as long as the times, times in order, a scale a
    /// decimal can have, and no more events than the engine has seen. What holds here is
    /// what every read and update of the log relies on to stay in bounds.
    pub fn check(&self, shape: LogShape, events: u64) -> Result<(), &'static str> {
        let n = self.times.len();
        if self.has_values != shape.values {
            return Err("a log keeps values where its group has none, or none where it has");
        }
        if self.scale > Decimal::MAX_SCALE || (!self.has_values && self.scale != 0) {
            return Err("a log's scale is out of range");
        }
        let ordered = match &self.times {
            TimeCol::Packed(v) => v.iter().zip(v.iter().skip(1)).all(|(a, b)| packed_secs(*a) <= packed_secs(*b)),
            TimeCol::Micros(v) => v.iter().zip(v.iter().skip(1)).all(|(a, b)| a <= b),
        };
        if !ordered {
            return Err("a log's times are out of order");
        }
        let column = |len: Option<usize>, wanted: bool| match len {
            Some(l) => wanted && l == n,
            None => !wanted,
        };
        let packed = matches!(self.times, TimeCol::Packed(_));
        let x = self.extra.as_deref();
        let ok = column(x.and_then(|x| x.values.as_ref()).map(ValCol::len), self.has_values && !packed)
            && column(x.and_then(|x| x.hashes.as_ref()).map(VecDeque::len), shape.hashes || shape.all_distinct)
            && column(x.and_then(|x| x.counts.as_ref()).map(VecDeque::len), shape.bucket > 0)
            && column(x.and_then(|x| x.owned.as_ref()).map(VecDeque::len), shape.last_value)
            && x.and_then(|x| x.nulls.as_ref()).is_none_or(|c| c.len() == n);
        if !ok {
            return Err("a log's columns do not match its group or its times");
        }
        if self.counts().is_some_and(|c| c.contains(&0)) {
            return Err("a bucket holds no event");
        }
        if self.all.is_some() != shape.all || self.all.as_ref().is_some_and(|a| a.distinct.is_some() != shape.all_distinct) {
            return Err("a log's all-time accumulator does not match its group");
        }
        let held = self.counts().map_or(n as u64, |c| c.iter().map(|&x| u64::from(x)).sum());
        let (folded, nulls) = self.all.as_ref().map_or((0, 0), |a| (a.count, a.nulls));
        if folded < 0 || nulls < 0 || nulls > folded || held.saturating_add(folded as u64) > events {
            return Err("a log holds more events than the engine has seen");
        }
        Ok(())
    }

    /// Gives memory back when the log holds far fewer events than it has room for.
    pub fn shrink_if_sparse(&mut self) {
        if self.times.len() * 2 < self.capacity() {
            self.shrink();
        }
    }

    fn shrink(&mut self) {
        self.times.shrink();
        if let Some(c) = self.values_mut() {
            c.shrink();
        }
        if let Some(h) = self.hashes_mut() {
            h.shrink_to_fit();
        }
        if let Some(c) = self.counts_mut() {
            c.shrink_to_fit();
        }
        if let Some(c) = self.nulls_mut() {
            c.shrink_to_fit();
        }
        if let Some(c) = self.owned_mut() {
            c.shrink_to_fit();
        }
    }

    /// Entry indices `a..b` with times in `(from, to]`.
    #[inline]
    pub fn range(&self, from: i64, to: i64) -> (usize, usize) {
        let b = self.times.upper_bound(to);
        let a = self.times.upper_bound(from);
        (a, b.max(a))
    }

    /// The windows of up to [`MAX_FAMILY`] features of one entity, in one walk: `marks`
    /// holds each window's start (`which` = `2k`) and end (`2k + 1`), in ascending order,
    /// and `out[k]` gets what [`Self::range`] and [`Self::raw_sum`] give for the `k`-th:
    /// the entries `a..b` with times in `(start, end]` and the raw sum of their values.
    /// The walk starts at the first entry past the earliest bound (one search) and meets
    /// the bounds in turn, keeping a running sum, so windows that nest (a day, a week, a
    /// month) cost about as much as the widest alone, where each took two searches and a
    /// sum. `false`, and nothing written, for a log whose times are not packed seconds,
    /// whose entries are buckets, or for marks out of order.
    pub fn ranges_and_sums(&self, marks: &[(i64, usize)], out: &mut [(usize, usize, i128)]) -> bool {
        let TimeCol::Packed(v) = &self.times else { return false };
        let k = marks.len() / 2;
        if self.counts().is_some()
            || k == 0
            || k > MAX_FAMILY
            || marks.len() != 2 * k
            || out.len() < k
            || marks.windows(2).any(|m| m[0].0 > m[1].0)
        {
            return false;
        }
        debug_assert!(marks.iter().all(|m| m.1 < 2 * k), "each bound names one of the windows");
        // Every entry before `start` is at or before every bound.
        let start = self.times.upper_bound(marks[0].0);
        let (front, back) = v.as_slices();
        let f = front.len();
        // Where the walk stood at each bound, and the sum of the values it had passed: the
        // front half of the deque, then (when the walk gets past it) the back half.
        let (mut at, mut passed) = ([0usize; 2 * MAX_FAMILY], [0i64; 2 * MAX_FAMILY]);
        let (mut i, mut acc) = (start, 0i64);
        for &(time, which) in marks {
            let bound = TimeCol::packed_bound(time);
            if i < f {
                i = walk_to(front, i, bound, &mut acc);
            }
            if i >= f {
                i = f + walk_to(back, i - f, bound, &mut acc);
            }
            at[which] = i;
            passed[which] = acc;
        }
        for (w, o) in out.iter_mut().take(k).enumerate() {
            let (a, b) = (at[2 * w], at[2 * w + 1]);
            let sum = if self.has_values && b > a { i128::from(passed[2 * w + 1] - passed[2 * w]) } else { 0 };
            *o = (a, b.max(a), sum);
        }
        true
    }

    /// Number of events in `a..b`, not counting entry `skip`.
    #[inline]
    pub fn count(&self, a: usize, b: usize, skip: Option<usize>) -> i64 {
        let skipped = i64::from(matches!(skip, Some(p) if p >= a && p < b));
        match self.counts() {
            None => (b - a) as i64 - skipped,
            // With buckets, `skip` names the bucket that holds the current event: remove one event from it.
            Some(c) => c.range(a..b).map(|&x| i64::from(x)).sum::<i64>() - skipped,
        }
    }

    /// Number of events in `a..b` that have a value, not counting entry `skip`.
    #[inline]
    pub fn value_count(&self, a: usize, b: usize, skip: Option<usize>) -> i64 {
        let n = self.count(a, b, skip);
        match self.nulls() {
            None => n,
            Some(nulls) => n - nulls.range(a..b).enumerate().filter(|&(i, &x)| x && Some(a + i) != skip).count() as i64,
        }
    }

    fn is_null_at(&self, i: usize) -> bool {
        self.nulls().is_some_and(|n| n[i])
    }

    /// Sum of values in `a..b` (at [`Self::scale`]), without entry `skip`'s value.
    /// With buckets the skipped event's own value is passed in `skip_value`.
    #[inline]
    pub fn sum(&self, a: usize, b: usize, skip: Option<usize>, skip_value: i128) -> i128 {
        self.raw_sum(a, b) - self.skipped_value(a, b, skip, skip_value)
    }

    /// What [`Self::sum`] takes out for `skip`.
    #[inline]
    pub fn skipped_value(&self, a: usize, b: usize, skip: Option<usize>, skip_value: i128) -> i128 {
        match skip {
            Some(p) if p >= a && p < b && self.has_values => {
                if self.counts().is_some() {
                    skip_value
                } else {
                    self.value_at(p)
                }
            }
            _ => 0,
        }
    }

    /// Brings the log's times (and packed values) towards the processor before they are
    /// searched and summed ([`TimeCol::touch`]).
    pub fn touch(&self) -> u64 {
        let extra = self.extra.as_deref().map_or(0, |x| {
            let values = match &x.values {
                Some(ValCol::I32(v)) => touch_lines(v, |&x| x as u64),
                Some(ValCol::I64(v)) => touch_lines(v, |&x| x as u64),
                Some(ValCol::I128(v)) => touch_lines(v, |&x| x as u64),
                None => 0,
            };
            values ^ x.hashes.as_ref().map_or(0, |h| touch_lines(h, |&x| x))
        });
        self.times.touch() ^ extra
    }

    /// Asks for the log's entries, as [`EntityLog::touch`] reads them, without waiting.
    pub fn prefetch(&self) {
        match &self.times {
            TimeCol::Packed(v) => prefetch_lines(v),
            TimeCol::Micros(v) => prefetch_lines(v),
        }
        if let Some(x) = self.extra.as_deref() {
            match &x.values {
                Some(ValCol::I32(v)) => prefetch_lines(v),
                Some(ValCol::I64(v)) => prefetch_lines(v),
                Some(ValCol::I128(v)) => prefetch_lines(v),
                None => {}
            }
            if let Some(h) = &x.hashes {
                prefetch_lines(h);
            }
        }
    }

    /// Sum of values in `a..b`.
    #[inline]
    pub fn raw_sum(&self, a: usize, b: usize) -> i128 {
        if !self.has_values {
            return 0;
        }
        match (&self.times, self.values()) {
            (TimeCol::Packed(v), _) => {
                let (front, back) = v.as_slices();
                let f = front.len();
                let part = |sl: &[u64]| sl.iter().map(|&x| i64::from(packed_value(x))).sum::<i64>();
                let s1 = if a < f { part(&front[a..b.min(f)]) } else { 0 };
                let s2 = if b > f { part(&back[a.max(f) - f..b - f]) } else { 0 };
                i128::from(s1 + s2)
            }
            (_, Some(c)) => c.sum(a, b),
            _ => 0,
        }
    }

    /// Minimum and maximum in `a..b`, skipping `skip`.
    pub fn min_max(&self, a: usize, b: usize, skip: Option<usize>) -> Option<(i128, i128)> {
        if !self.has_values {
            return None;
        }
        let mut out: Option<(i128, i128)> = None;
        for i in a..b {
            if Some(i) == skip || self.is_null_at(i) {
                continue;
            }
            let x = self.value_at(i);
            out = Some(out.map_or((x, x), |(lo, hi)| (lo.min(x), hi.max(x))));
        }
        out
    }

    /// Distinct value hashes in `a..b`, skipping `skip` (its hash still counts if another entry has it).
    pub fn distinct(
        &self,
        a: usize,
        b: usize,
        skip: Option<usize>,
        scratch: &mut hashbrown::HashSet<u64, foldhash::fast::FixedState>,
    ) -> i64 {
        let Some(h) = self.hashes() else { return 0 };
        scratch.clear();
        for (i, &hash) in h.range(a..b).enumerate() {
            let i = a + i;
            if Some(i) != skip && !self.is_null_at(i) {
                scratch.insert(hash);
            }
        }
        scratch.len() as i64
    }

    /// Bytes this log holds on the heap (its columns at capacity, plus its accumulator).
    pub fn heap_bytes(&self) -> usize {
        let mut b = self.times.heap_bytes();
        if let Some(c) = self.values() {
            b += c.heap_bytes();
        }
        if let Some(h) = self.hashes() {
            b += h.capacity() * 8;
        }
        if let Some(c) = self.counts() {
            b += c.capacity() * 4;
        }
        if let Some(c) = self.nulls() {
            b += c.capacity();
        }
        if let Some(a) = &self.all {
            b += std::mem::size_of::<AllAcc>() + a.distinct.as_ref().map_or(0, |s| s.capacity() * 9);
        }
        if let Some(o) = self.owned() {
            b += o.capacity() * std::mem::size_of::<mamori_core::OwnedValue>();
        }
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(t: i64, v: i64) -> Entry {
        Entry { time: t * MICROS + BASE_SECS * MICROS, value: Some(Scaled::from_int(v)), hash: v as u64, owned: None, null: false }
    }

    /// One entry of every eight `u64`s (a cache line) is read, across both halves of a
    /// deque that wrapped, and every column of a log with extra columns.
    #[test]
    fn touching_reads_an_entry_of_every_line() {
        let mut v: VecDeque<u64> = (0..20).map(|i| 1 << i).collect();
        assert_eq!(touch_lines(&v, |&x| x), 1 | 1 << 8 | 1 << 16);
        for i in 20..24 {
            v.push_front(1 << i);
        }
        let (front, back) = v.as_slices();
        assert!(!front.is_empty() && !back.is_empty(), "wrapped");
        let want = front.iter().step_by(8).chain(back.iter().step_by(8)).fold(0, |a, x| a ^ x);
        assert_eq!(touch_lines(&v, |&x| x), want);
        let wide: VecDeque<i128> = (0..9).map(|i| 1 << i).collect();
        assert_eq!(touch_lines(&wide, |&x| x as u64), 1 | 1 << 4 | 1 << 8);
        assert_eq!(touch_lines(&VecDeque::<u64>::new(), |&x| x), 0);

        let mut l = EntityLog::new(LogShape { values: true, hashes: true, ..Default::default() });
        for t in 0..20 {
            l.add(&e(t, 1 << t), 0).unwrap();
        }
        let times = l.times.touch();
        assert_ne!(times, 0);
        let h = l.extra.as_ref().and_then(|x| x.hashes.as_ref()).unwrap();
        let (front, back) = h.as_slices();
        let want = front.iter().step_by(8).chain(back.iter().step_by(8)).fold(0, |a, x| a ^ x);
        assert_eq!(want.count_ones() as usize, front.len().div_ceil(8) + back.len().div_ceil(8));
        assert_eq!(l.touch(), times ^ want);
    }

    #[test]
    fn widen_time_and_values() {
        let mut l = EntityLog::new(LogShape { values: true, ..Default::default() });
        l.add(&e(10, 5), 0).unwrap();
        l.add(
            &Entry { time: (BASE_SECS + 11) * MICROS + 500, value: Some(Scaled::from_int(i64::MAX)), hash: 0, owned: None, null: false },
            0,
        )
        .unwrap();
        l.add(
            &Entry { time: (BASE_SECS + 12) * MICROS, value: Some(Scaled { mantissa: 15, scale: 1 }), hash: 0, owned: None, null: false },
            0,
        )
        .unwrap();
        assert!(matches!(l.times, TimeCol::Micros(_)));
        assert!(l.values().is_some());
        assert_eq!(l.scale(), 1);
        let (a, b) = l.range(i64::MIN, i64::MAX);
        assert_eq!(l.count(a, b, None), 3);
        assert_eq!(l.sum(a, b, None, 0), 50 + i128::from(i64::MAX) * 10 + 15);
    }

    /// Eviction drops exactly the entries at or before the cutoff, to the microsecond, in
    /// a packed log and in one that keeps microseconds or extra columns.
    #[test]
    fn eviction_drops_what_is_at_or_before_the_cutoff() {
        let at = |s: i64| e(s, 0).time;
        let shapes = [
            LogShape { values: true, ..Default::default() },
            LogShape { values: true, hashes: true, ..Default::default() },
            LogShape { values: true, all: true, ..Default::default() },
        ];
        for (shape, wide) in shapes.iter().flat_map(|s| [(*s, false), (*s, true)]) {
            let mut l = EntityLog::new(shape);
            for t in [10, 20, 20, 30] {
                l.add(&e(t, 1), 0).unwrap();
            }
            if wide {
                l.add(&Entry { time: at(40) + 1, ..e(40, 1) }, 0).unwrap();
            }
            let n = l.times.len();
            assert_eq!(l.evict_through(at(10) - 1), 0, "{shape:?} {wide}");
            assert_eq!(l.evict_through(at(20) - 1), 1, "{shape:?} {wide}");
            assert_eq!(l.evict_through(at(20)), 2, "{shape:?} {wide}");
            assert_eq!(l.evict_through(at(30) - 1), 0, "{shape:?} {wide}");
            assert_eq!(l.times.len(), n - 3);
            assert_eq!(l.time(0), at(30));
            assert_eq!(l.all().map(|a| a.count), shape.all.then_some(3));
        }
    }

    #[test]
    fn out_of_order_and_ranges() {
        let mut l = EntityLog::new(LogShape { values: true, ..Default::default() });
        for (t, v) in [(10, 1), (30, 3), (20, 2), (30, 4)] {
            l.add(&e(t, v), 0).unwrap();
        }
        let base = BASE_SECS * MICROS;
        let (a, b) = l.range(base + 10 * MICROS, base + 30 * MICROS);
        assert_eq!(l.count(a, b, None), 3);
        assert_eq!(l.sum(a, b, None, 0), 9);
        assert_eq!(l.min_max(a, b, None), Some((2, 4)));
        assert_eq!(l.evict_through(base + 20 * MICROS), 2);
        assert_eq!(l.times.len(), 2);
    }

    proptest::proptest! {
        /// The search's float guess is only a start: the answer is a linear scan's, keys
        /// near the ends of `u64` and `i64` (where floats lose digits) included.
        #[test]
        fn searches_agree_with_a_scan(
            mut small in proptest::collection::vec(proptest::prelude::any::<u64>(), 0..40),
            mut near in proptest::collection::vec(0u64..64, 0..40),
            probes in proptest::collection::vec(proptest::prelude::any::<u64>(), 1..20),
            high in proptest::prelude::any::<bool>(),
        ) {
            small.sort_unstable();
            let v: VecDeque<u64> = small.into_iter().collect();
            for &k in &probes {
                proptest::prop_assert_eq!(upper_bound_by(&v, k, |&x| x), v.iter().filter(|&&x| x <= k).count());
            }
            // Keys a few apart at the top (or bottom) of the range.
            near.sort_unstable();
            let base = if high { i64::MAX - 80 } else { i64::MIN };
            let w: VecDeque<i64> = near.iter().map(|&d| base + d as i64).collect();
            for &k in &probes {
                let k = base + (k % 70) as i64;
                proptest::prop_assert_eq!(upper_bound_by(&w, k, |&x| x), w.iter().filter(|&&x| x <= k).count());
            }
        }

        /// One walk finds what a search and a sum per window find, for windows that nest,
        /// overlap, are empty or lie past either end of the log, in a deque that wrapped; a
        /// log that is not packed (or holds buckets) is left to the searches.
        #[test]
        fn one_walk_finds_every_window(
            times in proptest::collection::vec(0i64..200, 0..60),
            values in proptest::collection::vec(-1000i64..1000, 60),
            dropped in 0usize..20,
            windows in proptest::collection::vec((-50i64..260, 0i64..120, 0i64..40), 1..=MAX_FAMILY),
            has_values in proptest::prelude::any::<bool>(),
            wide in proptest::prelude::any::<bool>(),
        ) {
            let mut times = times;
            times.sort_unstable();
            let mut l = EntityLog::new(LogShape { values: has_values, ..Default::default() });
            for (&t, &v) in times.iter().zip(&values) {
                l.add(&e(t, v), 0).unwrap();
            }
            // Entries dropped at the front and added at the back wrap the deque.
            let cut = times.get(dropped.min(times.len().saturating_sub(1))).copied().unwrap_or(0) - 1;
            l.evict_through(e(cut, 0).time);
            for (i, &v) in values.iter().take(dropped).enumerate() {
                l.add(&e(200 + i as i64, v), 0).unwrap();
            }
            if wide {
                // A time off the whole second: the log keeps microseconds from then on.
                l.add(&Entry { time: e(300, 0).time + 1, ..e(300, 1) }, 0).unwrap();
            }
            let bounds: Vec<(i64, i64)> = windows.iter().map(|&(to, w, d)| {
                let to = e(to - d, 0).time;
                (to - w * MICROS, to)
            }).collect();
            let mut marks: Vec<(i64, usize)> = bounds.iter().enumerate().flat_map(|(k, &(from, to))| [(from, 2 * k), (to, 2 * k + 1)]).collect();
            marks.sort_unstable();
            let mut found = [(0, 0, 0); MAX_FAMILY];
            let walked = l.ranges_and_sums(&marks, &mut found);
            proptest::prop_assert_eq!(walked, !wide);
            // Out of order, they are left to the searches.
            if marks[0].0 < marks[marks.len() - 1].0 {
                marks.reverse();
                proptest::prop_assert!(!l.ranges_and_sums(&marks, &mut found));
            }
            if walked {
                for (&(from, to), &(a, b, sum)) in bounds.iter().zip(&found) {
                    let (ra, rb) = l.range(from, to);
                    proptest::prop_assert_eq!((a, b), (ra, rb));
                    proptest::prop_assert_eq!(sum, l.raw_sum(ra, rb));
                }
            }
        }

        #[test]
        fn scaled_values_convert_as_from_i128(mantissa in proptest::prelude::any::<i128>(), small in proptest::prelude::any::<i64>(), scale in 0u32..30) {
            for m in [mantissa, i128::from(small)] {
                let s = Scaled { mantissa: m, scale };
                proptest::prop_assert_eq!(s.to_f64().to_bits(), (m as f64 / 10f64.powi(scale as i32)).to_bits());
            }
        }
    }

    /// Every power from the table is the one `powi` makes, and so are those past it.
    #[test]
    fn powers_of_ten_are_those_of_powi() {
        for k in 0..400 {
            assert_eq!(pow10(k).to_bits(), 10f64.powi(k as i32).to_bits(), "10^{k}");
        }
    }

    /// The average of `k` equal amounts is that amount, as its decimal text reads (Rust
    /// parses correctly rounded): one division of exact doubles. Dividing the double of
    /// the sum by `k` afterwards misses it (0.30 over 3 gives 0.09999999999999999).
    #[test]
    fn an_average_of_equal_amounts_is_the_amount() {
        let mut missed_by_two_divisions = 0;
        for scale in [0u32, 2, 8] {
            for m0 in [1i128, 7, 10, 30, 33, 99, 123_456, 9_999_999, 1_000_001] {
                for k in 1..=40i64 {
                    let total = Scaled { mantissa: m0 * i128::from(k), scale };
                    let text = format!("{m0}e-{scale}");
                    let want: f64 = text.parse().unwrap();
                    assert_eq!(total.over(k).to_bits(), want.to_bits(), "{text} times {k}, over {k}");
                    missed_by_two_divisions += usize::from((total.to_f64() / k as f64).to_bits() != want.to_bits());
                }
            }
        }
        assert!(missed_by_two_divisions > 0);
        // Beyond exact doubles, the value's double over k.
        let huge = Scaled { mantissa: (1i128 << 60) + 1, scale: 2 };
        assert_eq!(huge.over(3).to_bits(), (huge.to_f64() / 3.0).to_bits());
        let deep = Scaled { mantissa: 5, scale: 20 };
        assert_eq!(deep.over(2).to_bits(), (deep.to_f64() / 2.0).to_bits());
    }

    #[test]
    fn buckets_merge() {
        let mut l = EntityLog::new(LogShape { values: true, bucket: 3600 * MICROS, ..Default::default() });
        for t in [0, 100, 3599, 3600] {
            l.add(&e(t, 1), 3600 * MICROS).unwrap();
        }
        assert_eq!(l.times.len(), 2);
        let (a, b) = l.range(i64::MIN, i64::MAX);
        assert_eq!(l.count(a, b, None), 4);
        // Buckets are counted by the searches, not walked.
        assert!(!l.ranges_and_sums(&[(0, 2), (1, 0), (1, 3), (i64::MAX, 1)], &mut [(0, 0, 0); 2]));
    }
}
