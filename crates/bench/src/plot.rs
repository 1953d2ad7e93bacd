//! The growth figure: small log-log plots of the B6 and B8 series, hand-written as SVG (no
//! plotting dependency). One panel per [`Series::panel`], decade grid lines, one polyline with
//! markers per series, and a legend.

use std::fmt::Write as _;

use crate::report::{Report, Series};

const PANEL_W: f64 = 470.0;
const PANEL_H: f64 = 320.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 34.0;
const BOTTOM: f64 = 46.0;
const COLORS: [&str; 6] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
];

/// The SVG, or `None` when the report has no series (B6 and B8 not run or failed).
pub fn growth_figure(report: &Report) -> Option<String> {
    let series: Vec<&Series> = report
        .scenarios
        .iter()
        .filter(|s| s.check.passed)
        .flat_map(|s| s.series.iter())
        .filter(|s| s.points.iter().filter(|p| p.0 > 0.0 && p.1 > 0.0).count() >= 2)
        .collect();
    if series.is_empty() {
        return None;
    }
    let mut panels: Vec<(&str, Vec<&Series>)> = Vec::new();
    for s in series {
        match panels.iter_mut().find(|(p, _)| *p == s.panel) {
            Some((_, v)) => v.push(s),
            None => panels.push((&s.panel, vec![s])),
        }
    }
    // Daftar's own series first in every legend.
    for (_, list) in panels.iter_mut() {
        list.sort_by_key(|s| !s.name.starts_with("Daftar"));
    }
    let cols = 2usize;
    let rows = panels.len().div_ceil(cols);
    let width = PANEL_W * cols as f64;
    let height = PANEL_H * rows as f64 + 30.0;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="DejaVu Sans, Arial, sans-serif" font-size="11">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="18" text-anchor="middle" font-size="13" font-weight="bold">Daftar growth ({} tier, {} build): log-log</text>"#,
        width / 2.0,
        report.tier,
        report.build
    );
    for (i, (title, list)) in panels.iter().enumerate() {
        let x0 = (i % cols) as f64 * PANEL_W;
        let y0 = 30.0 + (i / cols) as f64 * PANEL_H;
        panel(&mut svg, x0, y0, title, list);
    }
    svg.push_str("</svg>\n");
    Some(svg)
}

fn decades(lo: f64, hi: f64) -> (f64, f64) {
    let a = lo.log10().floor();
    let mut b = hi.log10().ceil();
    if b <= a {
        b = a + 1.0;
    }
    (a, b)
}

fn label(v: f64) -> String {
    let e = v.log10().round() as i32;
    match e {
        -3 => "0.001".into(),
        -2 => "0.01".into(),
        -1 => "0.1".into(),
        0 => "1".into(),
        1 => "10".into(),
        2 => "100".into(),
        3 => "1k".into(),
        4 => "10k".into(),
        5 => "100k".into(),
        6 => "1M".into(),
        7 => "10M".into(),
        _ => format!("1e{e}"),
    }
}

fn panel(svg: &mut String, x0: f64, y0: f64, title: &str, list: &[&Series]) {
    let pts = || {
        list.iter()
            .flat_map(|s| s.points.iter())
            .filter(|p| p.0 > 0.0 && p.1 > 0.0)
    };
    let (xmin, xmax) = pts().fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let (ymin, ymax) = pts().fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.1), b.max(p.1)));
    let (xa, xb) = decades(xmin, xmax);
    let (ya, yb) = decades(ymin, ymax);
    let pw = PANEL_W - LEFT - RIGHT;
    let ph = PANEL_H - TOP - BOTTOM;
    let px = |x: f64| x0 + LEFT + (x.log10() - xa) / (xb - xa) * pw;
    let py = |y: f64| y0 + TOP + ph - (y.log10() - ya) / (yb - ya) * ph;
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="middle" font-size="12" font-weight="bold">{}</text>"#,
        x0 + LEFT + pw / 2.0,
        y0 + 18.0,
        xml(title)
    );
    let _ = writeln!(
        svg,
        r##"<rect x="{}" y="{}" width="{pw}" height="{ph}" fill="none" stroke="#444"/>"##,
        x0 + LEFT,
        y0 + TOP
    );
    for e in xa as i32..=xb as i32 {
        let v = 10f64.powi(e);
        let x = px(v);
        let _ = writeln!(
            svg,
            r##"<line x1="{x}" y1="{}" x2="{x}" y2="{}" stroke="#ddd"/><text x="{x}" y="{}" text-anchor="middle">{}</text>"##,
            y0 + TOP,
            y0 + TOP + ph,
            y0 + TOP + ph + 14.0,
            label(v)
        );
    }
    for e in ya as i32..=yb as i32 {
        let v = 10f64.powi(e);
        let y = py(v);
        let _ = writeln!(
            svg,
            r##"<line x1="{}" y1="{y}" x2="{}" y2="{y}" stroke="#ddd"/><text x="{}" y="{}" text-anchor="end">{}</text>"##,
            x0 + LEFT,
            x0 + LEFT + pw,
            x0 + LEFT - 4.0,
            y + 4.0,
            label(v)
        );
    }
    if let Some(first) = list.first() {
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
            x0 + LEFT + pw / 2.0,
            y0 + PANEL_H - 12.0,
            xml(&first.x_label)
        );
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="middle" transform="rotate(-90 {} {})">{}</text>"#,
            x0 + 14.0,
            y0 + TOP + ph / 2.0,
            x0 + 14.0,
            y0 + TOP + ph / 2.0,
            xml(&first.y_label)
        );
    }
    for (k, s) in list.iter().enumerate() {
        let color = COLORS[k % COLORS.len()];
        let points: Vec<(f64, f64)> = s
            .points
            .iter()
            .filter(|p| p.0 > 0.0 && p.1 > 0.0)
            .map(|p| (px(p.0), py(p.1)))
            .collect();
        let line: Vec<String> = points
            .iter()
            .map(|(x, y)| format!("{x:.1},{y:.1}"))
            .collect();
        let _ = writeln!(
            svg,
            r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2"/>"#,
            line.join(" ")
        );
        for (x, y) in &points {
            let _ = writeln!(
                svg,
                r#"<circle cx="{x:.1}" cy="{y:.1}" r="3" fill="{color}"/>"#
            );
        }
        let ly = y0 + TOP + 12.0 + k as f64 * 14.0;
        let lx = x0 + LEFT + 8.0;
        let _ = writeln!(
            svg,
            r#"<line x1="{lx}" y1="{}" x2="{}" y2="{}" stroke="{color}" stroke-width="2"/><text x="{}" y="{}">{}</text>"#,
            ly - 4.0,
            lx + 16.0,
            ly - 4.0,
            lx + 20.0,
            ly,
            xml(&s.name)
        );
    }
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
