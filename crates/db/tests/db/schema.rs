//! The schema (users, activities, their keys, defaults and indexes), proven from the catalog.

use test_db::TestDb;
use tokio_postgres::Client;

/// The plan PostgreSQL chooses for `statement` (an EXPLAIN-able statement), one node per line.
async fn explain(client: &Client, statement: &str) -> String {
    let lines: Vec<String> = client
        .query(&format!("EXPLAIN {statement}"), &[])
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.get(0))
        .collect();
    lines.join("\n")
}

async fn columns(client: &Client, table: &str) -> Vec<(String, String, bool, Option<String>)> {
    client
        .query(
            "SELECT column_name::text, data_type::text, is_nullable = 'YES', column_default::text
             FROM information_schema.columns
             WHERE table_schema = 'public' AND table_name = $1
             ORDER BY ordinal_position",
            &[&table],
        )
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect()
}

fn column<'a>(
    cols: &'a [(String, String, bool, Option<String>)],
    name: &str,
) -> &'a (String, String, bool, Option<String>) {
    cols.iter()
        .find(|c| c.0 == name)
        .unwrap_or_else(|| panic!("column {name} missing"))
}

#[tokio::test]
async fn users_table_has_the_specified_columns_types_and_defaults() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let cols = columns(&client, "users").await;
    let names: Vec<&str> = cols.iter().map(|c| c.0.as_str()).collect();
    assert_eq!(
        names,
        [
            "uuid",
            "display_name",
            "handle",
            "email",
            "cognito_user_id",
            "bio",
            "created_at"
        ]
    );
    let uuid = column(&cols, "uuid");
    assert_eq!((uuid.1.as_str(), uuid.2), ("uuid", false));
    assert_eq!(uuid.3.as_deref(), Some("uuid_generate_v4()"));
    for not_null_text in ["display_name", "handle", "email", "cognito_user_id"] {
        let c = column(&cols, not_null_text);
        assert_eq!((c.1.as_str(), c.2), ("text", false), "{not_null_text}");
    }
    assert_eq!(column(&cols, "bio").1, "text");
    assert!(column(&cols, "bio").2, "bio is optional");
    let created = column(&cols, "created_at");
    assert_eq!(
        (created.1.as_str(), created.2),
        ("timestamp with time zone", false)
    );
    assert_eq!(created.3.as_deref(), Some("now()"));
}

#[tokio::test]
async fn activities_table_has_the_specified_columns_types_and_defaults() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let cols = columns(&client, "activities").await;
    let uuid = column(&cols, "uuid");
    assert_eq!(uuid.3.as_deref(), Some("uuid_generate_v4()"));
    assert_eq!(column(&cols, "user_uuid").1, "uuid");
    assert!(!column(&cols, "user_uuid").2);
    assert_eq!(column(&cols, "message").1, "text");
    assert!(!column(&cols, "message").2);
    for count in ["replies_count", "reposts_count", "likes_count"] {
        let c = column(&cols, count);
        assert_eq!(
            (c.1.as_str(), c.2, c.3.as_deref()),
            ("integer", false, Some("0")),
            "{count}"
        );
    }
    assert_eq!(column(&cols, "reply_to_activity_uuid").1, "uuid");
    assert_eq!(column(&cols, "expires_at").1, "timestamp with time zone");
    let created = column(&cols, "created_at");
    assert_eq!(
        (created.1.as_str(), created.2),
        ("timestamp with time zone", false)
    );
}

