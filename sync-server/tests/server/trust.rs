//! The server judges what a change *does* (issue 9, `docs/security.md`): hand-made automerge
//! changes from every role against every part of every document kind, the attacks found
//! against version one, and poison and bombs — each forbidden write refused with a reason,
//! nothing stored, the server serving on.

use std::num::NonZeroU64;
use std::time::Instant;

use automerge::legacy::{Key, ObjectId, Op, OpId, OpType, SortedVec};
use automerge::{ScalarValue, transaction::Transactable as _};
use daftar_rules::genesis::{genesis_change, maps_of};
use daftar_rules::table::{Operation, RULES, ValueShape, rule};

use super::*;

/// The users of these tests: (name, role, scope, employee).
const PEOPLE: [(&str, Role, Option<&str>, Option<&str>); 4] = [
    ("admin", Role::Admin, None, None),
    ("ali", Role::Teacher, None, Some("E1")),
    ("dean1", Role::Dean, Some("F1"), None),
    ("head1", Role::DepartmentHead, Some("D1"), None),
];

/// A document of `kind` that `role` may write at the document level, if there is one (the
/// seed's j1 is group g1 of faculty F1, module m1 of department D1, teacher E1).
fn writable(kind: DocKind, role: Role) -> (&'static str, bool) {
    let doc = match kind {
        DocKind::Catalog => "catalog/uni",
        DocKind::Group => "group/g1",
        DocKind::Module => "module/m1",
        DocKind::Journal => "journal/j1",
    };
    let ok = match role {
        Role::Admin => true,
        Role::Teacher => kind == DocKind::Journal,
        Role::Dean => matches!(kind, DocKind::Group | DocKind::Journal),
        Role::DepartmentHead => kind == DocKind::Module,
    };
    (doc, ok)
}

