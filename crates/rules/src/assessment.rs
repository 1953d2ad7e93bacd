//! Assessment and standing as the regulations define them (`docs/assessment.md`, from the
//! shared domain brief and HEMIS): control totals per marking system, admission to the final
//! control (YN), the grade from the total, the state of a student in a subject, and where a
//! student stands against the semester's unexcused-hour thresholds.
//!
//! Pure functions over plain values: the replica's reports, the CLI, the desktop app and (for
//! the rules a change must obey) the rule table all use these, so a number means the same
//! everywhere.
//!
//! HEMIS is the reference where the brief is silent (its OTM source: the grade border table of
//! `h_marking_system`, `TeacherController::actionCheckOverallRating`): raw points are compared
//! with `>=` against the borders, never rounded up, so a rating total of 54.5 is a 2 and 38.49
//! of a 70-point JN + ON maximum (54.99 %) is not admitted. Points are compared exactly (with a
//! 1e-9 allowance for binary fractions such as 0.1 + 0.2).

use serde::{Deserialize, Serialize};

/// A marking system (HEMIS `markingSystem.code` 11, 12, 13).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum System {
    /// 100-point rating (HEMIS 11): admission at 55 % of the JN + ON maximum, pass at 55.
    Rating100,
    /// Five-point (HEMIS 12): whole grades 2–5, sub-controls averaged.
    FivePoint,
    /// Credit-module (HEMIS 13): admission at 60 %, pass at 60.
    CreditModule,
}

impl System {
    /// From the replica's name of the system (`rating100`, `five_point`, `credit_module`).
    pub fn parse(s: &str) -> Option<System> {
        match s {
            "rating100" => Some(System::Rating100),
            "five_point" => Some(System::FivePoint),
            "credit_module" => Some(System::CreditModule),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            System::Rating100 => "rating100",
            System::FivePoint => "five_point",
            System::CreditModule => "credit_module",
        }
    }

    /// The totals a 5, a 4 and a 3 start at (rating 86 / 71 / 55, credit 90 / 70 / 60,
    /// five-point means 4.5 / 3.5 / 2.5).
    pub fn borders(self) -> [f64; 3] {
        match self {
            System::Rating100 => [86.0, 71.0, 55.0],
            System::CreditModule => [90.0, 70.0, 60.0],
            System::FivePoint => [4.5, 3.5, 2.5],
        }
    }

    /// The share of the JN + ON maximum a student needs to sit YN (none in five-point, where
    /// the ON grade decides).
    pub fn admission_share(self) -> Option<f64> {
        match self {
            System::Rating100 => Some(0.55),
            System::CreditModule => Some(0.60),
            System::FivePoint => None,
        }
    }
}

/// Kinds of control: JN (joriy, current), ON (oraliq, midterm), YN (yakuniy, final).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Kind {
    #[serde(rename = "JN")]
    Current,
    #[serde(rename = "ON")]
    Midterm,
    #[serde(rename = "YN")]
    Final,
}

impl Kind {
    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "JN" => Some(Kind::Current),
            "ON" => Some(Kind::Midterm),
            "YN" => Some(Kind::Final),
            _ => None,
        }
    }
}

/// One control of a module's plan (`JN`, `1-JN`, `ON1`, `YN`, …).
#[derive(Debug, Clone, PartialEq)]
pub struct Control {
    pub code: String,
    pub kind: Kind,
    /// Most points (rating, credit) or 5 (five-point).
    pub max: f64,
}

/// One score a student has.
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    pub control: String,
    pub sitting: u8,
    pub points: f64,
}

/// A control score in the five-point system is a whole grade from 2 to 5; why not, if not.
pub fn five_point_grade_problem(points: f64) -> Option<String> {
    (!(points.is_finite() && points.fract() == 0.0 && (2.0..=5.0).contains(&points)))
        .then(|| format!("{points} is not a grade: the 5-point system takes whole grades 2 to 5"))
}

/// Journal `status` keys `retake:<sitting>/<student>`: the dean's office's permission for a
/// student to sit YN again (sittings 2 and 3 open only with one; HEMIS: a dean's order).
pub const RETAKE_PREFIX: &str = "retake:";

/// The `status` key of a retake permission.
pub fn retake_key(sitting: u8, student: &str) -> String {
    format!("{RETAKE_PREFIX}{sitting}/{student}")
}

