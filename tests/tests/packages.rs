//! The installable packages: `scripts/package.sh --debug` builds the server's and the desktop
//! app's `.deb` from the test build; they install with dpkg, the server starts as its systemd
//! unit says (as the `daftar` user, with the packaged configuration) and answers, and removing
//! them keeps the data.
//!
//! It installs into this machine's system, so it runs only when asked (`--ignored`), as root;
//! `scripts/test.sh` runs it after the other tests.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd} runs: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port")
}

#[test]
#[ignore = "installs packages into this machine: scripts/test.sh runs it as root"]
fn packages_install_start_and_remove_cleanly() {
    assert_eq!(run("id", &["-u"]).trim(), "0", "dpkg -i needs root");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = tempfile::tempdir().expect("tempdir");
    let out_dir = out.path().to_str().expect("path");
    run(
        "bash",
        &[
            repo.join("scripts/package.sh").to_str().expect("path"),
            "--debug",
            "--out",
            out_dir,
        ],
    );
    let server_deb = out.path().join("daftar-sync_0.1.0_amd64.deb");
    let desktop_deb = out.path().join("Daftar_0.1.0_amd64.deb");
    let server_deb = server_deb.to_str().expect("path");
    let desktop_deb = desktop_deb.to_str().expect("path");

    let info = run("dpkg-deb", &["--info", server_deb]);
    assert!(info.contains("Package: daftar-sync"), "{info}");
    assert!(info.contains("Depends: adduser"), "{info}");
    let contents = run("dpkg-deb", &["--contents", server_deb]);
    for path in [
        "./usr/bin/daftar-sync",
        "./lib/systemd/system/daftar-sync.service",
        "./etc/daftar-sync/config.toml",
        "./usr/share/doc/daftar-sync/operations.md",
    ] {
        assert!(contents.contains(path), "{path} in the package: {contents}");
    }

    // Install: the user and the data folder exist, the configuration is not world-readable.
    let _ = Command::new("dpkg")
        .args(["--purge", "daftar-sync"])
        .status();
    run("dpkg", &["-i", server_deb]);
    assert!(run("getent", &["passwd", "daftar"]).starts_with("daftar:"));
    assert_eq!(
        run("stat", &["-c", "%U %a", "/var/lib/daftar-sync"]).trim(),
        "daftar 750"
    );
    assert_eq!(
        run("stat", &["-c", "%U:%G %a", "/etc/daftar-sync/config.toml"]).trim(),
        "root:daftar 640"
    );
    if Path::new("/usr/bin/systemd-analyze").exists() {
        let verify = Command::new("systemd-analyze")
            .args(["verify", "/lib/systemd/system/daftar-sync.service"])
            .output()
            .expect("systemd-analyze");
        let said = String::from_utf8_lossy(&verify.stderr);
        assert!(
            !said.contains("daftar-sync.service:"),
            "the unit has problems: {said}"
        );
    }

    // Start it the way the unit does: its user, its environment, its command.
    let unit = std::fs::read_to_string("/lib/systemd/system/daftar-sync.service").expect("unit");
    let field = |key: &str| -> Vec<String> {
        unit.lines()
            .filter_map(|l| l.strip_prefix(&format!("{key}=")))
            .map(str::to_owned)
            .collect()
    };
    let user = field("User").pop().expect("User=");
    let exec = field("ExecStart").pop().expect("ExecStart=");
    let mut argv: Vec<&str> = exec.split_whitespace().collect();
    let program = argv.remove(0);
    let port = free_port();
    // setpriv execs the program as the user (no parent left in between, as under systemd),
    // so SIGTERM reaches the server itself.
    let mut cmd = Command::new("setpriv");
    cmd.args([
        "--reuid",
        &user,
        "--regid",
        &user,
        "--init-groups",
        "--",
        program,
    ])
    .args(&argv);
    for env in field("Environment") {
        let (k, v) = env.split_once('=').expect("KEY=value");
        cmd.env(k, v);
    }
    // The packaged file says 127.0.0.1:8787; the environment layer moves it off any port
    // already taken here.
    cmd.env("DAFTAR_SYNC_LISTEN", format!("127.0.0.1:{port}"));
    let mut server = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("daftar-sync starts");
    let deadline = Instant::now() + Duration::from_secs(20);
    let health = loop {
        // No curl on a fresh Debian: the tests' own HTTP client.
        if let Some(body) = daftar_tests::http_get(port, "/healthz")
            .ok()
            .filter(|b| b.contains("\"status\""))
        {
            break body;
        }
        assert!(
            Instant::now() < deadline,
            "the installed server did not answer"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(health.contains("\"ok\""), "{health}");
    assert_eq!(
        run("stat", &["-c", "%U", "/var/lib/daftar-sync/server.db"]).trim(),
        "daftar",
        "the database belongs to the service's user"
    );
    let _ = Command::new("kill").arg(server.id().to_string()).status();
    let stopped = server.wait().expect("wait");
    assert!(stopped.success(), "SIGTERM stops it cleanly: {stopped}");

    // Remove and purge keep the data and the user (a reinstall finds its database as it was).
    run("dpkg", &["-r", "daftar-sync"]);
    assert!(!Path::new("/usr/bin/daftar-sync").exists());
    assert!(Path::new("/var/lib/daftar-sync/server.db").exists());
    run("dpkg", &["--purge", "daftar-sync"]);
    assert!(
        !Path::new("/etc/daftar-sync/config.toml").exists(),
        "purge removes the configuration"
    );
    assert!(Path::new("/var/lib/daftar-sync/server.db").exists());
    run("dpkg", &["-i", server_deb]);
    assert_eq!(
        run("stat", &["-c", "%U", "/var/lib/daftar-sync/server.db"]).trim(),
        "daftar",
        "a reinstall finds its database owned by its user"
    );
    run("dpkg", &["--purge", "daftar-sync"]);
    let _ = std::fs::remove_dir_all("/var/lib/daftar-sync");

    // The desktop app.
    let info = run("dpkg-deb", &["--info", desktop_deb]);
    assert!(info.contains("Depends: libwebkit2gtk-4.1-0"), "{info}");
    run("dpkg", &["-i", desktop_deb]);
    assert!(Path::new("/usr/bin/daftar-desktop").exists());
    let entry = std::fs::read_to_string("/usr/share/applications/Daftar.desktop").expect("entry");
    assert!(entry.contains("Exec=daftar-desktop"), "{entry}");
    run("dpkg", &["--purge", "daftar"]);
    assert!(!Path::new("/usr/bin/daftar-desktop").exists());
}
