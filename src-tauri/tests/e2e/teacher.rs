//! The teacher: sign in, mark from the keyboard, offline and back, export.

use super::*;

/// Sign in, mark a lesson from the keyboard, restart, keep marking while the server is down,
/// watch the status bar come back to "synced" by itself, and export the journal.
#[test]
fn teacher_marks_offline_and_the_marks_reach_the_server() {
    scenario("teacher scenario", teacher_scenario());
}

async fn teacher_scenario() -> Result<()> {
    let mut steps = Steps::new();
    let mut uni = university()?;
    let journal = uni.journal.clone();
    steps.done("server up, demo university uploaded by the admin CLI");

    let data = uni.dir.join("teacher-app");
    let app = App::launch(&data, &[]).await?;
    app.el("[data-testid=empty-state]").await?;
    steps.done("app started on an empty replica");

    app.click("[data-testid=nav-signin]").await?;
    app.el("[data-testid=signin-form]").await?;
    app.shot("sign-in").await?;
    app.sign_in(&uni.server, TEACHER.0, TEACHER.1).await?;
    app.el(&format!(
        "[data-testid=journal-row][data-journal='{journal}']"
    ))
    .await?;
    app.wait_synced(Duration::from_secs(30)).await?;
    steps.done("signed in as the teacher; the journals arrived");

    app.open_journal(&journal).await?;
    let render_ms = app.js("return window.__daftarPerf.gridRenderMs;").await?;
    let cells = app.js("return window.__daftarPerf.gridCells;").await?;
    steps.note(format!(
        "grid of the opened journal ({cells} cells) rendered in {render_ms} ms"
    ));
    let (c, lesson, date, pair) = app.cursor().await?;
    let students = app.students().await?;
    // Everyone present, then tick rows 1 and 3 as absent, then save: one action.
    app.grid_keys("*").await?;
    app.el("[data-testid=rollcall-bar]").await?;
    let down = key(Key::Down);
    app.grid_keys(" ").await?;
    app.grid_keys(&format!("{down}{down} ")).await?;
    app.shot("grid-rollcall").await?;
    app.grid_keys(&key(Key::Enter)).await?;
    let expect_roll = |col: &[String]| {
        col.len() == students.len()
            && col.iter().enumerate().all(|(r, t)| {
                if r == 0 || r == 2 {
                    t == "NB"
                } else {
                    t == "+"
                }
            })
    };
    app.wait_for(
        "the lesson marked with two absentees",
        Duration::from_secs(10),
        || async { Ok(expect_roll(&app.column(c).await?)) },
    )
    .await?;
    // A lesson without a topic asks for one at once, the module's next preselected: Enter.
    if app
        .js("return !!document.querySelector('[data-testid=topic-popover]');")
        .await?
        == json!(true)
    {
        app.c
            .active_element()
            .await?
            .send_keys(&key(Key::Enter))
            .await?;
        app.wait_for("the topic saved", Duration::from_secs(10), || async {
            Ok(app
                .js(&format!(
                    "return !document.querySelector('[data-testid=topic-popover]') && !document.querySelector('th.lesson[data-c=\"{c}\"] [data-testid=lesson-topic]').classList.contains('empty');"
                ))
                .await?
                == json!(true))
        })
        .await?;
    }
    steps.done("marked a whole lesson with two absentees from the keyboard");

    app.quit().await?;
    let app = App::launch(&data, &uni.app_env(TEACHER)).await?;
    app.open_journal(&journal).await?;
    let col = app.column(c).await?;
    if !expect_roll(&col) {
        bail!("after a restart the lesson shows {col:?}");
    }
    app.wait_synced(Duration::from_secs(30)).await?;
    app.shot("grid").await?;
    steps.done("restarted the app: the marks are there, and synced");

    uni.server.stop();
    let (c2, lesson2, _, _) = app.cursor().await?;
    if c2 == c {
        bail!("the cursor should have moved to the next unmarked lesson");
    }
    let enter = key(Key::Enter);
    app.grid_keys(&format!("nb{enter}")).await?;
    app.grid_keys(&format!("+{enter}")).await?;
    // Late, not excused: only the dean's office excuses (`daftar-rules`).
    app.grid_keys(&format!("l{enter}")).await?;
    app.wait_for("the three marks saved", Duration::from_secs(20), || async {
        let col = app.column(c2).await?;
        Ok(col.len() >= 3 && col[0] == "NB" && col[1] == "+" && col[2] == "K")
    })
    .await?;
    app.wait_for(
        "offline with changes waiting",
        Duration::from_secs(30),
        || async {
            let (state, waiting, _) = app.status().await?;
            Ok(state == "offline" && waiting >= 3)
        },
    )
    .await?;
    let (_, waiting, text) = app.status().await?;
    steps.note(format!(
        "status bar while offline: {text:?} ({waiting} waiting)"
    ));
    app.shot("grid-offline").await?;
    steps.done(
        "server stopped: marked three more cells; the status shows offline and the waiting count",
    );

    uni.server.restart()?;
    app.wait_synced(Duration::from_secs(40)).await?;
    steps.done("server back: the status returned to synced without a click");

    uni.admin.sync();
    let view = uni.admin.json(&["show", &journal]);
    for (r, want) in [(0usize, "a"), (1, "p"), (2, "l")] {
        let got = cell(&view, &lesson2, &students[r]).map(|c| c["status"].clone());
        if got != Some(json!(want)) {
            bail!("the CLI sees {got:?} for row {r} of lesson {lesson2}, expected {want}");
        }
    }
    for (r, s) in students.iter().enumerate() {
        let want = if r == 0 || r == 2 { "a" } else { "p" };
        let got = cell(&view, &lesson, s).map(|c| c["status"].clone());
        if got != Some(json!(want)) {
            bail!("the CLI sees {got:?} for row {r} of lesson {lesson}, expected {want}");
        }
    }
    steps.done("the admin CLI synced and sees every mark");

    app.click("[data-nav=reports]").await?;
    app.el("[data-testid=report-journal]")
        .await?
        .select_by_value(&journal)
        .await?;
    app.el("[data-testid=hours-chart]").await?;
    let xlsx = uni.dir.join("export").join("journal.xlsx");
    app.type_into("[data-testid=export-path]", &xlsx.display().to_string())
        .await?;
    app.click("[data-testid=export-xlsx]").await?;
    app.el("[data-testid=export-path-result]").await?;
    app.shot("reports").await?;
    check_xlsx(&xlsx, &date, pair, students.len())?;
    steps.done("exported XLSX from the reports screen; calamine reads the marks back");

    // Without a typed path the system's save dialog asks where, in the export folder, with
    // <group>_<subject>.xlsx filled in: accept it with Enter (xdotool types into the dialog).
    let title = catalogue_text("uz-Latn", "reports.saveTitle")?;
    app.js("document.querySelector('[data-testid=export-path]').value = ''; return true;")
        .await?;
    app.click("[data-testid=export-xlsx]").await?;
    let accepted = tokio::task::spawn_blocking(move || accept_save_dialog(&title)).await??;
    app.wait_for("the export saved through the dialog", Duration::from_secs(20), || async {
        let shown = app
            .js("const e = document.querySelector('[data-testid=export-path-result]'); return e ? e.textContent : '';")
            .await?;
        Ok(shown.as_str().is_some_and(|p| p.ends_with(".xlsx")))
    })
    .await?;
    let saved = app
        .js("return document.querySelector('[data-testid=export-path-result]').textContent;")
        .await?;
    let saved = PathBuf::from(saved.as_str().unwrap_or_default());
    let name = saved
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let group = app
        .js("return document.querySelector('[data-testid=report-journal] option:checked').textContent.split(' — ')[0];")
        .await?;
    let folder = app
        .js("return JSON.parse(document.querySelector('[data-i18n=\"reports.exportHint\"]').getAttribute('data-i18n-args')).dir;")
        .await?;
    if !name.starts_with(&format!("{}_", group.as_str().unwrap_or("?")))
        || saved.parent() != Some(Path::new(folder.as_str().unwrap_or("?")))
    {
        bail!("the dialog saved {saved:?}; expected <group>_<subject>.xlsx in {folder}");
    }
    check_xlsx(&saved, &date, pair, students.len())?;
    steps.done(&format!(
        "the save dialog ({accepted}) suggested {name} in the export folder; calamine reads it back"
    ));

    // The statement (qaydnoma) to print and sign, in the UI's Uzbek script, read back.
    for (lang, title, signature) in [
        ("uz-Latn", "REYTING QAYDNOMASI", "Fakultet dekani:"),
        ("uz-Cyrl", "РЕЙТИНГ ҚАЙДНОМАСИ", "Факултет декани:"),
    ] {
        app.el("[data-testid=language]")
            .await?
            .select_by_value(lang)
            .await?;
        app.wait_for("the language switch", Duration::from_secs(5), || async {
            Ok(app.js("return document.documentElement.lang;").await? == json!(lang))
        })
        .await?;
        let file = uni.dir.join("export").join(format!("qaydnoma-{lang}.xlsx"));
        app.js("document.querySelector('[data-testid=export-path]').value = ''; return true;")
            .await?;
        app.type_into("[data-testid=export-path]", &file.display().to_string())
            .await?;
        app.click("[data-testid=export-statement]").await?;
        // Written once the app shows where it saved it.
        let want = file.display().to_string();
        app.wait_for("the statement", Duration::from_secs(10), || async {
            let shown = app
                .js("const e = document.querySelector('[data-testid=export-path-result]'); return e ? e.textContent : '';")
                .await?;
            Ok(shown == json!(want))
        })
        .await?;
        let cells = xlsx_strings(&file)?;
        let header = catalogue_text(lang, "reports.statement")?;
        let shown = app
            .el("[data-testid=export-statement]")
            .await?
            .text()
            .await?;
        if !shown.contains(&header) {
            bail!("the statement button reads {shown:?}, the catalogue says {header:?}");
        }
        for needle in [title, signature] {
            if !cells.iter().any(|c| c.contains(needle)) {
                bail!("the {lang} statement has no {needle:?}: {cells:?}");
            }
        }
        // The same statement as a PDF, read back by poppler's pdftotext.
        let pdf = file.with_extension("pdf");
        app.js("document.querySelector('[data-testid=export-path]').value = ''; return true;")
            .await?;
        app.type_into("[data-testid=export-path]", &pdf.display().to_string())
            .await?;
        app.click("[data-testid=export-statement-pdf]").await?;
        let want = pdf.display().to_string();
        app.wait_for("the PDF statement", Duration::from_secs(10), || async {
            let shown = app
                .js("const e = document.querySelector('[data-testid=export-path-result]'); return e ? e.textContent : '';")
                .await?;
            Ok(shown == json!(want))
        })
        .await?;
        let out = std::process::Command::new("pdftotext")
            .args(["-layout", "-enc", "UTF-8"])
            .arg(&pdf)
            .arg("-")
            .output()?;
        let text = String::from_utf8_lossy(&out.stdout);
        for needle in [title, signature] {
            if !text.contains(needle) {
                bail!("the {lang} PDF statement has no {needle:?}: {text}");
            }
        }
        app.shot(&format!("reports-statement-{lang}")).await?;
    }
    app.el("[data-testid=language]")
        .await?
        .select_by_value("uz-Latn")
        .await?;
    steps.done("statements (12-shakl) written from the reports screen in uz-Latn and uz-Cyrl, as XLSX and PDF; calamine and pdftotext read the form's title and signature lines");

    app.quit().await?;
    steps.finish("teacher_marks_offline_and_the_marks_reach_the_server");
    Ok(())
}
