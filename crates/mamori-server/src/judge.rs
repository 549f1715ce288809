//! Features and rules over one stream of events, with no storage: what the service runs
//! under its lock, what a replay rebuilds, what `mamori eval` measures.

use std::collections::BTreeMap;
use std::sync::Arc;

use mamori_core::event::{Event, EventRecord, EventSchema, EventType};
use mamori_core::value::OwnedValue;
use mamori_core::{CompositeRecord, FieldId, Record, Resolution, Schema, VecRecord};
use mamori_features::{Ahead, Engine, FeatureVector, Outcome, Subset};
use mamori_rules::{Action, Decision, Reason};
use serde::{Deserialize, Serialize};

use crate::cases::Casebook;
use crate::cpp::{self, Cpp};
use crate::journal;
use crate::packs::Packs;
use crate::registry::{AccountRef, Registry};
use crate::scorer::{self, Scorer};

/// A tripped breaker: what tripped it, and the key it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trip {
    pub breaker: String,
    pub key: Vec<String>,
    /// The institution whose event tripped it (the one that may release it).
    pub institution: String,
    pub event_id: String,
    pub rule: String,
    /// The tripping event's time, RFC 3339.
    pub at: String,
}

/// An operator's release of a tripped breaker, as recorded in the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    pub breaker: String,
    pub key: Vec<String>,
    /// The institution that released it.
    pub by: String,
    pub reason: String,
    /// When, RFC 3339 (the service's clock).
    pub at: String,
}

/// Why a release was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReleaseError {
    #[error("breaker {breaker:?} is not tripped for {key:?}")]
    NotTripped { breaker: String, key: Vec<String> },
    #[error("breaker {breaker:?} for {key:?} was tripped by {owner:?}'s event; only {owner:?} may release it")]
    NotYours { breaker: String, key: Vec<String>, owner: String },
    #[error("a release needs a reason")]
    NoReason,
}

const SNAPSHOT_MAGIC: &[u8] = b"MAMORI-JUDGE\x05";

/// The feature state of a stream, the compromised points of purchase it found, the
/// breakers it tripped, and the packs that judge it.
pub struct Judge {
    packs: Packs,
    events: Arc<EventSchema>,
    engine: Engine<'static>,
    fv: FeatureVector,
    cpp: Cpp,
    /// What `cpp` says of the event being judged (the `compromise` root).
    compromise: VecRecord,
    tripped: BTreeMap<(String, Vec<String>), Trip>,
    /// The learned model, if one is loaded, and what it says of the event being judged
    /// (the `model` root) from the model's inputs (`row`).
    model: Option<Arc<Scorer>>,
    model_rec: VecRecord,
    row: Vec<f64>,
    /// Accounts' registered channels, links, partner controls, freezes.
    registry: Registry,
    cases: Casebook,
    /// Whether held and blocked events open cases (a sweep's judges need none: their
    /// findings are what they report).
    opens_cases: bool,
    needs: FeatureNeeds,
}

/// Per event type, the features deciding such an event reads (see
/// [`FeatureSet::subset`](mamori_features::FeatureSet::subset)): a charge needs a handful
/// of the built-in packs' features, not all of them. Made when a type is first seen. The
/// judge computes these; a sweep splitting history by entity asks the same to know which
/// entities an event touches.
#[derive(Debug, Clone, Default)]
pub struct FeatureNeeds {
    /// The event's `type` field.
    type_field: Option<FieldId>,
    /// By the type's place in [`EventType::ALL`].
    subsets: Vec<Option<Subset>>,
    /// Every feature for every event (see [`Judge::compute_every_feature`]).
    every: bool,
}

impl FeatureNeeds {
    /// For events read through `events`; nothing is worked out until a type is asked for.
    pub fn new(events: &EventSchema) -> FeatureNeeds {
        let type_field = match events.resolve(&["type"]) {
            Resolution::Field(id, _) => Some(FieldId::new(0, id.inner())),
            _ => None,
        };
        FeatureNeeds { type_field, subsets: vec![None; EventType::ALL.len()], every: false }
    }

