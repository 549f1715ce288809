//! Reading and validating events from JSON. Every check records its problem and goes
//! on, so that one answer lists everything wrong with an event.

use std::fmt;
use std::net::IpAddr;

use rust_decimal::Decimal;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::map::Entry;
use serde_json::{Map, Number, Value as Json};

use super::{
    COMMON_FIELDS, Credential, CryptoWallet, Direction, Event, EventErrors, EventKind, EventType, FieldError, HOLDER_FIELDS, Holder, Ip,
    KanaName, Kyc, LinkAuth, LoginMethod, Ref, ReportSource, Side, WalletTier, escape_pointer_token,
};
use crate::amount::{self, AmountError, DEFAULT_CURRENCY, currency_info, decimal_from_json, json_type_name};
use crate::secret::Secret;
use crate::time::Timestamp;

/// Longest event id, in characters.
pub const MAX_ID_CHARS: usize = 128;

// ---------------------------------------------------------------------------------
// JSON text to a value, refusing duplicate keys.

/// The key under which serde_json (with `arbitrary_precision`) hands a number's text
/// to a visitor. If serde_json ever changes it, numbers would read as objects and the
/// number tests fail loudly.
const NUMBER_TOKEN: &str = "$serde_json::private::Number";

/// Parses JSON like `serde_json::from_slice::<Value>`, but an object with the same key
/// twice is an error.
pub(super) fn strict_json(bytes: &[u8]) -> Result<Json, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let v = Strict::deserialize(&mut de)?;
    de.end()?;
    Ok(v.0)
}

struct Strict(Json);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
        Ok(Json::Number(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Json, E> {
        Ok(Number::from_f64(v).map_or(Json::Null, Json::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Json, E> {
        Ok(Json::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Json, E> {
        Ok(Json::String(v))
    }
    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_none<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Json, D::Error> {
        Strict::deserialize(d).map(|s| s.0)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut v = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(Strict(x)) = seq.next_element()? {
            v.push(x);
        }
        Ok(Json::Array(v))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let Some(first) = map.next_key::<String>()? else {
            return Ok(Json::Object(Map::new()));
        };
        if first == NUMBER_TOKEN {
            let text: String = map.next_value()?;
            return serde_json::from_str::<Number>(&text).map(Json::Number).map_err(de::Error::custom);
        }
        let mut m = Map::new();
        let Strict(v) = map.next_value()?;
        m.insert(first, v);
        while let Some(k) = map.next_key::<String>()? {
            match m.entry(k) {
                Entry::Vacant(slot) => {
                    let Strict(v) = map.next_value()?;
                    slot.insert(v);
                }
                Entry::Occupied(o) => return Err(de::Error::custom(format_args!("duplicate key {:?} in an object", o.key()))),
            }
        }
        Ok(Json::Object(m))
    }
}

// ---------------------------------------------------------------------------------
// Validation.
//
// The top-level object is read in one pass into slots (no hashing per field); nested
// objects are small and scanned. Problems are recorded and the checks go on.

macro_rules! top_keys {
    ($($var:ident = $s:literal),+ $(,)?) => {
        /// Every top-level field of any event type; the common ones first.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[repr(u8)]
        enum K { $($var),+ }
        const K_ALL: &[K] = &[$(K::$var),+];
        const K_COUNT: usize = K_ALL.len();
        fn key_of(s: &str) -> Option<K> {
            match s {
                $($s => Some(K::$var),)+
                _ => None,
            }
        }
        impl K {
            fn name(self) -> &'static str {
                match self {
                    $(K::$var => $s),+
                }
            }
        }
    };
}

top_keys! {
    Id = "id", Type = "type", Time = "time", Institution = "institution", Customer = "customer", Account = "account",
    Amount = "amount", Currency = "currency", Device = "device", Ip = "ip", Attributes = "attributes",
    Kyc = "kyc", Holder = "holder", Success = "success", Method = "method", What = "what", Link = "link", Bank = "bank",
    Wallet = "wallet", Auth = "auth", Payee = "payee", Direction = "direction", Counterparty = "counterparty", Side = "side",
    Instrument = "instrument", Quantity = "quantity", Asset = "asset", ToAddress = "to_address", Hot = "hot", Cold = "cold",
    CustomerTotal = "customer_total", Card = "card", Merchant = "merchant", Terminal = "terminal", Events = "events", Source = "source",
}

impl K {
    fn is_common(self) -> bool {
        (self as u8) <= K::Attributes as u8
    }
}

/// Where a value sits: a JSON Pointer built only when there is a problem.
#[derive(Clone, Copy)]
struct At<'a> {
    base: &'a str,
    key: &'a str,
}

impl At<'_> {
    fn top(key: &str) -> At<'_> {
        At { base: "", key }
    }
    fn pointer(self) -> String {
        let mut p = String::with_capacity(self.base.len() + self.key.len() + 1);
        p.push_str(self.base);
        p.push('/');
        p.push_str(&escape_pointer_token(self.key));
        p
    }
}

/// Whether a field must be present, and what to say when it is not.
#[derive(Clone, Copy)]
enum Need {
    Optional,
    /// Required by the event's type: "required for {type} events" and a hint.
    ByType,
    /// Required, with this reason when missing.
    Because(&'static str),
}

/// What to add to "required for {type} events" for some fields.
fn required_hint(key: &str) -> &'static str {
    match key {
        "account" => ": the institution's id of the account acting in the event",
        "amount" => ": a decimal string such as \"100000\" or a number, > 0",
        "quantity" | "hot" | "cold" | "customer_total" => ": a decimal string or a number",
        _ => "",
    }
}

struct Ctx {
    errors: Vec<FieldError>,
    ty: Option<EventType>,
    /// With fields the caller owns ([`event_from_fields`]): the top-level strings left
    /// empty in the event, one bit per key, for the caller to move in ([`place`]) rather
    /// than copy. `None`: every string is copied.
    moved: Option<u64>,
}

/// A small object's field by linear scan (a hash lookup costs more for a handful of keys).
fn sub<'v>(o: &'v Map<String, Json>, key: &str) -> Option<&'v Json> {
    if o.len() <= 8 { o.iter().find_map(|(k, v)| (k == key).then_some(v)) } else { o.get(key) }
}

