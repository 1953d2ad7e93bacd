-- Daftar sync-server schema, version 2 (PostgreSQL backend): course materials' bytes, by
-- content hash (docs/materials.md); the same tables as SQLite's version 6.
CREATE TABLE materials (
    hash        BYTEA   PRIMARY KEY,
    size        BIGINT  NOT NULL,
    received    BIGINT  NOT NULL DEFAULT 0,
    complete    BOOLEAN NOT NULL DEFAULT FALSE,
    uploaded_by BIGINT  REFERENCES users(id),
    created_at  BIGINT  NOT NULL
);
CREATE TABLE material_parts (
    hash        BYTEA   NOT NULL REFERENCES materials(hash) ON DELETE CASCADE,
    "offset"    BIGINT  NOT NULL,
    bytes       BYTEA   NOT NULL,
    PRIMARY KEY (hash, "offset")
);
