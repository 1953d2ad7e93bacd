-- Daftar sync-server schema, version 3 (PostgreSQL backend): the same as SQLite's version 7.
-- A change is unique by its device, the device's sequence number and its hash: the same
-- thing as unique by hash (the hash covers the other two), in an index that grows in time
-- order per device instead of at random places (docs/BENCHMARKS.md, B11).
CREATE UNIQUE INDEX changes_device ON changes(actor, actor_seq, hash);
ALTER TABLE changes DROP CONSTRAINT changes_hash_key;
