//! Ranking measures, as the Fraud Detection Handbook computes them (scikit-learn's
//! `roc_auc_score` and `average_precision_score`, and its own Card Precision@k).

use std::collections::BTreeMap;

/// Area under the ROC curve; tied scores count half. 0.5 when one class is absent.
pub fn auc(scores: &[f64], labels: &[bool]) -> f64 {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let (mut rank_sum, mut pos) = (0.0, 0usize);
    let mut i = 0;
    while i < idx.len() {
        // A run of equal scores shares the average of its ranks (1-based).
        let mut j = i;
        while j < idx.len() && scores[idx[j]] == scores[idx[i]] {
            j += 1;
        }
        let avg = (i + 1 + j) as f64 / 2.0;
        for &k in &idx[i..j] {
            if labels[k] {
                rank_sum += avg;
                pos += 1;
            }
        }
        i = j;
    }
    let neg = scores.len() - pos;
    if pos == 0 || neg == 0 {
        return 0.5;
    }
    (rank_sum - (pos * (pos + 1)) as f64 / 2.0) / (pos as f64 * neg as f64)
}

/// Average precision: the sum over distinct score thresholds (highest first) of the
/// precision there times the recall it adds. 0 when there is no positive.
pub fn average_precision(scores: &[f64], labels: &[bool]) -> f64 {
    let total = labels.iter().filter(|&&l| l).count();
    if total == 0 {
        return 0.0;
    }
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let (mut tp, mut ap) = (0usize, 0.0);
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        let mut new_tp = 0;
        while j < idx.len() && scores[idx[j]] == scores[idx[i]] {
            new_tp += usize::from(labels[idx[j]]);
            j += 1;
        }
        tp += new_tp;
        if new_tp > 0 {
            ap += (tp as f64 / j as f64) * (new_tp as f64 / total as f64);
        }
        i = j;
    }
    ap
}

/// One scored transaction for [`card_precision_at_k`].
#[derive(Debug, Clone)]
pub struct Scored<'a> {
    /// The day it belongs to (any key that orders days).
    pub day: i64,
    pub customer: &'a str,
    pub score: f64,
    pub fraud: bool,
}

/// Card Precision@k: per day, the customers ranked by their highest score that day; the
/// share of the top `k` who had a fraud that day; averaged over the days.
pub fn card_precision_at_k(rows: &[Scored<'_>], k: usize) -> f64 {
    let mut days: BTreeMap<i64, BTreeMap<&str, (f64, bool)>> = BTreeMap::new();
    for r in rows {
        let e = days.entry(r.day).or_default().entry(r.customer).or_insert((f64::NEG_INFINITY, false));
        e.0 = e.0.max(r.score);
        e.1 |= r.fraud;
    }
    if days.is_empty() || k == 0 {
        return 0.0;
    }
    let mut sum = 0.0;
    for customers in days.values() {
        let mut ranked: Vec<(f64, bool, &str)> = customers.iter().map(|(c, (s, f))| (*s, *f, *c)).collect();
        // Highest score first; ties by customer id, so the result does not depend on input order.
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.2.cmp(b.2)));
        let hits = ranked.iter().take(k).filter(|r| r.1).count();
        sum += hits as f64 / k as f64;
    }
    sum / days.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_by_hand() {
        // Positives at 0.9 and 0.4, negatives at 0.8, 0.3, 0.1: of 6 pairs, 5 ordered right.
        let s = [0.9, 0.8, 0.4, 0.3, 0.1];
        let y = [true, false, true, false, false];
        assert!((auc(&s, &y) - 5.0 / 6.0).abs() < 1e-12);
        // A tie between a positive and a negative counts half.
        assert!((auc(&[0.5, 0.5], &[true, false]) - 0.5).abs() < 1e-12);
        assert_eq!(auc(&[0.1, 0.2], &[false, false]), 0.5);
    }

    #[test]
    fn average_precision_by_hand() {
        // Ranked: P N P N N. Precision at the positives: 1/1 and 2/3; AP = (1 + 2/3) / 2.
        let s = [0.9, 0.8, 0.4, 0.3, 0.1];
        let y = [true, false, true, false, false];
        assert!((average_precision(&s, &y) - (1.0 + 2.0 / 3.0) / 2.0).abs() < 1e-12);
        // scikit-learn on a tie: [P, N] both at 0.5 → precision 1/2 at recall 1.
        assert!((average_precision(&[0.5, 0.5], &[true, false]) - 0.5).abs() < 1e-12);
        assert_eq!(average_precision(&[0.5], &[false]), 0.0);
    }

    #[test]
    fn card_precision_by_hand() {
        let r = |day, customer, score, fraud| Scored { day, customer, score, fraud };
        let rows = [
            // Day 1: c1's best 0.9 (fraud), c2 0.8, c3 0.1 (fraud). Top 2: c1, c2 → 1/2.
            r(1, "c1", 0.2, true),
            r(1, "c1", 0.9, false),
            r(1, "c2", 0.8, false),
            r(1, "c3", 0.1, true),
            // Day 2: c3 0.7 (fraud), c1 0.6 (fraud). Top 2 → 2/2.
            r(2, "c3", 0.7, true),
            r(2, "c1", 0.6, true),
        ];
        assert!((card_precision_at_k(&rows, 2) - 0.75).abs() < 1e-12);
        assert_eq!(card_precision_at_k(&[], 100), 0.0);
    }
}
