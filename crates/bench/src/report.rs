//! What a run produces: one [`Report`] with a [`ScenarioReport`] per scenario, each a list of
//! [`Row`]s (a Daftar figure, the baseline it is compared with, the ratio and the target).
//! The same report is written as markdown for people and as JSON for machines, so the two can
//! never disagree.

use std::fmt::Write as _;

use serde::Serialize;

use crate::machine::Machine;

/// Unit of a figure, for formatting.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    Ms,
    Bytes,
    Count,
    PerSecond,
    MiB,
    Ratio,
}

impl Unit {
    pub fn format(self, v: f64) -> String {
        match self {
            Unit::Ms if v < 1.0 => format!("{:.3} ms", v),
            Unit::Ms if v < 100.0 => format!("{:.2} ms", v),
            Unit::Ms => format!("{:.0} ms", v),
            Unit::Bytes if v >= 10.0 * 1024.0 * 1024.0 => format!("{:.1} MiB", v / 1048576.0),
            Unit::Bytes if v >= 10.0 * 1024.0 => format!("{:.1} KiB", v / 1024.0),
            Unit::Bytes if v.fract() != 0.0 => format!("{:.1} B", v),
            Unit::Bytes => format!("{} B", v as u64),
            Unit::Count if v.fract() != 0.0 => format!("{:.2}", v),
            Unit::Count => format!("{}", v as u64),
            Unit::PerSecond => format!("{:.0}/s", v),
            Unit::MiB => format!("{:.1} MiB", v),
            Unit::Ratio => format!("{:.3}", v),
        }
    }
}

/// A baseline figure a Daftar figure is compared with.
#[derive(Debug, Clone, Serialize)]
pub struct Baseline {
    pub name: String,
    pub value: f64,
}

/// One line of the results.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub metric: String,
    pub unit: Unit,
    pub value: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<Baseline>,
    /// value / baseline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ratio: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Whether the target is met (None: no target on this row).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub met: Option<bool>,
}

impl Row {
    pub fn new(metric: impl Into<String>, unit: Unit, value: f64) -> Row {
        Row {
            metric: metric.into(),
            unit,
            value,
            baseline: None,
            ratio: None,
            target: None,
            met: None,
        }
    }

    /// Compares with a baseline (the ratio is value / baseline).
    pub fn vs(mut self, name: impl Into<String>, baseline: f64) -> Row {
        self.ratio = (baseline > 0.0).then(|| self.value / baseline);
        self.baseline = Some(Baseline {
            name: name.into(),
            value: baseline,
        });
        self
    }

    pub fn target(mut self, text: impl Into<String>, met: bool) -> Row {
        self.target = Some(text.into());
        self.met = Some(met);
        self
    }

    /// A target on the ratio: met when ratio ≤ `max`.
    pub fn ratio_at_most(self, max: f64) -> Row {
        let met = self.ratio.is_some_and(|r| r <= max);
        self.target(format!("≤ {max}×"), met)
    }
}

/// The correctness check a scenario ran before reporting.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub passed: bool,
    pub detail: String,
}

/// A series for the growth figure (x, y pairs).
#[derive(Debug, Clone, Serialize)]
pub struct Series {
    /// Series with the same panel share one plot (and its axes).
    pub panel: String,
    pub name: String,
    pub x_label: String,
    pub y_label: String,
    pub points: Vec<(f64, f64)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScenarioReport {
    pub id: String,
    pub title: String,
    pub target: String,
    pub check: Check,
    pub rows: Vec<Row>,
    pub notes: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub series: Vec<Series>,
    pub seconds: f64,
}

impl ScenarioReport {
    /// A scenario whose check failed or that could not run: no figures, only the reason.
    pub fn failed(
        id: &str,
        title: &str,
        target: &str,
        why: String,
        seconds: f64,
    ) -> ScenarioReport {
        ScenarioReport {
            id: id.into(),
            title: title.into(),
            target: target.into(),
            check: Check {
                passed: false,
                detail: why,
            },
            rows: Vec::new(),
            notes: Vec::new(),
            series: Vec::new(),
            seconds,
        }
    }

