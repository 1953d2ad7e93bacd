//! "My journals" and the journal grid: open, mark, clear, mark a whole lesson, topics, lessons.
//! Every edit is one core action (one automerge change, one SQLite transaction) and answers
//! with a [`GridPatch`] of what changed, so the UI updates cells in place.

use daftar_core::Replica;
use daftar_core::journal::{MarkInput, NewLesson};
use daftar_core::model::LessonType;
use tauri::{AppHandle, State};

use crate::error::{IpcError, IpcResult};
use crate::ipc::camel::Camel;
use crate::ipc::{
    AddLessonRequest, AdjustMarkRequest, CellHistoryRequest, ChangeLessonRequest, ClearCellRequest,
    EnterScoreRequest, GridPatch, GridScore, HistoryEntry, JournalGrid, JournalSummary,
    JournalVersion, JournalVersionRequest, ListJournalsRequest, ListOpeningRequestsRequest,
    LockLessonRequest, MarkCellRequest, MarkLessonRequest, OpenJournalRequest, OpenLessonRequest,
    OpeningRequestView, RequestOpeningRequest, SetTopicRequest, UnlockLessonRequest,
};
use crate::session;
use crate::state::{AppState, capabilities_of};

/// The whole grid of `journal` (a document id): core's read model, as the app shows it.
pub fn grid_of(r: &mut Replica, journal: &str) -> IpcResult<JournalGrid> {
    Ok(r.grid(journal)?)
}

/// What changed for `lessons` × `students` (None: all students) after an edit.
fn patch_of(
    r: &Replica,
    journal: &str,
    lessons: &[&str],
    students: Option<&[&str]>,
) -> IpcResult<Camel<GridPatch>> {
    Ok(Camel(r.grid_patch(journal, lessons, students)?))
}

/// A number that grows when changes from elsewhere arrive for the document: its newest remote
/// change row, or the snapshot that folded such rows away.
pub fn version_of(r: &Replica, doc: &str) -> IpcResult<i64> {
    Ok(r.remote_version(doc)?)
}

/// What a teacher types into a cell, in core's one grammar ([`MarkInput::parse`]).
pub fn parse_mark(value: &str) -> IpcResult<Option<MarkInput>> {
    Ok(MarkInput::parse(value)?)
}

#[tauri::command]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn list_journals(
    state: State<'_, AppState>,
    req: ListJournalsRequest,
) -> IpcResult<Camel<Vec<JournalSummary>>> {
    let ListJournalsRequest {} = req;
    let r = state.replica();
    Ok(Camel(r.journals()?))
}

#[tauri::command]
#[tracing::instrument(skip_all, fields(journal = %req.journal), err(level = "warn"))]
pub async fn open_journal(
    state: State<'_, AppState>,
    req: OpenJournalRequest,
) -> IpcResult<Camel<JournalGrid>> {
    let mut r = state.replica();
    let journal = r.resolve_journal(&req.journal)?;
    grid_of(&mut r, &journal).map(Camel)
}

#[tauri::command]
pub async fn journal_version(
    state: State<'_, AppState>,
    req: JournalVersionRequest,
) -> IpcResult<JournalVersion> {
    let r = state.replica();
    let journal = r.resolve_journal(&req.journal)?;
    Ok(JournalVersion {
        version: version_of(&r, &journal)?,
    })
}

#[tauri::command]
#[tracing::instrument(skip_all, fields(journal = %req.journal), err(level = "warn"))]
pub async fn mark_cell(
    app: AppHandle,
    state: State<'_, AppState>,
    req: MarkCellRequest,
) -> IpcResult<Camel<GridPatch>> {
    let patch = {
        let mut r = state.replica();
        let journal = r.resolve_journal(&req.journal)?;
        match parse_mark(&req.value)? {
            Some(input) => r.mark(&journal, &req.lesson, &req.student, input)?,
            None => r.clear_mark(&journal, &req.lesson, &req.student)?,
        }
        patch_of(&r, &journal, &[&req.lesson], Some(&[&req.student]))?
    };
    session::after_edit(&app, &state);
    Ok(patch)
}

