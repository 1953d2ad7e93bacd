//! Server configuration, layered: built-in defaults < an optional TOML or JSON file
//! (`--config FILE`) < `DAFTAR_SYNC_*` environment variables < command-line flags.
//!
//! [`ConfigLayer`] is one layer with every field optional (what a file, the environment or the
//! flags say); [`Config`] is the resolved result the server runs with. Durations are whole
//! units in layers (`token_ttl_hours`, `request_timeout_secs`) and [`Duration`]s in [`Config`],
//! so a test can use a TTL of a few hundred milliseconds.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::password::PasswordParams;

/// Prefix of every environment variable the server reads.
pub const ENV_PREFIX: &str = "DAFTAR_SYNC_";

/// The resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address `serve` listens on.
    pub listen: SocketAddr,
    /// Where the data lives.
    pub database: DatabaseUrl,
    /// How long a session token stays valid.
    pub token_ttl: Duration,
    /// Requests taking longer are answered 503 (the work already committed stays committed).
    pub request_timeout: Duration,
    /// Raw change bytes in a pull page when the client does not ask for less.
    pub page_bytes: u64,
    /// Largest page a client may ask for.
    pub max_page_bytes: u64,
    /// Wrong passwords per user name within `login_window` before logins are refused.
    pub login_max_failures: u32,
    /// Wrong passwords per peer address within `login_window` before logins are refused
    /// (higher: a campus often sits behind one address).
    pub login_max_failures_per_ip: u32,
    pub login_window: Duration,
    /// argon2id parameters for new password hashes. Not read from files or the environment.
    pub password: PasswordParams,
    /// Operations one pushed change may hold (`max_ops_per_change`).
    pub max_ops_per_change: usize,
    /// Raw change bytes one user may have stored per day (UTC), `max_change_mib_per_day`.
    pub max_change_bytes_per_day: u64,
    /// Addresses of the reverse proxies in front of this instance (`trusted_proxies`): only a
    /// request from one of them may name its client in `X-Forwarded-For`, for the sign-in
    /// limiter. Empty (the default): the header is never read.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// A separate address for `/metrics` (`metrics_listen`, e.g. `127.0.0.1:9187`); when set,
    /// the public address does not serve it.
    pub metrics_listen: Option<SocketAddr>,
    /// How large course materials may be: each file (`max_material_mib`) and all of one
    /// module's together (`max_module_materials_mib`).
    pub materials: daftar_rules::materials::MaterialLimits,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8787)),
            database: DatabaseUrl::default_location(),
            token_ttl: Duration::from_secs(30 * 24 * 3600),
            request_timeout: Duration::from_secs(30),
            page_bytes: 1024 * 1024,
            max_page_bytes: 4 * 1024 * 1024,
            login_max_failures: 5,
            login_max_failures_per_ip: 50,
            login_window: Duration::from_secs(5 * 60),
            password: PasswordParams::default(),
            max_ops_per_change: daftar_rules::Limits::default().max_ops,
            max_change_bytes_per_day: 256 * 1024 * 1024,
            trusted_proxies: Vec::new(),
            metrics_listen: None,
            materials: daftar_rules::materials::MaterialLimits::default(),
        }
    }
}

/// One configuration layer; `None` = this layer says nothing.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ConfigLayer {
    pub listen: Option<String>,
    pub database: Option<String>,
    pub token_ttl_hours: Option<u64>,
    pub request_timeout_secs: Option<u64>,
    pub page_bytes: Option<u64>,
    pub max_page_bytes: Option<u64>,
    pub login_max_failures: Option<u32>,
    pub login_max_failures_per_ip: Option<u32>,
    pub login_window_secs: Option<u64>,
    pub max_ops_per_change: Option<usize>,
    pub max_change_mib_per_day: Option<u64>,
    pub max_material_mib: Option<u64>,
    pub max_module_materials_mib: Option<u64>,
    /// Proxy addresses, e.g. `["127.0.0.1"]` (environment: comma-separated).
    pub trusted_proxies: Option<Vec<String>>,
    pub metrics_listen: Option<String>,
}

