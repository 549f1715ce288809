//! What the network knows of accounts, links and partners beyond features: the channels
//! each institution registered for its accounts, every link between a bank account and a
//! wallet with its state and history, partner controls, and freezes after "this wasn't
//! me".
//!
//! It changes only through events ([`Registry::settle`]) and the service's own records
//! ([`Registry::apply`]), in the store's order, so that replaying the store rebuilds it;
//! [`Registry::assess`] reads it to add its reasons to a decision.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

use mamori_core::Timestamp;
use mamori_core::event::{Event, EventKind, Holder};
use mamori_rules::{Action, Decision, Reason};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::journal::Record;

/// Wrong codes after which a link is locked (PSD2 RTS art. 4: at most five).
pub const MAX_FAILURES: u32 = 5;

/// An institution's account.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AccountRef {
    pub institution: String,
    pub account: String,
}

impl AccountRef {
    pub fn new(institution: &str, account: &str) -> AccountRef {
        AccountRef { institution: institution.to_string(), account: account.to_string() }
    }

    /// The account an event acts on: its institution's `account`.
    pub fn of(e: &Event) -> Option<AccountRef> {
        Some(AccountRef::new(e.institution.as_deref()?, e.account.as_deref()?))
    }
}

impl fmt::Display for AccountRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} account {}", self.institution, self.account)
    }
}

/// What an institution registered for one of its accounts (from `account_opened` and
/// later `credential_changed`). Personal data: `Debug` shows none of it.
#[derive(Clone, Default, Serialize, Deserialize)]
struct Account {
    email: Option<String>,
    phone: Option<String>,
    name_key: Option<String>,
    birth_date: Option<String>,
    kyc: Option<String>,
    frozen: Option<Freeze>,
}

impl fmt::Debug for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Account")
            .field("email", &self.email.is_some())
            .field("phone", &self.phone.is_some())
            .field("kyc", &self.kyc)
            .field("frozen", &self.frozen)
            .finish_non_exhaustive()
    }
}

/// Where a link stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkState {
    /// Asked for; not active until the bank verifies it (its own flow reports
    /// `link_verified`) or the customer passes the challenge.
    Requested,
    /// A code was sent through the bank's registered channel.
    Challenged,
    Active,
    /// Too many wrong codes: never activated; a new request is needed.
    Locked,
    Revoked,
    /// The request was held or blocked.
    Refused,
}

impl LinkState {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkState::Requested => "requested",
            LinkState::Challenged => "challenged",
            LinkState::Active => "active",
            LinkState::Locked => "locked",
            LinkState::Revoked => "revoked",
            LinkState::Refused => "refused",
        }
    }

    fn pending(self) -> bool {
        matches!(self, LinkState::Requested | LinkState::Challenged)
    }
}

/// A code sent for a link: only a salted hash is kept.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Challenge {
    pub code_hash: [u8; 32],
    pub salt: [u8; 16],
    pub expires_us: i64,
    /// `email` or `sms` (the bank's webhook carries it to its SMS gateway).
    pub channel: String,
    /// Where it went, masked (`t***@example.jp`, `+81******5678`).
    pub to: String,
    pub issued_us: i64,
}

impl fmt::Debug for Challenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Challenge").field("expires_us", &self.expires_us).field("channel", &self.channel).finish_non_exhaustive()
    }
}

/// The salted hash a code is kept as.
pub fn code_hash(salt: &[u8; 16], link: &str, code: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(salt);
    h.update(link.as_bytes());
    h.update([0]);
    h.update(code.as_bytes());
    h.finalize().into()
}

/// One step of a link's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// RFC 3339.
    pub at: String,
    pub what: String,
    /// The institution that did it, or `customer`.
    pub by: String,
    pub detail: String,
}

/// How one part of the wallet's holder compares with the bank's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    Match,
    Mismatch,
    /// One side does not have it.
    Missing,
}

impl Part {
    fn of(a: Option<&str>, b: Option<&str>) -> Part {
        match (a, b) {
            (Some(a), Some(b)) if a == b => Part::Match,
            (Some(_), Some(_)) => Part::Mismatch,
            _ => Part::Missing,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Part::Match => "match",
            Part::Mismatch => "mismatch",
            Part::Missing => "not on both sides",
        }
    }
}

/// The wallet's holder against the bank's: normalised katakana name, birth date, phone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// `match` (name matches and nothing mismatches), `partial` (only the phone differs or
    /// the name is missing), `mismatch` (name or birth date differ), `unknown` (nothing to
    /// compare).
    pub result: String,
    pub name: Part,
    pub birth_date: Part,
    pub phone: Part,
}

