//! Tauri commands, grouped by screen. Each takes one request struct and returns one
//! [`crate::error::IpcError`] on failure; they lock the replica only for local database work.

pub mod app;
pub mod catalog;
pub mod inbox;
pub mod journal;
pub mod report;

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    /// The sources of the commands and of their registration, as compiled.
    const SOURCES: [&str; 5] = [
        include_str!("app.rs"),
        include_str!("catalog.rs"),
        include_str!("inbox.rs"),
        include_str!("journal.rs"),
        include_str!("report.rs"),
    ];
    const LIB: &str = include_str!("../lib.rs");

    /// `name -> (request, response)` of every `#[tauri::command]` function, as written.
    fn signatures() -> BTreeMap<String, (String, String)> {
        let mut out = BTreeMap::new();
        for source in SOURCES {
            let mut rest = source;
            while let Some(at) = rest.find("#[tauri::command]") {
                rest = &rest[at..];
                let Some(fn_at) = rest.find("pub async fn ") else {
                    break;
                };
                let sig_start = fn_at + "pub async fn ".len();
                let body = rest[sig_start..]
                    .find('{')
                    .map_or(rest.len(), |b| sig_start + b);
                let sig: String = rest[sig_start..body]
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ");
                let name = sig.split('(').next().unwrap_or_default().to_string();
                let req = sig
                    .split("req: ")
                    .nth(1)
                    .and_then(|r| r.split([',', ')']).next())
                    .unwrap_or_default()
                    .trim()
                    .trim_start_matches("crate::ipc::")
                    .to_string();
                let res = sig
                    .split_once("-> IpcResult<")
                    .and_then(|(_, r)| r.trim().strip_suffix('>'))
                    .unwrap_or_default()
                    .replace("crate::ipc::", "");
                out.insert(name, (req, res));
                rest = &rest[body..];
            }
        }
        out
    }

    /// The UI calls commands through the generated map (`Commands.ts`): every command the
    /// shell registers is in it, under its name, with the request and response it really has.
    #[test]
    fn commands_match_the_map() {
        let registered: Vec<&str> = LIB
            .split("generate_handler![")
            .nth(1)
            .and_then(|r| r.split(']').next())
            .unwrap_or_default()
            .split(',')
            .filter_map(|p| p.trim().rsplit("::").next())
            .filter(|p| !p.is_empty())
            .collect();
        assert_eq!(
            registered,
            daftar_ipc::commands::COMMANDS,
            "the commands lib.rs registers, in order, are the map's (crates/ipc/src/commands.rs)"
        );
        let written = signatures();
        assert_eq!(written.len(), registered.len(), "{written:?}");
        for entry in daftar_ipc::commands::entries() {
            let (req, res) = written
                .get(entry.name)
                .unwrap_or_else(|| panic!("no #[tauri::command] fn {}", entry.name));
            let normal = |s: &str| s.replace(' ', "");
            assert_eq!(
                (normal(req), normal(res)),
                (normal(entry.rust_req), normal(entry.rust_res)),
                "{}: the map says {} => {}",
                entry.name,
                entry.rust_req,
                entry.rust_res
            );
        }
    }
}