impl ConfigLayer {
    /// Read a TOML file, or JSON when the name ends in `.json`.
    pub fn from_file(path: &Path) -> Result<ConfigLayer, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let is_json = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        if is_json {
            serde_json::from_str(&text).map_err(|e| ConfigError::Parse {
                path: path.to_owned(),
                detail: e.to_string(),
            })
        } else {
            toml::from_str(&text).map_err(|e| ConfigError::Parse {
                path: path.to_owned(),
                detail: e.to_string(),
            })
        }
    }

    /// The `DAFTAR_SYNC_*` variables, read through `var` (pass `|k| std::env::var(k).ok()`).
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<ConfigLayer, ConfigError> {
        let get = |name: &str| var(&format!("{ENV_PREFIX}{name}")).filter(|v| !v.is_empty());
        fn num<T: std::str::FromStr>(
            name: &str,
            v: Option<String>,
        ) -> Result<Option<T>, ConfigError> {
            v.map(|s| {
                s.trim().parse::<T>().map_err(|_| ConfigError::Env {
                    name: format!("{ENV_PREFIX}{name}"),
                    value: s,
                })
            })
            .transpose()
        }
        Ok(ConfigLayer {
            listen: get("LISTEN"),
            database: get("DATABASE"),
            token_ttl_hours: num("TOKEN_TTL_HOURS", get("TOKEN_TTL_HOURS"))?,
            request_timeout_secs: num("REQUEST_TIMEOUT_SECS", get("REQUEST_TIMEOUT_SECS"))?,
            page_bytes: num("PAGE_BYTES", get("PAGE_BYTES"))?,
            max_page_bytes: num("MAX_PAGE_BYTES", get("MAX_PAGE_BYTES"))?,
            login_max_failures: num("LOGIN_MAX_FAILURES", get("LOGIN_MAX_FAILURES"))?,
            login_max_failures_per_ip: num(
                "LOGIN_MAX_FAILURES_PER_IP",
                get("LOGIN_MAX_FAILURES_PER_IP"),
            )?,
            login_window_secs: num("LOGIN_WINDOW_SECS", get("LOGIN_WINDOW_SECS"))?,
            max_ops_per_change: num("MAX_OPS_PER_CHANGE", get("MAX_OPS_PER_CHANGE"))?,
            max_change_mib_per_day: num("MAX_CHANGE_MIB_PER_DAY", get("MAX_CHANGE_MIB_PER_DAY"))?,
            max_material_mib: num("MAX_MATERIAL_MIB", get("MAX_MATERIAL_MIB"))?,
            max_module_materials_mib: num(
                "MAX_MODULE_MATERIALS_MIB",
                get("MAX_MODULE_MATERIALS_MIB"),
            )?,
            metrics_listen: get("METRICS_LISTEN"),
            trusted_proxies: get("TRUSTED_PROXIES").map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect()
            }),
        })
    }
}

