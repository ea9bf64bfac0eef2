//! [`Waker`] on SQS: a wake-up is one message on the wake queue, delayed by the whole seconds
//! until its time (DESIGN.md section 12).
//!
//! SQS delays a message by at most 900 s, in whole seconds ("Amazon SQS delay queues",
//! `DelaySeconds`). So a wake-up for `at` is sent with `DelaySeconds` = ⌊(at − now) / 1 s⌋,
//! clamped to 0..=900: it becomes visible at most 1 s before `at` (the consumer,
//! `idle_app::handlers::wake_queue`, waits out the rest, so nothing is ever early), and one
//! further away than 900 s arrives early by more than `idle_app::usecase::MAX_WAIT_MS` and is
//! armed again by the consumer.

use std::sync::{Arc, LazyLock};

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use idle_app::ports::{Clock, StoreError, WakeMessage, Waker};
use idle_core::model::Millis;

use crate::config::{retry_config, stalled_stream_protection, timeout_config};
use crate::error::store_error;

/// The environment variable that points the SQS client at a local stand-in (moto).
pub const SQS_ENDPOINT_VAR: &str = "SQS_ENDPOINT";

/// The longest delay SQS gives one message, in seconds.
pub const MAX_DELAY_SECS: i32 = 900;

/// The most messages one `SendMessageBatch` carries ("Amazon SQS batch actions").
pub const MAX_BATCH: usize = 10;

/// An SQS client with this crate's timeouts and retries (see the crate documentation);
/// `SQS_ENDPOINT`, when set and not blank, replaces the regional endpoint (moto).
pub fn sqs_client(config: &SdkConfig) -> aws_sdk_sqs::Client {
    let endpoint = std::env::var(SQS_ENDPOINT_VAR)
        .ok()
        .filter(|v| !v.trim().is_empty());
    sqs_client_at(config, endpoint.as_deref())
}

/// An SQS client with this crate's timeouts and retries, at `endpoint` when given (else the
/// regional endpoint).
pub fn sqs_client_at(config: &SdkConfig, endpoint: Option<&str>) -> aws_sdk_sqs::Client {
    let mut builder = aws_sdk_sqs::config::Builder::from(config)
        .timeout_config(timeout_config())
        .retry_config(retry_config(config.retry_config()))
        .stalled_stream_protection(stalled_stream_protection());
    if let Some(endpoint) = endpoint {
        tracing::debug!(%endpoint, "SQS endpoint overridden");
        builder = builder.endpoint_url(endpoint);
    }
    aws_sdk_sqs::Client::from_conf(builder.build())
}

/// The `DelaySeconds` of a wake-up for `at` sent at `now` (both ms since the epoch): the whole
/// seconds until `at`, rounded down (so the message is never late because of rounding), at
/// least 0 (a due or past wake-up is sent at once) and at most [`MAX_DELAY_SECS`].
pub fn delay_seconds(at: Millis, now: Millis) -> i32 {
    let secs = at.saturating_sub(now).div_euclid(1000);
    secs.clamp(0, Millis::from(MAX_DELAY_SECS)) as i32
}

/// The SQS client of a [`SqsWaker`], built when it is first used ([`SqsWaker::lazy`]).
type LazyClient = LazyLock<aws_sdk_sqs::Client, Box<dyn FnOnce() -> aws_sdk_sqs::Client + Send>>;

/// Arms wake-ups by sending [`WakeMessage`]s (JSON bodies) to the wake queue.
///
/// Cheap to clone: the SDK client is shared.
#[derive(Clone)]
pub struct SqsWaker {
    client: Arc<LazyClient>,
    queue_url: String,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for SqsWaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqsWaker")
            .field("queue_url", &self.queue_url)
            .finish_non_exhaustive()
    }
}

impl SqsWaker {
    /// A waker sending to the queue at `queue_url` (the deployment's `WAKE_QUEUE_URL`), timing
    /// its delays by `clock` (the services' clock).
    pub fn new(
        client: aws_sdk_sqs::Client,
        queue_url: impl Into<String>,
        clock: Arc<dyn Clock>,
    ) -> SqsWaker {
        SqsWaker {
            client: Arc::new(LazyLock::new(Box::new(move || client))),
            queue_url: queue_url.into(),
            clock,
        }
    }

