//! The PostgreSQL backend: several stateless `daftar-sync` instances on one database.
//!
//! Everything an instance knows lives in the database (users, sessions, assignments, the
//! change log, snapshots, per-replica bookkeeping, sign-in attempts), so any instance answers
//! any request and an instance killed mid-push loses nothing: its transaction never commits,
//! and the client's retry through another instance stores the change once.
//!
//! **The pull cursor rule.** Every transaction that may assign change `seq`s ([`Mode::Push`])
//! first takes one transaction-scoped advisory lock ([`PUSH_LOCK`]). Sequence numbers are
//! therefore handed out only while the lock is held, and PostgreSQL makes a transaction's rows
//! visible before it releases its locks: a change with a lower `seq` is always visible before
//! any with a higher one, on every instance, so a pull that moves its cursor to the highest
//! `seq` it saw never steps past one it did not see. Pushes are serialised (as on SQLite);
//! pulls, sign-ins and everything else run concurrently.
//!
//! The driver is tokio-postgres with a deadpool pool. The store trait is blocking (handlers
//! call it from `spawn_blocking`), so the backend owns a small runtime that drives the
//! connections (their sockets, the pool's timers), and each statement waits for its reply on
//! the calling thread. A statement's future only talks to its connection's task through a
//! channel, so waiting for it needs no runtime on the calling thread: the store works the
//! same from a blocking thread, a plain thread or a test.

use std::time::Duration;

use daftar_protocol::{DocKind, DocMeta, Role};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

use super::engine::{
    Backend, ChangeKey, ChangeRow, DocRecord, Engine, Mode, NewChange, Progress, ProvenanceRow,
    Savepoint, Tx, UserRow,
};
use super::{DbFailure, NewUser, StoreError, TeacherRef, User, UserId};

/// Schema migrations, applied in order at start; `schema_migrations` records each.
const MIGRATIONS: &[&str] = &[
    include_str!("../../../migrations/server/postgres/0001_create_server.sql"),
    include_str!("../../../migrations/server/postgres/0002_materials.sql"),
    include_str!("../../../migrations/server/postgres/0003_device_ordered_change_index.sql"),
];

/// The advisory lock every `seq`-assigning transaction holds (an arbitrary constant: "DAFTAR"
/// in ASCII).
pub const PUSH_LOCK: i64 = 0x4441_4654_4152;

/// The advisory lock migrations run under, so instances starting together apply them once.
const MIGRATION_LOCK: i64 = 0x4441_4654_4D47;

/// How long a request waits for a pooled connection before it is told to retry.
const POOL_WAIT: Duration = Duration::from_secs(10);

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> StoreError {
        let failure = match e.code() {
            Some(code)
                if *code == SqlState::T_R_SERIALIZATION_FAILURE
                    || *code == SqlState::T_R_DEADLOCK_DETECTED
                    || *code == SqlState::LOCK_NOT_AVAILABLE
                    || *code == SqlState::ADMIN_SHUTDOWN
                    || *code == SqlState::CANNOT_CONNECT_NOW
                    || *code == SqlState::TOO_MANY_CONNECTIONS
                    || *code == SqlState::QUERY_CANCELED =>
            {
                DbFailure::Retryable
            }
            Some(code)
                if *code == SqlState::DISK_FULL
                    || *code == SqlState::READ_ONLY_SQL_TRANSACTION
                    || *code == SqlState::OUT_OF_MEMORY =>
            {
                DbFailure::OutOfRoom
            }
            None if e.is_closed() => DbFailure::Retryable,
            _ => DbFailure::Other,
        };
        StoreError::database(failure, e)
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> StoreError {
        match e {
            deadpool_postgres::PoolError::Backend(e) => e.into(),
            other => StoreError::Connect(other.to_string()),
        }
    }
}

/// Knobs for tests that show why the push lock exists: hold a push open before it commits,
/// or push without the lock. Never set outside tests.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, Default)]
pub struct TestKnobs {
    pub hold_push_before_commit: Duration,
    pub push_without_lock: bool,
}

/// The PostgreSQL backend: a connection pool and the runtime that drives it.
pub struct Postgres {
    knobs: std::sync::Mutex<TestKnobs>,
    config: tokio_postgres::Config,
    pool: Pool,
    runtime: Option<tokio::runtime::Runtime>,
    /// The URL with its password hidden, for logs.
    shown: String,
}

impl std::fmt::Debug for Postgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("url", &self.shown)
            .finish()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // Dropping a runtime may happen on an async thread (a test's end): never block there.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// The PostgreSQL [`super::Store`].
pub type PostgresStore = Engine<Postgres>;

