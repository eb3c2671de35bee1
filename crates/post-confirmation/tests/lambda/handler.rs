use std::time::Duration;

use post_confirmation::{handle, handle_json, ConfirmError, REQUIRED_ATTRIBUTES};
use test_db::TestDb;

use crate::{event_for, example_event};

async fn users(db: &TestDb) -> Vec<(String, String, String, String)> {
    db.client()
        .await
        .query(
            "SELECT display_name, email, handle, cognito_user_id FROM users ORDER BY created_at",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect()
}

#[tokio::test]
async fn a_confirmed_sign_up_inserts_one_row_and_returns_the_event_unchanged() {
    let db = TestDb::new().await;
    // Fields the typed event does not model (a newer Cognito's), beside clientMetadata, which it
    // does: Cognito must get back what it sent, not our model of it.
    let mut input = example_event();
    input["request"]["clientMetadata"] = serde_json::json!({"source": "web"});
    input["request"]["newerCognitoField"] = serde_json::json!({"kept": [1, 2.5, null]});
    input["futureTopLevelField"] = "kept".into();
    let output = handle_json(db.pool(), input.clone()).await.unwrap();
    assert_eq!(output, input, "Cognito requires the event back unchanged");
    assert_eq!(output["futureTopLevelField"], "kept");
    assert_eq!(output["request"]["newerCognitoField"]["kept"][1], 2.5);
    assert_eq!(
        users(&db).await,
        [(
            "Cruddur Tester".to_owned(),
            "cruddur.tester@example.com".to_owned(),
            "cruddurtester".to_owned(),
            "8a9b3c2d-1e4f-4a5b-9c8d-7e6f5a4b3c2d".to_owned()
        )]
    );
}

#[tokio::test]
async fn the_typed_handler_returns_the_typed_event_it_was_given() {
    let db = TestDb::new().await;
    // Padded attributes: the row gets them trimmed; the event goes back exactly as it came.
    let event: post_confirmation::PostConfirmationEvent = serde_json::from_value(event_for(
        "  sub-typed ",
        " typedtester ",
        "  Typed Tester ",
        " typed@example.com ",
    ))
    .unwrap();
    let returned = handle(db.pool(), event.clone()).await.unwrap();
    assert_eq!(returned, event);
    assert_eq!(
        returned.request.user_attributes["preferred_username"],
        " typedtester "
    );
    assert_eq!(
        users(&db).await,
        [(
            "Typed Tester".to_owned(),
            "typed@example.com".to_owned(),
            "typedtester".to_owned(),
            "sub-typed".to_owned()
        )]
    );
    // Again: already recorded, still answered, nothing added.
    assert_eq!(handle(db.pool(), event.clone()).await.unwrap(), event);
    assert_eq!(users(&db).await.len(), 1);
}

#[tokio::test]
async fn redelivery_of_the_same_event_succeeds_and_inserts_nothing() {
    let db = TestDb::new().await;
    handle_json(db.pool(), example_event()).await.unwrap();
    let first = users(&db).await;
    handle_json(db.pool(), example_event()).await.unwrap();
    assert_eq!(users(&db).await, first);
}

#[tokio::test]
async fn a_handle_held_by_another_user_fails_and_leaves_the_first_untouched() {
    let db = TestDb::new().await;
    handle_json(db.pool(), example_event()).await.unwrap();
    let before = users(&db).await;
    let intruder = event_for(
        "other-sub",
        "cruddurtester",
        "Someone Else",
        "else@example.com",
    );
    let err = handle_json(db.pool(), intruder).await.unwrap_err();
    assert!(
        matches!(err, ConfirmError::HandleTaken { ref handle } if handle == "cruddurtester"),
        "{err:?}"
    );
    assert_eq!(err.kind(), "HandleTaken");
    assert_eq!(users(&db).await, before);
}

#[tokio::test]
async fn each_missing_attribute_is_named_and_writes_nothing() {
    let db = TestDb::new().await;
    for missing in REQUIRED_ATTRIBUTES {
        for how in ["absent", "empty"] {
            let mut event = example_event();
            let attributes = event["request"]["userAttributes"].as_object_mut().unwrap();
            if how == "absent" {
                attributes.remove(missing);
            } else {
                attributes.insert(missing.to_owned(), "  ".into());
            }
            let err = handle_json(db.pool(), event).await.unwrap_err();
            assert!(
                matches!(err, ConfirmError::MissingAttribute(name) if name == missing),
                "{missing} {how}: {err:?}"
            );
            assert!(err.to_string().contains(missing));
        }
    }
    assert!(users(&db).await.is_empty());
}

#[tokio::test]
async fn a_forgot_password_confirmation_writes_nothing_and_succeeds() {
    let db = TestDb::new().await;
    let mut event = example_event();
    event["triggerSource"] = "PostConfirmation_ConfirmForgotPassword".into();
    let output = handle_json(db.pool(), event.clone()).await.unwrap();
    assert_eq!(output, event);
    assert!(users(&db).await.is_empty());

    // A recorded user resets their password. Their attributes have changed since, and no
    // longer pass sign-up (no preferred_username, another name and email): a reset checks
    // and writes nothing, and never fails on the profile.
    handle_json(db.pool(), example_event()).await.unwrap();
    let before = users(&db).await;
    let mut reset = event_for(
        "8a9b3c2d-1e4f-4a5b-9c8d-7e6f5a4b3c2d",
        "unused",
        "Renamed Since",
        "new.address@example.com",
    );
    reset["triggerSource"] = "PostConfirmation_ConfirmForgotPassword".into();
    reset["request"]["userAttributes"]
        .as_object_mut()
        .unwrap()
        .remove("preferred_username");
    let output = handle_json(db.pool(), reset.clone())
        .await
        .unwrap_or_else(|e| panic!("a password reset failed: {}", e.full_message()));
    assert_eq!(output, reset);
    assert_eq!(users(&db).await, before);
}

#[tokio::test]
async fn apostrophes_and_injection_strings_are_stored_verbatim() {
    let db = TestDb::new().await;
    let name = "Miles O'Brien'); DROP TABLE users; --";
    let email = "o'brien+x@example.com";
    handle_json(db.pool(), event_for("sub-obrien", "obrien", name, email))
        .await
        .unwrap();
    let stored = users(&db).await;
    assert_eq!(stored.len(), 1);
    assert_eq!((stored[0].0.as_str(), stored[0].1.as_str()), (name, email));
}

#[tokio::test]
async fn malformed_events_fail_clearly() {
    let db = TestDb::new().await;
    let err = handle_json(db.pool(), serde_json::json!({"hello": "world"}))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "MalformedEvent");
    let mut event = example_event();
    event["triggerSource"] = "PreSignUp_SignUp".into();
    assert_eq!(
        handle_json(db.pool(), event).await.unwrap_err().kind(),
        "MalformedEvent"
    );
    assert!(users(&db).await.is_empty());
}

