//! What the service does itself, under the detector's one lock, as records and events
//! written in the store's order, so that the registry and the cases a replay rebuilds are
//! the ones the service had: the link flow, partner controls, "this wasn't me", analysts'
//! work on cases, the claims a verdict of fraud opens, and the packs in use.
//!
//! What the service does becomes either one of its records ([`Record`]) or an event of
//! the contract that it writes in an institution's name with a reserved id: a code passed
//! becomes the bank's `link_verified`, a revocation `link_revoked`, a report or a verdict
//! of fraud `fraud_reported`. Those events are judged like any other, so features,
//! notices and models see them.

use std::collections::BTreeMap;

use mamori_core::Timestamp;
use mamori_core::event::{Event, EventKind, ReportSource};
use mamori_notify::Kind;
use mamori_store::{NewNotice, ReportCode, WebhookEndpoint};
use serde_json::Map;

use crate::cases::CaseRecord;
use crate::detector::{DecideError, Detector, Incoming, Live, Outcome};
use crate::journal::{RESERVED_ID_PREFIX, Record};
use crate::notices;
use crate::registry::{AccountRef, CodeError, Link, LinkState, Subject, code_hash, kyc_rank, mask_address};

/// Something the service writes itself (a handful per request, each moved once).
#[allow(clippy::large_enum_variant)]
enum Item {
    Record {
        institution: String,
        record: Record,
        notices: Vec<NewNotice>,
        report_codes: Vec<ReportCode>,
    },
    /// An event of the contract in `institution`'s name (its id reserved).
    Event(Box<Event>),
}

/// A code sent for a link: where to (masked) and until when.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Sent {
    pub channel: &'static str,
    pub to: String,
    pub expires: String,
}

/// The answer to a link request.
#[derive(Debug)]
pub struct Requested {
    pub outcome: Outcome,
    pub link: Option<Link>,
    /// The code sent, when the link may proceed.
    pub challenge: Option<Sent>,
    /// Why no code was sent although the decision let the link proceed.
    pub no_challenge: Option<String>,
    /// The seq to wait for before answering.
    pub wait: u64,
}

/// What a code did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tried {
    Activated,
    Wrong {
        left: u32,
    },
    /// That was the last wrong code allowed.
    LockedNow,
}

/// Why a link operation was refused (nothing changed) or failed.
#[derive(Debug, thiserror::Error)]
pub enum LinkFailed {
    #[error(transparent)]
    Refused(#[from] CodeError),
    #[error("{0}")]
    Invalid(String),
    #[error("no registered channel: {0}")]
    NoChannel(String),
    #[error(transparent)]
    Decide(#[from] DecideError),
}

/// Who reports "this wasn't me".
#[derive(Debug, Clone)]
pub enum Reporter {
    /// The customer, with the code from a notice.
    Customer { code_hash: [u8; 32] },
    /// An institution for its customer.
    Institution(String),
}

/// What a report did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Reported {
    pub report: String,
    pub frozen: Subject,
    /// The events labelled fraud (institution, id).
    pub labelled: Vec<(String, String)>,
    #[serde(skip)]
    pub wait: u64,
}

/// Why a report was refused.
#[derive(Debug, thiserror::Error)]
pub enum ReportFailed {
    #[error("the report code is not known")]
    UnknownCode,
    #[error("the report code was already used")]
    UsedCode,
    #[error("the report code expired")]
    ExpiredCode,
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    Decide(#[from] DecideError),
}

/// A partner control change as asked for.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlRequest {
    #[serde(default)]
    pub suspend_links: bool,
    #[serde(default)]
    pub suspend_charges: bool,
    #[serde(default)]
    pub min_kyc: Option<String>,
    /// Who made the change (a person or system at the institution).
    pub by: String,
    pub reason: String,
}

fn failed(live: &Live) -> Result<(), DecideError> {
    match &live.failed {
        Some(why) => Err(DecideError::Failed(why.clone())),
        None => Ok(()),
    }
}

impl Detector {
    /// Writes the service's own records and events in order, applying each to the judge
    /// (records) or judging it (events). Returns the last seq.
    fn append(&self, live: &mut Live, items: Vec<Item>, now: Timestamp) -> Result<u64, DecideError> {
        let base = self.store().stats().submitted_seq;
        let mut new_events = Vec::with_capacity(items.len());
        for (i, item) in items.into_iter().enumerate() {
            match item {
                Item::Record { institution, record, mut notices, mut report_codes } => {
                    if let Some(link) = live.judge.apply(&record) {
                        let webhooks = self.webhooks.read().unwrap_or_else(|p| p.into_inner());
                        match notices::for_link(
                            self.store(),
                            live.judge.registry(),
                            &link,
                            Kind::LinkLocked,
                            &webhooks,
                            &live.settings,
                            now,
                        ) {
                            Ok((n, c)) => {
                                notices.extend(n);
                                report_codes.extend(c);
                            }
                            Err(e) => tracing::error!(error = %e, "no notice written for a locked link"),
                        }
                    }
                    let id = format!("{RESERVED_ID_PREFIX}record:{}", base + 1 + i as u64);
                    new_events.push(record.to_stored(institution, id, now, notices, report_codes));
                }
                Item::Event(event) => {
                    let institution = event.institution.clone().unwrap_or_default();
                    let incoming = Incoming::new(*event, &institution);
                    let (new, _, _) = self.judged(live, &institution, &incoming.event, incoming.body, incoming.hash, now);
                    new_events.push(new);
                }
            }
        }
        self.submit(live, new_events)
    }

