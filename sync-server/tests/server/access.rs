//! Who reads and writes which documents, by role, scope and assignment.

use super::*;

#[tokio::test]
async fn push_and_pull_round_trip_between_two_users() {
    let server = start().await;
    let (admin_token, mut admin) = seed(&server).await;
    server.user("ali", Role::Teacher, None, Some("E1"));
    let ali_token = server.token("ali").await;
    let mut ali = Replica::new("ali-laptop");

    // Ali gets the journal named for E1, its group and module, and the catalog.
    ali.sync(&server, &ali_token, vec![], vec![]).await;
    assert_eq!(
        ali.docs(),
        set(&["catalog/uni", "group/g1", "module/m1", "journal/j1"])
    );

    // Ali marks a lesson; the admin's replica receives exactly that change.
    let mark = ali.change("journal/j1", "lesson-1", "present");
    let resp = ali
        .sync(&server, &ali_token, vec![], vec![push("journal/j1", &mark)])
        .await;
    assert_eq!(resp.acked, vec![hash_of(&mark)]);
    assert!(resp.refused.is_empty());
    assert!(
        !ali.received.iter().any(|(_, h)| *h == hash_of(&mark)),
        "own change not echoed back"
    );

    let before = admin.received.len();
    admin.sync(&server, &admin_token, vec![], vec![]).await;
    assert_eq!(
        admin.received[before..].to_vec(),
        vec![("journal/j1".to_string(), hash_of(&mark))]
    );
    server.shutdown().await;
}

#[tokio::test]
async fn teacher_sees_exactly_assigned_journals_and_what_they_reference() {
    let server = start().await;
    let (admin_token, _) = seed(&server).await;
    server.user("bob", Role::Teacher, None, Some("E9"));
    let r = server.assign(&admin_token, "bob", "j3").await;
    assert_eq!(r.status(), StatusCode::OK);
    let bob_token = server.token("bob").await;
    let mut bob = Replica::new("bob-pc");
    bob.sync(&server, &bob_token, vec![], vec![]).await;
    assert_eq!(
        bob.docs(),
        set(&["catalog/uni", "journal/j3", "group/g1", "module/m2"])
    );
    server.shutdown().await;
}

#[tokio::test]
async fn dean_is_scoped_by_faculty() {
    let server = start().await;
    let _ = seed(&server).await;
    server.user("dean1", Role::Dean, Some("F1"), None);
    let token = server.token("dean1").await;
    let mut dean = Replica::new("dean-pc");
    dean.sync(&server, &token, vec![], vec![]).await;
    assert_eq!(
        dean.docs(),
        set(&[
            "catalog/uni",
            "group/g1",
            "journal/j1",
            "journal/j3",
            "module/m1",
            "module/m2"
        ])
    );

    // The dean writes journals of the faculty, not those of another.
    let ok = dean.change("journal/j1", "lock", "yes");
    let no = dean.change("journal/j2", "lock", "no");
    let resp = dean
        .sync(
            &server,
            &token,
            vec![],
            vec![push("journal/j1", &ok), push("journal/j2", &no)],
        )
        .await;
    assert_eq!(resp.acked, vec![hash_of(&ok)]);
    assert_eq!(resp.refused.len(), 1);
    assert_eq!(resp.refused[0].hash, hash_of(&no));
    assert_eq!(resp.refused[0].code, ErrorCode::Forbidden);
    server.shutdown().await;
}

#[tokio::test]
async fn department_head_is_scoped_by_department() {
    let server = start().await;
    let _ = seed(&server).await;
    server.user("head2", Role::DepartmentHead, Some("D2"), None);
    let token = server.token("head2").await;
    let mut head = Replica::new("head-pc");
    head.sync(&server, &token, vec![], vec![]).await;
    assert_eq!(
        head.docs(),
        set(&[
            "catalog/uni",
            "module/m2",
            "journal/j2",
            "journal/j3",
            "group/g1",
            "group/g2"
        ])
    );
    let topic = head.change("module/m2", "topic", "Limits");
    let resp = head
        .sync(&server, &token, vec![], vec![push("module/m2", &topic)])
        .await;
    assert_eq!(resp.acked, vec![hash_of(&topic)]);
    let other = head.change("module/m1", "topic", "Sets");
    let resp = head
        .sync(&server, &token, vec![], vec![push("module/m1", &other)])
        .await;
    assert_eq!(resp.refused.len(), 1);
    server.shutdown().await;
}

