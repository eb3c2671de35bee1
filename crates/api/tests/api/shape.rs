//! One activity shape: the same crud, and the same reply, is byte-for-byte the same JSON on
//! every route; counts follow deletes; every response object has exactly the fields the
//! OpenAPI document names.

use std::collections::{BTreeMap, BTreeSet};

use axum::http::StatusCode;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::helpers::TestApp;

/// An object's fields as the exact bytes the server sent, `replies` left out.
type Fields = BTreeMap<String, String>;

fn fields(raw: &RawValue) -> Fields {
    let map: BTreeMap<String, Box<RawValue>> = serde_json::from_str(raw.get()).unwrap();
    map.into_iter()
        .filter(|(k, _)| k != "replies")
        .map(|(k, v)| (k, v.get().to_owned()))
        .collect()
}

fn raw(body: &[u8]) -> Box<RawValue> {
    serde_json::from_slice(body).unwrap()
}

fn array(raw: &RawValue) -> Vec<Box<RawValue>> {
    serde_json::from_str(raw.get()).unwrap()
}

fn member(raw: &RawValue, key: &str) -> Box<RawValue> {
    let mut map: BTreeMap<String, Box<RawValue>> = serde_json::from_str(raw.get()).unwrap();
    map.remove(key)
        .unwrap_or_else(|| panic!("no {key} in {}", raw.get()))
}

/// The crud `uuid` and its first reply as the feed, the user page and the status page send them.
struct Seen {
    feed: (Fields, Vec<Fields>),
    user_page: (Fields, Vec<Fields>),
    status_page: (Fields, Vec<Fields>),
}

async fn seen_everywhere(app: &TestApp, handle: &str, uuid: &str) -> Seen {
    let with_uuid = |items: Vec<Box<RawValue>>| -> Box<RawValue> {
        items
            .into_iter()
            .find(|i| fields(i)["uuid"] == format!("\"{uuid}\""))
            .unwrap_or_else(|| panic!("{uuid} missing"))
    };
    let feed = app.home("").await;
    assert_eq!(feed.status, StatusCode::OK);
    let feed_item = with_uuid(array(&raw(&feed.body)));
    let user = app.get(&format!("/api/activities/@{handle}")).await;
    assert_eq!(user.status, StatusCode::OK);
    let user_item = with_uuid(array(&member(&raw(&user.body), "activities")));
    let status = app
        .get(&format!("/api/activities/@{handle}/status/{uuid}"))
        .await;
    assert_eq!(status.status, StatusCode::OK);
    let status_body = raw(&status.body);
    let replies_of = |r: &RawValue| -> Vec<Fields> { array(r).iter().map(|x| fields(x)).collect() };
    Seen {
        feed: (
            fields(&feed_item),
            replies_of(&member(&feed_item, "replies")),
        ),
        user_page: (
            fields(&user_item),
            replies_of(&member(&user_item, "replies")),
        ),
        status_page: (
            fields(&member(&status_body, "activity")),
            replies_of(&member(&status_body, "replies")),
        ),
    }
}

fn assert_same_everywhere(seen: &Seen, crud: &Fields, replies: &[Fields]) {
    for (route, (item, item_replies)) in [
        ("feed", &seen.feed),
        ("user page", &seen.user_page),
        ("status page", &seen.status_page),
    ] {
        assert_eq!(item, crud, "the crud on the {route}");
        assert_eq!(item_replies, replies, "the replies on the {route}");
    }
}

#[tokio::test]
async fn a_crud_and_its_reply_are_byte_identical_on_every_route() {
    let app = TestApp::seeded().await;
    let created = app.create("one shape", "1-day", "andrewbrown").await;
    assert_eq!(created.status, StatusCode::OK);
    let mut crud = fields(&raw(&created.body));
    assert_eq!(array(&member(&raw(&created.body), "replies")).len(), 0);
    let uuid = crud["uuid"].trim_matches('"').to_owned();
    let seen = seen_everywhere(&app, "andrewbrown", &uuid).await;
    assert_same_everywhere(&seen, &crud, &[]);

    let answered = app.reply(&uuid, "a reply", "bayko").await;
    assert_eq!(answered.status, StatusCode::OK);
    let reply = fields(&raw(&answered.body));
    assert_eq!(reply["reply_to_activity_uuid"], crud["uuid"]);
    crud.insert("replies_count".into(), "1".into());
    let seen = seen_everywhere(&app, "andrewbrown", &uuid).await;
    assert_same_everywhere(&seen, &crud, std::slice::from_ref(&reply));
}

