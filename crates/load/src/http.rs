//! The two plain HTTP GETs the tool needs from `idle-local` (`/dev/token` and `/catalog`): a
//! minimal HTTP/1.1 client over one connection each, so that no HTTP client crate is needed.

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::LoadError;

/// Longest wait for one HTTP GET.
const HTTP_TIMEOUT: Duration = Duration::from_secs(30);

/// The host and port of a `ws://host:port/path` URL.
#[derive(Debug, Clone)]
pub struct Target {
    pub authority: String,
}

impl Target {
    pub fn parse(url: &str) -> Result<Target, LoadError> {
        let rest = url
            .strip_prefix("ws://")
            .ok_or_else(|| LoadError::BadUrl(url.to_owned()))?;
        let authority = rest.split(['/', '?']).next().unwrap_or_default();
        if authority.is_empty() || !authority.contains(':') {
            return Err(LoadError::BadUrl(url.to_owned()));
        }
        Ok(Target {
            authority: authority.to_owned(),
        })
    }
}

/// `GET path`: the status and the body, or `None` when there was no HTTP answer in time.
async fn get(target: &Target, path: &str) -> Option<(u16, String)> {
    let exchange = async {
        let mut stream = TcpStream::connect(&target.authority).await.ok()?;
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            target.authority
        );
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.ok()?;
        let response = String::from_utf8(response).ok()?;
        let status = response.split(' ').nth(1)?.parse().ok()?;
        let (head, body) = response.split_once("\r\n\r\n")?;
        let body = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(body)?
        } else {
            body.to_owned()
        };
        Some((status, body))
    };
    tokio::time::timeout(HTTP_TIMEOUT, exchange)
        .await
        .ok()
        .flatten()
}

/// The body of a chunked response.
fn dechunk(mut body: &str) -> Option<String> {
    let mut out = String::new();
    loop {
        let (size, rest) = body.split_once("\r\n")?;
        let size = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
        if size == 0 {
            return Some(out);
        }
        out.push_str(rest.get(..size)?);
        body = rest.get(size + 2..)?;
    }
}

/// A dev token for `player` from `GET /dev/token?player_id=…` (loopback, not `--public`).
pub async fn dev_token(target: &Target, player: &str) -> Result<String, &'static str> {
    let (status, body) = get(target, &format!("/dev/token?player_id={player}"))
        .await
        .ok_or("token_failed")?;
    if status != 200 {
        return Err("token_refused");
    }
    let body: Value = serde_json::from_str(&body).map_err(|_| "token_failed")?;
    body.get("token")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or("token_failed")
}

/// The harvest with the shortest action among those a new player can do (resource and
/// location of level 1), from `GET /catalog`: `(resource, location)`.
pub async fn shortest_harvest(target: &Target) -> Option<(String, String)> {
    let (status, body) = get(target, "/catalog").await?;
    if status != 200 {
        return None;
    }
    let catalog: Value = serde_json::from_str(&body).ok()?;
    pick_harvest(&catalog)
}

fn pick_harvest(catalog: &Value) -> Option<(String, String)> {
    let resources = catalog.get("resources")?.as_object()?;
    let locations = catalog.get("locations")?.as_object()?;
    let mut best: Option<(u64, String, String)> = None;
    for (resource, spec) in resources {
        if spec.get("level").and_then(Value::as_u64) != Some(1) {
            continue;
        }
        let Some(action_ms) = spec.get("action_ms").and_then(Value::as_u64) else {
            continue;
        };
        for (location, place) in locations {
            let open = place.get("level").and_then(Value::as_u64) == Some(1);
            let found = place
                .get("resources")
                .and_then(Value::as_object)
                .is_some_and(|found| found.contains_key(resource));
            if open && found && best.as_ref().is_none_or(|(ms, _, _)| action_ms < *ms) {
                best = Some((action_ms, resource.clone(), location.clone()));
            }
        }
    }
    best.map(|(_, resource, location)| (resource, location))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_gives_host_and_port() {
        let target = Target::parse("ws://127.0.0.1:8787/ws").unwrap();
        assert_eq!(target.authority, "127.0.0.1:8787");
        assert!(Target::parse("http://127.0.0.1:8787/ws").is_err());
        assert!(Target::parse("ws:///ws").is_err());
    }

    #[test]
    fn the_shortest_level_one_harvest_is_picked_from_the_catalog() {
        let catalog: Value =
            serde_json::from_str(include_str!("../../core/catalog/catalog.json")).unwrap();
        assert_eq!(
            pick_harvest(&catalog),
            Some(("guam_leaf".to_owned(), "meadow".to_owned()))
        );
    }

    #[test]
    fn chunked_bodies_are_joined() {
        assert_eq!(
            dechunk("3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n").as_deref(),
            Some("abcde")
        );
    }
}
