//! Converting names people type to the half-width katakana the format carries.
//!
//! [`to_half_width_kana`] changes only the width: `ヤマダ　タロウ` → `ﾔﾏﾀﾞ ﾀﾛｳ`, `キャー` → `ｷｬｰ`.
//! [`to_zengin_name`] also folds what the 全銀協 character set has no place for, as banks
//! do: `キャー` → `ｷﾔ-`, so its result can be written with [`Charset::Zengin`].
//!
//! Neither can convert kanji (which need their reading, a dictionary question) or any other
//! character without a single-byte Shift_JIS form: those are a [`KanaError`].

use crate::charset::Charset;

/// A character that could not be converted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("character {position} of the name, '{character}' (U+{code:04X}), {reason}", code = *character as u32)]
pub struct KanaError {
    /// 0-based position of the character in the input, counted in `char`s.
    pub position: usize,
    /// The character.
    pub character: char,
    /// Why it cannot be converted.
    pub reason: &'static str,
}

/// Converts a name to half-width forms, changing the width only:
///
/// - full-width katakana and hiragana → half-width katakana, a voiced or semi-voiced kana
///   becoming two characters (`ダ` → `ﾀﾞ`, `パ` → `ﾊﾟ`, `ヴ`/`ゔ` → `ｳﾞ`); `ヷヸヹヺ` → `ﾜﾞ ｲﾞ ｴﾞ ｦﾞ`;
/// - small kana stay small (`ャ` → `ｬ`, `ッ` → `ｯ`); `ヮ ヵ ヶ`, which have no half-width
///   form, become `ﾜ ｶ ｹ`; `ヰ ヱ` become `ｲ ｴ`;
/// - `ー` → `ｰ`, `・` → `･`, `「」` → `｢｣`, `。、` → `｡､`; the voiced marks `゛ ゜` and the
///   combining U+3099, U+309A → `ﾞ ﾟ`;
/// - the full-width space `　` → ` `; full-width ASCII (`Ａ１（`) → ASCII; `￥` → `\` (the yen
///   sign of Shift_JIS);
/// - ASCII lower case → upper case;
/// - half-width katakana and printable ASCII stay as they are.
///
/// Anything else — kanji, other scripts, control characters — is an error.
pub fn to_half_width_kana(name: &str) -> Result<String, KanaError> {
    let mut out = String::with_capacity(name.len());
    for (position, c) in name.chars().enumerate() {
        half_width(c, &mut out).map_err(|reason| KanaError { position, character: c, reason })?;
    }
    Ok(out)
}

/// Converts a name to the 全銀協 character set ([`Charset::Zengin`]), as banks do: first
/// [`to_half_width_kana`], then
///
/// - small kana → large (`ｬ` → `ﾔ`, `ｯ` → `ﾂ`): `キャー` → `ｷﾔ-`;
/// - `ｦ` → `ｵ`;
/// - `ｰ` and the dashes `‐ ‑ ‒ – — ― −` → `-`;
/// - `･` → `.`, `｡` → `.`, `､` → `,`.
///
/// Characters still outside the set (`! & @ * + ;` and the like) are an error, as are
/// those [`to_half_width_kana`] refuses.
pub fn to_zengin_name(name: &str) -> Result<String, KanaError> {
    let mut out = String::with_capacity(name.len());
    let mut half = String::with_capacity(4);
    for (position, c) in name.chars().enumerate() {
        half.clear();
        let c = match c {
            '\u{2010}'..='\u{2015}' | '\u{2212}' => '-',
            _ => c,
        };
        half_width(c, &mut half).map_err(|reason| KanaError { position, character: c, reason })?;
        for h in half.chars() {
            let folded = fold_to_zengin(h);
            if !Charset::Zengin.allows(folded) {
                return Err(KanaError { position, character: c, reason: "is not in the Zengin character set" });
            }
            out.push(folded);
        }
    }
    Ok(out)
}

const NO_HALF_WIDTH: &str = "has no half-width form (kanji must be replaced by their kana reading)";

/// Appends the half-width form of `c`.
fn half_width(c: char, out: &mut String) -> Result<(), &'static str> {
    let c = match c {
        'a'..='z' => c.to_ascii_uppercase(),
        // Hiragana ぁ..ゖ to katakana ァ..ヶ.
        '\u{3041}'..='\u{3096}' => char::from_u32(c as u32 + 0x60).ok_or(NO_HALF_WIDTH)?,
        // Full-width ASCII ！..～.
        '\u{FF01}'..='\u{FF5E}' => {
            let ascii = char::from_u32(c as u32 - 0xFEE0).ok_or(NO_HALF_WIDTH)?;
            out.push(ascii.to_ascii_uppercase());
            return Ok(());
        }
        _ => c,
    };
    match c {
        ' '..='~' | '\u{FF61}'..='\u{FF9F}' => out.push(c),
        '\u{3000}' => out.push(' '),
        '\u{FFE5}' | '\u{A5}' => out.push('\\'),
        '\u{3001}' => out.push('\u{FF64}'),              // 、→ ､
        '\u{3002}' => out.push('\u{FF61}'),              // 。→ ｡
        '\u{300C}' => out.push('\u{FF62}'),              // 「 → ｢
        '\u{300D}' => out.push('\u{FF63}'),              // 」 → ｣
        '\u{30FB}' => out.push('\u{FF65}'),              // ・ → ･
        '\u{30FC}' => out.push('\u{FF70}'),              // ー → ｰ
        '\u{309B}' | '\u{3099}' => out.push('\u{FF9E}'), // ゛ → ﾞ
        '\u{309C}' | '\u{309A}' => out.push('\u{FF9F}'), // ゜ → ﾟ
        '\u{30A1}'..='\u{30FA}' => katakana(c, out)?,
        c if c.is_control() => return Err("is a control character"),
        _ => return Err(NO_HALF_WIDTH),
    }
    Ok(())
}

