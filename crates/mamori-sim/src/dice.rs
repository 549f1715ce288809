//! The one source of randomness: ChaCha8 seeded from the run's seed, one stream per use.
//!
//! Every draw goes through [`Dice`], so a run depends only on the seed, the arguments
//! and the order of the draws. The samplers are written here (not taken from a
//! distributions crate) so that their algorithms cannot change under a dependency update.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A seeded random source with the samplers the scenarios use.
#[derive(Debug, Clone)]
pub(crate) struct Dice(ChaCha8Rng);

const BASE36: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
const HEX: &[u8] = b"0123456789abcdef";

impl Dice {
    /// The `stream`th independent sequence of the seed.
    pub(crate) fn new(seed: u64, stream: u64) -> Dice {
        let mut r = ChaCha8Rng::seed_from_u64(seed);
        r.set_stream(stream);
        Dice(r)
    }

    /// A uniform number in [0, 1).
    pub(crate) fn unit(&mut self) -> f64 {
        // 53 random bits: exact and the same on every platform.
        (self.0.random::<u64>() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// True with probability `p`.
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// A uniform integer in `lo..=hi`.
    pub(crate) fn int(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        let span = (hi - lo) as u64 + 1;
        lo + (self.0.random::<u64>() % span) as i64
    }

    /// A uniform index below `n` (`n` > 0).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        if n <= 1 {
            return 0;
        }
        (self.0.random::<u64>() % n as u64) as usize
    }

    /// A uniform real in `lo..hi`.
    pub(crate) fn real(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    pub(crate) fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }

    /// An index drawn with the given weights (not all zero).
    pub(crate) fn weighted(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut x = self.unit() * total;
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.iter().rposition(|w| *w > 0.0).unwrap_or(0)
    }

    /// An exponential variate with the given mean.
    pub(crate) fn exp(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.unit()).ln()
    }

    /// A standard normal variate (Box-Muller).
    pub(crate) fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.unit();
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// A log-normal variate with the given median and shape.
    pub(crate) fn lognormal(&mut self, median: f64, sigma: f64) -> f64 {
        median * (sigma * self.normal()).exp()
    }

    /// A Poisson count with the given mean.
    pub(crate) fn poisson(&mut self, mean: f64) -> usize {
        if mean <= 0.0 {
            return 0;
        }
        if mean > 40.0 {
            return (mean + mean.sqrt() * self.normal()).round().max(0.0) as usize;
        }
        let limit = (-mean).exp();
        let mut k = 0;
        let mut p = self.unit();
        while p > limit {
            k += 1;
            p *= self.unit();
        }
        k
    }

    /// `len` characters of `[0-9a-z]`.
    pub(crate) fn base36(&mut self, len: usize) -> String {
        (0..len).map(|_| BASE36[self.below(36)] as char).collect()
    }

    /// `len` lower-case hex digits.
    pub(crate) fn hex(&mut self, len: usize) -> String {
        (0..len).map(|_| HEX[self.below(16)] as char).collect()
    }

    /// `len` decimal digits (the first may be 0).
    pub(crate) fn digits(&mut self, len: usize) -> String {
        (0..len).map(|_| (b'0' + self.below(10) as u8) as char).collect()
    }

    /// Fisher-Yates.
    pub(crate) fn shuffle<T>(&mut self, xs: &mut [T]) {
        for i in (1..xs.len()).rev() {
            let j = self.below(i + 1);
            xs.swap(i, j);
        }
    }

    /// `k` distinct indices below `n`, in random order.
    pub(crate) fn sample(&mut self, n: usize, k: usize) -> Vec<usize> {
        let mut all: Vec<usize> = (0..n).collect();
        let k = k.min(n);
        for i in 0..k {
            let j = i + self.below(n - i);
            all.swap(i, j);
        }
        all.truncate(k);
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_independent() {
        let a: Vec<i64> = {
            let mut d = Dice::new(7, 1);
            (0..5).map(|_| d.int(0, 1000)).collect()
        };
        let b: Vec<i64> = {
            let mut d = Dice::new(7, 1);
            (0..5).map(|_| d.int(0, 1000)).collect()
        };
        let c: Vec<i64> = {
            let mut d = Dice::new(7, 2);
            (0..5).map(|_| d.int(0, 1000)).collect()
        };
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn samplers_stay_in_range() {
        let mut d = Dice::new(1, 0);
        for _ in 0..1000 {
            let x = d.int(3, 5);
            assert!((3..=5).contains(&x));
            let u = d.unit();
            assert!((0.0..1.0).contains(&u));
            assert!(d.exp(10.0) >= 0.0);
            assert_eq!(d.weighted(&[0.0, 1.0, 0.0]), 1);
        }
        let s = d.sample(10, 4);
        assert_eq!(s.len(), 4);
        let mut t = s.clone();
        t.sort();
        t.dedup();
        assert_eq!(t.len(), 4);
        let mean = (0..2000).map(|_| d.poisson(3.0)).sum::<usize>() as f64 / 2000.0;
        assert!((2.7..3.3).contains(&mean), "{mean}");
    }
}
