use std::str::FromStr;

use proptest::prelude::*;
use rust_decimal::Decimal;
use serde_json::{Value as Json, json};

use super::*;
use crate::record::{CompositeSchema, Record, Resolution, Schema};
use crate::value::{Type, Value};

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

/// A minimal valid event of each type.
fn base(t: EventType) -> Json {
    let mut m = json!({"id": "e-1", "type": t.as_str(), "time": "2026-11-21T19:00:00+09:00"});
    let o = m.as_object_mut().unwrap();
    let extra = match t {
        EventType::AccountOpened => json!({"account": "a-1", "kyc": "ic_chip"}),
        EventType::Login => json!({"customer": "c-1", "success": true}),
        EventType::CredentialChanged => json!({"customer": "c-1", "what": "email"}),
        EventType::LinkRequested => json!({"link": "l-1", "bank": {"institution": "bank-a", "account": "001-1234567"},
            "wallet": {"institution": "pay-b", "account": "w-9"}, "auth": "pin_only"}),
        EventType::LinkVerified | EventType::LinkRevoked => json!({"link": "l-1"}),
        EventType::PayeeRegistered => json!({"account": "a-1", "payee": {"institution": "bank-a", "account": "001-1"}}),
        EventType::Charge => json!({"account": "a-1", "link": "l-1", "amount": "100000"}),
        EventType::Transfer => {
            json!({"account": "a-1", "direction": "out", "counterparty": {"institution": "bank-b", "account": "9"}, "amount": 5000})
        }
        EventType::Withdrawal => json!({"account": "a-1", "payee": {"institution": "bank-a", "account": "001-1"}, "amount": "30000"}),
        EventType::Trade => json!({"account": "a-1", "side": "sell", "instrument": "7203", "quantity": "100", "amount": "250000"}),
        EventType::CryptoWithdrawal => json!({"account": "a-1", "asset": "XEM", "amount": "1000000.5",
            "wallet": {"id": "hot-1", "tier": "hot"}, "to_address": "NBZMQO7ZPBYNBDUR7F75MAKA2S3DHDCIFG775N3D"}),
        EventType::WalletBalance => json!({"asset": "BTC", "hot": "12.5", "cold": "1000", "customer_total": "1010.25"}),
        EventType::CardPayment => json!({"card": "tok_9f8e7d", "merchant": "m-1", "amount": "1980"}),
        EventType::FraudReported => json!({"events": ["e-0", "e-1"], "source": "customer"}),
    };
    for (k, v) in extra.as_object().unwrap() {
        o.insert(k.clone(), v.clone());
    }
    m
}

fn with(mut v: Json, k: &str, x: Json) -> Json {
    v.as_object_mut().unwrap().insert(k.into(), x);
    v
}

fn without(mut v: Json, k: &str) -> Json {
    v.as_object_mut().unwrap().shift_remove(k);
    v
}

/// `Event::from_json_value`, checking on the way that `Event::from_fields` with the
/// object's fields gives the same event or the same errors.
fn from_json(v: &Json) -> Result<Event, EventErrors> {
    let r = Event::from_json_value(v);
    if let Json::Object(o) = v {
        let mut fields = EventFields::new();
        for (k, x) in o {
            fields.insert(k, x.clone());
        }
        assert_eq!(Event::from_fields(fields), r, "from_fields differs on {v}");
        // A reader with a typed time or amount (Parquet), or a type it knows (a mapping's
        // constant), sets them as such: the same event, or the same problems, as their text.
        let mut typed = EventFields::new();
        let mut any = false;
        for (k, x) in o {
            let time = match (k.as_str(), x) {
                ("time", Json::String(s)) => crate::time::Timestamp::parse_rfc3339(s).ok(),
                _ => None,
            };
            let amount = if k == "amount" { crate::amount::decimal_from_json(x).ok() } else { None };
            let ty = match (k.as_str(), x) {
                ("type", Json::String(s)) => EventType::parse(s),
                _ => None,
            };
            match (time, amount, ty) {
                (Some(t), ..) => typed.insert_time(t),
                (_, Some(d), _) => typed.insert_amount(d),
                (.., Some(ty)) => typed.insert_type(ty),
                _ => {
                    typed.insert(k, x.clone());
                    continue;
                }
            }
            any = true;
        }
        if any {
            assert_eq!(Event::from_fields(typed), r, "typed from_fields differs on {v}");
        }
    }
    r
}

#[test]
fn a_typed_field_is_replaced_by_text_set_later_and_the_other_way_round() {
    let mut f = EventFields::new();
    for (k, v) in [("id", "e-1"), ("type", "charge"), ("account", "a-1"), ("link", "l-1")] {
        f.insert(k, json!(v));
    }
    let t = crate::time::Timestamp::parse_rfc3339("2026-11-21T10:00:00Z").unwrap();
    f.insert_time(t);
    f.insert("time", json!("not a time"));
    f.insert_amount(dec("5000"));
    f.insert("amount", json!("-1"));
    f.insert_type(EventType::Login);
    f.insert("type", json!("chrage"));
    let e = Event::from_fields(f.clone()).unwrap_err();
    let pointers: Vec<&str> = e.errors.iter().map(|x| x.pointer.as_str()).collect();
    assert_eq!(pointers, ["/type", "/time", "/amount"], "{e}");
    f.insert_time(t);
    f.insert_amount(dec("5000.00"));
    f.insert_type(EventType::Charge);
    let ok = Event::from_fields(f).unwrap();
    assert_eq!((ok.time, ok.amount.map(|d| d.to_string())), (t, Some("5000".to_string())));
    assert_eq!(ok.event_type(), EventType::Charge);
}

fn ok(v: &Json) -> Event {
    match from_json(v) {
        Ok(e) => e,
        Err(e) => panic!("{e} in {v}"),
    }
}

fn errs(v: &Json) -> EventErrors {
    match from_json(v) {
        Ok(e) => panic!("accepted {e:?} from {v}"),
        Err(e) => e,
    }
}

/// The reason at `pointer`, failing if there is none.
fn reason_at(v: &Json, pointer: &str) -> String {
    let e = errs(v);
    match e.at(pointer) {
        Some(fe) => fe.reason.clone(),
        None => panic!("no error at {pointer:?}: {e}"),
    }
}

fn assert_round_trip(e: &Event) {
    let j = e.to_json();
    let back = Event::from_json_value(&j).unwrap_or_else(|er| panic!("{er}: {j}"));
    assert_eq!(&back, e, "{j}");
    let bytes = e.to_json_vec();
    assert_eq!(&Event::from_json_slice(&bytes).unwrap(), e);
}

// ---------------------------------------------------------------------------------
// Valid events

#[test]
fn every_type_parses_and_round_trips() {
    for &t in EventType::ALL {
        let e = ok(&base(t));
        assert_eq!(e.event_type(), t);
        assert_eq!(e.currency, if t == EventType::CryptoWithdrawal { "XEM" } else { "JPY" });
        assert_round_trip(&e);
    }
}

