//! Compromised points of purchase: from fraud reports back to the merchant where the
//! reported cards were exposed, and from there forward to every other card that paid
//! there during the breach.
//!
//! A `fraud_reported` names card payments. Each reported card's earlier payments (within
//! the lookback, before its first reported fraud) are its candidate points of exposure.
//! A merchant becomes a compromised point when at least `min_cards` reported cards paid
//! there before their fraud and that is too many to be chance: with `p` the share of all
//! active cards that paid at the merchant, `n` the reported cards and `k` those of them
//! that paid there, the chance of `k` or more out of `n` (binomial), times the number of
//! merchants tested, must be at most `max_chance`. A popular convenience store, where
//! most cards pay anyway, is not flagged by a handful of reports; a fee-payment site
//! that one card in ten uses, and where eight of ten reported cards paid, is.
//!
//! The breach window is the shortest span holding nine in ten of the reported cards'
//! last payments there (so one old, unrelated visit does not stretch it), widened by a
//! margin on each side. Every later payment of a card that paid there inside the window
//! reads as at risk, with the facts, under the `compromise` root of the rules:
//! `compromise.card_at_risk`, `.merchant`, `.from`, `.to`, `.reported_cards`,
//! `.card_seen`, and `compromise.card_reported` (when a report first named the card).
//!
//! Memory is bounded by the lookback: payments older than it are forgotten, and a card
//! keeps at most `per_card` recent payments.

use std::collections::{BTreeMap, VecDeque};
use std::hash::BuildHasher;
use std::sync::LazyLock;

use mamori_core::event::{Event, EventKind};
use mamori_core::time::{MICROS_PER_SEC, Timestamp};
use mamori_core::value::{OwnedValue, Type};
use mamori_core::{StaticSchema, VecRecord};
use serde::{Deserialize, Serialize};

const DAY: i64 = 86_400 * MICROS_PER_SEC;

/// The maps of every payment: foldhash, seeded at random per map as std's SipHash is, at a
/// fraction of its cost (every card payment makes about six lookups).
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// What the rules may read under `compromise.`, in record order.
const FIELDS: [(&str, Type); 7] = [
    ("card_at_risk", Type::Bool),
    ("merchant", Type::String),
    ("from", Type::Timestamp),
    ("to", Type::Timestamp),
    ("reported_cards", Type::Int),
    ("card_seen", Type::Timestamp),
    ("card_reported", Type::Timestamp),
];

/// What [`Cpp::observe`] says of an event it knows nothing about: not at risk, and no
/// facts.
pub fn nothing_known(out: &mut VecRecord) {
    // Most events leave it so: checked, it is not rebuilt for every one.
    if says_nothing(&out.0) {
        return;
    }
    out.0.clear();
    out.0.resize(FIELDS.len(), OwnedValue::Null);
    out.0[0] = OwnedValue::Bool(false);
}

/// Whether `facts` (from [`Cpp::observe`]) say no more than [`nothing_known`] does.
pub fn says_nothing(facts: &[OwnedValue]) -> bool {
    facts.len() == FIELDS.len() && facts[0] == OwnedValue::Bool(false) && facts[1..].iter().all(OwnedValue::is_null)
}

/// The schema of the `compromise` root.
pub fn schema() -> &'static StaticSchema {
    static SCHEMA: LazyLock<StaticSchema> = LazyLock::new(|| StaticSchema::new(FIELDS.iter().map(|(n, t)| (*n, t.clone()))));
    &SCHEMA
}

/// How compromised points are found.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// How far back a reported card's payments are searched, and how long payments are
    /// remembered, in microseconds.
    pub lookback: i64,
    /// Reported cards that must have paid at one merchant before their fraud.
    pub min_cards: usize,
    /// The largest chance, corrected for the number of merchants, that so many reported
    /// cards paid there by coincidence.
    pub max_chance: f64,
    /// Added to each side of the breach window, in microseconds.
    pub margin: i64,
    /// The most recent payments kept per card.
    pub per_card: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { lookback: 120 * DAY, min_cards: 3, max_chance: 1e-3, margin: DAY, per_card: 256 }
    }
}

