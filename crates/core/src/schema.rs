//! Replica schema migrations (`migrations/client/NNNN_*.sql`), applied in order at open and
//! tracked in `PRAGMA user_version`. Released migrations are never edited; a replica written by
//! a newer schema is refused before anything touches it (see [`crate::Replica::open`]).

use rusqlite::Connection;

use crate::error::Result;

/// Every migration, in order; index + 1 is the schema version it produces.
pub const MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_create_replica",
        include_str!("../../../migrations/client/0001_create_replica.sql"),
    ),
    (
        "0002_add_sync_state",
        include_str!("../../../migrations/client/0002_add_sync_state.sql"),
    ),
    (
        "0003_cluster_projection_rows",
        include_str!("../../../migrations/client/0003_cluster_projection_rows.sql"),
    ),
    (
        "0004_add_trust_records",
        include_str!("../../../migrations/client/0004_add_trust_records.sql"),
    ),
    (
        "0005_lessons_as_they_happen",
        include_str!("../../../migrations/client/0005_lessons_as_they_happen.sql"),
    ),
    (
        "0006_shared_device",
        include_str!("../../../migrations/client/0006_shared_device.sql"),
    ),
    (
        "0007_materials",
        include_str!("../../../migrations/client/0007_materials.sql"),
    ),
];

/// The schema version this build writes.
pub const LATEST: i64 = MIGRATIONS.len() as i64;

/// Upgrades `conn` to schema `target`, one transaction per migration.
pub fn migrate(conn: &mut Connection, target: i64) -> Result<()> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for (index, (name, sql)) in MIGRATIONS.iter().enumerate() {
        let version = index as i64 + 1;
        if version <= current || version > target {
            continue;
        }
        tracing::info!(migration = name, version, "upgrading the replica schema");
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
    }
    Ok(())
}