    /// Sends a new code for a pending link through the bank's registered channel.
    fn send_code(&self, live: &mut Live, by: &str, link: &str, now: Timestamp) -> Result<(Sent, u64), LinkFailed> {
        let (code, salt) = notices::new_link_code().map_err(LinkFailed::Invalid)?;
        let expires = now.saturating_add(live.settings.code_valid);
        let found = {
            let webhooks = self.webhooks.read().unwrap_or_else(|p| p.into_inner());
            notices::for_code(live.judge.registry(), link, &code, expires, &webhooks, now)
        };
        let Some((rows, channel, to)) = found else {
            return Err(LinkFailed::NoChannel(
                "the bank registered no e-mail for this account, nor a phone with a webhook to send an SMS: the customer must confirm the link at the bank"
                    .into(),
            ));
        };
        let to = mask_address(&to);
        let record = Record::Challenge {
            link: link.to_string(),
            code_hash: code_hash(&salt, link, &code),
            salt,
            expires_us: expires.as_micros(),
            channel: channel.to_string(),
            to: to.clone(),
            by: by.to_string(),
            at_us: now.as_micros(),
        };
        let wait =
            self.append(live, vec![Item::Record { institution: by.to_string(), record, notices: rows, report_codes: Vec::new() }], now)?;
        Ok((Sent { channel, to, expires: expires.to_rfc3339() }, wait))
    }

    /// `POST /v1/links`: decides a `link_requested` event and, when the link may proceed,
    /// sends a code through the channel the bank registered (never one from the request).
    /// Sent again, the same event gets its first decision and no new code.
    pub fn request_link(&self, institution: &str, inc: Incoming, now: Timestamp) -> Result<Requested, LinkFailed> {
        let EventKind::LinkRequested { link, .. } = &inc.event.kind else {
            return Err(LinkFailed::Invalid("the body must be a link_requested event".into()));
        };
        let link = link.clone();
        let mut live = self.lock();
        let (mut outcomes, wait) = self.decide_locked(&mut live, institution, vec![inc], now)?;
        let outcome = outcomes.remove(0);
        let mut answer = Requested { outcome, link: None, challenge: None, no_challenge: None, wait };
        let fresh = matches!(answer.outcome, Outcome::New { action, .. } if action != "hold" && action != "block");
        let pending = live.judge.registry().link(&link).is_some_and(|l| l.state == LinkState::Requested);
        if fresh && pending {
            match self.send_code(&mut live, institution, &link, now) {
                Ok((sent, seq)) => {
                    answer.challenge = Some(sent);
                    answer.wait = answer.wait.max(seq);
                }
                Err(LinkFailed::NoChannel(why)) => answer.no_challenge = Some(why),
                Err(e) => return Err(e),
            }
        }
        answer.link = live.judge.registry().link(&link).cloned();
        Ok(answer)
    }

