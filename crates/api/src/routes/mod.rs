//! One module per resource, and the parameter rules they share.

pub mod activities;
mod field_schemas;
pub mod health;
pub mod paths;
pub mod profile;
pub mod rejections;
pub mod users;

use domain::Handle;
use uuid::Uuid;

use crate::error::ApiError;

/// Page size when the request gives none.
pub const DEFAULT_PAGE_SIZE: i64 = 20;
/// Largest page served; larger requests are capped.
pub const MAX_PAGE_SIZE: i64 = 100;

/// `limit`: absent → default; 1..=100; larger values capped; anything else `invalid_limit`.
pub fn page_limit(raw: Option<&str>) -> Result<i64, ApiError> {
    match raw.filter(|r| !r.is_empty()) {
        None => Ok(DEFAULT_PAGE_SIZE),
        Some(raw) => match raw.parse::<i64>() {
            Ok(n) if n >= 1 => Ok(n.min(MAX_PAGE_SIZE)),
            _ => Err(ApiError::BadRequest("invalid_limit")),
        },
    }
}

/// A keyset cursor (`before` / `after`): absent or empty → none; else a uuid or `invalid_cursor`.
pub fn cursor(raw: Option<&str>) -> Result<Option<Uuid>, ApiError> {
    raw.filter(|c| !c.is_empty())
        .map(|c| Uuid::parse_str(c).map_err(|_| ApiError::BadRequest("invalid_cursor")))
        .transpose()
}

/// A handle from the path; one that cannot exist is simply not found.
pub fn parse_handle(raw: &str) -> Result<Handle, ApiError> {
    Handle::parse(raw).map_err(|_| ApiError::NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_limit_defaults_caps_and_rejects() {
        assert_eq!(page_limit(None).unwrap(), 20);
        assert_eq!(page_limit(Some("")).unwrap(), 20);
        assert_eq!(page_limit(Some("1")).unwrap(), 1);
        assert_eq!(page_limit(Some("100")).unwrap(), 100);
        assert_eq!(page_limit(Some("5000")).unwrap(), 100);
        for bad in ["0", "-1", "ten", "1.5"] {
            assert!(page_limit(Some(bad)).is_err(), "{bad}");
        }
    }
}