/// `postgres://user:secret@host/db` as `postgres://user:***@host/db`.
pub fn hide_password(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme + 3 => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme + 3],
                    &userinfo[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

impl Engine<Postgres> {
    /// Connects to the database at `url` (`postgres://user:pass@host:port/db`) with a pool of
    /// up to `pool_size` connections and brings its schema up to date.
    pub fn connect(url: &str, pool_size: usize) -> Result<PostgresStore, StoreError> {
        let shown = hide_password(url);
        let config: tokio_postgres::Config = url
            .parse()
            .map_err(|e: tokio_postgres::Error| StoreError::Connect(format!("{shown}: {e}")))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("daftar-postgres")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Connect(format!("cannot start the driver: {e}")))?;
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = {
            let _context = runtime.enter();
            Pool::builder(manager)
                .max_size(pool_size.max(1))
                .runtime(deadpool_postgres::Runtime::Tokio1)
                .wait_timeout(Some(POOL_WAIT))
                .create_timeout(Some(POOL_WAIT))
                .build()
                .map_err(|e| StoreError::Connect(format!("{shown}: {e}")))?
        };
        let backend = Postgres {
            knobs: std::sync::Mutex::new(TestKnobs::default()),
            config,
            pool,
            runtime: Some(runtime),
            shown,
        };
        backend.migrate()?;
        Ok(Engine::new(backend))
    }
}

/// Whether `e` is PostgreSQL's "could not serialize" or a deadlock: the transaction may simply
/// run again.
fn is_serialization_conflict(e: &StoreError) -> bool {
    let StoreError::Database { source, .. } = e else {
        return false;
    };
    source
        .downcast_ref::<tokio_postgres::Error>()
        .and_then(tokio_postgres::Error::code)
        .is_some_and(|c| {
            *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED
        })
}

/// Waits on this thread for a future that needs no runtime of its own.
fn wait<F: std::future::Future>(future: F) -> F::Output {
    futures_executor::block_on(future)
}

impl Engine<Postgres> {
    #[doc(hidden)]
    pub fn set_test_knobs(&self, knobs: TestKnobs) {
        *self.backend.knobs.lock().unwrap_or_else(|p| p.into_inner()) = knobs;
    }
}

impl Postgres {
    /// A pooled connection, got on the backend's runtime (a new one opens a socket there).
    fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        let pool = self.pool.clone();
        let runtime = self
            .runtime
            .as_ref()
            .ok_or_else(|| StoreError::Connect("the store is shutting down".into()))?;
        let got = wait(runtime.spawn(async move { pool.get().await }))
            .map_err(|e| StoreError::Connect(format!("the database driver stopped: {e}")))?;
        got.map_err(|e| match e {
            deadpool_postgres::PoolError::Backend(e) if e.code().is_none() => {
                StoreError::Connect(format!("{}: {e}", self.shown))
            }
            other => other.into(),
        })
    }

    fn migrate(&self) -> Result<(), StoreError> {
        let mut client = self.client()?;
        wait(async {
            let tx = client.transaction().await?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
                .await?;
            tx.batch_execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (
                    version BIGINT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
            )
            .await?;
            let found: i64 = tx
                .query_one(
                    "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                    &[],
                )
                .await?
                .get(0);
            let known = MIGRATIONS.len() as i64;
            if found > known {
                return Err(StoreError::SchemaTooNew { found, known });
            }
            for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
                tracing::info!(
                    version = i + 1,
                    "applying server schema migration (PostgreSQL)"
                );
                tx.batch_execute(sql).await?;
                tx.execute(
                    "INSERT INTO schema_migrations (version) VALUES ($1)",
                    &[&((i + 1) as i64)],
                )
                .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }
}

impl Backend for Postgres {
    fn listen(&self, on_change: std::sync::Arc<dyn Fn() + Send + Sync>) {
        let Some(runtime) = self.runtime.as_ref() else {
            return;
        };
        let config = self.config.clone();
        let shown = self.shown.clone();
        runtime.spawn(async move {
            let mut delay = Duration::from_millis(500);
            loop {
                match config.connect(NoTls).await {
                    Ok((client, mut connection)) => {
                        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
                        let drive = tokio::spawn(async move {
                            loop {
                                match std::future::poll_fn(|cx| connection.poll_message(cx)).await
                                {
                                    Some(Ok(tokio_postgres::AsyncMessage::Notification(_))) => {
                                        if tx.send(()).is_err() {
                                            break;
                                        }
                                    }
                                    Some(Ok(_)) => {}
                                    Some(Err(e)) => {
                                        tracing::warn!(error = %e, "the change listener lost its connection");
                                        break;
                                    }
                                    None => break,
                                }
                            }
                        });
                        match client
                            .batch_execute(&format!("LISTEN {CHANGES_CHANNEL}"))
                            .await
                        {
                            Ok(()) => {
                                delay = Duration::from_millis(500);
                                // What was stored while nobody listened.
                                on_change();
                                while rx.recv().await.is_some() {
                                    // Many pushes at once wake waiting requests once.
                                    while rx.try_recv().is_ok() {}
                                    on_change();
                                }
                            }
                            Err(e) => tracing::warn!(error = %e, "cannot LISTEN for changes"),
                        }
                        drive.abort();
                    }
                    Err(e) => {
                        tracing::warn!(url = %shown, error = %e, "the change listener cannot connect")
                    }
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(15));
            }
        });
    }

    fn transaction<T>(
        &self,
        mode: Mode,
        mut f: impl FnMut(&mut dyn Tx) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        use tokio_postgres::IsolationLevel::{ReadCommitted, RepeatableRead};
        let mut client = self.client()?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let builder = client.build_transaction();
            // Set every time, whatever the database's default_transaction_isolation says.
            let builder = match mode {
                // One consistent view.
                Mode::Read => builder.isolation_level(RepeatableRead).read_only(true),
                // A pull reads the access version, the readable set and the changes from one
                // snapshot (else an assignment committed between two of its statements could
                // mark a document sent that was not).
                Mode::Pull => builder.isolation_level(RepeatableRead),
                // Read committed: a push (or a sign-in) that waited for its lock then sees
                // everything committed before it.
                Mode::Write | Mode::Push => builder.isolation_level(ReadCommitted),
            };
            let knobs = *self.knobs.lock().unwrap_or_else(|p| p.into_inner());
            let result = (|| {
                let tx = wait(builder.start())?;
                if mode == Mode::Push && !knobs.push_without_lock {
                    wait(tx.execute("SELECT pg_advisory_xact_lock($1)", &[&PUSH_LOCK]))?;
                }
                let mut pg = PgTx { tx };
                let out = f(&mut pg)?;
                if mode == Mode::Push && !knobs.hold_push_before_commit.is_zero() {
                    std::thread::sleep(knobs.hold_push_before_commit);
                }
                wait(pg.tx.commit())?;
                Ok(out)
            })();
            match result {
                // Two pulls of one replica, or two snapshot refreshes of one document, met:
                // the loser runs again on a fresh snapshot.
                Err(e) if attempt < 5 && is_serialization_conflict(&e) => {
                    std::thread::sleep(Duration::from_millis(5 * attempt));
                }
                other => return other,
            }
        }
    }
}

