//! Course modules (topics, hours per lesson type, the control plan) and groups (rosters) as
//! the app and the CLI show them, read from the projection; and the module edits department
//! heads make (adding and renaming topics), each one change to the module document.
//!
//! Ids are accepted short (`m1`) or whole (`module/m1`); the views give them short.

use std::collections::BTreeMap;

use daftar_protocol::DocKind;
use rusqlite::OptionalExtension;

use crate::Replica;
use crate::error::{CoreError, Result};
use crate::journal::short_id;
use crate::model::LessonType;
use crate::projection::{Refresh, TopicValue};

/// A document id of `kind` from a short or whole id (`daftar_protocol::ids::DocId`). Text that
/// is no such id (another kind's, a space in it) gives an id no document has, so the look-up
/// that follows says "not found".
pub fn doc_id(kind: &str, id: &str) -> String {
    let id = id.trim();
    match DocKind::ALL.into_iter().find(|k| k.as_str() == kind) {
        Some(kind) => daftar_protocol::ids::DocId::of_kind(kind, id)
            .map(|d| d.to_string())
            .unwrap_or_else(|_| format!("{}/{id}", kind.as_str())),
        None => format!("{kind}/{id}"),
    }
}

fn count(v: i64) -> u32 {
    v.max(0) as u32
}

/// One line of the module list.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename_all = "camelCase"))]
pub struct ModuleSummary {
    pub id: String,
    pub subject: String,
    pub semester: String,
    pub department: Option<String>,
    pub marking_system: String,
    pub topics: u32,
    pub journals: u32,
}

/// A control of the module's plan.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename_all = "camelCase"))]
pub struct ModuleControl {
    pub code: String,
    pub kind: String,
    pub max: f64,
    pub sittings: u32,
}

/// A topic of the module, in its order.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename_all = "camelCase"))]
pub struct ModuleTopic {
    pub id: String,
    pub name: String,
    pub lesson_type: Option<String>,
    pub position: f64,
}

/// A whole module.
#[derive(Debug, Clone, PartialEq)]
pub struct ModuleDetail {
    pub id: String,
    pub subject: String,
    pub semester: String,
    pub department: Option<String>,
    pub marking_system: String,
    /// Planned hours per lesson type code, by code.
    pub hours: Vec<(String, u32)>,
    pub controls: Vec<ModuleControl>,
    pub topics: Vec<ModuleTopic>,
}

/// One line of the group list.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename_all = "camelCase"))]
pub struct GroupSummary {
    pub id: String,
    pub name: String,
    pub faculty: Option<String>,
    pub year: Option<String>,
    pub language: Option<String>,
    pub students: u32,
    pub active: u32,
    pub journals: u32,
}

/// A student of a group's roster.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename_all = "camelCase"))]
pub struct RosterStudent {
    pub id: String,
    pub number: Option<String>,
    pub name: String,
    pub status: String,
    pub subgroup: Option<String>,
}

/// A whole group.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupDetail {
    pub id: String,
    pub name: String,
    pub faculty: Option<String>,
    pub year: Option<String>,
    pub language: Option<String>,
    pub students: Vec<RosterStudent>,
    /// The group's journals (short ids).
    pub journals: Vec<String>,
}

/// A topic name as people may type it: trimmed, not empty, at most 300 characters.
pub fn check_topic_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() {
        return Err(CoreError::invalid("name", "write the topic's name"));
    }
    if name.chars().count() > 300 {
        return Err(CoreError::invalid(
            "name",
            "a topic name is at most 300 characters",
        ));
    }
    Ok(name.to_string())
}

