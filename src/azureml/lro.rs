//! ARM long-running operations: `Azure-AsyncOperation` first, then `Location`, within a time
//! budget. What does not finish in time comes back as a [`PendingOperation`] to resume later.

use std::time::{Duration, SystemTime};

use http::Method;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::time::Instant;
use url::Url;

use super::client::{ArmClient, ArmResponse, CallContext};
use super::error::{ArmError, error_code_and_message};
use super::resources::decode;
use crate::domain::{OperationKind, OperationRef};
use crate::retry::server_hint;

const AZURE_ASYNC_OPERATION: &str = "azure-asyncoperation";
const LOCATION: &str = "location";

/// An operation still running when the budget ran out. The engine carries its
/// [`OperationRef`] (the domain's; what survives in a follow-up message) and rebuilds the rest;
/// URLs are re-checked against the endpoint when resumed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingOperation {
    pub operation: OperationRef,
    /// The resource the operation acts on (for a PUT, GET here gives the final state).
    pub resource_url: String,
    /// The service's last `Retry-After`, when it sent one.
    pub retry_after: Option<Duration>,
    /// Whether success is followed by a GET of `resource_url` (PUT), rather than ending empty.
    pub fetch_resource: bool,
    /// The resource as ARM answered the write that started the operation. When the operation
    /// succeeds within the same invocation this body, with its terminal provisioning state, is
    /// the result, instead of one more GET: under ARM's read throttling that GET is a third of
    /// an attach's reads. Not used when it lacks a managed identity's principal id, and not
    /// carried across invocations (a resumed operation reads the resource).
    pub accepted_body: Option<Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum LroOutcome<T> {
    /// Finished successfully: the final resource (PUT), the operation result, or nothing.
    Done(Option<T>),
    /// Still running; resume with [`ArmClient::resume`].
    Pending(PendingOperation),
}

impl LroOutcome<Value> {
    /// The final body as the model the caller expects.
    pub(crate) fn decode<T: DeserializeOwned>(
        self,
        what: &'static str,
    ) -> Result<LroOutcome<T>, ArmError> {
        Ok(match self {
            Self::Done(None) => LroOutcome::Done(None),
            Self::Done(Some(body)) => LroOutcome::Done(Some(decode(what, body)?)),
            Self::Pending(op) => LroOutcome::Pending(op),
        })
    }
}

impl ArmClient {
    /// Sends `method` (PUT/DELETE/POST) and follows the operation it starts, within the configured
    /// LRO budget.
    pub(crate) async fn begin(
        &self,
        method: Method,
        url: &Url,
        body: Option<&Value>,
    ) -> Result<LroOutcome<Value>, ArmError> {
        let ctx = self.call_context();
        let initial = self.send(&ctx, method.clone(), url, body, None).await?;
        self.follow(&ctx, &method, url, initial, self.options().lro.budget)
            .await
    }

    /// Continues an operation handed back as `Pending`, polling at once and then for up to
    /// `budget`; the final body is read as `T` (the resource the operation acts on).
    pub async fn resume<T: DeserializeOwned>(
        &self,
        op: &PendingOperation,
        budget: Duration,
    ) -> Result<LroOutcome<T>, ArmError> {
        let ctx = self.call_context();
        self.drive(&ctx, op.clone(), budget, true)
            .await
            .map_err(after_acceptance)?
            .decode("operation result")
    }

    /// Follows the operation a write started. ARM has accepted the write by now, so a permanent
    /// failure to follow it (a foreign or unreadable operation URL, a redirect) is reported as
    /// [`ArmError::Unfollowable`]: the change may be under way, and callers must not call that
    /// "nothing changed".
    pub(crate) async fn follow(
        &self,
        ctx: &CallContext,
        method: &Method,
        resource_url: &Url,
        initial: ArmResponse,
        budget: Duration,
    ) -> Result<LroOutcome<Value>, ArmError> {
        self.follow_accepted(ctx, method, resource_url, initial, budget)
            .await
            .map_err(after_acceptance)
    }