    /// What deciding an event of type `ty` by `packs` needs, or `None` when it needs every
    /// feature: when `model` scores such events (it reads its own features), or when told
    /// to compute every feature.
    pub fn of(&mut self, packs: &Packs, model: Option<&Scorer>, ty: EventType) -> Option<&Subset> {
        if self.every || model.is_some_and(|m| m.applies(ty.as_str())) {
            return None;
        }
        let field = self.type_field?;
        let i = EventType::ALL.iter().position(|t| *t == ty)?;
        let subset = self.subsets[i].get_or_insert_with(|| {
            // The rules see the features under their second root (`features`).
            let wanted = packs.rules.fields_for(field, ty.as_str());
            let wanted = wanted.iter().filter(|f| f.part() == 1).map(|f| f.inner() as usize);
            packs.features.subset(wanted, Some((field, ty.as_str())))
        });
        Some(subset)
    }
}

/// The features of `event` into `out`, from and into `engine`'s state: those `packs`
/// read for its type, or all of them when `model` scores it.
#[allow(clippy::too_many_arguments)]
fn compute(
    engine: &mut Engine<'static>,
    needs: &mut FeatureNeeds,
    packs: &Packs,
    model: Option<&Scorer>,
    events: &EventSchema,
    event: &Event,
    out: &mut FeatureVector,
    ahead: Option<&mut Ahead>,
) -> Outcome {
    let rec = EventRecord::new(events, event);
    let subset = needs.of(packs, model, event.event_type());
    match (subset, ahead) {
        (subset, Some(ahead)) => engine.process_ahead(&rec, event.time, out, subset, ahead),
        (Some(subset), None) => engine.process_subset(&rec, event.time, out, subset),
        (None, None) => engine.process(&rec, event.time, out),
    }
}

/// The feature half of a new judge: computes, from the events alone, what the judge's
/// rules and model read of each, so that it can run ahead of the judge on a thread of its
/// own and hand each event's features to [`Judge::judge_computed`].
#[derive(Debug)]
pub struct FeatureStage {
    packs: Packs,
    events: Arc<EventSchema>,
    engine: Engine<'static>,
    needs: FeatureNeeds,
    model: Option<Arc<Scorer>>,
}

impl FeatureStage {
    /// Empty state, for a judge of `packs` and `model` that is fed by it from its start.
    pub fn new(packs: Packs, events: Arc<EventSchema>, model: Option<Arc<Scorer>>) -> FeatureStage {
        let engine = Engine::shared(Arc::clone(&packs.features));
        let needs = FeatureNeeds::new(&events);
        FeatureStage { packs, events, engine, needs, model }
    }

    /// Adds `event` to the feature state and writes its features into `out`.
    pub fn features(&mut self, event: &Event, out: &mut FeatureVector) {
        compute(&mut self.engine, &mut self.needs, &self.packs, self.model.as_deref(), &self.events, event, out, None);
    }

    /// [`FeatureStage::features`] of the `i`-th event of the run that `ahead` reads ahead
    /// for ([`FeatureStage::read_ahead`]): the entity keys built when it was read ahead are
    /// taken, not built again. Where `ahead` did not read this event ahead (the first of a
    /// run, or another event), they are built as by `features`.
    pub fn features_ahead(&mut self, i: usize, event: &Event, out: &mut FeatureVector, ahead: &mut ReadAhead) {
        let keys = ahead.take(i, event);
        compute(&mut self.engine, &mut self.needs, &self.packs, self.model.as_deref(), &self.events, event, out, keys);
    }

    /// Before computing the features of the `i`-th of a run of events (`event(j)` the
    /// `j`-th, `None` past the end): asks for the state the next two will read, so that
    /// memory answers while this one is computed ([`read_ahead`]). Changes nothing.
    pub fn read_ahead<'e>(&mut self, i: usize, event: impl Fn(usize) -> Option<&'e Event>, ahead: &mut ReadAhead) {
        read_ahead(&mut self.engine, &mut self.needs, &self.packs, self.model.as_deref(), &self.events, i, event, ahead);
    }
}

