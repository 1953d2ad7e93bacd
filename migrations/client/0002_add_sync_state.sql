-- Schema 2: what the replica knows about its sync server, and resolution audit rows.

CREATE TABLE sync_state (
    server        TEXT PRIMARY KEY,
    cursor        INTEGER NOT NULL DEFAULT 0,
    access        INTEGER NOT NULL DEFAULT 0,
    last_success  INTEGER,                   -- unix ms
    last_error    TEXT
);

-- Who resolved which conflict, with which value and why (projected from documents).
CREATE TABLE resolutions (
    doc_id      TEXT NOT NULL,
    key         TEXT NOT NULL,               -- "<field>:<key>"
    by_user     TEXT NOT NULL,
    value       TEXT NOT NULL,
    note        TEXT,
    resolved_at INTEGER,
    PRIMARY KEY (doc_id, key)
);

CREATE INDEX marks_by_student ON marks (journal_id, student_id);
CREATE INDEX changes_unpushed ON changes (pushed, local);
