//! This machine's public IPv4 address, asked of a "what is my IP" URL.

use std::net::Ipv4Addr;
use std::time::Duration;

use crate::error::AwsError;
use crate::security_group::parse_ip;

/// AWS's own echo service; any URL answering with the bare address works.
pub const DEFAULT_IP_URL: &str = "https://checkip.amazonaws.com";
const DETECT_TIMEOUT_SECS: u64 = 5;

pub async fn detect(url: &str) -> Result<Ipv4Addr, AwsError> {
    let failed = |reason: String| AwsError::IpDetection {
        url: url.to_owned(),
        reason,
    };
    // The answer becomes a firewall rule: fetched over https (plain http only from this
    // machine), and no redirect may leave https.
    domain::fetch_url::parse(url).map_err(|e| failed(e.to_string()))?;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::custom(
            |attempt| match domain::fetch_url::check_hop(attempt.previous(), attempt.url()) {
                Ok(()) => attempt.follow(),
                Err(refused) => attempt.error(refused),
            },
        ))
        .timeout(Duration::from_secs(DETECT_TIMEOUT_SECS))
        .build()
        .map_err(|e| failed(e.to_string()))?;
    let response = client
        .get(url)
        .send()
        .await
        .map_err(|e| failed(domain::error_chain(&e)))?;
    if !response.status().is_success() {
        return Err(failed(format!("HTTP {}", response.status())));
    }
    let body = response.text().await.map_err(|e| failed(e.to_string()))?;
    parse_ip(&body).map_err(|_| {
        failed(format!(
            "the answer is not an IPv4 address: {:.40}",
            body.trim()
        ))
    })
}
