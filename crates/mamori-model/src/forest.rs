//! A model compiled for fast scoring.
//!
//! [`Model::margin`] follows each tree's nodes by their child indices: every step waits
//! for the node before it and takes a branch the processor can rarely predict. A
//! [`Forest`] pads every tree out to a complete binary tree of one depth (the deepest
//! tree's), so that a row takes the same number of steps in every tree, the children of
//! node `j` sit at `2j` and `2j + 1`, and each step is a comparison turned into an index
//! rather than a branch. Several walks that do not depend on each other are run side by
//! side (a block of rows through one tree, or one row through several trees) so that the
//! processor overlaps them.
//!
//! A leaf above the full depth becomes a chain of splits that every value (missing ones
//! too) passes to the left, ending in leaves of the same value, so a row reaches the same
//! leaf value as in the model. Values are compared as integer keys that keep the order of
//! `<=` (see [`key`]), missing values get a key below or above every other according to
//! the side the split sends them, and the leaf values are added in the model's order from
//! its base: a forest's margins equal [`Model::margin`] bit for bit, missing values and
//! infinities included.
//!
//! For blocks of rows ([`Forest::margins`]) a model of shallow trees is also compiled with
//! values as bytes. Take the distinct thresholds of the splits on one feature, in order,
//! `T_1 < ... < T_m` (zeros of either sign are one threshold, as with keys): a value `x`
//! that is not missing falls in bin `1 + #{k : T_k < x}`, so that `x <= T_j` exactly when
//! its bin is at most `j`, and a split on `T_j` keeps the byte `j`. A missing value is bin
//! 0 for the splits that send it left and 255 for those that send it right: two bytes a
//! feature, as there are two keys. Each value of a row is binned once, by a binary search
//! among its feature's thresholds. Then a block of [`LANES`] rows goes through each tree a
//! level at a time: every split of the level is tested for every row, and each row keeps
//! the outcome of the split it stands at. That is `2^depth - 1` tests a tree rather than
//! `depth`, but the tests do not depend on each other and compare bytes, so the compiler
//! does sixteen rows in one instruction (with 16-byte vector registers, such as SSE2,
//! which every x86-64 processor has), and nothing waits on a chain of dependent loads as
//! in a walk. It pays for shallow trees only ([`MAX_BINNED_DEPTH`]). Bytes are used when
//! they can hold the model: at most [`MAX_CUTS`] thresholds a feature, splits on the
//! first 128 features only (two slots a feature, numbered by a byte), and no NaN
//! threshold. Other models, single rows ([`Forest::margin`]) and the last rows of a call
//! when fewer than [`MIN_LANES`] are left over are walked with keys.

use crate::Model;
use crate::tree::{Node, sigmoid, walk};

/// Past this depth a complete tree has too many nodes (2^depth leaves a tree) to be worth
/// it, and past this many nodes in all (20 bytes each) a model takes too much memory
/// padded: such a model is scored by walking its nodes as they are.
const MAX_PADDED_DEPTH: usize = 12;
const MAX_PADDED_NODES: usize = 1 << 22;

/// Rows walked together through each tree by [`Forest::margins`]: enough independent
/// walks to keep the processor busy, few enough that their positions stay in registers.
const BLOCK: usize = 8;

/// Trees walked together by [`Forest::margin`], for the same reason.
const LOCKSTEP: usize = 8;

/// Slots a row has in a fixed-size key table (two a feature: models of up to 128
/// features). A key read from it needs no bounds check, which makes a step of a walk
/// measurably cheaper; wider models use a table of their own size ([`Wide`]).
const NARROW: usize = 256;

/// A [`Model`] compiled for scoring: the same margins, bit for bit, several times faster.
/// [`Forest::margins`] scores many rows at once, faster still a row than
/// [`Forest::margin`].
#[derive(Debug, Clone)]
pub struct Forest {
    base: f64,
    /// Values a row must have at least (the model's feature count).
    width: usize,
    layout: Layout,
}

#[derive(Debug, Clone)]
enum Layout {
    Padded(Padded),
    /// Trees too deep to pad, walked as the model walks them.
    Nodes(Vec<Vec<Node>>),
}

/// Every tree complete to `depth` levels, in `2^depth` entries of each array: nodes
/// numbered from 1 in breadth-first order (the children of node `j` are `2j` and
/// `2j + 1`), splits `1..2^depth` in `key` and `slot` (entry 0 unused) and the leaves
/// `2^depth..2^(depth + 1)`, left to right, in `leaf`.
#[derive(Debug, Clone)]
struct Padded {
    depth: usize,
    /// A row goes right of a split when its key at the split's slot is above this.
    key: Vec<u64>,
    /// `2 * feature`, plus 1 when a missing value goes right (see [`fill`]).
    slot: Vec<u32>,
    leaf: Vec<f64>,
    /// The same splits as bytes, when they fit.
    bins: Option<Binned>,
}

impl Forest {
    /// Compiles a model (which must be valid: see [`Model::validate`]).
    pub fn new(model: &Model) -> Forest {
        let depth = model.trees.iter().map(|t| tree_depth(t)).max().unwrap_or(0);
        let layout = if depth <= MAX_PADDED_DEPTH && model.trees.len() << depth <= MAX_PADDED_NODES {
            Layout::Padded(Padded::new(&model.trees, depth))
        } else {
            Layout::Nodes(model.trees.clone())
        };
        Forest { base: model.base, width: model.features.len(), layout }
    }

