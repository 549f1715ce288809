//! Splitting history across threads without changing a single decision.
//!
//! Two events interact only through state they both touch: a feature's entity (the
//! customer, the terminal, the device, the link, ... of the packs' feature file), an
//! account or link the registry tracks, a circuit breaker's key, or the compromised
//! points of purchase (every card payment and fraud report feeds one global statistic).
//! The sweep's first pass joins the entities each event touches (union-find); each
//! connected set of entities, with all its events, goes whole to one thread. A thread
//! then sees, for every entity it owns, exactly the events a single thread would have
//! seen, in the same order, so every feature, registry state and decision is identical
//! to a single-threaded run. When history is one connected set (a card network whose
//! customers share terminals) it runs on one thread, and the summary says so.
//!
//! Entities are hashed to 64 bits; two that collide are merely joined, which is safe.

use std::hash::{BuildHasher, Hasher};
use std::ops::ControlFlow;
use std::sync::Arc;

use hashbrown::HashMap;
use mamori_core::event::{Event, EventKind, EventRecord, EventSchema};
use mamori_core::{CompositeRecord, Record, VecRecord};
use mamori_features::FeatureVector;
use mamori_server::scorer::Scorer;
use mamori_server::{FeatureNeeds, Packs};

/// Knows which entities an event touches, for given packs.
#[derive(Debug)]
pub struct Touches {
    packs: Packs,
    model: Option<Arc<Scorer>>,
    needs: FeatureNeeds,
    /// Breakers whose key reads only the event (others join all their events).
    breaker_by_event: Vec<bool>,
    /// Whether the rules read the compromise analysis, which joins every card payment.
    compromise: bool,
    buf: Vec<u8>,
    hasher: foldhash::fast::FixedState,
    empty: FeatureVector,
    none: VecRecord,
}

/// A hash of `bytes` in `space` (entities of different kinds apart).
fn hash_with(hasher: &foldhash::fast::FixedState, space: u64, bytes: &[u8]) -> u64 {
    let mut h = hasher.build_hasher();
    h.write_u64(space);
    h.write(bytes);
    h.finish()
}

impl Touches {
    /// For events judged by `packs` (and `model`, when given) against `schema`.
    pub fn new(packs: Packs, model: Option<Arc<Scorer>>, schema: &EventSchema) -> Touches {
        let breaker_by_event =
            packs.rules.breakers().iter().map(|b| b.key_src.iter().all(|s| s.trim_start().starts_with("event."))).collect();
        Touches {
            compromise: packs.reads_compromise(),
            packs,
            model,
            needs: FeatureNeeds::new(schema),
            breaker_by_event,
            buf: Vec::new(),
            hasher: foldhash::fast::FixedState::with_seed(0x6d61_6d6f_7269),
            empty: FeatureVector::default(),
            none: VecRecord::default(),
        }
    }

    fn hash(&self, space: u64, bytes: &[u8]) -> u64 {
        hash_with(&self.hasher, space, bytes)
    }