/// One PostgreSQL transaction.
struct PgTx<'a> {
    tx: deadpool_postgres::Transaction<'a>,
}

type Params<'p> = &'p [&'p (dyn ToSql + Sync)];

impl PgTx<'_> {
    fn query(&self, sql: &str, params: Params<'_>) -> Result<Vec<tokio_postgres::Row>, StoreError> {
        wait(async {
            let stmt = self.tx.prepare_cached(sql).await?;
            Ok(self.tx.query(&stmt, params).await?)
        })
    }

    fn opt(
        &self,
        sql: &str,
        params: Params<'_>,
    ) -> Result<Option<tokio_postgres::Row>, StoreError> {
        wait(async {
            let stmt = self.tx.prepare_cached(sql).await?;
            Ok(self.tx.query_opt(&stmt, params).await?)
        })
    }

    fn one(&self, sql: &str, params: Params<'_>) -> Result<tokio_postgres::Row, StoreError> {
        wait(async {
            let stmt = self.tx.prepare_cached(sql).await?;
            Ok(self.tx.query_one(&stmt, params).await?)
        })
    }

    fn exec(&self, sql: &str, params: Params<'_>) -> Result<u64, StoreError> {
        wait(async {
            let stmt = self.tx.prepare_cached(sql).await?;
            Ok(self.tx.execute(&stmt, params).await?)
        })
    }

    fn exists(&self, sql: &str, params: Params<'_>) -> Result<bool, StoreError> {
        Ok(self.opt(sql, params)?.is_some())
    }

    fn provenance(
        &self,
        filter: &str,
        params: Params<'_>,
    ) -> Result<Vec<ProvenanceRow>, StoreError> {
        let sql = format!(
            "SELECT c.actor, u.name, c.hash, c.stored_at, c.edit_time FROM changes c \
             LEFT JOIN actors a ON a.actor = c.actor LEFT JOIN users u ON u.id = a.user_id \
             WHERE {filter}"
        );
        Ok(self
            .query(&sql, params)?
            .into_iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
            .collect())
    }
}

const USER_COLUMNS: &str = "u.id, u.name, u.role, u.scope, u.employee, u.disabled";

fn user_row(r: &tokio_postgres::Row) -> UserRow {
    UserRow {
        id: r.get(0),
        name: r.get(1),
        role: r.get(2),
        scope: r.get(3),
        employee: r.get(4),
        disabled: r.get(5),
    }
}

