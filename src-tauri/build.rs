fn main() {
    // `tauri.conf.json` here is a symlink to the top-level file, so paths in it are relative
    // to this folder both for this build and for the Tauri CLI.
    tauri_build::try_build(tauri_build::Attributes::new()).expect("tauri build configuration");
}
