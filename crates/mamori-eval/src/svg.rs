//! Score distributions as one SVG: a panel per scenario, the share of fraudulent and of
//! legitimate events at each score, on a log scale so that the rare fraud shows.

use std::fmt::Write;

use crate::Report;

const PANEL_W: f64 = 420.0;
const PANEL_H: f64 = 200.0;
const MARGIN: f64 = 40.0;
const BINS: usize = 24;

/// The report's score distributions, one panel per scenario.
pub fn render_svg(r: &Report) -> String {
    let panels: Vec<_> = r.scenarios.iter().collect();
    let cols = 2usize;
    let rows = panels.len().div_ceil(cols).max(1);
    let width = cols as f64 * (PANEL_W + MARGIN) + MARGIN;
    let height = rows as f64 * (PANEL_H + 2.0 * MARGIN) + MARGIN;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let max_score = r.all.fraud_scores.iter().chain(&r.all.legit_scores).copied().max().unwrap_or(0).max(1);
    for (k, p) in panels.iter().enumerate() {
        let x0 = MARGIN + (k % cols) as f64 * (PANEL_W + MARGIN);
        let y0 = MARGIN + (k / cols) as f64 * (PANEL_H + 2.0 * MARGIN);
        let _ = writeln!(
            s,
            r#"<text x="{x0}" y="{}" font-size="13" font-weight="bold">{} — {:.2}% of fraud value stopped, {:.3}% legit money held</text>"#,
            y0 - 8.0,
            escape(&p.scenario),
            p.stopped_share() * 100.0,
            p.legit_held_share() * 100.0
        );
        let _ = writeln!(s, r##"<rect x="{x0}" y="{y0}" width="{PANEL_W}" height="{PANEL_H}" fill="none" stroke="#999"/>"##);
        for (scores, color, name, dy) in [(&p.legit_scores, "#3b7dd8", "legit", 0.0), (&p.fraud_scores, "#d8453b", "fraud", 14.0)] {
            let hist = histogram(scores, max_score);
            let total = scores.len().max(1) as f64;
            let mut path = String::new();
            for (b, &c) in hist.iter().enumerate() {
                let share = c as f64 / total;
                // Log scale from 1e-5 to 1.
                let y = if share <= 0.0 { 0.0 } else { ((share.log10() + 5.0) / 5.0).clamp(0.0, 1.0) };
                let bx = x0 + b as f64 * PANEL_W / BINS as f64;
                let by = y0 + PANEL_H - y * PANEL_H;
                let _ = write!(path, "{}{bx:.1},{by:.1} H{:.1} ", if b == 0 { "M" } else { "L" }, bx + PANEL_W / BINS as f64);
            }
            let _ = writeln!(s, r#"<path d="{path}" fill="none" stroke="{color}" stroke-width="2"/>"#);
            let _ = writeln!(
                s,
                r#"<text x="{}" y="{}" fill="{color}">{name} ({} events)</text>"#,
                x0 + PANEL_W - 150.0,
                y0 + 14.0 + dy,
                scores.len()
            );
        }
        let _ = writeln!(s, r#"<text x="{x0}" y="{}">score 0</text>"#, y0 + PANEL_H + 14.0);
        let _ = writeln!(s, r#"<text x="{}" y="{}" text-anchor="end">{max_score}</text>"#, x0 + PANEL_W, y0 + PANEL_H + 14.0);
        let _ = writeln!(s, r#"<text x="{}" y="{}" text-anchor="end">1</text>"#, x0 - 4.0, y0 + 10.0);
        let _ = writeln!(s, r#"<text x="{}" y="{}" text-anchor="end">1e-5</text>"#, x0 - 4.0, y0 + PANEL_H);
    }
    s.push_str("</svg>\n");
    s
}

fn histogram(scores: &[i64], max: i64) -> [u64; BINS] {
    let mut h = [0u64; BINS];
    for &x in scores {
        let b = ((x.max(0) as f64 / max as f64) * (BINS - 1) as f64).round() as usize;
        h[b.min(BINS - 1)] += 1;
    }
    h
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}
