//! Compiling a feature file and running events through it.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::hash::{BuildHasher, Hasher};
use std::ops::ControlFlow;
use std::sync::Arc;

use mamori_core::{
    CompositeRecord, CompositeSchema, FieldId, OwnedValue, Record, Resolution, Schema, Span, StaticSchema, Timestamp, Type, Value,
};

use crate::codes;
use crate::config::{ConfigError, ConfigErrors, EntitySpec, FeatureDecl, FeatureFile, SourceMap};
use crate::getter::{Getter, compile_expr};
use crate::snapshot::{self, SnapshotError};
use crate::window::{AddError, EntityLog, Entry, LogShape, MAX_FAMILY, Scaled};

type Fixed = foldhash::fast::FixedState;

/// The aggregates a windowed feature can compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregate {
    Count,
    Sum,
    Avg,
    Min,
    Max,
    Distinct,
    FirstSeen,
    LastSeen,
    TimeSinceLast,
    LastValue,
}

impl Aggregate {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "count" => Aggregate::Count,
            "sum" => Aggregate::Sum,
            "avg" | "mean" => Aggregate::Avg,
            "min" => Aggregate::Min,
            "max" => Aggregate::Max,
            "distinct" | "distinct_count" | "count_distinct" => Aggregate::Distinct,
            "first_seen" => Aggregate::FirstSeen,
            "last_seen" => Aggregate::LastSeen,
            "time_since_last" => Aggregate::TimeSinceLast,
            "last_value" | "last" => Aggregate::LastValue,
            _ => return None,
        })
    }

    fn needs_value(self) -> bool {
        matches!(self, Aggregate::Sum | Aggregate::Avg | Aggregate::Min | Aggregate::Max | Aggregate::Distinct | Aggregate::LastValue)
    }
}

/// The entity shorthands and the event paths they stand for.
pub const ENTITY_SHORTHANDS: &[(&str, &[&str])] = &[
    ("account", &["institution", "account"]),
    ("customer", &["institution", "customer"]),
    ("device", &["device"]),
    ("ip", &["ip"]),
    ("link", &["link"]),
    ("wallet", &["wallet.institution", "wallet.account"]),
    ("bank", &["bank.institution", "bank.account"]),
    ("payee", &["payee.institution", "payee.account"]),
    ("counterparty", &["counterparty.institution", "counterparty.account"]),
    ("terminal", &["terminal"]),
    ("merchant", &["merchant"]),
    ("card", &["card"]),
    ("institution", &["institution"]),
    ("asset", &["institution", "asset"]),
    ("address", &["to_address"]),
    ("global", &[]),
];

#[derive(Debug)]
pub(crate) struct KeySpec {
    pub(crate) parts: Vec<Getter>,
    text: String,
    /// Each part as written (an event path or an expression).
    sources: Vec<String>,
}

#[derive(Debug)]
pub(crate) struct Group {
    pub(crate) key: usize,
    pub(crate) filter: Option<mamori_expr::Program>,
    pub(crate) value: Option<Getter>,
    value_src: Option<String>,
    /// The first feature that reads this group: the group takes each event there, so its
    /// filter and value may only read features declared before it.
    first_feature: usize,
    pub(crate) shape: LogShape,
    /// Longest finite window + delay, in microseconds.
    horizon: i64,
    signature: String,
}

#[derive(Debug)]
pub(crate) enum Kind {
    Window { group: usize, read_key: usize, window: Option<(i64, i64)>, slot: usize, agg: Aggregate, include_current: bool, int_sum: bool },
    Expr(Getter),
    Ratio { num: usize, den: usize },
}

#[derive(Debug)]
pub(crate) struct Feature {
    pub(crate) name: String,
    pub(crate) ty: Type,
    pub(crate) kind: Kind,
    pub(crate) empty: OwnedValue,
    pub(crate) output: bool,
}

/// (group, read entity, window and delay): what features of one read slot share.
type ReadSlot = (usize, usize, Option<(i64, i64)>);

/// A compiled feature file: what to compute and in which order. Immutable and shareable;
/// an [`Engine`] holds the state.
#[derive(Debug)]
pub struct FeatureSet {
    pub(crate) features: Vec<Feature>,
    /// Each feature's `description`, as declared.
    descriptions: Vec<Option<String>>,
    pub(crate) groups: Vec<Group>,
    pub(crate) keys: Vec<KeySpec>,
    schema: StaticSchema,
    lateness: i64,
    /// Distinct (group, read entity, window, delay) read by some feature: features of one
    /// slot share their window's range, count and sum within an event.
    slots: Vec<ReadSlot>,
    /// Per read slot, its plain features (count, sum or avg over a finite window with the
    /// current event included): all written at once when the slot is first reached.
    slot_plain: Vec<Vec<usize>>,
    /// Per read slot, whether one of its plain features needs the window's sum.
    slot_sums: Vec<bool>,
    /// Per read slot with a finite window, its family when it has one: every such slot of
    /// the same group (one without buckets) and entity, itself among them, when there are
    /// 2 to [`MAX_FAMILY`].
    /// Their windows are found in one walk over the entity's log
    /// ([`EntityLog::ranges_and_sums`]).
    slot_family: Vec<Option<Family>>,
    /// See [`FeatureSet::fingerprint`].
    fingerprint: [u8; 32],
    /// See [`FeatureSet::entities`].
    entity_specs: Vec<usize>,
}

impl FeatureSet {
    /// Compiles the features of `file` against the schema of the input records.
    pub fn compile(file: &FeatureFile, map: &SourceMap<'_>, input: &dyn Schema) -> Result<FeatureSet, ConfigErrors> {
        let mut errs = Vec::new();
        let lateness = match &file.engine.lateness {
            None => Span::from_secs(3600).as_micros(),
            Some(s) => match Span::parse(s.get_ref()) {
                Ok(v) => v.as_micros(),
                Err(e) => {
                    errs.push(map.error(s.span(), codes::BAD_SPAN, e.to_string()));
                    0
                }
            },
        };
        if let Some(f) = &file.input.format
            && !matches!(f.get_ref().as_str(), "csv" | "ndjson")
        {
            errs.push(map.error(f.span(), codes::INPUT, format!("unknown input format `{}`; use csv or ndjson", f.get_ref())));
        }
        let mut set = FeatureSet {
            features: Vec::new(),
            descriptions: file.features.iter().map(|d| d.description.clone()).collect(),
            groups: Vec::new(),
            keys: Vec::new(),
            schema: StaticSchema::default(),
            lateness,
            slots: Vec::new(),
            slot_plain: Vec::new(),
            slot_sums: Vec::new(),
            slot_family: Vec::new(),
            fingerprint: [0; 32],
            entity_specs: Vec::new(),
        };
        let mut declared: Vec<(String, Type)> = Vec::new();
        let mut names: HashMap<String, usize> = HashMap::new();
        for decl in &file.features {
            let fschema = StaticSchema::new(declared.iter().cloned());
            let schema = CompositeSchema::new().with("event", input).with("features", &fschema);
            match set.compile_one(decl, map, &schema, &names) {
                Ok(f) => {
                    names.insert(f.name.clone(), set.features.len());
                    declared.push((f.name.clone(), f.ty.clone()));
                    set.features.push(f);
                }
                Err(e) => {
                    // Keep going with a placeholder so later features can still be checked.
                    let name = decl.name.get_ref().clone();
                    if !names.contains_key(&name) {
                        names.insert(name.clone(), set.features.len());
                        declared.push((name.clone(), Type::Dyn));
                        set.features.push(Feature {
                            name,
                            ty: Type::Dyn,
                            kind: Kind::Ratio { num: 0, den: 0 },
                            empty: OwnedValue::Null,
                            output: false,
                        });
                    }
                    errs.push(e);
                }
            }
        }
        if !errs.is_empty() {
            return Err(ConfigErrors(errs));
        }
        set.schema = StaticSchema::new(declared);
        set.slot_plain = vec![Vec::new(); set.slots.len()];
        for (i, f) in set.features.iter().enumerate() {
            if let Kind::Window {
                slot,
                window: Some(_),
                agg: Aggregate::Count | Aggregate::Sum | Aggregate::Avg,
                include_current: true,
                ..
            } = f.kind
            {
                set.slot_plain[slot].push(i);
            }
        }
        set.slot_sums = set
            .slot_plain
            .iter()
            .map(|plain| plain.iter().any(|&i| matches!(set.features[i].kind, Kind::Window { agg: Aggregate::Sum | Aggregate::Avg, .. })))
            .collect();
        set.slot_family = set
            .slots
            .iter()
            .map(|&(g, k, w)| {
                let slots: Vec<usize> =
                    set.slots.iter().enumerate().filter(|(_, s)| s.0 == g && s.1 == k && s.2.is_some()).map(|(j, _)| j).collect();
                // A bucketed group's logs count events per entry and are never walked.
                let walked = w.is_some() && set.groups[g].shape.bucket == 0;
                (walked && (2..=MAX_FAMILY).contains(&slots.len())).then(|| Family::of(&set.slots, slots))
            })
            .collect();
        set.fingerprint = <sha2::Sha256 as sha2::Digest>::digest(set.describe(file).as_bytes()).into();
        set.entity_specs = set.entity_specs();
        Ok(set)
    }

    /// SHA-256 of a canonical description of everything that shapes an engine's state
    /// and what is computed from it: the lateness; every entity key (its paths and the
    /// fields they resolved to); every group (key, filter, value, bucket, which columns
    /// its logs keep, horizon); every feature (name, type, aggregate, entities read,
    /// window, delay, `include_current`, `empty`, the source of its expression); and how
    /// this build writes entity keys and hashes values (a few sample values through each,
    /// since logs store keys and value hashes). Comments, descriptions, spacing and key
    /// order in the file do not change it. A snapshot is restored only into an engine of
    /// a feature set with the same fingerprint.
    pub fn fingerprint(&self) -> [u8; 32] {
        self.fingerprint
    }

