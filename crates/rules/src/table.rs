//! The rule table: per document kind and per part of it, which roles may create, change or
//! delete it, and what its values must look like.
//!
//! A part is one top-level map of a document ([`crate::genesis::maps_of`]). Grades are the `g`
//! field of a mark, so they follow the `marks` row, with one extra condition: attendance a
//! teacher writes is present, absent or late, never excused (only the dean's office excuses,
//! by an adjustment). Document-level conditions (assignment, faculty, department) are decided
//! first by [`crate::access`]; this table decides what the change *does* inside a document the
//! user may write.
//!
//! Some roles may write a part only to carry out a conflict resolution: the dean's office
//! writes a mark only in the change that also records `resolutions["mark:<key>"]` for it.

use daftar_protocol::{DocKind, Role};

use crate::change::{Inspected, Write, WriteOp};
use crate::values::{
    AdjustmentValue, Attendance, LessonStatus, LessonValue, LockValue, MarkValue, ResolutionValue,
};

/// What a write does, as the table distinguishes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    Create,
    Change,
    Delete,
}

impl Operation {
    pub const ALL: [Operation; 3] = [Operation::Create, Operation::Change, Operation::Delete];

    pub fn of(op: &WriteOp) -> Operation {
        match op {
            WriteOp::Create(_) => Operation::Create,
            WriteOp::Change(_) => Operation::Change,
            WriteOp::Delete => Operation::Delete,
        }
    }

    fn verb(self) -> &'static str {
        match self {
            Operation::Create => "add",
            Operation::Change => "change",
            Operation::Delete => "delete",
        }
    }
}

/// The shape a part's values must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueShape {
    /// Any text (within the change limits).
    Text,
    Mark,
    /// A control score: a number from 0 to 100.
    Score,
    Lesson,
    LessonStatus,
    Adjustment,
    Lock,
    Resolution,
    OpeningRequest,
    Opening,
    /// A course material's description ([`crate::materials::MaterialValue`]).
    Material,
}

/// The rules of one part.
#[derive(Debug, Clone, Copy)]
pub struct PartRule {
    pub kind: DocKind,
    /// The top-level map.
    pub map: &'static str,
    /// Only keys starting with this (a part that shares its map with others); `None`: the
    /// map's other keys.
    pub keys: Option<&'static str>,
    /// What people call it, in refusals.
    pub label: &'static str,
    pub create: &'static [Role],
    pub change: &'static [Role],
    pub delete: &'static [Role],
    /// Roles that may write this part only inside a resolution of the same key
    /// (`resolutions["<field>:<key>"]` in the same change).
    pub via_resolution: &'static [Role],
    /// The resolution field naming this part (`mark`, `score`, `topic`, `adjustment`).
    pub field: Option<&'static str>,
    pub shape: ValueShape,
}

impl PartRule {
    /// The roles that may do `op` on this part outright.
    pub fn roles(&self, op: Operation) -> &'static [Role] {
        match op {
            Operation::Create => self.create,
            Operation::Change => self.change,
            Operation::Delete => self.delete,
        }
    }
}

use Role::{Admin, Dean, DepartmentHead, Teacher};

const ADMIN: &[Role] = &[Admin];
const DEAN: &[Role] = &[Admin, Dean];
const HEAD: &[Role] = &[Admin, DepartmentHead];
const TEACHING: &[Role] = &[Admin, Teacher];
const TEACHING_AND_DEAN: &[Role] = &[Admin, Teacher, Dean];
const NONE: &[Role] = &[];

const fn part(
    kind: DocKind,
    map: &'static str,
    label: &'static str,
    create: &'static [Role],
    change: &'static [Role],
    delete: &'static [Role],
    shape: ValueShape,
) -> PartRule {
    PartRule {
        kind,
        map,
        keys: None,
        label,
        create,
        change,
        delete,
        via_resolution: NONE,
        field: None,
        shape,
    }
}

