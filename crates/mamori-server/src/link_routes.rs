//! The routes of verified linking, partner controls, "this wasn't me", webhooks and the
//! outbox (beyond the v1 contract, additive).

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use mamori_core::Timestamp;
use mamori_core::event::{Event, EventKind};
use mamori_store::{NoticeStatus, NoticeUpdate};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::detector::{DecideError, Outcome};
use crate::links::{ControlRequest, LinkFailed, ReportFailed, Reporter, Tried};
use crate::notices::{describe, read_report_code};
use crate::problem::{Pointed, Problem};
use crate::registry::{AccountRef, CodeError, Link, MAX_FAILURES, Subject};
use crate::routes::{Act, AppState, authorize, is_json, json, parse_events, read_body};

/// The largest body of these routes.
const MAX_BODY: usize = 64 << 10;

/// Runs `f` on a blocking thread with the service's clock, then waits until `seq(result)`
/// is durable.
pub(crate) async fn blocking<T: Send + 'static, E: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&crate::Detector, Timestamp) -> Result<T, E> + Send + 'static,
    seq: impl FnOnce(&T) -> u64 + Send + 'static,
) -> Result<Result<T, E>, Problem> {
    let st = state.clone();
    tokio::task::spawn_blocking(move || {
        let now = st.0.clock.now();
        let out = f(&st.0.detector, now);
        if let Ok(v) = &out {
            let s = seq(v);
            if s > 0 {
                st.0.detector.store().wait_durable(s).map_err(|e| Problem::unavailable(e.to_string()))?;
            }
        }
        Ok(out)
    })
    .await
    .map_err(|e| Problem::unavailable(e.to_string()))?
}

/// A JSON body of the shape `expected` describes, or 422 saying what was expected.
pub(crate) fn body_json<T: serde::de::DeserializeOwned>(bytes: &[u8], expected: &str) -> Result<T, Problem> {
    serde_json::from_slice(bytes)
        .map_err(|e| Problem::invalid(format!("expected {expected}: {e}"), vec![Pointed { pointer: String::new(), reason: e.to_string() }]))
}

fn decide_problem(e: DecideError) -> Problem {
    match e {
        DecideError::Conflict { id, .. } => Problem {
            errors: vec![Pointed { pointer: "/id".into(), reason: "already received with a different body".into() }],
            ..Problem::new(
                StatusCode::CONFLICT,
                "conflict",
                "Different body for a known event id",
                format!("event {id:?} was already received with a different body"),
            )
        },
        e => Problem::unavailable(e.to_string()),
    }
}

fn code_problem(e: CodeError) -> Problem {
    let detail = e.to_string();
    match e {
        CodeError::Unknown(_) | CodeError::NotYours(_) => Problem::new(StatusCode::NOT_FOUND, "unknown-link", "No such link", detail),
        CodeError::AlreadyVerified(_) => Problem::new(StatusCode::CONFLICT, "already-verified", "Link already active", detail),
        CodeError::Locked(_) => Problem::new(StatusCode::LOCKED, "link-locked", "Link locked", detail),
        CodeError::Closed { .. } => Problem::new(StatusCode::CONFLICT, "link-closed", "Link closed", detail),
        CodeError::NoChallenge(_) => Problem::new(StatusCode::CONFLICT, "no-code", "No code sent", detail),
        CodeError::Expired(_) => Problem::new(StatusCode::GONE, "code-expired", "Code expired", detail),
    }
}

fn link_problem(e: LinkFailed) -> Problem {
    match e {
        LinkFailed::Refused(c) => code_problem(c),
        LinkFailed::Invalid(why) => Problem::invalid(why.clone(), vec![Pointed { pointer: String::new(), reason: why }]),
        LinkFailed::NoChannel(why) => Problem::new(StatusCode::CONFLICT, "no-registered-channel", "No registered channel", why),
        LinkFailed::Decide(e) => decide_problem(e),
    }
}