    /// The text [`FeatureSet::fingerprint`] hashes. Built from the compiled set, never from
    /// a compiled expression's `Debug` (which may hold a set in a per-process order).
    fn describe(&self, file: &FeatureFile) -> String {
        let getter = |g: &Getter, src: &str| match g {
            Getter::Field(id) => format!("field {}.{}", id.part(), id.inner()),
            Getter::Expr(p) => format!("expr {src:?} -> {} reads {:?}", p.result_type(), p.fields()),
        };
        let mut s = format!("mamori-features state 1\nlateness {}\n", self.lateness);
        let samples = [
            Value::Str("mamori"),
            Value::Int(-7),
            Value::Decimal(mamori_core::Decimal::new(150, 2)),
            Value::Double(0.1),
            Value::Bool(true),
            Value::Timestamp(Timestamp(1_767_225_600_000_000)),
            Value::Duration(Span(90_000_000)),
        ];
        for v in samples {
            let mut key = Vec::new();
            write_key_part(&mut key, v);
            let _ = writeln!(s, "sample {:?} {:016x}", String::from_utf8_lossy(&key), hash_value(v));
        }
        for k in &self.keys {
            let parts: Vec<String> = k.parts.iter().map(|p| getter(p, "")).collect();
            let _ = writeln!(s, "key {:?} {parts:?}", k.text);
        }
        for g in &self.groups {
            let value = match (&g.value, &g.value_src) {
                (Some(v), Some(src)) => getter(v, src),
                _ => "none".to_string(),
            };
            let filter = g.filter.as_ref().map(|p| format!("{} reads {:?}", p.result_type(), p.fields()));
            let _ = writeln!(
                s,
                "group {:?} key {} filter {filter:?} value {value} shape {:?} horizon {} first {}",
                g.signature, g.key, g.shape, g.horizon, g.first_feature
            );
        }
        for (i, f) in self.features.iter().enumerate() {
            let kind = match &f.kind {
                Kind::Window { group, read_key, window, slot, agg, include_current, int_sum } => format!(
                    "window group {group} read {read_key} window {window:?} slot {slot} {agg:?} include_current {include_current} int_sum {int_sum}"
                ),
                Kind::Expr(g) => {
                    let src = file.features.get(i).and_then(|d| d.expr.as_ref()).map_or("", |e| e.get_ref().as_str());
                    getter(g, src)
                }
                Kind::Ratio { num, den } => format!("ratio {num} {den}"),
            };
            let _ = writeln!(s, "feature {:?} {} empty {:?} {kind}", f.name, f.ty, f.empty);
        }
        s
    }

    fn compile_one(
        &mut self,
        d: &FeatureDecl,
        map: &SourceMap<'_>,
        schema: &dyn Schema,
        names: &HashMap<String, usize>,
    ) -> Result<Feature, ConfigError> {
        let name = d.name.get_ref().clone();
        let name_span = d.name.span();
        if !valid_name(&name) {
            return Err(map.error(
                name_span,
                codes::BAD_NAME,
                format!("feature name `{name}` must be letters, digits and `_`, not starting with a digit"),
            ));
        }
        if names.contains_key(&name) {
            return Err(map.error(name_span, codes::DUPLICATE_FEATURE, format!("feature `{name}` is declared twice")));
        }
        let output = d.output.unwrap_or(true);
        let agg_name = match (&d.aggregate, &d.expr) {
            (Some(a), _) => a.get_ref().clone(),
            (None, Some(_)) => "expr".to_string(),
            (None, None) => return Err(map.error(name_span, codes::MISSING, format!("feature `{name}` needs `aggregate` (or `expr`)"))),
        };
        let agg_span = d.aggregate.as_ref().map_or(name_span.clone(), |a| a.span());
        let unused = |present: bool, key: &str, span: std::ops::Range<usize>| -> Result<(), ConfigError> {
            if present { Err(map.error(span, codes::UNUSED, format!("`{key}` has no meaning for aggregate `{agg_name}`"))) } else { Ok(()) }
        };

        if agg_name == "expr" {
            let Some(e) = &d.expr else { return Err(map.error(agg_span, codes::MISSING, "aggregate `expr` needs `expr`")) };
            for (present, key) in
                [(d.entity.is_some(), "entity"), (d.window.is_some(), "window"), (d.of.is_some(), "of"), (d.filter.is_some(), "filter")]
            {
                unused(present, key, name_span.clone())?;
            }
            let (g, ty) = Getter::compile(e.get_ref(), &e.span(), map, schema)?;
            let empty = self.empty_value(d, &ty, map, &name_span)?;
            return Ok(Feature { name, ty, kind: Kind::Expr(g), empty, output });
        }
        if agg_name == "ratio" {
            let get = |k: &Option<toml::Spanned<String>>, what: &str| -> Result<usize, ConfigError> {
                let Some(s) = k else {
                    return Err(map.error(agg_span.clone(), codes::MISSING, format!("aggregate `ratio` needs `{what}`")));
                };
                names.get(s.get_ref()).copied().ok_or_else(|| {
                    map.error(s.span(), codes::UNKNOWN_FEATURE, format!("`{}` is not a feature declared before `{name}`", s.get_ref()))
                })
            };
            let num = get(&d.numerator, "numerator")?;
            let den = get(&d.denominator, "denominator")?;
            for i in [num, den] {
                // `dyn` is checked when the event comes (and stands in for a feature that failed to compile).
                if !self.features[i].ty.is_numeric() && self.features[i].ty != Type::Dyn {
                    return Err(map.error(
                        agg_span,
                        codes::TYPE,
                        format!("ratio of `{}`, which is {}, not a number", self.features[i].name, self.features[i].ty),
                    ));
                }
            }
            let empty = self.empty_value(d, &Type::Double, map, &name_span)?;
            return Ok(Feature { name, ty: Type::Double, kind: Kind::Ratio { num, den }, empty, output });
        }
        let Some(agg) = Aggregate::parse(&agg_name) else {
            return Err(map.error(
                agg_span,
                codes::UNKNOWN_AGGREGATE,
                format!("unknown aggregate `{agg_name}`; expected count, sum, avg, min, max, distinct, first_seen, last_seen, time_since_last, last_value, ratio or expr"),
            ));
        };
        unused(d.expr.is_some(), "expr", name_span.clone())?;
        unused(d.numerator.is_some() || d.denominator.is_some(), "numerator", name_span.clone())?;
        let Some(entity) = &d.entity else { return Err(map.error(name_span, codes::MISSING, format!("feature `{name}` needs `entity`"))) };
        let key = self.key_spec(entity, map, schema)?;
        let read_key = match &d.read_entity {
            Some(r) => self.key_spec(r, map, schema)?,
            None => key,
        };
        if self.keys[read_key].parts.len() != self.keys[key].parts.len() {
            let span = d.read_entity.as_ref().map_or(name_span.clone(), |r| r.span());
            return Err(map.error(span, codes::BAD_ENTITY, "`read_entity` must have as many parts as `entity`"));
        }
        let window = match &d.window {
            None => None,
            Some(w) if w.get_ref() == "all" => None,
            Some(w) => Some(parse_span(w, map)?),
        };
        let delay = match &d.delay {
            None => 0,
            Some(s) => parse_span(s, map)?,
        };
        if window.is_none() && delay > 0 {
            return Err(map.error(d.delay.as_ref().unwrap().span(), codes::BAD_SPAN, "a delay needs a finite window"));
        }
        if agg == Aggregate::LastValue && window.is_some() {
            return Err(map.error(
                d.window.as_ref().unwrap().span(),
                codes::UNUSED,
                "`last_value` reads the most recent value; give no window (or `all`)",
            ));
        }
        let bucket = match &d.buckets {
            None => 0,
            Some(b) => {
                if matches!(agg, Aggregate::Min | Aggregate::Max | Aggregate::Distinct | Aggregate::LastValue | Aggregate::TimeSinceLast) {
                    return Err(map.error(b.span(), codes::UNUSED, format!("`{agg_name}` cannot be computed from buckets")));
                }
                parse_span(b, map)?
            }
        };
        // Value.
        let (value, value_type, of_src): (Option<Getter>, Type, String) = if agg.needs_value() {
            let Some(of) = &d.of else { return Err(map.error(agg_span, codes::MISSING, format!("aggregate `{agg_name}` needs `of`"))) };
            let (g, ty) = Getter::compile(of.get_ref(), &of.span(), map, schema)?;
            let numeric = matches!(ty, Type::Int | Type::Decimal | Type::Double | Type::Bool | Type::Dyn);
            if matches!(agg, Aggregate::Sum | Aggregate::Avg | Aggregate::Min | Aggregate::Max) && !numeric {
                return Err(map.error(of.span(), codes::TYPE, format!("`{agg_name}` needs a number; `{}` is {ty}", of.get_ref())));
            }
            (Some(g), ty, of.get_ref().clone())
        } else {
            unused(d.of.is_some(), "of", name_span.clone())?;
            (None, Type::Null, String::new())
        };
        let filter_src = d.filter.as_ref().map(|f| f.get_ref().clone()).unwrap_or_default();
        let filter = match &d.filter {
            None => None,
            Some(f) => {
                let p = compile_expr(f.get_ref(), &f.span(), map, schema)?;
                if !matches!(p.result_type(), Type::Bool | Type::Dyn) {
                    return Err(map.error(f.span(), codes::TYPE, format!("`filter` must be a condition (bool), not {}", p.result_type())));
                }
                Some(p)
            }
        };
        // Features of one entity, filter and bucket share a log; aggregates of a value
        // share it when they read the same value (or when the log has none yet).
        let signature = format!("{}|{}|{}", self.keys[key].text, filter_src, bucket);
        let reads_after = value.as_ref().map_or(0, |v| v.last_feature_read().map_or(0, |i| i + 1));
        let found = self.groups.iter().position(|g| {
            g.signature == signature
                && match (&value, &g.value_src) {
                    (None, _) => true,
                    (Some(_), Some(src)) => *src == of_src,
                    (Some(_), None) => reads_after <= g.first_feature,
                }
        });
        let group = match found {
            Some(g) => {
                if value.is_some() && self.groups[g].value_src.is_none() {
                    self.groups[g].value = value;
                    self.groups[g].value_src = Some(of_src.clone());
                }
                g
            }
            None => {
                let value_src = value.as_ref().map(|_| of_src.clone());
                let first_feature = self.features.len();
                self.groups.push(Group {
                    key,
                    filter,
                    value,
                    value_src,
                    first_feature,
                    shape: LogShape { bucket, ..LogShape::default() },
                    horizon: 0,
                    signature,
                });
                self.groups.len() - 1
            }
        };
        let g = &mut self.groups[group];
        let store_values = matches!(agg, Aggregate::Sum | Aggregate::Avg | Aggregate::Min | Aggregate::Max);
        g.shape.values |= store_values;
        match window {
            Some(w) => {
                g.horizon = g.horizon.max(w + delay);
                g.shape.hashes |= agg == Aggregate::Distinct;
            }
            None => {
                g.shape.all = true;
                g.shape.all_distinct |= agg == Aggregate::Distinct;
                g.shape.last_value |= agg == Aggregate::LastValue;
                g.shape.values |= store_values;
            }
        }
        let int_sum = matches!(value_type, Type::Int | Type::Bool);
        let ty = match agg {
            Aggregate::Count | Aggregate::Distinct => Type::Int,
            Aggregate::Sum => {
                if int_sum {
                    Type::Int
                } else {
                    Type::Decimal
                }
            }
            Aggregate::Avg => Type::Double,
            Aggregate::Min | Aggregate::Max => {
                if int_sum {
                    Type::Int
                } else {
                    Type::Decimal
                }
            }
            Aggregate::FirstSeen | Aggregate::LastSeen => Type::Timestamp,
            Aggregate::TimeSinceLast => Type::Duration,
            Aggregate::LastValue => value_type.clone(),
        };
        let empty = match agg {
            Aggregate::Count | Aggregate::Distinct => OwnedValue::Int(0),
            Aggregate::Sum if d.empty.is_none() => {
                if int_sum {
                    OwnedValue::Int(0)
                } else {
                    OwnedValue::Decimal(mamori_core::Decimal::ZERO)
                }
            }
            _ => self.empty_value(d, &ty, map, &name_span)?,
        };
        let include_current = d.include_current.unwrap_or(agg != Aggregate::TimeSinceLast);
        let window = window.map(|w| (w, delay));
        let slot = match self.slots.iter().position(|s| *s == (group, read_key, window)) {
            Some(s) => s,
            None => {
                self.slots.push((group, read_key, window));
                self.slots.len() - 1
            }
        };
        Ok(Feature { name, ty, kind: Kind::Window { group, read_key, window, slot, agg, include_current, int_sum }, empty, output })
    }

