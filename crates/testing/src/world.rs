//! The player-and-queue world the in-memory tests start from: a [`MemoryWorld`] with players
//! connected through `$connect` ([`connect`]) and tasks queued through the message use case
//! ([`harvest_message`]).

use idle_app::memory::MemoryWorld;
use idle_app::ports::Clock;
use idle_app::{usecase, Services};
use serde_json::{json, Value};

/// Opens `connection_id` on the world's gateway at its clock's time and runs `$connect` with
/// `token` (see [`crate::tokens::dev_token`]). Panics if the connection is refused.
pub async fn connect(world: &MemoryWorld, services: &Services, connection_id: &str, token: &str) {
    world.notifier.open(connection_id, world.clock.now());
    usecase::connect(services, connection_id, Some(token))
        .await
        .expect("the connection is accepted");
}

/// The `enqueue` message for `quantity` actions of copper ore at the meadow.
pub fn harvest_message(request_id: &str, quantity: u32) -> Value {
    json!({
        "action": "enqueue",
        "request_id": request_id,
        "task": {"activity": "harvest", "resource": "copper_ore", "location": "meadow", "quantity": quantity}
    })
}
