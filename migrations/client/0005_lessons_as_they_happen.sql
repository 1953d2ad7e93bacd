-- Schema 5: lessons as they happen (docs/assessment.md): a lesson may be for one subgroup, a
-- student is a member of the group from and until a day, and a student may be recorded absent
-- from a final-control sitting ("kelmadi"). The new columns are read from the documents, so the
-- projection is rebuilt once at the next open (`rebuild_projection` below).
ALTER TABLE lessons ADD COLUMN subgroup TEXT;
-- HEMIS took the lesson's attendance (attendance-control-list): it counts as filled.
ALTER TABLE lessons ADD COLUMN taken INTEGER NOT NULL DEFAULT 0;
ALTER TABLE students ADD COLUMN since TEXT;
ALTER TABLE students ADD COLUMN until TEXT;
ALTER TABLE catalog ADD COLUMN calendar TEXT;
-- The pairs' times from HEMIS's lesson-pair-list: {"1": "08:30–09:50", …}.
ALTER TABLE catalog ADD COLUMN lesson_pairs TEXT;
-- A university's own training types from HEMIS: {"99": "Mustaqil ta’lim (nazorat)", …}.
ALTER TABLE catalog ADD COLUMN training_types TEXT;
CREATE TABLE final_absences (
    journal_id TEXT    NOT NULL,
    sitting    INTEGER NOT NULL,
    student_id TEXT    NOT NULL,
    PRIMARY KEY (journal_id, sitting, student_id)
) WITHOUT ROWID;
INSERT OR REPLACE INTO replica_meta (key, value) VALUES ('rebuild_projection', '5');
