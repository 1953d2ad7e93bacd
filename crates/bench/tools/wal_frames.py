#!/usr/bin/env python3
"""WAL pages one commit group writes, by how a change is kept unique (docs/BENCHMARKS.md, B11).

The server's `changes` table (migrations/server/sqlite), filled with PRELOAD changes of 200
journals (one device each), then commit groups of 1,000 changes (10 journals x 100, as in
B11's 200-client burst). Prints the WAL frames (pages) each group appends and the time
its COMMIT takes (writing them and syncing the WAL), for three variants of the table:

  hash    schema 6: a UNIQUE index on the change hash (random bytes)
  device  schema 7: UNIQUE (actor, actor_seq, hash), in time order per device
  none    no uniqueness at all (the floor)

Usage: python3 crates/bench/tools/wal_frames.py [PRELOAD ...]   (default: 20000 200000)
"""
import os
import random
import sqlite3
import sys
import tempfile
import time

SCHEMA = """
CREATE TABLE changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, hash BLOB NOT NULL {unique}, doc INTEGER NOT NULL,
    actor BLOB NOT NULL, user_id INTEGER NOT NULL, bytes BLOB NOT NULL,
    stored_at INTEGER NOT NULL, actor_seq INTEGER, edit_time INTEGER);
CREATE INDEX changes_doc_seq ON changes(doc, seq);
CREATE INDEX changes_doc_actor_seq ON changes(doc, actor, actor_seq);
{device}
"""
FRAME = 4096 + 24  # page size + WAL frame header
DOCS = 200


def frames(variant: str, preload: int, groups: int = 5) -> tuple[list[int], float]:
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "server.db")
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = FULL")
        db.execute("PRAGMA wal_autocheckpoint = 0")
        db.executescript(
            SCHEMA.format(
                unique="UNIQUE" if variant == "hash" else "",
                device="CREATE UNIQUE INDEX changes_device ON changes(actor, actor_seq, hash);"
                if variant == "device"
                else "",
            )
        )
        n = 0
        per_doc: dict[int, int] = {}

        def group(docs) -> float:
            nonlocal n
            db.execute("BEGIN IMMEDIATE")
            for doc in docs:
                for _ in range(100):
                    n += 1
                    per_doc[doc] = per_doc.get(doc, 0) + 1
                    db.execute(
                        "INSERT INTO changes (hash, doc, actor, user_id, bytes, stored_at, actor_seq,"
                        " edit_time) VALUES (?, ?, ?, 1, ?, 0, ?, 0)",
                        (rng.randbytes(32), doc, doc.to_bytes(16, "big"), rng.randbytes(120), per_doc[doc]),
                    )
            started = time.perf_counter()
            db.execute("COMMIT")
            return time.perf_counter() - started

        g = 0
        while n < preload:
            group(range((g * 10) % DOCS, (g * 10) % DOCS + 10))
            g += 1
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        out = []
        commits = 0.0
        for _ in range(groups):
            before = os.path.getsize(path + "-wal")
            commits += group(range((g * 10) % DOCS, (g * 10) % DOCS + 10))
            g += 1
            out.append((os.path.getsize(path + "-wal") - before) // FRAME)
        db.close()
        return out, commits / groups


def main() -> None:
    preloads = [int(a) for a in sys.argv[1:]] or [20_000, 200_000]
    print(
        f"SQLite {sqlite3.sqlite_version}; WAL pages per commit of 1,000 changes, and the"
        " COMMIT's time (synchronous = FULL), over 5 commits"
    )
    for preload in preloads:
        for variant in ("hash", "device", "none"):
            f, commit = frames(variant, preload)
            print(
                f"  {preload:>9,} stored  {variant:<7} pages {f}  mean {sum(f) / len(f):.0f}"
                f"  COMMIT {commit * 1000:.1f} ms"
            )


if __name__ == "__main__":
    main()
