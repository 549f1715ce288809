//! Telling customers: the notices an event calls for, written to the store's outbox in
//! the event's own transaction, and the courier that delivers them by e-mail and signed
//! webhook, retrying with backoff until they go through or reach the dead-letter list.
//!
//! Nothing is lost when the SMTP server or a webhook is down: a notice leaves the outbox
//! only once delivered or given up on, and the courier starts again from the outbox after
//! a restart. Delivery is at least once; every delivery carries the notice's id
//! (`Message-ID`, `Mamori-Delivery`) so that a repeat can be dropped.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use mamori_core::event::{Event, EventKind};
use mamori_core::{Clock, Span, Timestamp};
use mamori_notify::{Kind, Mailer, Notice, Webhook};
use mamori_store::{Channel, NewNotice, NoticeStatus, NoticeUpdate, ReportCode, Store, WebhookEndpoint};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::registry::{AccountRef, Planned, Registry, Subject};

/// How notices and codes behave (configuration `[notify]` and `[links]`).
#[derive(Debug, Clone)]
pub struct NotifySettings {
    /// Whether events write notices at all.
    pub enabled: bool,
    /// How long a link's code is valid (5 minutes).
    pub code_valid: Span,
    /// How long a "this wasn't me" code is valid (90 days: a bankbook is read late).
    pub report_code_valid: Span,
    /// How long an event's notices wait, at most, to be written in one transaction with
    /// other events' (20 ms), after the event's own commit.
    pub outbox_delay: Duration,
}

impl Default for NotifySettings {
    fn default() -> Self {
        NotifySettings {
            enabled: true,
            code_valid: Span(5 * 60 * 1_000_000),
            report_code_valid: Span(90 * 86_400 * 1_000_000),
            outbox_delay: mamori_store::DEFAULT_OUTBOX_DELAY,
        }
    }
}

/// What the outbox keeps of a notice: the message's facts, whose customer it is, and
/// where an SMS goes when the webhook carries one.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Payload {
    pub account: AccountRef,
    /// The event it is about (institution, id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<(String, String)>,
    /// For a code the bank's webhook is to send by SMS: the registered phone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms_to: Option<String>,
    pub notice: Notice,
}

/// Characters of report codes: Crockford's base 32 (no I, L, O, U).
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Symbols of a report code that carry its id (40 bits), then its secret (40 random bits).
const ID_SYMBOLS: usize = 8;
const SECRET_SYMBOLS: usize = 8;

/// A new report code with id `id` (`XXXX-XXXX-XXXX-XXXX`: the id in the first 8 symbols,
/// 40 random bits in the last 8) and the hash it is kept as. The id finds the code's row
/// (appended, where a row keyed by a random hash lands on a random page); the hash of the
/// whole code checks it.
pub fn new_report_code(id: u64) -> Result<(String, [u8; 32]), String> {
    if id >= 1 << (5 * ID_SYMBOLS) {
        return Err(format!("report code id {id} does not fit in {ID_SYMBOLS} symbols"));
    }
    let mut bytes = [0u8; SECRET_SYMBOLS];
    getrandom::fill(&mut bytes).map_err(|e| format!("no random bytes: {e}"))?;
    let symbols =
        (0..ID_SYMBOLS).rev().map(|i| ALPHABET[((id >> (5 * i)) & 31) as usize]).chain(bytes.iter().map(|b| ALPHABET[usize::from(b & 31)]));
    let mut code = String::with_capacity(ID_SYMBOLS + SECRET_SYMBOLS + 3);
    for (i, s) in symbols.enumerate() {
        if i > 0 && i % 4 == 0 {
            code.push('-');
        }
        code.push(s as char);
    }
    let (_, hash) = read_report_code(&code);
    Ok((code, hash))
}

