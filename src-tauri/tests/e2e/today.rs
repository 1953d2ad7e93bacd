//! The start of a pair: today's lesson in seven keys.

use super::*;

/// The minute at the start of a pair: a 25-student group, absentees at rows 5 and 17, the
/// module's next topic. The journal opens on today's lesson; `*`, `5 17`, Enter marks everyone
/// else present; the topic picker opens with the next topic preselected; Enter takes it.
#[test]
fn a_teacher_marks_todays_lesson_in_seven_keys() {
    scenario("today scenario", today_scenario());
}

async fn today_scenario() -> Result<()> {
    let mut steps = Steps::new();
    let tmp = tempfile::tempdir()?;
    let data = tmp.path().join("teacher");
    // Seed 5's XS university has a 25-student group; today's lesson is added as a teacher's
    // schedule would have it (pair 6, so no demo lesson sits there).
    let cli = Cli::new(data.clone());
    cli.ok(&["demo", "--tier", "XS", "--seed", "5"]);
    let journals = cli.json(&["journals"]);
    let journal = journals
        .as_array()
        .context("journals")?
        .iter()
        .find(|j| j["students"] == 25)
        .and_then(|j| j["id"].as_str())
        .context("a 25-student journal in the seed-5 demo")?
        .to_string();
    // The day core counts "today" in (Tashkent).
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let today = daftar_rules::window::university_date(now_ms);
    cli.ok(&[
        "lesson",
        "add",
        &journal,
        "--date",
        &today,
        "--pair",
        "6",
        "--type",
        "13",
        "--confirm",
    ]);
    steps.done(&format!(
        "a 25-student journal with a lesson today ({today})"
    ));

    let app = App::launch(&data, &[]).await?;
    app.open_journal(&journal).await?;
    let (c, lesson, date, _) = app.cursor().await?;
    if date != today {
        bail!("the journal opened at {date}, not today's lesson ({today})");
    }
    let before = app.column(c).await?;
    if before.len() != 25 || before.iter().any(|t| !t.is_empty()) {
        bail!("today's lesson should be empty for 25 students: {before:?}");
    }
    steps.done("the journal opened with the cursor on today's lesson");

    let enter = key(Key::Enter);
    let presses: Vec<String> = vec![
        "*".into(),
        "5".into(),
        " ".into(),
        "1".into(),
        "7".into(),
        enter.clone(),
        enter,
    ];
    let started = Instant::now();
    app.js("window.__todayStart = performance.now(); return null;")
        .await?;
    // Each key goes where the app put the focus (the grid, then the topic picker).
    let mut suggested = None;
    for (i, k) in presses.iter().enumerate() {
        if i == presses.len() - 1 {
            // The picker opened by itself after the roll call, the next topic first.
            app.el("[data-testid=topic-popover] [data-testid=topic-suggested].active")
                .await?;
            suggested = Some(
                app.js("return document.querySelector('[data-testid=topic-suggested] span').textContent;")
                    .await?
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            );
        }
        if i == 5 {
            let typed = app
                .js("const t = document.querySelector('[data-testid=rollcall-typed]'); return t ? t.textContent : '';")
                .await?;
            if !typed.as_str().unwrap_or_default().contains("5 17") {
                bail!("the roll call bar should show the typed rows: {typed}");
            }
        }
        app.c.active_element().await?.send_keys(k).await?;
    }
    let topic = suggested.context("a suggested topic")?;
    if topic.is_empty() {
        bail!("the module offered no topic for the lesson");
    }
    app.wait_for(
        "the lesson marked and its topic saved",
        Duration::from_secs(10),
        || async {
            let col = app.column(c).await?;
            let marked = col.len() == 25
                && col.iter().enumerate().all(|(r, t)| {
                    if r == 4 || r == 16 {
                        t == "NB"
                    } else {
                        t == "+"
                    }
                });
            let header = app
                .js(&format!(
                    "return document.querySelector('th.lesson[data-c=\"{c}\"] [data-testid=lesson-topic]').textContent;"
                ))
                .await?;
            Ok(marked && header.as_str() == Some(topic.as_str()))
        },
    )
    .await?;
    let wall = started.elapsed();
    let app_ms = app
        .js("return Math.round(performance.now() - window.__todayStart);")
        .await?
        .as_f64()
        .unwrap_or(f64::MAX);
    steps.note(format!(
        "today's lesson, 25 students, absentees at rows 5 and 17, topic {topic:?}: {} keys, {app_ms} ms of app time ({} ms wall, WebDriver included)",
        presses.len(),
        wall.as_millis()
    ));
    if presses.len() > 10 || app_ms > 5_000.0 {
        bail!(
            "the start of a pair took {} keys and {app_ms} ms (≤ 10 keys, ≤ 5 s)",
            presses.len()
        );
    }
    app.shot("grid-today").await?;
    steps.done("marked today's lesson with two absentees and the module's next topic by keyboard");

    // A typo in a roll call is refused with the reason, the roll call stays open to mend it,
    // and nothing is saved.
    app.grid_keys("*").await?;
    app.c
        .active_element()
        .await?
        .send_keys(&format!("99{}", key(Key::Enter)))
        .await?;
    app.wait_for("the refusal", Duration::from_secs(5), || async {
        Ok(app
            .js("const d = document.querySelector('.toast-error .toast-detail'); return !!d && d.textContent.includes('no row 99')
                 && !document.querySelector('[data-testid=rollcall-bar]').hidden;")
            .await?
            == json!(true))
    })
    .await?;
    app.c
        .active_element()
        .await?
        .send_keys(&key(Key::Escape))
        .await?;
    app.c
        .active_element()
        .await?
        .send_keys(&key(Key::Escape))
        .await?;
    let next_col = app.column(c).await?;
    app.quit().await?;

    let view = cli.json(&["show", &journal]);
    let l = view["lessons"]
        .as_array()
        .context("lessons")?
        .iter()
        .find(|l| l["id"] == lesson.as_str())
        .context("today's lesson")?;
    if l["topic"].as_str() != Some(topic.as_str()) {
        bail!(
            "the CLI reads topic {} for today's lesson, the app chose {topic:?}",
            l["topic"]
        );
    }
    let students = view["students"].as_array().context("students")?;
    for (r, s) in students.iter().enumerate() {
        let id = s["id"].as_str().unwrap_or_default();
        let status = cell(&view, &lesson, id).map(|c| c["status"].clone());
        let want = if r == 4 || r == 16 { "a" } else { "p" };
        if status != Some(json!(want)) {
            bail!("row {} reads {status:?} in the CLI, expected {want}", r + 1);
        }
    }
    if next_col.iter().filter(|t| *t == "NB").count() != 2 {
        bail!("the refused roll call changed the lesson: {next_col:?}");
    }
    steps.done("the CLI reads the same marks and topic from the replica");
    Ok(())
}
