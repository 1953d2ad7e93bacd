-- Daftar sync-server schema, version 4 (SQLite backend): per-replica progress only on
-- acknowledgement (docs/sync-protocol.md, *Nothing depends on a reply arriving*).
--
-- What a page records about a replica (documents sent whole, how far a partly sent one got)
-- waits here under the page's id until the replica's next request acknowledges that page;
-- then it moves to replica_docs. A request that does not acknowledge it (the reply was lost)
-- drops it, so those documents are sent again. A page id only has to differ from the one
-- acknowledged (pending records are settled at every request): the server uses ack + 1.
CREATE TABLE replica_pending (
    user_id     INTEGER NOT NULL,
    replica     TEXT    NOT NULL,
    doc         INTEGER NOT NULL,
    page        INTEGER NOT NULL,
    upto        INTEGER NOT NULL,
    done        INTEGER NOT NULL,
    PRIMARY KEY (user_id, replica, doc)
) WITHOUT ROWID;
