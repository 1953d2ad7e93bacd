-- Daftar sync-server schema, version 1 (SQLite backend).
--
-- Applied by `daftar-sync` at open when `PRAGMA user_version` is 0. Never edit this file once
-- released: add `0002_...sql` instead.

-- People who may sign in. `scope` is the faculty id of a dean's office or the department id of
-- a department head; `employee` is a teacher's HEMIS employee id, so journals whose metadata
-- names that employee are theirs.
CREATE TABLE users (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    password    TEXT    NOT NULL,             -- argon2id PHC string
    role        TEXT    NOT NULL CHECK (role IN ('admin', 'dean', 'department_head', 'teacher')),
    scope       TEXT,
    employee    TEXT    UNIQUE,
    disabled    INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL              -- unix ms
);

-- Bearer tokens, stored only as their SHA-256.
CREATE TABLE sessions (
    token_hash  BLOB    PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id),
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_user ON sessions(user_id);
CREATE INDEX sessions_expiry ON sessions(expires_at);

-- Every document the server has heard of, with the metadata permissions are derived from
-- (protocol::DocMeta, kept whole in meta_json and denormalised into columns for joins).
CREATE TABLE docs (
    id          INTEGER PRIMARY KEY,
    doc_id      TEXT    NOT NULL UNIQUE,
    kind        TEXT    NOT NULL CHECK (kind IN ('catalog', 'group', 'module', 'journal')),
    has_meta    INTEGER NOT NULL DEFAULT 0,
    meta_json   TEXT,
    faculty     TEXT,
    department  TEXT,
    group_doc   TEXT,
    module_doc  TEXT,
    created_at  INTEGER NOT NULL,
    meta_by     INTEGER REFERENCES users(id),
    meta_at     INTEGER
);
CREATE INDEX docs_kind_faculty ON docs(kind, faculty);
CREATE INDEX docs_kind_department ON docs(kind, department);
CREATE INDEX docs_group ON docs(group_doc);
CREATE INDEX docs_module ON docs(module_doc);

-- DocMeta.teachers of journals, one row per (journal, employee id).
CREATE TABLE journal_teachers (
    employee    TEXT    NOT NULL,
    doc         INTEGER NOT NULL REFERENCES docs(id),
    PRIMARY KEY (employee, doc)
) WITHOUT ROWID;
CREATE INDEX journal_teachers_doc ON journal_teachers(doc);

-- Explicit assignments of teachers to journals (`daftar-sync assign`, POST /v1/assignments).
-- A teacher is named by user name or by employee id; the journal need not exist yet, and the
-- teacher need not exist yet either (a pending assignment applies once the user is added).
CREATE TABLE assignments (
    teacher_kind TEXT    NOT NULL CHECK (teacher_kind IN ('user', 'employee')),
    teacher      TEXT    NOT NULL,
    journal      TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (teacher_kind, teacher, journal)
) WITHOUT ROWID;
CREATE INDEX assignments_journal ON assignments(journal);

-- automerge actor ids, bound to the user who first pushed a change with them.
CREATE TABLE actors (
    actor       BLOB    PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id),
    bound_at    INTEGER NOT NULL
) WITHOUT ROWID;

-- The append-only change log. `seq` is the global pull cursor; AUTOINCREMENT so a number is
-- never reused.
CREATE TABLE changes (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    hash        BLOB    NOT NULL UNIQUE,
    doc         INTEGER NOT NULL REFERENCES docs(id),
    actor       BLOB    NOT NULL,
    user_id     INTEGER NOT NULL REFERENCES users(id),
    bytes       BLOB    NOT NULL,
    stored_at   INTEGER NOT NULL
);
CREATE INDEX changes_doc_seq ON changes(doc, seq);

-- Per (user, replica): documents whose changes up to the replica's cursor it has been sent
-- (done = 1), or, while a newly readable document is being sent whole across pages, how far
-- (upto = last seq sent).
CREATE TABLE replica_docs (
    user_id     INTEGER NOT NULL,
    replica     TEXT    NOT NULL,
    doc         INTEGER NOT NULL,
    upto        INTEGER NOT NULL DEFAULT 0,
    done        INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, replica, doc)
) WITHOUT ROWID;

-- Global counters. `access` is bumped whenever assignments or document metadata change, i.e.
-- whenever some user's readable set may have changed.
CREATE TABLE counters (
    name        TEXT    PRIMARY KEY,
    value       INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO counters (name, value) VALUES ('access', 1);