#[test]
fn common_fields_are_read() {
    let v = json!({"id": "e-1", "type": "charge", "time": "2026-11-21T19:00:00.123456+09:00", "institution": "pay-b",
        "customer": "c-1", "account": "w-1", "amount": 100000, "currency": "JPY", "device": "dev-abcdef", "ip": "2001:0db8:0000::1",
        "link": "l-1", "attributes": {"channel": "app", "n": 3}});
    let e = ok(&v);
    assert_eq!(e.id, "e-1");
    assert_eq!(e.time, crate::time::Timestamp::parse_rfc3339("2026-11-21T10:00:00.123456Z").unwrap());
    assert_eq!(e.institution.as_deref(), Some("pay-b"));
    assert_eq!(e.customer.as_deref(), Some("c-1"));
    assert_eq!(e.account.as_deref(), Some("w-1"));
    assert_eq!(e.amount, Some(dec("100000")));
    assert_eq!(e.device.as_deref(), Some("dev-abcdef"));
    assert_eq!(e.ip.as_ref().unwrap().as_str(), "2001:db8::1");
    assert_eq!(e.ip.as_ref().unwrap().addr(), "2001:db8::1".parse::<std::net::IpAddr>().unwrap());
    assert_eq!(e.attributes["channel"], json!("app"));
    assert_eq!(e.kind, EventKind::Charge { link: "l-1".into() });
    assert_round_trip(&e);
}

#[test]
fn canonical_form() {
    let v = json!({"type": "charge", "amount": 1.0e5, "time": "2026-11-21T19:00:00+09:00", "id": "e-1", "account": "a", "link": "l",
        "attributes": {}, "device": null});
    let j = ok(&v).to_json();
    assert_eq!(
        serde_json::to_string(&j).unwrap(),
        r#"{"id":"e-1","type":"charge","time":"2026-11-21T10:00:00Z","account":"a","amount":"100000","currency":"JPY","link":"l"}"#
    );
    let t = ok(&with(base(EventType::Login), "time", json!("2026-11-21T10:00:00.000001Z"))).to_json();
    assert_eq!(t["time"], json!("2026-11-21T10:00:00.000001Z"));
}

#[test]
fn amounts_as_strings_or_numbers() {
    let b = base(EventType::Charge);
    for (a, want) in [(json!("100000"), "100000"), (json!(100000), "100000"), (json!("100.00"), "100"), (json!(1e3), "1000")] {
        assert_eq!(ok(&with(b.clone(), "amount", a)).amount, Some(dec(want)));
    }
    let big: Json = serde_json::from_str("12345678901234567890123").unwrap();
    assert_eq!(ok(&with(b.clone(), "amount", big)).amount, Some(dec("12345678901234567890123")));
    let usd = with(with(b.clone(), "currency", json!("USD")), "amount", json!("19.99"));
    assert_eq!(ok(&usd).amount, Some(dec("19.99")));
    let kwd = with(with(b.clone(), "currency", json!("KWD")), "amount", json!("1.999"));
    assert_eq!(ok(&kwd).amount, Some(dec("1.999")));
    let eth = with(with(b, "currency", json!("ETH")), "amount", json!("0.000000000000000001"));
    assert_eq!(ok(&eth).amount, Some(dec("0.000000000000000001")));
}

#[test]
fn amount_on_a_non_money_event_is_optional_and_checked() {
    assert_eq!(ok(&base(EventType::Login)).amount, None);
    assert_eq!(ok(&with(base(EventType::Login), "amount", json!("5"))).amount, Some(dec("5")));
    assert!(reason_at(&with(base(EventType::Login), "amount", json!("-5")), "/amount").contains("greater than 0"));
}

#[test]
fn null_means_absent() {
    let v = with(with(with(base(EventType::Login), "device", Json::Null), "method", Json::Null), "attributes", Json::Null);
    let e = ok(&v);
    assert_eq!(e.device, None);
    assert_eq!(e.kind, EventKind::Login { success: true, method: None });
    assert!(errs(&with(base(EventType::Login), "success", Json::Null)).at("/success").unwrap().reason.contains("required"));
}

#[test]
fn enums_read_and_write_wire_strings() {
    for &k in Kyc::ALL {
        let e = ok(&with(base(EventType::AccountOpened), "kyc", json!(k.as_str())));
        assert!(matches!(e.kind, EventKind::AccountOpened { kyc, .. } if kyc == k));
    }
    for &m in LoginMethod::ALL {
        assert_eq!(
            ok(&with(base(EventType::Login), "method", json!(m.as_str()))).kind,
            EventKind::Login { success: true, method: Some(m) }
        );
    }
    for &w in Credential::ALL {
        assert_eq!(
            ok(&with(base(EventType::CredentialChanged), "what", json!(w.as_str()))).kind,
            EventKind::CredentialChanged { what: w, holder: None }
        );
    }
    for &a in LinkAuth::ALL {
        assert_round_trip(&ok(&with(base(EventType::LinkRequested), "auth", json!(a.as_str()))));
    }
    for &d in Direction::ALL {
        assert_round_trip(&ok(&with(base(EventType::Transfer), "direction", json!(d.as_str()))));
    }
    for &s in Side::ALL {
        assert_round_trip(&ok(&with(base(EventType::Trade), "side", json!(s.as_str()))));
    }
    for &t in WalletTier::ALL {
        assert_round_trip(&ok(&with(base(EventType::CryptoWithdrawal), "wallet", json!({"id": "w", "tier": t.as_str()}))));
    }
    for &s in ReportSource::ALL {
        assert_round_trip(&ok(&with(base(EventType::FraudReported), "source", json!(s.as_str()))));
    }
    for &t in EventType::ALL {
        assert_eq!(EventType::parse(t.as_str()), Some(t));
        assert_eq!(t.to_string(), t.as_str());
    }
    assert_eq!(EventType::ALL.len(), 15);
    assert_eq!(EventType::parse("Charge"), None);
}

#[test]
fn holder_fields() {
    let h =
        json!({"name_kana": "ﾔﾏﾀﾞ ﾀﾛｳ", "name": "山田 太郎", "birth_date": "1950-04-01", "phone": "+819012345678", "email": "t@example.jp"});
    let e = ok(&with(base(EventType::AccountOpened), "holder", h));
    let hd = e.kind.holder().unwrap();
    assert_eq!(hd.name_kana.as_ref().unwrap().expose(), "ﾔﾏﾀﾞ ﾀﾛｳ");
    assert_eq!(hd.name_kana.as_ref().unwrap().expose_key(), "ヤマダタロウ");
    assert_eq!(hd.name.as_ref().unwrap().expose(), "山田 太郎");
    assert_eq!(hd.birth_date.as_ref().unwrap().expose(), "1950-04-01");
    assert_round_trip(&e);
    let empty = ok(&with(base(EventType::PayeeRegistered), "holder", json!({})));
    assert_eq!(empty.kind.holder(), Some(&Holder::default()));
    assert_round_trip(&empty);
}

#[test]
fn crypto_withdrawal_currency_is_the_asset() {
    let b = base(EventType::CryptoWithdrawal);
    assert_eq!(ok(&b).currency, "XEM");
    assert_eq!(ok(&with(b.clone(), "currency", json!("XEM"))).currency, "XEM");
    assert!(reason_at(&with(b.clone(), "currency", json!("JPY")), "/currency").contains("in its asset"));
    let btc = with(with(b.clone(), "asset", json!("BTC")), "amount", json!("0.123456789012345678"));
    assert_eq!(ok(&btc).amount, Some(dec("0.123456789012345678")));
    let too_fine = with(b.clone(), "amount", json!("0.1234567890123456789"));
    assert!(reason_at(&too_fine, "/amount").contains("at most 18"));
    // decimal places follow the asset, not JPY
    let jpy_asset = with(with(b, "asset", json!("JPY")), "amount", json!("1.5"));
    assert!(reason_at(&jpy_asset, "/amount").contains("JPY has no minor unit"));
}

