//! How rules and features read events: [`EventSchema`] resolves `event.*` paths once,
//! [`EventRecord`] answers them for each event.
//!
//! Paths are relative to the event (the rule engine mounts the schema under `event`).
//! Enums read as their wire strings; a field the event does not carry reads `Null`.
//! `attributes.<name>[.<name>...]` are resolved at run time (type `dyn`): a JSON string
//! reads as a string, a boolean as a bool, an integer that fits 64 bits as an int, any
//! other number as an exact decimal when a decimal holds it and as a double otherwise,
//! and `null`, objects and arrays read as `Null`. A segment that is a number indexes an
//! array (`attributes.items.0`).

use std::sync::{Mutex, OnceLock};

use serde_json::Value as Json;

use super::{Event, EventKind, Holder, Ref};
use crate::record::{FieldId, Record, Resolution, Schema, closest};
use crate::value::{Type, Value};

macro_rules! event_fields {
    ($($var:ident => $path:literal : $ty:expr),+ $(,)?) => {
        /// The static fields; the discriminant is the field's inner id.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[repr(u32)]
        enum F { $($var),+ }
        const F_ALL: &[F] = &[$(F::$var),+];
        const F_PATHS: &[&str] = &[$($path),+];
        fn f_type(f: F) -> Type {
            match f { $(F::$var => $ty),+ }
        }
    };
}

event_fields! {
    Id => "id": Type::String,
    Type_ => "type": Type::String,
    Time => "time": Type::Timestamp,
    Institution => "institution": Type::String,
    Customer => "customer": Type::String,
    Account => "account": Type::String,
    Amount => "amount": Type::Decimal,
    Currency => "currency": Type::String,
    Device => "device": Type::String,
    Ip => "ip": Type::String,
    Kyc => "kyc": Type::String,
    Success => "success": Type::Bool,
    Method => "method": Type::String,
    What => "what": Type::String,
    Link => "link": Type::String,
    Auth => "auth": Type::String,
    BankInstitution => "bank.institution": Type::String,
    BankAccount => "bank.account": Type::String,
    WalletInstitution => "wallet.institution": Type::String,
    WalletAccount => "wallet.account": Type::String,
    WalletId => "wallet.id": Type::String,
    WalletTier => "wallet.tier": Type::String,
    HolderNameKana => "holder.name_kana": Type::String,
    HolderNameKanaKey => "holder.name_kana_key": Type::String,
    HolderName => "holder.name": Type::String,
    HolderBirthDate => "holder.birth_date": Type::String,
    HolderPhone => "holder.phone": Type::String,
    HolderEmail => "holder.email": Type::String,
    PayeeInstitution => "payee.institution": Type::String,
    PayeeAccount => "payee.account": Type::String,
    Direction => "direction": Type::String,
    CounterpartyInstitution => "counterparty.institution": Type::String,
    CounterpartyAccount => "counterparty.account": Type::String,
    Side => "side": Type::String,
    Instrument => "instrument": Type::String,
    Quantity => "quantity": Type::Decimal,
    Asset => "asset": Type::String,
    ToAddress => "to_address": Type::String,
    Hot => "hot": Type::Decimal,
    Cold => "cold": Type::Decimal,
    CustomerTotal => "customer_total": Type::Decimal,
    Card => "card": Type::String,
    Merchant => "merchant": Type::String,
    Terminal => "terminal": Type::String,
    Events => "events": Type::List(Box::new(Type::String)),
    Source => "source": Type::String,
}

/// Inner ids from here on are attribute paths (index into the schema's list).
pub(super) const ATTR_BASE: u32 = 1 << 16;

/// Paths that name objects with fields below them.
const OBJECTS: &[&str] = &["bank", "wallet", "holder", "payee", "counterparty", "attributes"];

/// The schema of `event.*`. Attribute paths get ids as they are resolved, so a record
/// must be read with the same schema (instance) that resolved its ids.
#[derive(Debug, Default)]
pub struct EventSchema {
    attributes: Paths,
}

/// Attribute paths by id. Paths are only ever added, so reading one by id takes no lock:
/// records are read on several threads at once, and a lock's counter written by each of
/// them would pass between their cores on every read. Adding one takes `added`'s lock.
#[derive(Debug, Default)]
struct Paths {
    /// Chunk `c` holds the ids `FIRST * (2^c - 1) .. FIRST * (2^(c+1) - 1)`.
    chunks: [OnceLock<Chunk>; CHUNKS],
    /// How many paths there are.
    added: Mutex<usize>,
}