    /// A new code for a link still waiting for one (the old one expired or never came).
    pub fn resend_code(&self, institution: &str, link: &str, now: Timestamp) -> Result<(Sent, u64), LinkFailed> {
        let mut live = self.lock();
        failed(&live)?;
        let l = live.judge.registry().link(link).ok_or_else(|| CodeError::Unknown(link.into()))?;
        if !l.party(institution) {
            return Err(CodeError::NotYours(link.into()).into());
        }
        match l.state {
            LinkState::Requested | LinkState::Challenged => {}
            LinkState::Active => return Err(CodeError::AlreadyVerified(link.into()).into()),
            LinkState::Locked => return Err(CodeError::Locked(link.into()).into()),
            s => return Err(CodeError::Closed { link: link.into(), state: s.as_str() }.into()),
        }
        self.send_code(&mut live, institution, link, now)
    }

    /// `POST /v1/links/{id}/verify`: tries a code. A right one activates the link (the
    /// bank's `link_verified` is written); a wrong one counts, and the fifth locks it.
    pub fn verify_link(&self, institution: &str, link: &str, code: &str, now: Timestamp) -> Result<(Tried, u64), LinkFailed> {
        let mut live = self.lock();
        failed(&live)?;
        let ok = live.judge.registry().check_code(link, code, institution, now.as_micros())?;
        let attempt = Record::Attempt { link: link.to_string(), ok, by: institution.to_string(), at_us: now.as_micros() };
        let mut items =
            vec![Item::Record { institution: institution.to_string(), record: attempt, notices: Vec::new(), report_codes: Vec::new() }];
        if ok {
            let bank = live.judge.registry().link(link).map(|l| l.bank.clone()).ok_or_else(|| CodeError::Unknown(link.into()))?;
            items.push(Item::Event(Box::new(service_event(
                format!("{RESERVED_ID_PREFIX}link-verified:{link}"),
                &bank.institution,
                Some(bank.account.clone()),
                now,
                EventKind::LinkVerified { link: link.to_string() },
            ))));
        }
        let wait = self.append(&mut live, items, now)?;
        let l = live.judge.registry().link(link);
        let tried = match l.map(|l| (l.state, l.failures)) {
            Some((LinkState::Active, _)) => Tried::Activated,
            Some((LinkState::Locked, _)) => Tried::LockedNow,
            Some((_, failures)) => Tried::Wrong { left: crate::registry::MAX_FAILURES.saturating_sub(failures) },
            None => Tried::Wrong { left: 0 },
        };
        Ok((tried, wait))
    }

    /// `POST /v1/links/{id}/revoke`: ends a link (written as `institution`'s `link_revoked`).
    pub fn revoke_link(&self, institution: &str, link: &str, now: Timestamp) -> Result<u64, LinkFailed> {
        let mut live = self.lock();
        failed(&live)?;
        let l = live.judge.registry().link(link).ok_or_else(|| CodeError::Unknown(link.into()))?;
        if !l.party(institution) {
            return Err(CodeError::NotYours(link.into()).into());
        }
        if l.state == LinkState::Revoked {
            return Err(CodeError::Closed { link: link.into(), state: "revoked" }.into());
        }
        let account = if l.bank.institution == institution { l.bank.account.clone() } else { l.wallet.account.clone() };
        let event = service_event(
            format!("{RESERVED_ID_PREFIX}link-revoked:{link}"),
            institution,
            Some(account),
            now,
            EventKind::LinkRevoked { link: link.to_string() },
        );
        Ok(self.append(&mut live, vec![Item::Event(Box::new(event))], now)?)
    }

    /// A link, if `institution` is a party to it.
    pub fn link(&self, institution: &str, link: &str) -> Result<Link, CodeError> {
        let live = self.lock();
        let l = live.judge.registry().link(link).ok_or_else(|| CodeError::Unknown(link.into()))?;
        if !l.party(institution) {
            return Err(CodeError::NotYours(link.into()));
        }
        Ok(l.clone())
    }

