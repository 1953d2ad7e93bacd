//! The start of a pair: which lesson a journal opens at, which topic each lesson still
//! without one is offered first, and who a roll call typed as row numbers or names means.
//! The app's grid and the CLI read these; neither decides them.

use std::collections::{HashMap, HashSet};

use crate::error::{CoreError, Result};
use crate::journal::{JournalView, fold_name};
use crate::replica::Replica;

/// Where a journal opens and what its topic pickers offer first.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LessonPlan {
    /// The lesson to put the cursor on: today's lesson still to fill (by the university's
    /// calendar day), else the first lesson still to fill whose entry window is open, else
    /// the first with a student unmarked.
    pub focus: Option<String>,
    /// For each lesson without a topic: the module's next topic of the lesson's type that no
    /// lesson uses yet, handed out in lesson order (the second topicless practical gets the
    /// second unused practical topic). Topics without a type serve any type, after the typed.
    pub next_topics: HashMap<String, String>,
    /// Lessons whose entry window has closed (by this device's clock): judged once here, for
    /// the focus and for the grid's headers.
    pub entry_closed: HashSet<String>,
}

impl Replica {
    /// See [`LessonPlan`]; `view` is [`Replica::journal_view`] of `journal`.
    pub fn lesson_plan(&self, journal: &str, view: &JournalView) -> Result<LessonPlan> {
        let today = daftar_rules::window::university_date(self.now());
        let open = |l: &crate::journal::LessonView| {
            l.lock.is_none() && view.lock.is_none() && l.status != "cancelled"
        };
        let to_fill =
            |l: &crate::journal::LessonView| open(l) && (l.unmarked > 0 || l.topic.is_none());
        let mut entry_closed = HashSet::new();
        for l in &view.lessons {
            if self.entry_closed(journal, &l.id)?.is_some() {
                entry_closed.insert(l.id.clone());
            }
        }
        let fillable: Vec<&crate::journal::LessonView> = view
            .lessons
            .iter()
            .filter(|l| to_fill(l) && !entry_closed.contains(&l.id))
            .collect();
        let focus = fillable
            .iter()
            .find(|l| l.date == today)
            .or_else(|| fillable.iter().find(|l| l.date >= today))
            .or_else(|| fillable.first())
            .map(|l| l.id.clone())
            .or_else(|| {
                view.lessons
                    .iter()
                    .find(|l| open(l) && l.unmarked > 0)
                    .map(|l| l.id.clone())
            });

        Ok(LessonPlan {
            focus,
            next_topics: self.next_topics(view)?,
            entry_closed,
        })
    }

    /// [`LessonPlan::next_topics`] alone (an edit's patch needs no focus).
    pub fn next_topics(&self, view: &JournalView) -> Result<HashMap<String, String>> {
        let mut next_topics = HashMap::new();
        if let Some(module) = &view.module {
            let topics = self.module_topics(&crate::catalog::doc_id("module", module))?;
            let mut used: HashSet<String> = view
                .lessons
                .iter()
                .filter_map(|l| l.topic.as_deref().map(fold_name))
                .collect();
            let mut lessons: Vec<&crate::journal::LessonView> = view
                .lessons
                .iter()
                .filter(|l| l.topic.is_none() && l.status != "cancelled")
                .collect();
            lessons.sort_by(|a, b| (&a.date, a.pair).cmp(&(&b.date, b.pair)));
            for l in lessons {
                let typed = topics.iter().find(|(_, name, t)| {
                    t.as_deref() == Some(l.lesson_type.as_str()) && !used.contains(&fold_name(name))
                });
                let any = || {
                    topics
                        .iter()
                        .find(|(_, name, t)| t.is_none() && !used.contains(&fold_name(name)))
                };
                if let Some((_, name, _)) = typed.or_else(any) {
                    used.insert(fold_name(name));
                    next_topics.insert(l.id.clone(), name.clone());
                }
            }
        }
        Ok(next_topics)
    }
}

/// The students a roll call names, as row numbers in the journal's order (1 is the first
/// student) or names: `5 17`, `5, 17`, `aliyeva karimov`, `o'ktamov` (any Uzbek apostrophe).
/// A name matches a student whose name, or any word of it, starts with it; a name matching
/// several students, a row past the end and a student no longer studying are refused with the
/// reason. Answers student ids in the order typed, each once.
pub fn roll_call(view: &JournalView, typed: &str) -> Result<Vec<String>> {
    let active: Vec<bool> = view.students.iter().map(|s| s.status == "active").collect();
    let names: Vec<String> = view.students.iter().map(|s| fold_name(&s.name)).collect();
    let mut out: Vec<String> = Vec::new();
    let push = |row: usize, out: &mut Vec<String>| -> Result<()> {
        let s = &view.students[row];
        if !active[row] {
            return Err(CoreError::invalid(
                "absent",
                format!(
                    "row {} ({}) no longer studies in this group",
                    row + 1,
                    s.name
                ),
            ));
        }
        if !out.contains(&s.id) {
            out.push(s.id.clone());
        }
        Ok(())
    };
    for token in typed
        .split(|c: char| c.is_whitespace() || c == ',' || c == ';')
        .filter(|t| !t.is_empty())
    {
        if let Ok(n) = token.parse::<usize>() {
            if n == 0 || n > view.students.len() {
                return Err(CoreError::invalid(
                    "absent",
                    format!(
                        "there is no row {n}: the group has {} students",
                        view.students.len()
                    ),
                ));
            }
            push(n - 1, &mut out)?;
            continue;
        }
        let want = fold_name(token);
        let hits: Vec<usize> = names
            .iter()
            .enumerate()
            .filter(|(r, name)| {
                active[*r]
                    && (name.starts_with(&want)
                        || name.split_whitespace().any(|w| w.starts_with(&want)))
            })
            .map(|(r, _)| r)
            .collect();
        match hits.as_slice() {
            [row] => push(*row, &mut out)?,
            [] => {
                return Err(CoreError::invalid(
                    "absent",
                    format!("no student's name starts with {token:?}"),
                ));
            }
            many => {
                let rows: Vec<String> = many.iter().map(|r| (r + 1).to_string()).collect();
                return Err(CoreError::invalid(
                    "absent",
                    format!(
                        "{token:?} fits {} students (rows {}): type more of the name, or the row number",
                        many.len(),
                        rows.join(", ")
                    ),
                ));
            }
        }
    }
    Ok(out)
}