/// A run of paths, each set once (a path is its segments).
type Chunk = Box<[OnceLock<Box<[String]>>]>;

/// Ids in the first chunk; each next chunk holds twice as many.
const FIRST: usize = 16;
/// Enough chunks for every id below `(1 << 24) - ATTR_BASE`.
const CHUNKS: usize = 21;
const MAX_PATHS: usize = (1 << 24) - ATTR_BASE as usize;
const _: () = assert!(FIRST * ((1 << CHUNKS) - 1) >= MAX_PATHS);

impl Paths {
    /// Which chunk holds path `i`, and where in it.
    fn place(i: usize) -> (usize, usize) {
        let c = (i / FIRST + 1).ilog2() as usize;
        (c, i - FIRST * ((1 << c) - 1))
    }

    fn get(&self, i: usize) -> Option<&[String]> {
        let (c, at) = Self::place(i);
        self.chunks.get(c)?.get()?.get(at)?.get().map(|p| &p[..])
    }

    fn added(&self) -> std::sync::MutexGuard<'_, usize> {
        self.added.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn position(&self, len: usize, segments: &[&str]) -> Option<usize> {
        (0..len).find(|&i| self.get(i).is_some_and(|p| p.iter().map(String::as_str).eq(segments.iter().copied())))
    }

    /// The id of `segments`, adding it if new; `None` when there is no room for it.
    fn id_of(&self, segments: &[&str]) -> Option<usize> {
        let mut len = self.added();
        if let Some(i) = self.position(*len, segments) {
            return Some(i);
        }
        if *len >= MAX_PATHS {
            return None;
        }
        let (c, at) = Self::place(*len);
        let chunk = self.chunks[c].get_or_init(|| (0..FIRST << c).map(|_| OnceLock::new()).collect());
        chunk[at].set(segments.iter().map(|s| (*s).to_owned()).collect()).ok()?;
        *len += 1;
        Some(*len - 1)
    }

    fn all(&self) -> Vec<&[String]> {
        let len = *self.added();
        (0..len).filter_map(|i| self.get(i)).collect()
    }
}

impl EventSchema {
    pub fn new() -> Self {
        Self::default()
    }

    /// A record that reads `event` through this schema's ids.
    pub fn record<'a>(&'a self, event: &'a Event) -> EventRecord<'a> {
        EventRecord { event, schema: self }
    }

    /// The id of an attribute path (below `attributes`), allocating one if new.
    fn attribute_id(&self, segments: &[&str]) -> Option<FieldId> {
        let i = self.attributes.id_of(segments)?;
        Some(FieldId::new(0, ATTR_BASE + u32::try_from(i).ok()?))
    }

    /// Every attribute path resolved so far (dotted, below `attributes`).
    pub fn attribute_paths(&self) -> Vec<String> {
        self.attributes.all().iter().map(|p| format!("attributes.{}", p.join("."))).collect()
    }
}

impl Schema for EventSchema {
    fn resolve(&self, path: &[&str]) -> Resolution {
        match path {
            [] => return Resolution::Object,
            ["attributes", rest @ ..] if !rest.is_empty() => {
                return match self.attribute_id(rest) {
                    Some(id) => Resolution::Field(id, Type::Dyn),
                    None => Resolution::Unknown { suggestion: None },
                };
            }
            [one] if OBJECTS.contains(one) => return Resolution::Object,
            _ => {}
        }
        let wanted = path.join(".");
        if let Some(i) = F_PATHS.iter().position(|p| *p == wanted) {
            let f = F_ALL[i];
            return Resolution::Field(FieldId::new(0, f as u32), f_type(f));
        }
        Resolution::Unknown { suggestion: closest(&wanted, F_PATHS.iter().copied()) }
    }

    fn fields(&self) -> Vec<(String, Type)> {
        F_ALL.iter().map(|&f| (F_PATHS[f as usize].to_string(), f_type(f))).collect()
    }
}

/// One event read through an [`EventSchema`].
#[derive(Debug, Clone, Copy)]
pub struct EventRecord<'a> {
    pub event: &'a Event,
    pub schema: &'a EventSchema,
}

