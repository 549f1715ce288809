//! Exact money: decimals read from JSON without ever passing through `f64`, and the
//! number of decimal places each currency allows.
//!
//! Rules (v1 contract, `amount` and `currency`):
//!
//! - An amount is a JSON string of plain decimal digits (`"100000"`, `"0.5"`) or a JSON
//!   number (`100000`, `0.5`, `1e5`). serde_json is built with `arbitrary_precision`, so
//!   the number's exact text is read; nothing is rounded.
//! - A [`Decimal`] holds at most 28 decimal places and a mantissa below 2^96 (about
//!   7.9 × 10^28). A value that does not fit is refused with a clear reason, never rounded.
//! - Values are normalised (trailing fractional zeros dropped): `"100.00"` reads as `100`.
//!   So trailing zeros that do not change the value are accepted for every currency
//!   (`"100.00"` JPY is 100 JPY), while `"100.50"` JPY is refused.
//! - Currencies (see [`currency_info`]): ISO 4217 codes with their minor units (JPY, KRW
//!   and the other zero-decimal currencies 0; BHD, KWD, JOD, OMR, TND, IQD, LYD 3; CLF,
//!   UYW 4; any other three-letter code 2). Crypto tickers from a known list (BTC, ETH,
//!   XRP, XEM, USDT, ...), and any other 2..10 character upper-case ticker that is not
//!   three letters, allow up to 18 decimal places.

use std::fmt;

use rust_decimal::Decimal;
use serde_json::Value as Json;

/// The default currency of every amount.
pub const DEFAULT_CURRENCY: &str = "JPY";

/// The most decimal places a crypto amount may have.
pub const CRYPTO_DECIMALS: u32 = 18;

/// Why a decimal could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecimalError {
    /// The JSON value is neither a string nor a number.
    WrongType(&'static str),
    /// The text is not a decimal number.
    Syntax(String),
    /// The integer part does not fit a decimal (28-29 digits).
    TooLarge,
    /// More significant digits than a decimal holds (28).
    TooManyDigits,
    /// More than 28 decimal places.
    TooManyPlaces,
}

impl fmt::Display for DecimalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecimalError::WrongType(got) => write!(f, "expected a decimal string such as \"100000\" or a number, got {got}"),
            DecimalError::Syntax(why) => write!(f, "not a decimal number: {why}"),
            DecimalError::TooLarge => {
                write!(f, "too large: a decimal holds at most {} (28 significant digits)", Decimal::MAX)
            }
            DecimalError::TooManyDigits => f.write_str("too many significant digits: a decimal holds at most 28"),
            DecimalError::TooManyPlaces => f.write_str("too many decimal places: at most 28"),
        }
    }
}

impl std::error::Error for DecimalError {}

/// Parses an exact decimal from text. With `allow_exponent`, the JSON number grammar
/// (`-1.5e3`) is accepted; without it, only plain decimals (`-1500`, `0.5`). Never
/// rounds: a value that a [`Decimal`] cannot hold exactly is an error. The result is
/// normalised (no trailing fractional zeros).
pub fn parse_decimal(s: &str, allow_exponent: bool) -> Result<Decimal, DecimalError> {
    plain_decimal(s.as_bytes()).map_or_else(|| parse_decimal_digits(s, allow_exponent), Ok)
}

/// [`parse_decimal`] of the commonest text, `[-]digits[.digits]` in at most 18 digits and
/// a point (`57.16`), in one pass without the general parser's list of digits; `None` for
/// anything else, which the general parser reads (or refuses).
fn plain_decimal(b: &[u8]) -> Option<Decimal> {
    let (negative, body) = match b.split_first()? {
        (b'-', rest) => (true, rest),
        _ => (false, b),
    };
    // Digits first and last: ".5" and "5." are the general parser's to refuse.
    if body.len() > 19 || !body.first()?.is_ascii_digit() || !body.last()?.is_ascii_digit() {
        return None;
    }
    let (mut mantissa, mut scale, mut digits) = (0i64, None::<u32>, 0u32);
    for (i, &c) in body.iter().enumerate() {
        match c {
            b'0'..=b'9' => {
                mantissa = mantissa * 10 + i64::from(c - b'0');
                digits += 1;
            }
            b'.' if scale.is_none() => scale = Some((body.len() - i - 1) as u32),
            _ => return None,
        }
    }
    if digits > 18 {
        return None;
    }
    let mut scale = scale.unwrap_or(0);
    // Normalised, as the general parser's result is.
    while scale > 0 && mantissa % 10 == 0 {
        mantissa /= 10;
        scale -= 1;
    }
    Some(Decimal::new(if negative { -mantissa } else { mantissa }, scale))
}

