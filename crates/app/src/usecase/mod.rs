//! The use cases: plain async functions over the ports, one module each. Each reads the time
//! from the `Clock` port once, at its start.

mod admin;
mod advance;
mod batch;
mod clean;
mod connect;
mod deliver;
mod disconnect;
mod message;
mod tick;
mod update;
mod wake;

pub use admin::{change_player_inventory, AdminChangeError, ADMIN_ATTEMPTS};
pub use batch::{perform_batch, BatchRecord, BatchReport, MalformedRecord};
pub use clean::{clean, CleanReport};
pub use connect::{connect, ConnectError, Connected};
pub use deliver::{deliver, Delivery};
pub(crate) use disconnect::forget_gone_id;
pub use disconnect::{disconnect, forget_listed};
pub use message::{message, Answer};
pub use tick::{tick, TickReport};
pub use wake::{wake, WakeStep, Woken, MAX_WAIT_MS};