#[test]
fn wallet_balance_allows_zero() {
    let v = with(with(base(EventType::WalletBalance), "hot", json!("0")), "cold", json!(0));
    let e = ok(&v);
    assert_eq!(
        e.kind,
        EventKind::WalletBalance { asset: "BTC".into(), hot: Decimal::ZERO, cold: Decimal::ZERO, customer_total: dec("1010.25") }
    );
    assert!(reason_at(&with(base(EventType::WalletBalance), "hot", json!("-1")), "/hot").contains("negative"));
    let jpy = with(with(base(EventType::WalletBalance), "asset", json!("JPY")), "hot", json!("0.5"));
    assert!(reason_at(&jpy, "/hot").contains("no minor unit"));
}

// ---------------------------------------------------------------------------------
// One malformed input per kind of error

#[test]
fn missing_required_fields() {
    for &t in EventType::ALL {
        let mut required: Vec<&str> = vec!["id", "type", "time"];
        required.extend(t.required());
        for f in required {
            let v = without(base(t), f);
            let e = errs(&v);
            let fe = e.at(&format!("/{f}")).unwrap_or_else(|| panic!("{t} without {f}: {e}"));
            assert!(fe.reason.contains("required"), "{t} {f}: {}", fe.reason);
        }
    }
    let r = reason_at(&without(base(EventType::Charge), "amount"), "/amount");
    assert_eq!(r, "required for charge events: a decimal string such as \"100000\" or a number, > 0");
    assert!(reason_at(&without(base(EventType::Withdrawal), "account"), "/account").contains("acting"));
}

#[test]
fn login_needs_customer_or_account() {
    let v = without(base(EventType::Login), "customer");
    assert!(reason_at(&v, "/account").contains("customer or account"));
    ok(&with(v, "account", json!("a-1")));
    assert!(reason_at(&without(base(EventType::CredentialChanged), "customer"), "/account").contains("customer or account"));
}

#[test]
fn wrong_json_types() {
    let cases: &[(EventType, &str, Json, &str)] = &[
        (EventType::Charge, "id", json!(5), "expected a string, got a number"),
        (EventType::Charge, "type", json!(["charge"]), "got an array"),
        (EventType::Charge, "time", json!(1700000000), "got a number"),
        (EventType::Charge, "amount", json!(true), "got a boolean"),
        (EventType::Charge, "amount", json!({"value": 1}), "got an object"),
        (EventType::Charge, "customer", json!(7), "expected a string"),
        (EventType::Charge, "attributes", json!([1]), "expected an object, got an array"),
        (EventType::Login, "success", json!("true"), "expected true or false, got a string"),
        (EventType::Login, "method", json!(1), "expected one of \"password\""),
        (EventType::AccountOpened, "holder", json!("山田"), "expected an object, got a string"),
        (EventType::Transfer, "counterparty", json!("bank-b/9"), "expected an object"),
        (EventType::FraudReported, "events", json!("e-0"), "expected an array of event ids"),
        (EventType::Trade, "quantity", json!(null), "required"),
    ];
    for (t, f, v, want) in cases {
        let r = reason_at(&with(base(*t), f, v.clone()), &format!("/{f}"));
        assert!(r.contains(want), "{t}.{f}: {r:?} lacks {want:?}");
    }
}

#[test]
fn bad_enum_values_list_the_allowed_ones() {
    let r = reason_at(&with(base(EventType::AccountOpened), "kyc", json!("passport")), "/kyc");
    assert_eq!(r, "expected one of \"ic_chip\", \"photo_id\", \"mail\", \"in_person\", \"none\", got \"passport\"");
    let r = reason_at(&with(base(EventType::Transfer), "direction", json!("OUT")), "/direction");
    assert!(r.contains("\"out\", \"in\""), "{r}");
    let r = reason_at(&with(base(EventType::Charge), "type", json!("chrge")), "/type");
    assert!(r.contains("did you mean \"charge\"") && r.contains("\"fraud_reported\""), "{r}");
    let r = reason_at(&with(base(EventType::CryptoWithdrawal), "wallet", json!({"id": "w", "tier": "warm"})), "/wallet/tier");
    assert!(r.contains("\"hot\", \"cold\""), "{r}");
    let long = "x".repeat(500);
    let r = reason_at(&with(base(EventType::Login), "method", json!(long)), "/method");
    assert!(r.len() < 200, "{r}");
}

#[test]
fn bad_timestamps() {
    for t in ["2026-11-21T10:00:00", "2026-11-21", "yesterday", "", "2026-13-01T00:00:00Z", "2026-11-21T25:00:00+09:00"] {
        let r = reason_at(&with(base(EventType::Login), "time", json!(t)), "/time");
        assert!(r.contains("RFC 3339"), "{t}: {r}");
    }
}

#[test]
fn bad_amounts() {
    let b = base(EventType::Charge);
    let cases: &[(Json, &str)] = &[
        (json!("0"), "greater than 0"),
        (json!(0), "greater than 0"),
        (json!("-100"), "greater than 0"),
        (json!("100.5"), "JPY has no minor unit"),
        (json!("100.50"), "JPY has no minor unit"),
        (json!(100.5), "JPY has no minor unit"),
        (json!("1,000"), "thousands"),
        (json!("1e3"), "exponent"),
        (json!("¥1000"), "not a decimal"),
        (json!(""), "not a decimal"),
        (json!("100000000000000000000000000000"), "too large"),
        (json!("0.00000000000000000000000000001"), "too many decimal places"),
    ];
    for (a, want) in cases {
        let r = reason_at(&with(b.clone(), "amount", a.clone()), "/amount");
        assert!(r.contains(want), "{a}: {r:?} lacks {want:?}");
    }
    let huge: Json = serde_json::from_str("1e400").unwrap();
    assert!(reason_at(&with(b.clone(), "amount", huge), "/amount").contains("too large"));
    let usd = with(with(b.clone(), "currency", json!("USD")), "amount", json!("1.005"));
    assert_eq!(reason_at(&usd, "/amount"), "USD allows at most 2 decimal places (got 3)");
    assert!(reason_at(&with(base(EventType::Trade), "quantity", json!("0")), "/quantity").contains("greater than 0"));
}

#[test]
fn bad_currencies() {
    let b = base(EventType::Charge);
    assert!(reason_at(&with(b.clone(), "currency", json!("jpy")), "/currency").contains("did you mean \"JPY\""));
    assert!(reason_at(&with(b.clone(), "currency", json!("円")), "/currency").contains("ISO 4217"));
    assert!(reason_at(&with(b.clone(), "currency", json!("")), "/currency").contains("empty"));
    assert!(reason_at(&with(base(EventType::WalletBalance), "asset", json!("btc")), "/asset").contains("\"BTC\""));
    // with an unreadable currency the amount is still checked for sign but not places
    let e = errs(&with(with(b, "currency", json!("us dollar")), "amount", json!("1.234")));
    assert_eq!(e.len(), 1, "{e}");
}

#[test]
fn ids() {
    let b = base(EventType::Login);
    ok(&with(b.clone(), "id", json!("x".repeat(128))));
    ok(&with(b.clone(), "id", json!("あ".repeat(128))));
    assert!(reason_at(&with(b.clone(), "id", json!("x".repeat(129))), "/id").contains("1 to 128"));
    assert!(reason_at(&with(b.clone(), "id", json!("あ".repeat(129))), "/id").contains("1 to 128 characters long (got 129)"));
    assert!(reason_at(&with(b.clone(), "id", json!("")), "/id").contains("1 to 128"));
    let r = reason_at(&with(base(EventType::FraudReported), "events", json!(["e-1", 2, ""])), "/events/1");
    assert!(r.contains("expected a string"), "{r}");
    assert!(reason_at(&with(base(EventType::FraudReported), "events", json!(["e-1", 2, ""])), "/events/2").contains("1 to 128"));
    assert!(reason_at(&with(base(EventType::FraudReported), "events", json!([])), "/events").contains("at least one"));
}