#[tauri::command]
#[tracing::instrument(skip_all, fields(journal = %req.journal), err(level = "warn"))]
pub async fn clear_cell(
    app: AppHandle,
    state: State<'_, AppState>,
    req: ClearCellRequest,
) -> IpcResult<Camel<GridPatch>> {
    let patch = {
        let mut r = state.replica();
        let journal = r.resolve_journal(&req.journal)?;
        r.clear_mark(&journal, &req.lesson, &req.student)?;
        patch_of(&r, &journal, &[&req.lesson], Some(&[&req.student]))?
    };
    session::after_edit(&app, &state);
    Ok(patch)
}

/// "All present", then the ticked absentees: one action, one change.
#[tauri::command]
#[tracing::instrument(skip_all, fields(journal = %req.journal, absent = req.absent.len()), err(level = "warn"))]
pub async fn mark_lesson(
    app: AppHandle,
    state: State<'_, AppState>,
    req: MarkLessonRequest,
) -> IpcResult<Camel<GridPatch>> {
    let patch = {
        let mut r = state.replica();
        let journal = r.resolve_journal(&req.journal)?;
        let mut absent = req.absent.clone();
        if let Some(typed) = req.typed.as_deref().filter(|t| !t.trim().is_empty()) {
            let view = r.journal_view(&journal)?;
            for id in daftar_core::today::roll_call(&view, typed)? {
                if !absent.contains(&id) {
                    absent.push(id);
                }
            }
        }
        r.mark_all(&journal, &req.lesson, &absent)?;
        patch_of(&r, &journal, &[&req.lesson], None)?
    };
    session::after_edit(&app, &state);
    Ok(patch)
}

#[tauri::command]
#[tracing::instrument(skip_all, fields(journal = %req.journal), err(level = "warn"))]
pub async fn set_topic(
    app: AppHandle,
    state: State<'_, AppState>,
    req: SetTopicRequest,
) -> IpcResult<Camel<GridPatch>> {
    if req.topic.trim().is_empty() {
        return Err(IpcError::invalid(
            "topic",
            "pick or write the lesson's topic",
        ));
    }
    let patch = {
        let mut r = state.replica();
        let journal = r.resolve_journal(&req.journal)?;
        r.set_topic(&journal, &req.lesson, req.topic.trim())?;
        patch_of(&r, &journal, &[&req.lesson], Some(&[]))?
    };
    session::after_edit(&app, &state);
    Ok(patch)
}

/// Adds a lesson column; answers with the whole grid (a new column is rare, a rebuild is fine).
#[tauri::command]
#[tracing::instrument(skip_all, fields(journal = %req.journal), err(level = "warn"))]
pub async fn add_lesson(
    app: AppHandle,
    state: State<'_, AppState>,
    req: AddLessonRequest,
) -> IpcResult<Camel<JournalGrid>> {
    let lesson_type = LessonType::parse(&req.lesson_type)?;
    let grid = {
        let mut r = state.replica();
        let journal = r.resolve_journal(&req.journal)?;
        let teacher = r.meta("server_user")?;
        r.add_lesson_checked(
            &journal,
            NewLesson {
                date: req.date.trim().to_string(),
                pair: req.pair,
                lesson_type,
                topic: req.topic.filter(|t| !t.trim().is_empty()),
                teacher,
                subgroup: req.subgroup.filter(|s| !s.trim().is_empty()),
            },
            req.confirm,
        )?;
        grid_of(&mut r, &journal)?
    };
    session::after_edit(&app, &state);
    Ok(Camel(grid))
}