/// A value of `shape` as its writer would make it; `second` gives another one (a put that
/// repeats the visible value writes no op).
fn sample(shape: ValueShape, writer: &str, second: bool) -> String {
    let n = if second { 2 } else { 1 };
    match shape {
        ValueShape::Text => format!("Normallashtirish {n}"),
        ValueShape::Mark if second => r#"{"s":"p","g":88}"#.into(),
        ValueShape::Mark => r#"{"s":"a","h":2}"#.into(),
        ValueShape::Score => format!("1{n}"),
        ValueShape::Lesson => format!(r#"{{"date":"2026-09-14","pair":{n},"type":"13"}}"#),
        // Planned, then held: a held lesson stays held for a teacher (`daftar_rules::lessons`).
        ValueShape::LessonStatus if second => "held".into(),
        ValueShape::LessonStatus => "planned".into(),
        ValueShape::Adjustment => {
            format!(r#"{{"to":"e","reason":"tibbiy ma'lumotnoma 041{n}","status":"approved"}}"#)
        }
        ValueShape::Lock => format!(r#"{{"reason":"semester closed ({n})"}}"#),
        ValueShape::Resolution => format!(r#"{{"by":"{writer}","value":"x{n}"}}"#),
        ValueShape::OpeningRequest => format!(r#"{{"reason":"the lesson was moved ({n})"}}"#),
        ValueShape::Opening => format!(r#"{{"until":"2026-12-1{n}"}}"#),
        ValueShape::Material => format!(r#"{{"n":"ma'ruza {n}.pdf","z":{n}000}}"#),
    }
}

/// A fresh device: each case writes with its own actor, so seqs never collide.
fn device(tag: &str) -> Vec<u8> {
    use sha2::Digest as _;
    sha2::Sha256::digest(tag.as_bytes())[..16].to_vec()
}

/// Writes `value` (or deletes, with `None`) at `map[key]` of `doc` on top of `base` changes,
/// as `actor`, with `message`.
fn write(
    doc: &str,
    actor: &[u8],
    base: &[Vec<u8>],
    map: &str,
    key: &str,
    value: Option<&str>,
    message: Option<&str>,
) -> Vec<u8> {
    let mut am = started(doc, actor);
    am.apply_changes(
        base.iter()
            .map(|c| automerge::Change::from_bytes(c.clone()).expect("a change")),
    )
    .expect("apply");
    let (_, obj) = am.get(ROOT, map).expect("read").expect("map");
    match value {
        Some(v) => am.put(&obj, key, v).expect("put"),
        None => am.delete(&obj, key).expect("delete"),
    }
    commit(&mut am, message)
}

async fn people(server: &Server) -> BTreeMap<&'static str, String> {
    let mut tokens = BTreeMap::new();
    for (name, role, scope, employee) in PEOPLE {
        if name != "admin" {
            server.user(name, role, scope, employee);
        }
        tokens.insert(name, server.token(name).await);
    }
    tokens
}

/// Every role × document kind × part × operation, from the rule table: allowed writes are
/// stored, forbidden ones refused with a reason and stored nowhere.
#[tokio::test]
async fn every_role_part_and_operation_follows_the_rule_table() {
    let server = start().await;
    let (admin_token, mut admin) = seed(&server).await;
    let tokens = people(&server).await;
    for kind in DocKind::ALL {
        for map in maps_of(kind) {
            assert!(
                rule(kind, map).is_some(),
                "{kind}.{map} has no row in the rule table"
            );
        }
    }
    let mut cases = 0;
    for part in RULES {
        let (kind, map) = (part.kind, part.map);
        {
            for (name, role, _, _) in PEOPLE {
                let (doc, doc_ok) = writable(kind, role);
                for op in Operation::ALL {
                    // Scores and absences have the shape of their place (control/sitting/student).
                    let key = match (part.map, part.keys) {
                        ("scores", None) => format!("ON1/1/{map}-{op:?}-{name}"),
                        // A material's place is the SHA-256 of its bytes.
                        ("materials", None) => {
                            use sha2::Digest as _;
                            hex::encode(sha2::Sha256::digest(format!("{op:?}-{name}")))
                        }
                        (_, Some(p)) if p == daftar_rules::assessment::ABSENT_PREFIX => {
                            format!("{p}1/{map}-{op:?}-{name}")
                        }
                        _ => format!("{}{map}-{op:?}-{name}", part.keys.unwrap_or("")),
                    };
                    // Change and delete need a value to act on: the administrator's.
                    let base = match op {
                        Operation::Create => Vec::new(),
                        Operation::Change | Operation::Delete => {
                            let first = write(
                                doc,
                                &device(&format!("admin {key}")),
                                &[],
                                map,
                                &key,
                                Some(&sample(part.shape, "admin", false)),
                                None,
                            );
                            let resp = server
                                .sync(
                                    &admin_token,
                                    "admin-seed",
                                    &SyncRequest {
                                        push: vec![push(doc, &first)],
                                        ..SyncRequest::default()
                                    },
                                )
                                .await;
                            assert!(resp.refused.is_empty(), "{key}: {:?}", resp.refused);
                            vec![first]
                        }
                    };
                    let value = match op {
                        Operation::Delete => None,
                        Operation::Create => Some(sample(part.shape, name, false)),
                        Operation::Change => Some(sample(part.shape, name, true)),
                    };
                    let c = write(
                        doc,
                        &device(&format!("{name} {key}")),
                        &base,
                        map,
                        &key,
                        value.as_deref(),
                        None,
                    );
                    let expected = doc_ok && part.roles(op).contains(&role);
                    let resp = server
                        .sync(
                            &tokens[name],
                            &format!("{name}-pc"),
                            &SyncRequest {
                                push: vec![push(doc, &c)],
                                ..SyncRequest::default()
                            },
                        )
                        .await;
                    if expected {
                        assert_eq!(
                            resp.acked,
                            vec![hash_of(&c)],
                            "{name} {op:?} {kind}.{map}: {:?}",
                            resp.refused
                        );
                    } else {
                        assert!(
                            resp.acked.is_empty(),
                            "{name} {op:?} {kind}.{map} was stored"
                        );
                        assert_eq!(resp.refused.len(), 1, "{name} {op:?} {kind}.{map}");
                        assert_eq!(resp.refused[0].code, ErrorCode::Forbidden);
                        assert!(!resp.refused[0].reason.is_empty());
                    }
                    cases += 1;
                }
            }
        }
    }
    assert_eq!(
        cases,
        RULES.len() * 4 * 3,
        "every part of every kind, 4 roles, 3 operations"
    );
    // Exactly the allowed writes (and the administrator's bases) reached the server.
    let before = admin.received.len();
    admin.sync(&server, &admin_token, vec![], vec![]).await;
    let allowed = RULES
        .iter()
        .map(|part| (part.kind, part))
        .flat_map(|(k, part)| {
            PEOPLE.iter().flat_map(move |(_, role, _, _)| {
                Operation::ALL
                    .iter()
                    .filter(move |op| writable(k, *role).1 && part.roles(**op).contains(role))
                    .map(|_| ())
            })
        })
        .count();
    let bases = RULES.len() * 4 * 2;
    assert_eq!(admin.received.len() - before, allowed + bases);
    server.healthy().await;
    server.shutdown().await;
}

/// The attack on version one, with hand-made changes: a teacher unlocks the dean's lock,
/// excuses an absence, signs a change with the dean's name, records a resolution "by admin".
/// Each is refused; the dean's lock stands.
#[tokio::test]
async fn a_teacher_cannot_unlock_excuse_or_write_in_another_name() {
    let server = start().await;
    let (admin_token, mut admin) = seed(&server).await;
    let tokens = people(&server).await;
    let lock = write(
        "journal/j1",
        &device("dean lock"),
        &[],
        "locks",
        "h1",
        Some(r#"{"reason":"closed by the dean's office"}"#),
        Some(r#"{"by":"dean1","do":"lock"}"#),
    );
    let resp = server
        .sync(
            &tokens["dean1"],
            "dean-pc",
            &SyncRequest {
                push: vec![push("journal/j1", &lock)],
                ..SyncRequest::default()
            },
        )
        .await;
    assert_eq!(resp.acked, vec![hash_of(&lock)]);

    let teacher = device("ali laptop");
    let base = std::slice::from_ref(&lock);
    let attacks: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "unlock",
            write("journal/j1", &teacher, base, "locks", "h1", None, None),
            "locks",
        ),
        (
            "excuse by adjustment",
            write(
                "journal/j1",
                &teacher,
                base,
                "adjustments",
                "h1/s1",
                Some(r#"{"to":"e","reason":"x","status":"approved"}"#),
                None,
            ),
            "adjustments",
        ),
        (
            "excused mark",
            write(
                "journal/j1",
                &teacher,
                base,
                "marks",
                "h1/s1",
                Some(r#"{"s":"e","h":2}"#),
                None,
            ),
            "only the dean's office",
        ),
        (
            "the dean's name",
            write(
                "journal/j1",
                &teacher,
                base,
                "marks",
                "h1/s1",
                Some(r#"{"s":"p","g":90}"#),
                Some(r#"{"by":"dean1","do":"mark"}"#),
            ),
            "says it was made by",
        ),
        (
            "resolution by admin",
            write(
                "journal/j1",
                &teacher,
                base,
                "resolutions",
                "mark:h1/s1",
                Some(r#"{"by":"admin","value":"{\"s\":\"p\"}","note":"2023"}"#),
                None,
            ),
            "resolutions",
        ),
    ];
    for (what, change, says) in &attacks {
        let resp = server
            .sync(
                &tokens["ali"],
                "ali-laptop",
                &SyncRequest {
                    push: vec![push("journal/j1", change)],
                    ..SyncRequest::default()
                },
            )
            .await;
        assert!(resp.acked.is_empty(), "{what} was stored");
        assert_eq!(resp.refused.len(), 1, "{what}");
        assert!(
            resp.refused[0].reason.contains(says),
            "{what}: {}",
            resp.refused[0].reason
        );
    }
    // The dean's office writes a mark only inside a resolution in its own name.
    let plain = write(
        "journal/j1",
        &device("dean mark"),
        &[],
        "marks",
        "h1/s2",
        Some(r#"{"s":"p"}"#),
        None,
    );
    let resp = server
        .sync(
            &tokens["dean1"],
            "dean-pc",
            &SyncRequest {
                push: vec![push("journal/j1", &plain)],
                ..SyncRequest::default()
            },
        )
        .await;
    assert_eq!(resp.refused.len(), 1);
    let before = admin.received.len();
    admin.sync(&server, &admin_token, vec![], vec![]).await;
    assert_eq!(
        admin.received[before..].to_vec(),
        vec![("journal/j1".to_string(), hash_of(&lock))],
        "only the dean's lock is on the server"
    );
    server.shutdown().await;
}

/// Metadata belongs to the server: what a teacher or a dean's office sends is ignored, a
/// document the server does not know cannot be created by them, and an administrator's may
/// name only groups and modules the server has.
/// A five-point journal takes whole grades 2–5 as control scores: the replica refuses 2.5,
/// and so does the server when a hand-made client sends it.
#[tokio::test]
async fn a_five_point_journal_takes_whole_grades_only() {
    let server = start().await;
    let (admin_token, _admin) = seed(&server).await;
    let tokens = people(&server).await;
    let marking = write(
        "journal/j1",
        &device("admin marking"),
        &[],
        "meta",
        "marking",
        Some("five_point"),
        None,
    );
    let resp = server
        .sync(
            &admin_token,
            "admin-seed",
            &SyncRequest {
                push: vec![push("journal/j1", &marking)],
                ..SyncRequest::default()
            },
        )
        .await;
    assert!(resp.refused.is_empty(), "{:?}", resp.refused);
    let teacher = device("ali five-point");
    for (value, taken) in [("2.5", false), ("6", false), ("1", false), ("4", true)] {
        let c = write(
            "journal/j1",
            &teacher,
            &[],
            "scores",
            &format!("ON1/1/s{value}"),
            Some(value),
            None,
        );
        let resp = server
            .sync(
                &tokens["ali"],
                "ali-pc",
                &SyncRequest {
                    push: vec![push("journal/j1", &c)],
                    ..SyncRequest::default()
                },
            )
            .await;
        if taken {
            assert_eq!(resp.acked, vec![hash_of(&c)], "{value}: {:?}", resp.refused);
        } else {
            assert!(resp.acked.is_empty(), "{value} was stored");
            assert_eq!(resp.refused.len(), 1, "{value}");
            assert!(
                resp.refused[0].reason.contains("whole grades 2 to 5"),
                "{value}: {}",
                resp.refused[0].reason
            );
        }
    }
}

#[tokio::test]
async fn metadata_sent_by_non_admins_never_moves_a_document() {
    let server = start().await;
    let (admin_token, _) = seed(&server).await;
    let tokens = people(&server).await;

    // The teacher names another faculty's group for their journal: ignored.
    let mut ali = Replica::new("ali-laptop");
    let c = ali.change("journal/j1", "t1", "Limits");
    let resp = ali
        .sync(
            &server,
            &tokens["ali"],
            vec![(
                "journal/j1".into(),
                meta_journal("group/g2", "module/m1", &["E1"]),
            )],
            vec![push("journal/j1", &c)],
        )
        .await;
    assert_eq!(resp.acked, vec![hash_of(&c)], "the change itself is fine");
    let mut ali2 = Replica::new("ali-desktop");
    ali2.sync(&server, &tokens["ali"], vec![], vec![]).await;
    assert!(
        !ali2.docs().contains("group/g2"),
        "no roster of another faculty"
    );
    let mut dean = Replica::new("dean-pc");
    dean.sync(&server, &tokens["dean1"], vec![], vec![]).await;
    assert!(
        dean.docs().contains("journal/j1"),
        "the dean's office still reads it"
    );

    // A dean claims another faculty's journal by metadata: ignored, still refused.
    let grab = dean.change("journal/j2", "x", "mine");
    let resp = dean
        .sync(
            &server,
            &tokens["dean1"],
            vec![(
                "journal/j2".into(),
                meta_journal("group/g1", "module/m2", &[]),
            )],
            vec![push("journal/j2", &grab)],
        )
        .await;
    assert_eq!(resp.refused.len(), 1);
    assert!(
        resp.refused[0].reason.contains("not in your faculty"),
        "{:?}",
        resp.refused
    );

    // Nobody but an administrator creates a document the server does not know.
    let new = dean.change("journal/new", "x", "mine");
    let resp = dean
        .sync(
            &server,
            &tokens["dean1"],
            vec![(
                "journal/new".into(),
                meta_journal("group/g1", "module/m1", &[]),
            )],
            vec![push("journal/new", &new)],
        )
        .await;
    assert_eq!(resp.refused.len(), 1);
    assert!(
        resp.refused[0].reason.contains("not on the server yet"),
        "{:?}",
        resp.refused
    );

    // The administrator's metadata may not name a group the server does not have.
    let mut admin = Replica::new("admin-2");
    let orphan = admin.change("journal/orphan", "x", "1");
    let resp = admin
        .sync(
            &server,
            &admin_token,
            vec![(
                "journal/orphan".into(),
                meta_journal("group/nowhere", "module/m1", &[]),
            )],
            vec![push("journal/orphan", &orphan)],
        )
        .await;
    assert_eq!(resp.refused.len(), 1);
    assert!(
        resp.refused[0].reason.contains("group/nowhere"),
        "{:?}",
        resp.refused
    );
    server.shutdown().await;
}

/// Two changes with one (actor, seq) and different hashes would make every replica of the
/// document fail to load it: the second is refused, and a fresh replica loads the document.
#[tokio::test]
async fn a_second_change_with_the_same_actor_and_seq_is_refused() {
    let server = start().await;
    let (admin_token, _) = seed(&server).await;
    let tokens = people(&server).await;
    let (_, genesis) = genesis_change("journal/j1", DocKind::Journal);
    let actor = device("ali twin");
    let first = write(
        "journal/j1",
        &actor,
        &[],
        "topics",
        "h1",
        Some("Limits"),
        None,
    );
    let twin = write(
        "journal/j1",
        &actor,
        &[],
        "topics",
        "h1",
        Some("Sets"),
        None,
    );
    assert_ne!(hash_of(&first), hash_of(&twin));
    let resp = server
        .sync(
            &tokens["ali"],
            "ali-laptop",
            &SyncRequest {
                push: vec![
                    push("journal/j1", &genesis),
                    push("journal/j1", &first),
                    push("journal/j1", &twin),
                ],
                ..SyncRequest::default()
            },
        )
        .await;
    assert_eq!(resp.acked, vec![hash_of(&genesis), hash_of(&first)]);
    assert_eq!(resp.refused.len(), 1);
    assert!(
        resp.refused[0].reason.contains("same sequence number"),
        "{:?}",
        resp.refused
    );

    // A fresh replica gets j1 (whole, as a snapshot where the server builds one) and loads it.
    let resp = server
        .sync(
            &admin_token,
            "fresh-pc",
            &SyncRequest {
                snapshots: true,
                ..SyncRequest::default()
            },
        )
        .await;
    let mut j1 = AutoCommit::new();
    for c in resp.changes.iter().filter(|c| c.doc == "journal/j1") {
        if c.snapshot {
            j1.load_incremental(&c.change.0).expect("loads");
        } else {
            j1.apply_changes([automerge::Change::from_bytes(c.change.0.clone()).expect("change")])
                .expect("applies");
        }
    }
    let (_, topics) = j1.get(ROOT, "topics").expect("read").expect("map");
    assert_eq!(
        j1.get(&topics, "h1")
            .expect("read")
            .and_then(|(v, _)| v.as_str().map(str::to_owned)),
        Some("Limits".into())
    );
    server.shutdown().await;
}

/// Stored once, acknowledged every time: a change repeated within one push or sent again in a
/// later one (its reply lost) is acknowledged without a second row, a device's next change
/// after it is stored, and the same bytes sent as another document's are refused.
#[tokio::test]
async fn a_change_sent_again_is_acknowledged_and_stored_once() {
    let server = start().await;
    let (admin_token, _) = seed(&server).await;
    let tokens = people(&server).await;
    let (_, genesis) = genesis_change("journal/j1", DocKind::Journal);
    let actor = device("ali again");
    let first = write(
        "journal/j1",
        &actor,
        &[],
        "topics",
        "h1",
        Some("Limits"),
        None,
    );
    let second = write(
        "journal/j1",
        &actor,
        std::slice::from_ref(&first),
        "topics",
        "h2",
        Some("Series"),
        None,
    );
    let sync = |push: Vec<PushChange>| server.push_only(&tokens["ali"], "ali-laptop", push);
    let resp = sync(vec![
        push("journal/j1", &genesis),
        push("journal/j1", &first),
        push("journal/j1", &first),
    ])
    .await;
    assert!(resp.refused.is_empty(), "{:?}", resp.refused);
    assert_eq!(
        resp.acked,
        vec![hash_of(&genesis), hash_of(&first), hash_of(&first)]
    );
    let resp = sync(vec![
        push("journal/j1", &first),
        push("journal/j1", &second),
    ])
    .await;
    assert!(resp.refused.is_empty(), "{:?}", resp.refused);
    assert_eq!(resp.acked, vec![hash_of(&first), hash_of(&second)]);
    let resp = sync(vec![push("journal/j2", &second)]).await;
    assert!(resp.acked.is_empty(), "{:?}", resp.acked);
    assert_eq!(resp.refused.len(), 1, "{:?}", resp.refused);

    // The document holds each change once.
    let resp = server
        .sync(&admin_token, "fresh-pc", &SyncRequest::default())
        .await;
    let of_j1: Vec<String> = resp
        .changes
        .iter()
        .filter(|c| c.doc == "journal/j1")
        .map(|c| hash_of(&c.change.0))
        .collect();
    for change in [&genesis, &first, &second] {
        let hash = hash_of(change);
        assert_eq!(of_j1.iter().filter(|h| **h == hash).count(), 1, "{hash}");
    }
    assert!(
        !resp.changes.iter().any(|c| c.doc == "journal/j2"
            && !c.snapshot
            && hash_of(&c.change.0) == hash_of(&second))
    );
    server.shutdown().await;
}

/// A change stored under looser limits and sent again (its reply was lost) after the limits
/// were tightened is acknowledged, not refused as too large: it is stored.
#[tokio::test]
async fn a_change_stored_before_the_limits_tightened_is_acknowledged_when_sent_again() {
    let server = start().await;
    let (_admin_token, _) = seed(&server).await;
    let tokens = people(&server).await;
    // journal/j1's genesis change holds several operations; stored under today's limits.
    let (_, genesis) = genesis_change("journal/j1", DocKind::Journal);
    let resp = server
        .push_only(
            &tokens["ali"],
            "ali-laptop",
            vec![push("journal/j1", &genesis)],
        )
        .await;
    assert_eq!(resp.acked, vec![hash_of(&genesis)], "{:?}", resp.refused);
    let strict = start_on(
        Config {
            max_ops_per_change: 1,
            ..test_config()
        },
        Some(server.database.clone()),
    )
    .await;
    let resp = strict
        .push_only(
            &tokens["ali"],
            "ali-laptop",
            vec![push("journal/j1", &genesis)],
        )
        .await;
    assert!(resp.refused.is_empty(), "{:?}", resp.refused);
    assert_eq!(resp.acked, vec![hash_of(&genesis)]);
    // A change of as many operations that is not stored yet is refused by the same server.
    let (_, other) = genesis_change("journal/j-new", DocKind::Journal);
    let resp = strict
        .push_only(
            &tokens["ali"],
            "ali-laptop",
            vec![push("journal/j1", &other)],
        )
        .await;
    assert!(resp.acked.is_empty(), "{:?}", resp.acked);
    assert_eq!(resp.refused.len(), 1, "{:?}", resp.refused);
    strict.shutdown().await;
    server.shutdown().await;
}

/// A row the server cannot decode (stored before a check existed, or damaged on disk) never
/// turns a pull into a 500: the document goes out change by change instead of as a snapshot.
#[tokio::test]
async fn a_damaged_row_never_fails_a_pull() {
    let server = start().await;
    let (admin_token, _) = seed(&server).await;
    match super::postgres_db(&server.database) {
        Some(db) => {
            let mut sql = String::new();
            for i in 0..12u8 {
                sql.push_str(&format!(
                    "INSERT INTO changes (hash, doc, actor, user_id, bytes, stored_at) \
                     SELECT '\\x{}', id, '\\x00', 1, '\\x856f4a83{i:02x}', 0 FROM docs WHERE doc_id = 'group/g1';\n",
                    format!("{i:02x}").repeat(32)
                ));
            }
            super::postgres_sql(Some(&db), &sql).await;
        }
        None => {
            let db =
                rusqlite::Connection::open(server._dir.path().join("server.db")).expect("open");
            let doc: i64 = db
                .query_row("SELECT id FROM docs WHERE doc_id = 'group/g1'", [], |r| {
                    r.get(0)
                })
                .expect("g1");
            for i in 0..12u8 {
                db.execute(
                    "INSERT INTO changes (hash, doc, actor, user_id, bytes, stored_at) VALUES (?1, ?2, x'00', 1, ?3, 0)",
                    rusqlite::params![vec![i; 32], doc, vec![0x85, 0x6f, 0x4a, 0x83, i]],
                )
                .expect("insert");
            }
        }
    }
    let r = server
        .sync_raw(
            &admin_token,
            "fresh-pc",
            &SyncRequest {
                snapshots: true,
                ..SyncRequest::default()
            },
        )
        .await;
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "{}",
        r.text().await.unwrap_or_default()
    );
    server.healthy().await;
    server.shutdown().await;
}

/// The real binary, for figures about the server process itself (its memory).
struct Binary {
    child: tokio::process::Child,
    url: String,
    _drain: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Binary {
    async fn start(admin_password: &str) -> Binary {
        use std::process::Stdio;
        use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
        use tokio::process::Command;
        let dir = tempfile::tempdir().expect("tempdir");
        let db = super::fresh_database(dir.path()).await.to_string();
        let bin = env!("CARGO_BIN_EXE_daftar-sync");
        let mut add = Command::new(bin)
            .args(["user", "add", "admin", "--role", "admin", "--database"])
            .arg(&db)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn user add");
        let mut stdin = add.stdin.take().expect("stdin");
        stdin
            .write_all(format!("{admin_password}\n").as_bytes())
            .await
            .expect("password");
        drop(stdin);
        let out = add.wait_with_output().await.expect("user add");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut child = Command::new(bin)
            .args(["serve", "--listen", "127.0.0.1:0", "--database"])
            .arg(&db)
            .env("RUST_LOG", "info")
            .env_remove("DAFTAR_SYNC_CONFIG")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn serve");
        let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
        let addr = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await.expect("read stderr") {
                if let Some(rest) = line.split("listen=").nth(1) {
                    return rest.split_whitespace().next().map(str::to_owned);
                }
            }
            None
        })
        .await
        .expect("server announces its address")
        .expect("a listen= field");
        let drain = tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Binary {
            child,
            url: format!("http://{addr}"),
            _drain: drain,
            _dir: dir,
        }
    }

    /// The server process's peak resident memory, in MiB.
    fn peak_rss_mib(&self) -> u64 {
        let pid = self.child.id().expect("running");
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .expect("VmHWM")
            / 1024
    }
}

/// A compressed change chunk whose body inflates to 1 GiB.
fn inflation_bomb() -> Vec<u8> {
    use std::io::Write as _;
    let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..1024 {
        z.write_all(&zeros).expect("deflate");
    }
    let body = z.finish().expect("deflate");
    let mut chunk = vec![0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, 2];
    let mut len = body.len();
    loop {
        let byte = (len & 0x7f) as u8;
        len >>= 7;
        if len == 0 {
            chunk.push(byte);
            break;
        }
        chunk.push(byte | 0x80);
    }
    chunk.extend_from_slice(&body);
    chunk
}

/// One change holding a million ops in a few kilobytes.
fn million_ops(doc: &str) -> Vec<u8> {
    let (genesis_hash, _) = genesis_change(doc, DocKind::Journal);
    let genesis = ActorId::from(&genesis_actor(doc)[..]);
    let op = Op {
        action: OpType::Put(ScalarValue::Str("x".into())),
        obj: ObjectId::Id(OpId(5, genesis)),
        key: Key::Map("h1/s1".into()),
        pred: SortedVec::new(),
        insert: false,
    };
    let change = automerge::ExpandedChange {
        operations: vec![op; 1_000_000],
        actor_id: ActorId::from(&device("bomber")[..]),
        hash: None,
        seq: 1,
        start_op: NonZeroU64::new(10).expect("nonzero"),
        time: 0,
        message: None,
        deps: vec![automerge::ChangeHash(genesis_hash)],
        extra_bytes: Vec::new(),
        author: None,
    };
    automerge::Change::from(change).raw_bytes().to_vec()
}

/// Bombs against the real binary: a compressed chunk inflating to 1 GiB and a change of 10⁶
/// ops, each refused in under a second, the server's memory staying under 200 MiB, and an
/// ordinary push going through after them.
#[tokio::test]
async fn bombs_are_refused_fast_and_the_server_stays_small() {
    let server = Binary::start("bomb-admin-pw").await;
    let http = reqwest::Client::new();
    let login: LoginResponse = http
        .post(format!("{}/v1/sessions", server.url))
        .json(&LoginRequest {
            user: "admin".into(),
            password: "bomb-admin-pw".into(),
        })
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("login body");
    let sync = |req: SyncRequest| {
        let http = http.clone();
        let url = format!("{}/v1/sync", server.url);
        let token = login.token.clone();
        async move {
            http.post(url)
                .bearer_auth(token)
                .header(REPLICA_HEADER, "bomber-pc")
                .json(&req)
                .send()
                .await
                .expect("send")
        }
    };

    let bomb = inflation_bomb();
    assert!(
        bomb.len() < 8 * 1024 * 1024,
        "inside an accepted body: {}",
        bomb.len()
    );
    let t = Instant::now();
    let r = sync(SyncRequest {
        push: vec![push("journal/j1", &bomb)],
        ..SyncRequest::default()
    })
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let err: ErrorBody = r.json().await.expect("JSON error");
    assert!(err.message.contains("compressed"), "{}", err.message);
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());

    let many = million_ops("journal/j1");
    assert!(many.len() < 2 * 1024 * 1024, "{} bytes", many.len());
    let t = Instant::now();
    let r = sync(SyncRequest {
        push: vec![push("journal/j1", &many)],
        ..SyncRequest::default()
    })
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let resp: SyncResponse = r.json().await.expect("sync body");
    assert!(resp.acked.is_empty());
    assert_eq!(resp.refused.len(), 1);
    assert_eq!(resp.refused[0].code, ErrorCode::TooLarge);
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());

    let ok = change("journal/j1", &device("admin ok"), Role::Admin, "k", "v");
    let (_, genesis) = genesis_change("journal/j1", DocKind::Journal);
    let resp: SyncResponse = sync(SyncRequest {
        push: vec![push("journal/j1", &genesis), push("journal/j1", &ok)],
        ..SyncRequest::default()
    })
    .await
    .json()
    .await
    .expect("sync body");
    assert_eq!(resp.acked.len(), 2, "{:?}", resp.refused);
    let peak = server.peak_rss_mib();
    assert!(peak < 200, "the server peaked at {peak} MiB");
}

/// A teacher adds and cancels lessons, but a held lesson (one with marks) stays, and an
/// existing lesson is moved or reassigned by the dean's office only. Hand-made changes: a
/// teacher's "new" header written over an existing lesson, and a cancel of a held lesson, are
/// refused with the reason; the dean's office does both.
#[tokio::test]
async fn a_teacher_cannot_move_or_cancel_a_held_lesson_by_hand() {
    let server = start().await;
    let (admin_token, _admin) = seed(&server).await;
    let tokens = people(&server).await;
    let header = |date: &str| format!(r#"{{"date":"{date}","pair":2,"type":"13"}}"#);
    let admin = device("admin lessons");
    let h1 = write(
        "journal/j1",
        &admin,
        &[],
        "lessons",
        "h1",
        Some(&header("2026-09-14")),
        None,
    );
    let h2 = write(
        "journal/j1",
        &admin,
        std::slice::from_ref(&h1),
        "lessons",
        "h2",
        Some(&header("2026-09-15")),
        None,
    );
    let resp = server
        .sync(
            &admin_token,
            "admin-seed",
            &SyncRequest {
                push: vec![push("journal/j1", &h1), push("journal/j1", &h2)],
                ..SyncRequest::default()
            },
        )
        .await;
    assert!(resp.refused.is_empty(), "{:?}", resp.refused);
    let ali = device("ali lessons");
    // Moving h1 to another day by writing a "new" header without seeing the old one.
    let moved = write(
        "journal/j1",
        &ali,
        &[],
        "lessons",
        "h1",
        Some(&header("2026-12-01")),
        None,
    );
    let resp = push_one(&server, &tokens["ali"], &moved, "ali-pc").await;
    assert!(resp.acked.is_empty(), "the move was stored");
    assert!(
        resp.refused[0]
            .reason
            .contains("only the dean's office moves or reassigns"),
        "{}",
        resp.refused[0].reason
    );
    // A teacher's own new lesson is fine.
    let h3 = write(
        "journal/j1",
        &ali,
        &[],
        "lessons",
        "h3",
        Some(&header("2026-09-16")),
        None,
    );
    assert_eq!(
        push_one(&server, &tokens["ali"], &h3, "ali-pc").await.acked,
        vec![hash_of(&h3)]
    );
    // h1 is held: ali marks it, then tries to cancel it.
    let mark = write(
        "journal/j1",
        &ali,
        std::slice::from_ref(&h3),
        "marks",
        "h1/s1",
        Some(r#"{"s":"a","h":2}"#),
        None,
    );
    assert_eq!(
        push_one(&server, &tokens["ali"], &mark, "ali-pc")
            .await
            .acked,
        vec![hash_of(&mark)]
    );
    let cancel = write(
        "journal/j1",
        &ali,
        &[h3.clone(), mark.clone()],
        "status",
        "h1",
        Some("cancelled"),
        None,
    );
    let resp = push_one(&server, &tokens["ali"], &cancel, "ali-pc").await;
    assert!(resp.acked.is_empty(), "the held lesson was cancelled");
    assert!(
        resp.refused[0]
            .reason
            .contains("only the dean's office cancels a held lesson"),
        "{}",
        resp.refused[0].reason
    );
    // Clearing the marks first changes nothing: the lesson was held.
    let cleared = write(
        "journal/j1",
        &ali,
        &[h3.clone(), mark.clone()],
        "marks",
        "h1/s1",
        None,
        None,
    );
    assert_eq!(
        push_one(&server, &tokens["ali"], &cleared, "ali-pc")
            .await
            .acked,
        vec![hash_of(&cleared)]
    );
    let held = write(
        "journal/j1",
        &ali,
        &[h3.clone(), mark.clone(), cleared.clone()],
        "status",
        "h1",
        Some("held"),
        None,
    );
    assert_eq!(
        push_one(&server, &tokens["ali"], &held, "ali-pc")
            .await
            .acked,
        vec![hash_of(&held)]
    );
    for to in ["cancelled", "planned"] {
        let undo = write(
            "journal/j1",
            &ali,
            &[h3.clone(), mark.clone(), cleared.clone(), held.clone()],
            "status",
            "h1",
            Some(to),
            None,
        );
        let resp = push_one(&server, &tokens["ali"], &undo, "ali-pc").await;
        assert!(resp.acked.is_empty(), "a held lesson set to {to}");
        assert!(
            resp.refused[0].reason.contains("held lesson"),
            "{}",
            resp.refused[0].reason
        );
    }
    // "Taken in HEMIS" is the import's word, not a teacher's.
    let taken = write(
        "journal/j1",
        &ali,
        &[],
        "lessons",
        "h9",
        Some(r#"{"date":"2026-09-18","pair":2,"type":"13","taken":true}"#),
        None,
    );
    let resp = push_one(&server, &tokens["ali"], &taken, "ali-pc").await;
    assert!(resp.acked.is_empty(), "a teacher's lesson marked taken");
    // h2 has no marks: the teacher cancels it.
    let cancel2 = write(
        "journal/j1",
        &ali,
        &[h3.clone(), mark.clone(), cleared.clone(), held.clone()],
        "status",
        "h2",
        Some("cancelled"),
        None,
    );
    assert_eq!(
        push_one(&server, &tokens["ali"], &cancel2, "ali-pc")
            .await
            .acked,
        vec![hash_of(&cancel2)]
    );
    // The dean's office moves h1's header and cancels it.
    let dean = device("dean lessons");
    let dean_move = write(
        "journal/j1",
        &dean,
        &[h1.clone(), h2.clone()],
        "lessons",
        "h1",
        Some(&header("2026-09-21")),
        None,
    );
    let dean_cancel = write(
        "journal/j1",
        &dean,
        &[h1.clone(), h2.clone(), dean_move.clone()],
        "status",
        "h1",
        Some("cancelled"),
        None,
    );
    let resp = server
        .sync(
            &tokens["dean1"],
            "dean-pc",
            &SyncRequest {
                push: vec![
                    push("journal/j1", &dean_move),
                    push("journal/j1", &dean_cancel),
                ],
                ..SyncRequest::default()
            },
        )
        .await;
    assert!(resp.refused.is_empty(), "{:?}", resp.refused);
    assert_eq!(resp.acked.len(), 2);
}

/// A retake sitting of any control (a redone ON, the second YN) needs the dean's office's
/// permission on the server too: a hand-made sitting-2 score is refused until the dean's
/// retake permission is stored, then taken.
#[tokio::test]
async fn a_retake_sitting_needs_the_dean_s_permission() {
    let server = start().await;
    let (_admin_token, _admin) = seed(&server).await;
    let tokens = people(&server).await;
    let ali = device("ali retake");
    let redo = write(
        "journal/j1",
        &ali,
        &[],
        "scores",
        "ON1/2/s1",
        Some("12"),
        None,
    );
    let resp = push_one(&server, &tokens["ali"], &redo, "ali-pc").await;
    assert!(resp.acked.is_empty(), "stored without permission");
    assert!(
        resp.refused[0].reason.contains("retake permission"),
        "{}",
        resp.refused[0].reason
    );
    let dean = device("dean retake");
    let permit = write(
        "journal/j1",
        &dean,
        &[],
        "status",
        "retake:2/s1",
        Some(r#"{"reason":"buyruq 7"}"#),
        None,
    );
    assert_eq!(
        push_one(&server, &tokens["dean1"], &permit, "dean-pc")
            .await
            .acked,
        vec![hash_of(&permit)]
    );
    // A place past the three sittings is no score's.
    for key in ["YN/256/s1", "YN/0/s1", "YN/s1", "/1/s1"] {
        let odd = write("journal/j1", &ali, &[], "scores", key, Some("30"), None);
        let resp = push_one(&server, &tokens["ali"], &odd, "ali-pc").await;
        assert!(resp.acked.is_empty(), "{key} was stored");
        assert!(
            resp.refused[0].reason.contains("not a score's place"),
            "{key}: {}",
            resp.refused[0].reason
        );
    }
    // Absent from sitting 3, never opened: refused; from sitting 2, opened: taken.
    let other = device("ali absences");
    let away3 = write(
        "journal/j1",
        &other,
        &[],
        "status",
        "yn-absent:3/s1",
        Some("kelmadi"),
        None,
    );
    let resp = push_one(&server, &tokens["ali"], &away3, "ali-pc").await;
    assert!(resp.acked.is_empty(), "an absence from an unopened sitting");
    assert!(
        resp.refused[0].reason.contains("retake permission"),
        "{}",
        resp.refused[0].reason
    );
    let away2 = write(
        "journal/j1",
        &other,
        &[],
        "status",
        "yn-absent:2/s1",
        Some("kelmadi"),
        None,
    );
    assert_eq!(
        push_one(&server, &tokens["ali"], &away2, "ali-pc")
            .await
            .acked,
        vec![hash_of(&away2)]
    );
    let again = write(
        "journal/j1",
        &ali,
        &[],
        "scores",
        "ON1/2/s1",
        Some("12.5"),
        None,
    );
    let resp = push_one(&server, &tokens["ali"], &again, "ali-pc").await;
    assert_eq!(resp.acked, vec![hash_of(&again)], "{:?}", resp.refused);
}

/// Pushes one hand-made change to `journal/j1` as the token's user, from the replica `tag`.
async fn push_one(server: &Server, token: &str, change: &[u8], tag: &str) -> SyncResponse {
    let req = SyncRequest {
        push: vec![push("journal/j1", change)],
        ..SyncRequest::default()
    };
    server.sync(token, tag, &req).await
}

/// What a change leaves on a key is what the server judges, over HTTP: a teacher superseding
/// a lesson status both of their devices set (delete, then put) is stored; automerge's own
/// form of that put (a lone delete of the other value) is refused, since without the document
/// it cannot be told from deleting the status; and a hand-made change holding two values of
/// one mark side by side, one of them excused, is refused whole: the value beside the allowed
/// one is judged too.
#[tokio::test]
async fn a_teacher_s_change_is_judged_by_what_it_leaves_on_each_key() {
    let server = start().await;
    let (admin_token, _admin) = seed(&server).await;
    let tokens = people(&server).await;
    let header = write(
        "journal/j1",
        &device("admin h1"),
        &[],
        "lessons",
        "h1",
        Some(r#"{"date":"2026-09-14","pair":2,"type":"13"}"#),
        None,
    );
    let resp = push_one(&server, &admin_token, &header, "admin-seed").await;
    assert!(resp.refused.is_empty(), "{:?}", resp.refused);
    // Held from two devices at once.
    let mut base = vec![header];
    let held: Vec<Vec<u8>> = ["ali laptop held", "ali phone held"]
        .iter()
        .map(|d| {
            write(
                "journal/j1",
                &device(d),
                &base,
                "status",
                "h1",
                Some("held"),
                None,
            )
        })
        .collect();
    for (change, tag) in held.iter().zip(["ali-laptop", "ali-phone"]) {
        let resp = push_one(&server, &tokens["ali"], change, tag).await;
        assert_eq!(resp.acked, vec![hash_of(change)], "{:?}", resp.refused);
    }
    base.extend(held);
    let over = |actor: &str, supersede: bool| {
        let mut am = started("journal/j1", &device(actor));
        am.apply_changes(
            base.iter()
                .map(|c| automerge::Change::from_bytes(c.clone()).expect("a change")),
        )
        .expect("apply");
        let (_, status) = am.get(ROOT, "status").expect("read").expect("status");
        if supersede {
            am.delete(&status, "h1").expect("delete");
        }
        am.put(&status, "h1", "held").expect("put");
        commit(&mut am, None)
    };
    let lone_delete = over("ali tablet", false);
    let resp = push_one(&server, &tokens["ali"], &lone_delete, "ali-tablet").await;
    assert!(
        resp.acked.is_empty(),
        "a lone delete of the status was stored"
    );
    assert!(
        resp.refused[0].reason.contains("may not delete"),
        "{:?}",
        resp.refused
    );
    let overwrite = over("ali desktop", true);
    let resp = push_one(&server, &tokens["ali"], &overwrite, "ali-desktop").await;
    assert_eq!(resp.acked, vec![hash_of(&overwrite)], "{:?}", resp.refused);

    // Two values of one mark in one change, neither over the other.
    let present = write(
        "journal/j1",
        &device("ali sneaky"),
        &base,
        "marks",
        "h1/s1",
        Some(r#"{"s":"p","h":2}"#),
        None,
    );
    let mut expanded = automerge::Change::from_bytes(present)
        .expect("a change")
        .decode();
    let mut excused = expanded.operations[0].clone();
    excused.action = OpType::Put(ScalarValue::Str(r#"{"s":"e","h":2}"#.into()));
    expanded.operations.insert(0, excused);
    let crafted = automerge::Change::from(expanded).raw_bytes().to_vec();
    let resp = push_one(&server, &tokens["ali"], &crafted, "ali-sneaky").await;
    assert!(
        resp.acked.is_empty(),
        "an excused value went in beside a present one"
    );
    assert!(
        resp.refused[0].reason.contains("dean's office"),
        "{:?}",
        resp.refused
    );
}