/// The `WITH p(…), … readable(id) AS (…)` prefix for `user`: the row ids of every document
/// the user may read. Parameters `$1` name, `$2` employee id, `$3` scope (always bound, typed
/// in `p`); a statement's own parameters start at `$4`.
fn readable_cte(user: &User) -> &'static str {
    match user.role {
        Role::Admin => {
            "WITH p(name, emp, scope) AS (SELECT $1::text, $2::text, $3::text),
             readable(id) AS (SELECT id FROM docs)"
        }
        Role::Teacher => {
            "WITH p(name, emp, scope) AS (SELECT $1::text, $2::text, $3::text),
             my_journals(id, group_doc, module_doc) AS (
                SELECT d.id, d.group_doc, d.module_doc
                  FROM assignments a JOIN docs d ON d.doc_id = a.journal, p
                 WHERE d.kind = 'journal'
                   AND ((a.teacher_kind = 'user' AND a.teacher = p.name)
                     OR (a.teacher_kind = 'employee' AND a.teacher = p.emp))
                UNION
                SELECT d.id, d.group_doc, d.module_doc
                  FROM journal_teachers t JOIN docs d ON d.id = t.doc, p
                 WHERE t.employee = p.emp AND d.kind = 'journal'
             ),
             readable(id) AS (
                SELECT id FROM docs WHERE kind = 'catalog'
                UNION SELECT id FROM my_journals
                UNION SELECT g.id FROM my_journals j JOIN docs g ON g.doc_id = j.group_doc
                       WHERE g.kind = 'group'
                UNION SELECT m.id FROM my_journals j JOIN docs m ON m.doc_id = j.module_doc
                       WHERE m.kind = 'module'
             )"
        }
        Role::Dean => {
            "WITH p(name, emp, scope) AS (SELECT $1::text, $2::text, $3::text),
             faculty_journals(id, module_doc) AS (
                SELECT j.id, j.module_doc
                  FROM docs j LEFT JOIN docs g
                    ON g.doc_id = j.group_doc AND g.kind = 'group' AND g.has_meta, p
                 WHERE j.kind = 'journal' AND COALESCE(g.faculty, j.faculty) = p.scope
             ),
             readable(id) AS (
                SELECT id FROM docs WHERE kind = 'catalog'
                UNION SELECT d.id FROM docs d, p WHERE d.kind = 'group' AND d.faculty = p.scope
                UNION SELECT id FROM faculty_journals
                UNION SELECT m.id FROM faculty_journals j JOIN docs m ON m.doc_id = j.module_doc
                       WHERE m.kind = 'module'
             )"
        }
        Role::DepartmentHead => {
            "WITH p(name, emp, scope) AS (SELECT $1::text, $2::text, $3::text),
             department_journals(id, group_doc) AS (
                SELECT j.id, j.group_doc
                  FROM docs j LEFT JOIN docs m
                    ON m.doc_id = j.module_doc AND m.kind = 'module' AND m.has_meta, p
                 WHERE j.kind = 'journal' AND COALESCE(m.department, j.department) = p.scope
             ),
             readable(id) AS (
                SELECT id FROM docs WHERE kind = 'catalog'
                UNION SELECT d.id FROM docs d, p WHERE d.kind = 'module' AND d.department = p.scope
                UNION SELECT id FROM department_journals
                UNION SELECT g.id FROM department_journals j JOIN docs g ON g.doc_id = j.group_doc
                       WHERE g.kind = 'group'
             )"
        }
    }
}

/// The three parameters of [`readable_cte`].
fn user_params(user: &User) -> (String, Option<String>, Option<String>) {
    let scope = if user.role == Role::Teacher {
        None
    } else {
        user.scope.clone()
    };
    (user.name.clone(), user.employee.clone(), scope)
}

/// The advisory lock sign-in attempts are counted under.
const LOGIN_LOCK: i64 = 0x4441_4654_4C47;

/// The channel pushes `NOTIFY` on and every instance listens to.
pub const CHANGES_CHANNEL: &str = "daftar_changes";