/// Cancels a lesson that did not take place or moves one not yet held; answers with the grid.
#[tauri::command]
#[tracing::instrument(skip_all, fields(journal = %req.journal), err(level = "warn"))]
pub async fn change_lesson(
    app: AppHandle,
    state: State<'_, AppState>,
    req: ChangeLessonRequest,
) -> IpcResult<Camel<JournalGrid>> {
    let grid = {
        let mut r = state.replica();
        let journal = r.resolve_journal(&req.journal)?;
        let lesson = r.resolve_lesson(&journal, &req.lesson)?;
        match req.action.as_str() {
            "cancel" => r.cancel_lesson(&journal, &lesson)?,
            "move" => {
                let date = req
                    .date
                    .as_deref()
                    .ok_or_else(|| IpcError::invalid("date", "pick the new day"))?;
                let date = daftar_core::model::parse_user_date(date)
                    .map_err(|_| IpcError::invalid("date", "write the day as dd.mm.yyyy"))?;
                r.move_lesson(&journal, &lesson, &date, req.pair, req.confirm)?;
            }
            other => {
                return Err(IpcError::invalid(
                    "action",
                    format!("{other:?}: a lesson is cancelled or moved"),
                ));
            }
        }
        grid_of(&mut r, &journal)?
    };
    session::after_edit(&app, &state);
    Ok(Camel(grid))
}

/// Enters a control score; answers with every score of the journal.
pub fn enter_score_with(state: &AppState, req: &EnterScoreRequest) -> IpcResult<Vec<GridScore>> {
    if !capabilities_of(&state.replica())?.write_journals {
        return Err(IpcError::forbidden(
            "only the journal's teacher or an administrator enters scores (the dean's office resolves or adjusts them)",
        ));
    }
    if req.sitting == 0 {
        return Err(IpcError::invalid("control", "sittings are counted from 1"));
    }
    let mut r = state.replica();
    let journal = r.resolve_journal(&req.journal)?;
    let control = format!("{}:{}", req.control.trim(), req.sitting);
    r.enter_score(&journal, &control, &req.student, &req.points)?;
    Ok(r.grid_scores(&journal)?)
}

/// Adjustments and locks are the dean's office's and administrators' (everyone's in the demo).
fn require_dean(state: &AppState, what: &str) -> IpcResult<()> {
    let r = state.replica();
    if capabilities_of(&r)?.resolve {
        Ok(())
    } else {
        Err(IpcError::forbidden(format!(
            "only the dean's office or an administrator {what}"
        )))
    }
}

pub fn adjust_mark_with(state: &AppState, req: &AdjustMarkRequest) -> IpcResult<Camel<GridPatch>> {
    require_dean(state, "adjusts marks")?;
    let to = match parse_mark(&req.to)? {
        Some(m) => m.status,
        None => {
            return Err(IpcError::invalid(
                "to",
                "choose what the mark counts as: present, absent, excused or late",
            ));
        }
    };
    let reason = req.reason.trim();
    if reason.is_empty() {
        return Err(IpcError::invalid(
            "reason",
            "an adjustment needs a reason (e.g. a medical certificate)",
        ));
    }
    let document = req
        .document
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty());
    let kind = match req.kind.as_deref().map(str::trim).filter(|k| !k.is_empty()) {
        Some(k) => daftar_core::model::AdjustmentValue::kind_code(k)
            .map_err(|e| IpcError::invalid("kind", e.message))?,
        None if to == daftar_core::model::Attendance::Excused => "11",
        None => "12",
    };
    let deadline = match req
        .deadline
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty())
    {
        Some(d) => Some(
            daftar_core::model::parse_user_date(d)
                .map_err(|_| IpcError::invalid("deadline", "write the deadline as dd.mm.yyyy"))?,
        ),
        None => None,
    };
    let mut r = state.replica();
    let journal = r.resolve_journal(&req.journal)?;
    r.record_adjustment(
        &journal,
        &req.lesson,
        &req.student,
        daftar_core::model::AdjustmentValue {
            to,
            reason: reason.to_string(),
            document: document.map(str::to_string),
            status: "approved".into(),
            kind: Some(kind.to_string()),
            deadline,
        },
    )?;
    patch_of(&r, &journal, &[&req.lesson], Some(&[&req.student]))
}

pub fn lock_lesson_with(state: &AppState, req: &LockLessonRequest) -> IpcResult<Camel<GridPatch>> {
    require_dean(state, "closes lessons")?;
    let reason = req.reason.trim();
    if reason.is_empty() {
        return Err(IpcError::invalid(
            "reason",
            "write why the lesson is closed; teachers see it",
        ));
    }
    let mut r = state.replica();
    let journal = r.resolve_journal(&req.journal)?;
    r.lock(&journal, Some(&req.lesson), reason)?;
    patch_of(&r, &journal, &[&req.lesson], None)
}

