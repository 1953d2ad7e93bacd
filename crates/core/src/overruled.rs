//! "Changes to your marks": values a person wrote that the dean's office (or an administrator)
//! replaced with another value when resolving a conflict.
//!
//! Derived from the journal documents alone, so every replica of the same changes agrees: a
//! resolution is one change that writes the chosen value and a `resolutions` record (who, value,
//! note). The values it superseded are the ones the key held just before that change (at the
//! change's dependencies), each with the author and device recorded in the change that wrote it.
//! A value is someone's *overruled* value when they wrote it (by user name, or from this device)
//! and the decision differs from it. The resolver's own values never count as overruled.

use automerge::{ObjId, ReadDoc, Value};
use serde::{Deserialize, Serialize};

use crate::conflicts::author_of;
use crate::error::Result;
use crate::journal::short_id;
use crate::model::{MarkValue, ResolutionValue};
use crate::replica::Replica;

/// One value of yours that a decision replaced, with the names a person reads beside it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename_all = "camelCase"))]
pub struct Overruled {
    /// The journal, by the short id the app navigates with.
    pub journal: String,
    pub subject: Option<String>,
    pub group: Option<String>,
    /// `mark`, `score` or `topic`.
    pub field: String,
    pub key: String,
    pub lesson: Option<String>,
    pub student: Option<String>,
    pub student_name: Option<String>,
    pub lesson_date: Option<String>,
    /// The raw value you wrote, and how people read it (`NB`, `85`…).
    pub mine: String,
    pub mine_display: String,
    /// When you wrote it (unix ms).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub written_at: i64,
    /// The decided value, and how people read it.
    pub decided: String,
    pub decided_display: String,
    /// Who decided, when (unix ms), and why.
    pub by_user: String,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub resolved_at: i64,
    pub note: Option<String>,
}

fn map_of(field: &str) -> Option<&'static str> {
    match field {
        "mark" => Some("marks"),
        "score" => Some("scores"),
        "topic" => Some("topics"),
        _ => None,
    }
}

/// How people read a raw value of `field`.
pub fn display_value(field: &str, raw: &str) -> String {
    match field {
        "mark" => serde_json::from_str::<MarkValue>(raw)
            .map(|m| m.display())
            .unwrap_or_else(|_| raw.to_string()),
        _ => raw.to_string(),
    }
}

