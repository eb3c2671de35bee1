//! `Idempotency-Key` on create and reply (the IETF httpapi draft; Stripe's convention): the
//! same key from the same author with the same body within 24 hours answers the first result
//! again, with `Idempotent-Replayed: true` — also when the first attempt committed but its
//! answer was lost (the client saw 503). The same key with another body is
//! `422 ["idempotency_key_reused"]`; when the first result has expired and been purged since,
//! `404 ["not_found"]` (nothing is written again). Without the header nothing changes. Keys live in
//! PostgreSQL (`db::idempotency`), so every server and every restart honours them.

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use db::idempotency::KeyedOutcome;
use domain::IdempotencyKey;

use crate::error::ApiError;
use crate::json::FeedItem;
use crate::responses::json;

/// The request header.
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";
/// Set on an answer that repeats an earlier one.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

/// The request's key, if it sent one; a key breaking the rule (or sent twice) is
/// `400 ["idempotency_key_invalid"]`.
pub(crate) fn key_of(headers: &HeaderMap) -> Result<Option<IdempotencyKey>, ApiError> {
    let mut sent = headers.get_all(IDEMPOTENCY_KEY_HEADER).iter();
    let Some(first) = sent.next() else {
        return Ok(None);
    };
    let invalid = ApiError::BadRequest("idempotency_key_invalid");
    if sent.next().is_some() {
        return Err(invalid);
    }
    let text = first.to_str().map_err(|_| invalid)?;
    IdempotencyKey::parse(text)
        .map(Some)
        .map_err(|_| ApiError::BadRequest("idempotency_key_invalid"))
}

/// The answer to a keyed write.
pub(crate) fn answer(outcome: KeyedOutcome) -> Result<Response, ApiError> {
    match outcome {
        KeyedOutcome::Written(row) => json(StatusCode::OK, &FeedItem::from(row)),
        KeyedOutcome::Replayed(row) => {
            let mut response = json(StatusCode::OK, &FeedItem::from(row))?;
            response
                .headers_mut()
                .insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
            Ok(response)
        }
        KeyedOutcome::KeyReused => Err(ApiError::IdempotencyKeyReused),
        KeyedOutcome::UnknownAuthor => Err(ApiError::UserNotFound),
        KeyedOutcome::UnknownParent | KeyedOutcome::Gone => Err(ApiError::NotFound),
    }
}