/// A link as the API shows it: no code hash, no salt.
pub fn link_view(l: &Link) -> Value {
    let rfc = |t: i64| Timestamp(t).to_rfc3339();
    json!({
        "id": l.id,
        "bank": l.bank,
        "wallet": l.wallet,
        "auth": l.auth,
        "state": l.state,
        "requested_at": rfc(l.requested_at_us),
        "active_since": l.active_since_us.map(rfc),
        "verified_by": l.verified_by,
        "wrong_codes": l.failures,
        "attempts_left": MAX_FAILURES.saturating_sub(l.failures),
        "challenge": l.challenge.as_ref().map(|c| json!({"channel": c.channel, "to": c.to, "expires": rfc(c.expires_us)})),
        "identity": l.identity,
        "frozen": l.frozen,
        "history": l.history,
    })
}

fn ok_json(v: &Value) -> Response {
    json(StatusCode::OK, serde_json::to_vec(v).unwrap_or_default(), false)
}

/// `POST /v1/links`: a `link_requested` event from the bank or the wallet; the answer is its
/// decision with the link and, when it may proceed, the code sent.
pub async fn post_link(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Result<Response, Problem> {
    let inst = authorize(&state, &headers, Act::Send)?;
    is_json(&headers)?;
    let bytes = read_body(body, MAX_BODY).await?;
    let mut events = parse_events(&bytes, false, &inst.id)?;
    let inc = events.remove(0);
    let EventKind::LinkRequested { bank, wallet, .. } = &inc.event.kind else {
        return Err(Problem::invalid(
            "POST /v1/links takes a link_requested event",
            vec![Pointed { pointer: "/type".into(), reason: "must be link_requested".into() }],
        ));
    };
    if bank.institution != inst.id && wallet.institution != inst.id {
        return Err(Problem::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Not a party to the link",
            format!("{} is neither the bank ({}) nor the wallet ({}) of this link", inst.id, bank.institution, wallet.institution),
        ));
    }
    let id = inst.id.clone();
    let answer = blocking(&state, move |d, now| d.request_link(&id, inc, now), |a| a.wait).await?.map_err(link_problem)?;
    let replay = matches!(answer.outcome, Outcome::Replay { .. });
    let mut v: Value = serde_json::from_slice(answer.outcome.decision()).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.insert("link".into(), answer.link.as_ref().map(link_view).unwrap_or(Value::Null));
        o.insert("challenge".into(), serde_json::to_value(&answer.challenge).unwrap_or_default());
        if let Some(why) = answer.no_challenge {
            o.insert("challenge_unavailable".into(), Value::String(why));
        }
    }
    Ok(json(StatusCode::OK, serde_json::to_vec(&v).unwrap_or_default(), replay))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CodeBody {
    code: String,
}

/// `POST /v1/links/{id}/verify` with `{"code": "123456"}`.
pub async fn verify_link(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(link): Path<String>,
    body: Body,
) -> Result<Response, Problem> {
    let inst = authorize(&state, &headers, Act::Send)?;
    is_json(&headers)?;
    let bytes = read_body(body, MAX_BODY).await?;
    let req: CodeBody = body_json(&bytes, "{\"code\": \"123456\"}")?;
    if req.code.len() != 6 || !req.code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Problem::invalid(
            "a code is six digits",
            vec![Pointed { pointer: "/code".into(), reason: "expected six digits".into() }],
        ));
    }
    let (id, l) = (inst.id.clone(), link.clone());
    let (tried, _) = blocking(&state, move |d, now| d.verify_link(&id, &l, &req.code, now), |r| r.1).await?.map_err(link_problem)?;
    let view = state.0.detector.link(&inst.id, &link).map_err(code_problem)?;
    match tried {
        Tried::Activated => Ok(ok_json(&json!({"verified": true, "link": link_view(&view)}))),
        Tried::Wrong { left } => Err(Problem {
            extra: Some(Box::new([("attempts_left".to_string(), json!(left))].into_iter().collect())),
            ..Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "wrong-code",
                "Wrong code",
                format!("the code is wrong; {left} attempt{} left before the link is locked", if left == 1 { "" } else { "s" }),
            )
        }),
        Tried::LockedNow => Err(Problem {
            extra: Some(Box::new([("attempts_left".to_string(), json!(0))].into_iter().collect())),
            ..Problem::new(
                StatusCode::LOCKED,
                "link-locked",
                "Link locked",
                format!(
                    "{MAX_FAILURES} wrong codes: the link is locked and will never become active; the customer must ask for a new link"
                ),
            )
        }),
    }
}