impl Ctx {
    fn err(&mut self, pointer: String, reason: impl Into<String>) {
        self.errors.push(FieldError { pointer, reason: reason.into() });
    }

    fn type_err(&mut self, at: At<'_>, expected: &str, got: &Json) {
        self.err(at.pointer(), format!("expected {expected}, got {}", json_type_name(got)));
    }

    /// The need of a top-level field of the event's type.
    fn need(&self, k: K) -> Need {
        match self.ty {
            Some(t) if t.required().contains(&k.name()) => Need::ByType,
            _ => Need::Optional,
        }
    }

    /// The value, or `None` when absent or `null` (reported when required).
    fn present<'v>(&mut self, v: Option<&'v Json>, at: At<'_>, need: Need) -> Option<&'v Json> {
        match v {
            Some(Json::Null) | None => {
                match need {
                    Need::Optional => {}
                    Need::Because(reason) => self.err(at.pointer(), reason),
                    Need::ByType => {
                        let t = self.ty.map_or("these", EventType::as_str);
                        self.err(at.pointer(), format!("required for {t} events{}", required_hint(at.key)));
                    }
                }
                None
            }
            Some(v) => Some(v),
        }
    }

    /// A non-empty string.
    fn string<'v>(&mut self, v: Option<&'v Json>, at: At<'_>, need: Need) -> Option<&'v str> {
        match self.present(v, at, need)? {
            Json::String(s) if s.is_empty() => {
                self.err(at.pointer(), "must not be empty (leave the field out instead)");
                None
            }
            Json::String(s) => Some(s),
            other => {
                self.type_err(at, "a string", other);
                None
            }
        }
    }

    fn owned(&mut self, v: Option<&Json>, at: At<'_>, need: Need) -> Option<String> {
        self.string(v, at, need).map(str::to_owned)
    }

    /// A top-level string field, owned: see [`Ctx::take`].
    fn top_owned(&mut self, top: &Top<'_>, k: K, need: Need) -> Option<String> {
        let s = self.string(top.get(k), At::top(k.name()), need)?;
        Some(self.take(k, s))
    }

    /// The checked text `s` of the top-level field `k`, owned: a copy, or an empty string
    /// marked for the caller to replace by the field's own string ([`Ctx::moved`]).
    fn take(&mut self, k: K, s: &str) -> String {
        match &mut self.moved {
            Some(bits) => {
                *bits |= 1 << k as u32;
                String::new()
            }
            None => s.to_owned(),
        }
    }

    fn secret(&mut self, v: Option<&Json>, at: At<'_>, need: Need) -> Option<Secret<String>> {
        self.owned(v, at, need).map(Secret::new)
    }

    fn boolean(&mut self, v: Option<&Json>, at: At<'_>, need: Need) -> Option<bool> {
        match self.present(v, at, need)? {
            Json::Bool(b) => Some(*b),
            other => {
                self.type_err(at, "true or false", other);
                None
            }
        }
    }

    /// A value of a closed vocabulary.
    fn vocab<T>(&mut self, v: Option<&Json>, at: At<'_>, need: Need, parse: fn(&str) -> Option<T>, expected: fn() -> String) -> Option<T> {
        let v = self.present(v, at, need)?;
        let Json::String(s) = v else {
            let reason = format!("expected one of {}, got {}", expected(), json_type_name(v));
            self.err(at.pointer(), reason);
            return None;
        };
        let r = parse(s);
        if r.is_none() {
            self.err(at.pointer(), format!("expected one of {}, got {:?}", expected(), truncate(s, 40)));
        }
        r
    }

    fn object<'v>(&mut self, v: Option<&'v Json>, at: At<'_>, need: Need) -> Option<&'v Map<String, Json>> {
        match self.present(v, at, need)? {
            Json::Object(o) => Some(o),
            other => {
                self.type_err(at, "an object", other);
                None
            }
        }
    }

    /// Reports keys of a nested object that are not in `allowed`.
    fn no_unknown(&mut self, obj: &Map<String, Json>, base: &str, allowed: &[&str], what: &str) {
        for k in obj.keys() {
            if !allowed.contains(&k.as_str()) {
                self.err(At { base, key: k }.pointer(), format!("unknown field of {what} (expected {})", allowed.join(", ")));
            }
        }
    }

    /// A ref: `{"institution": "...", "account": "..."}`.
    fn reference(&mut self, v: Option<&Json>, base: &str, need: Need) -> Option<Ref> {
        let o = self.object(v, At { base: "", key: &base[1..] }, need)?;
        const WHY: Need = Need::Because("required: a ref names the institution and its account id");
        self.no_unknown(o, base, &["institution", "account"], "a ref");
        let institution = self.owned(sub(o, "institution"), At { base, key: "institution" }, WHY);
        let account = self.owned(sub(o, "account"), At { base, key: "account" }, WHY);
        Some(Ref { institution: institution?, account: account? })
    }

    fn holder(&mut self, v: Option<&Json>) -> Option<Holder> {
        let o = self.object(v, At::top("holder"), Need::Optional)?;
        let base = "/holder";
        self.no_unknown(o, base, HOLDER_FIELDS, "a holder");
        let at = |key| At { base, key };
        let name_kana = self.string(sub(o, "name_kana"), at("name_kana"), Need::Optional).and_then(|s| {
            let k = KanaName::new(s);
            if k.expose_key().is_empty() {
                self.err(at("name_kana").pointer(), "has no letters");
                None
            } else {
                Some(k)
            }
        });
        let name = self.secret(sub(o, "name"), at("name"), Need::Optional);
        let birth_date = self.string(sub(o, "birth_date"), at("birth_date"), Need::Optional).and_then(|s| {
            if valid_date(s) {
                Some(Secret::new(s.to_owned()))
            } else {
                self.err(at("birth_date").pointer(), "expected a date YYYY-MM-DD such as 1950-04-01");
                None
            }
        });
        let phone = self.secret(sub(o, "phone"), at("phone"), Need::Optional);
        let email = self.secret(sub(o, "email"), at("email"), Need::Optional);
        Some(Holder { name_kana, name, birth_date, phone, email })
    }

