//! The v1 HTTP contract (spec/events.md): routes, authentication, bodies, answers.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{MatchedPath, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use mamori_core::event::{Event, EventErrors};
use mamori_core::{Clock, Timestamp};
use mamori_store::{Institution, Principal, Role};

use crate::case_routes as cr;
use crate::detector::{DecideError, Detector, Incoming, Outcome, ReleaseFailed};
use crate::judge::ReleaseError;
use crate::link_routes as lr;
use crate::metrics::{DecisionLabels, EventLabels, Metrics, RequestLabels, RouteLabels};
use crate::problem::{Pointed, Problem};

/// The largest body of `POST /v1/events`.
pub const MAX_EVENT_BODY: usize = 1 << 20;
/// The largest body of `POST /v1/events/batch` (10,000 events of a few hundred bytes).
pub const MAX_BATCH_BODY: usize = 16 << 20;
/// The most events in one batch.
pub const MAX_BATCH_EVENTS: usize = 10_000;

/// Every route the service answers, as (method, path template): the router is built
/// from handlers for exactly these, and the OpenAPI document is tested against them.
pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/v1/events"),
    ("POST", "/v1/events/batch"),
    ("GET", "/v1/events/{id}"),
    ("GET", "/v1/breakers"),
    ("POST", "/v1/breakers/release"),
    ("GET", "/v1/model"),
    ("POST", "/v1/links"),
    ("GET", "/v1/links"),
    ("GET", "/v1/links/{id}"),
    ("POST", "/v1/links/{id}/verify"),
    ("POST", "/v1/links/{id}/challenge"),
    ("POST", "/v1/links/{id}/revoke"),
    ("GET", "/v1/partners"),
    ("PUT", "/v1/partners/{partner}/controls"),
    ("POST", "/v1/reports"),
    ("PUT", "/v1/webhook"),
    ("GET", "/v1/notices"),
    ("POST", "/v1/notices/{id}/retry"),
    ("GET", "/v1/cases"),
    ("GET", "/v1/cases/{id}"),
    ("POST", "/v1/cases/{id}/assign"),
    ("POST", "/v1/cases/{id}/comment"),
    ("POST", "/v1/cases/{id}/attachments"),
    ("POST", "/v1/cases/{id}/resolve"),
    ("POST", "/v1/events/{id}/release"),
    ("POST", "/v1/events/{id}/confirm"),
    ("GET", "/v1/reimbursements"),
    ("GET", "/v1/reimbursements/summary"),
    ("GET", "/v1/reimbursements/{id}"),
    ("POST", "/v1/reimbursements/{id}/payments"),
    ("POST", "/v1/reimbursements/{id}/dispute"),
    ("GET", "/healthz"),
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
];

/// What every handler shares.
#[derive(Clone)]
pub struct AppState(pub(crate) Arc<Shared>);

pub(crate) struct Shared {
    pub(crate) detector: Detector,
    metrics: Metrics,
    pub(crate) clock: Arc<dyn Clock>,
    requests: AtomicU64,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}

impl AppState {
    pub fn new(detector: Detector, clock: Arc<dyn Clock>) -> AppState {
        AppState(Arc::new(Shared { detector, metrics: Metrics::new(), clock, requests: AtomicU64::new(0) }))
    }

    pub fn detector(&self) -> &Detector {
        &self.0.detector
    }

    pub fn metrics(&self) -> &Metrics {
        &self.0.metrics
    }
}