#[tokio::test]
async fn refused_write_stores_nothing_and_is_accepted_after_assign() {
    let server = start().await;
    let (admin_token, mut admin) = seed(&server).await;
    server.user("bob", Role::Teacher, None, Some("E9"));
    let bob_token = server.token("bob").await;
    let mut bob = Replica::new("bob-pc");

    let mark = bob.change("journal/j2", "lesson-1", "absent");
    let req = vec![push("journal/j2", &mark)];
    let resp = bob.sync(&server, &bob_token, vec![], req.clone()).await;
    assert!(resp.acked.is_empty());
    assert_eq!(resp.refused.len(), 1);
    assert_eq!(resp.refused[0].hash, hash_of(&mark));
    assert_eq!(resp.refused[0].code, ErrorCode::Forbidden);
    assert!(resp.refused[0].reason.contains("not assigned"));

    // Nothing reached the server.
    let before = admin.received.len();
    admin.sync(&server, &admin_token, vec![], vec![]).await;
    assert_eq!(admin.received.len(), before);

    // Assigned (here by employee id through the API), the same push goes through.
    let r = server
        .assign(&admin_token, "employee:E9", "journal/j2")
        .await;
    let out: AssignResponse = r.json().await.expect("assign body");
    assert_eq!((out.assigned, out.pending), (1, 0));
    let resp = bob.sync(&server, &bob_token, vec![], req).await;
    assert_eq!(resp.acked, vec![hash_of(&mark)]);
    assert!(resp.refused.is_empty());
    admin.sync(&server, &admin_token, vec![], vec![]).await;
    assert_eq!(admin.received.len(), before + 1);
    server.shutdown().await;
}