    /// The raw score (log-odds) of one row: [`Model::margin`], bit for bit. `x` holds at
    /// least one value per feature of the model, in the model's order.
    pub fn margin(&self, x: &[f64]) -> f64 {
        assert!(x.len() >= self.width, "a row of {} values for a model of {} features", x.len(), self.width);
        let x = &x[..self.width];
        match &self.layout {
            Layout::Padded(p) if 2 * self.width <= NARROW => p.row(self.base, &mut [[0u64; NARROW]; 1], x),
            Layout::Padded(p) => p.row(self.base, &mut Wide::<1>::new(self.width), x),
            Layout::Nodes(trees) => walk(trees, self.base, x),
        }
    }

    /// The probability of fraud of one row: [`Model::score`], bit for bit.
    pub fn score(&self, x: &[f64]) -> f64 {
        sigmoid(self.margin(x))
    }

    /// The margins of a block of rows stored one after the other, `width` values each
    /// (`rows.len() == out.len() * width`, `width` at least the model's feature count):
    /// `out[r]` is [`Forest::margin`] of row `r`.
    pub fn margins(&self, rows: &[f64], width: usize, out: &mut [f64]) {
        assert!(width >= self.width, "rows of {width} values for a model of {} features", self.width);
        assert_eq!(rows.len(), out.len() * width, "{} values are not {} rows of {width}", rows.len(), out.len());
        // Row `r` of `out`, cut to the model's features.
        let row = |r: usize| &rows[r * width..r * width + self.width];
        match &self.layout {
            Layout::Padded(p) => {
                // Whole blocks by bytes when the model has them, the rest with keys.
                let done = p.bins.as_ref().map_or(0, |b| b.rows(p, self.base, row, out));
                if done < out.len() {
                    let (row, out) = (|r: usize| row(done + r), &mut out[done..]);
                    if 2 * self.width <= NARROW {
                        p.rows(self.base, &mut [[0u64; NARROW]; BLOCK], row, out);
                    } else {
                        p.rows(self.base, &mut Wide::<BLOCK>::new(self.width), row, out);
                    }
                }
            }
            Layout::Nodes(trees) => {
                for (r, o) in out.iter_mut().enumerate() {
                    *o = walk(trees, self.base, row(r));
                }
            }
        }
    }

    /// The probabilities of fraud of a block of rows, laid out as for [`Forest::margins`].
    pub fn scores(&self, rows: &[f64], width: usize, out: &mut [f64]) {
        self.margins(rows, width, out);
        for o in out {
            *o = sigmoid(*o);
        }
    }
}

/// The number of splits on the longest path from the root to a leaf.
fn tree_depth(tree: &[Node]) -> usize {
    // Children come after their parents, so one pass in order sees every parent first.
    let mut depth: Vec<Option<usize>> = vec![None; tree.len()];
    depth[0] = Some(0);
    let mut deepest = 0;
    for (i, n) in tree.iter().enumerate() {
        let Some(d) = depth[i] else { continue };
        deepest = deepest.max(d);
        if !n.is_leaf() {
            for c in [n.left as usize, n.right as usize] {
                depth[c] = Some(depth[c].map_or(d + 1, |e| e.max(d + 1)));
            }
        }
    }
    deepest
}

/// Where a value that is not NaN stands in the order of `<=`, as an integer: `a <= b`
/// exactly when `key(a) <= key(b)` (zeros of either sign are one value, as `<=` has
/// them). Keys lie between `key(-inf) = 2^52 - 1` and `key(inf) < u64::MAX`, which leaves
/// 0 and `u64::MAX` for missing values.
fn key(v: f64) -> u64 {
    // Adding zero turns -0.0 into 0.0 and leaves every other value as it is.
    let b = (v + 0.0).to_bits();
    if b >> 63 == 1 { !b } else { b | 1 << 63 }
}

/// Writes the keys of a row's values `x` into its slots in a key table: value `f`'s key
/// at slots `2f` and `2f + 1`, except that a missing value is 0 at `2f` (not above any
/// split's key: it goes left) and `u64::MAX` at `2f + 1` (above every split's key: it goes
/// right).
fn fill(slots: &mut [u64], x: &[f64]) {
    for (pair, &v) in slots.chunks_exact_mut(2).zip(x) {
        let (k, nan) = (key(v), v.is_nan());
        pair[0] = if nan { 0 } else { k };
        pair[1] = if nan { u64::MAX } else { k };
    }
}

/// The keys of `B` rows, by row and slot.
trait Keys<const B: usize> {
    fn get(&self, row: usize, slot: u32) -> u64;
    /// Row `row`'s slots, to [`fill`].
    fn slots(&mut self, row: usize) -> &mut [u64];
}

/// A table of [`NARROW`] slots a row, for models of at most `NARROW / 2` features: their
/// slots all fit in a byte.
impl<const B: usize> Keys<B> for [[u64; NARROW]; B] {
    #[inline(always)]
    fn get(&self, row: usize, slot: u32) -> u64 {
        self[row][slot as u8 as usize]
    }
    fn slots(&mut self, row: usize) -> &mut [u64] {
        &mut self[row]
    }
}

/// A table of `2 * features` slots a row, for wider models.
struct Wide<const B: usize> {
    keys: Vec<u64>,
    stride: usize,
}

impl<const B: usize> Wide<B> {
    fn new(features: usize) -> Wide<B> {
        Wide { keys: vec![0; B * 2 * features], stride: 2 * features }
    }
}

impl<const B: usize> Keys<B> for Wide<B> {
    #[inline(always)]
    fn get(&self, row: usize, slot: u32) -> u64 {
        self.keys[row * self.stride + slot as usize]
    }
    fn slots(&mut self, row: usize) -> &mut [u64] {
        &mut self.keys[row * self.stride..(row + 1) * self.stride]
    }
}