/// `POST /v1/links/{id}/challenge`: a new code (the last one expired or did not arrive).
pub async fn resend_code(State(state): State<AppState>, headers: HeaderMap, Path(link): Path<String>) -> Result<Response, Problem> {
    let inst = authorize(&state, &headers, Act::Send)?;
    let (id, l) = (inst.id.clone(), link.clone());
    let (sent, _) = blocking(&state, move |d, now| d.resend_code(&id, &l, now), |r| r.1).await?.map_err(link_problem)?;
    Ok(ok_json(&json!({"challenge": sent})))
}

/// `POST /v1/links/{id}/revoke`.
pub async fn revoke_link(State(state): State<AppState>, headers: HeaderMap, Path(link): Path<String>) -> Result<Response, Problem> {
    let inst = authorize(&state, &headers, Act::Send)?;
    let (id, l) = (inst.id.clone(), link.clone());
    blocking(&state, move |d, now| d.revoke_link(&id, &l, now), |s| *s).await?.map_err(link_problem)?;
    let view = state.0.detector.link(&inst.id, &link).map_err(code_problem)?;
    Ok(ok_json(&json!({"revoked": true, "link": link_view(&view)})))
}

/// `GET /v1/links/{id}`.
pub async fn get_link(State(state): State<AppState>, headers: HeaderMap, Path(link): Path<String>) -> Result<Response, Problem> {
    let inst = authorize(&state, &headers, Act::Read)?;
    let view = state.0.detector.link(&inst.id, &link).map_err(code_problem)?;
    Ok(ok_json(&link_view(&view)))
}

#[derive(Debug, Deserialize)]
pub struct AccountQuery {
    account: Option<String>,
}

/// `GET /v1/links?account=`: the links of one of the caller's accounts.
pub async fn list_links(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<AccountQuery>) -> Result<Response, Problem> {
    let inst = authorize(&state, &headers, Act::Read)?;
    let Some(account) = q.account.filter(|a| !a.is_empty()) else {
        return Err(Problem::bad_request("name the account: GET /v1/links?account=<the caller's account id>"));
    };
    let links: Vec<Value> = state.0.detector.links_of(&inst.id, &account).iter().map(link_view).collect();
    Ok(ok_json(&json!({"account": account, "links": links})))
}

/// `PUT /v1/partners/{partner}/controls`: suspend new links or charges with a partner, or
/// require a minimum KYC of its accounts; recorded with who and why.
pub async fn put_controls(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(partner): Path<String>,
    body: Body,
) -> Result<Response, Problem> {
    let inst = authorize(&state, &headers, Act::Administer)?;
    is_json(&headers)?;
    let bytes = read_body(body, MAX_BODY).await?;
    let req: ControlRequest = body_json(&bytes, "{\"suspend_links\", \"suspend_charges\", \"min_kyc\", \"by\", \"reason\"}")?;
    let (id, p) = (inst.id.clone(), partner.clone());
    blocking(&state, move |d, now| d.set_controls(&id, &p, req, now), |s| *s).await?.map_err(link_problem)?;
    tracing::info!(institution = %inst.id, partner = %partner, "partner controls changed");
    let controls = state.0.detector.controls(&inst.id).remove(&partner);
    Ok(ok_json(&json!({"partner": partner, "controls": controls})))
}