    /// The event's time: required, RFC 3339 with an offset.
    fn time(&mut self, v: Option<&Json>) -> Option<Timestamp> {
        match self.present(v, At::top("time"), Need::Because("required: when it happened, RFC 3339 with an offset")) {
            None => None,
            Some(Json::String(s)) => match Timestamp::parse_rfc3339(s) {
                Ok(t) => Some(t),
                Err(e) => {
                    self.err("/time".into(), e.to_string());
                    None
                }
            },
            Some(other) => {
                self.type_err(At::top("time"), "an RFC 3339 timestamp string such as 2026-11-21T10:00:00+09:00", other);
                None
            }
        }
    }

    /// An exact decimal: > 0, or ≥ 0 with `zero_ok`; no more places than `unit` allows.
    fn decimal(&mut self, v: Option<&Json>, at: At<'_>, need: Need, zero_ok: bool, unit: Option<(&str, u32)>) -> Option<Decimal> {
        let v = self.present(v, at, need)?;
        let d = match decimal_from_json(v) {
            Ok(d) => d,
            Err(e) => {
                self.err(at.pointer(), e.to_string());
                return None;
            }
        };
        self.decimal_in_range(d, at, zero_ok, unit)
    }

    /// [`Ctx::decimal`]'s checks of a decimal already read.
    fn decimal_in_range(&mut self, d: Decimal, at: At<'_>, zero_ok: bool, unit: Option<(&str, u32)>) -> Option<Decimal> {
        let check = if zero_ok {
            if d < Decimal::ZERO { Err(AmountError::Negative) } else { Ok(()) }
        } else if d <= Decimal::ZERO {
            Err(AmountError::NotPositive)
        } else {
            Ok(())
        };
        match check.and_then(|()| unit.map_or(Ok(()), |(code, places)| amount::check_places(d, code, places))) {
            Ok(()) => Some(d),
            Err(e) => {
                self.err(at.pointer(), e.to_string());
                None
            }
        }
    }

    /// A currency code or ticker, with its decimal places when it is valid.
    fn currency_code<'v>(&mut self, v: Option<&'v Json>, at: At<'_>, need: Need) -> Option<(&'v str, Option<u32>)> {
        let s = self.string(v, at, need)?;
        match currency_info(s) {
            Ok(info) => Some((s, Some(info.decimals))),
            Err(e) => {
                self.err(at.pointer(), e.to_string());
                Some((s, None))
            }
        }
    }

    /// An event id: a string of 1..128 characters.
    fn event_id<'v>(&mut self, v: &'v Json, pointer: impl FnOnce() -> String) -> Option<&'v str> {
        match v {
            Json::String(s) => {
                // At most 128 bytes are at most 128 characters: counted only when longer.
                let n = if s.len() <= MAX_ID_CHARS { s.len() } else { s.chars().count() };
                if n == 0 || n > MAX_ID_CHARS {
                    self.err(pointer(), format!("must be 1 to {MAX_ID_CHARS} characters long (got {n})"));
                    None
                } else {
                    Some(s)
                }
            }
            other => {
                self.err(pointer(), format!("expected a string, got {}", json_type_name(other)));
                None
            }
        }
    }
}

fn truncate(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

/// `YYYY-MM-DD`, a real calendar date.
fn valid_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i32> {
        b[r].iter().try_fold(0i32, |acc, &c| c.is_ascii_digit().then(|| acc * 10 + i32::from(c - b'0')))
    };
    let (Some(y), Some(m), Some(d)) = (num(0..4), num(5..7), num(8..10)) else { return false };
    jiff::civil::Date::new(y as i16, m as i8, d as i8).is_ok()
}

/// Whether a string looks like a payment card number (13 to 19 digits, spaces or dashes
/// allowed, passing the Luhn check): the contract carries card tokens only.
fn looks_like_pan(s: &str) -> bool {
    let mut digits = [0u32; 19];
    let mut n = 0;
    for c in s.chars() {
        match c {
            '0'..='9' => {
                if n == digits.len() {
                    return false;
                }
                digits[n] = c as u32 - '0' as u32;
                n += 1;
            }
            ' ' | '-' => {}
            _ => return false,
        }
    }
    if n < 13 {
        return false;
    }
    let sum: u32 = digits[..n]
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Which event types have `field` as one of their own fields.
fn types_with_field(field: &str) -> Vec<&'static str> {
    EventType::ALL.iter().filter(|t| t.extra_fields().contains(&field)).map(|t| t.as_str()).collect()
}

fn unknown_field_reason(key: &str, ty: Option<EventType>) -> String {
    const HINT: &str = "extra data belongs in attributes";
    let owners = types_with_field(key);
    if let (Some(ty), false) = (ty, owners.is_empty()) {
        return format!("not a field of {ty} events (it belongs to {}); {HINT}", owners.join(", "));
    }
    let candidates: Vec<&str> = match ty {
        Some(ty) => COMMON_FIELDS.iter().chain(ty.extra_fields()).copied().collect(),
        None => COMMON_FIELDS.iter().copied().chain(EventType::ALL.iter().flat_map(|t| t.extra_fields().iter().copied())).collect(),
    };
    match crate::record::closest(key, candidates.into_iter()) {
        Some(s) => format!("unknown field (did you mean {s:?}?); {HINT}"),
        None => format!("unknown field; {HINT}"),
    }
}

/// The top-level fields, read in one pass.
struct Top<'v> {
    slots: [Option<&'v Json>; K_COUNT],
    /// `time`, `amount` and `type` already typed (then their slots are empty).
    time: Option<Timestamp>,
    amount: Option<Decimal>,
    ty: Option<EventType>,
}

impl<'v> Top<'v> {
    fn get(&self, k: K) -> Option<&'v Json> {
        self.slots[k as usize]
    }
}