impl<'a> EventRecord<'a> {
    pub fn new(schema: &'a EventSchema, event: &'a Event) -> Self {
        EventRecord { event, schema }
    }

    fn attribute(&self, index: u32) -> Value<'a> {
        let Some(path) = self.schema.attributes.get(index as usize) else { return Value::Null };
        let mut segs = path.iter();
        let Some(first) = segs.next() else { return Value::Null };
        let Some(mut cur) = self.event.attributes.get(first.as_str()) else { return Value::Null };
        for s in segs {
            let next = match cur {
                Json::Object(m) => m.get(s.as_str()),
                Json::Array(a) => s.parse::<usize>().ok().and_then(|i| a.get(i)),
                _ => None,
            };
            match next {
                Some(v) => cur = v,
                None => return Value::Null,
            }
        }
        json_value(cur)
    }
}

/// A JSON value as an expression value (see the module docs).
pub fn json_value(v: &Json) -> Value<'_> {
    match v {
        Json::String(s) => Value::Str(s),
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::Int(i)
            } else if let Ok(d) = crate::amount::parse_decimal(n.as_str(), true) {
                Value::Decimal(d)
            } else {
                n.as_f64().filter(|f| f.is_finite()).map_or(Value::Null, Value::Double)
            }
        }
        Json::Null | Json::Object(_) | Json::Array(_) => Value::Null,
    }
}

fn opt(s: &Option<String>) -> Value<'_> {
    s.as_deref().map_or(Value::Null, Value::Str)
}

fn holder_field<'a>(h: Option<&'a Holder>, f: impl FnOnce(&'a Holder) -> Option<&'a str>) -> Value<'a> {
    h.and_then(f).map_or(Value::Null, Value::Str)
}

fn ref_field<'a>(r: Option<&'a Ref>, institution: bool) -> Value<'a> {
    match r {
        Some(r) if institution => Value::Str(&r.institution),
        Some(r) => Value::Str(&r.account),
        None => Value::Null,
    }
}

impl Record for EventRecord<'_> {
    #[inline]
    fn get(&self, field: FieldId) -> Value<'_> {
        self.value(field)
    }
}

