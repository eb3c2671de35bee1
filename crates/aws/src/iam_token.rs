//! RDS IAM authentication: a token (a SigV4-presigned `connect` URL, valid 15 minutes) as the
//! password, minted with `aws_sdk_rds::auth_token` from the standard credentials chain.
//!
//! A token is minted per new connection unless one for the same host, port and user is younger
//! than [`REUSE_FOR`]; a refusal always mints afresh. The region is the one given or the one in
//! the endpoint's name (`….<region>.rds.amazonaws.com`) — never the SDK's silent `us-east-1`.
//! Tokens are read off the SDK configuration's clock, so tests can move it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use aws_config::{Region, SdkConfig};
use aws_sdk_rds::auth_token::{AuthTokenGenerator, Config as TokenConfig};
use db::credentials::{
    CredentialError, CredentialProvider, Credentials, LoginTarget, ProviderFuture,
};

/// How long a token is valid (RDS's maximum, and what botocore asks for).
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(15 * 60);
/// A token younger than this is reused for another connection: it then has at least five
/// minutes left, far more than a connection's startup needs.
pub const REUSE_FOR: Duration = Duration::from_secs(10 * 60);

/// The region in an RDS endpoint's name (`id.xxxx.eu-west-3.rds.amazonaws.com`, also the
/// `.amazonaws.com.cn` partition), if it is one.
pub fn region_of_endpoint(host: &str) -> Option<String> {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let labels: Vec<&str> = host.split('.').collect();
    let rds = labels.iter().rposition(|l| *l == "rds")?;
    let tail = &labels[rds + 1..];
    if !(tail == ["amazonaws", "com"] || tail == ["amazonaws", "com", "cn"]) || rds < 3 {
        return None;
    }
    let region = labels[rds - 1];
    let looks_like_region = region.split('-').count() >= 3
        && region
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-');
    looks_like_region.then(|| region.to_owned())
}

/// Who a token logs in as, and where: host, port, user.
type Login = (String, u16, String);

/// Mints and caches IAM tokens.
#[derive(Debug)]
pub struct IamTokens {
    sdk: SdkConfig,
    region: Region,
    minted: Mutex<HashMap<Login, (Credentials, SystemTime)>>,
}

impl IamTokens {
    /// Tokens signed in `region`, with `sdk`'s credentials and clock.
    pub fn new(sdk: SdkConfig, region: impl Into<String>) -> Self {
        Self {
            sdk,
            region: Region::new(region.into()),
            minted: Mutex::new(HashMap::new()),
        }
    }

    fn now(&self) -> SystemTime {
        self.sdk
            .time_source()
            .map_or_else(SystemTime::now, |clock| clock.now())
    }

    /// A token for `user` at `host:port`, reused while younger than [`REUSE_FOR`] unless
    /// `fresh`.
    pub async fn token(
        &self,
        host: &str,
        port: u16,
        user: &str,
        fresh: bool,
    ) -> Result<Credentials, CredentialError> {
        let key = (host.to_owned(), port, user.to_owned());
        let now = self.now();
        if !fresh {
            let minted = self.minted.lock().ok();
            if let Some((token, at)) = minted.as_ref().and_then(|m| m.get(&key)) {
                if now.duration_since(*at).is_ok_and(|age| age < REUSE_FOR) {
                    return Ok(token.clone());
                }
            }
        }
        let failed = |reason: String| CredentialError::Token {
            user: user.to_owned(),
            host: host.to_owned(),
            port,
            reason,
        };
        let config = TokenConfig::builder()
            .hostname(host)
            .port(u64::from(port))
            .region(self.region.clone())
            .username(user)
            .expires_in(TOKEN_LIFETIME.as_secs())
            .build()
            .map_err(|e| failed(e.to_string()))?;
        let token = AuthTokenGenerator::new(config)
            .auth_token(&self.sdk)
            .await
            .map_err(|e| failed(one_line(&e.to_string())))?;
        let credentials = Credentials::new(user, token.as_str());
        if let Ok(mut minted) = self.minted.lock() {
            minted.insert(key, (credentials.clone(), now));
        }
        Ok(credentials)
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl CredentialProvider for IamTokens {
    fn credentials<'a>(
        &'a self,
        target: LoginTarget<'a>,
        refused: bool,
    ) -> ProviderFuture<'a, Result<Vec<Credentials>, CredentialError>> {
        Box::pin(async move {
            let user = target.user.ok_or_else(|| {
                CredentialError::Invalid(
                    "DB_AUTH=iam needs the database user in the connection URL (postgres://USER@host/db)".into(),
                )
            })?;
            Ok(vec![
                self.token(target.host, target.port, user, refused).await?,
            ])
        })
    }

