//! Where the app keeps things. The data folder has the same layout as the `daftar` CLI's
//! (`<dir>/replica.db`), so `daftar --data-dir X` and `daftar-desktop --data-dir X` share one
//! replica; the default is the same platform folder the CLI uses.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Environment variable naming the data folder (same as the CLI's).
pub const DATA_DIR_ENV: &str = "DAFTAR_DATA_DIR";
/// Environment variable naming the log folder (tests point it at a temp folder).
pub const LOG_DIR_ENV: &str = "DAFTAR_LOG_DIR";
/// Tauri's bundle identifier, also the log folder's name.
pub const IDENTIFIER: &str = "uz.daftar.desktop";

/// `--data-dir DIR` or `--data-dir=DIR` from the command line.
pub fn data_dir_arg(args: impl IntoIterator<Item = OsString>) -> Option<PathBuf> {
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let text = arg.to_string_lossy();
        if text == "--data-dir" {
            return args.next().map(PathBuf::from);
        }
        if let Some(value) = text.strip_prefix("--data-dir=") {
            return Some(PathBuf::from(value));
        }
    }
    None
}

/// The data folder: the argument, else `DAFTAR_DATA_DIR`, else the platform data folder.
pub fn data_dir(arg: Option<PathBuf>) -> Option<PathBuf> {
    arg.or_else(|| {
        std::env::var_os(DATA_DIR_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    })
    .or_else(|| {
        directories::ProjectDirs::from("uz", "Daftar", "daftar").map(|p| p.data_dir().to_path_buf())
    })
}

pub fn replica_path(dir: &Path) -> PathBuf {
    dir.join("replica.db")
}

/// The app's log folder: `DAFTAR_LOG_DIR`, else where Tauri puts app logs
/// (`~/.local/share/uz.daftar.desktop/logs` on Linux, `~/Library/Logs/…` on macOS).
pub fn log_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os(LOG_DIR_ENV).filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    let base = directories::BaseDirs::new()?;
    if cfg!(target_os = "macos") {
        Some(base.home_dir().join("Library/Logs").join(IDENTIFIER))
    } else {
        Some(base.data_local_dir().join(IDENTIFIER).join("logs"))
    }
}

/// Default folder for exports: `Documents/Daftar`, else `<data dir>/exports`.
pub fn export_dir(data_dir: &Path) -> PathBuf {
    directories::UserDirs::new()
        .and_then(|u| u.document_dir().map(|d| d.join("Daftar")))
        .unwrap_or_else(|| data_dir.join("exports"))
}

/// A file name without characters file systems refuse.
pub fn file_name_part(s: &str) -> String {
    let cleaned: String = s
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else if c == ' ' {
                '_'
            } else {
                '-'
            }
        })
        .collect();
    cleaned.trim_matches(['-', '_', '.']).to_string()
}

/// Opens `path` with the program the system opens such files with (`xdg-open`, `open`,
/// `start`), or with `DAFTAR_OPENER` when set. Does not wait for the viewer.
pub fn open_with_system_viewer(path: &std::path::Path) -> std::io::Result<()> {
    let mut command = match std::env::var_os("DAFTAR_OPENER") {
        Some(opener) => std::process::Command::new(opener),
        None if cfg!(target_os = "macos") => std::process::Command::new("open"),
        None if cfg!(windows) => {
            let mut c = std::process::Command::new("cmd");
            c.args(["/C", "start", ""]);
            c
        }
        None => std::process::Command::new("xdg-open"),
    };
    command
        .arg(path)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map(|mut child| {
            // Reaped when the viewer (or the launcher) exits.
            std::thread::spawn(move || {
                let _ = child.wait();
            });
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_dir_argument_in_both_spellings() {
        let args = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(
            data_dir_arg(args(&["app", "--data-dir", "/tmp/x"])),
            Some(PathBuf::from("/tmp/x"))
        );
        assert_eq!(
            data_dir_arg(args(&["app", "--data-dir=/tmp/y"])),
            Some(PathBuf::from("/tmp/y"))
        );
        assert_eq!(data_dir_arg(args(&["app"])), None);
    }

    #[test]
    fn file_names_keep_letters_of_every_script() {
        assert_eq!(
            file_name_part("101-25 Oliy matematika"),
            "101-25_Oliy_matematika"
        );
        assert_eq!(file_name_part("Ma'lumotlar/bazasi"), "Ma-lumotlar-bazasi");
        assert_eq!(file_name_part("Физика"), "Физика");
    }
}