    /// The links of one of `institution`'s accounts.
    pub fn links_of(&self, institution: &str, account: &str) -> Vec<Link> {
        let live = self.lock();
        live.judge.registry().links_of(&AccountRef::new(institution, account)).into_iter().cloned().collect()
    }

    /// Sets `institution`'s controls over links with `partner`, recorded with who and why.
    pub fn set_controls(&self, institution: &str, partner: &str, req: ControlRequest, now: Timestamp) -> Result<u64, LinkFailed> {
        if req.by.trim().is_empty() || req.reason.trim().is_empty() {
            return Err(LinkFailed::Invalid("a change of partner controls needs `by` (who) and `reason` (why)".into()));
        }
        if partner == institution || !mamori_store::is_valid_institution_id(partner) {
            return Err(LinkFailed::Invalid(format!("{partner:?} is not another institution's id")));
        }
        if let Some(k) = &req.min_kyc
            && kyc_rank(k).is_none()
        {
            return Err(LinkFailed::Invalid(format!("min_kyc {k:?}: expected none, mail, photo_id, ic_chip or in_person")));
        }
        let mut live = self.lock();
        failed(&live)?;
        let record = Record::Control {
            institution: institution.to_string(),
            partner: partner.to_string(),
            suspend_links: req.suspend_links,
            suspend_charges: req.suspend_charges,
            min_kyc: req.min_kyc,
            by: req.by.trim().to_string(),
            reason: req.reason.trim().to_string(),
            at_us: now.as_micros(),
        };
        let item = Item::Record { institution: institution.to_string(), record, notices: Vec::new(), report_codes: Vec::new() };
        Ok(self.append(&mut live, vec![item], now)?)
    }

    /// The controls `institution` set, by partner.
    pub fn controls(&self, institution: &str) -> BTreeMap<String, crate::registry::Controls> {
        let live = self.lock();
        live.judge.registry().partners(institution).map(|(p, c)| (p.to_string(), c.clone())).collect()
    }

    /// "This wasn't me": freezes the link or account at once (money movements on it are
    /// then held), labels the events fraud (a `fraud_reported` in the name of each
    /// institution whose events they are) and tells the customer.
    pub fn report(&self, by: Reporter, subject: Subject, now: Timestamp) -> Result<Reported, ReportFailed> {
        let mut live = self.lock();
        failed(&live)?;
        let registry = live.judge.registry();
        let (who, code_hash, source) = match &by {
            Reporter::Customer { code_hash } => {
                if registry.code_used(code_hash) {
                    return Err(ReportFailed::UsedCode);
                }
                ("customer".to_string(), Some(*code_hash), ReportSource::Customer)
            }
            Reporter::Institution(i) => (i.clone(), None, ReportSource::Institution),
        };
        // What to label: every event on a reported link; else the event the notice was about.
        let mut labelled: Vec<(String, String)> = match &subject.link {
            Some(l) => registry.link(l).map(|l| l.events.clone()).unwrap_or_default(),
            None => Vec::new(),
        };
        if let Some(e) = &subject.event
            && !labelled.contains(e)
        {
            labelled.push(e.clone());
        }
        labelled.retain(|(_, id)| !id.starts_with(&format!("{RESERVED_ID_PREFIX}report:")));
        let report = format!("R-{}", registry.next_report());
        let rows = {
            let webhooks = self.webhooks.read().unwrap_or_else(|p| p.into_inner());
            // Planned against the state before the freeze; the notice says it is frozen.
            if live.settings.enabled { notices::for_report(registry, &subject, &webhooks, now) } else { Vec::new() }
        };
        let record =
            Record::Report { report: report.clone(), by: who.clone(), code_hash, subject: subject.clone(), at_us: now.as_micros() };
        let owner = subject
            .account
            .as_ref()
            .map(|a| a.institution.clone())
            .or_else(|| subject.link.as_ref().and_then(|l| registry.link(l)).map(|l| l.bank.institution.clone()));
        let mut items =
            vec![Item::Record { institution: owner.unwrap_or_else(|| who.clone()), record, notices: rows, report_codes: Vec::new() }];
        let mut by_institution: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for (inst, id) in &labelled {
            by_institution.entry(inst).or_default().push(id.clone());
        }
        for (inst, ids) in by_institution {
            items.push(Item::Event(Box::new(service_event(
                format!("{RESERVED_ID_PREFIX}report:{report}"),
                inst,
                None,
                now,
                EventKind::FraudReported { events: ids, source },
            ))));
        }
        let wait = self.append(&mut live, items, now)?;
        Ok(Reported { report, frozen: subject, labelled, wait })
    }