/// Runs `$e` with `$d` a constant equal to `$depth` (at most [`MAX_PADDED_DEPTH`]), so that
/// the walks are compiled for each depth.
macro_rules! with_depth {
    ($depth:expr, $d:ident => $e:expr) => {
        with_depth!($depth, $d => $e; 0 1 2 3 4 5 6 7 8 9 10 11 12)
    };
    ($depth:expr, $d:ident => $e:expr; $($n:literal)*) => {
        match $depth {
            $($n => {
                const $d: usize = $n;
                $e
            })*
            d => unreachable!("depth {d} is not padded"),
        }
    };
}
const _: () = assert!(MAX_PADDED_DEPTH == 12, "with_depth! covers depths 0 to 12");

impl Padded {
    fn new(trees: &[Vec<Node>], depth: usize) -> Padded {
        let size = 1usize << depth;
        // Unused entries and padding: no key is above u64::MAX, so every row goes left.
        let mut p = Padded {
            depth,
            key: vec![u64::MAX; trees.len() * size],
            slot: vec![0; trees.len() * size],
            leaf: vec![0.0; trees.len() * size],
            bins: None,
        };
        for (t, tree) in trees.iter().enumerate() {
            p.place(t, tree, 0, 1);
        }
        p.bins = Binned::new(&p);
        p
    }

    /// Puts the model's node `node` of tree `t` at node `at` of the complete tree, and its
    /// subtree below it.
    fn place(&mut self, t: usize, tree: &[Node], node: usize, at: usize) {
        let size = 1usize << self.depth;
        let n = &tree[node];
        if at >= size {
            // The full depth: a leaf of the model (no path is longer than `depth`).
            debug_assert!(n.is_leaf());
            self.leaf[t * size + at - size] = n.value;
        } else if n.is_leaf() {
            // A leaf above the full depth: the padding split there sends every row left;
            // the same value fills every leaf below it.
            self.place(t, tree, node, 2 * at);
            self.place(t, tree, node, 2 * at + 1);
        } else {
            // A NaN threshold (no learner writes one) sends every value right, as `<=`
            // does: every value's key is above 0.
            self.key[t * size + at] = if n.threshold.is_nan() { 0 } else { key(n.threshold) };
            self.slot[t * size + at] = 2 * n.feature + u32::from(!n.missing_left);
            self.place(t, tree, n.left as usize, 2 * at);
            self.place(t, tree, n.right as usize, 2 * at + 1);
        }
    }

    /// The margin of row `x` (cut to the model's features), its keys put in `keys`.
    fn row<K: Keys<1>>(&self, base: f64, keys: &mut K, x: &[f64]) -> f64 {
        fill(keys.slots(0), x);
        with_depth!(self.depth, D => self.row_at::<D, K>(base, keys))
    }

    fn row_at<const D: usize, K: Keys<1>>(&self, base: f64, keys: &K) -> f64 {
        let size = 1usize << D;
        let mut m = base;
        let mut key = self.key.chunks_exact(LOCKSTEP * size);
        let mut slot = self.slot.chunks_exact(LOCKSTEP * size);
        let mut leaf = self.leaf.chunks_exact(LOCKSTEP * size);
        for ((key, slot), leaf) in (&mut key).zip(&mut slot).zip(&mut leaf) {
            for v in leaves::<D, LOCKSTEP, K>(key, slot, leaf, keys) {
                m += v;
            }
        }
        // The last trees, fewer than LOCKSTEP, one by one.
        let rest = key.remainder().chunks_exact(size).zip(slot.remainder().chunks_exact(size)).zip(leaf.remainder().chunks_exact(size));
        for ((key, slot), leaf) in rest {
            let [v] = leaves::<D, 1, K>(key, slot, leaf, keys);
            m += v;
        }
        m
    }

    /// Writes the margins of rows `row(0)..row(out.len())` into `out`, `BLOCK` rows at a
    /// time, their keys put in `keys`.
    fn rows<'a, K: Keys<BLOCK>>(&self, base: f64, keys: &mut K, row: impl Fn(usize) -> &'a [f64], out: &mut [f64]) {
        for (b, out) in out.chunks_mut(BLOCK).enumerate() {
            for r in 0..out.len() {
                fill(keys.slots(r), row(b * BLOCK + r));
            }
            // A last, short block is walked whole: its extra rows (whatever keys the table
            // holds) are dropped.
            let mut acc = [base; BLOCK];
            with_depth!(self.depth, D => self.block::<D, K>(keys, &mut acc));
            out.copy_from_slice(&acc[..out.len()]);
        }
    }

    /// Adds every tree's leaf value to `acc[r]` for the `BLOCK` rows whose keys are `keys`.
    fn block<const D: usize, K: Keys<BLOCK>>(&self, keys: &K, acc: &mut [f64; BLOCK]) {
        let size = 1usize << D;
        for ((key, slot), leaf) in self.key.chunks_exact(size).zip(self.slot.chunks_exact(size)).zip(self.leaf.chunks_exact(size)) {
            let mut at = [1usize; BLOCK];
            for _ in 0..D {
                for (r, j) in at.iter_mut().enumerate() {
                    // The mask changes nothing (`*j < size` here) but spares a bounds check.
                    let n = *j & (size - 1);
                    *j = 2 * *j + usize::from(key[n] < keys.get(r, slot[n]));
                }
            }
            for (a, j) in acc.iter_mut().zip(at) {
                *a += leaf[j & (size - 1)];
            }
        }
    }
}

/// Trees deeper than this are not scored as bytes: testing all `2^depth - 1` splits of a
/// tree costs more than walking its `depth` levels.
const MAX_BINNED_DEPTH: usize = 6;
const _: () = assert!(MAX_BINNED_DEPTH == 6, "Binned::rows covers depths 0 to 6");

