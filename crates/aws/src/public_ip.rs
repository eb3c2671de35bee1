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
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(DETECT_TIMEOUT_SECS))
        .build()
        .map_err(|e| failed(e.to_string()))?;
    let response = client
        .get(url)
        .send()
        .await
        .map_err(|e| failed(e.to_string()))?;
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
