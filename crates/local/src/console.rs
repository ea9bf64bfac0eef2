//! The web console (static files built into the binary), the catalog, and dev tokens.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use idle_app::auth;
use idle_app::Services;
use serde::Deserialize;
use serde_json::json;

/// How long a token from `GET /dev/token` is valid.
pub const DEV_TOKEN_TTL: Duration = Duration::from_secs(24 * 60 * 60);

const INDEX_HTML: &str = include_str!("../console/index.html");
const CONSOLE_JS: &str = include_str!("../console/console.js");
const CONSOLE_CSS: &str = include_str!("../console/console.css");
// The TypeScript client, compiled and committed (clients/typescript/dist): the console uses it
// as any game client would, and no build step is added to `cargo run`.
const CLIENT_JS: &str = include_str!("../../../clients/typescript/dist/index.js");
const CLIENT_PROTOCOL_JS: &str = include_str!("../../../clients/typescript/dist/protocol.js");

/// What the console's routes need.
#[derive(Debug, Clone)]
pub struct ConsoleState {
    pub services: Arc<Services>,
    /// `ws://host:port/ws`, handed out with dev tokens.
    pub ws_url: String,
    /// Reachable by others ([`Options::public`](crate::Options::public)): no dev tokens.
    pub public: bool,
}

/// `/`, `/console.js`, `/console.css`, the client (`/client/index.js`, `/client/protocol.js`),
/// `/catalog` and `/dev/token`.
pub fn routes(state: ConsoleState) -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { page("text/html; charset=utf-8", INDEX_HTML) }),
        )
        .route(
            "/console.js",
            get(|| async { page("text/javascript; charset=utf-8", CONSOLE_JS) }),
        )
        .route(
            "/console.css",
            get(|| async { page("text/css; charset=utf-8", CONSOLE_CSS) }),
        )
        .route(
            "/client/index.js",
            get(|| async { page("text/javascript; charset=utf-8", CLIENT_JS) }),
        )
        .route(
            "/client/protocol.js",
            get(|| async { page("text/javascript; charset=utf-8", CLIENT_PROTOCOL_JS) }),
        )
        .route("/catalog", get(catalog))
        .route("/dev/token", get(dev_token))
        .with_state(state)
}

fn page(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

fn json_response(status: StatusCode, body: serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn catalog(State(state): State<ConsoleState>) -> Response {
    match serde_json::to_value(state.services.game.catalog) {
        Ok(catalog) => json_response(StatusCode::OK, catalog),
        Err(e) => json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({ "error": e.to_string() }),
        ),
    }
}

/// The query of `GET /dev/token`.
#[derive(Debug, Deserialize)]
pub struct TokenQuery {
    pub player_id: Option<String>,
}

/// `GET /dev/token?player_id=…`: a player token minted with the runtime's token secret and the
/// WebSocket URL to use it on. Never an admin token (use `idle-local token --admin`); 403 when
/// the runtime is public.
async fn dev_token(State(state): State<ConsoleState>, Query(query): Query<TokenQuery>) -> Response {
    // A token for any player id on request is a development convenience; reachable by
    // others it would hand out every account.
    if state.public {
        return json_response(
            StatusCode::FORBIDDEN,
            json!({ "error": "dev tokens are off: this idle-local runs with --public; tokens come from your own issuer (or `idle-local token` on the server)" }),
        );
    }
    let Some(player_id) = query.player_id.filter(|p| !p.is_empty()) else {
        return json_response(
            StatusCode::BAD_REQUEST,
            json!({ "error": "give a player id: /dev/token?player_id=demo-player" }),
        );
    };
    if let Err(why) = auth::check_player_id(&player_id) {
        return json_response(
            StatusCode::BAD_REQUEST,
            json!({ "error": format!("`{player_id}` is not a valid player id: {why}") }),
        );
    }
    let Some(secret) = state.services.config.token_secret.as_ref() else {
        return json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({ "error": "no token secret is configured" }),
        );
    };
    let now = state.services.clock.now();
    match auth::mint(secret.expose(), &player_id, DEV_TOKEN_TTL, false, now) {
        Ok(token) => json_response(
            StatusCode::OK,
            json!({
                "player_id": player_id,
                "token": token,
                "ws_url": state.ws_url,
                "expires_in_secs": DEV_TOKEN_TTL.as_secs(),
            }),
        ),
        Err(e) => json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({ "error": e.to_string() }),
        ),
    }
}