/// A report code as people type it (case, spaces and dashes do not matter; I, L read as
/// 1, O as 0): the id it carries, if it is one of 16 symbols, and the hash it is checked
/// (or, for the 12-symbol codes of earlier versions, looked up) by.
pub fn read_report_code(code: &str) -> (Option<u64>, [u8; 32]) {
    let norm: String = code
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| match c.to_ascii_uppercase() {
            'I' | 'L' => '1',
            'O' => '0',
            c => c,
        })
        .collect();
    let hash = Sha256::digest(norm.as_bytes()).into();
    let id = (norm.len() == ID_SYMBOLS + SECRET_SYMBOLS)
        .then(|| norm.bytes().take(ID_SYMBOLS).try_fold(0u64, |id, b| ALPHABET.iter().position(|&a| a == b).map(|v| (id << 5) | v as u64)))
        .flatten();
    (id, hash)
}

/// A new six-digit code for a link.
pub fn new_link_code() -> Result<(String, [u8; 16]), String> {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).map_err(|e| format!("no random bytes: {e}"))?;
    // 64 random bits reduced mod 10^6: the bias is below 10^-13.
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap_or_default()) % 1_000_000;
    let mut salt = [0u8; 16];
    salt.copy_from_slice(&bytes[8..]);
    Ok((format!("{n:06}"), salt))
}

/// The outbox rows of one notice: an e-mail to the registered address, and the owner's
/// webhook if it set one.
fn rows(owner: &AccountRef, email: Option<&str>, webhooks: &HashSet<String>, payload: &Payload) -> Vec<NewNotice> {
    let bytes = serde_json::to_vec(payload).unwrap_or_default();
    let mut out = Vec::with_capacity(2);
    if let Some(to) = email {
        out.push(NewNotice {
            institution: owner.institution.clone(),
            channel: Channel::Email,
            target: to.to_string(),
            payload: bytes.clone(),
        });
    }
    if webhooks.contains(&owner.institution) {
        out.push(NewNotice { institution: owner.institution.clone(), channel: Channel::Webhook, target: String::new(), payload: bytes });
    }
    out
}

/// What the registry's plan for an event becomes in the outbox: the notice through every
/// channel, and its report code. Nothing when no channel reaches the customer.
pub fn for_event(
    store: &Store,
    plan: Planned,
    e: &Event,
    decision: &str,
    webhooks: &HashSet<String>,
    settings: &NotifySettings,
    now: Timestamp,
) -> Result<(Vec<NewNotice>, Vec<ReportCode>), String> {
    planned(store, plan, e.time, money(e), decision, webhooks, settings, now)
}

/// The amount an event moves and its currency (a crypto withdrawal's asset).
fn money(e: &Event) -> Option<(String, String)> {
    match (&e.kind, e.amount) {
        (EventKind::CryptoWithdrawal { asset, .. }, Some(a)) => Some((a.to_string(), asset.clone())),
        (_, Some(a)) => Some((a.to_string(), e.currency.clone())),
        (_, None) => None,
    }
}

/// A notice, found by a sweep of past events, that the movement `e` may not have been
/// the customer's: to the customer the registry's `plan` names, with a report code
/// whose report freezes what `plan` says and labels `e`. The decision the notice names is
/// `hold` (what the packs would have decided); the movement itself went through.
pub fn for_review(
    store: &Store,
    mut plan: Planned,
    e: &Event,
    webhooks: &HashSet<String>,
    settings: &NotifySettings,
    now: Timestamp,
) -> Result<(Vec<NewNotice>, Vec<ReportCode>), String> {
    plan.kind = Kind::PastReview;
    // A report freezes the customer's account too: it is in the past, not pending.
    plan.subject.account.get_or_insert_with(|| plan.owner.clone());
    planned(store, plan, e.time, money(e), "hold", webhooks, settings, now)
}

/// A notice about a link (activated by its code, locked), at the service's time.
pub fn for_link(
    store: &Store,
    registry: &Registry,
    link: &str,
    kind: Kind,
    webhooks: &HashSet<String>,
    settings: &NotifySettings,
    now: Timestamp,
) -> Result<(Vec<NewNotice>, Vec<ReportCode>), String> {
    let Some(l) = registry.link(link) else { return Ok((Vec::new(), Vec::new())) };
    let plan = Planned {
        owner: l.bank.clone(),
        kind,
        counterparty: Some(l.wallet.to_string()),
        link: Some(link.to_string()),
        email: registry.email_of(&l.bank).map(str::to_string),
        subject: Subject { link: Some(link.to_string()), ..Subject::default() },
        expires: None,
    };
    let decision = if kind == Kind::LinkLocked { "block" } else { "allow" };
    planned(store, plan, now, None, decision, webhooks, settings, now)
}

