//! The routes analysts work cases with (beyond the v1 contract, additive). Every one
//! needs an analyst or admin key and sees only its own institution's cases.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use mamori_core::Timestamp;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::cases::{Case, CaseRecord, Status, Verdict};
use crate::link_routes::{blocking, body_json};
use crate::links::CaseFailed;
use crate::problem::{Pointed, Problem};
use crate::routes::{Act, AppState, authorize, is_json, json, read_body};

/// The largest attachment.
pub const MAX_ATTACHMENT: usize = 10 << 20;

fn ok(status: StatusCode, v: &Value) -> Response {
    json(status, serde_json::to_vec(v).unwrap_or_default(), false)
}

fn case_problem(e: CaseFailed) -> Problem {
    let detail = e.to_string();
    match e {
        CaseFailed::NoCase(_) => Problem::new(StatusCode::NOT_FOUND, "unknown-case", "No such case", detail),
        CaseFailed::NoEvent(_) => Problem::new(StatusCode::NOT_FOUND, "not-found", "No such held event", detail),
        CaseFailed::Conflict(_) => Problem::new(StatusCode::CONFLICT, "conflict", "Not in that state", detail),
        CaseFailed::Invalid(_) => Problem::invalid(detail.clone(), vec![Pointed { pointer: String::new(), reason: detail }]),
        CaseFailed::Decide(e) => Problem::unavailable(e.to_string()),
    }
}

/// Records `record` (made by `f` with the service's time) and waits until it is durable.
async fn act(state: &AppState, institution: String, f: impl FnOnce(i64) -> CaseRecord + Send + 'static) -> Result<(), Problem> {
    blocking(state, move |d, now| d.case_action(&institution, f(now.as_micros()), now), |s| *s).await?.map(drop).map_err(case_problem)
}

fn summary(c: &Case) -> Value {
    json!({
        "id": c.id,
        "status": c.status,
        "opened_at": c.opened_at,
        "updated_at": c.updated_at,
        "victims": c.victims.len(),
        "events": c.events.len(),
        "amounts": c.amounts,
        "rules": c.rules,
        "assignee": c.assignee,
        "verdict": c.verdict,
        "reports": c.reports,
    })
}

/// Filters of `GET /v1/cases`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseQuery {
    status: Option<String>,
    rule: Option<String>,
    /// Cases whose money in some currency reaches this.
    min_amount: Option<String>,
    /// RFC 3339: cases opened at or after / before.
    opened_after: Option<String>,
    opened_before: Option<String>,
    limit: Option<usize>,
}

/// `GET /v1/cases`: the caller's cases, newest first, filtered.
pub async fn list_cases(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<CaseQuery>) -> Result<Response, Problem> {
    let inst = authorize(&state, &headers, Act::Work)?;
    let status = match q.status.as_deref() {
        None | Some("") => None,
        Some("open") => Some(Status::Open),
        Some("resolved") => Some(Status::Resolved),
        Some(s) => return Err(Problem::bad_request(format!("status {s:?}: expected open or resolved"))),
    };
    let min: Option<Decimal> = q
        .min_amount
        .as_deref()
        .map(|a| a.parse().map_err(|_| Problem::bad_request(format!("min_amount {a:?}: expected a decimal"))))
        .transpose()?;
    let time = |name: &str, v: &Option<String>| -> Result<Option<i64>, Problem> {
        v.as_deref()
            .map(|t| Timestamp::parse_rfc3339(t).map(Timestamp::as_micros).map_err(|e| Problem::bad_request(format!("{name}: {e}"))))
            .transpose()
    };
    let (after, before) = (time("opened_after", &q.opened_after)?, time("opened_before", &q.opened_before)?);
    let rule = q.rule.clone();
    let cases = state.0.detector.cases(
        &inst.id,
        |c| {
            status.is_none_or(|s| c.status == s)
                && rule.as_ref().is_none_or(|r| c.rules.contains(r))
                && min.is_none_or(|m| c.amounts.values().any(|a| *a >= m))
                && after.is_none_or(|t| c.opened_us >= t)
                && before.is_none_or(|t| c.opened_us < t)
        },
        q.limit.unwrap_or(100).clamp(1, 1000),
    );
    let list: Vec<Value> = cases.iter().map(summary).collect();
    Ok(ok(StatusCode::OK, &json!({"cases": list})))
}