/// Most distinct thresholds a feature may have for bytes. With `m` thresholds, values fall
/// in bins 1 to `m + 1` and splits keep bytes 1 to `m`; missing values take 0 and 255, and
/// padding splits (which send every row left) keep 255, which no bin is above. So `m + 1`
/// may reach 255 but `m` must stay below it, for a split to send right both the missing
/// values given 255 and the values above its threshold.
const MAX_CUTS: usize = 254;

/// Rows scored together as bytes: a byte each, sixteen to a vector register. The more,
/// the fewer times each split is read and its threshold spread across a register.
const LANES: usize = 64;

/// The fewest rows left at the end of a call (after its whole blocks) that are scored as a
/// block of bytes, the block's other lanes wasted; fewer are walked with keys, which then
/// costs less.
const MIN_LANES: usize = LANES / 2;

/// The splits of a [`Padded`] forest as bytes (see the module's documentation), to score
/// blocks of rows; the leaves are the [`Padded`]'s.
#[derive(Debug, Clone)]
struct Binned {
    /// The features that splits test, each with its thresholds in `cuts`.
    features: Vec<Cuts>,
    /// The keys of each feature's distinct thresholds in order, then `u64::MAX` (above
    /// every value's key) to make `2^steps - 1` entries for the feature.
    cuts: Vec<u64>,
    /// `[slot, threshold]` for every entry of the [`Padded`] forest: a row goes right of a
    /// split when its bin at the slot (`2 * feature`, plus 1 when a missing value goes
    /// right) is above the threshold's. Unused entries and padding hold `[0, 255]`.
    split: Vec<[u8; 2]>,
}

#[derive(Debug, Clone, Copy)]
struct Cuts {
    feature: usize,
    /// The feature's thresholds are `cuts[start..start + 2^steps - 1]`.
    start: usize,
    steps: u32,
}

/// The bins of one slot for a block of rows.
#[derive(Debug, Clone, Copy)]
#[repr(align(64))]
struct Column([u8; LANES]);

impl Binned {
    /// The splits of `p` as bytes, or `None` if they do not fit (see the module's
    /// documentation).
    fn new(p: &Padded) -> Option<Binned> {
        if p.depth > MAX_BINNED_DEPTH {
            return None;
        }
        // The keys of the thresholds, by feature. Unused entries and padding have the key
        // u64::MAX (no threshold has it), a NaN threshold 0.
        let mut keys: Vec<Vec<u64>> = Vec::new();
        for (&k, &slot) in p.key.iter().zip(&p.slot) {
            let f = (slot / 2) as usize;
            if k == u64::MAX {
                continue;
            }
            if k == 0 || 2 * f + 1 > usize::from(u8::MAX) {
                return None;
            }
            if keys.len() <= f {
                keys.resize(f + 1, Vec::new());
            }
            keys[f].push(k);
        }
        let mut features = Vec::new();
        let mut cuts = Vec::new();
        for (feature, k) in keys.iter_mut().enumerate() {
            k.sort_unstable();
            k.dedup();
            if k.len() > MAX_CUTS {
                return None;
            }
            if !k.is_empty() {
                let steps = usize::BITS - k.len().leading_zeros();
                features.push(Cuts { feature, start: cuts.len(), steps });
                cuts.extend_from_slice(k);
                cuts.resize(cuts.len() + (1 << steps) - 1 - k.len(), u64::MAX);
            }
        }
        let split = p
            .key
            .iter()
            .zip(&p.slot)
            .map(|(&k, &slot)| match k {
                u64::MAX => [0, u8::MAX],
                // Threshold `T_j` is byte `j`, the number of thresholds below it plus 1.
                _ => [slot as u8, 1 + keys[(slot / 2) as usize].partition_point(|&c| c < k) as u8],
            })
            .collect();
        Some(Binned { features, cuts, split })
    }

