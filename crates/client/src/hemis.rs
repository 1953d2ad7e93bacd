//! Fetching a university's HEMIS straight from its REST API (`https://HOST/rest/v1`), as
//! `daftar import hemis --url` does: every endpoint the import reads
//! ([`daftar_core::hemis::ENDPOINTS`]), page by page with `limit` and `page` until the
//! response's `pageCount`, with the university's bearer token, retrying a 5xx answer or a
//! timeout with backoff.
//!
//! Pages are written as files (`student-list.json`, `student-list-2.json`, …), personal data
//! stripped first ([`daftar_core::hemis::strip_personal`]), into a folder the import then reads
//! exactly as it reads an export folder: the same checks, the same all-or-nothing rule. A page
//! that is not a HEMIS list response is refused with the endpoint, the page and why; nothing
//! reaches the replica then. With `--save-to` the folder is kept for a later offline import (a
//! field campus gets it by USB).

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

/// What a fetch asks HEMIS for, besides the endpoint and the page.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    /// `_education_year`, e.g. `2026`.
    pub education_year: Option<String>,
    /// `_semester`, the HEMIS code (`17`).
    pub semester: Option<String>,
    /// `_faculty` (HEMIS department id of the faculty).
    pub faculty: Option<String>,
}

/// Why a fetch stopped.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error(
        "HEMIS refused the token ({status}): make a new API token in HEMIS's admin panel and set HEMIS_TOKEN"
    )]
    Unauthorized { status: u16 },
    #[error("HEMIS at {url} cannot be reached: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("HEMIS answered {endpoint} page {page} with {status} {tries} times; try again later")]
    Server {
        endpoint: String,
        page: u32,
        status: u16,
        tries: u32,
    },
    #[error("HEMIS's {endpoint} page {page} is not a list response: {reason}")]
    BadPage {
        endpoint: String,
        page: u32,
        reason: String,
    },
    #[error("cannot write the fetched pages to {path}: {reason}")]
    Disk { path: String, reason: String },
}

/// How a fetch went, endpoint by endpoint.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct FetchReport {
    /// (endpoint, pages, items).
    pub endpoints: Vec<(String, u32, usize)>,
    /// Endpoints this HEMIS does not have (404): the import goes on without them.
    pub missing: Vec<String>,
    /// Answers retried (5xx, timeouts).
    pub retries: u32,
}

/// Attempts per page before giving up, and the first backoff.
const TRIES: u32 = 5;
const BACKOFF: Duration = Duration::from_millis(300);