const fn keyed(rule: PartRule, prefix: &'static str) -> PartRule {
    PartRule {
        keys: Some(prefix),
        ..rule
    }
}

const fn resolvable(rule: PartRule, field: &'static str, via: &'static [Role]) -> PartRule {
    PartRule {
        field: Some(field),
        via_resolution: via,
        ..rule
    }
}

/// Every part of every document kind. A document map without a row here is written by nobody
/// (the test suite checks the table covers every map).
pub const RULES: &[PartRule] = &[
    // The catalog: faculties, departments, marking systems, thresholds, policies.
    part(
        DocKind::Catalog,
        "meta",
        "the catalog's identity",
        ADMIN,
        ADMIN,
        ADMIN,
        ValueShape::Text,
    ),
    part(
        DocKind::Catalog,
        "faculties",
        "faculties",
        ADMIN,
        ADMIN,
        ADMIN,
        ValueShape::Text,
    ),
    part(
        DocKind::Catalog,
        "departments",
        "departments",
        ADMIN,
        ADMIN,
        ADMIN,
        ValueShape::Text,
    ),
    part(
        DocKind::Catalog,
        "teachers",
        "the teacher list",
        ADMIN,
        ADMIN,
        ADMIN,
        ValueShape::Text,
    ),
    part(
        DocKind::Catalog,
        "settings",
        "university settings",
        ADMIN,
        ADMIN,
        ADMIN,
        ValueShape::Text,
    ),
    // A group: its roster, kept by the dean's office.
    part(
        DocKind::Group,
        "meta",
        "a group's name and faculty",
        ADMIN,
        ADMIN,
        ADMIN,
        ValueShape::Text,
    ),
    part(
        DocKind::Group,
        "students",
        "a group's roster",
        DEAN,
        DEAN,
        ADMIN,
        ValueShape::Text,
    ),
    // A course module: the department's plan.
    part(
        DocKind::Module,
        "meta",
        "a module's subject and department",
        ADMIN,
        ADMIN,
        ADMIN,
        ValueShape::Text,
    ),
    part(
        DocKind::Module,
        "hours",
        "a module's planned hours",
        HEAD,
        HEAD,
        HEAD,
        ValueShape::Text,
    ),
    part(
        DocKind::Module,
        "controls",
        "a module's control plan",
        HEAD,
        HEAD,
        HEAD,
        ValueShape::Text,
    ),
    part(
        DocKind::Module,
        "topics",
        "a module's topics",
        HEAD,
        HEAD,
        HEAD,
        ValueShape::Text,
    ),
    part(
        DocKind::Module,
        "materials",
        "a module's materials",
        HEAD,
        HEAD,
        HEAD,
        ValueShape::Material,
    ),
    // A journal.
    part(
        DocKind::Journal,
        "meta",
        "a journal's group, module and teachers",
        ADMIN,
        ADMIN,
        ADMIN,
        ValueShape::Text,
    ),
    part(
        DocKind::Journal,
        "lessons",
        "lessons (date, pair, type, teacher)",
        TEACHING_AND_DEAN,
        DEAN,
        ADMIN,
        ValueShape::Lesson,
    ),
    resolvable(
        part(
            DocKind::Journal,
            "topics",
            "lesson topics",
            TEACHING,
            TEACHING,
            TEACHING,
            ValueShape::Text,
        ),
        "topic",
        &[Dean],
    ),
    part(
        DocKind::Journal,
        "status",
        "lesson status (planned, held, cancelled)",
        TEACHING_AND_DEAN,
        TEACHING_AND_DEAN,
        ADMIN,
        ValueShape::LessonStatus,
    ),
    resolvable(
        part(
            DocKind::Journal,
            "marks",
            "attendance and grades",
            TEACHING,
            TEACHING,
            TEACHING,
            ValueShape::Mark,
        ),
        "mark",
        &[Dean],
    ),
    resolvable(
        part(
            DocKind::Journal,
            "scores",
            "control scores (JN, ON, YN)",
            TEACHING,
            TEACHING,
            TEACHING,
            ValueShape::Score,
        ),
        "score",
        &[Dean],
    ),
    resolvable(
        part(
            DocKind::Journal,
            "adjustments",
            "adjustments (excused absences, corrections)",
            DEAN,
            DEAN,
            ADMIN,
            ValueShape::Adjustment,
        ),
        "adjustment",
        NONE,
    ),
    part(
        DocKind::Journal,
        "locks",
        "locks (closing and reopening lessons)",
        DEAN,
        DEAN,
        DEAN,
        ValueShape::Lock,
    ),
    keyed(
        part(
            DocKind::Journal,
            "locks",
            "lesson openings (a closed lesson opened until a date)",
            DEAN,
            DEAN,
            DEAN,
            ValueShape::Opening,
        ),
        crate::window::OPENING_PREFIX,
    ),
    keyed(
        part(
            DocKind::Journal,
            "status",
            "lesson-opening requests",
            TEACHING,
            TEACHING,
            ADMIN,
            ValueShape::OpeningRequest,
        ),
        crate::window::REQUEST_PREFIX,
    ),
    keyed(
        part(
            DocKind::Journal,
            "status",
            "retake permissions (YN sittings 2 and 3)",
            DEAN,
            DEAN,
            DEAN,
            ValueShape::Text,
        ),
        crate::assessment::RETAKE_PREFIX,
    ),
    keyed(
        part(
            DocKind::Journal,
            "status",
            "absences from the final control (kelmadi)",
            TEACHING_AND_DEAN,
            TEACHING_AND_DEAN,
            TEACHING_AND_DEAN,
            ValueShape::Text,
        ),
        crate::assessment::ABSENT_PREFIX,
    ),
    part(
        DocKind::Journal,
        "resolutions",
        "conflict resolutions",
        DEAN,
        DEAN,
        ADMIN,
        ValueShape::Resolution,
    ),
];

