-- Schema 3: the per-cell projection tables stored clustered by their primary key
-- (WITHOUT ROWID), and the unused marks_by_student index dropped.
--
-- Every query reads these tables by journal (and lesson, student), i.e. by a prefix of the
-- primary key. As rowid tables each insert wrote three B-trees for a mark (the table, the
-- primary-key index, marks_by_student); now it writes one. Measured with daftar-bench B5
-- (docs/BENCHMARKS.md).

CREATE TABLE marks_v3 (
    journal_id TEXT NOT NULL,
    lesson_id  TEXT NOT NULL,
    student_id TEXT NOT NULL,
    status     TEXT NOT NULL,
    hours      INTEGER NOT NULL,
    grade      INTEGER,
    note       TEXT,
    PRIMARY KEY (journal_id, lesson_id, student_id)
) WITHOUT ROWID;
INSERT INTO marks_v3 SELECT journal_id, lesson_id, student_id, status, hours, grade, note FROM marks;
DROP TABLE marks;
ALTER TABLE marks_v3 RENAME TO marks;

CREATE TABLE lessons_v3 (
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
) WITHOUT ROWID;
INSERT INTO lessons_v3
    SELECT journal_id, id, date, pair, lesson_type, teacher_id, topic, status, lock_reason
    FROM lessons;
DROP TABLE lessons;
ALTER TABLE lessons_v3 RENAME TO lessons;

CREATE TABLE scores_v3 (
    journal_id TEXT NOT NULL,
    control    TEXT NOT NULL,
    sitting    INTEGER NOT NULL,
    student_id TEXT NOT NULL,
    points     REAL NOT NULL,
    PRIMARY KEY (journal_id, control, sitting, student_id)
) WITHOUT ROWID;
INSERT INTO scores_v3 SELECT journal_id, control, sitting, student_id, points FROM scores;
DROP TABLE scores;
ALTER TABLE scores_v3 RENAME TO scores;

CREATE TABLE adjustments_v3 (
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
) WITHOUT ROWID;
INSERT INTO adjustments_v3
    SELECT journal_id, lesson_id, student_id, to_status, reason, document, status, author, edited_at
    FROM adjustments;
DROP TABLE adjustments;
ALTER TABLE adjustments_v3 RENAME TO adjustments;
