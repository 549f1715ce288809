use proptest::prelude::*;

use super::*;

/// 2026-11-21T10:00:00Z, 19:00 in Japan.
const T: i64 = 1_795_255_200_000_000;
const DECISIONS: [&str; 4] = ["allow", "challenge", "hold", "block"];

fn notice(kind: Kind, decision: &str) -> Notice {
    let (amount, currency, counterparty) = match kind {
        Kind::Charge => (Some("100000"), Some("JPY"), "wallet-co account 9981"),
        Kind::TransferOut => (Some("2500000"), None, "Mizuho 001 Tanaka Taro"),
        Kind::Withdrawal => (Some("30000"), Some("JPY"), "ATM Shinjuku 3"),
        Kind::CryptoWithdrawal => (Some("0.5"), Some("BTC"), "bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh"),
        Kind::PastReview => (Some("480000"), Some("JPY"), "wallet-co account 9981"),
        _ => (None, None, "wallet-co account 9981"),
    };
    Notice {
        kind,
        institution: "jp-bank".into(),
        account: Some("0012345678".into()),
        time: T,
        amount: amount.map(String::from),
        currency: currency.map(String::from),
        counterparty: Some(counterparty.into()),
        decision: decision.into(),
        link: Some("lk-7731".into()),
        report_code: (kind != Kind::LinkCode).then(|| "RPT-4K9Q-2M7X".into()),
        code: (kind == Kind::LinkCode).then(|| "493817".into()),
        expires: (kind == Kind::LinkCode).then_some(T + 600_000_000),
    }
}

/// The Japanese part and the English part.
fn halves(m: &Message) -> (&str, &str) {
    m.text.split_once(RULE).unwrap()
}

const FORBIDDEN: [&str; 6] = ["http", "://", "www.", "enter your password", "enter your pin", "send us your"];

fn assert_clean(m: &Message) {
    assert_no(m, &FORBIDDEN);
}

fn assert_no(m: &Message, forbidden: &[&str]) {
    for part in [&m.subject, &m.text] {
        let lower = part.to_lowercase();
        for bad in forbidden {
            assert!(!lower.contains(bad), "{bad:?} in\n{part}");
        }
    }
    assert!(!m.subject.contains(['\n', '\r']), "{:?}", m.subject);
}

/// Decision wording in Japanese and English (allow's English verb depends on the kind).
fn wording(kind: Kind, decision: &str) -> (&'static str, &'static str) {
    match decision {
        "allow" => (
            "が行われました。",
            match kind {
                Kind::LinkRevoked => "was carried out.",
                Kind::LinkLocked => "was put in place.",
                _ => "was made.",
            },
        ),
        "challenge" => ("jp-bank での追加の本人確認を待っています", "is waiting for additional authentication at jp-bank"),
        "hold" => ("停止され、jp-bank が確認のため保留しています", "was stopped and is held for review by jp-bank"),
        "block" => ("拒否されました", "was refused by jp-bank"),
        _ => unreachable!(),
    }
}

