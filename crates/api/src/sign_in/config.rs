//! The settings of sign-in on the page: where the user pool's managed login is, where this site
//! is, the app client's secret, and how long a session lives.

use std::time::Duration;

use db::web_sessions::Lifetimes;
use secrecy::SecretString;
use url::Url;

/// Default idle timeout of a session: two hours without a request ends it.
pub const DEFAULT_SESSION_IDLE_SECS: u64 = 2 * 3600;
/// Default absolute lifetime of a session: a week, whatever its use (the pool's refresh tokens
/// live 30 days by default; a session never outlives its refresh token's use).
pub const DEFAULT_SESSION_MAX_SECS: u64 = 7 * 24 * 3600;
/// Shortest idle timeout accepted: a session is touched at most once a minute.
pub const MIN_SESSION_IDLE_SECS: u64 = 60;
/// Longest session lifetime accepted: 400 days, the most browsers keep a cookie.
pub const MAX_SESSION_SECS: u64 = 400 * 24 * 3600;

#[derive(Debug, Clone)]
pub struct SignInConfig {
    /// The managed login's base URL (`https://<prefix>.auth.<region>.amazoncognito.com`, or a
    /// custom domain): `/oauth2/authorize`, `/oauth2/token`, `/oauth2/revoke` and `/logout`
    /// are under it.
    pub managed_login: Url,
    /// This site's origin as browsers see it (`https://cruddur.example`): the callback is
    /// `<origin>/auth/callback` and sign-out returns to `<origin>/`. Never taken from `Host`.
    pub site: Url,
    /// The app client's secret, when it has one (sent with HTTP Basic to the token endpoint).
    pub client_secret: Option<SecretString>,
    pub lifetimes: Lifetimes,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignInConfigError {
    #[error("COGNITO_DOMAIN: {0}")]
    ManagedLogin(domain::fetch_url::InsecureUrl),
    #[error("COGNITO_DOMAIN must be a base URL without query or fragment (e.g. https://example.auth.us-east-1.amazoncognito.com)")]
    ManagedLoginShape,
    #[error("PUBLIC_URL: {0} (off loopback the sign-in callback must be https)")]
    Site(domain::fetch_url::InsecureUrl),
    #[error("PUBLIC_URL must be an origin only, like https://cruddur.example (no path, query or fragment)")]
    SiteShape,
    #[error("PUBLIC_URL must be set for sign-in on the page (COGNITO_DOMAIN is set): the callback URL is made from it")]
    NoSite,
    #[error("SESSION_IDLE_SECS must be at least {MIN_SESSION_IDLE_SECS}, and SESSION_MAX_SECS at least SESSION_IDLE_SECS and at most {MAX_SESSION_SECS} (400 days)")]
    Lifetimes,
}

impl SignInConfig {
    pub fn new(
        managed_login: &str,
        site: &str,
        client_secret: Option<SecretString>,
        lifetimes: Lifetimes,
    ) -> Result<Self, SignInConfigError> {
        let mut managed_login =
            domain::fetch_url::parse(managed_login).map_err(SignInConfigError::ManagedLogin)?;
        if managed_login.query().is_some() || managed_login.fragment().is_some() {
            return Err(SignInConfigError::ManagedLoginShape);
        }
        // Endpoints are joined below it: one trailing slash, whatever was given.
        let path = managed_login.path().trim_end_matches('/').to_owned();
        managed_login.set_path(&format!("{path}/"));
        if site.is_empty() {
            return Err(SignInConfigError::NoSite);
        }
        let site = domain::fetch_url::parse(site).map_err(SignInConfigError::Site)?;
        if site.path() != "/" || site.query().is_some() || site.fragment().is_some() {
            return Err(SignInConfigError::SiteShape);
        }
        if lifetimes.idle < Duration::from_secs(MIN_SESSION_IDLE_SECS)
            || lifetimes.max < lifetimes.idle
            || lifetimes.max > Duration::from_secs(MAX_SESSION_SECS)
        {
            return Err(SignInConfigError::Lifetimes);
        }
        Ok(Self {
            managed_login,
            site,
            client_secret,
            lifetimes,
        })
    }

