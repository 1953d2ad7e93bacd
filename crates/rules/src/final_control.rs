//! The final control (YN) as the server judges a change: a YN score for a student who is not
//! admitted is refused, with the same reason the replica gives (`assessment::admission`).
//!
//! Read from the documents themselves (automerge, the change already applied): the journal's
//! marking system (`meta.marking`) and scores, the module's control plan (`controls`). A change
//! that also writes the student's JN or ON is judged with them. A retake sitting (2 or 3) needs
//! the dean's office's permission (`status["retake:<sitting>/<student>"]`).

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

/// Whether `writes` put a score for a retake sitting (2 or 3) of any control.
pub fn writes_retake_sitting(writes: &[Write]) -> bool {
    writes.iter().any(|w| {
        w.map == "scores"
            && !matches!(w.op, WriteOp::Delete)
            && sitting_of(&w.key).is_some_and(|(s, _)| s >= 2)
    })
}

/// Why the scores for retake sittings among `writes` may not be taken, if they may not: any
/// control's sitting 2 or 3 (a redone JN or ON, or the YN retake) needs the dean's office's
/// retake permission for that student and sitting.
pub fn refuse_unpermitted_retakes(journal: &Automerge, writes: &[Write]) -> Option<String> {
    let status = map(journal, "status");
    writes
        .iter()
        .filter(|w| w.map == "scores" && !matches!(w.op, WriteOp::Delete))
        .filter_map(|w| sitting_of(&w.key))
        .filter(|(sitting, _)| *sitting >= 2)
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

/// Whether `writes` record an absence from a retake sitting (2 or 3) of the final.
pub fn writes_retake_absence(writes: &[Write]) -> bool {
    writes.iter().any(|w| {
        w.map == "status"
            && !matches!(w.op, WriteOp::Delete)
            && assessment::parse_absent_key(&w.key).is_some_and(|(s, _)| s >= 2)
    })
}

/// Why the absences from a retake sitting among `writes` may not be recorded, if they may not:
/// sitting 2 or 3 needs the dean's office's retake permission for that student, as its score
/// does (else "absent" at a sitting never opened would make a debtor of who passed).
pub fn refuse_unpermitted_absences(journal: &Automerge, writes: &[Write]) -> Option<String> {
    let status = map(journal, "status");
    writes
        .iter()
        .filter(|w| w.map == "status" && !matches!(w.op, WriteOp::Delete))
        .filter_map(|w| assessment::parse_absent_key(&w.key))
        .filter(|(sitting, _)| *sitting >= 2)
        .find(|(sitting, student)| {
            status
                .as_ref()
                .and_then(|m| text(journal, m, &assessment::retake_key(*sitting, student)))
                .is_none()
        })
        .map(|(sitting, _)| {
            format!(
                "sitting {sitting} is a retake: an absence from it needs the dean's office's retake permission for this student"
            )
        })
}

/// Why the final-control scores among `writes` may not be taken, if they may not.
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
    let status = map(journal, "status");
    for (_, sitting, student) in targets {
        // A retake sitting needs the dean's office's permission.
        if sitting >= 2
            && status
                .as_ref()
                .and_then(|m| text(journal, m, &assessment::retake_key(sitting, student)))
                .is_none()
        {
            return Some(format!(
                "sitting {sitting} of the final control needs the dean's office's retake permission for this student"
            ));
        }
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
