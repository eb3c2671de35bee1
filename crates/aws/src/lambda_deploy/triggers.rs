//! The user pool's `PreSignUp` and `PostConfirmation` triggers. `UpdateUserPool` resets every
//! setting it is not given — other triggers, the password policy, MFA, email settings — so the
//! pool's described settings are sent back with only the two triggers changed.

use aws_sdk_cognitoidentityprovider::types::{LambdaConfigType, UserPoolType};

use crate::error::{AwsError, SdkFailure};

/// The triggers the function answers.
pub(crate) const WIRED: [&str; 2] = ["PreSignUp", "PostConfirmation"];

/// Which of [`WIRED`] do not point at `function_arn`.
pub(crate) fn unwired(pool: &UserPoolType, function_arn: &str) -> Vec<&'static str> {
    let config = pool.lambda_config();
    let current = [
        config.and_then(|c| c.pre_sign_up()),
        config.and_then(|c| c.post_confirmation()),
    ];
    WIRED
        .into_iter()
        .zip(current)
        .filter(|(_, arn)| *arn != Some(function_arn))
        .map(|(name, _)| name)
        .collect()
}

/// Which of [`WIRED`] point at `function_arn`.
pub(crate) fn wired(pool: &UserPoolType, function_arn: &str) -> Vec<&'static str> {
    let unwired = unwired(pool, function_arn);
    WIRED.into_iter().filter(|t| !unwired.contains(t)).collect()
}

/// The pool's other Lambda settings, by name: what deploy and undeploy keep.
pub(crate) fn others(pool: &UserPoolType) -> Vec<&'static str> {
    let Some(c) = pool.lambda_config() else {
        return Vec::new();
    };
    [
        ("CustomMessage", c.custom_message().is_some()),
        ("PreAuthentication", c.pre_authentication().is_some()),
        ("PostAuthentication", c.post_authentication().is_some()),
        ("DefineAuthChallenge", c.define_auth_challenge().is_some()),
        ("CreateAuthChallenge", c.create_auth_challenge().is_some()),
        (
            "VerifyAuthChallengeResponse",
            c.verify_auth_challenge_response().is_some(),
        ),
        (
            "PreTokenGeneration",
            c.pre_token_generation().is_some() || c.pre_token_generation_config().is_some(),
        ),
        ("UserMigration", c.user_migration().is_some()),
        ("CustomSMSSender", c.custom_sms_sender().is_some()),
        ("CustomEmailSender", c.custom_email_sender().is_some()),
    ]
    .into_iter()
    .filter_map(|(name, set)| set.then_some(name))
    .collect()
}

/// Points both triggers at `function_arn`, keeping everything else.
pub(crate) async fn wire(
    cognito: &aws_sdk_cognitoidentityprovider::Client,
    pool_id: &str,
    pool: &UserPoolType,
    function_arn: &str,
) -> Result<(), AwsError> {
    let config = LambdaConfigType::builder()
        .set_pre_sign_up(Some(function_arn.to_owned()))
        .set_post_confirmation(Some(function_arn.to_owned()));
    let config = keep_others(config, pool.lambda_config());
    update(cognito, pool_id, pool, config.build()).await
}

/// Clears whichever of the two triggers points at `function_arn`, keeping everything else.
pub(crate) async fn unwire(
    cognito: &aws_sdk_cognitoidentityprovider::Client,
    pool_id: &str,
    pool: &UserPoolType,
    function_arn: &str,
) -> Result<(), AwsError> {
    let current = pool.lambda_config();
    let keep = |arn: Option<&str>| arn.filter(|a| *a != function_arn).map(str::to_owned);
    let config = LambdaConfigType::builder()
        .set_pre_sign_up(keep(current.and_then(|c| c.pre_sign_up())))
        .set_post_confirmation(keep(current.and_then(|c| c.post_confirmation())));
    let config = keep_others(config, current);
    update(cognito, pool_id, pool, config.build()).await
}

/// Every trigger of `current` but the two deploy manages, copied into `config`.
fn keep_others(
    config: aws_sdk_cognitoidentityprovider::types::builders::LambdaConfigTypeBuilder,
    current: Option<&LambdaConfigType>,
) -> aws_sdk_cognitoidentityprovider::types::builders::LambdaConfigTypeBuilder {
    let Some(c) = current else { return config };
    config
        .set_custom_message(c.custom_message().map(str::to_owned))
        .set_pre_authentication(c.pre_authentication().map(str::to_owned))
        .set_post_authentication(c.post_authentication().map(str::to_owned))
        .set_define_auth_challenge(c.define_auth_challenge().map(str::to_owned))
        .set_create_auth_challenge(c.create_auth_challenge().map(str::to_owned))
        .set_verify_auth_challenge_response(c.verify_auth_challenge_response().map(str::to_owned))
        .set_pre_token_generation(c.pre_token_generation().map(str::to_owned))
        .set_pre_token_generation_config(c.pre_token_generation_config().cloned())
        .set_user_migration(c.user_migration().map(str::to_owned))
        .set_custom_sms_sender(c.custom_sms_sender().cloned())
        .set_custom_email_sender(c.custom_email_sender().cloned())
        .set_kms_key_id(c.kms_key_id().map(str::to_owned))
}

/// `UpdateUserPool` with the pool's own settings and `lambda_config`.
async fn update(
    cognito: &aws_sdk_cognitoidentityprovider::Client,
    pool_id: &str,
    pool: &UserPoolType,
    lambda_config: LambdaConfigType,
) -> Result<(), AwsError> {
    let auto_verified = pool.auto_verified_attributes();
    cognito
        .update_user_pool()
        .user_pool_id(pool_id)
        .set_pool_name(pool.name().map(str::to_owned))
        .set_policies(pool.policies().cloned())
        .set_deletion_protection(pool.deletion_protection().cloned())
        .lambda_config(lambda_config)
        .set_auto_verified_attributes((!auto_verified.is_empty()).then(|| auto_verified.to_vec()))
        .set_sms_verification_message(pool.sms_verification_message().map(str::to_owned))
        .set_email_verification_message(pool.email_verification_message().map(str::to_owned))
        .set_email_verification_subject(pool.email_verification_subject().map(str::to_owned))
        .set_verification_message_template(pool.verification_message_template().cloned())
        .set_sms_authentication_message(pool.sms_authentication_message().map(str::to_owned))
        .set_user_attribute_update_settings(pool.user_attribute_update_settings().cloned())
        .set_mfa_configuration(pool.mfa_configuration().cloned())
        .set_device_configuration(pool.device_configuration().cloned())
        .set_email_configuration(pool.email_configuration().cloned())
        .set_sms_configuration(pool.sms_configuration().cloned())
        .set_user_pool_tags(pool.user_pool_tags().cloned())
        .set_admin_create_user_config(pool.admin_create_user_config().cloned())
        .set_user_pool_add_ons(pool.user_pool_add_ons().cloned())
        .set_account_recovery_setting(pool.account_recovery_setting().cloned())
        .set_user_pool_tier(pool.user_pool_tier().cloned())
        .set_key_configuration(pool.key_configuration().cloned())
        .set_issuer_configuration(pool.issuer_configuration().cloned())
        .set_acr_configuration(pool.acr_configuration().cloned())
        .send()
        .await
        .map_err(|e| SdkFailure::from(e).into_error())?;
    tracing::info!(pool_id, "user pool triggers updated");
    Ok(())
}