#[tokio::test]
async fn an_unreachable_database_fails_the_invocation_within_a_bound_without_personal_data() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let pool = crate::pool_on_port(
        port,
        &db::PoolSettings {
            acquire_timeout: Duration::from_millis(500),
            ..db::PoolSettings::default()
        },
    );
    let err = tokio::time::timeout(Duration::from_secs(20), handle_json(&pool, example_event()))
        .await
        .expect("must fail on its own, not hang")
        .unwrap_err();
    assert_eq!(err.kind(), "DatabaseError");
    let message = err.full_message();
    assert!(message.contains("database unavailable"), "{message}");
    assert!(!message.contains("cruddur.tester@example.com") && !message.contains("Cruddur Tester"));
}

#[tokio::test]
async fn a_malformed_event_is_described_without_quoting_its_values() {
    let db = TestDb::new().await;
    let mut event = crate::example_event();
    event["request"]["userAttributes"] = "secret.person@example.com".into();
    let err = handle_json(db.pool(), event).await.unwrap_err();
    assert_eq!(err.kind(), "MalformedEvent");
    let message = err.full_message();
    assert!(
        message.contains("missing or has the wrong type"),
        "{message}"
    );
    assert!(!message.contains("secret.person"), "{message}");
}

/// The display-name rule holds for the trigger too. A confirmed person cannot be sent back to
/// choose again, so a name that breaks it (one pre sign-up would have refused) gives way to the
/// handle instead of leaving the person without a row.
#[tokio::test]
async fn a_name_breaking_the_display_name_rule_gives_way_to_the_handle() {
    let db = TestDb::new().await;
    for (sub, handle, name) in [
        ("sub-long", "longname", "x".repeat(65)),
        ("sub-bidi", "bidiname", "Ada\u{202E}".to_owned()),
    ] {
        handle_json(
            db.pool(),
            event_for(sub, handle, &name, &format!("{handle}@example.com")),
        )
        .await
        .unwrap();
    }
    let names: Vec<(String, String)> = users(&db)
        .await
        .into_iter()
        .map(|(name, _, handle, _)| (name, handle))
        .collect();
    assert_eq!(
        names,
        [
            ("longname".to_owned(), "longname".to_owned()),
            ("bidiname".to_owned(), "bidiname".to_owned())
        ]
    );
}
