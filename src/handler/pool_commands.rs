//! `pool-commands` (Service Bus trigger): parse, execute through the engine, reply, settle.

use axum::extract::State;
use bytes::Bytes;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::error::HandlerError;
use super::state::AppState;
use crate::domain::{Command, Envelope, parse_command};
use crate::engine::{CommandContext, EngineError, FollowUp, Outcome, Rejection, Reply};
use crate::functions::{InvocationRequest, InvocationResponse, ServiceBusDelivery};
use crate::servicebus::OutboundMessage;

const TRIGGER_BINDING: &str = "command";
const REJECTED_BINDING: &str = "rejected";

pub async fn handle(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<InvocationResponse, HandlerError> {
    let request = InvocationRequest::parse(&body)?;
    let delivery = ServiceBusDelivery::from_invocation(&request, TRIGGER_BINDING, false)?;
    let now = OffsetDateTime::now_utc();
    let correlation_id = delivery
        .reply_correlation_id()
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let mut ctx = CommandContext::new(correlation_id, now);
    ctx.reply_to = delivery.reply_to.clone();
    ctx.message_id = delivery.message_id.clone();

    let envelope = match parse_command(&delivery.body, delivery.content_type.as_deref()) {
        Ok(envelope) => envelope,
        Err(err) => {
            let rejection = Rejection::from(&err);
            let kind = declared_kind(&delivery.body);
            return reject(&state, &ctx, &delivery, &kind, rejection).await;
        }
    };
    adopt_reply_route(&mut ctx, &envelope);
    let kind = reply_kind(&envelope);
    tracing::info!(
        kind,
        message_id = delivery.message_id.as_deref().unwrap_or(""),
        delivery_count = delivery.delivery_count,
        "command received"
    );

    match state.inner.engine.execute(&envelope, &ctx).await {
        Ok(Outcome::Reply(reply)) => {
            send_reply(&state, &ctx, &reply).await?;
            Ok(InvocationResponse::default().with_logs(vec![summary(&reply, &ctx)]))
        }
        Ok(Outcome::FollowUp(follow_up)) => {
            schedule_follow_up(&state, &ctx, &follow_up).await?;
            Ok(InvocationResponse::default().with_logs(vec![format!(
                "{}: ARM operation still running; follow-up scheduled in {}s",
                follow_up.kind,
                follow_up.delay.as_secs()
            )]))
        }
        Err(EngineError::Rejected(rejection)) => {
            reject(&state, &ctx, &delivery, kind, *rejection).await
        }
        Err(EngineError::Transient(reason)) => Err(HandlerError::Transient(reason)),
    }
}

/// A follow-up carries the original sender's reply route; its own message has none.
fn adopt_reply_route(ctx: &mut CommandContext, envelope: &Envelope) {
    if let Command::AwaitOperation(op) = &envelope.command {
        ctx.reply_to = op.reply.reply_to.clone();
        ctx.correlation_id = op.reply.correlation_id.clone();
    }
}

/// The `kind` the sender meant, for the reply to a message that did not parse.
fn declared_kind(body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("kind").and_then(Value::as_str).map(str::to_owned))
        .filter(|k| k.len() <= 64)
        .unwrap_or_else(|| "Unknown".to_owned())
}

fn reply_kind(envelope: &Envelope) -> &'static str {
    match &envelope.command {
        Command::AwaitOperation(op) => op.action.command_kind(),
        other => other.kind(),
    }
}

fn summary(reply: &Reply, ctx: &CommandContext) -> String {
    let mut line = format!(
        "{} {} (correlation {})",
        reply.kind,
        reply.status.as_str(),
        ctx.correlation_id
    );
    if let Some(message) = &reply.message {
        line.push_str(": ");
        line.push_str(message);
    }
    line
}

/// Permanent failure: complete the message, keep the original and the reason in the rejected
/// queue (output binding), and tell the sender.
async fn reject(
    state: &AppState,
    ctx: &CommandContext,
    delivery: &ServiceBusDelivery,
    kind: &str,
    rejection: Rejection,
) -> Result<InvocationResponse, HandlerError> {
    tracing::warn!(kind, code = %rejection.code, "command rejected: {}", rejection.message);
    let reply = Reply::rejected(kind, rejection.clone());
    send_reply(state, ctx, &reply).await?;
    let rejected = json!({
        "rejectedAt": ctx.now.format(&Rfc3339).unwrap_or_default(),
        "kind": kind,
        "correlationId": ctx.correlation_id,
        "error": rejection.to_json(),
        "originalMessage": original_message(delivery),
    });
    Ok(InvocationResponse::default()
        .with_output(REJECTED_BINDING, rejected)
        .with_logs(vec![format!(
            "{kind} rejected ({}): {}",
            rejection.code, rejection.message
        )]))
}

fn original_message(delivery: &ServiceBusDelivery) -> Value {
    let body = String::from_utf8_lossy(&delivery.body).into_owned();
    let properties: serde_json::Map<String, Value> = delivery
        .application_properties
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    json!({
        "body": body,
        "messageId": delivery.message_id,
        "correlationId": delivery.correlation_id,
        "contentType": delivery.content_type,
        "replyTo": delivery.reply_to,
        "deliveryCount": delivery.delivery_count,
        "enqueuedTimeUtc": delivery.enqueued_time_utc,
        "applicationProperties": properties,
    })
}

async fn send_reply(
    state: &AppState,
    ctx: &CommandContext,
    reply: &Reply,
) -> Result<(), HandlerError> {
    let Some(sender) = &state.inner.sender else {
        tracing::info!(reply = %reply.to_json(&ctx.correlation_id), "no Service Bus configured; reply not sent");
        return Ok(());
    };
    let queue = ctx
        .reply_to
        .clone()
        .unwrap_or_else(|| state.inner.engine.settings().reply_queue.clone());
    let message = OutboundMessage {
        body: reply.to_json(&ctx.correlation_id).to_string(),
        content_type: Some("application/json".into()),
        correlation_id: Some(ctx.correlation_id.clone()),
        subject: Some(format!("{}.{}", reply.kind, reply.status.as_str())),
        ..OutboundMessage::default()
    };
    sender.send(&queue, message).await.map_err(|e| {
        // A reply that cannot be sent is worth a redelivery: commands are idempotent, and the
        // sender would otherwise wait forever.
        HandlerError::Transient(format!("could not send the reply to '{queue}': {e}"))
    })
}

async fn schedule_follow_up(
    state: &AppState,
    ctx: &CommandContext,
    follow_up: &FollowUp,
) -> Result<(), HandlerError> {
    let Some(sender) = &state.inner.sender else {
        return Err(HandlerError::Transient(
            "an ARM operation outlived the invocation budget and no Service Bus is configured to schedule its follow-up".into(),
        ));
    };
    let body = follow_up
        .envelope
        .to_bytes()
        .map_err(|e| HandlerError::Transient(format!("could not encode the follow-up: {e}")))?;
    let queue = state.inner.engine.settings().commands_queue.clone();
    let due = ctx.now + follow_up.delay;
    let message = OutboundMessage {
        body: String::from_utf8_lossy(&body).into_owned(),
        content_type: Some("application/json".into()),
        correlation_id: Some(ctx.correlation_id.clone()),
        subject: Some(format!("{}.FollowUp", follow_up.kind)),
        scheduled_enqueue_time: Some(due),
        ..OutboundMessage::default()
    };
    sender.send(&queue, message).await.map_err(|e| {
        HandlerError::Transient(format!(
            "could not schedule the follow-up on '{queue}': {e}"
        ))
    })
}
