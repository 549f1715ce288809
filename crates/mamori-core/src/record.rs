//! How expressions see data: a [`Schema`] resolves a path such as `event.amount` to a
//! [`FieldId`] and a [`Type`] once, when a rule or feature is compiled; a [`Record`]
//! answers `get(FieldId)` for each event at run time. Neither side does I/O: the same
//! compiled program runs over a parsed JSON event, a CSV row or a replayed history.

use crate::value::{Type, Value};

/// A field resolved at compile time. The top 8 bits name the part of a
/// [`CompositeSchema`], the rest index within that part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FieldId(pub u32);

impl FieldId {
    const PART_SHIFT: u32 = 24;
    const INNER_MASK: u32 = (1 << Self::PART_SHIFT) - 1;

    pub fn new(part: u8, inner: u32) -> Self {
        debug_assert!(inner <= Self::INNER_MASK);
        FieldId((u32::from(part) << Self::PART_SHIFT) | (inner & Self::INNER_MASK))
    }
    pub fn part(self) -> u8 {
        (self.0 >> Self::PART_SHIFT) as u8
    }
    pub fn inner(self) -> u32 {
        self.0 & Self::INNER_MASK
    }
}

/// The answer of a schema to a path.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolution {
    /// The path names a readable field of this type.
    Field(FieldId, Type),
    /// The path names an object with fields below it (such as `event.holder`): not a value.
    Object,
    /// Nothing is known by that name; `suggestion` is the closest known path, if any.
    Unknown { suggestion: Option<String> },
}

/// Resolves dotted paths to fields. Implemented by the event contract, by a CSV column
/// mapping, by a feature set, and by [`CompositeSchema`] which joins them under roots.
pub trait Schema: Send + Sync {
    /// Resolve a path of segments below this schema's root (for the event schema,
    /// `["amount"]` or `["holder", "name_kana"]`).
    fn resolve(&self, path: &[&str]) -> Resolution;
    /// Every readable path with its type (for suggestions, documentation and listing).
    fn fields(&self) -> Vec<(String, Type)>;
}

/// Reads fields of one event (or row) by the ids its schema handed out.
pub trait Record {
    fn get(&self, field: FieldId) -> Value<'_>;
}

/// Joins schemas under root names (`event`, `features`, `model`). Part `i` of the
/// composite hands out ids whose [`FieldId::part`] is `i`; the part's own ids must
/// have part 0.
pub struct CompositeSchema<'s> {
    parts: Vec<(String, &'s dyn Schema)>,
}

impl std::fmt::Debug for CompositeSchema<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.parts.iter().map(|(r, _)| r)).finish()
    }
}

impl<'s> CompositeSchema<'s> {
    pub fn new() -> Self {
        CompositeSchema { parts: Vec::new() }
    }
    /// Adds a root; returns its part number.
    pub fn with(mut self, root: &str, schema: &'s dyn Schema) -> Self {
        assert!(self.parts.len() < 255, "too many schema roots");
        self.parts.push((root.to_string(), schema));
        self
    }
    pub fn roots(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().map(|(r, _)| r.as_str())
    }
}

impl Default for CompositeSchema<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl Schema for CompositeSchema<'_> {
    fn resolve(&self, path: &[&str]) -> Resolution {
        let Some((root, rest)) = path.split_first() else {
            return Resolution::Unknown { suggestion: None };
        };
        for (i, (name, schema)) in self.parts.iter().enumerate() {
            if name == root {
                if rest.is_empty() {
                    return Resolution::Object;
                }
                return match schema.resolve(rest) {
                    Resolution::Field(id, ty) => Resolution::Field(FieldId::new(i as u8, id.inner()), ty),
                    Resolution::Unknown { suggestion } => Resolution::Unknown { suggestion: suggestion.map(|s| format!("{root}.{s}")) },
                    Resolution::Object => Resolution::Object,
                };
            }
        }
        let wanted = path.join(".");
        let suggestion = closest(&wanted, self.fields().iter().map(|(p, _)| p.as_str()));
        Resolution::Unknown { suggestion }
    }

    fn fields(&self) -> Vec<(String, Type)> {
        let mut out = Vec::new();
        for (root, schema) in &self.parts {
            for (p, t) in schema.fields() {
                out.push((format!("{root}.{p}"), t));
            }
        }
        out
    }
}