/// The service's router (no port: tests call it directly).
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/v1/events", post(post_event))
        .route("/v1/events/batch", post(post_batch))
        .route("/v1/events/{id}", get(get_event))
        .route("/v1/breakers", get(get_breakers))
        .route("/v1/breakers/release", post(release_breaker))
        .route("/v1/model", get(get_model))
        .route("/v1/links", post(lr::post_link).get(lr::list_links))
        .route("/v1/links/{id}", get(lr::get_link))
        .route("/v1/links/{id}/verify", post(lr::verify_link))
        .route("/v1/links/{id}/challenge", post(lr::resend_code))
        .route("/v1/links/{id}/revoke", post(lr::revoke_link))
        .route("/v1/partners", get(lr::get_partners))
        .route("/v1/partners/{partner}/controls", put(lr::put_controls))
        .route("/v1/reports", post(lr::post_report))
        .route("/v1/webhook", put(lr::put_webhook))
        .route("/v1/notices", get(lr::list_notices))
        .route("/v1/notices/{id}/retry", post(lr::retry_notice))
        .route("/v1/cases", get(cr::list_cases))
        .route("/v1/cases/{id}", get(cr::get_case))
        .route("/v1/cases/{id}/assign", post(cr::assign))
        .route("/v1/cases/{id}/comment", post(cr::comment))
        .route("/v1/cases/{id}/attachments", post(cr::attach))
        .route("/v1/cases/{id}/resolve", post(cr::resolve))
        .route("/v1/events/{id}/release", post(cr::release))
        .route("/v1/events/{id}/confirm", post(cr::confirm))
        .route("/v1/reimbursements", get(cr::list_claims))
        .route("/v1/reimbursements/summary", get(cr::summary_of_claims))
        .route("/v1/reimbursements/{id}", get(cr::get_claim))
        .route("/v1/reimbursements/{id}/payments", post(cr::pay))
        .route("/v1/reimbursements/{id}/dispute", post(cr::dispute))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// Request id, log line and latency of every request. Logs carry the route template,
/// never the path itself, a body or a key.
async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = req.extensions().get::<MatchedPath>().map_or("unmatched", |m| m.as_str()).to_string();
    let method = req.method().clone();
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        .map(str::to_string)
        .unwrap_or_else(|| format!("r{:x}-{}", std::process::id(), state.0.requests.fetch_add(1, Ordering::Relaxed)));
    let span = tracing::info_span!("request", request_id = %id, method = %method, route = %route);
    let mut resp = tracing::Instrument::instrument(next.run(req), span.clone()).await;
    let elapsed = start.elapsed();
    let status = resp.status().as_u16();
    span.in_scope(|| tracing::info!(status, micros = elapsed.as_micros() as u64, "answered"));
    let m = &state.0.metrics;
    m.requests.get_or_create(&RequestLabels { route: route.clone(), status }).inc();
    m.latency.get_or_create(&RouteLabels { route }).observe(elapsed.as_secs_f64());
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
}

/// What a request does, for the role check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Act {
    /// Send events, run the link flow: integrators.
    Send,
    /// Read what the institution's events became: every role.
    Read,
    /// Report "this wasn't me" for a customer: every role.
    Report,
    /// Work cases: analysts.
    Work,
    /// Partner controls, releases, webhooks: administrators.
    Administer,
}

impl Act {
    fn allows(self, role: Role) -> bool {
        role == Role::Admin
            || match self {
                Act::Read | Act::Report => true,
                Act::Send => role == Role::Integrator,
                Act::Work => role == Role::Analyst,
                Act::Administer => false,
            }
    }

    fn needs(self) -> &'static str {
        match self {
            Act::Send => "an integrator or admin key",
            Act::Work => "an analyst or admin key",
            Act::Administer => "an admin key",
            Act::Read | Act::Report => "any key",
        }
    }
}

/// The institution an API key names, if its role may do `act`: 401 without a known key,
/// 403 with a key whose role may not.
pub(crate) fn authorize(state: &AppState, headers: &HeaderMap, act: Act) -> Result<Institution, Problem> {
    let p = authenticate(state, headers)?;
    if !act.allows(p.role) {
        return Err(Problem::new(
            StatusCode::FORBIDDEN,
            "forbidden-role",
            "Role not allowed",
            format!("a {} key of {} may not do this: it needs {}", p.role, p.institution.id, act.needs()),
        ));
    }
    Ok(p.institution)
}

