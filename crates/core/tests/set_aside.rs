//! A document whose changes from the server cannot be applied is set aside with its error;
//! every other document of the same page goes in, and the cursor moves on (issue 9: one bad
//! change must not stop a faculty's sync).

use daftar_core::{Incoming, Replica};
use daftar_protocol::DocKind;

#[test]
fn a_damaged_document_is_set_aside_and_the_rest_of_the_page_applies() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut r = Replica::open(&tmp.path().join("r.db")).expect("open");
    let (_, good) = daftar_rules::genesis::genesis_change("journal/good", DocKind::Journal);
    let (_, module) = daftar_rules::genesis::genesis_change("module/m1", DocKind::Module);
    // An automerge chunk header with a body that is not a change.
    let damaged = vec![0x85, 0x6f, 0x4a, 0x83, 1, 2, 3, 4, 1, 9, 9, 9];
    let page = vec![
        Incoming::Change {
            doc: "journal/good".into(),
            bytes: good,
        },
        Incoming::Change {
            doc: "group/bad".into(),
            bytes: damaged,
        },
        Incoming::Change {
            doc: "module/m1".into(),
            bytes: module,
        },
    ];
    let report = r
        .apply_pulled("http://127.0.0.1:1", page, &Default::default(), 42, 3)
        .expect("the page applies");
    assert_eq!(report.set_aside, vec!["group/bad".to_string()]);
    let ids = r.doc_ids().expect("ids");
    assert!(ids.contains(&"journal/good".to_string()), "{ids:?}");
    assert!(ids.contains(&"module/m1".to_string()), "{ids:?}");
    assert!(!ids.contains(&"group/bad".to_string()), "{ids:?}");
    let aside = r.set_aside().expect("set aside");
    assert_eq!(aside.len(), 1);
    assert_eq!(aside[0].0, "group/bad");
    assert!(aside[0].1.contains("damaged"), "{}", aside[0].1);
    assert_eq!(r.sync_state("http://127.0.0.1:1").expect("state"), (42, 3));

    // A bundle stays all-or-nothing: the same damaged change refuses the whole import.
    let mut strict = Replica::open(&tmp.path().join("s.db")).expect("open");
    let err = strict
        .apply_remote(vec![Incoming::Change {
            doc: "group/bad".into(),
            bytes: vec![0x85, 0x6f, 0x4a, 0x83, 1, 2, 3, 4, 1, 9, 9, 9],
        }])
        .expect_err("strict");
    assert!(err.to_string().contains("damaged"), "{err}");
}