#[tokio::test]
async fn foreign_actor_is_refused() {
    let server = start().await;
    let (admin_token, _) = seed(&server).await;
    server.user("ali", Role::Teacher, None, Some("E1"));
    server.user("eve", Role::Teacher, None, Some("E2"));
    let r = server.assign(&admin_token, "eve", "journal/j1").await;
    assert_eq!(r.status(), StatusCode::OK);
    let ali_token = server.token("ali").await;
    let eve_token = server.token("eve").await;
    let mut ali = Replica::new("ali-laptop");
    let first = ali.change("journal/j1", "a", "1");
    ali.sync(
        &server,
        &ali_token,
        vec![],
        vec![push("journal/j1", &first)],
    )
    .await;

    // Eve, also allowed on j1, forges a change with Ali's device actor.
    let mut eve = Replica::new("eve-pc");
    let forged = ali.change("journal/j1", "grade", "5");
    let resp = eve
        .sync(
            &server,
            &eve_token,
            vec![],
            vec![push("journal/j1", &forged)],
        )
        .await;
    assert!(resp.acked.is_empty());
    assert_eq!(resp.refused.len(), 1);
    assert_eq!(resp.refused[0].code, ErrorCode::ForeignActor);

    // The document's own genesis change is anyone's who writes it, and never bound to them.
    let (_, genesis) = daftar_rules::genesis::genesis_change("journal/j1", DocKind::Journal);
    let resp = eve
        .sync(
            &server,
            &eve_token,
            vec![],
            vec![push("journal/j1", &genesis)],
        )
        .await;
    assert_eq!(resp.acked, vec![hash_of(&genesis)]);
    let resp = ali
        .sync(
            &server,
            &ali_token,
            vec![],
            vec![push("journal/j1", &genesis)],
        )
        .await;
    assert_eq!(
        resp.acked,
        vec![hash_of(&genesis)],
        "and never bound to her"
    );
    // Any other change with the genesis actor is a second genesis: refused.
    let mut fake = started("journal/j1", &genesis_actor("journal/j1"));
    let (_, marks) = fake.get(ROOT, "marks").expect("read").expect("map");
    fake.put(&marks, "h1/s1", r#"{"s":"p"}"#).expect("put");
    let second = commit(&mut fake, None);
    let resp = ali
        .sync(
            &server,
            &ali_token,
            vec![],
            vec![push("journal/j1", &second)],
        )
        .await;
    assert_eq!(resp.refused.len(), 1, "{resp:?}");
    assert!(resp.refused[0].reason.contains("genesis"));
    server.shutdown().await;
}

#[tokio::test]
async fn retried_push_is_idempotent() {
    let server = start().await;
    let (admin_token, mut admin) = seed(&server).await;
    let c = admin.change("catalog/uni", "x", "1");
    let req = SyncRequest {
        push: vec![push("catalog/uni", &c), push("catalog/uni", &c)],
        ..SyncRequest::default()
    };
    let first = server.sync(&admin_token, "other-replica", &req).await;
    let second = server.sync(&admin_token, "other-replica", &req).await;
    assert_eq!(first.acked, vec![hash_of(&c), hash_of(&c)]);
    assert_eq!(second.acked, first.acked);
    let before = admin.received.len();
    admin.sync(&server, &admin_token, vec![], vec![]).await;
    assert_eq!(admin.received.len(), before + 1, "stored once");
    server.shutdown().await;
}

#[tokio::test]
async fn assignments_need_an_admin_and_unknown_teachers_are_pending() {
    let server = start().await;
    let (admin_token, _) = seed(&server).await;
    server.user("ali", Role::Teacher, None, Some("E1"));
    let ali_token = server.token("ali").await;
    let r = server.assign(&ali_token, "ali", "journal/j2").await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let err: ErrorBody = r.json().await.expect("JSON");
    assert_eq!(err.error, ErrorCode::Forbidden);

    let r = server
        .assign(&admin_token, "employee:E404", "journal/j2")
        .await;
    let out: AssignResponse = r.json().await.expect("JSON");
    assert_eq!((out.assigned, out.pending), (0, 1));

    // The pending assignment applies once that teacher exists.
    server.user("new", Role::Teacher, None, Some("E404"));
    let token = server.token("new").await;
    let mut r = Replica::new("new-pc");
    r.sync(&server, &token, vec![], vec![]).await;
    assert!(r.docs().contains("journal/j2"));

    let r = server.assign(&admin_token, "ali", "group/g1").await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "not a journal");
    server.shutdown().await;
}

#[tokio::test]
async fn teachers_cannot_create_journals_by_naming_themselves() {
    let server = start().await;
    let _ = seed(&server).await;
    server.user("ali", Role::Teacher, None, Some("E1"));
    let token = server.token("ali").await;
    let mut ali = Replica::new("ali-laptop");
    let c = ali.change("journal/new", "x", "1");
    let resp = ali
        .sync(
            &server,
            &token,
            vec![(
                "journal/new".into(),
                meta_journal("group/g2", "module/m2", &["E1"]),
            )],
            vec![push("journal/new", &c)],
        )
        .await;
    assert_eq!(resp.refused.len(), 1);
    assert!(!ali.docs().contains("group/g2"), "no roster leak");
    server.shutdown().await;
}