/// Journal `status` keys `yn-absent:<sitting>/<student>`: the student did not come to the final
/// control of that sitting ("kelmadi" on the statement). A YN score of the same sitting, if one
/// is entered too, is what counts: the student sat it.
pub const ABSENT_PREFIX: &str = "yn-absent:";

/// The `status` key of an absence from a YN sitting.
pub fn absent_key(sitting: u8, student: &str) -> String {
    format!("{ABSENT_PREFIX}{sitting}/{student}")
}

/// The sitting and student of an absence key.
pub fn parse_absent_key(key: &str) -> Option<(u8, &str)> {
    let (sitting, student) = key.strip_prefix(ABSENT_PREFIX)?.split_once('/')?;
    Some((sitting.parse().ok()?, student))
}

const EPSILON: f64 = 1e-9;

fn at_least(value: f64, bound: f64) -> bool {
    value + EPSILON >= bound
}

/// A student's points in one subject, for one YN sitting.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename_all = "camelCase"))]
pub struct Totals {
    /// ΣJN (rating, credit) or the mean of the JN sub-controls taken (five-point); `None`
    /// before any.
    pub jn: Option<f64>,
    /// ΣON or the mean of the ON sub-controls taken.
    pub on: Option<f64>,
    /// ΣJN + ΣON (rating, credit; 0 before any score).
    pub current: f64,
    /// The plan's JN + ON maximum (rating, credit).
    pub current_max: f64,
    /// JN and ON controls of the plan still without a score.
    pub missing_current: usize,
    /// The YN score of the sitting asked for.
    pub yn: Option<f64>,
    /// The plan's YN maximum.
    pub yn_max: Option<f64>,
    /// ΣJN + ΣON + YN (rating, credit), or the YN grade (five-point); `None` before YN.
    pub total: Option<f64>,
    /// Recorded absent from this YN sitting (and no YN score in it).
    pub absent: bool,
}

impl Totals {
    /// The totals with the sitting's absence record: absent only where no YN score was
    /// entered for the sitting (a score means the student sat it).
    pub fn with_absence(mut self, recorded_absent: bool) -> Totals {
        self.absent = recorded_absent && self.yn.is_none();
        self
    }
}

/// A JN or ON control's score as of sitting `j`: the score entered for the latest sitting up to
/// `j` (a student who was not admitted redoes the current controls for a retake).
fn as_of(scores: &[Score], code: &str, j: u8) -> Option<f64> {
    scores
        .iter()
        .filter(|s| s.control == code && s.sitting <= j)
        .max_by_key(|s| s.sitting)
        .map(|s| s.points)
}

/// The totals of one student in one subject for YN sitting `sitting` (1, 2 or 3).
///
/// JN and ON carry over as HEMIS carries them: for a retake, the JN and ON of the earliest
/// sitting at which the student was admitted; when there is none, those entered for this
/// sitting.
pub fn totals(system: System, plan: &[Control], scores: &[Score], sitting: u8) -> Totals {
    let sitting = sitting.max(1);
    let mut chosen = current_totals(system, plan, scores, sitting);
    for j in 1..sitting {
        let earlier = current_totals(system, plan, scores, j);
        if admission(system, &earlier).admitted() {
            chosen = earlier;
            break;
        }
    }
    let yn_control = plan.iter().find(|c| c.kind == Kind::Final);
    chosen.yn_max = yn_control.map(|c| c.max);
    chosen.yn = yn_control.and_then(|control| {
        scores
            .iter()
            .find(|s| s.control == control.code && s.sitting == sitting)
            .map(|s| s.points)
    });
    chosen.total = chosen.yn.map(|y| match system {
        System::FivePoint => y,
        System::Rating100 | System::CreditModule => chosen.current + y,
    });
    chosen
}

