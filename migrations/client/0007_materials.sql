-- Course materials' bytes on this computer, by content hash (docs/materials.md). A module's
-- `materials` map describes each file; its bytes are kept here in parts, in order from offset
-- 0, so a transfer cut part way goes on from where it stopped.
CREATE TABLE material_files (
    hash     TEXT    PRIMARY KEY,          -- hex SHA-256 of the bytes
    size     INTEGER NOT NULL,
    received INTEGER NOT NULL DEFAULT 0,   -- bytes in material_parts, from the start
    complete INTEGER NOT NULL DEFAULT 0,   -- 1: all here and the hash matched
    -- 0: attached here and not all on the server yet (sent by its owner's syncs)
    sent     INTEGER NOT NULL DEFAULT 1,
    owner    TEXT,                         -- who attached it here ("server|user"), as changes.owner
    problem  TEXT                          -- the last transfer's trouble, in words
);
CREATE TABLE material_parts (
    hash   TEXT    NOT NULL REFERENCES material_files(hash) ON DELETE CASCADE,
    offset INTEGER NOT NULL,
    bytes  BLOB    NOT NULL,
    PRIMARY KEY (hash, offset)
) WITHOUT ROWID;
