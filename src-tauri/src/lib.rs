//! The Daftar desktop shell: thin Tauri commands over `daftar-core` and `daftar-client`.

pub fn run() {
    tauri::Builder::default()
        .run(tauri::generate_context!("../tauri.conf.json"))
        .expect("the Tauri runtime failed to start");
}