/// 4,200 documents (a large faculty-rich university): the readable-set computation after an
/// access change and the nothing-changed sync stay fast, because both are a few SQL joins.
#[test]
fn readable_sets_scale_to_thousands_of_documents() {
    use daftar_sync_server::store::{IncomingChange, PullRequest, PushBatch};
    use std::time::Instant;

    let dir = tempfile::tempdir().expect("tempdir");
    let store = open_store(&fresh_database_now(dir.path())).expect("open");
    let params = PasswordParams::INSECURE_FAST;
    let spec = |name: &str, role, scope: Option<&str>, employee: Option<&str>| UserSpec {
        name: name.into(),
        role,
        scope: scope.map(Into::into),
        employee: employee.map(Into::into),
        password: "x".into(),
    };
    let admin = add_user(
        store.as_ref(),
        &spec("admin", Role::Admin, None, None),
        &params,
    )
    .expect("admin");
    let dean = add_user(
        store.as_ref(),
        &spec("dean", Role::Dean, Some("F3"), None),
        &params,
    )
    .expect("dean");
    let teacher = add_user(
        store.as_ref(),
        &spec("t", Role::Teacher, None, Some("E7")),
        &params,
    )
    .expect("teacher");

    let actor = b"admin-importer!!".to_vec();
    let mut batch = PushBatch::default();
    let mut add = |doc: String, kind: DocKind, meta: DocMeta| {
        let bytes = change(&doc, &actor, Role::Admin, "id", &doc);
        let inspected = daftar_rules::inspect(&doc, kind, &bytes, &daftar_rules::Limits::default());
        let hash = inspected.as_ref().expect("a valid change").hash;
        batch.changes.push(IncomingChange {
            doc: doc.clone(),
            kind,
            hash,
            bytes,
            inspected,
        });
        batch.metas.push((doc, kind, meta));
    };
    for g in 0..200 {
        add(
            format!("group/g{g}"),
            DocKind::Group,
            meta_group(&format!("F{}", g % 10)),
        );
    }
    for m in 0..400 {
        add(
            format!("module/m{m}"),
            DocKind::Module,
            meta_module(&format!("D{}", m % 40)),
        );
    }
    for j in 0..3600 {
        let teacher = format!("E{}", j % 500);
        add(
            format!("journal/j{j}"),
            DocKind::Journal,
            meta_journal(
                &format!("group/g{}", j % 200),
                &format!("module/m{}", j % 400),
                &[&teacher],
            ),
        );
    }
    let t = Instant::now();
    let out = store.push(&admin, &batch, 1).expect("push");
    assert_eq!(out.stored, 4200);
    let push_time = t.elapsed();

    let pull = |user: &daftar_sync_server::User, replica: &str, cursor: u64, access: u64| {
        let t = Instant::now();
        let mut changes = 0;
        let (mut cursor, mut access) = (cursor, access);
        loop {
            let page = store
                .pull(
                    user,
                    &PullRequest {
                        replica: replica.into(),
                        cursor,
                        access,
                        budget: 1 << 20,
                        skip: Default::default(),
                        snapshots: false,
                        acknowledges: false,
                        ack: None,
                    },
                    2,
                )
                .expect("pull");
            changes += page.changes.len();
            cursor = page.cursor;
            access = page.access;
            if !page.more {
                break;
            }
        }
        (changes, cursor, access, t.elapsed())
    };
    // Dean of F3: 20 groups, the 360 journals of those groups, their modules.
    let (n, cursor, access, first) = pull(&dean, "dean-pc", 0, 0);
    assert_eq!(n, 20 + 360 + 40);
    // Access changes (an assignment elsewhere): readable set recomputed, nothing new to send.
    store
        .assign(
            &[(
                daftar_sync_server::TeacherRef::User("t".into()),
                "journal/j1".into(),
            )],
            2,
        )
        .expect("assign");
    let (n2, _, _, recompute) = pull(&dean, "dean-pc", cursor, access);
    assert_eq!(n2, 0);
    let access = store.access_version().expect("access");
    let (n3, _, _, idle) = pull(&dean, "dean-pc", cursor, access);
    assert_eq!(n3, 0);
    // Teacher E7: journals 7, 507, …, 3507 (8) plus the assigned j1; groups g7, g107, g1;
    // modules m7, m107, m207, m307, m1.
    let (t_n, _, _, teacher_time) = pull(&teacher, "t-pc", 0, 0);
    assert_eq!(t_n, 9 + 3 + 5);
    eprintln!(
        "push 4200 docs: {push_time:?}; dean first pull: {first:?}; after access change: \
         {recompute:?}; idle: {idle:?}; teacher first pull: {teacher_time:?}"
    );
    assert!(recompute < Duration::from_secs(2), "{recompute:?}");
    assert!(idle < Duration::from_millis(200), "{idle:?}");
}
