-- Daftar replica, schema 1: documents, their changes, and the relational projection.
-- Never edit a released migration: add a new file.

CREATE TABLE replica_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- One automerge document per unit of collaboration (design §2).
CREATE TABLE documents (
    id            TEXT PRIMARY KEY,          -- "<kind>/<id>"
    kind          TEXT NOT NULL,
    snapshot      BLOB,                      -- automerge save() at snapshot_seq
    snapshot_seq  INTEGER NOT NULL DEFAULT 0 -- changes with seq <= this are in the snapshot
);

-- Every change this replica knows and has not yet folded away: local edits until the server
-- acknowledged them, remote changes until the next compaction, changes waiting for missing
-- dependencies until they arrive.
CREATE TABLE changes (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    hash     TEXT NOT NULL UNIQUE,
    doc_id   TEXT NOT NULL,
    bytes    BLOB NOT NULL,
    local    INTEGER NOT NULL,      -- made on this replica
    applied  INTEGER NOT NULL,      -- 0 while its dependencies are missing
    pushed   INTEGER NOT NULL DEFAULT 0,
    refused  TEXT                   -- why the server refused it (kept, retried later)
);
CREATE INDEX changes_by_doc ON changes (doc_id, seq);

-- Projection: a materialised view of the documents, updated in the same transaction as the
-- change that caused it. Screens and reports read only these tables.
CREATE TABLE catalog (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    thresholds    TEXT NOT NULL              -- JSON [12, 36, 74]
);
CREATE TABLE faculties (
    id   TEXT PRIMARY KEY,
    name TEXT NOT NULL
);
CREATE TABLE departments (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    faculty_id TEXT
);
CREATE TABLE teachers (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    department_id TEXT
);
CREATE TABLE groups (
    id            TEXT PRIMARY KEY,          -- document id
    name          TEXT NOT NULL,
    faculty_id    TEXT,
    department_id TEXT,
    year          TEXT,
    language      TEXT
);
CREATE TABLE students (
    group_id  TEXT NOT NULL,
    id        TEXT NOT NULL,
    number    TEXT,
    name      TEXT NOT NULL,
    status    TEXT NOT NULL,                 -- active | left | academic_leave
    subgroup  TEXT,
    PRIMARY KEY (group_id, id)
);
CREATE TABLE modules (
    id             TEXT PRIMARY KEY,         -- document id
    subject_id     TEXT,
    subject        TEXT NOT NULL,
    semester       TEXT NOT NULL,
    department_id  TEXT,
    marking_system TEXT NOT NULL,
    hours          TEXT NOT NULL             -- JSON {"11": 30, "13": 30}
);
CREATE TABLE module_topics (
    module_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    position    REAL NOT NULL,
    name        TEXT NOT NULL,
    lesson_type TEXT,
    PRIMARY KEY (module_id, id)
);
CREATE TABLE module_controls (
    module_id TEXT NOT NULL,
    code      TEXT NOT NULL,
    kind      TEXT NOT NULL,
    max       REAL NOT NULL,
    sittings  INTEGER NOT NULL,
    PRIMARY KEY (module_id, code)
);
CREATE TABLE journals (
    id             TEXT PRIMARY KEY,         -- document id
    group_id       TEXT NOT NULL,
    module_id      TEXT,
    subject        TEXT NOT NULL,
    semester       TEXT NOT NULL,
    marking_system TEXT NOT NULL,
    teachers       TEXT NOT NULL,            -- JSON ["employee id", …]
    lock_reason    TEXT
);
CREATE TABLE lessons (
    journal_id  TEXT NOT NULL,
    id          TEXT NOT NULL,
    date        TEXT NOT NULL,
    pair        INTEGER NOT NULL,
    lesson_type TEXT NOT NULL,
    teacher_id  TEXT,
    topic       TEXT,
    status      TEXT NOT NULL,
    lock_reason TEXT,
    PRIMARY KEY (journal_id, id)
);
CREATE TABLE marks (
    journal_id TEXT NOT NULL,
    lesson_id  TEXT NOT NULL,
    student_id TEXT NOT NULL,
    status     TEXT NOT NULL,
    hours      INTEGER NOT NULL,
    grade      INTEGER,
    note       TEXT,
    PRIMARY KEY (journal_id, lesson_id, student_id)
);
CREATE TABLE scores (
    journal_id TEXT NOT NULL,
    control    TEXT NOT NULL,
    sitting    INTEGER NOT NULL,
    student_id TEXT NOT NULL,
    points     REAL NOT NULL,
    PRIMARY KEY (journal_id, control, sitting, student_id)
);
CREATE TABLE adjustments (
    journal_id TEXT NOT NULL,
    lesson_id  TEXT NOT NULL,
    student_id TEXT NOT NULL,
    to_status  TEXT NOT NULL,
    reason     TEXT NOT NULL,
    document   TEXT,
    status     TEXT NOT NULL,
    author     TEXT,
    edited_at  INTEGER,
    PRIMARY KEY (journal_id, lesson_id, student_id)
);

-- The conflict inbox: a pure function of the documents, so every replica that has the same
-- changes has the same rows.
CREATE TABLE conflicts (
    id          TEXT PRIMARY KEY,
    doc_id      TEXT NOT NULL,
    field       TEXT NOT NULL,               -- mark | score | topic | adjustment
    key         TEXT NOT NULL,
    kind        TEXT NOT NULL,               -- concurrent | amendment
    lesson_id   TEXT,
    student_id  TEXT,
    lesson_date TEXT,
    "values"    TEXT NOT NULL                -- JSON [{value, display, user, device, edited_at}]
);
CREATE INDEX conflicts_by_doc ON conflicts (doc_id);