    fn source(&self) -> String {
        format!("IAM tokens ({})", self.region)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::UNIX_EPOCH;

    use aws_sdk_rds::config::{Credentials as AwsCredentials, SharedCredentialsProvider};
    use aws_smithy_async::time::TimeSource;
    use secrecy::ExposeSecret;

    use super::*;

    const HOST: &str = "cruddur-db-instance.c9akciq32.eu-west-3.rds.amazonaws.com";

    /// A clock the test moves.
    #[derive(Debug, Clone)]
    struct FakeClock(Arc<Mutex<SystemTime>>);

    impl FakeClock {
        fn advance(&self, by: Duration) {
            *self.0.lock().unwrap() += by;
        }
    }

    impl TimeSource for FakeClock {
        fn now(&self) -> SystemTime {
            *self.0.lock().unwrap()
        }
    }

    fn sdk_at(clock: FakeClock) -> SdkConfig {
        SdkConfig::builder()
            .credentials_provider(SharedCredentialsProvider::new(AwsCredentials::new(
                "AKIDEXAMPLE",
                "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                None,
                None,
                "test",
            )))
            .time_source(clock)
            .build()
    }

    fn date_of(token: &Credentials) -> SystemTime {
        let text = token.password.expose_secret();
        let date = text
            .split('&')
            .find_map(|pair| pair.strip_prefix("X-Amz-Date="))
            .expect("a token carries its date");
        let parsed = chrono::NaiveDateTime::parse_from_str(date, "%Y%m%dT%H%M%SZ").unwrap();
        UNIX_EPOCH + Duration::from_secs(parsed.and_utc().timestamp() as u64)
    }

    /// botocore's `generate_db_auth_token` for the same credentials, endpoint, region and time
    /// (crates/aws/tests/vectors/rds_auth_token.py prints it).
    const BOTOCORE: &str = "cruddur-db-instance.c9akciq32.eu-west-3.rds.amazonaws.com:5432/?Action=connect&DBUser=cruddur_app&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20240229%2Feu-west-3%2Frds-db%2Faws4_request&X-Amz-Date=20240229T235958Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Signature=c12ebe6a76f7ddb4f238e10f221e6914016a277e98cb1f24770b576ad78a04d2";

    #[tokio::test]
    async fn the_token_is_byte_identical_to_botocores() {
        // 2024-02-29T23:59:58Z
        let clock = FakeClock(Arc::new(Mutex::new(
            UNIX_EPOCH + Duration::from_secs(1_709_251_198),
        )));
        let tokens = IamTokens::new(sdk_at(clock), "eu-west-3");
        let token = tokens
            .token(HOST, 5432, "cruddur_app", false)
            .await
            .unwrap();
        assert_eq!(token.user, "cruddur_app");
        assert_eq!(token.password.expose_secret(), BOTOCORE);
    }

    #[tokio::test]
    async fn no_token_older_than_ten_minutes_is_handed_out_and_a_refusal_mints_afresh() {
        let clock = FakeClock(Arc::new(Mutex::new(
            UNIX_EPOCH + Duration::from_secs(1_800_000_000),
        )));
        let tokens = IamTokens::new(sdk_at(clock.clone()), "eu-west-3");
        let target = LoginTarget {
            host: HOST,
            port: 5432,
            user: Some("cruddur_app"),
        };
        let (mut reused, mut minted) = (0, 0);
        let mut last: Option<Credentials> = None;
        // 45 minutes in 20-second steps: a connection opened at every step.
        for _ in 0..135 {
            let token = tokens.credentials(target, false).await.unwrap().remove(0);
            let age = clock.now().duration_since(date_of(&token)).unwrap();
            assert!(
                age < REUSE_FOR,
                "a token {} s old was handed out",
                age.as_secs()
            );
            assert!(age < Duration::from_secs(14 * 60));
            match &last {
                Some(previous) if previous.same_as(&token) => reused += 1,
                _ => minted += 1,
            }
            last = Some(token);
            clock.advance(Duration::from_secs(20));
        }
        assert_eq!(
            minted, 5,
            "one token per ten minutes: {minted} minted, {reused} reused"
        );
        let before = last.unwrap();
        clock.advance(Duration::from_secs(1));
        let after_refusal = tokens.credentials(target, true).await.unwrap().remove(0);
        assert!(
            !after_refusal.same_as(&before),
            "a refusal must mint a new token"
        );
        assert_eq!(date_of(&after_refusal), clock.now());
    }

    #[tokio::test]
    async fn a_url_without_a_user_is_refused_with_a_clear_error() {
        let clock = FakeClock(Arc::new(Mutex::new(UNIX_EPOCH)));
        let tokens = IamTokens::new(sdk_at(clock), "eu-west-3");
        let target = LoginTarget {
            host: HOST,
            port: 5432,
            user: None,
        };
        let err = tokens
            .credentials(target, false)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("needs the database user"), "{err}");
    }

    #[test]
    fn the_region_is_read_from_rds_endpoints_only() {
        assert_eq!(region_of_endpoint(HOST).as_deref(), Some("eu-west-3"));
        assert_eq!(
            region_of_endpoint("db.abc.cn-north-1.rds.amazonaws.com.cn").as_deref(),
            Some("cn-north-1")
        );
        assert_eq!(
            region_of_endpoint("proxy.proxy-abc.us-gov-west-1.rds.amazonaws.com").as_deref(),
            Some("us-gov-west-1")
        );
        for other in [
            "localhost",
            "db.example.com",
            "rds.amazonaws.com",
            "x.rds.amazonaws.com",
            "db.abc.eu-west-3.rds.amazonaws.com.evil.example",
            "10.0.0.5",
        ] {
            assert_eq!(region_of_endpoint(other), None, "{other}");
        }
    }
}
