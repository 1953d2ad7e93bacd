-- Daftar sync-server schema, version 6 (SQLite backend): course materials' bytes, by content
-- hash (docs/materials.md). A module's `materials` map describes each file; the bytes arrive
-- in parts (`material_parts`, in order from offset 0) and are checked against the hash when
-- the last part is in. A file two modules describe is stored once.
CREATE TABLE materials (
    hash        BLOB    PRIMARY KEY,        -- SHA-256 of the bytes
    size        INTEGER NOT NULL,
    received    INTEGER NOT NULL DEFAULT 0, -- bytes in material_parts, from the start
    complete    INTEGER NOT NULL DEFAULT 0, -- 1: all received and the hash matched
    uploaded_by INTEGER REFERENCES users(id),
    created_at  INTEGER NOT NULL            -- unix ms
);
CREATE TABLE material_parts (
    hash        BLOB    NOT NULL REFERENCES materials(hash) ON DELETE CASCADE,
    offset      INTEGER NOT NULL,
    bytes       BLOB    NOT NULL,
    PRIMARY KEY (hash, offset)
) WITHOUT ROWID;