    /// Sets `institution`'s webhook endpoint with a new signing secret, returned once.
    pub fn set_webhook(&self, institution: &str, url: &str, now: Timestamp) -> Result<String, String> {
        let parsed = url.parse::<axum::http::Uri>().map_err(|e| format!("url {url:?}: {e}"))?;
        if !matches!(parsed.scheme_str(), Some("https" | "http")) || parsed.host().is_none() {
            return Err(format!("url {url:?}: expected an absolute http:// or https:// URL"));
        }
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| format!("no random bytes: {e}"))?;
        let secret = format!("whsec_{}", hex::encode(secret));
        let endpoint = WebhookEndpoint { url: url.to_string(), secret: secret.as_bytes().to_vec(), updated_us: now.as_micros() };
        self.store().set_webhook(institution, &endpoint).map_err(|e| e.to_string())?;
        self.webhooks.write().unwrap_or_else(|p| p.into_inner()).insert(institution.to_string());
        Ok(secret)
    }
}

/// An event of the contract that the service writes in `institution`'s name.
fn service_event(id: String, institution: &str, account: Option<String>, time: Timestamp, kind: EventKind) -> Event {
    Event {
        id,
        time,
        institution: Some(institution.to_string()),
        customer: None,
        account,
        amount: None,
        currency: "JPY".into(),
        device: None,
        ip: None,
        attributes: Map::new(),
        kind,
    }
}