impl Replica {
    /// Values `user` (or anyone writing from this device) wrote that a resolution replaced with
    /// a different value, newest decision first; `journal` narrows it to one journal document.
    pub fn overruled(&mut self, journal: Option<&str>, user: &str) -> Result<Vec<Overruled>> {
        let records: Vec<(String, String)> = {
            let mut stmt = self.conn().prepare_cached(
                "SELECT doc_id, key FROM resolutions
                 WHERE (?1 IS NULL OR doc_id = ?1)
                   AND (key LIKE 'mark:%' OR key LIKE 'score:%' OR key LIKE 'topic:%')
                 ORDER BY doc_id, key",
            )?;
            stmt.query_map([journal], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?
        };
        let hidden = self.hidden_docs()?;
        let records: Vec<(String, String)> = records
            .into_iter()
            .filter(|(doc, _)| !hidden.contains(doc))
            .collect();
        let device = self.device_hex();
        let mut out = Vec::new();
        for (doc_id, record_key) in records {
            let Some((field, key)) = record_key.split_once(':') else {
                continue;
            };
            let Some(map) = map_of(field) else { continue };
            let doc = self.doc(&doc_id)?;
            let Some(record) = doc
                .get("resolutions", &record_key)
                .and_then(|v| serde_json::from_str::<ResolutionValue>(&v).ok())
            else {
                continue;
            };
            // The change that wrote the record also wrote the decided value.
            let Some((_, record_op)) = doc.get_all("resolutions", &record_key).pop() else {
                continue;
            };
            let Some(hash) = doc.am.hash_for_opid(&record_op) else {
                continue;
            };
            let Some((deps, resolved_at)) = doc
                .am
                .get_change_meta_by_hash(&hash)
                .map(|m| (m.deps.clone(), m.timestamp))
            else {
                continue;
            };
            let obj = doc.map(map)?.clone();
            let before: Vec<(String, ObjId)> = doc
                .am
                .get_all_at(&obj, key, &deps)
                .map(|values| {
                    values
                        .into_iter()
                        .filter_map(|(v, op)| match v {
                            Value::Scalar(s) => s.as_str().map(|s| (s.to_string(), op)),
                            Value::Object(_) => None,
                        })
                        .collect()
                })
                .unwrap_or_default();
            for (raw, op) in before {
                if raw == record.value {
                    continue;
                }
                let author = author_of(doc, &op);
                let from_here = match &op {
                    ObjId::Id(_, actor, _) => actor.to_hex_string() == device,
                    ObjId::Root => false,
                };
                let by_user = author.user.as_deref() == Some(user);
                if !(by_user || from_here) || author.user.as_deref() == Some(record.by.as_str()) {
                    continue;
                }
                let (lesson, student) = match field {
                    "mark" => match key.parse::<daftar_protocol::ids::CellKey>() {
                        Ok(cell) => (
                            Some(cell.lesson.to_string()),
                            Some(cell.student.to_string()),
                        ),
                        Err(_) => (None, None),
                    },
                    "topic" => (Some(key.to_string()), None),
                    _ => (None, key.rsplit('/').next().map(str::to_string)),
                };
                out.push(Overruled {
                    // The long id until the names are looked up below.
                    journal: doc_id.clone(),
                    subject: None,
                    group: None,
                    field: field.to_string(),
                    key: key.to_string(),
                    lesson,
                    student,
                    student_name: None,
                    lesson_date: None,
                    mine_display: display_value(field, &raw),
                    mine: raw,
                    written_at: author.edited_at,
                    decided_display: display_value(field, &record.value),
                    decided: record.value.clone(),
                    by_user: record.by.clone(),
                    resolved_at,
                    note: record.note.clone(),
                });
                break;
            }
        }
        out.sort_by(|a, b| {
            b.resolved_at
                .cmp(&a.resolved_at)
                .then_with(|| a.journal.cmp(&b.journal))
                .then_with(|| a.key.cmp(&b.key))
        });
        for o in &mut out {
            let context =
                self.cell_context(&o.journal, o.lesson.as_deref(), o.student.as_deref())?;
            o.journal = short_id(&o.journal).to_string();
            o.subject = context.subject;
            o.group = context.group;
            o.student_name = context.student_name;
            o.lesson_date = context.lesson_date;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use crate::conflicts::Choice;
    use crate::journal::MarkInput;
    use crate::model::Attendance;
    use crate::{Incoming, Replica, demo};

    /// One hour missed: a value the demo data never holds, so every put writes an op.
    fn absent() -> MarkInput {
        MarkInput {
            status: Attendance::Absent,
            grade: None,
            note: None,
            hours: Some(1),
        }
    }

    fn copy(from: &Replica, to: &mut Replica, skip: usize) -> usize {
        let all = from.outgoing(usize::MAX, true).expect("changes");
        let n = all.len();
        to.apply_remote(
            all.into_iter()
                .skip(skip)
                .map(|c| Incoming::Change {
                    doc: c.doc,
                    bytes: c.bytes,
                })
                .collect(),
        )
        .expect("apply");
        n
    }

    /// The teacher marks NB, the admin marks E concurrently; the dean's office decides. The
    /// teacher's replica lists the NB as overruled only when the decision differs from it.
    #[test]
    fn a_decision_against_your_value_is_listed_with_who_when_and_why() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut teacher = Replica::open(&dir.path().join("t.db")).expect("open");
        demo::generate(
            &mut teacher,
            &demo::DemoSpec::new(demo::Tier::Xs, 7),
            |_, _| {},
        )
        .expect("demo");
        teacher.set_user("ustoz").expect("user");
        let mut admin = Replica::open(&dir.path().join("a.db")).expect("open");
        admin.set_user("admin").expect("user");
        copy(&teacher, &mut admin, 0);

        let journal = teacher
            .resolve_journal(&teacher.journals().expect("journals")[0].id)
            .expect("journal");
        let view = teacher.journal_view(&journal).expect("view");
        let (lesson, student) = (view.lessons[0].id.clone(), view.students[3].id.clone());
        let (lesson2, student2) = (view.lessons[0].id.clone(), view.students[4].id.clone());
        let t_seen = teacher.outgoing(usize::MAX, true).expect("changes").len();
        teacher
            .mark(&journal, &lesson, &student, absent())
            .expect("mark");
        teacher
            .mark(&journal, &lesson2, &student2, absent())
            .expect("mark");
        admin
            .mark(
                &journal,
                &lesson,
                &student,
                MarkInput {
                    status: Attendance::Excused,
                    ..absent()
                },
            )
            .expect("mark");
        admin
            .mark(
                &journal,
                &lesson2,
                &student2,
                MarkInput {
                    status: Attendance::Late,
                    ..absent()
                },
            )
            .expect("mark");
        copy(&teacher, &mut admin, t_seen);
        assert!(
            teacher
                .overruled(None, "ustoz")
                .expect("overruled")
                .is_empty(),
            "nothing is decided yet"
        );

        // The dean's office (on the admin's replica) decides both conflicts: the first against
        // the teacher (E), the second for the teacher (NB).
        // Another person on the same replica writes as a new device (as sign-in does).
        admin.new_device().expect("device");
        admin.set_user("dekanat").expect("user");
        let conflicts = admin.conflicts(Some(&journal)).expect("conflicts");
        assert_eq!(conflicts.len(), 2);
        for c in &conflicts {
            let keep_teacher = c.student.as_deref() == Some(student2.as_str());
            let pick = c
                .values
                .iter()
                .position(|v| (v.user.as_deref() == Some("ustoz")) == keep_teacher)
                .expect("a value")
                + 1;
            admin
                .resolve(&c.id, Choice::Pick(pick), Some("Maʼlumotnoma yoʻq"))
                .expect("resolve");
        }
        // The resolver's own decisions are never "overruled"; the admin's L, decided against,
        // is the admin's (found by user name: it was written from the earlier device).
        assert!(admin.overruled(None, "dekanat").expect("own").is_empty());
        let admins = admin.overruled(None, "admin").expect("admin");
        assert_eq!(admins.len(), 1, "{admins:?}");
        assert_eq!(
            (
                admins[0].mine_display.as_str(),
                admins[0].decided_display.as_str()
            ),
            ("L", "NB")
        );

        // The admin's replica sends only its own changes: its marks and the decisions.
        copy(&admin, &mut teacher, 0);
        assert!(teacher.conflicts(None).expect("inbox").is_empty());
        let list = teacher.overruled(None, "ustoz").expect("overruled");
        assert_eq!(
            list.len(),
            1,
            "only the decision against the teacher: {list:?}"
        );
        let o = &list[0];
        assert_eq!(o.journal, crate::journal::short_id(&journal));
        assert_eq!(o.field, "mark");
        assert_eq!(o.lesson.as_deref(), Some(lesson.as_str()));
        assert_eq!(o.student.as_deref(), Some(student.as_str()));
        assert_eq!(
            (o.mine_display.as_str(), o.decided_display.as_str()),
            ("NB", "E")
        );
        assert_eq!(o.by_user, "dekanat");
        assert_eq!(o.note.as_deref(), Some("Maʼlumotnoma yoʻq"));
        assert!(o.resolved_at >= o.written_at && o.written_at > 0);
        // Narrowed to the journal, and the same from a new device of the same user.
        assert_eq!(
            teacher.overruled(Some(&journal), "ustoz").expect("one"),
            list
        );
        teacher.new_device().expect("device");
        assert_eq!(teacher.overruled(None, "ustoz").expect("again"), list);
        // Another user of the same replica (new device) was not overruled.
        assert!(teacher.overruled(None, "boshqa").expect("other").is_empty());
    }
}