/// The rule of a document kind's map for `key`: the part whose key prefix it has, else the
/// map's general part.
pub fn rule_for(kind: DocKind, map: &str, key: &str) -> Option<&'static PartRule> {
    RULES
        .iter()
        .find(|r| r.kind == kind && r.map == map && r.keys.is_some_and(|p| key.starts_with(p)))
        .or_else(|| rule(kind, map))
}

/// The general rule of a document kind's map (its keys without a part of their own).
pub fn rule(kind: DocKind, map: &str) -> Option<&'static PartRule> {
    RULES
        .iter()
        .find(|r| r.kind == kind && r.map == map && r.keys.is_none())
}

/// What a role may do, as an app offers it (buttons, editable cells, screens). Read from
/// [`RULES`], the table the server judges every change by, so what the app offers is what
/// the server takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// Resolve conflicts, and with them adjust marks and lock or open lessons (the dean's
    /// office's work).
    pub resolve: bool,
    /// Edit a course module's topics and plan.
    pub edit_modules: bool,
    /// Type marks and control scores into a journal.
    pub write_journals: bool,
    /// Bring groups and rosters in from HEMIS.
    pub import: bool,
}

impl Capabilities {
    /// A replica no server governs (the offline demo): everything.
    pub const EVERYTHING: Capabilities = Capabilities {
        resolve: true,
        edit_modules: true,
        write_journals: true,
        import: true,
    };

    /// A role this build does not know (a newer server): nothing to write.
    pub const NOTHING: Capabilities = Capabilities {
        resolve: false,
        edit_modules: false,
        write_journals: false,
        import: false,
    };

