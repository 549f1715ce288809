//! The characters a text field may hold, and their single-byte Shift_JIS codes.

use crate::error::{ErrorKind, ZenginError, show_byte};
use crate::layout::Field;

/// Which characters text fields (names, customer codes, EDI情報) may hold.
///
/// Every accepted character is one byte in Shift_JIS (JIS X 0201): ASCII `0x20..=0x7E`
/// and half-width katakana `0xA1..=0xDF`, which decode to U+FF61..=U+FF9F. Byte `0x5C`
/// decodes to `\` (as `encoding_rs` decodes Shift_JIS); it is the yen sign `¥` of JIS X
/// 0201, and `¥` (U+00A5) is accepted when encoding as another spelling of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Charset {
    /// The 全銀協 character set, as banks check it:
    /// space, `0-9`, `A-Z`, `ｱ`..`ﾝ` (`0xB1..=0xDD`), `ﾞ` `ﾟ`, and `( ) - . / \ , ｢ ｣`.
    /// Not `ｦ`, small kana `ｧｨｩｪｫｬｭｮｯ`, `ｰ`, `｡ ､ ･`, lower case or other symbols.
    #[default]
    Zengin,
    /// [`Charset::Zengin`] and every other half-width katakana character
    /// (`｡｢｣､･ｦｧｨｩｪｫｬｭｮｯｰ`, `0xA1..=0xB0`), which some systems write although the
    /// standard has no place for them.
    Lenient,
}

/// The symbols of the 全銀協 character set besides space, digits, A-Z and kana.
const SYMBOLS: &str = "()-./\\,\u{FF62}\u{FF63}";

impl Charset {
    /// Whether `c` may appear in a text field. `c` is the decoded form (`\`, not `¥`).
    pub fn allows(self, c: char) -> bool {
        match c {
            ' ' | '0'..='9' | 'A'..='Z' => true,
            // ｱ..ﾝ, ﾞ, ﾟ
            '\u{FF71}'..='\u{FF9F}' => true,
            _ if SYMBOLS.contains(c) => true,
            // ｡｢｣､･ｦｧ..ｯｰ
            '\u{FF61}'..='\u{FF70}' => self == Charset::Lenient,
            _ => false,
        }
    }

    /// The byte `c` is written as, if it may appear in a text field.
    pub fn encode_char(self, c: char) -> Option<u8> {
        let b = encode_single_byte(c)?;
        self.allows(decode_single_byte(b)?).then_some(b)
    }

    /// A short description of the set, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            Charset::Zengin => "the Zengin character set: half-width katakana ｱ-ﾝ ﾞ ﾟ, A-Z, 0-9, space and ( ) - . / \\ , ｢ ｣",
            Charset::Lenient => "the accepted character set: half-width katakana (JIS X 0201), A-Z, 0-9, space and ( ) - . / \\ , ｢ ｣",
        }
    }
}

/// The character a single Shift_JIS byte stands for: ASCII and half-width katakana.
/// `None` for lead bytes of double-byte characters and bytes Shift_JIS does not define.
pub(crate) fn decode_single_byte(b: u8) -> Option<char> {
    match b {
        0x00..=0x7F => Some(b as char),
        0xA1..=0xDF => char::from_u32(0xFF61 + u32::from(b - 0xA1)),
        _ => None,
    }
}

/// The single Shift_JIS byte for `c`, if it has one (`¥` U+00A5 becomes `0x5C`).
pub(crate) fn encode_single_byte(c: char) -> Option<u8> {
    match c {
        '\0'..='\u{7F}' => Some(c as u8),
        '\u{A5}' => Some(0x5C),
        '\u{FF61}'..='\u{FF9F}' => Some((c as u32 - 0xFF61 + 0xA1) as u8),
        _ => None,
    }
}

/// Decodes a text field: each byte one character of `charset`, trailing spaces dropped.
pub(crate) fn decode_text(record: &[u8], field: &Field, charset: Charset) -> Result<String, ZenginError> {
    let bytes = &record[field.range()];
    let mut text = String::with_capacity(bytes.len() * 3);
    for (i, &b) in bytes.iter().enumerate() {
        match decode_single_byte(b) {
            Some(c) if charset.allows(c) => text.push(c),
            Some(c) if c.is_ascii_control() => {
                return Err(ZenginError::at(field, i, ErrorKind::Charset, format!("control byte {} in a text field", show_byte(b))));
            }
            Some(c) => {
                return Err(ZenginError::at(
                    field,
                    i,
                    ErrorKind::Charset,
                    format!("'{c}' ({}) is not in {}", show_byte(b), charset.describe()),
                ));
            }
            None => return Err(double_byte_error(bytes, i, field)),
        }
    }
    let kept = text.trim_end_matches(' ').len();
    text.truncate(kept);
    Ok(text)
}

