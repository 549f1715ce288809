//! A notice as a bilingual plain-text message.
//!
//! How fields from outside are made inert: see the crate documentation.

use mamori_core::amount::DEFAULT_CURRENCY;

use crate::notice::{Kind, Notice, mask_account};

/// The longest a field from the notice may be, in characters.
const FIELD_MAX: usize = 120;

const RULE: &str = "----------------------------------------";

/// A rendered message.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Message {
    /// Japanese, then English, on one line.
    pub subject: String,
    /// Plain text: the Japanese part, a rule, the English part.
    pub text: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Decision {
    Allow,
    Challenge,
    Hold,
    Block,
    /// A value this crate does not know: neutral wording.
    Other,
}

impl Decision {
    fn parse(s: &str) -> Decision {
        match s.trim().to_ascii_lowercase().as_str() {
            "allow" => Decision::Allow,
            "challenge" => Decision::Challenge,
            "hold" => Decision::Hold,
            "block" => Decision::Block,
            _ => Decision::Other,
        }
    }
}

/// Japanese and English.
struct Both {
    ja: String,
    en: String,
}

/// Japanese first, then English, in one plain-text body; the subject carries both.
///
/// Every message names the time in Japan time and, when the notice has them, the amount
/// with its currency, the counterparty, the account (masked) and the link. Event notices
/// say what was decided (allow: it was made; challenge: it awaits extra authentication at
/// the institution; hold: it was stopped and is held for review; block: it was refused).
/// Every message but [`Kind::LinkCode`] carries the report code and tells the customer to
/// give it to the institution through its official app or the phone number on their card
/// or bankbook, and says that the institution never asks for passwords or PINs by e-mail.
/// A link code message gives the code and its expiry, says that the institution never asks
/// for it by phone, e-mail or SMS, and to enter it only on the screen where the link was
/// asked for. No message holds a link or a URL, or asks for a password, PIN or code.
pub fn render(n: &Notice) -> Message {
    let inst = field(&n.institution);
    let inst =
        if inst.is_empty() { Both { ja: "お取引先".into(), en: "your bank".into() } } else { Both { ja: inst.clone(), en: inst } };
    let decision = Decision::parse(&n.decision);
    let subject = subject(n.kind, decision, &inst);

    let mut ja = format!("{} からのお知らせです。\n\n", inst.ja);
    let mut en = format!("This is a notice from {}.\n\n", inst.en);
    let lead = lead(n, decision, &inst);
    ja.push_str(&lead.ja);
    en.push_str(&lead.en);
    ja.push_str("\n\n");
    en.push_str("\n\n");
    for (label, value) in details(n) {
        ja.push_str(&format!("  {}: {}\n", label.ja, value.ja));
        en.push_str(&format!("  {}: {}\n", label.en, value.en));
    }
    ja.push('\n');
    en.push('\n');
    let closing = closing(n, &inst);
    ja.push_str(&closing.ja);
    en.push_str(&closing.en);

    let text = format!("{ja}\n{RULE}\n\n{en}");
    Message { subject: defang_patterns(&subject), text: defang_patterns(&text) }
}

