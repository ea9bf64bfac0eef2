//! The Lambda event values the gateway and the timers hand the handlers, built as API Gateway
//! and EventBridge send them (JSON of the same shape, read back through `aws_lambda_events`).

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use base64::Engine;
use idle_core::model::Millis;
use idle_core::protocol::ACTIONS;
use serde_json::{json, Map, Value};

/// The stage the local gateway pretends to be.
pub const STAGE: &str = "local";
/// The API id the local gateway pretends to have.
pub const API_ID: &str = "idlelocal";

/// What is known about one WebSocket connection when an event is built for it.
#[derive(Debug, Clone)]
pub struct ConnectionContext {
    pub connection_id: String,
    /// `host:port` the client connected to.
    pub domain_name: String,
    pub connected_at: Millis,
    pub source_ip: String,
    pub user_agent: String,
}

/// Random bytes as base64 (connection, request and message ids look like API Gateway's).
pub(crate) fn random_id(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    if getrandom::getrandom(&mut buf).is_err() {
        // No OS randomness: fall back to the time and a counter (unique, not secret).
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        for (i, b) in buf.iter_mut().enumerate() {
            *b = ((t ^ n.rotate_left(32)) >> ((i % 8) * 8)) as u8 ^ (i as u8);
        }
    }
    // URL-safe, so an id is one path segment of `/@connections/{id}` as it stands.
    base64::engine::general_purpose::URL_SAFE.encode(buf)
}

/// A new connection id: 10 random bytes, 16 characters, like `Zq3kHcQ2IAMCJgw=`.
pub fn connection_id() -> String {
    random_id(10)
}

/// API Gateway's route selection on `$request.body.action`: the action when it names a route,
/// else `$default` (also for bodies that are not JSON objects).
pub fn route_key(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v.get("action")?.as_str().map(str::to_owned))
        .filter(|action| ACTIONS.contains(&action.as_str()))
        .unwrap_or_else(|| "$default".to_owned())
}

fn request_time(now: Millis) -> String {
    chrono::DateTime::from_timestamp_millis(now)
        .map(|t| t.format("%d/%b/%Y:%H:%M:%S +0000").to_string())
        .unwrap_or_default()
}

fn base_event(ctx: &ConnectionContext, route_key: &str, event_type: &str, now: Millis) -> Value {
    let request_id = random_id(10);
    json!({
        "headers": {
            "Host": ctx.domain_name,
            "X-Forwarded-For": ctx.source_ip,
            "X-Forwarded-Port": ctx.domain_name.rsplit(':').next().unwrap_or(""),
            "X-Forwarded-Proto": "http",
        },
        "multiValueHeaders": {
            "Host": [ctx.domain_name],
            "X-Forwarded-For": [ctx.source_ip],
        },
        "requestContext": {
            "routeKey": route_key,
            "eventType": event_type,
            "extendedRequestId": request_id,
            "requestTime": request_time(now),
            "messageDirection": "IN",
            "stage": STAGE,
            "connectedAt": ctx.connected_at,
            "requestTimeEpoch": now,
            "identity": {"sourceIp": ctx.source_ip, "userAgent": ctx.user_agent},
            "requestId": request_id,
            "domainName": ctx.domain_name,
            "connectionId": ctx.connection_id,
            "apiId": API_ID,
        },
        "isBase64Encoded": false,
    })
}

fn parse(value: Value) -> ApiGatewayWebsocketProxyRequest {
    // The JSON above always has the shape the type reads; should that ever break, an event
    // with the route and connection id set by hand keeps the handlers working.
    match serde_json::from_value::<ApiGatewayWebsocketProxyRequest>(value.clone()) {
        Ok(event) => event,
        Err(error) => {
            tracing::error!(%error, "could not build a WebSocket event; using a minimal one");
            let mut event = ApiGatewayWebsocketProxyRequest::default();
            let ctx = &value["requestContext"];
            event.request_context.connection_id = ctx["connectionId"].as_str().map(str::to_owned);
            event.request_context.route_key = ctx["routeKey"].as_str().map(str::to_owned);
            event.body = value["body"].as_str().map(str::to_owned);
            event
        }
    }
}

/// The `$connect` event, with the query string as API Gateway passes it (the last value of a
/// repeated parameter in `queryStringParameters`, all of them in the multi-value map).
pub(crate) fn connect_event(
    ctx: &ConnectionContext,
    query: &[(String, String)],
    now: Millis,
) -> ApiGatewayWebsocketProxyRequest {
    let mut event = base_event(ctx, "$connect", "CONNECT", now);
    if !query.is_empty() {
        let mut single = Map::new();
        let mut multi: Map<String, Value> = Map::new();
        for (key, value) in query {
            single.insert(key.clone(), json!(value));
            match multi.get_mut(key).and_then(Value::as_array_mut) {
                Some(values) => values.push(json!(value)),
                None => {
                    multi.insert(key.clone(), json!([value]));
                }
            }
        }
        event["queryStringParameters"] = Value::Object(single);
        event["multiValueQueryStringParameters"] = Value::Object(multi);
    }
    event["headers"]["Sec-WebSocket-Version"] = json!("13");
    parse(event)
}

