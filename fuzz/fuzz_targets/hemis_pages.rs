//! A HEMIS export folder: the input, split at NUL bytes, becomes the JSON pages of the
//! endpoints the importer reads (group, student, employee, curriculum subject and topic,
//! schedule and attendance lists, in that order), written to a temporary folder and imported
//! into an in-memory replica.

#![no_main]

use daftar_core::Replica;
use daftar_core::hemis::ENDPOINTS;
use libfuzzer_sys::fuzz_target;

fuzz_target!(init: daftar_fuzz::keep_caught_panics_quiet(), |data: &[u8]| {
    let base = std::path::Path::new("/dev/shm");
    let dir = if base.is_dir() {
        tempfile::tempdir_in(base)
    } else {
        tempfile::tempdir()
    }
    .expect("tempdir");
    for (endpoint, page) in ENDPOINTS.iter().zip(data.split(|b| *b == 0)) {
        if !page.is_empty() {
            std::fs::write(dir.path().join(format!("{endpoint}.json")), page).expect("write");
        }
    }
    let mut r = Replica::open(std::path::Path::new(":memory:")).expect("replica");
    r.set_university("fuzz").expect("university");
    let _ = r.import_hemis(dir.path());
});