/// A merchant flagged as a compromised point of purchase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Compromise {
    pub merchant: String,
    /// The breach window (margin included).
    pub from: i64,
    pub to: i64,
    /// Reported cards that paid there before their fraud.
    pub reported_cards: usize,
    /// When it was first flagged (the report's event time).
    pub flagged_at: i64,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct CardState {
    /// (time, merchant), oldest first.
    visits: VecDeque<(i64, u32)>,
    /// Newest payment; `i64::MIN` once it is older than the lookback.
    last: i64,
    /// Time of the earliest payment of this card a report named.
    first_fraud: Option<i64>,
    /// When a report first named the card.
    reported_at: Option<i64>,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct MerchantState {
    id: String,
    /// Card → its newest payment here (within the lookback).
    visitors: Visitors,
    /// Reported card → its last payment here before its first fraud.
    exposures: BTreeMap<u32, i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Paid {
    time: i64,
    key: Box<str>,
    card: u32,
    merchant: u32,
}

/// Remembered payments in arrival order (for forgetting), each key's newest found through
/// an index of (hash of the key, sequence number): the key is kept once, in the queue, and
/// growing the index moves 16 bytes an entry without hashing a key again. Serialized as
/// the queue alone; the index is rebuilt from it.
#[derive(Default, Clone)]
struct Payments {
    queue: VecDeque<Paid>,
    /// The sequence number of `queue[0]`.
    first: u64,
    index: hashbrown::HashTable<(u64, u64)>,
    hasher: foldhash::fast::RandomState,
}

impl Payments {
    fn front(&self) -> Option<&Paid> {
        self.queue.front()
    }

    fn at(&self, seq: u64) -> &Paid {
        &self.queue[(seq - self.first) as usize]
    }

    /// Appends `p`; a later payment with an earlier one's key takes its place in the index.
    fn push(&mut self, p: Paid) {
        let h = self.hasher.hash_one(&*p.key);
        let seq = self.first + self.queue.len() as u64;
        let Payments { queue, first, index, .. } = self;
        match index.find_entry(h, |&(eh, s)| eh == h && queue[(s - *first) as usize].key == p.key) {
            Ok(mut e) => e.get_mut().1 = seq,
            Err(_) => {
                index.insert_unique(h, (h, seq), |e| e.0);
            }
        }
        queue.push_back(p);
    }

    /// Removes the oldest payment (and its key, unless a later payment holds it).
    fn pop_front(&mut self) -> Option<Paid> {
        let p = self.queue.pop_front()?;
        let seq = self.first;
        self.first += 1;
        let h = self.hasher.hash_one(&*p.key);
        if let Ok(e) = self.index.find_entry(h, |&(eh, s)| eh == h && s == seq) {
            e.remove();
        }
        Some(p)
    }

    /// The newest payment with this key.
    fn get(&self, key: &str) -> Option<&Paid> {
        let h = self.hasher.hash_one(key);
        self.index.find(h, |&(eh, s)| eh == h && &*self.at(s).key == key).map(|&(_, s)| self.at(s))
    }
}

/// The cards that paid at one merchant, each with its newest payment there: an open
/// addressing table whose slot holds the card and the time side by side, found by linear
/// probing from a multiplicative hash of the card's number. Every card payment updates one
/// entry, and a map with separate control bytes and entries reads two places in memory
/// for it where this reads one. Serialized as a map from card to time, as a `HashMap` is.
#[derive(Clone, Default)]
struct Visitors {
    /// A power of two long (or empty); a slot with [`NO_CARD`] is free.
    slots: Vec<(u32, i64)>,
    len: usize,
}

/// The card number no card has (numbers count up from 0).
const NO_CARD: u32 = u32::MAX;

impl Visitors {
    fn len(&self) -> usize {
        self.len
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Where card `c`'s search starts.
    fn home(&self, c: u32) -> usize {
        let bits = self.slots.len().trailing_zeros();
        (u64::from(c).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - bits)) as usize
    }

    /// The slot holding `c`, or the free slot where it would go.
    fn find(&self, c: u32) -> (usize, bool) {
        let mask = self.slots.len() - 1;
        let mut i = self.home(c);
        loop {
            match self.slots[i].0 {
                NO_CARD => return (i, false),
                k if k == c => return (i, true),
                _ => i = (i + 1) & mask,
            }
        }
    }

    #[cfg(test)]
    fn get(&self, c: u32) -> Option<i64> {
        if self.slots.is_empty() {
            return None;
        }
        match self.find(c) {
            (i, true) => Some(self.slots[i].1),
            _ => None,
        }
    }

    /// Card `c` paid here at `t`: its newest payment here is the later of `t` and the one
    /// it had.
    fn pay(&mut self, c: u32, t: i64) {
        debug_assert_ne!(c, NO_CARD);
        // At most three quarters full, so that a search ends soon at a free slot.
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            self.grow();
        }
        match self.find(c) {
            (i, true) => self.slots[i].1 = self.slots[i].1.max(t),
            (i, false) => {
                self.slots[i] = (c, t);
                self.len += 1;
            }
        }
    }

    /// The payment of card `c` here at `t` is forgotten: the card no longer counts as a
    /// visitor if that was its newest here.
    fn forget(&mut self, c: u32, t: i64) {
        if self.slots.is_empty() {
            return;
        }
        let (mut i, true) = self.find(c) else { return };
        if self.slots[i].1 != t {
            return;
        }
        // Backward shift: each later entry of the run moves into the gap unless its search
        // starts after the gap (it would then no longer be found).
        let mask = self.slots.len() - 1;
        let mut j = i;
        loop {
            j = (j + 1) & mask;
            let (k, _) = self.slots[j];
            if k == NO_CARD {
                break;
            }
            let home = self.home(k);
            if (j.wrapping_sub(home) & mask) >= (j.wrapping_sub(i) & mask) {
                self.slots[i] = self.slots[j];
                i = j;
            }
        }
        self.slots[i] = (NO_CARD, 0);
        self.len -= 1;
    }

    fn grow(&mut self) {
        let n = (self.slots.len() * 2).max(4);
        let old = std::mem::replace(&mut self.slots, vec![(NO_CARD, 0); n]);
        for (k, t) in old {
            if k != NO_CARD {
                let (i, _) = self.find(k);
                self.slots[i] = (k, t);
            }
        }
    }

    fn iter(&self) -> impl Iterator<Item = (u32, i64)> + '_ {
        self.slots.iter().copied().filter(|(k, _)| *k != NO_CARD)
    }
}