/// A message event: text as it came, binary frames base64-encoded with `isBase64Encoded`.
pub(crate) fn message_event(
    ctx: &ConnectionContext,
    body: String,
    is_base64_encoded: bool,
    now: Millis,
) -> ApiGatewayWebsocketProxyRequest {
    let route = if is_base64_encoded {
        "$default".to_owned()
    } else {
        route_key(&body)
    };
    let mut event = base_event(ctx, &route, "MESSAGE", now);
    event["requestContext"]["messageId"] = json!(random_id(10));
    event["body"] = json!(body);
    event["isBase64Encoded"] = json!(is_base64_encoded);
    parse(event)
}

/// The `$disconnect` event, with the close code and reason when the client sent them.
pub(crate) fn disconnect_event(
    ctx: &ConnectionContext,
    status: u16,
    reason: &str,
    now: Millis,
) -> ApiGatewayWebsocketProxyRequest {
    let mut event = base_event(ctx, "$disconnect", "DISCONNECT", now);
    event["requestContext"]["disconnectStatusCode"] = json!(status);
    event["requestContext"]["disconnectReason"] = json!(reason);
    parse(event)
}

/// An EventBridge scheduled event for the rule `rule` (`task-ticker`, `connection-cleaner`).
pub fn schedule_event(rule: &str, now: Millis) -> Value {
    let time = chrono::DateTime::from_timestamp_millis(now)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default();
    json!({
        "version": "0",
        "id": random_id(16),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "000000000000",
        "time": time,
        "region": "local",
        "resources": [format!("arn:aws:events:local:000000000000:rule/idle-local-{rule}")],
        "detail": {},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> ConnectionContext {
        ConnectionContext {
            connection_id: connection_id(),
            domain_name: "127.0.0.1:8787".into(),
            connected_at: 1_764_340_000_000,
            source_ip: "127.0.0.1".into(),
            user_agent: "test".into(),
        }
    }

    #[test]
    fn routes_are_the_action_when_it_is_a_route_and_default_otherwise() {
        assert_eq!(route_key(r#"{"action":"enqueue","x":1}"#), "enqueue");
        assert_eq!(route_key(r#"{"action":"launch"}"#), "$default");
        assert_eq!(route_key(r#"{"action":7}"#), "$default");
        assert_eq!(route_key("not json"), "$default");
        assert_eq!(route_key("[]"), "$default");
    }

    #[test]
    fn the_connect_event_carries_the_token_and_the_connection() {
        let ctx = ctx();
        let query = vec![("token".to_owned(), "abc".to_owned())];
        let event = connect_event(&ctx, &query, 1_764_340_000_123);
        assert_eq!(event.query_string_parameters.first("token"), Some("abc"));
        let rc = &event.request_context;
        assert_eq!(rc.route_key.as_deref(), Some("$connect"));
        assert_eq!(
            rc.connection_id.as_deref(),
            Some(ctx.connection_id.as_str())
        );
        assert_eq!(rc.domain_name.as_deref(), Some("127.0.0.1:8787"));
        assert_eq!(rc.stage.as_deref(), Some(STAGE));
        assert_eq!(rc.event_type.as_deref(), Some("CONNECT"));
    }

    #[test]
    fn message_and_disconnect_events_have_their_routes() {
        let ctx = ctx();
        let event = message_event(&ctx, r#"{"action":"ping"}"#.into(), false, 1);
        assert_eq!(event.request_context.route_key.as_deref(), Some("ping"));
        assert_eq!(event.body.as_deref(), Some(r#"{"action":"ping"}"#));
        let binary = message_event(&ctx, "AAE=".into(), true, 1);
        assert!(binary.is_base64_encoded);
        assert_eq!(
            binary.request_context.route_key.as_deref(),
            Some("$default")
        );
        let gone = disconnect_event(&ctx, 1001, "Going away", 1);
        assert_eq!(
            gone.request_context.route_key.as_deref(),
            Some("$disconnect")
        );
    }

    #[test]
    fn connection_ids_are_distinct_url_safe_and_sixteen_characters() {
        let a = connection_id();
        let b = connection_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), 16);
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"-_=".contains(&c)));
    }

    #[test]
    fn a_schedule_event_is_eventbridges_shape_and_names_its_rule() {
        let value = schedule_event("task-ticker", 1_764_340_000_000);
        let event: aws_lambda_events::event::eventbridge::EventBridgeEvent<Value> =
            serde_json::from_value(value).unwrap();
        assert_eq!(event.source, "aws.events");
        assert!(event.resources.unwrap()[0].ends_with("idle-local-task-ticker"));
    }
}
