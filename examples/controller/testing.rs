//! What the tower-test scenarios of several modules share.

use http::{Method, Request, Response};
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