/// Fetches every endpoint into `dir`. `page_size` is HEMIS's `limit` (at most 200);
/// `progress(endpoint, page, page_count)` is called after each page.
pub async fn fetch(
    base: &str,
    token: &str,
    filters: &Filters,
    page_size: u32,
    dir: &Path,
    mut progress: impl FnMut(&str, u32, u32),
) -> Result<FetchReport, FetchError> {
    let base = base.trim_end_matches('/');
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| FetchError::Unreachable {
            url: base.to_string(),
            reason: e.to_string(),
        })?;
    std::fs::create_dir_all(dir).map_err(|e| FetchError::Disk {
        path: dir.display().to_string(),
        reason: e.to_string(),
    })?;
    // Until every page is in, the folder says so: an import refuses a folder a fetch did not
    // finish (a kept `--save-to` folder would otherwise mix this fetch's pages with older ones).
    let marker = dir.join(daftar_core::hemis::UNFINISHED_MARKER);
    std::fs::write(&marker, b"a fetch from HEMIS did not finish here\n").map_err(|e| {
        FetchError::Disk {
            path: marker.display().to_string(),
            reason: e.to_string(),
        }
    })?;
    let mut report = FetchReport::default();
    let limit = page_size.clamp(1, 200);
    'endpoints: for endpoint in daftar_core::hemis::ENDPOINTS {
        // Pages an earlier fetch left in a kept folder are not this fetch's.
        remove_pages(dir, endpoint).map_err(|e| FetchError::Disk {
            path: dir.display().to_string(),
            reason: e.to_string(),
        })?;
        let mut page = 1u32;
        let mut items = 0usize;
        loop {
            let mut query: Vec<(&str, String)> =
                vec![("limit", limit.to_string()), ("page", page.to_string())];
            if let Some(y) = &filters.education_year {
                query.push(("_education_year", y.clone()));
            }
            if let Some(s) = &filters.semester {
                query.push(("_semester", s.clone()));
            }
            if let Some(f) = &filters.faculty {
                query.push(("_faculty", f.clone()));
            }
            let url = format!("{base}/data/{endpoint}");
            let mut tries = 0;
            let body: Value = loop {
                tries += 1;
                let sent = http.get(&url).bearer_auth(token).query(&query).send().await;
                let retry = |status: Option<u16>, reason: String| -> Result<(), FetchError> {
                    if tries >= TRIES {
                        return Err(match status {
                            Some(status) => FetchError::Server {
                                endpoint: endpoint.to_string(),
                                page,
                                status,
                                tries,
                            },
                            None => FetchError::Unreachable {
                                url: url.clone(),
                                reason,
                            },
                        });
                    }
                    Ok(())
                };
                match sent {
                    Ok(resp) => {
                        let status = resp.status();
                        if status == reqwest::StatusCode::UNAUTHORIZED
                            || status == reqwest::StatusCode::FORBIDDEN
                        {
                            return Err(FetchError::Unauthorized {
                                status: status.as_u16(),
                            });
                        }
                        if status == reqwest::StatusCode::NOT_FOUND && page == 1 {
                            report.missing.push(endpoint.to_string());
                            continue 'endpoints;
                        }
                        if status.is_server_error()
                            || status == reqwest::StatusCode::TOO_MANY_REQUESTS
                        {
                            retry(Some(status.as_u16()), status.to_string())?;
                        } else if !status.is_success() {
                            return Err(FetchError::BadPage {
                                endpoint: endpoint.to_string(),
                                page,
                                reason: format!("HTTP {status}"),
                            });
                        } else {
                            // A reply cut at any byte reads as a body error or as JSON
                            // that ends too soon: asked again, and only after the last try
                            // called not JSON.
                            match resp.json::<Value>().await {
                                Ok(v) => break v,
                                Err(e) if tries < TRIES => {
                                    tracing::debug!(endpoint, page, error = %e, "HEMIS reply unreadable, asking again");
                                }
                                Err(e) => {
                                    return Err(FetchError::BadPage {
                                        endpoint: endpoint.to_string(),
                                        page,
                                        reason: format!("not JSON ({e})"),
                                    });
                                }
                            }
                        }
                    }
                    Err(e) => retry(None, e.to_string())?,
                }
                report.retries += 1;
                tokio::time::sleep(BACKOFF * 2u32.pow(tries - 1)).await;
            };
            let mut body = body;
            if body.get("success").and_then(Value::as_bool) != Some(true) {
                let why = body
                    .get("error")
                    .map(|e| e.to_string())
                    .unwrap_or_else(|| "\"success\" is not true".into());
                return Err(FetchError::BadPage {
                    endpoint: endpoint.to_string(),
                    page,
                    reason: why,
                });
            }
            let Some(data) = body.get_mut("data") else {
                return Err(FetchError::BadPage {
                    endpoint: endpoint.to_string(),
                    page,
                    reason: "no \"data\"".into(),
                });
            };
            let count = data
                .get("items")
                .and_then(Value::as_array)
                .map(Vec::len)
                .ok_or_else(|| FetchError::BadPage {
                    endpoint: endpoint.to_string(),
                    page,
                    reason: "no \"items\" list".into(),
                })?;
            let page_count = data
                .get("pagination")
                .and_then(|p| p.get("pageCount"))
                .and_then(Value::as_u64)
                .unwrap_or(1) as u32;
            // Personal data never leaves this function.
            daftar_core::hemis::strip_personal(&mut body);
            let name = if page == 1 {
                format!("{endpoint}.json")
            } else {
                format!("{endpoint}-{page}.json")
            };
            let path = dir.join(&name);
            let text = serde_json::to_vec_pretty(&body).unwrap_or_default();
            std::fs::write(&path, text).map_err(|e| FetchError::Disk {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?;
            items += count;
            progress(endpoint, page, page_count.max(1));
            if page >= page_count || count == 0 {
                report.endpoints.push((endpoint.to_string(), page, items));
                break;
            }
            page += 1;
        }
    }
    std::fs::remove_file(&marker).map_err(|e| FetchError::Disk {
        path: marker.display().to_string(),
        reason: e.to_string(),
    })?;
    Ok(report)
}

/// Removes `endpoint.json` and `endpoint-N.json` from `dir`.
fn remove_pages(dir: &Path, endpoint: &str) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix(".json") else {
            continue;
        };
        let page_of = stem.strip_prefix(endpoint).is_some_and(|rest| {
            rest.is_empty()
                || rest
                    .strip_prefix('-')
                    .is_some_and(|n| n.parse::<u32>().is_ok())
        });
        if page_of {
            std::fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}
