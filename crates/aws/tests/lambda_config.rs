//! `lambda_sdk_config`: the SDK settings a Lambda builds from the variables Lambda sets, with
//! nothing else of the discovery chain. Alone in its binary: it sets process environment
//! variables.

use aws_credential_types::provider::ProvideCredentials;
use idle_aws::{lambda_sdk_config, ConfigError, TLS_ROOTS_VAR};

#[tokio::test]
async fn a_lambda_takes_region_and_credentials_from_its_environment_and_refuses_unknown_roots() {
    // Given the variables Lambda sets for a function (and no profile that could supply others).
    std::env::set_var("AWS_REGION", "eu-west-3");
    std::env::set_var("AWS_ACCESS_KEY_ID", "lambda-role-key");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "lambda-role-secret");
    std::env::set_var("AWS_SESSION_TOKEN", "lambda-role-token");
    std::env::set_var("AWS_CONFIG_FILE", "/nonexistent/config");
    std::env::set_var("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials");
    std::env::remove_var(TLS_ROOTS_VAR);

    // When the config is built, then it carries them, one shared HTTP client and the timeouts.
    let config = lambda_sdk_config().await.unwrap();
    assert_eq!(config.region().map(|r| r.as_ref()), Some("eu-west-3"));
    let credentials = config
        .credentials_provider()
        .expect("a credentials provider")
        .provide_credentials()
        .await
        .unwrap();
    assert_eq!(credentials.access_key_id(), "lambda-role-key");
    assert_eq!(credentials.secret_access_key(), "lambda-role-secret");
    assert_eq!(credentials.session_token(), Some("lambda-role-token"));
    assert!(
        config.http_client().is_some(),
        "one client for every SDK client"
    );
    assert_eq!(
        config.timeout_config().and_then(|t| t.operation_timeout()),
        Some(idle_aws::OPERATION_TIMEOUT)
    );

    // The system's roots on request; an unknown choice is an init error naming the variable.
    std::env::set_var(TLS_ROOTS_VAR, "system");
    assert!(lambda_sdk_config().await.is_ok());
    std::env::set_var(TLS_ROOTS_VAR, "everyone");
    match lambda_sdk_config().await {
        Err(ConfigError::UnknownRoots(value)) => assert_eq!(value, "everyone"),
        other => panic!("expected UnknownRoots, got {other:?}"),
    }
}
