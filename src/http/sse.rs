//! GraphQL over Server-Sent Events, `graphql-sse`'s distinct connections mode: a `POST` (or
//! `GET`) to `/graphql` with `Accept: text/event-stream` is answered with an event stream:
//! one `next` event per result (a subscription's events, a query's one answer; a request
//! error too, as the protocol asks), then `complete`. The client ends a subscription by
//! closing the connection. Authenticated like every HTTP request; the stream ends when the
//! credential expires or the server shuts down.

use super::graphql::prepare;
use super::live::{TOO_MANY_SUBSCRIPTIONS, error_json};
use super::{AppState, Caller};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use std::convert::Infallible;

/// Whether the client asks for an event stream (and not for JSON first).
pub fn wants_events(headers: &HeaderMap) -> bool {
    headers
        .get_all(axum::http::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|range| range.split(';').next().unwrap_or("").trim())
        .find(|mime| {
            mime.eq_ignore_ascii_case("text/event-stream")
                || mime.eq_ignore_ascii_case("application/json")
                || mime.eq_ignore_ascii_case("application/graphql-response+json")
        })
        .is_some_and(|mime| mime.eq_ignore_ascii_case("text/event-stream"))
}

fn next_event(response: &async_graphql::Response) -> Event {
    let mut body = Vec::new();
    let data = match crate::graphql::json::write_response(&mut body, response, true) {
        Ok(()) => String::from_utf8(body).unwrap_or_default(),
        Err(_) => {
            serde_json::json!({ "errors": [error_json("internal error", "INTERNAL_SERVER_ERROR")] })
                .to_string()
        }
    };
    Event::default().event("next").data(data)
}

fn complete_event() -> Event {
    Event::default().event("complete").data("")
}

/// The event stream answering `request`.
pub fn serve(state: &AppState, request: async_graphql::Request, caller: Caller) -> Response {
    let expires_at = caller.0.as_ref().and_then(|p| p.expires_at);
    let events: BoxStream<'static, Event> = match prepare(state, request, caller) {
        Err(refused) => {
            futures_util::stream::iter([next_event(&refused.1), complete_event()]).boxed()
        }
        Ok(prepared) => {
            let slot = if prepared.is_subscription() {
                match state.live.open_subscription() {
                    Ok(slot) => Some(slot),
                    Err(message) => {
                        let refused = async_graphql::Response::from_errors(vec![
                            crate::graphql::request_error(message, None, TOO_MANY_SUBSCRIPTIONS),
                        ]);
                        return respond(
                            futures_util::stream::iter([next_event(&refused), complete_event()])
                                .boxed(),
                            state,
                        );
                    }
                }
            } else {
                None
            };
            let shutdown = state.live.shutdown.clone();
            let results = prepared.started(&state.schema).map(move |response| {
                let _ = &slot;
                next_event(&response)
            });
            // Ends at shutdown or at the credential's expiry (with an error event).
            let ended = async move {
                let expiry = async {
                    match expires_at {
                        Some(at) => {
                            let left = (at - chrono::Utc::now())
                                .to_std()
                                .unwrap_or(std::time::Duration::ZERO);
                            tokio::time::sleep(left).await;
                        }
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    _ = shutdown.cancelled() => None,
                    _ = expiry => Some(()),
                }
            };
            let stop = futures_util::stream::once(ended).filter_map(|expired| async move {
                expired.map(|()| {
                    let expired =
                        async_graphql::Response::from_errors(vec![crate::graphql::request_error(
                            "the credential expired",
                            None,
                            "UNAUTHENTICATED",
                        )]);
                    next_event(&expired)
                })
            });
            // Results until the operation ends, or until `stop` fires (then its event, if any).
            let until = futures_util::stream::select(
                results
                    .map(Some)
                    .chain(futures_util::stream::once(async { None })),
                stop.map(Some)
                    .chain(futures_util::stream::once(async { None })),
            );
            until
                .take_while(|item| std::future::ready(item.is_some()))
                .filter_map(std::future::ready)
                .chain(futures_util::stream::once(async { complete_event() }))
                .boxed()
        }
    };
    respond(events, state)
}

fn respond(events: BoxStream<'static, Event>, state: &AppState) -> Response {
    let mut response = Sse::new(events.map(Ok::<_, Infallible>))
        .keep_alive(KeepAlive::new().interval(state.live.keepalive))
        .into_response();
    // Proxies must not buffer the stream.
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-cache"),
    );
    response.headers_mut().insert(
        "x-accel-buffering",
        axum::http::HeaderValue::from_static("no"),
    );
    response
}
