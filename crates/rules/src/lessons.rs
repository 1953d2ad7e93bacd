//! What a teacher may do to a lesson, judged on the journal as it stood before the change
//! (`daftar-core` before saving, the server before storing):
//!
//! - a teacher adds lessons; moving or reassigning an existing one is the dean's office's (the
//!   rule table lets only the office *change* a lesson header, and this refuses a teacher's
//!   "new" header written over a lesson that exists);
//! - a teacher cancels a lesson only while it has no marks: a held lesson's absences count,
//!   and cancelling it would take them away.
//!
//! A lesson is moved by cancelling it and adding one on the new day, so a mark is never judged
//! against a date it was not written for (the entry window reads the lesson's date).

use automerge::{Automerge, ReadDoc};

use crate::change::{Write, WriteOp};
use crate::final_control::{map, text};
use crate::values::LessonStatus;

/// Why a teacher may not cancel a lesson that has marks.
pub const HELD_LESSON: &str =
    "this lesson has marks, so it was held: only the dean's office cancels a held lesson";

/// Why a teacher may not rewrite an existing lesson's header.
pub const NOT_YOUR_MOVE: &str = "only the dean's office moves or reassigns a lesson; cancel it and add the new one, or ask the dean's office";

/// A lesson's own status key (not a prefixed part of the `status` map: requests, retakes,
/// absences).
fn is_lesson_status(w: &Write) -> bool {
    w.map == "status" && !w.key.contains(':')
}

/// Whether `writes` touch lessons in a way this module judges (a cheap filter before the
/// journal is read): a lesson header, or a lesson's status set to anything but held.
pub fn concerns_lessons(writes: &[Write]) -> bool {
    writes.iter().any(|w| {
        w.map == "lessons"
            || (is_lesson_status(w)
                && !matches!(&w.op, WriteOp::Create(v) | WriteOp::Change(v) if v == LessonStatus::Held.as_str()))
    })
}

/// Why a teacher's `writes` to the journal `before` may not be taken, if they may not.
pub fn refuse_teacher_lesson_writes(before: &Automerge, writes: &[Write]) -> Option<String> {
    let lessons = map(before, "lessons");
    let marks = map(before, "marks");
    for w in writes {
        // "Taken in HEMIS" counts a lesson as filled: only the import (an administrator) says it.
        if w.map == "lessons"
            && let WriteOp::Create(v) | WriteOp::Change(v) = &w.op
            && serde_json::from_str::<crate::values::LessonValue>(v).is_ok_and(|l| l.taken)
        {
            return Some("only the HEMIS import marks a lesson as taken in HEMIS".into());
        }
        if w.map == "lessons"
            && lessons
                .as_ref()
                .is_some_and(|m| text(before, m, &w.key).is_some())
        {
            return Some(NOT_YOUR_MOVE.into());
        }
        // A held lesson stays held: its marks may have been cleared since (a teacher may
        // delete marks), so "held" itself decides, as do marks before or in this change.
        let unholds = is_lesson_status(w)
            && !matches!(&w.op, WriteOp::Create(v) | WriteOp::Change(v) if v == LessonStatus::Held.as_str());
        if unholds {
            let status = map(before, "status");
            let held_before = status
                .as_ref()
                .and_then(|m| text(before, m, &w.key))
                .is_some_and(|v| v == LessonStatus::Held.as_str());
            if held_before {
                return Some(HELD_LESSON.into());
            }
            let prefix = format!("{}/", w.key);
            let marked_before = marks.as_ref().is_some_and(|m| {
                before
                    .map_range(m, prefix.clone()..)
                    .next()
                    .is_some_and(|item| item.key.starts_with(&prefix))
            });
            let marked_now = writes.iter().any(|o| {
                o.map == "marks" && o.key.starts_with(&prefix) && !matches!(o.op, WriteOp::Delete)
            });
            if marked_before || marked_now {
                return Some(HELD_LESSON.into());
            }
        }
    }
    None
}