    /// As [`new`](Self::new), with the client ([`sqs_client`] of `config`) built at the first
    /// wake-up armed instead of now: a process that never arms one (`task-processor` serving
    /// only stream batches) never builds it, and its cold start is spared the SQS client's
    /// construction (about 0.15 ms, docs/performance.md "Cold start and footprint").
    pub fn lazy(
        config: &SdkConfig,
        queue_url: impl Into<String>,
        clock: Arc<dyn Clock>,
    ) -> SqsWaker {
        let config = config.clone();
        SqsWaker {
            client: Arc::new(LazyLock::new(Box::new(move || sqs_client(&config)))),
            queue_url: queue_url.into(),
            clock,
        }
    }

    /// The queue this waker sends to.
    pub fn queue_url(&self) -> &str {
        &self.queue_url
    }
}

#[async_trait]
impl Waker for SqsWaker {
    /// One `SendMessage` of `{"player_id", "at"}` with `DelaySeconds` = [`delay_seconds`]`(at,
    /// now)`. Errors: throttling, timeouts and 5xx are [`StoreError::Transient`] (the caller
    /// reports the stream record for redelivery, or the message for another receive); a missing
    /// queue or permission is [`StoreError::Permanent`].
    async fn arm(&self, player_id: &str, at: Millis) -> Result<(), StoreError> {
        let body = serde_json::to_string(&WakeMessage {
            player_id: player_id.to_owned(),
            at,
        })
        .map_err(|e| StoreError::Permanent(format!("cannot encode a wake-up: {e}")))?;
        let delay = delay_seconds(at, self.clock.now());
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .delay_seconds(delay)
            .send()
            .await
            .map_err(|e| {
                store_error(
                    format_args!(
                        "SendMessage (wake {player_id} at {at}) to {}",
                        self.queue_url
                    ),
                    e,
                )
            })?;
        tracing::debug!(player_id, at, delay, "wake-up armed");
        Ok(())
    }

    /// `SendMessageBatch` of the wake-ups, at most [`MAX_BATCH`] a request (each entry with its
    /// own `DelaySeconds`, as [`arm`](Self::arm) gives it): one request for what a write arms
    /// (a task's progress updates, at most `limits.progress_updates`, and its end). An entry
    /// SQS refuses fails the call with the first refusal (sender's fault: permanent; else
    /// transient); the others were sent.
    async fn arm_all(&self, player_id: &str, at: &[Millis]) -> Result<(), StoreError> {
        let now = self.clock.now();
        for chunk in at.chunks(MAX_BATCH) {
            let mut entries = Vec::with_capacity(chunk.len());
            for (i, &at) in chunk.iter().enumerate() {
                let body = serde_json::to_string(&WakeMessage {
                    player_id: player_id.to_owned(),
                    at,
                })
                .map_err(|e| StoreError::Permanent(format!("cannot encode a wake-up: {e}")))?;
                entries.push(
                    SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(body)
                        .delay_seconds(delay_seconds(at, now))
                        .build()
                        .map_err(|e| StoreError::Permanent(format!("a wake-up entry: {e}")))?,
                );
            }
            let sent = self
                .client
                .send_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| {
                    store_error(
                        format_args!(
                            "SendMessageBatch (wake {player_id} at {chunk:?}) to {}",
                            self.queue_url
                        ),
                        e,
                    )
                })?;
            if let Some(failed) = sent.failed().first() {
                let reason = format!(
                    "SendMessageBatch (wake {player_id} at {chunk:?}) to {}: entry {} refused: {} {}",
                    self.queue_url,
                    failed.id(),
                    failed.code(),
                    failed.message().unwrap_or("")
                );
                return Err(if failed.sender_fault() {
                    StoreError::Permanent(reason)
                } else {
                    StoreError::Transient(reason)
                });
            }
            tracing::debug!(player_id, at = ?chunk, "wake-ups armed");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delay_is_the_whole_seconds_until_the_wake_up_clamped_to_what_sqs_allows() {
        assert_eq!(delay_seconds(10_000, 10_000), 0);
        assert_eq!(delay_seconds(10_999, 10_000), 0, "never rounded up");
        assert_eq!(delay_seconds(11_000, 10_000), 1);
        assert_eq!(delay_seconds(12_500, 10_000), 2);
        assert_eq!(
            delay_seconds(5_000, 10_000),
            0,
            "a past wake-up goes at once"
        );
        assert_eq!(delay_seconds(10_000 + 900_000, 10_000), 900);
        assert_eq!(
            delay_seconds(10_000 + 3_600_000, 10_000),
            900,
            "armed again later"
        );
        assert_eq!(delay_seconds(Millis::MAX, Millis::MIN), 900);
    }
}
