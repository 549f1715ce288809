//! The v1 event contract as typed, validated Rust.
//!
//! An [`Event`] holds the common fields of every event and, in [`Event::kind`], the
//! fields of its type ([`EventKind`]). [`Event::from_json_slice`] and
//! [`Event::from_json_value`] check an event against the contract and report every
//! problem at once ([`EventErrors`], each with a JSON Pointer); [`Event::to_json`]
//! writes the canonical form, which reads back to an equal event.
//!
//! # Required fields
//!
//! Common to every type: `id` (1..128 characters), `type`, `time` (RFC 3339 with an
//! offset). Everything else is optional unless listed here (see [`EventType::required`]):
//!
//! | type | required besides the common fields |
//! |---|---|
//! | `account_opened` | `account` (the new account), `kyc` |
//! | `login` | `success`, and `customer` or `account` |
//! | `credential_changed` | `what`, and `customer` or `account` |
//! | `link_requested` | `link`, `bank`, `wallet`, `auth` |
//! | `link_verified`, `link_revoked` | `link` |
//! | `payee_registered` | `account` (the account registering the payee), `payee` |
//! | `charge` | `account` (the account debited or credited at the reporter), `link`, `amount` |
//! | `transfer` | `account`, `direction`, `counterparty`, `amount` |
//! | `withdrawal` | `account` (the account money leaves), `payee`, `amount` |
//! | `trade` | `account`, `side`, `instrument`, `quantity`, `amount` |
//! | `crypto_withdrawal` | `account`, `asset`, `amount`, `wallet` (`id` and `tier`), `to_address` |
//! | `wallet_balance` | `asset`, `hot`, `cold`, `customer_total` |
//! | `card_payment` | `card`, `merchant`, `amount` (the account is optional: a card token identifies the payer) |
//! | `fraud_reported` | `events` (at least one id), `source` |
//!
//! Money events (`charge`, `transfer`, `withdrawal`, `trade`, `crypto_withdrawal`,
//! `card_payment`) need an `amount`; other events may carry one, checked the same way.
//!
//! # Other decisions
//!
//! - JSON `null` in an optional field means the field is absent.
//! - Strings must not be empty (omit the field instead); a holder's `name_kana` must
//!   contain at least one letter once normalised.
//! - An object with a key twice is malformed JSON (a duplicate `amount` would otherwise
//!   mean whatever the last parser decided).
//! - A field that belongs to another event type is refused like any unknown field, with
//!   the hint that extra data belongs in `attributes`.
//! - `crypto_withdrawal`: the amount is in the `asset`; `currency` may be omitted (it
//!   then reads as the asset) or must equal the asset. Decimal places follow the asset.
//! - `wallet_balance`: `hot`, `cold` and `customer_total` are ≥ 0 with the asset's places.
//! - `trade.quantity` is > 0 with up to 28 places.
//! - The canonical form writes every decimal as a string, the time in UTC with as many
//!   fractional digits as needed (microsecond precision), `currency` always, and leaves
//!   out absent optional fields and empty `attributes`.

mod parse;
mod schema;
#[cfg(test)]
mod tests;

use std::fmt;
use std::net::IpAddr;

use rust_decimal::Decimal;
use serde_json::{Map, Value as Json};

use crate::secret::{Secret, mask_tail};
use crate::time::Timestamp;

pub use parse::{EventFields, FieldKey, Given, Stamp};
pub use schema::{EventRecord, EventSchema};

