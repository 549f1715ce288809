//! End to end over a real SMTP server (`scripts/smtp_sink.py`).

use std::time::Duration;

use mamori_notify::sink::SmtpSink;
use mamori_notify::{Kind, Mailer, Notice, render};

const FROM: &str = "mamori <notices@mamori.invalid>";

fn charge() -> Notice {
    Notice {
        kind: Kind::Charge,
        institution: "jp-bank".into(),
        account: Some("0012345678".into()),
        // 2026-11-21T10:00:00Z
        time: 1_795_255_200_000_000,
        amount: Some("100000".into()),
        currency: Some("JPY".into()),
        counterparty: Some("wallet-co account 9981".into()),
        decision: "hold".into(),
        link: Some("lk-7731".into()),
        report_code: Some("RPT-4K9Q-2M7X".into()),
        code: None,
        expires: None,
    }
}

#[tokio::test]
async fn delivers_a_rendered_message() {
    let Some(sink) = SmtpSink::start(0).unwrap() else { return };
    let mailer = Mailer::new(&sink.url(), FROM).unwrap();
    let m = render(&charge());
    mailer.send("taro@example.invalid", "out-42", &m).await.unwrap();

    let got = sink.wait_for(1, Duration::from_secs(30));
    assert_eq!(got.len(), 1, "{got:?}");
    let mail = &got[0];
    assert_eq!(mail["mail_from"], "notices@mamori.invalid");
    assert_eq!(mail["rcpt_tos"], serde_json::json!(["taro@example.invalid"]));
    assert_eq!(mail["message_id"], "<out-42@mamori>");
    // Decoded from its encoded words.
    assert_eq!(mail["subject"], m.subject.as_str());
    assert!(mail["subject"].as_str().unwrap().starts_with("【jp-bank】チャージのお知らせ（保留中）"));
    let body = mail["body"].as_str().unwrap();
    assert_eq!(body.replace("\r\n", "\n").trim_end(), m.text.trim_end());
    for want in ["100,000円", "100,000 JPY", "RPT-4K9Q-2M7X", "2026年11月21日 19:00 JST", "wallet-co account 9981"] {
        assert!(body.contains(want), "{want} not in {body}");
    }
    let data = mail["data"].as_str().unwrap();
    assert!(data.contains("Content-Type: text/plain; charset=utf-8"), "{data}");
    assert!(data.contains("Message-ID: <out-42@mamori>"), "{data}");
}

#[tokio::test]
async fn a_451_is_retried() {
    let Some(sink) = SmtpSink::start(1).unwrap() else { return };
    let mailer = Mailer::new(&sink.url(), FROM).unwrap();
    let m = render(&charge());

    let e = mailer.send("taro@example.invalid", "out-43", &m).await.unwrap_err();
    assert!(!e.permanent, "{e}");
    assert!(e.reason.contains("451") || e.reason.to_lowercase().contains("try again"), "{e}");
    assert!(sink.messages().is_empty());

    mailer.send("taro@example.invalid", "out-43", &m).await.unwrap();
    let got = sink.wait_for(1, Duration::from_secs(30));
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["message_id"], "<out-43@mamori>");
}

#[tokio::test]
async fn bad_recipient_is_permanent() {
    let Some(sink) = SmtpSink::start(0).unwrap() else { return };
    let mailer = Mailer::new(&sink.url(), FROM).unwrap();
    let e = mailer.send("taro at example", "out-44", &render(&charge())).await.unwrap_err();
    assert!(e.permanent, "{e}");
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn tls_required_against_a_plain_server_is_not_sent() {
    let Some(sink) = SmtpSink::start(0).unwrap() else { return };
    let mailer = Mailer::new(&format!("{}?tls=required", sink.url()), FROM).unwrap();
    let e = mailer.send("taro@example.invalid", "out-45", &render(&charge())).await.unwrap_err();
    // The sink offers no STARTTLS: nothing goes out in clear text.
    assert!(!e.permanent, "{e}");
    assert!(sink.messages().is_empty());
    let implicit = Mailer::new(&format!("smtps://127.0.0.1:{}", sink.port), FROM).unwrap();
    let e = implicit.send("taro@example.invalid", "out-46", &render(&charge())).await.unwrap_err();
    assert!(!e.permanent, "{e}");
    assert!(sink.messages().is_empty());
}