/// JN and ON as of sitting `j`, without YN.
fn current_totals(system: System, plan: &[Control], scores: &[Score], j: u8) -> Totals {
    let mut jn: Vec<f64> = Vec::new();
    let mut on: Vec<f64> = Vec::new();
    let mut current_max = 0.0;
    let mut missing_current = 0;
    for control in plan {
        if control.kind == Kind::Final {
            continue;
        }
        current_max += control.max;
        match as_of(scores, &control.code, j) {
            Some(p) if control.kind == Kind::Current => jn.push(p),
            Some(p) => on.push(p),
            None => missing_current += 1,
        }
    }
    let combine = |v: &[f64]| -> Option<f64> {
        if v.is_empty() {
            return None;
        }
        let sum: f64 = v.iter().sum();
        Some(match system {
            System::FivePoint => sum / v.len() as f64,
            System::Rating100 | System::CreditModule => sum,
        })
    };
    let (jn, on) = (combine(&jn), combine(&on));
    Totals {
        jn,
        on,
        current: jn.unwrap_or(0.0) + on.unwrap_or(0.0),
        current_max,
        missing_current,
        yn: None,
        yn_max: None,
        total: None,
        absent: false,
    }
}

/// Whether a student may sit YN.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "admission", rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Admission {
    Admitted,
    /// Rating and credit: ΣJN + ΣON below the share of their maximum.
    BelowShare {
        have: f64,
        need: f64,
    },
    /// Five-point: a JN or ON grade missing.
    Missing,
    /// Five-point: the JN or ON grade below 3.
    BelowThree,
}

impl Admission {
    pub fn admitted(&self) -> bool {
        matches!(self, Admission::Admitted)
    }

    /// Why not, in words for the refusal of a YN score.
    pub fn reason(&self) -> Option<String> {
        match self {
            Admission::Admitted => None,
            Admission::BelowShare { have, need } => Some(format!(
                "the student is not admitted to the final control: {} of the {} points JN + ON needs",
                trim(*have),
                trim(*need)
            )),
            Admission::Missing => Some(
                "the student is not admitted to the final control: the JN or ON grade is missing"
                    .into(),
            ),
            Admission::BelowThree => Some(
                "the student is not admitted to the final control: the JN or ON grade is below 3"
                    .into(),
            ),
        }
    }
}

fn trim(v: f64) -> String {
    let r = (v * 100.0).round() / 100.0;
    if r.fract() == 0.0 {
        format!("{}", r as i64)
    } else {
        format!("{r}")
    }
}

/// Admission to YN (saralash bali): rating ΣJN + ΣON ≥ 55 % of their maximum, credit ≥ 60 %;
/// five-point: the JN and the ON grade (each the mean of its sub-controls) both at least 3, as
/// HEMIS checks it (the brief said "ON taken and not a 2"; HEMIS wins).
pub fn admission(system: System, totals: &Totals) -> Admission {
    match system.admission_share() {
        Some(share) => {
            let need = share * totals.current_max;
            if at_least(totals.current, need) {
                Admission::Admitted
            } else {
                Admission::BelowShare {
                    have: totals.current,
                    need,
                }
            }
        }
        None => match (totals.jn, totals.on) {
            (Some(jn), Some(on)) if at_least(jn, 3.0) && at_least(on, 3.0) => Admission::Admitted,
            (Some(_), Some(_)) => Admission::BelowThree,
            _ => Admission::Missing,
        },
    }
}

/// The grade (2–5) of a total: rating 86 / 71 / 55, credit 90 / 70 / 60, five-point (a mean)
/// 4.5 / 3.5 / 2.5 (HEMIS's border table), compared with `>=` and never rounded up.
pub fn grade(system: System, total: f64) -> u8 {
    let borders = system.borders();
    if at_least(total, borders[0]) {
        5
    } else if at_least(total, borders[1]) {
        4
    } else if at_least(total, borders[2]) {
        3
    } else {
        2
    }
}

/// With this many academic debts in a semester a student is held back (domain §pass).
pub const HELD_BACK_DEBTS: u32 = 4;

/// Why a student is an academic debtor in a subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Debt {
    /// Every JN and ON is in and the student is not admitted.
    NotAdmitted,
    /// Sat YN and got a 2 (or, in credit, YN below 60 % of its maximum).
    Failed,
    /// Admitted, and did not come to YN ("kelmadi").
    Absent,
}

/// Where a student is in a subject.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Outcome {
    /// JN / ON still coming, admission still possible.
    InProgress,
    /// May sit YN (no YN score in this sitting yet).
    Admitted,
    /// Passed with this grade (3–5).
    Passed { grade: u8 },
    /// An academic debtor (qarzdor).
    Debtor { debt: Debt },
}

