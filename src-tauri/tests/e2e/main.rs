//! End to end through the real app window: the built `daftar-desktop` (with the UI embedded by
//! `--features daftar-desktop/custom-protocol`) under Xvfb, driven through WebKitWebDriver, with
//! a real `daftar-sync` on loopback and the `daftar` CLI as the other clients.
//!
//! Run it the way CI does:
//!
//! ```text
//! dbus-run-session -- sh -c 'printf pw | gnome-keyring-daemon --unlock --components=secrets --daemonize >/dev/null;
//!   exec xvfb-run -a -s "-screen 0 1280x800x24" cargo test -p daftar-desktop --features daftar-desktop/custom-protocol --test e2e -- --nocapture'
//! ```
//!
//! Without `DISPLAY` the tests skip themselves, unless `CI` is set (then a missing display is a
//! failure, never a pass). `DAFTAR_SCREENSHOTS=DIR` saves the main screens as PNG there
//! (otherwise into cargo's temp folder). Tests run one at a time (one window, one driver).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use daftar_tests::{Client as Cli, Server};
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

const APP: &str = env!("CARGO_BIN_EXE_daftar-desktop");
const UI_I18N: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../ui/src/i18n");

/// One window and one WebDriver at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn display_available() -> bool {
    if std::env::var_os("DISPLAY").is_some_and(|d| !d.is_empty()) {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("DISPLAY is not set: the desktop E2E must run under xvfb-run in CI, not be skipped");
    }
    eprintln!("skipping the desktop E2E: DISPLAY is not set (run under xvfb-run -a)");
    false
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn key(k: Key) -> String {
    char::from(k).to_string()
}