/// [`parse_decimal`] of any text: its significant digits listed, then checked against
/// what a [`Decimal`] holds.
fn parse_decimal_digits(s: &str, allow_exponent: bool) -> Result<Decimal, DecimalError> {
    let b = s.as_bytes();
    let mut i = 0;
    let negative = b.first() == Some(&b'-');
    if negative {
        i += 1;
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let int_digits = &b[int_start..i];
    let mut frac_digits: &[u8] = &[];
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let fs = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        frac_digits = &b[fs..i];
        if frac_digits.is_empty() {
            return Err(DecimalError::Syntax("a digit must follow the decimal point".into()));
        }
    }
    if int_digits.is_empty() {
        return Err(DecimalError::Syntax(if s.is_empty() { "empty".into() } else { "expected digits such as 100000 or 0.5".into() }));
    }
    let mut exponent: i64 = 0;
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        if !allow_exponent {
            return Err(DecimalError::Syntax("write the digits out (no exponent) in a decimal string".into()));
        }
        i += 1;
        let mut exp_negative = false;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            exp_negative = b[i] == b'-';
            i += 1;
        }
        let es = i;
        while i < b.len() && b[i].is_ascii_digit() {
            // Saturate: anything past a few thousand is out of range either way.
            exponent = (exponent * 10 + i64::from(b[i] - b'0')).min(1_000_000);
            i += 1;
        }
        if es == i {
            return Err(DecimalError::Syntax("a digit must follow the exponent".into()));
        }
        if exp_negative {
            exponent = -exponent;
        }
    }
    if i != b.len() {
        let rest = &s[i..];
        let why = if rest.starts_with(',') {
            "no thousands separators".to_string()
        } else if rest.starts_with(char::is_whitespace) || s.starts_with(char::is_whitespace) {
            "no spaces".to_string()
        } else {
            format!("unexpected {:?}", rest.chars().next().unwrap_or(' '))
        };
        return Err(DecimalError::Syntax(why));
    }

    // Significant digits without leading zeros; scale = number of places after the point.
    let mut digits: Vec<u8> = Vec::with_capacity(int_digits.len() + frac_digits.len());
    for &d in int_digits.iter().chain(frac_digits) {
        if digits.is_empty() && d == b'0' {
            continue;
        }
        digits.push(d - b'0');
    }
    if digits.is_empty() {
        return Ok(Decimal::ZERO);
    }
    let mut scale: i64 = frac_digits.len() as i64 - exponent;
    // Drop trailing zeros while they are fractional.
    while scale > 0 && digits.last() == Some(&0) {
        digits.pop();
        scale -= 1;
    }
    if scale < 0 {
        // A positive exponent: append zeros, if they fit.
        if digits.len() as i64 - scale > 29 {
            return Err(DecimalError::TooLarge);
        }
        digits.extend(std::iter::repeat_n(0, (-scale) as usize));
        scale = 0;
    }
    let int_len = digits.len() as i64 - scale;
    if int_len > 29 {
        return Err(DecimalError::TooLarge);
    }
    if scale > 28 {
        return Err(if int_len > 0 || digits.len() > 28 { DecimalError::TooManyDigits } else { DecimalError::TooManyPlaces });
    }
    if digits.len() > 29 {
        return Err(DecimalError::TooManyDigits);
    }
    let mut mantissa: u128 = 0;
    for d in &digits {
        mantissa = mantissa * 10 + u128::from(*d);
    }
    const MAX_MANTISSA: u128 = (1u128 << 96) - 1;
    if mantissa > MAX_MANTISSA {
        return Err(if int_len >= 29 { DecimalError::TooLarge } else { DecimalError::TooManyDigits });
    }
    let m = if negative { -(mantissa as i128) } else { mantissa as i128 };
    Decimal::try_from_i128_with_scale(m, scale as u32).map_err(|_| DecimalError::TooLarge)
}

