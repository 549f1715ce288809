//! Kana names, normalised for comparison.
//!
//! A wallet and a bank rarely write a customer's kana name the same way: half-width
//! `ﾔﾏﾀﾞ ﾀﾛｳ`, full-width `ヤマダ　タロウ`, hiragana `やまだ たろう`, small kana where the
//! bank's system only has large ones (`キツド` for `キッド`), and half a dozen dashes for
//! the long-vowel mark. [`normalize_kana_name`] maps all of these to one form;
//! [`kana_match_key`] also drops the spaces, for equality tests.

/// Normalises a kana name:
///
/// - half-width katakana to full-width, joining a following `ﾞ`/`ﾟ` (or a combining or
///   full-width voiced mark `゙ ゚ ゛ ゜`) into the voiced kana (`ｶﾞ` → `ガ`, `ﾊﾟ` → `パ`,
///   `ｳﾞ` → `ヴ`); a mark that follows nothing it can join stays as `゛`/`゜`;
/// - hiragana to katakana;
/// - small kana to large (`ァィゥェォッャュョヮヵヶ` and the small `ㇰ..ㇿ` → `アイウエオツヤユヨワカケ`...);
/// - every long-vowel lookalike (`ｰ － ‐ ‑ ‒ – — ― ─ − -` ...) to `ー`;
/// - full-width ASCII (letters, digits, punctuation) to ASCII, letters in upper case
///   (ASCII letters too);
/// - `･` to `・`, `｡｢｣､` to `。「」、`;
/// - any run of white space (ASCII, full-width `　`, no-break, ...) to one ASCII space,
///   trimmed at both ends.
///
/// Everything else (kanji, other scripts) is kept as is.
pub fn normalize_kana_name(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending_space = false;
    for c in s.chars() {
        if c.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        if let Some(voiced) = voicing_mark(c) {
            if !pending_space
                && let Some(last) = out.chars().next_back()
                && let Some(j) = if voiced { voiced_of(last) } else { semi_voiced_of(last) }
            {
                out.pop();
                out.push(j);
                continue;
            }
            flush_space(&mut out, &mut pending_space);
            out.push(if voiced { '\u{309B}' } else { '\u{309C}' });
            continue;
        }
        flush_space(&mut out, &mut pending_space);
        out.push(large_kana(fold_char(c)));
    }
    out
}

/// The key two kana names are compared by: [`normalize_kana_name`] of the name without
/// its spaces and middle dots (`・`, `･`, which some systems write between given and family
/// names where others put a space). They go first, so that a voiced mark written after
/// one joins its kana as it would have without it: the key of a key is the key.
pub fn kana_match_key(s: &str) -> String {
    let bare: String = s.chars().filter(|c| !c.is_whitespace() && *c != '・' && *c != '･').collect();
    normalize_kana_name(&bare)
}

/// Whether two names are the same by [`kana_match_key`].
pub fn kana_names_match(a: &str, b: &str) -> bool {
    kana_match_key(a) == kana_match_key(b)
}

fn flush_space(out: &mut String, pending: &mut bool) {
    if *pending {
        out.push(' ');
        *pending = false;
    }
}

/// `Some(true)` for a voiced (dakuten) mark, `Some(false)` for a semi-voiced (handakuten) one.
fn voicing_mark(c: char) -> Option<bool> {
    match c {
        '\u{FF9E}' | '\u{3099}' | '\u{309B}' => Some(true),
        '\u{FF9F}' | '\u{309A}' | '\u{309C}' => Some(false),
        _ => None,
    }
}

/// One char to full-width katakana / ASCII upper case / `ー`, before small-to-large.
fn fold_char(c: char) -> char {
    match c {
        // hiragana (including ゔ ゕ ゖ) and the iteration marks ゝ ゞ
        '\u{3041}'..='\u{3096}' | '\u{309D}' | '\u{309E}' => char::from_u32(c as u32 + 0x60).unwrap_or(c),
        '\u{FF61}'..='\u{FF9D}' => half_width_kana(c),
        // long-vowel lookalikes
        '\u{FF0D}' | '-' | '\u{2010}' | '\u{2011}' | '\u{2012}' | '\u{2013}' | '\u{2014}' | '\u{2015}' | '\u{2043}' | '\u{2212}'
        | '\u{2500}' | '\u{2501}' | '\u{FE63}' | '\u{30FC}' => '\u{30FC}',
        // full-width ASCII
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).map_or(c, |a| a.to_ascii_uppercase()),
        'a'..='z' => c.to_ascii_uppercase(),
        _ => c,
    }
}