/// Defines a closed vocabulary read from and written to the wire as strings.
macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $var:ident = $s:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vmeta])* $var),+
        }

        impl $name {
            /// Every value, in the order the contract lists them.
            pub const ALL: &'static [$name] = &[$($name::$var),+];

            /// The wire string.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$var => $s),+
                }
            }

            /// Reads the wire string (exact, case-sensitive).
            pub fn parse(s: &str) -> Option<Self> {
                match s {
                    $($s => Some($name::$var),)+
                    _ => None,
                }
            }

            /// The wire strings, quoted and joined, for error messages.
            pub fn expected() -> String {
                Self::ALL.iter().map(|v| format!("\"{}\"", v.as_str())).collect::<Vec<_>>().join(", ")
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

wire_enum! {
    /// The `type` of an event.
    EventType {
        AccountOpened = "account_opened",
        Login = "login",
        CredentialChanged = "credential_changed",
        LinkRequested = "link_requested",
        LinkVerified = "link_verified",
        LinkRevoked = "link_revoked",
        PayeeRegistered = "payee_registered",
        Charge = "charge",
        Transfer = "transfer",
        Withdrawal = "withdrawal",
        Trade = "trade",
        CryptoWithdrawal = "crypto_withdrawal",
        WalletBalance = "wallet_balance",
        CardPayment = "card_payment",
        FraudReported = "fraud_reported",
    }
}

wire_enum! {
    /// How the customer's identity was checked when an account was opened.
    Kyc {
        IcChip = "ic_chip",
        PhotoId = "photo_id",
        Mail = "mail",
        InPerson = "in_person",
        None = "none",
    }
}

wire_enum! {
    /// How a customer logged in.
    LoginMethod {
        Password = "password",
        Otp = "otp",
        Sms = "sms",
        Passkey = "passkey",
    }
}

wire_enum! {
    /// Which credential changed.
    Credential {
        Password = "password",
        Email = "email",
        Phone = "phone",
        Device = "device",
        Pin = "pin",
    }
}

wire_enum! {
    /// How a wallet authenticated the bank account it links to.
    LinkAuth {
        PinOnly = "pin_only",
        Otp = "otp",
        Passkey = "passkey",
        Ekyc = "ekyc",
    }
}

wire_enum! {
    /// Direction of a bank transfer, seen from `account`.
    Direction {
        Out = "out",
        In = "in",
    }
}

wire_enum! {
    /// Side of a trade.
    Side {
        Buy = "buy",
        Sell = "sell",
    }
}

wire_enum! {
    /// Tier of an exchange's wallet.
    WalletTier {
        Hot = "hot",
        Cold = "cold",
    }
}

wire_enum! {
    /// Who reported a fraud.
    ReportSource {
        Customer = "customer",
        Institution = "institution",
        Police = "police",
    }
}

/// Fields every event type accepts.
pub const COMMON_FIELDS: &[&str] =
    &["id", "type", "time", "institution", "customer", "account", "amount", "currency", "device", "ip", "attributes"];

impl EventType {
    /// The fields of this type beyond the common ones.
    pub const fn extra_fields(self) -> &'static [&'static str] {
        match self {
            EventType::AccountOpened => &["kyc", "holder"],
            EventType::Login => &["success", "method"],
            EventType::CredentialChanged => &["what", "holder"],
            EventType::LinkRequested => &["link", "bank", "wallet", "holder", "auth"],
            EventType::LinkVerified | EventType::LinkRevoked => &["link"],
            EventType::PayeeRegistered => &["payee", "holder"],
            EventType::Charge => &["link"],
            EventType::Transfer => &["direction", "counterparty", "holder"],
            EventType::Withdrawal => &["payee"],
            EventType::Trade => &["side", "instrument", "quantity"],
            EventType::CryptoWithdrawal => &["asset", "wallet", "to_address"],
            EventType::WalletBalance => &["asset", "hot", "cold", "customer_total"],
            EventType::CardPayment => &["card", "merchant", "terminal"],
            EventType::FraudReported => &["events", "source"],
        }
    }

    /// The fields this type requires besides `id`, `type` and `time`. `login` and
    /// `credential_changed` also need `customer` or `account` (not listed here).
    pub const fn required(self) -> &'static [&'static str] {
        match self {
            EventType::AccountOpened => &["account", "kyc"],
            EventType::Login => &["success"],
            EventType::CredentialChanged => &["what"],
            EventType::LinkRequested => &["link", "bank", "wallet", "auth"],
            EventType::LinkVerified | EventType::LinkRevoked => &["link"],
            EventType::PayeeRegistered => &["account", "payee"],
            EventType::Charge => &["account", "link", "amount"],
            EventType::Transfer => &["account", "direction", "counterparty", "amount"],
            EventType::Withdrawal => &["account", "payee", "amount"],
            EventType::Trade => &["account", "side", "instrument", "quantity", "amount"],
            EventType::CryptoWithdrawal => &["account", "asset", "amount", "wallet", "to_address"],
            EventType::WalletBalance => &["asset", "hot", "cold", "customer_total"],
            EventType::CardPayment => &["card", "merchant", "amount"],
            EventType::FraudReported => &["events", "source"],
        }
    }

    /// Whether events of this type move money and so need an `amount`.
    pub const fn is_money(self) -> bool {
        matches!(
            self,
            EventType::Charge
                | EventType::Transfer
                | EventType::Withdrawal
                | EventType::Trade
                | EventType::CryptoWithdrawal
                | EventType::CardPayment
        )
    }

    /// Whether `field` is accepted on events of this type.
    pub fn accepts(self, field: &str) -> bool {
        COMMON_FIELDS.contains(&field) || self.extra_fields().contains(&field)
    }
}