fn subject(kind: Kind, decision: Decision, inst: &Both) -> String {
    let (ja, en) = match kind {
        Kind::LinkRequested => ("口座連携の申請", "Account link request"),
        Kind::LinkActivated => ("口座連携", "Account link"),
        Kind::LinkRevoked => ("口座連携の解除", "Account link removal"),
        Kind::LinkLocked => ("口座連携のロック", "Account link lock"),
        Kind::Charge => ("チャージ", "Charge"),
        Kind::TransferOut => ("振込", "Transfer"),
        Kind::Withdrawal => ("出金", "Withdrawal"),
        Kind::CryptoWithdrawal => ("暗号資産の出金", "Crypto-asset withdrawal"),
        Kind::LinkCode => {
            return format!("【{}】口座連携の確認コード / [{}] Verification code for an account link", inst.ja, inst.en);
        }
        Kind::ReportReceived => return format!("【{}】ご報告を受け付けました / [{}] Report received", inst.ja, inst.en),
        Kind::HoldReleased => return format!("【{}】保留していたお取引の実行 / [{}] Held payment released", inst.ja, inst.en),
        Kind::HoldConfirmed => return format!("【{}】保留していたお取引の拒否 / [{}] Held payment refused", inst.ja, inst.en),
        Kind::Reimbursement => return format!("【{}】補償のご案内 / [{}] Your reimbursement", inst.ja, inst.en),
        Kind::PastReview => return format!("【{}】過去のお取引のご確認のお願い / [{}] Please check a past transaction", inst.ja, inst.en),
    };
    let (tag_ja, tag_en) = match decision {
        Decision::Allow | Decision::Other => ("", ""),
        Decision::Challenge => ("（追加認証待ち）", " (awaiting authentication)"),
        Decision::Hold => ("（保留中）", " (held for review)"),
        Decision::Block => ("（拒否）", " (refused)"),
    };
    format!("【{}】{ja}のお知らせ{tag_ja} / [{}] {en} notice{tag_en}", inst.ja, inst.en)
}

/// The opening sentence: what happened.
fn lead(n: &Notice, decision: Decision, inst: &Both) -> Both {
    let (noun_ja, noun_en, made_en) = match n.kind {
        Kind::LinkRequested => {
            ("お客さまの口座と他のサービスとの連携の申請", "A request to link your account with another service", "was made")
        }
        Kind::LinkActivated => ("お客さまの口座と他のサービスとの連携", "A link between your account and another service", "was made"),
        Kind::LinkRevoked => (
            "お客さまの口座と他のサービスとの連携の解除",
            "The removal of a link between your account and another service",
            "was carried out",
        ),
        Kind::LinkLocked => (
            "お客さまの口座と他のサービスとの連携のロック",
            "A lock on a link between your account and another service",
            "was put in place",
        ),
        Kind::Charge => ("お客さまの口座からのチャージ", "A charge from your account", "was made"),
        Kind::TransferOut => ("お客さまの口座からの振込", "A transfer from your account", "was made"),
        Kind::Withdrawal => ("お客さまの口座からの出金", "A withdrawal from your account", "was made"),
        Kind::CryptoWithdrawal => ("お客さまの口座からの暗号資産の出金", "A crypto-asset withdrawal from your account", "was made"),
        Kind::LinkCode => {
            return Both {
                ja: "口座連携の確認コードをお送りします。".into(),
                en: "Here is your verification code for linking your account.".into(),
            };
        }
        Kind::HoldReleased => {
            return Both {
                ja: format!("{} が確認のため保留していたお取引を確認し、実行しました。", inst.ja),
                en: format!("{} reviewed a payment it had held and let it go ahead.", inst.en),
            };
        }
        Kind::HoldConfirmed => {
            return Both {
                ja: format!("{} が確認のため保留していたお取引は、確認の結果、実行しないことになりました。お金は動いていません。", inst.ja),
                en: format!("{} reviewed a payment it had held and stopped it for good. No money was moved.", inst.en),
            };
        }
        Kind::Reimbursement => {
            return Both {
                ja: format!("ご報告のあった不正なお取引について、{} が補償を決定しました。補償額と期日は次のとおりです。", inst.ja),
                en: format!(
                    "{} has decided your claim for the fraudulent payments you reported. The amount and the date are below.",
                    inst.en
                ),
            };
        }
        Kind::PastReview => {
            return Both {
                ja: format!(
                    "{} が過去のお取引を見直したところ、お客さまの口座の次のお取引が、お客さまご本人によるものではない可能性があることがわかりました。",
                    inst.ja
                ),
                en: format!(
                    "{} has looked back over past transactions and found that the one below, on your account, may not have been made by you.",
                    inst.en
                ),
            };
        }
        Kind::ReportReceived => {
            return Both {
                ja: format!(
                    "お客さまからのご報告を受け付けました。対象の連携と口座は凍結されており、{} が確認を終えるまで、お金は動きません。",
                    inst.ja
                ),
                en: format!(
                    "{} has received your report. The link and account concerned are frozen: no money can move through them until {} has reviewed them.",
                    inst.en, inst.en
                ),
            };
        }
    };
    let money = n.kind.moves_money();
    match decision {
        Decision::Allow => Both { ja: format!("{noun_ja}が行われました。"), en: format!("{noun_en} {made_en}.") },
        Decision::Challenge => Both {
            ja: format!("{noun_ja}は、{} での追加の本人確認を待っています。まだ完了していません。", inst.ja),
            en: format!("{noun_en} is waiting for additional authentication at {}. It has not been completed.", inst.en),
        },
        Decision::Hold => Both {
            ja: format!("{noun_ja}は停止され、{} が確認のため保留しています。", inst.ja),
            en: format!("{noun_en} was stopped and is held for review by {}.", inst.en),
        },
        Decision::Block => Both {
            ja: format!("{noun_ja}は拒否されました。{}", if money { "お金は動いていません。" } else { "" }),
            en: format!("{noun_en} was refused by {}.{}", inst.en, if money { " No money was moved." } else { "" }),
        },
        Decision::Other => Both { ja: format!("{noun_ja}がありました。"), en: format!("{noun_en} was recorded by {}.", inst.en) },
    }
}