    pub fn targets_met(&self) -> usize {
        self.rows.iter().filter(|r| r.met == Some(true)).count()
    }

    pub fn targets_missed(&self) -> usize {
        self.rows.iter().filter(|r| r.met == Some(false)).count()
    }

    /// The row named `metric` (tests look figures up by name).
    pub fn row(&self, metric: &str) -> Option<&Row> {
        self.rows.iter().find(|r| r.metric == metric)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub tier: String,
    pub command: String,
    pub build: String,
    pub started_utc: String,
    pub seconds: f64,
    pub machine: Machine,
    pub scenarios: Vec<ScenarioReport>,
}

impl Report {
    pub fn scenario(&self, id: &str) -> Option<&ScenarioReport> {
        self.scenarios.iter().find(|s| s.id == id)
    }

    pub fn all_checks_passed(&self) -> bool {
        self.scenarios.iter().all(|s| s.check.passed)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let m = &self.machine;
        let _ = writeln!(
            out,
            "## Results: {} tier ({} build)\n",
            self.tier, self.build
        );
        let _ = writeln!(out, "Command: `{}`  ", self.command);
        let _ = writeln!(
            out,
            "Started {}, {:.1} s in all.  ",
            self.started_utc, self.seconds
        );
        let _ = writeln!(
            out,
            "Machine: {} cores ({}), {:.1} GiB RAM, {} on {}.  ",
            m.nproc, m.cpu_model, m.ram_gib, m.kernel, m.filesystem
        );
        let _ = writeln!(
            out,
            "Versions: {}; daftar {}, automerge {}, rusqlite {} (SQLite {}), axum {}, reqwest {}, zstd {}.  ",
            m.rustc, m.daftar, m.automerge, m.rusqlite, m.sqlite, m.axum, m.reqwest, m.zstd
        );
        let _ = writeln!(
            out,
            "PRAGMAs (replica and floor-sql alike): {}.\n",
            m.pragmas
        );
        let met: usize = self.scenarios.iter().map(ScenarioReport::targets_met).sum();
        let missed: usize = self
            .scenarios
            .iter()
            .map(ScenarioReport::targets_missed)
            .sum();
        let failed = self.scenarios.iter().filter(|s| !s.check.passed).count();
        let _ = writeln!(
            out,
            "Targets met: {met}, missed: {missed}; correctness checks failed: {failed}.\n"
        );
        let _ = writeln!(
            out,
            "| # | metric | Daftar | baseline | ratio | target | met |\n|---|---|---|---|---|---|---|"
        );
        for s in &self.scenarios {
            if !s.check.passed {
                let _ = writeln!(
                    out,
                    "| {} | **check failed** | — | — | — | {} | ✗ |",
                    s.id,
                    escape(&s.check.detail)
                );
                continue;
            }
            for r in &s.rows {
                let baseline = r.baseline.as_ref().map_or("".to_string(), |b| {
                    format!("{}: {}", b.name, r.unit.format(b.value))
                });
                let ratio = r.ratio.map_or(String::new(), |x| format!("{x:.2}×"));
                let met = match r.met {
                    Some(true) => "✓",
                    Some(false) => "✗",
                    None => "",
                };
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} | {} | {} |",
                    s.id,
                    escape(&r.metric),
                    r.unit.format(r.value),
                    escape(&baseline),
                    ratio,
                    escape(r.target.as_deref().unwrap_or("")),
                    met
                );
            }
        }
        let _ = writeln!(out, "\n### Checks and notes\n");
        for s in &self.scenarios {
            let _ = writeln!(
                out,
                "- **{} {}** ({:.1} s). Target: {}. Check {}: {}.",
                s.id,
                s.title,
                s.seconds,
                s.target,
                if s.check.passed { "passed" } else { "FAILED" },
                s.check.detail
            );
            for n in &s.notes {
                let _ = writeln!(out, "  - {n}");
            }
        }
        out
    }
}

fn escape(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}
