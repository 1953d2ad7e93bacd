//! Demo data offline, and the grid's speed.

use super::*;

/// Offline from the first start: demo data, course modules and groups, a new lesson, and how
/// fast the grid renders a 35 × 60 journal.
#[test]
fn demo_data_works_offline_and_the_grid_stays_fast() {
    scenario("demo scenario", demo_scenario());
}

async fn demo_scenario() -> Result<()> {
    let mut steps = Steps::new();
    let tmp = tempfile::tempdir()?;
    let app = App::launch(&tmp.path().join("demo"), &[]).await?;
    app.click("[data-testid=load-demo]").await?;
    app.el("[data-testid=journals-table]").await?;
    let rows = app
        .js("return document.querySelectorAll('[data-testid=journal-row]').length;")
        .await?;
    if rows != json!(14) {
        bail!("the XS demo has 14 journals, the list shows {rows}");
    }
    app.shot("journals").await?;
    steps.done("loaded demo data with no server");

    let first = app
        .js("return document.querySelector('[data-testid=journal-row]').getAttribute('data-journal');")
        .await?;
    let journal = first.as_str().context("a journal id")?.to_string();
    app.open_journal(&journal).await?;
    let (c, _, _, _) = app.cursor().await?;
    app.grid_keys(&format!("85{}", key(Key::Enter))).await?;
    app.wait_for("the grade saved", Duration::from_secs(10), || async {
        let saved = app
            .js(&format!(
                "const td = document.querySelector('td.c[data-r=\"0\"][data-c=\"{c}\"]');
                 return td.textContent === '85' && !td.classList.contains('saving') && td.classList.contains('m-p');"
            ))
            .await?;
        Ok(saved == json!(true))
    })
    .await?;
    let save_ms = app.js("return window.__daftarPerf.lastSaveMs;").await?;
    let patch_ms = app.js("return window.__daftarPerf.lastPatchMs;").await?;
    steps.note(format!(
        "typed a grade: saved and on screen {save_ms} ms after Enter (IPC, one durable transaction, repaint; the repaint itself {patch_ms} ms)"
    ));

    app.click("[data-testid=add-lesson]").await?;
    app.type_into("[data-testid=lesson-date]", "01.12.2026")
        .await?;
    app.el("[data-testid=lesson-pair]")
        .await?
        .select_by_value("3")
        .await?;
    app.click("[data-testid=add-lesson-submit]").await?;
    app.el("th.lesson[data-date='2026-12-01'][data-pair='3']")
        .await?;
    steps.done("marked a grade and added a lesson, offline");

    // A holiday in the university's calendar (8 December, Constitution Day) asks first; the
    // lesson is added only when the teacher says so.
    app.click("[data-testid=add-lesson]").await?;
    app.type_into("[data-testid=lesson-date]", "08.12.2026")
        .await?;
    app.el("[data-testid=lesson-pair]")
        .await?
        .select_by_value("4")
        .await?;
    app.click("[data-testid=add-lesson-submit]").await?;
    let confirm = catalogue_text("uz-Latn", "lesson.confirmDay")?;
    app.wait_for("the calendar's question", Duration::from_secs(5), || async {
        Ok(app
            .js(&format!(
                "const m = document.querySelector('[data-testid=confirm-day]'); return !!m && m.textContent === {confirm:?}
                   && document.querySelector('[data-testid=add-lesson-form]').innerText.includes('holiday');"
            ))
            .await?
            == json!(true))
    })
    .await?;
    if app
        .js("return !!document.querySelector(\"th.lesson[data-date='2026-12-08']\");")
        .await?
        == json!(true)
    {
        bail!("the holiday lesson was added before the teacher confirmed it");
    }
    app.click("[data-testid=add-lesson-submit]").await?;
    app.el("th.lesson[data-date='2026-12-08'][data-pair='4']")
        .await?;
    // Not held yet: it moves to the next day; the old column stays, cancelled.
    // The column sits under the sticky totals at the right edge: scroll it into view first.
    app.js("const b = document.querySelector(\"th.lesson[data-date='2026-12-08'][data-pair='4'] [data-testid=lesson-more]\"); b.scrollIntoView({ inline: 'center' }); b.click(); return true;")
        .await?;
    app.type_into("[data-testid=move-date]", "09.12.2026")
        .await?;
    app.click("[data-testid=move-submit]").await?;
    app.el("th.lesson[data-date='2026-12-09'][data-pair='4']")
        .await?;
    app.el("th.lesson.cancelled[data-date='2026-12-08'][data-pair='4']")
        .await?;
    app.js("document.querySelector(\"th.lesson[data-date='2026-12-09']\").scrollIntoView({ inline: 'center' }); return true;")
        .await?;
    app.shot("grid-lesson-moved").await?;
    steps.done("a lesson on a holiday asked first, then added; moved to the next day, the old one cancelled");

    // Control scores: a value over the maximum is refused with a translated message, a valid
    // one is saved and is there when the dialog opens again.
    app.click("[data-testid=open-scores]").await?;
    let target = app
        .js("const i = Array.from(document.querySelectorAll('[data-testid=score-input]')).find(i => !i.disabled);
             return [i.dataset.control, i.dataset.sitting, i.dataset.student];")
        .await?;
    let score_css = format!(
        "[data-testid=score-input][data-control='{}'][data-sitting='{}'][data-student='{}']",
        target[0].as_str().unwrap_or_default(),
        target[1].as_str().unwrap_or_default(),
        target[2].as_str().unwrap_or_default()
    );
    let points_error = catalogue_text("uz-Latn", "error.field.points")?;
    app.type_into(&score_css, &format!("999{}", key(Key::Enter)))
        .await?;
    app.wait_for("the refused score's message", Duration::from_secs(5), || async {
        let shown = app
            .js(&format!(
                "return Array.from(document.querySelectorAll('.toast-error')).some(t => t.innerText.includes({points_error:?}))
                   && document.querySelector(\"{score_css}\").classList.contains('invalid');"
            ))
            .await?;
        Ok(shown == json!(true))
    })
    .await?;
    app.type_into(&score_css, &format!("7,5{}", key(Key::Enter)))
        .await?;
    app.wait_for("the score saved", Duration::from_secs(5), || async {
        Ok(app
            .js(&format!(
                "const i = document.querySelector(\"{score_css}\"); return i.classList.contains('saved') && i.value === '7.5';"
            ))
            .await?
            == json!(true))
    })
    .await?;
    // A student who did not come to the final: "kelmadi" in the YN cell.
    let yn_css = format!(
        "[data-testid=score-input][data-control='YN'][data-sitting='1'][data-student='{}']",
        target[2].as_str().unwrap_or_default()
    );
    let kelmadi = catalogue_text("uz-Latn", "scores.absent")?;
    app.type_into(&yn_css, &format!("{kelmadi}{}", key(Key::Enter)))
        .await?;
    app.wait_for("the absence from the final saved", Duration::from_secs(5), || async {
        Ok(app
            .js(&format!(
                "const i = document.querySelector(\"{yn_css}\"); return i.classList.contains('saved') && i.value === {kelmadi:?};"
            ))
            .await?
            == json!(true))
    })
    .await?;
    app.shot("grid-scores").await?;
    app.click("[data-testid=scores-close]").await?;
    app.click("[data-testid=open-scores]").await?;
    let again = app
        .js(&format!(
            "return document.querySelector(\"{score_css}\").value;"
        ))
        .await?;
    if again != json!("7.5") {
        bail!("the saved score reads {again} when the dialog opens again");
    }
    app.click("[data-testid=scores-close]").await?;
    steps.done("control scores: over the maximum refused with the translated message, 7,5 saved");

    // The dean's office (everyone, offline): excuse an absence beside the teacher's NB, close
    // the lesson with a reason, reopen it.
    app.js("document.querySelector('[data-testid=grid-scroll]').scrollLeft = 0; return true;")
        .await?;
    app.click_cell(1, c).await?;
    app.grid_keys(&format!("nb{}", key(Key::Enter))).await?;
    app.wait_for("the NB saved", Duration::from_secs(5), || async {
        Ok(app
            .js(&format!("const td = document.querySelector('td.c[data-r=\"1\"][data-c=\"{c}\"]'); return td.textContent === 'NB' && !td.classList.contains('saving');"))
            .await?
            == json!(true))
    })
    .await?;
    app.click_cell(1, c).await?;
    app.click("[data-testid=open-adjust]").await?;
    app.el("[data-testid=adjust-to]")
        .await?
        .select_by_value("e")
        .await?;
    app.type_into("[data-testid=adjust-reason]", "Tibbiy maʼlumotnoma 17")
        .await?;
    app.click("[data-testid=adjust-save]").await?;
    app.wait_for("the adjustment beside the mark", Duration::from_secs(5), || async {
        Ok(app
            .js(&format!(
                "const td = document.querySelector('td.c[data-r=\"1\"][data-c=\"{c}\"]');
                 return td.classList.contains('adjusted') && td.textContent === 'NBS' && td.title.includes('Tibbiy maʼlumotnoma 17');"
            ))
            .await?
            == json!(true))
    })
    .await?;
    app.click("[data-testid=open-lock]").await?;
    app.type_into("[data-testid=lock-reason]", "Muddat tugadi")
        .await?;
    app.click("[data-testid=lock-save]").await?;
    app.el(&format!("th.lesson.locked[data-c='{c}']")).await?;
    app.click_cell(2, c).await?;
    app.grid_keys("+").await?;
    app.wait_for("the closed-lesson message", Duration::from_secs(5), || async {
        Ok(app
            .js("return Array.from(document.querySelectorAll('.toast')).some(t => t.innerText.includes('Muddat tugadi'));")
            .await?
            == json!(true))
    })
    .await?;
    app.shot("grid-closed").await?;
    app.click("[data-testid=open-lock]").await?;
    app.click("[data-testid=lock-reopen]").await?;
    app.wait_for("the lesson reopened", Duration::from_secs(5), || async {
        Ok(app
            .js(&format!("return !document.querySelector(\"th.lesson[data-c='{c}']\").classList.contains('locked');"))
            .await?
            == json!(true))
    })
    .await?;
    steps.done(
        "adjusted an NB to excused with a reason, closed the lesson (typing refused), reopened it",
    );

    let mut renders = Vec::new();
    let mut patches = Vec::new();
    for _ in 0..7 {
        let r = app.js("return window.__daftarBench(35, 60);").await?;
        renders.push(r["renderMs"].as_f64().unwrap_or(f64::MAX));
        patches.push(r["patchMs"].as_f64().unwrap_or(f64::MAX));
    }
    renders.sort_by(f64::total_cmp);
    patches.sort_by(f64::total_cmp);
    let (render, patch) = (renders[renders.len() / 2], patches[patches.len() / 2]);
    steps.note(format!(
        "35 x 60 grid (2,100 cells): full render median {render:.1} ms (min {:.1}, max {:.1}); repainting a whole lesson column {patch:.2} ms",
        renders[0],
        renders[renders.len() - 1]
    ));
    if render > 1000.0 {
        bail!("rendering a 35 x 60 grid took {render} ms");
    }
    steps.done("measured the grid");

    // Hours against the plan, and the hand-over to HEMIS.
    app.click("[data-nav=reports]").await?;
    app.el("[data-testid=report-journal]")
        .await?
        .select_by_value(&journal)
        .await?;
    app.el("[data-testid=plan-chart]").await?;
    let plan = app
        .js("return [...document.querySelectorAll('[data-testid=plan-row]')].map((r) => [r.dataset.type, ...[...r.cells].slice(1).map((c) => c.textContent)]);")
        .await?;
    let plan = plan.as_array().context("plan rows")?;
    if plan.len() != 2 || plan.iter().any(|r| r[1] != json!("36")) {
        bail!("the demo plans 36 h of lectures and 36 h of practicals: {plan:?}");
    }
    let handover = tmp.path().join("hemis.csv");
    app.type_into("[data-testid=export-path]", &handover.display().to_string())
        .await?;
    app.click("[data-testid=export-hemis]").await?;
    app.el("[data-testid=export-path-result]").await?;
    app.js("document.querySelector('[data-testid=plan-card]').scrollIntoView(); return true;")
        .await?;
    app.shot("reports-plan").await?;
    let text = std::fs::read_to_string(&handover)?;
    let mut lines = text.trim_start_matches('\u{feff}').lines();
    if lines.next() != Some(daftar_core::export::HEMIS_COLUMNS.join(",").as_str()) {
        bail!("the HEMIS hand-over has other columns: {text:.200}");
    }
    let rows = lines.count();
    if rows == 0 {
        bail!("the HEMIS hand-over has no rows");
    }
    steps.note(format!(
        "hours against the plan: {plan:?}; the HEMIS hand-over has {rows} rows"
    ));
    steps.done("hours against the plan on the reports screen, and the HEMIS hand-over export");

    app.click("[data-nav=modules]").await?;
    app.el("[data-testid=module-topics] li").await?;
    app.type_into("[data-testid=topic-new]", "Yakuniy takrorlash")
        .await?;
    app.click("[data-testid=topic-add]").await?;
    app.wait_for("the new topic in the list", Duration::from_secs(5), || async {
        Ok(app
            .js("return Array.from(document.querySelectorAll('[data-testid=module-topics] li')).some(li => li.innerText.includes('Yakuniy takrorlash'));")
            .await?
            == json!(true))
    })
    .await?;
    app.click("[data-testid=module-topics] li:first-child [data-testid=topic-rename]")
        .await?;
    let rename = app.el("[data-testid=topic-rename-input]").await?;
    rename.clear().await?;
    rename
        .send_keys(&format!("Kirish: fanning maqsadi{}", key(Key::Enter)))
        .await?;
    app.wait_for("the renamed topic", Duration::from_secs(5), || async {
        Ok(app
            .js("return document.querySelector('[data-testid=module-topics] li').innerText.includes('Kirish: fanning maqsadi');")
            .await?
            == json!(true))
    })
    .await?;
    app.js("document.querySelector('#screen').scrollTop = 0; return true;")
        .await?;
    app.shot("modules").await?;
    app.click("[data-nav=groups]").await?;
    app.el("[data-testid=roster] tbody tr").await?;
    // The HEMIS import from the app (an offline replica may import): the fixture folder,
    // then again, which writes nothing.
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/hemis");
    for round in 0..2 {
        if round == 0 {
            app.type_into("[data-testid=hemis-folder]", &fixture.display().to_string())
                .await?;
        }
        app.js("const r = document.querySelector('[data-testid=hemis-result]'); if (r) r.innerHTML = ''; return true;")
            .await?;
        app.click("[data-testid=hemis-import]").await?;
        app.wait_for("the import's summary", Duration::from_secs(20), || async {
            Ok(app
                .js("return !!document.querySelector('[data-testid=hemis-summary]');")
                .await?
                == json!(true))
        })
        .await?;
        let text = app
            .js("return document.querySelector('[data-testid=hemis-summary]').textContent;")
            .await?;
        let text = text.as_str().unwrap_or_default().to_string();
        let want = if round == 0 {
            "4 jurnal"
        } else {
            "0 oʻzgarish"
        };
        if !text.contains(want) {
            bail!("import {round}: the summary reads {text:?}, expected {want:?}");
        }
        // The imported groups are listed.
        let listed = app
            .js("return document.querySelector('.list').innerText;")
            .await?;
        if !listed.as_str().unwrap_or_default().contains("401-23") {
            bail!("the imported group 401-23 is not listed: {listed}");
        }
    }
    steps.done("imported the HEMIS fixture from the groups screen; importing again wrote nothing");
    app.shot("groups").await?;
    steps.done("course modules (a topic added and renamed) and group rosters");

    app.quit().await?;
    steps.finish("demo_data_works_offline_and_the_grid_stays_fast");
    Ok(())
}