impl Outcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::InProgress => "in_progress",
            Outcome::Admitted => "admitted",
            Outcome::Passed { .. } => "passed",
            Outcome::Debtor { .. } => "debtor",
        }
    }
}

/// The state of a student in a subject, from the [`totals`] of a YN sitting.
pub fn outcome(system: System, totals: &Totals) -> Outcome {
    if let Some(total) = totals.total {
        let g = grade(system, total);
        // Credit: YN itself must reach the pass share of its maximum (HEMIS resets a lower
        // YN to 0).
        let yn_short = system == System::CreditModule
            && matches!((totals.yn, totals.yn_max), (Some(y), Some(m)) if !at_least(y, 0.60 * m));
        return if g >= 3 && !yn_short {
            Outcome::Passed { grade: g }
        } else {
            Outcome::Debtor { debt: Debt::Failed }
        };
    }
    match admission(system, totals) {
        Admission::Admitted if totals.absent => Outcome::Debtor { debt: Debt::Absent },
        Admission::Admitted => Outcome::Admitted,
        _ if totals.missing_current > 0 => Outcome::InProgress,
        _ => Outcome::Debtor {
            debt: Debt::NotAdmitted,
        },
    }
}

/// Unexcused-hour thresholds of a semester (HEMIS defaults 12 / 36 / 74).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Thresholds {
    /// A warning from this many hours on.
    pub warning: u32,
    /// A reprimand from this many hours on.
    pub reprimand: u32,
    /// Grounds for expulsion at **more than** this many hours.
    pub expulsion: u32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            warning: 12,
            reprimand: 36,
            expulsion: 74,
        }
    }
}

impl Thresholds {
    /// The catalog's `settings.thresholds`: `[12, 36, 74]` for every marking system, or an
    /// object naming them per system (`{"rating100": [12, 36, 74], "five_point": […]}`); a
    /// system it does not name, or a value that is no such list, gets the defaults.
    pub fn from_catalog(json: Option<&str>, system: System) -> Thresholds {
        let Some(value) = json.and_then(|j| serde_json::from_str::<serde_json::Value>(j).ok())
        else {
            return Thresholds::default();
        };
        let list = match &value {
            serde_json::Value::Object(map) => map.get(system.as_str()).cloned(),
            other => Some(other.clone()),
        };
        let parsed = list.and_then(|l| serde_json::from_value::<[u32; 3]>(l).ok());
        match parsed {
            Some([w, r, e]) if w <= r && r <= e => Thresholds {
                warning: w,
                reprimand: r,
                expulsion: e,
            },
            _ => Thresholds::default(),
        }
    }

    pub fn level(&self, unexcused_hours: u32) -> Level {
        if unexcused_hours > self.expulsion {
            Level::Expulsion
        } else if unexcused_hours >= self.reprimand {
            Level::Reprimand
        } else if unexcused_hours >= self.warning {
            Level::Warning
        } else {
            Level::Ok
        }
    }

    /// One more missed pair (2 hours) would reach the next level.
    pub fn near_next(&self, unexcused_hours: u32) -> bool {
        let now = self.level(unexcused_hours);
        now != Level::Expulsion && self.level(unexcused_hours + 2) != now
    }
}

