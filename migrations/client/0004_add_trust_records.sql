-- Schema 4: documents set aside because what the server sent for them could not be applied
-- (a damaged change or snapshot). One such document must not stop every other one from
-- syncing; it is listed here with the error, shown by `daftar status` and the app.
CREATE TABLE set_aside (
    doc_id  TEXT    PRIMARY KEY,
    error   TEXT    NOT NULL,
    at      INTEGER NOT NULL
) WITHOUT ROWID;

-- Who each device belongs to, as the server recorded it (the authorship shown to people),
-- and when the server received changes whose device time is more than a day away from that.
CREATE TABLE authors (
    actor   TEXT    PRIMARY KEY,   -- hex automerge actor id
    user    TEXT    NOT NULL
) WITHOUT ROWID;
CREATE TABLE receipts (
    hash        TEXT    PRIMARY KEY,
    received_at INTEGER NOT NULL
) WITHOUT ROWID;

-- Entry windows (docs/security.md): a journal's window in days after the lesson day (NULL:
-- none), and the day the dean's office opened a closed lesson until.
ALTER TABLE journals ADD COLUMN entry_window_days INTEGER;
ALTER TABLE lessons ADD COLUMN opened_until TEXT;