#[allow(clippy::too_many_arguments)]
fn planned(
    store: &Store,
    plan: Planned,
    time: Timestamp,
    money: Option<(String, String)>,
    decision: &str,
    webhooks: &HashSet<String>,
    settings: &NotifySettings,
    now: Timestamp,
) -> Result<(Vec<NewNotice>, Vec<ReportCode>), String> {
    if !settings.enabled || (plan.email.is_none() && !webhooks.contains(&plan.owner.institution)) {
        return Ok((Vec::new(), Vec::new()));
    }
    let id = store.next_report_code_id();
    let (code, hash) = new_report_code(id)?;
    let (amount, currency) = money.unzip();
    let notice = Notice {
        kind: plan.kind,
        institution: plan.owner.institution.clone(),
        account: Some(plan.owner.account.clone()),
        time: time.as_micros(),
        amount,
        currency,
        counterparty: plan.counterparty,
        decision: decision.to_string(),
        link: plan.link,
        report_code: Some(code),
        code: None,
        expires: plan.expires,
    };
    let payload = Payload { account: plan.owner.clone(), event: plan.subject.event.clone(), sms_to: None, notice };
    let report = ReportCode {
        id: Some(id),
        hash,
        institution: plan.owner.institution.clone(),
        subject: serde_json::to_vec(&plan.subject).unwrap_or_default(),
        expires_us: now.saturating_add(settings.report_code_valid).as_micros(),
        created_us: now.as_micros(),
    };
    Ok((rows(&plan.owner, plan.email.as_deref(), webhooks, &payload), vec![report]))
}

/// A notice of the outcome of a review (a held movement released or refused) or of a
/// claim (what is paid back, by when), to the customer of `owner`.
#[allow(clippy::too_many_arguments)]
pub fn for_outcome(
    store: &Store,
    registry: &Registry,
    owner: AccountRef,
    kind: Kind,
    time: Timestamp,
    money: Option<(String, String)>,
    expires: Option<Timestamp>,
    subject: Subject,
    webhooks: &HashSet<String>,
    settings: &NotifySettings,
) -> Result<(Vec<NewNotice>, Vec<ReportCode>), String> {
    let plan = Planned {
        email: registry.email_of(&owner).map(str::to_string),
        owner,
        kind,
        counterparty: None,
        link: subject.link.clone(),
        subject,
        expires: expires.map(Timestamp::as_micros),
    };
    planned(store, plan, time, money, "allow", webhooks, settings, time)
}

/// A link's code, to the channel the bank registered: e-mail, or the registered phone by
/// the bank's webhook (to its SMS gateway). `None` when neither can reach the customer.
pub fn for_code(
    registry: &Registry,
    link: &str,
    code: &str,
    expires: Timestamp,
    webhooks: &HashSet<String>,
    now: Timestamp,
) -> Option<(Vec<NewNotice>, &'static str, String)> {
    let l = registry.link(link)?;
    let (channel, to) = registry.registered_channel(&l.bank)?;
    let notice = Notice {
        kind: Kind::LinkCode,
        institution: l.bank.institution.clone(),
        account: Some(l.bank.account.clone()),
        time: now.as_micros(),
        amount: None,
        currency: None,
        counterparty: Some(l.wallet.to_string()),
        decision: "challenge".into(),
        link: Some(link.to_string()),
        report_code: None,
        code: Some(code.to_string()),
        expires: Some(expires.as_micros()),
    };
    match channel {
        "email" => {
            let payload = Payload { account: l.bank.clone(), event: None, sms_to: None, notice };
            let bytes = serde_json::to_vec(&payload).unwrap_or_default();
            let row =
                NewNotice { institution: l.bank.institution.clone(), channel: Channel::Email, target: to.to_string(), payload: bytes };
            Some((vec![row], "email", to.to_string()))
        }
        _ if webhooks.contains(&l.bank.institution) => {
            let payload = Payload { account: l.bank.clone(), event: None, sms_to: Some(to.to_string()), notice };
            let bytes = serde_json::to_vec(&payload).unwrap_or_default();
            let row =
                NewNotice { institution: l.bank.institution.clone(), channel: Channel::Webhook, target: String::new(), payload: bytes };
            Some((vec![row], "sms", to.to_string()))
        }
        _ => None,
    }
}