pub(super) fn event_from_json(value: &Json) -> Result<Event, EventErrors> {
    let Json::Object(obj) = value else {
        return Err(EventErrors::one("", format!("an event is a JSON object, got {}", json_type_name(value))));
    };
    let mut top = Top { slots: [None; K_COUNT], time: None, amount: None, ty: None };
    let mut unknown = false;
    for (k, v) in obj {
        match key_of(k) {
            Some(key) => top.slots[key as usize] = Some(v),
            None => unknown = true,
        }
    }
    let unknown_keys = obj.keys().filter(|_| unknown).filter(|k| key_of(k).is_none());
    let (mut ev, _) = checked(&top, unknown_keys.map(String::as_str), None)?;
    if let Some(Json::Object(a)) = obj.get("attributes") {
        ev.attributes = a.clone();
    }
    Ok(ev)
}

/// An event's top-level fields, set one by one without a JSON object around them, for
/// readers that build events column by column (CSV, Parquet). [`Event::from_fields`]
/// checks them exactly as [`Event::from_json_value`] checks an object with the same
/// fields, and moves the attributes instead of copying them.
// Each field's place in `EventFields::known` fits in a `u8`.
const _: () = assert!(K_COUNT < 256);

#[derive(Debug, Clone)]
pub struct EventFields {
    /// The fields events have (a handful: a list is smaller to move than a slot for every
    /// possible field), found through `at`.
    known: Vec<(K, Json)>,
    /// Each field's place in `known`, plus one (0: not set).
    at: [u8; K_COUNT],
    /// Fields no event type has, in the order they were set: each is reported.
    unknown: Map<String, Json>,
    /// `time` and `amount` when a reader had them typed already (a Parquet timestamp or
    /// decimal, a local time it placed): checked as the text they would be written as,
    /// without writing and reading that text.
    time: Option<Timestamp>,
    amount: Option<Decimal>,
    /// `type`, when a reader knows it already (a constant of its mapping).
    ty: Option<EventType>,
}

impl Default for EventFields {
    fn default() -> EventFields {
        EventFields::with_capacity(0)
    }
}

impl EventFields {
    pub fn new() -> EventFields {
        EventFields::default()
    }

    /// Room for `n` fields.
    pub fn with_capacity(n: usize) -> EventFields {
        EventFields { known: Vec::with_capacity(n), at: [0; K_COUNT], unknown: Map::new(), time: None, amount: None, ty: None }
    }

    /// Unsets the field `k`.
    fn remove(&mut self, k: K) {
        let i = std::mem::take(&mut self.at[k as usize]);
        if i != 0 {
            self.known.swap_remove(usize::from(i) - 1);
            if let Some((moved, _)) = self.known.get(usize::from(i) - 1) {
                self.at[*moved as usize] = i;
            }
        }
    }

    /// Sets `time`, replacing what it held: the same event as the RFC 3339 text of `t`.
    pub fn insert_time(&mut self, t: Timestamp) {
        self.remove(K::Time);
        self.time = Some(t);
    }

    /// Sets `amount`, replacing what it held: the same event, and the same problems, as
    /// the plain decimal text of `d`.
    pub fn insert_amount(&mut self, d: Decimal) {
        self.remove(K::Amount);
        self.amount = Some(d);
    }

    /// Sets `type`, replacing what it held: the same event as its wire string.
    pub fn insert_type(&mut self, t: EventType) {
        self.remove(K::Type);
        self.ty = Some(t);
    }

    /// Sets the top-level field `name`, replacing what it held.
    pub fn insert(&mut self, name: &str, value: Json) {
        match key_of(name) {
            Some(k) => self.insert_field(FieldKey(k), value),
            None => {
                self.unknown.insert(name.to_string(), value);
            }
        }
    }

    /// Sets a field some event type has, found once by [`FieldKey::of`]: as
    /// [`EventFields::insert`] with its name.
    pub fn insert_field(&mut self, FieldKey(k): FieldKey, value: Json) {
        match k {
            K::Time => self.time = None,
            K::Amount => self.amount = None,
            K::Type => self.ty = None,
            _ => {}
        }
        match self.at[k as usize] {
            0 => {
                self.known.push((k, value));
                // At most one entry a field, so at most `K_COUNT`.
                self.at[k as usize] = self.known.len() as u8;
            }
            i => self.known[usize::from(i) - 1].1 = value,
        }
    }

    /// The top-level field `name`, when set.
    pub fn get_mut(&mut self, name: &str) -> Option<&mut Json> {
        match key_of(name) {
            Some(k) => self.get_field_mut(FieldKey(k)),
            None => self.unknown.get_mut(name),
        }
    }

    /// A field some event type has, when set: as [`EventFields::get_mut`] with its name.
    pub fn get_field_mut(&mut self, FieldKey(k): FieldKey) -> Option<&mut Json> {
        match self.at[k as usize] {
            0 => None,
            i => Some(&mut self.known[usize::from(i) - 1].1),
        }
    }
}

/// A top-level field that some event type has, named once, for readers that set the same
/// fields record after record without matching their names each time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldKey(K);

impl FieldKey {
    /// The field called `name`, when some event type has it.
    pub fn of(name: &str) -> Option<FieldKey> {
        key_of(name).map(FieldKey)
    }
}

pub(super) fn event_from_fields(fields: EventFields) -> Result<Event, EventErrors> {
    let mut top = Top { slots: [None; K_COUNT], time: fields.time, amount: fields.amount, ty: fields.ty };
    for (k, v) in &fields.known {
        top.slots[*k as usize] = Some(v);
    }
    // The fields are ours: their strings are moved into the event, not copied.
    let (mut ev, moved) = checked(&top, fields.unknown.keys().map(String::as_str), Some(0))?;
    for (k, v) in fields.known {
        match v {
            Json::Object(a) if k == K::Attributes => ev.attributes = a,
            Json::String(s) if moved & (1 << k as u32) != 0 => place(&mut ev, k, s),
            _ => {}
        }
    }
    Ok(ev)
}

/// What a reader has for one field of a record: JSON as an event carries it, or a time,
/// decimal or type it has read already (set with [`EventFields::insert_time`] and its kin).
#[derive(Debug, Clone, PartialEq)]
pub enum Given {
    Json(Json),
    Time(Timestamp),
    Decimal(Decimal),
    Type(EventType),
}