/// Full-width katakana ァ (U+30A1) .. ヺ (U+30FA), in order, as half-width: the base kana
/// and a voicing mark (`'\0'` for none, `'ﾞ'`, `'ﾟ'`).
const KATAKANA: [(char, char); 90] = [
    ('ｧ', '\0'), // ァ
    ('ｱ', '\0'),
    ('ｨ', '\0'),
    ('ｲ', '\0'),
    ('ｩ', '\0'),
    ('ｳ', '\0'),
    ('ｪ', '\0'),
    ('ｴ', '\0'),
    ('ｫ', '\0'),
    ('ｵ', '\0'),
    ('ｶ', '\0'), // カ
    ('ｶ', 'ﾞ'),
    ('ｷ', '\0'),
    ('ｷ', 'ﾞ'),
    ('ｸ', '\0'),
    ('ｸ', 'ﾞ'),
    ('ｹ', '\0'),
    ('ｹ', 'ﾞ'),
    ('ｺ', '\0'),
    ('ｺ', 'ﾞ'),
    ('ｻ', '\0'), // サ
    ('ｻ', 'ﾞ'),
    ('ｼ', '\0'),
    ('ｼ', 'ﾞ'),
    ('ｽ', '\0'),
    ('ｽ', 'ﾞ'),
    ('ｾ', '\0'),
    ('ｾ', 'ﾞ'),
    ('ｿ', '\0'),
    ('ｿ', 'ﾞ'),
    ('ﾀ', '\0'), // タ
    ('ﾀ', 'ﾞ'),
    ('ﾁ', '\0'),
    ('ﾁ', 'ﾞ'),
    ('ｯ', '\0'),
    ('ﾂ', '\0'),
    ('ﾂ', 'ﾞ'),
    ('ﾃ', '\0'),
    ('ﾃ', 'ﾞ'),
    ('ﾄ', '\0'),
    ('ﾄ', 'ﾞ'),
    ('ﾅ', '\0'), // ナ
    ('ﾆ', '\0'),
    ('ﾇ', '\0'),
    ('ﾈ', '\0'),
    ('ﾉ', '\0'),
    ('ﾊ', '\0'), // ハ
    ('ﾊ', 'ﾞ'),
    ('ﾊ', 'ﾟ'),
    ('ﾋ', '\0'),
    ('ﾋ', 'ﾞ'),
    ('ﾋ', 'ﾟ'),
    ('ﾌ', '\0'),
    ('ﾌ', 'ﾞ'),
    ('ﾌ', 'ﾟ'),
    ('ﾍ', '\0'),
    ('ﾍ', 'ﾞ'),
    ('ﾍ', 'ﾟ'),
    ('ﾎ', '\0'),
    ('ﾎ', 'ﾞ'),
    ('ﾎ', 'ﾟ'),
    ('ﾏ', '\0'), // マ
    ('ﾐ', '\0'),
    ('ﾑ', '\0'),
    ('ﾒ', '\0'),
    ('ﾓ', '\0'),
    ('ｬ', '\0'), // ャ
    ('ﾔ', '\0'),
    ('ｭ', '\0'),
    ('ﾕ', '\0'),
    ('ｮ', '\0'),
    ('ﾖ', '\0'),
    ('ﾗ', '\0'), // ラ
    ('ﾘ', '\0'),
    ('ﾙ', '\0'),
    ('ﾚ', '\0'),
    ('ﾛ', '\0'),
    ('ﾜ', '\0'), // ヮ (no half-width small wa)
    ('ﾜ', '\0'), // ワ
    ('ｲ', '\0'), // ヰ
    ('ｴ', '\0'), // ヱ
    ('ｦ', '\0'), // ヲ
    ('ﾝ', '\0'), // ン
    ('ｳ', 'ﾞ'),   // ヴ
    ('ｶ', '\0'), // ヵ
    ('ｹ', '\0'), // ヶ
    ('ﾜ', 'ﾞ'),   // ヷ
    ('ｲ', 'ﾞ'),   // ヸ
    ('ｴ', 'ﾞ'),   // ヹ
    ('ｦ', 'ﾞ'),   // ヺ
];

fn katakana(c: char, out: &mut String) -> Result<(), &'static str> {
    let (base, mark) = KATAKANA.get((c as u32 - 0x30A1) as usize).ok_or(NO_HALF_WIDTH)?;
    out.push(*base);
    if *mark != '\0' {
        out.push(*mark);
    }
    Ok(())
}

/// A half-width character folded into the 全銀協 set where banks fold it.
fn fold_to_zengin(c: char) -> char {
    match c {
        'ｧ' => 'ｱ',
        'ｨ' => 'ｲ',
        'ｩ' => 'ｳ',
        'ｪ' => 'ｴ',
        'ｫ' => 'ｵ',
        'ｬ' => 'ﾔ',
        'ｭ' => 'ﾕ',
        'ｮ' => 'ﾖ',
        'ｯ' => 'ﾂ',
        'ｦ' => 'ｵ',
        'ｰ' => '-',
        '･' | '｡' => '.',
        '､' => ',',
        _ => c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_ends_at_vo() {
        assert_eq!(KATAKANA.len(), 0x30FA - 0x30A1 + 1);
        let mut s = String::new();
        katakana('ヺ', &mut s).unwrap();
        assert_eq!(s, "ｦﾞ");
        s.clear();
        katakana('ン', &mut s).unwrap();
        assert_eq!(s, "ﾝ");
        s.clear();
        katakana('ポ', &mut s).unwrap();
        assert_eq!(s, "ﾎﾟ");
    }
}