impl std::fmt::Debug for Visitors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Serialize for Visitors {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        // Its length first, as a map's: a format such as postcard writes it ahead.
        let mut map = s.serialize_map(Some(self.len))?;
        for (c, t) in self.iter() {
            map.serialize_entry(&c, &t)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Visitors {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Visitors, D::Error> {
        let map = HashMap::<u32, i64>::deserialize(d)?;
        if map.contains_key(&NO_CARD) {
            return Err(serde::de::Error::custom("a visitor with no card"));
        }
        let mut v = Visitors::default();
        for (c, t) in map {
            v.pay(c, t);
        }
        Ok(v)
    }
}

/// Names (card tokens, merchant ids) and their numbers. A name of up to 24 bytes is kept
/// in its entry of the table, so finding it reads one place in memory rather than two
/// (the entry, then the name on the heap): every card payment finds its card and its
/// merchant. Serialized as a map from name to number, as a `HashMap<Box<str>, u32>` is.
#[derive(Default, Clone)]
struct Names {
    table: hashbrown::HashTable<(Name, u32)>,
    hasher: foldhash::fast::RandomState,
}

type Name = smallvec::SmallVec<[u8; 24]>;

impl Names {
    fn get(&self, name: &str) -> Option<u32> {
        let name = name.as_bytes();
        self.table.find(self.hasher.hash_one(name), |(n, _)| n.as_slice() == name).map(|&(_, i)| i)
    }

    /// Numbers `name` (which it does not hold yet) `i`.
    fn insert(&mut self, name: &str, i: u32) {
        let name = name.as_bytes();
        let Names { table, hasher } = self;
        table.insert_unique(hasher.hash_one(name), (Name::from_slice(name), i), |(n, _)| hasher.hash_one(n.as_slice()));
    }
}

impl std::fmt::Debug for Names {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The names are card tokens among others: their number only.
        f.debug_struct("Names").field("len", &self.table.len()).finish()
    }
}

impl Serialize for Names {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.table.iter().map(|(n, i)| (String::from_utf8_lossy(n), i)))
    }
}

impl<'de> Deserialize<'de> for Names {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Names, D::Error> {
        let map = HashMap::<Box<str>, u32>::deserialize(d)?;
        let mut names = Names { table: hashbrown::HashTable::with_capacity(map.len()), ..Names::default() };
        for (name, i) in map {
            names.insert(&name, i);
        }
        Ok(names)
    }
}

impl std::fmt::Debug for Payments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Payments").field("len", &self.queue.len()).field("keys", &self.index.len()).finish_non_exhaustive()
    }
}