/// Why an analyst's action on a case was refused (nothing changed) or failed.
#[derive(Debug, thiserror::Error)]
pub enum CaseFailed {
    #[error("no case {0:?} of this institution")]
    NoCase(String),
    #[error("no held event {0:?} of this institution in a case")]
    NoEvent(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Decide(#[from] DecideError),
}

impl Detector {
    /// Records an analyst's action on a case of `institution`. A verdict of fraud labels
    /// the case's events (a `fraud_reported` in the institution's name).
    pub fn case_action(&self, institution: &str, record: CaseRecord, now: Timestamp) -> Result<u64, CaseFailed> {
        let mut live = self.lock();
        failed(&live)?;
        let cases = live.judge.cases();
        let mut items = Vec::new();
        let mut record = record;
        match &mut record {
            CaseRecord::Payment { claim, amount, .. } => {
                let c = cases.claim(claim).filter(|c| c.involves(institution)).ok_or_else(|| CaseFailed::NoCase(claim.clone()))?;
                let outstanding = c.record.reimbursed - c.paid();
                if *amount <= rust_decimal::Decimal::ZERO || *amount > outstanding {
                    return Err(CaseFailed::Invalid(format!(
                        "a payment is more than 0 and at most the {outstanding} {} outstanding",
                        c.record.currency
                    )));
                }
            }
            CaseRecord::Dispute { claim, .. } => {
                let c = cases.claim(claim).filter(|c| c.involves(institution)).ok_or_else(|| CaseFailed::NoCase(claim.clone()))?;
                if c.dispute.is_some() {
                    return Err(CaseFailed::Conflict(format!("claim {claim} is already disputed")));
                }
            }
            CaseRecord::Resolve { case, verdict: crate::cases::Verdict::Fraud, claims, .. } => {
                let c = cases.get(case).filter(|c| c.institution == institution).ok_or_else(|| CaseFailed::NoCase(case.clone()))?;
                if c.status != crate::cases::Status::Resolved {
                    *claims = self.claims_for(&live, c, now)?;
                }
            }
            CaseRecord::Resolve { case, verdict: crate::cases::Verdict::Legit, cleared, .. } => {
                if let Some(c) = cases.get(case).filter(|c| c.institution == institution) {
                    *cleared = c.events.iter().map(|e| (e.institution.clone(), e.id.clone())).collect();
                }
            }
            _ => {}
        }
        let cases = live.judge.cases();
        match &record {
            CaseRecord::Payment { .. } | CaseRecord::Dispute { .. } => {}
            CaseRecord::Release { event, .. } => {
                let c = cases.case_of(institution, event).filter(|c| c.institution == institution);
                let e = c.and_then(|c| c.events.iter().find(|e| &e.id == event)).ok_or_else(|| CaseFailed::NoEvent(event.clone()))?;
                if e.state != "held" && e.state != "reported" {
                    return Err(CaseFailed::Conflict(format!(
                        "event {event:?} is {}: only a held event is released or confirmed",
                        e.state
                    )));
                }
            }
            CaseRecord::Assign { case, .. }
            | CaseRecord::Comment { case, .. }
            | CaseRecord::Attach { case, .. }
            | CaseRecord::Resolve { case, .. } => {
                let c = cases.get(case).filter(|c| c.institution == institution).ok_or_else(|| CaseFailed::NoCase(case.clone()))?;
                if let CaseRecord::Resolve { verdict, .. } = &record {
                    if c.status == crate::cases::Status::Resolved {
                        return Err(CaseFailed::Conflict(format!("case {case} is already resolved")));
                    }
                    if *verdict == crate::cases::Verdict::Fraud {
                        let ids: Vec<String> = c.events.iter().filter(|e| e.institution == institution).map(|e| e.id.clone()).collect();
                        if !ids.is_empty() {
                            items.push(Item::Event(Box::new(service_event(
                                format!("{RESERVED_ID_PREFIX}verdict:{case}"),
                                institution,
                                None,
                                now,
                                EventKind::FraudReported { events: ids, source: ReportSource::Institution },
                            ))));
                        }
                    }
                }
            }
        }
        let (notices, report_codes) = self.outcome_notices(&live, institution, &record, now).unwrap_or_else(|e| {
            tracing::error!(error = %e, "no notice written for a review's outcome");
            (Vec::new(), Vec::new())
        });
        let record = Item::Record { institution: institution.to_string(), record: Record::Case(record), notices, report_codes };
        items.insert(0, record);
        Ok(self.append(&mut live, items, now)?)
    }

    /// What the customer is told of a review: a held movement released or refused, a claim
    /// decided (one notice per claim, to the victim).
    fn outcome_notices(
        &self,
        live: &Live,
        institution: &str,
        record: &CaseRecord,
        now: Timestamp,
    ) -> Result<(Vec<NewNotice>, Vec<ReportCode>), String> {
        let webhooks = self.webhooks.read().unwrap_or_else(|p| p.into_inner());
        let (registry, settings) = (live.judge.registry(), &live.settings);
        let mut out = (Vec::new(), Vec::new());
        let mut add = |r: Result<(Vec<NewNotice>, Vec<ReportCode>), String>| -> Result<(), String> {
            let (n, c) = r?;
            out.0.extend(n);
            out.1.extend(c);
            Ok(())
        };
        match record {
            CaseRecord::Release { event, confirm, .. } => {
                let Some(stored) = self.store().lookup(institution, event).map_err(|e| e.to_string())? else { return Ok(out) };
                let e = Event::from_json_slice(&stored.body).map_err(|e| format!("{e:?}"))?;
                let Some(owner) = AccountRef::of(&e) else { return Ok(out) };
                let kind = if *confirm { Kind::HoldConfirmed } else { Kind::HoldReleased };
                let money = e.amount.map(|a| (a.to_string(), e.currency.clone()));
                let subject = Subject { event: Some((institution.to_string(), event.clone())), account: Some(owner.clone()), link: None };
                add(notices::for_outcome(self.store(), registry, owner, kind, now, money, None, subject, &webhooks, settings))?;
            }
            CaseRecord::Resolve { claims, .. } => {
                for c in claims {
                    let account = c.victim.split_once(' ').map_or(c.victim.as_str(), |(_, a)| a);
                    let owner = AccountRef::new(&c.institution, account);
                    let due = c
                        .due
                        .parse::<jiff::civil::Date>()
                        .ok()
                        .and_then(|d| d.at(17, 0, 0, 0).to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::offset(9))).ok());
                    let expires = due.map(|z| Timestamp(z.timestamp().as_microsecond()));
                    let money = Some((c.reimbursed.to_string(), c.currency.clone()));
                    let subject = Subject { account: Some(owner.clone()), ..Subject::default() };
                    add(notices::for_outcome(
                        self.store(),
                        registry,
                        owner,
                        Kind::Reimbursement,
                        now,
                        money,
                        expires,
                        subject,
                        &webhooks,
                        settings,
                    ))?;
                }
            }
            _ => {}
        }
        Ok(out)
    }