impl Config {
    /// Apply `layer` on top of `self`.
    pub fn apply(mut self, layer: &ConfigLayer) -> Result<Config, ConfigError> {
        if let Some(listen) = &layer.listen {
            self.listen = listen.parse().map_err(|_| ConfigError::Listen {
                value: listen.clone(),
            })?;
        }
        if let Some(db) = &layer.database {
            self.database = DatabaseUrl::parse(db)?;
        }
        if let Some(h) = layer.token_ttl_hours {
            self.token_ttl = Duration::from_secs(h.saturating_mul(3600));
        }
        if let Some(s) = layer.request_timeout_secs {
            self.request_timeout = Duration::from_secs(s);
        }
        if let Some(b) = layer.page_bytes {
            self.page_bytes = b;
        }
        if let Some(b) = layer.max_page_bytes {
            self.max_page_bytes = b;
        }
        if let Some(n) = layer.login_max_failures {
            self.login_max_failures = n;
        }
        if let Some(n) = layer.login_max_failures_per_ip {
            self.login_max_failures_per_ip = n;
        }
        if let Some(s) = layer.login_window_secs {
            self.login_window = Duration::from_secs(s);
        }
        if let Some(n) = layer.max_ops_per_change {
            self.max_ops_per_change = n;
        }
        if let Some(m) = layer.max_change_mib_per_day {
            self.max_change_bytes_per_day = m.saturating_mul(1024 * 1024);
        }
        if let Some(m) = layer.max_material_mib {
            self.materials.file_bytes = m.saturating_mul(1024 * 1024);
        }
        if let Some(m) = layer.max_module_materials_mib {
            self.materials.module_bytes = m.saturating_mul(1024 * 1024);
        }
        if let Some(addr) = &layer.metrics_listen {
            self.metrics_listen = Some(addr.parse().map_err(|_| ConfigError::Listen {
                value: addr.clone(),
            })?);
        }
        if let Some(list) = &layer.trusted_proxies {
            self.trusted_proxies = list
                .iter()
                .map(|s| {
                    // Compared with canonical peers (::ffff:a.b.c.d is a.b.c.d).
                    s.trim()
                        .parse::<std::net::IpAddr>()
                        .map(|ip| ip.to_canonical())
                        .map_err(|_| ConfigError::Invalid {
                            field: "trusted_proxies",
                            reason: "must be IP addresses, e.g. [\"127.0.0.1\"]",
                        })
                })
                .collect::<Result<_, _>>()?;
        }
        self.validate()?;
        Ok(self)
    }

    /// Defaults < `file` < environment < `flags`.
    pub fn layered(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
        flags: &ConfigLayer,
    ) -> Result<Config, ConfigError> {
        let mut config = Config::default();
        if let Some(path) = file {
            config = config.apply(&ConfigLayer::from_file(path)?)?;
        }
        config.apply(&ConfigLayer::from_env(env)?)?.apply(flags)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let bad =
            |field: &'static str, reason: &'static str| Err(ConfigError::Invalid { field, reason });
        if self.token_ttl.is_zero() {
            return bad("token_ttl_hours", "must be at least 1");
        }
        if self.request_timeout.is_zero() {
            return bad("request_timeout_secs", "must be at least 1");
        }
        if self.page_bytes == 0 || self.max_page_bytes == 0 {
            return bad("page_bytes", "must be positive");
        }
        if self.login_max_failures == 0 || self.login_max_failures_per_ip == 0 {
            return bad("login_max_failures", "must be at least 1");
        }
        if self.max_ops_per_change == 0 || self.max_change_bytes_per_day == 0 {
            return bad("max_ops_per_change", "change limits must be positive");
        }
        if self.materials.file_bytes == 0
            || self.materials.file_bytes > daftar_rules::materials::MAX_FILE_BYTES
        {
            return bad("max_material_mib", "must be from 1 to 512");
        }
        if self.materials.module_bytes < self.materials.file_bytes {
            return bad(
                "max_module_materials_mib",
                "must be at least max_material_mib",
            );
        }
        Ok(())
    }
}

/// Where the server keeps its data: `sqlite://PATH`, `sqlite:PATH` or a plain path (one
/// server), or `postgres://USER:PASSWORD@HOST:PORT/DB` (several instances on one database).
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    Postgres(String),
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

impl DatabaseUrl {
    /// `<platform data dir>/daftar-sync/server.db` (e.g. `~/.local/share/daftar-sync/server.db`),
    /// or `./daftar-sync/server.db` when the platform has no home directory.
    pub fn default_location() -> DatabaseUrl {
        let base = directories::BaseDirs::new()
            .map(|d| d.data_dir().to_owned())
            .unwrap_or_else(|| PathBuf::from("."));
        DatabaseUrl::Sqlite(base.join("daftar-sync").join("server.db"))
    }

