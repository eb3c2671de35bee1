//! The statement list behind a transaction pooler: every pooled statement is in it, with the
//! parameter types PostgreSQL infers (sent wrong, an unnamed statement would be refused or,
//! worse, coerced).

use db::statement::ALL;
use test_db::TestDb;

#[tokio::test]
async fn every_declared_parameter_type_is_the_one_postgres_infers() {
    let db = TestDb::new().await;
    let client = db.client().await;
    for sql in ALL {
        let inferred = client.prepare(sql.text).await.unwrap();
        assert_eq!(inferred.params(), sql.params, "{}", sql.text);
    }
}

/// A pooled server sends the function call instead of the statement (V11): the call must take
/// the same parameters and give the same columns, or the rows would decode differently.
#[tokio::test]
async fn every_pooled_call_takes_and_gives_what_its_statement_does() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let mut calls = 0;
    for sql in ALL {
        let Some(call) = sql.pooled else { continue };
        calls += 1;
        let direct = client.prepare(sql.text).await.unwrap();
        let pooled = client.prepare(call).await.unwrap();
        assert_eq!(pooled.params(), sql.params, "{call}");
        let columns =
            |s: &tokio_postgres::Statement| -> Vec<(String, tokio_postgres::types::Type)> {
                s.columns()
                    .iter()
                    .map(|c| (c.name().to_owned(), c.type_().clone()))
                    .collect()
            };
        assert_eq!(columns(&pooled), columns(&direct), "{call}");
    }
    assert_eq!(
        calls, 5,
        "the feed, its later pages, the status page and its later pages, the user page"
    );
}

/// Each V11 function's body is its statement file verbatim: a file edited without a migration
/// replacing the function would make pooled servers run the old query.
#[tokio::test]
async fn every_pooled_function_holds_its_file_text() {
    let db = TestDb::new().await;
    let client = db.client().await;
    for sql in ALL {
        let Some(call) = sql.pooled else { continue };
        let name = call
            .trim_start_matches("SELECT * FROM ")
            .split('(')
            .next()
            .unwrap();
        let body: String = client
            .query_one(
                "SELECT prosrc FROM pg_proc WHERE proname = $1 AND pronamespace = 'public'::regnamespace",
                &[&name],
            )
            .await
            .unwrap()
            .get(0);
        let expected = format!(
            "\n#variable_conflict use_column\nBEGIN\nRETURN QUERY\n{};\nEND\n",
            sql.text.trim_end()
        );
        assert_eq!(
            body, expected,
            "function {name} no longer holds its statement file; replace it in a new migration"
        );
    }
}

#[test]
fn every_file_of_the_pooled_folders_is_listed() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sql");
    let mut files = 0;
    for folder in [
        "activities",
        "users",
        "health",
        "idempotency",
        "web_sessions",
    ] {
        for entry in std::fs::read_dir(root.join(folder)).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            assert!(
                ALL.iter().any(|sql| sql.text == text),
                "a statement in sql/{folder} is missing from db::statement::ALL"
            );
            files += 1;
        }
    }
    assert_eq!(files, ALL.len());
}