#[test]
fn every_kind_and_decision_follows_the_rules() {
    for kind in Kind::ALL {
        for decision in DECISIONS {
            let n = notice(kind, decision);
            let m = render(&n);
            let ctx = format!("{kind:?}/{decision}:\n{}\n{}", m.subject, m.text);
            assert_clean(&m);
            let (ja, en) = halves(&m);

            // Subject in both languages, Japanese first.
            assert!(m.subject.starts_with("【jp-bank】"), "{ctx}");
            assert!(m.subject.contains(" / [jp-bank] "), "{ctx}");
            // Japanese part, then English.
            assert!(ja.starts_with("jp-bank からのお知らせです。"), "{ctx}");
            assert!(en.trim_start().starts_with("This is a notice from jp-bank."), "{ctx}");

            // Time, counterparty, account (masked), link reference.
            assert!(ja.contains("日時: 2026年11月21日 19:00 JST"), "{ctx}");
            assert!(en.contains("Time: 21 Nov 2026 19:00 JST"), "{ctx}");
            let cp = n.counterparty.as_deref().unwrap();
            assert!(ja.contains(cp) && en.contains(cp), "{ctx}");
            assert!(ja.contains("口座: ****5678") && en.contains("Account: ****5678"), "{ctx}");
            assert!(!m.text.contains("0012345678") && !m.text.contains("001234"), "{ctx}");
            assert!(ja.contains("連携番号: lk-7731") && en.contains("Link reference: lk-7731"), "{ctx}");

            // Amount with its currency.
            match kind {
                Kind::Charge => assert!(ja.contains("金額: 100,000円") && en.contains("Amount: 100,000 JPY"), "{ctx}"),
                Kind::TransferOut => assert!(ja.contains("金額: 2,500,000円") && en.contains("Amount: 2,500,000 JPY"), "{ctx}"),
                Kind::Withdrawal => assert!(ja.contains("金額: 30,000円") && en.contains("Amount: 30,000 JPY"), "{ctx}"),
                Kind::CryptoWithdrawal => assert!(ja.contains("金額: 0.5 BTC") && en.contains("Amount: 0.5 BTC"), "{ctx}"),
                Kind::PastReview => {
                    assert!(ja.contains("金額: 480,000円") && en.contains("Amount: 480,000 JPY"), "{ctx}");
                    assert!(ja.contains("過去のお取引を見直した") && en.contains("looked back over past transactions"), "{ctx}");
                }
                _ => assert!(!ja.contains("金額") && !en.contains("Amount"), "{ctx}"),
            }

            // Decision wording: this decision's, no other's.
            // Outcomes of a review or a claim say what happened whatever the decision was.
            let event = !matches!(
                kind,
                Kind::LinkCode | Kind::ReportReceived | Kind::HoldReleased | Kind::HoldConfirmed | Kind::Reimbursement | Kind::PastReview
            );
            for other in DECISIONS {
                let (w_ja, w_en) = wording(kind, other);
                let present = ja.contains(w_ja) && en.contains(w_en);
                let absent = !ja.contains(w_ja) && !en.contains(w_en);
                if event && other == decision {
                    assert!(present, "{other}: {ctx}");
                } else {
                    assert!(absent, "{other}: {ctx}");
                }
            }
            if event && decision == "block" && kind.moves_money() {
                assert!(ja.contains("お金は動いていません。") && en.contains("No money was moved."), "{ctx}");
            }
            let tags =
                [("（追加認証待ち）", " (awaiting authentication)"), ("（保留中）", " (held for review)"), ("（拒否）", " (refused)")];
            for ((tag_ja, tag_en), d) in tags.into_iter().zip(["challenge", "hold", "block"]) {
                let tagged = m.subject.contains(tag_ja) && m.subject.ends_with(tag_en);
                assert_eq!(tagged, event && d == decision, "{ctx}");
            }

            // No links: said in both languages.
            assert!(ja.contains("このメッセージにリンクはありません。"), "{ctx}");
            assert!(en.contains("This message contains no links."), "{ctx}");

            if kind == Kind::LinkCode {
                assert!(ja.contains("確認コード: 493817") && en.contains("Verification code: 493817"), "{ctx}");
                assert!(ja.contains("有効期限: 2026年11月21日 19:10 JST") && en.contains("Expires: 21 Nov 2026 19:10 JST"), "{ctx}");
                assert!(ja.contains("jp-bank が電話・メール・SMS でこのコードをお尋ねすることはありません。"), "{ctx}");
                assert!(en.contains("jp-bank will never ask you for this code by phone, e-mail or SMS."), "{ctx}");
                assert!(ja.contains("このコードは、連携をお申し込みになった画面にのみ入力してください。"), "{ctx}");
                assert!(en.contains("Enter this code only on the screen where you asked to link your account."), "{ctx}");
                assert!(!m.text.contains("報告コード") && !m.text.contains("Report code"), "{ctx}");
            } else {
                let (if_ja, if_en) = match kind {
                    Kind::ReportReceived => ("このご報告にお心当たりがない場合は", "If you did not make this report"),
                    Kind::PastReview => ("このお取引にお心当たりがない場合は", "If you did not make this transaction"),
                    _ => ("お心当たりがない場合は", "If you did not do this"),
                };
                assert!(
                    ja.contains(&format!("{if_ja}、次の報告コードを、jp-bank の公式アプリ、またはカードや通帳に記載の電話番号から jp-bank にお伝えください。\n  報告コード: RPT-4K9Q-2M7X\n")),
                    "{ctx}"
                );
                assert!(
                    en.contains(&format!("{if_en}, give this report code to jp-bank through its official app or the phone number on your card or bankbook.\n  Report code: RPT-4K9Q-2M7X\n")),
                    "{ctx}"
                );
                assert!(ja.contains("jp-bank がメールでパスワードや暗証番号をお尋ねすることはありません。"), "{ctx}");
                assert!(en.contains("jp-bank never asks for your password or PIN by e-mail."), "{ctx}");
                assert!(!m.text.contains("493817") && !m.text.contains("Verification code"), "{ctx}");
            }

            if kind == Kind::ReportReceived {
                assert!(ja.contains("ご報告を受け付けました") && ja.contains("凍結"), "{ctx}");
                assert!(en.contains("has received your report") && en.contains("are frozen"), "{ctx}");
                assert!(m.subject.contains("ご報告を受け付けました") && m.subject.contains("Report received"), "{ctx}");
            }
        }
    }
}

