//! The learner and the model it writes.

use serde::{Deserialize, Serialize};

/// How the trees are grown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    /// Number of trees.
    pub trees: usize,
    /// Depth of each tree (levels of splits).
    pub depth: usize,
    /// Shrinkage of each tree's leaves.
    pub learning_rate: f64,
    /// L2 penalty on leaf values.
    pub lambda: f64,
    /// Least hessian (weighted rows, roughly) a child may have.
    pub min_child_weight: f64,
    /// Least gain a split must bring.
    pub min_gain: f64,
    /// Bins per feature (2..=255).
    pub bins: usize,
    /// Weight of a positive row; `None`: negatives / positives (balanced). The default,
    /// 1, was measured best for Average Precision on the handbook's data (balanced
    /// weights rank the top worse: docs/benchmarks.md §5).
    pub positive_weight: Option<f64>,
    /// Share of rows each tree sees (0, 1].
    pub row_sample: f64,
    /// Share of features each tree may split on (0, 1].
    pub feature_sample: f64,
    pub seed: u64,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            trees: 200,
            depth: 5,
            learning_rate: 0.05,
            lambda: 1.0,
            min_child_weight: 1.0,
            min_gain: 0.0,
            bins: 255,
            positive_weight: Some(1.0),
            row_sample: 0.8,
            feature_sample: 0.8,
            seed: 1,
        }
    }
}

/// Why training was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TrainError {
    #[error("no rows to train on")]
    NoRows,
    #[error("the training rows are all of one class ({0}); a model needs both fraud and legitimate rows")]
    OneClass(&'static str),
    #[error("row {row} has {got} values, expected {want} (one per feature)")]
    Width { row: usize, got: usize, want: usize },
    #[error("parameter {0}")]
    Param(String),
}

/// One node of a tree: a split, or a leaf (`feature == u32::MAX`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Node {
    pub feature: u32,
    /// Rows with `value <= threshold` go left.
    pub threshold: f64,
    /// Where a missing (NaN) value goes.
    pub missing_left: bool,
    pub left: u32,
    pub right: u32,
    /// The leaf's value (log-odds), for leaves.
    pub value: f64,
    /// Hessian sum of the training rows that reached the node (for attributions).
    pub cover: f64,
}

impl Node {
    pub fn is_leaf(&self) -> bool {
        self.feature == u32::MAX
    }

    /// The child of this split that row `x` goes to.
    pub fn child(&self, x: &[f64]) -> usize {
        let v = x[self.feature as usize];
        let left = if v.is_nan() { self.missing_left } else { v <= self.threshold };
        (if left { self.left } else { self.right }) as usize
    }
}

/// The margin of row `x`: `base` plus the leaf each tree sends it to.
pub(crate) fn walk(trees: &[Vec<Node>], base: f64, x: &[f64]) -> f64 {
    let mut m = base;
    for tree in trees {
        let mut i = 0usize;
        while !tree[i].is_leaf() {
            i = tree[i].child(x);
        }
        m += tree[i].value;
    }
    m
}

/// A trained model: the feature names it expects (in order), a base log-odds and trees.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    pub features: Vec<String>,
    pub base: f64,
    pub trees: Vec<Vec<Node>>,
    pub params: Params,
}

impl Model {
    /// The raw score (log-odds) of one row.
    pub fn margin(&self, x: &[f64]) -> f64 {
        walk(&self.trees, self.base, x)
    }