impl<'a> EventRecord<'a> {
    /// Like [`Record::get`], but the value borrows from the event rather than the record.
    pub fn value(&self, field: FieldId) -> Value<'a> {
        let inner = field.inner();
        if inner >= ATTR_BASE {
            return self.attribute(inner - ATTR_BASE);
        }
        let Some(&f) = F_ALL.get(inner as usize) else { return Value::Null };
        let e = self.event;
        let k = &e.kind;
        match f {
            F::Id => Value::Str(&e.id),
            F::Type_ => Value::Str(k.event_type().as_str()),
            F::Time => Value::Timestamp(e.time),
            F::Institution => opt(&e.institution),
            F::Customer => opt(&e.customer),
            F::Account => opt(&e.account),
            F::Amount => e.amount.map_or(Value::Null, Value::Decimal),
            F::Currency => Value::Str(&e.currency),
            F::Device => opt(&e.device),
            F::Ip => e.ip.as_ref().map_or(Value::Null, |ip| Value::Str(ip.as_str())),
            F::Kyc => match k {
                EventKind::AccountOpened { kyc, .. } => Value::Str(kyc.as_str()),
                _ => Value::Null,
            },
            F::Success => match k {
                EventKind::Login { success, .. } => Value::Bool(*success),
                _ => Value::Null,
            },
            F::Method => match k {
                EventKind::Login { method: Some(m), .. } => Value::Str(m.as_str()),
                _ => Value::Null,
            },
            F::What => match k {
                EventKind::CredentialChanged { what, .. } => Value::Str(what.as_str()),
                _ => Value::Null,
            },
            F::Link => k.link().map_or(Value::Null, Value::Str),
            F::Auth => match k {
                EventKind::LinkRequested { auth, .. } => Value::Str(auth.as_str()),
                _ => Value::Null,
            },
            F::BankInstitution | F::BankAccount => match k {
                EventKind::LinkRequested { bank, .. } => ref_field(Some(bank), f == F::BankInstitution),
                _ => Value::Null,
            },
            F::WalletInstitution | F::WalletAccount => match k {
                EventKind::LinkRequested { wallet, .. } => ref_field(Some(wallet), f == F::WalletInstitution),
                _ => Value::Null,
            },
            F::WalletId => match k {
                EventKind::CryptoWithdrawal { wallet, .. } => Value::Str(&wallet.id),
                _ => Value::Null,
            },
            F::WalletTier => match k {
                EventKind::CryptoWithdrawal { wallet, .. } => Value::Str(wallet.tier.as_str()),
                _ => Value::Null,
            },
            F::HolderNameKana => holder_field(k.holder(), |h| h.name_kana.as_ref().map(|n| n.expose())),
            F::HolderNameKanaKey => holder_field(k.holder(), |h| h.name_kana.as_ref().map(|n| n.expose_key())),
            F::HolderName => holder_field(k.holder(), |h| h.name.as_ref().map(|s| s.expose().as_str())),
            F::HolderBirthDate => holder_field(k.holder(), |h| h.birth_date.as_ref().map(|s| s.expose().as_str())),
            F::HolderPhone => holder_field(k.holder(), |h| h.phone.as_ref().map(|s| s.expose().as_str())),
            F::HolderEmail => holder_field(k.holder(), |h| h.email.as_ref().map(|s| s.expose().as_str())),
            F::PayeeInstitution | F::PayeeAccount => match k {
                EventKind::PayeeRegistered { payee, .. } | EventKind::Withdrawal { payee } => {
                    ref_field(Some(payee), f == F::PayeeInstitution)
                }
                _ => Value::Null,
            },
            F::Direction => match k {
                EventKind::Transfer { direction, .. } => Value::Str(direction.as_str()),
                _ => Value::Null,
            },
            F::CounterpartyInstitution | F::CounterpartyAccount => match k {
                EventKind::Transfer { counterparty, .. } => ref_field(Some(counterparty), f == F::CounterpartyInstitution),
                _ => Value::Null,
            },
            F::Side => match k {
                EventKind::Trade { side, .. } => Value::Str(side.as_str()),
                _ => Value::Null,
            },
            F::Instrument => match k {
                EventKind::Trade { instrument, .. } => Value::Str(instrument),
                _ => Value::Null,
            },
            F::Quantity => match k {
                EventKind::Trade { quantity, .. } => Value::Decimal(*quantity),
                _ => Value::Null,
            },
            F::Asset => match k {
                EventKind::CryptoWithdrawal { asset, .. } | EventKind::WalletBalance { asset, .. } => Value::Str(asset),
                _ => Value::Null,
            },
            F::ToAddress => match k {
                EventKind::CryptoWithdrawal { to_address, .. } => Value::Str(to_address.expose()),
                _ => Value::Null,
            },
            F::Hot => match k {
                EventKind::WalletBalance { hot, .. } => Value::Decimal(*hot),
                _ => Value::Null,
            },
            F::Cold => match k {
                EventKind::WalletBalance { cold, .. } => Value::Decimal(*cold),
                _ => Value::Null,
            },
            F::CustomerTotal => match k {
                EventKind::WalletBalance { customer_total, .. } => Value::Decimal(*customer_total),
                _ => Value::Null,
            },
            F::Card => match k {
                EventKind::CardPayment { card, .. } => Value::Str(card.expose()),
                _ => Value::Null,
            },
            F::Merchant => match k {
                EventKind::CardPayment { merchant, .. } => Value::Str(merchant),
                _ => Value::Null,
            },
            F::Terminal => match k {
                EventKind::CardPayment { terminal: Some(t), .. } => Value::Str(t),
                _ => Value::Null,
            },
            F::Events => match k {
                EventKind::FraudReported { events, .. } => Value::StrList(events),
                _ => Value::Null,
            },
            F::Source => match k {
                EventKind::FraudReported { source, .. } => Value::Str(source.as_str()),
                _ => Value::Null,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_id_has_one_place_and_the_places_run_on() {
        let mut next = (0, 0);
        for i in 0..100_000 {
            assert_eq!(Paths::place(i), next, "id {i}");
            let (c, at) = next;
            next = if at + 1 == FIRST << c { (c + 1, 0) } else { (c, at + 1) };
        }
        let (c, at) = Paths::place(MAX_PATHS - 1);
        assert!(c < CHUNKS && at < FIRST << c);
    }
}
