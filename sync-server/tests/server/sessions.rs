//! Sign-in, sessions and the sign-in limits.

use super::*;

#[tokio::test]
async fn login_succeeds_and_wrong_password_is_refused() {
    let server = start().await;
    server.user("ali", Role::Teacher, None, Some("E1"));
    let ok = server.login_raw("ali", "pw-ali").await;
    assert_eq!(ok.status(), StatusCode::OK);
    let body: LoginResponse = ok.json().await.expect("body");
    assert_eq!(body.user.name, "ali");
    assert_eq!(body.user.role, Role::Teacher);
    assert_eq!(body.user.employee.as_deref(), Some("E1"));
    assert!(body.token.len() >= 40);
    assert!(body.expires_at > 0);

    for (user, password) in [("ali", "wrong"), ("nobody", "pw-ali")] {
        let r = server.login_raw(user, password).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let err: ErrorBody = r.json().await.expect("error body");
        assert_eq!(err.error, ErrorCode::BadCredentials);
    }
    server.shutdown().await;
}

#[tokio::test]
async fn repeated_wrong_passwords_are_rate_limited() {
    let server = start().await;
    server.user("ali", Role::Teacher, None, None);
    for _ in 0..5 {
        let r = server.login_raw("ali", "wrong").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    // Even the right password is refused while the limit holds.
    let r = server.login_raw("ali", "pw-ali").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key("retry-after"));
    let err: ErrorBody = r.json().await.expect("error body");
    assert_eq!(err.error, ErrorCode::RateLimited);
    server.shutdown().await;
}

/// Two instances on one database (as behind a load balancer) share what they know: a
/// session made through one works through the other, and wrong passwords counted by one
/// lock the name out on the other.
#[tokio::test]
async fn instances_on_one_database_share_sessions_and_sign_in_limits() {
    let a = start().await;
    let b = start_on(test_config(), Some(a.database.clone())).await;
    a.user("ali", Role::Teacher, None, None);
    a.user("vali", Role::Teacher, None, None);
    let token = a.token("vali").await;
    let r = b.sync_raw(&token, "r1", &SyncRequest::default()).await;
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "a session from instance A works on B"
    );
    for _ in 0..5 {
        assert_eq!(
            a.login_raw("ali", "wrong").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        b.login_raw("ali", "pw-ali").await.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "failures counted on A hold on B"
    );
    b.shutdown().await;
    a.shutdown().await;
}

/// `X-Forwarded-For` names the client only when the request comes from a trusted proxy:
/// anyone else would pick a fresh address for every guess.
#[tokio::test]
async fn forwarded_addresses_count_only_from_a_trusted_proxy() {
    let limits = Config {
        login_max_failures: 100,
        login_max_failures_per_ip: 2,
        ..test_config()
    };
    // Not trusted: the header is ignored, every guess counts against 127.0.0.1.
    let direct = start_with(limits.clone()).await;
    assert_eq!(
        direct.login_forwarded("a", "x", "10.0.0.1").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        direct.login_forwarded("b", "x", "10.0.0.2").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        direct.login_forwarded("c", "x", "10.0.0.3").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    direct.shutdown().await;

    // Behind a trusted proxy on 127.0.0.1: each client address has its own count, read from
    // the right of the chain, so a forged first hop does not help.
    let proxied = start_with(Config {
        trusted_proxies: vec!["127.0.0.1".parse().expect("ip")],
        ..limits
    })
    .await;
    assert_eq!(
        proxied.login_forwarded("a", "x", "10.0.0.1").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        proxied.login_forwarded("b", "x", "10.0.0.1").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        proxied.login_forwarded("c", "x", "10.0.0.1").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        proxied.login_forwarded("c", "x", "10.0.0.2").await,
        StatusCode::UNAUTHORIZED,
        "another client behind the same proxy is not locked out"
    );
    assert_eq!(
        proxied
            .login_forwarded("d", "x", "10.9.9.9, 10.0.0.1")
            .await,
        StatusCode::TOO_MANY_REQUESTS,
        "the address the proxy saw counts, not one the client wrote"
    );
    assert_eq!(
        proxied
            .login_forwarded("e", "x", "not-an-address, 10.0.0.1")
            .await,
        StatusCode::TOO_MANY_REQUESTS,
        "junk the client wrote does not move it to the proxy's count"
    );
    proxied.shutdown().await;
}

#[tokio::test]
async fn disabled_user_cannot_sign_in_and_their_token_stops_working() {
    let server = start().await;
    server.user("ali", Role::Teacher, None, None);
    let token = server.token("ali").await;
    server.sync(&token, "r1", &SyncRequest::default()).await;

    assert!(
        server
            .state
            .store()
            .set_disabled("ali", true)
            .expect("disable")
    );
    let r = server.sync_raw(&token, "r1", &SyncRequest::default()).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let err: ErrorBody = r.json().await.expect("error body");
    assert_eq!(err.error, ErrorCode::Unauthorized);

    let r = server.login_raw("ali", "pw-ali").await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let err: ErrorBody = r.json().await.expect("error body");
    assert_eq!(err.error, ErrorCode::Forbidden);
    server.shutdown().await;
}

#[tokio::test]
async fn logout_ends_the_session() {
    let server = start().await;
    server.user("ali", Role::Teacher, None, None);
    let token = server.token("ali").await;
    let r = server
        .http
        .delete(format!("{}/v1/sessions", server.url))
        .bearer_auth(&token)
        .send()
        .await
        .expect("logout");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = server.sync_raw(&token, "r1", &SyncRequest::default()).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    server.shutdown().await;
}

#[tokio::test]
async fn expired_token_is_unauthorized() {
    let server = start_with(Config {
        token_ttl: Duration::from_millis(300),
        ..test_config()
    })
    .await;
    server.user("ali", Role::Teacher, None, None);
    let token = server.token("ali").await;
    server.sync(&token, "r1", &SyncRequest::default()).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let r = server.sync_raw(&token, "r1", &SyncRequest::default()).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let err: ErrorBody = r.json().await.expect("error body");
    assert_eq!(err.error, ErrorCode::Unauthorized);

    let r = server
        .http
        .post(format!("{}/v1/sync", server.url))
        .header(REPLICA_HEADER, "r1")
        .json(&SyncRequest::default())
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "no token at all");
    server.shutdown().await;
}

/// Guesses sent in parallel: attempts still being checked count against the limit, and exactly
/// the limit's worth are answered as wrong (no more, and none refused that should pass).
#[tokio::test]
async fn parallel_guesses_cannot_exceed_the_limit() {
    let server = start().await;
    server.user("ali", Role::Teacher, None, None);
    let mut guesses = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let (http, url) = (server.http.clone(), format!("{}/v1/sessions", server.url));
        guesses.spawn(async move {
            http.post(url)
                .json(&LoginRequest {
                    user: "ali".into(),
                    password: "guess".into(),
                })
                .send()
                .await
                .expect("send")
                .status()
        });
    }
    let statuses: Vec<StatusCode> = guesses.join_all().await;
    let verified = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    assert_eq!(verified, 5, "{statuses:?}");
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::UNAUTHORIZED || *s == StatusCode::TOO_MANY_REQUESTS)
    );
    server.shutdown().await;
}
