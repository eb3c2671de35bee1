//! `cruddur cognito sync` against a user pool in moto (cognito-idp on 127.0.0.1): placeholder
//! ids replaced, orphans listed, `--create-missing` idempotent, `--prod` guarded.

use aws_sdk_cognitoidentityprovider::types::AttributeType;
use aws_sdk_cognitoidentityprovider::Client;
use test_db::TestDb;

use crate::moto::{cruddur_aws, fresh_region, sdk_config};

/// A pool holding `users` (preferred_username, email, name, confirmed); returns its id and each
/// user's sub. Confirmed users have a verified email and a permanent password, as after a sign-up
/// the person confirmed; the others stay in FORCE_CHANGE_PASSWORD.
async fn pool_with(region: &str, users: &[(&str, &str, &str, bool)]) -> (String, Vec<String>) {
    let client = Client::new(&sdk_config(region).await);
    let pool = client
        .create_user_pool()
        .pool_name("cruddur-test")
        .send()
        .await
        .unwrap();
    let pool_id = pool.user_pool().unwrap().id().unwrap().to_owned();
    let mut subs = Vec::new();
    for (handle, email, name, confirmed) in users {
        let attribute =
            |n: &str, v: &str| AttributeType::builder().name(n).value(v).build().unwrap();
        let created = client
            .admin_create_user()
            .user_pool_id(&pool_id)
            .username(*handle)
            .user_attributes(attribute("preferred_username", handle))
            .user_attributes(attribute("email", email))
            .user_attributes(attribute("name", name))
            .user_attributes(attribute("email_verified", "true"))
            .send()
            .await
            .unwrap();
        if *confirmed {
            client
                .admin_set_user_password()
                .user_pool_id(&pool_id)
                .username(*handle)
                .password("Correct-Horse-Battery-9")
                .permanent(true)
                .send()
                .await
                .unwrap();
        }
        let sub = created
            .user()
            .unwrap()
            .attributes()
            .iter()
            .find(|a| a.name() == "sub")
            .and_then(|a| a.value())
            .unwrap()
            .to_owned();
        subs.push(sub);
    }
    (pool_id, subs)
}

