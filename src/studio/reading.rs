//! What the Studio reads from Service Bus — replies, rejected commands, dead-letters — parsed
//! into the few fields a person needs. Everything is peeked (locked and released), never
//! consumed; see `servicebus::peek` for what that costs in Azure.

use serde::Deserialize;
use serde_json::Value;
use time::OffsetDateTime;

use crate::servicebus::{MessageSender, PeekedMessage, SendError, dead_letter_path};

/// How many messages one look reads per queue.
pub const PEEK_LIMIT: usize = 50;

#[derive(Debug, Clone, Deserialize)]
pub struct ReplyError {
    pub code: String,
    pub message: String,
    #[serde(default)]
    pub details: Vec<FieldProblem>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct FieldProblem {
    pub field: String,
    pub problem: String,
}

/// A reply as docs/messages.md defines it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplySummary {
    pub status: String,
    pub kind: String,
    pub correlation_id: String,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub error: Option<ReplyError>,
    #[serde(default)]
    pub notes: Vec<String>,
    #[serde(skip)]
    pub enqueued_at: Option<OffsetDateTime>,
}

/// A message in `pool-commands-rejected` (written by the `rejected` output binding).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RejectedCommand {
    #[serde(default)]
    pub rejected_at: Option<String>,
    pub kind: String,
    pub correlation_id: String,
    pub error: ReplyError,
    #[serde(default)]
    pub original_message: Option<OriginalMessage>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OriginalMessage {
    #[serde(default)]
    pub body: Option<String>,
}

/// A dead-lettered command: the body as it was, and why Service Bus (or the host) gave up.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    pub reason: String,
    pub description: Option<String>,
    pub kind: Option<String>,
    pub body_excerpt: String,
    pub delivery_count: Option<i32>,
    pub enqueued_at: Option<OffsetDateTime>,
}

/// One list as the page shows it: items, and what could not be read or parsed (never hidden).
#[derive(Debug, Clone)]
pub struct Listing<T> {
    pub queue: String,
    pub items: Vec<T>,
    pub unreadable: Vec<String>,
    pub error: Option<String>,
}

impl<T> Listing<T> {
    fn failed(queue: &str, error: &SendError) -> Self {
        Self {
            queue: queue.to_owned(),
            items: Vec::new(),
            unreadable: Vec::new(),
            error: Some(error.to_string()),
        }
    }
}

fn excerpt(text: &str) -> String {
    const MAX: usize = 400;
    match text.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

/// Peeks `queue` and parses each body as `T`; newest first.
async fn peek_parsed<T: for<'de> Deserialize<'de>>(
    sender: &MessageSender,
    queue: &str,
    with_time: impl Fn(&mut T, &PeekedMessage),
) -> Listing<T> {
    match sender.peek(queue, PEEK_LIMIT).await {
        Err(e) => Listing::failed(queue, &e),
        Ok(messages) => {
            let mut listing = Listing {
                queue: queue.to_owned(),
                items: Vec::new(),
                unreadable: Vec::new(),
                error: None,
            };
            for m in messages.iter().rev() {
                match serde_json::from_str::<T>(&m.body) {
                    Ok(mut item) => {
                        with_time(&mut item, m);
                        listing.items.push(item);
                    }
                    Err(e) => listing.unreadable.push(format!(
                        "message {}: {e}: {}",
                        m.message_id.as_deref().unwrap_or("?"),
                        excerpt(&m.body)
                    )),
                }
            }
            listing
        }
    }
}

pub async fn replies(sender: &MessageSender, queue: &str) -> Listing<ReplySummary> {
    peek_parsed(sender, queue, |r: &mut ReplySummary, m| {
        r.enqueued_at = m.enqueued_at;
    })
    .await
}

pub async fn rejected(sender: &MessageSender, queue: &str) -> Listing<RejectedCommand> {
    peek_parsed(sender, queue, |_: &mut RejectedCommand, _| {}).await
}

/// The reply to one command, if it has arrived.
pub async fn reply_for(
    sender: &MessageSender,
    queue: &str,
    correlation_id: &str,
) -> Result<Option<ReplySummary>, String> {
    let listing = replies(sender, queue).await;
    if let Some(error) = listing.error {
        return Err(error);
    }
    Ok(listing
        .items
        .into_iter()
        .find(|r| r.correlation_id == correlation_id))
}

pub async fn dead_letters(sender: &MessageSender, queue: &str) -> Listing<DeadLetter> {
    let path = dead_letter_path(queue);
    match sender.peek(&path, PEEK_LIMIT).await {
        Err(e) => Listing::failed(&path, &e),
        Ok(messages) => Listing {
            queue: path.clone(),
            items: messages
                .iter()
                .rev()
                .map(|m| DeadLetter {
                    reason: m
                        .dead_letter_reason
                        .clone()
                        .unwrap_or_else(|| "no reason given".into()),
                    description: m.dead_letter_description.clone(),
                    kind: serde_json::from_str::<Value>(&m.body)
                        .ok()
                        .and_then(|v| v.get("kind").and_then(Value::as_str).map(str::to_owned)),
                    body_excerpt: excerpt(&m.body),
                    delivery_count: m.delivery_count,
                    enqueued_at: m.enqueued_at,
                })
                .collect(),
            unreadable: Vec::new(),
            error: None,
        },
    }
}