/// An account of another institution: `{"institution": "...", "account": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ref {
    pub institution: String,
    pub account: String,
}

/// A kana name as sent, with its [`crate::kana::kana_match_key`] computed once.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct KanaName {
    raw: Secret<String>,
    key: Secret<String>,
}

impl KanaName {
    pub fn new(raw: impl Into<String>) -> Self {
        let raw: String = raw.into();
        let key = crate::kana::kana_match_key(&raw);
        KanaName { raw: Secret::new(raw), key: Secret::new(key) }
    }
    /// The name as sent.
    pub fn expose(&self) -> &str {
        self.raw.expose()
    }
    /// The normalised key names are compared by.
    pub fn expose_key(&self) -> &str {
        self.key.expose()
    }
}

impl fmt::Debug for KanaName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KanaName(***)")
    }
}

/// The holder of an account as one party knows them. Every field is optional and
/// personal, so `Debug` masks them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Holder {
    pub name_kana: Option<KanaName>,
    pub name: Option<Secret<String>>,
    /// `YYYY-MM-DD`, a valid calendar date.
    pub birth_date: Option<Secret<String>>,
    pub phone: Option<Secret<String>>,
    pub email: Option<Secret<String>>,
}

/// The fields of a holder object.
pub const HOLDER_FIELDS: &[&str] = &["name_kana", "name", "birth_date", "phone", "email"];

/// An exchange's wallet a crypto withdrawal leaves from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CryptoWallet {
    pub id: String,
    pub tier: WalletTier,
}

/// An IP address with its canonical text (kept so that rules read it without allocating).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Ip {
    addr: IpAddr,
    text: String,
}

impl Ip {
    pub fn addr(&self) -> IpAddr {
        self.addr
    }
    /// The canonical text (`2001:db8::1`, not `2001:0db8:0:0::1`).
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl From<IpAddr> for Ip {
    fn from(addr: IpAddr) -> Self {
        Ip { addr, text: addr.to_string() }
    }
}

impl fmt::Debug for Ip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.addr {
            IpAddr::V4(_) => f.write_str("Ip(v4 ***)"),
            IpAddr::V6(_) => f.write_str("Ip(v6 ***)"),
        }
    }
}