#[test]
fn ip_addresses() {
    let b = base(EventType::Login);
    for ip in ["203.0.113.7", "::1", "2001:db8::1", "::ffff:192.0.2.1"] {
        assert_round_trip(&ok(&with(b.clone(), "ip", json!(ip))));
    }
    for ip in [
        "203.0.113.256",
        "01.2.3.4",
        "1.2.3.04",
        "0x7f.0.0.1",
        "127.1",
        "localhost",
        "203.0.113.7:80",
        "2001:db8::1%eth0",
        " 1.2.3.4",
        "1.2.3",
    ] {
        assert!(reason_at(&with(b.clone(), "ip", json!(ip)), "/ip").contains("IPv4 or IPv6"), "{ip}");
    }
}

#[test]
fn empty_strings_are_refused() {
    for f in ["customer", "account", "device", "institution"] {
        assert!(reason_at(&with(base(EventType::Login), f, json!("")), &format!("/{f}")).contains("must not be empty"));
    }
    assert!(reason_at(&with(base(EventType::Charge), "link", json!("")), "/link").contains("must not be empty"));
}

#[test]
fn bad_holders_and_refs() {
    let b = base(EventType::LinkRequested);
    let v = with(b.clone(), "holder", json!({"name_kana": " 　", "birth_date": "1950-02-30", "nickname": "x", "email": 5}));
    let e = errs(&v);
    assert!(e.at("/holder/name_kana").unwrap().reason.contains("no letters"));
    assert!(e.at("/holder/birth_date").unwrap().reason.contains("YYYY-MM-DD"));
    assert!(e.at("/holder/nickname").unwrap().reason.contains("unknown field of a holder"));
    assert!(e.at("/holder/email").unwrap().reason.contains("expected a string"));
    assert_eq!(e.len(), 4, "{e}");
    let v = with(b.clone(), "bank", json!({"institution": "bank-a", "acct": "1"}));
    let e = errs(&v);
    assert!(e.at("/bank/account").unwrap().reason.contains("required"));
    assert!(e.at("/bank/acct").unwrap().reason.contains("unknown field of a ref"));
    let v = with(base(EventType::CryptoWithdrawal), "wallet", json!({"tier": "hot", "address": "x"}));
    let e = errs(&v);
    assert!(e.at("/wallet/id").is_some() && e.at("/wallet/address").is_some(), "{e}");
}

#[test]
fn card_numbers_are_refused() {
    let r = reason_at(&with(base(EventType::CardPayment), "card", json!("4111 1111 1111 1111")), "/card");
    assert!(r.contains("token") && !r.contains("4111"), "{r}");
    ok(&with(base(EventType::CardPayment), "card", json!("tok_4111111111111111")));
}

#[test]
fn unknown_fields() {
    let r = reason_at(&with(base(EventType::Charge), "merchant_category", json!("5411")), "/merchant_category");
    assert_eq!(r, "unknown field; extra data belongs in attributes");
    let r = reason_at(&with(base(EventType::Charge), "success", json!(true)), "/success");
    assert_eq!(r, "not a field of charge events (it belongs to login); extra data belongs in attributes");
    let r = reason_at(&with(base(EventType::Charge), "holder", json!({})), "/holder");
    assert!(r.contains("account_opened, credential_changed, link_requested, payee_registered, transfer"), "{r}");
    let r = reason_at(&with(base(EventType::Charge), "ammount", json!("1")), "/ammount");
    assert!(r.contains("did you mean \"amount\""), "{r}");
    // JSON Pointer escaping (RFC 6901)
    let e = errs(&with(base(EventType::Charge), "a/b~c", json!(1)));
    assert_eq!(e.errors[0].pointer, "/a~1b~0c");
    let e = errs(&with(base(EventType::Charge), "", json!(1)));
    assert_eq!(e.errors[0].pointer, "/");
    // with an unknown type, only fields of no type at all are unknown
    let e = errs(&json!({"id": "e", "type": "nope", "time": "2026-11-21T10:00:00Z", "success": true, "zzz": 1}));
    assert!(e.at("/type").is_some() && e.at("/zzz").is_some() && e.at("/success").is_none(), "{e}");
}

#[test]
fn malformed_json() {
    let e = Event::from_json_slice(b"{\"id\": \"e-1\",\n \"type\": }").unwrap_err();
    assert_eq!(e.len(), 1);
    assert_eq!(e.errors[0].pointer, "");
    assert!(e.errors[0].reason.starts_with("malformed JSON: ") && e.errors[0].reason.contains("line 2 column"), "{e}");
    for bad in [&b""[..], b"{", b"nul", b"{\"a\":1}}", b"\xff\xfe", b"{\"a\":\"\\ud800\"}", b"[1,]"] {
        let e = Event::from_json_slice(bad).unwrap_err();
        assert_eq!(e.errors[0].pointer, "", "{bad:?}");
    }
    let dup = br#"{"id":"e-1","type":"charge","time":"2026-11-21T10:00:00Z","account":"a","link":"l","amount":"1","amount":"1000000"}"#;
    let e = Event::from_json_slice(dup).unwrap_err();
    assert!(e.errors[0].reason.contains("duplicate key \"amount\""), "{e}");
    let deep = "[".repeat(10_000);
    assert_eq!(Event::from_json_slice(deep.as_bytes()).unwrap_err().errors[0].pointer, "");
}

#[test]
fn serde_number_token_in_input_is_harmless() {
    // serde_json's private number key, sent literally, reads as serde_json itself reads it
    let ev = r#"{"id":"e","type":"login","time":"2026-11-21T10:00:00Z","customer":"c","success":true,"attributes":{"n":{"$serde_json::private::Number":"5"}}}"#;
    let e = Event::from_json_slice(ev.as_bytes()).unwrap();
    assert_eq!(e.attributes["n"], json!(5));
    let bad = ev.replace("\"5\"", "\"five\"");
    assert_eq!(Event::from_json_slice(bad.as_bytes()).unwrap_err().errors[0].pointer, "");
    let bad = ev.replace("\"5\"", "[]");
    assert_eq!(Event::from_json_slice(bad.as_bytes()).unwrap_err().errors[0].pointer, "");
}