/// The error for a byte that is not a single-byte character: a double-byte character
/// (valid Shift_JIS, but never in the character set) or bytes that are not Shift_JIS.
fn double_byte_error(bytes: &[u8], i: usize, field: &Field) -> ZenginError {
    let b = bytes[i];
    let is_lead = matches!(b, 0x81..=0x9F | 0xE0..=0xFC);
    if !is_lead {
        return ZenginError::at(field, i, ErrorKind::Encoding, format!("byte 0x{b:02X} is not valid Shift_JIS"));
    }
    let Some(&trail) = bytes.get(i + 1) else {
        return ZenginError::at(field, i, ErrorKind::Encoding, format!("Shift_JIS lead byte 0x{b:02X} is cut off by the end of the field"));
    };
    match encoding_rs::SHIFT_JIS.decode_without_bom_handling_and_without_replacement(&bytes[i..i + 2]) {
        Some(s) => ZenginError::at(
            field,
            i,
            ErrorKind::Charset,
            format!(
                "double-byte character '{s}' (Shift_JIS 0x{b:02X} 0x{trail:02X}) is not in the Zengin character set, which is single-byte only"
            ),
        ),
        None => ZenginError::at(field, i, ErrorKind::Encoding, format!("bytes 0x{b:02X} 0x{trail:02X} are not valid Shift_JIS")),
    }
}

/// Writes `value` into a text field, left-aligned and space padded.
pub(crate) fn encode_text(record: &mut [u8], field: &Field, value: &str, charset: Charset) -> Result<(), ZenginError> {
    let len = value.chars().count();
    if len > field.width {
        return Err(ZenginError::at(
            field,
            0,
            ErrorKind::TooLong,
            format!("{len} characters do not fit in {} bytes: {value:?}", field.width),
        ));
    }
    let dst = &mut record[field.range()];
    dst.fill(b' ');
    for (i, c) in value.chars().enumerate() {
        let Some(b) = charset.encode_char(c) else {
            let hint = if encode_single_byte(c).is_none() {
                " (to_zengin_name converts full-width kana, hiragana and lower case; kanji must be replaced by their reading)"
            } else {
                ""
            };
            return Err(ZenginError::at(
                field,
                i,
                ErrorKind::Charset,
                format!("'{c}' (U+{:04X}) is not in {}{hint}", c as u32, charset.describe()),
            ));
        };
        dst[i] = b;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_bytes_agree_with_encoding_rs() {
        for b in (0x20u8..=0x7E).chain(0xA1..=0xDF) {
            let ours = decode_single_byte(b).unwrap();
            let byte = [b];
            let theirs = encoding_rs::SHIFT_JIS.decode_without_bom_handling_and_without_replacement(&byte).unwrap();
            assert_eq!(theirs.chars().collect::<Vec<_>>(), vec![ours], "byte 0x{b:02X}");
            assert_eq!(encode_single_byte(ours), Some(b));
            let (encoded, _, unmappable) = encoding_rs::SHIFT_JIS.encode(&theirs);
            assert!(!unmappable);
            assert_eq!(&*encoded, &[b]);
        }
    }

    #[test]
    fn the_zengin_set_is_62_plus_symbols() {
        let allowed: Vec<u8> = (0u8..=0xFF).filter(|&b| decode_single_byte(b).is_some_and(|c| Charset::Zengin.allows(c))).collect();
        // space, 10 digits, 26 letters, 45 kana ｱ..ﾝ, ﾞ ﾟ, 9 symbols
        assert_eq!(allowed.len(), 1 + 10 + 26 + 45 + 2 + 9);
        assert!(!Charset::Zengin.allows('\u{FF6C}')); // ｬ
        assert!(Charset::Lenient.allows('\u{FF6C}'));
        assert!(!Charset::Zengin.allows('\u{FF70}')); // ｰ
        assert!(!Charset::Lenient.allows('a'));
        assert_eq!(Charset::Zengin.encode_char('¥'), Some(0x5C));
    }
}