    fn key_spec(&mut self, spec: &toml::Spanned<EntitySpec>, map: &SourceMap<'_>, schema: &dyn Schema) -> Result<usize, ConfigError> {
        let paths: Vec<String> = match spec.get_ref() {
            EntitySpec::Named(n) => match ENTITY_SHORTHANDS.iter().find(|(s, _)| s == n) {
                Some((_, p)) => p.iter().map(|p| format!("event.{p}")).collect(),
                None if n.contains('.') => vec![n.clone()],
                None => {
                    let known: Vec<&str> = ENTITY_SHORTHANDS.iter().map(|(s, _)| *s).collect();
                    let hint = match mamori_core::record::closest(n, known.iter().copied()) {
                        Some(c) => format!("did you mean `{c}`? Entities are "),
                        None => "use one of ".to_string(),
                    };
                    return Err(map.error(
                        spec.span(),
                        codes::BAD_ENTITY,
                        format!("unknown entity `{n}`; {hint}{} or a list of event paths", known.join(", ")),
                    ));
                }
            },
            EntitySpec::Paths(p) => p.clone(),
        };
        let text = paths.join(",");
        if let Some(i) = self.keys.iter().position(|k| k.text == text) {
            return Ok(i);
        }
        let mut parts = Vec::new();
        for p in &paths {
            if !crate::getter::is_plain_path(p) {
                // An expression over the event alone, such as the calendar month of its time:
                // `event.time.getFullYear("Asia/Tokyo") * 100 + event.time.getMonth("Asia/Tokyo")`.
                let (getter, ty) = Getter::compile(p, &spec.span(), map, schema)?;
                if matches!(ty, Type::List(_)) {
                    return Err(map.error(spec.span(), codes::BAD_ENTITY, format!("`{p}` is a list and cannot key an entity")));
                }
                parts.push(getter);
                continue;
            }
            let segs: Vec<&str> = p.split('.').collect();
            match schema.resolve(&segs) {
                Resolution::Field(id, ty) => {
                    if matches!(ty, Type::List(_)) {
                        return Err(map.error(spec.span(), codes::BAD_ENTITY, format!("`{p}` is a list and cannot key an entity")));
                    }
                    parts.push(Getter::Field(id));
                }
                Resolution::Object => {
                    return Err(map.error(spec.span(), codes::BAD_ENTITY, format!("`{p}` is an object; name one of its fields")));
                }
                Resolution::Unknown { suggestion } => {
                    let hint = suggestion.map(|s| format!("; did you mean `{s}`?")).unwrap_or_default();
                    return Err(map.error(spec.span(), codes::BAD_ENTITY, format!("unknown entity path `{p}`{hint}")));
                }
            }
        }
        self.keys.push(KeySpec { parts, text, sources: paths });
        Ok(self.keys.len() - 1)
    }

    fn empty_value(
        &self,
        d: &FeatureDecl,
        ty: &Type,
        map: &SourceMap<'_>,
        span: &std::ops::Range<usize>,
    ) -> Result<OwnedValue, ConfigError> {
        let Some(v) = &d.empty else { return Ok(OwnedValue::Null) };
        let bad = || map.error(span.clone(), codes::EMPTY, format!("`empty = {v}` does not suit a feature of type {ty}"));
        Ok(match (ty, v) {
            (Type::Int, toml::Value::Integer(i)) => OwnedValue::Int(*i),
            (Type::Double, toml::Value::Integer(i)) => OwnedValue::Double(*i as f64),
            (Type::Double, toml::Value::Float(f)) => OwnedValue::Double(*f),
            (Type::Decimal, toml::Value::Integer(i)) => OwnedValue::Decimal((*i).into()),
            (Type::Decimal, toml::Value::String(s)) => OwnedValue::Decimal(s.parse().map_err(|_| bad())?),
            (Type::String, toml::Value::String(s)) => OwnedValue::Str(s.as_str().into()),
            (Type::Bool, toml::Value::Boolean(b)) => OwnedValue::Bool(*b),
            (Type::Duration, toml::Value::String(s)) => OwnedValue::Duration(Span::parse(s).map_err(|_| bad())?),
            (Type::Dyn, toml::Value::Integer(i)) => OwnedValue::Int(*i),
            (Type::Dyn, toml::Value::String(s)) => OwnedValue::Str(s.as_str().into()),
            _ => return Err(bad()),
        })
    }

    /// The schema of the features, for mounting under `features` in rules.
    pub fn schema(&self) -> &StaticSchema {
        &self.schema
    }

    pub fn len(&self) -> usize {
        self.features.len()
    }

    pub fn is_empty(&self) -> bool {
        self.features.is_empty()
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.features.iter().map(|f| f.name.as_str())
    }

    /// Each feature's `description` from the feature file, if it has one.
    pub fn descriptions(&self) -> impl Iterator<Item = Option<&str>> {
        self.descriptions.iter().map(|d| d.as_deref())
    }

    pub fn types(&self) -> impl Iterator<Item = &Type> {
        self.features.iter().map(|f| &f.ty)
    }

    /// Indices of the features written to output.
    pub fn outputs(&self) -> impl Iterator<Item = usize> + '_ {
        self.features.iter().enumerate().filter(|(_, f)| f.output).map(|(i, _)| i)
    }

    /// The distinct (entity, window) pairs this set keeps, for memory accounting.
    pub fn windows_per_group(&self) -> Vec<usize> {
        let mut out = vec![Vec::<Option<(i64, i64)>>::new(); self.groups.len()];
        for f in &self.features {
            if let Kind::Window { group, window, .. } = f.kind
                && !out[group].contains(&window)
            {
                out[group].push(window);
            }
        }
        out.into_iter().map(|v| v.len()).collect()
    }

    pub fn lateness(&self) -> Span {
        Span(self.lateness)
    }

    /// The key specs under which events are added to, or read from, some group: what
    /// [`FeatureSet::entities`] computes.
    fn entity_specs(&self) -> Vec<usize> {
        let mut specs: Vec<usize> = self.groups.iter().map(|g| g.key).collect();
        specs.extend(self.features.iter().filter_map(|f| match f.kind {
            Kind::Window { read_key, .. } => Some(read_key),
            _ => None,
        }));
        self.without_implied(specs)
    }

    /// `specs` sorted, without repeats, and without a spec whose parts include every part
    /// of another spec of the list (the link and calendar month of a charge, beside the
    /// link). Such an entity adds nothing to the entities an event touches: an event has a
    /// key under it only when it also has one under the smaller spec, and two events that
    /// share it share the smaller one too. Dropping it keeps a sweep's union of entities
    /// (one per link, not one per link and month) small.
    fn without_implied(&self, mut specs: Vec<usize>) -> Vec<usize> {
        specs.sort_unstable();
        specs.dedup();
        let covers = |big: usize, small: usize| {
            let (big, small) = (&self.keys[big].sources, &self.keys[small].sources);
            small.len() < big.len() && small.iter().all(|p| big.contains(p))
        };
        let implied: Vec<bool> = specs.iter().map(|&b| specs.iter().any(|&a| covers(b, a))).collect();
        specs.into_iter().zip(implied).filter(|(_, i)| !i).map(|(s, _)| s).collect()
    }

    /// Calls `f` with the key of every entity whose state `event` may touch: the key it is
    /// added under in some group, and the keys of the entities its features read (but not
    /// a key whose parts include all of another's: see `without_implied`). Two
    /// events that name no key in common touch disjoint state (a key names the same entity
    /// in every group that uses it, or two entities that merely share bytes), which is
    /// what lets a sweep split history across threads and still compute every feature
    /// exactly. With a `subset` (of this set), only the entities that
    /// [`Engine::process_subset`] with it may touch. `buf` is scratch. Stops when `f` breaks.
    pub fn entities(
        &self,
        event: &dyn Record,
        subset: Option<&Subset>,
        buf: &mut Vec<u8>,
        mut f: impl FnMut(&[u8]) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        let specs = subset.map_or(&self.entity_specs, |s| &s.entity_specs);
        for spec in specs.iter().copied() {
            buf.clear();
            let mut ok = true;
            for (i, part) in self.keys[spec].parts.iter().enumerate() {
                if i > 0 {
                    buf.push(0x1f);
                }
                ok &= part.with(event, |v| write_key_part(buf, v));
                if !ok {
                    break;
                }
            }
            if ok {
                f(buf)?;
            }
        }
        ControlFlow::Continue(())
    }
}

/// The part of a [`FeatureSet`] that one kind of event needs: the features someone reads
/// (with every feature those depend on) and the groups that can take the event. Made by
/// [`FeatureSet::subset`], used by [`Engine::process_subset`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subset {
    /// Per feature: computed.
    features: Vec<bool>,
    /// Per group: its filter is not ruled out, so it may take the event.
    groups: Vec<bool>,
    /// The key specs of the entities an event's state may touch: those of the groups that
    /// may take it, and those its computed features read.
    entity_specs: Vec<usize>,
}

impl Subset {
    /// Whether feature `i` is computed.
    pub fn computes(&self, i: usize) -> bool {
        self.features.get(i).copied().unwrap_or(false)
    }
}

