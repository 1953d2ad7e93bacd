//! Course materials in a real replica file: attaching keeps the bytes with the description,
//! parts arrive in order and a damaged file is dropped whole, a reopened replica keeps what
//! arrived, and on a shared computer a module's files stay with the module's readers.

use daftar_core::Replica;
use daftar_core::demo::{DemoSpec, Tier, generate};
use daftar_core::materials::{MaterialStatus, PART_BYTES, hash_of};

fn demo(dir: &std::path::Path) -> (Replica, String) {
    let mut r = Replica::open(&dir.join("replica.db")).expect("open");
    r.set_university("demo").expect("university");
    generate(&mut r, &DemoSpec::new(Tier::Xs, 5), |_, _| {}).expect("demo");
    let module = r.modules().expect("modules")[0].id.clone();
    (r, module)
}

fn bytes(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[test]
fn an_attached_file_is_kept_whole_with_its_description() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (mut r, module) = demo(tmp.path());
    let topic = r.module(&module).expect("module").topics[1].clone();
    let data = bytes(3 * PART_BYTES + 17, 1);
    let file = tmp.path().join("Amaliy 2.pptx");
    std::fs::write(&file, &data).expect("write");
    let m = r
        .attach_material(&module, &file, Some(&topic.name))
        .expect("attach");
    assert_eq!(m.hash, hash_of(&data));
    assert_eq!(m.status, MaterialStatus::Sending);
    assert_eq!(m.topic.as_deref(), Some(topic.id.as_str()));
    assert_eq!(
        m.mime.as_deref(),
        Some("application/vnd.openxmlformats-officedocument.presentationml.presentation")
    );
    std::fs::remove_file(&file).expect("the original may go");
    drop(r);

    // Reopened: still there, byte for byte, and waiting to be sent.
    let mut r = Replica::open(&tmp.path().join("replica.db")).expect("reopen");
    let (listed, got) = r.material_bytes(&m.hash).expect("bytes");
    assert_eq!(listed.name, "Amaliy 2.pptx");
    assert!(got == data);
    assert_eq!(r.materials_to_send().expect("to send").len(), 1);
    assert!(r.materials_to_fetch().expect("to fetch").is_empty());
    // By name or by the start of its hash.
    assert_eq!(
        r.resolve_material("amaliy 2.PPTX").expect("by name").hash,
        m.hash
    );
    assert_eq!(
        r.resolve_material(&m.hash[..8]).expect("by hash").hash,
        m.hash
    );
    let saved = r
        .save_material(&m.hash, &tmp.path().join("out"))
        .expect("save");
    assert!(std::fs::read(saved).expect("read") == data);

    // Sent, then taken off the module: not listed, nothing left to move.
    r.material_sent(&m.hash).expect("sent");
    assert!(r.materials_to_send().expect("to send").is_empty());
    r.remove_material(&module, &m.hash).expect("remove");
    assert!(r.materials(Some(&module)).expect("list").is_empty());

    // A file that is not a file, or empty, is refused before anything is saved.
    assert!(
        r.attach_material_bytes(&module, "../x.pdf", b"x", None)
            .is_err()
    );
    assert!(
        r.attach_material_bytes(&module, "x.pdf", b"", None)
            .is_err()
    );
    assert!(
        r.attach_material_bytes("no-such-module", "x.pdf", b"x", None)
            .is_err()
    );
}

