//! Reading and validating events from JSON. Every check records its problem and goes
//! on, so that one answer lists everything wrong with an event.

use std::fmt;
use std::net::IpAddr;

use rust_decimal::Decimal;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
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
            if m.contains_key(&k) {
                return Err(de::Error::custom(format_args!("duplicate key {k:?} in an object")));
            }
            let Strict(v) = map.next_value()?;
            m.insert(k, v);
        }
        Ok(Json::Object(m))
    }
}

// ---------------------------------------------------------------------------------
// Validation.

struct Ctx {
    errors: Vec<FieldError>,
}

fn ptr(base: &str, key: &str) -> String {
    let mut p = String::with_capacity(base.len() + key.len() + 1);
    p.push_str(base);
    p.push('/');
    p.push_str(&escape_pointer_token(key));
    p
}

/// `None` when a field is optional; the reason to give when it is missing otherwise.
type Need<'r> = Option<&'r str>;

impl Ctx {
    fn err(&mut self, pointer: String, reason: impl Into<String>) {
        self.errors.push(FieldError { pointer, reason: reason.into() });
    }

    fn type_err(&mut self, pointer: String, expected: &str, got: &Json) {
        self.err(pointer, format!("expected {expected}, got {}", json_type_name(got)));
    }

    /// The field's value; `None` when absent or `null` (reported if required).
    fn field<'v>(&mut self, obj: &'v Map<String, Json>, base: &str, key: &str, need: Need<'_>) -> Option<&'v Json> {
        match obj.get(key) {
            Some(Json::Null) | None => {
                if let Some(reason) = need {
                    self.err(ptr(base, key), reason);
                }
                None
            }
            Some(v) => Some(v),
        }
    }

    /// A non-empty string.
    fn string<'v>(&mut self, obj: &'v Map<String, Json>, base: &str, key: &str, need: Need<'_>) -> Option<&'v str> {
        match self.field(obj, base, key, need)? {
            Json::String(s) if s.is_empty() => {
                self.err(ptr(base, key), "must not be empty (leave the field out instead)");
                None
            }
            Json::String(s) => Some(s),
            other => {
                self.type_err(ptr(base, key), "a string", other);
                None
            }
        }
    }

    fn owned(&mut self, obj: &Map<String, Json>, base: &str, key: &str, need: Need<'_>) -> Option<String> {
        self.string(obj, base, key, need).map(str::to_owned)
    }

    fn secret(&mut self, obj: &Map<String, Json>, base: &str, key: &str, need: Need<'_>) -> Option<Secret<String>> {
        self.owned(obj, base, key, need).map(Secret::new)
    }

    fn boolean(&mut self, obj: &Map<String, Json>, base: &str, key: &str, need: Need<'_>) -> Option<bool> {
        match self.field(obj, base, key, need)? {
            Json::Bool(b) => Some(*b),
            other => {
                self.type_err(ptr(base, key), "true or false", other);
                None
            }
        }
    }

    /// A value of a closed vocabulary.
    fn vocab<T>(
        &mut self,
        obj: &Map<String, Json>,
        key: &str,
        need: Need<'_>,
        parse: fn(&str) -> Option<T>,
        expected: fn() -> String,
    ) -> Option<T> {
        let v = self.field(obj, "", key, need)?;
        let Json::String(s) = v else {
            let reason = format!("expected one of {}, got {}", expected(), json_type_name(v));
            self.err(ptr("", key), reason);
            return None;
        };
        let r = parse(s);
        if r.is_none() {
            self.err(ptr("", key), format!("expected one of {}, got {:?}", expected(), truncate(s, 40)));
        }
        r
    }

    fn object<'v>(&mut self, obj: &'v Map<String, Json>, base: &str, key: &str, need: Need<'_>) -> Option<&'v Map<String, Json>> {
        match self.field(obj, base, key, need)? {
            Json::Object(o) => Some(o),
            other => {
                self.type_err(ptr(base, key), "an object", other);
                None
            }
        }
    }

    /// Reports keys of a nested object that are not in `allowed`.
    fn no_unknown(&mut self, obj: &Map<String, Json>, base: &str, allowed: &[&str], what: &str) {
        for k in obj.keys() {
            if !allowed.contains(&k.as_str()) {
                self.err(ptr(base, k), format!("unknown field of {what} (expected {})", allowed.join(", ")));
            }
        }
    }

    /// A ref: `{"institution": "...", "account": "..."}`.
    fn reference(&mut self, obj: &Map<String, Json>, key: &str, need: Need<'_>) -> Option<Ref> {
        let o = self.object(obj, "", key, need)?;
        let base = ptr("", key);
        self.no_unknown(o, &base, &["institution", "account"], "a ref");
        let institution = self.owned(o, &base, "institution", Some("required: a ref names the institution and its account id"));
        let account = self.owned(o, &base, "account", Some("required: a ref names the institution and its account id"));
        Some(Ref { institution: institution?, account: account? })
    }

