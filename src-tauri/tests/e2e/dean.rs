//! The dean's office: the conflict inbox, adjustments, locks, openings, statements, translations.

use super::*;

/// Two clients mark one cell differently; the dean's office sees both values in the app's
/// inbox, resolves it there, and the other clients converge. Then the journal screen is checked
/// in Uzbek Cyrillic and Russian against the catalogue.
#[test]
fn dean_resolves_a_conflict_in_the_app_and_clients_converge() {
    scenario("dean scenario", dean_scenario());
}

async fn dean_scenario() -> Result<()> {
    let mut steps = Steps::new();
    let mut uni = university()?;
    let journal = uni.journal.clone();
    let teacher = uni.cli("teacher-cli", TEACHER);
    teacher.sync();
    let view = teacher.json(&["show", &journal]);
    let lesson = view["lessons"][0]["id"]
        .as_str()
        .context("a lesson")?
        .to_string();
    let student = view["students"][3]["id"]
        .as_str()
        .context("a student")?
        .to_string();
    teacher.ok(&["mark", &journal, &lesson, &student, "nb"]);
    uni.admin.ok(&["mark", &journal, &lesson, &student, "e"]);
    // The dean's office also excused an absence and closed a lesson.
    let closed = view["lessons"][1]["id"]
        .as_str()
        .context("a lesson")?
        .to_string();
    let excused = view["students"][5]["id"]
        .as_str()
        .context("a student")?
        .to_string();
    uni.admin.ok(&["mark", &journal, &closed, &excused, "nb"]);
    uni.admin.ok(&[
        "adjust",
        &journal,
        &closed,
        &excused,
        "--to",
        "excused",
        "--reason",
        "Tibbiy maʼlumotnoma 0412",
    ]);
    uni.admin.ok(&[
        "lock",
        &journal,
        "--lesson",
        &closed,
        "--reason",
        "Muddat oʻtdi",
    ]);
    teacher.sync();
    uni.admin.sync();
    let inbox = uni.admin.json(&["conflicts"]);
    if inbox.as_array().map(Vec::len) != Some(1) {
        bail!("two offline edits of one cell should make one conflict: {inbox}");
    }
    steps.done("the teacher CLI and the admin CLI marked one cell differently and synced");

    let app = App::launch(&uni.dir.join("dean-app"), &[]).await?;
    app.sign_in(&uni.server, DEAN.0, DEAN.1).await?;
    app.el(&format!(
        "[data-testid=journal-row][data-journal='{journal}']"
    ))
    .await?;
    app.wait_synced(Duration::from_secs(30)).await?;
    app.click("[data-nav=inbox]").await?;
    app.el("[data-testid=conflict-card]").await?;
    let options = app
        .js("return Array.from(document.querySelectorAll('[data-testid=conflict-option]')).map(o => o.innerText);")
        .await?;
    let options: Vec<String> = serde_json::from_value(options)?;
    if options.len() != 2
        || !options.iter().any(|o| o.contains(TEACHER.0))
        || !options.iter().any(|o| o.contains("admin"))
    {
        bail!("the inbox should show both values with their authors: {options:?}");
    }
    app.shot("inbox").await?;
    steps.done("signed in as the dean's office: the conflict is in the inbox with both values");

    // Decide against the teacher: the admin's E (excused) stands.
    let pick = options
        .iter()
        .position(|o| o.contains("admin"))
        .context("the admin's value")?
        + 1;
    app.click(&format!(
        "[data-testid=conflict-option][data-index='{pick}']"
    ))
    .await?;
    app.type_into(
        "[data-testid=conflict-note]",
        "Tibbiy maʼlumotnoma yoʻq: sababsiz",
    )
    .await?;
    app.click("[data-testid=conflict-resolve]").await?;
    app.el("[data-testid=inbox-empty]").await?;
    app.wait_synced(Duration::from_secs(30)).await?;
    steps.done("resolved it in the app (the admin's E over the teacher's NB, with a note)");

    uni.admin.sync();
    teacher.sync();
    for (who, c) in [("admin", &uni.admin), ("teacher", &teacher)] {
        let left = c.json(&["conflicts"]);
        if left.as_array().map(Vec::len) != Some(0) {
            bail!("the {who} CLI still has conflicts: {left}");
        }
        let view = c.json(&["show", &journal]);
        let got = cell(&view, &lesson, &student).map(|c| c["status"].clone());
        if got != Some(json!("e")) {
            bail!("the {who} CLI sees {got:?} for the resolved cell");
        }
    }
    if uni.admin.ok(&["--json", "show", &journal]) != teacher.ok(&["--json", "show", &journal]) {
        bail!("the admin and the teacher did not converge");
    }
    steps.done("both CLI clients converged on the decision");

    app.open_journal(&journal).await?;
    // The adjustment shows beside the teacher's mark; the closed lesson is read-only with its reason.
    let c = app
        .js(&format!("return Number(document.querySelector(\"th.lesson[data-lesson='{closed}']\").getAttribute('data-c'));"))
        .await?
        .as_u64()
        .context("the closed lesson's column")?;
    let shown = app
        .js(&format!(
            "const th = document.querySelector(\"th.lesson[data-lesson='{closed}']\");
             const td = document.querySelector(\"tr[data-student='{excused}'] td.c[data-c='{c}']\");
             return [th.classList.contains('locked'), th.querySelector('.l-lock').title,
                     td.classList.contains('adjusted'), td.querySelector('.orig').textContent, td.textContent, td.title];"
        ))
        .await?;
    if shown
        != json!([
            true,
            "Muddat oʻtdi",
            true,
            "NB",
            "NBS",
            "Tibbiy maʼlumotnoma 0412"
        ])
    {
        bail!("the closed lesson and the adjusted cell show {shown}");
    }
    let before = app.column(c as usize).await?;
    // Early lessons sit behind the sticky name column when the grid is scrolled right.
    app.js("document.querySelector('[data-testid=grid-scroll]').scrollLeft = 0; return true;")
        .await?;
    app.click(&format!("tr[data-student='{excused}'] td.c[data-c='{c}']"))
        .await?;
    app.grid_keys(&format!("+{}", key(Key::Enter))).await?;
    app.wait_for("the locked-lesson message", Duration::from_secs(5), || async {
        Ok(app
            .js("return Array.from(document.querySelectorAll('.toast')).some(t => t.innerText.includes('Muddat'));")
            .await?
            == json!(true))
    })
    .await?;
    if app.column(c as usize).await? != before {
        bail!("typing into a closed lesson changed it");
    }
    steps.done("the grid shows the dean's adjustment beside the teacher's mark and keeps a closed lesson read-only");

    for lang in ["uz-Cyrl", "ru"] {
        app.el("[data-testid=language]")
            .await?
            .select_by_value(lang)
            .await?;
        app.wait_for("the language switch", Duration::from_secs(5), || async {
            Ok(app.js("return document.documentElement.lang;").await? == json!(lang))
        })
        .await?;
        let (checked, problems) = audit_translations(&app, lang).await?;
        if !problems.is_empty() {
            bail!("the journal screen in {lang} has untranslated or wrong strings: {problems:#?}");
        }
        steps.note(format!(
            "{lang}: {checked} translated strings match the catalogue, none untranslated"
        ));
        app.shot(&format!("grid-{lang}")).await?;
    }
    app.el("[data-testid=language]")
        .await?
        .select_by_value("uz-Latn")
        .await?;
    steps.done("journal screen in uz-Cyrl and ru: every string from the catalogue");

    // Two academic debtors, entered by the office's CLI: one not admitted to the final (every
    // JN and ON in, too few points), one admitted and absent from it.
    let shown_view = uni.admin.json(&["show", &journal]);
    let ids: Vec<String> = shown_view["students"]
        .as_array()
        .context("students")?
        .iter()
        .filter(|s| s["status"] == "active")
        .filter_map(|s| s["id"].as_str().map(str::to_string))
        .collect();
    let (low, away) = (ids[ids.len() - 1].clone(), ids[ids.len() - 2].clone());
    for (control, points) in [("JN", "5"), ("ON1", "3"), ("ON2", "2")] {
        uni.admin.ok(&["score", &journal, control, &low, points]);
    }
    for (control, points) in [("JN", "35"), ("ON1", "12"), ("ON2", "12")] {
        uni.admin.ok(&["score", &journal, control, &away, points]);
    }
    uni.admin.ok(&["score", &journal, "YN", &away, "kelmadi"]);
    uni.admin.sync();
    app.click("[data-testid=sync-now]").await?;
    app.wait_synced(Duration::from_secs(30)).await?;

    // The dean's office's semester view: every subject's hours summed per student, the same
    // numbers the CLI computes, in uz-Latn and uz-Cyrl.
    app.click("[data-nav=reports]").await?;
    app.el("[data-testid=semester-table]").await?;
    let rows = app
        .js("return [...document.querySelectorAll('[data-testid=semester-row]')].map((r) => [r.cells[0].textContent, r.cells[1].textContent, Number(r.cells[2].textContent)]);")
        .await?;
    let rows = rows.as_array().cloned().unwrap_or_default();
    if rows.is_empty() {
        bail!("the semester view lists nobody at a warning or worse");
    }
    uni.admin.sync();
    let cli = uni.admin.json(&["standing"]);
    for row in &rows {
        let found = cli.as_array().into_iter().flatten().any(|s| {
            s["name"] == row[0] && s["group_name"] == row[1] && s["unexcused_hours"] == row[2]
        });
        if !found {
            bail!("the app shows {row} but the CLI's standing has no such row");
        }
    }
    app.el("[data-testid=semester-chart]").await?;
    // The academic debtors, as the CLI lists them.
    app.el("[data-testid=debtors-card]").await?;
    let shown = app
        .js("return [...document.querySelectorAll('[data-testid=debtor-row]')].map((r) => [r.dataset.student, r.dataset.debt]);")
        .await?;
    let shown = shown.as_array().cloned().unwrap_or_default();
    let debtors = uni.admin.json(&["debtors"]);
    let listed = debtors.as_array().cloned().unwrap_or_default();
    let has = |who: &str, debt: &str| shown.iter().any(|r| r[0] == who && r[1] == debt);
    if !has(&low, "not_admitted") || !has(&away, "absent") {
        bail!("the app's debtors {shown:?} lack the not-admitted and the absent student");
    }
    if shown.len() != listed.len()
        || !listed.iter().all(|d| {
            shown
                .iter()
                .any(|r| r[0] == d["student"] && r[1] == d["assessment"]["outcome"]["debt"])
        })
    {
        bail!("the app lists debtors {shown:?}, the CLI {listed:?}");
    }
    steps.note(format!(
        "academic debtors: {} as the CLI lists them",
        shown.len()
    ));
    app.shot("semester-standing-uz-Latn").await?;
    app.el("[data-testid=language]")
        .await?
        .select_by_value("uz-Cyrl")
        .await?;
    app.wait_for("the language switch", Duration::from_secs(5), || async {
        Ok(app.js("return document.documentElement.lang;").await? == json!("uz-Cyrl"))
    })
    .await?;
    let (checked, problems) = audit_translations(&app, "uz-Cyrl").await?;
    if !problems.is_empty() {
        bail!("the reports screen in uz-Cyrl has untranslated or wrong strings: {problems:#?}");
    }
    app.shot("semester-standing-uz-Cyrl").await?;
    app.el("[data-testid=language]")
        .await?
        .select_by_value("uz-Latn")
        .await?;
    steps.done(&format!(
        "semester standing: {} students listed as the CLI computes them; uz-Cyrl: {checked} strings from the catalogue",
        rows.len()
    ));
    app.quit().await?;

    // The teacher signs in on a computer of their own: the decision against their NB is on
    // My journals and on the cell, with who decided, when and why.
    let app = App::launch(&uni.dir.join("teacher-app"), &[]).await?;
    app.sign_in(&uni.server, TEACHER.0, TEACHER.1).await?;
    app.el(&format!(
        "[data-testid=overruled-row][data-lesson='{lesson}'][data-student='{student}']"
    ))
    .await?;
    app.wait_synced(Duration::from_secs(30)).await?;
    let row = app
        .js(&format!(
            "const tr = document.querySelector(\"[data-testid=overruled-row][data-lesson='{lesson}'][data-student='{student}']\");
             return Array.from(tr.querySelectorAll('td')).map(td => td.textContent);"
        ))
        .await?;
    let row: Vec<String> = serde_json::from_value(row)?;
    if row.len() != 8
        || row[3] != "NB"
        || row[4] != "S"
        || row[5] != DEAN.0
        || !row[7].contains("sababsiz")
        || row[2].len() != 10
    {
        bail!("the teacher's list of changed marks shows {row:?}");
    }
    app.shot("journals-overruled").await?;
    steps
        .done("the teacher signed in: My journals lists the overruled NB → S by the dean's office");

    app.open_journal(&journal).await?;
    let marked = app
        .js(&format!(
            "const td = document.querySelector(\"tr[data-student='{student}'] td.c[data-c='0']\");
             const th = document.querySelector(\"th.lesson[data-c='0']\");
             return [th.getAttribute('data-lesson'), td.classList.contains('overruled'), td.textContent,
                     td.title, td.getAttribute('aria-label') || '',
                     document.querySelectorAll('[data-testid=overruled-item]').length,
                     document.querySelector('[data-testid=overruled-banner]').textContent];"
        ))
        .await?;
    let text = |i: usize| marked[i].as_str().unwrap_or_default().to_string();
    if text(0) != lesson
        || marked[1] != json!(true)
        || text(2) != "S"
        || !text(3).contains("NB")
        || !text(3).contains(DEAN.0)
        || !text(3).contains("sababsiz")
        || !text(4).contains(DEAN.0)
        || marked[5] != json!(1)
    {
        bail!("the overruled cell shows {marked}");
    }
    // Where the grid opened (the first lesson not yet marked): the offline grade goes there.
    let (c, open_lesson, _, _) = app.cursor().await?;
    let first = app.students().await?[0].clone();
    // The overruled cell is in the first lesson: show it, with the cursor on it.
    app.click_cell(
        app.students()
            .await?
            .iter()
            .position(|s| *s == student)
            .context("the student's row")?,
        0,
    )
    .await?;
    app.shot("grid-overruled").await?;
    app.el("[data-testid=language]")
        .await?
        .select_by_value("uz-Cyrl")
        .await?;
    app.wait_for("the language switch", Duration::from_secs(5), || async {
        Ok(app.js("return document.documentElement.lang;").await? == json!("uz-Cyrl"))
    })
    .await?;
    let (checked, problems) = audit_translations(&app, "uz-Cyrl").await?;
    if !problems.is_empty() {
        bail!(
            "the teacher's journal screen in uz-Cyrl has untranslated or wrong strings: {problems:#?}"
        );
    }
    let cyrillic = app
        .js(&format!(
            "return [document.querySelector('[data-testid=overruled-decided]').textContent,
                     document.querySelector(\"tr[data-student='{student}'] td.c[data-c='0']\").title];"
        ))
        .await?;
    let tooltip = cyrillic[1].as_str().unwrap_or_default();
    if cyrillic[0] != json!("С") || !tooltip.contains("ўзгартирди") || !tooltip.contains("НБ")
    {
        bail!("the decided value and the cell's tooltip in uz-Cyrl read {cyrillic}");
    }
    app.el("[data-testid=language]")
        .await?
        .select_by_value("uz-Latn")
        .await?;
    steps.done(&format!(
        "the grid marks the overruled cell (tooltip and label name the dean's office and the note); uz-Cyrl: {checked} strings from the catalogue"
    ));

    // Signing out with a change the server has not seen: the count, and nothing is lost.
    uni.server.stop();
    app.click_cell(0, c).await?;
    app.grid_keys(&format!("77{}", key(Key::Enter))).await?;
    app.wait_for(
        "the offline grade saved",
        Duration::from_secs(10),
        || async {
            Ok(app
                .js(&format!(
                    "const td = document.querySelector('td.c[data-r=\"0\"][data-c=\"{c}\"]');
                 return td.textContent === '77' && !td.classList.contains('saving');"
                ))
                .await?
                == json!(true))
        },
    )
    .await?;
    app.click("[data-testid=user-box-signout]").await?;
    let count = app
        .el("[data-testid=signout-count]")
        .await?
        .attr("data-count")
        .await?
        .unwrap_or_default();
    if count.parse::<u32>().unwrap_or(0) < 1 {
        bail!("the sign-out warning counts {count:?} waiting changes");
    }
    app.shot("signout-unsent").await?;
    app.click("[data-testid=signout-keep]").await?;
    app.el("[data-testid=signin-waiting]").await?;
    steps.done(&format!(
        "signing out offline warned about {count} unsent change(s); kept them and signed out"
    ));

    uni.server.restart()?;
    app.type_into("[data-testid=signin-server]", &uni.server.url())
        .await?;
    app.type_into("[data-testid=signin-user]", TEACHER.0)
        .await?;
    app.type_into("[data-testid=signin-password]", TEACHER.1)
        .await?;
    app.click("[data-testid=signin-submit]").await?;
    app.el("[data-testid=journals-table]").await?;
    app.wait_synced(Duration::from_secs(40)).await?;
    teacher.sync();
    let view = teacher.json(&["show", &journal]);
    let got = cell(&view, &open_lesson, &first).map(|c| c["grade"].clone());
    if got != Some(json!(77)) {
        bail!("after signing in again the teacher CLI sees {got:?}, expected the kept grade 77");
    }
    steps.done("signed in again: the kept change reached the server");

    // Offline again with a new grade: the warning's count follows the status and, once the
    // server is back, "Send them first" signs out with nothing left behind.
    uni.server.stop();
    app.open_journal(&journal).await?;
    app.click_cell(1, c).await?;
    app.grid_keys(&format!("66{}", key(Key::Enter))).await?;
    app.wait_for(
        "the second offline grade saved",
        Duration::from_secs(10),
        || async {
            Ok(app
                .js(&format!(
                    "const td = document.querySelector('td.c[data-r=\"1\"][data-c=\"{c}\"]');
                 return td.textContent === '66' && !td.classList.contains('saving');"
                ))
                .await?
                == json!(true))
        },
    )
    .await?;
    app.click("[data-testid=user-box-signout]").await?;
    app.el("[data-testid=signout-dialog]").await?;
    uni.server.restart()?;
    app.wait_for("the warning's count at 0 once the server is back", Duration::from_secs(40), || async {
        Ok(app
            .js("return document.querySelector('[data-testid=signout-count]').getAttribute('data-count');")
            .await?
            == json!("0"))
    })
    .await?;
    app.click("[data-testid=signout-sync]").await?;
    app.el("[data-testid=signin-form]").await?;
    let left = app
        .js("return [!!document.querySelector('[data-testid=signout-dialog]'), !!document.querySelector('[data-testid=signin-waiting]')];")
        .await?;
    if left != json!([false, false]) {
        bail!("after sending and signing out: dialog open, waiting note shown = {left}");
    }
    teacher.sync();
    let view = teacher.json(&["show", &journal]);
    let got = view["cells"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["lesson"] == json!(open_lesson) && c["grade"] == json!(66));
    if !got {
        bail!("the teacher CLI does not see the grade 66 sent before signing out");
    }
    steps.done("offline warning followed the status to 0 when the server came back; \"send first\" signed out with everything sent");

    // Signed out on a shared computer: the teacher's journals stay stored, but none is shown.
    app.click("[data-nav=journals]").await?;
    app.el("[data-testid=kept-for-others]").await?;
    let rows = app
        .js("return document.querySelectorAll('[data-testid=journal-row]').length + (document.querySelector('[data-testid=load-demo]') ? 100 : 0);")
        .await?;
    if rows != json!(0) {
        bail!(
            "signed out, the journals screen shows {rows} rows (100+: offers demo data over kept journals)"
        );
    }
    steps.done("signed out: My journals shows none of the teacher's journals, only that they are kept here");

    // Another person on the same computer: the dean's office signs in here. The app writes as
    // a new device and gets everything the dean may read, not only the teacher's journal.
    app.sign_in(&uni.server, DEAN.0, DEAN.1).await?;
    app.wait_for(
        "the faculty's journals",
        Duration::from_secs(40),
        || async {
            Ok(app
                .js("return document.querySelectorAll('[data-testid=journal-row]').length;")
                .await?
                .as_u64()
                .unwrap_or(0)
                > 1)
        },
    )
    .await?;
    app.wait_synced(Duration::from_secs(30)).await?;
    app.open_journal(&journal).await?;
    let r = app
        .students()
        .await?
        .iter()
        .position(|s| *s == first)
        .context("the first student's row")?;
    app.click_cell(r, c).await?;
    app.click("[data-testid=open-adjust]").await?;
    app.el("[data-testid=adjust-to]")
        .await?
        .select_by_value("l")
        .await?;
    app.type_into("[data-testid=adjust-reason]", "Transport kechikdi")
        .await?;
    app.click("[data-testid=adjust-save]").await?;
    app.wait_for("the adjustment on screen", Duration::from_secs(10), || async {
        Ok(app
            .js(&format!(
                "return document.querySelector(\"tr[data-student='{first}'] td.c[data-c='{c}']\").classList.contains('adjusted');"
            ))
            .await?
            == json!(true))
    })
    .await?;
    app.wait_synced(Duration::from_secs(30)).await?;
    uni.admin.sync();
    let view = uni.admin.json(&["show", &journal]);
    let adjusted = cell(&view, &open_lesson, &first)
        .map(|c| (c["adjusted_to"].clone(), c["adjustment_reason"].clone()));
    if adjusted != Some((json!("l"), json!("Transport kechikdi"))) {
        bail!("the admin CLI sees {adjusted:?} for the dean's adjustment");
    }
    steps.done("the dean's office signed in on the teacher's computer (a new device): the faculty's journals arrived and its adjustment reached the server");

    // The teacher signs in here again: the grid offers no adjust or lock actions, and the
    // cell's history (F4) names the dean's office for the adjustment, from the server's record.
    app.click("[data-testid=user-box-signout]").await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    if app
        .js("return !!document.querySelector('[data-testid=signout-dialog]');")
        .await?
        == json!(true)
    {
        app.click("[data-testid=signout-sync]").await?;
    }
    app.el("[data-testid=signin-form]").await?;
    app.type_into("[data-testid=signin-server]", &uni.server.url())
        .await?;
    app.type_into("[data-testid=signin-user]", TEACHER.0)
        .await?;
    app.type_into("[data-testid=signin-password]", TEACHER.1)
        .await?;
    app.click("[data-testid=signin-submit]").await?;
    app.el("[data-testid=journals-table]").await?;
    app.wait_synced(Duration::from_secs(40)).await?;
    app.open_journal(&journal).await?;
    let dean_actions = app
        .js("return [!!document.querySelector('[data-testid=open-adjust]'), !!document.querySelector('[data-testid=open-lock]')];")
        .await?;
    if dean_actions != json!([false, false]) {
        bail!("the teacher's grid shows adjust/lock actions: {dean_actions}");
    }
    let r = app
        .students()
        .await?
        .iter()
        .position(|s| *s == first)
        .context("the first student's row")?;
    app.click_cell(r, c).await?;
    app.grid_keys(&key(Key::F4)).await?;
    let want = json!([[DEAN.0, "true"]]);
    app.wait_for(
        "the cell's history with the dean's adjustment",
        Duration::from_secs(15),
        || async {
            Ok(app
                .js("return Array.from(document.querySelectorAll('[data-testid=history-item][data-part=adjustments]')).map(e => [e.dataset.user, e.dataset.verified]);")
                .await?
                == want)
        },
    )
    .await?;
    let marks = app
        .js("return Array.from(document.querySelectorAll('[data-testid=history-item][data-part=marks]')).map(e => [e.dataset.user, e.dataset.verified]);")
        .await?;
    if !marks
        .as_array()
        .is_some_and(|m| m.iter().any(|u| *u == json!([TEACHER.0, "true"])))
    {
        bail!("the cell's history shows marks by {marks}, none by the teacher (verified)");
    }
    app.shot("cell-history").await?;
    app.grid_keys(&key(Key::Escape)).await.ok();
    app.js("document.querySelectorAll('[data-testid=history-popover]').forEach(p => p.remove()); return true;")
        .await?;
    steps.done("the teacher signed in again: no adjust/lock actions; F4 on the cell shows the dean's adjustment by the dean's office (server-verified) and the teacher's own marks");

    // A late edit: the dean's office (its CLI) closes a lesson while the teacher's CLI, which
    // has not seen that, changes a mark in it. The app keeps showing the value the lock froze
    // (the late value is in the cell's history) until the office accepts the amendment.
    let dean_cli = uni.cli("dean-cli", DEAN);
    let late_lesson = view["lessons"][2]["id"]
        .as_str()
        .context("a third lesson")?
        .to_string();
    let late_student = view["students"][1]["id"]
        .as_str()
        .context("a second student")?
        .to_string();
    teacher.ok(&["mark", &journal, &late_lesson, &late_student, "+"]);
    teacher.sync();
    dean_cli.sync();
    dean_cli.ok(&[
        "lock",
        &journal,
        "--lesson",
        &late_lesson,
        "--reason",
        "Yopildi",
    ]);
    dean_cli.sync();
    teacher.ok(&["mark", &journal, &late_lesson, &late_student, "nb"]);
    teacher.sync();
    app.click("[data-testid=sync-now]").await?;
    app.wait_synced(Duration::from_secs(30)).await?;
    let cell_js = format!(
        "const th = document.querySelector(\"th.lesson[data-lesson='{late_lesson}']\");
         const td = th && document.querySelector(`tr[data-student='{late_student}'] td.c[data-c='${{th.dataset.c}}']`);
         return td ? [td.dataset.r, th.dataset.c, td.textContent] : null;"
    );
    app.wait_for(
        "the closed lesson's cell",
        Duration::from_secs(10),
        || async { Ok(app.js(&cell_js).await?.is_array()) },
    )
    .await?;
    let at: Vec<String> = serde_json::from_value(app.js(&cell_js).await?)?;
    let (r, c): (usize, usize) = (at[0].parse()?, at[1].parse()?);
    app.click_cell(r, c).await?;
    app.grid_keys(&key(Key::F4)).await?;
    app.wait_for(
        "the late NB in the history while the cell shows +",
        Duration::from_secs(15),
        || async {
            let marks = app
                .js("return Array.from(document.querySelectorAll('[data-testid=history-item][data-part=marks]')).map(e => e.textContent);")
                .await?;
            let texts: Vec<String> = serde_json::from_value(marks).unwrap_or_default();
            let cell = app.js(&cell_js).await?;
            Ok(texts.iter().any(|t| t.contains("NB")) && cell[2] == json!("+"))
        },
    )
    .await?;
    app.shot("grid-amendment").await?;
    app.js("document.querySelectorAll('[data-testid=history-popover]').forEach(p => p.remove()); return true;")
        .await?;
    dean_cli.sync();
    let inbox = dean_cli.json(&["conflicts"]);
    let entry = inbox
        .as_array()
        .and_then(|a| a.iter().find(|e| e["kind"] == json!("amendment")))
        .cloned()
        .context("the amendment in the office's inbox")?;
    let pick = entry["values"]
        .as_array()
        .and_then(|v| v.iter().position(|x| x["locked"] != json!(true)))
        .context("the late value")?
        + 1;
    dean_cli.ok(&[
        "resolve",
        entry["id"].as_str().context("id")?,
        "--pick",
        &pick.to_string(),
    ]);
    dean_cli.sync();
    app.click("[data-testid=sync-now]").await?;
    app.wait_for(
        "the accepted NB in the cell",
        Duration::from_secs(30),
        || async { Ok(app.js(&cell_js).await?[2] == json!("NB")) },
    )
    .await?;
    steps.done("a mark changed after the dean's office closed the lesson: the app showed the frozen + (the late NB in the history) until the office accepted it, then NB");

    // Entry windows: the registrar sets the lesson day as the window; the teacher's past
    // lessons offer "ask to open"; the request reaches the dean's office, which opens it.
    let past_lesson = view["lessons"][3]["id"]
        .as_str()
        .context("a fourth lesson")?
        .to_string();
    uni.admin.ok(&["entry-window", "0"]);
    uni.admin.sync();
    app.click("[data-testid=sync-now]").await?;
    app.wait_synced(Duration::from_secs(30)).await?;
    let ask_js = format!(
        "const b = document.querySelector(\"th.lesson[data-lesson='{past_lesson}'] [data-testid=request-opening]\"); return b ? !b.hidden : null;"
    );
    app.wait_for(
        "the closed window's request button",
        Duration::from_secs(20),
        || async { Ok(app.js(&ask_js).await? == json!(true)) },
    )
    .await?;
    app.js(&format!(
        "document.querySelector(\"th.lesson[data-lesson='{past_lesson}'] [data-testid=request-opening]\").click(); return true;"
    ))
    .await?;
    app.type_into(
        "[data-testid=opening-reason]",
        "Guruh amaliyotda edi, baholar qog‘ozda",
    )
    .await?;
    app.shot("opening-request").await?;
    app.click("[data-testid=opening-send]").await?;
    app.wait_for("the request saved", Duration::from_secs(10), || async {
        Ok(app
            .js("return !document.querySelector('[data-testid=opening-form]');")
            .await?
            == json!(true))
    })
    .await?;
    app.click("[data-testid=sync-now]").await?;
    app.wait_synced(Duration::from_secs(30)).await?;
    dean_cli.sync();
    let requests = dean_cli.json(&["openings"]);
    let asked = requests.as_array().is_some_and(|r| {
        r.iter()
            .any(|o| o["lesson"] == json!(past_lesson) && o["by"] == json!(TEACHER.0))
    });
    if !asked {
        bail!("the office does not see the teacher's request: {requests}");
    }
    let tashkent_today = {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs() as i64
            + 5 * 3600;
        let days = secs.div_euclid(86_400);
        // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        let y = yoe + era * 400 + i64::from(m <= 2);
        format!("{y:04}-{m:02}-{d:02}")
    };
    dean_cli.ok(&[
        "open-lesson",
        &journal,
        &past_lesson,
        "--until",
        &tashkent_today,
    ]);
    let s = dean_cli.sync();
    if s["refused"] != json!(0) {
        bail!("the office's opening was refused: {s}");
    }
    // The button is disabled while a background sync runs: press it until one takes.
    app.wait_for(
        "the opened lesson without the request button",
        Duration::from_secs(40),
        || async {
            app.js("const b = document.querySelector('[data-testid=sync-now]'); if (b && !b.disabled) b.click(); return true;")
                .await?;
            tokio::time::sleep(Duration::from_millis(500)).await;
            Ok(app.js(&ask_js).await? == json!(false))
        },
    )
    .await?;
    steps.done("entry window set to the lesson day: the teacher asked to open a past lesson from its header; the office saw who asked and opened it; the button went away");

    app.quit().await?;
    steps.finish("dean_resolves_a_conflict_in_the_app_and_clients_converge");
    Ok(())
}

/// Every visible text on screen is either data (`data-raw`) or a catalogue string for `lang`
/// (`data-i18n`, with its arguments); titles and placeholders too. Returns how many strings were
/// checked and the problems found.
async fn audit_translations(app: &App, lang: &str) -> Result<(usize, Vec<String>)> {
    let catalogue: serde_json::Map<String, Value> = serde_json::from_str(
        &std::fs::read_to_string(Path::new(UI_I18N).join(format!("{lang}.json")))?,
    )?;
    let found = app
        .js(r#"
            const visible = (el) => {
              if (el.closest('[hidden]')) return false;
              for (let e = el; e; e = e.parentElement) {
                const s = getComputedStyle(e);
                if (s.display === 'none' || s.visibility === 'hidden') return false;
              }
              return true;
            };
            const app = document.querySelector('#app');
            const untranslated = [];
            const walker = document.createTreeWalker(app, NodeFilter.SHOW_TEXT);
            while (walker.nextNode()) {
              const n = walker.currentNode;
              const text = n.textContent.trim();
              const el = n.parentElement;
              if (!text || !el || !visible(el)) continue;
              if (el.closest('option') && !el.closest('option').selected) continue;
              if (!el.closest('[data-i18n],[data-raw]')) untranslated.push(text);
            }
            const strings = [];
            for (const [attr, prop] of [['data-i18n', 'text'], ['data-i18n-title', 'title'], ['data-i18n-placeholder', 'placeholder']]) {
              app.querySelectorAll('[' + attr + ']').forEach((el) => {
                if (!visible(el)) return;
                const args = el.getAttribute(attr === 'data-i18n-title' ? 'data-i18n-title-args' : 'data-i18n-args');
                const value = prop === 'text' ? el.textContent : el.getAttribute(prop);
                strings.push({ key: el.getAttribute(attr), args: args ? JSON.parse(args) : null, value });
              });
            }
            return { untranslated, strings };
        "#)
        .await?;
    let mut problems = Vec::new();
    for t in found["untranslated"].as_array().into_iter().flatten() {
        problems.push(format!("untranslated text {t}"));
    }
    let strings = found["strings"].as_array().cloned().unwrap_or_default();
    for s in &strings {
        let key = s["key"].as_str().unwrap_or_default();
        let Some(template) = catalogue.get(key).and_then(Value::as_str) else {
            problems.push(format!("key {key:?} is not in {lang}.json"));
            continue;
        };
        let mut expected = template.to_string();
        if let Some(args) = s["args"].as_object() {
            for (name, v) in args {
                let text = match v {
                    Value::String(a) if a.starts_with('@') => catalogue
                        .get(&a[1..])
                        .and_then(Value::as_str)
                        .unwrap_or(a)
                        .to_string(),
                    Value::String(a) => a.clone(),
                    other => other.to_string(),
                };
                expected = expected.replace(&format!("{{{name}}}"), &text);
            }
        }
        if s["value"].as_str() != Some(expected.as_str()) {
            problems.push(format!(
                "{key}: shows {:?}, the catalogue says {expected:?}",
                s["value"]
            ));
        }
    }
    if strings.len() < 40 {
        problems.push(format!(
            "only {} translated strings found on the journal screen",
            strings.len()
        ));
    }
    Ok((strings.len(), problems))
}
