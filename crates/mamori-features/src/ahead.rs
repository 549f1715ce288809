//! Asking ahead for an event's memory, without waiting for it: a thread about to read
//! (or write over) events made or last read on another core asks for each event's lines
//! some events before it gets to it, in steps, since each step finds its addresses through
//! what the step before brought: the event itself ([`event`]), then its strings and
//! attribute table ([`text`]), then its attributes' keys and values ([`attribute_text`]).
//! Nothing here changes anything but when memory answers.

use mamori_core::event::{Event, EventKind};
use serde_json::Value as Json;

use crate::window::prefetch;

/// The attributes asked for: the first few, where mapped columns put them.
const ATTRIBUTES: usize = 2;

/// Asks for the lines of the event itself that its features, keys and text are read
/// through: where its strings are (and a card payment's terminal), its attribute table,
/// and its amount, beside which lies its time.
pub fn event(e: &Event) {
    prefetch(&e.id);
    prefetch(&e.institution);
    prefetch(&e.customer);
    prefetch(&e.account);
    prefetch(&e.device);
    prefetch(&e.attributes);
    prefetch(&e.kind);
    prefetch(&e.amount);
    if let EventKind::CardPayment { terminal, .. } = &e.kind {
        prefetch(terminal);
    }
}

/// Asks for the text of an event's entities and the first entry of its attribute table
/// (the event's own lines asked for earlier, by [`event`]).
pub fn text(e: &Event) {
    for s in [&e.institution, &e.customer, &e.account, &e.device].into_iter().flatten() {
        first_byte(s);
    }
    if let Some((k, _)) = e.attributes.iter().next() {
        prefetch(k);
    }
    match &e.kind {
        EventKind::CardPayment { terminal: Some(t), merchant, .. } => {
            first_byte(t);
            first_byte(merchant);
        }
        EventKind::Charge { link } | EventKind::LinkVerified { link } | EventKind::LinkRevoked { link } => first_byte(link),
        _ => {}
    }
}

/// Asks for the keys and values of an event's first attributes (their entries asked for
/// earlier, by [`text`]).
pub fn attribute_text(e: &Event) {
    for (k, v) in e.attributes.iter().take(ATTRIBUTES) {
        first_byte(k);
        match v {
            Json::Number(n) => first_byte(n.as_str()),
            Json::String(s) => first_byte(s),
            _ => {}
        }
    }
}

/// Asks for the line a string's text starts on.
pub fn first_byte(s: &str) {
    if let Some(b) = s.as_bytes().first() {
        prefetch(b);
    }
}