impl Identity {
    fn compare(bank: Option<&Account>, wallet: Option<&Holder>) -> Identity {
        let name_key = wallet.and_then(|h| h.name_kana.as_ref()).map(|n| n.expose_key().to_string());
        let birth = wallet.and_then(|h| h.birth_date.as_ref()).map(|s| s.expose().as_str());
        let phone = wallet.and_then(|h| h.phone.as_ref()).map(|s| normalise_phone(s.expose()));
        let name = Part::of(bank.and_then(|a| a.name_key.as_deref()), name_key.as_deref());
        let birth_date = Part::of(bank.and_then(|a| a.birth_date.as_deref()), birth);
        let phone = Part::of(bank.and_then(|a| a.phone.as_deref()), phone.as_deref());
        let parts = [name, birth_date, phone];
        let result = if name == Part::Mismatch || birth_date == Part::Mismatch {
            "mismatch"
        } else if parts.iter().all(|p| *p == Part::Missing) {
            "unknown"
        } else if name == Part::Match && phone != Part::Mismatch {
            "match"
        } else {
            "partial"
        };
        Identity { result: result.to_string(), name, birth_date, phone }
    }

    fn detail(&self) -> String {
        format!(
            "identity {}: name (katakana, normalised) {}, birth date {}, phone {}",
            self.result,
            self.name.as_str(),
            self.birth_date.as_str(),
            self.phone.as_str()
        )
    }
}

/// Digits only, with a leading `+` kept: `090-1234-5678` and `09012345678` compare equal.
fn normalise_phone(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    for (i, c) in p.chars().enumerate() {
        if c.is_ascii_digit() || (i == 0 && c == '+') {
            out.push(c);
        }
    }
    // A Japanese number written nationally (0 + 9 or 10 digits) and internationally (+81).
    if let Some(rest) = out.strip_prefix('0')
        && (rest.len() == 9 || rest.len() == 10)
    {
        return format!("+81{rest}");
    }
    out
}

/// A freeze after a report: money movements on the link or account are held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Freeze {
    pub report: String,
    /// RFC 3339.
    pub at: String,
    /// The institution that reported, or `customer` (with a report code).
    pub by: String,
}

/// A link between a bank account and a wallet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub id: String,
    pub bank: AccountRef,
    pub wallet: AccountRef,
    /// How the request was authenticated (`pin_only`, `otp`, `passkey`, `ekyc`).
    pub auth: String,
    pub state: LinkState,
    pub requested_at_us: i64,
    pub active_since_us: Option<i64>,
    /// `challenge` (the code sent by mamori), or the institution that reported it verified.
    pub verified_by: Option<String>,
    /// Wrong codes so far.
    pub failures: u32,
    pub challenge: Option<Challenge>,
    pub identity: Identity,
    pub frozen: Option<Freeze>,
    pub history: Vec<Step>,
    /// The events on the link (institution, id): its request, verification, charges.
    pub events: Vec<(String, String)>,
}

impl Link {
    /// Whether `institution` is the bank's or the wallet's.
    pub fn party(&self, institution: &str) -> bool {
        self.bank.institution == institution || self.wallet.institution == institution
    }

    fn step(&mut self, at: Timestamp, what: &str, by: &str, detail: String) {
        self.history.push(Step { at: at.to_rfc3339(), what: what.to_string(), by: by.to_string(), detail });
    }
}

/// An institution's controls over links with one partner (A4, A5).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Controls {
    /// No new links with the partner.
    pub suspend_links: bool,
    /// No charges through links with the partner.
    pub suspend_charges: bool,
    /// The weakest KYC method of the partner's account a new link may name.
    pub min_kyc: Option<String>,
    /// Every change, oldest first.
    pub history: Vec<ControlChange>,
}

/// One change of a partner's controls: what was set, by whom, why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlChange {
    pub at: String,
    pub institution: String,
    pub by: String,
    pub reason: String,
    pub suspend_links: bool,
    pub suspend_charges: bool,
    pub min_kyc: Option<String>,
}

/// The KYC methods from weakest to strongest (`in_person` and `ic_chip` rank equal).
pub fn kyc_rank(kyc: &str) -> Option<u8> {
    match kyc {
        "none" => Some(0),
        "mail" => Some(1),
        "photo_id" => Some(2),
        "ic_chip" | "in_person" => Some(3),
        _ => None,
    }
}

/// Why a code was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("no link {0:?}")]
    Unknown(String),
    #[error("link {0:?} is not one of this institution's links")]
    NotYours(String),
    #[error("link {0:?} is already active")]
    AlreadyVerified(String),
    #[error("link {0:?} is locked after {MAX_FAILURES} wrong codes; the customer must ask for a new link")]
    Locked(String),
    #[error("link {link:?} is {state}: it cannot be verified")]
    Closed { link: String, state: &'static str },
    #[error("no code was sent for link {0:?}")]
    NoChallenge(String),
    #[error("the code for link {0:?} expired; ask for a new one")]
    Expired(String),
}

/// What a "this wasn't me" report freezes and labels.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    /// The event the notice was about (institution, id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<(String, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<AccountRef>,
}