impl Serialize for Payments {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.queue.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Payments {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Payments, D::Error> {
        let queue = VecDeque::<Paid>::deserialize(d)?;
        let mut p = Payments { queue: VecDeque::with_capacity(queue.len()), ..Payments::default() };
        for paid in queue {
            p.push(paid);
        }
        Ok(p)
    }
}

/// The state: recent card payments, reported cards, flagged merchants.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Cpp {
    settings: Settings,
    card_ids: Names,
    cards: Vec<CardState>,
    merchant_ids: Names,
    merchants: Vec<MerchantState>,
    /// Every remembered payment in arrival order, found by its key for reports.
    payments: Payments,
    /// The newest event time seen.
    watermark: i64,
    /// Cards with a payment within the lookback.
    active: usize,
    /// (first fraud, card) of every reported card.
    reported: Vec<(i64, u32)>,
    compromised: BTreeMap<u32, Compromise>,
}

impl Cpp {
    pub fn new(settings: Settings) -> Cpp {
        Cpp { settings, watermark: i64::MIN, ..Cpp::default() }
    }

    /// The merchants flagged so far.
    pub fn compromised(&self) -> impl Iterator<Item = &Compromise> {
        self.compromised.values()
    }

    /// Takes in one event and fills `out` (in [`schema`] order) with what it means for
    /// the event's card, as of before the event.
    pub fn observe(&mut self, event: &Event, out: &mut VecRecord) {
        nothing_known(out);
        let t = event.time.0;
        match &event.kind {
            EventKind::CardPayment { card, merchant, .. } => {
                self.forget(t);
                let c = self.card(card.expose());
                self.describe(c, out);
                let m = self.merchant(merchant);
                let inst = event.institution.as_deref().unwrap_or_default();
                self.pay(c, m, t, payment_key(inst, &event.id));
            }
            EventKind::FraudReported { events, .. } => {
                self.forget(t);
                let inst = event.institution.as_deref().unwrap_or_default();
                self.report(inst, events, t);
            }
            _ => {}
        }
    }

    fn card(&mut self, token: &str) -> u32 {
        if let Some(c) = self.card_ids.get(token) {
            return c;
        }
        let c = self.cards.len() as u32;
        self.card_ids.insert(token, c);
        self.cards.push(CardState { last: i64::MIN, ..CardState::default() });
        c
    }

    fn merchant(&mut self, id: &str) -> u32 {
        if let Some(m) = self.merchant_ids.get(id) {
            return m;
        }
        let m = self.merchants.len() as u32;
        self.merchant_ids.insert(id, m);
        self.merchants.push(MerchantState { id: id.to_string(), ..MerchantState::default() });
        m
    }

    /// Forgets payments older than the lookback.
    fn forget(&mut self, t: i64) {
        self.watermark = self.watermark.max(t);
        let cutoff = self.watermark.saturating_sub(self.settings.lookback);
        while self.payments.front().is_some_and(|p| p.time < cutoff) {
            let Some(p) = self.payments.pop_front() else { break };
            let card = &mut self.cards[p.card as usize];
            if card.last == p.time {
                card.last = i64::MIN;
                self.active -= 1;
            }
            while card.visits.front().is_some_and(|v| v.0 < cutoff) {
                card.visits.pop_front();
            }
            self.merchants[p.merchant as usize].visitors.forget(p.card, p.time);
        }
    }

    fn pay(&mut self, c: u32, m: u32, t: i64, key: Box<str>) {
        let card = &mut self.cards[c as usize];
        if card.last == i64::MIN {
            self.active += 1;
        }
        card.last = card.last.max(t);
        // Payments come in time order but for a few late ones: no search for the others.
        if card.visits.back().is_none_or(|v| v.0 <= t) {
            card.visits.push_back((t, m));
        } else {
            let at = card.visits.partition_point(|v| v.0 <= t);
            card.visits.insert(at, (t, m));
        }
        if card.visits.len() > self.settings.per_card {
            card.visits.pop_front();
        }
        self.merchants[m as usize].visitors.pay(c, t);
        self.payments.push(Paid { time: t, key, card: c, merchant: m });
    }

