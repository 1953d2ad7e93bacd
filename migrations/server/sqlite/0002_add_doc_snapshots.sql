-- Compacted snapshots of documents (automerge save()), built when a replica is sent a newly
-- readable document whole and reused for the next replica. A cache: every byte of it can be
-- rebuilt from `changes`, so dropping a row loses nothing.
CREATE TABLE doc_snapshots (
    doc         INTEGER PRIMARY KEY REFERENCES docs(id),
    upto        INTEGER NOT NULL,   -- holds every change of the document with seq <= upto
    bytes       BLOB    NOT NULL,
    built_at    INTEGER NOT NULL
);

-- A fresh replica (cursor 0) that takes snapshots is sent every readable document whole up to
-- one bound, pinned here for the pages of that first pull, so its cursor can then jump there.
CREATE TABLE replica_pull (
    user_id     INTEGER NOT NULL,
    replica     TEXT    NOT NULL,
    bound       INTEGER NOT NULL,
    PRIMARY KEY (user_id, replica)
) WITHOUT ROWID;