/// The fields of an event's type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    AccountOpened {
        kyc: Kyc,
        holder: Option<Box<Holder>>,
    },
    Login {
        success: bool,
        method: Option<LoginMethod>,
    },
    /// `holder`, when sent, carries the new e-mail or phone (what the institution now
    /// reaches the customer at).
    CredentialChanged {
        what: Credential,
        holder: Option<Box<Holder>>,
    },
    LinkRequested {
        link: String,
        bank: Ref,
        wallet: Ref,
        holder: Option<Box<Holder>>,
        auth: LinkAuth,
    },
    LinkVerified {
        link: String,
    },
    LinkRevoked {
        link: String,
    },
    PayeeRegistered {
        payee: Ref,
        holder: Option<Box<Holder>>,
    },
    Charge {
        link: String,
    },
    Transfer {
        direction: Direction,
        counterparty: Ref,
        holder: Option<Box<Holder>>,
    },
    Withdrawal {
        payee: Ref,
    },
    Trade {
        side: Side,
        instrument: String,
        quantity: Decimal,
    },
    CryptoWithdrawal {
        asset: String,
        wallet: CryptoWallet,
        to_address: Secret<String>,
    },
    WalletBalance {
        asset: String,
        hot: Decimal,
        cold: Decimal,
        customer_total: Decimal,
    },
    CardPayment {
        card: Secret<String>,
        merchant: String,
        terminal: Option<String>,
    },
    FraudReported {
        events: Vec<String>,
        source: ReportSource,
    },
}

impl EventKind {
    pub fn event_type(&self) -> EventType {
        match self {
            EventKind::AccountOpened { .. } => EventType::AccountOpened,
            EventKind::Login { .. } => EventType::Login,
            EventKind::CredentialChanged { .. } => EventType::CredentialChanged,
            EventKind::LinkRequested { .. } => EventType::LinkRequested,
            EventKind::LinkVerified { .. } => EventType::LinkVerified,
            EventKind::LinkRevoked { .. } => EventType::LinkRevoked,
            EventKind::PayeeRegistered { .. } => EventType::PayeeRegistered,
            EventKind::Charge { .. } => EventType::Charge,
            EventKind::Transfer { .. } => EventType::Transfer,
            EventKind::Withdrawal { .. } => EventType::Withdrawal,
            EventKind::Trade { .. } => EventType::Trade,
            EventKind::CryptoWithdrawal { .. } => EventType::CryptoWithdrawal,
            EventKind::WalletBalance { .. } => EventType::WalletBalance,
            EventKind::CardPayment { .. } => EventType::CardPayment,
            EventKind::FraudReported { .. } => EventType::FraudReported,
        }
    }

    /// The holder this event carries, if any.
    pub fn holder(&self) -> Option<&Holder> {
        match self {
            EventKind::AccountOpened { holder, .. }
            | EventKind::CredentialChanged { holder, .. }
            | EventKind::LinkRequested { holder, .. }
            | EventKind::PayeeRegistered { holder, .. }
            | EventKind::Transfer { holder, .. } => holder.as_deref(),
            _ => None,
        }
    }

    /// The link id of a `link_*` or `charge` event.
    pub fn link(&self) -> Option<&str> {
        match self {
            EventKind::LinkRequested { link, .. }
            | EventKind::LinkVerified { link }
            | EventKind::LinkRevoked { link }
            | EventKind::Charge { link } => Some(link),
            _ => None,
        }
    }
}