#[test]
fn a_charge_reads_well() {
    let m = render(&notice(Kind::Charge, "hold"));
    assert_eq!(m.subject, "【jp-bank】チャージのお知らせ（保留中） / [jp-bank] Charge notice (held for review)");
    let expected = "\
jp-bank からのお知らせです。

お客さまの口座からのチャージは停止され、jp-bank が確認のため保留しています。

  日時: 2026年11月21日 19:00 JST
  金額: 100,000円
  チャージ先: wallet-co account 9981
  口座: ****5678
  連携番号: lk-7731

お心当たりがない場合は、次の報告コードを、jp-bank の公式アプリ、またはカードや通帳に記載の電話番号から jp-bank にお伝えください。
  報告コード: RPT-4K9Q-2M7X

jp-bank がメールでパスワードや暗証番号をお尋ねすることはありません。
このメッセージにリンクはありません。他のメールや SMS に書かれた連絡先は使わないでください。

----------------------------------------

This is a notice from jp-bank.

A charge from your account was stopped and is held for review by jp-bank.

  Time: 21 Nov 2026 19:00 JST
  Amount: 100,000 JPY
  To: wallet-co account 9981
  Account: ****5678
  Link reference: lk-7731

If you did not do this, give this report code to jp-bank through its official app or the phone number on your card or bankbook.
  Report code: RPT-4K9Q-2M7X

jp-bank never asks for your password or PIN by e-mail.
This message contains no links. Do not use contact details given in any other message.
";
    assert_eq!(m.text, expected);
}

#[test]
fn optional_parts_may_be_absent() {
    let n = Notice {
        account: None,
        amount: None,
        currency: None,
        counterparty: None,
        link: None,
        report_code: None,
        decision: "something-new".into(),
        ..notice(Kind::TransferOut, "allow")
    };
    let m = render(&n);
    assert_clean(&m);
    let (ja, en) = halves(&m);
    for absent in ["金額", "送り先", "口座:", "連携番号", "報告コード"] {
        assert!(!ja.contains(absent), "{absent}: {ja}");
    }
    for absent in ["Amount", "To:", "Account:", "Link reference", "Report code"] {
        assert!(!en.contains(absent), "{absent}: {en}");
    }
    // Still told what to do, without a code.
    assert!(ja.contains("お心当たりがない場合は、jp-bank の公式アプリ、またはカードや通帳に記載の電話番号から jp-bank にご連絡ください。"));
    assert!(en.contains("If you did not do this, contact jp-bank through its official app or the phone number on your card or bankbook."));
    // An unknown decision gets neutral wording.
    assert!(ja.contains("お客さまの口座からの振込がありました。"), "{ja}");
    assert!(en.contains("A transfer from your account was recorded by jp-bank."), "{en}");
    assert_eq!(m.subject, "【jp-bank】振込のお知らせ / [jp-bank] Transfer notice");

    let code = render(&Notice { code: None, expires: None, ..notice(Kind::LinkCode, "allow") });
    assert!(code.text.contains("確認コード: （なし）") && code.text.contains("Verification code: (none)"));
    assert!(!code.text.contains("有効期限") && !code.text.contains("Expires"));

    let nameless = render(&Notice { institution: " \u{200B} ".into(), ..notice(Kind::Charge, "allow") });
    assert!(nameless.subject.starts_with("【お取引先】"), "{}", nameless.subject);
    assert!(nameless.text.contains("This is a notice from your bank."));
}

