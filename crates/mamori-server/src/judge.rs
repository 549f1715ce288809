//! Features and rules over one stream of events, with no storage: what the service runs
//! under its lock, what a replay rebuilds, what `mamori eval` measures.

use std::sync::Arc;

use mamori_core::event::{Event, EventRecord, EventSchema};
use mamori_core::{CompositeRecord, Record};
use mamori_features::{Engine, FeatureVector};
use mamori_rules::Decision;

use crate::packs::Packs;

/// The feature state of a stream and the packs that judge it.
pub struct Judge {
    packs: Packs,
    events: Arc<EventSchema>,
    engine: Engine<'static>,
    fv: FeatureVector,
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
        Judge { packs, events, engine, fv: FeatureVector::default() }
    }

    pub fn packs(&self) -> &Packs {
        &self.packs
    }

    /// Replaces the rules; the features must be the same (`features_id`).
    pub fn set_rules(&mut self, packs: Packs) {
        debug_assert_eq!(packs.features_id, self.packs.features_id);
        self.packs = packs;
    }

    /// Adds `event` to the state and decides it.
    pub fn judge(&mut self, event: &Event) -> Decision {
        let rec = EventRecord::new(&self.events, event);
        self.engine.process(&rec, event.time, &mut self.fv);
        let both = CompositeRecord { parts: [&rec as &dyn Record, &self.fv] };
        self.packs.rules.evaluate(&both)
    }

    /// Adds `event` to the state without deciding it (a replay). True when it came later
    /// than the lateness allows and so did not change the state.
    pub fn observe(&mut self, event: &Event) -> bool {
        let rec = EventRecord::new(&self.events, event);
        self.engine.process(&rec, event.time, &mut self.fv).late
    }
}