    fn holder(&mut self, obj: &Map<String, Json>) -> Option<Holder> {
        let o = self.object(obj, "", "holder", None)?;
        let base = "/holder";
        self.no_unknown(o, base, HOLDER_FIELDS, "a holder");
        let name_kana = self.string(o, base, "name_kana", None).and_then(|s| {
            let k = KanaName::new(s);
            if k.expose_key().is_empty() {
                self.err(ptr(base, "name_kana"), "has no letters");
                None
            } else {
                Some(k)
            }
        });
        let name = self.secret(o, base, "name", None);
        let birth_date = self.string(o, base, "birth_date", None).and_then(|s| {
            if valid_date(s) {
                Some(Secret::new(s.to_owned()))
            } else {
                self.err(ptr(base, "birth_date"), "expected a date YYYY-MM-DD such as 1950-04-01");
                None
            }
        });
        let phone = self.secret(o, base, "phone", None);
        let email = self.secret(o, base, "email", None);
        Some(Holder { name_kana, name, birth_date, phone, email })
    }

    /// An exact decimal (string or number).
    fn decimal(&mut self, obj: &Map<String, Json>, key: &str, need: Need<'_>) -> Option<Decimal> {
        let v = self.field(obj, "", key, need)?;
        match decimal_from_json(v) {
            Ok(d) => Some(d),
            Err(e) => {
                self.err(ptr("", key), e.to_string());
                None
            }
        }
    }

    /// A decimal with a sign and place check: `min_zero` allows 0, else it must be > 0.
    fn quantity(
        &mut self,
        obj: &Map<String, Json>,
        key: &str,
        need: Need<'_>,
        zero_ok: bool,
        unit: Option<(&str, u32)>,
    ) -> Option<Decimal> {
        let d = self.decimal(obj, key, need)?;
        let check = if zero_ok {
            if d < Decimal::ZERO { Err(AmountError::Negative) } else { Ok(()) }
        } else if d <= Decimal::ZERO {
            Err(AmountError::NotPositive)
        } else {
            Ok(())
        };
        let check = check.and_then(|()| unit.map_or(Ok(()), |(code, places)| amount::check_places(d, code, places)));
        match check {
            Ok(()) => Some(d),
            Err(e) => {
                self.err(ptr("", key), e.to_string());
                None
            }
        }
    }

