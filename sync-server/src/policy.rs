//! Who may write which document: the permission rules of design §5, as pure functions.
//!
//! Backends gather the facts about a document ([`WriteFacts`]: its kind and metadata, whether
//! the user is assigned to it, the faculty of the group a journal belongs to, …) inside their
//! push transaction and ask [`may_write`] / [`may_set_meta`]. Read rules are the same rules
//! written as joins (see the SQLite backend's `readable` query), because reads are computed for
//! thousands of documents at once; `docs/sync-protocol.md` states both side by side.
//!
//! Write rules:
//! - admin writes everything; only admin writes the catalog;
//! - a teacher writes the journals assigned to them (explicit assignment, or the stored
//!   metadata of the journal names their employee id);
//! - a dean's office (faculty F) writes groups of F and journals whose group is in F;
//! - a department head (department D) writes modules of D.
//!
//! Metadata decides future permissions, so setting it is stricter than writing changes:
//! creating a document's metadata needs write permission under the submitted metadata (a
//! teacher needs an explicit assignment: naming oneself in `teachers` is not enough), and
//! changing it needs write permission under both the old and the new metadata (teachers may
//! not change it at all).

use daftar_protocol::{DocKind, DocMeta, Role};

use crate::store::User;

/// Where the metadata in [`WriteFacts`] comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaOrigin {
    /// Accepted and stored earlier.
    Stored,
    /// Sent by this client, not accepted yet.
    Submitted,
}

/// What a backend knows about one document when deciding a write.
#[derive(Debug, Clone, Copy)]
pub struct WriteFacts<'a> {
    pub kind: DocKind,
    pub meta: &'a DocMeta,
    pub origin: MetaOrigin,
    /// The user has an explicit assignment to this journal.
    pub assigned: bool,
    /// Faculty stored on the group document `meta.group` names, if that group is known.
    pub group_faculty: Option<&'a str>,
    /// Department stored on the module document `meta.module` names, if known.
    pub module_department: Option<&'a str>,
}

impl WriteFacts<'_> {
    /// A journal's faculty: its group's when the group is known, else its own metadata's.
    pub fn journal_faculty(&self) -> Option<&str> {
        self.group_faculty.or(self.meta.faculty.as_deref())
    }
}

/// A refusal reason for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied(pub String);

/// Whether `user` may write changes to the document described by `facts`.
pub fn may_write(user: &User, facts: &WriteFacts<'_>) -> Result<(), Denied> {
    if user.disabled {
        return Err(Denied("the account is disabled".into()));
    }
    let scope = user.scope.as_deref();
    let allowed = match (user.role, facts.kind) {
        (Role::Admin, _) => true,
        (_, DocKind::Catalog) => false,
        (Role::Teacher, DocKind::Journal) => {
            facts.assigned
                || (facts.origin == MetaOrigin::Stored
                    && user
                        .employee
                        .as_deref()
                        .is_some_and(|e| facts.meta.teachers.iter().any(|t| t == e)))
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

/// Whether `user` may set a document's metadata to `new` (`old` = the stored one, `None` when
/// the document is new to the server).
pub fn may_set_meta(
    user: &User,
    old: Option<&WriteFacts<'_>>,
    new: &WriteFacts<'_>,
) -> Result<(), Denied> {
    match old {
        None => may_write(user, new),
        Some(_) if user.role == Role::Teacher => Err(Denied(
            "teachers cannot change a journal's group, module or teachers; ask the dean's office"
                .into(),
        )),
        Some(old) => {
            may_write(user, old)?;
            may_write(user, new).map_err(|_| {
                Denied(format!(
                    "this metadata would move the {} outside your scope",
                    new.kind
                ))
            })
        }
    }
}

fn denial_reason(user: &User, kind: DocKind) -> String {
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

    fn user(role: Role, scope: Option<&str>, employee: Option<&str>) -> User {
        User {
            id: 1,
            name: "u".into(),
            role,
            scope: scope.map(Into::into),
            employee: employee.map(Into::into),
            disabled: false,
        }
    }

    fn facts<'a>(kind: DocKind, meta: &'a DocMeta, origin: MetaOrigin) -> WriteFacts<'a> {
        WriteFacts {
            kind,
            meta,
            origin,
            assigned: false,
            group_faculty: None,
            module_department: None,
        }
    }

    #[test]
    fn only_admin_writes_the_catalog() {
        let meta = DocMeta::default();
        let f = facts(DocKind::Catalog, &meta, MetaOrigin::Stored);
        assert!(may_write(&user(Role::Admin, None, None), &f).is_ok());
        for role in [Role::Dean, Role::DepartmentHead, Role::Teacher] {
            assert!(may_write(&user(role, Some("x"), Some("x")), &f).is_err());
        }
    }

    #[test]
    fn teacher_named_in_stored_meta_writes_but_cannot_self_name_on_create() {
        let meta = DocMeta {
            teachers: vec!["E1".into()],
            ..DocMeta::default()
        };
        let t = user(Role::Teacher, None, Some("E1"));
        assert!(may_write(&t, &facts(DocKind::Journal, &meta, MetaOrigin::Stored)).is_ok());
        assert!(may_write(&t, &facts(DocKind::Journal, &meta, MetaOrigin::Submitted)).is_err());
        let mut assigned = facts(DocKind::Journal, &meta, MetaOrigin::Submitted);
        assigned.assigned = true;
        assert!(may_write(&t, &assigned).is_ok());
    }

    #[test]
    fn dean_journal_faculty_follows_the_group() {
        let meta = DocMeta {
            faculty: Some("F1".into()),
            group: Some("group/g".into()),
            ..DocMeta::default()
        };
        let dean = user(Role::Dean, Some("F1"), None);
        let mut f = facts(DocKind::Journal, &meta, MetaOrigin::Stored);
        assert!(may_write(&dean, &f).is_ok());
        f.group_faculty = Some("F2");
        assert!(may_write(&dean, &f).is_err());
    }

    #[test]
    fn meta_change_needs_both_scopes_and_teachers_cannot() {
        let old = DocMeta {
            faculty: Some("F1".into()),
            ..DocMeta::default()
        };
        let new = DocMeta {
            faculty: Some("F2".into()),
            ..DocMeta::default()
        };
        let dean = user(Role::Dean, Some("F1"), None);
        let of = facts(DocKind::Group, &old, MetaOrigin::Stored);
        let nf = facts(DocKind::Group, &new, MetaOrigin::Submitted);
        assert!(may_set_meta(&dean, Some(&of), &nf).is_err());
        assert!(may_set_meta(&dean, Some(&of), &of).is_ok());
        let mut t = facts(DocKind::Journal, &old, MetaOrigin::Stored);
        t.assigned = true;
        let teacher = user(Role::Teacher, None, Some("E"));
        assert!(may_set_meta(&teacher, Some(&t), &t).is_err());
    }

    #[test]
    fn department_head_writes_only_own_modules() {
        let meta = DocMeta {
            department: Some("D1".into()),
            ..DocMeta::default()
        };
        let f = facts(DocKind::Module, &meta, MetaOrigin::Stored);
        assert!(may_write(&user(Role::DepartmentHead, Some("D1"), None), &f).is_ok());
        assert!(may_write(&user(Role::DepartmentHead, Some("D2"), None), &f).is_err());
        let j = facts(DocKind::Journal, &meta, MetaOrigin::Stored);
        assert!(may_write(&user(Role::DepartmentHead, Some("D1"), None), &j).is_err());
    }
}