/// Asks, before the features of the `i`-th of a run of events are computed, for the state
/// the next two will read: the entities of the event two places on, then the logs of the
/// next one's, found the same way one event earlier ([`Engine::prefetch_entities`],
/// [`Engine::prefetch_logs`]). Nothing waits for memory and nothing changes.
#[allow(clippy::too_many_arguments)]
fn read_ahead<'e>(
    engine: &mut Engine<'static>,
    needs: &mut FeatureNeeds,
    packs: &Packs,
    model: Option<&Scorer>,
    events: &EventSchema,
    i: usize,
    event: impl Fn(usize) -> Option<&'e Event>,
    ahead: &mut ReadAhead,
) {
    let mut entities = |engine: &mut Engine<'static>, ahead: &mut ReadAhead, j: usize, e: &Event| {
        let rec = EventRecord::new(events, e);
        let subset = needs.of(packs, model, e.event_type());
        let k = j % READ_AHEAD;
        engine.read_ahead_for(&rec, subset, &mut ahead.found[k]);
        ahead.of[k] = Some((j, ReadAhead::address(e)));
    };
    if i == 0 {
        // A new run: nothing found for an earlier one is this run's.
        ahead.of = [None; READ_AHEAD];
        if let Some(e) = event(1) {
            entities(engine, ahead, 1, e);
        }
    }
    if event(i + 1).is_some() && ahead.of[(i + 1) % READ_AHEAD].is_some_and(|(j, _)| j == i + 1) {
        engine.prefetch_logs(ahead.found[(i + 1) % READ_AHEAD].slots());
    }
    if let Some(e) = event(i + 2) {
        entities(engine, ahead, i + 2, e);
        mamori_features::ahead::attribute_text(e);
    }
    // Finding an event's entities reads its text, made on another core: the event is
    // asked for eight places on, and its text and attributes (found through the event,
    // by then at hand) four places on, and the attributes' keys and values (found
    // through the attributes) two places on.
    if let Some(e) = event(i + 8) {
        mamori_features::ahead::event(e);
    }
    if let Some(e) = event(i + 4) {
        mamori_features::ahead::text(e);
    }
}

/// What [`FeatureStage::read_ahead`] found for the event being computed and the next two:
/// each one's entities and keys, with which event of the run (its place, and its address
/// while the run is borrowed) they are of.
#[derive(Debug, Default)]
pub struct ReadAhead {
    found: [Ahead; READ_AHEAD],
    of: [Option<(usize, usize)>; READ_AHEAD],
}

/// The events [`ReadAhead`] holds what it found for: the one computed, and two ahead.
const READ_AHEAD: usize = 3;

impl ReadAhead {
    fn address(e: &Event) -> usize {
        std::ptr::from_ref(e) as usize
    }

    /// What was found for the `i`-th event if it was read ahead and is `event`; taken
    /// once.
    fn take(&mut self, i: usize, event: &Event) -> Option<&mut Ahead> {
        let k = i % READ_AHEAD;
        if self.of[k] != Some((i, Self::address(event))) {
            return None;
        }
        self.of[k] = None;
        Some(&mut self.found[k])
    }
}

impl std::fmt::Debug for Judge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Judge").field("ruleset", &self.packs.rules.id()).finish_non_exhaustive()
    }
}

impl Judge {
    /// A judge with empty state.
    pub fn new(packs: Packs, events: Arc<EventSchema>) -> Judge {
        let engine = Engine::shared(Arc::clone(&packs.features));
        let cpp = Cpp::new(cpp::Settings::default());
        Judge::with_state(packs, events, engine, cpp, BTreeMap::new(), Registry::default(), Casebook::default())
    }

    fn with_state(
        packs: Packs,
        events: Arc<EventSchema>,
        engine: Engine<'static>,
        cpp: Cpp,
        tripped: BTreeMap<(String, Vec<String>), Trip>,
        registry: Registry,
        cases: Casebook,
    ) -> Judge {
        let mut model_rec = VecRecord::default();
        scorer::describe(None, &mut model_rec);
        let needs = FeatureNeeds::new(&events);
        Judge {
            packs,
            events,
            engine,
            fv: FeatureVector::default(),
            cpp,
            compromise: VecRecord::default(),
            tripped,
            model: None,
            model_rec,
            row: Vec::new(),
            registry,
            cases,
            opens_cases: true,
            needs,
        }
    }