#[test]
fn fetched_parts_arrive_in_order_and_a_damaged_file_is_dropped_whole() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (mut head, module) = demo(tmp.path());
    let data = bytes(2 * PART_BYTES + 5, 2);
    let m = head
        .attach_material_bytes(&module, "lab.pdf", &data, None)
        .expect("attach");
    // A second replica holds the module's description (a bundle), not the bytes.
    let other_dir = tmp.path().join("other");
    std::fs::create_dir_all(&other_dir).expect("dir");
    let mut other = Replica::open(&other_dir.join("replica.db")).expect("open");
    other.set_university("demo").expect("university");
    other
        .import_bundle(head.export_bundle().expect("bundle"))
        .expect("import");
    let todo = other.materials_to_fetch().expect("to fetch");
    assert_eq!(todo.len(), 1);
    assert_eq!((todo[0].received, todo[0].size), (0, data.len() as u64));
    assert_eq!(
        other.materials(None).expect("list")[0].status,
        MaterialStatus::Missing
    );

    // Out of order: ignored. In order: kept, across a reopen.
    let part = |i: usize| &data[i * PART_BYTES..((i + 1) * PART_BYTES).min(data.len())];
    let size = data.len() as u64;
    assert_eq!(
        other
            .store_material_part(&m.hash, size, PART_BYTES as u64, part(1))
            .expect("skip"),
        0
    );
    assert_eq!(
        other
            .store_material_part(&m.hash, size, 0, part(0))
            .expect("first"),
        PART_BYTES as u64
    );
    drop(other);
    let mut other = Replica::open(&other_dir.join("replica.db")).expect("reopen");
    let listed = other.materials(None).expect("list");
    assert_eq!(
        (listed[0].status, listed[0].received),
        (MaterialStatus::Partial, PART_BYTES as u64)
    );
    assert!(
        other.material_bytes(&m.hash).is_err(),
        "not usable before it is all here"
    );

    // The rest, damaged: the whole file is dropped, to be fetched again.
    other
        .store_material_part(&m.hash, size, PART_BYTES as u64, part(1))
        .expect("second");
    let mut bad = part(2).to_vec();
    bad[0] ^= 1;
    let err = other
        .store_material_part(&m.hash, size, 2 * PART_BYTES as u64, &bad)
        .expect_err("damaged");
    assert!(err.to_string().contains("damaged"), "{err}");
    let listed = other.materials(None).expect("list");
    assert_eq!(
        (listed[0].status, listed[0].received),
        (MaterialStatus::Missing, 0)
    );
    assert!(
        listed[0]
            .problem
            .as_deref()
            .unwrap_or("")
            .contains("damaged")
    );
    for i in 0..3 {
        other
            .store_material_part(&m.hash, size, (i * PART_BYTES) as u64, part(i))
            .expect("again");
    }
    let (_, got) = other.material_bytes(&m.hash).expect("whole");
    assert!(got == data);
    assert!(other.materials_to_fetch().expect("to fetch").is_empty());
}

#[test]
fn on_a_shared_computer_a_module_s_files_stay_with_its_readers() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (mut r, module) = demo(tmp.path());
    let data = bytes(1000, 3);
    // The first head to sign in claims the demo; their file is theirs to send.
    r.record_sign_in(
        "http://s",
        "head1",
        daftar_protocol::Role::DepartmentHead,
        Some("d1"),
    )
    .expect("sign in");
    let m = r
        .attach_material_bytes(&module, "notes.pdf", &data, None)
        .expect("attach");
    assert_eq!(r.materials_to_send().expect("to send").len(), 1);
    r.forget_sign_in().expect("sign out");
    // Another user on the same computer: not their module, not their file.
    r.record_sign_in("http://s", "teacher2", daftar_protocol::Role::Teacher, None)
        .expect("sign in");
    assert!(r.materials(None).expect("list").is_empty());
    assert!(r.material_bytes(&m.hash).is_err());
    assert!(
        r.materials_to_send().expect("to send").is_empty(),
        "never sent under another name"
    );
    r.forget_sign_in().expect("sign out");
    r.record_sign_in(
        "http://s",
        "head1",
        daftar_protocol::Role::DepartmentHead,
        Some("d1"),
    )
    .expect("back");
    assert_eq!(r.materials_to_send().expect("to send").len(), 1);
    assert!(r.material_bytes(&m.hash).expect("theirs").1 == data);
}
