//! The users of a Cognito user pool, for `cruddur cognito sync` (cognito-idp `ListUsers`, every
//! page).

use crate::error::{AwsError, SdkFailure};

/// Users per `ListUsers` page (the API's maximum).
const PAGE_SIZE: i32 = 60;

/// A user of the pool, with the attributes the sync needs.
#[derive(Clone, PartialEq, Eq)]
pub struct PoolUser {
    pub sub: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub preferred_username: Option<String>,
    /// Confirmed and enabled: a person who can sign in. Only such users are linked or recorded.
    pub confirmed: bool,
    /// Cognito verified the email (`email_verified`); only then may an email identify a row.
    pub email_verified: bool,
}

/// Personal data stays out of logs and panics: only the sub and the handle are shown.
impl std::fmt::Debug for PoolUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolUser")
            .field("sub", &self.sub)
            .field("preferred_username", &self.preferred_username)
            .finish_non_exhaustive()
    }
}

pub fn cognito_client(config: &aws_config::SdkConfig) -> aws_sdk_cognitoidentityprovider::Client {
    aws_sdk_cognitoidentityprovider::Client::new(config)
}

/// Every user of `user_pool_id`, following the pagination token to the end. Users without a
/// `sub` attribute (never seen in practice) are skipped.
pub async fn list_users(
    client: &aws_sdk_cognitoidentityprovider::Client,
    user_pool_id: &str,
) -> Result<Vec<PoolUser>, AwsError> {
    let mut users = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = client
            .list_users()
            .user_pool_id(user_pool_id)
            .limit(PAGE_SIZE)
            .set_pagination_token(token.take())
            .send()
            .await
            .map_err(|e| pool_error(SdkFailure::from(e), user_pool_id))?;
        for user in page.users() {
            let attribute = |name: &str| {
                user.attributes()
                    .iter()
                    .find(|a| a.name() == name)
                    .and_then(|a| a.value())
                    .map(str::to_owned)
                    .filter(|v| !v.is_empty())
            };
            if let Some(sub) = attribute("sub") {
                let status = user.user_status().map(|s| s.as_str());
                users.push(PoolUser {
                    sub,
                    email: attribute("email"),
                    name: attribute("name"),
                    preferred_username: attribute("preferred_username"),
                    confirmed: status == Some("CONFIRMED") && user.enabled(),
                    email_verified: attribute("email_verified").as_deref() == Some("true"),
                });
            }
        }
        match page.pagination_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_owned()),
            _ => return Ok(users),
        }
    }
}

pub(crate) fn pool_error(failure: SdkFailure, user_pool_id: &str) -> AwsError {
    failure.not_found_as(&["ResourceNotFoundException"], |_| {
        format!("user pool {user_pool_id} not found (ResourceNotFoundException); check the id and the region")
    })
}
