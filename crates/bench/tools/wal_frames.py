#!/usr/bin/env python3
"""WAL pages one commit group writes, by the shape of the hash index (docs/BENCHMARKS.md, B11).

The server's `changes` table (migrations/server/sqlite), filled with PRELOAD changes of 200
journals, then commit groups of 1,000 changes (10 journals x 100, as in B11's 200-client
burst). Prints the WAL frames (pages) each group appends, for three variants of the table:

  random  the server's schema: a UNIQUE index on the change hash (random bytes)
  ordered the same UNIQUE index, but keys that grow with time (what a time-ordered key costs)
  none    no index on the hash at all

Usage: python3 crates/bench/tools/wal_frames.py [PRELOAD ...]   (default: 20000 200000)
"""
import os
import random
import sqlite3
import sys
import tempfile

SCHEMA = """
CREATE TABLE changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, hash BLOB NOT NULL {unique}, doc INTEGER NOT NULL,
    actor BLOB NOT NULL, user_id INTEGER NOT NULL, bytes BLOB NOT NULL,
    stored_at INTEGER NOT NULL, actor_seq INTEGER, edit_time INTEGER);
CREATE INDEX changes_doc_seq ON changes(doc, seq);
CREATE INDEX changes_doc_actor_seq ON changes(doc, actor, actor_seq);
"""
FRAME = 4096 + 24  # page size + WAL frame header
DOCS = 200


def frames(variant: str, preload: int, groups: int = 5) -> list[int]:
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "server.db")
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA wal_autocheckpoint = 0")
        db.executescript(SCHEMA.format(unique="" if variant == "none" else "UNIQUE"))
        n = 0
        per_doc: dict[int, int] = {}

        def group(docs) -> None:
            nonlocal n
            db.execute("BEGIN IMMEDIATE")
            for doc in docs:
                for _ in range(100):
                    n += 1
                    per_doc[doc] = per_doc.get(doc, 0) + 1
                    key = n.to_bytes(32, "big") if variant == "ordered" else rng.randbytes(32)
                    db.execute(
                        "INSERT INTO changes (hash, doc, actor, user_id, bytes, stored_at, actor_seq,"
                        " edit_time) VALUES (?, ?, ?, 1, ?, 0, ?, 0)",
                        (key, doc, doc.to_bytes(16, "big"), rng.randbytes(120), per_doc[doc]),
                    )
            db.execute("COMMIT")

        g = 0
        while n < preload:
            group(range((g * 10) % DOCS, (g * 10) % DOCS + 10))
            g += 1
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        out = []
        for _ in range(groups):
            before = os.path.getsize(path + "-wal")
            group(range((g * 10) % DOCS, (g * 10) % DOCS + 10))
            g += 1
            out.append((os.path.getsize(path + "-wal") - before) // FRAME)
        db.close()
        return out


def main() -> None:
    preloads = [int(a) for a in sys.argv[1:]] or [20_000, 200_000]
    print(f"SQLite {sqlite3.sqlite_version}; WAL pages per commit of 1,000 changes (5 commits)")
    for preload in preloads:
        for variant in ("random", "ordered", "none"):
            f = frames(variant, preload)
            print(f"  {preload:>9,} stored  {variant:<8} {f}  mean {sum(f) / len(f):.0f}")


if __name__ == "__main__":
    main()