/// A notice the registry asks for: what to say, to whose customer, and which registered
/// channels reach them.
#[derive(Debug, Clone)]
pub struct Planned {
    /// Whose customer (the institution whose webhook is told; the one the code belongs to).
    pub owner: AccountRef,
    pub kind: mamori_notify::Kind,
    pub counterparty: Option<String>,
    pub link: Option<String>,
    /// The registered e-mail, if any.
    pub email: Option<String>,
    /// What a report with this notice's code freezes.
    pub subject: Subject,
    /// A date the notice names (when a claim is paid by), µs since the epoch.
    pub expires: Option<i64>,
}

/// Accounts, links, partner controls and freezes. See the module documentation.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Registry {
    accounts: HashMap<AccountRef, Account>,
    links: HashMap<String, Link>,
    /// Link ids by bank or wallet account.
    by_account: HashMap<AccountRef, Vec<String>>,
    /// (institution, partner) → controls the institution set on links with the partner.
    controls: BTreeMap<(String, String), Controls>,
    used_codes: HashSet<[u8; 32]>,
    reports: u64,
}

fn reason(rule: &str, action: Action, score: i64, detail: String) -> Reason {
    Reason { rule: rule.to_string(), score, action, detail }
}

fn raise(d: &mut Decision, r: Reason) {
    if r.action > d.action {
        d.action = r.action;
    }
    d.score += r.score;
    d.reasons.push(r);
}

/// Whether an event takes money out of the account it names.
pub fn moves_money_out(e: &Event) -> bool {
    match &e.kind {
        EventKind::Charge { .. } | EventKind::Withdrawal { .. } | EventKind::CryptoWithdrawal { .. } => true,
        EventKind::Transfer { direction, .. } => direction.as_str() == "out",
        _ => false,
    }
}

impl Registry {
    pub fn link(&self, id: &str) -> Option<&Link> {
        self.links.get(id)
    }

    /// The links of an account (as the bank's or the wallet's), oldest request first.
    pub fn links_of(&self, account: &AccountRef) -> Vec<&Link> {
        let mut out: Vec<&Link> = self.by_account.get(account).into_iter().flatten().filter_map(|id| self.links.get(id)).collect();
        out.sort_by(|a, b| a.requested_at_us.cmp(&b.requested_at_us).then_with(|| a.id.cmp(&b.id)));
        out
    }

    /// The controls `institution` set on `partner`.
    pub fn controls(&self, institution: &str, partner: &str) -> Option<&Controls> {
        self.controls.get(&(institution.to_string(), partner.to_string()))
    }

    /// Every partner `institution` set controls on.
    pub fn partners(&self, institution: &str) -> impl Iterator<Item = (&str, &Controls)> {
        self.controls.iter().filter(move |((i, _), _)| i == institution).map(|((_, p), c)| (p.as_str(), c))
    }

    /// Whether a report was already made with this code.
    pub fn code_used(&self, hash: &[u8; 32]) -> bool {
        self.used_codes.contains(hash)
    }

    /// The next report's number (for its id).
    pub fn next_report(&self) -> u64 {
        self.reports + 1
    }

    /// The freeze on an account, if any.
    pub fn account_frozen(&self, a: &AccountRef) -> Option<&Freeze> {
        self.accounts.get(a).and_then(|acc| acc.frozen.as_ref())
    }

    /// The KYC method an account was opened with, if it was reported.
    pub fn kyc_of(&self, a: &AccountRef) -> Option<&str> {
        self.accounts.get(a).and_then(|acc| acc.kyc.as_deref())
    }

    /// The e-mail and phone the institution registered for an account.
    pub fn contacts(&self, a: &AccountRef) -> (Option<&str>, Option<&str>) {
        self.accounts.get(a).map_or((None, None), |acc| (acc.email.as_deref(), acc.phone.as_deref()))
    }

    /// The e-mail the institution registered for an account.
    pub fn email_of(&self, a: &AccountRef) -> Option<&str> {
        self.accounts.get(a).and_then(|acc| acc.email.as_deref())
    }

    /// The channel a link's code may go to: the e-mail, else the phone (by the bank's
    /// webhook), the bank registered for the account, never one from the request.
    /// `(channel, address)`.
    pub fn registered_channel(&self, bank: &AccountRef) -> Option<(&'static str, &str)> {
        let acc = self.accounts.get(bank)?;
        match (&acc.email, &acc.phone) {
            (Some(e), _) => Some(("email", e)),
            (None, Some(p)) => Some(("sms", p)),
            (None, None) => None,
        }
    }

