//! The pre sign-up trigger: a handle that is invalid or taken (regardless of case) is refused
//! before Cognito confirms anyone; a free one passes with the event unchanged. And neither
//! trigger hangs on a database that accepts connections but never answers.

use std::net::TcpListener;
use std::time::Duration;

use post_confirmation::handle_json;
use serde_json::Value;
use test_db::TestDb;

fn pre_sign_up_event(handle: &str) -> Value {
    let mut event: Value = serde_json::from_str(include_str!(
        "../../../../deploy/lambda/example-pre-sign-up-event.json"
    ))
    .unwrap();
    event["request"]["userAttributes"]["preferred_username"] = handle.into();
    event
}

async fn row_count(db: &TestDb) -> i64 {
    db.client()
        .await
        .query_one("SELECT count(*) FROM users", &[])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn a_free_valid_handle_passes_and_the_event_comes_back_unchanged() {
    let db = TestDb::new().await;
    let input = pre_sign_up_event("cruddurtester");
    let output = handle_json(db.pool(), input.clone()).await.unwrap();
    assert_eq!(output, input);
    assert_eq!(
        output["response"],
        serde_json::json!({"autoConfirmUser": false, "autoVerifyEmail": false, "autoVerifyPhone": false}),
        "the trigger confirms and verifies nobody"
    );
    assert_eq!(row_count(&db).await, 0, "pre sign-up writes nothing");

    // With someone recorded, the check must tell handles apart: free handles sharing a
    // prefix, a suffix or most letters with the taken one pass.
    handle_json(db.pool(), crate::example_event())
        .await
        .unwrap(); // records cruddurtester
    for free in ["cruddur", "cruddurtester2", "tester", "cruddur_tester"] {
        let input = pre_sign_up_event(free);
        let output = handle_json(db.pool(), input.clone())
            .await
            .unwrap_or_else(|e| panic!("{free}: {}", e.full_message()));
        assert_eq!(output, input, "{free}");
    }
    assert_eq!(row_count(&db).await, 1, "pre sign-up writes nothing");
}

#[tokio::test]
async fn taken_case_variant_and_invisible_handles_are_refused_with_a_message_to_act_on() {
    let db = TestDb::new().await;
    handle_json(db.pool(), crate::example_event())
        .await
        .unwrap(); // records cruddurtester
    let cases = [
        (
            "cruddurtester",
            "HandleTaken",
            "is taken: choose another one",
        ),
        (
            "CruddurTester",
            "HandleTaken",
            "is taken: choose another one",
        ),
        (
            "cruddur\u{200b}tester",
            "InvalidHandle",
            "letters a-z, digits and underscores",
        ),
        (
            "cruddur tester",
            "InvalidHandle",
            "letters a-z, digits and underscores",
        ),
    ];
    for (handle, kind, says) in cases {
        let err = handle_json(db.pool(), pre_sign_up_event(handle))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), kind, "{handle:?}");
        // What Cognito shows the person: the reason, since it is theirs to fix.
        let shown = err.diagnostic("req-9").error_message;
        assert!(shown.contains(says), "{handle:?}: {shown}");
        assert_eq!(shown, err.full_message(), "{handle:?}");
    }
    // The name's rule is checked while the person can still choose another.
    for (name, says) in [
        ("x".repeat(65), "longer than 64 characters"),
        (
            "Ada\u{202E}".to_owned(),
            "bidirectional formatting characters",
        ),
    ] {
        let mut event = pre_sign_up_event("freehandle");
        event["request"]["userAttributes"]["name"] = name.clone().into();
        let err = handle_json(db.pool(), event).await.unwrap_err();
        assert_eq!(err.kind(), "InvalidName", "{name:?}");
        let shown = err.diagnostic("req-9").error_message;
        assert!(shown.contains(says), "{name:?}: {shown}");
    }
    let mut admin = pre_sign_up_event("CRUDDURTESTER");
    admin["triggerSource"] = "PreSignUp_AdminCreateUser".into();
    assert_eq!(
        handle_json(db.pool(), admin).await.unwrap_err().kind(),
        "HandleTaken"
    );
    assert_eq!(row_count(&db).await, 1);
}

#[tokio::test]
async fn a_case_variant_confirmation_cannot_join_beside_the_original() {
    // The database enforces it too (users_handle_lower_key), whatever reaches it.
    let db = TestDb::new().await;
    handle_json(db.pool(), crate::example_event())
        .await
        .unwrap();
    let twin = crate::event_for("sub-twin", "CruddurTester", "Twin", "twin@example.com");
    let err = handle_json(db.pool(), twin).await.unwrap_err();
    assert_eq!(err.kind(), "HandleTaken");
    assert_eq!(row_count(&db).await, 1);
}

/// A "database" that accepts TCP connections and never says a word.
fn black_hole() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

#[tokio::test]
async fn both_triggers_give_up_at_their_deadline_when_the_database_never_answers() {
    let (_held, port) = black_hole();
    // The Lambda binary's own pool settings.
    let pool = crate::pool_on_port(port, &post_confirmation::pool_settings());
    for event in [crate::example_event(), pre_sign_up_event("cruddurtester")] {
        let err = tokio::time::timeout(Duration::from_secs(30), handle_json(&pool, event))
            .await
            .expect("the trigger's own deadline must end it")
            .unwrap_err();
        assert_eq!(err.kind(), "DatabaseTimeout", "{}", err.full_message());
    }
}
