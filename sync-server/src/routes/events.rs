//! `GET /api/v1/carts/{cart_id}/events`: server-sent events that tell a shopper's other
//! devices, within milliseconds, that the cart changed (with the region's new context,
//! so a device that has seen it knows it lacks nothing). Browsers' EventSource cannot
//! set headers, so the token may come as `?access_token=`.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use tokio_stream::StreamExt;
use tokio_stream::wrappers::BroadcastStream;

use crate::auth::Caller;
use crate::error::AppError;
use crate::state::AppState;

/// The event stream of one cart.
pub async fn cart_events(
    State(app): State<AppState>,
    Path(cart_id): Path<String>,
    caller: Caller,
) -> Result<Sse<impl tokio_stream::Stream<Item = Result<Event, Infallible>>>, AppError> {
    caller.owns(&cart_id)?;
    let changes = BroadcastStream::new(app.region.events.subscribe(&cart_id));
    let region = app.region.name.clone();
    let hello = tokio_stream::once(Ok(Event::default().event("ready").data(region)));
    let stream = changes.map(|change| {
        Ok(match change {
            Ok(change) => Event::default().event("change").json_data(&change).unwrap_or_default(),
            // Missed messages: the device should sync, which is what a change says too.
            Err(_) => Event::default().event("change").data("{}"),
        })
    });
    Ok(Sse::new(hello.chain(stream)).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