    fn describe(&self, c: u32, out: &mut VecRecord) {
        let card = &self.cards[c as usize];
        if let Some(r) = card.reported_at {
            out.0[6] = OwnedValue::Timestamp(Timestamp(r));
        }
        if self.compromised.is_empty() {
            return;
        }
        // The flagged merchant with the most reports where this card paid in the window.
        // Visits are in time order: only those inside some window are looked up.
        let (lo, hi) = self.compromised.values().fold((i64::MAX, i64::MIN), |(lo, hi), cp| (lo.min(cp.from), hi.max(cp.to)));
        if card.visits.back().is_none_or(|v| v.0 < lo) {
            return;
        }
        let first = card.visits.partition_point(|v| v.0 < lo);
        let mut best: Option<(&Compromise, i64)> = None;
        for &(t, m) in card.visits.range(first..).take_while(|v| v.0 <= hi) {
            if let Some(cp) = self.compromised.get(&m)
                && (cp.from..=cp.to).contains(&t)
                && best.is_none_or(|(b, _)| cp.reported_cards > b.reported_cards)
            {
                best = Some((cp, t));
            }
        }
        if let Some((cp, seen)) = best {
            out.0[0] = OwnedValue::Bool(true);
            out.0[1] = OwnedValue::Str(cp.merchant.as_str().into());
            out.0[2] = OwnedValue::Timestamp(Timestamp(cp.from));
            out.0[3] = OwnedValue::Timestamp(Timestamp(cp.to));
            out.0[4] = OwnedValue::Int(cp.reported_cards as i64);
            out.0[5] = OwnedValue::Timestamp(Timestamp(seen));
        }
    }

    fn report(&mut self, inst: &str, ids: &[String], t: i64) {
        let mut touched = Vec::new();
        for id in ids {
            let Some(&Paid { card: c, time: paid, .. }) = self.payments.get(&payment_key(inst, id)) else { continue };
            let card = &mut self.cards[c as usize];
            card.reported_at.get_or_insert(t);
            match card.first_fraud {
                Some(f) if f <= paid => {}
                Some(_) => {
                    card.first_fraud = Some(paid);
                    touched.push(c);
                }
                None => {
                    card.first_fraud = Some(paid);
                    self.reported.push((paid, c));
                    touched.push(c);
                }
            }
        }
        touched.sort_unstable();
        touched.dedup();
        let mut merchants = Vec::new();
        for c in touched {
            let card = &self.cards[c as usize];
            let Some(first) = card.first_fraud else { continue };
            let from = first.saturating_sub(self.settings.lookback);
            let mut last_at: BTreeMap<u32, i64> = BTreeMap::new();
            for &(v, m) in card.visits.iter().filter(|(v, _)| (from..first).contains(v)) {
                last_at.insert(m, v);
            }
            for (m, v) in last_at {
                self.merchants[m as usize].exposures.insert(c, v);
                merchants.push(m);
            }
        }
        merchants.sort_unstable();
        merchants.dedup();
        for m in merchants {
            self.test(m, t);
        }
    }

    /// Flags `m` (or updates its window) when its reported cards are too many for chance.
    fn test(&mut self, m: u32, now: i64) {
        // Reports and exposures older than the lookback no longer count.
        let cutoff = self.watermark.saturating_sub(self.settings.lookback);
        let cards = &mut self.cards;
        self.reported.retain(|&(f, c)| {
            let keep = f >= cutoff;
            if !keep {
                cards[c as usize].first_fraud = None;
            }
            keep
        });
        let n = self.reported.len();
        let exposures = &mut self.merchants[m as usize].exposures;
        exposures.retain(|c, v| *v >= cutoff && cards[*c as usize].first_fraud.is_some());
        let mut times: Vec<i64> = exposures.values().copied().collect();
        let k = times.len();
        if k < self.settings.min_cards || self.active == 0 {
            return;
        }
        let visitors = self.merchants[m as usize].visitors.len().max(1);
        let p = (visitors as f64 / self.active as f64).min(1.0);
        let tested = self.merchants.iter().filter(|s| !s.visitors.is_empty()).count().max(1);
        if binomial_tail(n, k, p) * tested as f64 > self.settings.max_chance {
            return;
        }
        times.sort_unstable();
        let span = (k * 9).div_ceil(10).max(self.settings.min_cards).min(k);
        let start = (0..=k - span).min_by_key(|&i| (times[i + span - 1] - times[i], i)).unwrap_or(0);
        let (from, to) = (times[start] - self.settings.margin, times[start + span - 1] + self.settings.margin);
        let merchant = self.merchants[m as usize].id.clone();
        let flagged_at = self.compromised.get(&m).map_or(now, |c| c.flagged_at);
        self.compromised.insert(m, Compromise { merchant, from, to, reported_cards: k, flagged_at });
    }
}

