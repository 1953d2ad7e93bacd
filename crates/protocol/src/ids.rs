//! Ids as types: a document's id with its kind ([`DocId`], `journal/g1-m1-1`), a journal's
//! short id ([`JournalId`]), a lesson's and a student's ([`LessonId`], [`StudentId`]), and the
//! key of one cell (`<lesson>/<student>`, [`CellKey`]). Each parses with [`FromStr`] and prints
//! with [`Display`] so that the two round-trip, and refuses what it cannot be with an
//! [`IdError`] in words for people.

use std::fmt::{self, Display};
use std::str::FromStr;

use crate::DocKind;

/// Longest id part Daftar takes (HEMIS ids are numbers; Daftar's own are 17 characters).
pub const MAX_ID_CHARS: usize = 128;

/// Why a text is not an id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("a {what} id is empty")]
    Empty { what: &'static str },
    #[error("{id:?} is not a {what} id: an id has no '/' in it")]
    Slash { what: &'static str, id: String },
    #[error("{id:?} is not a {what} id: an id has no spaces or control characters in it")]
    Character { what: &'static str, id: String },
    #[error("a {what} id is at most {MAX_ID_CHARS} characters")]
    TooLong { what: &'static str },
    #[error(
        "{id:?} is not a document id: it is kind/id, the kind one of catalog, group, module, journal"
    )]
    NotADocument { id: String },
    #[error("{id:?} is a {found}, not a {expected}")]
    WrongKind {
        expected: DocKind,
        found: DocKind,
        id: String,
    },
}

/// Checks one id part (no kind prefix).
fn check(what: &'static str, id: &str) -> Result<(), IdError> {
    if id.is_empty() {
        return Err(IdError::Empty { what });
    }
    // Long text first: the other refusals quote the id.
    if id.chars().count() > MAX_ID_CHARS {
        return Err(IdError::TooLong { what });
    }
    if id.contains('/') {
        return Err(IdError::Slash {
            what,
            id: id.to_string(),
        });
    }
    if id.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(IdError::Character {
            what,
            id: id.to_string(),
        });
    }
    Ok(())
}

/// A document's whole id: its kind and its id within the kind (`journal/g1-m1-1`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DocId {
    kind: DocKind,
    id: String,
}

impl DocId {
    pub fn new(kind: DocKind, id: &str) -> Result<DocId, IdError> {
        check(kind.as_str(), id)?;
        Ok(DocId {
            kind,
            id: id.to_string(),
        })
    }

    /// A document of `kind` from what a person typed: its short id or its whole id, with the
    /// spaces around it gone. A whole id of another kind is refused.
    pub fn of_kind(kind: DocKind, typed: &str) -> Result<DocId, IdError> {
        let typed = typed.trim();
        match typed.split_once('/') {
            Some(_) => {
                let doc: DocId = typed.parse()?;
                if doc.kind != kind {
                    return Err(IdError::WrongKind {
                        expected: kind,
                        found: doc.kind,
                        id: typed.to_string(),
                    });
                }
                Ok(doc)
            }
            None => DocId::new(kind, typed),
        }
    }

    pub fn kind(&self) -> DocKind {
        self.kind
    }

    /// The id within its kind (`g1-m1-1` of `journal/g1-m1-1`).
    pub fn short(&self) -> &str {
        &self.id
    }
}

impl FromStr for DocId {
    type Err = IdError;

    fn from_str(s: &str) -> Result<DocId, IdError> {
        if s.chars().count() > MAX_ID_CHARS + 16 {
            return Err(IdError::TooLong { what: "document" });
        }
        let not = || IdError::NotADocument { id: s.to_string() };
        let (kind, id) = s.split_once('/').ok_or_else(not)?;
        let kind = DocKind::ALL
            .into_iter()
            .find(|k| k.as_str() == kind)
            .ok_or_else(not)?;
        DocId::new(kind, id)
    }
}

impl Display for DocId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind.as_str(), self.id)
    }
}