    /// `<managed login>/<path>`.
    pub fn endpoint(&self, path: &str) -> Url {
        self.managed_login
            .join(path)
            .expect("a relative path joins any base URL")
    }

    /// This site's origin, as a browser sends it in `Origin` (`https://cruddur.example`).
    pub fn site_origin(&self) -> String {
        self.site.origin().ascii_serialization()
    }

    /// The managed login's origin (the page's CSP lets the sign-out form go there).
    pub fn managed_login_origin(&self) -> String {
        self.managed_login.origin().ascii_serialization()
    }

    /// Where the managed login sends the browser back with a code.
    pub fn callback_url(&self) -> String {
        format!("{}/auth/callback", self.site_origin())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIFETIMES: Lifetimes = Lifetimes {
        idle: Duration::from_secs(3600),
        max: Duration::from_secs(7200),
    };

    #[test]
    fn endpoints_hang_below_the_managed_login_and_the_callback_below_the_site() {
        for domain in [
            "https://cruddur.auth.us-east-1.amazoncognito.com",
            "https://cruddur.auth.us-east-1.amazoncognito.com/",
        ] {
            let config =
                SignInConfig::new(domain, "https://cruddur.example", None, LIFETIMES).unwrap();
            assert_eq!(
                config.endpoint("oauth2/token").as_str(),
                "https://cruddur.auth.us-east-1.amazoncognito.com/oauth2/token"
            );
            assert_eq!(
                config.callback_url(),
                "https://cruddur.example/auth/callback"
            );
            assert_eq!(config.site_origin(), "https://cruddur.example");
            assert_eq!(
                config.managed_login_origin(),
                "https://cruddur.auth.us-east-1.amazoncognito.com"
            );
        }
        let loopback = SignInConfig::new(
            "http://127.0.0.2:9000",
            "http://127.0.0.1:4567/",
            None,
            LIFETIMES,
        )
        .unwrap();
        assert_eq!(
            loopback.callback_url(),
            "http://127.0.0.1:4567/auth/callback"
        );
    }

    #[test]
    fn plain_http_off_loopback_and_sites_with_paths_are_refused() {
        let site = |s: &str| SignInConfig::new("https://login.example", s, None, LIFETIMES);
        assert!(matches!(
            site("http://cruddur.example"),
            Err(SignInConfigError::Site(_))
        ));
        assert_eq!(
            site("https://cruddur.example/app").unwrap_err(),
            SignInConfigError::SiteShape
        );
        assert_eq!(
            site("https://cruddur.example/?a=1").unwrap_err(),
            SignInConfigError::SiteShape
        );
        assert_eq!(site("").unwrap_err(), SignInConfigError::NoSite);
        let domain = |d: &str| SignInConfig::new(d, "https://cruddur.example", None, LIFETIMES);
        assert!(matches!(
            domain("http://login.example"),
            Err(SignInConfigError::ManagedLogin(_))
        ));
        assert_eq!(
            domain("https://login.example/?x=1").unwrap_err(),
            SignInConfigError::ManagedLoginShape
        );
    }

    #[test]
    fn an_idle_timeout_under_a_minute_or_over_the_lifetime_or_a_lifetime_past_400_days_is_refused()
    {
        let with = |idle: u64, max: u64| {
            SignInConfig::new(
                "https://login.example",
                "https://cruddur.example",
                None,
                Lifetimes {
                    idle: Duration::from_secs(idle),
                    max: Duration::from_secs(max),
                },
            )
        };
        assert_eq!(with(59, 3600).unwrap_err(), SignInConfigError::Lifetimes);
        assert_eq!(with(3600, 60).unwrap_err(), SignInConfigError::Lifetimes);
        assert_eq!(
            with(3600, MAX_SESSION_SECS + 1).unwrap_err(),
            SignInConfigError::Lifetimes
        );
        assert!(with(3600, MAX_SESSION_SECS).is_ok());
        assert!(with(60, 60).is_ok());
    }
}