#[test]
fn amount_with_exponent_number_is_exact() {
    let v: Json =
        serde_json::from_str(r#"{"id":"e","type":"charge","time":"2026-11-21T10:00:00Z","account":"a","link":"l","amount":1.5e2}"#)
            .unwrap();
    assert_eq!(ok(&v).amount, Some(dec("150")));
    let v: Json =
        serde_json::from_str(r#"{"id":"e","type":"charge","time":"2026-11-21T10:00:00Z","account":"a","link":"l","amount":0.1}"#).unwrap();
    // 0.1 is not a whole yen; never read through f64
    assert!(reason_at(&v, "/amount").contains("no minor unit"));
}

#[test]
fn not_an_object() {
    for (v, want) in [(json!([]), "got an array"), (json!("e"), "got a string"), (json!(null), "got null"), (json!(1), "got a number")] {
        let e = errs(&v);
        assert_eq!(e.errors, vec![FieldError { pointer: "".into(), reason: format!("an event is a JSON object, {want}") }]);
    }
}

#[test]
fn every_problem_is_reported_at_once() {
    let v = json!({"type": "transfer", "time": "soon", "amount": "-1", "currency": "yen", "ip": "x", "direction": "sideways",
        "counterparty": {"institution": ""}, "holder": {"birth_date": "1-1-1"}, "kyc": "none", "extra": 1});
    let e = errs(&v);
    let pointers: Vec<&str> = e.iter().map(|f| f.pointer.as_str()).collect();
    for p in [
        "/id",
        "/time",
        "/account",
        "/amount",
        "/currency",
        "/ip",
        "/direction",
        "/counterparty/institution",
        "/counterparty/account",
        "/holder/birth_date",
        "/kyc",
        "/extra",
    ] {
        assert!(pointers.contains(&p), "{p} missing from {pointers:?}");
    }
    assert_eq!(pointers.len(), 12, "{e}");
}

#[test]
fn errors_display_and_serialize() {
    let e = errs(&without(without(base(EventType::Charge), "amount"), "link"));
    let s = e.to_string();
    assert!(s.starts_with("invalid event: /amount: required"), "{s}");
    assert!(s.contains("; /link: required for charge events"), "{s}");
    let boxed: Box<dyn std::error::Error> = Box::new(e.clone());
    assert_eq!(boxed.to_string(), s);
    let j = serde_json::to_value(&e.errors[0]).unwrap();
    assert_eq!(j["pointer"], json!("/amount"));
    assert_eq!((&e).into_iter().count(), 2);
    assert_eq!(escape_pointer_token("a~/b"), "a~0~1b");
    assert_eq!(escape_pointer_token("plain"), "plain");
}

#[test]
fn debug_hides_personal_data() {
    let h = json!({"name_kana": "ﾔﾏﾀﾞ ﾀﾛｳ", "name": "山田 太郎", "birth_date": "1950-04-01", "phone": "+819012345678", "email": "taro@example.jp"});
    let mut v = with(base(EventType::Transfer), "holder", h);
    v = with(v, "ip", json!("203.0.113.77"));
    v = with(v, "device", json!("fp-0123456789abcdef"));
    v = with(v, "attributes", json!({"memo": "secret note 12345"}));
    let d = format!("{:?}", ok(&v));
    for leak in ["ﾔﾏﾀﾞ", "ヤマダ", "山田", "1950", "9012345678", "taro@", "203.0.113", "0123456789ab", "secret note"] {
        assert!(!d.contains(leak), "{leak} in {d}");
    }
    assert!(d.contains("cdef") && d.contains("memo") && d.contains("transfer"), "{d}");
    let c = format!("{:?}", ok(&base(EventType::CardPayment)));
    assert!(!c.contains("tok_9f8e7d"), "{c}");
    let w = format!("{:?}", ok(&base(EventType::CryptoWithdrawal)));
    assert!(!w.contains("NBZMQO7ZPBYNB"), "{w}");
}

// ---------------------------------------------------------------------------------
// Schema and record

fn field(s: &EventSchema, path: &str) -> (crate::record::FieldId, Type) {
    let segs: Vec<&str> = path.split('.').collect();
    match s.resolve(&segs) {
        Resolution::Field(id, t) => (id, t),
        r => panic!("{path}: {r:?}"),
    }
}

fn read<'a>(s: &'a EventSchema, e: &'a Event, path: &str) -> Value<'a> {
    s.record(e).value(field(s, path).0)
}

#[test]
fn schema_lists_every_path_with_its_type() {
    let s = EventSchema::new();
    let fields = s.fields();
    assert_eq!(fields.len(), 46);
    let ty = |p: &str| fields.iter().find(|(q, _)| q == p).map(|(_, t)| t.clone()).unwrap_or_else(|| panic!("{p}"));
    assert_eq!(ty("time"), Type::Timestamp);
    assert_eq!(ty("amount"), Type::Decimal);
    assert_eq!(ty("success"), Type::Bool);
    assert_eq!(ty("quantity"), Type::Decimal);
    assert_eq!(ty("customer_total"), Type::Decimal);
    assert_eq!(ty("events"), Type::List(Box::new(Type::String)));
    assert_eq!(ty("holder.name_kana_key"), Type::String);
    // every field of every type is readable (objects through their fields)
    for &t in EventType::ALL {
        for f in t.extra_fields() {
            assert!(fields.iter().any(|(p, _)| p == f || p.starts_with(&format!("{f}."))), "{t}.{f}");
        }
    }
    for (p, t) in &fields {
        assert_eq!(field(&s, p).1, *t, "{p}");
    }
}

#[test]
fn schema_resolution() {
    let s = EventSchema::new();
    assert_eq!(s.resolve(&["holder"]), Resolution::Object);
    assert_eq!(s.resolve(&["attributes"]), Resolution::Object);
    assert_eq!(s.resolve(&["amout"]), Resolution::Unknown { suggestion: Some("amount".into()) });
    assert_eq!(s.resolve(&["holder", "name_kna"]), Resolution::Unknown { suggestion: Some("holder.name_kana".into()) });
    assert_eq!(s.resolve(&["zzzzzzzz"]), Resolution::Unknown { suggestion: None });
    let (a, ta) = field(&s, "attributes.channel");
    assert_eq!(ta, Type::Dyn);
    let (b, _) = field(&s, "attributes.a.b");
    assert_ne!(a, b);
    assert_eq!(field(&s, "attributes.channel").0, a);
    assert_eq!(s.attribute_paths(), vec!["attributes.channel".to_string(), "attributes.a.b".to_string()]);
    let c = CompositeSchema::new().with("features", &s).with("event", &s);
    match c.resolve(&["event", "amount"]) {
        Resolution::Field(id, Type::Decimal) => assert_eq!(id.part(), 1),
        r => panic!("{r:?}"),
    }
}

#[test]
fn record_reads_every_type() {
    let s = EventSchema::new();
    let h = json!({"name_kana": "ｷｯﾄﾞ ｼﾞｮﾝ", "name": "John Kidd", "birth_date": "1990-01-02", "phone": "+81", "email": "j@k"});
    let e = ok(&with(with(base(EventType::LinkRequested), "holder", h), "ip", json!("10.0.0.1")));
    assert_eq!(read(&s, &e, "type"), Value::Str("link_requested"));
    assert_eq!(read(&s, &e, "time"), Value::Timestamp(e.time));
    assert_eq!(read(&s, &e, "currency"), Value::Str("JPY"));
    assert_eq!(read(&s, &e, "ip"), Value::Str("10.0.0.1"));
    assert_eq!(read(&s, &e, "amount"), Value::Null);
    assert_eq!(read(&s, &e, "customer"), Value::Null);
    assert_eq!(read(&s, &e, "auth"), Value::Str("pin_only"));
    assert_eq!(read(&s, &e, "link"), Value::Str("l-1"));
    assert_eq!(read(&s, &e, "bank.institution"), Value::Str("bank-a"));
    assert_eq!(read(&s, &e, "bank.account"), Value::Str("001-1234567"));
    assert_eq!(read(&s, &e, "wallet.institution"), Value::Str("pay-b"));
    assert_eq!(read(&s, &e, "wallet.account"), Value::Str("w-9"));
    assert_eq!(read(&s, &e, "wallet.id"), Value::Null);
    assert_eq!(read(&s, &e, "holder.name_kana"), Value::Str("ｷｯﾄﾞ ｼﾞｮﾝ"));
    assert_eq!(read(&s, &e, "holder.name_kana_key"), Value::Str("キツドジヨン"));
    assert_eq!(read(&s, &e, "holder.name"), Value::Str("John Kidd"));
    assert_eq!(read(&s, &e, "holder.birth_date"), Value::Str("1990-01-02"));
    assert_eq!(read(&s, &e, "holder.phone"), Value::Str("+81"));
    assert_eq!(read(&s, &e, "holder.email"), Value::Str("j@k"));
    assert_eq!(read(&s, &e, "success"), Value::Null);

    let e = ok(&base(EventType::Login));
    assert_eq!(read(&s, &e, "success"), Value::Bool(true));
    assert_eq!(read(&s, &e, "method"), Value::Null);
    assert_eq!(read(&s, &e, "holder.name_kana"), Value::Null);
    let e = ok(&with(base(EventType::Login), "method", json!("passkey")));
    assert_eq!(read(&s, &e, "method"), Value::Str("passkey"));
    assert_eq!(read(&s, &ok(&base(EventType::AccountOpened)), "kyc"), Value::Str("ic_chip"));
    assert_eq!(read(&s, &ok(&base(EventType::AccountOpened)), "account"), Value::Str("a-1"));
    assert_eq!(read(&s, &ok(&base(EventType::CredentialChanged)), "what"), Value::Str("email"));
    assert_eq!(read(&s, &ok(&base(EventType::LinkVerified)), "link"), Value::Str("l-1"));
    assert_eq!(read(&s, &ok(&base(EventType::LinkRevoked)), "link"), Value::Str("l-1"));
    let e = ok(&base(EventType::Charge));
    assert_eq!(read(&s, &e, "link"), Value::Str("l-1"));
    assert_eq!(read(&s, &e, "amount"), Value::Decimal(dec("100000")));
    let e = ok(&base(EventType::PayeeRegistered));
    assert_eq!(read(&s, &e, "payee.institution"), Value::Str("bank-a"));
    let e = ok(&base(EventType::Withdrawal));
    assert_eq!(read(&s, &e, "payee.account"), Value::Str("001-1"));
    let e = ok(&base(EventType::Transfer));
    assert_eq!(read(&s, &e, "direction"), Value::Str("out"));
    assert_eq!(read(&s, &e, "counterparty.institution"), Value::Str("bank-b"));
    assert_eq!(read(&s, &e, "counterparty.account"), Value::Str("9"));
    let e = ok(&base(EventType::Trade));
    assert_eq!(read(&s, &e, "side"), Value::Str("sell"));
    assert_eq!(read(&s, &e, "instrument"), Value::Str("7203"));
    assert_eq!(read(&s, &e, "quantity"), Value::Decimal(dec("100")));
    let e = ok(&base(EventType::CryptoWithdrawal));
    assert_eq!(read(&s, &e, "asset"), Value::Str("XEM"));
    assert_eq!(read(&s, &e, "currency"), Value::Str("XEM"));
    assert_eq!(read(&s, &e, "amount"), Value::Decimal(dec("1000000.5")));
    assert_eq!(read(&s, &e, "wallet.id"), Value::Str("hot-1"));
    assert_eq!(read(&s, &e, "wallet.tier"), Value::Str("hot"));
    assert_eq!(read(&s, &e, "wallet.institution"), Value::Null);
    assert_eq!(read(&s, &e, "to_address"), Value::Str("NBZMQO7ZPBYNBDUR7F75MAKA2S3DHDCIFG775N3D"));
    let e = ok(&base(EventType::WalletBalance));
    assert_eq!(read(&s, &e, "asset"), Value::Str("BTC"));
    assert_eq!(read(&s, &e, "hot"), Value::Decimal(dec("12.5")));
    assert_eq!(read(&s, &e, "cold"), Value::Decimal(dec("1000")));
    assert_eq!(read(&s, &e, "customer_total"), Value::Decimal(dec("1010.25")));
    let e = ok(&with(base(EventType::CardPayment), "terminal", json!("t-7")));
    assert_eq!(read(&s, &e, "card"), Value::Str("tok_9f8e7d"));
    assert_eq!(read(&s, &e, "merchant"), Value::Str("m-1"));
    assert_eq!(read(&s, &e, "terminal"), Value::Str("t-7"));
    let e = ok(&base(EventType::FraudReported));
    assert_eq!(read(&s, &e, "events"), Value::StrList(&["e-0".to_string(), "e-1".to_string()]));
    assert_eq!(read(&s, &e, "source"), Value::Str("customer"));
    // an id this schema never handed out reads Null
    assert_eq!(s.record(&e).get(crate::record::FieldId::new(0, 9_999)), Value::Null);
    assert_eq!(s.record(&e).get(crate::record::FieldId::new(0, (1 << 16) + 77)), Value::Null);
}

#[test]
fn record_reads_attributes() {
    let s = EventSchema::new();
    let attrs: Json = serde_json::from_str(
        r#"{"s": "app", "b": true, "i": -42, "d": 12.50, "e": 1e3, "big": 1e300, "n": null, "o": {"x": {"y": "deep"}}, "a": [1, "two"],
            "u": 18446744073709551615}"#,
    )
    .unwrap();
    let e = ok(&with(base(EventType::Login), "attributes", attrs));
    assert_eq!(read(&s, &e, "attributes.s"), Value::Str("app"));
    assert_eq!(read(&s, &e, "attributes.b"), Value::Bool(true));
    assert_eq!(read(&s, &e, "attributes.i"), Value::Int(-42));
    assert_eq!(read(&s, &e, "attributes.d"), Value::Decimal(dec("12.5")));
    assert_eq!(read(&s, &e, "attributes.e"), Value::Decimal(dec("1000")));
    assert_eq!(read(&s, &e, "attributes.big"), Value::Double(1e300));
    assert_eq!(read(&s, &e, "attributes.u"), Value::Decimal(dec("18446744073709551615")));
    assert_eq!(read(&s, &e, "attributes.n"), Value::Null);
    assert_eq!(read(&s, &e, "attributes.o"), Value::Null);
    assert_eq!(read(&s, &e, "attributes.o.x.y"), Value::Str("deep"));
    assert_eq!(read(&s, &e, "attributes.o.x.z"), Value::Null);
    assert_eq!(read(&s, &e, "attributes.a"), Value::Null);
    assert_eq!(read(&s, &e, "attributes.a.1"), Value::Str("two"));
    assert_eq!(read(&s, &e, "attributes.a.9"), Value::Null);
    assert_eq!(read(&s, &e, "attributes.s.x"), Value::Null);
    assert_eq!(read(&s, &e, "attributes.missing"), Value::Null);
    // the same ids read another event
    let other = ok(&with(base(EventType::Charge), "attributes", json!({"s": "web"})));
    assert_eq!(read(&s, &other, "attributes.s"), Value::Str("web"));
    assert_eq!(read(&s, &other, "attributes.b"), Value::Null);
}

#[test]
fn attribute_ids_span_chunks_and_are_read_while_others_are_added() {
    // Paths are kept in chunks of 16, 32, 64, ... ids; 600 paths fill the first five and
    // part of the sixth. Each id must read its own path, on threads adding others.
    let s = EventSchema::new();
    let attrs: serde_json::Map<String, Json> = (0..600).map(|i| (format!("k{i}"), json!(i))).collect();
    let e = ok(&with(base(EventType::Login), "attributes", Json::Object(attrs)));
    let id = |s: &EventSchema, i: usize| match s.resolve(&["attributes", &format!("k{i}")]) {
        Resolution::Field(id, Type::Dyn) => id,
        other => panic!("attributes.k{i} resolved as {other:?}"),
    };
    std::thread::scope(|scope| {
        for t in 0..3 {
            let (s, e) = (&s, &e);
            scope.spawn(move || {
                for i in (t..600).step_by(3) {
                    let f = id(s, i);
                    assert_eq!(s.record(e).get(f), Value::Int(i as i64));
                }
            });
        }
    });
    for i in 0..600 {
        assert_eq!(s.record(&e).get(id(&s, i)), Value::Int(i as i64));
    }
    let paths = s.attribute_paths();
    assert_eq!(paths.len(), 600);
    let mut sorted = paths.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 600, "one id per path");
    assert!(paths.contains(&"attributes.k599".to_string()));
    // An id past the last added reads Null.
    assert_eq!(s.record(&e).get(crate::record::FieldId::new(0, super::schema::ATTR_BASE + 600)), Value::Null);
}