/// Reads an exact decimal from a JSON string (plain digits) or a JSON number (its exact
/// text, exponent allowed).
pub fn decimal_from_json(v: &Json) -> Result<Decimal, DecimalError> {
    match v {
        Json::String(s) => parse_decimal(s, false),
        Json::Number(n) => parse_decimal(n.as_str(), true),
        other => Err(DecimalError::WrongType(json_type_name(other))),
    }
}

/// The JSON type of a value, as error messages name it.
pub fn json_type_name(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

/// What kind of unit a currency code names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CurrencyKind {
    /// An ISO 4217 code (or any other three-letter code).
    Fiat,
    /// A crypto asset ticker.
    Crypto,
}

/// What mamori knows of a currency code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CurrencyInfo {
    pub kind: CurrencyKind,
    /// The most decimal places an amount in it may have.
    pub decimals: u32,
}

/// Why a currency code was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CurrencyError {
    Empty,
    /// Letters in lower case: the upper-case code is suggested.
    Lowercase(String),
    /// Not 2..10 upper-case letters and digits with at least one letter.
    Malformed,
}

impl fmt::Display for CurrencyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CurrencyError::Empty => f.write_str("must not be empty; omit it for JPY"),
            CurrencyError::Lowercase(up) => write!(f, "currency codes are upper case: did you mean {up:?}?"),
            CurrencyError::Malformed => f.write_str(
                "expected an ISO 4217 code such as \"JPY\" or a crypto ticker such as \"BTC\" (2 to 10 upper-case letters or digits)",
            ),
        }
    }
}

impl std::error::Error for CurrencyError {}

/// ISO 4217 currencies whose minor unit is not 2 (every other three-letter code has 2),
/// sorted by code for a binary search.
const FIAT_NOT_2: &[(&str, u32)] = &[
    ("BHD", 3),
    ("BIF", 0),
    ("CLF", 4),
    ("CLP", 0),
    ("DJF", 0),
    ("GNF", 0),
    ("IQD", 3),
    ("ISK", 0),
    ("JOD", 3),
    ("JPY", 0),
    ("KMF", 0),
    ("KRW", 0),
    ("KWD", 3),
    ("LYD", 3),
    ("OMR", 3),
    ("PYG", 0),
    ("RWF", 0),
    ("TND", 3),
    ("UGX", 0),
    ("UYI", 0),
    ("UYW", 4),
    ("VND", 0),
    ("VUV", 0),
    ("XAF", 0),
    ("XOF", 0),
    ("XPF", 0),
];

/// Common ISO 4217 currencies with two decimal places (for documentation and tests; any
/// three-letter code not listed elsewhere is treated the same way).
pub const COMMON_FIAT_2: &[&str] = &[
    "USD", "EUR", "GBP", "CNY", "HKD", "TWD", "SGD", "THB", "MYR", "PHP", "INR", "IDR", "AUD", "NZD", "CAD", "CHF", "SEK", "NOK", "DKK",
    "MXN", "BRL", "ZAR", "RUB", "TRY", "AED", "SAR",
];

/// Crypto tickers known to mamori. Three-letter ones must be listed here to be read as
/// crypto (otherwise a three-letter code is taken as fiat with 2 decimals); longer or
/// shorter tickers are crypto whether listed or not. Sorted, for a binary search.
pub const KNOWN_CRYPTO: &[&str] = &[
    "ADA", "APE", "ATOM", "AVAX", "AXS", "BAT", "BCH", "BNB", "BSV", "BTC", "CHZ", "DAI", "DOGE", "DOT", "ENJ", "ETC", "ETH", "FCR", "FIL",
    "FLR", "IOST", "JASMY", "JPYC", "LINK", "LSK", "LTC", "MANA", "MATIC", "MKR", "MONA", "NEAR", "OMG", "PEPE", "POL", "QTUM", "SAND",
    "SHIB", "SOL", "SUI", "TON", "TRX", "UNI", "USDC", "USDT", "XEM", "XLM", "XMR", "XRP", "XTZ", "XYM", "ZEC",
];

/// What mamori knows of a currency code: kind and allowed decimal places.
pub fn currency_info(code: &str) -> Result<CurrencyInfo, CurrencyError> {
    // The codes nearly every event carries, answered before any check or search (a bulk
    // file of payments asks this once a row).
    match code {
        "JPY" => return Ok(CurrencyInfo { kind: CurrencyKind::Fiat, decimals: 0 }),
        "USD" | "EUR" => return Ok(CurrencyInfo { kind: CurrencyKind::Fiat, decimals: 2 }),
        _ => {}
    }
    searched_currency_info(code)
}