/// One event of the v1 contract. `Debug` shows no personal data. `clone_from` keeps the
/// room of the event written over (its strings and attribute table), so that a reader
/// making many events from one template can reuse old ones.
///
/// The fields are laid out in the order written (`repr(C)`): the amount and time, read of
/// nearly every event and held in place rather than behind a pointer, lie side by side at
/// the end, where a reader asking ahead for an event's lines by its fields finds them.
/// (Left to the compiler, the amount ran across a line's end, into a line no field starts
/// on, and was read from memory after everything else of the event.)
#[derive(PartialEq)]
#[repr(C)]
pub struct Event {
    /// 1..128 characters, unique per institution.
    pub id: String,
    /// ISO 4217 code or crypto ticker; `JPY` when absent (the asset for `crypto_withdrawal`).
    pub currency: String,
    /// Extra fields for rules (`event.attributes.*`).
    pub attributes: Map<String, Json>,
    /// The reporting institution; the service fills in the API key's when absent.
    pub institution: Option<String>,
    /// The institution's own customer id.
    pub customer: Option<String>,
    /// The institution's own id of the account acting in the event.
    pub account: Option<String>,
    pub device: Option<String>,
    pub kind: EventKind,
    /// `> 0`, with no more places than `currency` allows. Required on money events.
    pub amount: Option<Decimal>,
    /// When it happened (event time).
    pub time: Timestamp,
    pub ip: Option<Box<Ip>>,
}

impl Event {
    pub fn event_type(&self) -> EventType {
        self.kind.event_type()
    }

    /// Parses and validates one event from JSON bytes. Every problem is reported.
    pub fn from_json_slice(bytes: &[u8]) -> Result<Event, EventErrors> {
        let value = parse::strict_json(bytes).map_err(|e| EventErrors::one("", format!("malformed JSON: {e}")))?;
        Self::from_json_value(&value)
    }

    /// Parses JSON as strictly as events are read (duplicate keys refused, numbers kept
    /// exact), for bodies that hold more than one event.
    pub fn parse_json(bytes: &[u8]) -> Result<Json, serde_json::Error> {
        parse::strict_json(bytes)
    }

    /// Validates one event given as a JSON value. Every problem is reported.
    pub fn from_json_value(value: &Json) -> Result<Event, EventErrors> {
        parse::event_from_json(value)
    }

    /// Validates one event given field by field: the same checks, errors and event as
    /// [`Event::from_json_value`] on an object with those fields.
    pub fn from_fields(fields: EventFields) -> Result<Event, EventErrors> {
        parse::event_from_fields(fields)
    }

    /// The canonical v1 JSON form: [`Event::from_json_value`] reads it back to an equal event.
    pub fn to_json(&self) -> Json {
        let mut m = Map::new();
        m.insert("id".into(), Json::String(self.id.clone()));
        m.insert("type".into(), Json::String(self.event_type().as_str().into()));
        m.insert("time".into(), Json::String(format_time(self.time)));
        put_opt(&mut m, "institution", self.institution.as_deref());
        put_opt(&mut m, "customer", self.customer.as_deref());
        put_opt(&mut m, "account", self.account.as_deref());
        if let Some(a) = self.amount {
            m.insert("amount".into(), decimal_json(a));
        }
        m.insert("currency".into(), Json::String(self.currency.clone()));
        put_opt(&mut m, "device", self.device.as_deref());
        put_opt(&mut m, "ip", self.ip.as_deref().map(Ip::as_str));
        match &self.kind {
            EventKind::AccountOpened { kyc, holder } => {
                put_str(&mut m, "kyc", kyc.as_str());
                put_holder(&mut m, holder.as_deref());
            }
            EventKind::Login { success, method } => {
                m.insert("success".into(), Json::Bool(*success));
                put_opt(&mut m, "method", method.map(LoginMethod::as_str));
            }
            EventKind::CredentialChanged { what, holder } => {
                put_str(&mut m, "what", what.as_str());
                put_holder(&mut m, holder.as_deref());
            }
            EventKind::LinkRequested { link, bank, wallet, holder, auth } => {
                put_str(&mut m, "link", link);
                m.insert("bank".into(), ref_json(bank));
                m.insert("wallet".into(), ref_json(wallet));
                put_holder(&mut m, holder.as_deref());
                put_str(&mut m, "auth", auth.as_str());
            }
            EventKind::LinkVerified { link } | EventKind::LinkRevoked { link } | EventKind::Charge { link } => {
                put_str(&mut m, "link", link)
            }
            EventKind::PayeeRegistered { payee, holder } => {
                m.insert("payee".into(), ref_json(payee));
                put_holder(&mut m, holder.as_deref());
            }
            EventKind::Transfer { direction, counterparty, holder } => {
                put_str(&mut m, "direction", direction.as_str());
                m.insert("counterparty".into(), ref_json(counterparty));
                put_holder(&mut m, holder.as_deref());
            }
            EventKind::Withdrawal { payee } => {
                m.insert("payee".into(), ref_json(payee));
            }
            EventKind::Trade { side, instrument, quantity } => {
                put_str(&mut m, "side", side.as_str());
                put_str(&mut m, "instrument", instrument);
                m.insert("quantity".into(), decimal_json(*quantity));
            }
            EventKind::CryptoWithdrawal { asset, wallet, to_address } => {
                put_str(&mut m, "asset", asset);
                let mut w = Map::new();
                put_str(&mut w, "id", &wallet.id);
                put_str(&mut w, "tier", wallet.tier.as_str());
                m.insert("wallet".into(), Json::Object(w));
                put_str(&mut m, "to_address", to_address.expose());
            }
            EventKind::WalletBalance { asset, hot, cold, customer_total } => {
                put_str(&mut m, "asset", asset);
                m.insert("hot".into(), decimal_json(*hot));
                m.insert("cold".into(), decimal_json(*cold));
                m.insert("customer_total".into(), decimal_json(*customer_total));
            }
            EventKind::CardPayment { card, merchant, terminal } => {
                put_str(&mut m, "card", card.expose());
                put_str(&mut m, "merchant", merchant);
                put_opt(&mut m, "terminal", terminal.as_deref());
            }
            EventKind::FraudReported { events, source } => {
                m.insert("events".into(), Json::Array(events.iter().map(|e| Json::String(e.clone())).collect()));
                put_str(&mut m, "source", source.as_str());
            }
        }
        if !self.attributes.is_empty() {
            m.insert("attributes".into(), Json::Object(self.attributes.clone()));
        }
        Json::Object(m)
    }