    /// The probability of fraud of one row (values in the order of [`Model::features`]).
    pub fn score(&self, x: &[f64]) -> f64 {
        sigmoid(self.margin(x))
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn from_json(s: &str) -> Result<Model, String> {
        let m: Model = serde_json::from_str(s).map_err(|e| format!("not a mamori model: {e}"))?;
        m.validate()?;
        Ok(m)
    }

    /// Checks that every child index is inside its tree and every split is on a known
    /// feature, so that scoring cannot go out of bounds or loop (for a model read from
    /// outside).
    pub fn validate(&self) -> Result<(), String> {
        for (t, tree) in self.trees.iter().enumerate() {
            if tree.is_empty() {
                return Err(format!("tree {t} is empty"));
            }
            for (i, n) in tree.iter().enumerate() {
                if n.is_leaf() {
                    continue;
                }
                if n.feature as usize >= self.features.len() {
                    return Err(format!("tree {t} node {i} splits on feature {} of {}", n.feature, self.features.len()));
                }
                // Children come after their parent: no cycles.
                if n.left as usize <= i || n.right as usize <= i || n.left as usize >= tree.len() || n.right as usize >= tree.len() {
                    return Err(format!("tree {t} node {i} has children out of order"));
                }
            }
        }
        Ok(())
    }
}

pub(crate) fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// A small seeded generator (SplitMix64): the same seed, the same samples on every machine.
/// The learner samples rows and features with it; benchmarks draw their data with it.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// A uniform value in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Features binned once: per feature its cut points, per row its bin (0: missing).
struct Binned {
    cuts: Vec<Vec<f64>>,
    /// Column-major: `bins[f * rows + r]`.
    bins: Vec<u8>,
    rows: usize,
}

fn bin_features(x: &[Vec<f64>], n_features: usize, max_bins: usize) -> Binned {
    let rows = x.len();
    let mut cuts = Vec::with_capacity(n_features);
    let mut bins = vec![0u8; rows * n_features];
    for f in 0..n_features {
        let mut vals: Vec<f64> = x.iter().map(|r| r[f]).filter(|v| !v.is_nan()).collect();
        vals.sort_by(f64::total_cmp);
        vals.dedup();
        // At most max_bins - 1 cut points (bin 0 is for missing values), at quantiles of
        // the distinct values.
        let room = max_bins - 1;
        let c: Vec<f64> = if vals.len() <= room {
            vals
        } else {
            let mut c: Vec<f64> = (1..=room).map(|k| vals[(k * vals.len() / room).min(vals.len()) - 1]).collect();
            c.dedup();
            c
        };
        for (r, row) in x.iter().enumerate() {
            let v = row[f];
            bins[f * rows + r] = if v.is_nan() { 0 } else { (1 + c.partition_point(|&cut| cut < v)).min(room) as u8 };
        }
        cuts.push(c);
    }
    Binned { cuts, bins, rows }
}

/// Trains a model on rows `x` (one value per feature, NaN for missing) and labels `y`.
pub fn train(features: &[String], x: &[Vec<f64>], y: &[bool], params: &Params) -> Result<Model, TrainError> {
    check_params(params)?;
    if x.is_empty() {
        return Err(TrainError::NoRows);
    }
    let nf = features.len();
    if let Some((row, r)) = x.iter().enumerate().find(|(_, r)| r.len() != nf) {
        return Err(TrainError::Width { row, got: r.len(), want: nf });
    }
    let pos = y.iter().filter(|&&b| b).count();
    if pos == 0 {
        return Err(TrainError::OneClass("no fraud"));
    }
    if pos == y.len() {
        return Err(TrainError::OneClass("only fraud"));
    }
    let neg = y.len() - pos;
    let w_pos = params.positive_weight.unwrap_or(neg as f64 / pos as f64);
    let weights: Vec<f64> = y.iter().map(|&b| if b { w_pos } else { 1.0 }).collect();
    // Base log-odds of the weighted prior.
    let base = (pos as f64 * w_pos / neg as f64).ln();
    let data = bin_features(x, nf, params.bins);
    let mut margin = vec![base; x.len()];
    let mut rng = Rng(params.seed);
    let mut trees = Vec::with_capacity(params.trees);
    let mut grad = vec![0.0; x.len()];
    let mut hess = vec![0.0; x.len()];
    for _ in 0..params.trees {
        for i in 0..x.len() {
            let p = sigmoid(margin[i]);
            let label = if y[i] { 1.0 } else { 0.0 };
            grad[i] = (p - label) * weights[i];
            hess[i] = (p * (1.0 - p)).max(1e-16) * weights[i];
        }
        let rows: Vec<u32> = (0..x.len() as u32).filter(|_| params.row_sample >= 1.0 || rng.unit() < params.row_sample).collect();
        let mut allowed: Vec<usize> = (0..nf).filter(|_| params.feature_sample >= 1.0 || rng.unit() < params.feature_sample).collect();
        if allowed.is_empty() {
            allowed.push((rng.next_u64() % nf as u64) as usize);
        }
        let tree = grow(&data, &grad, &hess, rows, &allowed, params);
        for (i, m) in margin.iter_mut().enumerate() {
            *m += leaf_of_binned(&tree, &data, i);
        }
        trees.push(tree);
    }
    Ok(Model { features: features.to_vec(), base, trees, params: params.clone() })
}

fn check_params(p: &Params) -> Result<(), TrainError> {
    let bad = |s: &str| Err(TrainError::Param(s.to_string()));
    if p.trees == 0 || p.trees > 100_000 {
        return bad("trees must be 1 to 100000");
    }
    if p.depth == 0 || p.depth > 16 {
        return bad("depth must be 1 to 16");
    }
    if !(2..=255).contains(&p.bins) {
        return bad("bins must be 2 to 255");
    }
    if !(p.learning_rate > 0.0 && p.learning_rate <= 1.0) {
        return bad("learning_rate must be in (0, 1]");
    }
    if !(p.lambda >= 0.0 && p.min_child_weight >= 0.0 && p.min_gain >= 0.0) {
        return bad("lambda, min_child_weight and min_gain must be 0 or more");
    }
    if !(p.row_sample > 0.0 && p.row_sample <= 1.0 && p.feature_sample > 0.0 && p.feature_sample <= 1.0) {
        return bad("row_sample and feature_sample must be in (0, 1]");
    }
    if p.positive_weight.is_some_and(|w| !(w > 0.0 && w.is_finite())) {
        return bad("positive_weight must be above 0");
    }
    Ok(())
}

/// The leaf value a training row (by index) reaches, through its bins.
fn leaf_of_binned(tree: &[Node], data: &Binned, row: usize) -> f64 {
    let mut i = 0usize;
    loop {
        let n = &tree[i];
        if n.is_leaf() {
            return n.value;
        }
        let f = n.feature as usize;
        let b = data.bins[f * data.rows + row];
        let left = if b == 0 {
            n.missing_left
        } else {
            // The split's threshold is one of the feature's cuts: bin b holds values in
            // (cuts[b-2], cuts[b-1]].
            let cuts = &data.cuts[f];
            let upper = cuts.get(b as usize - 1).copied().unwrap_or(f64::INFINITY);
            upper <= n.threshold
        };
        i = if left { n.left } else { n.right } as usize;
    }
}

struct Split {
    feature: usize,
    bin: usize,
    missing_left: bool,
    gain: f64,
}

fn grow(data: &Binned, grad: &[f64], hess: &[f64], rows: Vec<u32>, allowed: &[usize], p: &Params) -> Vec<Node> {
    let mut nodes: Vec<Node> = Vec::new();
    let leaf = |g: f64, h: f64| Node {
        feature: u32::MAX,
        threshold: 0.0,
        missing_left: false,
        left: 0,
        right: 0,
        value: -g / (h + p.lambda) * p.learning_rate,
        cover: h,
    };
    let sums = |rows: &[u32]| rows.iter().fold((0.0, 0.0), |(g, h), &r| (g + grad[r as usize], h + hess[r as usize]));
    let (g0, h0) = sums(&rows);
    nodes.push(leaf(g0, h0));
    // (node index, its rows, their gradient and hessian sums) for the current level.
    let mut level = vec![(0usize, rows, g0, h0)];
    for _ in 0..p.depth {
        let mut next = Vec::new();
        for (idx, rows, g, h) in level {
            let Some(s) = best_split(data, grad, hess, &rows, allowed, g, h, p) else { continue };
            let f = s.feature;
            let cuts = &data.cuts[f];
            let threshold = cuts[s.bin - 1];
            let (mut l, mut r) = (Vec::new(), Vec::new());
            for &row in &rows {
                let b = data.bins[f * data.rows + row as usize] as usize;
                let go_left = if b == 0 { s.missing_left } else { b <= s.bin };
                if go_left { l.push(row) } else { r.push(row) }
            }
            let (gl, hl) = sums(&l);
            let (gr, hr) = sums(&r);
            let li = nodes.len();
            nodes.push(leaf(gl, hl));
            nodes.push(leaf(gr, hr));
            nodes[idx] = Node {
                feature: f as u32,
                threshold,
                missing_left: s.missing_left,
                left: li as u32,
                right: li as u32 + 1,
                value: 0.0,
                cover: h,
            };
            next.push((li, l, gl, hl));
            next.push((li + 1, r, gr, hr));
        }
        if next.is_empty() {
            break;
        }
        level = next;
    }
    nodes
}

#[allow(clippy::too_many_arguments)]
fn best_split(data: &Binned, grad: &[f64], hess: &[f64], rows: &[u32], allowed: &[usize], g: f64, h: f64, p: &Params) -> Option<Split> {
    let score = |g: f64, h: f64| g * g / (h + p.lambda);
    let parent = score(g, h);
    let mut best: Option<Split> = None;
    let mut hist_g = [0.0f64; 256];
    let mut hist_h = [0.0f64; 256];
    for &f in allowed {
        let nb = data.cuts[f].len() + 1;
        hist_g[..nb].fill(0.0);
        hist_h[..nb].fill(0.0);
        let col = &data.bins[f * data.rows..(f + 1) * data.rows];
        for &r in rows {
            let b = col[r as usize] as usize;
            hist_g[b] += grad[r as usize];
            hist_h[b] += hess[r as usize];
        }
        let (mg, mh) = (hist_g[0], hist_h[0]);
        // Left = bins 1..=b (plus the missing ones, when they go left).
        let (mut gl, mut hl) = (0.0, 0.0);
        for b in 1..nb {
            gl += hist_g[b];
            hl += hist_h[b];
            for missing_left in [false, true] {
                let (gl2, hl2) = if missing_left { (gl + mg, hl + mh) } else { (gl, hl) };
                let (gr2, hr2) = (g - gl2, h - hl2);
                if hl2 < p.min_child_weight || hr2 < p.min_child_weight {
                    continue;
                }
                let gain = score(gl2, hl2) + score(gr2, hr2) - parent;
                if gain > p.min_gain && best.as_ref().is_none_or(|s| gain > s.gain) {
                    best = Some(Split { feature: f, bin: b, missing_left, gain });
                }
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("f{i}")).collect()
    }

    /// Fraud when x0 > 0.7 and x1 < 0.3 (an interaction), one in ten rows missing x1.
    fn data(n: usize, seed: u64) -> (Vec<Vec<f64>>, Vec<bool>) {
        let mut rng = Rng(seed);
        let mut x = Vec::new();
        let mut y = Vec::new();
        for _ in 0..n {
            let a = rng.unit();
            let b = if rng.unit() < 0.1 { f64::NAN } else { rng.unit() };
            let noise = rng.unit();
            x.push(vec![a, b, noise]);
            y.push(a > 0.7 && (b.is_nan() || b < 0.3));
        }
        (x, y)
    }

    #[test]
    fn learns_an_interaction_with_missing_values() {
        let (x, y) = data(4000, 7);
        let m = train(&names(3), &x, &y, &Params { trees: 60, depth: 3, learning_rate: 0.3, ..Params::default() }).unwrap();
        let (tx, ty) = data(2000, 8);
        let scores: Vec<f64> = tx.iter().map(|r| m.score(r)).collect();
        let auc = crate::metrics::auc(&scores, &ty);
        assert!(auc > 0.99, "auc {auc}");
        assert!(m.score(&[0.9, f64::NAN, 0.5]) > 0.5 && m.score(&[0.2, 0.1, 0.5]) < 0.5);
    }

    #[test]
    fn the_same_seed_gives_the_same_model_and_another_seed_another() {
        let (x, y) = data(1500, 3);
        let p = Params { trees: 20, ..Params::default() };
        let a = train(&names(3), &x, &y, &p).unwrap();
        let b = train(&names(3), &x, &y, &p).unwrap();
        assert_eq!(a.to_json(), b.to_json());
        let c = train(&names(3), &x, &y, &Params { seed: 2, ..p }).unwrap();
        assert_ne!(a.to_json(), c.to_json());
        // And it reads back to the same scores.
        let back = Model::from_json(&a.to_json()).unwrap();
        assert_eq!(back.score(&x[5]), a.score(&x[5]));
    }

    #[test]
    fn bad_input_is_refused() {
        let (x, y) = data(100, 1);
        assert_eq!(train(&names(3), &[], &[], &Params::default()), Err(TrainError::NoRows));
        assert!(matches!(train(&names(2), &x, &y, &Params::default()), Err(TrainError::Width { row: 0, got: 3, want: 2 })));
        assert_eq!(train(&names(3), &x, &[false; 100], &Params::default()), Err(TrainError::OneClass("no fraud")));
        assert!(matches!(train(&names(3), &x, &y, &Params { depth: 0, ..Params::default() }), Err(TrainError::Param(_))));
        assert!(matches!(train(&names(3), &x, &y, &Params { bins: 1, ..Params::default() }), Err(TrainError::Param(_))));
        // A model file with a cycle or an unknown feature is refused.
        let m = train(&names(3), &x, &y, &Params { trees: 2, ..Params::default() }).unwrap();
        let mut bad = m.clone();
        bad.trees[0][0].left = 0;
        assert!(Model::from_json(&bad.to_json()).is_err());
        let mut bad = m.clone();
        bad.trees[0][0].feature = 9;
        assert!(Model::from_json(&bad.to_json()).is_err());
        assert!(Model::from_json("{").is_err());
    }

    #[test]
    fn training_and_scoring_agree_on_the_training_rows() {
        // The binned path used while training and the raw-value path of scoring send every
        // training row to the same leaf.
        let (x, y) = data(1000, 11);
        let p = Params { trees: 10, row_sample: 1.0, feature_sample: 1.0, ..Params::default() };
        let m = train(&names(3), &x, &y, &p).unwrap();
        let data = bin_features(&x, 3, p.bins);
        for (i, row) in x.iter().enumerate() {
            let binned: f64 = m.base + m.trees.iter().map(|t| leaf_of_binned(t, &data, i)).sum::<f64>();
            assert!((binned - m.margin(row)).abs() < 1e-9, "row {i}");
        }
    }
}
