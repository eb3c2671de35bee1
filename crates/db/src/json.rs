//! JSON that Postgres built, carried as text so the API can pass it through without decoding
//! and re-encoding it.

use tokio_postgres::types::{FromSql, Type};

/// The text of a `json` value exactly as Postgres produced it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawJson(pub String);

impl RawJson {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl<'a> FromSql<'a> for RawJson {
    fn from_sql(
        _ty: &Type,
        raw: &'a [u8],
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        // The binary form of `json` is its UTF-8 text.
        Ok(Self(std::str::from_utf8(raw)?.to_owned()))
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::JSON
    }
}