/// Half-width katakana block U+FF61..U+FF9D to full-width.
fn half_width_kana(c: char) -> char {
    const TABLE: &[char; 61] = &[
        '。', '「', '」', '、', '・', 'ヲ', 'ァ', 'ィ', 'ゥ', 'ェ', 'ォ', 'ャ', 'ュ', 'ョ', 'ッ', 'ー', // FF61..FF70
        'ア', 'イ', 'ウ', 'エ', 'オ', 'カ', 'キ', 'ク', 'ケ', 'コ', 'サ', 'シ', 'ス', 'セ', 'ソ', // FF71..FF7F
        'タ', 'チ', 'ツ', 'テ', 'ト', 'ナ', 'ニ', 'ヌ', 'ネ', 'ノ', 'ハ', 'ヒ', 'フ', 'ヘ', 'ホ', 'マ', // FF80..FF8F
        'ミ', 'ム', 'メ', 'モ', 'ヤ', 'ユ', 'ヨ', 'ラ', 'リ', 'ル', 'レ', 'ロ', 'ワ', 'ン', // FF90..FF9D
    ];
    TABLE.get((c as u32 - 0xFF61) as usize).copied().unwrap_or(c)
}

fn large_kana(c: char) -> char {
    match c {
        'ァ' => 'ア',
        'ィ' => 'イ',
        'ゥ' => 'ウ',
        'ェ' => 'エ',
        'ォ' => 'オ',
        'ッ' => 'ツ',
        'ャ' => 'ヤ',
        'ュ' => 'ユ',
        'ョ' => 'ヨ',
        'ヮ' => 'ワ',
        'ヵ' => 'カ',
        'ヶ' => 'ケ',
        // Katakana Phonetic Extensions (Ainu small kana)
        'ㇰ' => 'ク',
        'ㇱ' => 'シ',
        'ㇲ' => 'ス',
        'ㇳ' => 'ト',
        'ㇴ' => 'ヌ',
        'ㇵ' => 'ハ',
        'ㇶ' => 'ヒ',
        'ㇷ' => 'フ',
        'ㇸ' => 'ヘ',
        'ㇹ' => 'ホ',
        'ㇺ' => 'ム',
        'ㇻ' => 'ラ',
        'ㇼ' => 'リ',
        'ㇽ' => 'ル',
        'ㇾ' => 'レ',
        'ㇿ' => 'ロ',
        _ => c,
    }
}

fn voiced_of(c: char) -> Option<char> {
    Some(match c {
        'カ' => 'ガ',
        'キ' => 'ギ',
        'ク' => 'グ',
        'ケ' => 'ゲ',
        'コ' => 'ゴ',
        'サ' => 'ザ',
        'シ' => 'ジ',
        'ス' => 'ズ',
        'セ' => 'ゼ',
        'ソ' => 'ゾ',
        'タ' => 'ダ',
        'チ' => 'ヂ',
        'ツ' => 'ヅ',
        'テ' => 'デ',
        'ト' => 'ド',
        'ハ' => 'バ',
        'ヒ' => 'ビ',
        'フ' => 'ブ',
        'ヘ' => 'ベ',
        'ホ' => 'ボ',
        'ウ' => 'ヴ',
        'ワ' => 'ヷ',
        'ヰ' => 'ヸ',
        'ヱ' => 'ヹ',
        'ヲ' => 'ヺ',
        'ヽ' => 'ヾ',
        _ => return None,
    })
}