/// The notice that a report was received, to the customer of the frozen link or account.
pub fn for_report(registry: &Registry, subject: &Subject, webhooks: &HashSet<String>, now: Timestamp) -> Vec<NewNotice> {
    let owner = match (&subject.link, &subject.account) {
        (Some(l), _) => registry.link(l).map(|l| l.bank.clone()),
        (None, Some(a)) => Some(a.clone()),
        (None, None) => None,
    };
    let Some(owner) = owner else { return Vec::new() };
    let notice = Notice {
        kind: Kind::ReportReceived,
        institution: owner.institution.clone(),
        account: Some(owner.account.clone()),
        time: now.as_micros(),
        amount: None,
        currency: None,
        counterparty: None,
        decision: "hold".into(),
        link: subject.link.clone(),
        report_code: None,
        code: None,
        expires: None,
    };
    let email = registry.email_of(&owner);
    let payload = Payload { account: owner.clone(), event: subject.event.clone(), sms_to: None, notice };
    rows(&owner, email, webhooks, &payload)
}

/// The body of a webhook delivery, in this order: `id`, `kind`, `institution`, `account`,
/// `event` (`institution`, `id`), `time`, `amount`, `currency`, `counterparty`,
/// `decision`, `link`, `report_code`, `code`, `code_expires`, `sms_to`, `message`
/// (`subject`, `text`).
#[derive(Serialize)]
struct WebhookBody<'a> {
    id: String,
    kind: Kind,
    institution: &'a str,
    account: &'a str,
    event: Option<EventRef<'a>>,
    time: String,
    amount: &'a Option<String>,
    currency: &'a Option<String>,
    counterparty: &'a Option<String>,
    decision: &'a str,
    link: &'a Option<String>,
    report_code: &'a Option<String>,
    code: &'a Option<String>,
    code_expires: Option<String>,
    sms_to: &'a Option<String>,
    message: &'a mamori_notify::Message,
}

#[derive(Serialize)]
struct EventRef<'a> {
    institution: &'a str,
    id: &'a str,
}

fn webhook_body(id: i64, p: &Payload, m: &mamori_notify::Message) -> Vec<u8> {
    let n = &p.notice;
    let body = WebhookBody {
        id: format!("notice-{id}"),
        kind: n.kind,
        institution: &p.account.institution,
        account: &p.account.account,
        event: p.event.as_ref().map(|(institution, id)| EventRef { institution, id }),
        time: Timestamp(n.time).to_rfc3339(),
        amount: &n.amount,
        currency: &n.currency,
        counterparty: &n.counterparty,
        decision: &n.decision,
        link: &n.link,
        report_code: &n.report_code,
        code: &n.code,
        code_expires: n.expires.map(|t| Timestamp(t).to_rfc3339()),
        sms_to: &p.sms_to,
        message: m,
    };
    serde_json::to_vec(&body).unwrap_or_default()
}

/// A notice's payload read and its message rendered, or why it does not read: shared by
/// the notices of a round that carry the same payload.
type Read = Arc<Result<(Payload, mamori_notify::Message), String>>;

/// Each notice's payload, read and rendered once for all the notices that carry it.
fn read_all(notices: &[mamori_store::Notice]) -> Vec<Read> {
    let mut seen: HashMap<&[u8], Read> = HashMap::new();
    notices.iter().map(|n| Arc::clone(seen.entry(&n.payload).or_insert_with(|| Arc::new(read_payload(&n.payload))))).collect()
}

fn read_payload(bytes: &[u8]) -> Result<(Payload, mamori_notify::Message), String> {
    let p: Payload = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    let m = mamori_notify::render(&p.notice);
    Ok((p, m))
}