    pub fn of(role: Role) -> Capabilities {
        let may = |kind: DocKind, map: &str, op: Operation| {
            rule(kind, map).is_some_and(|r| r.roles(op).contains(&role))
        };
        Capabilities {
            resolve: may(DocKind::Journal, "resolutions", Operation::Create),
            edit_modules: may(DocKind::Module, "topics", Operation::Create),
            write_journals: may(DocKind::Journal, "marks", Operation::Create),
            import: may(DocKind::Group, "meta", Operation::Create),
        }
    }
}

/// Who a change is judged for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Writer<'a> {
    pub name: &'a str,
    pub role: Role,
}

/// Why a change is refused, for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Admin => "an administrator",
        Role::Dean => "the dean's office",
        Role::DepartmentHead => "a department head",
        Role::Teacher => "a teacher",
    }
}

fn who_may(roles: &[Role]) -> String {
    let names: Vec<&str> = roles
        .iter()
        .filter(|r| **r != Role::Admin)
        .map(|r| role_name(*r))
        .collect();
    match names.as_slice() {
        [] => "only an administrator may".to_string(),
        [one] => format!("only {one} (or an administrator) may"),
        many => format!("only {} (or an administrator) may", many.join(" or ")),
    }
}

/// Judges every write of a change of a `kind` document for `writer`. The document-level
/// decision (may this user write this document at all) comes first, from [`crate::access`].
pub fn check_change(writer: Writer<'_>, kind: DocKind, change: &Inspected) -> Result<(), Refused> {
    if let Some(claimed) = &change.claimed_by
        && claimed != writer.name
    {
        return Err(Refused(format!(
            "this change says it was made by {claimed:?}, but it is pushed by {:?}; \
             a change carries the name of the user who made it",
            writer.name
        )));
    }
    if change.genesis {
        return Ok(());
    }
    for write in &change.writes {
        check_write(writer, kind, change, write)?;
    }
    Ok(())
}