/// [`currency_info`] by checking the code's shape and searching the tables.
fn searched_currency_info(code: &str) -> Result<CurrencyInfo, CurrencyError> {
    if code.is_empty() {
        return Err(CurrencyError::Empty);
    }
    let n = code.len();
    let shape_ok = |c: u8| c.is_ascii_uppercase() || c.is_ascii_digit();
    if !(2..=10).contains(&n) || !code.bytes().all(|c| shape_ok(c) || c.is_ascii_lowercase()) {
        return Err(CurrencyError::Malformed);
    }
    if !code.bytes().any(|c| c.is_ascii_alphabetic()) {
        return Err(CurrencyError::Malformed);
    }
    if code.bytes().any(|c| c.is_ascii_lowercase()) {
        return Err(CurrencyError::Lowercase(code.to_ascii_uppercase()));
    }
    if KNOWN_CRYPTO.binary_search(&code).is_ok() {
        return Ok(CurrencyInfo { kind: CurrencyKind::Crypto, decimals: CRYPTO_DECIMALS });
    }
    if n == 3 && code.bytes().all(|c| c.is_ascii_uppercase()) {
        let decimals = FIAT_NOT_2.binary_search_by(|(c, _)| (*c).cmp(code)).map_or(2, |i| FIAT_NOT_2[i].1);
        return Ok(CurrencyInfo { kind: CurrencyKind::Fiat, decimals });
    }
    Ok(CurrencyInfo { kind: CurrencyKind::Crypto, decimals: CRYPTO_DECIMALS })
}

/// Powers of ten a double holds exactly.
const EXACT_POW10: [f64; 23] =
    [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22];

/// The double nearest to `d`. When its digits fit in 53 bits and it has at most 22 decimal
/// places (every amount of fiat money), both the digits and the power of ten are exact
/// doubles and one division rounds correctly; otherwise rust_decimal's conversion, which
/// divides in 128 bits and may be one unit off in the last place.
pub fn decimal_to_f64(d: Decimal) -> f64 {
    let m = d.mantissa();
    let scale = d.scale() as usize;
    if m.unsigned_abs() <= 1 << 53 && scale < EXACT_POW10.len() {
        return m as f64 / EXACT_POW10[scale];
    }
    rust_decimal::prelude::ToPrimitive::to_f64(&d).unwrap_or(f64::NAN)
}

/// Why an amount of money was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AmountError {
    Decimal(DecimalError),
    /// Zero or negative where a positive amount is required.
    NotPositive,
    /// Negative where zero or more is required.
    Negative,
    /// More decimal places than the currency has.
    TooPrecise {
        currency: String,
        allowed: u32,
        got: u32,
    },
}

impl fmt::Display for AmountError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AmountError::Decimal(e) => fmt::Display::fmt(e, f),
            AmountError::NotPositive => f.write_str("must be greater than 0"),
            AmountError::Negative => f.write_str("must not be negative"),
            AmountError::TooPrecise { currency, allowed: 0, got } => {
                write!(f, "{currency} has no minor unit: whole numbers only (got {got} decimal place{})", plural(*got))
            }
            AmountError::TooPrecise { currency, allowed, got } => {
                write!(f, "{currency} allows at most {allowed} decimal place{} (got {got})", plural(*allowed))
            }
        }
    }
}

fn plural(n: u32) -> &'static str {
    if n == 1 { "" } else { "s" }
}

impl std::error::Error for AmountError {}

impl From<DecimalError> for AmountError {
    fn from(e: DecimalError) -> Self {
        AmountError::Decimal(e)
    }
}

/// Checks that a (normalised) decimal has no more places than `decimals`.
pub fn check_places(d: Decimal, currency: &str, decimals: u32) -> Result<(), AmountError> {
    let got = d.normalize().scale();
    if got > decimals {
        return Err(AmountError::TooPrecise { currency: currency.to_string(), allowed: decimals, got });
    }
    Ok(())
}