    async fn follow_accepted(
        &self,
        ctx: &CallContext,
        method: &Method,
        resource_url: &Url,
        initial: ArmResponse,
        budget: Duration,
    ) -> Result<LroOutcome<Value>, ArmError> {
        let async_op = initial.header(AZURE_ASYNC_OPERATION).map(str::to_owned);
        let location = initial.header(LOCATION).map(str::to_owned);
        let started =
            matches!(initial.status, 201 | 202) || (initial.status == 200 && async_op.is_some());
        if !started {
            return Ok(LroOutcome::Done(non_null(initial.body)));
        }
        let (url, kind) = match (async_op, location) {
            (Some(url), _) => (url, OperationKind::AsyncOperation),
            (None, Some(url)) => (url, OperationKind::Location),
            // A 201 without a monitor is a create the service finished synchronously.
            (None, None) if initial.status == 201 => {
                return Ok(LroOutcome::Done(non_null(initial.body)));
            }
            (None, None) => {
                return Err(ArmError::InvalidResponse {
                    what: format!(
                        "HTTP {} to {method} has neither Azure-AsyncOperation nor Location",
                        initial.status
                    ),
                });
            }
        };
        let op = PendingOperation {
            operation: OperationRef { url, kind },
            resource_url: resource_url.to_string(),
            retry_after: server_hint(&initial.headers, SystemTime::now()),
            fetch_resource: *method == Method::PUT || *method == Method::PATCH,
            accepted_body: Some(initial.body)
                .filter(|b| b.get("properties").is_some_and(Value::is_object)),
        };
        self.drive(ctx, op, budget, false).await
    }

    async fn drive(
        &self,
        ctx: &CallContext,
        mut op: PendingOperation,
        budget: Duration,
        poll_first: bool,
    ) -> Result<LroOutcome<Value>, ArmError> {
        let op_url = self.followable_url(&op.operation.url, "operation URL")?;
        let resource_url = self.followable_url(&op.resource_url, "operation resource URL")?;
        let start = Instant::now();
        let mut wait_first = !poll_first;
        loop {
            if wait_first {
                let wait = op
                    .retry_after
                    .unwrap_or(self.options().lro.default_poll_interval);
                if start.elapsed().saturating_add(wait) > budget {
                    return Ok(LroOutcome::Pending(op));
                }
                // A zero sleep still waits for tokio's next timer tick (~1 ms).
                if !wait.is_zero() {
                    tokio::time::sleep(wait).await;
                    crate::telemetry::add_arm_wait(wait);
                }
            }
            wait_first = true;
            let deadline = start + budget;
            let response = self
                .send(ctx, Method::GET, &op_url, None, Some(deadline))
                .await?;
            op.retry_after = server_hint(&response.headers, SystemTime::now());
            match self.poll_state(&op, response)? {
                PollState::Running => {}
                PollState::Succeeded(result) => {
                    return self.finish(ctx, &op, &resource_url, result).await;
                }
            }
        }
    }

    fn poll_state(
        &self,
        op: &PendingOperation,
        response: ArmResponse,
    ) -> Result<PollState, ArmError> {
        match op.operation.kind {
            OperationKind::AsyncOperation => {
                let status = response
                    .body
                    .get("status")
                    .and_then(Value::as_str)
                    .ok_or_else(|| ArmError::InvalidResponse {
                        what: "operation status body has no 'status' string".to_owned(),
                    })?
                    .to_owned();
                match status.to_ascii_lowercase().as_str() {
                    "succeeded" => Ok(PollState::Succeeded(None)),
                    "failed" | "canceled" | "cancelled" => {
                        let (code, message) = error_code_and_message(&response.body);
                        Err(ArmError::LroFailed {
                            status,
                            code,
                            message,
                            body: Box::new(response.body),
                        })
                    }
                    _ => Ok(PollState::Running),
                }
            }
            OperationKind::Location => match response.status {
                202 => Ok(PollState::Running),
                200 | 201 => Ok(PollState::Succeeded(non_null(response.body))),
                204 => Ok(PollState::Succeeded(None)),
                other => Err(ArmError::InvalidResponse {
                    what: format!("HTTP {other} while polling an operation Location"),
                }),
            },
        }
    }

