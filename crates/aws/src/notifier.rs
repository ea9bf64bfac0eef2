//! [`Notifier`] on API Gateway's `@connections` API (the WebSocket stage's management endpoint).

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_apigatewaymanagement::primitives::{Blob, DateTime};
use aws_sdk_apigatewaymanagement::Client;
use idle_app::ports::{ConnectionInfo, Notifier, PostError};
use idle_core::model::Millis;

use crate::config::{retry_config, stalled_stream_protection, timeout_config};
use crate::error::post_error;

/// Posts to, inspects and closes WebSocket connections through `aws-sdk-apigatewaymanagement`.
///
/// Failures map onto [`PostError`]: `GoneException` or HTTP 410 is [`PostError::Gone`] (the
/// client left; forget the connection); throttling (`LimitExceededException`, 429), 5xx,
/// timeouts and connection failures are [`PostError::Transient`], and so is an error without a
/// code (unless its status is 410); anything else (403, 413, …) is [`PostError::Permanent`].
#[derive(Debug, Clone)]
pub struct ApiGatewayNotifier {
    client: Client,
}

impl ApiGatewayNotifier {
    /// A notifier for the stage at `endpoint`: `https://{api-id}.execute-api.{region}.amazonaws.com/{stage}`
    /// (the template's `WS_ENDPOINT`), or the local runtime's gateway.
    ///
    /// The client gets this crate's timeouts and retries whatever `config` holds (see
    /// [`sdk_config`](crate::sdk_config)): a gateway that never answers fails a call with
    /// [`PostError::Transient`] within [`OPERATION_TIMEOUT`](crate::OPERATION_TIMEOUT).
    pub fn new(config: &SdkConfig, endpoint: &str) -> ApiGatewayNotifier {
        let conf = aws_sdk_apigatewaymanagement::config::Builder::from(config)
            .timeout_config(timeout_config())
            .retry_config(retry_config(config.retry_config()))
            .stalled_stream_protection(stalled_stream_protection())
            .endpoint_url(endpoint.trim_end_matches('/'))
            .build();
        ApiGatewayNotifier {
            client: Client::from_conf(conf),
        }
    }
}

fn millis(field: &str, at: &DateTime) -> Result<Millis, PostError> {
    at.to_millis()
        .map_err(|e| PostError::Permanent(format!("GetConnection: {field} out of range: {e}")))
}

/// What a `GetConnection` reply says about a connection. Both times are optional in the API: a
/// reply without `lastActiveAt` counts the connection as active since it connected; one
/// without `connectedAt` says nothing usable, which is a transient failure (ask again later),
/// never a permanent one.
fn connection_info(
    connection_id: &str,
    connected_at: Option<&DateTime>,
    last_active_at: Option<&DateTime>,
) -> Result<ConnectionInfo, PostError> {
    let connected_at = match connected_at {
        Some(at) => millis("connectedAt", at)?,
        None => {
            return Err(PostError::Transient(format!(
                "GetConnection {connection_id}: the reply has no connectedAt"
            )))
        }
    };
    let last_active_at = match last_active_at {
        Some(at) => millis("lastActiveAt", at)?,
        None => connected_at,
    };
    Ok(ConnectionInfo {
        connected_at,
        last_active_at,
    })
}

#[async_trait]
impl Notifier for ApiGatewayNotifier {
    /// `POST /@connections/{id}` with the payload as the message.
    async fn post(&self, connection_id: &str, payload: &[u8]) -> Result<(), PostError> {
        self.client
            .post_to_connection()
            .connection_id(connection_id)
            .data(Blob::new(payload))
            .send()
            .await
            .map_err(|e| post_error(format_args!("PostToConnection {connection_id}"), e))?;
        Ok(())
    }

    /// `GET /@connections/{id}`; a reply without `lastActiveAt` counts the connection as
    /// active since it connected.
    async fn connection_info(&self, connection_id: &str) -> Result<ConnectionInfo, PostError> {
        let output = self
            .client
            .get_connection()
            .connection_id(connection_id)
            .send()
            .await
            .map_err(|e| post_error(format_args!("GetConnection {connection_id}"), e))?;
        connection_info(
            connection_id,
            output.connected_at(),
            output.last_active_at(),
        )
    }

    /// `DELETE /@connections/{id}`; a connection already gone is not an error.
    async fn close(&self, connection_id: &str) -> Result<(), PostError> {
        match self
            .client
            .delete_connection()
            .connection_id(connection_id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(err) => match post_error(format_args!("DeleteConnection {connection_id}"), err) {
                PostError::Gone => Ok(()),
                other => Err(other),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_get_connection_reply_without_connected_at_is_transient_never_permanent() {
        let at = DateTime::from_millis(1_800_000_000_000);
        assert!(matches!(
            connection_info("c1", None, Some(&at)),
            Err(PostError::Transient(m)) if m.contains("c1") && m.contains("connectedAt")
        ));
        assert!(matches!(
            connection_info("c1", None, None),
            Err(PostError::Transient(_))
        ));
        // A missing lastActiveAt is the connection time
        assert_eq!(
            connection_info("c1", Some(&at), None).unwrap(),
            ConnectionInfo {
                connected_at: 1_800_000_000_000,
                last_active_at: 1_800_000_000_000,
            }
        );
    }
}
