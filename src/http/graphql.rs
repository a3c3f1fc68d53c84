//! `/graphql` over HTTP, as the GraphQL-over-HTTP spec says: `POST` executes one operation
//! sent as `application/json`; `GET` with `?query=` executes a query (never a mutation); `GET`
//! without one serves GraphiQL.
//!
//! The answer's media type follows `Accept`: `application/graphql-response+json` when the client
//! lists it, else `application/json` (also for `*/*` or no `Accept`). A request error (the
//! document does not parse or validate, a variable does not coerce: nothing was executed) has no
//! `data` entry and answers 400 with `application/graphql-response+json`, 200 with
//! `application/json` (legacy clients read the body). Every error body carries
//! `extensions.code`.

use super::{AppState, Caller};
use crate::graphql::checks;
use crate::graphql::persisted::{Persisted, Refused};
use async_graphql::ServerError;
use async_graphql::parser::types::OperationType;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

/// The media type of a GraphQL answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// `application/graphql-response+json`: HTTP status codes follow the outcome.
    GraphqlResponse,
    /// `application/json`: request errors answer 200.
    Json,
}

impl Answer {
    /// Chosen from the request's `Accept` header: `application/graphql-response+json` when it
    /// is listed (with a weight not below `application/json`'s), else `application/json`.
    pub fn negotiate(headers: &HeaderMap) -> Self {
        let mut graphql = None;
        let mut json = None;
        for accept in headers.get_all(header::ACCEPT) {
            let Ok(accept) = accept.to_str() else {
                continue;
            };
            for range in accept.split(',') {
                let mut parts = range.split(';');
                let mime = parts.next().unwrap_or("").trim().to_ascii_lowercase();
                let weight = parts
                    .filter_map(|p| p.trim().strip_prefix("q="))
                    .find_map(|q| q.trim().parse::<f32>().ok())
                    .unwrap_or(1.0);
                match mime.as_str() {
                    "application/graphql-response+json" => graphql = Some(weight),
                    "application/json" => json = Some(weight),
                    _ => {}
                }
            }
        }
        match (graphql, json) {
            (Some(g), j) if g > 0.0 && g >= j.unwrap_or(0.0) => Self::GraphqlResponse,
            _ => Self::Json,
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Self::GraphqlResponse => "application/graphql-response+json",
            Self::Json => "application/json",
        }
    }
}

/// An error answer in GraphQL's shape, with its code.
pub fn refuse(status: StatusCode, answer: Answer, code: &str, message: &str) -> Response {
    let body = json!({ "errors": [{ "message": message, "extensions": { "code": code } }] });
    (
        status,
        [(header::CONTENT_TYPE, answer.content_type())],
        body.to_string(),
    )
        .into_response()
}

/// The request parameters of a POST body; anything else is a 400.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Params {
    query: Option<String>,
    #[serde(rename = "operationName")]
    operation_name: Option<String>,
    variables: Option<async_graphql::Variables>,
    extensions: Option<serde_json::Map<String, serde_json::Value>>,
    /// A persisted (trusted) document's id, as the GraphQL-over-HTTP persisted documents
    /// appendix sends it (`sha256:<hex>`).
    #[serde(rename = "documentId")]
    document_id: Option<String>,
}

/// The request parameters of a GET query string (`variables` and `extensions` as JSON text).
#[derive(Deserialize)]
struct GetParams {
    query: Option<String>,
    #[serde(rename = "operationName")]
    operation_name: Option<String>,
    variables: Option<String>,
    extensions: Option<String>,
    #[serde(rename = "documentId")]
    document_id: Option<String>,
}

/// Whether a GET query string asks to run an operation (else the playground is served).
pub fn is_operation_query(query: &str) -> bool {
    query.split('&').any(|kv| {
        ["query=", "extensions=", "documentId="]
            .iter()
            .any(|key| kv.starts_with(key))
    })
}