pub fn unlock_lesson_with(
    state: &AppState,
    req: &UnlockLessonRequest,
) -> IpcResult<Camel<GridPatch>> {
    require_dean(state, "reopens lessons")?;
    let mut r = state.replica();
    let journal = r.resolve_journal(&req.journal)?;
    r.unlock(&journal, Some(&req.lesson))?;
    patch_of(&r, &journal, &[&req.lesson], None)
}

/// A control score (JN, ON, YN at a sitting), checked against the module's plan and maximum.
#[tauri::command]
#[tracing::instrument(skip_all, fields(journal = %req.journal), err(level = "warn"))]
pub async fn enter_score(
    app: AppHandle,
    state: State<'_, AppState>,
    req: EnterScoreRequest,
) -> IpcResult<Camel<Vec<GridScore>>> {
    let scores = enter_score_with(&state, &req)?;
    session::after_edit(&app, &state);
    Ok(Camel(scores))
}

/// The dean's office adjusts a saved mark (the teacher's mark stays, the adjustment beside it).
#[tauri::command]
#[tracing::instrument(skip_all, fields(journal = %req.journal), err(level = "warn"))]
pub async fn adjust_mark(
    app: AppHandle,
    state: State<'_, AppState>,
    req: AdjustMarkRequest,
) -> IpcResult<Camel<GridPatch>> {
    let patch = adjust_mark_with(&state, &req)?;
    session::after_edit(&app, &state);
    Ok(patch)
}

/// A teacher asks the dean's office to open a lesson whose entry window has closed.
#[tauri::command]
#[tracing::instrument(skip_all, fields(journal = %req.journal), err(level = "warn"))]
pub async fn request_opening(
    app: AppHandle,
    state: State<'_, AppState>,
    req: RequestOpeningRequest,
) -> IpcResult<Camel<GridPatch>> {
    let patch = {
        let mut r = state.replica();
        let journal = r.resolve_journal(&req.journal)?;
        r.request_opening(&journal, &req.lesson, &req.reason)?;
        patch_of(&r, &journal, &[&req.lesson], None)?
    };
    session::after_edit(&app, &state);
    Ok(patch)
}

/// The dean's office opens a lesson for its teacher until a day.
#[tauri::command]
#[tracing::instrument(skip_all, fields(journal = %req.journal), err(level = "warn"))]
pub async fn open_lesson(
    app: AppHandle,
    state: State<'_, AppState>,
    req: OpenLessonRequest,
) -> IpcResult<Camel<Vec<OpeningRequestView>>> {
    require_dean(&state, "opens lessons")?;
    let until = daftar_core::model::parse_user_date(&req.until)
        .map_err(|_| IpcError::invalid("until", "write the last day as dd.mm.yyyy"))?;
    {
        let mut r = state.replica();
        let journal = r.resolve_journal(&req.journal)?;
        r.open_lesson(&journal, &req.lesson, &until, req.reason.as_deref())?;
    }
    session::after_edit(&app, &state);
    opening_requests_of(&state, None)
}

fn opening_requests_of(
    state: &AppState,
    journal: Option<&str>,
) -> IpcResult<Camel<Vec<OpeningRequestView>>> {
    let mut r = state.replica();
    let journal = journal.map(|j| r.resolve_journal(j)).transpose()?;
    Ok(Camel(r.opening_requests(journal.as_deref())?))
}

#[tauri::command]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn list_opening_requests(
    state: State<'_, AppState>,
    req: ListOpeningRequestsRequest,
) -> IpcResult<Camel<Vec<OpeningRequestView>>> {
    opening_requests_of(&state, req.journal.as_deref())
}

/// The history of one cell, for everyone who may open the journal.
pub fn cell_history_with(
    state: &AppState,
    req: &CellHistoryRequest,
) -> IpcResult<Camel<Vec<HistoryEntry>>> {
    let mut r = state.replica();
    let journal = r.resolve_journal(&req.journal)?;
    Ok(Camel(r.history(
        &journal,
        Some(&req.lesson),
        Some(&req.student),
    )?))
}

