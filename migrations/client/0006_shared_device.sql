-- A shared computer keeps each user's journals apart.
--
-- Who wrote each local change: the device owner ("server|user") signed in when it was made;
-- NULL for changes made before any sign-in (claimed by the first user who signs in). Only the
-- owner's sign-in sends them.
ALTER TABLE changes ADD COLUMN owner TEXT;
UPDATE changes SET owner = (SELECT value FROM replica_meta WHERE key = 'device_owner')
 WHERE local = 1 AND EXISTS (SELECT 1 FROM replica_meta WHERE key = 'device_owner');

-- Which signed-in users may read a document here: those a server sent it to, and those who
-- made it. A document with readers is shown only to them; one with none (demo data, bundles
-- read offline, documents made before any sign-in) to everyone.
CREATE TABLE doc_readers (
    doc_id TEXT NOT NULL,
    owner  TEXT NOT NULL,
    PRIMARY KEY (doc_id, owner)
) WITHOUT ROWID;
-- A replica synced before this schema: its documents came to the user signed in last.
INSERT INTO doc_readers (doc_id, owner)
SELECT d.id, m.value FROM documents d, replica_meta m
 WHERE m.key = 'device_owner'
   AND EXISTS (SELECT 1 FROM sync_state);