fn semi_voiced_of(c: char) -> Option<char> {
    Some(match c {
        'ハ' => 'パ',
        'ヒ' => 'ピ',
        'フ' => 'プ',
        'ヘ' => 'ペ',
        'ホ' => 'ポ',
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yamada_taro_in_every_width() {
        let want = "ヤマダ タロウ";
        for s in ["ﾔﾏﾀﾞ ﾀﾛｳ", "ヤマダ　タロウ", "やまだ たろう", "  ﾔﾏﾀﾞ\u{3000}\u{3000}ﾀﾛｳ ", "ヤマタ\u{3099} タロウ", "ﾔﾏﾀ゛\tﾀﾛｳ"]
        {
            assert_eq!(normalize_kana_name(s), want, "{s:?}");
            assert_eq!(kana_match_key(s), "ヤマダタロウ", "{s:?}");
        }
        assert!(kana_names_match("ﾔﾏﾀﾞ ﾀﾛｳ", "やまだたろう"));
        assert!(!kana_names_match("ﾔﾏﾀﾞ ﾀﾛｳ", "ヤマダ ハナコ"));
    }

    #[test]
    fn small_kana_become_large() {
        assert_eq!(normalize_kana_name("ｷｯﾄﾞ"), "キツド");
        assert_eq!(kana_match_key("ｷｯﾄﾞ"), kana_match_key("キツド"));
        assert_eq!(normalize_kana_name("キッド"), "キツド");
        assert_eq!(normalize_kana_name("ァィゥェォッャュョヮヵヶ"), "アイウエオツヤユヨワカケ");
        assert_eq!(normalize_kana_name("ぁぃぅぇぉっゃゅょゎゕゖ"), "アイウエオツヤユヨワカケ");
        assert_eq!(normalize_kana_name("ｧｨｩｪｫｬｭｮｯ"), "アイウエオヤユヨツ");
        assert_eq!(normalize_kana_name("ㇰㇱㇲㇳㇴㇵㇶㇷㇸㇹㇺㇻㇼㇽㇾㇿ"), "クシストヌハヒフヘホムラリルレロ");
        assert_eq!(normalize_kana_name("ｼｮｳｼﾞ"), "シヨウジ");
    }

    #[test]
    fn voiced_and_semi_voiced() {
        assert_eq!(normalize_kana_name("ﾊﾟｰﾙ"), "パール");
        assert_eq!(normalize_kana_name("ｶﾞｷﾞｸﾞｹﾞｺﾞｻﾞｼﾞｽﾞｾﾞｿﾞﾀﾞﾁﾞﾂﾞﾃﾞﾄﾞﾊﾞﾋﾞﾌﾞﾍﾞﾎﾞ"), "ガギグゲゴザジズゼゾダヂヅデドバビブベボ");
        assert_eq!(normalize_kana_name("ﾊﾟﾋﾟﾌﾟﾍﾟﾎﾟ"), "パピプペポ");
        assert_eq!(normalize_kana_name("ｳﾞｧｲｵﾘﾝ"), "ヴアイオリン");
        assert_eq!(normalize_kana_name("ﾜﾞｦﾞ"), "ヷヺ");
        assert_eq!(normalize_kana_name("か゛は゜"), "ガパ");
        assert_eq!(normalize_kana_name("カ\u{3099}ハ\u{309A}"), "ガパ");
        assert_eq!(normalize_kana_name("ゔ"), "ヴ");
        // a mark that joins nothing stays as a full-width mark
        assert_eq!(normalize_kana_name("ｱﾞ"), "ア゛");
        assert_eq!(normalize_kana_name("ﾞｶ"), "゛カ");
        assert_eq!(normalize_kana_name("ｶ ﾞ"), "カ ゛");
        assert_eq!(normalize_kana_name("ｶﾟ"), "カ゜");
        assert_eq!(normalize_kana_name("ﾞ"), "゛");
    }

    #[test]
    fn long_vowel_lookalikes() {
        for s in ["ｽｰﾊﾟｰ", "スーパー", "ス－パ－", "ス‐パ‐", "ス-パ-", "ス―パ―", "ス─パ─", "ス–パ—", "ス−パ−", "すーぱー"]
        {
            assert_eq!(normalize_kana_name(s), "スーパー", "{s:?}");
        }
    }

    #[test]
    fn latin_and_digits() {
        assert_eq!(normalize_kana_name("ＡＢＣ　ｘｙｚ　０１２"), "ABC XYZ 012");
        assert_eq!(normalize_kana_name("Smith John"), "SMITH JOHN");
        assert_eq!(normalize_kana_name("ＳＭＩＴＨ．Ｊ"), "SMITH.J");
        assert_eq!(normalize_kana_name("（カ）ヤマダ"), "(カ)ヤマダ");
        assert_eq!(kana_match_key("ｶ)ﾔﾏﾀﾞｼｮｳｼﾞ"), "カ)ヤマダシヨウジ");
    }

    #[test]
    fn spaces_and_dots() {
        assert_eq!(normalize_kana_name(""), "");
        assert_eq!(normalize_kana_name(" \u{3000} "), "");
        assert_eq!(normalize_kana_name("ア \u{3000}\u{00A0} イ"), "ア イ");
        assert_eq!(normalize_kana_name("ｽﾐｽ･ｼﾞｮﾝ"), "スミス・ジヨン");
        assert_eq!(kana_match_key("スミス・ジョン"), kana_match_key("ｽﾐｽ ｼﾞｮﾝ"));
        assert_eq!(normalize_kana_name("｡｢｣､"), "。「」、");
    }

    #[test]
    fn other_scripts_pass_through() {
        assert_eq!(normalize_kana_name("山田 太郎"), "山田 太郎");
        assert_eq!(normalize_kana_name("ヰヱヽヾ"), "ヰヱヽヾ");
        assert_eq!(normalize_kana_name("ゝゞ"), "ヽヾ");
        assert_eq!(normalize_kana_name("😀ｱ"), "😀ア");
    }

    #[test]
    fn idempotent_on_samples() {
        for s in ["ﾔﾏﾀﾞ ﾀﾛｳ", "ｷｯﾄﾞ", "ﾊﾟｰﾙ", "ア゛", "ＡＢＣ　ｘｙｚ", "か゛ ゛", "ふ\u{3000}\u{3099}", "ｶ･ﾞ"]
        {
            let n = normalize_kana_name(s);
            assert_eq!(normalize_kana_name(&n), n, "{s:?}");
            let k = kana_match_key(s);
            assert_eq!(kana_match_key(&k), k, "{s:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn normalize_is_idempotent(s in "[ -~ぁ-ゖァ-ヺｰ-ﾟ｡-ｯ\u{3000}\u{3099}-\u{309C}－‐―─ー]{0,24}") {
            let n = normalize_kana_name(&s);
            proptest::prop_assert_eq!(normalize_kana_name(&n), n.clone());
            proptest::prop_assert!(!n.starts_with(' ') && !n.ends_with(' ') && !n.contains("  "));
            let k = kana_match_key(&s);
            proptest::prop_assert_eq!(kana_match_key(&k), k);
        }
    }
}