/// Reads a composite's fields from one record per part, in the order the parts were added.
pub struct CompositeRecord<'r, const N: usize> {
    pub parts: [&'r dyn Record; N],
}

impl<const N: usize> std::fmt::Debug for CompositeRecord<'_, N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CompositeRecord({N} parts)")
    }
}

impl<const N: usize> Record for CompositeRecord<'_, N> {
    #[inline]
    fn get(&self, field: FieldId) -> Value<'_> {
        match self.parts.get(field.part() as usize) {
            Some(r) => r.get(FieldId::new(0, field.inner())),
            None => Value::Null,
        }
    }
}

/// The candidate closest to `wanted` by edit distance, if it is close enough to be a
/// plausible typo (at most a third of the length, and at most 3 edits).
pub fn closest<'a>(wanted: &str, candidates: impl Iterator<Item = &'a str>) -> Option<String> {
    let limit = (wanted.chars().count() / 3).clamp(1, 3);
    candidates
        .map(|c| (edit_distance(wanted, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, c)| (*d, c.len()))
        .map(|(_, c)| c.to_string())
}

/// Levenshtein distance over chars.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// A schema given as a fixed list of paths: handy for tests and for simple inputs.
#[derive(Debug, Clone, Default)]
pub struct StaticSchema {
    fields: Vec<(String, Type)>,
}

impl StaticSchema {
    pub fn new(fields: impl IntoIterator<Item = (impl Into<String>, Type)>) -> Self {
        StaticSchema { fields: fields.into_iter().map(|(p, t)| (p.into(), t)).collect() }
    }
    /// The id this schema hands out for `path`, if it has it.
    pub fn id_of(&self, path: &str) -> Option<FieldId> {
        self.fields.iter().position(|(p, _)| p == path).map(|i| FieldId::new(0, i as u32))
    }
}

impl Schema for StaticSchema {
    fn resolve(&self, path: &[&str]) -> Resolution {
        let wanted = path.join(".");
        if let Some(i) = self.fields.iter().position(|(p, _)| *p == wanted) {
            return Resolution::Field(FieldId::new(0, i as u32), self.fields[i].1.clone());
        }
        let prefix = format!("{wanted}.");
        if self.fields.iter().any(|(p, _)| p.starts_with(&prefix)) {
            return Resolution::Object;
        }
        Resolution::Unknown { suggestion: closest(&wanted, self.fields.iter().map(|(p, _)| p.as_str())) }
    }

    fn fields(&self) -> Vec<(String, Type)> {
        self.fields.clone()
    }
}

/// A record of values in the order of a [`StaticSchema`].
#[derive(Debug, Clone, Default)]
pub struct VecRecord(pub Vec<crate::value::OwnedValue>);

impl Record for VecRecord {
    fn get(&self, field: FieldId) -> Value<'_> {
        self.0.get(field.inner() as usize).map_or(Value::Null, |v| v.as_value())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::OwnedValue;

    #[test]
    fn composite_resolves_and_reads() {
        let ev = StaticSchema::new([("amount", Type::Decimal), ("holder.name_kana", Type::String)]);
        let fs = StaticSchema::new([("n_24h", Type::Int)]);
        let c = CompositeSchema::new().with("event", &ev).with("features", &fs);
        let Resolution::Field(id, Type::Int) = c.resolve(&["features", "n_24h"]) else { panic!() };
        assert_eq!(id.part(), 1);
        assert_eq!(c.resolve(&["event", "holder"]), Resolution::Object);
        match c.resolve(&["event", "amout"]) {
            Resolution::Unknown { suggestion } => assert_eq!(suggestion.as_deref(), Some("event.amount")),
            r => panic!("{r:?}"),
        }
        let er = VecRecord(vec![OwnedValue::Int(5), OwnedValue::Null]);
        let fr = VecRecord(vec![OwnedValue::Int(7)]);
        let rec = CompositeRecord { parts: [&er as &dyn Record, &fr] };
        assert_eq!(rec.get(id), Value::Int(7));
    }

    #[test]
    fn distance() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(closest("ammount", ["amount", "account"].into_iter()).as_deref(), Some("amount"));
        assert_eq!(closest("zzz", ["amount"].into_iter()), None);
    }
}