impl Replica {
    /// A module's control plan (JN, ON, YN with their maximum and sittings), by kind and code;
    /// none for no module.
    pub fn module_controls(&self, module: Option<&str>) -> Result<Vec<ModuleControl>> {
        let Some(module) = module else {
            return Ok(Vec::new());
        };
        let mut stmt = self.conn().prepare_cached(
            "SELECT code, kind, max, sittings FROM module_controls WHERE module_id = ?1 ORDER BY kind, code",
        )?;
        let rows = stmt
            .query_map([module], |row| {
                Ok(ModuleControl {
                    code: row.get(0)?,
                    kind: row.get(1)?,
                    max: row.get(2)?,
                    sittings: count(row.get(3)?),
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Every course module, by subject.
    pub fn modules(&self) -> Result<Vec<ModuleSummary>> {
        let mut stmt = self.conn().prepare(
            "SELECT m.id, m.subject, m.semester, coalesce(d.name, m.department_id), m.marking_system,
                    (SELECT count(*) FROM module_topics t WHERE t.module_id = m.id),
                    (SELECT count(*) FROM journals j WHERE j.module_id = m.id)
             FROM modules m LEFT JOIN departments d ON d.id = m.department_id
             ORDER BY m.subject, m.id",
        )?;
        let rows = stmt
            .query_map([], |row| {
                Ok(ModuleSummary {
                    id: short_id(&row.get::<_, String>(0)?).to_string(),
                    subject: row.get(1)?,
                    semester: row.get(2)?,
                    department: row.get(3)?,
                    marking_system: row.get(4)?,
                    topics: count(row.get(5)?),
                    journals: count(row.get(6)?),
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let hidden = self.hidden_docs()?;
        Ok(rows
            .into_iter()
            .filter(|m| !hidden.contains(&doc_id("module", &m.id)))
            .collect())
    }

    /// One course module with its hours, control plan and topics.
    pub fn module(&self, module: &str) -> Result<ModuleDetail> {
        let module = doc_id("module", module);
        if !self.visible(&module)? {
            return Err(CoreError::not_found("module", short_id(&module)));
        }
        let conn = self.conn();
        type Head = (String, String, Option<String>, String, String);
        let row: Option<Head> = conn
            .query_row(
                "SELECT m.subject, m.semester, coalesce(d.name, m.department_id), m.marking_system, m.hours
                 FROM modules m LEFT JOIN departments d ON d.id = m.department_id WHERE m.id = ?1",
                [&module],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?)),
            )
            .optional()?;
        let Some((subject, semester, department, marking_system, hours_json)) = row else {
            return Err(CoreError::not_found("course module", short_id(&module)));
        };
        let hours: BTreeMap<String, serde_json::Value> =
            serde_json::from_str(&hours_json).unwrap_or_default();
        let hours = hours
            .into_iter()
            .map(|(t, h)| (t, h.as_u64().unwrap_or(0) as u32))
            .collect();
        let controls = self.module_controls(Some(&module))?;
        let topics = conn
            .prepare(
                "SELECT id, name, lesson_type, position FROM module_topics WHERE module_id = ?1 ORDER BY position, id",
            )?
            .query_map([&module], |row| {
                Ok(ModuleTopic {
                    id: row.get(0)?,
                    name: row.get(1)?,
                    lesson_type: row.get(2)?,
                    position: row.get(3)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(ModuleDetail {
            id: short_id(&module).to_string(),
            subject,
            semester,
            department,
            marking_system,
            hours,
            controls,
            topics,
        })
    }

    /// Adds a topic at the end of a module's list (one change); returns its id.
    pub fn add_topic(
        &mut self,
        module: &str,
        name: &str,
        lesson_type: Option<&str>,
    ) -> Result<String> {
        let name = check_topic_name(name)?;
        let lesson_type = match lesson_type.map(str::trim).filter(|t| !t.is_empty()) {
            Some(t) => Some(LessonType::parse(t)?.code().to_string()),
            None => None,
        };
        let module = doc_id("module", module);
        if !self.has_doc(&module)? {
            return Err(CoreError::not_found("course module", short_id(&module)));
        }
        let last: Option<f64> = self.conn().query_row(
            "SELECT max(position) FROM module_topics WHERE module_id = ?1",
            [&module],
            |row| row.get(0),
        )?;
        let id = format!("t{}", &uuid::Uuid::now_v7().simple().to_string()[..16]);
        let raw = serde_json::to_string(&TopicValue {
            name,
            lesson_type,
            pos: last.map_or(0.0, |p| p + 1.0),
        })
        .map_err(|e| CoreError::invalid("name", e.to_string()))?;
        let key = id.clone();
        self.edit(&module, "add topic", move |doc| {
            doc.put("topics", &key, &raw)?;
            Ok(Refresh::Whole)
        })?;
        Ok(id)
    }

    /// Renames a module's topic (one change), keeping its type and place.
    pub fn rename_topic(&mut self, module: &str, topic: &str, name: &str) -> Result<()> {
        let name = check_topic_name(name)?;
        let module = doc_id("module", module);
        let current: Option<(Option<String>, f64)> = self
            .conn()
            .query_row(
                "SELECT lesson_type, position FROM module_topics WHERE module_id = ?1 AND id = ?2",
                [&module, topic],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        let Some((lesson_type, pos)) = current else {
            return Err(CoreError::not_found("topic", topic));
        };
        let raw = serde_json::to_string(&TopicValue {
            name,
            lesson_type,
            pos,
        })
        .map_err(|e| CoreError::invalid("name", e.to_string()))?;
        let topic = topic.to_string();
        self.edit(&module, "rename topic", move |doc| {
            doc.put("topics", &topic, &raw)?;
            Ok(Refresh::Whole)
        })?;
        Ok(())
    }

    /// Every group, by name.
    pub fn groups(&self) -> Result<Vec<GroupSummary>> {
        let mut stmt = self.conn().prepare(
            "SELECT g.id, g.name, coalesce(f.name, g.faculty_id), g.year, g.language,
                    (SELECT count(*) FROM students s WHERE s.group_id = g.id),
                    (SELECT count(*) FROM students s WHERE s.group_id = g.id AND s.status = 'active'),
                    (SELECT count(*) FROM journals j WHERE j.group_id = g.id)
             FROM groups g LEFT JOIN faculties f ON f.id = g.faculty_id
             ORDER BY g.name, g.id",
        )?;
        let rows = stmt
            .query_map([], |row| {
                Ok(GroupSummary {
                    id: short_id(&row.get::<_, String>(0)?).to_string(),
                    name: row.get(1)?,
                    faculty: row.get(2)?,
                    year: row.get(3)?,
                    language: row.get(4)?,
                    students: count(row.get(5)?),
                    active: count(row.get(6)?),
                    journals: count(row.get(7)?),
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let hidden = self.hidden_docs()?;
        Ok(rows
            .into_iter()
            .filter(|g| !hidden.contains(&doc_id("group", &g.id)))
            .collect())
    }

    /// One group with its roster (by name) and its journals.
    pub fn group(&self, group: &str) -> Result<GroupDetail> {
        let group = doc_id("group", group);
        if !self.visible(&group)? {
            return Err(CoreError::not_found("group", short_id(&group)));
        }
        let conn = self.conn();
        type Head = (String, Option<String>, Option<String>, Option<String>);
        let row: Option<Head> = conn
            .query_row(
                "SELECT g.name, coalesce(f.name, g.faculty_id), g.year, g.language
                 FROM groups g LEFT JOIN faculties f ON f.id = g.faculty_id WHERE g.id = ?1",
                [&group],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
            )
            .optional()?;
        let Some((name, faculty, year, language)) = row else {
            return Err(CoreError::not_found("group", short_id(&group)));
        };
        let students = conn
            .prepare(
                "SELECT id, number, name, status, subgroup FROM students WHERE group_id = ?1 ORDER BY name, id",
            )?
            .query_map([&group], |row| {
                Ok(RosterStudent {
                    id: row.get(0)?,
                    number: row.get(1)?,
                    name: row.get(2)?,
                    status: row.get(3)?,
                    subgroup: row.get(4)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let journals = conn
            .prepare("SELECT id FROM journals WHERE group_id = ?1 ORDER BY id")?
            .query_map([&group], |row| row.get::<_, String>(0))?
            .map(|r| r.map(|id| short_id(&id).to_string()))
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(GroupDetail {
            id: short_id(&group).to_string(),
            name,
            faculty,
            year,
            language,
            students,
            journals,
        })
    }
}