    /// The controls either of two institutions set on the other, with who set them.
    fn controls_between<'a>(&'a self, a: &'a str, b: &'a str) -> impl Iterator<Item = (&'a str, &'a Controls)> {
        [(a, b), (b, a)].into_iter().filter_map(|(i, p)| self.controls(i, p).map(|c| (i, c)))
    }

    /// Adds the registry's reasons to `d`: identity, partner controls, the state of the
    /// link a charge goes through, freezes. Reads only.
    pub fn assess(&self, e: &Event, d: &mut Decision) {
        let reporter = e.institution.as_deref().unwrap_or_default();
        match &e.kind {
            EventKind::LinkRequested { link, bank, wallet, holder, .. } => {
                let bank = AccountRef::new(&bank.institution, &bank.account);
                let wallet = AccountRef::new(&wallet.institution, &wallet.account);
                let id = Identity::compare(self.accounts.get(&bank), holder.as_deref());
                raise(d, reason("identity", Action::Allow, 0, id.detail()));
                if let Some(existing) = self.links.get(link) {
                    if existing.bank != bank || existing.wallet != wallet {
                        let detail = format!("link id {link:?} already names another bank account and wallet");
                        raise(d, reason("link-id-conflict", Action::Block, 1000, detail));
                    } else if matches!(existing.state, LinkState::Locked | LinkState::Revoked | LinkState::Refused) {
                        let detail = format!("link {link:?} is {}; ask for a new link", existing.state.as_str());
                        raise(d, reason("link-closed", Action::Block, 1000, detail));
                    }
                }
                for (owner, c) in self.controls_between(&bank.institution, &wallet.institution) {
                    let partner = if owner == bank.institution { &wallet.institution } else { &bank.institution };
                    let last = c.history.last();
                    let why = last.map(|h| format!(" since {} ({}: {})", h.at, h.by, h.reason)).unwrap_or_default();
                    if c.suspend_links {
                        let detail = format!("{owner} suspended new links with {partner}{why}");
                        raise(d, reason("partner-links-suspended", Action::Block, 1000, detail));
                    }
                    if let Some(min) = &c.min_kyc
                        && partner == &wallet.institution
                    {
                        let kyc = self.accounts.get(&wallet).and_then(|a| a.kyc.as_deref());
                        let ok = kyc.and_then(kyc_rank).zip(kyc_rank(min)).is_some_and(|(k, m)| k >= m);
                        if !ok {
                            let detail = format!(
                                "the wallet account was opened with KYC {}; {owner} requires at least {min} for {partner}'s accounts",
                                kyc.unwrap_or("not reported")
                            );
                            raise(d, reason("partner-kyc-below-minimum", Action::Block, 1000, detail));
                        }
                    }
                }
            }
            EventKind::LinkVerified { link } => {
                let Some(l) = self.links.get(link) else { return };
                match l.state {
                    LinkState::Locked | LinkState::Revoked | LinkState::Refused => {
                        let detail = format!("link {link:?} is {}: it cannot become active", l.state.as_str());
                        raise(d, reason("link-closed", Action::Block, 1000, detail));
                    }
                    s if s.pending() && l.auth == "pin_only" && reporter != l.bank.institution => {
                        let detail = format!(
                            "link {link:?} was requested with only an account number and PIN; only the bank ({}) or the customer passing the challenge can activate it",
                            l.bank.institution
                        );
                        raise(d, reason("pin-only-link-unconfirmed", Action::Hold, 1000, detail));
                    }
                    _ => {}
                }
            }
            _ => {}
        }
        if !moves_money_out(e) {
            return;
        }
        if let Some(f) = AccountRef::of(e).as_ref().and_then(|a| self.account_frozen(a)) {
            let detail = format!("held: the account was reported (\"this wasn't me\") at {} by {} (report {})", f.at, f.by, f.report);
            raise(d, reason("reported", Action::Hold, 1000, detail));
        }
        let EventKind::Charge { link } = &e.kind else { return };
        let Some(l) = self.links.get(link) else { return };
        if let Some(f) = &l.frozen {
            let detail = format!("held: link {link:?} was reported (\"this wasn't me\") at {} by {} (report {})", f.at, f.by, f.report);
            raise(d, reason("reported", Action::Hold, 1000, detail));
        } else if let Some(f) = self.account_frozen(&l.bank) {
            let detail = format!("held: the bank account was reported (\"this wasn't me\") at {} by {} (report {})", f.at, f.by, f.report);
            raise(d, reason("reported", Action::Hold, 1000, detail));
        }
        match l.state {
            LinkState::Active => {}
            LinkState::Requested | LinkState::Challenged => {
                let detail = format!("charge through link {link:?}, which was never activated ({})", l.state.as_str());
                raise(d, reason("link-not-active", Action::Hold, 1000, detail));
            }
            s => {
                let detail = format!("charge through link {link:?}, which is {}", s.as_str());
                raise(d, reason("link-closed", Action::Block, 1000, detail));
            }
        }
        for (owner, c) in self.controls_between(&l.bank.institution, &l.wallet.institution) {
            if c.suspend_charges {
                let partner = if owner == l.bank.institution { &l.wallet.institution } else { &l.bank.institution };
                let last = c.history.last();
                let why = last.map(|h| format!(" since {} ({}: {})", h.at, h.by, h.reason)).unwrap_or_default();
                raise(
                    d,
                    reason("partner-charges-suspended", Action::Block, 1000, format!("{owner} suspended charges with {partner}{why}")),
                );
            }
        }
    }

    /// Applies what a decided event changes: registered channels, link states. `action`
    /// is the decision given (read back from the store on a replay).
    pub fn settle(&mut self, e: &Event, action: Action) {
        // Borrowed: most events (payments, trades) record nothing of their reporter here.
        let reporter: &str = e.institution.as_deref().unwrap_or_default();
        match &e.kind {
            EventKind::AccountOpened { kyc, holder } => {
                let Some(a) = AccountRef::of(e) else { return };
                let acc = self.accounts.entry(a).or_default();
                acc.kyc = Some(kyc.as_str().to_string());
                if let Some(h) = holder {
                    acc.name_key = h.name_kana.as_ref().map(|n| n.expose_key().to_string());
                    acc.birth_date = h.birth_date.as_ref().map(|s| s.expose().clone());
                    acc.phone = h.phone.as_ref().map(|s| normalise_phone(s.expose()));
                    acc.email = h.email.as_ref().map(|s| s.expose().clone());
                }
            }
            EventKind::CredentialChanged { holder: Some(h), .. } => {
                let Some(a) = AccountRef::of(e) else { return };
                let acc = self.accounts.entry(a).or_default();
                if let Some(p) = &h.phone {
                    acc.phone = Some(normalise_phone(p.expose()));
                }
                if let Some(m) = &h.email {
                    acc.email = Some(m.expose().clone());
                }
            }
            EventKind::LinkRequested { link, bank, wallet, holder, auth } => {
                let detail = format!("auth {}, decision {action}", auth.as_str());
                if let Some(l) = self.links.get_mut(link) {
                    l.step(e.time, "requested again", reporter, format!("{detail}; the link keeps its state"));
                    l.events.push((reporter.to_string(), e.id.clone()));
                    return;
                }
                let bank = AccountRef::new(&bank.institution, &bank.account);
                let wallet = AccountRef::new(&wallet.institution, &wallet.account);
                let identity = Identity::compare(self.accounts.get(&bank), holder.as_deref());
                let state = if action >= Action::Hold { LinkState::Refused } else { LinkState::Requested };
                let mut l = Link {
                    id: link.clone(),
                    bank: bank.clone(),
                    wallet: wallet.clone(),
                    auth: auth.as_str().to_string(),
                    state,
                    requested_at_us: e.time.as_micros(),
                    active_since_us: None,
                    verified_by: None,
                    failures: 0,
                    challenge: None,
                    identity,
                    frozen: None,
                    history: Vec::new(),
                    events: vec![(reporter.to_string(), e.id.clone())],
                };
                l.step(e.time, "requested", reporter, detail);
                for a in [bank, wallet] {
                    self.by_account.entry(a).or_default().push(link.clone());
                }
                self.links.insert(link.clone(), l);
            }
            EventKind::LinkVerified { link } => {
                let Some(l) = self.links.get_mut(link) else { return };
                l.events.push((reporter.to_string(), e.id.clone()));
                if action >= Action::Hold {
                    l.step(e.time, "verification refused", reporter, format!("decision {action}"));
                } else if l.state.pending() {
                    l.state = LinkState::Active;
                    l.active_since_us = Some(e.time.as_micros());
                    l.verified_by = Some(reporter.to_string());
                    l.challenge = None;
                    l.step(e.time, "activated", reporter, format!("reported verified by {reporter}"));
                }
            }
            EventKind::LinkRevoked { link } => {
                let Some(l) = self.links.get_mut(link) else { return };
                l.events.push((reporter.to_string(), e.id.clone()));
                if l.state != LinkState::Revoked {
                    l.state = LinkState::Revoked;
                    l.challenge = None;
                    l.step(e.time, "revoked", reporter, String::new());
                }
            }
            EventKind::Charge { link } => {
                if let Some(l) = self.links.get_mut(link) {
                    l.events.push((reporter.to_string(), e.id.clone()));
                }
            }
            _ => {}
        }
    }

    /// Applies one of the service's own records. Returns the link locked by it, if any.
    pub fn apply(&mut self, r: &Record) -> Option<String> {
        match r {
            Record::Challenge { link, code_hash, salt, expires_us, channel, to, by, at_us } => {
                let l = self.links.get_mut(link)?;
                l.challenge = Some(Challenge {
                    code_hash: *code_hash,
                    salt: *salt,
                    expires_us: *expires_us,
                    channel: channel.clone(),
                    to: to.clone(),
                    issued_us: *at_us,
                });
                if l.state == LinkState::Requested {
                    l.state = LinkState::Challenged;
                }
                l.step(
                    Timestamp(*at_us),
                    "code sent",
                    by,
                    format!("by {channel} to {to}, valid until {}", Timestamp(*expires_us).to_rfc3339()),
                );
            }
            Record::Attempt { link, ok, by, at_us } => {
                let l = self.links.get_mut(link)?;
                if *ok {
                    l.state = LinkState::Active;
                    l.active_since_us = Some(*at_us);
                    l.verified_by = Some("challenge".into());
                    l.challenge = None;
                    l.step(Timestamp(*at_us), "activated", by, "the customer entered the code sent to the registered channel".into());
                } else {
                    l.failures += 1;
                    let left = MAX_FAILURES.saturating_sub(l.failures);
                    l.step(Timestamp(*at_us), "wrong code", by, format!("{} wrong, {left} left", l.failures));
                    if l.failures >= MAX_FAILURES {
                        l.state = LinkState::Locked;
                        l.challenge = None;
                        l.step(Timestamp(*at_us), "locked", by, format!("{MAX_FAILURES} wrong codes"));
                        return Some(link.clone());
                    }
                }
            }
            Record::Control { institution, partner, suspend_links, suspend_charges, min_kyc, by, reason, at_us } => {
                let c = self.controls.entry((institution.clone(), partner.clone())).or_default();
                c.suspend_links = *suspend_links;
                c.suspend_charges = *suspend_charges;
                c.min_kyc = min_kyc.clone();
                c.history.push(ControlChange {
                    at: Timestamp(*at_us).to_rfc3339(),
                    institution: institution.clone(),
                    by: by.clone(),
                    reason: reason.clone(),
                    suspend_links: *suspend_links,
                    suspend_charges: *suspend_charges,
                    min_kyc: min_kyc.clone(),
                });
            }
            Record::Report { report, by, code_hash, subject, at_us } => {
                self.reports += 1;
                if let Some(h) = code_hash {
                    self.used_codes.insert(*h);
                }
                let freeze = Freeze { report: report.clone(), at: Timestamp(*at_us).to_rfc3339(), by: by.clone() };
                if let Some(id) = &subject.link
                    && let Some(l) = self.links.get_mut(id)
                {
                    l.frozen = Some(freeze.clone());
                    l.step(Timestamp(*at_us), "frozen", by, format!("report {report}: \"this wasn't me\""));
                }
                if let Some(a) = &subject.account {
                    self.accounts.entry(a.clone()).or_default().frozen = Some(freeze);
                }
            }
            Record::Case(_) | Record::Ruleset { .. } | Record::Outreach { .. } => {}
        }
        None
    }

    /// Checks `code` for `link` at `now_us`, called by `institution`: `Ok(true)` right,
    /// `Ok(false)` wrong (count it), or why it cannot be tried at all.
    pub fn check_code(&self, link: &str, code: &str, institution: &str, now_us: i64) -> Result<bool, CodeError> {
        let l = self.links.get(link).ok_or_else(|| CodeError::Unknown(link.into()))?;
        if !l.party(institution) {
            return Err(CodeError::NotYours(link.into()));
        }
        match l.state {
            LinkState::Active => return Err(CodeError::AlreadyVerified(link.into())),
            LinkState::Locked => return Err(CodeError::Locked(link.into())),
            LinkState::Revoked | LinkState::Refused => return Err(CodeError::Closed { link: link.into(), state: l.state.as_str() }),
            LinkState::Requested | LinkState::Challenged => {}
        }
        let c = l.challenge.as_ref().ok_or_else(|| CodeError::NoChallenge(link.into()))?;
        if now_us >= c.expires_us {
            return Err(CodeError::Expired(link.into()));
        }
        let given = code_hash(&c.salt, link, code.trim());
        // Compared whole, not byte by byte with an early exit.
        Ok(given.iter().zip(c.code_hash.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0)
    }

    /// The notices an event calls for (link changes; money leaving an account), to the
    /// customer whose account it is, through what the institution registered.
    pub fn plan(&self, e: &Event) -> Option<Planned> {
        use mamori_notify::Kind;
        let (owner, kind, counterparty, link, subject) = match &e.kind {
            EventKind::LinkRequested { link, bank, wallet, .. } => {
                let owner = AccountRef::new(&bank.institution, &bank.account);
                let cp = format!("{} account {}", wallet.institution, wallet.account);
                (owner, Kind::LinkRequested, Some(cp), Some(link.clone()), Subject { link: Some(link.clone()), ..Subject::default() })
            }
            EventKind::LinkVerified { link } | EventKind::LinkRevoked { link } => {
                let l = self.links.get(link)?;
                let kind = if matches!(e.kind, EventKind::LinkVerified { .. }) { Kind::LinkActivated } else { Kind::LinkRevoked };
                let cp = l.wallet.to_string();
                (l.bank.clone(), kind, Some(cp), Some(link.clone()), Subject { link: Some(link.clone()), ..Subject::default() })
            }
            EventKind::Charge { link } => {
                // The bank account the charge debits, when the link is known.
                let (owner, cp) = match self.links.get(link) {
                    Some(l) => (l.bank.clone(), l.wallet.to_string()),
                    None => (AccountRef::of(e)?, format!("link {link}")),
                };
                (owner, Kind::Charge, Some(cp), Some(link.clone()), Subject { link: Some(link.clone()), ..Subject::default() })
            }
            EventKind::Transfer { counterparty, .. } if moves_money_out(e) => {
                let owner = AccountRef::of(e)?;
                let cp = format!("{} account {}", counterparty.institution, counterparty.account);
                (owner.clone(), Kind::TransferOut, Some(cp), None, Subject { account: Some(owner), ..Subject::default() })
            }
            EventKind::Withdrawal { payee } => {
                let owner = AccountRef::of(e)?;
                let cp = format!("{} account {}", payee.institution, payee.account);
                (owner.clone(), Kind::Withdrawal, Some(cp), None, Subject { account: Some(owner), ..Subject::default() })
            }
            EventKind::CryptoWithdrawal { to_address, .. } => {
                let owner = AccountRef::of(e)?;
                let cp = to_address.expose().clone();
                (owner.clone(), Kind::CryptoWithdrawal, Some(cp), None, Subject { account: Some(owner), ..Subject::default() })
            }
            _ => return None,
        };
        let email = self.accounts.get(&owner).and_then(|a| a.email.clone());
        let subject = Subject { event: Some((e.institution.clone().unwrap_or_default(), e.id.clone())), ..subject };
        Some(Planned { owner, kind, counterparty, link, email, subject, expires: None })
    }
}