#[test]
fn amounts() {
    let a = |amt: &str, cur: Option<&str>| {
        let b = amount(amt, cur);
        (b.ja, b.en)
    };
    assert_eq!(a("100000", Some("JPY")), ("100,000円".into(), "100,000 JPY".into()));
    assert_eq!(a("100000", None), ("100,000円".into(), "100,000 JPY".into()));
    assert_eq!(a("1000", Some("jpy")), ("1,000円".into(), "1,000 JPY".into()));
    assert_eq!(a("999", Some("JPY")), ("999円".into(), "999 JPY".into()));
    assert_eq!(a("0", Some("JPY")), ("0円".into(), "0 JPY".into()));
    assert_eq!(a("-1234567", Some("JPY")), ("-1,234,567円".into(), "-1,234,567 JPY".into()));
    assert_eq!(a("1234567.5", Some("JPY")), ("1,234,567.5円".into(), "1,234,567.5 JPY".into()));
    // Other currencies exactly as given.
    assert_eq!(a("12345.50", Some("USD")), ("12345.50 USD".into(), "12345.50 USD".into()));
    assert_eq!(a("0.000000000000000001", Some("ETH")), ("0.000000000000000001 ETH".into(), "0.000000000000000001 ETH".into()));
    // Not a plain decimal: shown as text, made inert.
    assert_eq!(a("1e5", Some("JPY")).1, "1e5 JPY");
    assert_eq!(a("10.000.000", None).1, "10[.]000[.]000 JPY");
    assert!(!is_plain_decimal("") && !is_plain_decimal("1.") && !is_plain_decimal(".5") && !is_plain_decimal("-"));
}

#[test]
fn times_are_japan_time() {
    let t = jst(T);
    assert_eq!((t.ja.as_str(), t.en.as_str()), ("2026年11月21日 19:00 JST", "21 Nov 2026 19:00 JST"));
    // 15:00 UTC on New Year's Eve is already the new year in Japan.
    let t = jst(1_798_729_200_000_000);
    assert_eq!((t.ja.as_str(), t.en.as_str()), ("2027年1月1日 00:00 JST", "1 Jan 2027 00:00 JST"));
    let t = jst(i64::MAX);
    assert_eq!((t.ja.as_str(), t.en.as_str()), ("（日時不明）", "(unknown time)"));
}

#[test]
fn defangs_links_in_fields() {
    let cases = [
        ("wallet-co account 9981", "wallet-co account 9981"),
        ("Tanaka Taro: 1234", "Tanaka Taro: 1234"),
        ("https://evil.example/login", "hxxps[:]//evil[.]example/login"),
        ("HTTP://EVIL.EXAMPLE", "HXXP[:]//EVIL[.]EXAMPLE"),
        ("www.evil.jp", "www[.]evil[.]jp"),
        ("go to www. now", "go to www[.] now"),
        ("support@bank-help.example", "support[@]bank-help[.]example"),
        ("tel:0120000000", "tel[:]0120000000"),
        ("javascript:alert(1)", "javascript[:]alert(1)"),
        ("ｈｔｔｐｓ：／／ｅｖｉｌ。ｃｏｍ", "hxxps[:]//evil[.]com"),
        ("h\u{200B}ttp://x", "hxxp[:]//x"),
        ("evil\u{202E}moc.example", "evilmoc[.]example"),
        ("ftp:\\\\host", "ftp[:]\\\\host"),
        ("line one\r\nSubject: injected", "line one Subject: injected"),
        ("  spaced \t out  ", "spaced out"),
        ("ほげ。jp", "ほげ[.]jp"),
    ];
    for (input, want) in cases {
        assert_eq!(field(input), want, "{input:?}");
    }
    let long = "a".repeat(500);
    let f = field(&long);
    assert_eq!(f.chars().count(), FIELD_MAX + 1);
    assert!(f.ends_with('…'));
}