    /// Calls `f` with a hash of every entity `event` touches (at least one: an event
    /// that touches nothing shared stands alone under its own id), until `f` breaks.
    pub fn of(&mut self, schema: &EventSchema, event: &Event, f: &mut impl FnMut(u64) -> ControlFlow<()>) -> ControlFlow<()> {
        let rec = EventRecord::new(schema, event);
        let mut buf = std::mem::take(&mut self.buf);
        let mut any = false;
        // The entities whose features the judge computes for this event, as it will (the
        // packs and the subset lent, not shared: no count changes per event).
        let Touches { packs, model, needs, hasher, .. } = &mut *self;
        let subset = needs.of(packs, model.as_deref(), event.event_type());
        let found = packs.features.entities(&rec, subset, &mut buf, |key| {
            any = true;
            f(hash_with(hasher, 0, key))
        });
        self.buf = buf;
        found?;
        let inst = event.institution.as_deref().unwrap_or_default();
        let account = |f: &mut dyn FnMut(u64) -> ControlFlow<()>, i: &str, a: &str| {
            let mut b = Vec::with_capacity(i.len() + a.len() + 1);
            b.extend_from_slice(i.as_bytes());
            b.push(0x1f);
            b.extend_from_slice(a.as_bytes());
            f(self.hash(u64::MAX, &b))
        };
        if let Some(a) = &event.account {
            any = true;
            account(f, inst, a)?;
        }
        match &event.kind {
            EventKind::LinkRequested { link, bank, wallet, .. } => {
                any = true;
                account(f, &bank.institution, &bank.account)?;
                account(f, &wallet.institution, &wallet.account)?;
                f(self.hash(u64::MAX - 1, link.as_bytes()))?;
            }
            EventKind::LinkVerified { link } | EventKind::LinkRevoked { link } | EventKind::Charge { link } => {
                any = true;
                f(self.hash(u64::MAX - 1, link.as_bytes()))?;
            }
            // The compromised points of purchase compare each merchant with all cards, when
            // some rule reads what they say.
            EventKind::CardPayment { .. } | EventKind::FraudReported { .. } if self.compromise => {
                any = true;
                f(self.hash(u64::MAX - 2, b"compromise"))?;
            }
            _ => {}
        }
        let breakers = std::sync::Arc::clone(&self.packs.rules);
        if !breakers.breakers().is_empty() {
            let parts: [&dyn Record; 4] = [&rec, &self.empty, &self.none, &self.none];
            let both = CompositeRecord { parts };
            for (b, by_event) in breakers.breakers().iter().zip(&self.breaker_by_event) {
                let mut key = b.id.clone().into_bytes();
                if *by_event {
                    let Some(k) = b.key(&both) else { continue };
                    for part in k {
                        key.push(0x1f);
                        key.extend_from_slice(part.as_bytes());
                    }
                }
                any = true;
                f(self.hash(u64::MAX - 3, &key))?;
            }
        }
        if !any {
            let id = format!("{inst}\x1f{}", event.id);
            f(self.hash(u64::MAX - 4, id.as_bytes()))?;
        }
        ControlFlow::Continue(())
    }
}

/// Entity hashes are already hashes: tables keyed by them use them as they are.
#[derive(Debug, Default, Clone, Copy)]
struct Identity(u64);

impl Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type ByHash<V> = HashMap<u64, V, std::hash::BuildHasherDefault<Identity>>;

/// Union-find over entity hashes, counting events per set.
#[derive(Debug, Default)]
pub struct Components {
    index: ByHash<u32>,
    parent: Vec<u32>,
    events: Vec<u64>,
    /// Events added, and the most any one set holds.
    added: u64,
    largest: u64,
}

impl Components {
    fn id(&mut self, h: u64) -> u32 {
        let next = self.parent.len() as u32;
        let id = *self.index.entry(h).or_insert(next);
        if id == next {
            self.parent.push(id);
            self.events.push(0);
        }
        id
    }

    fn find(&mut self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            let p = self.parent[x as usize];
            self.parent[x as usize] = self.parent[p as usize];
            x = p;
        }
        x
    }

    /// Records one event touching `hashes` (joins them).
    pub fn add(&mut self, hashes: &[u64]) {
        let Some((&h0, rest)) = hashes.split_first() else { return };
        let a = self.id(h0);
        let mut root = self.find(a);
        for &h in rest {
            let b = self.id(h);
            let rb = self.find(b);
            if rb != root {
                // Smaller index wins: deterministic whatever the order of joins.
                let (keep, gone) = if rb < root { (rb, root) } else { (root, rb) };
                self.parent[gone as usize] = keep;
                self.events[keep as usize] += self.events[gone as usize];
                root = keep;
            }
        }
        self.events[root as usize] += 1;
        self.added += 1;
        // Sets only grow: the largest is the largest any event's set has been.
        self.largest = self.largest.max(self.events[root as usize]);
    }

    /// The largest set's share of the events added so far (0 before any).
    pub fn largest_share(&self) -> f64 {
        if self.added == 0 { 0.0 } else { self.largest as f64 / self.added as f64 }
    }

    /// Number of entities seen.
    pub fn entities(&self) -> usize {
        self.parent.len()
    }

    /// Assigns every set to one of `workers` threads, largest sets first to the least
    /// loaded thread. Returns the plan and the largest set's share of all events.
    pub fn plan(mut self, workers: usize) -> (Plan, f64) {
        let workers = workers.max(1);
        let n = self.parent.len();
        let mut roots: Vec<u32> = Vec::new();
        for x in 0..n as u32 {
            if self.find(x) == x {
                roots.push(x);
            }
        }
        let total: u64 = roots.iter().map(|&r| self.events[r as usize]).sum();
        roots.sort_by(|a, b| self.events[*b as usize].cmp(&self.events[*a as usize]).then(a.cmp(b)));
        let largest = roots.first().map_or(0, |&r| self.events[r as usize]);
        let mut load = vec![0u64; workers];
        let mut worker_of_root = vec![0u16; n];
        for &r in &roots {
            let w = (0..workers).min_by_key(|&w| (load[w], w)).unwrap_or(0);
            load[w] += self.events[r as usize];
            worker_of_root[r as usize] = w as u16;
        }
        let index = std::mem::take(&mut self.index);
        let mut worker = ByHash::with_capacity_and_hasher(n, Default::default());
        for (h, id) in index {
            let root = self.find(id);
            worker.insert(h, worker_of_root[root as usize]);
        }
        let share = if total == 0 { 0.0 } else { largest as f64 / total as f64 };
        (Plan { worker, load, sets: roots.len() }, share)
    }
}

