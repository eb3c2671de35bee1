//! The answer of a service the server calls (a user pool's keys, the managed login's token
//! endpoint), read up to a cap: chunk by chunk, so an answer without `Content-Length` is cut off
//! at the cap too, and a lying or hostile peer cannot make the server buffer without bound.

/// Why an answer was not read.
#[derive(Debug, thiserror::Error)]
pub enum CappedBodyError {
    #[error("the answer is larger than {0} bytes")]
    TooLarge(usize),
    #[error(transparent)]
    Transport(#[from] reqwest::Error),
}

/// The whole body of `response`, if it is at most `max` bytes.
pub async fn read(
    response: &mut reqwest::Response,
    max: usize,
) -> Result<Vec<u8>, CappedBodyError> {
    if response.content_length().is_some_and(|n| n > max as u64) {
        return Err(CappedBodyError::TooLarge(max));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > max {
            return Err(CappedBodyError::TooLarge(max));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::routing::get;

    /// A server on 127.0.0.1 answering `/sized` with 100 bytes and their length, `/streamed`
    /// with 100 bytes in chunks and no length.
    async fn serve() -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new()
            .route("/sized", get(|| async { vec![b'a'; 100] }))
            .route(
                "/streamed",
                get(|| async {
                    let chunks = (0..10).map(|_| Ok::<_, std::io::Error>(vec![b'b'; 10]));
                    Body::from_stream(futures_util::stream::iter(chunks))
                }),
            );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn an_answer_within_the_cap_is_read_whole_and_one_past_it_is_refused_with_or_without_a_length(
    ) {
        let base = serve().await;
        let client = reqwest::Client::new();
        for path in ["/sized", "/streamed"] {
            let mut fits = client.get(format!("{base}{path}")).send().await.unwrap();
            assert_eq!(read(&mut fits, 100).await.unwrap().len(), 100, "{path}");
            let mut over = client.get(format!("{base}{path}")).send().await.unwrap();
            assert!(
                matches!(
                    read(&mut over, 99).await,
                    Err(CappedBodyError::TooLarge(99))
                ),
                "{path}"
            );
        }
    }
}