/// Delivers the outbox: due notices in batches, outcomes recorded in the store.
pub struct Courier {
    store: Store,
    mailer: Option<Mailer>,
    webhook: Webhook,
    clock: Arc<dyn Clock>,
    wake: Arc<tokio::sync::Notify>,
}

impl std::fmt::Debug for Courier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Courier").field("mailer", &self.mailer).finish_non_exhaustive()
    }
}

/// The most notices one round delivers.
const BATCH: usize = 64;
/// The longest the courier sleeps when nothing is due (a retry falls due, or it is woken).
const IDLE: Duration = Duration::from_millis(500);

impl Courier {
    pub fn new(store: Store, mailer: Option<Mailer>, clock: Arc<dyn Clock>, wake: Arc<tokio::sync::Notify>) -> Result<Courier, String> {
        Ok(Courier { store, mailer, webhook: Webhook::new()?, clock, wake })
    }

    /// Delivers until `stop` is set; what is due at a stop is delivered after a restart.
    pub async fn run(self, stop: tokio::sync::watch::Receiver<bool>) {
        let this = Arc::new(self);
        loop {
            if *stop.borrow() {
                return;
            }
            let delivered = match Arc::clone(&this).round().await {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(error = %e, "outbox not read; trying again");
                    0
                }
            };
            if delivered == 0 {
                let mut stop = stop.clone();
                tokio::select! {
                    () = this.wake.notified() => {}
                    () = tokio::time::sleep(IDLE) => {}
                    _ = stop.changed() => {}
                }
            }
        }
    }

    /// One round: every due notice (up to a batch) tried at once. Returns how many.
    pub async fn round(self: Arc<Self>) -> Result<usize, String> {
        let now = self.clock.now();
        let store = self.store.clone();
        let (due, endpoints) = tokio::task::spawn_blocking(move || {
            // Notices are read once committed: wait for what was submitted before the wake.
            let submitted = store.stats().submitted_seq;
            if submitted > 0 {
                store.wait_durable(submitted)?;
            }
            let due = store.due_notices(now.as_micros(), BATCH)?;
            // Each institution's endpoint read once a round, in this same trip to the store.
            let mut endpoints = HashMap::new();
            for n in due.iter().filter(|n| n.channel == Channel::Webhook) {
                if !endpoints.contains_key(&n.institution) {
                    endpoints.insert(n.institution.clone(), Arc::new(store.webhook(&n.institution).map_err(|e| e.to_string())));
                }
            }
            Ok::<_, mamori_store::StoreError>((due, endpoints))
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
        if due.is_empty() {
            return Ok(0);
        }
        let n = due.len();
        // An event's e-mail and webhook notices carry the same payload: read and rendered once.
        let reads = read_all(&due);
        let mut tasks = tokio::task::JoinSet::new();
        for (notice, read) in due.into_iter().zip(reads) {
            let this = Arc::clone(&self);
            let endpoint = endpoints.get(&notice.institution).cloned();
            tasks.spawn(async move { this.deliver(notice, read, endpoint).await });
        }
        let mut updates = Vec::with_capacity(n);
        while let Some(u) = tasks.join_next().await {
            updates.push(u.map_err(|e| e.to_string())?);
        }
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || store.record_deliveries(updates))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        Ok(n)
    }

    /// Delivers one notice, its payload as `read`; `endpoint` is its institution's webhook
    /// endpoint as read this round (for a webhook notice).
    async fn deliver(
        &self,
        n: mamori_store::Notice,
        read: Read,
        endpoint: Option<Arc<Result<Option<WebhookEndpoint>, String>>>,
    ) -> NoticeUpdate {
        // A link's code is not kept once it has gone out (or never will).
        let redacted = read.as_ref().as_ref().ok().filter(|(p, _)| p.notice.code.is_some()).map(|(p, _)| {
            let mut p = p.clone();
            p.notice.code = None;
            serde_json::to_vec(&p).unwrap_or_default()
        });
        let result = match read.as_ref() {
            Err(e) => Err(mamori_notify::DeliveryError { permanent: true, reason: format!("payload does not parse: {e}") }),
            Ok((p, message)) => match n.channel {
                Channel::Email => match &self.mailer {
                    Some(m) => m.send(&n.target, &format!("notice-{}", n.id), message).await,
                    None => Err(mamori_notify::DeliveryError {
                        permanent: false,
                        reason: "no SMTP server is configured (notify.smtp.url or MAMORI_SMTP_URL)".into(),
                    }),
                },
                Channel::Webhook => match endpoint.as_deref() {
                    Some(Ok(Some(ep))) => {
                        let now = self.clock.now();
                        let body = webhook_body(n.id, p, message);
                        self.webhook.send(&ep.url, &ep.secret, &format!("notice-{}", n.id), now.as_micros() / 1_000_000, &body).await
                    }
                    Some(Ok(None)) | None => Err(mamori_notify::DeliveryError {
                        permanent: false,
                        reason: format!("{} has no webhook endpoint set", n.institution),
                    }),
                    Some(Err(e)) => Err(mamori_notify::DeliveryError { permanent: false, reason: e.clone() }),
                },
            },
        };
        let at_us = self.clock.now().as_micros();
        match result {
            Ok(()) => {
                tracing::debug!(notice = n.id, channel = n.channel.as_str(), "notice delivered");
                NoticeUpdate::Sent { id: n.id, at_us, payload: redacted }
            }
            Err(e) => {
                let failures = n.attempts + 1;
                let next = (!e.permanent && failures < mamori_notify::MAX_ATTEMPTS)
                    .then(|| at_us + i64::try_from(mamori_notify::backoff(failures).as_micros()).unwrap_or(i64::MAX));
                tracing::info!(
                    notice = n.id,
                    channel = n.channel.as_str(),
                    failures,
                    dead = next.is_none(),
                    error = %masked(&e.reason),
                    "notice not delivered"
                );
                let payload = if next.is_none() { redacted } else { None };
                NoticeUpdate::Failed { id: n.id, at_us, error: e.reason, next_at_us: next, payload }
            }
        }
    }
}