/// How a payment is found by a report: "institution, unit separator, event id", built
/// at its exact size (one allocation, no formatting: every card payment makes one).
fn payment_key(inst: &str, id: &str) -> Box<str> {
    let mut key = String::with_capacity(inst.len() + 1 + id.len());
    key.push_str(inst);
    key.push('\x1f');
    key.push_str(id);
    key.into_boxed_str()
}

/// P(X ≥ k) for X ~ Binomial(n, p).
fn binomial_tail(n: usize, k: usize, p: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if k > n || p <= 0.0 {
        return 0.0;
    }
    if p >= 1.0 {
        return 1.0;
    }
    // ln of the probability of exactly k, then the terms above it by their ratio.
    let (nf, kf) = (n as f64, k as f64);
    let ln_choose: f64 = (1..=k).map(|i| ((nf - kf + i as f64) / i as f64).ln()).sum();
    let mut term = (ln_choose + kf * p.ln() + (nf - kf) * (1.0 - p).ln()).exp();
    let mut sum = 0.0;
    for j in k..=n {
        sum += term;
        if term < sum * 1e-17 {
            break;
        }
        term *= (n - j) as f64 / (j + 1) as f64 * p / (1.0 - p);
    }
    sum.min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What nothing is known of is the same record however it was left: empty, blank, or
    /// holding another card's facts.
    #[test]
    fn nothing_known_is_one_record_whatever_came_before() {
        let blank = {
            let mut r = VecRecord(vec![OwnedValue::Null; FIELDS.len()]);
            r.0[0] = OwnedValue::Bool(false);
            r
        };
        let mut facts = VecRecord(vec![OwnedValue::Null; FIELDS.len()]);
        facts.0[0] = OwnedValue::Bool(true);
        facts.0[4] = OwnedValue::Int(3);
        let mut late = blank.clone();
        late.0[6] = OwnedValue::Timestamp(Timestamp(5));
        for mut r in [VecRecord::default(), blank.clone(), facts, late, VecRecord(vec![OwnedValue::Bool(false)])] {
            nothing_known(&mut r);
            assert_eq!(r.0, blank.0);
            assert!(says_nothing(&r.0));
        }
    }

    #[test]
    fn a_payments_key_is_its_institution_and_id_apart() {
        assert_eq!(&*payment_key("bank-a", "e1"), "bank-a\x1fe1");
        assert_eq!(&*payment_key("", "e1"), "\x1fe1");
        // Institution and id stay apart: ("a", "bc") is not ("ab", "c").
        assert_ne!(payment_key("a", "bc"), payment_key("ab", "c"));
    }

    #[test]
    fn binomial_tail_matches_direct_sums() {
        // 1 - P(0) for n = 4, p = 0.5.
        assert!((binomial_tail(4, 1, 0.5) - 15.0 / 16.0).abs() < 1e-12);
        assert!((binomial_tail(4, 4, 0.5) - 1.0 / 16.0).abs() < 1e-12);
        // P(X >= 8) for n = 10, p = 0.2: 45·0.2⁸·0.8² + 10·0.2⁹·0.8 + 0.2¹⁰.
        let direct = 45.0 * 0.2f64.powi(8) * 0.64 + 10.0 * 0.2f64.powi(9) * 0.8 + 0.2f64.powi(10);
        assert!((binomial_tail(10, 8, 0.2) - direct).abs() < 1e-15);
        assert_eq!(binomial_tail(3, 4, 0.5), 0.0);
        assert_eq!(binomial_tail(3, 0, 0.5), 1.0);
        assert!(binomial_tail(10_000, 5_000, 0.5) > 0.49);
    }

    /// What `describe` says of card `c`, by the plain reading: every visit, in time order.
    fn naive(cpp: &Cpp, c: u32) -> Option<(u32, i64)> {
        let mut visits: Vec<(i64, u32)> = cpp.cards[c as usize].visits.iter().copied().collect();
        visits.sort_by_key(|v| v.0);
        let mut best: Option<(u32, usize, i64)> = None;
        for (t, m) in visits {
            if let Some(cp) = cpp.compromised.get(&m)
                && (cp.from..=cp.to).contains(&t)
                && best.is_none_or(|(_, r, _)| cp.reported_cards > r)
            {
                best = Some((m, cp.reported_cards, t));
            }
        }
        best.map(|(m, _, t)| (m, t))
    }

    proptest::proptest! {
        /// Visitors answer as a plain map of each card's newest payment does, through
        /// payments, forgetting (only the newest forgets a card), growth and a snapshot,
        /// whose form is that of the map. Few cards and slots, so that searches run into
        /// each other and wrap round the end.
        #[test]
        fn visitors_are_found_as_a_plain_map_finds_them(
            ops in proptest::collection::vec((0u8..5, 0u32..24, 0i64..12), 1..300),
        ) {
            let mut v = Visitors::default();
            let mut plain: std::collections::HashMap<u32, i64> = std::collections::HashMap::new();
            for &(op, c, t) in &ops {
                match op {
                    0 | 1 => {
                        v.pay(c, t);
                        let seen = plain.entry(c).or_insert(t);
                        *seen = (*seen).max(t);
                    }
                    2 | 3 => {
                        v.forget(c, t);
                        if plain.get(&c) == Some(&t) {
                            plain.remove(&c);
                        }
                    }
                    _ => {
                        let bytes = postcard::to_stdvec(&v).unwrap();
                        let as_map: std::collections::HashMap<u32, i64> = postcard::from_bytes(&bytes).unwrap();
                        proptest::prop_assert_eq!(&as_map, &plain);
                        v = postcard::from_bytes(&postcard::to_stdvec(&plain).unwrap()).unwrap();
                    }
                }
                proptest::prop_assert_eq!(v.len(), plain.len());
                proptest::prop_assert_eq!(v.is_empty(), plain.is_empty());
                for c in 0..24 {
                    proptest::prop_assert_eq!(v.get(c), plain.get(&c).copied(), "card {}", c);
                }
                proptest::prop_assert!(v.slots.len() * 3 >= v.len() * 4);
            }
        }
    }

    #[test]
    fn a_snapshot_with_a_visitor_of_no_card_is_refused() {
        let bytes = postcard::to_stdvec(&std::collections::HashMap::from([(NO_CARD, 5i64)])).unwrap();
        assert!(postcard::from_bytes::<Visitors>(&bytes).is_err());
    }

    /// Names short and long are numbered as a plain map numbers them, through a snapshot,
    /// whose form is that of the map (older snapshots read the same); `Debug` shows none.
    #[test]
    fn names_are_found_as_a_plain_map_finds_them() {
        let mut names = Names::default();
        let mut plain: std::collections::HashMap<Box<str>, u32> = std::collections::HashMap::new();
        let long = "x".repeat(24);
        let all: Vec<String> = (0..500).map(|i| if i % 3 == 0 { format!("{long}{i}") } else { format!("tok_{i}") }).collect();
        for (i, n) in all.iter().enumerate() {
            assert_eq!(names.get(n), None);
            names.insert(n, i as u32);
            plain.insert(n.as_str().into(), i as u32);
        }
        let bytes = postcard::to_stdvec(&names).unwrap();
        let as_map: std::collections::HashMap<Box<str>, u32> = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(as_map, plain);
        let back: Names = postcard::from_bytes(&postcard::to_stdvec(&plain).unwrap()).unwrap();
        for n in all.iter().chain([&long, &"tok_".to_string(), &String::new()]) {
            assert_eq!(names.get(n), plain.get(n.as_str()).copied(), "{n}");
            assert_eq!(back.get(n), plain.get(n.as_str()).copied(), "{n}");
        }
        assert!(!format!("{names:?}").contains("tok_"));
    }

    proptest::proptest! {
        /// The payments' queue and index answer as a plain map and queue do, through pushes
        /// with repeated keys, forgetting, and a snapshot's round trip.
        #[test]
        fn payments_are_found_as_a_plain_map_finds_them(
            ops in proptest::collection::vec((0u8..4, 0u32..12), 1..200),
        ) {
            let mut p = Payments::default();
            let mut queue: VecDeque<(u32, Box<str>)> = VecDeque::new();
            for (i, &(op, k)) in ops.iter().enumerate() {
                match op {
                    0 | 1 => {
                        let key: Box<str> = format!("inst\x1fe{k}").into();
                        p.push(Paid { time: i as i64, key: key.clone(), card: k, merchant: i as u32 });
                        queue.push_back((i as u32, key));
                    }
                    2 => {
                        let got = p.pop_front().map(|q| q.merchant);
                        proptest::prop_assert_eq!(got, queue.pop_front().map(|q| q.0));
                    }
                    _ => {
                        let bytes = postcard::to_stdvec(&p).unwrap();
                        p = postcard::from_bytes(&bytes).unwrap();
                    }
                }
                // The plain model: each key's newest remembered payment.
                let mut newest: std::collections::HashMap<&str, u32> = std::collections::HashMap::new();
                for (i, key) in &queue {
                    newest.insert(key, *i);
                }
                for k in 0..12 {
                    let key = format!("inst\x1fe{k}");
                    proptest::prop_assert_eq!(p.get(&key).map(|q| q.merchant), newest.get(key.as_str()).copied(), "key {}", key);
                }
                proptest::prop_assert_eq!(p.index.len(), newest.len());
            }
        }

        /// Payments in any order, with a short lookback and few visits per card so that both
        /// forget: each card's visits stay in time order, its newest is never later than the
        /// card's newest payment, and a payment is kept unless it is older than the lookback
        /// or than every visit kept.
        #[test]
        fn visits_stay_in_time_order_as_payments_are_forgotten(
            pays in proptest::collection::vec((0u32..3, 0u32..4, 0i64..80), 1..80),
        ) {
            let settings = Settings { lookback: 20, per_card: 4, ..Settings::default() };
            let mut cpp = Cpp::new(settings);
            for (i, &(c, m, t)) in pays.iter().enumerate() {
                let c = cpp.card(&format!("c{c}"));
                let m = cpp.merchant(&format!("m{m}"));
                cpp.forget(t);
                cpp.pay(c, m, t, format!("p{i}").into_boxed_str());
                let cutoff = cpp.watermark - settings.lookback;
                for card in &cpp.cards {
                    let v = &card.visits;
                    proptest::prop_assert!(v.len() <= settings.per_card);
                    proptest::prop_assert!(v.iter().zip(v.iter().skip(1)).all(|(a, b)| a.0 <= b.0), "{:?}", v);
                    if let Some(back) = v.back() {
                        proptest::prop_assert!(back.0 <= card.last, "{:?} after {}", v, card.last);
                    }
                }
                let v = &cpp.cards[c as usize].visits;
                let kept = v.iter().any(|&(vt, vm)| vt == t && vm == m);
                proptest::prop_assert!(kept || t < cutoff || v.iter().all(|v| v.0 >= t), "{:?} without ({}, {})", v, t, m);
            }
        }

        /// Payments in any order (late ones too) keep each card's visits in time order, and
        /// the card's facts are those of the plain reading of every visit.
        #[test]
        fn a_cards_facts_are_those_of_every_visit_in_time_order(
            pays in proptest::collection::vec((0u32..3, 0u32..6, 0i64..30), 1..40),
            flagged in proptest::collection::vec((0u32..6, 0i64..30, 0i64..10, 1usize..5), 0..4),
        ) {
            let mut cpp = Cpp::new(Settings { lookback: i64::MAX / 4, per_card: 1_000, ..Settings::default() });
            for m in 0..6 {
                cpp.merchant(&format!("m{m}"));
            }
            for c in 0..3 {
                cpp.card(&format!("c{c}"));
            }
            for (i, &(c, m, t)) in pays.iter().enumerate() {
                cpp.pay(c, m, t, format!("p{i}").into_boxed_str());
            }
            for &(m, from, len, reported_cards) in &flagged {
                cpp.compromised.insert(m, Compromise { merchant: format!("m{m}"), from, to: from + len, reported_cards, flagged_at: 0 });
            }
            for c in 0..3u32 {
                let visits = &cpp.cards[c as usize].visits;
                proptest::prop_assert!(visits.iter().zip(visits.iter().skip(1)).all(|(a, b)| a.0 <= b.0));
                let mut out = VecRecord(vec![OwnedValue::Null; FIELDS.len()]);
                out.0[0] = OwnedValue::Bool(false);
                cpp.describe(c, &mut out);
                let said = match (&out.0[0], &out.0[1], &out.0[5]) {
                    (OwnedValue::Bool(true), OwnedValue::Str(m), OwnedValue::Timestamp(t)) => {
                        Some((m.trim_start_matches('m').parse::<u32>().unwrap(), t.0))
                    }
                    (OwnedValue::Bool(false), OwnedValue::Null, OwnedValue::Null) => None,
                    other => panic!("unexpected facts {other:?}"),
                };
                proptest::prop_assert_eq!(said, naive(&cpp, c));
            }
        }
    }
}
