//! Signed webhooks against a receiver on loopback.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use mamori_notify::{HEADER_DELIVERY, HEADER_SIGNATURE, HEADER_TIMESTAMP, Webhook, verify};

const SECRET: &[u8] = b"whsec-jp-bank-0123456789";
const NOW: i64 = 1_795_255_200;

#[derive(Debug, Default)]
struct Seen {
    requests: Vec<(HeaderMap, Bytes)>,
}

type Shared = Arc<Mutex<Seen>>;

/// 500 for the first request, then 200; `/bad` always 400.
async fn receiver() -> (String, Shared) {
    async fn hook(State(seen): State<Shared>, headers: HeaderMap, body: Bytes) -> StatusCode {
        let mut seen = seen.lock().unwrap();
        seen.requests.push((headers, body));
        if seen.requests.len() == 1 { StatusCode::INTERNAL_SERVER_ERROR } else { StatusCode::OK }
    }
    let seen = Shared::default();
    let app = axum::Router::new()
        .route("/hook", post(hook))
        .route("/bad", post(|| async { StatusCode::BAD_REQUEST }))
        .route("/slow-down", post(|| async { StatusCode::TOO_MANY_REQUESTS }))
        .route("/moved", post(|| async { (StatusCode::FOUND, [("location", "/hook")]) }))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, seen)
}

#[tokio::test]
async fn signed_delivery_with_retry() {
    let (base, seen) = receiver().await;
    let hook = Webhook::new().unwrap();
    let body = br#"{"kind":"charge","amount":"100000","currency":"JPY"}"#;
    let url = format!("{base}/hook");

    let e = hook.send(&url, SECRET, "dlv-1", NOW, body).await.unwrap_err();
    assert!(!e.permanent, "{e}");
    assert!(e.reason.contains("500"), "{e}");
    hook.send(&url, SECRET, "dlv-1", NOW + 5, body).await.unwrap();

    let seen = seen.lock().unwrap();
    assert_eq!(seen.requests.len(), 2);
    for (i, (headers, got)) in seen.requests.iter().enumerate() {
        let h = |name: &str| headers.get(name).unwrap().to_str().unwrap().to_string();
        assert_eq!(got.as_ref(), body);
        assert_eq!(h("content-type"), "application/json");
        assert_eq!(h(HEADER_DELIVERY), "dlv-1");
        let ts = h(HEADER_TIMESTAMP);
        assert_eq!(ts, (NOW + 5 * i as i64).to_string());
        let sig = h(HEADER_SIGNATURE);
        assert!(verify(SECRET, &ts, &sig, got, NOW + 10, 300), "{sig}");
        assert!(!verify(b"another secret", &ts, &sig, got, NOW + 10, 300));
        assert!(!verify(SECRET, &ts, &sig, b"{}", NOW + 10, 300));
        assert!(!verify(SECRET, &ts, &sig, got, NOW + 3600, 300));
    }
}

#[tokio::test]
async fn refusals_and_failures() {
    let (base, _) = receiver().await;
    let hook = Webhook::new().unwrap();

    let e = hook.send(&format!("{base}/bad"), SECRET, "dlv-2", NOW, b"{}").await.unwrap_err();
    assert!(e.permanent && e.reason.contains("400"), "{e}");
    let e = hook.send(&format!("{base}/slow-down"), SECRET, "dlv-2", NOW, b"{}").await.unwrap_err();
    assert!(!e.permanent && e.reason.contains("429"), "{e}");
    // Redirects are not followed.
    let e = hook.send(&format!("{base}/moved"), SECRET, "dlv-2", NOW, b"{}").await.unwrap_err();
    assert!(e.permanent && e.reason.contains("302"), "{e}");
    let e = hook.send(&format!("{base}/nowhere"), SECRET, "dlv-2", NOW, b"{}").await.unwrap_err();
    assert!(e.permanent && e.reason.contains("404"), "{e}");

    // Nothing listening: retry. The reason does not show the URL (it may hold a token).
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let e = hook.send(&format!("http://127.0.0.1:{port}/hook?token=t0k3n"), SECRET, "dlv-3", NOW, b"{}").await.unwrap_err();
    assert!(!e.permanent, "{e}");
    assert!(!e.reason.contains("t0k3n"), "{e}");

    // Not a URL: permanent.
    let e = hook.send("not a url", SECRET, "dlv-4", NOW, b"{}").await.unwrap_err();
    assert!(e.permanent, "{e}");
    let e = hook.send(&format!("{base}/hook"), SECRET, "bad\nid", NOW, b"{}").await.unwrap_err();
    assert!(e.permanent, "{e}");
}