/// `text` with every e-mail address in it masked (a server's reply may quote one), for logs.
fn masked(text: &str) -> String {
    text.split(' ')
        .map(|w| if w.contains('@') { crate::registry::mask_address(w.trim_matches(|c| c == '<' || c == '>')) } else { w.to_string() })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A notice as `GET /v1/notices` shows it (no address, no codes).
pub fn describe(n: &mamori_store::Notice) -> serde_json::Value {
    let p: Option<Payload> = serde_json::from_slice(&n.payload).ok();
    serde_json::json!({
        "id": n.id,
        "channel": n.channel.as_str(),
        "status": n.status.as_str(),
        "kind": p.as_ref().map(|p| p.notice.kind),
        "account": p.as_ref().map(|p| p.account.account.clone()),
        "event": p.as_ref().and_then(|p| p.event.as_ref()).map(|(i, e)| serde_json::json!({"institution": i, "id": e})),
        "attempts": n.attempts,
        "last_error": n.last_error,
        "created": Timestamp(n.created_us).to_rfc3339(),
        "next_attempt": (n.status == NoticeStatus::Pending).then(|| Timestamp(n.next_at_us).to_rfc3339()),
        "done": n.done_us.map(|t| Timestamp(t).to_rfc3339()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_with_one_payload_are_read_once() {
        let payload = br#"{"account":{"institution":"bank-a","account":"w-1"},"notice":{"kind":"charge","institution":"bank-a","time":0,"decision":"allow"}}"#;
        let notice = |id: i64, channel: Channel, payload: &[u8]| mamori_store::Notice {
            id,
            seq: 1,
            institution: "bank-a".into(),
            channel,
            target: String::new(),
            payload: payload.to_vec(),
            status: NoticeStatus::Pending,
            attempts: 0,
            next_at_us: 0,
            created_us: 0,
            done_us: None,
            last_error: None,
        };
        let due = [notice(1, Channel::Email, payload), notice(2, Channel::Webhook, payload), notice(3, Channel::Webhook, b"{not json")];
        let reads = read_all(&due);
        assert!(Arc::ptr_eq(&reads[0], &reads[1]));
        let (p, m) = reads[0].as_ref().as_ref().unwrap();
        assert_eq!((p.account.account.as_str(), m), ("w-1", &mamori_notify::render(&p.notice)));
        assert!(reads[2].is_err());
    }

    #[test]
    fn a_webhook_body_has_every_field_in_order() {
        let p: Payload = serde_json::from_value(serde_json::json!({
            "account": {"institution": "bank-a", "account": "w-1"}, "event": ["bank-a", "e1"], "sms_to": "+81-90-0000-0000",
            "notice": {"kind": "link_code", "institution": "bank-a", "account": "w-1", "time": 1_700_000_000_000_000_i64,
                "amount": "5000", "currency": null, "counterparty": "wallet-co", "decision": "allow", "link": "L1",
                "report_code": null, "code": "123456", "expires": 1_700_000_300_000_000_i64}
        }))
        .unwrap();
        let m = mamori_notify::render(&p.notice);
        let expected = serde_json::json!({
            "id": "notice-7", "kind": "link_code", "institution": "bank-a", "account": "w-1",
            "event": {"institution": "bank-a", "id": "e1"}, "time": "2023-11-14T22:13:20.000Z", "amount": "5000",
            "currency": null, "counterparty": "wallet-co", "decision": "allow", "link": "L1", "report_code": null,
            "code": "123456", "code_expires": "2023-11-14T22:18:20.000Z", "sms_to": "+81-90-0000-0000",
            "message": {"subject": m.subject, "text": m.text},
        });
        assert_eq!(String::from_utf8(webhook_body(7, &p, &m)).unwrap(), expected.to_string());
        let mut none = p.clone();
        (none.event, none.sms_to, none.notice.expires) = (None, None, None);
        let body: serde_json::Value = serde_json::from_slice(&webhook_body(8, &none, &m)).unwrap();
        assert_eq!(
            (&body["event"], &body["sms_to"], &body["code_expires"]),
            (&serde_json::Value::Null, &serde_json::Value::Null, &serde_json::Value::Null)
        );
    }

    #[test]
    fn report_codes_carry_their_id_and_read_as_typed() {
        let id = 0x12_3456_789a;
        let (code, hash) = new_report_code(id).unwrap();
        assert_eq!(code.len(), 19);
        assert_eq!([4, 9, 14].map(|i| code.as_bytes()[i]), [b'-'; 3], "{code}");
        assert_eq!(read_report_code(&code.to_lowercase().replace('-', " ")), (Some(id), hash));
        assert_eq!(read_report_code("0011-AAAA-BBBB-CCCC"), read_report_code("oOIl-aaaa-bbbb-cccc"));
        assert_eq!(read_report_code("0000-0011-AAAA-BBBB").0, Some(33));
        // Two codes of one id differ in their secret.
        assert_ne!(new_report_code(id).unwrap().0, code);
        assert_eq!(new_report_code(1).unwrap().0[..9], *"0000-0001");
        assert!(new_report_code(1 << 40).is_err());
        // Codes of earlier versions (12 symbols) carry no id; a symbol outside the alphabet
        // (U) makes none either; both are still hashed as typed.
        assert_eq!(read_report_code("0011-AAAA-BBBB").0, None);
        assert_eq!(read_report_code("UUUU-AAAA-BBBB-CCCC").0, None);
        assert_eq!(read_report_code("0011-aaaa-bbbb").1, read_report_code("OOIL AAAA BBBB").1);
    }

    #[test]
    fn addresses_in_errors_are_masked_for_logs() {
        assert_eq!(masked("550 5.1.1 <taro@bank.example> unknown"), "550 5.1.1 t***@bank.example unknown");
        assert_eq!(masked("connection refused"), "connection refused");
    }

    #[test]
    fn link_codes_have_six_digits() {
        for _ in 0..100 {
            let (c, _) = new_link_code().unwrap();
            assert_eq!(c.len(), 6);
            assert!(c.bytes().all(|b| b.is_ascii_digit()));
        }
    }
}