/// `GET /v1/cases/{id}`: the case with its timeline (each event's stored decision),
/// victims, related entities, notes and attachments.
pub async fn get_case(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> Result<Response, Problem> {
    let inst = authorize(&state, &headers, Act::Work)?;
    let Some(c) = state.0.detector.case(&inst.id, &id) else {
        return Err(case_problem(CaseFailed::NoCase(id)));
    };
    let store = state.0.detector.store().clone();
    let events = c.events.clone();
    let timeline = tokio::task::spawn_blocking(move || {
        events
            .iter()
            .map(|e| {
                let decision = store
                    .lookup(&e.institution, &e.id)
                    .ok()
                    .flatten()
                    .and_then(|s| serde_json::from_slice::<Value>(&s.decision).ok())
                    .unwrap_or(Value::Null);
                let mut v = serde_json::to_value(e).unwrap_or_default();
                if let Some(o) = v.as_object_mut() {
                    o.insert("reasons".into(), decision["reasons"].clone());
                    o.insert("score".into(), decision["score"].clone());
                }
                v
            })
            .collect::<Vec<Value>>()
    })
    .await
    .map_err(|e| Problem::unavailable(e.to_string()))?;
    let entities: Vec<Value> = c.entities.iter().map(|(k, v)| json!({"kind": k, "value": v})).collect();
    let mut v = summary(&c);
    if let Some(o) = v.as_object_mut() {
        o.insert("victims".into(), json!(c.victims));
        o.insert("entities".into(), json!(entities));
        o.insert("timeline".into(), json!(timeline));
        o.insert("notes".into(), json!(c.notes));
        o.insert("attachments".into(), json!(c.attachments));
    }
    Ok(ok(StatusCode::OK, &v))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AssignBody {
    to: String,
    by: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CommentBody {
    text: String,
    by: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResolveBody {
    verdict: String,
    #[serde(default)]
    comment: String,
    by: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReleaseBody {
    reason: String,
    by: Option<String>,
}

fn who(by: Option<String>, institution: &str) -> String {
    by.map(|b| b.trim().to_string()).filter(|b| !b.is_empty()).unwrap_or_else(|| format!("{institution} analyst"))
}

fn non_empty(what: &str, v: &str) -> Result<(), Problem> {
    if v.trim().is_empty() {
        return Err(Problem::invalid(
            format!("{what} must not be empty"),
            vec![Pointed { pointer: format!("/{what}"), reason: "empty".into() }],
        ));
    }
    Ok(())
}

async fn json_body<T: serde::de::DeserializeOwned>(headers: &HeaderMap, body: Body, expected: &str) -> Result<T, Problem> {
    is_json(headers)?;
    let bytes = read_body(body, 64 << 10).await?;
    body_json(&bytes, expected)
}

/// `POST /v1/cases/{id}/assign` with `{"to"}`.
pub async fn assign(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>, body: Body) -> Result<Response, Problem> {
    let inst = authorize(&state, &headers, Act::Work)?;
    let b: AssignBody = json_body(&headers, body, "{\"to\": \"...\"}").await?;
    non_empty("to", &b.to)?;
    let by = who(b.by, &inst.id);
    let case = id.clone();
    act(&state, inst.id.clone(), move |at_us| CaseRecord::Assign { case, to: b.to.trim().to_string(), by, at_us }).await?;
    get_case(State(state), headers, Path(id)).await
}

/// `POST /v1/cases/{id}/comment` with `{"text"}`.
pub async fn comment(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>, body: Body) -> Result<Response, Problem> {
    let inst = authorize(&state, &headers, Act::Work)?;
    let b: CommentBody = json_body(&headers, body, "{\"text\": \"...\"}").await?;
    non_empty("text", &b.text)?;
    let by = who(b.by, &inst.id);
    let case = id.clone();
    act(&state, inst.id.clone(), move |at_us| CaseRecord::Comment { case, text: b.text, by, at_us }).await?;
    get_case(State(state), headers, Path(id)).await
}

#[derive(Debug, Deserialize)]
pub struct AttachQuery {
    name: Option<String>,
    by: Option<String>,
}

/// `POST /v1/cases/{id}/attachments?name=statement.pdf`: the body is the file, kept in the
/// data directory under its SHA-256.
pub async fn attach(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<AttachQuery>,
    body: Body,
) -> Result<Response, Problem> {
    let inst = authorize(&state, &headers, Act::Work)?;
    let name = q.name.unwrap_or_default();
    if name.trim().is_empty() || name.len() > 255 || name.contains(['/', '\\', '\0']) {
        return Err(Problem::bad_request("name the file: ?name=<a file name without slashes, up to 255 bytes>"));
    }
    if state.0.detector.case(&inst.id, &id).is_none() {
        return Err(case_problem(CaseFailed::NoCase(id)));
    }
    let bytes = read_body(body, MAX_ATTACHMENT).await?;
    let sha256 = hex::encode(Sha256::digest(&bytes));
    let dir = state.0.detector.store().dir().join("attachments");
    let path = dir.join(&sha256);
    let tmp = dir.join(format!(".{sha256}.tmp"));
    let size = bytes.len() as u64;
    let written = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        if path.exists() {
            return Ok(());
        }
        std::fs::create_dir_all(&dir)?;
        {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &path)
    })
    .await
    .map_err(|e| Problem::unavailable(e.to_string()))?;
    written.map_err(|e| Problem::unavailable(format!("attachment not kept: {e}")))?;
    let by = who(q.by, &inst.id);
    let case = id.clone();
    act(&state, inst.id.clone(), move |at_us| CaseRecord::Attach { case, name, sha256, size, by, at_us }).await?;
    get_case(State(state), headers, Path(id)).await
}

/// `POST /v1/cases/{id}/resolve` with `{"verdict": "fraud" | "legit" | "unknown", "comment"}`.
pub async fn resolve(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>, body: Body) -> Result<Response, Problem> {
    let inst = authorize(&state, &headers, Act::Work)?;
    let b: ResolveBody = json_body(&headers, body, "{\"verdict\": \"fraud\" | \"legit\" | \"unknown\", \"comment\"}").await?;
    let verdict: Verdict =
        b.verdict.parse().map_err(|e: String| Problem::invalid(e.clone(), vec![Pointed { pointer: "/verdict".into(), reason: e }]))?;
    let by = who(b.by, &inst.id);
    let case = id.clone();
    act(&state, inst.id.clone(), move |at_us| CaseRecord::Resolve {
        case,
        verdict,
        comment: b.comment,
        by,
        at_us,
        claims: Vec::new(),
        cleared: Vec::new(),
    })
    .await?;
    get_case(State(state), headers, Path(id)).await
}

async fn release_or_confirm(state: AppState, headers: HeaderMap, event: String, body: Body, confirm: bool) -> Result<Response, Problem> {
    let inst = authorize(&state, &headers, Act::Work)?;
    let b: ReleaseBody = json_body(&headers, body, "{\"reason\": \"...\"}").await?;
    non_empty("reason", &b.reason)?;
    let by = who(b.by, &inst.id);
    let (institution, ev) = (inst.id.clone(), event.clone());
    act(&state, inst.id.clone(), move |at_us| CaseRecord::Release { institution, event: ev, confirm, reason: b.reason, by, at_us }).await?;
    let case = state.0.detector.cases(&inst.id, |c| c.events.iter().any(|e| e.id == event), 1);
    let state_now = case.first().and_then(|c| c.events.iter().find(|e| e.id == event)).map(|e| e.state.clone());
    Ok(ok(StatusCode::OK, &json!({"event": event, "state": state_now, "case": case.first().map(|c| c.id.clone())})))
}

/// `POST /v1/events/{id}/release`: a held movement may go ahead.
pub async fn release(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>, body: Body) -> Result<Response, Problem> {
    release_or_confirm(state, headers, id, body, false).await
}

/// `POST /v1/events/{id}/confirm`: a held movement is refused for good.
pub async fn confirm(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>, body: Body) -> Result<Response, Problem> {
    release_or_confirm(state, headers, id, body, true).await
}

/// A claim as the API shows it: the record, payments, dispute, paid, outstanding, status.
pub fn claim_view(c: &crate::cases::Claim, today: &str) -> Value {
    let mut v = serde_json::to_value(&c.record).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.insert("paid".into(), json!(c.paid()));
        o.insert("outstanding".into(), json!(c.record.reimbursed - c.paid()));
        o.insert("status".into(), json!(c.status(today)));
        o.insert("payments".into(), json!(c.payments));
        o.insert("dispute".into(), json!(c.dispute));
    }
    v
}

fn today(state: &AppState) -> String {
    crate::links::japan_date(state.0.clock.now()).to_string()
}

/// The claims the caller's institution is involved in (as the victim's or as one owing a
/// share), oldest first.
fn claims_of(state: &AppState, institution: &str) -> Vec<crate::cases::Claim> {
    state.0.detector.claims(institution)
}

/// Query of `GET /v1/reimbursements`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimQuery {
    status: Option<String>,
}

/// `GET /v1/reimbursements?status=open|paid|overdue|disputed`.
pub async fn list_claims(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<ClaimQuery>) -> Result<Response, Problem> {
    let inst = authorize(&state, &headers, Act::Work)?;
    let today = today(&state);
    let list: Vec<Value> = claims_of(&state, &inst.id)
        .iter()
        .filter(|c| q.status.as_deref().is_none_or(|s| c.status(&today) == s))
        .map(|c| claim_view(c, &today))
        .collect();
    Ok(ok(StatusCode::OK, &json!({"reimbursements": list})))
}

/// `GET /v1/reimbursements/{id}`.
pub async fn get_claim(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> Result<Response, Problem> {
    let inst = authorize(&state, &headers, Act::Work)?;
    let today = today(&state);
    match claims_of(&state, &inst.id).iter().find(|c| c.record.id == id) {
        Some(c) => Ok(ok(StatusCode::OK, &claim_view(c, &today))),
        None => {
            Err(Problem::new(StatusCode::NOT_FOUND, "unknown-claim", "No such claim", format!("no claim {id:?} involving {}", inst.id)))
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PaymentBody {
    amount: Decimal,
    by: Option<String>,
}

/// `POST /v1/reimbursements/{id}/payments` with `{"amount"}`: a payment by the caller's
/// institution, at most what is outstanding.
pub async fn pay(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>, body: Body) -> Result<Response, Problem> {
    let inst = authorize(&state, &headers, Act::Work)?;
    let b: PaymentBody = json_body(&headers, body, "{\"amount\": \"50000\"}").await?;
    let by = who(b.by, &inst.id);
    let (claim, institution) = (id.clone(), inst.id.clone());
    act(&state, inst.id.clone(), move |at_us| CaseRecord::Payment { claim, institution, amount: b.amount, by, at_us }).await?;
    get_claim(State(state), headers, Path(id)).await
}

/// `POST /v1/reimbursements/{id}/dispute` with `{"reason"}`.
pub async fn dispute(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>, body: Body) -> Result<Response, Problem> {
    let inst = authorize(&state, &headers, Act::Work)?;
    let b: ReleaseBody = json_body(&headers, body, "{\"reason\": \"...\"}").await?;
    non_empty("reason", &b.reason)?;
    let by = who(b.by, &inst.id);
    let claim = id.clone();
    act(&state, inst.id.clone(), move |at_us| CaseRecord::Dispute { claim, reason: b.reason, by, at_us }).await?;
    get_claim(State(state), headers, Path(id)).await
}

/// `GET /v1/reimbursements/summary`: victims, loss, reimbursed, paid, outstanding and
/// overdue, in all, by institution (what each owes and paid) and by month opened.
pub async fn summary_of_claims(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, Problem> {
    let inst = authorize(&state, &headers, Act::Work)?;
    let today = today(&state);
    Ok(ok(StatusCode::OK, &crate::cases::summarize(&claims_of(&state, &inst.id), &today)))
}
