//! A ruleset: every pack compiled, checked and ready to decide.

use std::collections::HashMap;
use std::sync::Arc;

use mamori_core::{FieldId, Record, Schema};
use mamori_expr::{Diagnostic, Program};
use sha2::{Digest, Sha256};

use crate::codes;
use crate::decision::{Action, Decision, Reason};
use crate::error::RuleError;
use crate::pack::{PackDef, Reader, StrVal, Thresholds};
use crate::template::Template;

/// One rule-pack file: its name (the path, used in error messages) and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackSource {
    pub name: String,
    pub text: String,
}

impl PackSource {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        PackSource { name: name.into(), text: text.into() }
    }
}

#[derive(Debug)]
struct Rule {
    id: String,
    pack: usize,
    description: String,
    when_src: String,
    when: Program,
    score: i64,
    action: Action,
    reason: Template,
    shadow: bool,
}

/// A circuit breaker of a rule pack: once one of its `trips_on` rules fires (and acts)
/// for an event, every later event with the same key that `holds` matches is held, until
/// an operator releases that key. The ruleset only describes breakers; their state (what
/// is tripped, what was released) belongs to whoever runs the events in order.
#[derive(Debug)]
pub struct Breaker {
    pub id: String,
    pub description: String,
    pub trips_on: Vec<String>,
    /// The key's expressions as written (`event.institution`, `event.asset`).
    pub key_src: Vec<String>,
    pub holds_src: String,
    key: Vec<Program>,
    holds: Program,
}

impl Breaker {
    /// The key this event falls under (`None` if a part is missing).
    pub fn key(&self, rec: &dyn Record) -> Option<Vec<String>> {
        self.key.iter().map(|p| key_text(&p.eval(rec))).collect()
    }

    /// Whether a tripped breaker holds this event.
    pub fn holds(&self, rec: &dyn Record) -> bool {
        self.holds.eval_bool(rec)
    }

    /// The first acting reason of `d` that trips this breaker.
    pub fn tripped_by<'d>(&self, d: &'d Decision) -> Option<&'d crate::Reason> {
        d.reasons.iter().find(|r| self.trips_on.contains(&r.rule))
    }
}

fn key_text(v: &mamori_core::OwnedValue) -> Option<String> {
    use mamori_core::Value;
    Some(match v.as_value() {
        Value::Null => return None,
        Value::Str(s) => s.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Decimal(d) => d.normalize().to_string(),
        Value::Timestamp(t) => t.to_rfc3339(),
        other => format!("{other:?}"),
    })
}

/// A pack as the ruleset keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackInfo {
    pub name: String,
    pub description: String,
    /// The file it was read from.
    pub source: String,
    pub thresholds: Thresholds,
}

/// A rule as [`Ruleset::rules`] lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleInfo<'a> {
    pub id: &'a str,
    pub pack: &'a str,
    pub description: &'a str,
    pub when: &'a str,
    pub score: i64,
    pub action: Action,
    pub shadow: bool,
}

/// Rules grouped by the string one field must hold for them to fire (most rules begin
/// with `event.type == "..."`), so an event is tested only against the rules that can
/// fire for it.
#[derive(Debug, Default)]
struct Index {
    field: Option<FieldId>,
    by_value: foldhash::HashMap<Box<str>, Vec<u32>>,
    /// Rules that any event may fire.
    always: Vec<u32>,
}

impl Index {
    fn build(rules: &[Rule]) -> Index {
        let guards: Vec<Option<(FieldId, Vec<&str>)>> = rules.iter().map(|r| r.when.string_guard()).collect();
        let mut counts: Vec<(FieldId, usize)> = Vec::new();
        for (f, _) in guards.iter().flatten() {
            match counts.iter_mut().find(|(g, _)| g == f) {
                Some((_, n)) => *n += 1,
                None => counts.push((*f, 1)),
            }
        }
        let Some(field) = counts.iter().max_by_key(|(f, n)| (*n, std::cmp::Reverse(*f))).map(|(f, _)| *f) else {
            return Index { field: None, by_value: Default::default(), always: (0..rules.len() as u32).collect() };
        };
        let mut ix = Index { field: Some(field), ..Default::default() };
        for (i, g) in guards.iter().enumerate() {
            match g {
                Some((f, keys)) if *f == field => {
                    for k in keys {
                        let list = ix.by_value.entry(Box::from(*k)).or_default();
                        if list.last() != Some(&(i as u32)) {
                            list.push(i as u32);
                        }
                    }
                }
                _ => ix.always.push(i as u32),
            }
        }
        ix
    }
}