    /// A currency code or ticker, with its decimal places.
    fn currency_code<'v>(&mut self, obj: &'v Map<String, Json>, key: &str, need: Need<'_>) -> Option<(&'v str, Option<u32>)> {
        let s = self.string(obj, "", key, need)?;
        match currency_info(s) {
            Ok(info) => Some((s, Some(info.decimals))),
            Err(e) => {
                self.err(ptr("", key), e.to_string());
                Some((s, None))
            }
        }
    }

    fn event_id(&mut self, pointer: String, v: &Json) -> Option<String> {
        match v {
            Json::String(s) => {
                let n = s.chars().count();
                if n == 0 || n > MAX_ID_CHARS {
                    self.err(pointer, format!("must be 1 to {MAX_ID_CHARS} characters long (got {n})"));
                    None
                } else {
                    Some(s.clone())
                }
            }
            other => {
                self.type_err(pointer, "a string", other);
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
    let mut digits = Vec::with_capacity(19);
    for c in s.chars() {
        match c {
            '0'..='9' => digits.push(c as u32 - '0' as u32),
            ' ' | '-' => {}
            _ => return false,
        }
        if digits.len() > 19 {
            return false;
        }
    }
    if digits.len() < 13 {
        return false;
    }
    let sum: u32 = digits
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

pub(super) fn event_from_json(value: &Json) -> Result<Event, EventErrors> {
    let Json::Object(obj) = value else {
        return Err(EventErrors::one("", format!("an event is a JSON object, got {}", json_type_name(value))));
    };
    let mut cx = Ctx { errors: Vec::new() };
    let ev = validate(&mut cx, obj);
    match ev {
        Some(mut ev) if cx.errors.is_empty() => {
            if let Some(Json::Object(a)) = obj.get("attributes") {
                ev.attributes = a.clone();
            }
            Ok(ev)
        }
        _ => {
            if cx.errors.is_empty() {
                cx.err(String::new(), "invalid event");
            }
            Err(EventErrors { errors: cx.errors })
        }
    }
}

/// Checks every field; returns the event (without attributes) when nothing is missing.
fn validate(cx: &mut Ctx, obj: &Map<String, Json>) -> Option<Event> {
    // Common fields.
    let id = match obj.get("id") {
        None | Some(Json::Null) => {
            cx.err("/id".into(), "required: the event's id, unique per institution");
            None
        }
        Some(v) => cx.event_id("/id".into(), v),
    };
    let ty = match cx.field(obj, "", "type", Some("required: one of the event types")) {
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
            cx.type_err("/type".into(), "a string naming the event type", other);
            None
        }
    };
    let time = match cx.field(obj, "", "time", Some("required: when it happened, RFC 3339 with an offset")) {
        None => None,
        Some(Json::String(s)) => match Timestamp::parse_rfc3339(s) {
            Ok(t) => Some(t),
            Err(e) => {
                cx.err("/time".into(), e.to_string());
                None
            }
        },
        Some(other) => {
            cx.type_err("/time".into(), "an RFC 3339 timestamp string such as 2026-11-21T10:00:00+09:00", other);
            None
        }
    };
    let tname = ty.map_or("", EventType::as_str);
    let required_msg = |field: &str| -> Option<String> {
        let t = ty?;
        t.required().contains(&field).then(|| format!("required for {t} events"))
    };

    let institution = cx.owned(obj, "", "institution", None);
    let customer = cx.owned(obj, "", "customer", None);
    let account_need = required_msg("account").map(|m| format!("{m}: the institution's id of the account acting in the event"));
    let account = cx.owned(obj, "", "account", account_need.as_deref());
    if matches!(ty, Some(EventType::Login | EventType::CredentialChanged))
        && obj.get("customer").is_none_or(Json::is_null)
        && obj.get("account").is_none_or(Json::is_null)
    {
        cx.err("/account".into(), format!("a {tname} event needs customer or account (or both)"));
    }

    // Currency and amount. A crypto withdrawal's amount is in its asset.
    let currency = cx.currency_code(obj, "currency", None);
    let asset = if ty.is_some_and(|t| t.extra_fields().contains(&"asset")) {
        cx.currency_code(obj, "asset", required_msg("asset").as_deref())
    } else {
        None
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
    let amount_need = required_msg("amount").map(|m| format!("{m}: a decimal string such as \"100000\" or a number, > 0"));
    let amount_unit = unit.zip(unit_places);
    let amount = cx.quantity(obj, "amount", amount_need.as_deref(), false, amount_unit);
    let device = cx.owned(obj, "", "device", None);
    let ip = match cx.string(obj, "", "ip", None) {
        None => None,
        Some(s) => match s.parse::<IpAddr>() {
            Ok(a) => Some(Ip::from(a)),
            Err(_) => {
                cx.err("/ip".into(), "expected an IPv4 or IPv6 address such as 203.0.113.7 or 2001:db8::1");
                None
            }
        },
    };
    match obj.get("attributes") {
        None | Some(Json::Null | Json::Object(_)) => {}
        Some(other) => cx.type_err("/attributes".into(), "an object", other),
    }

    // Unknown fields, including fields of other types.
    for k in obj.keys() {
        let known = match ty {
            Some(t) => t.accepts(k),
            None => COMMON_FIELDS.contains(&k.as_str()) || !types_with_field(k).is_empty(),
        };
        if !known {
            cx.err(ptr("", k), unknown_field_reason(k, ty));
        }
    }

    let kind = match ty {
        Some(t) => kind_fields(cx, obj, t, asset, required_msg),
        None => None,
    };

    Some(Event {
        id: id?,
        time: time?,
        institution,
        customer,
        account,
        amount,
        currency: unit.unwrap_or(DEFAULT_CURRENCY).to_owned(),
        device,
        ip,
        attributes: Map::new(),
        kind: kind?,
    })
}

/// The fields of the event's type.
fn kind_fields(
    cx: &mut Ctx,
    obj: &Map<String, Json>,
    t: EventType,
    asset: Option<(&str, Option<u32>)>,
    required_msg: impl Fn(&str) -> Option<String>,
) -> Option<EventKind> {
    let req = |f: &str| required_msg(f);
    Some(match t {
        EventType::AccountOpened => {
            let kyc = cx.vocab(obj, "kyc", req("kyc").as_deref(), Kyc::parse, Kyc::expected);
            let holder = cx.holder(obj);
            EventKind::AccountOpened { kyc: kyc?, holder }
        }
        EventType::Login => {
            let success = cx.boolean(obj, "", "success", req("success").as_deref());
            let method = cx.vocab(obj, "method", None, LoginMethod::parse, LoginMethod::expected);
            EventKind::Login { success: success?, method }
        }
        EventType::CredentialChanged => {
            let what = cx.vocab(obj, "what", req("what").as_deref(), Credential::parse, Credential::expected);
            EventKind::CredentialChanged { what: what? }
        }
        EventType::LinkRequested => {
            let link = cx.owned(obj, "", "link", req("link").as_deref());
            let bank = cx.reference(obj, "bank", req("bank").as_deref());
            let wallet = cx.reference(obj, "wallet", req("wallet").as_deref());
            let holder = cx.holder(obj);
            let auth = cx.vocab(obj, "auth", req("auth").as_deref(), LinkAuth::parse, LinkAuth::expected);
            EventKind::LinkRequested { link: link?, bank: bank?, wallet: wallet?, holder, auth: auth? }
        }
        EventType::LinkVerified => EventKind::LinkVerified { link: cx.owned(obj, "", "link", req("link").as_deref())? },
        EventType::LinkRevoked => EventKind::LinkRevoked { link: cx.owned(obj, "", "link", req("link").as_deref())? },
        EventType::PayeeRegistered => {
            let payee = cx.reference(obj, "payee", req("payee").as_deref());
            let holder = cx.holder(obj);
            EventKind::PayeeRegistered { payee: payee?, holder }
        }
        EventType::Charge => EventKind::Charge { link: cx.owned(obj, "", "link", req("link").as_deref())? },
        EventType::Transfer => {
            let direction = cx.vocab(obj, "direction", req("direction").as_deref(), Direction::parse, Direction::expected);
            let counterparty = cx.reference(obj, "counterparty", req("counterparty").as_deref());
            let holder = cx.holder(obj);
            EventKind::Transfer { direction: direction?, counterparty: counterparty?, holder }
        }
        EventType::Withdrawal => EventKind::Withdrawal { payee: cx.reference(obj, "payee", req("payee").as_deref())? },
        EventType::Trade => {
            let side = cx.vocab(obj, "side", req("side").as_deref(), Side::parse, Side::expected);
            let instrument = cx.owned(obj, "", "instrument", req("instrument").as_deref());
            let quantity = cx.quantity(obj, "quantity", req("quantity").as_deref(), false, None);
            EventKind::Trade { side: side?, instrument: instrument?, quantity: quantity? }
        }
        EventType::CryptoWithdrawal => {
            let wallet = cx.object(obj, "", "wallet", req("wallet").as_deref()).and_then(|w| {
                cx.no_unknown(w, "/wallet", &["id", "tier"], "a crypto wallet");
                let id = cx.owned(w, "/wallet", "id", Some("required: the exchange's id of the wallet"));
                let tier = match cx.field(w, "/wallet", "tier", Some("required: \"hot\" or \"cold\"")) {
                    None => None,
                    Some(v) => {
                        let r = v.as_str().and_then(WalletTier::parse);
                        if r.is_none() {
                            cx.err("/wallet/tier".into(), format!("expected one of {}", WalletTier::expected()));
                        }
                        r
                    }
                };
                Some(CryptoWallet { id: id?, tier: tier? })
            });
            let to_address = cx.secret(obj, "", "to_address", req("to_address").as_deref());
            EventKind::CryptoWithdrawal { asset: asset?.0.to_owned(), wallet: wallet?, to_address: to_address? }
        }
        EventType::WalletBalance => {
            let unit = asset.and_then(|(a, p)| Some((a, p?)));
            let hot = cx.quantity(obj, "hot", req("hot").as_deref(), true, unit);
            let cold = cx.quantity(obj, "cold", req("cold").as_deref(), true, unit);
            let customer_total = cx.quantity(obj, "customer_total", req("customer_total").as_deref(), true, unit);
            EventKind::WalletBalance { asset: asset?.0.to_owned(), hot: hot?, cold: cold?, customer_total: customer_total? }
        }
        EventType::CardPayment => {
            let card = cx.string(obj, "", "card", req("card").as_deref()).and_then(|c| {
                if looks_like_pan(c) {
                    cx.err("/card".into(), "looks like a card number: send the card's token, never its number");
                    None
                } else {
                    Some(Secret::new(c.to_owned()))
                }
            });
            let merchant = cx.owned(obj, "", "merchant", req("merchant").as_deref());
            let terminal = cx.owned(obj, "", "terminal", None);
            EventKind::CardPayment { card: card?, merchant: merchant?, terminal }
        }
        EventType::FraudReported => {
            let events = match cx.field(obj, "", "events", req("events").as_deref()) {
                None => None,
                Some(Json::Array(a)) if a.is_empty() => {
                    cx.err("/events".into(), "must list at least one event id");
                    None
                }
                Some(Json::Array(a)) => {
                    let mut ids = Vec::with_capacity(a.len());
                    let mut ok = true;
                    for (i, v) in a.iter().enumerate() {
                        match cx.event_id(format!("/events/{i}"), v) {
                            Some(id) => ids.push(id),
                            None => ok = false,
                        }
                    }
                    ok.then_some(ids)
                }
                Some(other) => {
                    cx.type_err("/events".into(), "an array of event ids", other);
                    None
                }
            };
            let source = cx.vocab(obj, "source", req("source").as_deref(), ReportSource::parse, ReportSource::expected);
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