/// Labelled lines: code and expiry (link codes), time, amount, counterparty, account, link.
fn details(n: &Notice) -> Vec<(Both, Both)> {
    let label = |ja: &str, en: &str| Both { ja: ja.into(), en: en.into() };
    let same = |s: String| Both { ja: s.clone(), en: s };
    let mut out = Vec::new();
    if n.kind == Kind::LinkCode {
        let code = n.code.as_deref().map(field).filter(|c| !c.is_empty());
        out.push((
            label("確認コード", "Verification code"),
            code.map(same).unwrap_or_else(|| Both { ja: "（なし）".into(), en: "(none)".into() }),
        ));
        if let Some(t) = n.expires {
            out.push((label("有効期限", "Expires"), jst(t)));
        }
    }
    if n.kind == Kind::Reimbursement
        && let Some(t) = n.expires
    {
        out.push((label("お支払い期日", "To be paid by"), jst(t)));
    }
    out.push((label("日時", "Time"), jst(n.time)));
    if let Some(a) = n.amount.as_deref() {
        out.push((label("金額", "Amount"), amount(a, n.currency.as_deref())));
    }
    if let Some(c) = n.counterparty.as_deref().map(field).filter(|c| !c.is_empty()) {
        let l = match n.kind {
            Kind::Charge => label("チャージ先", "To"),
            k if k.moves_money() || k == Kind::PastReview => label("送り先", "To"),
            _ => label("連携先", "Linked with"),
        };
        out.push((l, same(c)));
    }
    if let Some(a) = n.account.as_deref() {
        out.push((label("口座", "Account"), same(defang(&mask_account(&clean(a))))));
    }
    if let Some(l) = n.link.as_deref().map(field).filter(|l| !l.is_empty()) {
        out.push((label("連携番号", "Link reference"), same(l)));
    }
    out
}