/// Masks an address for showing where a code went: `t***@example.jp`, `+81******5678`.
pub fn mask_address(a: &str) -> String {
    if let Some((user, domain)) = a.split_once('@') {
        let first: String = user.chars().take(1).collect();
        return format!("{first}***@{domain}");
    }
    let n = a.chars().count();
    a.chars().enumerate().map(|(i, c)| if i + 4 >= n || (i < 3 && c != ' ') { c } else { '*' }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_compare_as_written_nationally_or_internationally() {
        assert_eq!(normalise_phone("090-1234-5678"), "+819012345678");
        assert_eq!(normalise_phone("+81 90 1234 5678"), "+819012345678");
        assert_eq!(normalise_phone("03-1234-5678"), "+81312345678");
        assert_ne!(normalise_phone("090-1234-5679"), normalise_phone("090-1234-5678"));
    }

    #[test]
    fn addresses_are_masked() {
        assert_eq!(mask_address("taro@example.jp"), "t***@example.jp");
        assert_eq!(mask_address("+819012345678"), "+81******5678");
    }

    #[test]
    fn kyc_ranks_from_none_to_in_person() {
        assert!(kyc_rank("none") < kyc_rank("mail"));
        assert!(kyc_rank("mail") < kyc_rank("photo_id"));
        assert!(kyc_rank("photo_id") < kyc_rank("ic_chip"));
        assert_eq!(kyc_rank("ic_chip"), kyc_rank("in_person"));
        assert_eq!(kyc_rank("passport"), None);
    }

    fn ev(v: serde_json::Value) -> Event {
        Event::from_json_value(&v).unwrap()
    }

    fn opened(r: &mut Registry) {
        r.settle(
            &ev(serde_json::json!({"id": "o", "type": "account_opened", "time": "2026-01-01T00:00:00Z", "institution": "bank",
                "account": "b-1", "kyc": "in_person", "holder": {"name_kana": "ヤマダ タロウ", "birth_date": "1950-04-01",
                "phone": "090-1111-2222", "email": "taro@bank.example"}})),
            Action::Allow,
        );
    }

    fn request(link: &str, by: &str, auth: &str) -> Event {
        ev(serde_json::json!({"id": format!("r-{link}"), "type": "link_requested", "time": "2026-11-21T10:00:00Z", "institution": by,
            "link": link, "bank": {"institution": "bank", "account": "b-1"}, "wallet": {"institution": "wallet", "account": "w-1"},
            "holder": {"name_kana": "ﾔﾏﾀﾞ ﾀﾛｳ", "birth_date": "1950-04-01"}, "auth": auth}))
    }

    fn decided(r: &mut Registry, e: &Event) -> Decision {
        let mut d = Decision {
            action: Action::Allow,
            score: 0,
            reasons: Vec::new(),
            shadow: Vec::new(),
            ruleset: "sha256:test".into(),
            model: None,
        };
        r.assess(e, &mut d);
        r.settle(e, d.action);
        d
    }

    #[test]
    fn a_link_goes_from_requested_to_active_only_by_its_code_or_its_bank() {
        let mut r = Registry::default();
        opened(&mut r);
        let d = decided(&mut r, &request("L1", "wallet", "pin_only"));
        assert_eq!(d.reasons[0].detail, "identity match: name (katakana, normalised) match, birth date match, phone not on both sides");
        assert_eq!(r.link("L1").unwrap().state, LinkState::Requested);
        assert_eq!(r.registered_channel(&AccountRef::new("bank", "b-1")), Some(("email", "taro@bank.example")));
        // The wallet cannot activate a PIN-only link.
        let v = ev(
            serde_json::json!({"id": "v", "type": "link_verified", "time": "2026-11-21T10:01:00Z", "institution": "wallet", "link": "L1"}),
        );
        let d = decided(&mut r, &v);
        assert_eq!(d.action, Action::Hold);
        assert_eq!(r.link("L1").unwrap().state, LinkState::Requested);
        // A code: four wrong, then right.
        let salt = [3; 16];
        let record = |ok| Record::Attempt { link: "L1".into(), ok, by: "bank".into(), at_us: 2 };
        r.apply(&Record::Challenge {
            link: "L1".into(),
            code_hash: code_hash(&salt, "L1", "123456"),
            salt,
            expires_us: 100,
            channel: "email".into(),
            to: "t***@bank.example".into(),
            by: "wallet".into(),
            at_us: 1,
        });
        assert_eq!(r.check_code("L1", "123456", "bank", 50), Ok(true));
        assert_eq!(r.check_code("L1", "654321", "wallet", 50), Ok(false));
        assert_eq!(r.check_code("L1", "123456", "other", 50), Err(CodeError::NotYours("L1".into())));
        assert_eq!(r.check_code("L1", "123456", "bank", 100), Err(CodeError::Expired("L1".into())));
        for _ in 0..4 {
            assert_eq!(r.apply(&record(false)), None);
        }
        r.apply(&record(true));
        let l = r.link("L1").unwrap();
        assert_eq!((l.state, l.verified_by.as_deref(), l.failures), (LinkState::Active, Some("challenge"), 4));
        assert_eq!(r.check_code("L1", "123456", "bank", 50), Err(CodeError::AlreadyVerified("L1".into())));
        // The fifth wrong code locks another link.
        decided(&mut r, &request("L2", "wallet", "otp"));
        r.apply(&Record::Challenge {
            link: "L2".into(),
            code_hash: [0; 32],
            salt,
            expires_us: 100,
            channel: "email".into(),
            to: String::new(),
            by: "wallet".into(),
            at_us: 1,
        });
        let wrong = Record::Attempt { link: "L2".into(), ok: false, by: "bank".into(), at_us: 2 };
        let locked: Vec<Option<String>> = (0..5).map(|_| r.apply(&wrong)).collect();
        assert_eq!(locked[4].as_deref(), Some("L2"));
        assert!(locked[..4].iter().all(Option::is_none));
        assert_eq!(r.check_code("L2", "000000", "bank", 50), Err(CodeError::Locked("L2".into())));
        // The bank's own flow activates an OTP link.
        decided(&mut r, &request("L3", "bank", "otp"));
        let v = ev(
            serde_json::json!({"id": "v3", "type": "link_verified", "time": "2026-11-21T10:02:00Z", "institution": "bank", "link": "L3"}),
        );
        assert_eq!(decided(&mut r, &v).action, Action::Allow);
        assert_eq!(r.link("L3").unwrap().verified_by.as_deref(), Some("bank"));
    }

    #[test]
    fn a_freeze_holds_money_leaving_and_controls_block() {
        let mut r = Registry::default();
        opened(&mut r);
        decided(&mut r, &request("L1", "bank", "otp"));
        let v = ev(
            serde_json::json!({"id": "v", "type": "link_verified", "time": "2026-11-21T10:01:00Z", "institution": "bank", "link": "L1"}),
        );
        decided(&mut r, &v);
        let charge = ev(serde_json::json!({"id": "c", "type": "charge", "time": "2026-11-21T10:05:00Z", "institution": "wallet",
            "account": "w-1", "link": "L1", "amount": "1000"}));
        assert_eq!(decided(&mut r, &charge).action, Action::Allow);
        r.apply(&Record::Report {
            report: "R-1".into(),
            by: "customer".into(),
            code_hash: Some([1; 32]),
            subject: Subject { link: Some("L1".into()), ..Subject::default() },
            at_us: 3,
        });
        assert!(r.code_used(&[1; 32]) && r.next_report() == 2);
        let d = decided(&mut r, &charge);
        assert_eq!((d.action, d.reasons[0].rule.as_str()), (Action::Hold, "reported"));
        r.apply(&Record::Control {
            institution: "bank".into(),
            partner: "wallet".into(),
            suspend_links: true,
            suspend_charges: true,
            min_kyc: None,
            by: "Sato".into(),
            reason: "weakness".into(),
            at_us: 4,
        });
        let d = decided(&mut r, &charge);
        assert_eq!(d.action, Action::Block);
        assert!(d.reasons.iter().any(|x| x.rule == "partner-charges-suspended" && x.detail.contains("Sato: weakness")));
        let d = decided(&mut r, &request("L9", "wallet", "otp"));
        assert_eq!((d.action, r.link("L9").unwrap().state), (Action::Block, LinkState::Refused));
    }

    #[test]
    fn code_hashes_bind_the_link() {
        let salt = [7u8; 16];
        assert_eq!(code_hash(&salt, "L1", "123456"), code_hash(&salt, "L1", "123456"));
        assert_ne!(code_hash(&salt, "L1", "123456"), code_hash(&salt, "L2", "123456"));
        assert_ne!(code_hash(&salt, "L1", "123456"), code_hash(&salt, "L1", "123457"));
    }
}
