//! `pool-commands` (Service Bus trigger): parse, execute through the engine, reply, settle.

use axum::extract::State;
use axum::http::HeaderMap;
use bytes::Bytes;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::error::HandlerError;
use super::internal_auth::SIGNATURE_PROPERTY;
use super::state::AppState;
use super::traced;
use crate::domain::{Command, CommandError, Envelope, ErrorCode, parse_command};
use crate::engine::{
    CommandContext, DEFERRED_SINCE_PROPERTY, EngineError, FollowUp, Outcome, Rejection, Reply,
};
use crate::functions::{InvocationRequest, InvocationResponse, ServiceBusDelivery};
use crate::servicebus::{MAX_BODY_BYTES, OutboundMessage, bounded_json};
use crate::telemetry::{self, Trigger, fields};

const FUNCTION: &str = "pool-commands";
const TRIGGER_QUEUE: &str = "pool-commands";
const TRIGGER_BINDING: &str = "command";
const REJECTED_BINDING: &str = "rejected";

pub async fn handle(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<InvocationResponse, HandlerError> {
    let span = traced::span(Trigger::PubSub, FUNCTION, &headers);
    let request = InvocationRequest::parse(&body)?;
    let delivery = ServiceBusDelivery::from_invocation(&request, TRIGGER_BINDING, false)?;
    let parsed = parse_command(&delivery.body, delivery.content_type.as_deref());
    if let Some(producer) =
        telemetry::parent_from_properties(|k| delivery.property(k).map(str::to_owned))
    {
        // A follow-up continues work the broker scheduled itself: it links to that invocation
        // rather than nesting under it, as messaging conventions do for deferred processing.
        if matches!(&parsed, Ok(e) if is_follow_up(&e.command)) {
            telemetry::add_link(&span, &producer);
        } else {
            telemetry::set_parent(&span, producer);
        }
    }
    span.record(fields::MESSAGING_DESTINATION_NAME, TRIGGER_QUEUE);
    span.record(fields::MESSAGING_DELIVERY_COUNT, delivery.delivery_count);
    if let Some(id) = &delivery.message_id {
        span.record(fields::MESSAGING_MESSAGE_ID, id.as_str());
    }
    let work = process(&state, delivery, parsed, span.clone());
    traced::run(&state, span, work).await
}

async fn process(
    state: &AppState,
    delivery: ServiceBusDelivery,
    parsed: Result<Envelope, CommandError>,
    span: tracing::Span,
) -> Result<InvocationResponse, HandlerError> {
    let state = state.clone();
    let now = OffsetDateTime::now_utc();
    let correlation_id = delivery
        .reply_correlation_id()
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let mut ctx = CommandContext::new(correlation_id, now);
    ctx.reply_to = delivery.reply_to.clone();
    ctx.message_id = delivery.message_id.clone();
    ctx.session_id = delivery.session_id.clone();
    // Only ever shortens how long this sender's own command is put off; a future date is now.
    ctx.deferred_since = delivery
        .property(DEFERRED_SINCE_PROPERTY)
        .and_then(|v| OffsetDateTime::parse(v, &Rfc3339).ok())
        .map(|t| t.min(now));
    ctx.redelivered = delivery.delivery_count > 1 || ctx.deferred_since.is_some();

    let envelope = match parsed {
        Ok(envelope) => envelope,
        Err(err) => {
            let rejection = Rejection::from(&err);
            let kind = declared_kind(&delivery.body);
            span.record(fields::COMMAND_KIND, kind.as_str());
            return reject(&state, &ctx, &delivery, &kind, rejection, &span).await;
        }
    };
    if is_follow_up(&envelope.command)
        && let Err(why) = verify_own(&state, &envelope, &delivery)
    {
        // The reply goes to the message's own route, never to the one its spec claims.
        let kind = envelope.command.kind();
        span.record(fields::COMMAND_KIND, kind);
        let rejection = Rejection::new(
            ErrorCode::InternalCommandNotAuthenticated,
            format!(
                "kind: {kind} is a follow-up only poolbroker sends itself, and this message is not provably its own ({why}); nothing was run"
            ),
        )
        .field("kind", "reserved for the broker's own follow-ups");
        return reject(&state, &ctx, &delivery, kind, rejection, &span).await;
    }
    adopt_reply_route(&mut ctx, &envelope);
    let kind = reply_kind(&envelope);
    span.record(fields::COMMAND_KIND, kind);
    tracing::info!(
        kind,
        message_id = delivery.message_id.as_deref().unwrap_or(""),
        delivery_count = delivery.delivery_count,
        "command received"
    );

    match state.inner.engine.execute(&envelope, &ctx).await {
        Ok(Outcome::Reply(reply)) => {
            send_reply(&state, &ctx, &reply).await?;
            let outcome = reply.status.as_str().to_ascii_lowercase();
            span.record(fields::OUTCOME, outcome.as_str());
            if let Some(error) = &reply.error {
                telemetry::record_error(&span, error.code.as_str(), &error.message);
            }
            telemetry::metrics().record_command(kind, &outcome);
            Ok(InvocationResponse::default().with_logs(vec![summary(&reply, &ctx)]))
        }
        Ok(Outcome::FollowUp(follow_up)) => {
            schedule_follow_up(&state, &ctx, &follow_up).await?;
            span.record(fields::OUTCOME, "pending");
            telemetry::metrics().record_command(kind, "pending");
            Ok(InvocationResponse::default().with_logs(vec![format!(
                "{}: still running in Azure; follow-up scheduled in {}s",
                follow_up.kind,
                follow_up.delay.as_secs()
            )]))
        }
        Err(EngineError::Rejected(rejection)) => {
            reject(&state, &ctx, &delivery, kind, *rejection, &span).await
        }
        Err(transient) => {
            telemetry::metrics().record_command(kind, "retry");
            Err(HandlerError::Engine(transient))
        }
    }
}

/// Messages the broker scheduled to itself to continue earlier work.
fn is_follow_up(command: &Command) -> bool {
    matches!(
        command,
        Command::AwaitOperation(_) | Command::TrackSparkJob(_)
    )
}

/// Whether a follow-up carries the broker's signature over its canonical form (command,
/// workspace, reply route, deadline): re-encoded from the parsed message, so the check does not
/// depend on how the host passed the body on.
fn verify_own(
    state: &AppState,
    envelope: &Envelope,
    delivery: &ServiceBusDelivery,
) -> Result<(), String> {
    let canonical = envelope.to_bytes().map_err(|e| e.to_string())?;
    state
        .inner
        .signer
        .verify(&canonical, delivery.property(SIGNATURE_PROPERTY))
        .map_err(|e| e.to_string())
}

/// A follow-up carries the original sender's reply route; its own message has none.
fn adopt_reply_route(ctx: &mut CommandContext, envelope: &Envelope) {
    let route = match &envelope.command {
        Command::AwaitOperation(op) => &op.reply,
        Command::TrackSparkJob(track) => &track.reply,
        _ => return,
    };
    ctx.reply_to = route.reply_to.clone();
    ctx.correlation_id = route.correlation_id.clone();
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
        Command::TrackSparkJob(_) => "SubmitSparkJob",
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
    span: &tracing::Span,
) -> Result<InvocationResponse, HandlerError> {
    tracing::warn!(kind, code = %rejection.code, "command rejected: {}", log_excerpt(&rejection.message));
    span.record(fields::OUTCOME, "rejected");
    telemetry::record_error(span, rejection.code.as_str(), &rejection.message);
    telemetry::metrics().record_command(kind, "rejected");
    let reply = Reply::rejected(kind, rejection.clone());
    send_reply(state, ctx, &reply).await?;
    let rejected = json!({
        "rejectedAt": ctx.now.format(&Rfc3339).unwrap_or_default(),
        "kind": kind,
        "correlationId": ctx.correlation_id,
        "error": rejection.to_json(),
        "originalMessage": original_message(delivery),
    });
    let (rejected, _) = bounded_json(rejected, MAX_BODY_BYTES);
    Ok(InvocationResponse::default()
        .with_output(REJECTED_BINDING, rejected)
        .with_logs(vec![format!(
            "{kind} rejected ({}): {}",
            rejection.code,
            log_excerpt(&rejection.message)
        )]))
}

/// A rejection can echo a sender's whole (oversized) input; logs get the start of it.
fn log_excerpt(text: &str) -> &str {
    const MAX: usize = 2048;
    let mut end = text.len().min(MAX);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
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
    let (body, cut) = bounded_json(reply.to_json(&ctx.correlation_id), MAX_BODY_BYTES);
    if cut {
        tracing::warn!(correlation_id = %ctx.correlation_id, "reply cut to fit one Service Bus message");
    }
    let message = OutboundMessage {
        message_id: Some(reply_message_id(&ctx.correlation_id, &reply.kind)),
        body: body.to_string(),
        content_type: Some("application/json".into()),
        correlation_id: Some(ctx.correlation_id.clone()),
        subject: Some(format!("{}.{}", reply.kind, reply.status.as_str())),
        ..OutboundMessage::default()
    };
    match traced::send_traced(sender, &queue, message).await {
        Ok(()) => Ok(()),
        // A reply Service Bus will never accept (too large, unknown queue, no permission) is lost
        // whatever we retry; say so in the log instead of redelivering the command ten times.
        Err(e) if !e.is_transient() => {
            tracing::error!(queue, correlation_id = %ctx.correlation_id, "reply not deliverable: {e}");
            Ok(())
        }
        // A reply that cannot be sent right now is worth a redelivery: commands are idempotent,
        // and the sender would otherwise wait forever.
        Err(source) => Err(HandlerError::Send {
            what: format!("the reply to '{queue}'"),
            source,
        }),
    }
}

/// The same for every reply to one command, however often it is delivered: a reply sent just
/// before a crash and sent again by the redelivery is a duplicate that Service Bus duplicate
/// detection on the reply queue drops, and that a receiver can recognise by its MessageId.
fn reply_message_id(correlation_id: &str, kind: &str) -> String {
    uuid::Uuid::new_v5(
        &uuid::Uuid::NAMESPACE_OID,
        format!("poolbroker-reply\n{kind}\n{correlation_id}").as_bytes(),
    )
    .simple()
    .to_string()
}

async fn schedule_follow_up(
    state: &AppState,
    ctx: &CommandContext,
    follow_up: &FollowUp,
) -> Result<(), HandlerError> {
    let Some(sender) = &state.inner.sender else {
        return Err(HandlerError::NoServiceBus);
    };
    let body = follow_up
        .envelope
        .to_bytes()
        .map_err(HandlerError::Encode)?;
    let queue = state.inner.engine.settings().commands_queue.clone();
    let due = ctx.now + follow_up.delay;
    let mut properties = vec![(
        SIGNATURE_PROPERTY.to_owned(),
        state.inner.signer.sign(&body),
    )];
    if let Some(since) = follow_up.deferred_since {
        properties.push((
            DEFERRED_SINCE_PROPERTY.to_owned(),
            since.format(&Rfc3339).unwrap_or_default(),
        ));
    }
    let message = OutboundMessage {
        application_properties: properties,
        // A deferred command is the sender's own: its reply goes where the original's would.
        reply_to: follow_up.deferred_since.and(ctx.reply_to.clone()),
        body: String::from_utf8_lossy(&body).into_owned(),
        content_type: Some("application/json".into()),
        correlation_id: Some(ctx.correlation_id.clone()),
        subject: Some(format!("{}.FollowUp", follow_up.kind)),
        // A session-enabled queue refuses a message without one.
        session_id: Some(
            ctx.session_id
                .clone()
                .unwrap_or_else(|| follow_up.envelope.session_id(&ctx.correlation_id)),
        ),
        scheduled_enqueue_time: Some(due),
        ..OutboundMessage::default()
    };
    traced::send_traced(sender, &queue, message)
        .await
        .map_err(|source| HandlerError::Send {
            what: format!("the follow-up on '{queue}'"),
            source,
        })
}