impl Given {
    /// As JSON, for a field that does not take it typed: the text an event would carry.
    pub fn into_json(self) -> Json {
        match self {
            Given::Json(v) => v,
            Given::Time(t) => Json::String(t.to_rfc3339()),
            Given::Decimal(d) => Json::String(d.normalize().to_string()),
            Given::Type(t) => Json::String(t.as_str().to_string()),
        }
    }
}

/// Events made record after record from the same constant fields and a few fields of each
/// record's own (a mapped file's columns). The constants are checked once, as part of a
/// whole event; each record's own fields get the checks [`Event::from_fields`] gives them,
/// and the event is a copy of the checked one with those fields put in. A record it does
/// not take (a field missing or of another kind, or one that fails its check) is left as
/// it was, for `from_fields` to read and to report in its words.
#[derive(Debug, Clone)]
pub struct Stamp {
    /// The event of the constants, its own fields emptied.
    base: Event,
    /// What each of a record's fields is, in order.
    slots: Vec<Slot>,
    /// The amount's currency and how many places it allows.
    places: (String, u32),
}

#[derive(Debug, Clone, PartialEq)]
enum Slot {
    Id,
    Time,
    Amount,
    Card,
    /// A plain string field.
    Text(K),
    /// `attributes.NAME`.
    Attribute(String),
}

impl Stamp {
    /// A stamp for events with the fields `constants` sets and, from each record, the
    /// fields at `varying` (dotted paths, in the order records give them). `None` where
    /// such events are not made this way: a record field other than the id, time, amount,
    /// a plain string field or a top-level attribute; a field given twice, or by the
    /// constants too; a crypto event (its amount's unit is its asset); or constants that
    /// do not make a valid event.
    pub fn new(constants: &EventFields, varying: &[&str]) -> Option<Stamp> {
        let mut fields = constants.clone();
        let mut slots: Vec<Slot> = Vec::with_capacity(varying.len());
        for path in varying {
            let slot = match path.split_once('.') {
                Some(("attributes", name)) if !name.contains('.') => Slot::Attribute(name.to_string()),
                Some(_) => return None,
                None => match key_of(path)? {
                    K::Id => Slot::Id,
                    K::Time => Slot::Time,
                    K::Amount => Slot::Amount,
                    K::Card => Slot::Card,
                    k @ (K::Institution | K::Customer | K::Account | K::Device | K::Link | K::Merchant | K::Terminal | K::Instrument) => {
                        Slot::Text(k)
                    }
                    _ => return None,
                },
            };
            if slots.contains(&slot) {
                return None;
            }
            slots.push(slot);
        }
        // A placeholder for each record field, none of them set by the constants.
        for slot in &slots {
            let (k, v) = match slot {
                Slot::Id => (K::Id, Json::String("stamp".into())),
                Slot::Card => (K::Card, Json::String("card".into())),
                Slot::Text(k) => (*k, Json::String("text".into())),
                Slot::Time | Slot::Amount | Slot::Attribute(_) => continue,
            };
            if fields.at[k as usize] != 0 {
                return None;
            }
            fields.insert_field(FieldKey(k), v);
        }
        if slots.contains(&Slot::Time) {
            if fields.time.is_some() || fields.at[K::Time as usize] != 0 {
                return None;
            }
            fields.insert_time(Timestamp(0));
        }
        if slots.contains(&Slot::Amount) {
            if fields.amount.is_some() || fields.at[K::Amount as usize] != 0 {
                return None;
            }
            fields.insert_amount(Decimal::ONE);
        }
        for slot in &slots {
            let Slot::Attribute(name) = slot else { continue };
            if fields.get_field_mut(FieldKey(K::Attributes)).is_none() {
                fields.insert_field(FieldKey(K::Attributes), Json::Object(Map::new()));
            }
            match fields.get_field_mut(FieldKey(K::Attributes)) {
                Some(Json::Object(m)) if !m.contains_key(name.as_str()) => {
                    m.insert(name.clone(), Json::Null);
                }
                _ => return None,
            }
        }
        let mut base = event_from_fields(fields).ok()?;
        if matches!(base.kind, EventKind::CryptoWithdrawal { .. } | EventKind::WalletBalance { .. }) {
            return None;
        }
        // As the checks read it: the currency, or JPY when there is none.
        let places = (base.currency.clone(), currency_info(&base.currency).ok()?.decimals);
        for slot in &slots {
            match slot {
                Slot::Id => base.id = String::new(),
                Slot::Card => place(&mut base, K::Card, String::new()),
                Slot::Text(k) => place(&mut base, *k, String::new()),
                Slot::Time | Slot::Amount | Slot::Attribute(_) => {}
            }
        }
        Some(Stamp { base, slots, places })
    }

    /// The event of a record whose fields are `values` (one for each of the stamp's, in
    /// order), moved out of them; `None`, with `values` untouched, when the record is not
    /// one the stamp takes.
    pub fn make(&self, values: &mut [Option<Given>]) -> Option<Event> {
        let time_text = self.check(values)?;
        let mut ev = self.base.clone();
        self.fill(values, time_text, &mut ev);
        Some(ev)
    }

    /// [`Stamp::make`], boxed, written over `spare` when one is given (an event done with,
    /// whose room is reused: see [`Event`]'s `clone_from`). The event made is the same.
    pub fn make_into(&self, values: &mut [Option<Given>], spare: Option<Box<Event>>) -> Option<Box<Event>> {
        let time_text = self.check(values)?;
        let mut ev = match spare {
            Some(mut ev) => {
                (*ev).clone_from(&self.base);
                ev
            }
            None => Box::new(self.base.clone()),
        };
        self.fill(values, time_text, &mut ev);
        Some(ev)
    }