/// The institution and role an API key names.
fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Principal, Problem> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(Problem::unauthorized("send the institution's API key as `Authorization: Bearer <key>`"));
    };
    let key = value.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")).map(str::trim).unwrap_or("");
    if key.is_empty() {
        return Err(Problem::unauthorized("the Authorization header is not `Bearer <key>`"));
    }
    state.0.detector.store().principal_by_key(key).ok_or_else(|| Problem::unauthorized("the API key is not known"))
}

/// The body, refused with 413 once it is over `limit` bytes. A declared
/// `Content-Length` over the limit is refused before a byte of the body is read.
pub(crate) async fn read_body(body: Body, limit: usize) -> Result<axum::body::Bytes, Problem> {
    use axum::body::HttpBody;
    let too_large =
        || Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "too-large", "Body too large", format!("the body is over {limit} bytes"));
    if body.size_hint().lower() > limit as u64 {
        return Err(too_large());
    }
    axum::body::to_bytes(body, limit).await.map_err(|_| too_large())
}

pub(crate) fn is_json(headers: &HeaderMap) -> Result<(), Problem> {
    match headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) {
        None => Ok(()),
        Some(ct) if ct.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json")) => Ok(()),
        Some(ct) => Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
            format!("send application/json, not {ct}"),
        )),
    }
}

fn pointed(prefix: &str, errors: &EventErrors) -> Vec<Pointed> {
    errors.iter().map(|e| Pointed { pointer: format!("{prefix}{}", e.pointer), reason: e.reason.clone() }).collect()
}

/// Validates one event value for `inst`: contract errors are 422, another institution's
/// event is 403.
fn incoming(value: &serde_json::Value, institution: &str, prefix: &str) -> Result<Incoming, Problem> {
    let event = Event::from_json_value(value).map_err(|e| {
        let n = e.len();
        Problem::invalid(
            format!("{n} field{} of the event {} wrong", if n == 1 { "" } else { "s" }, if n == 1 { "is" } else { "are" }),
            pointed(prefix, &e),
        )
    })?;
    if event.id.starts_with(crate::journal::RESERVED_ID_PREFIX) {
        return Err(Problem::invalid(
            "the event's id is reserved",
            vec![Pointed {
                pointer: format!("{prefix}/id"),
                reason: format!(
                    "ids beginning with {:?} are reserved for what the service writes itself",
                    crate::journal::RESERVED_ID_PREFIX
                ),
            }],
        ));
    }
    if let Some(other) = &event.institution
        && other != institution
    {
        return Err(Problem {
            errors: vec![Pointed {
                pointer: format!("{prefix}/institution"),
                reason: "must be the institution the API key belongs to".into(),
            }],
            ..Problem::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "Another institution's event",
                format!("the API key belongs to {institution:?}, the event names {other:?}"),
            )
        });
    }
    Ok(Incoming::new(event, institution))
}

fn malformed(e: &serde_json::Error) -> Problem {
    Problem {
        errors: vec![Pointed { pointer: String::new(), reason: format!("malformed JSON: {e}") }],
        ..Problem::bad_request(format!("the body is not JSON: {e}"))
    }
}