/// Which thread takes each entity's events.
#[derive(Debug, Default)]
pub struct Plan {
    worker: ByHash<u16>,
    /// Events per thread.
    pub load: Vec<u64>,
    /// Connected sets of entities.
    pub sets: usize,
}

impl Plan {
    /// The thread of an event touching `hashes` (all of them map to the same one).
    pub fn worker(&self, hashes: &[u64]) -> usize {
        hashes.first().and_then(|h| self.worker.get(h)).map_or(0, |&w| w as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joined_entities_share_a_worker_and_sets_are_balanced() {
        let mut c = Components::default();
        c.add(&[1, 2]);
        c.add(&[3]);
        c.add(&[2, 4]);
        c.add(&[5, 6]);
        c.add(&[6, 3]);
        c.add(&[7]);
        let (plan, share) = c.plan(2);
        assert_eq!(plan.sets, 3);
        assert_eq!(plan.worker(&[1]), plan.worker(&[4]));
        assert_eq!(plan.worker(&[5]), plan.worker(&[3]));
        assert_ne!(plan.worker(&[1]), plan.worker(&[5]));
        assert_eq!(plan.load.iter().sum::<u64>(), 6);
        assert!((share - 0.5).abs() < 1e-9);
    }

    /// Card payments are joined through the compromise analysis only when some rule reads
    /// what it says: otherwise two cards at two merchants have nothing in common.
    #[test]
    fn card_payments_are_joined_only_for_rules_that_read_the_compromise_analysis() {
        let schema = EventSchema::new();
        let hashes = |packs: Packs, card: &str, merchant: &str| {
            let mut touches = Touches::new(packs, None, &schema);
            let event = Event::from_json_value(&serde_json::json!({"id": card, "type": "card_payment",
                "time": "2026-04-01T10:00:00+09:00", "institution": "card-co", "card": card, "merchant": merchant, "amount": "100"}))
            .unwrap_or_else(|e| panic!("{e:?}"));
            let mut out = Vec::new();
            let _ = touches.of(&schema, &event, &mut |h| {
                out.push(h);
                ControlFlow::Continue(())
            });
            out
        };
        let shared = |packs: &Packs| {
            let (a, b) = (hashes(packs.clone(), "tok_1", "m-1"), hashes(packs.clone(), "tok_2", "m-2"));
            assert!(!a.is_empty() && !b.is_empty());
            a.iter().any(|h| b.contains(h))
        };
        let builtin = Packs::builtin(&schema).unwrap_or_else(|e| panic!("{e}"));
        assert!(builtin.reads_compromise() && shared(&builtin));
        let dir = std::env::temp_dir().join(format!("mamori-partition-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let features = dir.join("features.toml");
        std::fs::write(&features, "[[feature]]\nname = \"n\"\nentity = \"card\"\naggregate = \"count\"\nwindow = \"1d\"\n").unwrap();
        std::fs::write(
            dir.join("p.toml"),
            "[pack]\nname = \"p\"\n[[rule]]\nid = \"r\"\nwhen = 'features.n > 3'\nscore = 1\naction = \"hold\"\n",
        )
        .unwrap();
        let plain = Packs::from_dir_with_features(&dir, &features, &schema).unwrap_or_else(|e| panic!("{e}"));
        let _ = std::fs::remove_dir_all(&dir);
        assert!(!plain.reads_compromise() && !shared(&plain));
    }

    proptest::proptest! {
        /// The share kept as events come is the one the plan finds at the end.
        #[test]
        fn the_running_largest_share_is_the_plans(events in proptest::collection::vec(proptest::collection::vec(0u64..40, 1..4), 0..60)) {
            let mut c = Components::default();
            for e in &events {
                c.add(e);
            }
            let running = c.largest_share();
            let (_, share) = c.plan(1);
            proptest::prop_assert!((running - share).abs() < 1e-12, "{} against {}", running, share);
        }
    }
}