    /// Writes the margins of the first rows of `out` (rows `row(0)..`), `LANES` at a time,
    /// and returns how many: all of them, or all but a last few that are better walked.
    fn rows<'a>(&self, p: &Padded, base: f64, row: impl Fn(usize) -> &'a [f64], out: &mut [f64]) -> usize {
        let n = if out.len() % LANES >= MIN_LANES { out.len() } else { out.len() - out.len() % LANES };
        if n == 0 {
            return 0;
        }
        let mut cols = vec![Column([0; LANES]); 256];
        let cols: &mut [Column; 256] = cols.as_mut_slice().try_into().expect("256 columns");
        let mut xs: [&[f64]; LANES] = [&[]; LANES];
        for (b, out) in out[..n].chunks_mut(LANES).enumerate() {
            let xs = &mut xs[..out.len()];
            for (r, x) in xs.iter_mut().enumerate() {
                *x = row(b * LANES + r);
            }
            self.fill_bins(cols, xs);
            // A last, short block is scored whole: its extra rows (whatever bins the
            // columns hold) are dropped.
            let mut acc = [base; LANES];
            with_depth!(p.depth, D => self.block::<D>(&p.leaf, cols, &mut acc); 0 1 2 3 4 5 6);
            out.copy_from_slice(&acc[..out.len()]);
        }
        n
    }

    /// Puts the bins of rows `xs` into `cols`: those of feature `f` in column `2f`, with 0
    /// for a missing value (not above any split's byte: it goes left), and in column
    /// `2f + 1`, with 255 for a missing value (above every split's byte but padding's: it
    /// goes right).
    fn fill_bins(&self, cols: &mut [Column; 256], xs: &[&[f64]]) {
        for f in &self.features {
            let cuts = &self.cuts[f.start..f.start + (1 << f.steps) - 1];
            let (left, right) = cols.split_at_mut(2 * f.feature + 1);
            let (left, right) = (&mut left[2 * f.feature].0, &mut right[0].0);
            // A search of a fixed number of steps, compiled for each.
            match f.steps {
                1 => bin::<1>(cuts, f.feature, xs, left, right),
                2 => bin::<2>(cuts, f.feature, xs, left, right),
                3 => bin::<3>(cuts, f.feature, xs, left, right),
                4 => bin::<4>(cuts, f.feature, xs, left, right),
                5 => bin::<5>(cuts, f.feature, xs, left, right),
                6 => bin::<6>(cuts, f.feature, xs, left, right),
                7 => bin::<7>(cuts, f.feature, xs, left, right),
                _ => bin::<8>(cuts, f.feature, xs, left, right),
            }
        }
    }

    /// Adds every tree's leaf value to `acc[r]` for the `LANES` rows whose bins are in
    /// `cols`, a level of a tree at a time for all of them.
    fn block<const D: usize>(&self, leaf: &[f64], cols: &[Column; 256], acc: &mut [f64; LANES]) {
        let size = 1usize << D;
        for (split, leaf) in self.split.chunks_exact(size).zip(leaf.chunks_exact(size)) {
            // Where each row stands in the level: its node's number from the left, from 0.
            let mut at = [0u8; LANES];
            for level in 0..D {
                // 255 for the rows that go right of their node.
                let mut right = [0u8; LANES];
                for (n, &[slot, threshold]) in split[1 << level..2 << level].iter().enumerate() {
                    let n = n as u8;
                    let bin = &cols[usize::from(slot)].0;
                    // Indexed rather than zipped: the form the compiler keeps in vector
                    // registers.
                    for r in 0..LANES {
                        right[r] |= 0u8.wrapping_sub(u8::from((at[r] == n) & (bin[r] > threshold)));
                    }
                }
                for r in 0..LANES {
                    at[r] = (2 * at[r]).wrapping_sub(right[r]);
                }
            }
            for (a, at) in acc.iter_mut().zip(at) {
                *a += leaf[usize::from(at) & (size - 1)];
            }
        }
    }
}

/// Puts the bins of value `feature` of rows `xs` into `left` and `right` (see
/// [`Binned::fill_bins`]), among the keys `cuts` (in order, `2^K - 1` of them).
#[inline(always)]
fn bin<const K: u32>(cuts: &[u64], feature: usize, xs: &[&[f64]], left: &mut [u8; LANES], right: &mut [u8; LANES]) {
    let cuts = &cuts[..(1 << K) - 1];
    for ((x, left), right) in xs.iter().zip(left).zip(right) {
        let v = x[feature];
        let k = key(v);
        // The number of cuts below `k`, found in K steps without a branch.
        let mut below = 0usize;
        for s in (0..K).rev() {
            let half = 1usize << s;
            below += half * usize::from(cuts[below + half - 1] < k);
        }
        let b = 1 + below as u8;
        let missing = 0u8.wrapping_sub(u8::from(v.is_nan()));
        *left = b & !missing;
        *right = b | missing;
    }
}