impl FeatureSet {
    /// What an event needs of this set when its own field `guard.0` (an id of the input
    /// schema) holds `guard.1`, if only the features `wanted` are read: those features,
    /// every feature they are computed from (an expression's inputs, a ratio's two sides,
    /// the other plain aggregates of their window), and every feature read by the filter
    /// or value of a group that can take the event. A group whose filter requires the
    /// guard's field to hold another value (`event.type == "login" && ...` when the event
    /// is a charge) cannot take it and is skipped without evaluating its filter.
    ///
    /// The state after [`Engine::process_subset`] is exactly the state after
    /// [`Engine::process`], and every feature the subset computes has the same value; the
    /// others are left null. Indexes past the last feature are ignored.
    pub fn subset(&self, wanted: impl IntoIterator<Item = usize>, guard: Option<(FieldId, &str)>) -> Subset {
        let groups: Vec<bool> = self
            .groups
            .iter()
            .map(|g| match (&g.filter, guard) {
                (Some(filter), Some((field, value))) => {
                    let field = FieldId::new(0, field.inner());
                    match filter.string_guard() {
                        Some((f, values)) if f == field => values.contains(&value),
                        _ => true,
                    }
                }
                _ => true,
            })
            .collect();
        let n = self.features.len();
        let mut stack: Vec<usize> = wanted.into_iter().filter(|&i| i < n).collect();
        for (g, on) in self.groups.iter().zip(&groups) {
            if *on {
                stack.extend(g.filter.iter().flat_map(|p| feature_reads(p.fields())));
                if let Some(v) = &g.value {
                    stack.extend(v.feature_reads());
                }
            }
        }
        let mut features = vec![false; n];
        while let Some(i) = stack.pop() {
            if std::mem::replace(&mut features[i], true) {
                continue;
            }
            match &self.features[i].kind {
                Kind::Expr(g) => stack.extend(g.feature_reads()),
                Kind::Ratio { num, den } => stack.extend([*num, *den]),
                // A window's plain aggregates are written together, by the first of them.
                Kind::Window { slot, .. } => stack.extend(self.slot_plain[*slot].iter().copied()),
            }
        }
        let mut entity_specs: Vec<usize> = self.groups.iter().zip(&groups).filter(|(_, on)| **on).map(|(g, _)| g.key).collect();
        entity_specs.extend(self.features.iter().zip(&features).filter_map(|(f, on)| match f.kind {
            Kind::Window { read_key, .. } if *on => Some(read_key),
            _ => None,
        }));
        let entity_specs = self.without_implied(entity_specs);
        Subset { features, groups, entity_specs }
    }
}

/// The features (by index) among `fields` of the `event`/`features` schema.
pub(crate) fn feature_reads(fields: &[FieldId]) -> impl Iterator<Item = usize> + '_ {
    fields.iter().filter(|f| f.part() == 1).map(|f| f.inner() as usize)
}

fn valid_name(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(ch) if ch.is_ascii_alphabetic() || ch == '_') && c.all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
}

fn parse_span(s: &toml::Spanned<String>, map: &SourceMap<'_>) -> Result<i64, ConfigError> {
    match Span::parse(s.get_ref()) {
        Ok(v) if v.as_micros() > 0 => Ok(v.as_micros()),
        Ok(_) => Err(map.error(s.span(), codes::BAD_SPAN, "a window, delay or bucket must be longer than zero")),
        Err(e) => Err(map.error(s.span(), codes::BAD_SPAN, e.to_string())),
    }
}

/// The features of one event, in declaration order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeatureVector(pub Vec<OwnedValue>);

impl FeatureVector {
    /// Asks for every cache line of the values without waiting for any: a caller about to
    /// fill (or read) a run of vectors that were last touched on another thread asks for
    /// the next ones while it works on this one. Changes nothing.
    #[inline]
    pub fn prefetch(&self) {
        crate::window::prefetch_slice(&self.0);
    }
}

impl Record for FeatureVector {
    #[inline]
    fn get(&self, field: FieldId) -> Value<'_> {
        self.0.get(field.inner() as usize).map_or(Value::Null, |v| v.as_value())
    }
}

/// What happened to one event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcome {
    /// The event was older than the newest seen minus the lateness: its features were
    /// read from the state as it is, and it did not change the state.
    pub late: bool,
    /// A value overflowed exact arithmetic and was left out of its group.
    pub overflow: bool,
}

/// Counts kept by an engine.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub events: u64,
    pub late: u64,
    pub overflow: u64,
}

/// Entity keys up to this many bytes live inline beside their log.
type Key = smallvec::SmallVec<[u8; 24]>;

/// The entities of one group: a slab of (key, log) found through a hash table of slot
/// numbers, so an event finds its entity with one probe and one read of the slab, and
/// every feature then reads the log by slot.
///
/// A snapshot holds the slab and the free list as they are (so that slot numbers, and the
/// slots later events take, stay the same) and not the table, which is rebuilt from them.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct GroupState {
    #[serde(skip)]
    table: hashbrown::HashTable<u32>,
    #[serde(with = "slab")]
    slots: Vec<(Key, EntityLog)>,
    free: Vec<u32>,
    /// The entities the group's last compaction left: how often it is compacted.
    survivors: u64,
}

/// `#[serde(with)]` for a group's slab: each key as bytes beside its log.
mod slab {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::{EntityLog, Key};
    use crate::snapshot::{ByteBuf, Bytes};

    pub fn serialize<S: Serializer>(slots: &[(Key, EntityLog)], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(slots.iter().map(|(k, log)| (Bytes(k), log)))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(Key, EntityLog)>, D::Error> {
        let v: Vec<(ByteBuf<Key>, EntityLog)> = Deserialize::deserialize(d)?;
        Ok(v.into_iter().map(|(k, log)| (k.0, log)).collect())
    }
}

fn hash_key(k: &[u8]) -> u64 {
    Fixed::default().hash_one(k)
}

impl GroupState {
    fn find(&self, key: &[u8]) -> Option<u32> {
        let slots = &self.slots;
        self.table.find(hash_key(key), |&i| slots[i as usize].0.as_slice() == key).copied()
    }

    /// The slot `key` (whose hash is `hash`) probably has: the first the table offers for
    /// the hash, found without reading any slot's key. For reading ahead only.
    fn probable(&self, hash: u64) -> Option<u32> {
        self.table.find(hash, |_| true).copied()
    }

    fn find_or_insert(&mut self, key: &[u8], shape: LogShape) -> u32 {
        if let Some(i) = self.find(key) {
            return i;
        }
        let slot = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = (Key::from_slice(key), EntityLog::new(shape));
                i
            }
            None => {
                if self.slots.len() == self.slots.capacity() {
                    // Grow by a quarter: a slab of many entities should not double.
                    self.slots.reserve_exact((self.slots.len() / 4).max(64));
                }
                self.slots.push((Key::from_slice(key), EntityLog::new(shape)));
                (self.slots.len() - 1) as u32
            }
        };
        let slots = &self.slots;
        self.table.insert_unique(hash_key(key), slot, |&i| hash_key(&slots[i as usize].0));
        slot
    }

    fn log(&self, slot: u32) -> &EntityLog {
        &self.slots[slot as usize].1
    }

    /// Makes a group read from a snapshot usable: checks its free list and every log it
    /// holds, empties the free slots and rebuilds the table from the others.
    fn restore(&mut self, shape: LogShape, events: u64) -> Result<(), SnapshotError> {
        let bad = |why: &str| SnapshotError::Corrupt(why.to_string());
        if u32::try_from(self.slots.len()).is_err() {
            return Err(bad("a group has more slots than slot numbers"));
        }
        let mut is_free = vec![false; self.slots.len()];
        for &f in &self.free {
            match is_free.get_mut(f as usize) {
                Some(seen @ false) => *seen = true,
                Some(true) => return Err(bad("a slot is free twice")),
                None => return Err(bad("a free slot is out of range")),
            }
        }
        if self.survivors > self.slots.len() as u64 {
            return Err(bad("more entities left by the last compaction than slots"));
        }
        self.table = hashbrown::HashTable::with_capacity(self.slots.len() - self.free.len());
        for (i, free) in is_free.into_iter().enumerate() {
            if free {
                self.slots[i] = (Key::new(), EntityLog::new(LogShape::default()));
                continue;
            }
            let (key, log) = &self.slots[i];
            log.check(shape, events).map_err(bad)?;
            if self.find(key).is_some() {
                return Err(bad("an entity is held twice"));
            }
            let slots = &self.slots;
            self.table.insert_unique(hash_key(key), i as u32, |&j| hash_key(&slots[j as usize].0));
        }
        Ok(())
    }
}

/// The state of an [`Engine`] as a snapshot holds it.
#[derive(serde::Serialize)]
struct StateRef<'a> {
    max_time: i64,
    events: u64,
    late: u64,
    overflow: u64,
    groups: &'a [GroupState],
}

/// [`StateRef`] read back.
#[derive(serde::Deserialize)]
struct State {
    max_time: i64,
    events: u64,
    late: u64,
    overflow: u64,
    groups: Vec<GroupState>,
}

/// Where the current event went in a group.
#[derive(Debug, Clone, Copy)]
struct Placed {
    /// Range of the key bytes in the scratch buffer, when the event updated the group.
    key: Option<(usize, usize)>,
    slot: u32,
    pos: usize,
    value: i128,
}

/// Read slots of one group and entity with finite windows, found together.
#[derive(Debug, Clone)]
struct Family {
    slots: Vec<usize>,
    /// Every window's start and end as (delay, width, which): `which` is `2k` for the
    /// start of the `k`-th slot's window and `2k + 1` for its end, and the bound is the
    /// event's time less the delay, less the width. Ordered by delay plus width, longest
    /// first: for any event, the bounds in ascending order.
    marks: Vec<(i64, i64, usize)>,
}

impl Family {
    fn of(all: &[ReadSlot], slots: Vec<usize>) -> Family {
        let mut marks = Vec::with_capacity(2 * slots.len());
        for (k, &j) in slots.iter().enumerate() {
            let (w, d) = all[j].2.unwrap_or((0, 0));
            marks.push((d, w, 2 * k));
            marks.push((d, 0, 2 * k + 1));
        }
        marks.sort_by_key(|&(d, w, which)| (std::cmp::Reverse(d.saturating_add(w)), which));
        Family { slots, marks }
    }
}

/// What reading ahead found for one event ([`Engine::read_ahead_for`]): the slots of its
/// entities, asked for, and the keys it built, which processing the same event then takes
/// ([`Engine::process_ahead`]) instead of building them again.
#[derive(Debug, Default)]
pub struct Ahead {
    slots: Vec<(usize, u32)>,
    key_buf: Vec<u8>,
    key_ranges: Vec<Option<Option<(usize, usize)>>>,
}

impl Ahead {
    /// (group, slot) of each entity asked for, for [`Engine::prefetch_logs`].
    pub fn slots(&self) -> &[(usize, u32)] {
        &self.slots
    }
}