    /// Whether every value is of its slot's kind and passes its checks; the time read from
    /// its text when given as text (`Some(None)` when not).
    fn check(&self, values: &[Option<Given>]) -> Option<Option<Timestamp>> {
        if values.len() != self.slots.len() {
            return None;
        }
        let (unit, places) = (&self.places.0, self.places.1);
        // A time given as its RFC 3339 text, read as the checks read it.
        let mut time_text = None;
        for (slot, v) in self.slots.iter().zip(values.iter()) {
            let taken = match (slot, v) {
                (Slot::Time, Some(Given::Json(Json::String(s)))) => {
                    time_text = Timestamp::parse_rfc3339(s).ok();
                    time_text.is_some()
                }
                (Slot::Id, Some(Given::Json(Json::String(s)))) => {
                    // At most 128 bytes are at most 128 characters: counted only when longer.
                    let n = if s.len() <= MAX_ID_CHARS { s.len() } else { s.chars().count() };
                    (1..=MAX_ID_CHARS).contains(&n)
                }
                (Slot::Time, Some(Given::Time(_))) => true,
                (Slot::Amount, Some(Given::Decimal(d))) => {
                    let d = d.normalize();
                    d > Decimal::ZERO && amount::check_places(d, unit, places).is_ok()
                }
                (Slot::Card, Some(Given::Json(Json::String(s)))) => !s.is_empty() && !looks_like_pan(s),
                (Slot::Text(_), Some(Given::Json(Json::String(s)))) => !s.is_empty(),
                (Slot::Attribute(_), Some(_)) => true,
                _ => false,
            };
            if !taken {
                return None;
            }
        }
        Some(time_text)
    }

    /// Writes the values into `ev`, a copy of the base (after [`Stamp::check`]).
    fn fill(&self, values: &mut [Option<Given>], time_text: Option<Timestamp>, ev: &mut Event) {
        for (slot, v) in self.slots.iter().zip(values.iter_mut()) {
            match (slot, v.take()) {
                (Slot::Time, Some(Given::Time(t))) => ev.time = t,
                (Slot::Time, Some(Given::Json(_))) => {
                    if let Some(t) = time_text {
                        ev.time = t;
                    }
                }
                (Slot::Amount, Some(Given::Decimal(d))) => ev.amount = Some(d.normalize()),
                (Slot::Id, Some(Given::Json(Json::String(s)))) => ev.id = s,
                (Slot::Card, Some(Given::Json(Json::String(s)))) => place(ev, K::Card, s),
                (Slot::Text(k), Some(Given::Json(Json::String(s)))) => place(ev, *k, s),
                (Slot::Attribute(name), Some(g)) => {
                    if let Some(a) = ev.attributes.get_mut(name.as_str()) {
                        *a = g.into_json();
                    }
                }
                // Checked: every record field is of its slot's kind.
                _ => {}
            }
        }
    }
}

/// Puts the string of the top-level field `k` where the checks left it empty ([`Ctx::take`]).
fn place(ev: &mut Event, k: K, s: String) {
    match (k, &mut ev.kind) {
        (K::Id, _) => ev.id = s,
        (K::Institution, _) => ev.institution = Some(s),
        (K::Customer, _) => ev.customer = Some(s),
        (K::Account, _) => ev.account = Some(s),
        (K::Device, _) => ev.device = Some(s),
        (K::Currency, _) => ev.currency = s,
        (
            K::Link,
            EventKind::LinkRequested { link, .. }
            | EventKind::LinkVerified { link }
            | EventKind::LinkRevoked { link }
            | EventKind::Charge { link },
        ) => *link = s,
        (K::Instrument, EventKind::Trade { instrument, .. }) => *instrument = s,
        (K::Card, EventKind::CardPayment { card, .. }) => *card = Secret::new(s),
        (K::Merchant, EventKind::CardPayment { merchant, .. }) => *merchant = s,
        (K::Terminal, EventKind::CardPayment { terminal: Some(t), .. }) => *t = s,
        // The checks take no other field (`from_fields` is tested to equal `from_json_value`
        // on every event type).
        _ => {}
    }
}

/// The event the top-level fields make (without its attributes), or every problem with
/// them. `unknown`: the fields no event type has.
fn checked<'k>(top: &Top<'_>, unknown: impl Iterator<Item = &'k str>, moved: Option<u64>) -> Result<(Event, u64), EventErrors> {
    let mut cx = Ctx { errors: Vec::new(), ty: None, moved };
    match validate(&mut cx, top, unknown) {
        Some(ev) if cx.errors.is_empty() => Ok((ev, cx.moved.unwrap_or(0))),
        _ => {
            if cx.errors.is_empty() {
                cx.err(String::new(), "invalid event");
            }
            Err(EventErrors { errors: cx.errors })
        }
    }
}

