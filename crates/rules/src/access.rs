//! Who may write which *document* (design §5), as pure functions over facts a store gathers.
//!
//! The server gathers the facts about a document ([`WriteFacts`]: its kind and stored
//! metadata, whether the user is assigned to it, the faculty of the group a journal belongs
//! to, …) inside its push transaction and asks [`may_write`]; then every write of the change
//! goes through [`crate::table`]. Read rules are the same rules written as joins in the
//! server's store, because reads are computed for thousands of documents at once.
//!
//! Document rules:
//! - admin writes everything; only admin writes the catalog;
//! - a teacher writes the journals assigned to them (explicit assignment, or the stored
//!   metadata of the journal names their employee id);
//! - a dean's office (faculty F) writes groups of F and journals whose group is in F — the
//!   group's faculty as the server stored it, never a faculty a journal names for itself;
//! - a department head (department D) writes modules of D.
//!
//! Metadata decides who reads and writes a document, so it belongs to the server: only an
//! administrator (the HEMIS import runs as one) sets it ([`may_set_meta`]). Metadata any other
//! user sends is ignored, and a document the server does not know yet cannot be created by
//! them: content a teacher writes never moves a document.

use daftar_protocol::{DocKind, DocMeta, Role};

/// The user a decision is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Principal<'a> {
    pub name: &'a str,
    pub role: Role,
    /// Faculty id (dean) or department id (department head).
    pub scope: Option<&'a str>,
    /// HEMIS employee id (teacher).
    pub employee: Option<&'a str>,
    pub disabled: bool,
}

/// What a store knows about one document when deciding a write.
#[derive(Debug, Clone, Copy)]
pub struct WriteFacts<'a> {
    pub kind: DocKind,
    /// The stored metadata (empty when the server has none).
    pub meta: &'a DocMeta,
    /// The user has an explicit assignment to this journal.
    pub assigned: bool,
    /// Faculty stored on the group document `meta.group` names, if that group is known.
    pub group_faculty: Option<&'a str>,
}

impl WriteFacts<'_> {
    /// A journal's faculty: its group's as stored on the server; a journal's own `faculty`
    /// only when it names no group the server knows.
    pub fn journal_faculty(&self) -> Option<&str> {
        match (&self.meta.group, self.group_faculty) {
            (_, Some(f)) => Some(f),
            (Some(_), None) => None,
            (None, None) => self.meta.faculty.as_deref(),
        }
    }
}

/// A refusal reason for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Denied(pub String);

/// Whether `user` may write changes to the document described by `facts`.
pub fn may_write(user: &Principal<'_>, facts: &WriteFacts<'_>) -> Result<(), Denied> {
    if user.disabled {
        return Err(Denied("the account is disabled".into()));
    }
    let scope = user.scope;
    let allowed = match (user.role, facts.kind) {
        (Role::Admin, _) => true,
        (_, DocKind::Catalog) => false,
        (Role::Teacher, DocKind::Journal) => {
            facts.assigned
                || user
                    .employee
                    .is_some_and(|e| facts.meta.teachers.iter().any(|t| t == e))
        }
        (Role::Dean, DocKind::Group) => scope.is_some() && facts.meta.faculty.as_deref() == scope,
        (Role::Dean, DocKind::Journal) => scope.is_some() && facts.journal_faculty() == scope,
        (Role::DepartmentHead, DocKind::Module) => {
            scope.is_some() && facts.meta.department.as_deref() == scope
        }
        _ => false,
    };
    if allowed {
        Ok(())
    } else {
        Err(Denied(denial_reason(user, facts.kind)))
    }
}

/// Whether `user` may set a document's metadata. Only administrators do.
pub fn may_set_meta(user: &Principal<'_>, kind: DocKind) -> Result<(), Denied> {
    if user.disabled {
        return Err(Denied("the account is disabled".into()));
    }
    if user.role == Role::Admin {
        Ok(())
    } else {
        Err(Denied(format!(
            "only an administrator (or the HEMIS import) decides which group, module, faculty or \
             teachers a {kind} belongs to"
        )))
    }
}

