//! The final control (YN) as the server judges a change: a YN score for a student who is not
//! admitted is refused, with the same reason the replica gives (`assessment::admission`).
//!
//! Read from the documents themselves (automerge, the change already applied): the journal's
//! marking system (`meta.marking`) and scores, the module's control plan (`controls`). A change
//! that also writes the student's JN or ON is judged with them. A retake sitting (2 or 3) of any
//! control, and an absence from one, needs the dean's office's permission
//! (`status["retake:<sitting>/<student>"]`).

use automerge::{Automerge, ObjType, ROOT, ReadDoc, Value};

use crate::assessment::{self, Control, Kind, Score, System};
use crate::change::{Write, WriteOp};

pub(crate) fn map(doc: &Automerge, name: &str) -> Option<automerge::ObjId> {
    match doc.get(ROOT, name).ok()?? {
        (Value::Object(ObjType::Map), id) => Some(id),
        _ => None,
    }
}

pub(crate) fn text(doc: &Automerge, obj: &automerge::ObjId, key: &str) -> Option<String> {
    match doc.get(obj, key).ok()?? {
        (Value::Scalar(s), _) => s.as_str().map(str::to_owned),
        _ => None,
    }
}

/// The module's control plan, from its `controls` map (`{"code", "kind", "max", …}` values).
pub fn plan_of(module: &Automerge) -> Vec<Control> {
    let Some(controls) = map(module, "controls") else {
        return Vec::new();
    };
    module
        .keys(&controls)
        .filter_map(|code| {
            let raw = text(module, &controls, &code)?;
            let v: serde_json::Value = serde_json::from_str(&raw).ok()?;
            Some(Control {
                kind: Kind::parse(v.get("kind")?.as_str()?)?,
                max: v.get("max")?.as_f64()?,
                code,
            })
        })
        .collect()
}

/// The journal's marking system (`meta.marking`; rating when it names none).
pub fn system_of(journal: &Automerge) -> System {
    map(journal, "meta")
        .and_then(|m| text(journal, &m, "marking"))
        .and_then(|m| System::parse(&m))
        .unwrap_or(System::Rating100)
}

/// Why the scores among `writes` are no grades of a five-point journal, if they are not.
pub fn refuse_non_grades(system: System, writes: &[Write]) -> Option<String> {
    if system != System::FivePoint {
        return None;
    }
    writes
        .iter()
        .filter(|w| w.map == "scores")
        .find_map(|w| match &w.op {
            WriteOp::Create(v) | WriteOp::Change(v) => match v.trim().parse::<f64>() {
                Ok(points) => assessment::five_point_grade_problem(points),
                Err(_) => Some(format!("{v:?} is not a grade")),
            },
            WriteOp::Delete => None,
        })
}

/// The journal's module document id (`meta.module`).
pub fn module_of(journal: &Automerge) -> Option<String> {
    text(journal, &map(journal, "meta")?, "module")
}

/// The sitting of a `scores` key (`<control>/<sitting>/<student>`), and its student.
fn sitting_of(key: &str) -> Option<(u8, &str)> {
    let mut parts = key.splitn(3, '/');
    let (_, sitting, student) = (parts.next()?, parts.next()?, parts.next()?);
    Some((sitting.parse().ok()?, student))
}

/// The retake sittings (2 or 3) `writes` put something in, with the student: a score of any
/// control (a redone JN or ON, the second YN) or an absence from the final.
fn retake_sittings(writes: &[Write]) -> impl Iterator<Item = (u8, &str)> {
    writes
        .iter()
        .filter(|w| !matches!(w.op, WriteOp::Delete))
        .filter_map(|w| match w.map {
            "scores" => sitting_of(&w.key),
            "status" => assessment::parse_absent_key(&w.key),
            _ => None,
        })
        .filter(|(sitting, _)| *sitting >= 2)
}

/// Whether `writes` put anything in a retake sitting (a cheap filter before the journal is
/// read).
pub fn writes_retake(writes: &[Write]) -> bool {
    retake_sittings(writes).next().is_some()
}

/// Why what `writes` put in retake sittings may not be taken, if it may not: sitting 2 or 3
/// needs the dean's office's retake permission for that student and sitting, for a score as
/// for an absence (else "absent" at a sitting never opened would make a debtor of who passed).
pub fn refuse_unpermitted_retakes(journal: &Automerge, writes: &[Write]) -> Option<String> {
    let status = map(journal, "status");
    retake_sittings(writes)
        .find(|(sitting, student)| {
            status
                .as_ref()
                .and_then(|m| text(journal, m, &assessment::retake_key(*sitting, student)))
                .is_none()
        })
        .map(|(sitting, _)| {
            format!(
                "sitting {sitting} is a retake: it needs the dean's office's retake permission for this student"
            )
        })
}

/// Why the final-control scores among `writes` may not be taken, if they may not: the student
/// is not admitted. (Whether a retake sitting is open is [`refuse_unpermitted_retakes`].)
pub fn refuse_unadmitted_finals(
    journal: &Automerge,
    module: &Automerge,
    writes: &[Write],
) -> Option<String> {
    let plan = plan_of(module);
    let finals: Vec<&str> = plan
        .iter()
        .filter(|c| c.kind == Kind::Final)
        .map(|c| c.code.as_str())
        .collect();
    let targets: Vec<(&str, u8, &str)> = writes
        .iter()
        .filter(|w| w.map == "scores" && !matches!(w.op, WriteOp::Delete))
        .filter_map(|w| {
            let mut parts = w.key.splitn(3, '/');
            let (code, sitting, student) = (parts.next()?, parts.next()?, parts.next()?);
            // The rule table refuses a sitting outside 1–3 before this is asked.
            finals
                .contains(&code)
                .then(|| (code, sitting.parse().unwrap_or(1), student))
        })
        .collect();
    if targets.is_empty() {
        return None;
    }
    let system = system_of(journal);
    let scores_map = map(journal, "scores")?;
    for (_, sitting, student) in targets {
        let mine: Vec<Score> = journal
            .keys(&scores_map)
            .filter_map(|key| {
                let mut parts = key.splitn(3, '/');
                let (code, s, who) = (parts.next()?, parts.next()?, parts.next()?);
                if who != student {
                    return None;
                }
                Some(Score {
                    control: code.to_string(),
                    sitting: s.parse().ok()?,
                    points: text(journal, &scores_map, &key)?.parse().ok()?,
                })
            })
            .collect();
        let totals = assessment::totals(system, &plan, &mine, sitting);
        if let Some(reason) = assessment::admission(system, &totals).reason() {
            return Some(reason);
        }
    }
    None
}