/// Compiled rule packs. Evaluating one event reads its fields through a [`Record`] and
/// allocates nothing unless a rule fires.
#[derive(Debug)]
pub struct Ruleset {
    packs: Vec<PackInfo>,
    rules: Vec<Rule>,
    breakers: Vec<Breaker>,
    index: Index,
    thresholds: Thresholds,
    id: Arc<str>,
    fields: Vec<FieldId>,
}

impl Ruleset {
    /// Parses, checks and compiles every pack against `schema`. Returns every error found
    /// in every pack (in file order), or the ruleset.
    ///
    /// Packs are ordered by name, so the order of `sources` changes neither the
    /// decisions nor the ruleset id. A pack's thresholds apply to the total score of a
    /// decision; when several packs set one, the lowest applies.
    pub fn compile(sources: &[PackSource], schema: &dyn Schema) -> Result<Ruleset, Vec<RuleError>> {
        let mut errors: Vec<(usize, RuleError)> = Vec::new();
        let mut defs: Vec<(usize, PackDef)> = Vec::new();
        for (i, src) in sources.iter().enumerate() {
            let mut errs = Vec::new();
            let def = Reader { file: &src.name, text: &src.text, errors: &mut errs }.pack();
            errors.extend(errs.into_iter().map(|e| (i, e)));
            if let Some(d) = def {
                defs.push((i, d));
            }
        }
        defs.sort_by(|a, b| a.1.name.cmp(&b.1.name).then(a.0.cmp(&b.0)));

        let mut push = |i: usize, span: std::ops::Range<usize>, code: &'static str, msg: String, help: Option<String>| {
            let s = &sources[i];
            errors.push((i, RuleError::new(&s.name, &s.text, span, code, msg, help)));
        };
        let mut pack_names: HashMap<&str, (usize, usize)> = HashMap::new();
        let mut ids: HashMap<&str, (usize, usize)> = HashMap::new();
        let mut packs = Vec::new();
        let mut rules = Vec::new();
        let mut thresholds = Thresholds::default();
        for (i, def) in &defs {
            let src = &sources[*i];
            if !def.name.is_empty()
                && let Some((fi, at)) = pack_names.insert(&def.name, (*i, def.name_span.start))
            {
                let (l, c) = mamori_expr::line_col(&sources[fi].text, at);
                push(
                    *i,
                    def.name_span.clone(),
                    codes::DUPLICATE_PACK,
                    format!("a pack named {:?} is already loaded", def.name),
                    Some(format!("first named at {}:{l}:{c}", sources[fi].name)),
                );
            }
            thresholds = thresholds.join(def.thresholds);
            let pack = packs.len();
            packs.push(PackInfo {
                name: def.name.clone(),
                description: def.description.clone(),
                source: src.name.clone(),
                thresholds: def.thresholds,
            });
            for r in &def.rules {
                if let Some((fi, at)) = ids.insert(&r.id, (*i, r.id_span.start)) {
                    let (l, c) = mamori_expr::line_col(&sources[fi].text, at);
                    push(
                        *i,
                        r.id_span.clone(),
                        codes::DUPLICATE_RULE_ID,
                        format!("rule id {:?} is already used", r.id),
                        Some(format!("first defined at {}:{l}:{c}", sources[fi].name)),
                    );
                }
                let when = mamori_expr::compile_bool(&r.when.text, schema);
                let reason = match &r.reason {
                    Some(t) => Template::compile(&t.text, schema),
                    None => Ok(Template::default()),
                };
                let mut expr_errors = |ds: Vec<Diagnostic>, at: &StrVal| {
                    for d in ds {
                        push(*i, at.map(&d.span), d.code, d.message, d.help);
                    }
                };
                let (when, reason) = match (when, reason) {
                    (Ok(w), Ok(t)) => (w, t),
                    (w, t) => {
                        if let Err(ds) = w {
                            expr_errors(ds, &r.when);
                        }
                        if let (Err(ds), Some(at)) = (t, &r.reason) {
                            expr_errors(ds, at);
                        }
                        continue;
                    }
                };
                rules.push(Rule {
                    id: r.id.clone(),
                    pack,
                    description: r.description.clone(),
                    when_src: r.when.text.clone(),
                    when,
                    score: r.score,
                    action: r.action,
                    reason,
                    shadow: r.shadow,
                });
            }
        }
        // Breakers, once every rule id is known.
        let mut breakers = Vec::new();
        let mut breaker_ids: HashMap<&str, ()> = HashMap::new();
        for (i, def) in &defs {
            for b in &def.breakers {
                if breaker_ids.insert(&b.id, ()).is_some() {
                    push(*i, b.id_span.clone(), codes::BAD_BREAKER, format!("breaker id {:?} is already used", b.id), None);
                }
                for t in &b.trips_on {
                    if !ids.contains_key(t.text.as_str()) {
                        let known: Vec<&str> = ids.keys().copied().collect();
                        let help = mamori_core::record::closest(&t.text, known.iter().copied()).map(|c| format!("did you mean {c:?}?"));
                        push(*i, t.span.clone(), codes::UNKNOWN_RULE, format!("no rule {:?} in the ruleset", t.text), help);
                    }
                }
                let mut key = Vec::new();
                for k in &b.key {
                    match mamori_expr::compile(&k.text, schema) {
                        Ok(p) => key.push(p),
                        Err(ds) => {
                            for d in ds {
                                push(*i, k.map(&d.span), d.code, d.message, d.help);
                            }
                        }
                    }
                }
                let holds = match mamori_expr::compile_bool(&b.holds.text, schema) {
                    Ok(p) => p,
                    Err(ds) => {
                        for d in ds {
                            push(*i, b.holds.map(&d.span), d.code, d.message, d.help);
                        }
                        continue;
                    }
                };
                if key.len() == b.key.len() {
                    breakers.push(Breaker {
                        id: b.id.clone(),
                        description: b.description.clone(),
                        trips_on: b.trips_on.iter().map(|t| t.text.clone()).collect(),
                        key_src: b.key.iter().map(|k| k.text.clone()).collect(),
                        holds_src: b.holds.text.clone(),
                        key,
                        holds,
                    });
                }
            }
        }
        if !errors.is_empty() {
            errors.sort_by_key(|(i, e)| (*i, e.span.start));
            return Err(errors.into_iter().map(|(_, e)| e).collect());
        }
        let id = canonical_id(&defs);
        let mut fields: Vec<FieldId> = rules.iter().flat_map(|r| r.when.fields().iter().copied()).collect();
        fields.sort_unstable();
        fields.dedup();
        let index = Index::build(&rules);
        Ok(Ruleset { packs, rules, breakers, index, thresholds, id: Arc::from(id), fields })
    }

    /// Decides one event: the strongest action among the fired rules that are not shadow
    /// rules, raised (never lowered) by the thresholds on their total score.
    pub fn evaluate(&self, rec: &dyn Record) -> Decision {
        let guarded: &[u32] = match self.index.field.map(|f| rec.get(f)) {
            Some(mamori_core::Value::Str(s)) => self.index.by_value.get(s).map_or(&[], Vec::as_slice),
            _ => &[],
        };
        self.decide(rec, self.index.always.iter().chain(guarded).copied())
    }

    /// [`Ruleset::evaluate`] without the index: every rule is tested.
    #[cfg(test)]
    pub(crate) fn evaluate_every_rule(&self, rec: &dyn Record) -> Decision {
        self.decide(rec, 0..self.rules.len() as u32)
    }

    fn decide(&self, rec: &dyn Record, candidates: impl Iterator<Item = u32>) -> Decision {
        let mut reasons = Vec::new();
        let mut shadow = Vec::new();
        let mut score: i64 = 0;
        let mut action = Action::Allow;
        for i in candidates {
            let r = &self.rules[i as usize];
            if !r.when.eval_bool(rec) {
                continue;
            }
            let detail = if r.reason.is_empty() {
                if r.description.is_empty() { r.id.clone() } else { r.description.clone() }
            } else {
                r.reason.render(rec)
            };
            let reason = Reason { rule: r.id.clone(), score: r.score, action: r.action, detail };
            if r.shadow {
                shadow.push(reason);
            } else {
                score = score.saturating_add(r.score);
                action = action.max(r.action);
                reasons.push(reason);
            }
        }
        action = action.max(self.thresholds.action_for(score));
        let order = |a: &Reason, b: &Reason| b.score.cmp(&a.score).then_with(|| a.rule.cmp(&b.rule));
        reasons.sort_by(order);
        shadow.sort_by(order);
        Decision { action, score, reasons, shadow, ruleset: self.id.clone(), model: None }
    }

    /// `sha256:<hex>` of the canonical content of every pack.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The packs, ordered by name.
    /// The breakers of every pack, in pack order.
    pub fn breakers(&self) -> &[Breaker] {
        &self.breakers
    }

    pub fn packs(&self) -> &[PackInfo] {
        &self.packs
    }

    /// The thresholds in force (the lowest of each level over all packs).
    pub fn thresholds(&self) -> Thresholds {
        self.thresholds
    }

    /// Every rule, packs in name order, rules in file order.
    pub fn rules(&self) -> impl ExactSizeIterator<Item = RuleInfo<'_>> {
        self.rules.iter().map(|r| RuleInfo {
            id: &r.id,
            pack: &self.packs[r.pack].name,
            description: &r.description,
            when: &r.when_src,
            score: r.score,
            action: r.action,
            shadow: r.shadow,
        })
    }

    /// The fields the rules' conditions read (sorted): what must be computed before evaluating.
    pub fn fields(&self) -> &[FieldId] {
        &self.fields
    }

    /// Whether deciding any event may read a field under the schema's root number `part`:
    /// some rule's condition or reason template, shadow rules included, or some breaker's
    /// key or `holds` reads one. What no rule reads need not be worked out.
    pub fn reads_part(&self, part: u8) -> bool {
        let rules = self.rules.iter().any(|r| r.when.fields().iter().copied().chain(r.reason.fields()).any(|f| f.part() == part));
        let breakers = self
            .breakers
            .iter()
            .any(|b| b.holds.fields().iter().chain(b.key.iter().flat_map(|k| k.fields().iter())).any(|f| f.part() == part));
        rules || breakers
    }

    /// The fields that deciding an event may read when its string field `field` holds
    /// `value` (sorted, no repeats): the conditions and reason templates of every rule that
    /// can fire for it (all but those whose condition requires `field` to hold another
    /// value, see [`mamori_expr::Program::string_guard`]), shadow rules included, and every
    /// breaker's key and `holds`. What is not in the list no rule reads for such an event.
    pub fn fields_for(&self, field: FieldId, value: &str) -> Vec<FieldId> {
        let mut out: Vec<FieldId> = Vec::new();
        for r in &self.rules {
            if let Some((f, values)) = r.when.string_guard()
                && f == field
                && !values.contains(&value)
            {
                continue;
            }
            out.extend_from_slice(r.when.fields());
            out.extend(r.reason.fields());
        }
        for b in &self.breakers {
            out.extend_from_slice(b.holds.fields());
            out.extend(b.key.iter().flat_map(|k| k.fields().iter().copied()));
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// Hashes what decides: every pack (by name) with its thresholds and rules, each field
/// written with its length so no two contents hash alike. Comments, spacing and key
/// order in the files do not count.
fn canonical_id(defs: &[(usize, PackDef)]) -> String {
    let mut h = Sha256::new();
    let mut field = |s: &str| {
        h.update((s.len() as u64).to_le_bytes());
        h.update(s.as_bytes());
    };
    field("mamori-ruleset-v1");
    let opt = |t: Option<i64>| t.map_or_else(|| "-".to_string(), |v| v.to_string());
    for (_, p) in defs {
        field("pack");
        field(&p.name);
        field(&p.description);
        field(&opt(p.thresholds.challenge));
        field(&opt(p.thresholds.hold));
        field(&opt(p.thresholds.block));
        for r in &p.rules {
            field("rule");
            field(&r.id);
            field(&r.description);
            field(&r.when.text);
            field(&r.score.to_string());
            field(r.action.as_str());
            field(r.reason.as_ref().map_or("", |t| t.text.as_str()));
            field(if r.shadow { "shadow" } else { "live" });
        }
        for b in &p.breakers {
            field("breaker");
            field(&b.id);
            field(&b.description);
            for t in &b.trips_on {
                field(&t.text);
            }
            field("key");
            for k in &b.key {
                field(&k.text);
            }
            field(&b.holds.text);
        }
    }
    format!("sha256:{}", hex::encode(h.finalize()))
}