async fn cognito_ids(db: &TestDb) -> Vec<(String, String)> {
    db.client()
        .await
        .query(
            "SELECT handle, cognito_user_id FROM users ORDER BY handle",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

fn sync(region: &str, db: &TestDb, pool_id: &str, extra: &[&str]) -> String {
    let mut args = vec!["cognito", "sync", "--user-pool-id", pool_id];
    args.extend_from_slice(extra);
    // The URL carries the password: the environment, never argv (visible in `ps`).
    let assert = cruddur_aws(region)
        .env("CONNECTION_URL", db.url().expose())
        .args(&args)
        .assert()
        .success();
    String::from_utf8(assert.get_output().stdout.clone()).unwrap()
}

#[tokio::test]
async fn sync_links_placeholders_lists_orphans_and_creates_them_once() {
    let region = fresh_region();
    let db = TestDb::new().await;
    db::seeds::seed(&mut db.client().await).await.unwrap(); // andrewbrown, bayko: MOCK-…
    let (pool_id, subs) = pool_with(
        region,
        &[
            (
                "andrewbrown",
                "andrewbrown@exampro.co",
                "Andrew Brown",
                true,
            ),
            ("newcomer", "new@example.com", "New Comer", true),
            // Claims bayko's email but never confirmed: must neither be linked nor recorded.
            ("squatter", "bayko@exampro.co", "Squatter", false),
        ],
    )
    .await;

    let out = sync(region, &db, &pool_id, &[]);
    assert!(
        out.contains(&format!("linked @andrewbrown to sub {}", subs[0])),
        "{out}"
    );
    assert!(
        out.contains("placeholder @bayko: no confirmed pool user"),
        "{out}"
    );
    assert!(
        !out.contains("squatter"),
        "an unconfirmed user is not an orphan: {out}"
    );
    assert!(
        out.contains(&format!("orphan: sub {} (@newcomer)", subs[1])),
        "{out}"
    );
    assert!(out.contains("1 linked, 1 orphan(s), 0 created"), "{out}");
    for personal in [
        "@exampro.co",
        "@example.com",
        "Andrew Brown",
        "New Comer",
        "Squatter",
    ] {
        assert!(
            !out.contains(personal),
            "no personal data ({personal}): {out}"
        );
    }
    let ids = cognito_ids(&db).await;
    assert_eq!(ids[0], ("andrewbrown".to_owned(), subs[0].clone()));
    assert_eq!(ids[1], ("bayko".to_owned(), "MOCK-bayko".to_owned()));
    assert_eq!(ids.len(), 2, "listing an orphan writes nothing");

    let out = sync(region, &db, &pool_id, &["--create-missing"]);
    assert!(
        out.contains(&format!("created @newcomer for sub {}", subs[1])),
        "{out}"
    );
    assert!(out.contains("0 linked, 1 orphan(s), 1 created"), "{out}");
    let again = sync(region, &db, &pool_id, &["--create-missing"]);
    assert!(
        again.contains("0 linked, 0 orphan(s), 0 created"),
        "{again}"
    );
    let ids = cognito_ids(&db).await;
    assert_eq!(ids.len(), 3);
    assert_eq!(ids[2], ("newcomer".to_owned(), subs[1].clone()));
}

/// The attack of issue 23: a confirmed stranger renames their `preferred_username` after a
/// placeholder's handle. A handle is chosen by its owner, so it links nothing.
#[tokio::test]
async fn a_stranger_renamed_after_a_placeholder_is_not_given_its_account() {
    let region = fresh_region();
    let db = TestDb::new().await;
    db::seeds::seed(&mut db.client().await).await.unwrap();
    let (pool_id, subs) = pool_with(
        region,
        &[("mallory", "mallory@example.com", "Mallory", true)],
    )
    .await;
    let client = Client::new(&sdk_config(region).await);
    client
        .admin_update_user_attributes()
        .user_pool_id(&pool_id)
        .username("mallory")
        .user_attributes(
            AttributeType::builder()
                .name("preferred_username")
                .value("andrewbrown")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();

    let out = sync(region, &db, &pool_id, &["--create-missing"]);
    assert!(
        out.contains(
            "placeholder @andrewbrown: a pool user chose this handle but has not verified the \
             row's email; not linked"
        ),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "orphan: sub {}: the handle @andrewbrown belongs to another user; not recorded",
            subs[0]
        )),
        "{out}"
    );
    assert!(out.contains("0 linked, 1 orphan(s), 0 created"), "{out}");
    let ids = cognito_ids(&db).await;
    assert_eq!(
        ids,
        vec![
            ("andrewbrown".to_owned(), "MOCK-andrewbrown".to_owned()),
            ("bayko".to_owned(), "MOCK-bayko".to_owned()),
        ]
    );
}

/// The display-name rule holds for rows sync records: a name that breaks it gives way to the
/// handle, and the output says so without showing the name.
#[tokio::test]
async fn a_recorded_orphan_keeps_the_display_name_rule() {
    let region = fresh_region();
    let db = TestDb::new().await;
    let (pool_id, subs) = pool_with(
        region,
        &[("bidiname", "bidi@example.com", "Ada\u{202E}Evil", true)],
    )
    .await;
    let out = sync(region, &db, &pool_id, &["--create-missing"]);
    assert!(
        out.contains(&format!(
            "sub {}: the name breaks the display-name rule (the display name holds control or bidirectional formatting characters); @bidiname stands in",
            subs[0]
        )),
        "{out}"
    );
    assert!(!out.contains("Evil"), "{out}");
    let name: String = db
        .client()
        .await
        .query_one(
            "SELECT display_name FROM users WHERE handle = 'bidiname'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(name, "bidiname");
}

#[tokio::test]
async fn sync_on_prod_refuses_without_yes_and_changes_nothing() {
    let region = fresh_region();
    let db = TestDb::new().await;
    db::seeds::seed(&mut db.client().await).await.unwrap();
    let (pool_id, _) = pool_with(
        region,
        &[(
            "andrewbrown",
            "andrewbrown@exampro.co",
            "Andrew Brown",
            true,
        )],
    )
    .await;
    let assert = cruddur_aws(region)
        .env("PROD_CONNECTION_URL", db.url().expose())
        .args(["cognito", "sync", "--prod", "--user-pool-id", &pool_id])
        .assert()
        .failure();
    let stderr = String::from_utf8(assert.get_output().stderr.clone()).unwrap();
    assert!(stderr.contains("without --yes"), "{stderr}");
    assert!(cognito_ids(&db)
        .await
        .iter()
        .all(|(_, id)| id.starts_with("MOCK-")));
}

#[test]
fn an_unknown_pool_is_named() {
    let region = fresh_region();
    let assert = cruddur_aws(region)
        .env("CONNECTION_URL", crate::url_of("unused"))
        .args(["cognito", "sync", "--user-pool-id", "us-east-1_Missing"])
        .assert()
        .failure();
    let stderr = String::from_utf8(assert.get_output().stderr.clone()).unwrap();
    assert!(stderr.contains("us-east-1_Missing"), "{stderr}");
}