/// The events of a request body: one JSON object, or (`batch`) a JSON array of 1 to
/// [`MAX_BATCH_EVENTS`] of them, each validated against the contract for `institution`.
/// Every event is checked before any is used: one invalid event refuses the whole body,
/// with the pointers of every problem (prefixed with the event's index in a batch).
pub fn parse_events(bytes: &[u8], batch: bool, institution: &str) -> Result<Vec<Incoming>, Problem> {
    let value = Event::parse_json(bytes).map_err(|e| malformed(&e))?;
    if !batch {
        if !value.is_object() {
            return Err(Problem::invalid(
                "the body must be one event (a JSON object)",
                vec![Pointed { pointer: String::new(), reason: "expected an object".into() }],
            ));
        }
        return Ok(vec![incoming(&value, institution, "")?]);
    }
    let Some(items) = value.as_array() else {
        return Err(Problem::invalid(
            "the body must be a JSON array of events",
            vec![Pointed { pointer: String::new(), reason: "expected an array".into() }],
        ));
    };
    if items.is_empty() || items.len() > MAX_BATCH_EVENTS {
        return Err(Problem::invalid(
            format!("a batch holds 1 to {MAX_BATCH_EVENTS} events, not {}", items.len()),
            vec![Pointed { pointer: String::new(), reason: format!("{} events", items.len()) }],
        ));
    }
    let mut out = Vec::with_capacity(items.len());
    let mut errors = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match incoming(item, institution, &format!("/{i}")) {
            Ok(inc) => out.push(inc),
            Err(p) if p.status == 403 => return Err(p),
            Err(p) => errors.extend(p.errors),
        }
    }
    if !errors.is_empty() {
        let bad: std::collections::BTreeSet<&str> = errors.iter().filter_map(|e| e.pointer.split('/').nth(1)).collect();
        return Err(Problem::invalid(format!("{} of {} events are invalid; none was taken", bad.len(), items.len()), errors));
    }
    Ok(out)
}

/// Decides, waits until the new events are on disk, and counts.
pub(crate) async fn decide(state: &AppState, inst: &Institution, batch: Vec<Incoming>) -> Result<Vec<Outcome>, Problem> {
    let types: Vec<&'static str> = batch.iter().map(|i| i.event.event_type().as_str()).collect();
    let st = state.clone();
    let inst_id = inst.id.clone();
    let joined = tokio::task::spawn_blocking(move || {
        let now: Timestamp = st.0.clock.now();
        let (outcomes, wait) = st.0.detector.decide(&inst_id, batch, now)?;
        let started = Instant::now();
        if wait > 0 {
            st.0.detector.store().wait_durable(wait)?;
        }
        st.0.metrics.commit_wait.observe(started.elapsed().as_secs_f64());
        Ok::<_, DecideError>(outcomes)
    })
    .await;
    let outcomes = match joined {
        Ok(Ok(o)) => o,
        Ok(Err(DecideError::Conflict { index, id })) => {
            return Err(Problem {
                errors: vec![Pointed {
                    pointer: if types.len() > 1 { format!("/{index}/id") } else { "/id".into() },
                    reason: "already received with a different body".into(),
                }],
                ..Problem::new(
                    StatusCode::CONFLICT,
                    "conflict",
                    "Different body for a known event id",
                    format!("event {id:?} was already received with a different body"),
                )
            });
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "events not taken");
            return Err(Problem::unavailable(e.to_string()));
        }
        Err(e) => return Err(Problem::unavailable(format!("decision task failed: {e}"))),
    };
    let m = &state.0.metrics;
    for (o, t) in outcomes.iter().zip(types) {
        let labels = EventLabels { event_type: t.to_string(), institution: inst.id.clone() };
        match o {
            Outcome::New { action, .. } => {
                m.events.get_or_create(&labels).inc();
                m.decisions.get_or_create(&DecisionLabels { decision: (*action).to_string() }).inc();
            }
            Outcome::Replay { .. } => {
                m.replays.get_or_create(&labels).inc();
            }
        }
    }
    Ok(outcomes)
}

pub(crate) fn json(status: StatusCode, body: Vec<u8>, replay: bool) -> Response {
    let mut resp = (status, body).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if replay {
        resp.headers_mut().insert("idempotent-replay", HeaderValue::from_static("true"));
    }
    resp
}

/// What both event endpoints do: authenticate, read and parse the body, decide.
async fn receive(state: &AppState, headers: &HeaderMap, body: Body, batch: bool) -> Result<Vec<Outcome>, Problem> {
    let inst = authorize(state, headers, Act::Send)?;
    is_json(headers)?;
    let bytes = read_body(body, if batch { MAX_BATCH_BODY } else { MAX_EVENT_BODY }).await?;
    let events = parse_events(&bytes, batch, &inst.id)?;
    decide(state, &inst, events).await
}