    /// The canonical JSON form as bytes.
    pub fn to_json_vec(&self) -> Vec<u8> {
        serde_json::to_vec(&self.to_json()).unwrap_or_default()
    }
}

/// RFC 3339 in UTC with as many fractional digits as the microseconds need.
fn format_time(t: Timestamp) -> String {
    match jiff::Timestamp::from_microsecond(t.as_micros()) {
        Ok(ts) => ts.to_string(),
        Err(_) => t.to_rfc3339(),
    }
}

fn decimal_json(d: Decimal) -> Json {
    Json::String(d.normalize().to_string())
}

fn put_str(m: &mut Map<String, Json>, k: &str, v: &str) {
    m.insert(k.into(), Json::String(v.into()));
}

fn put_opt(m: &mut Map<String, Json>, k: &str, v: Option<&str>) {
    if let Some(v) = v {
        put_str(m, k, v);
    }
}

fn ref_json(r: &Ref) -> Json {
    let mut m = Map::new();
    put_str(&mut m, "institution", &r.institution);
    put_str(&mut m, "account", &r.account);
    Json::Object(m)
}

fn put_holder(m: &mut Map<String, Json>, h: Option<&Holder>) {
    let Some(h) = h else { return };
    let mut o = Map::new();
    put_opt(&mut o, "name_kana", h.name_kana.as_ref().map(KanaName::expose));
    put_opt(&mut o, "name", h.name.as_ref().map(|s| s.expose().as_str()));
    put_opt(&mut o, "birth_date", h.birth_date.as_ref().map(|s| s.expose().as_str()));
    put_opt(&mut o, "phone", h.phone.as_ref().map(|s| s.expose().as_str()));
    put_opt(&mut o, "email", h.email.as_ref().map(|s| s.expose().as_str()));
    m.insert("holder".into(), Json::Object(o));
}

