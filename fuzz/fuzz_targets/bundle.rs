//! A bundle file (USB sync between replicas): decoded, then imported into a fresh in-memory
//! replica. A damaged or hostile file must be refused with an error, never crash the app.

#![no_main]

use daftar_core::Replica;
use daftar_core::bundle::Bundle;
use libfuzzer_sys::fuzz_target;

fuzz_target!(init: daftar_fuzz::keep_caught_panics_quiet(), |data: &[u8]| {
    let Ok(bundle) = Bundle::decode(data) else {
        return;
    };
    let mut r = Replica::open(std::path::Path::new(":memory:")).expect("replica");
    let _ = r.set_university("fuzz");
    let _ = r.import_bundle(bundle);
});