#[tokio::test]
async fn constraints_are_unique_handle_and_cognito_id_and_two_foreign_keys() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let rows = client
        .query(
            "SELECT conname::text, contype::text, pg_get_constraintdef(oid)
             FROM pg_constraint
             WHERE conrelid IN ('users'::regclass, 'activities'::regclass)
             ORDER BY conname",
            &[],
        )
        .await
        .unwrap();
    let found: Vec<(String, String, String)> = rows
        .into_iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let handle_format = handle_check_definition();
    let expect = [
        ("activities_pkey", "p", "PRIMARY KEY (uuid)"),
        (
            "activities_reply_to_activity_uuid_fkey",
            "f",
            "FOREIGN KEY (reply_to_activity_uuid) REFERENCES activities(uuid) ON DELETE CASCADE",
        ),
        (
            "activities_user_uuid_fkey",
            "f",
            "FOREIGN KEY (user_uuid) REFERENCES users(uuid) ON DELETE CASCADE",
        ),
        ("users_cognito_user_id_key", "u", "UNIQUE (cognito_user_id)"),
        ("users_handle_format", "c", handle_format.as_str()),
        ("users_handle_key", "u", "UNIQUE (handle)"),
        ("users_pkey", "p", "PRIMARY KEY (uuid)"),
    ];
    let found_ref: Vec<(&str, &str, &str)> = found
        .iter()
        .map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str()))
        .collect();
    assert_eq!(found_ref, expect);
}

#[tokio::test]
async fn feed_indexes_exist_with_the_keyset_order() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let defs: Vec<String> = client
        .query(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'activities' AND indexname LIKE 'activities_%_idx' ORDER BY indexname",
            &[],
        )
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(defs.len(), 5, "{defs:?}");
    assert!(
        defs[0].contains(
            "(expires_at) WHERE ((expires_at IS NOT NULL) AND (reply_to_activity_uuid IS NULL))"
        ),
        "{defs:?}"
    );
    assert!(
        defs[1].contains("(created_at DESC, uuid DESC) WHERE (reply_to_activity_uuid IS NULL)"),
        "{defs:?}"
    );
    assert!(
        defs[2].contains(
            "(reply_to_activity_uuid, created_at, uuid) WHERE (reply_to_activity_uuid IS NOT NULL)"
        ),
        "{defs:?}"
    );
    assert!(
        defs[3].contains(
            "(user_uuid, created_at DESC, uuid DESC) INCLUDE (expires_at) WHERE (reply_to_activity_uuid IS NULL)"
        ),
        "{defs:?}"
    );
    assert!(
        defs[4].contains("(user_uuid, created_at DESC, uuid DESC)"),
        "{defs:?}"
    );
}

#[tokio::test]
async fn uuid_defaults_generate_distinct_version_4_keys() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let rows = client
        .query(
            "INSERT INTO users (display_name, handle, email, cognito_user_id)
             VALUES ('A', 'a', 'a@x', 'sub-a'), ('B', 'b', 'b@x', 'sub-b') RETURNING uuid",
            &[],
        )
        .await
        .unwrap();
    let ids: Vec<uuid::Uuid> = rows.iter().map(|r| r.get(0)).collect();
    assert_ne!(ids[0], ids[1]);
    assert!(ids.iter().all(|id| id.get_version_num() == 4));
}

#[tokio::test]
async fn duplicate_handle_and_dangling_reply_are_rejected_with_typed_errors() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let insert =
        "INSERT INTO users (display_name, handle, email, cognito_user_id) VALUES ($1, $2, $3, $4)";
    client
        .execute(insert, &[&"A", &"same", &"a@x", &"sub-1"])
        .await
        .unwrap();
    let dup = client
        .execute(insert, &[&"B", &"same", &"b@x", &"sub-2"])
        .await
        .unwrap_err();
    match db::DbError::from(dup) {
        db::DbError::Conflict { constraint } => assert_eq!(constraint, "users_handle_key"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    let dangling = client
        .execute(
            "INSERT INTO activities (user_uuid, message) SELECT uuid, 'x' FROM users LIMIT 1
             RETURNING uuid",
            &[],
        )
        .await
        .map(|_| ());
    assert!(dangling.is_ok());
    let bad_reply = client
        .execute(
            "INSERT INTO activities (user_uuid, message, reply_to_activity_uuid)
             SELECT uuid, 'x', uuid_generate_v4() FROM users LIMIT 1",
            &[],
        )
        .await
        .unwrap_err();
    match db::DbError::from(bad_reply) {
        db::DbError::Violation { constraint } => {
            assert_eq!(constraint, "activities_reply_to_activity_uuid_fkey")
        }
        other => panic!("expected a FK violation, got {other:?}"),
    }
}

#[tokio::test]
async fn pooled_sessions_use_cached_generic_plans_without_jit() {
    let db = TestDb::new().await;
    let client = db::pool::checkout(db.pool()).await.unwrap();
    let setting = |name: &'static str| {
        let client = &client;
        async move {
            client
                .query_one(&format!("SHOW {name}"), &[])
                .await
                .unwrap()
                .get::<_, String>(0)
        }
    };
    assert_eq!(setting("plan_cache_mode").await, "force_generic_plan");
    assert_eq!(setting("jit").await, "off");
    assert_eq!(setting("TimeZone").await, "UTC");
}