impl Clone for Event {
    fn clone(&self) -> Self {
        Event {
            id: self.id.clone(),
            time: self.time,
            institution: self.institution.clone(),
            customer: self.customer.clone(),
            account: self.account.clone(),
            amount: self.amount,
            currency: self.currency.clone(),
            device: self.device.clone(),
            ip: self.ip.clone(),
            attributes: self.attributes.clone(),
            kind: self.kind.clone(),
        }
    }

    fn clone_from(&mut self, source: &Self) {
        // Taken apart, so that a field added later is not forgotten here.
        let Event { id, time, institution, customer, account, amount, currency, device, ip, attributes, kind } = self;
        id.clone_from(&source.id);
        *time = source.time;
        institution.clone_from(&source.institution);
        customer.clone_from(&source.customer);
        account.clone_from(&source.account);
        *amount = source.amount;
        currency.clone_from(&source.currency);
        device.clone_from(&source.device);
        ip.clone_from(&source.ip);
        if attributes.len() == source.attributes.len() && attributes.keys().eq(source.attributes.keys()) {
            // The same names in the same order (events of one template): only the values
            // are written over, and the names keep their room.
            for (v, from) in attributes.values_mut().zip(source.attributes.values()) {
                v.clone_from(from);
            }
        } else {
            attributes.clone_from(&source.attributes);
        }
        kind.clone_from(&source.kind);
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Keys<'a>(&'a Map<String, Json>);
        impl fmt::Debug for Keys<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_set().entries(self.0.keys()).finish()
            }
        }
        f.debug_struct("Event")
            .field("id", &self.id)
            .field("type", &self.event_type().as_str())
            .field("time", &self.time)
            .field("institution", &self.institution)
            .field("customer", &self.customer)
            .field("account", &self.account)
            .field("amount", &self.amount)
            .field("currency", &self.currency)
            .field("device", &self.device.as_deref().map(|d| mask_tail(d, 4)))
            .field("ip", &self.ip)
            .field("kind", &self.kind)
            .field("attributes", &Keys(&self.attributes))
            .finish()
    }
}

/// One problem with an event: where (a JSON Pointer, RFC 6901) and why.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct FieldError {
    /// `""` for the whole document, `"/amount"`, `"/holder/birth_date"`, `"/events/2"`.
    pub pointer: String,
    pub reason: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.pointer.is_empty() { f.write_str(&self.reason) } else { write!(f, "{}: {}", self.pointer, self.reason) }
    }
}

/// Every problem found in an event (never empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventErrors {
    pub errors: Vec<FieldError>,
}

impl EventErrors {
    pub fn one(pointer: impl Into<String>, reason: impl Into<String>) -> Self {
        EventErrors { errors: vec![FieldError { pointer: pointer.into(), reason: reason.into() }] }
    }
    pub fn iter(&self) -> std::slice::Iter<'_, FieldError> {
        self.errors.iter()
    }
    pub fn len(&self) -> usize {
        self.errors.len()
    }
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }
    /// The first error at `pointer`, if any.
    pub fn at(&self, pointer: &str) -> Option<&FieldError> {
        self.errors.iter().find(|e| e.pointer == pointer)
    }
}

impl fmt::Display for EventErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid event: ")?;
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            fmt::Display::fmt(e, f)?;
        }
        Ok(())
    }
}

impl std::error::Error for EventErrors {}

impl<'a> IntoIterator for &'a EventErrors {
    type Item = &'a FieldError;
    type IntoIter = std::slice::Iter<'a, FieldError>;
    fn into_iter(self) -> Self::IntoIter {
        self.errors.iter()
    }
}

/// Escapes one reference token of a JSON Pointer (RFC 6901): `~` as `~0`, `/` as `~1`.
pub fn escape_pointer_token(token: &str) -> std::borrow::Cow<'_, str> {
    if token.contains(['~', '/']) { token.replace('~', "~0").replace('/', "~1").into() } else { token.into() }
}