    async fn finish(
        &self,
        ctx: &CallContext,
        op: &PendingOperation,
        resource_url: &Url,
        result: Option<Value>,
    ) -> Result<LroOutcome<Value>, ArmError> {
        if !op.fetch_resource {
            return Ok(LroOutcome::Done(result));
        }
        if let Some(body) = result {
            // final-state-via: location — the Location's final body is the resource.
            return Ok(LroOutcome::Done(Some(body)));
        }
        if let Some(mut body) = op.accepted_body.clone().filter(identities_assigned) {
            body["properties"]["provisioningState"] = Value::from("Succeeded");
            return Ok(LroOutcome::Done(Some(body)));
        }
        let resource = self
            .send(ctx, Method::GET, resource_url, None, None)
            .await?;
        Ok(LroOutcome::Done(non_null(resource.body)))
    }
}

/// Whether the accepted body already names every managed identity's principal. The service
/// assigns them while the operation runs; an answer written before that must not stand in for
/// the final resource (callers hand the principals on, e.g. to the Synapse grant).
fn identities_assigned(body: &Value) -> bool {
    let Some(identity) = body.get("identity").filter(|i| !i.is_null()) else {
        return true;
    };
    let has_principal = |v: &Value| v.get("principalId").is_some_and(Value::is_string);
    let kind = identity
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_ascii_lowercase();
    let system_ok = !kind.contains("systemassigned") || has_principal(identity);
    let users_ok = identity
        .get("userAssignedIdentities")
        .and_then(Value::as_object)
        .is_none_or(|users| users.values().all(has_principal));
    system_ok && users_ok
}

/// Transient errors stay transient (a redelivery re-reads the resource) and an operation that
/// ended Failed stays itself; anything else means the operation could not be followed.
fn after_acceptance(err: ArmError) -> ArmError {
    if err.is_transient()
        || matches!(
            err,
            ArmError::LroFailed { .. } | ArmError::Unfollowable { .. }
        )
    {
        err
    } else {
        ArmError::Unfollowable {
            source: Box::new(err),
        }
    }
}

enum PollState {
    Running,
    Succeeded(Option<Value>),
}

fn non_null(value: Value) -> Option<Value> {
    match value {
        Value::Null => None,
        other => Some(other),
    }
}

#[cfg(test)]
mod tests {
    use super::identities_assigned;
    use serde_json::json;

    #[test]
    fn an_answer_stands_for_the_resource_only_when_every_identity_has_its_principal() {
        assert!(identities_assigned(&json!({"properties": {}})));
        assert!(identities_assigned(&json!({"identity": {"type": "None"}})));
        assert!(identities_assigned(
            &json!({"identity": {"type": "SystemAssigned", "principalId": "p"}})
        ));
        assert!(!identities_assigned(
            &json!({"identity": {"type": "SystemAssigned"}})
        ));
        let users = |principal: serde_json::Value| {
            json!({"identity": {"type": "UserAssigned", "userAssignedIdentities": {
                "/a": {"principalId": "p", "clientId": "c"}, "/b": principal}}})
        };
        assert!(identities_assigned(&users(
            json!({"principalId": "q", "clientId": "d"})
        )));
        assert!(!identities_assigned(&users(json!({}))));
        assert!(!identities_assigned(&json!({"identity": {
            "type": "SystemAssigned, UserAssigned",
            "userAssignedIdentities": {"/a": {"principalId": "p"}}}})));
    }
}