impl Tx for PgTx<'_> {
    fn savepoint(&mut self, step: Savepoint) -> Result<(), StoreError> {
        wait(async { Ok(self.tx.batch_execute(step.sql()).await?) })
    }

    fn announce_changes(&mut self) -> Result<(), StoreError> {
        self.exec("SELECT pg_notify($1, '')", &[&CHANGES_CHANNEL])?;
        Ok(())
    }

    fn lock_logins(&mut self) -> Result<(), StoreError> {
        self.exec("SELECT pg_advisory_xact_lock($1)", &[&LOGIN_LOCK])?;
        Ok(())
    }

    fn prune_logins(&mut self, before: i64) -> Result<(), StoreError> {
        self.exec("DELETE FROM login_attempts WHERE at < $1", &[&before])?;
        Ok(())
    }

    fn login_failures(&mut self, key: &str, since: i64) -> Result<(i64, Option<i64>), StoreError> {
        let r = self.one(
            "SELECT count(*), min(at) FROM login_attempts WHERE key = $1 AND at >= $2",
            &[&key, &since],
        )?;
        Ok((r.get(0), r.get(1)))
    }

    fn insert_login(&mut self, key: &str, at: i64) -> Result<i64, StoreError> {
        Ok(self
            .one(
                "INSERT INTO login_attempts (key, at) VALUES ($1, $2) RETURNING id",
                &[&key, &at],
            )?
            .get(0))
    }

    fn delete_logins_of(&mut self, key: &str) -> Result<(), StoreError> {
        self.exec("DELETE FROM login_attempts WHERE key = $1", &[&key])?;
        Ok(())
    }

    fn user_exists(&mut self, name: &str) -> Result<bool, StoreError> {
        self.exists("SELECT 1 FROM users WHERE name = $1", &[&name])
    }

    fn employee_taken(&mut self, employee: &str) -> Result<bool, StoreError> {
        self.exists("SELECT 1 FROM users WHERE employee = $1", &[&employee])
    }

    fn insert_user(&mut self, user: &NewUser, now: i64) -> Result<UserId, StoreError> {
        Ok(self
            .one(
                "INSERT INTO users (name, password, role, scope, employee, disabled, created_at) \
                 VALUES ($1, $2, $3, $4, $5, FALSE, $6) RETURNING id",
                &[
                    &user.name,
                    &user.password_hash,
                    &user.role.as_str(),
                    &user.scope,
                    &user.employee,
                    &now,
                ],
            )?
            .get(0))
    }

    fn users(&mut self) -> Result<Vec<UserRow>, StoreError> {
        Ok(self
            .query(
                &format!("SELECT {USER_COLUMNS} FROM users u ORDER BY u.name"),
                &[],
            )?
            .iter()
            .map(user_row)
            .collect())
    }

    fn user_credentials(&mut self, name: &str) -> Result<Option<(UserRow, String)>, StoreError> {
        Ok(self
            .opt(
                &format!("SELECT {USER_COLUMNS}, u.password FROM users u WHERE u.name = $1"),
                &[&name],
            )?
            .map(|r| (user_row(&r), r.get(6))))
    }

    fn user_id(&mut self, name: &str) -> Result<Option<UserId>, StoreError> {
        Ok(self
            .opt("SELECT id FROM users WHERE name = $1", &[&name])?
            .map(|r| r.get(0)))
    }

    fn set_disabled(&mut self, user: UserId, disabled: bool) -> Result<(), StoreError> {
        self.exec(
            "UPDATE users SET disabled = $2 WHERE id = $1",
            &[&user, &disabled],
        )?;
        Ok(())
    }

    fn delete_sessions_of(&mut self, user: UserId) -> Result<(), StoreError> {
        self.exec("DELETE FROM sessions WHERE user_id = $1", &[&user])?;
        Ok(())
    }

    fn delete_expired_sessions(&mut self, now: i64) -> Result<(), StoreError> {
        self.exec("DELETE FROM sessions WHERE expires_at <= $1", &[&now])?;
        Ok(())
    }

    fn insert_session(
        &mut self,
        token_hash: &[u8],
        user: UserId,
        now: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4)",
            &[&token_hash, &user, &now, &expires_at],
        )?;
        Ok(())
    }

    fn session_user(&mut self, token_hash: &[u8], now: i64) -> Result<Option<UserRow>, StoreError> {
        Ok(self
            .opt(
                &format!(
                    "SELECT {USER_COLUMNS} FROM sessions s JOIN users u ON u.id = s.user_id \
                     WHERE s.token_hash = $1 AND s.expires_at > $2 AND NOT u.disabled"
                ),
                &[&token_hash, &now],
            )?
            .map(|r| user_row(&r)))
    }

    fn delete_session(&mut self, token_hash: &[u8]) -> Result<(), StoreError> {
        self.exec("DELETE FROM sessions WHERE token_hash = $1", &[&token_hash])?;
        Ok(())
    }

    fn insert_assignment(
        &mut self,
        teacher: &TeacherRef,
        journal: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let (kind, key) = match teacher {
            TeacherRef::User(name) => ("user", name),
            TeacherRef::Employee(id) => ("employee", id),
        };
        Ok(self.exec(
            "INSERT INTO assignments (teacher_kind, teacher, journal, created_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            &[&kind, key, &journal, &now],
        )? > 0)
    }

    fn is_assigned(
        &mut self,
        journal: &str,
        name: &str,
        employee: Option<&str>,
    ) -> Result<bool, StoreError> {
        self.exists(
            "SELECT 1 FROM assignments WHERE journal = $1 AND \
             ((teacher_kind = 'user' AND teacher = $2) OR \
              (teacher_kind = 'employee' AND teacher = $3)) LIMIT 1",
            &[&journal, &name, &employee],
        )
    }

    fn bump_access(&mut self) -> Result<(), StoreError> {
        self.exec(
            "UPDATE counters SET value = value + 1 WHERE name = 'access'",
            &[],
        )?;
        // Someone's readable set may have changed: waiting devices ask again.
        self.announce_changes()
    }

    fn access_version(&mut self) -> Result<u64, StoreError> {
        let v: i64 = self
            .one("SELECT value FROM counters WHERE name = 'access'", &[])?
            .get(0);
        Ok(v as u64)
    }

    fn doc(&mut self, doc_id: &str) -> Result<Option<DocRecord>, StoreError> {
        Ok(self
            .opt(
                "SELECT id, CASE WHEN has_meta THEN meta_json END FROM docs WHERE doc_id = $1",
                &[&doc_id],
            )?
            .map(|r| DocRecord {
                id: r.get(0),
                meta_json: r.get(1),
            }))
    }

    fn doc_row(&mut self, doc_id: &str) -> Result<Option<i64>, StoreError> {
        Ok(self
            .opt("SELECT id FROM docs WHERE doc_id = $1", &[&doc_id])?
            .map(|r| r.get(0)))
    }

    fn doc_name(&mut self, doc: i64) -> Result<(String, String), StoreError> {
        let r = self.one("SELECT doc_id, kind FROM docs WHERE id = $1", &[&doc])?;
        Ok((r.get(0), r.get(1)))
    }

    fn doc_has_changes(&mut self, doc: i64) -> Result<bool, StoreError> {
        self.exists("SELECT 1 FROM changes WHERE doc = $1 LIMIT 1", &[&doc])
    }

    fn has_meta(&mut self, doc_id: &str, kind: DocKind) -> Result<bool, StoreError> {
        self.exists(
            "SELECT 1 FROM docs WHERE doc_id = $1 AND kind = $2 AND has_meta",
            &[&doc_id, &kind.as_str()],
        )
    }

    fn group_faculty(&mut self, group: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .opt(
                "SELECT faculty FROM docs WHERE doc_id = $1 AND kind = 'group' AND has_meta",
                &[&group],
            )?
            .and_then(|r| r.get(0)))
    }

    fn insert_doc(&mut self, doc_id: &str, kind: DocKind, now: i64) -> Result<i64, StoreError> {
        Ok(self
            .one(
                "INSERT INTO docs (doc_id, kind, created_at) VALUES ($1, $2, $3) RETURNING id",
                &[&doc_id, &kind.as_str(), &now],
            )?
            .get(0))
    }

    fn write_meta(
        &mut self,
        doc: i64,
        meta: &DocMeta,
        json: &str,
        user: UserId,
        now: i64,
    ) -> Result<(), StoreError> {
        self.exec(
            "UPDATE docs SET has_meta = TRUE, meta_json = $2, faculty = $3, department = $4, \
             group_doc = $5, module_doc = $6, meta_by = $7, meta_at = $8 WHERE id = $1",
            &[
                &doc,
                &json,
                &meta.faculty,
                &meta.department,
                &meta.group,
                &meta.module,
                &user,
                &now,
            ],
        )?;
        self.exec("DELETE FROM journal_teachers WHERE doc = $1", &[&doc])?;
        for teacher in &meta.teachers {
            self.exec(
                "INSERT INTO journal_teachers (employee, doc) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[teacher, &doc],
            )?;
        }
        Ok(())
    }

    fn change_docs(
        &mut self,
        keys: &[ChangeKey<'_>],
    ) -> Result<std::collections::HashMap<Vec<u8>, String>, StoreError> {
        if keys.is_empty() {
            return Ok(Default::default());
        }
        let actors: Vec<&[u8]> = keys.iter().map(|k| k.actor).collect();
        let seqs: Vec<i64> = keys.iter().map(|k| k.actor_seq).collect();
        let hashes: Vec<&[u8]> = keys.iter().map(|k| k.hash).collect();
        Ok(self
            .query(
                "SELECT c.hash, d.doc_id FROM changes c JOIN docs d ON d.id = c.doc \
                   JOIN unnest($1::BYTEA[], $2::BIGINT[], $3::BYTEA[]) AS k(actor, actor_seq, hash) \
                     ON c.actor = k.actor AND c.actor_seq = k.actor_seq AND c.hash = k.hash",
                &[&actors, &seqs, &hashes],
            )?
            .into_iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }

    fn actor_owner(&mut self, actor: &[u8]) -> Result<Option<UserId>, StoreError> {
        Ok(self
            .opt("SELECT user_id FROM actors WHERE actor = $1", &[&actor])?
            .map(|r| r.get(0)))
    }

    fn bind_actor(&mut self, actor: &[u8], user: UserId, now: i64) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO actors (actor, user_id, bound_at) VALUES ($1, $2, $3)",
            &[&actor, &user, &now],
        )?;
        Ok(())
    }

    fn hash_at(
        &mut self,
        doc: i64,
        actor: &[u8],
        actor_seq: i64,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .opt(
                "SELECT hash FROM changes WHERE doc = $1 AND actor = $2 AND actor_seq = $3",
                &[&doc, &actor, &actor_seq],
            )?
            .map(|r| r.get(0)))
    }

    fn max_actor_seq(&mut self, doc: i64, actor: &[u8]) -> Result<Option<i64>, StoreError> {
        Ok(self
            .opt(
                "SELECT max(actor_seq) FROM changes WHERE doc = $1 AND actor = $2",
                &[&doc, &actor],
            )?
            .and_then(|r| r.get(0)))
    }

    fn insert_change(&mut self, c: NewChange<'_>) -> Result<Option<i64>, StoreError> {
        let inserted = self.opt(
            "INSERT INTO changes (hash, doc, actor, user_id, bytes, stored_at, actor_seq, edit_time) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (actor, actor_seq, hash) DO NOTHING RETURNING seq",
            &[
                &c.hash,
                &c.doc,
                &c.actor,
                &c.user,
                &c.bytes,
                &c.stored_at,
                &c.actor_seq,
                &c.edit_time,
            ],
        )?;
        Ok(inserted.map(|row| row.get::<_, i64>(0)))
    }

    fn usage(&mut self, user: UserId, day: i64) -> Result<u64, StoreError> {
        Ok(self
            .opt(
                "SELECT bytes FROM usage WHERE user_id = $1 AND day = $2",
                &[&user, &day],
            )?
            .map_or(0, |r| r.get::<_, i64>(0).max(0) as u64))
    }

    fn set_usage(&mut self, user: UserId, day: i64, bytes: u64) -> Result<(), StoreError> {
        let bytes = bytes.min(i64::MAX as u64) as i64;
        self.exec(
            "INSERT INTO usage (user_id, day, bytes) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id, day) DO UPDATE SET bytes = excluded.bytes",
            &[&user, &day, &bytes],
        )?;
        Ok(())
    }

    fn max_seq(&mut self) -> Result<i64, StoreError> {
        Ok(self
            .one("SELECT COALESCE(MAX(seq), 0)::BIGINT FROM changes", &[])?
            .get(0))
    }

    fn doc_changes(
        &mut self,
        doc: i64,
        after: i64,
        upto: i64,
    ) -> Result<Vec<(i64, Vec<u8>)>, StoreError> {
        Ok(self
            .query(
                "SELECT seq, bytes FROM changes WHERE doc = $1 AND seq > $2 AND seq <= $3 ORDER BY seq",
                &[&doc, &after, &upto],
            )?
            .into_iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }

    fn count_doc_changes(&mut self, doc: i64, after: i64, upto: i64) -> Result<i64, StoreError> {
        Ok(self
            .one(
                "SELECT count(*) FROM changes WHERE doc = $1 AND seq > $2 AND seq <= $3",
                &[&doc, &after, &upto],
            )?
            .get(0))
    }

    fn snapshot(&mut self, doc: i64, bound: i64) -> Result<Option<(i64, Vec<u8>)>, StoreError> {
        Ok(self
            .opt(
                "SELECT upto, bytes FROM doc_snapshots WHERE doc = $1 AND upto <= $2",
                &[&doc, &bound],
            )?
            .map(|r| (r.get(0), r.get(1))))
    }

    fn store_snapshot(
        &mut self,
        doc: i64,
        upto: i64,
        bytes: &[u8],
        now: i64,
    ) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO doc_snapshots (doc, upto, bytes, built_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (doc) DO UPDATE SET upto = excluded.upto, bytes = excluded.bytes, \
             built_at = excluded.built_at WHERE excluded.upto > doc_snapshots.upto",
            &[&doc, &upto, &bytes, &now],
        )?;
        Ok(())
    }

    fn prune_unreadable(&mut self, user: &User, replica: &str) -> Result<(), StoreError> {
        let (name, emp, scope) = user_params(user);
        self.exec(
            &format!(
                "{} DELETE FROM replica_docs WHERE user_id = $4 AND replica = $5 \
                 AND doc NOT IN (SELECT id FROM readable)",
                readable_cte(user)
            ),
            &[&name, &emp, &scope, &user.id, &replica],
        )?;
        Ok(())
    }

    fn unsent_docs(
        &mut self,
        user: &User,
        replica: &str,
    ) -> Result<Vec<(i64, i64, String)>, StoreError> {
        let (name, emp, scope) = user_params(user);
        Ok(self
            .query(
                &format!(
                    "{} SELECT r.id, COALESCE(s.upto, 0)::BIGINT, d.doc_id FROM readable r
                       JOIN docs d ON d.id = r.id
                       LEFT JOIN replica_docs s
                         ON s.user_id = $4 AND s.replica = $5 AND s.doc = r.id
                      WHERE NOT COALESCE(s.done, FALSE)
                      ORDER BY r.id",
                    readable_cte(user)
                ),
                &[&name, &emp, &scope, &user.id, &replica],
            )?
            .into_iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect())
    }

    fn readable_changes(
        &mut self,
        user: &User,
        after: i64,
        upto: i64,
        limit: i64,
    ) -> Result<Vec<ChangeRow>, StoreError> {
        let rows = if user.role == Role::Admin {
            self.query(
                "SELECT c.seq, c.doc, d.doc_id, c.bytes, c.hash \
                   FROM changes c JOIN docs d ON d.id = c.doc \
                  WHERE c.seq > $1 AND c.seq <= $2 ORDER BY c.seq LIMIT $3",
                &[&after, &upto, &limit],
            )?
        } else {
            let (name, emp, scope) = user_params(user);
            self.query(
                &format!(
                    "{} SELECT c.seq, c.doc, d.doc_id, c.bytes, c.hash \
                       FROM changes c JOIN docs d ON d.id = c.doc \
                      WHERE c.seq > $4 AND c.seq <= $5 AND c.doc IN (SELECT id FROM readable) \
                      ORDER BY c.seq LIMIT $6",
                    readable_cte(user)
                ),
                &[&name, &emp, &scope, &after, &upto, &limit],
            )?
        };
        Ok(rows
            .into_iter()
            .map(|r| ChangeRow {
                seq: r.get(0),
                doc: r.get(1),
                doc_id: r.get(2),
                bytes: r.get(3),
                hash: r.get(4),
            })
            .collect())
    }

    fn provenance_of_changes(&mut self, seqs: &[i64]) -> Result<Vec<ProvenanceRow>, StoreError> {
        let seqs = seqs.to_vec();
        self.provenance("c.seq = ANY($1) ORDER BY c.seq", &[&seqs])
    }

    fn provenance_of_doc(
        &mut self,
        doc_id: &str,
        upto: i64,
    ) -> Result<Vec<ProvenanceRow>, StoreError> {
        self.provenance(
            "c.doc = (SELECT id FROM docs WHERE doc_id = $1) AND c.seq <= $2",
            &[&doc_id, &upto],
        )
    }

    fn pinned_bound(&mut self, user: UserId, replica: &str) -> Result<Option<i64>, StoreError> {
        Ok(self
            .opt(
                "SELECT bound FROM replica_pull WHERE user_id = $1 AND replica = $2",
                &[&user, &replica],
            )?
            .map(|r| r.get(0)))
    }

    fn pin_bound(&mut self, user: UserId, replica: &str, bound: i64) -> Result<(), StoreError> {
        // Two instances may serve the same fresh replica's first pages at once: the first
        // bound pinned is the one both use.
        self.exec(
            "INSERT INTO replica_pull (user_id, replica, bound) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id, replica) DO NOTHING",
            &[&user, &replica, &bound],
        )?;
        Ok(())
    }

    fn unpin_bound(&mut self, user: UserId, replica: &str) -> Result<(), StoreError> {
        self.exec(
            "DELETE FROM replica_pull WHERE user_id = $1 AND replica = $2",
            &[&user, &replica],
        )?;
        Ok(())
    }

    fn record_progress(
        &mut self,
        progress: Progress,
        user: UserId,
        replica: &str,
        doc: i64,
        upto: i64,
        done: bool,
    ) -> Result<(), StoreError> {
        match progress {
            Progress::Direct => {
                self.exec(
                    "INSERT INTO replica_docs (user_id, replica, doc, upto, done) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (user_id, replica, doc) DO UPDATE SET \
                       upto = GREATEST(replica_docs.upto, excluded.upto), \
                       done = replica_docs.done OR excluded.done",
                    &[&user, &replica, &doc, &upto, &done],
                )?;
            }
            Progress::Pending(page) => {
                self.exec(
                    "INSERT INTO replica_pending (user_id, replica, doc, page, upto, done) VALUES ($1, $2, $3, $4, $5, $6) \
                     ON CONFLICT (user_id, replica, doc) DO UPDATE SET page = excluded.page, \
                       upto = GREATEST(replica_pending.upto, excluded.upto), \
                       done = replica_pending.done OR excluded.done",
                    &[&user, &replica, &doc, &page, &upto, &done],
                )?;
            }
        }
        Ok(())
    }

    fn any_pending(&mut self, user: UserId, replica: &str) -> Result<bool, StoreError> {
        self.exists(
            "SELECT 1 FROM replica_pending WHERE user_id = $1 AND replica = $2 LIMIT 1",
            &[&user, &replica],
        )
    }

    fn settle_pending(
        &mut self,
        user: UserId,
        replica: &str,
        ack: Option<i64>,
    ) -> Result<(), StoreError> {
        // One statement: the acknowledged page moves, every pending record goes (both read
        // the same snapshot of replica_pending).
        self.exec(
            "WITH moved AS ( \
               INSERT INTO replica_docs (user_id, replica, doc, upto, done) \
               SELECT user_id, replica, doc, upto, done FROM replica_pending \
                WHERE user_id = $1 AND replica = $2 AND page = $3 \
               ON CONFLICT (user_id, replica, doc) DO UPDATE SET \
                 upto = GREATEST(replica_docs.upto, excluded.upto), \
                 done = replica_docs.done OR excluded.done \
               RETURNING 1) \
             DELETE FROM replica_pending WHERE user_id = $1 AND replica = $2",
            &[&user, &replica, &ack],
        )?;
        Ok(())
    }

    fn may_read(&mut self, user: &User, doc: i64) -> Result<bool, StoreError> {
        let (name, emp, scope) = user_params(user);
        self.exists(
            &format!(
                "{} SELECT 1 FROM readable WHERE id = $4",
                readable_cte(user)
            ),
            &[&name, &emp, &scope, &doc],
        )
    }

    fn material(&mut self, hash: &[u8]) -> Result<Option<(i64, i64, bool)>, StoreError> {
        Ok(self
            .opt(
                "SELECT size, received, complete FROM materials WHERE hash = $1",
                &[&hash],
            )?
            .map(|r| (r.get(0), r.get(1), r.get(2))))
    }

    fn lock_material(&mut self, hash: &[u8]) -> Result<(), StoreError> {
        // The hash's first 8 bytes: as random as the hash, so as unlikely as 2^-64 to meet
        // another lock's key.
        let mut key = [0u8; 8];
        for (k, b) in key.iter_mut().zip(hash) {
            *k = *b;
        }
        self.exec(
            "SELECT pg_advisory_xact_lock($1)",
            &[&i64::from_be_bytes(key)],
        )?;
        Ok(())
    }

    fn insert_material(
        &mut self,
        hash: &[u8],
        size: i64,
        user: UserId,
        now: i64,
    ) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO materials (hash, size, uploaded_by, created_at) VALUES ($1, $2, $3, $4)",
            &[&hash, &size, &user, &now],
        )?;
        Ok(())
    }

    fn insert_material_part(
        &mut self,
        hash: &[u8],
        offset: i64,
        bytes: &[u8],
    ) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO material_parts (hash, \"offset\", bytes) VALUES ($1, $2, $3)",
            &[&hash, &offset, &bytes],
        )?;
        Ok(())
    }

    fn set_material_received(
        &mut self,
        hash: &[u8],
        received: i64,
        complete: bool,
    ) -> Result<(), StoreError> {
        self.exec(
            "UPDATE materials SET received = $2, complete = $3 WHERE hash = $1",
            &[&hash, &received, &complete],
        )?;
        Ok(())
    }

    fn material_parts(
        &mut self,
        hash: &[u8],
        from: i64,
        to: i64,
    ) -> Result<Vec<(i64, Vec<u8>)>, StoreError> {
        Ok(self
            .query(
                "SELECT \"offset\", bytes FROM material_parts \
                  WHERE hash = $1 AND \"offset\" < $3 AND \"offset\" + octet_length(bytes) > $2 \
                  ORDER BY \"offset\"",
                &[&hash, &from, &to],
            )?
            .into_iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }

    fn delete_material(&mut self, hash: &[u8]) -> Result<(), StoreError> {
        self.exec("DELETE FROM material_parts WHERE hash = $1", &[&hash])?;
        self.exec("DELETE FROM materials WHERE hash = $1", &[&hash])?;
        Ok(())
    }
}
