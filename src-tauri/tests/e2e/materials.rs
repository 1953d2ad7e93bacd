//! Course materials: attached through the system's dialog, opened with its viewer.

use super::*;

#[test]
fn a_head_attaches_a_file_in_the_app_and_opens_it_with_the_system_viewer() {
    scenario("materials scenario", materials_scenario());
}

async fn materials_scenario() -> Result<()> {
    let mut steps = Steps::new();
    let tmp = tempfile::tempdir()?;
    let data = tmp.path().join("head");
    let cli = Cli::new(data.clone());
    cli.ok(&["demo", "--tier", "XS", "--seed", "5"]);
    let module = {
        let r = daftar_core::Replica::open(&data.join("replica.db"))?;
        r.modules()?.into_iter().next().context("a demo module")?.id
    };
    // A 2 MB lecture, and a "viewer" that keeps what it was asked to open.
    let mut bytes = vec![0u8; 2 * 1024 * 1024];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = (i.wrapping_mul(2_654_435_761) >> 13) as u8;
    }
    bytes[..9].copy_from_slice(b"%PDF-1.4\n");
    let file = tmp.path().join("Ma'ruza 1.pdf");
    std::fs::write(&file, &bytes)?;
    let hash = daftar_core::materials::hash_of(&bytes);
    let opened = tmp.path().join("opened.pdf");
    let viewer = tmp.path().join("viewer.sh");
    std::fs::write(
        &viewer,
        format!("#!/bin/sh\ncp \"$1\" '{}'\n", opened.display()),
    )?;
    std::process::Command::new("chmod")
        .args(["+x", &viewer.display().to_string()])
        .status()?;
    steps.done("a demo replica, a 2 MB PDF and a recording viewer");

    let app = App::launch(&data, &[("DAFTAR_OPENER", viewer.display().to_string())]).await?;
    app.click("[data-nav=modules]").await?;
    app.click(&format!("[data-module='{module}']")).await?;
    app.el("[data-testid=material-attach]").await?;
    let none = app
        .js("return document.querySelectorAll('[data-testid=module-materials] li[data-material]').length;")
        .await?;
    if none != json!(0) {
        bail!("the demo module should start without materials: {none}");
    }
    // The head attaches it through the system's open dialog.
    app.click("[data-testid=material-attach]").await?;
    let title = catalogue_text("uz-Latn", "materials.chooseTitle")?;
    let path = file.clone();
    let answered = tokio::task::spawn_blocking(move || answer_open_dialog(&title, &path)).await??;
    steps.done(&format!("the open dialog ({answered})"));
    let row = format!("[data-testid=module-materials] li[data-material='{hash}']");
    app.el(&row).await?;
    let text = app
        .js(&format!(
            "return document.querySelector(\"{row}\").innerText;"
        ))
        .await?;
    let text = text.as_str().unwrap_or_default().to_string();
    if !text.contains("Ma'ruza 1.pdf") || !text.contains("2.0 MB") {
        bail!("the material row should name the file and its size: {text:?}");
    }
    app.shot("module-materials").await?;
    steps.done("the file is listed with the module");

    // Opened with the system's viewer: the viewer gets the very bytes.
    app.click(&format!("[data-testid=material-open][data-hash='{hash}']"))
        .await?;
    app.wait_for(
        "the viewer to get the file",
        Duration::from_secs(10),
        || async { Ok(std::fs::read(&opened).is_ok_and(|b| b == bytes)) },
    )
    .await?;
    steps.done("the viewer opened the same bytes");
    app.quit().await?;

    // The CLI reads the same material from the replica.
    let listed = cli.json(&["materials", "list", "--module", &module]);
    let first = &listed[0];
    if first["hash"] != json!(hash) || first["size"] != json!(bytes.len()) {
        bail!("the CLI should list the attached file: {listed}");
    }
    steps.finish("a_head_attaches_a_file_in_the_app_and_opens_it_with_the_system_viewer");
    Ok(())
}