/// The generic plan of the service's own statement (the SQL file, comments stripped), prepared as
/// the server's sessions prepare it; only the plan of the page itself, not the replies subplan.
async fn page_plan(client: &Client, sql_file: &str, signature: &str, execute: &str) -> String {
    let statement: String = sql_file
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    client
        .batch_execute(&format!(
            "SET plan_cache_mode = force_generic_plan; PREPARE {signature} AS {statement}"
        ))
        .await
        .unwrap();
    let plan = explain(client, execute).await;
    plan.split("SubPlan").next().unwrap().to_owned()
}

fn assert_reads_the_feed_index_without_sorting(plan: &str) {
    assert!(
        plan.contains("Index Scan using activities_home_feed_idx"),
        "{plan}"
    );
    assert!(!plan.contains("Sort"), "{plan}");
    assert!(!plan.contains("Seq Scan on activities"), "{plan}");
}

#[tokio::test]
async fn the_feed_statements_generic_plan_reads_the_feed_index_without_sorting() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    db::seeds::seed_demo(&mut client, 20_000).await.unwrap();
    let plan = page_plan(
        &client,
        include_str!("../../sql/activities/list_home_feed.sql"),
        "feed(bigint, bigint)",
        "EXECUTE feed(20, 3)",
    )
    .await;
    assert_reads_the_feed_index_without_sorting(&plan);
}

#[tokio::test]
async fn the_cursor_pages_generic_plan_reads_the_feed_index_without_sorting() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    db::seeds::seed_demo(&mut client, 20_000).await.unwrap();
    let cursor: uuid::Uuid = client
        .query_one(
            "SELECT uuid FROM activities ORDER BY created_at DESC, uuid DESC OFFSET 100 LIMIT 1",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let plan = page_plan(
        &client,
        include_str!("../../sql/activities/list_home_feed_before.sql"),
        "feed_before(bigint, uuid, bigint)",
        &format!("EXECUTE feed_before(20, '{cursor}', 3)"),
    )
    .await;
    assert_reads_the_feed_index_without_sorting(&plan);
}

/// Rows each plan node over `activities` read, all loops together — those it produced and those
/// its filters removed — from `EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF)` of `statement` run with
/// `params`.
async fn activities_rows_read(
    client: &Client,
    statement: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Vec<(String, u64)> {
    let lines: Vec<String> = client
        .query(
            &format!("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) {statement}"),
            params,
        )
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.get(0))
        .collect();
    let number_after = |line: &str, key: &str| -> u64 {
        let at = line.find(key).unwrap_or_else(|| panic!("{key} in {line}")) + key.len();
        line[at..]
            .trim_start()
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let mut nodes: Vec<(String, u64, u64)> = Vec::new();
    let mut in_activities_node = false;
    for line in &lines {
        if line.contains("(actual rows=") {
            in_activities_node = line.contains(" on activities");
            if in_activities_node {
                let loops = number_after(line, "loops=");
                nodes.push((
                    line.trim().to_owned(),
                    number_after(line, "rows=") * loops,
                    loops,
                ));
            }
        } else if in_activities_node && line.contains("Rows Removed by") {
            let node = nodes.last_mut().unwrap();
            node.1 += number_after(line, ":") * node.2;
        }
    }
    nodes
        .into_iter()
        .map(|(node, rows, _)| (node, rows))
        .collect()
}

/// 2,000 replies by @bayko on the seed crud, 1,000 per transaction (the count trigger updates
/// the parent once per reply).
async fn flood_the_seed_crud(client: &Client) {
    for first in [1, 1_001] {
        client
            .batch_execute(&format!(
                "INSERT INTO activities (user_uuid, message, reply_to_activity_uuid)
                 SELECT u.uuid, 'flood ' || i, p.uuid
                 FROM users u, generate_series({first}, {first} + 999) i,
                      (SELECT uuid FROM activities WHERE reply_to_activity_uuid IS NULL LIMIT 1) p
                 WHERE u.handle = 'bayko'"
            ))
            .await
            .unwrap();
    }
    client.batch_execute("ANALYZE activities").await.unwrap();
}

#[tokio::test]
async fn a_feed_reads_only_the_newest_replies_of_a_flooded_crud() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    db::seeds::seed(&mut client).await.unwrap();
    flood_the_seed_crud(&client).await;
    let limit: i64 = 20;
    let replies: i64 = 3;
    let read = activities_rows_read(
        &client,
        include_str!("../../sql/activities/list_home_feed.sql"),
        &[&limit, &replies],
    )
    .await;
    assert!(!read.is_empty(), "no scan of activities in the plan");
    for (node, rows) in &read {
        assert!(
            *rows <= 20,
            "{node} read {rows} rows: the feed must not read every reply"
        );
    }
}