fn screenshots_dir() -> PathBuf {
    match std::env::var_os("DAFTAR_SCREENSHOTS") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots"),
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Step timings, printed as the test goes.
struct Steps {
    started: Instant,
    last: Instant,
}

impl Steps {
    fn new() -> Steps {
        let now = Instant::now();
        Steps {
            started: now,
            last: now,
        }
    }

    fn done(&mut self, what: &str) {
        let now = Instant::now();
        eprintln!("  {:>6.1} s  {what}", (now - self.last).as_secs_f64());
        self.last = now;
    }

    fn note(&mut self, what: String) {
        eprintln!("           {what}");
    }

    fn finish(&self, test: &str) {
        eprintln!(
            "{test}: {:.1} s in all",
            self.started.elapsed().as_secs_f64()
        );
    }
}

// ---------------------------------------------------------------- WebKitWebDriver and the app

/// `WebKitWebDriver` on its own port; the app it launches inherits its environment.
struct Driver {
    child: Option<Child>,
    port: u16,
}

impl Driver {
    fn start(env: &[(&str, String)]) -> Result<Driver> {
        let port = free_port();
        let mut cmd = Command::new("WebKitWebDriver");
        cmd.arg(format!("--port={port}"))
            .env("TAURI_WEBVIEW_AUTOMATION", "true")
            .env(
                "DAFTAR_LOG_DIR",
                std::env::temp_dir().join("daftar-e2e-logs"),
            )
            .env_remove("DAFTAR_TOKEN")
            .env_remove("DAFTAR_DATA_DIR")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd
            .spawn()
            .context("start WebKitWebDriver (Debian package webkit2gtk-driver)")?;
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(Driver {
                    child: Some(child),
                    port,
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!("WebKitWebDriver did not listen on {port}")
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SIGTERM lets it close the browser it started; SIGKILL would orphan it.
            daftar_tests::terminate(&mut c);
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The app window, driven through WebDriver.
struct App {
    c: Client,
    driver: Driver,
}

impl App {
    async fn launch(data_dir: &Path, env: &[(&str, String)]) -> Result<App> {
        let driver = Driver::start(env)?;
        let mut caps = serde_json::Map::new();
        caps.insert(
            "webkitgtk:browserOptions".into(),
            json!({ "binary": APP, "args": ["--data-dir", data_dir.display().to_string()] }),
        );
        let c = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", driver.port))
            .await
            .context("open a WebDriver session with the app")?;
        let app = App { c, driver };
        app.el("[data-testid=statusbar]").await?;
        Ok(app)
    }

    async fn quit(mut self) -> Result<()> {
        let closed = self.c.clone().close().await;
        self.driver.stop();
        closed.context("close the app")?;
        Ok(())
    }

    async fn el(&self, css: &str) -> Result<fantoccini::elements::Element> {
        match self
            .c
            .wait()
            .at_most(Duration::from_secs(30))
            .for_element(Locator::Css(css))
            .await
        {
            Ok(e) => Ok(e),
            Err(e) => Err(anyhow!("waiting for {css}: {e}; {}", self.dump().await)),
        }
    }

    /// What the screen shows (for failure messages), with a screenshot `failure.png`.
    async fn dump(&self) -> String {
        let _ = async {
            let png = self.c.screenshot().await?;
            std::fs::create_dir_all(screenshots_dir())?;
            std::fs::write(screenshots_dir().join("failure.png"), png)?;
            anyhow::Ok(())
        }
        .await;
        match self
            .c
            .execute("return document.body.innerText.slice(0, 1500);", vec![])
            .await
        {
            Ok(v) => format!(
                "the window shows: {}",
                v.as_str().unwrap_or_default().replace('\n', " | ")
            ),
            Err(e) => format!("the window cannot be read: {e}"),
        }
    }

    async fn click(&self, css: &str) -> Result<()> {
        self.el(css)
            .await?
            .click()
            .await
            .map_err(|e| anyhow!("click {css}: {e:?}"))
    }

    async fn js(&self, script: &str) -> Result<Value> {
        self.c
            .execute(script, vec![])
            .await
            .context("run a script in the app")
    }

    /// Clicks a grid cell after scrolling it to the middle (clear of the sticky columns).
    async fn click_cell(&self, r: usize, c: usize) -> Result<()> {
        let css = format!("td.c[data-r='{r}'][data-c='{c}']");
        self.js(&format!(
            "document.querySelector(\"{css}\").scrollIntoView({{block: 'center', inline: 'center'}}); return true;"
        ))
        .await?;
        self.click(&css).await
    }

    async fn type_into(&self, css: &str, text: &str) -> Result<()> {
        let e = self.el(css).await?;
        e.clear().await.ok();
        e.send_keys(text)
            .await
            .with_context(|| format!("type into {css}"))
    }

    /// Polls `check` until it answers true.
    async fn wait_for<F, Fut>(&self, what: &str, timeout: Duration, mut check: F) -> Result<()>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<bool>>,
    {
        let deadline = Instant::now() + timeout;
        let mut last_err = None;
        while Instant::now() < deadline {
            match check().await {
                Ok(true) => return Ok(()),
                Ok(false) => {}
                Err(e) => last_err = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let status = self.status().await.unwrap_or_default();
        Err(anyhow!(
            "timed out after {timeout:?} waiting for {what} (status bar: {status:?}; last error: {last_err:?})"
        ))
    }

    /// (state, waiting count, status text) from the status bar.
    async fn status(&self) -> Result<(String, u64, String)> {
        let v = self
            .js(
                "const s = document.querySelector('[data-testid=sync-state]');
                 const w = document.querySelector('[data-testid=sync-waiting]');
                 const bar = document.querySelector('[data-testid=statusbar]');
                 return [s ? s.getAttribute('data-status') : '', w ? Number(w.getAttribute('data-count')) : -1, bar ? bar.innerText : ''];",
            )
            .await?;
        Ok((
            v[0].as_str().unwrap_or_default().to_string(),
            v[1].as_u64().unwrap_or(u64::MAX),
            v[2].as_str().unwrap_or_default().replace('\n', " "),
        ))
    }

    async fn wait_synced(&self, timeout: Duration) -> Result<()> {
        self.wait_for("synced with nothing waiting", timeout, || async {
            let (state, waiting, _) = self.status().await?;
            Ok(state == "online" && waiting == 0)
        })
        .await
    }

    async fn shot(&self, name: &str) -> Result<()> {
        let dir = screenshots_dir();
        std::fs::create_dir_all(&dir)?;
        // Toasts are transient; the screen under them is what matters.
        self.js("document.querySelectorAll('.toast').forEach(t => t.remove()); return true;")
            .await?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let png = self.c.screenshot().await.context("screenshot")?;
        std::fs::write(dir.join(format!("{name}.png")), png)?;
        Ok(())
    }

    async fn sign_in(&self, server: &Server, user: &str, password: &str) -> Result<()> {
        self.click("[data-testid=nav-signin]").await?;
        self.type_into("[data-testid=signin-server]", &server.url())
            .await?;
        self.type_into("[data-testid=signin-user]", user).await?;
        self.type_into("[data-testid=signin-password]", password)
            .await?;
        self.click("[data-testid=signin-submit]").await
    }

    async fn open_journal(&self, journal: &str) -> Result<()> {
        self.click("[data-nav=journals]").await?;
        self.click(&format!(
            "[data-testid=journal-row][data-journal='{journal}'] td:nth-child(2)"
        ))
        .await?;
        self.el(&format!(
            "[data-testid=grid-page][data-journal='{journal}'] td.cur"
        ))
        .await?;
        Ok(())
    }

    /// Texts of a lesson column, top to bottom.
    async fn column(&self, c: usize) -> Result<Vec<String>> {
        let v = self
            .js(&format!(
                "return Array.from(document.querySelectorAll('td.c[data-c=\"{c}\"]')).map(td => td.textContent.trim());"
            ))
            .await?;
        Ok(serde_json::from_value(v)?)
    }

    /// (column index, lesson id, date, pair) of the grid cursor.
    async fn cursor(&self) -> Result<(usize, String, String, u64)> {
        let v = self
            .js("const td = document.querySelector('td.cur'); const c = td.getAttribute('data-c');
                 const th = document.querySelector('th.lesson[data-c=\"' + c + '\"]');
                 return [Number(c), th.getAttribute('data-lesson'), th.getAttribute('data-date'), Number(th.getAttribute('data-pair'))];")
            .await?;
        Ok((
            v[0].as_u64().unwrap_or(0) as usize,
            v[1].as_str().unwrap_or_default().to_string(),
            v[2].as_str().unwrap_or_default().to_string(),
            v[3].as_u64().unwrap_or(0),
        ))
    }

    async fn students(&self) -> Result<Vec<String>> {
        let v = self
            .js("return Array.from(document.querySelectorAll('tr[data-student]')).map(tr => tr.getAttribute('data-student'));")
            .await?;
        Ok(serde_json::from_value(v)?)
    }

    /// Keys to the grid; when typing opened the cell editor, the rest go to it.
    async fn grid_keys(&self, text: &str) -> Result<()> {
        let grid = self.el("[data-testid=grid-scroll]").await?;
        let mut chars = text.chars();
        let Some(first) = chars.next() else {
            return Ok(());
        };
        grid.send_keys(&first.to_string()).await?;
        let rest: String = chars.collect();
        if rest.is_empty() {
            return Ok(());
        }
        match self.c.find(Locator::Css("[data-testid=cell-editor]")).await {
            Ok(editor) => editor.send_keys(&rest).await?,
            Err(_) => grid.send_keys(&rest).await?,
        }
        Ok(())
    }
}

// ---------------------------------------------------------------- the university on a server

struct University {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    server: Server,
    admin: Cli,
    journal: String,
    /// Whether the CLI kept its token in a keyring (else tokens travel as DAFTAR_TOKEN).
    keyring: bool,
}

const TEACHER: (&str, &str) = ("ustoz", "ustoz-parol-1");
const DEAN: (&str, &str) = ("dekanat", "dekanat-parol-1");

/// A server with the XS demo university uploaded by an administrator, a teacher assigned to
/// the first journal and the dean's office of faculty f1.
fn university() -> Result<University> {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().to_path_buf();
    let server = Server::start(&dir)?;
    server.add_user("admin", "admin-parol-1", "admin", &[])?;
    let mut admin = Cli::new(dir.join("admin"));
    admin.ok(&["demo", "--tier", "XS", "--seed", "7"]);
    let login = admin.login(&server, "admin", "admin-parol-1");
    let keyring = !login["keyring"].is_null();
    let s = admin.sync();
    if s["refused"] != 0 {
        bail!("the server refused the demo upload: {s}");
    }
    let journals = admin.json(&["journals"]);
    let journal = journals[0]["id"].as_str().context("a journal")?.to_string();
    let view = admin.json(&["show", &journal]);
    let employee = view["teachers"][0]
        .as_str()
        .context("the journal's teacher")?
        .to_string();
    server.add_user(TEACHER.0, TEACHER.1, "teacher", &["--employee", &employee])?;
    server.admin(&["assign", TEACHER.0, &format!("journal/{journal}")], None)?;
    server.add_user(DEAN.0, DEAN.1, "dean", &["--scope", "f1"])?;
    Ok(University {
        _tmp: tmp,
        dir,
        server,
        admin,
        journal,
        keyring,
    })
}

impl University {
    fn cli(&self, name: &str, user: (&str, &str)) -> Cli {
        let mut c = Cli::new(self.dir.join(name));
        c.ok(&["init", "--university", "demo"]);
        c.login(&self.server, user.0, user.1);
        c
    }

    /// Environment for an app launch: a token for `user` when there is no keyring.
    fn app_env(&self, user: (&str, &str)) -> Vec<(&'static str, String)> {
        if self.keyring {
            return Vec::new();
        }
        let c = self.cli(&format!("token-{}", user.0), user);
        c.token()
            .map(|t| vec![("DAFTAR_TOKEN", t.to_string())])
            .unwrap_or_default()
    }
}

fn cell<'a>(view: &'a Value, lesson: &str, student: &str) -> Option<&'a Value> {
    view["cells"]
        .as_array()?
        .iter()
        .find(|c| c["lesson"] == lesson && c["student"] == student)
}

/// A catalogue's text for a key.
fn catalogue_text(lang: &str, key: &str) -> Result<String> {
    let catalogue: serde_json::Map<String, Value> = serde_json::from_str(
        &std::fs::read_to_string(Path::new(UI_I18N).join(format!("{lang}.json")))?,
    )?;
    catalogue
        .get(key)
        .and_then(Value::as_str)
        .map(str::to_string)
        .with_context(|| format!("{key} in {lang}.json"))
}

fn dd_mm_yyyy(iso: &str) -> String {
    let p: Vec<&str> = iso.split('-').collect();
    format!("{}.{}.{}", p[2], p[1], p[0])
}

/// Runs one scenario in the app's one window (the tests take turns), or skips it where there
/// is no display (`display_available`).
fn scenario(name: &str, run: impl std::future::Future<Output = Result<()>>) {
    if !display_available() {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    if let Err(e) = runtime().block_on(run) {
        panic!("{name}: {e:?}");
    }
}

mod dean;
mod demo;
mod materials;
mod teacher;
mod today;

// ---------------------------------------------------------------- native dialogs and files

/// Waits for the save dialog titled `title`, focuses it and presses Enter (saving under the
/// name it suggests). Answers how long the dialog took to appear.
fn accept_save_dialog(title: &str) -> Result<String> {
    let (window, appeared) = native_dialog(title, "export-dialog.png")?;
    xdotool(&[
        "windowfocus",
        "--sync",
        &window,
        "key",
        "--clearmodifiers",
        "Return",
    ])?;
    Ok(format!("open after {:.1} s", appeared.as_secs_f64()))
}

/// Waits (20 s at most) for the native dialog titled `title`, lets GTK lay it out and
/// photographs the whole screen (`shot`): a native window is out of WebDriver's reach. Returns
/// the window and how long it took to appear.
fn native_dialog(title: &str, shot: &str) -> Result<(String, Duration)> {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(20);
    let window = loop {
        let out = Command::new("xdotool")
            .args(["search", "--name", title])
            .output()
            .context("run xdotool (Debian package xdotool)")?;
        let ids = String::from_utf8_lossy(&out.stdout);
        if let Some(id) = ids.lines().next().filter(|l| !l.trim().is_empty()) {
            break id.trim().to_string();
        }
        if Instant::now() > deadline {
            bail!("no dialog titled {title:?} appeared");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let appeared = started.elapsed();
    // Let GTK finish laying out the dialog before typing into it.
    std::thread::sleep(Duration::from_millis(700));
    let dir = screenshots_dir();
    std::fs::create_dir_all(&dir)?;
    let _ = Command::new("import")
        .args(["-window", "root"])
        .arg(dir.join(shot))
        .status();
    Ok((window, appeared))
}

fn xdotool(args: &[&str]) -> Result<()> {
    let status = Command::new("xdotool").args(args).status()?;
    if !status.success() {
        bail!("xdotool {args:?} failed");
    }
    Ok(())
}

/// Every text cell of an XLSX file's first sheet.
fn xlsx_strings(path: &Path) -> Result<Vec<String>> {
    use calamine::{Reader, Xlsx, open_workbook};
    let mut wb: Xlsx<_> =
        open_workbook(path).with_context(|| format!("open {}", path.display()))?;
    let name = wb.sheet_names()[0].clone();
    let sheet = wb.worksheet_range(&name).context("the first sheet")?;
    Ok(sheet.rows().flatten().map(|c| c.to_string()).collect())
}

fn check_xlsx(path: &Path, date: &str, pair: u64, students: usize) -> Result<()> {
    use calamine::{Data, Reader, Xlsx, open_workbook};
    let mut wb: Xlsx<_> =
        open_workbook(path).with_context(|| format!("open {}", path.display()))?;
    let sheet = wb.worksheet_range("Jurnal").context("the journal sheet")?;
    let header_row = 2u32;
    let prefix = format!("{} p{pair}", dd_mm_yyyy(date));
    let width = sheet.get_size().1 as u32;
    let col = (0..width)
        .find(|&c| matches!(sheet.get_value((header_row, c)), Some(Data::String(s)) if s.starts_with(&prefix)))
        .with_context(|| format!("a column headed {prefix:?}"))?;
    let text = |r: u32| match sheet.get_value((r, col)) {
        Some(Data::String(s)) => s.clone(),
        Some(Data::Float(f)) => f.to_string(),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    let values: Vec<String> = (0..students as u32)
        .map(|i| text(header_row + 1 + i))
        .collect();
    let absent = values.iter().filter(|v| v.as_str() == "NB").count();
    let present = values.iter().filter(|v| v.as_str() == "+").count();
    if values[0] != "NB" || values[2] != "NB" || absent != 2 || present != students - 2 {
        bail!("the exported lesson column reads {values:?}");
    }
    Ok(())
}

/// Answers the system's open dialog titled `title` with `path`: the location bar (Ctrl+L), the
/// path, Enter. The dialog is a native window, out of WebDriver's reach.
fn answer_open_dialog(title: &str, path: &Path) -> Result<String> {
    let (window, appeared) = native_dialog(title, "attach-dialog.png")?;
    xdotool(&[
        "windowfocus",
        "--sync",
        &window,
        "key",
        "--clearmodifiers",
        "ctrl+l",
    ])?;
    std::thread::sleep(Duration::from_millis(300));
    xdotool(&["type", "--delay", "15", &path.display().to_string()])?;
    std::thread::sleep(Duration::from_millis(300));
    xdotool(&["key", "--clearmodifiers", "Return"])?;
    Ok(format!("open after {:.1} s", appeared.as_secs_f64()))
}
