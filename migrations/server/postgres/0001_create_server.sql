-- Daftar sync-server schema, version 1 (PostgreSQL backend).
--
-- The same tables as the SQLite backend's migrations 0001–0004 (read those for what each
-- holds), in PostgreSQL's types. Applied by `daftar-sync` at start under an advisory lock, so
-- several instances starting at once apply it once; `schema_migrations` records each version.
-- Never edit this file once released: add `0002_...sql` instead.

CREATE TABLE users (
    id          BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    password    TEXT    NOT NULL,             -- argon2id PHC string
    role        TEXT    NOT NULL CHECK (role IN ('admin', 'dean', 'department_head', 'teacher')),
    scope       TEXT,
    employee    TEXT    UNIQUE,
    disabled    BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  BIGINT  NOT NULL              -- unix ms
);

-- Bearer tokens, stored only as their SHA-256: shared by every instance.
CREATE TABLE sessions (
    token_hash  BYTEA   PRIMARY KEY,
    user_id     BIGINT  NOT NULL REFERENCES users(id),
    created_at  BIGINT  NOT NULL,
    expires_at  BIGINT  NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);
CREATE INDEX sessions_expiry ON sessions(expires_at);

CREATE TABLE docs (
    id          BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    doc_id      TEXT    NOT NULL UNIQUE,
    kind        TEXT    NOT NULL CHECK (kind IN ('catalog', 'group', 'module', 'journal')),
    has_meta    BOOLEAN NOT NULL DEFAULT FALSE,
    meta_json   TEXT,
    faculty     TEXT,
    department  TEXT,
    group_doc   TEXT,
    module_doc  TEXT,
    created_at  BIGINT  NOT NULL,
    meta_by     BIGINT  REFERENCES users(id),
    meta_at     BIGINT
);
CREATE INDEX docs_kind_faculty ON docs(kind, faculty);
CREATE INDEX docs_kind_department ON docs(kind, department);
CREATE INDEX docs_group ON docs(group_doc);
CREATE INDEX docs_module ON docs(module_doc);

CREATE TABLE journal_teachers (
    employee    TEXT    NOT NULL,
    doc         BIGINT  NOT NULL REFERENCES docs(id),
    PRIMARY KEY (employee, doc)
);
CREATE INDEX journal_teachers_doc ON journal_teachers(doc);

CREATE TABLE assignments (
    teacher_kind TEXT    NOT NULL CHECK (teacher_kind IN ('user', 'employee')),
    teacher      TEXT    NOT NULL,
    journal      TEXT    NOT NULL,
    created_at   BIGINT  NOT NULL,
    PRIMARY KEY (teacher_kind, teacher, journal)
);
CREATE INDEX assignments_journal ON assignments(journal);

CREATE TABLE actors (
    actor       BYTEA   PRIMARY KEY,
    user_id     BIGINT  NOT NULL REFERENCES users(id),
    bound_at    BIGINT  NOT NULL
);

-- The append-only change log. `seq` is the global pull cursor. Every transaction that
-- assigns one holds the push advisory lock (sync-server/src/store/postgres.rs), so sequence
-- numbers commit in order on every instance and a pull can never step past a change it did
-- not see; a rolled-back push leaves a gap, which is harmless.
CREATE TABLE changes (
    seq         BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    hash        BYTEA   NOT NULL UNIQUE,
    doc         BIGINT  NOT NULL REFERENCES docs(id),
    actor       BYTEA   NOT NULL,
    user_id     BIGINT  NOT NULL REFERENCES users(id),
    bytes       BYTEA   NOT NULL,
    stored_at   BIGINT  NOT NULL,
    actor_seq   BIGINT,
    edit_time   BIGINT
);
CREATE INDEX changes_doc_seq ON changes(doc, seq);
CREATE INDEX changes_doc_actor_seq ON changes(doc, actor, actor_seq);

CREATE TABLE replica_docs (
    user_id     BIGINT  NOT NULL,
    replica     TEXT    NOT NULL,
    doc         BIGINT  NOT NULL,
    upto        BIGINT  NOT NULL DEFAULT 0,
    done        BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (user_id, replica, doc)
);

CREATE TABLE counters (
    name        TEXT    PRIMARY KEY,
    value       BIGINT  NOT NULL
);
INSERT INTO counters (name, value) VALUES ('access', 1);

CREATE TABLE doc_snapshots (
    doc         BIGINT  PRIMARY KEY REFERENCES docs(id),
    upto        BIGINT  NOT NULL,
    bytes       BYTEA   NOT NULL,
    built_at    BIGINT  NOT NULL
);

CREATE TABLE replica_pull (
    user_id     BIGINT  NOT NULL,
    replica     TEXT    NOT NULL,
    bound       BIGINT  NOT NULL,
    PRIMARY KEY (user_id, replica)
);

CREATE TABLE usage (
    user_id     BIGINT  NOT NULL REFERENCES users(id),
    day         BIGINT  NOT NULL,
    bytes       BIGINT  NOT NULL,
    PRIMARY KEY (user_id, day)
);

CREATE TABLE replica_pending (
    user_id     BIGINT  NOT NULL,
    replica     TEXT    NOT NULL,
    doc         BIGINT  NOT NULL,
    page        BIGINT  NOT NULL,
    upto        BIGINT  NOT NULL,
    done        BOOLEAN NOT NULL,
    PRIMARY KEY (user_id, replica, doc)
);

-- Sign-in attempts, counted by every instance alike (sync-server/src/limiter.rs).
CREATE TABLE login_attempts (
    id          BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key         TEXT    NOT NULL,           -- user:<name> or ip:<address>
    at          BIGINT  NOT NULL
);
CREATE INDEX login_attempts_key ON login_attempts(key, at);
CREATE INDEX login_attempts_at ON login_attempts(at);