/// The leaf values that the row whose keys are `keys` reaches in `T` trees laid out one
/// after the other in `key`, `slot` and `leaf`, walked side by side.
fn leaves<const D: usize, const T: usize, K: Keys<1>>(key: &[u64], slot: &[u32], leaf: &[f64], keys: &K) -> [f64; T] {
    let size = 1usize << D;
    let mut at = [1usize; T];
    for _ in 0..D {
        for (t, j) in at.iter_mut().enumerate() {
            let n = t * size + (*j & (size - 1));
            *j = 2 * *j + usize::from(key[n] < keys.get(0, slot[n]));
        }
    }
    let mut v = [0.0; T];
    for (t, (v, j)) in v.iter_mut().zip(at).enumerate() {
        *v = leaf[t * size + (j & (size - 1))];
    }
    v
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use proptest::sample::Index;

    use super::*;
    use crate::{Params, train};

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("f{i}")).collect()
    }

    fn split(feature: u32, threshold: f64, missing_left: bool, left: u32, right: u32) -> Node {
        Node { feature, threshold, missing_left, left, right, value: 0.0, cover: 1.0 }
    }

    fn leaf(value: f64) -> Node {
        Node { feature: u32::MAX, threshold: 0.0, missing_left: false, left: 0, right: 0, value, cover: 1.0 }
    }

    fn model(features: usize, trees: Vec<Vec<Node>>) -> Model {
        let m = Model { features: names(features), base: -1.25, trees, params: Params::default() };
        m.validate().unwrap();
        m
    }

    /// Checks every way a forest scores `rows` (`width` values each) against the model, bit
    /// for bit, scoring them in consecutive blocks of the sizes in `blocks` (cycled).
    fn check(m: &Model, rows: &[f64], width: usize, blocks: &[usize]) {
        let f = Forest::new(m);
        let n = rows.len() / width;
        let want: Vec<u64> = rows.chunks_exact(width).map(|x| m.margin(x).to_bits()).collect();
        for (r, x) in rows.chunks_exact(width).enumerate() {
            assert_eq!(f.margin(x).to_bits(), want[r], "row {r}: {x:?}");
            assert_eq!(f.score(x).to_bits(), m.score(x).to_bits(), "row {r}: {x:?}");
        }
        let mut out = vec![f64::NAN; n];
        f.margins(rows, width, &mut out);
        assert_eq!(out.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), want);
        let (mut at, mut sizes) = (0, blocks.iter().cycle());
        while at < n {
            let len = (*sizes.next().unwrap()).min(n - at);
            let mut out = vec![f64::NAN; len];
            f.margins(&rows[at * width..(at + len) * width], width, &mut out);
            assert_eq!(out.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), want[at..at + len], "rows {at}..{}", at + len);
            at += len;
        }
        f.scores(rows, width, &mut out);
        for (r, x) in rows.chunks_exact(width).enumerate() {
            assert_eq!(out[r].to_bits(), m.score(x).to_bits(), "row {r}");
        }
    }

    /// A training value: few distinct values (so that rows fall exactly on thresholds),
    /// any value, zeros of both signs, missing.
    fn value() -> impl Strategy<Value = f64> {
        prop_oneof![
            4 => (0u8..6).prop_map(f64::from),
            4 => -100.0..100.0f64,
            1 => Just(0.0),
            1 => Just(-0.0),
            2 => Just(f64::NAN),
        ]
    }

    /// A value of a row to score: a training value, an infinity, or one of the model's
    /// thresholds (exactly, or the next value up or down).
    #[derive(Debug, Clone)]
    enum Probe {
        Value(f64),
        Threshold(Index, i8),
    }

    fn probe() -> impl Strategy<Value = Probe> {
        prop_oneof![
            3 => value().prop_map(Probe::Value),
            1 => prop_oneof![Just(f64::INFINITY), Just(f64::NEG_INFINITY)].prop_map(Probe::Value),
            4 => (any::<Index>(), -1i8..=1).prop_map(|(i, d)| Probe::Threshold(i, d)),
        ]
    }

    /// Feature kinds: 0 as drawn, 1 constant, 2 always missing.
    fn kind() -> impl Strategy<Value = u8> {
        prop_oneof![6 => Just(0u8), 1 => Just(1u8), 1 => Just(2u8)]
    }

    fn params() -> impl Strategy<Value = Params> {
        (
            1usize..=8,
            1usize..=7,
            prop_oneof![Just(255usize), 2usize..=8],
            prop_oneof![Just(0.0), Just(0.1), Just(1.0)],
            prop_oneof![Just(1.0), 0.5..1.0f64],
            prop_oneof![Just(1.0), 0.5..1.0f64],
            any::<u64>(),
        )
            .prop_map(|(trees, depth, bins, min_child_weight, row_sample, feature_sample, seed)| Params {
                trees,
                depth,
                bins,
                min_child_weight,
                row_sample,
                feature_sample,
                seed,
                learning_rate: 0.5,
                ..Params::default()
            })
    }

    #[allow(clippy::type_complexity)]
    fn case() -> impl Strategy<Value = (usize, Vec<u8>, Vec<Vec<f64>>, Vec<bool>, Params, Vec<Vec<Probe>>, Vec<usize>, usize)> {
        (1usize..=5).prop_flat_map(|nf| {
            (
                Just(nf),
                prop::collection::vec(kind(), nf),
                prop::collection::vec(prop::collection::vec(value(), nf), 2..80),
                prop::collection::vec(any::<bool>(), 80),
                params(),
                prop::collection::vec(prop::collection::vec(probe(), nf), 1..60),
                prop::collection::vec(1usize..20, 1..6),
                0usize..3,
            )
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn forest_margins_equal_the_models((nf, kinds, x, y, params, probes, blocks, extra) in case()) {
            let (m, rows, width) = trained(nf, &kinds, x, &y, &params, &probes, extra);
            check(&m, &rows, width, &blocks);
        }
    }

    /// Values on and around every threshold of the hand-built models, and the odd ones.
    const GRID: [f64; 15] = [
        f64::NAN,
        f64::NEG_INFINITY,
        f64::INFINITY,
        -1.0,
        -0.0,
        0.0,
        0.5,
        0.75,
        1.0,
        2.0,
        3.0,
        f64::MIN_POSITIVE,
        -1e300,
        1e300,
        0.500_000_000_000_000_1,
    ];

    /// A leaf at depth 1 beside a subtree of depth 3.
    fn uneven() -> Vec<Node> {
        vec![
            split(0, 0.5, true, 1, 2),
            leaf(0.1),
            split(1, 2.0, false, 3, 4),
            split(0, 0.75, true, 5, 6),
            split(2, -1.0, false, 7, 8),
            leaf(0.2),
            leaf(-0.3),
            leaf(0.4),
            leaf(-0.5),
        ]
    }

    #[test]
    fn uneven_trees_are_padded_and_score_the_same() {
        let m = model(
            3,
            vec![
                uneven(),
                // A tree that is one leaf.
                vec![leaf(0.25)],
                // A NaN threshold (every value goes right, missing ones as the split says)
                // and an infinite one.
                vec![split(2, f64::NAN, true, 1, 2), split(0, f64::INFINITY, false, 3, 4), leaf(1.0), leaf(-1.0), leaf(0.5)],
                vec![split(1, -0.0, false, 1, 2), leaf(0.0625), split(1, f64::NEG_INFINITY, true, 3, 4), leaf(-0.125), leaf(0.375)],
            ],
        );
        let f = Forest::new(&m);
        assert!(matches!(&f.layout, Layout::Padded(p) if p.depth == 3));
        let mut rows = Vec::new();
        for a in GRID {
            for b in GRID {
                for c in GRID {
                    rows.extend([a, b, c]);
                }
            }
        }
        check(&m, &rows, 3, &[1, 7, 8, 9, 30]);
        // Two rows by hand. A missing f0 goes left at the first root (0.1), f2 = 0 goes
        // right of a NaN threshold (1.0) and f1 = 5 right twice (0.375).
        assert_eq!(f.margin(&[f64::NAN, 5.0, 0.0]), -1.25 + 0.1 + 0.25 + 1.0 + 0.375);
        // f0 = 0.6, f1 = 2 (<= 2) reach 0.2 at depth 3; a missing f2 goes left at the NaN
        // threshold, and 0.6 <= inf (-1.0).
        assert_eq!(f.margin(&[0.6, 2.0, f64::NAN]), -1.25 + 0.2 + 0.25 - 1.0 + 0.375);
    }

    #[test]
    fn a_tree_too_deep_to_pad_is_walked() {
        // A chain of 20 splits: f0 <= i goes to a leaf worth i, the rest on down.
        let mut chain = Vec::new();
        for i in 0..20u32 {
            chain.push(split(0, f64::from(i), i % 2 == 0, 2 * i + 1, 2 * i + 2));
            chain.push(leaf(f64::from(i)));
        }
        chain.push(leaf(100.0));
        let m = model(2, vec![chain, vec![split(1, 0.5, true, 1, 2), leaf(-0.5), leaf(0.5)]]);
        let f = Forest::new(&m);
        assert!(matches!(f.layout, Layout::Nodes(_)));
        let mut rows = Vec::new();
        for a in (-2..=44).map(|i| f64::from(i) / 2.0).chain(GRID) {
            for b in GRID {
                rows.extend([a, b]);
            }
        }
        check(&m, &rows, 2, &[3, 8, 16]);
        assert_eq!(f.margin(&[19.5, 0.0]), -1.25 + 100.0 - 0.5);

        // Shallow enough, but too many nodes padded: 1025 trees of 2^12 leaves.
        let mut chain = Vec::new();
        for i in 0..12u32 {
            chain.push(split(i % 2, f64::from(i), true, 2 * i + 1, 2 * i + 2));
            chain.push(leaf(f64::from(i)));
        }
        chain.push(leaf(-1.0));
        let m = model(2, vec![chain; 1025]);
        assert!(matches!(Forest::new(&m).layout, Layout::Nodes(_)));
        check(&m, &rows, 2, &[8]);
    }

    #[test]
    fn a_model_too_wide_for_the_fixed_key_table_scores_the_same() {
        // 140 features: 280 slots, more than a fixed table's 256.
        let nf = 140;
        let mut s = 1u64;
        let mut next = || {
            s = s.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (s >> 33) as f64 / (1u64 << 31) as f64
        };
        let x: Vec<Vec<f64>> =
            (0..200).map(|_| (0..nf).map(|_| if next() < 0.1 { f64::NAN } else { (next() * 8.0).floor() }).collect()).collect();
        let y: Vec<bool> = x.iter().map(|r| r[139] > 3.0 || r[7].is_nan() || r[70] < 2.0).collect();
        let m = train(&names(nf), &x, &y, &Params { trees: 10, depth: 4, feature_sample: 1.0, ..Params::default() }).unwrap();
        assert!(m.trees.iter().flatten().any(|n| !n.is_leaf() && n.feature >= 128), "a split on a feature past 128");
        let rows: Vec<f64> = x.iter().flatten().copied().collect();
        check(&m, &rows, nf, &[5, 8, 13]);
    }

    #[test]
    fn models_without_splits() {
        let m = model(0, vec![vec![leaf(0.5)], vec![leaf(-0.25)]]);
        let f = Forest::new(&m);
        assert_eq!(f.margin(&[]), -1.25 + 0.5 - 0.25);
        let mut out = [0.0; 3];
        f.margins(&[], 0, &mut out);
        assert_eq!(out, [-1.0; 3]);
        let m = model(2, vec![]);
        check(&m, &[1.0, 2.0, f64::NAN, 3.0], 2, &[1]);
    }

    /// Whether a forest scores blocks of rows as bytes.
    fn binned(f: &Forest) -> bool {
        matches!(&f.layout, Layout::Padded(p) if p.bins.is_some())
    }

    /// [`check`] on `rows` repeated to make several blocks of bytes, scored in calls of
    /// sizes around a block's: whole blocks, short blocks scored as bytes, and short
    /// blocks walked with keys.
    fn check_blocks(m: &Model, rows: &[f64], width: usize) {
        let copies = (3 * LANES + MIN_LANES + 1).div_ceil(rows.len() / width);
        check(m, &rows.repeat(copies), width, &[LANES, MIN_LANES, MIN_LANES - 1, 2 * LANES + MIN_LANES + 1, 1, LANES - 1]);
    }

    /// A model trained on `x` (its features of `kinds` made constant or missing) and
    /// rows of `width` values to score it on, drawn from `probes`, with `extra` values
    /// past the model's features.
    fn trained(
        nf: usize,
        kinds: &[u8],
        mut x: Vec<Vec<f64>>,
        y: &[bool],
        params: &Params,
        probes: &[Vec<Probe>],
        extra: usize,
    ) -> (Model, Vec<f64>, usize) {
        for row in &mut x {
            for (v, k) in row.iter_mut().zip(kinds) {
                match k {
                    1 => *v = 2.5,
                    2 => *v = f64::NAN,
                    _ => {}
                }
            }
        }
        // Both classes, whatever was drawn.
        let mut y = y[..x.len()].to_vec();
        y[0] = true;
        y[1] = false;
        let m = train(&names(nf), &x, &y, params).unwrap();
        let thresholds: Vec<f64> = m.trees.iter().flatten().filter(|n| !n.is_leaf()).map(|n| n.threshold).collect();
        let mut rows = Vec::new();
        for p in probes {
            for v in p {
                rows.push(match v {
                    Probe::Value(v) => *v,
                    Probe::Threshold(_, _) if thresholds.is_empty() => 1.0,
                    Probe::Threshold(i, d) => {
                        let t = thresholds[i.index(thresholds.len())];
                        // The next value up or down (for the thresholds a learner writes:
                        // finite, not zero).
                        if t == 0.0 || !t.is_finite() { t } else { f64::from_bits((t.to_bits() as i64 + i64::from(*d)) as u64) }
                    }
                });
            }
            rows.extend(std::iter::repeat_n(7.0, extra));
        }
        (m, rows, nf + extra)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(100))]
        #[test]
        fn blocks_scored_as_bytes_equal_the_model((nf, kinds, x, y, params, probes, _, extra) in case()) {
            let (m, rows, width) = trained(nf, &kinds, x, &y, &params, &probes, extra);
            // A learner writes no NaN threshold and fewer than 255 a feature.
            prop_assert!(params.depth > MAX_BINNED_DEPTH || binned(&Forest::new(&m)));
            check_blocks(&m, &rows, width);
        }
    }

    #[test]
    fn bytes_keep_infinities_zeros_and_missing_values_apart() {
        let m = model(
            3,
            vec![
                uneven(),
                vec![leaf(0.25)],
                vec![split(2, f64::INFINITY, true, 1, 2), split(0, f64::NEG_INFINITY, false, 3, 4), leaf(1.0), leaf(-1.0), leaf(0.5)],
                // Both zeros: one threshold.
                vec![split(1, -0.0, false, 1, 2), leaf(0.0625), split(1, 0.0, true, 3, 4), leaf(-0.125), leaf(0.375)],
                vec![
                    split(2, f64::MIN_POSITIVE, false, 1, 2),
                    split(2, -0.0, true, 3, 4),
                    split(0, 1e300, false, 5, 6),
                    leaf(0.031_25),
                    leaf(-0.015_625),
                    leaf(0.5),
                    leaf(0.25),
                ],
            ],
        );
        let f = Forest::new(&m);
        assert!(binned(&f));
        let mut rows = Vec::new();
        for a in GRID {
            for b in GRID {
                for c in GRID {
                    rows.extend([a, b, c]);
                }
            }
        }
        check(&m, &rows, 3, &[LANES, MIN_LANES, MIN_LANES - 1, 100, 1]);
    }

    #[test]
    fn a_feature_with_more_thresholds_than_bytes_hold_is_walked() {
        // Feature 0 split at `n` thresholds, one tree each (missing values left at every
        // third), feature 1 at two.
        let forest = |n: u32| {
            let mut trees: Vec<Vec<Node>> = (0..n)
                .map(|i| {
                    let t = f64::from(i) * 0.5 - 20.0;
                    vec![split(0, t, i % 3 == 0, 1, 2), leaf(f64::from(i + 1) / 1024.0), leaf(-f64::from(i + 1) / 512.0)]
                })
                .collect();
            trees.push(vec![split(1, 0.5, false, 1, 2), split(1, -1.0, true, 3, 4), leaf(0.75), leaf(0.125), leaf(-0.25)]);
            model(2, trees)
        };
        let mut rows = Vec::new();
        let values = (-44..=300).map(|i| f64::from(i) * 0.25 - 20.0).chain(GRID);
        for (i, a) in values.enumerate() {
            rows.extend([a, GRID[i % GRID.len()]]);
        }
        let m = forest(254);
        assert!(binned(&Forest::new(&m)));
        check(&m, &rows, 2, &[LANES, MIN_LANES, MIN_LANES - 1, 100]);
        let m = forest(255);
        assert!(!binned(&Forest::new(&m)));
        check(&m, &rows, 2, &[LANES, MIN_LANES, MIN_LANES - 1, 100]);
    }

    #[test]
    fn trees_deeper_than_bytes_pay_for_are_walked() {
        // A chain of `n` splits: f0 <= i goes to a leaf worth i, the rest on down.
        let chain = |n: u32| {
            let mut chain = Vec::new();
            for i in 0..n {
                chain.push(split(0, f64::from(i), i % 2 == 0, 2 * i + 1, 2 * i + 2));
                chain.push(leaf(f64::from(i)));
            }
            chain.push(leaf(100.0));
            model(1, vec![chain, vec![split(0, 2.5, false, 1, 2), leaf(-0.5), leaf(0.5)]])
        };
        let rows: Vec<f64> = (-2..=16).map(|i| f64::from(i) / 2.0).chain(GRID).collect();
        let m = chain(MAX_BINNED_DEPTH as u32);
        assert!(binned(&Forest::new(&m)));
        check_blocks(&m, &rows, 1);
        let m = chain(MAX_BINNED_DEPTH as u32 + 1);
        assert!(!binned(&Forest::new(&m)));
        check_blocks(&m, &rows, 1);
    }

    #[test]
    fn bytes_hold_splits_on_the_first_128_features_of_a_wider_model() {
        let rows: Vec<f64> = (0..3 * 140).map(|i| [f64::NAN, 0.0, 1.0, 2.0, -1.0][i % 5] * (i % 7) as f64).collect();
        let tree = |f: u32| vec![split(f, 0.5, f > 64, 1, 2), split(3, 1.5, true, 3, 4), leaf(0.5), leaf(-0.25), leaf(0.125)];
        let m = model(140, vec![tree(127), tree(0)]);
        assert!(binned(&Forest::new(&m)));
        check_blocks(&m, &rows, 140);
        let m = model(140, vec![tree(127), tree(128)]);
        assert!(!binned(&Forest::new(&m)));
        check_blocks(&m, &rows, 140);
    }

    #[test]
    fn models_without_splits_score_blocks_as_bytes() {
        let m = model(2, vec![vec![leaf(0.5)], vec![leaf(-0.25)]]);
        assert!(binned(&Forest::new(&m)));
        check_blocks(&m, &[1.0, 2.0, f64::NAN, 3.0], 2);
    }
}