/// `GET /v1/partners`: the controls the caller set, by partner, with their history.
pub async fn get_partners(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, Problem> {
    let inst = authorize(&state, &headers, Act::Read)?;
    Ok(ok_json(&json!({"partners": state.0.detector.controls(&inst.id)})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportBody {
    code: Option<String>,
    event: Option<String>,
    link: Option<String>,
    account: Option<String>,
}

fn report_problem(e: ReportFailed) -> Problem {
    let detail = e.to_string();
    match e {
        ReportFailed::UnknownCode => Problem::new(StatusCode::NOT_FOUND, "unknown-code", "Unknown report code", detail),
        ReportFailed::UsedCode => Problem::new(StatusCode::CONFLICT, "code-used", "Report code already used", detail),
        ReportFailed::ExpiredCode => Problem::new(StatusCode::GONE, "code-expired", "Report code expired", detail),
        ReportFailed::Invalid(_) => Problem::invalid(detail.clone(), vec![Pointed { pointer: String::new(), reason: detail }]),
        ReportFailed::NotFound(_) => Problem::new(StatusCode::NOT_FOUND, "not-found", "Nothing to report", detail),
        ReportFailed::Decide(e) => decide_problem(e),
    }
}

/// `POST /v1/reports`: "this wasn't me". With `{"code"}` and no key (the code from a
/// notice is the credential, once, until it expires), or with an institution's key and
/// one of `{"event"}`, `{"link"}`, `{"account"}` of its own.
pub async fn post_report(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Result<Response, Problem> {
    is_json(&headers)?;
    let bytes = read_body(body, MAX_BODY).await?;
    let req: ReportBody = body_json(&bytes, "{\"code\"} or, with an API key, one of {\"event\"}, {\"link\"}, {\"account\"}")?;
    let (reporter, subject) = if headers.contains_key(header::AUTHORIZATION) {
        let inst = authorize(&state, &headers, Act::Report)?;
        (Reporter::Institution(inst.id.clone()), institution_subject(&state, &inst.id, &req).await?)
    } else {
        let Some(code) = req.code.as_deref().filter(|c| !c.trim().is_empty()) else {
            return Err(Problem::unauthorized("send the report code from the notice as {\"code\"}, or an institution's API key"));
        };
        let (id, hash) = read_report_code(code);
        let store = state.0.detector.store().clone();
        let found = tokio::task::spawn_blocking(move || store.report_code(id, &hash))
            .await
            .map_err(|e| Problem::unavailable(e.to_string()))?
            .map_err(|e| Problem::unavailable(e.to_string()))?;
        let Some(rc) = found else { return Err(report_problem(ReportFailed::UnknownCode)) };
        if state.0.clock.now().as_micros() >= rc.expires_us {
            return Err(report_problem(ReportFailed::ExpiredCode));
        }
        let subject: Subject = serde_json::from_slice(&rc.subject).map_err(|e| Problem::unavailable(format!("stored report code: {e}")))?;
        (Reporter::Customer { code_hash: hash }, subject)
    };
    let reported = blocking(&state, move |d, now| d.report(reporter, subject, now), |r| r.wait).await?.map_err(report_problem)?;
    tracing::info!(report = %reported.report, labelled = reported.labelled.len(), "reported: this wasn't me");
    let labelled: Vec<Value> = reported.labelled.iter().map(|(i, e)| json!({"institution": i, "id": e})).collect();
    let body = json!({"report": reported.report, "frozen": reported.frozen, "labelled": labelled});
    Ok(json(StatusCode::CREATED, serde_json::to_vec(&body).unwrap_or_default(), false))
}

/// What an institution's report names, checked to be its own.
async fn institution_subject(state: &AppState, institution: &str, req: &ReportBody) -> Result<Subject, Problem> {
    let named = [req.event.is_some(), req.link.is_some(), req.account.is_some()].iter().filter(|b| **b).count();
    if named != 1 || req.code.is_some() {
        return Err(report_problem(ReportFailed::Invalid("name exactly one of event, link or account".into())));
    }
    if let Some(link) = &req.link {
        state.0.detector.link(institution, link).map_err(code_problem)?;
        return Ok(Subject { link: Some(link.clone()), ..Subject::default() });
    }
    if let Some(account) = &req.account {
        return Ok(Subject { account: Some(AccountRef::new(institution, account)), ..Subject::default() });
    }
    let id = req.event.clone().unwrap_or_default();
    let store = state.0.detector.store().clone();
    let (inst, lookup) = (institution.to_string(), id.clone());
    let stored = tokio::task::spawn_blocking(move || store.lookup(&inst, &lookup))
        .await
        .map_err(|e| Problem::unavailable(e.to_string()))?
        .map_err(|e| Problem::unavailable(e.to_string()))?
        .ok_or_else(|| report_problem(ReportFailed::NotFound(format!("no event {id:?} of {institution}"))))?;
    let event = Event::from_json_slice(&stored.body).map_err(|e| Problem::unavailable(format!("stored event: {e:?}")))?;
    let link = event.kind.link().map(str::to_string);
    let account = if link.is_none() { AccountRef::of(&event) } else { None };
    Ok(Subject { event: Some((institution.to_string(), id)), link, account })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WebhookBody {
    url: String,
}

/// `PUT /v1/webhook` with `{"url"}`: where the caller's notices are posted; answers the new
/// signing secret, shown once.
pub async fn put_webhook(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Result<Response, Problem> {
    let inst = authorize(&state, &headers, Act::Administer)?;
    is_json(&headers)?;
    let bytes = read_body(body, MAX_BODY).await?;
    let req: WebhookBody = body_json(&bytes, "{\"url\": \"https://...\"}")?;
    let id = inst.id.clone();
    let url = req.url.clone();
    let secret = blocking(&state, move |d, now| d.set_webhook(&id, &url, now), |_| 0)
        .await?
        .map_err(|e| Problem::invalid(e.clone(), vec![Pointed { pointer: "/url".into(), reason: e }]))?;
    tracing::info!(institution = %inst.id, "webhook endpoint set");
    Ok(ok_json(&json!({"url": req.url, "secret": secret})))
}

#[derive(Debug, Deserialize)]
pub struct NoticeQuery {
    status: Option<String>,
    limit: Option<usize>,
}

/// `GET /v1/notices?status=pending|sent|dead&limit=`: the caller's notices, newest first
/// (`status=dead` is the dead-letter list).
pub async fn list_notices(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<NoticeQuery>) -> Result<Response, Problem> {
    let inst = authorize(&state, &headers, Act::Read)?;
    let status = match q.status.as_deref() {
        None | Some("") => None,
        Some(s) => {
            Some(NoticeStatus::parse(s).ok_or_else(|| Problem::bad_request(format!("status {s:?}: expected pending, sent or dead")))?)
        }
    };
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let store = state.0.detector.store().clone();
    let id = inst.id.clone();
    let notices = tokio::task::spawn_blocking(move || store.notices(&id, status, limit))
        .await
        .map_err(|e| Problem::unavailable(e.to_string()))?
        .map_err(|e| Problem::unavailable(e.to_string()))?;
    let list: Vec<Value> = notices.iter().map(describe).collect();
    Ok(ok_json(&json!({"notices": list})))
}

/// `POST /v1/notices/{id}/retry`: puts a dead notice back in the queue.
pub async fn retry_notice(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<i64>) -> Result<Response, Problem> {
    let inst = authorize(&state, &headers, Act::Administer)?;
    let store = state.0.detector.store().clone();
    let now = state.0.clock.now().as_micros();
    let inst_id = inst.id.clone();
    let found = tokio::task::spawn_blocking(move || -> Result<Option<mamori_store::Notice>, mamori_store::StoreError> {
        let Some(n) = store.notice(id)? else { return Ok(None) };
        if n.institution != inst_id {
            return Ok(None);
        }
        if n.status == NoticeStatus::Dead {
            store.record_deliveries(vec![NoticeUpdate::Retry { id, at_us: now }])?;
        }
        store.notice(id)
    })
    .await
    .map_err(|e| Problem::unavailable(e.to_string()))?
    .map_err(|e| Problem::unavailable(e.to_string()))?;
    match found {
        None => Err(Problem::new(StatusCode::NOT_FOUND, "not-found", "No such notice", format!("no notice {id} of {}", inst.id))),
        Some(n) if n.status == NoticeStatus::Pending => {
            state.0.detector.wake().notify_one();
            Ok(ok_json(&describe(&n)))
        }
        Some(n) => Err(Problem::new(
            StatusCode::CONFLICT,
            "not-dead",
            "Notice not on the dead-letter list",
            format!("notice {id} is {}; only a dead notice is retried", n.status.as_str()),
        )),
    }
}
