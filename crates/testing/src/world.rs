//! The player-and-queue world the in-memory tests start from: a [`MemoryWorld`] with players
//! connected through `$connect` ([`connect`]) and tasks queued through the message use case
//! ([`harvest_message`]); for the store tests, a new enqueue's plan ([`enqueue_plan`]; a new
//! player is [`crate::contract::new_player`]).

use idle_app::memory::MemoryWorld;
use idle_app::ports::Clock;
use idle_app::state::PlayerState;
use idle_app::{usecase, Services};
use idle_core::model::{Millis, TaskRequest};
use idle_core::{enqueue, Enqueued, Game, Plan};
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

/// The plan of a new enqueue of `request` by `state`'s player at `now`, with its task id, as
/// the store tests commit it. Panics if the enqueue is refused or a duplicate.
pub fn enqueue_plan(
    game: &Game,
    state: &PlayerState,
    request_id: &str,
    request: &TaskRequest,
    now: Millis,
) -> (String, Plan) {
    let enqueued = enqueue(
        game,
        &state.player,
        &state.queue,
        request_id,
        request,
        false,
        false,
        now,
    );
    match enqueued.expect("the enqueue is valid") {
        Enqueued::New { task_id, plan } => (task_id, *plan),
        Enqueued::Duplicate { .. } => panic!("not a duplicate"),
    }
}