/// What one event found in one read slot's window.
#[derive(Debug, Clone, Copy)]
struct SlotStats {
    a: usize,
    b: usize,
    count: i64,
    sum: Option<i128>,
}

const NOT_PLACED: Placed = Placed { key: None, slot: 0, pos: 0, value: 0 };

const COMPACT_EVERY: u64 = 1 << 16;

/// Every how many events a group is compacted when its last compaction left `survivors`
/// entities: [`COMPACT_EVERY`] times the power of two above `survivors / COMPACT_EVERY`.
fn compaction_period(survivors: u64) -> u64 {
    COMPACT_EVERY.saturating_mul((survivors / COMPACT_EVERY + 1).checked_next_power_of_two().unwrap_or(u64::MAX))
}

/// The streaming state of a [`FeatureSet`]: feed it events in (roughly) time order.
#[derive(Debug)]
pub struct Engine<'s> {
    set: SetRef<'s>,
    run: Run,
}

/// An [`Engine`]'s state and scratch: everything but its feature set, which its methods
/// are lent, so that an event borrows the set without touching a shared count.
#[derive(Debug)]
struct Run {
    groups: Vec<GroupState>,
    max_time: i64,
    stats: Stats,
    // Per-event scratch.
    key_buf: Vec<u8>,
    key_ranges: Vec<Option<Option<(usize, usize)>>>,
    placed: Vec<Option<Placed>>,
    /// Entities looked up for reading this event: (group, key spec, slot).
    lookups: Vec<(usize, usize, Option<u32>)>,
    /// Per group, the slot of the event's entity when [`Engine::touch`] found it.
    touched: Vec<Option<u32>>,
    /// The slots reading ahead found for this event's entities, as (group, slot): each is
    /// taken once its key is checked ([`Run::touch`]).
    ahead_slots: Vec<(usize, u32)>,
    /// Per read slot, what this event found in its window.
    slot_stats: Vec<Option<SlotStats>>,
    distinct_scratch: hashbrown::HashSet<u64, Fixed>,
    /// Whether the caller asks for its events' state ahead ([`Engine::prefetch_entities`]):
    /// their logs are then on their way when an event comes, and are not read up front
    /// a second time ([`Run::touch`]).
    reads_ahead: bool,
    /// Entities compaction visited, for the tests of its schedule.
    #[cfg(test)]
    visits: u64,
}

/// The feature set an [`Engine`] runs: borrowed, or shared so that the engine can live
/// as long as a service does.
#[derive(Debug, Clone)]
enum SetRef<'s> {
    Borrowed(&'s FeatureSet),
    Shared(std::sync::Arc<FeatureSet>),
}

impl std::ops::Deref for SetRef<'_> {
    type Target = FeatureSet;

    fn deref(&self) -> &FeatureSet {
        match self {
            SetRef::Borrowed(s) => s,
            SetRef::Shared(s) => s,
        }
    }
}

impl Engine<'static> {
    /// An engine that shares ownership of its feature set.
    pub fn shared(set: std::sync::Arc<FeatureSet>) -> Self {
        Engine::with(SetRef::Shared(set))
    }

    /// The engine a [`snapshot`](Engine::snapshot) was taken of, sharing ownership of its
    /// feature set. Refused (never a panic) when `bytes` are not a snapshot, are of
    /// another format version, were made for a feature set with another
    /// [fingerprint](FeatureSet::fingerprint), are cut short, or are damaged.
    pub fn restore(set: Arc<FeatureSet>, bytes: &[u8]) -> Result<Engine<'static>, SnapshotError> {
        Engine::restore_with(SetRef::Shared(set), bytes)
    }
}

impl<'s> Engine<'s> {
    pub fn new(set: &'s FeatureSet) -> Self {
        Engine::with(SetRef::Borrowed(set))
    }

    fn with(set: SetRef<'s>) -> Self {
        let run = Run {
            groups: set.groups.iter().map(|_| GroupState::default()).collect(),
            max_time: i64::MIN,
            stats: Stats::default(),
            key_buf: Vec::with_capacity(256),
            key_ranges: vec![None; set.keys.len()],
            placed: vec![None; set.groups.len()],
            lookups: Vec::with_capacity(8),
            touched: vec![None; set.groups.len()],
            ahead_slots: Vec::new(),
            slot_stats: vec![None; set.slots.len()],
            distinct_scratch: hashbrown::HashSet::with_hasher(Fixed::default()),
            reads_ahead: false,
            #[cfg(test)]
            visits: 0,
        };
        Engine { set, run }
    }