    /// Before judging the `i`-th of a run of events: asks for the feature state the next
    /// two will read, as [`FeatureStage::read_ahead`] does for a stage.
    pub fn read_ahead<'e>(&mut self, i: usize, event: impl Fn(usize) -> Option<&'e Event>, ahead: &mut ReadAhead) {
        read_ahead(&mut self.engine, &mut self.needs, &self.packs, self.model.as_deref(), &self.events, i, event, ahead);
    }

    /// The cases.
    pub fn cases(&self) -> &Casebook {
        &self.cases
    }

    /// What the judge knows of accounts, links and partners.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Applies one of the service's own records (in the store's order). Returns the link
    /// it locked, if any.
    pub fn apply(&mut self, r: &journal::Record) -> Option<String> {
        match r {
            journal::Record::Case(c) => {
                self.cases.apply(c);
            }
            journal::Record::Report { report, subject, at_us, .. } => {
                let owner = match (&subject.account, &subject.link) {
                    (Some(a), _) => Some(a.clone()),
                    (None, Some(l)) => self.registry.link(l).map(|l| l.bank.clone()),
                    (None, None) => None,
                };
                if let Some(AccountRef { institution, account }) = owner {
                    // The events it labels: those of a reported link, or the one reported.
                    let mut events: Vec<(String, String)> =
                        subject.link.as_deref().and_then(|l| self.registry.link(l)).map(|l| l.events.clone()).unwrap_or_default();
                    events.extend(subject.event.iter().filter(|e| !events.contains(e)).cloned().collect::<Vec<_>>());
                    events.retain(|(_, id)| !id.starts_with(journal::RESERVED_ID_PREFIX));
                    self.cases.reported(&institution, &format!("account {account}"), report, &events, mamori_core::Timestamp(*at_us));
                }
            }
            _ => {}
        }
        self.registry.apply(r)
    }

    /// Puts a model in use (or none): the next event is scored by it.
    pub fn set_model(&mut self, model: Option<Arc<Scorer>>) {
        self.model = model;
    }

    /// Whether held and blocked events open cases from now on (they do unless told
    /// otherwise). A judge replaying history for a sweep reports findings, not cases.
    pub fn open_cases(&mut self, open: bool) {
        self.opens_cases = open;
    }

    pub fn model(&self) -> Option<&Arc<Scorer>> {
        self.model.as_ref()
    }

    pub fn packs(&self) -> &Packs {
        &self.packs
    }

    /// Replaces the rules; the features must be the same (`features_id`).
    pub fn set_rules(&mut self, packs: Packs) {
        debug_assert_eq!(packs.features_id, self.packs.features_id);
        self.packs = packs;
        self.needs = FeatureNeeds { every: self.needs.every, ..FeatureNeeds::new(&self.events) };
    }

    /// Computes every feature for every event (`true`), not only those the rules and
    /// breakers read for its type (the default). Decisions and state are the same either
    /// way, which is what this is for: checking that they are.
    pub fn compute_every_feature(&mut self, every: bool) {
        self.needs.every = every;
    }

    /// Computes the features of `event` into `fv` and updates their state: those the
    /// rules and breakers read for its type, or all of them when a model scores it.
    fn features(&mut self, event: &Event) -> Outcome {
        compute(&mut self.engine, &mut self.needs, &self.packs, self.model.as_deref(), &self.events, event, &mut self.fv, None)
    }

    /// Adds `event` to the state and decides it. A tripped breaker holds the events it
    /// covers (its reason comes first); a decision that fires a breaker's rule trips it.
    pub fn judge(&mut self, event: &Event) -> Decision {
        self.cpp.observe(event, &mut self.compromise);
        self.decide(event)
    }

    /// A copy of the compromise analysis as it stands, to run ahead of this judge over the
    /// same events (on another thread: it depends on the events alone) and hand what it
    /// says of each to [`Judge::judge_observed`].
    pub fn compromise_analysis(&self) -> Cpp {
        self.cpp.clone()
    }

    /// As [`Judge::judge`], with `compromise` what the copy from
    /// [`Judge::compromise_analysis`] said of `event` (having taken in every event before
    /// it, in order), `None` where it said nothing ([`cpp::says_nothing`]), in place of
    /// this judge's own analysis, which is then left as it was: a judge is fed one way or
    /// the other for its life, and one fed this way keeps no compromised points for
    /// [`Judge::compromised`] or a snapshot.
    pub fn judge_observed(&mut self, event: &Event, compromise: Option<&[OwnedValue]>) -> Decision {
        self.observed(compromise);
        self.decide(event)
    }

    /// Takes what the compromise analysis run ahead said of the event being judged.
    fn observed(&mut self, compromise: Option<&[OwnedValue]>) {
        match compromise {
            Some(facts) => {
                self.compromise.0.clear();
                self.compromise.0.extend_from_slice(facts);
            }
            None => cpp::nothing_known(&mut self.compromise),
        }
    }

    /// As [`Judge::judge_observed`], with `features` what a [`FeatureStage`] of the same
    /// packs and model computed of `event` (having taken in every event before it, in
    /// order), in place of this judge's own feature state, which is then left as it was
    /// (empty: a judge is fed this way from its start, for its life). `features` is left
    /// holding the features of an earlier event, to be reused.
    pub fn judge_computed(&mut self, event: &Event, features: &mut FeatureVector, compromise: Option<&[OwnedValue]>) -> Decision {
        self.observed(compromise);
        std::mem::swap(&mut self.fv, features);
        self.decide_computed(event)
    }

    /// Adds `event` to the feature state and decides it, `self.compromise` being what the
    /// compromise analysis says of it.
    fn decide(&mut self, event: &Event) -> Decision {
        self.features(event);
        self.decide_computed(event)
    }

    /// Decides `event`, `self.fv` being its features and `self.compromise` what the
    /// compromise analysis says of it.
    fn decide_computed(&mut self, event: &Event) -> Decision {
        let rec = EventRecord::new(&self.events, event);
        let model = self.model.as_deref().filter(|m| m.applies(event.event_type().as_str()));
        let score = model.map(|m| m.score(&self.fv, &mut self.row));
        scorer::describe(score, &mut self.model_rec);
        let both = CompositeRecord { parts: [&rec as &dyn Record, &self.fv, &self.compromise, &self.model_rec] };
        let mut d = self.packs.rules.evaluate(&both);
        if let (Some(m), Some(score)) = (model, score) {
            d.model = Some(m.opinion(&self.row, score));
        }
        self.registry.assess(event, &mut d);
        if !self.packs.rules.breakers().is_empty() {
            let rules: Vec<&str> = d.reasons.iter().map(|r| r.rule.as_str()).collect();
            let (holds, trips) = breakers(&self.packs, &both, &self.tripped, &rules);
            for trip in holds {
                if d.action < Action::Hold {
                    d.action = Action::Hold;
                }
                let detail = format!(
                    "breaker {} tripped at {} by event {} (rule {}): held until an operator releases {}",
                    trip.breaker,
                    trip.at,
                    trip.event_id,
                    trip.rule,
                    trip.key.join(" ")
                );
                d.reasons.insert(0, Reason { rule: format!("breaker:{}", trip.breaker), score: 0, action: Action::Hold, detail });
            }
            self.trip(trips, event);
        }
        self.registry.settle(event, d.action);
        if self.opens_cases {
            let rules: Vec<&str> = d.reasons.iter().map(|r| r.rule.as_str()).collect();
            self.cases.observe(event, d.action, &rules);
        }
        d
    }

    /// Adds `event` to the state without deciding it (a replay), tripping the breakers
    /// that the rules named in its stored decision (`fired`) tripped when it was decided,
    /// and settling links as its decision (`action`) did. True when it came later than the
    /// lateness allows and so did not change the features.
    pub fn replay(&mut self, event: &Event, fired: &[&str], action: Action) -> bool {
        let late = self.features(event).late;
        let rec = EventRecord::new(&self.events, event);
        self.cpp.observe(event, &mut self.compromise);
        scorer::describe(None, &mut self.model_rec);
        let both = CompositeRecord { parts: [&rec as &dyn Record, &self.fv, &self.compromise, &self.model_rec] };
        let (_, trips) = breakers(&self.packs, &both, &self.tripped, fired);
        self.trip(trips, event);
        self.registry.settle(event, action);
        if self.opens_cases {
            self.cases.observe(event, action, fired);
        }
        late
    }

    fn trip(&mut self, trips: Vec<(String, Vec<String>, String)>, event: &Event) {
        for (breaker, key, rule) in trips {
            let trip = Trip {
                breaker: breaker.clone(),
                key: key.clone(),
                institution: event.institution.clone().unwrap_or_default(),
                event_id: event.id.clone(),
                rule,
                at: event.time.to_rfc3339(),
            };
            self.tripped.entry((breaker, key)).or_insert(trip);
        }
    }

    /// The state (tripped breakers, compromised points, features) as bytes, for
    /// [`Judge::restore`].
    pub fn snapshot(&self) -> Vec<u8> {
        let trips: Vec<&Trip> = self.tripped.values().collect();
        let trips = serde_json::to_vec(&trips).unwrap_or_default();
        let cpp = postcard::to_stdvec(&self.cpp).unwrap_or_default();
        let registry = postcard::to_stdvec(&self.registry).unwrap_or_default();
        let cases = postcard::to_stdvec(&self.cases).unwrap_or_default();
        let mut out = Vec::with_capacity(SNAPSHOT_MAGIC.len() + 32 + trips.len() + cpp.len() + registry.len() + cases.len());
        out.extend_from_slice(SNAPSHOT_MAGIC);
        for part in [&trips, &cpp, &registry, &cases] {
            out.extend_from_slice(&(part.len() as u64).to_le_bytes());
            out.extend_from_slice(part);
        }
        out.extend_from_slice(&self.engine.snapshot());
        out
    }

    /// A judge in the state of a [`Judge::snapshot`], for these packs. Refused (the caller
    /// then replays from the start) when the bytes are damaged or the features differ.
    pub fn restore(packs: Packs, events: Arc<EventSchema>, bytes: &[u8]) -> Result<Judge, String> {
        let rest = bytes.strip_prefix(SNAPSHOT_MAGIC).ok_or("not a mamori judge snapshot of this version")?;
        let (trips, rest) = length_prefixed(rest)?;
        let (cpp, rest) = length_prefixed(rest)?;
        let (registry, rest) = length_prefixed(rest)?;
        let (cases, engine) = length_prefixed(rest)?;
        let cases: Casebook = postcard::from_bytes(cases).map_err(|e| format!("cases: {e}"))?;
        let registry: Registry = postcard::from_bytes(registry).map_err(|e| format!("registry: {e}"))?;
        let trips: Vec<Trip> = serde_json::from_slice(trips).map_err(|e| format!("breakers: {e}"))?;
        let cpp: Cpp = postcard::from_bytes(cpp).map_err(|e| format!("compromised points: {e}"))?;
        let engine = Engine::restore(Arc::clone(&packs.features), engine).map_err(|e| e.to_string())?;
        let tripped = trips.into_iter().map(|t| ((t.breaker.clone(), t.key.clone()), t)).collect();
        Ok(Judge::with_state(packs, events, engine, cpp, tripped, registry, cases))
    }

    /// The merchants flagged as compromised points of purchase.
    pub fn compromised(&self) -> impl Iterator<Item = &cpp::Compromise> {
        self.cpp.compromised()
    }

    /// The breakers tripped now.
    pub fn tripped(&self) -> impl Iterator<Item = &Trip> {
        self.tripped.values()
    }

    /// Checks that `institution` may release `breaker` for `key`.
    pub fn check_release(&self, breaker: &str, key: &[String], institution: &str, reason: &str) -> Result<&Trip, ReleaseError> {
        if reason.trim().is_empty() {
            return Err(ReleaseError::NoReason);
        }
        let Some(trip) = self.tripped.get(&(breaker.to_string(), key.to_vec())) else {
            return Err(ReleaseError::NotTripped { breaker: breaker.into(), key: key.to_vec() });
        };
        if trip.institution != institution {
            return Err(ReleaseError::NotYours { breaker: breaker.into(), key: key.to_vec(), owner: trip.institution.clone() });
        }
        Ok(trip)
    }

    /// Applies a release (checked, or read back from the store).
    pub fn release(&mut self, r: &Release) -> Option<Trip> {
        self.tripped.remove(&(r.breaker.clone(), r.key.clone()))
    }
}