async fn post_event(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Result<Response, Problem> {
    let outcomes = receive(&state, &headers, body, false).await?;
    let o = &outcomes[0];
    Ok(json(StatusCode::OK, o.decision().to_vec(), matches!(o, Outcome::Replay { .. })))
}

async fn post_batch(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Result<Response, Problem> {
    let outcomes = receive(&state, &headers, body, true).await?;
    let all_replays = outcomes.iter().all(|o| matches!(o, Outcome::Replay { .. }));
    let mut body = Vec::with_capacity(outcomes.iter().map(|o| o.decision().len() + 1).sum::<usize>() + 2);
    body.push(b'[');
    for (i, o) in outcomes.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(o.decision());
    }
    body.push(b']');
    Ok(json(StatusCode::OK, body, all_replays))
}

async fn get_event(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> Result<Response, Problem> {
    let inst = authorize(&state, &headers, Act::Read)?;
    let store = state.0.detector.store().clone();
    let inst_id = inst.id.clone();
    let lookup_id = id.clone();
    let found = tokio::task::spawn_blocking(move || -> Result<_, mamori_store::StoreError> {
        match store.lookup(&inst_id, &lookup_id)? {
            // An event still on its way to disk is not yet answered: wait for it.
            Some(s) => store.wait_durable(s.seq).map(|()| Some(s)),
            None => Ok(None),
        }
    })
    .await
    .map_err(|e| Problem::unavailable(e.to_string()))?
    .map_err(|e| Problem::unavailable(e.to_string()))?;
    match found {
        Some(s) => Ok(json(StatusCode::OK, s.decision, false)),
        None => {
            Err(Problem::new(StatusCode::NOT_FOUND, "not-found", "No such event", format!("no event {id:?} of institution {:?}", inst.id)))
        }
    }
}

/// The breakers tripped by the caller's events.
async fn get_breakers(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, Problem> {
    let inst = authorize(&state, &headers, Act::Read)?;
    let trips = state.0.detector.tripped(&inst.id);
    Ok(json(StatusCode::OK, serde_json::to_vec(&serde_json::json!({ "tripped": trips })).unwrap_or_default(), false))
}

/// The learned model in use: what it was trained on, and its id (the `model` of decisions).
async fn get_model(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, Problem> {
    authorize(&state, &headers, Act::Read)?;
    match state.0.detector.model_info() {
        Some(info) => Ok(json(StatusCode::OK, serde_json::to_vec(&info).unwrap_or_default(), false)),
        None => Err(Problem::new(
            StatusCode::NOT_FOUND,
            "no-model",
            "No model",
            "no model is loaded: put one written by `mamori train` at model.json in the data directory and send SIGHUP",
        )),
    }
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ReleaseBody {
    breaker: String,
    key: Vec<String>,
    reason: String,
}

/// An operator releases a tripped breaker, with a reason; recorded in sequence with the events.
async fn release_breaker(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Result<Response, Problem> {
    let inst = authorize(&state, &headers, Act::Administer)?;
    is_json(&headers)?;
    let bytes = read_body(body, 64 << 10).await?;
    let req: ReleaseBody = serde_json::from_slice(&bytes).map_err(|e| {
        Problem::invalid(
            format!("expected {{\"breaker\", \"key\", \"reason\"}}: {e}"),
            vec![Pointed { pointer: String::new(), reason: e.to_string() }],
        )
    })?;
    let st = state.clone();
    let inst_id = inst.id.clone();
    let result = tokio::task::spawn_blocking(move || {
        let now = st.0.clock.now();
        let (trip, seq) = st.0.detector.release(&inst_id, &req.breaker, req.key, &req.reason, now)?;
        st.0.detector.store().wait_durable(seq).map_err(|e| ReleaseFailed::Decide(e.into()))?;
        Ok::<_, ReleaseFailed>(trip)
    })
    .await
    .map_err(|e| Problem::unavailable(e.to_string()))?;
    match result {
        Ok(trip) => {
            tracing::info!(breaker = %trip.breaker, institution = %inst.id, "breaker released");
            Ok(json(StatusCode::OK, serde_json::to_vec(&serde_json::json!({ "released": trip })).unwrap_or_default(), false))
        }
        Err(ReleaseFailed::Refused(e @ ReleaseError::NotTripped { .. })) => {
            Err(Problem::new(StatusCode::NOT_FOUND, "not-tripped", "Breaker not tripped", e.to_string()))
        }
        Err(ReleaseFailed::Refused(e @ ReleaseError::NotYours { .. })) => {
            Err(Problem::new(StatusCode::FORBIDDEN, "forbidden", "Another institution's breaker", e.to_string()))
        }
        Err(ReleaseFailed::Refused(e @ ReleaseError::NoReason)) => {
            Err(Problem::invalid(e.to_string(), vec![Pointed { pointer: "/reason".into(), reason: "must not be empty".into() }]))
        }
        Err(ReleaseFailed::Decide(e)) => Err(Problem::unavailable(e.to_string())),
    }
}

async fn healthz(State(state): State<AppState>) -> Response {
    match state.0.detector.failure() {
        None => json(StatusCode::OK, br#"{"status":"ok"}"#.to_vec(), false),
        Some(why) => Problem::unavailable(why).into_response(),
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    let stats = state.0.detector.store().stats();
    let m = &state.0.metrics;
    m.durable_seq.set(i64::try_from(stats.durable_seq).unwrap_or(i64::MAX));
    m.commits.set(i64::try_from(stats.commits).unwrap_or(i64::MAX));
    m.outbox_commits.set(i64::try_from(stats.outbox_commits).unwrap_or(i64::MAX));
    m.wal_syncs.set(i64::try_from(stats.wal_syncs).unwrap_or(i64::MAX));
    let now = state.0.clock.now().as_micros();
    let store = state.0.detector.store().clone();
    let backlog = tokio::task::spawn_blocking(move || store.notice_backlog(now)).await;
    match backlog.map_err(|e| e.to_string()).and_then(|read| read.map_err(|e| e.to_string())) {
        Ok((due, oldest)) => {
            m.notices_due.set(i64::try_from(due).unwrap_or(i64::MAX));
            m.notice_lag.set(oldest.map_or(0.0, |t| now.saturating_sub(t) as f64 / 1e6));
        }
        Err(e) => tracing::warn!(error = %e, "no notice backlog for the metrics"),
    }
    let mut resp = m.render().into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"));
    resp
}

async fn openapi() -> Response {
    json(StatusCode::OK, crate::OPENAPI.as_bytes().to_vec(), false)
}

async fn not_found() -> Problem {
    Problem::new(StatusCode::NOT_FOUND, "not-found", "No such route", "see /openapi.json for the routes")
}

async fn method_not_allowed(method: Method) -> Problem {
    Problem::new(StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed", "Method not allowed", format!("{method} is not allowed here"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::HttpBody;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().build().unwrap()
    }

    #[test]
    fn a_body_over_the_limit_is_refused_whether_or_not_its_length_is_declared() {
        let rt = runtime();
        // Declared: the length is known before anything is read.
        let declared = Body::from(vec![b'x'; 11]);
        assert_eq!(rt.block_on(read_body(declared, 10)).unwrap_err().status, 413);
        // Streamed: no length; refused once the bytes read pass the limit.
        let (mut tx, streamed) = http_body_util::channel::Channel::<axum::body::Bytes, std::io::Error>::new(4);
        rt.block_on(async {
            for _ in 0..3 {
                tx.send_data(axum::body::Bytes::from_static(b"xxxx")).await.unwrap();
            }
        });
        drop(tx);
        let streamed = Body::new(streamed);
        assert_eq!(streamed.size_hint().upper(), None);
        assert_eq!(rt.block_on(read_body(streamed, 10)).unwrap_err().status, 413);
        let exact = Body::from(vec![b'x'; 10]);
        assert_eq!(rt.block_on(read_body(exact, 10)).unwrap().len(), 10);
    }
}