#[test]
fn hostile_fields_leave_no_link() {
    let hostile = [
        "https://jp-bank.example/verify?acct=1",
        "http",
        "www",
        "www.",
        "ht",
        "tp",
        "://",
        ":",
        "/",
        "ｗｗｗ．ｅｖｉｌ．ｃｏｍ",
        "h\u{200B}t\u{200C}t\u{200D}p\u{FEFF}s:/\u{2060}/x",
        "Please enter your PIN at bank-help.example",
        "send us your password",
        "\u{202E}lmth.xedni//:sptth",
        "evil\n\nhttps://x",
    ];
    for kind in Kind::ALL {
        for decision in DECISIONS {
            for h in hostile {
                let n = Notice {
                    institution: h.into(),
                    counterparty: Some(h.into()),
                    account: Some(h.into()),
                    link: Some(h.into()),
                    amount: Some(h.into()),
                    currency: Some(h.into()),
                    report_code: Some(h.into()),
                    code: Some(h.into()),
                    ..notice(kind, decision)
                };
                let m = render(&n);
                // Field text is shown (names are data), but never as a link.
                assert_no(&m, &FORBIDDEN[..3]);
                // A field's text never runs into a domain either.
                assert!(!m.text.contains("bank-help.example") && !m.text.contains("jp-bank.example"), "{}", m.text);
            }
        }
    }
}

fn hostile_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[hHtTpPsS:/\\\\.wW@ \u{200B}。：／ｈｔｐｗ．]{0,24}",
        "(https?://|www\\.|ht|tp|:|/|\\.|w|ww|@|\u{FF48}\u{FF54}\u{FF54}\u{FF50}|[a-z0-9]{1,5}){0,8}",
    ]
}

/// `defang_patterns` as it was first written, character by character: the reference.
fn defang_patterns_by_char(s: &str) -> String {
    let c: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < c.len() {
        let rest = &c[i..];
        if starts_ci(rest, "http") {
            out.push(c[i]);
            out.push_str("xx");
            i += 3;
        } else if starts_ci(rest, "www.") {
            out.push_str(&rest[..3].iter().collect::<String>());
            out.push_str("[.]");
            i += 4;
        } else if starts_ci(rest, "://") {
            out.push_str("[:]");
            i += 1;
        } else {
            out.push(c[i]);
            i += 1;
        }
    }
    out
}

#[test]
fn patterns_are_defanged_where_they_stand() {
    assert_eq!(defang_patterns("HTTPS://Www.bank.example ｈttp"), "HxxPS[:]//Www[.]bank.example ｈttp");
    assert_eq!(defang_patterns("口座http口座www.口座://"), "口座hxxp口座www[.]口座[:]//");
    assert_eq!(defang_patterns("htt ww. :/"), "htt ww. :/");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn patterns_are_defanged_as_by_characters(s in hostile_text()) {
        prop_assert_eq!(defang_patterns(&s), defang_patterns_by_char(&s));
    }

    #[test]
    fn render_never_links(
        kind in prop::sample::select(Kind::ALL.to_vec()),
        institution in hostile_text(),
        counterparty in proptest::option::of(hostile_text()),
        account in proptest::option::of(hostile_text()),
        link in proptest::option::of(hostile_text()),
        amount in proptest::option::of(hostile_text()),
        currency in proptest::option::of(hostile_text()),
        decision in prop_oneof![prop::sample::select(DECISIONS.to_vec()).prop_map(String::from), any::<String>()],
        time in any::<i64>(),
        expires in proptest::option::of(any::<i64>()),
        report_code in proptest::option::of(hostile_text()),
        code in proptest::option::of(hostile_text()),
    ) {
        let n = Notice { kind, institution, account, time, amount, currency, counterparty, decision, link, report_code, code, expires };
        let m = render(&n);
        for part in [&m.subject, &m.text] {
            let lower = part.to_lowercase();
            prop_assert!(!lower.contains("://"), "{}", part);
            prop_assert!(!lower.contains("http"), "{}", part);
            prop_assert!(!lower.contains("www."), "{}", part);
        }
        prop_assert!(!m.subject.contains(['\n', '\r']));
    }
}