impl GetParams {
    fn into_params(self) -> Option<Params> {
        let json = |text: Option<String>| -> Option<Option<serde_json::Value>> {
            match text.filter(|t| !t.is_empty()) {
                None => Some(None),
                Some(text) => serde_json::from_str(&text).ok().map(Some),
            }
        };
        let variables = match json(self.variables)? {
            None | Some(serde_json::Value::Null) => None,
            Some(value) => Some(serde_json::from_value(value).ok()?),
        };
        let extensions = match json(self.extensions)? {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::Object(map)) => Some(map),
            Some(_) => return None,
        };
        Some(Params {
            query: self.query,
            operation_name: self.operation_name,
            variables,
            extensions,
            document_id: self.document_id,
        })
    }
}

impl Params {
    /// The request to run: its document from the text, the APQ cache or the trusted
    /// documents; a request error when there is none.
    fn inresolve_request(
        self,
        persisted: &Persisted,
        answer: Answer,
    ) -> Result<async_graphql::Request, Box<Response>> {
        self.resolve_request(persisted).map_err(|refused| {
            Box::new(match refused {
                Refused::NoQuery => refuse(
                    StatusCode::BAD_REQUEST,
                    answer,
                    "BAD_REQUEST",
                    Refused::NoQuery.message(),
                ),
                refused => request_error(
                    crate::graphql::request_error(refused.message(), None, refused.code()),
                    answer,
                ),
            })
        })
    }

    /// [`into_request`](Self::into_request) for a transport that answers refusals itself
    /// (WebSocket, SSE).
    pub(super) fn resolve_request(
        self,
        persisted: &Persisted,
    ) -> Result<async_graphql::Request, Refused> {
        let apq_hash = self
            .extensions
            .as_ref()
            .and_then(|e| e.get("persistedQuery"))
            .filter(|p| p.get("version").and_then(|v| v.as_i64()) == Some(1))
            .and_then(|p| p.get("sha256Hash"))
            .and_then(|h| h.as_str());
        let id = self.document_id.as_deref().or(apq_hash);
        let query = persisted.resolve(self.query.clone(), id)?;
        let mut request = async_graphql::Request::new(query);
        request.operation_name = self.operation_name;
        if let Some(variables) = self.variables {
            request.variables = variables;
        }
        if let Some(extensions) = self.extensions {
            for (key, value) in extensions {
                if let Ok(value) = async_graphql::Value::from_json(value) {
                    request.extensions.insert(key, value);
                }
            }
        }
        Ok(request)
    }
}

/// `POST /graphql`.
pub async fn post(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let events = super::sse::wants_events(&headers);
    let answer = Answer::negotiate(&headers);
    let accepted = ["application/json", "application/graphql-response+json"];
    if !super::content_type_is(&headers, &accepted) {
        return refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            answer,
            "UNSUPPORTED_MEDIA_TYPE",
            "Content-Type must be application/json",
        );
    }
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'[') && serde_json::from_slice::<serde::de::IgnoredAny>(&body).is_ok() {
        return refuse(
            StatusCode::BAD_REQUEST,
            answer,
            "BAD_REQUEST",
            "batched operations are not supported: send one operation per request",
        );
    }
    let params = match serde_json::from_slice::<Params>(&body) {
        Ok(params) => params,
        Err(err) if err.classify() == serde_json::error::Category::Data => {
            return refuse(
                StatusCode::BAD_REQUEST,
                answer,
                "BAD_REQUEST",
                "the body must be a GraphQL request: {\"query\": \"...\", \"operationName\": ..., \"variables\": {...}, \"extensions\": {...}}",
            );
        }
        Err(_) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                answer,
                "BAD_REQUEST",
                "the body is not valid JSON",
            );
        }
    };
    match params.inresolve_request(&state.persisted, answer) {
        Ok(request) if events => super::sse::serve(&state, request, caller),
        Ok(request) => execute(&state, request, caller, answer).await,
        Err(refused) => *refused,
    }
}