/// Judges one write: the table's roles, then the value's shape and role conditions.
pub fn check_write(
    writer: Writer<'_>,
    kind: DocKind,
    change: &Inspected,
    write: &Write,
) -> Result<(), Refused> {
    let Some(rule) = rule_for(kind, write.map, &write.key) else {
        return Err(Refused(format!("a {kind} has no part {:?}", write.map)));
    };
    if matches!(kind, DocKind::Journal | DocKind::Module)
        && let Some(problem) = key_problem(write.map, &write.key)
    {
        return Err(Refused(problem));
    }
    let op = Operation::of(&write.op);
    let outright = rule.roles(op).contains(&writer.role);
    let resolving = !outright
        && rule.via_resolution.contains(&writer.role)
        && rule.field.is_some_and(|field| {
            let record = format!("{field}:{}", write.key);
            change
                .writes
                .iter()
                .any(|w| w.map == "resolutions" && w.key == record && w.op != WriteOp::Delete)
        });
    if !(outright || resolving) {
        let mut reason = format!(
            "{} may not {} {} of a {kind}: {} {} them",
            capitalise(role_name(writer.role)),
            op.verb(),
            rule.label,
            who_may(rule.roles(op)),
            op.verb()
        );
        if !rule.via_resolution.is_empty() {
            reason.push_str(&format!(
                " ({} through a conflict resolution)",
                rule.via_resolution
                    .iter()
                    .map(|r| role_name(*r))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        return Err(Refused(reason));
    }
    match write.op.value() {
        Some(value) => check_value(writer, rule, value),
        None => Ok(()),
    }
}

/// Why a journal key does not name what its part holds, if it does not: a score is
/// `<control>/<sitting 1–3>/<student>`, an absence from the final `yn-absent:<1–3>/<student>`
/// (a sitting the rules do not know would count as a later one, past every check).
fn key_problem(map: &str, key: &str) -> Option<String> {
    if map == "materials" {
        return (!crate::materials::is_hash_key(key)).then(|| {
            format!("{key:?} is not a material's place: the SHA-256 of its bytes, in hex")
        });
    }
    let sitting_ok = |s: &str| s.parse::<u8>().is_ok_and(|n| (1..=3).contains(&n));
    if map == "scores" {
        let parts: Vec<&str> = key.splitn(3, '/').collect();
        return match parts.as_slice() {
            [code, sitting, student]
                if !code.is_empty() && !student.is_empty() && sitting_ok(sitting) =>
            {
                None
            }
            _ => Some(format!(
                "{key:?} is not a score's place: control/sitting (1 to 3)/student"
            )),
        };
    }
    if map == "status"
        && let Some(rest) = key.strip_prefix(crate::assessment::ABSENT_PREFIX)
    {
        return match rest.split_once('/') {
            Some((sitting, student)) if sitting_ok(sitting) && !student.is_empty() => None,
            _ => Some(format!(
                "{key:?} is not an absence's place: yn-absent:sitting (1 to 3)/student"
            )),
        };
    }
    None
}

fn check_value(writer: Writer<'_>, rule: &PartRule, value: &str) -> Result<(), Refused> {
    let bad = |what: &str, detail: String| Refused(format!("{what} is not valid: {detail}"));
    match rule.shape {
        ValueShape::Text => Ok(()),
        ValueShape::Mark => {
            let mark: MarkValue =
                serde_json::from_str(value).map_err(|e| bad("a mark", e.to_string()))?;
            mark.check().map_err(|e| bad("a mark", e.message))?;
            if writer.role == Role::Teacher && mark.status == Attendance::Excused {
                return Err(Refused(
                    "a teacher marks present, absent or late; only the dean's office makes an \
                     absence excused, by an adjustment with its reason"
                        .into(),
                ));
            }
            Ok(())
        }
        ValueShape::Score => match value.trim().parse::<f64>() {
            Ok(p) if p.is_finite() && (0.0..=100.0).contains(&p) => Ok(()),
            _ => Err(bad(
                "a score",
                format!("{value:?} is not a number from 0 to 100"),
            )),
        },
        ValueShape::Lesson => {
            let lesson: LessonValue =
                serde_json::from_str(value).map_err(|e| bad("a lesson", e.to_string()))?;
            lesson.check().map_err(|e| bad("a lesson", e.message))
        }
        ValueShape::LessonStatus => LessonStatus::parse(value).map(|_| ()).ok_or_else(|| {
            bad(
                "a lesson status",
                format!("{value:?} is not planned, held or cancelled"),
            )
        }),
        ValueShape::Adjustment => {
            let adj: AdjustmentValue =
                serde_json::from_str(value).map_err(|e| bad("an adjustment", e.to_string()))?;
            adj.check().map_err(|e| bad("an adjustment", e.message))
        }
        ValueShape::Lock => serde_json::from_str::<LockValue>(value)
            .map(|_| ())
            .map_err(|e| bad("a lock", e.to_string())),
        ValueShape::OpeningRequest => {
            let r: crate::window::OpeningRequest =
                serde_json::from_str(value).map_err(|e| bad("a request", e.to_string()))?;
            r.check().map_err(|e| bad("a request", e.message))
        }
        ValueShape::Opening => {
            let o: crate::window::Opening =
                serde_json::from_str(value).map_err(|e| bad("an opening", e.to_string()))?;
            o.check().map_err(|e| bad("an opening", e.message))
        }
        ValueShape::Material => {
            let m: crate::materials::MaterialValue =
                serde_json::from_str(value).map_err(|e| bad("a material", e.to_string()))?;
            m.check().map_err(|e| bad("a material", e.message))
        }
        ValueShape::Resolution => {
            let r: ResolutionValue =
                serde_json::from_str(value).map_err(|e| bad("a resolution", e.to_string()))?;
            if r.by != writer.name {
                return Err(Refused(format!(
                    "this resolution says it was decided by {:?}, but it is pushed by {:?}",
                    r.by, writer.name
                )));
            }
            Ok(())
        }
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::genesis::maps_of;

    #[test]
    fn every_map_of_every_kind_has_exactly_one_rule() {
        for kind in DocKind::ALL {
            for map in maps_of(kind) {
                let n = RULES
                    .iter()
                    .filter(|r| r.kind == kind && r.map == *map && r.keys.is_none())
                    .count();
                assert_eq!(n, 1, "{kind}.{map}");
            }
        }
        for r in RULES {
            assert!(
                maps_of(r.kind).contains(&r.map),
                "{}.{} is not a map",
                r.kind,
                r.map
            );
            for op in Operation::ALL {
                assert!(
                    r.roles(op).contains(&Role::Admin),
                    "admin may {op:?} {}.{}",
                    r.kind,
                    r.map
                );
            }
        }
    }

    fn change(writes: Vec<Write>) -> Inspected {
        Inspected {
            hash: [0; 32],
            actor: vec![1],
            seq: 1,
            time: 0,
            claimed_by: None,
            genesis: false,
            writes,
        }
    }

    fn put(map: &'static str, key: &str, value: &str) -> Write {
        Write {
            map,
            key: key.into(),
            op: WriteOp::Create(value.into()),
        }
    }

    #[test]
    fn a_teacher_cannot_excuse_adjust_lock_or_resolve() {
        let t = Writer {
            name: "anvar",
            role: Role::Teacher,
        };
        let k = DocKind::Journal;
        assert!(
            check_change(
                t,
                k,
                &change(vec![put("marks", "h/s", r#"{"s":"a","h":2}"#)])
            )
            .is_ok()
        );
        let e = check_change(
            t,
            k,
            &change(vec![put("marks", "h/s", r#"{"s":"e","h":2}"#)]),
        )
        .expect_err("excused");
        assert!(e.0.contains("only the dean's office"), "{e}");
        for (map, v) in [
            (
                "adjustments",
                r#"{"to":"e","reason":"x","status":"approved"}"#,
            ),
            ("locks", r#"{"reason":"x"}"#),
            ("resolutions", r#"{"by":"anvar","value":"x"}"#),
            ("meta", "x"),
        ] {
            assert!(
                check_change(t, k, &change(vec![put(map, "h/s", v)])).is_err(),
                "{map}"
            );
        }
        let unlock = Write {
            map: "locks",
            key: "h".into(),
            op: WriteOp::Delete,
        };
        assert!(check_change(t, k, &change(vec![unlock])).is_err());
    }

    #[test]
    fn the_dean_writes_marks_only_inside_a_resolution_in_their_own_name() {
        let d = Writer {
            name: "dekanat",
            role: Role::Dean,
        };
        let k = DocKind::Journal;
        let mark = put("marks", "h/s", r#"{"s":"p"}"#);
        assert!(check_change(d, k, &change(vec![mark.clone()])).is_err());
        let mine = put(
            "resolutions",
            "mark:h/s",
            r#"{"by":"dekanat","value":"{}"}"#,
        );
        assert!(check_change(d, k, &change(vec![mark.clone(), mine])).is_ok());
        let forged = put("resolutions", "mark:h/s", r#"{"by":"admin","value":"{}"}"#);
        assert!(check_change(d, k, &change(vec![mark.clone(), forged])).is_err());
        let other_key = put(
            "resolutions",
            "mark:h/other",
            r#"{"by":"dekanat","value":"{}"}"#,
        );
        assert!(check_change(d, k, &change(vec![mark, other_key])).is_err());
    }

    #[test]
    fn a_claimed_author_must_be_the_writer() {
        let t = Writer {
            name: "anvar",
            role: Role::Teacher,
        };
        let mut c = change(vec![]);
        c.claimed_by = Some("dekanat".into());
        assert!(check_change(t, DocKind::Journal, &c).is_err());
        c.claimed_by = Some("anvar".into());
        assert!(check_change(t, DocKind::Journal, &c).is_ok());
    }
}
