-- Schema 4: documents set aside because what the server sent for them could not be applied
-- (a damaged change or snapshot). One such document must not stop every other one from
-- syncing; it is listed here with the error, shown by `daftar status` and the app.
CREATE TABLE set_aside (
    doc_id  TEXT    PRIMARY KEY,
    error   TEXT    NOT NULL,
    at      INTEGER NOT NULL
) WITHOUT ROWID;
