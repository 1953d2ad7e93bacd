//! The read side of the conflict inbox that is not the conflicts themselves: the resolutions
//! recorded in journals ("your mark was replaced by the dean's office, because…") and the
//! names a person needs beside a cell (subject, group, student, lesson date).

use rusqlite::OptionalExtension;

use crate::Replica;
use crate::error::Result;
use crate::journal::short_id;
use crate::model::MarkValue;

/// A decision recorded in a journal.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename_all = "camelCase"))]
pub struct Resolution {
    /// The journal (short id).
    pub journal: String,
    pub subject: Option<String>,
    pub group: Option<String>,
    /// `mark`, `adjustment`, `topic`, `score`, …
    pub field: String,
    pub lesson: Option<String>,
    pub student: Option<String>,
    pub student_name: Option<String>,
    pub lesson_date: Option<String>,
    pub by_user: String,
    /// The decided value as people read it (a mark as the grid shows it).
    pub display: String,
    pub note: Option<String>,
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub resolved_at: Option<i64>,
}

/// What a person reads beside a cell.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CellContext {
    pub subject: Option<String>,
    pub group: Option<String>,
    pub student_name: Option<String>,
    pub lesson_date: Option<String>,
}

impl Replica {
    /// The names beside a cell of `journal` (a document id).
    pub fn cell_context(
        &self,
        journal: &str,
        lesson: Option<&str>,
        student: Option<&str>,
    ) -> Result<CellContext> {
        let conn = self.conn();
        let names: Option<(Option<String>, Option<String>, Option<String>)> = conn
            .query_row(
                "SELECT j.subject, g.name,
                        (SELECT s.name FROM students s WHERE s.group_id = j.group_id AND s.id = ?2)
                 FROM journals j LEFT JOIN groups g ON g.id = j.group_id WHERE j.id = ?1",
                rusqlite::params![journal, student],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .optional()?;
        let (subject, group, student_name) = names.unwrap_or((None, None, None));
        let lesson_date: Option<String> = match lesson {
            Some(l) => conn
                .query_row(
                    "SELECT date FROM lessons WHERE journal_id = ?1 AND id = ?2",
                    [journal, l],
                    |row| row.get(0),
                )
                .optional()?,
            None => None,
        };
        Ok(CellContext {
            subject,
            group,
            student_name,
            lesson_date,
        })
    }

    /// Resolutions recorded in journals, newest first; `journal` is a document id, or `None`
    /// for all.
    pub fn resolutions(&self, journal: Option<&str>) -> Result<Vec<Resolution>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT r.doc_id, r.key, r.by_user, r.value, r.note, r.resolved_at
             FROM resolutions r
             WHERE ?1 IS NULL OR r.doc_id = ?1
             ORDER BY r.resolved_at DESC, r.key",
        )?;
        type Row = (String, String, String, String, Option<String>, Option<i64>);
        let hidden = self.hidden_docs()?;
        let rows: Vec<Row> = stmt
            .query_map([journal], |row| {
                Ok((
                    row.get(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                    row.get(4)?,
                    row.get(5)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut out = Vec::with_capacity(rows.len());
        for (doc, key, by_user, value, note, resolved_at) in rows {
            if hidden.contains(&doc) {
                continue;
            }
            let (field, rest) = key.split_once(':').unwrap_or(("", key.as_str()));
            let (lesson, student) = match field {
                "mark" | "adjustment" => match rest.parse::<daftar_protocol::ids::CellKey>() {
                    Ok(cell) => (
                        Some(cell.lesson.to_string()),
                        Some(cell.student.to_string()),
                    ),
                    Err(_) => (None, None),
                },
                "topic" => (Some(rest.to_string()), None),
                "score" => (None, rest.rsplit('/').next().map(str::to_string)),
                _ => (None, None),
            };
            let context = self.cell_context(&doc, lesson.as_deref(), student.as_deref())?;
            let display = match field {
                "mark" => serde_json::from_str::<MarkValue>(&value)
                    .map(|m| m.display())
                    .unwrap_or(value.clone()),
                _ => value.clone(),
            };
            out.push(Resolution {
                journal: short_id(&doc).to_string(),
                subject: context.subject,
                group: context.group,
                field: field.to_string(),
                lesson,
                student,
                student_name: context.student_name,
                lesson_date: context.lesson_date,
                by_user,
                display,
                note,
                resolved_at,
            });
        }
        Ok(out)
    }
}
