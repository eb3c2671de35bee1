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

#[test]
fn every_file_of_the_pooled_folders_is_listed() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sql");
    let mut files = 0;
    for folder in ["activities", "users", "health", "idempotency"] {
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