#[tauri::command]
#[tracing::instrument(skip_all, fields(journal = %req.journal), err(level = "warn"))]
pub async fn cell_history(
    state: State<'_, AppState>,
    req: CellHistoryRequest,
) -> IpcResult<Camel<Vec<HistoryEntry>>> {
    cell_history_with(&state, &req)
}

/// Closes a lesson for editing with a reason teachers see.
#[tauri::command]
#[tracing::instrument(skip_all, fields(journal = %req.journal), err(level = "warn"))]
pub async fn lock_lesson(
    app: AppHandle,
    state: State<'_, AppState>,
    req: LockLessonRequest,
) -> IpcResult<Camel<GridPatch>> {
    let patch = lock_lesson_with(&state, &req)?;
    session::after_edit(&app, &state);
    Ok(patch)
}

#[tauri::command]
#[tracing::instrument(skip_all, fields(journal = %req.journal), err(level = "warn"))]
pub async fn unlock_lesson(
    app: AppHandle,
    state: State<'_, AppState>,
    req: UnlockLessonRequest,
) -> IpcResult<Camel<GridPatch>> {
    let patch = unlock_lesson_with(&state, &req)?;
    session::after_edit(&app, &state);
    Ok(patch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_moves_only_when_changes_arrive_from_elsewhere() {
        use daftar_core::Incoming;
        let dir = tempfile::tempdir().expect("temp dir");
        let demo = daftar_core::demo::DemoSpec::new(daftar_core::demo::Tier::Xs, 7);
        let mut here = Replica::open(&dir.path().join("here.db")).expect("open");
        daftar_core::demo::generate(&mut here, &demo, |_, _| {}).expect("demo");
        let mut there = Replica::open(&dir.path().join("there.db")).expect("open");
        let all: Vec<Incoming> = here
            .outgoing(usize::MAX, true)
            .expect("changes")
            .into_iter()
            .map(|c| Incoming::Change {
                doc: c.doc,
                bytes: c.bytes,
            })
            .collect();
        there.apply_remote(all).expect("copy");
        let journal = here
            .resolve_journal(&here.journals().expect("journals")[0].id)
            .expect("journal");
        let grid = grid_of(&mut here, &journal).expect("grid");
        let (lesson, student) = (&grid.lessons[0].id, &grid.students[0].id);
        let before = version_of(&here, &journal).expect("version");
        here.mark(
            &journal,
            lesson,
            student,
            parse_mark("nb").expect("nb").expect("a mark"),
        )
        .expect("mark");
        assert_eq!(
            version_of(&here, &journal).expect("version"),
            before,
            "a local edit is already on screen"
        );

        let seen = there.outgoing(usize::MAX, true).expect("changes").len();
        there
            .mark(
                &journal,
                lesson,
                student,
                parse_mark("e").expect("e").expect("a mark"),
            )
            .expect("mark");
        let theirs: Vec<Incoming> = there
            .outgoing(usize::MAX, true)
            .expect("changes")
            .into_iter()
            .skip(seen)
            .map(|c| Incoming::Change {
                doc: c.doc,
                bytes: c.bytes,
            })
            .collect();
        here.apply_remote(theirs).expect("apply");
        assert!(
            version_of(&here, &journal).expect("version") > before,
            "a remote change moves the version"
        );
    }

    #[test]
    fn grid_and_patches_follow_edits() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut r = Replica::open(&dir.path().join("replica.db")).expect("open");
        daftar_core::demo::generate(
            &mut r,
            &daftar_core::demo::DemoSpec::new(daftar_core::demo::Tier::Xs, 7),
            |_, _| {},
        )
        .expect("demo");
        let journal = r.journals().expect("journals")[0].id.clone();
        let journal = r.resolve_journal(&journal).expect("resolve");
        let grid = grid_of(&mut r, &journal).expect("grid");
        assert_eq!(grid.totals.len(), grid.students.len());
        assert!(!grid.topics.is_empty(), "the demo module has topics");
        let open = grid
            .lessons
            .iter()
            .find(|l| !l.complete)
            .expect("an unmarked lesson")
            .id
            .clone();
        let absent = vec![grid.students[0].id.clone(), grid.students[2].id.clone()];
        r.mark_all(&journal, &open, &absent).expect("mark all");
        let patch = patch_of(&r, &journal, &[&open], None).expect("patch");
        assert_eq!(patch.cells.len(), grid.students.len());
        assert_eq!(patch.cells.iter().filter(|c| c.status == "a").count(), 2);
        // Every student marked, but a lesson is filled only with its topic too.
        let has_topic = grid
            .lessons
            .iter()
            .any(|l| l.id == open && l.topic.is_some());
        assert_eq!(patch.lessons[0].complete, has_topic);
        r.set_topic(&journal, &open, &grid.topics[0].name)
            .expect("topic");
        let patch = patch_of(&r, &journal, &[&open], None).expect("patch");
        assert!(patch.lessons[0].complete);
        r.clear_mark(&journal, &open, &absent[0]).expect("clear");
        let patch = patch_of(&r, &journal, &[&open], Some(&[absent[0].as_str()])).expect("patch");
        assert!(patch.cells.is_empty());
        assert_eq!(patch.cleared.len(), 1);
        assert!(!patch.lessons[0].complete);
    }

    /// The row's totals in the grid judge a student as the journal's report does: standing on
    /// the semester's unexcused hours over every subject, not on this subject's alone.
    #[test]
    fn the_grid_row_judges_the_semester_as_the_report_does() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut r = Replica::open(&dir.path().join("replica.db")).expect("open");
        let mut spec = daftar_core::demo::DemoSpec::new(daftar_core::demo::Tier::Xs, 5);
        spec.filled = 0.0;
        daftar_core::demo::generate(&mut r, &spec, |_, _| {}).expect("demo");
        let all = r.journals().expect("journals");
        let group = all[0].group.clone();
        let journals: Vec<String> = all
            .iter()
            .filter(|j| j.group == group)
            .map(|j| r.resolve_journal(&j.id).expect("journal"))
            .collect();
        assert!(journals.len() >= 6, "six subjects in a group");
        let grid = grid_of(&mut r, &journals[0]).expect("grid");
        let student = grid.students.iter().find(|s| s.active).expect("a student");
        let student = student.id.clone();
        // Three missed pairs (6 h) in each of six subjects: 36 h in the semester.
        for journal in &journals[..6] {
            let lessons = grid_of(&mut r, journal).expect("grid").lessons;
            for lesson in &lessons[..3] {
                r.mark_all(journal, &lesson.id, std::slice::from_ref(&student))
                    .expect("mark");
            }
        }
        let grid = grid_of(&mut r, &journals[0]).expect("grid");
        let row = grid
            .totals
            .iter()
            .find(|t| t.student == student)
            .expect("the student's totals");
        assert_eq!(row.unexcused_hours, 6, "this subject's hours");
        assert_eq!(row.semester_unexcused_hours, 36, "every subject's hours");
        assert_eq!(
            row.standing,
            daftar_rules::assessment::Level::Reprimand,
            "judged on the semester"
        );
        assert!(row.at_risk);
        let report = r.report(&journals[0]).expect("report");
        let reported = report
            .students
            .iter()
            .find(|s| s.id == student)
            .expect("in the report");
        assert_eq!(
            (reported.standing, reported.at_risk, reported.five_point),
            (row.standing, row.at_risk, row.five_point)
        );
        // A patch after an edit in another subject carries the new semester total.
        let lessons = grid_of(&mut r, &journals[1]).expect("grid").lessons;
        r.mark_all(&journals[1], &lessons[3].id, std::slice::from_ref(&student))
            .expect("mark");
        let lesson = grid.lessons[0].id.as_str();
        let patch =
            patch_of(&r, &journals[0], &[lesson], Some(&[student.as_str()])).expect("patch");
        assert_eq!(patch.totals[0].unexcused_hours, 6);
        assert_eq!(patch.totals[0].semester_unexcused_hours, 38);
    }

    fn demo_state() -> (tempfile::TempDir, AppState, String) {
        let dir = tempfile::tempdir().expect("temp dir");
        let state = AppState::open(dir.path()).expect("open");
        let journal = {
            let mut r = state.replica();
            daftar_core::demo::generate(
                &mut r,
                &daftar_core::demo::DemoSpec::new(daftar_core::demo::Tier::Xs, 7),
                |_, _| {},
            )
            .expect("demo");
            let id = r.journals().expect("journals")[0].id.clone();
            r.resolve_journal(&id).expect("journal")
        };
        (dir, state, journal)
    }

    fn sign_in_as(state: &AppState, role: &str) {
        let r = state.replica();
        r.set_meta("server", "http://127.0.0.1:9").expect("meta");
        r.set_meta("server_user", "someone").expect("meta");
        r.set_meta("server_role", role).expect("meta");
    }

    fn field_of(e: IpcError) -> String {
        match e {
            IpcError::InvalidInput { field, .. } => field,
            other => panic!("expected invalid input, got {other:?}"),
        }
    }

    #[test]
    fn scores_follow_the_control_plan_and_its_maximum() {
        let (_dir, state, journal) = demo_state();
        let grid = grid_of(&mut state.replica(), &journal).expect("grid");
        let control = grid
            .controls
            .iter()
            .find(|c| c.kind == "ON")
            .expect("the demo module has a midterm")
            .clone();
        let student = grid.students.iter().find(|s| s.active).expect("a student");
        let req = |points: &str, sitting: u32, code: &str| EnterScoreRequest {
            journal: grid.id.clone(),
            control: code.to_string(),
            sitting,
            student: student.id.clone(),
            points: points.to_string(),
        };
        let half = control.max / 2.0;
        let typed = format!("{}", half).replace('.', ",");
        let scores = enter_score_with(&state, &req(&typed, 1, &control.code)).expect("a score");
        assert!(
            scores.contains(&GridScore {
                control: control.code.clone(),
                sitting: 1,
                student: student.id.clone(),
                points: half,
                absent: false,
            }),
            "{scores:?}"
        );
        let over = format!("{}", control.max + 1.0);
        for (bad, field) in [
            (req("o'n", 1, &control.code), "points"),
            (req(&over, 1, &control.code), "points"),
            (req("-1", 1, &control.code), "points"),
            (req("5", 1, "XX"), "control"),
            // Beyond the three sittings any control has.
            (req("5", 4, &control.code), "control"),
            (req("5", 0, &control.code), "control"),
        ] {
            let e = enter_score_with(&state, &bad).expect_err("refused");
            assert_eq!(
                field_of(e),
                field,
                "{:?} at sitting {}",
                bad.points,
                bad.sitting
            );
        }
        // A redone ON at a retake sitting needs the dean's office's permission.
        match enter_score_with(&state, &req("5", control.sittings + 1, &control.code)) {
            Err(IpcError::Forbidden { message }) => {
                assert!(message.contains("retake permission"), "{message}")
            }
            other => panic!("a retake sitting without permission: {other:?}"),
        }
        // The grid carries the plan and the score.
        let grid = grid_of(&mut state.replica(), &journal).expect("grid");
        assert!(grid.scores.iter().any(|s| s.points == half));
        assert!(grid.controls.iter().all(|c| c.max > 0.0 && c.sittings >= 1));
        // Department heads read journals but do not write them.
        sign_in_as(&state, "department_head");
        let e = enter_score_with(&state, &req("5", 1, &control.code)).expect_err("refused");
        assert!(matches!(e, IpcError::Forbidden { .. }), "{e:?}");
        sign_in_as(&state, "teacher");
        enter_score_with(&state, &req("5", 1, &control.code)).expect("the teacher enters it");
    }

    #[test]
    fn the_dean_adjusts_marks_and_closes_lessons_teachers_cannot() {
        let (_dir, state, journal) = demo_state();
        let grid = grid_of(&mut state.replica(), &journal).expect("grid");
        let lesson = grid.lessons[0].id.clone();
        let student = grid
            .students
            .iter()
            .find(|s| s.active)
            .expect("a student")
            .id
            .clone();
        state
            .replica()
            .mark(
                &journal,
                &lesson,
                &student,
                parse_mark("nb").expect("nb").expect("a mark"),
            )
            .expect("mark");
        let adjust = |to: &str, reason: &str| AdjustMarkRequest {
            journal: grid.id.clone(),
            lesson: lesson.clone(),
            student: student.clone(),
            to: to.to_string(),
            reason: reason.to_string(),
            document: Some(" 0412 ".to_string()),
            kind: None,
            deadline: None,
        };
        assert_eq!(
            field_of(adjust_mark_with(&state, &adjust("e", "  ")).expect_err("no reason")),
            "reason"
        );
        assert_eq!(
            field_of(adjust_mark_with(&state, &adjust("x", "ok")).expect_err("bad status")),
            "value"
        );
        let patch = adjust_mark_with(&state, &adjust("e", "Tibbiy maʼlumotnoma")).expect("adjust");
        let cell = &patch.cells[0];
        assert_eq!((cell.status.as_str(), cell.effective.as_str()), ("a", "e"));
        assert_eq!(
            cell.adjustment_reason.as_deref(),
            Some("Tibbiy maʼlumotnoma")
        );
        // A make-up not done, with its deadline as people type it: a second entry, the first
        // kept; a kind that does not exist is refused by field.
        let mut makeup = adjust("a", "Qayta topshirmadi");
        makeup.kind = Some("makeup-not-done".into());
        makeup.deadline = Some("20.12.2026".into());
        let patch = adjust_mark_with(&state, &makeup).expect("make-up");
        assert_eq!(patch.cells[0].effective, "a");
        let mut bad = adjust("e", "x");
        bad.kind = Some("16".into());
        assert_eq!(
            field_of(adjust_mark_with(&state, &bad).expect_err("kind")),
            "kind"
        );
        let history = cell_history_with(
            &state,
            &CellHistoryRequest {
                journal: grid.id.clone(),
                lesson: lesson.clone(),
                student: student.clone(),
            },
        )
        .expect("history");
        let adjustments: Vec<&HistoryEntry> =
            history.iter().filter(|e| e.map == "adjustments").collect();
        assert_eq!(adjustments.len(), 2);
        let last = adjustments[1].value.as_deref().unwrap_or_default();
        assert!(
            last.contains(r#""kind":"15""#) && last.contains(r#""deadline":"2026-12-20""#),
            "{last}"
        );

        let lock = |reason: &str| LockLessonRequest {
            journal: grid.id.clone(),
            lesson: lesson.clone(),
            reason: reason.to_string(),
        };
        assert_eq!(
            field_of(lock_lesson_with(&state, &lock(" ")).expect_err("no reason")),
            "reason"
        );
        let patch = lock_lesson_with(&state, &lock("Muddat oʻtdi")).expect("lock");
        assert_eq!(patch.lessons[0].lock.as_deref(), Some("Muddat oʻtdi"));
        let refused = state.replica().mark(
            &journal,
            &lesson,
            &student,
            parse_mark("+").expect("+").expect("a mark"),
        );
        assert!(refused.is_err(), "a closed lesson refuses marks");
        let unlock = UnlockLessonRequest {
            journal: grid.id.clone(),
            lesson: lesson.clone(),
        };
        let patch = unlock_lesson_with(&state, &unlock).expect("unlock");
        assert_eq!(patch.lessons[0].lock, None);

        sign_in_as(&state, "teacher");
        for e in [
            adjust_mark_with(&state, &adjust("p", "ok")).expect_err("teacher"),
            lock_lesson_with(&state, &lock("x")).expect_err("teacher"),
            unlock_lesson_with(&state, &unlock).expect_err("teacher"),
        ] {
            assert!(matches!(e, IpcError::Forbidden { .. }), "{e:?}");
        }
        sign_in_as(&state, "dean");
        lock_lesson_with(&state, &lock("Dekanat")).expect("the dean closes it");
    }
}
