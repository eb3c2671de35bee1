//! The page's stylesheet and script, embedded in the binary and served under names that carry
//! a hash of their contents (`/assets/app.1f2e3d4c5b6a7988.js`): a new build gets new names, so
//! browsers may keep them for a year without asking again (`immutable`), and the ETag answers
//! a revalidation with `304` anyway.

use std::hash::{Hash, Hasher};
use std::sync::LazyLock;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::path::PathParams;

/// One embedded file.
#[derive(Debug)]
pub struct Asset {
    /// The name it is served under, hash included.
    pub name: String,
    content_type: &'static str,
    etag: HeaderValue,
    body: &'static str,
}

impl Asset {
    fn new(stem: &str, extension: &str, content_type: &'static str, body: &'static str) -> Self {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        body.hash(&mut hasher);
        let hash = format!("{:016x}", hasher.finish());
        Self {
            name: format!("{stem}.{hash}.{extension}"),
            content_type,
            etag: HeaderValue::try_from(format!("\"{hash}\""))
                .unwrap_or_else(|_| HeaderValue::from_static("\"asset\"")),
            body,
        }
    }

    /// The path a page links it by.
    pub fn path(&self) -> String {
        format!("/assets/{}", self.name)
    }
}

pub static STYLESHEET: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        "app",
        "css",
        "text/css; charset=utf-8",
        include_str!("../../web/app.css"),
    )
});

pub static SCRIPT: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        "app",
        "js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/app.js"),
    )
});

/// `GET /assets/{name}`: an embedded file by its hashed name; anything else is the API's JSON
/// `404 ["not_found"]` (or `400 ["invalid_path"]` for a name that is not UTF-8).
pub async fn serve(PathParams(name): PathParams<String>, headers: HeaderMap) -> Response {
    let Some(asset) = [&*STYLESHEET, &*SCRIPT]
        .into_iter()
        .find(|asset| asset.name == name)
    else {
        return ApiError::NotFound.into_response();
    };
    let cache = [
        (header::ETAG, asset.etag.clone()),
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=31536000, immutable"),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
    ];
    if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|tag| tag == asset.etag)
    {
        return (StatusCode::NOT_MODIFIED, cache).into_response();
    }
    (
        cache,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(asset.content_type),
        )],
        asset.body,
    )
        .into_response()
}