/// The id within its kind of a whole document id, or the text as it is when it has no kind.
pub fn short_id(doc_id: &str) -> &str {
    doc_id.split_once('/').map_or(doc_id, |(_, id)| id)
}

/// A journal, by its short id (`g1-m1-1`); parses from the short or the whole id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JournalId(String);

impl JournalId {
    /// Its document's id (`journal/g1-m1-1`).
    pub fn doc_id(&self) -> DocId {
        DocId {
            kind: DocKind::Journal,
            id: self.0.clone(),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for JournalId {
    type Err = IdError;

    fn from_str(s: &str) -> Result<JournalId, IdError> {
        Ok(JournalId(DocId::of_kind(DocKind::Journal, s)?.id))
    }
}

impl Display for JournalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

macro_rules! part_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = IdError;

            fn from_str(s: &str) -> Result<$name, IdError> {
                check($what, s)?;
                Ok($name(s.to_string()))
            }
        }

        impl Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

part_id!(
    /// A lesson of a journal (`h5001` from HEMIS, `L…` made here).
    LessonId,
    "lesson"
);
part_id!(
    /// A student of a group (the HEMIS student id, or a demo's).
    StudentId,
    "student"
);

/// One cell of a journal: the key of its mark and its adjustments (`<lesson>/<student>`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CellKey {
    pub lesson: LessonId,
    pub student: StudentId,
}

impl CellKey {
    /// The cell of `lesson` and `student` (ids as the journal has them).
    pub fn of(lesson: &str, student: &str) -> Result<CellKey, IdError> {
        Ok(CellKey {
            lesson: lesson.parse()?,
            student: student.parse()?,
        })
    }
}

impl FromStr for CellKey {
    type Err = IdError;

    fn from_str(s: &str) -> Result<CellKey, IdError> {
        let (lesson, student) = s
            .split_once('/')
            .ok_or(IdError::Empty { what: "student" })?;
        Ok(CellKey {
            lesson: lesson.parse()?,
            student: student.parse()?,
        })
    }
}

impl Display for CellKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.lesson, self.student)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_text() {
        for text in [
            "journal/g1-m1-1",
            "module/cs801",
            "group/412",
            "catalog/tatu",
        ] {
            let doc: DocId = text.parse().expect("a document id");
            assert_eq!(doc.to_string(), text);
        }
        let j: JournalId = " journal/g412-s301-17 ".parse().expect("whole");
        assert_eq!(j, "g412-s301-17".parse().expect("short"));
        assert_eq!(j.to_string(), "g412-s301-17");
        assert_eq!(j.doc_id().to_string(), "journal/g412-s301-17");
        let cell: CellKey = "h5001/100014".parse().expect("a cell");
        assert_eq!(cell.lesson.as_str(), "h5001");
        assert_eq!(cell.to_string(), "h5001/100014");
        assert_eq!(short_id("journal/x"), "x");
        assert_eq!(short_id("x"), "x");
    }

    #[test]
    fn what_an_id_cannot_be_is_said_in_words() {
        assert_eq!(
            "".parse::<LessonId>(),
            Err(IdError::Empty { what: "lesson" })
        );
        assert!(matches!(
            "module/cs801".parse::<JournalId>(),
            Err(IdError::WrongKind {
                expected: DocKind::Journal,
                found: DocKind::Module,
                ..
            })
        ));
        assert!(matches!(
            "nope/x".parse::<DocId>(),
            Err(IdError::NotADocument { .. })
        ));
        assert!(matches!(
            "a/b".parse::<StudentId>(),
            Err(IdError::Slash { .. })
        ));
        assert!(matches!(
            "a b".parse::<StudentId>(),
            Err(IdError::Character { .. })
        ));
        assert!(matches!(
            "x".repeat(MAX_ID_CHARS + 1).parse::<StudentId>(),
            Err(IdError::TooLong { .. })
        ));
        let words = "module/cs801"
            .parse::<JournalId>()
            .expect_err("a module")
            .to_string();
        assert_eq!(words, "\"module/cs801\" is a module, not a journal");
    }
}