/// Splits a part written as its length (8 bytes, little-endian) and its bytes.
fn length_prefixed(bytes: &[u8]) -> Result<(&[u8], &[u8]), String> {
    let (len, rest) = bytes.split_at_checked(8).ok_or("truncated snapshot")?;
    let len = usize::try_from(u64::from_le_bytes(len.try_into().map_err(|_| "truncated snapshot")?)).map_err(|_| "bad length")?;
    Ok(rest.split_at_checked(len).ok_or("truncated snapshot")?)
}

/// What the pack's breakers make of one event: the trips that hold it, and the breakers
/// that the `fired` rules trip (breaker, key, rule).
#[allow(clippy::type_complexity)]
fn breakers(
    packs: &Packs,
    rec: &dyn Record,
    tripped: &BTreeMap<(String, Vec<String>), Trip>,
    fired: &[&str],
) -> (Vec<Trip>, Vec<(String, Vec<String>, String)>) {
    let mut holds = Vec::new();
    let mut trips = Vec::new();
    for b in packs.rules.breakers() {
        let Some(key) = b.key(rec) else { continue };
        match tripped.get(&(b.id.clone(), key.clone())) {
            Some(t) if b.holds(rec) => holds.push(t.clone()),
            Some(_) => {}
            None => {
                if let Some(rule) = fired.iter().find(|r| b.trips_on.iter().any(|t| t == *r)) {
                    trips.push((b.id.clone(), key, (*rule).to_string()));
                }
            }
        }
    }
    (holds, trips)
}
