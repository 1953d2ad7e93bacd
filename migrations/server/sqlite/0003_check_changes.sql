-- Daftar sync-server schema, version 3 (SQLite backend): what the server needs to judge
-- changes by what they do (docs/security.md).
--
-- `actor_seq` and `edit_time` come from each change's header (its device's sequence number
-- and wall clock); a second change with the same (doc, actor, actor_seq) and another hash is
-- refused, because it would make every replica of the document fail to load it. Rows stored
-- before this migration are filled in by the server at open (it decodes their headers).
ALTER TABLE changes ADD COLUMN actor_seq INTEGER;
ALTER TABLE changes ADD COLUMN edit_time INTEGER;
CREATE INDEX changes_doc_actor_seq ON changes(doc, actor, actor_seq);

-- Raw change bytes stored per user per UTC day (unix day number), for the daily limit.
CREATE TABLE usage (
    user_id     INTEGER NOT NULL REFERENCES users(id),
    day         INTEGER NOT NULL,
    bytes       INTEGER NOT NULL,
    PRIMARY KEY (user_id, day)
) WITHOUT ROWID;