    /// The claims a verdict of fraud on `case` opens: per victim and currency, the money
    /// that actually left through the case's events (allowed, or held and released),
    /// split between the institutions involved by the liability policy, due in business
    /// days in Japan.
    fn claims_for(&self, live: &Live, case: &crate::cases::Case, now: Timestamp) -> Result<Vec<crate::cases::ClaimRecord>, CaseFailed> {
        use std::collections::BTreeMap;

        use rust_decimal::Decimal;

        let store = self.store();
        let kinds: BTreeMap<String, String> = store
            .institutions()
            .map_err(|e| CaseFailed::Decide(e.into()))?
            .into_iter()
            .map(|i| (i.id, i.kind.as_str().to_string()))
            .collect();
        let kind = |inst: &str| kinds.get(inst).cloned().unwrap_or_else(|| "bank".into());
        let registry = live.judge.registry();
        // (victim, currency, parties) → (loss, events)
        type Key = (String, String, Vec<(String, String, Option<String>)>);
        // → (loss, fees, events)
        type Sums = (Decimal, Decimal, Vec<(String, String)>);
        let mut groups: BTreeMap<Key, Sums> = BTreeMap::new();
        for ce in &case.events {
            let Some(stored) = store.lookup(&ce.institution, &ce.id).map_err(|e| CaseFailed::Decide(e.into()))? else { continue };
            let Ok(e) = Event::from_json_slice(&stored.body) else { continue };
            let decision: serde_json::Value = serde_json::from_slice(&stored.decision).unwrap_or_default();
            let executed = matches!(decision["decision"].as_str(), Some("allow" | "challenge")) || ce.state == "released";
            let (Some(amount), true, true) = (e.amount, executed, crate::registry::moves_money_out(&e)) else { continue };
            let inst = ce.institution.clone();
            let party = |i: &str, kyc: Option<&str>| (i.to_string(), kind(i), kyc.map(str::to_string));
            let (currency, parties) = match &e.kind {
                EventKind::Charge { link } => match registry.link(link) {
                    Some(l) => (
                        e.currency.clone(),
                        vec![party(&l.bank.institution, None), party(&l.wallet.institution, registry.kyc_of(&l.wallet))],
                    ),
                    None => (e.currency.clone(), vec![party(&inst, None)]),
                },
                EventKind::Withdrawal { payee: r } | EventKind::Transfer { counterparty: r, .. } => {
                    (e.currency.clone(), vec![party(&inst, None), party(&r.institution, None)])
                }
                EventKind::CryptoWithdrawal { asset, .. } => (asset.clone(), vec![party(&inst, None)]),
                _ => (e.currency.clone(), vec![party(&inst, None)]),
            };
            let victim = ce.victim.clone().unwrap_or_else(|| "unknown".into());
            // Fees the victim paid on the movement, as its institution reported them.
            let fee = match e.attributes.get("fee") {
                Some(serde_json::Value::String(s)) => s.parse().ok(),
                Some(serde_json::Value::Number(n)) => n.to_string().parse().ok(),
                _ => None,
            };
            let g = groups.entry((victim, currency, parties)).or_default();
            g.0 += amount;
            g.1 += fee.filter(|f: &Decimal| *f > Decimal::ZERO).unwrap_or_default();
            g.2.push((ce.institution.clone(), ce.id.clone()));
        }
        let today = japan_date(now);
        let due = mamori_claims::calendar::add_business_days(today, live.reimbursement.due_business_days);
        let number = case.id.trim_start_matches("C-");
        let mut out = Vec::new();
        for (n, ((victim, currency, parties), (loss, fees, events))) in groups.into_iter().enumerate() {
            let claim = mamori_claims::Claim {
                loss,
                fees,
                currency: currency.clone(),
                parties: parties
                    .iter()
                    .map(|(i, k, kyc)| mamori_claims::Party { institution: i.clone(), kind: k.clone(), kyc: kyc.clone() })
                    .collect(),
                vulnerable: false,
            };
            let split = if parties.len() == 2 { live.reimbursement.policy.split(&claim).ok() } else { None };
            let split = split.unwrap_or_else(|| mamori_claims::Split {
                shares: vec![mamori_claims::Share {
                    institution: case.institution.clone(),
                    amount: loss + fees,
                    basis: "100% of the loss and fees: no liability rule names the institutions involved".into(),
                }],
                reimbursed: loss + fees,
                unreimbursed: Decimal::ZERO,
                rule: "the victim's institution".into(),
                notes: Vec::new(),
            });
            out.push(crate::cases::ClaimRecord {
                id: format!("CL-{number}-{}", n + 1),
                case: case.id.clone(),
                institution: case.institution.clone(),
                victim,
                currency,
                loss,
                fees,
                shares: split.shares,
                reimbursed: split.reimbursed,
                unreimbursed: split.unreimbursed,
                rule: split.rule,
                notes: split.notes,
                events,
                opened: today.to_string(),
                due: due.to_string(),
            });
        }
        Ok(out)
    }