/// The refusal for a document the server has never stored, pushed by someone who may not
/// create documents.
pub fn unknown_document(kind: DocKind) -> Denied {
    Denied(format!(
        "this {kind} is not on the server yet; an administrator (or the HEMIS import) publishes it first"
    ))
}

fn denial_reason(user: &Principal<'_>, kind: DocKind) -> String {
    match (user.role, kind) {
        (_, DocKind::Catalog) => "only an administrator may change the catalog".into(),
        (Role::Teacher, DocKind::Journal) => "you are not assigned to this journal".into(),
        (Role::Teacher, _) => format!("teachers cannot change a {kind}"),
        (Role::Dean, DocKind::Group | DocKind::Journal) => {
            format!("this {kind} is not in your faculty")
        }
        (Role::Dean, _) => format!("the dean's office cannot change a {kind}"),
        (Role::DepartmentHead, DocKind::Module) => "this module is not in your department".into(),
        (Role::DepartmentHead, _) => format!("a department head cannot change a {kind}"),
        (Role::Admin, _) => "not allowed".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user<'a>(role: Role, scope: Option<&'a str>, employee: Option<&'a str>) -> Principal<'a> {
        Principal {
            name: "u",
            role,
            scope,
            employee,
            disabled: false,
        }
    }

    fn facts(kind: DocKind, meta: &DocMeta) -> WriteFacts<'_> {
        WriteFacts {
            kind,
            meta,
            assigned: false,
            group_faculty: None,
        }
    }

    #[test]
    fn only_admin_writes_the_catalog() {
        let meta = DocMeta::default();
        let f = facts(DocKind::Catalog, &meta);
        assert!(may_write(&user(Role::Admin, None, None), &f).is_ok());
        for role in [Role::Dean, Role::DepartmentHead, Role::Teacher] {
            assert!(may_write(&user(role, Some("x"), Some("x")), &f).is_err());
        }
    }

    #[test]
    fn teacher_writes_when_assigned_or_named_in_stored_meta() {
        let meta = DocMeta {
            teachers: vec!["E1".into()],
            ..DocMeta::default()
        };
        let t = user(Role::Teacher, None, Some("E1"));
        assert!(may_write(&t, &facts(DocKind::Journal, &meta)).is_ok());
        let other = user(Role::Teacher, None, Some("E2"));
        assert!(may_write(&other, &facts(DocKind::Journal, &meta)).is_err());
        let mut assigned = facts(DocKind::Journal, &meta);
        assigned.assigned = true;
        assert!(may_write(&other, &assigned).is_ok());
    }

    #[test]
    fn dean_journal_faculty_follows_the_stored_group_only() {
        let meta = DocMeta {
            faculty: Some("F1".into()),
            group: Some("group/g".into()),
            ..DocMeta::default()
        };
        let dean = user(Role::Dean, Some("F1"), None);
        let mut f = facts(DocKind::Journal, &meta);
        // The group is unknown: the journal's own claim to F1 does not count.
        assert!(may_write(&dean, &f).is_err());
        f.group_faculty = Some("F1");
        assert!(may_write(&dean, &f).is_ok());
        f.group_faculty = Some("F2");
        assert!(may_write(&dean, &f).is_err());
    }

    #[test]
    fn only_admin_sets_metadata() {
        assert!(may_set_meta(&user(Role::Admin, None, None), DocKind::Journal).is_ok());
        for role in [Role::Dean, Role::DepartmentHead, Role::Teacher] {
            assert!(may_set_meta(&user(role, Some("F1"), Some("E")), DocKind::Group).is_err());
        }
    }

    #[test]
    fn department_head_writes_only_own_modules() {
        let meta = DocMeta {
            department: Some("D1".into()),
            ..DocMeta::default()
        };
        let f = facts(DocKind::Module, &meta);
        assert!(may_write(&user(Role::DepartmentHead, Some("D1"), None), &f).is_ok());
        assert!(may_write(&user(Role::DepartmentHead, Some("D2"), None), &f).is_err());
        let j = facts(DocKind::Journal, &meta);
        assert!(may_write(&user(Role::DepartmentHead, Some("D1"), None), &j).is_err());
    }
}