/// What to do if it wasn't them, and what the institution never asks for.
fn closing(n: &Notice, inst: &Both) -> Both {
    let channels_ja = format!("{} の公式アプリ、またはカードや通帳に記載の電話番号から {} に", inst.ja, inst.ja);
    let channels_en = "through its official app or the phone number on your card or bankbook";
    let no_links = Both {
        ja: "このメッセージにリンクはありません。他のメールや SMS に書かれた連絡先は使わないでください。\n".into(),
        en: "This message contains no links. Do not use contact details given in any other message.\n".into(),
    };
    if n.kind == Kind::LinkCode {
        return Both {
            ja: format!(
                "このコードは、連携をお申し込みになった画面にのみ入力してください。{} が電話・メール・SMS でこのコードをお尋ねすることはありません。誰に聞かれても教えないでください。\n\
                 お申し込みに心当たりがない場合は、コードを使わず、{}ご連絡ください。\n\n{}",
                inst.ja, channels_ja, no_links.ja
            ),
            en: format!(
                "Enter this code only on the screen where you asked to link your account. {} will never ask you for this code by phone, e-mail or SMS. Do not tell it to anyone who asks.\n\
                 If you did not ask to link your account, do not use the code, and contact {} {channels_en}.\n\n{}",
                inst.en, inst.en, no_links.en
            ),
        };
    }
    let (if_ja, if_en) = match n.kind {
        Kind::ReportReceived => ("このご報告にお心当たりがない場合は", "If you did not make this report"),
        Kind::PastReview => ("このお取引にお心当たりがない場合は", "If you did not make this transaction"),
        _ => ("お心当たりがない場合は", "If you did not do this"),
    };
    let report = match n.report_code.as_deref().map(field).filter(|c| !c.is_empty()) {
        Some(code) => Both {
            ja: format!("{if_ja}、次の報告コードを、{channels_ja}お伝えください。\n  報告コード: {code}\n"),
            en: format!("{if_en}, give this report code to {} {channels_en}.\n  Report code: {code}\n", inst.en),
        },
        None => Both {
            ja: format!("{if_ja}、{channels_ja}ご連絡ください。\n"),
            en: format!("{if_en}, contact {} {channels_en}.\n", inst.en),
        },
    };
    Both {
        ja: format!("{}\n{} がメールでパスワードや暗証番号をお尋ねすることはありません。\n{}", report.ja, inst.ja, no_links.ja),
        en: format!("{}\n{} never asks for your password or PIN by e-mail.\n{}", report.en, inst.en, no_links.en),
    }
}

/// `2026年11月21日 19:00 JST` and `21 Nov 2026 19:00 JST`.
fn jst(micros: i64) -> Both {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let Ok(ts) = jiff::Timestamp::from_microsecond(micros) else {
        return Both { ja: "（日時不明）".into(), en: "(unknown time)".into() };
    };
    // Japan keeps no daylight saving time.
    let t = jiff::tz::Offset::constant(9).to_datetime(ts);
    let (y, mo, d, h, mi) = (t.year(), t.month(), t.day(), t.hour(), t.minute());
    let month = MONTHS[usize::try_from(mo - 1).unwrap_or(0)];
    Both { ja: format!("{y}年{mo}月{d}日 {h:02}:{mi:02} JST"), en: format!("{d} {month} {y} {h:02}:{mi:02} JST") }
}

/// `100,000円` / `100,000 JPY`; other currencies exactly as given: `0.5 BTC`.
fn amount(a: &str, currency: Option<&str>) -> Both {
    let cur = currency.map(field).filter(|c| !c.is_empty()).unwrap_or_else(|| DEFAULT_CURRENCY.to_string());
    let a = a.trim();
    if !is_plain_decimal(a) {
        let text = field(a);
        return Both { ja: format!("{text} {cur}"), en: format!("{text} {cur}") };
    }
    if cur.eq_ignore_ascii_case("JPY") {
        let grouped = group_thousands(a);
        Both { ja: format!("{grouped}円"), en: format!("{grouped} JPY") }
    } else {
        Both { ja: format!("{a} {cur}"), en: format!("{a} {cur}") }
    }
}

/// `-?digits(.digits)?`
fn is_plain_decimal(s: &str) -> bool {
    let s = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = s.split_once('.').unwrap_or((s, "0"));
    !int.is_empty() && !frac.is_empty() && int.bytes().all(|b| b.is_ascii_digit()) && frac.bytes().all(|b| b.is_ascii_digit())
}

/// Commas every three digits of the integer part of a plain decimal.
fn group_thousands(s: &str) -> String {
    let (sign, s) = s.strip_prefix('-').map_or(("", s), |r| ("-", r));
    let (int, frac) = s.split_once('.').map_or((s, None), |(i, f)| (i, Some(f)));
    let mut out = String::from(sign);
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if let Some(f) = frac {
        out.push('.');
        out.push_str(f);
    }
    out
}