/// `GET /graphql`: a WebSocket upgrade ([`super::ws`]), an operation, or the playground.
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    upgrade: Result<
        axum::extract::WebSocketUpgrade,
        axum::extract::ws::rejection::WebSocketUpgradeRejection,
    >,
) -> Response {
    if headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
    {
        return match upgrade {
            Ok(upgrade) => super::ws::upgrade(state, upgrade, &headers),
            Err(rejection) => refuse(
                rejection.status(),
                Answer::Json,
                "BAD_REQUEST",
                &rejection.body_text(),
            ),
        };
    }
    let Some(raw) = raw.filter(|q| is_operation_query(q)) else {
        return super::graphiql::page();
    };
    let answer = Answer::negotiate(&headers);
    let params = serde_urlencoded::from_str::<GetParams>(&raw)
        .ok()
        .and_then(GetParams::into_params);
    let Some(params) = params else {
        return refuse(
            StatusCode::BAD_REQUEST,
            answer,
            "BAD_REQUEST",
            "malformed GraphQL GET request: `variables` and `extensions` must be JSON objects",
        );
    };
    let mut request = match params.inresolve_request(&state.persisted, answer) {
        Ok(request) => request,
        Err(refused) => return *refused,
    };
    if let Ok(doc) = request.parsed_query()
        && doc
            .operations
            .iter()
            .any(|(_, op)| op.node.ty == OperationType::Mutation)
    {
        let mut response = refuse(
            StatusCode::METHOD_NOT_ALLOWED,
            answer,
            "METHOD_NOT_ALLOWED",
            "mutations must be sent with POST",
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    if super::sse::wants_events(&headers) {
        return super::sse::serve(&state, request, caller);
    }
    execute(&state, request, caller, answer).await
}

/// A request error answer: only `errors`.
fn request_error(error: ServerError, answer: Answer) -> Response {
    respond(&async_graphql::Response::from_errors(vec![error]), answer)
}

async fn execute(
    state: &AppState,
    request: async_graphql::Request,
    caller: Caller,
    answer: Answer,
) -> Response {
    let started = std::time::Instant::now();
    let (operation, response) = run(state, request, caller).await;
    // The request's log line names the operation and its error codes (never its variables),
    // and the metrics count it under a bounded label.
    let kind = operation.as_ref().map_or("none", |(_, kind)| *kind);
    let name = operation.as_ref().and_then(|(name, _)| name.as_deref());
    let span = tracing::Span::current();
    span.record("operation", name.unwrap_or("anonymous"));
    span.record("operation_type", kind);
    let outcome = if response.errors.is_empty() {
        "ok"
    } else {
        let mut codes: Vec<&str> = response
            .errors
            .iter()
            .filter_map(|e| e.extensions.as_ref()?.get("code"))
            .filter_map(|code| match code {
                async_graphql::Value::String(code) => Some(code.as_str()),
                _ => None,
            })
            .collect();
        codes.sort_unstable();
        codes.dedup();
        span.record("error_codes", codes.join(",").as_str());
        if is_request_error(&response) {
            "request_error"
        } else {
            "error"
        }
    };
    super::metrics::record_graphql(
        state.operation_labels.label(name),
        kind,
        outcome,
        started.elapsed().as_secs_f64(),
    );
    respond(&response, answer)
}

/// The operation's name and type, when the document parsed.
pub(super) type Operation = Option<(Option<String>, &'static str)>;

/// A request refused before execution: its operation (if known) and the errors-only response.
pub(super) type Refusal = (Operation, async_graphql::Response);

/// A request that passed the checks, ready to execute.
pub(super) struct Prepared {
    /// The operation's name and type (`query`, `mutation`, `subscription`), when the document
    /// parsed.
    pub operation: Option<(Option<String>, &'static str)>,
    pub request: async_graphql::Request,
    /// A query's root fields in document order (see [`crate::graphql::order`]).
    root_keys: Option<Vec<async_graphql::Name>>,
    /// The kept document, when the request runs it unchanged.
    cached: Option<std::sync::Arc<crate::graphql::documents::Cached>>,
}

impl Prepared {
    /// Whether the operation is a subscription.
    pub fn is_subscription(&self) -> bool {
        matches!(self.operation, Some((_, "subscription")))
    }

    /// Runs a query or mutation to its one response: under `fast` (the fast validation) when
    /// the full validation of `schema` has passed the document before.
    pub async fn execute(
        self,
        schema: &crate::graphql::CrmSchema,
        fast: &crate::graphql::CrmSchema,
    ) -> async_graphql::Response {
        let validated = self.cached.as_ref().is_some_and(|c| c.validated());
        let mut response = match validated {
            true => fast.execute(self.request).await,
            false => schema.execute(self.request).await,
        };
        if !validated
            && let Some(cached) = &self.cached
            && !is_request_error(&response)
        {
            cached.mark_validated();
        }
        if let Some(keys) = self.root_keys {
            crate::graphql::order::order_root(&mut response.data, &keys);
        }
        crate::graphql::tag_error_codes(&mut response);
        response
    }

    /// [`stream`](Self::stream), polled once already: a subscription listens from the moment
    /// this returns (so a client that sees the next message answered, or the event stream's
    /// headers, knows it is live).
    pub fn started(
        self,
        schema: &crate::graphql::CrmSchema,
    ) -> futures_util::stream::BoxStream<'static, async_graphql::Response> {
        use futures_util::{FutureExt, StreamExt};
        let mut stream = self.stream(schema).boxed();
        match stream.next().now_or_never() {
            None => stream,
            Some(Some(first)) => futures_util::stream::once(std::future::ready(first))
                .chain(stream)
                .boxed(),
            Some(None) => futures_util::stream::empty().boxed(),
        }
    }

    /// Runs the operation as a stream of responses (one for a query or mutation, one per
    /// event for a subscription).
    pub fn stream(
        self,
        schema: &crate::graphql::CrmSchema,
    ) -> impl futures_util::Stream<Item = async_graphql::Response> + Send + use<> {
        use futures_util::StreamExt;
        let root_keys = self.root_keys;
        schema
            .execute_stream(self.request)
            .map(move |mut response| {
                if let Some(keys) = &root_keys {
                    crate::graphql::order::order_root(&mut response.data, keys);
                }
                crate::graphql::tag_error_codes(&mut response);
                response
            })
    }
}

/// Prepares and checks `request` for `caller`: parsed once per distinct document, checked
/// against the limits, variables coerced. A request error is the (errors-only) response to
/// send instead, with the operation when it was known.
pub(super) fn prepare(
    state: &AppState,
    mut request: async_graphql::Request,
    caller: Caller,
) -> Result<Prepared, Box<Refusal>> {
    let refused = |error| async_graphql::Response::from_errors(vec![error]);
    // Parsed once per distinct document; fragment bombs and documents over the limits are
    // refused before async-graphql's validation walks them.
    let checker = &state.checker;
    let mut cached = match state
        .documents
        .prepare(&mut request, &|doc| checker.check_document(doc))
    {
        Ok(cached) => cached,
        Err(error) => return Err(Box::new((None, refused(error)))),
    };
    // Variables are coerced before anything runs; a nullable variable the request leaves out
    // leaves its argument unset (a copy of the document is changed only then).
    let variables = std::mem::take(&mut request.variables);
    let operation_name = request.operation_name.clone();
    let mut unset = None;
    let mut operation = None;
    let mut root_keys = None;
    if let Ok(doc) = request.parsed_query()
        && let Some(op) = checks::operation(doc, operation_name.as_deref())
    {
        let name = doc
            .operations
            .iter()
            .find(|(_, candidate)| std::ptr::eq(*candidate, op))
            .and_then(|(name, _)| name.map(|n| n.to_string()));
        let kind = match op.node.ty {
            OperationType::Query => "query",
            OperationType::Mutation => "mutation",
            OperationType::Subscription => "subscription",
        };
        operation = Some((name, kind));
        if op.node.ty == OperationType::Query {
            root_keys = Some(crate::graphql::order::root_keys(doc, &op.node));
        }
        if let Err(error) = checker.check_variables(&op.node, &variables) {
            return Err(Box::new((operation, refused(error))));
        }
        let absent = checks::unprovided(&op.node, &variables);
        if !absent.is_empty() {
            let mut doc = doc.clone();
            if checks::unset_unprovided(&mut doc, &absent) {
                unset = Some(doc);
            }
        }
    }
    request.variables = variables;
    if let Some(doc) = unset {
        request.set_parsed_query(doc);
        // Not the kept document any more: validated in full.
        cached = None;
    }
    if let Some(principal) = caller.0 {
        request = request.data(principal);
    }
    Ok(Prepared {
        operation,
        request,
        root_keys,
        cached,
    })
}

/// Prepares, checks and runs `request`: the operation's name and type (when the document
/// parsed), and the response (a request error's has only errors).
async fn run(
    state: &AppState,
    request: async_graphql::Request,
    caller: Caller,
) -> (
    Option<(Option<String>, &'static str)>,
    async_graphql::Response,
) {
    match prepare(state, request, caller) {
        Ok(prepared) if prepared.is_subscription() => {
            let error = crate::graphql::request_error(
                "subscriptions are served over WebSocket (graphql-transport-ws, GET /graphql with Upgrade) or Server-Sent Events (Accept: text/event-stream)",
                None,
                "BAD_REQUEST",
            );
            (
                prepared.operation,
                async_graphql::Response::from_errors(vec![error]),
            )
        }
        Ok(prepared) => {
            let operation = prepared.operation.clone();
            (
                operation,
                prepared.execute(&state.schema, &state.fast_schema).await,
            )
        }
        Err(refused) => *refused,
    }
}

/// Whether nothing was executed: no data and only errors without a path (parse, validation,
/// variable coercion).
pub(super) fn is_request_error(response: &async_graphql::Response) -> bool {
    matches!(response.data, async_graphql::Value::Null)
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty())
}

/// The answer in the negotiated media type, with the cache and HTTP headers the operation set
/// (serialised by [`crate::graphql::json`], which copies row lists written earlier as they
/// are).
fn respond(response: &async_graphql::Response, answer: Answer) -> Response {
    let request_error = is_request_error(response);
    let mut body = Vec::new();
    if let Err(err) = crate::graphql::json::write_response(&mut body, response, !request_error) {
        tracing::error!(error = %err, "serialising a GraphQL response failed");
        return refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            answer,
            "INTERNAL_SERVER_ERROR",
            "internal error",
        );
    }
    let status = if request_error && answer == Answer::GraphqlResponse {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let mut http = (
        status,
        [(header::CONTENT_TYPE, answer.content_type())],
        body,
    )
        .into_response();
    if response.is_ok()
        && let Some(value) = response.cache_control.value()
        && let Ok(value) = HeaderValue::from_str(&value)
    {
        http.headers_mut().insert(header::CACHE_CONTROL, value);
    }
    http.headers_mut().extend(response.http_headers.clone());
    http
}

#[cfg(test)]
mod tests {
    use super::Answer;
    use axum::http::{HeaderMap, HeaderValue, header};

    fn accept(value: Option<&str>) -> Answer {
        let mut headers = HeaderMap::new();
        if let Some(value) = value {
            headers.insert(header::ACCEPT, HeaderValue::from_str(value).unwrap());
        }
        Answer::negotiate(&headers)
    }

    #[test]
    fn media_types_follow_accept() {
        assert_eq!(accept(None), Answer::Json);
        assert_eq!(accept(Some("*/*")), Answer::Json);
        assert_eq!(accept(Some("application/json")), Answer::Json);
        assert_eq!(
            accept(Some("application/graphql-response+json")),
            Answer::GraphqlResponse
        );
        assert_eq!(
            accept(Some(
                "application/graphql-response+json, application/json;q=0.9"
            )),
            Answer::GraphqlResponse
        );
        assert_eq!(
            accept(Some(
                "application/json, application/graphql-response+json;q=0.5"
            )),
            Answer::Json
        );
        assert_eq!(
            accept(Some("application/graphql-response+json;q=0")),
            Answer::Json
        );
        assert_eq!(
            accept(Some("text/html,application/xhtml+xml,*/*;q=0.8")),
            Answer::Json
        );
    }
}