#[test]
fn the_amount_and_time_of_an_event_lie_side_by_side() {
    // The reader asks ahead for the lines holding `amount` and `time`; the two must be
    // neighbours, 32 bytes at most, so that those lines are the ones read.
    use std::mem::{offset_of, size_of};
    let amount = offset_of!(Event, amount);
    let time = offset_of!(Event, time);
    assert!(time >= amount + size_of::<Option<Decimal>>());
    assert!(time + size_of::<crate::time::Timestamp>() - amount <= 32, "amount at {amount}, time at {time}");
}

// ---------------------------------------------------------------------------------
// Properties

fn arb_text() -> impl Strategy<Value = String> {
    prop_oneof!["[a-zA-Z0-9_.:-]{1,16}", "\\PC{1,12}"]
}

fn arb_ref() -> impl Strategy<Value = Ref> {
    (arb_text(), arb_text()).prop_map(|(institution, account)| Ref { institution, account })
}

fn arb_secret() -> impl Strategy<Value = Option<crate::secret::Secret<String>>> {
    proptest::option::of(arb_text().prop_map(crate::secret::Secret::new))
}

fn arb_holder() -> impl Strategy<Value = Option<Box<Holder>>> {
    let kana = proptest::option::of("[ア-ンｱ-ﾝぁ-ん][ア-ンｱ-ﾝﾞﾟ 　ー]{0,10}".prop_map(KanaName::new));
    let date = proptest::option::of(
        (1900i32..2030, 1u32..=12, 1u32..=28).prop_map(|(y, m, d)| crate::secret::Secret::new(format!("{y:04}-{m:02}-{d:02}"))),
    );
    proptest::option::of(
        (kana, arb_secret(), date, arb_secret(), arb_secret())
            .prop_map(|(name_kana, name, birth_date, phone, email)| Box::new(Holder { name_kana, name, birth_date, phone, email })),
    )
}