/// Checks every field; returns the event (without attributes) when nothing is missing.
fn validate<'k>(cx: &mut Ctx, top: &Top<'_>, unknown: impl Iterator<Item = &'k str>) -> Option<Event> {
    // Common fields.
    let id = match top.get(K::Id) {
        None | Some(Json::Null) => {
            cx.err("/id".into(), "required: the event's id, unique per institution");
            None
        }
        Some(v) => cx.event_id(v, || "/id".into()).map(|s| cx.take(K::Id, s)),
    };
    let ty = match top.ty {
        Some(t) => Some(t),
        None => match cx.present(top.get(K::Type), At::top("type"), Need::Because("required: one of the event types")) {
            None => None,
            Some(Json::String(s)) => {
                let t = EventType::parse(s);
                if t.is_none() {
                    let hint = crate::record::closest(s, EventType::ALL.iter().map(|t| t.as_str()))
                        .map(|c| format!(" (did you mean {c:?}?)"))
                        .unwrap_or_default();
                    cx.err(
                        "/type".into(),
                        format!("unknown event type {:?}{hint}; expected one of {}", truncate(s, 40), EventType::expected()),
                    );
                }
                t
            }
            Some(other) => {
                cx.type_err(At::top("type"), "a string naming the event type", other);
                None
            }
        },
    };
    cx.ty = ty;
    let time = match top.time {
        Some(t) => Some(t),
        None => cx.time(top.get(K::Time)),
    };

    let institution = cx.top_owned(top, K::Institution, Need::Optional);
    let customer = cx.top_owned(top, K::Customer, Need::Optional);
    let account = cx.top_owned(top, K::Account, cx.need(K::Account));
    if let Some(t @ (EventType::Login | EventType::CredentialChanged)) = ty
        && top.get(K::Customer).is_none_or(Json::is_null)
        && top.get(K::Account).is_none_or(Json::is_null)
    {
        cx.err("/account".into(), format!("a {t} event needs customer or account (or both)"));
    }

    // Currency and amount. A crypto withdrawal's amount is in its asset.
    let currency = cx.currency_code(top.get(K::Currency), At::top("currency"), Need::Optional);
    let asset = match ty {
        Some(t @ (EventType::CryptoWithdrawal | EventType::WalletBalance)) => cx.currency_code(
            top.get(K::Asset),
            At::top("asset"),
            if t.required().contains(&"asset") { Need::ByType } else { Need::Optional },
        ),
        _ => None,
    };
    let (unit, unit_places): (Option<&str>, Option<u32>) = if ty == Some(EventType::CryptoWithdrawal) {
        if let (Some((c, _)), Some((a, _))) = (currency, asset)
            && c != a
        {
            cx.err(
                "/currency".into(),
                format!("a crypto_withdrawal's amount is in its asset ({a:?}): leave currency out or set it to the asset"),
            );
        }
        (asset.map(|a| a.0), asset.and_then(|a| a.1))
    } else {
        match currency {
            Some((c, places)) => (Some(c), places),
            None => (Some(DEFAULT_CURRENCY), Some(0)),
        }
    };
    let amount = match top.amount {
        // As its plain text would read: without trailing zeros.
        Some(d) => cx.decimal_in_range(d.normalize(), At::top("amount"), false, unit.zip(unit_places)),
        None => cx.decimal(top.get(K::Amount), At::top("amount"), cx.need(K::Amount), false, unit.zip(unit_places)),
    };
    let device = cx.top_owned(top, K::Device, Need::Optional);
    let ip = match cx.string(top.get(K::Ip), At::top("ip"), Need::Optional) {
        None => None,
        Some(s) => match s.parse::<IpAddr>() {
            // std accepts only the canonical dotted-quad form for IPv4 (no leading zeros,
            // no shorthand), so the text needs no formatting
            Ok(a @ IpAddr::V4(_)) => Some(Ip { addr: a, text: s.to_owned() }),
            Ok(a) => Some(Ip::from(a)),
            Err(_) => {
                cx.err("/ip".into(), "expected an IPv4 or IPv6 address such as 203.0.113.7 or 2001:db8::1");
                None
            }
        },
    };
    match top.get(K::Attributes) {
        None | Some(Json::Null | Json::Object(_)) => {}
        Some(other) => cx.type_err(At::top("attributes"), "an object", other),
    }

    // Unknown fields, including fields of other types.
    for (i, slot) in top.slots.iter().enumerate() {
        if slot.is_none() {
            continue;
        }
        let Some(&k) = K_ALL.get(i) else { continue };
        if !k.is_common()
            && let Some(t) = ty
            && !t.extra_fields().contains(&k.name())
        {
            cx.err(At::top(k.name()).pointer(), unknown_field_reason(k.name(), ty));
        }
    }
    for k in unknown {
        cx.err(At::top(k).pointer(), unknown_field_reason(k, ty));
    }

    let kind = match ty {
        Some(t) => kind_fields(cx, top, t, asset),
        None => None,
    };

    Some(Event {
        id: id?,
        time: time?,
        institution,
        customer,
        account,
        amount,
        currency: match (ty, currency) {
            (Some(EventType::CryptoWithdrawal), _) | (_, None) => unit.unwrap_or(DEFAULT_CURRENCY).to_owned(),
            (_, Some((c, _))) => cx.take(K::Currency, c),
        },
        device,
        ip: ip.map(Box::new),
        attributes: Map::new(),
        kind: kind?,
    })
}