/// A field from the notice, cleaned and defanged.
fn field(s: &str) -> String {
    defang(&clean(s))
}

/// Characters that display as nothing, or reorder the text around them.
fn invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}'
        | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}' | '\u{FFF0}'..='\u{FFFB}'
        | '\u{E0000}'..='\u{E0FFF}')
}

/// Step 1: ASCII look-alikes folded, controls and invisibles gone, spaces collapsed, cut
/// to `FIELD_MAX` characters (and `…`).
fn clean(s: &str) -> String {
    let mut out = String::new();
    let mut space = false;
    for c in s.chars() {
        let c = match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3002}' | '\u{FF61}' | '\u{2024}' | '\u{FE52}' => '.',
            '\u{2044}' | '\u{2215}' => '/',
            '\u{FE55}' | '\u{A789}' => ':',
            c if c.is_control() || c.is_whitespace() => ' ',
            c => c,
        };
        if invisible(c) {
            continue;
        }
        if c == ' ' {
            space = !out.is_empty();
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        out.push(c);
    }
    if out.chars().nth(FIELD_MAX).is_some() {
        out = out.chars().take(FIELD_MAX).collect();
        out.push('…');
    }
    out
}

/// Step 2: no scheme, domain, address or URL left for a mail client to link.
fn defang(s: &str) -> String {
    let c: Vec<char> = s.chars().collect();
    let at = |i: usize| c.get(i).copied();
    let mut out = String::with_capacity(s.len() + 8);
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        let prev = i.checked_sub(1).map(|p| c[p]);
        let next = at(i + 1);
        match ch {
            'h' | 'H' if starts_ci(&c[i..], "http") => {
                out.push(ch);
                out.push(if c[i + 1] == 't' { 'x' } else { 'X' });
                out.push(if c[i + 2] == 't' { 'x' } else { 'X' });
                i += 3;
                continue;
            }
            '.' if (prev.is_some_and(char::is_alphanumeric) && next.is_some_and(char::is_alphanumeric))
                || (i >= 3 && starts_ci(&c[i - 3..], "www")) =>
            {
                out.push_str("[.]")
            }
            ':' if matches!(next, Some('/' | '\\'))
                || (prev.is_some_and(|p| p.is_ascii_alphabetic()) && next.is_some_and(|n| !n.is_whitespace())) =>
            {
                out.push_str("[:]")
            }
            '@' if prev.is_some_and(|p| !p.is_whitespace()) && next.is_some_and(|n| !n.is_whitespace()) => out.push_str("[@]"),
            _ => out.push(ch),
        }
        i += 1;
    }
    out
}

fn starts_ci(c: &[char], word: &str) -> bool {
    c.len() >= word.len() && c.iter().zip(word.chars()).all(|(a, b)| a.eq_ignore_ascii_case(&b))
}

/// The last pass: `http`, `www.` and `://` wherever they stand. Byte by byte: the patterns
/// are ASCII, and an ASCII byte in UTF-8 is always a character of its own.
fn defang_patterns(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len() + 16);
    // Up to where `s` is copied into `out`.
    let mut copied = 0;
    let mut i = 0;
    while i < b.len() {
        let rest = &b[i..];
        // What to keep of the match, what to put after it, and where to go on from.
        let (keep, add, next) = if rest.len() >= 4 && rest[..4].eq_ignore_ascii_case(b"http") {
            (1, "xx", i + 3)
        } else if rest.len() >= 4 && rest[..4].eq_ignore_ascii_case(b"www.") {
            (3, "[.]", i + 4)
        } else if rest.starts_with(b"://") {
            (0, "[:]", i + 1)
        } else {
            i += 1;
            continue;
        };
        out.push_str(&s[copied..i + keep]);
        out.push_str(add);
        i = next;
        copied = next;
    }
    out.push_str(&s[copied..]);
    out
}

#[cfg(test)]
mod tests;