fn arb_decimal(max_places: u32) -> impl Strategy<Value = Decimal> {
    (1i64..1_000_000_000_000, 0..=max_places.min(12)).prop_map(|(m, s)| Decimal::new(m, s))
}

fn arb_nonneg(max_places: u32) -> impl Strategy<Value = Decimal> {
    (0i64..1_000_000_000_000, 0..=max_places.min(12)).prop_map(|(m, s)| Decimal::new(m, s))
}

fn pick<T: Copy + std::fmt::Debug + 'static>(all: &'static [T]) -> impl Strategy<Value = T> {
    proptest::sample::select(all)
}

fn arb_kind() -> impl Strategy<Value = EventKind> {
    let asset = || pick(&["BTC", "ETH", "XEM", "USDT"]).prop_map(String::from);
    prop_oneof![
        (pick(Kyc::ALL), arb_holder()).prop_map(|(kyc, holder)| EventKind::AccountOpened { kyc, holder }),
        (any::<bool>(), proptest::option::of(pick(LoginMethod::ALL))).prop_map(|(success, method)| EventKind::Login { success, method }),
        (pick(Credential::ALL), arb_holder()).prop_map(|(what, holder)| EventKind::CredentialChanged { what, holder }),
        (arb_text(), arb_ref(), arb_ref(), arb_holder(), pick(LinkAuth::ALL))
            .prop_map(|(link, bank, wallet, holder, auth)| EventKind::LinkRequested { link, bank, wallet, holder, auth }),
        arb_text().prop_map(|link| EventKind::LinkVerified { link }),
        arb_text().prop_map(|link| EventKind::LinkRevoked { link }),
        (arb_ref(), arb_holder()).prop_map(|(payee, holder)| EventKind::PayeeRegistered { payee, holder }),
        arb_text().prop_map(|link| EventKind::Charge { link }),
        (pick(Direction::ALL), arb_ref(), arb_holder()).prop_map(|(direction, counterparty, holder)| EventKind::Transfer {
            direction,
            counterparty,
            holder
        }),
        arb_ref().prop_map(|payee| EventKind::Withdrawal { payee }),
        (pick(Side::ALL), arb_text(), arb_decimal(28)).prop_map(|(side, instrument, quantity)| EventKind::Trade {
            side,
            instrument,
            quantity
        }),
        (asset(), arb_text(), pick(WalletTier::ALL), "[a-zA-Z0-9]{20,40}").prop_map(|(asset, id, tier, addr)| {
            EventKind::CryptoWithdrawal { asset, wallet: CryptoWallet { id, tier }, to_address: crate::secret::Secret::new(addr) }
        }),
        (asset(), arb_nonneg(18), arb_nonneg(18), arb_nonneg(18)).prop_map(|(asset, hot, cold, customer_total)| EventKind::WalletBalance {
            asset,
            hot,
            cold,
            customer_total
        }),
        ("tok_[a-z0-9]{4,24}", arb_text(), proptest::option::of(arb_text())).prop_map(|(card, merchant, terminal)| {
            EventKind::CardPayment { card: crate::secret::Secret::new(card), merchant, terminal }
        }),
        (proptest::collection::vec(arb_text(), 1..5), pick(ReportSource::ALL))
            .prop_map(|(events, source)| EventKind::FraudReported { events, source }),
    ]
}

fn arb_attr_value() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        any::<i64>().prop_map(|i| json!(i)),
        (any::<i32>(), 0u32..6).prop_map(|(m, s)| serde_json::from_str(&Decimal::new(i64::from(m), s).to_string()).unwrap()),
        "\\PC{0,10}".prop_map(Json::String),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..3).prop_map(Json::Array),
            proptest::collection::btree_map("[a-z]{1,4}", inner, 0..3).prop_map(|m| Json::Object(m.into_iter().collect())),
        ]
    })
}