/// The fields of the event's type.
fn kind_fields(cx: &mut Ctx, top: &Top<'_>, t: EventType, asset: Option<(&str, Option<u32>)>) -> Option<EventKind> {
    let at = At::top;
    Some(match t {
        EventType::AccountOpened => {
            let kyc = cx.vocab(top.get(K::Kyc), at("kyc"), cx.need(K::Kyc), Kyc::parse, Kyc::expected);
            let holder = cx.holder(top.get(K::Holder)).map(Box::new);
            EventKind::AccountOpened { kyc: kyc?, holder }
        }
        EventType::Login => {
            let success = cx.boolean(top.get(K::Success), at("success"), cx.need(K::Success));
            let method = cx.vocab(top.get(K::Method), at("method"), Need::Optional, LoginMethod::parse, LoginMethod::expected);
            EventKind::Login { success: success?, method }
        }
        EventType::CredentialChanged => {
            let what = cx.vocab(top.get(K::What), at("what"), cx.need(K::What), Credential::parse, Credential::expected);
            let holder = cx.holder(top.get(K::Holder)).map(Box::new);
            EventKind::CredentialChanged { what: what?, holder }
        }
        EventType::LinkRequested => {
            let link = cx.top_owned(top, K::Link, cx.need(K::Link));
            let bank = cx.reference(top.get(K::Bank), "/bank", cx.need(K::Bank));
            let wallet = cx.reference(top.get(K::Wallet), "/wallet", cx.need(K::Wallet));
            let holder = cx.holder(top.get(K::Holder)).map(Box::new);
            let auth = cx.vocab(top.get(K::Auth), at("auth"), cx.need(K::Auth), LinkAuth::parse, LinkAuth::expected);
            EventKind::LinkRequested { link: link?, bank: bank?, wallet: wallet?, holder, auth: auth? }
        }
        EventType::LinkVerified => EventKind::LinkVerified { link: cx.top_owned(top, K::Link, cx.need(K::Link))? },
        EventType::LinkRevoked => EventKind::LinkRevoked { link: cx.top_owned(top, K::Link, cx.need(K::Link))? },
        EventType::PayeeRegistered => {
            let payee = cx.reference(top.get(K::Payee), "/payee", cx.need(K::Payee));
            let holder = cx.holder(top.get(K::Holder)).map(Box::new);
            EventKind::PayeeRegistered { payee: payee?, holder }
        }
        EventType::Charge => EventKind::Charge { link: cx.top_owned(top, K::Link, cx.need(K::Link))? },
        EventType::Transfer => {
            let direction = cx.vocab(top.get(K::Direction), at("direction"), cx.need(K::Direction), Direction::parse, Direction::expected);
            let counterparty = cx.reference(top.get(K::Counterparty), "/counterparty", cx.need(K::Counterparty));
            let holder = cx.holder(top.get(K::Holder)).map(Box::new);
            EventKind::Transfer { direction: direction?, counterparty: counterparty?, holder }
        }
        EventType::Withdrawal => EventKind::Withdrawal { payee: cx.reference(top.get(K::Payee), "/payee", cx.need(K::Payee))? },
        EventType::Trade => {
            let side = cx.vocab(top.get(K::Side), at("side"), cx.need(K::Side), Side::parse, Side::expected);
            let instrument = cx.top_owned(top, K::Instrument, cx.need(K::Instrument));
            let quantity = cx.decimal(top.get(K::Quantity), at("quantity"), cx.need(K::Quantity), false, None);
            EventKind::Trade { side: side?, instrument: instrument?, quantity: quantity? }
        }
        EventType::CryptoWithdrawal => {
            let wallet = cx.object(top.get(K::Wallet), at("wallet"), cx.need(K::Wallet)).and_then(|w| {
                let base = "/wallet";
                cx.no_unknown(w, base, &["id", "tier"], "a crypto wallet");
                let id = cx.owned(sub(w, "id"), At { base, key: "id" }, Need::Because("required: the exchange's id of the wallet"));
                let tier =
                    cx.present(sub(w, "tier"), At { base, key: "tier" }, Need::Because("required: \"hot\" or \"cold\"")).and_then(|v| {
                        let r = v.as_str().and_then(WalletTier::parse);
                        if r.is_none() {
                            cx.err("/wallet/tier".into(), format!("expected one of {}", WalletTier::expected()));
                        }
                        r
                    });
                Some(CryptoWallet { id: id?, tier: tier? })
            });
            let to_address = cx.secret(top.get(K::ToAddress), at("to_address"), cx.need(K::ToAddress));
            EventKind::CryptoWithdrawal { asset: asset?.0.to_owned(), wallet: wallet?, to_address: to_address? }
        }
        EventType::WalletBalance => {
            let unit = asset.and_then(|(a, p)| Some((a, p?)));
            let hot = cx.decimal(top.get(K::Hot), at("hot"), cx.need(K::Hot), true, unit);
            let cold = cx.decimal(top.get(K::Cold), at("cold"), cx.need(K::Cold), true, unit);
            let customer_total = cx.decimal(top.get(K::CustomerTotal), at("customer_total"), cx.need(K::CustomerTotal), true, unit);
            EventKind::WalletBalance { asset: asset?.0.to_owned(), hot: hot?, cold: cold?, customer_total: customer_total? }
        }
        EventType::CardPayment => {
            let card = cx.string(top.get(K::Card), at("card"), cx.need(K::Card)).and_then(|c| {
                if looks_like_pan(c) {
                    cx.err("/card".into(), "looks like a card number: send the card's token, never its number");
                    None
                } else {
                    Some(Secret::new(cx.take(K::Card, c)))
                }
            });
            let merchant = cx.top_owned(top, K::Merchant, cx.need(K::Merchant));
            let terminal = cx.top_owned(top, K::Terminal, Need::Optional);
            EventKind::CardPayment { card: card?, merchant: merchant?, terminal }
        }
        EventType::FraudReported => {
            let events = match cx.present(top.get(K::Events), at("events"), cx.need(K::Events)) {
                None => None,
                Some(Json::Array(a)) if a.is_empty() => {
                    cx.err("/events".into(), "must list at least one event id");
                    None
                }
                Some(Json::Array(a)) => {
                    let mut ids = Vec::with_capacity(a.len());
                    let mut ok = true;
                    for (i, v) in a.iter().enumerate() {
                        match cx.event_id(v, || format!("/events/{i}")) {
                            Some(id) => ids.push(id.to_owned()),
                            None => ok = false,
                        }
                    }
                    ok.then_some(ids)
                }
                Some(other) => {
                    cx.type_err(at("events"), "an array of event ids", other);
                    None
                }
            };
            let source = cx.vocab(top.get(K::Source), at("source"), cx.need(K::Source), ReportSource::parse, ReportSource::expected);
            EventKind::FraudReported { events: events?, source: source? }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pan_detection() {
        assert!(looks_like_pan("4111111111111111"));
        assert!(looks_like_pan("4111 1111 1111 1111"));
        assert!(looks_like_pan("4111-1111-1111-1111"));
        assert!(!looks_like_pan("4111111111111112"));
        assert!(!looks_like_pan("tok_4111111111111111"));
        assert!(!looks_like_pan("123456789012"));
        assert!(!looks_like_pan("41111111111111111111111"));
    }

    #[test]
    fn dates() {
        assert!(valid_date("1950-04-01"));
        assert!(valid_date("2000-02-29"));
        assert!(!valid_date("1900-02-29"));
        assert!(!valid_date("1950-4-1"));
        assert!(!valid_date("1950/04/01"));
        assert!(!valid_date("1950-13-01"));
        assert!(!valid_date("1950-00-10"));
        assert!(!valid_date("1950-01-32"));
        assert!(!valid_date("19500401"));
        assert!(!valid_date("1950-04-01T00:00:00Z"));
        assert!(!valid_date("１９５０-04-01"));
    }

    #[test]
    fn strict_json_refuses_duplicates() {
        assert!(strict_json(br#"{"a":1,"b":{"c":2,"c":3}}"#).unwrap_err().to_string().contains("duplicate key \"c\""));
        assert!(strict_json(br#"{"a":1,"a":1}"#).is_err());
        let v = strict_json(br#"{"a":[1,2.50,-3e2,"x",null,true,{}],"b":12345678901234567890123456789}"#).unwrap();
        let want: Json = serde_json::from_str(r#"{"a":[1,2.50,-3e2,"x",null,true,{}],"b":12345678901234567890123456789}"#).unwrap();
        assert_eq!(v, want);
        assert_eq!(v["a"][1].as_number().unwrap().as_str(), "2.50");
        assert!(strict_json(b"{} x").is_err());
        assert!(strict_json(b"").is_err());
    }
}
