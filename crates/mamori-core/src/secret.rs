//! Personal and card data as a type: masked in `Debug` and `Display`, read only through
//! [`Secret::expose`], so that it never reaches a log by accident.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A value that prints as `***` (or a short masked hint) unless exposed on purpose.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    pub fn new(v: T) -> Self {
        Secret(v)
    }
    /// Read the secret. Every call site is a place where personal data is handled.
    pub fn expose(&self) -> &T {
        &self.0
    }
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl<T> From<T> for Secret<T> {
    fn from(v: T) -> Self {
        Secret(v)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Secret<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        T::deserialize(d).map(Secret)
    }
}

/// Serialising a secret writes the real value: only stores and outbound messages that
/// must carry it do so; logs go through `Debug`/`Display`, which mask.
impl<T: Serialize> Serialize for Secret<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

/// Masks all but the last `keep` characters: `mask_tail("1234567", 2)` is `*****67`.
pub fn mask_tail(s: &str, keep: usize) -> String {
    let n = s.chars().count();
    s.chars().enumerate().map(|(i, c)| if i + keep < n { '*' } else { c }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked() {
        let s = Secret::new("山田 太郎".to_string());
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(s.expose(), "山田 太郎");
        assert_eq!(mask_tail("1234567", 2), "*****67");
    }
}