prop_compose! {
    fn arb_event()(
        id in "\\PC{1,40}",
        micros in -62_135_596_800_000_000i64..253_402_300_799_999_999,
        institution in proptest::option::of(arb_text()),
        customer in proptest::option::of(arb_text()),
        account in proptest::option::of(arb_text()),
        money in proptest::option::of((pick(&[("JPY", 0u32), ("USD", 2), ("KWD", 3), ("BTC", 18), ("XEM", 6)]), 1i64..1_000_000_000_000, 0u32..=12)),
        device in proptest::option::of(arb_text()),
        ip in proptest::option::of(prop_oneof![any::<u32>().prop_map(|v| std::net::IpAddr::from(v.to_be_bytes())), any::<u128>().prop_map(|v| std::net::IpAddr::from(v.to_be_bytes()))]),
        attributes in proptest::collection::btree_map("[a-z_]{1,8}", arb_attr_value(), 0..4),
        kind in arb_kind(),
    ) -> Event {
        let t = kind.event_type();
        let (mut currency, mut amount) = match money {
            Some(((c, places), m, s)) => (c.to_string(), Some(Decimal::new(m, s.min(places)))),
            None => ("JPY".to_string(), None),
        };
        if t.is_money() && amount.is_none() {
            amount = Some(Decimal::ONE);
        }
        if let EventKind::CryptoWithdrawal { asset, .. } = &kind {
            currency = asset.clone();
        }
        let mut account = account;
        if t.required().contains(&"account") && account.is_none() {
            account = Some("acct".into());
        }
        let mut customer = customer;
        if matches!(t, EventType::Login | EventType::CredentialChanged) && account.is_none() && customer.is_none() {
            customer = Some("cust".into());
        }
        Event {
            id,
            time: crate::time::Timestamp(micros),
            institution,
            customer,
            account,
            amount,
            currency,
            device,
            ip: ip.map(|a| Box::new(Ip::from(a))),
            attributes: attributes.into_iter().collect(),
            kind,
        }
    }
}

/// JSON of any shape.
fn arb_json() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        any::<i64>().prop_map(|i| json!(i)),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Json::Null, Json::Number)),
        "[-+0-9.eE]{1,12}".prop_filter_map("number", |s| serde_json::from_str::<serde_json::Number>(&s).ok().map(Json::Number)),
        "\\PC{0,12}".prop_map(Json::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Json::Array),
            proptest::collection::btree_map("\\PC{0,6}", inner, 0..4).prop_map(|m| Json::Object(m.into_iter().collect())),
        ]
    })
}

/// Objects whose keys are mostly real field names, with values of any shape and
/// sometimes the right shape: reaches deep into validation.
fn arb_event_like() -> impl Strategy<Value = Json> {
    let mut names: Vec<&'static str> = COMMON_FIELDS.to_vec();
    for t in EventType::ALL {
        names.extend(t.extra_fields());
    }
    names.sort_unstable();
    names.dedup();
    let key = prop_oneof![4 => proptest::sample::select(names).prop_map(String::from), 1 => "[a-z_]{1,6}"];
    let value = prop_oneof![
        arb_json(),
        pick(EventType::ALL).prop_map(|t| json!(t.as_str())),
        Just(json!("2026-11-21T10:00:00+09:00")),
        Just(json!("100000")),
        Just(json!({"institution": "b", "account": "a"})),
        Just(json!({"name_kana": "ﾔﾏﾀﾞ"})),
        Just(json!({"id": "w", "tier": "cold"})),
        Just(json!(["e-1"])),
        Just(json!("BTC")),
    ];
    (proptest::collection::vec((key, value), 0..14), pick(EventType::ALL)).prop_map(|(kv, t)| {
        let mut m = base(t).as_object().unwrap().clone();
        for (k, v) in kv {
            m.insert(k, v);
        }
        Json::Object(m)
    })
}

/// Whatever parses must also round-trip.
fn check_any(v: &Json) -> Result<(), TestCaseError> {
    match Event::from_json_value(v) {
        Ok(e) => {
            let back = Event::from_json_value(&e.to_json());
            prop_assert_eq!(back.as_ref(), Ok(&e));
        }
        Err(errs) => {
            prop_assert!(!errs.is_empty());
            let _ = errs.to_string();
        }
    }
    let bytes = serde_json::to_vec(v).unwrap();
    let a = Event::from_json_slice(&bytes);
    let b = Event::from_json_value(v);
    prop_assert_eq!(a.is_ok(), b.is_ok());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Writing an event over another (keeping its room) gives the event itself.
    #[test]
    fn an_event_written_over_another_is_that_event(a in arb_event(), b in arb_event()) {
        let mut x = a.clone();
        prop_assert_eq!(&x, &a);
        x.clone_from(&b);
        prop_assert_eq!(&x, &b);
        prop_assert_eq!(x.to_json_vec(), b.to_json_vec());
        // Over an event with the same attribute names, holding other values.
        let mut c = b.clone();
        for (i, v) in c.attributes.values_mut().enumerate() {
            *v = serde_json::json!([i, v.clone()]);
        }
        x.clone_from(&c);
        prop_assert_eq!(&x, &c);
        x.clone_from(&b);
        prop_assert_eq!(&x, &b);
    }

    #[test]
    fn generated_events_round_trip(e in arb_event()) {
        let j = e.to_json();
        let back = from_json(&j);
        prop_assert_eq!(back.as_ref(), Ok(&e), "{}", j);
        let bytes = e.to_json_vec();
        prop_assert_eq!(Event::from_json_slice(&bytes), Ok(e.clone()));
        // and the canonical form is a fixed point
        prop_assert_eq!(back.unwrap().to_json(), j);
        let _ = format!("{e:?}");
    }

    #[test]
    fn record_reads_never_panic(e in arb_event()) {
        let s = EventSchema::new();
        let ids: Vec<_> = s.fields().iter().map(|(p, _)| field(&s, p).0).collect();
        let (a, _) = field(&s, "attributes.x.y");
        let r = s.record(&e);
        for id in ids {
            let _ = r.get(id);
        }
        let _ = r.get(a);
    }

    /// Events with a field dropped, replaced by another JSON value, or added under any
    /// name: the fields path and the JSON path agree on every one.
    #[test]
    fn fields_and_objects_are_checked_alike(
        e in arb_event(),
        drop in any::<prop::sample::Index>(),
        name in prop::sample::select(vec!["id", "type", "time", "amount", "currency", "account", "link", "card", "holder",
            "attributes", "asset", "hot", "bank", "events", "ip", "success", "nonsense", "Amount"]),
        value in prop_oneof![
            Just(Json::Null), any::<bool>().prop_map(Json::Bool), any::<i64>().prop_map(Json::from),
            "[a-z0-9:+. -]{0,12}".prop_map(Json::String), Just(json!({"institution": "b", "account": "1"})), Just(json!(["x"])),
        ],
    ) {
        let mut j = e.to_json();
        let o = j.as_object_mut().unwrap();
        let k = o.keys().nth(drop.index(o.len())).unwrap().clone();
        o.shift_remove(&k);
        let _ = from_json(&j);
        j.as_object_mut().unwrap().insert(name.to_string(), value);
        let _ = from_json(&j);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = Event::from_json_slice(&bytes);
    }

    #[test]
    fn mutated_events_never_panic(e in arb_event(), pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut bytes = e.to_json_vec();
        let i = pos.index(bytes.len());
        bytes[i] = byte;
        if let Ok(back) = Event::from_json_slice(&bytes) {
            prop_assert_eq!(Event::from_json_value(&back.to_json()), Ok(back));
        }
    }

    #[test]
    fn arbitrary_json_never_panics(v in arb_json()) {
        check_any(&v)?;
    }

    #[test]
    fn event_like_json_never_panics(v in arb_event_like()) {
        check_any(&v)?;
    }
}

/// A bulk sweep moves every event several times between reading and judging, and each
/// move copies the whole struct: what most events lack (a holder, an IP address) is boxed.
#[test]
fn an_event_stays_small_to_move() {
    assert!(std::mem::size_of::<EventKind>() <= 136, "EventKind is {} bytes", std::mem::size_of::<EventKind>());
    assert!(std::mem::size_of::<Event>() <= 392, "Event is {} bytes", std::mem::size_of::<Event>());
}
