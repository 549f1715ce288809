//! Why a model scored a row as it did: path attributions.
//!
//! Every node of a tree has an expected value: the average of its leaves' values weighted
//! by the training rows (cover) that reached them. Walking a row down a tree, each split
//! moves the expected value from the node's to the child's; that move is credited to the
//! feature the node split on. Summed over the trees, the credits and the model's expected
//! value (its base plus every root's) add up to the row's margin exactly, so each
//! feature's credit says how far it pushed this row's log-odds up or down.

use crate::Model;

/// A feature's share of one row's score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Attribution {
    /// The feature's index in [`Model::features`].
    pub feature: usize,
    /// How far it moved the log-odds (positive: towards fraud).
    pub push: f64,
}

/// The expected value of every node of a model, computed once.
#[derive(Debug, Clone)]
pub struct Explainer {
    expected: Vec<Vec<f64>>,
    /// Base plus the expected value of every tree: the margin of a row nobody knows.
    bias: f64,
}

impl Explainer {
    /// Works out every node's expected value (the model must be validated: children after
    /// their parents).
    pub fn new(model: &Model) -> Explainer {
        let expected: Vec<Vec<f64>> = model
            .trees
            .iter()
            .map(|tree| {
                let mut e = vec![0.0; tree.len()];
                for (i, n) in tree.iter().enumerate().rev() {
                    e[i] = if n.is_leaf() {
                        n.value
                    } else {
                        let (l, r) = (n.left as usize, n.right as usize);
                        let (cl, cr) = (tree[l].cover, tree[r].cover);
                        if cl + cr > 0.0 { (cl * e[l] + cr * e[r]) / (cl + cr) } else { 0.5 * (e[l] + e[r]) }
                    };
                }
                e
            })
            .collect();
        let bias = model.base + expected.iter().map(|e| e[0]).sum::<f64>();
        Explainer { expected, bias }
    }

    /// The margin of a row about which nothing is known.
    pub fn bias(&self) -> f64 {
        self.bias
    }

    /// Each feature's push on row `x` (indexed like [`Model::features`]); with
    /// [`Explainer::bias`] they add up to [`Model::margin`] of `x`.
    pub fn pushes(&self, model: &Model, x: &[f64]) -> Vec<f64> {
        let mut push = vec![0.0; model.features.len()];
        for (tree, e) in model.trees.iter().zip(&self.expected) {
            let mut i = 0usize;
            while !tree[i].is_leaf() {
                let next = tree[i].child(x);
                push[tree[i].feature as usize] += e[next] - e[i];
                i = next;
            }
        }
        push
    }

    /// The `k` features that moved row `x` most, largest move first (ties by index);
    /// features that did not move it are left out.
    pub fn top(&self, model: &Model, x: &[f64], k: usize) -> Vec<Attribution> {
        let mut all: Vec<Attribution> = self
            .pushes(model, x)
            .into_iter()
            .enumerate()
            .filter(|(_, p)| *p != 0.0)
            .map(|(feature, push)| Attribution { feature, push })
            .collect();
        all.sort_by(|a, b| b.push.abs().total_cmp(&a.push.abs()).then(a.feature.cmp(&b.feature)));
        all.truncate(k);
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Params, train};

    fn data() -> (Vec<String>, Vec<Vec<f64>>, Vec<bool>) {
        let names = vec!["amount".to_string(), "count_24h".to_string(), "noise".to_string()];
        let mut x = Vec::new();
        let mut y = Vec::new();
        for i in 0..2000u64 {
            let amount = (i * 7919 % 1000) as f64;
            let count = (i * 104_729 % 13) as f64;
            let noise = if i % 10 == 0 { f64::NAN } else { (i * 31 % 17) as f64 };
            x.push(vec![amount, count, noise]);
            y.push(amount > 800.0 && count > 6.0 || i % 97 == 0);
        }
        (names, x, y)
    }

    #[test]
    fn pushes_and_bias_add_up_to_the_margin() {
        let (names, x, y) = data();
        let model = train(&names, &x, &y, &Params { trees: 30, depth: 4, ..Params::default() }).unwrap();
        let ex = Explainer::new(&model);
        for row in x.iter().take(300) {
            let sum: f64 = ex.bias() + ex.pushes(&model, row).iter().sum::<f64>();
            let m = model.margin(row);
            assert!((sum - m).abs() < 1e-9, "{sum} vs {m}");
        }
    }

    #[test]
    fn the_features_that_decide_come_first() {
        let (names, x, y) = data();
        let model = train(&names, &x, &y, &Params { trees: 30, depth: 4, ..Params::default() }).unwrap();
        let ex = Explainer::new(&model);
        // A large amount with many charges: the two real signals push it up, most of all.
        let top = ex.top(&model, &[990.0, 12.0, 3.0], 2);
        assert_eq!(top.len(), 2);
        assert!(top.iter().all(|a| a.feature < 2 && a.push > 0.0), "{top:?}");
        // A small amount pushes down.
        let low = ex.pushes(&model, &[10.0, 1.0, 3.0]);
        assert!(low[0] < 0.0, "{low:?}");
    }
}