    /// The claims `institution` is involved in, oldest first.
    pub fn claims(&self, institution: &str) -> Vec<crate::cases::Claim> {
        self.lock().judge.cases().claims().iter().filter(|c| c.involves(institution)).cloned().collect()
    }

    /// A case of `institution`.
    pub fn case(&self, institution: &str, id: &str) -> Option<crate::cases::Case> {
        self.lock().judge.cases().get(id).filter(|c| c.institution == institution).cloned()
    }

    /// The cases of `institution` that `keep` keeps, newest first, at most `limit`.
    pub fn cases(&self, institution: &str, keep: impl Fn(&crate::cases::Case) -> bool, limit: usize) -> Vec<crate::cases::Case> {
        self.lock().judge.cases().of(institution).filter(|c| keep(c)).take(limit).cloned().collect()
    }
}

/// The date in Japan (UTC+9, no summer time) at `t`.
pub fn japan_date(t: Timestamp) -> jiff::civil::Date {
    let secs = t.as_micros().div_euclid(1_000_000) + 9 * 3600;
    let days = secs.div_euclid(86_400);
    jiff::civil::date(1970, 1, 1).checked_add(jiff::Span::new().days(days)).unwrap_or(jiff::civil::date(1970, 1, 1))
}

/// The institution id the service's own records of itself are kept under.
pub const SERVICE: &str = "mamori";

impl Detector {
    /// Records the packs in use (`reason`: `start` or `reload`), so that the audit chain
    /// says which ruleset decided what.
    pub fn record_ruleset(&self, reason: &str, now: Timestamp) -> Result<u64, DecideError> {
        let mut live = self.lock();
        failed(&live)?;
        let p = live.judge.packs();
        let record = Record::Ruleset {
            ruleset: p.rules.id().to_string(),
            features: p.features_id.clone(),
            origin: p.origin.clone(),
            reason: reason.to_string(),
            at_us: now.as_micros(),
        };
        let item = Item::Record { institution: SERVICE.to_string(), record, notices: Vec::new(), report_codes: Vec::new() };
        self.append(&mut live, vec![item], now)
    }
}
