-- Daftar sync-server schema, version 7 (SQLite backend): a change is unique by its device,
-- the device's sequence number and its hash, not by its hash alone.
--
-- The same thing is unique (a change's hash covers its device and sequence number), but the
-- index grows in time order per device instead of at random places: with a UNIQUE index on
-- the hash, each stored change wrote one more page of that index into the WAL once the
-- index outgrew a commit (a 1,000-change commit group on a server holding 200,000 changes
-- wrote 1,087 pages, against 176 with this index; docs/BENCHMARKS.md, B11, and
-- crates/bench/tools/wal_frames.py).
--
-- SQLite cannot drop a column's UNIQUE, so the table is rebuilt, seqs kept, and the
-- AUTOINCREMENT counter carried over (a seq is never handed out twice: it is every
-- replica's pull cursor).
CREATE TABLE changes_new (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    hash        BLOB    NOT NULL,
    doc         INTEGER NOT NULL REFERENCES docs(id),
    actor       BLOB    NOT NULL,
    user_id     INTEGER NOT NULL REFERENCES users(id),
    bytes       BLOB    NOT NULL,
    stored_at   INTEGER NOT NULL,
    actor_seq   INTEGER,
    edit_time   INTEGER
);
INSERT INTO changes_new (seq, hash, doc, actor, user_id, bytes, stored_at, actor_seq, edit_time)
    SELECT seq, hash, doc, actor, user_id, bytes, stored_at, actor_seq, edit_time FROM changes;
-- The copy's counter is the old one (at least every copied seq), not the highest row's.
DELETE FROM sqlite_sequence WHERE name = 'changes_new';
INSERT INTO sqlite_sequence (name, seq) SELECT 'changes_new', seq FROM sqlite_sequence WHERE name = 'changes';
DROP TABLE changes;
ALTER TABLE changes_new RENAME TO changes;
CREATE INDEX changes_doc_seq ON changes(doc, seq);
CREATE INDEX changes_doc_actor_seq ON changes(doc, actor, actor_seq);
CREATE UNIQUE INDEX changes_device ON changes(actor, actor_seq, hash);
