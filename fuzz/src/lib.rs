//! What the fuzz targets share.

/// libfuzzer-sys installs a panic hook that aborts on every panic, caught or not; Daftar
/// catches automerge's panics on purpose (`daftar_rules::guard`), so the targets put back a
/// quiet hook. A panic nobody catches still ends the run as a crash: libfuzzer-sys aborts
/// when the target itself unwinds.
pub fn keep_caught_panics_quiet() {
    if std::env::var_os("DAFTAR_FUZZ_SHOW_PANICS").is_none() {
        std::panic::set_hook(Box::new(|_| {}));
    }
}