/// Creates a crud by @andrewbrown and returns its uuid.
async fn create_for_andrew(app: &TestApp, message: &str) -> String {
    let created = app.create(message, "1-day", "andrewbrown").await;
    assert_eq!(created.status, StatusCode::OK);
    created.json()["uuid"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn timestamps_keep_trailing_zeros_on_every_route() {
    // Postgres's own JSON drops trailing zeros of the fraction (…27.74761), the server's encoder
    // keeps six digits (…27.747610); a crud whose microseconds end in 0 showed the difference.
    let app = TestApp::seeded().await;
    let uuid = create_for_andrew(&app, "round times").await;
    app.sql(&format!(
        "UPDATE activities SET created_at = '2026-11-25T09:46:27.7476+00', \
         expires_at = '2099-01-01T00:00:00+00' WHERE uuid = '{uuid}'"
    ))
    .await;
    let seen = seen_everywhere(&app, "andrewbrown", &uuid).await;
    let crud = &seen.feed.0;
    assert_eq!(crud["created_at"], "\"2026-11-25T09:46:27.747600+00:00\"");
    assert_eq!(crud["expires_at"], "\"2099-01-01T00:00:00.000000+00:00\"");
    assert_same_everywhere(&seen, crud, &[]);
}

#[tokio::test]
async fn deleting_a_user_takes_their_replies_out_of_every_count() {
    let app = TestApp::seeded().await;
    let uuid = create_for_andrew(&app, "replied to").await;
    for message in ["first", "second"] {
        assert_eq!(
            app.reply(&uuid, message, "bayko").await.status,
            StatusCode::OK
        );
    }
    assert_eq!(
        app.reply(&uuid, "mine", "andrewbrown").await.status,
        StatusCode::OK
    );
    let seen = seen_everywhere(&app, "andrewbrown", &uuid).await;
    assert_eq!(seen.feed.0["replies_count"], "3");
    let order: Vec<&str> = seen
        .status_page
        .1
        .iter()
        .map(|r| r["message"].as_str())
        .collect();
    assert_eq!(
        order,
        ["\"first\"", "\"second\"", "\"mine\""],
        "oldest first"
    );
    assert_same_everywhere(&seen, &seen.feed.0.clone(), &seen.status_page.1.clone());

    app.sql("DELETE FROM users WHERE handle = 'bayko'").await;
    let seen = seen_everywhere(&app, "andrewbrown", &uuid).await;
    let crud = seen.feed.0.clone();
    assert_eq!(crud["replies_count"], "1");
    assert_eq!(seen.feed.1.len(), 1);
    assert_eq!(seen.feed.1[0]["message"], "\"mine\"");
    let remaining = seen.feed.1.clone();
    assert_same_everywhere(&seen, &crud, &remaining);
}

/// What the document says of one property.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Documented {
    required: bool,
    nullable: bool,
}

fn nullable(property: &Value) -> bool {
    let type_says = match &property["type"] {
        Value::Array(types) => types.iter().any(|t| t == "null"),
        _ => false,
    };
    let one_of_says = property["oneOf"]
        .as_array()
        .is_some_and(|options| options.iter().any(|o| o["type"] == "null"));
    type_says || one_of_says || property["nullable"] == true
}

/// The property names of schema `name` in the OpenAPI document (following `allOf` and `$ref`),
/// and what it says of each.
fn schema_fields(doc: &Value, name: &str) -> BTreeMap<String, Documented> {
    let schema = &doc["components"]["schemas"][name];
    assert!(schema.is_object(), "no schema {name}");
    let mut out = BTreeMap::new();
    collect_fields(doc, schema, &mut out);
    out
}

fn collect_fields(doc: &Value, schema: &Value, out: &mut BTreeMap<String, Documented>) {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.trim_start_matches("#/components/schemas/");
        return collect_fields(doc, &doc["components"]["schemas"][name], out);
    }
    for part in schema["allOf"].as_array().into_iter().flatten() {
        collect_fields(doc, part, out);
    }
    let required: BTreeSet<&str> = schema["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    for (key, property) in schema["properties"].as_object().into_iter().flatten() {
        let documented = Documented {
            required: required.contains(key.as_str()),
            nullable: nullable(property),
        };
        out.insert(key.clone(), documented);
    }
}

/// The only fields of any response that may be `null`.
const NULLABLE_FIELDS: [&str; 3] = ["reply_to_activity_uuid", "expires_at", "bio"];

