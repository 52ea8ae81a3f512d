//! What the tower-test scenarios of several modules share.

use std::time::Duration;

use http::{Method, Request, Response, StatusCode};
use kube::client::Body;
use serde_json::Value;

/// The mock API server's side of the client.
pub(crate) type Handle = tower_test::mock::Handle<Request<Body>, Response<Body>>;

/// Expects the next request to publish an event about request `name` in
/// `namespace` (`POST events.k8s.io/v1`), of `type_` (`Normal`, `Warning`)
/// and `reason`, reported by the controller, its note containing
/// `note_has`; answers it with the event. Returns the event.
pub(crate) async fn expect_event(
    handle: &mut Handle,
    (namespace, name): (&str, &str),
    type_: &str,
    reason: &str,
    note_has: &str,
) -> Value {
    let (request, send) = handle.next_request().await.expect("an event request");
    assert_eq!(request.method(), Method::POST, "{}", request.uri());
    assert_eq!(
        request.uri().to_string(),
        format!("/apis/events.k8s.io/v1/namespaces/{namespace}/events?")
    );
    let body = request.into_body().collect_bytes().await.expect("body");
    let event: Value = serde_json::from_slice(&body).expect("JSON event");
    assert_eq!(event["type"], type_, "{event}");
    assert_eq!(event["reason"], reason, "{event}");
    assert_eq!(event["reportingController"], "imprimatur-controller");
    assert_eq!(event["regarding"]["name"], name, "{event}");
    assert_eq!(event["regarding"]["namespace"], namespace, "{event}");
    let note = event["note"].as_str().unwrap_or_default();
    assert!(note.contains(note_has), "note {note:?} lacks {note_has:?}");
    send.send_response(
        Response::builder()
            .body(Body::from(body))
            .expect("response"),
    );
    event
}

/// Answers one request of the mock API server.
pub(crate) type Responder = tower_test::mock::SendResponse<Response<Body>>;

/// Takes the next request, checks its method and exact URI, and returns
/// its body as JSON (null when empty), as raw text, and the responder.
pub(crate) async fn expect_request_text(
    handle: &mut Handle,
    method: Method,
    uri: &str,
) -> (Value, String, Responder) {
    let (request, send) = handle.next_request().await.expect("a request");
    assert_eq!(request.method(), method, "{}", request.uri());
    assert_eq!(request.uri().to_string(), uri);
    let body = request.into_body().collect_bytes().await.expect("body");
    let text = String::from_utf8_lossy(&body).into_owned();
    let json = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&body).expect("JSON body")
    };
    (json, text, send)
}

/// [`expect_request_text`] without the raw text.
pub(crate) async fn expect_request(
    handle: &mut Handle,
    method: Method,
    uri: &str,
) -> (Value, Responder) {
    let (json, _, send) = expect_request_text(handle, method, uri).await;
    (json, send)
}

/// Answers with `code` and `body` as JSON.
pub(crate) fn respond(send: Responder, code: StatusCode, body: &impl serde::Serialize) {
    send.send_response(
        Response::builder()
            .status(code)
            .body(Body::from(serde_json::to_vec(body).expect("json")))
            .expect("response"),
    );
}

/// Answers 200 with `body` as JSON.
pub(crate) fn respond_ok(send: Responder, body: &impl serde::Serialize) {
    respond(send, StatusCode::OK, body);
}

/// Asserts the client asks nothing more (within 100 ms).
pub(crate) async fn assert_no_more_requests(handle: &mut Handle) {
    let next = tokio::time::timeout(Duration::from_millis(100), handle.next_request()).await;
    assert!(next.ok().flatten().is_none(), "no more requests");
}

/// Waits for a scenario (at most 30 s), then asserts nothing more is asked.
pub(crate) async fn finished(scenario: tokio::task::JoinHandle<Handle>) {
    let mut handle = tokio::time::timeout(Duration::from_secs(30), scenario)
        .await
        .expect("scenario finished in time")
        .expect("scenario passed");
    assert_no_more_requests(&mut handle).await;
}