/// Where a student stands against the thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Level {
    Ok,
    Warning,
    Reprimand,
    Expulsion,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Warning => "warning",
            Level::Reprimand => "reprimand",
            Level::Expulsion => "expulsion",
        }
    }

    pub fn parse(s: &str) -> Option<Level> {
        match s {
            "ok" => Some(Level::Ok),
            "warning" => Some(Level::Warning),
            "reprimand" => Some(Level::Reprimand),
            "expulsion" => Some(Level::Expulsion),
            _ => None,
        }
    }

    /// The level in HEMIS's (Uzbek Latin) words, as statements and exports print it; empty
    /// for no standing at all.
    pub fn hemis_word(self) -> &'static str {
        match self {
            Level::Ok => "",
            Level::Warning => "Ogohlantirish",
            Level::Reprimand => "Hayfsan",
            Level::Expulsion => "Chetlatish",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(system: System) -> Vec<Control> {
        let c = |code: &str, kind, max| Control {
            code: code.into(),
            kind,
            max,
        };
        match system {
            // A typical rating plan: 1-JN 20, 2-JN 20, 1-ON 15, 2-ON 15, YN 30.
            System::Rating100 | System::CreditModule => vec![
                c("1-JN", Kind::Current, 20.0),
                c("2-JN", Kind::Current, 20.0),
                c("1-ON", Kind::Midterm, 15.0),
                c("2-ON", Kind::Midterm, 15.0),
                c("YN", Kind::Final, 30.0),
            ],
            System::FivePoint => vec![
                c("1-JN", Kind::Current, 5.0),
                c("2-JN", Kind::Current, 5.0),
                c("1-ON", Kind::Midterm, 5.0),
                c("2-ON", Kind::Midterm, 5.0),
                c("YN", Kind::Final, 5.0),
            ],
        }
    }

    fn scores(list: &[(&str, u8, f64)]) -> Vec<Score> {
        list.iter()
            .map(|(c, s, p)| Score {
                control: (*c).into(),
                sitting: *s,
                points: *p,
            })
            .collect()
    }

    #[test]
    fn rating_and_credit_totals_sum_every_control() {
        let s = scores(&[
            ("1-JN", 1, 18.0),
            ("2-JN", 1, 16.5),
            ("1-ON", 1, 12.0),
            ("2-ON", 1, 10.0),
            ("YN", 1, 25.0),
        ]);
        let t = totals(System::Rating100, &plan(System::Rating100), &s, 1);
        assert_eq!(t.jn, Some(34.5));
        assert_eq!(t.on, Some(22.0));
        assert_eq!(t.current, 56.5);
        assert_eq!(t.current_max, 70.0);
        assert_eq!(t.total, Some(81.5));
        assert_eq!(grade(System::Rating100, 81.5), 4);
    }

    #[test]
    fn five_point_averages_sub_controls() {
        let s = scores(&[
            ("1-JN", 1, 4.0),
            ("2-JN", 1, 5.0),
            ("1-ON", 1, 3.0),
            ("2-ON", 1, 4.0),
            ("YN", 1, 4.0),
        ]);
        let t = totals(System::FivePoint, &plan(System::FivePoint), &s, 1);
        assert_eq!(t.jn, Some(4.5), "averaged, not 9");
        assert_eq!(t.on, Some(3.5));
        assert_eq!(t.total, Some(4.0));
        assert_eq!(outcome(System::FivePoint, &t), Outcome::Passed { grade: 4 });
    }

    /// The regulation's borders, on a 70-point JN + ON maximum: 55 % is 38.5, 60 % is 42.
    #[test]
    fn admission_borders() {
        let cases = [
            (System::Rating100, 38.43, false),    // 54.9 %
            (System::Rating100, 38.5, true),      // 55 %
            (System::CreditModule, 41.93, false), // 59.9 %
            (System::CreditModule, 42.0, true),   // 60 %
        ];
        for (system, current, admitted) in cases {
            let s = scores(&[
                ("1-JN", 1, current / 2.0),
                ("2-JN", 1, current / 2.0),
                ("1-ON", 1, 0.0),
                ("2-ON", 1, 0.0),
            ]);
            let t = totals(system, &plan(system), &s, 1);
            let a = admission(system, &t);
            assert_eq!(a.admitted(), admitted, "{system:?} {current}: {a:?}");
            if !admitted {
                assert!(a.reason().is_some_and(|r| r.contains("not admitted")));
            }
        }
    }

    #[test]
    fn five_point_admission_needs_jn_and_on_of_at_least_three() {
        let p = plan(System::FivePoint);
        let t = totals(System::FivePoint, &p, &scores(&[("1-JN", 1, 5.0)]), 1);
        assert_eq!(admission(System::FivePoint, &t), Admission::Missing);
        let t = totals(
            System::FivePoint,
            &p,
            &scores(&[("1-JN", 1, 5.0), ("1-ON", 1, 2.0), ("2-ON", 1, 3.0)]),
            1,
        );
        assert_eq!(t.on, Some(2.5));
        assert_eq!(admission(System::FivePoint, &t), Admission::BelowThree);
        let t = totals(
            System::FivePoint,
            &p,
            &scores(&[("1-JN", 1, 3.0), ("1-ON", 1, 3.0), ("2-ON", 1, 3.0)]),
            1,
        );
        assert!(admission(System::FivePoint, &t).admitted());
    }

    #[test]
    fn grade_borders_never_round_up() {
        let cases = [
            (System::Rating100, 100.0, 5),
            (System::Rating100, 86.0, 5),
            (System::Rating100, 85.99, 4),
            (System::Rating100, 71.0, 4),
            (System::Rating100, 70.9, 3),
            (System::Rating100, 55.0, 3),
            (System::Rating100, 54.5, 2),
            (System::Rating100, 0.0, 2),
            (System::CreditModule, 90.0, 5),
            (System::CreditModule, 89.9, 4),
            (System::CreditModule, 70.0, 4),
            (System::CreditModule, 69.5, 3),
            (System::CreditModule, 60.0, 3),
            (System::CreditModule, 59.99, 2),
            (System::FivePoint, 5.0, 5),
            (System::FivePoint, 4.5, 5),
            (System::FivePoint, 4.4, 4),
            (System::FivePoint, 3.5, 4),
            (System::FivePoint, 3.4, 3),
            (System::FivePoint, 2.5, 3),
            (System::FivePoint, 2.4, 2),
            (System::FivePoint, 2.0, 2),
        ];
        for (system, total, want) in cases {
            assert_eq!(grade(system, total), want, "{system:?} {total}");
        }
        // 0.1 + 0.2 style sums land on the border, not below it.
        assert_eq!(grade(System::Rating100, 54.7 + 0.3), 3);
    }

    #[test]
    fn retakes_carry_jn_and_on_and_read_their_own_sitting() {
        let p = plan(System::Rating100);
        // Admitted at sitting 1 (45 of 70), failed YN, passed the retake: the sitting-1 JN and
        // ON carry over; an ON entered later does not replace them.
        let s = scores(&[
            ("1-JN", 1, 15.0),
            ("2-JN", 1, 15.0),
            ("1-ON", 1, 5.0),
            ("1-ON", 2, 10.0),
            ("2-ON", 1, 10.0),
            ("YN", 1, 5.0),
            ("YN", 2, 20.0),
        ]);
        let first = totals(System::Rating100, &p, &s, 1);
        assert_eq!(first.current, 45.0);
        assert_eq!(first.total, Some(50.0));
        assert_eq!(
            outcome(System::Rating100, &first),
            Outcome::Debtor { debt: Debt::Failed }
        );
        let second = totals(System::Rating100, &p, &s, 2);
        assert_eq!(second.current, 45.0, "sitting 1's JN and ON carried over");
        assert_eq!(second.total, Some(65.0));
        assert_eq!(
            outcome(System::Rating100, &second),
            Outcome::Passed { grade: 3 }
        );
        let third = totals(System::Rating100, &p, &s, 3);
        assert_eq!(third.yn, None);
        assert_eq!(outcome(System::Rating100, &third), Outcome::Admitted);

        // Not admitted at sitting 1 (30 of 70): the JN and ON redone for sitting 2 count.
        let s = scores(&[
            ("1-JN", 1, 10.0),
            ("2-JN", 1, 10.0),
            ("1-ON", 1, 5.0),
            ("2-ON", 1, 5.0),
            ("1-JN", 2, 18.0),
            ("2-ON", 2, 12.0),
            ("YN", 2, 25.0),
        ]);
        let first = totals(System::Rating100, &p, &s, 1);
        assert!(!admission(System::Rating100, &first).admitted());
        let second = totals(System::Rating100, &p, &s, 2);
        assert_eq!(second.current, 18.0 + 10.0 + 5.0 + 12.0);
        assert_eq!(second.total, Some(70.0));
    }

    #[test]
    fn credit_yn_must_reach_sixty_percent_of_its_own_maximum() {
        let p = plan(System::CreditModule);
        let s = scores(&[
            ("1-JN", 1, 20.0),
            ("2-JN", 1, 20.0),
            ("1-ON", 1, 15.0),
            ("2-ON", 1, 15.0),
            ("YN", 1, 17.0),
        ]);
        let t = totals(System::CreditModule, &p, &s, 1);
        assert_eq!(t.total, Some(87.0), "a 4 by the total");
        assert_eq!(
            outcome(System::CreditModule, &t),
            Outcome::Debtor { debt: Debt::Failed },
            "but 17 of 30 is below 60 % of YN"
        );
        let s = scores(&[
            ("1-JN", 1, 20.0),
            ("2-JN", 1, 20.0),
            ("1-ON", 1, 15.0),
            ("2-ON", 1, 15.0),
            ("YN", 1, 18.0),
        ]);
        let t = totals(System::CreditModule, &p, &s, 1);
        assert_eq!(
            outcome(System::CreditModule, &t),
            Outcome::Passed { grade: 4 }
        );
    }

    #[test]
    fn debtor_states() {
        let p = plan(System::Rating100);
        // All JN and ON in, 30 of 70: not admitted, a debtor.
        let s = scores(&[
            ("1-JN", 1, 10.0),
            ("2-JN", 1, 10.0),
            ("1-ON", 1, 5.0),
            ("2-ON", 1, 5.0),
        ]);
        let t = totals(System::Rating100, &p, &s, 1);
        assert_eq!(
            outcome(System::Rating100, &t),
            Outcome::Debtor {
                debt: Debt::NotAdmitted
            }
        );
        // One ON still to come: in progress.
        let t = totals(System::Rating100, &p, &s[..3], 1);
        assert_eq!(outcome(System::Rating100, &t), Outcome::InProgress);
        // Admitted, then a YN that leaves the total at 54.5: failed.
        let s = scores(&[
            ("1-JN", 1, 20.0),
            ("2-JN", 1, 20.0),
            ("1-ON", 1, 0.0),
            ("2-ON", 1, 0.0),
            ("YN", 1, 14.5),
        ]);
        let t = totals(System::Rating100, &p, &s, 1);
        assert_eq!(
            outcome(System::Rating100, &t),
            Outcome::Debtor { debt: Debt::Failed }
        );
    }

    #[test]
    fn thresholds_from_the_catalog() {
        let d = Thresholds::default();
        assert_eq!(d.level(11), Level::Ok);
        assert_eq!(d.level(12), Level::Warning);
        assert_eq!(d.level(36), Level::Reprimand);
        assert_eq!(d.level(74), Level::Reprimand, "74 is not more than 74");
        assert_eq!(d.level(76), Level::Expulsion);
        assert!(d.near_next(10) && d.near_next(34) && d.near_next(74));
        assert!(!d.near_next(20));
        let per_system = r#"{"rating100": [10, 30, 60], "five_point": [14, 40, 80]}"#;
        assert_eq!(
            Thresholds::from_catalog(Some(per_system), System::FivePoint).warning,
            14
        );
        assert_eq!(
            Thresholds::from_catalog(Some(per_system), System::CreditModule),
            d,
            "a system the catalog does not name gets the defaults"
        );
        assert_eq!(
            Thresholds::from_catalog(Some("[8, 20, 50]"), System::Rating100).expulsion,
            50
        );
        assert_eq!(
            Thresholds::from_catalog(Some("[50, 20, 8]"), System::Rating100),
            d
        );
        assert_eq!(Thresholds::from_catalog(None, System::Rating100), d);
    }

    #[test]
    fn an_admitted_student_absent_from_yn_is_a_debtor_and_a_score_overrides_the_absence() {
        let p = plan(System::Rating100);
        let s = scores(&[
            ("1-JN", 1, 15.0),
            ("2-JN", 1, 15.0),
            ("1-ON", 1, 10.0),
            ("2-ON", 1, 10.0),
        ]);
        let t = totals(System::Rating100, &p, &s, 1).with_absence(true);
        assert_eq!(
            outcome(System::Rating100, &t),
            Outcome::Debtor { debt: Debt::Absent }
        );
        // Not admitted wins over absent: the student could not have sat it.
        let low = scores(&[
            ("1-JN", 1, 5.0),
            ("2-JN", 1, 5.0),
            ("1-ON", 1, 5.0),
            ("2-ON", 1, 5.0),
        ]);
        let t = totals(System::Rating100, &p, &low, 1).with_absence(true);
        assert_eq!(
            outcome(System::Rating100, &t),
            Outcome::Debtor {
                debt: Debt::NotAdmitted
            }
        );
        // A score of the same sitting is what counts.
        let mut sat = s.clone();
        sat.push(Score {
            control: "YN".into(),
            sitting: 1,
            points: 20.0,
        });
        let t = totals(System::Rating100, &p, &sat, 1).with_absence(true);
        assert!(!t.absent);
        assert_eq!(outcome(System::Rating100, &t), Outcome::Passed { grade: 3 });
    }
}