fn assert_matches_schema(doc: &Value, name: &str, object: &Value, what: &str) {
    let documented = schema_fields(doc, name);
    let sent: BTreeSet<&String> = object.as_object().unwrap().keys().collect();
    let listed: BTreeSet<&String> = documented.keys().collect();
    assert_eq!(sent, listed, "{what}: fields sent vs schema {name}");
    let optional: Vec<&String> = documented
        .iter()
        .filter(|(_, d)| !d.required)
        .map(|(k, _)| k)
        .collect();
    assert!(
        optional.is_empty(),
        "{what}: schema {name} leaves {optional:?} optional"
    );
    // Exactly the fields that may be null are documented as nullable.
    let map = object.as_object().unwrap();
    for (key, d) in &documented {
        let may_be_null = NULLABLE_FIELDS.contains(&key.as_str());
        assert_eq!(
            d.nullable, may_be_null,
            "{what}: schema {name}, {key} nullable"
        );
        if !may_be_null {
            assert!(!map[key].is_null(), "{what}: {key} is null");
        }
    }
}

#[tokio::test]
async fn every_response_object_has_exactly_the_documented_fields() {
    let app = TestApp::seeded().await;
    let doc = app.get("/api/openapi.json").await.json();
    // The fields the Cruddur frontend reads; the document (and so every route) must keep them.
    let feed_item: Vec<String> = schema_fields(&doc, "FeedItem").into_keys().collect();
    assert_eq!(
        feed_item,
        [
            "created_at",
            "display_name",
            "expires_at",
            "handle",
            "likes_count",
            "message",
            "replies",
            "replies_count",
            "reply_to_activity_uuid",
            "reposts_count",
            "uuid",
        ]
    );
    let created = app
        .create("documented", "1-day", "andrewbrown")
        .await
        .json();
    let uuid = created["uuid"].as_str().unwrap().to_owned();
    let reply = app.reply(&uuid, "documented reply", "bayko").await.json();
    assert_matches_schema(&doc, "FeedItem", &created, "create answer");
    assert_matches_schema(&doc, "FeedItem", &reply, "reply answer");

    let feed = app.home("").await.json();
    let item = feed
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["uuid"] == uuid.as_str())
        .unwrap();
    assert_matches_schema(&doc, "FeedItem", item, "feed item");
    assert_matches_schema(&doc, "Activity", &item["replies"][0], "feed reply");

    let user = app.get("/api/activities/@andrewbrown").await.json();
    assert_matches_schema(&doc, "UserPage", &user, "user page");
    assert_matches_schema(&doc, "Profile", &user["profile"], "profile");
    assert_matches_schema(&doc, "FeedItem", &user["activities"][0], "user page item");
    assert_matches_schema(
        &doc,
        "Activity",
        &user["activities"][0]["replies"][0],
        "user page reply",
    );

    let status = app
        .get(&format!("/api/activities/@andrewbrown/status/{uuid}"))
        .await
        .json();
    assert_matches_schema(&doc, "StatusPage", &status, "status page");
    assert_matches_schema(&doc, "Activity", &status["activity"], "status activity");
    assert_matches_schema(&doc, "Activity", &status["replies"][0], "status reply");

    let short = app.get("/api/users/@bayko/short").await.json();
    assert_matches_schema(&doc, "UserShort", &short, "short user");
}

#[tokio::test]
async fn feed_and_user_page_items_carry_their_three_newest_replies_and_the_true_count() {
    let app = TestApp::seeded().await;
    let uuid = create_for_andrew(&app, "popular").await;
    for i in 1..=5 {
        let reply = app.reply(&uuid, &format!("reply {i}"), "bayko").await;
        assert_eq!(reply.status, StatusCode::OK);
    }
    let seen = seen_everywhere(&app, "andrewbrown", &uuid).await;
    let messages = |replies: &[Fields]| -> Vec<String> {
        replies.iter().map(|r| r["message"].clone()).collect()
    };
    let newest = ["\"reply 3\"", "\"reply 4\"", "\"reply 5\""];
    assert_eq!(
        messages(&seen.feed.1),
        newest,
        "feed: newest three, oldest first"
    );
    assert_eq!(messages(&seen.user_page.1), newest, "user page likewise");
    assert_eq!(seen.feed.0["replies_count"], "5", "the count is the total");
    assert_eq!(seen.status_page.1.len(), 5, "the status page has them all");
    assert_eq!(seen.status_page.1[2..], seen.feed.1[..], "the same bytes");
}