#[tokio::test]
async fn a_users_page_reads_neither_their_replies_nor_the_replies_to_their_cruds() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    db::seeds::seed(&mut client).await.unwrap();
    // 100 other users with 20 cruds each, so that no index of everyone's cruds is a shortcut
    // either.
    client
        .batch_execute(
            "INSERT INTO users (display_name, handle, email, cognito_user_id)
             SELECT 'User ' || n, 'user' || n, 'user' || n || '@example.com', 'sub-' || n
             FROM generate_series(1, 100) n;
             INSERT INTO activities (user_uuid, message)
             SELECT u.uuid, 'crud ' || i FROM users u, generate_series(1, 20) i
             WHERE u.handle LIKE 'user%'",
        )
        .await
        .unwrap();
    flood_the_seed_crud(&client).await;
    client
        .batch_execute("VACUUM ANALYZE activities")
        .await
        .unwrap();
    let limit: i64 = 20;
    let replies: i64 = 3;
    // @bayko wrote the 2,000 replies; @andrewbrown's one crud received them.
    for handle in ["bayko", "andrewbrown"] {
        let read = activities_rows_read(
            &client,
            include_str!("../../sql/users/show_user_page.sql"),
            &[&handle, &limit, &replies],
        )
        .await;
        assert!(!read.is_empty(), "no scan of activities in the plan");
        for (node, rows) in &read {
            assert!(
                *rows <= 20,
                "@{handle}: {node} read {rows} rows: a page must not read every reply"
            );
        }
    }
}

/// users_handle_format as PostgreSQL prints it, written from the domain's rule: a domain
/// constant changed without a migration that replaces the CHECK fails here.
fn handle_check_definition() -> String {
    format!(
        "CHECK (((handle ~ '{}'::text) AND (char_length(handle) <= {}))) NOT VALID",
        domain::HANDLE_PATTERN.replace('\'', "''"),
        domain::MAX_HANDLE_CHARS,
    )
}

#[tokio::test]
async fn the_handle_check_accepts_exactly_the_handles_the_domain_keeps() {
    let db = TestDb::new().await;
    let client = db.client().await;
    // The CHECK's own expression, evaluated by PostgreSQL's regular expressions, against the
    // domain's rule in Rust, over the strings that probe its edges.
    let expression: String = client
        .query_one(
            "SELECT pg_get_expr(conbin, conrelid) FROM pg_constraint
             WHERE conname = 'users_handle_format'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let candidates = domain::handle_candidates();
    let verdicts: Vec<bool> = client
        .query(
            &format!(
                "SELECT {expression} FROM unnest($1::text[]) WITH ORDINALITY AS v(handle, n) ORDER BY n"
            ),
            &[&candidates],
        )
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(verdicts.len(), candidates.len());
    for (candidate, by_postgres) in candidates.iter().zip(verdicts) {
        let by_domain = domain::Handle::parse(candidate).is_ok_and(|h| h.as_str() == candidate);
        assert_eq!(by_postgres, by_domain, "{candidate:?}");
    }
}