    /// Like [`Engine::restore`], for an engine that borrows its feature set.
    pub fn restore_borrowed(set: &'s FeatureSet, bytes: &[u8]) -> Result<Engine<'s>, SnapshotError> {
        Engine::restore_with(SetRef::Borrowed(set), bytes)
    }

    fn restore_with(set: SetRef<'s>, bytes: &[u8]) -> Result<Engine<'s>, SnapshotError> {
        let payload = snapshot::open(bytes, &set.fingerprint)?;
        let state: State = snapshot::decode(payload)?;
        if state.groups.len() != set.groups.len() {
            return Err(SnapshotError::Corrupt(format!("{} groups, the feature set has {}", state.groups.len(), set.groups.len())));
        }
        if state.late > state.events || state.overflow > state.events.saturating_mul(set.groups.len() as u64) {
            return Err(SnapshotError::Corrupt("counts of late or overflowing events exceed the events".to_string()));
        }
        let mut engine = Engine::with(set);
        for ((g, mut group), into) in state.groups.into_iter().enumerate().zip(engine.run.groups.iter_mut()) {
            group.restore(engine.set.groups[g].shape, state.events)?;
            *into = group;
        }
        engine.run.max_time = state.max_time;
        engine.run.stats = Stats { events: state.events, late: state.late, overflow: state.overflow };
        Ok(engine)
    }

    /// The engine's state as bytes, to [`restore`](Engine::restore) later into an engine
    /// that then behaves exactly as this one would: a header (`MAMORI-ENGINE`, the
    /// [format version](snapshot::FORMAT_VERSION), the feature set's
    /// [fingerprint](FeatureSet::fingerprint), the length and a SHA-256 checksum) and the
    /// state in `postcard`: every entity's log, the free slots, the newest event time and
    /// the counts. Equal states give equal bytes.
    pub fn snapshot(&self) -> Vec<u8> {
        let run = &self.run;
        let state = StateRef {
            max_time: run.max_time,
            events: run.stats.events,
            late: run.stats.late,
            overflow: run.stats.overflow,
            groups: &run.groups,
        };
        snapshot::seal(&self.set.fingerprint, snapshot::encode(&state))
    }

    pub fn stats(&self) -> Stats {
        self.run.stats
    }

    /// Computes the features of `event` (which happened at `time`) into `out` and updates the state.
    pub fn process(&mut self, event: &dyn Record, time: Timestamp, out: &mut FeatureVector) -> Outcome {
        self.run.process_with(&self.set, event, time, out, None, None)
    }

    /// As [`Engine::process`], computing only the features of `subset` (made by this
    /// engine's feature set for this kind of event): the state changes exactly as with
    /// `process`, those features get the same values, and the others are left null.
    pub fn process_subset(&mut self, event: &dyn Record, time: Timestamp, out: &mut FeatureVector, subset: &Subset) -> Outcome {
        self.run.process_with(&self.set, event, time, out, Some(subset), None)
    }

    /// As [`Engine::process`] or [`Engine::process_subset`] (`subset` the same as when read
    /// ahead), taking the entity keys that [`Engine::read_ahead_for`] built for this very
    /// event instead of building them again. `ahead` is left as scratch for the next
    /// reading ahead. The caller answers for `ahead` being this event's: another event's
    /// keys would put this one's features on the wrong entities.
    pub fn process_ahead(
        &mut self,
        event: &dyn Record,
        time: Timestamp,
        out: &mut FeatureVector,
        subset: Option<&Subset>,
        ahead: &mut Ahead,
    ) -> Outcome {
        self.run.process_with(&self.set, event, time, out, subset, Some(ahead))
    }

    /// [`Engine::prefetch_entities`], keeping in `ahead` the keys it builds for the event
    /// (for [`Engine::process_ahead`]) beside the slots it asked for.
    pub fn read_ahead_for(&mut self, event: &dyn Record, subset: Option<&Subset>, ahead: &mut Ahead) {
        self.run.read_ahead_for(&self.set, event, subset, ahead);
    }

    /// Reads ahead for an event a place or two after the one processed next, first step:
    /// asks for the slots of the entities it belongs to (each group's probable one, found
    /// in its table by the key's hash), without waiting for them, and puts them in `slots`
    /// as (group, slot) for [`Engine::prefetch_logs`]. Changes nothing that can be seen; a
    /// slot that is not the entity's after all only costs the memory's time. From then on
    /// the engine counts on being read ahead for: it no longer reads an event's logs up
    /// front before computing its features.
    pub fn prefetch_entities(&mut self, event: &dyn Record, subset: Option<&Subset>, slots: &mut Vec<(usize, u32)>) {
        let mut ahead = Ahead { slots: std::mem::take(slots), ..Ahead::default() };
        self.run.read_ahead_for(&self.set, event, subset, &mut ahead);
        *slots = ahead.slots;
    }

    /// Reads ahead, second step, for an event whose entities' slots were asked for a
    /// little earlier ([`Engine::prefetch_entities`]): asks for their logs' entries,
    /// without waiting for them. Changes nothing.
    pub fn prefetch_logs(&self, slots: &[(usize, u32)]) {
        for &(g, slot) in slots {
            if let Some((_, log)) = self.run.groups.get(g).and_then(|s| s.slots.get(slot as usize)) {
                log.prefetch();
            }
        }
    }

    /// Drops state that no window can reach any more.
    pub fn compact(&mut self) {
        for g in 0..self.run.groups.len() {
            self.run.compact_group(&self.set, g);
        }
    }

    /// Memory the state holds: (bytes, number of (entity, window) pairs).
    pub fn memory(&self) -> (usize, usize) {
        let wins = self.set.windows_per_group();
        let mut bytes = 0;
        let mut pairs = 0;
        for (g, state) in self.run.groups.iter().enumerate() {
            bytes += state.table.capacity() * (std::mem::size_of::<u32>() + 1);
            bytes += state.slots.capacity() * std::mem::size_of::<(Key, EntityLog)>() + state.free.capacity() * 4;
            for &slot in state.table.iter() {
                let (k, log) = &state.slots[slot as usize];
                bytes += if k.spilled() { k.capacity() } else { 0 } + log.heap_bytes();
            }
            pairs += state.table.len() * wins[g];
        }
        (bytes, pairs)
    }

    /// Number of entities held.
    pub fn entities(&self) -> usize {
        self.run.groups.iter().map(|g| g.table.len()).sum()
    }
}

impl Run {
    fn process_with(
        &mut self,
        set: &FeatureSet,
        event: &dyn Record,
        time: Timestamp,
        out: &mut FeatureVector,
        subset: Option<&Subset>,
        keys: Option<&mut Ahead>,
    ) -> Outcome {
        let t = time.as_micros();
        let mut outcome = Outcome::default();
        if self.max_time != i64::MIN && t < self.max_time.saturating_sub(set.lateness) {
            outcome.late = true;
            self.stats.late += 1;
        } else if t > self.max_time {
            self.max_time = t;
        }
        self.stats.events += 1;
        match keys {
            // The keys read ahead built for this event.
            Some(k) if k.key_ranges.len() == self.key_ranges.len() => {
                std::mem::swap(&mut self.key_buf, &mut k.key_buf);
                std::mem::swap(&mut self.key_ranges, &mut k.key_ranges);
                std::mem::swap(&mut self.ahead_slots, &mut k.slots);
            }
            _ => {
                self.key_buf.clear();
                self.key_ranges.iter_mut().for_each(|k| *k = None);
                self.ahead_slots.clear();
            }
        }
        self.placed.iter_mut().for_each(|p| *p = None);
        self.lookups.clear();
        self.slot_stats.iter_mut().for_each(|s| *s = None);
        if out.0.len() != set.features.len() {
            out.0.clear();
            out.0.resize(set.features.len(), OwnedValue::Null);
        }

        self.touch(set, event, subset);
        if let Some(sub) = subset {
            // Groups that cannot take the event, as their filter would say.
            for (p, on) in self.placed.iter_mut().zip(&sub.groups) {
                if !on {
                    *p = Some(NOT_PLACED);
                }
            }
        }
        for (fi, f) in set.features.iter().enumerate() {
            if subset.is_some_and(|sub| !sub.features[fi]) {
                // Mostly null already (from the last event of the type): a read, no write.
                if !matches!(out.0[fi], OwnedValue::Null) {
                    out.0[fi] = OwnedValue::Null;
                }
                continue;
            }
            let v = match &f.kind {
                Kind::Expr(g) => {
                    let rec = CompositeRecord { parts: [event, &*out as &dyn Record] };
                    g.with(&rec, |v| if v.is_null() { f.empty.clone() } else { v.to_owned_value() })
                }
                Kind::Ratio { num, den } => match (out.0[*num].as_value().as_f64(), out.0[*den].as_value().as_f64()) {
                    (Some(n), Some(d)) if d != 0.0 => OwnedValue::Double(n / d),
                    _ => f.empty.clone(),
                },
                Kind::Window { group, read_key, window, slot, agg, include_current, int_sum } => {
                    if self.placed[*group].is_none() {
                        self.place_once(set, *group, event, out, t, &mut outcome);
                    }
                    let plain = &set.slot_plain[*slot];
                    if !plain.is_empty() && plain.contains(&fi) {
                        if plain[0] == fi {
                            self.fill_plain(set, *group, *read_key, *slot, event, t, window.unwrap_or((0, 0)), out);
                        }
                        continue;
                    }
                    self.read(set, *group, *read_key, *slot, event, t, *window, *agg, *include_current, *int_sum, &f.empty)
                }
            };
            out.0[fi] = v;
        }
        // Groups that no feature read still take the event.
        for g in 0..set.groups.len() {
            if self.placed[g].is_none() {
                self.place_once(set, g, event, out, t, &mut outcome);
            }
        }
        if self.stats.events.is_multiple_of(COMPACT_EVERY) {
            self.compact_due(set);
        }
        outcome
    }

    /// Reads, before anything else, every cache line of the logs of the entities this event
    /// belongs to. Their windows are then searched and summed line by line, each read
    /// waiting for the one before when the log is not in the cache (and with many entities
    /// it is not: its lines were last read at the entity's last event). Read first, all at
    /// once, the lines arrive together, in about the time of one. The keys built here are
    /// the ones the groups use next. An engine that is read ahead for only finds the
    /// entities: its caller asked for their logs an event earlier, without waiting.
    fn touch(&mut self, set: &FeatureSet, event: &dyn Record, subset: Option<&Subset>) {
        // Every group's entity first, then every log: the searches do not wait for the
        // logs' lines, nor one log's for another's.
        for (g, group) in set.groups.iter().enumerate() {
            self.touched[g] = None;
            if subset.is_some_and(|sub| !sub.groups[g]) {
                continue;
            }
            if let Some((from, to)) = self.key(set, group.key, event) {
                let key = &self.key_buf[from..to];
                let state = &self.groups[g];
                // The slot reading ahead found, when it holds this key: it was found by the
                // hash alone, events ago, and a slot that was freed since holds no key.
                let ahead = self.ahead_slots.iter().find(|&&(h, _)| h == g).map(|&(_, slot)| slot);
                self.touched[g] = match ahead {
                    Some(slot) if !key.is_empty() && state.slots.get(slot as usize).is_some_and(|(k, _)| k.as_slice() == key) => Some(slot),
                    _ => state.find(key),
                };
            }
        }
        if self.reads_ahead {
            return;
        }
        let mut lines = 0u64;
        for (state, slot) in self.groups.iter().zip(&self.touched) {
            if let Some(slot) = slot {
                lines ^= state.log(*slot).touch();
            }
        }
        // Used, so that the reads are made.
        std::hint::black_box(lines);
    }

    fn read_ahead_for(&mut self, set: &FeatureSet, event: &dyn Record, subset: Option<&Subset>, ahead: &mut Ahead) {
        self.reads_ahead = true;
        let Ahead { slots, key_buf, key_ranges } = ahead;
        slots.clear();
        key_buf.clear();
        key_ranges.clear();
        key_ranges.resize(set.keys.len(), None);
        for (g, group) in set.groups.iter().enumerate() {
            if subset.is_some_and(|sub| !sub.groups[g]) {
                continue;
            }
            // Built as `key` builds it (groups of one key share it).
            let range = *key_ranges[group.key].get_or_insert_with(|| append_key(&set.keys[group.key], event, key_buf));
            let state = &self.groups[g];
            if let Some((a, b)) = range
                && let Some(slot) = state.probable(hash_key(&key_buf[a..b]))
                && let Some(entry) = state.slots.get(slot as usize)
            {
                crate::window::prefetch(&entry.0);
                crate::window::prefetch(&entry.1);
                slots.push((g, slot));
            }
        }
    }

    fn place_once(&mut self, set: &FeatureSet, g: usize, event: &dyn Record, out: &FeatureVector, t: i64, outcome: &mut Outcome) {
        let p = if outcome.late { Some(NOT_PLACED) } else { self.place(set, g, event, out, t) };
        if p.is_none() {
            outcome.overflow = true;
            self.stats.overflow += 1;
        }
        self.placed[g] = Some(p.unwrap_or(NOT_PLACED));
    }

    /// Builds the key of `spec` for this event into the scratch buffer (once per event).
    fn key(&mut self, set: &FeatureSet, spec: usize, event: &dyn Record) -> Option<(usize, usize)> {
        if let Some(k) = self.key_ranges[spec] {
            return k;
        }
        let r = append_key(&set.keys[spec], event, &mut self.key_buf);
        self.key_ranges[spec] = Some(r);
        r
    }

    /// Adds the event to group `g` if it passes the filter. `None` on overflow.
    /// `set` is this engine's feature set (lent by the caller, which holds it already).
    fn place(&mut self, set: &FeatureSet, g: usize, event: &dyn Record, out: &FeatureVector, t: i64) -> Option<Placed> {
        let group = &set.groups[g];
        let rec = CompositeRecord { parts: [event, out as &dyn Record] };
        if let Some(f) = &group.filter
            && !f.eval_bool(&rec)
        {
            return Some(NOT_PLACED);
        }
        let Some(key) = self.key(set, group.key, event) else { return Some(NOT_PLACED) };
        let mut entry = Entry { time: t, value: None, hash: 0, owned: None, null: false };
        if let Some(getter) = &group.value {
            let shape = group.shape;
            getter.with(&rec, |v| {
                if shape.values {
                    entry.value = scaled(v);
                }
                entry.null = v.is_null() || (shape.values && entry.value.is_none());
                if !entry.null {
                    if shape.hashes || shape.all_distinct {
                        entry.hash = hash_value(v);
                    }
                    if shape.last_value {
                        entry.owned = Some(v.to_owned_value());
                    }
                }
            });
        }
        let state = &mut self.groups[g];
        // Found already when the entity has a log; nothing changed the group's table since.
        let slot = match self.touched[g] {
            Some(slot) => slot,
            None => state.find_or_insert(&self.key_buf[key.0..key.1], group.shape),
        };
        let log = &mut state.slots[slot as usize].1;
        let pos = match log.add(&entry, group.shape.bucket) {
            Ok(p) => p,
            Err(AddError::Overflow) => return None,
        };
        let value = entry.value.map_or(0, |s| s.mantissa * 10i128.pow(log.scale() - s.scale));
        let cutoff = evict_cutoff(self.max_time, set.lateness, group.horizon);
        let evicted = log.evict_through(cutoff);
        Some(Placed { key: Some(key), slot, pos: pos.saturating_sub(evicted), value })
    }

    /// The slot of the entity `read_key` names in group `g`, looked up once per event.
    fn lookup(&mut self, g: usize, read_key: usize, rk: (usize, usize)) -> Option<u32> {
        if let Some(&(_, _, slot)) = self.lookups.iter().find(|(gg, k, _)| *gg == g && *k == read_key) {
            return slot;
        }
        let slot = self.groups[g].find(&self.key_buf[rk.0..rk.1]);
        self.lookups.push((g, read_key, slot));
        slot
    }

    /// The entity of group `g` that `read_key` names for this event: whether it is the one
    /// the event was just added to, and its slot. `None` when the event has no such key or
    /// the entity has no state.
    fn entity(&mut self, set: &FeatureSet, g: usize, read_key: usize, event: &dyn Record) -> Option<(bool, u32)> {
        let placed = self.placed[g].unwrap_or(NOT_PLACED);
        // The common case: the feature reads the entity the event was just added to.
        if placed.key.is_some() && read_key == set.groups[g].key {
            return Some((true, placed.slot));
        }
        let rk = self.key(set, read_key, event)?;
        if placed.key.is_some_and(|(a, b)| self.key_buf[a..b] == self.key_buf[rk.0..rk.1]) {
            return Some((true, placed.slot));
        }
        self.lookup(g, read_key, rk).map(|slot| (false, slot))
    }

    /// Computes a read slot's window once and writes all its plain features; `set` is this
    /// engine's feature set, lent by the caller.
    #[allow(clippy::too_many_arguments)]
    fn fill_plain(
        &mut self,
        set: &FeatureSet,
        g: usize,
        read_key: usize,
        slot_id: usize,
        event: &dyn Record,
        t: i64,
        (w, d): (i64, i64),
        out: &mut FeatureVector,
    ) {
        let slot = self.entity(set, g, read_key, event).map(|(_, slot)| slot);
        let plain = &set.slot_plain[slot_id];
        let Some(slot) = slot else {
            for &i in plain {
                out.0[i] = set.features[i].empty.clone();
            }
            return;
        };
        let log = self.groups[g].log(slot);
        let SlotStats { a, b, count: n, sum } = window_stats(set, slot_id, log, t, (w, d), set.slot_sums[slot_id], &mut self.slot_stats);
        let scale = log.scale();
        for &i in plain {
            let f = &set.features[i];
            let Kind::Window { agg, int_sum, .. } = f.kind else { continue };
            // Each value written straight into its place: a value chosen among the arms
            // is first made on the stack, and copying it from there waits for the stores
            // that made it.
            let slot = &mut out.0[i];
            match (agg, sum) {
                _ if n <= 0 => *slot = f.empty.clone(),
                (Aggregate::Count, _) => *slot = OwnedValue::Int(n),
                (Aggregate::Sum, Some(total)) => {
                    *slot = if int_sum && scale == 0 {
                        i64::try_from(total).map_or(OwnedValue::Null, OwnedValue::Int)
                    } else {
                        Scaled { mantissa: total, scale }.to_decimal().map_or(OwnedValue::Null, OwnedValue::Decimal)
                    }
                }
                (Aggregate::Avg, Some(total)) => {
                    let k = log.value_count(a, b, None);
                    if k == 0 {
                        *slot = f.empty.clone();
                    } else {
                        *slot = OwnedValue::Double(Scaled { mantissa: total, scale }.over(k));
                    }
                }
                _ => *slot = f.empty.clone(),
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn read(
        &mut self,
        set: &FeatureSet,
        g: usize,
        read_key: usize,
        slot_id: usize,
        event: &dyn Record,
        t: i64,
        window: Option<(i64, i64)>,
        agg: Aggregate,
        include_current: bool,
        int_sum: bool,
        empty: &OwnedValue,
    ) -> OwnedValue {
        let placed = self.placed[g].unwrap_or(NOT_PLACED);
        let Some((same, slot)) = self.entity(set, g, read_key, event) else { return empty.clone() };
        let skip = if same && !include_current { Some(placed.pos) } else { None };
        let log = self.groups[g].log(slot);
        let scale = log.scale();
        let dec = |m: i128| -> OwnedValue {
            if int_sum && scale == 0 {
                i64::try_from(m).map_or(OwnedValue::Null, OwnedValue::Int)
            } else {
                Scaled { mantissa: m, scale }.to_decimal().map_or(OwnedValue::Null, OwnedValue::Decimal)
            }
        };
        match window {
            Some((w, d)) => {
                let st = window_stats(set, slot_id, log, t, (w, d), false, &mut self.slot_stats);
                let (a, b) = (st.a, st.b);
                let n = st.count - i64::from(matches!(skip, Some(p) if p >= a && p < b));
                if n <= 0 {
                    return empty.clone();
                }
                let mut sum = || -> i128 {
                    let raw = match self.slot_stats[slot_id].and_then(|s| s.sum) {
                        Some(v) => v,
                        None => {
                            let v = log.raw_sum(a, b);
                            if let Some(s) = self.slot_stats[slot_id].as_mut() {
                                s.sum = Some(v);
                            }
                            v
                        }
                    };
                    raw - log.skipped_value(a, b, skip, placed.value)
                };
                match agg {
                    Aggregate::Count => OwnedValue::Int(n),
                    Aggregate::Sum => dec(sum()),
                    Aggregate::Avg => {
                        let total = sum();
                        let k = log.value_count(a, b, skip);
                        if k == 0 {
                            return empty.clone();
                        }
                        OwnedValue::Double(Scaled { mantissa: total, scale }.over(k))
                    }
                    Aggregate::Min | Aggregate::Max => match log.min_max(a, b, skip) {
                        Some((lo, hi)) => dec(if agg == Aggregate::Min { lo } else { hi }),
                        None => empty.clone(),
                    },
                    Aggregate::Distinct => OwnedValue::Int(log.distinct(a, b, skip, &mut self.distinct_scratch)),
                    Aggregate::FirstSeen => {
                        let i = if skip == Some(a) { a + 1 } else { a };
                        if i < b { OwnedValue::Timestamp(Timestamp(log.time(i))) } else { empty.clone() }
                    }
                    Aggregate::LastSeen | Aggregate::TimeSinceLast => {
                        let mut i = b;
                        while i > a {
                            i -= 1;
                            if Some(i) != skip {
                                let lt = log.time(i);
                                return if agg == Aggregate::LastSeen {
                                    OwnedValue::Timestamp(Timestamp(lt))
                                } else {
                                    OwnedValue::Duration(Span(t - lt))
                                };
                            }
                        }
                        empty.clone()
                    }
                    Aggregate::LastValue => empty.clone(),
                }
            }
            None => {
                // All time: what has left the log, plus an exact scan of what it holds up to t.
                let Some(acc) = log.all() else { return empty.clone() };
                let (_, b) = log.range(i64::MIN, t);
                let n = acc.count + log.count(0, b, skip);
                if n <= 0 {
                    return empty.clone();
                }
                let last_entry = |want_value: bool| (0..b).rev().find(|&i| Some(i) != skip && !(want_value && log.null_at(i)));
                match agg {
                    Aggregate::Count => OwnedValue::Int(n),
                    Aggregate::Sum => dec(acc.sum + log.sum(0, b, skip, placed.value)),
                    Aggregate::Avg => {
                        let k = acc.count - acc.nulls + log.value_count(0, b, skip);
                        if k <= 0 {
                            return empty.clone();
                        }
                        OwnedValue::Double(Scaled { mantissa: acc.sum + log.sum(0, b, skip, placed.value), scale }.over(k))
                    }
                    Aggregate::Min | Aggregate::Max => {
                        let recent = log.min_max(0, b, skip);
                        let lo = match (acc.min, recent) {
                            (Some(x), Some((y, _))) => Some(x.min(y)),
                            (x, r) => x.or(r.map(|r| r.0)),
                        };
                        let hi = match (acc.max, recent) {
                            (Some(x), Some((_, y))) => Some(x.max(y)),
                            (x, r) => x.or(r.map(|r| r.1)),
                        };
                        match if agg == Aggregate::Min { lo } else { hi } {
                            Some(v) => dec(v),
                            None => empty.clone(),
                        }
                    }
                    Aggregate::Distinct => {
                        let old = acc.distinct.as_ref();
                        self.distinct_scratch.clear();
                        for i in 0..b {
                            if Some(i) == skip || log.null_at(i) {
                                continue;
                            }
                            if let Some(h) = log.hash_at(i)
                                && !old.is_some_and(|s| s.contains(&h))
                            {
                                self.distinct_scratch.insert(h);
                            }
                        }
                        OwnedValue::Int(old.map_or(0, |s| s.len() as i64) + self.distinct_scratch.len() as i64)
                    }
                    Aggregate::FirstSeen => {
                        let recent = (0..b).find(|&i| Some(i) != skip).map(|i| log.time(i));
                        match acc.first.or(recent) {
                            Some(f) => OwnedValue::Timestamp(Timestamp(f)),
                            None => empty.clone(),
                        }
                    }
                    Aggregate::LastSeen | Aggregate::TimeSinceLast => {
                        let last = last_entry(false).map(|i| log.time(i)).or(acc.last);
                        match last {
                            Some(lt) if agg == Aggregate::LastSeen => OwnedValue::Timestamp(Timestamp(lt)),
                            Some(lt) => OwnedValue::Duration(Span(t - lt)),
                            None => empty.clone(),
                        }
                    }
                    Aggregate::LastValue => {
                        let v = match last_entry(true) {
                            Some(i) => log.owned_at(i).cloned().unwrap_or_default(),
                            None => acc.last_value.clone(),
                        };
                        if v.is_null() { empty.clone() } else { v }
                    }
                }
            }
        }
    }

    /// Compacts the groups that are due, every [`COMPACT_EVERY`] events. Compacting visits
    /// every entity of a group, so a group is compacted once in about as many events as its
    /// last compaction left entities (a power of two times [`COMPACT_EVERY`] above that
    /// number): the visits cost a few per event at most, however many entities there are,
    /// and entities no window reaches any more stay at most about as many events as that.
    /// (The period is not taken from the entities held now: those no window reaches would
    /// lengthen it, and so keep themselves.) The schedule depends on the events alone, so a
    /// restored engine keeps it.
    fn compact_due(&mut self, set: &FeatureSet) {
        let n = self.stats.events;
        for g in 0..self.groups.len() {
            if n.is_multiple_of(compaction_period(self.groups[g].survivors)) {
                self.compact_group(set, g);
            }
        }
    }

    fn compact_group(&mut self, set: &FeatureSet, g: usize) {
        let state = &mut self.groups[g];
        let group = &set.groups[g];
        let cutoff = evict_cutoff(self.max_time, set.lateness, group.horizon);
        let GroupState { table, slots, free, survivors } = state;
        #[cfg(test)]
        {
            self.visits += table.len() as u64;
        }
        let before = free.len();
        table.retain(|slot| {
            let log = &mut slots[*slot as usize].1;
            log.evict_through(cutoff);
            if log.is_empty() {
                slots[*slot as usize] = (Key::new(), EntityLog::new(LogShape::default()));
                free.push(*slot);
                false
            } else {
                log.shrink_if_sparse();
                true
            }
        });
        // Freed in slot order, lowest taken first, whatever order the table holds them
        // in: the state stays a function of the events alone, so a restored engine
        // (whose table is rebuilt) reuses the same slots as the one snapshotted.
        free[before..].sort_unstable_by(|a, b| b.cmp(a));
        *survivors = table.len() as u64;
    }
}

/// What read slot `slot_id` finds in `log`'s window `(w, d)` for an event at `t`, kept in
/// `stats` for the event's other features: found once, with the windows of the slot's
/// family ([`FeatureSet::slot_family`]) in one pass where the log allows, or alone, its
/// sum only `with_sum` (added later for a reader that needs it when an earlier one did
/// not).
#[inline]
fn window_stats(
    set: &FeatureSet,
    slot_id: usize,
    log: &EntityLog,
    t: i64,
    window: (i64, i64),
    with_sum: bool,
    stats: &mut [Option<SlotStats>],
) -> SlotStats {
    match stats[slot_id] {
        // Found with its family's, or by a reader that did not need the sum.
        Some(st) if !with_sum || st.sum.is_some() || st.count <= 0 => st,
        _ => window_stats_found(set, slot_id, log, t, window, with_sum, stats),
    }
}

/// [`window_stats`] for a slot whose window this event has not found yet (or found without
/// the sum it now needs).
#[inline(never)]
fn window_stats_found(
    set: &FeatureSet,
    slot_id: usize,
    log: &EntityLog,
    t: i64,
    (w, d): (i64, i64),
    with_sum: bool,
    stats: &mut [Option<SlotStats>],
) -> SlotStats {
    if let Some(mut st) = stats[slot_id] {
        // Found by a reader that did not need the sum.
        st.sum = Some(log.raw_sum(st.a, st.b));
        stats[slot_id] = Some(st);
        return st;
    }
    if let Some(family) = &set.slot_family[slot_id] {
        let mut marks = [(0, 0); 2 * MAX_FAMILY];
        for (m, &(d, w, which)) in marks.iter_mut().zip(&family.marks) {
            *m = (t.saturating_sub(d).saturating_sub(w), which);
        }
        let mut found = [(0, 0, 0); MAX_FAMILY];
        if log.ranges_and_sums(&marks[..family.marks.len()], &mut found) {
            for (&j, &(a, b, sum)) in family.slots.iter().zip(&found) {
                stats[j] = Some(SlotStats { a, b, count: (b - a) as i64, sum: Some(sum) });
            }
            if let Some(st) = stats[slot_id] {
                return st;
            }
        }
    }
    let to = t.saturating_sub(d);
    let from = to.saturating_sub(w);
    let (a, b) = log.range(from, to);
    let count = log.count(a, b, None);
    let sum = if with_sum && count > 0 { Some(log.raw_sum(a, b)) } else { None };
    let st = SlotStats { a, b, count, sum };
    stats[slot_id] = Some(st);
    st
}

/// Entries at or before this time can be read by no event any more: an event is read at
/// a time no earlier than the newest minus the lateness, over windows no longer than the
/// horizon, and an entry at exactly that earliest time may still be the event being read
/// (which `include_current = false` must be able to leave out).
fn evict_cutoff(max_time: i64, lateness: i64, horizon: i64) -> i64 {
    max_time.saturating_sub(lateness).saturating_sub(horizon).saturating_sub(1)
}

/// Appends the event's key of `spec` to `buf` and gives its range there; `None`, with
/// nothing appended, when the event has no such key ([`write_key`]).
fn append_key(spec: &KeySpec, event: &dyn Record, buf: &mut Vec<u8>) -> Option<(usize, usize)> {
    let start = buf.len();
    if write_key(spec, event, buf) {
        Some((start, buf.len()))
    } else {
        buf.truncate(start);
        None
    }
}

/// Appends the event's key of `spec` to `buf`, its parts apart by 0x1f; `false` when the
/// event has no such key (a part is null), with what was appended left for the caller.
fn write_key(spec: &KeySpec, event: &dyn Record, buf: &mut Vec<u8>) -> bool {
    for (i, part) in spec.parts.iter().enumerate() {
        if i > 0 {
            buf.push(0x1f);
        }
        if !part.with(event, |v| write_key_part(buf, v)) {
            return false;
        }
    }
    true
}

pub(crate) fn write_key_part(buf: &mut Vec<u8>, v: Value<'_>) -> bool {
    match v {
        Value::Null => return false,
        Value::Str(s) => buf.extend_from_slice(s.as_bytes()),
        Value::Int(i) => buf.extend_from_slice(itoa::Buffer::new().format(i).as_bytes()),
        Value::Bool(b) => buf.extend_from_slice(if b { b"true" } else { b"false" }),
        Value::Decimal(d) => buf.extend_from_slice(d.normalize().to_string().as_bytes()),
        Value::Double(d) => buf.extend_from_slice(ryu::Buffer::new().format(d).as_bytes()),
        Value::Timestamp(t) => buf.extend_from_slice(itoa::Buffer::new().format(t.as_micros()).as_bytes()),
        Value::Duration(s) => buf.extend_from_slice(itoa::Buffer::new().format(s.as_micros()).as_bytes()),
        Value::StrList(_) => return false,
    }
    true
}

pub(crate) fn scaled(v: Value<'_>) -> Option<Scaled> {
    match v {
        Value::Int(i) => Some(Scaled::from_int(i)),
        Value::Decimal(d) => Some(Scaled::from_decimal(d)),
        Value::Bool(b) => Some(Scaled::from_int(i64::from(b))),
        Value::Double(f) => mamori_core::Decimal::from_f64_retain(f).map(|d| Scaled::from_decimal(d.normalize())),
        _ => None,
    }
}

fn hash_value(v: Value<'_>) -> u64 {
    let mut h = Fixed::default().build_hasher();
    match v {
        Value::Str(s) => h.write(s.as_bytes()),
        Value::Decimal(d) => h.write(d.normalize().to_string().as_bytes()),
        other => h.write(other.to_string().as_bytes()),
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use mamori_core::{OwnedValue, StaticSchema, Timestamp, Type, VecRecord};

    use super::*;

    const TEXT: &str = r#"
[[feature]]
name = "n"
entity = "event.customer"
aggregate = "count"
window = "1h"

[[feature]]
name = "last"
entity = "event.customer"
aggregate = "last_value"
of = "event.amount"
"#;

    /// `n` events a second apart, each of a new customer, through a count over `window`.
    /// Returns the entities held every 16,384 events and the entities compaction visited.
    fn new_customer_every_second(window: &str, n: u64) -> (Vec<usize>, u64) {
        let text = format!("[[feature]]\nname = \"n\"\nentity = \"event.customer\"\naggregate = \"count\"\nwindow = \"{window}\"\n");
        let schema = StaticSchema::new([("customer", Type::String), ("amount", Type::Decimal)]);
        let set = crate::load("t.toml", &text, &schema).unwrap().1;
        let mut e = Engine::new(&set);
        let mut out = FeatureVector::default();
        let mut held = Vec::new();
        for i in 0..n {
            let rec = VecRecord(vec![OwnedValue::Str(format!("c{i}").into()), OwnedValue::Null]);
            e.process(&rec, Timestamp(1_767_225_600_000_000 + i as i64 * 1_000_000), &mut out);
            if (i + 1).is_multiple_of(COMPACT_EVERY / 4) {
                held.push(e.run.groups[0].table.len());
            }
        }
        (held, e.run.visits)
    }

    /// Many entities that stay: compaction visits each of them about once per as many
    /// events as there are of them, not every 65,536 events (which made a sweep of 2
    /// million links spend a fifth of its replay compacting).
    #[test]
    fn compacting_many_entities_costs_a_few_visits_per_event() {
        let n = 9 * COMPACT_EVERY;
        let (held, visits) = new_customer_every_second("30d", n);
        assert_eq!(held.last().copied(), Some(n as usize));
        assert!(visits <= 2 * n, "{visits} entities visited for {n} events");
    }

    /// Entities no window reaches any more are dropped within about as many events as the
    /// last compaction left entities, even while new ones keep coming.
    #[test]
    fn entities_that_expire_are_dropped_while_new_ones_come() {
        let (held, _) = new_customer_every_second("1m", 400_000);
        let most = held.iter().copied().max().unwrap_or(0);
        assert!(most <= COMPACT_EVERY as usize + 61, "held up to {most} entities: {held:?}");
    }

    #[test]
    fn the_compaction_period_grows_by_powers_of_two() {
        let p: Vec<u64> = [0, 65_535, 65_536, 131_071, 131_072, 2_000_000, u64::MAX].into_iter().map(compaction_period).collect();
        assert_eq!(p, [1 << 16, 1 << 16, 1 << 17, 1 << 17, 1 << 18, 1 << 21, u64::MAX]);
    }

    fn set() -> FeatureSet {
        let schema = StaticSchema::new([("customer", Type::String), ("amount", Type::Decimal)]);
        crate::load("t.toml", TEXT, &schema).unwrap().1
    }

    /// An engine that has seen three customers.
    fn engine(set: &FeatureSet) -> Engine<'_> {
        let mut e = Engine::new(set);
        let mut out = FeatureVector::default();
        for (i, c) in ["a", "b", "c", "a"].into_iter().enumerate() {
            let rec = VecRecord(vec![OwnedValue::Str(c.into()), OwnedValue::Decimal(mamori_core::Decimal::new(i as i64 * 15, 1))]);
            e.process(&rec, Timestamp(1_767_225_600_000_000 + i as i64 * 1_000_000), &mut out);
        }
        e
    }

    fn refused(e: &Engine<'_>) -> String {
        match Engine::restore_borrowed(&e.set, &e.snapshot()) {
            Err(SnapshotError::Corrupt(why)) => why,
            Err(other) => panic!("{other}"),
            Ok(_) => panic!("restored"),
        }
    }

    #[test]
    fn free_slots_are_checked() {
        let set = set();
        let mut e = engine(&set);
        e.run.groups[0].free.push(7);
        assert_eq!(refused(&e), "a free slot is out of range");
        e.run.groups[0].free = vec![1, 1];
        assert_eq!(refused(&e), "a slot is free twice");
        // A free slot's contents are not read: it comes back empty.
        e.run.groups[0].free = vec![1];
        e.run.groups[0].table.retain(|s| *s != 1);
        let r = Engine::restore_borrowed(&set, &e.snapshot()).unwrap();
        assert_eq!(r.entities(), 2);
        assert!(r.run.groups[0].slots[1].0.is_empty() && r.run.groups[0].slots[1].1.is_empty());
    }

    #[test]
    fn keys_are_unique() {
        let set = set();
        let mut e = engine(&set);
        e.run.groups[0].slots[1].0 = Key::from_slice(b"a");
        assert_eq!(refused(&e), "an entity is held twice");
    }

    #[test]
    fn logs_are_checked_against_their_group() {
        let set = set();
        let mut e = engine(&set);
        let shape = set.groups[0].shape;
        let other = LogShape { last_value: !shape.last_value, ..shape };
        e.run.groups[0].slots[0].1 = EntityLog::new(other);
        assert_eq!(refused(&e), "a log's columns do not match its group or its times");
        e.run.groups[0].slots[0].1 = EntityLog::new(shape);
        assert!(Engine::restore_borrowed(&set, &e.snapshot()).is_ok());
    }

    #[test]
    fn the_counts_bound_the_events_held() {
        let set = set();
        let mut e = engine(&set);
        e.run.stats.events = 1;
        assert_eq!(refused(&e), "a log holds more events than the engine has seen");
        e.run.stats = Stats { events: 4, late: 5, overflow: 0 };
        assert_eq!(refused(&e), "counts of late or overflowing events exceed the events");
    }
}