/// Reads an amount of money (> 0) in a currency with `decimals` places from JSON.
pub fn amount_from_json(v: &Json, currency: &str, decimals: u32) -> Result<Decimal, AmountError> {
    let d = decimal_from_json(v)?;
    if d <= Decimal::ZERO {
        return Err(AmountError::NotPositive);
    }
    check_places(d, currency, decimals)?;
    Ok(d)
}

/// Parses an amount of money (> 0) given as text in `currency` (which must be valid).
pub fn parse_amount(s: &str, currency: &str) -> Result<Decimal, AmountError> {
    let decimals = currency_info(currency).map_or(CRYPTO_DECIMALS, |i| i.decimals);
    let d = parse_decimal(s, false)?;
    if d <= Decimal::ZERO {
        return Err(AmountError::NotPositive);
    }
    check_places(d, currency, decimals)?;
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn plain_decimals() {
        assert_eq!(parse_decimal("100000", false).unwrap(), dec("100000"));
        assert_eq!(parse_decimal("0.5", false).unwrap(), dec("0.5"));
        assert_eq!(parse_decimal("-0.5", false).unwrap(), dec("-0.5"));
        assert_eq!(parse_decimal("000123.4500", false).unwrap().to_string(), "123.45");
        assert_eq!(parse_decimal("100.00", false).unwrap().to_string(), "100");
        assert_eq!(parse_decimal("0", false).unwrap(), Decimal::ZERO);
        assert_eq!(parse_decimal("0.000", false).unwrap(), Decimal::ZERO);
        assert_eq!(parse_decimal("0.000000000000000001", false).unwrap().to_string(), "0.000000000000000001");
    }

    #[test]
    fn bad_syntax() {
        for s in ["", "-", ".5", "5.", "1,000", " 1", "1 ", "+1", "1e5", "0x10", "1.2.3", "NaN", "inf", "１００"] {
            assert!(matches!(parse_decimal(s, false), Err(DecimalError::Syntax(_))), "{s:?}");
        }
        assert!(parse_decimal("1,000", false).unwrap_err().to_string().contains("thousands"));
        assert!(parse_decimal("1e5", false).unwrap_err().to_string().contains("exponent"));
    }

    #[test]
    fn exponents() {
        assert_eq!(parse_decimal("1e5", true).unwrap(), dec("100000"));
        assert_eq!(parse_decimal("1.5E+3", true).unwrap(), dec("1500"));
        assert_eq!(parse_decimal("15e-1", true).unwrap(), dec("1.5"));
        assert_eq!(parse_decimal("0e999999999999", true).unwrap(), Decimal::ZERO);
        assert_eq!(parse_decimal("1e28", true).unwrap(), dec("10000000000000000000000000000"));
        assert_eq!(parse_decimal("1e29", true), Err(DecimalError::TooLarge));
        assert_eq!(parse_decimal("1e99999999999999999999", true), Err(DecimalError::TooLarge));
        assert_eq!(parse_decimal("1e-28", true).unwrap(), dec("0.0000000000000000000000000001"));
        assert_eq!(parse_decimal("1e-29", true), Err(DecimalError::TooManyPlaces));
        assert_eq!(parse_decimal("1e-99999999999999999", true), Err(DecimalError::TooManyPlaces));
        assert!(parse_decimal("1e", true).is_err());
        assert!(parse_decimal("1e+", true).is_err());
    }

    #[test]
    fn limits() {
        assert_eq!(parse_decimal("79228162514264337593543950335", false).unwrap(), Decimal::MAX);
        assert_eq!(parse_decimal("79228162514264337593543950336", false), Err(DecimalError::TooLarge));
        assert_eq!(parse_decimal("100000000000000000000000000000", false), Err(DecimalError::TooLarge));
        assert_eq!(parse_decimal("1.00000000000000000000000000001", false), Err(DecimalError::TooManyDigits));
        assert_eq!(parse_decimal("1234567890.123456789012345678901", false), Err(DecimalError::TooManyDigits));
        assert_eq!(parse_decimal("0.00000000000000000000000000001", false), Err(DecimalError::TooManyPlaces));
        // trailing zeros past 28 places that do not change the value are fine
        assert_eq!(parse_decimal("1.000000000000000000000000000000000", false).unwrap(), Decimal::ONE);
        assert!(DecimalError::TooLarge.to_string().contains("79228162514264337593543950335"));
    }

    #[test]
    fn json_inputs() {
        let v: Json = serde_json::from_str(r#"["100000", 100000, 0.1, 1e3, 12345678901234567890.123456789, true, null]"#).unwrap();
        let a = v.as_array().unwrap();
        assert_eq!(decimal_from_json(&a[0]).unwrap(), dec("100000"));
        assert_eq!(decimal_from_json(&a[1]).unwrap(), dec("100000"));
        assert_eq!(decimal_from_json(&a[2]).unwrap(), dec("0.1"));
        assert_eq!(decimal_from_json(&a[3]).unwrap(), dec("1000"));
        assert_eq!(decimal_from_json(&a[4]).unwrap(), dec("12345678901234567890.123456789"));
        assert_eq!(decimal_from_json(&a[5]), Err(DecimalError::WrongType("a boolean")));
        assert_eq!(decimal_from_json(&a[6]), Err(DecimalError::WrongType("null")));
    }

    #[test]
    fn currencies() {
        let d = |c: &str| currency_info(c).unwrap().decimals;
        assert_eq!(d("JPY"), 0);
        assert_eq!(d("KRW"), 0);
        assert_eq!(d("USD"), 2);
        assert_eq!(d("EUR"), 2);
        assert_eq!(d("KWD"), 3);
        assert_eq!(d("BHD"), 3);
        assert_eq!(d("CLF"), 4);
        assert_eq!(d("ZZZ"), 2);
        for c in ["BTC", "ETH", "XEM", "XRP", "USDT", "DOGE", "SHIB", "1INCH", "XY"] {
            assert_eq!(currency_info(c).unwrap(), CurrencyInfo { kind: CurrencyKind::Crypto, decimals: 18 }, "{c}");
        }
        for c in COMMON_FIAT_2 {
            assert_eq!(currency_info(c).unwrap(), CurrencyInfo { kind: CurrencyKind::Fiat, decimals: 2 }, "{c}");
        }
        assert_eq!(currency_info("jpy"), Err(CurrencyError::Lowercase("JPY".into())));
        assert_eq!(currency_info(""), Err(CurrencyError::Empty));
        for c in ["J", "ABCDEFGHIJK", "JP Y", "円", "123", "JP-Y"] {
            assert_eq!(currency_info(c), Err(CurrencyError::Malformed), "{c}");
        }
    }

    /// The tables are searched by halves: every entry must be found, and for that they
    /// must stay sorted.
    #[test]
    fn every_listed_code_is_found() {
        for &(c, decimals) in FIAT_NOT_2 {
            assert_eq!(currency_info(c).unwrap(), CurrencyInfo { kind: CurrencyKind::Fiat, decimals }, "{c}");
        }
        for &c in KNOWN_CRYPTO {
            assert_eq!(currency_info(c).unwrap(), CurrencyInfo { kind: CurrencyKind::Crypto, decimals: 18 }, "{c}");
        }
        assert!(FIAT_NOT_2.is_sorted_by_key(|e| e.0) && KNOWN_CRYPTO.is_sorted());
    }

    proptest::proptest! {
        /// Correctly rounded where the fast way applies (Rust's parser of decimal text is),
        /// and rust_decimal's conversion beyond it.
        #[test]
        fn decimals_become_the_nearest_double(
            m in proptest::prop_oneof![-100_000_000i128..100_000_000, -(1i128 << 53)..=(1i128 << 53), -(1i128 << 90)..(1i128 << 90)],
            scale in 0u32..=28,
        ) {
            let d = Decimal::from_i128_with_scale(m, scale);
            let expected = if m.unsigned_abs() <= 1 << 53 && scale <= 22 {
                d.to_string().parse::<f64>().unwrap()
            } else {
                rust_decimal::prelude::ToPrimitive::to_f64(&d).unwrap()
            };
            proptest::prop_assert_eq!(decimal_to_f64(d).to_bits(), expected.to_bits(), "{}", d);
        }
    }

    proptest::proptest! {
        /// The one-pass reading of plain text gives the general parser's decimal, scale
        /// included, and leaves it everything else.
        #[test]
        fn plain_text_reads_as_the_general_parser_reads_it(
            s in "-?[0-9]{0,12}(\\.[0-9]{0,9})?",
            t in "[-0-9.e+ ,]{0,24}",
        ) {
            for text in [s.as_str(), t.as_str()] {
                let general = parse_decimal_digits(text, true);
                match plain_decimal(text.as_bytes()) {
                    Some(d) => {
                        let g = general.expect("the general parser reads what the plain one does");
                        proptest::prop_assert_eq!((d.mantissa(), d.scale()), (g.mantissa(), g.scale()), "{:?}", text);
                    }
                    None => proptest::prop_assert!(
                        general.is_err() || text.bytes().filter(u8::is_ascii_digit).count() > 18 || text.contains('e'),
                        "{:?} left to the general parser", text
                    ),
                }
                proptest::prop_assert_eq!(parse_decimal(text, false), parse_decimal_digits(text, false), "{:?}", text);
            }
        }
    }

    #[test]
    fn plain_text_at_the_edges() {
        for (text, mantissa, scale) in [
            ("0", 0, 0),
            ("-0", 0, 0),
            ("-0.000", 0, 0),
            ("007.50", 75, 1),
            ("100.00", 100, 0),
            ("999999999999999999", 999_999_999_999_999_999, 0),
            ("-99999999.9999999999", -999_999_999_999_999_999, 10),
            ("0.00000000000000001", 1, 17),
        ] {
            let d = plain_decimal(text.as_bytes()).unwrap_or_else(|| panic!("{text} is plain"));
            assert_eq!((d.mantissa(), d.scale(), d.is_sign_negative()), (mantissa, scale, mantissa < 0), "{text}");
            assert_eq!(parse_decimal_digits(text, false), Ok(d), "{text}");
        }
        // Nineteen digits, or anything but digits and one point, are the general parser's.
        for text in ["1000000000000000000", "0.000000000000000001", "1.2.3", "1e5", ".5", "5.", "-", "", "+1", "1,000", " 1", "１"] {
            assert_eq!(plain_decimal(text.as_bytes()), None, "{text}");
        }
    }

    #[test]
    fn amounts_become_their_nearest_double() {
        for (text, f) in [("57.16", 57.16), ("0.1", 0.1), ("-12.345", -12.345), ("9007199254740992", 9_007_199_254_740_992.0)] {
            assert_eq!(decimal_to_f64(text.parse().unwrap()), f, "{text}");
        }
        // Past 53 bits of digits: rust_decimal's conversion.
        let big: Decimal = "1.500000000000000001".parse().unwrap();
        assert_eq!(decimal_to_f64(big), 1.5);
    }

    #[test]
    fn the_common_codes_answer_as_the_tables_do() {
        for c in ["JPY", "USD", "EUR"] {
            assert_eq!(currency_info(c), searched_currency_info(c), "{c}");
        }
    }

    #[test]
    fn amounts() {
        let j = |s: &str| -> Json { serde_json::from_str(s).unwrap() };
        assert_eq!(amount_from_json(&j("\"100\""), "JPY", 0).unwrap(), dec("100"));
        assert_eq!(amount_from_json(&j("\"100.00\""), "JPY", 0).unwrap(), dec("100"));
        assert_eq!(amount_from_json(&j("100.0"), "JPY", 0).unwrap(), dec("100"));
        let e = amount_from_json(&j("\"100.5\""), "JPY", 0).unwrap_err();
        assert_eq!(e, AmountError::TooPrecise { currency: "JPY".into(), allowed: 0, got: 1 });
        assert!(e.to_string().contains("no minor unit"), "{e}");
        assert!(amount_from_json(&j("\"100.50\""), "JPY", 0).is_err());
        assert_eq!(amount_from_json(&j("\"0\""), "JPY", 0), Err(AmountError::NotPositive));
        assert_eq!(amount_from_json(&j("-5"), "JPY", 0), Err(AmountError::NotPositive));
        assert_eq!(amount_from_json(&j("\"1.23\""), "USD", 2).unwrap(), dec("1.23"));
        let e = amount_from_json(&j("\"1.234\""), "USD", 2).unwrap_err();
        assert!(e.to_string().contains("at most 2 decimal places"), "{e}");
        assert_eq!(amount_from_json(&j("\"0.000000000000000001\""), "ETH", 18).unwrap(), dec("0.000000000000000001"));
        assert!(amount_from_json(&j("\"0.0000000000000000001\""), "ETH", 18).is_err());
        assert_eq!(parse_amount("0.5", "BTC").unwrap(), dec("0.5"));
        assert!(parse_amount("0.5", "JPY").is_err());
    }
}