    pub fn parse(s: &str) -> Result<DatabaseUrl, ConfigError> {
        let s = s.trim();
        if let Some(path) = s
            .strip_prefix("sqlite://")
            .or_else(|| s.strip_prefix("sqlite:"))
        {
            if path.is_empty() {
                return Err(ConfigError::Database { value: s.into() });
            }
            return Ok(DatabaseUrl::Sqlite(PathBuf::from(path)));
        }
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            return Ok(DatabaseUrl::Postgres(s.to_owned()));
        }
        if s.is_empty() || s.contains("://") {
            return Err(ConfigError::Database { value: s.into() });
        }
        Ok(DatabaseUrl::Sqlite(PathBuf::from(s)))
    }
}

impl std::fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DatabaseUrl::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            // Never the password: this is what logs and `--help` show.
            DatabaseUrl::Postgres(url) => f.write_str(&crate::store::postgres::hide_password(url)),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot parse the config file {path}: {detail}")]
    Parse { path: PathBuf, detail: String },
    #[error("{name}={value:?} is not a valid number")]
    Env { name: String, value: String },
    #[error("{value:?} is not a listen address like 127.0.0.1:8787")]
    Listen { value: String },
    #[error("{value:?} is not a database URL (sqlite://PATH or a file path)")]
    Database { value: String },
    #[error("{field} {reason}")]
    Invalid {
        field: &'static str,
        reason: &'static str,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls() {
        assert_eq!(
            DatabaseUrl::parse("sqlite:///var/lib/d.db").expect("url"),
            DatabaseUrl::Sqlite("/var/lib/d.db".into())
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:rel.db").expect("url"),
            DatabaseUrl::Sqlite("rel.db".into())
        );
        assert_eq!(
            DatabaseUrl::parse("/tmp/x.db").expect("path"),
            DatabaseUrl::Sqlite("/tmp/x.db".into())
        );
        assert_eq!(
            DatabaseUrl::parse("postgres://daftar:s3cret@h:5432/db").expect("url"),
            DatabaseUrl::Postgres("postgres://daftar:s3cret@h:5432/db".into())
        );
        assert_eq!(
            DatabaseUrl::parse("postgres://daftar:s3cret@h:5432/db")
                .expect("url")
                .to_string(),
            "postgres://daftar:***@h:5432/db",
            "the password is never shown"
        );
        assert!(DatabaseUrl::parse("mysql://x").is_err());
    }

    #[test]
    fn layers_apply_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:9000\"\ntoken_ttl_hours = 2\npage_bytes = 10\n",
        )
        .expect("write");
        let env = |k: &str| match k {
            "DAFTAR_SYNC_TOKEN_TTL_HOURS" => Some("3".to_owned()),
            "DAFTAR_SYNC_LISTEN" => Some("127.0.0.1:9001".to_owned()),
            _ => None,
        };
        let flags = ConfigLayer {
            listen: Some("127.0.0.1:9002".into()),
            ..ConfigLayer::default()
        };
        let c = Config::layered(Some(&file), env, &flags).expect("config");
        assert_eq!(c.listen.port(), 9002, "flags win");
        assert_eq!(c.token_ttl, Duration::from_secs(3 * 3600), "env beats file");
        assert_eq!(c.page_bytes, 10, "file beats defaults");
        assert_eq!(c.max_page_bytes, Config::default().max_page_bytes);
    }

    #[test]
    fn json_file_and_bad_values() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("c.json");
        std::fs::write(&file, r#"{"login_max_failures": 3}"#).expect("write");
        let c = Config::layered(Some(&file), |_| None, &ConfigLayer::default()).expect("config");
        assert_eq!(c.login_max_failures, 3);
        std::fs::write(&file, r#"{"no_such_field": 3}"#).expect("write");
        assert!(Config::layered(Some(&file), |_| None, &ConfigLayer::default()).is_err());
        let env = |k: &str| (k == "DAFTAR_SYNC_PAGE_BYTES").then(|| "lots".to_owned());
        assert!(matches!(
            Config::layered(None, env, &ConfigLayer::default()),
            Err(ConfigError::Env { .. })
        ));
    }
}
