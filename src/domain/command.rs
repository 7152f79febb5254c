//! The wire envelope on `pool-commands`: parsing (JSON, YAML, or a bare `az ml` YAML body) and
//! serializing (for `poolbroker send --via-queue`, hooks and follow-ups).

use serde_json::{Map, Value, json};

use super::error_code::ErrorCode;
use super::field_error::{FieldError, FieldErrors, quote};
use super::reader::{Fields, StrictError, strict_json, strict_yaml};
use super::spark::JobName;
use super::specs::attach_pool::{self, AttachPoolSpec, SYNAPSE_SPARK};
use super::specs::await_operation::{self, AwaitOperation, EncodeError};
use super::specs::detach_pool::{self, DetachPoolSpec};
use super::specs::list_pools::{self, ListPoolsSpec};
use super::specs::show_pool::{self, ShowPoolSpec};
use super::specs::spark_job::{self, RawSpec};
use super::specs::track_job::{self, TrackSparkJob};
use super::specs::update_identity::{self, UpdatePoolIdentitySpec};
use super::workspace_id::{WorkspaceId, parse_workspace};

pub const API_VERSION: &str = "poolbroker/v1";

/// The fields of an envelope (docs/messages.md).
pub const ENVELOPE_FIELDS: &[&str] = &["apiVersion", "kind", "workspace", "idempotencyKey", "spec"];
/// Kinds a sender (a queue client, the CLI, an event hook's rule) asks for.
pub const SENDER_KINDS: &[&str] = &[
    "AttachPool",
    "UpdatePoolIdentity",
    "DetachPool",
    "ShowPool",
    "ListPools",
    "SubmitSparkJob",
    "CancelSparkJob",
];
/// The follow-up kind docs/messages.md documents (and errors list) next to the senders' kinds.
const AWAIT_OPERATION: &str = "AwaitOperation";
/// Follow-ups only the broker sends itself; accepted, but not advertised to senders.
const INTERNAL_KINDS: &[&str] = &["TrackSparkJob"];
const MAX_IDEMPOTENCY_KEY: usize = 128;
/// The Service Bus Standard tier message limit; commands are far smaller.
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// libyaml scans a whole document before serde's depth limit applies, and deep flow nesting
/// (`[[[[…`) is slow to scan, so it is refused up front.
const MAX_FLOW_DEPTH: usize = 64;

#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    AttachPool(AttachPoolSpec),
    UpdatePoolIdentity(UpdatePoolIdentitySpec),
    DetachPool(DetachPoolSpec),
    ShowPool(ShowPoolSpec),
    ListPools(ListPoolsSpec),
    SubmitSparkJob(RawSpec),
    CancelSparkJob { name: JobName },
    AwaitOperation(AwaitOperation),
    TrackSparkJob(TrackSparkJob),
}

impl Command {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::AttachPool(_) => "AttachPool",
            Self::UpdatePoolIdentity(_) => "UpdatePoolIdentity",
            Self::DetachPool(_) => "DetachPool",
            Self::ShowPool(_) => "ShowPool",
            Self::ListPools(_) => "ListPools",
            Self::SubmitSparkJob(_) => "SubmitSparkJob",
            Self::CancelSparkJob { .. } => "CancelSparkJob",
            Self::AwaitOperation(_) => "AwaitOperation",
            Self::TrackSparkJob(_) => "TrackSparkJob",
        }
    }

    fn spec_json(&self) -> Result<Value, EncodeError> {
        Ok(match self {
            Self::AttachPool(s) => s.to_spec_json(),
            Self::UpdatePoolIdentity(s) => s.to_spec_json(),
            Self::DetachPool(s) => s.to_spec_json(),
            Self::ShowPool(s) => s.to_spec_json(),
            Self::ListPools(s) => s.to_spec_json(),
            Self::SubmitSparkJob(RawSpec(v)) => v.clone(),
            Self::CancelSparkJob { name } => spark_job::cancel_json(name),
            Self::AwaitOperation(s) => s.to_spec_json()?,
            Self::TrackSparkJob(s) => s.to_spec_json()?,
        })
    }
}

/// A parsed message.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// `None`: use the workspace from settings.
    pub workspace: Option<WorkspaceId>,
    pub idempotency_key: Option<String>,
    pub command: Command,
    /// Accepted-but-ignored input worth telling the sender about (e.g. `spec.location`).
    /// Not serialized.
    pub notes: Vec<String>,
}

impl Envelope {
    pub fn new(command: Command) -> Self {
        Self {
            workspace: None,
            idempotency_key: None,
            command,
            notes: Vec::new(),
        }
    }

    /// The JSON envelope; `parse_command` of its bytes gives back an equal `Envelope` (minus notes).
    pub fn to_json(&self) -> Result<Value, EncodeError> {
        let mut m = Map::new();
        m.insert("apiVersion".into(), json!(API_VERSION));
        m.insert("kind".into(), json!(self.command.kind()));
        if let Some(ws) = &self.workspace {
            m.insert("workspace".into(), ws.to_json());
        }
        if let Some(key) = &self.idempotency_key {
            m.insert("idempotencyKey".into(), json!(key));
        }
        m.insert("spec".into(), self.command.spec_json()?);
        Ok(Value::Object(m))
    }

    pub fn to_bytes(&self) -> Result<Vec<u8>, EncodeError> {
        // Serializing a Value into a Vec cannot fail.
        Ok(serde_json::to_vec(&self.to_json()?).unwrap_or_default())
    }
}

/// Why a message was rejected. Never retried: the engine sends it to the rejected queue and reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("message body is empty")]
    Empty,
    #[error("message body is {size} bytes; the limit is {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error("message body is not UTF-8 text (invalid byte at offset {valid_up_to})")]
    NotUtf8 { valid_up_to: usize },
    #[error("message body is not valid JSON (line {line}, column {column}): {message}")]
    NotJson {
        line: usize,
        column: usize,
        message: String,
    },
    /// `line`/`column` are 1-based; 0 when the YAML parser gave no position.
    #[error("message body is not valid YAML (line {line}, column {column}): {message}")]
    NotYaml {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("invalid message: {}", list(.0))]
    Invalid(Vec<FieldError>),
}

fn list(errs: &[FieldError]) -> String {
    errs.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl CommandError {
    /// Stable code for the reply's `error.code`.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Empty
            | Self::TooLarge { .. }
            | Self::NotUtf8 { .. }
            | Self::NotJson { .. }
            | Self::NotYaml { .. } => ErrorCode::InvalidMessage,
            Self::Invalid(_) => ErrorCode::ValidationFailed,
        }
    }

    pub fn field_errors(&self) -> &[FieldError] {
        match self {
            Self::Invalid(errs) => errs,
            _ => &[],
        }
    }

    /// The first offending field, for the reply's `error.field`.
    pub fn field(&self) -> Option<&str> {
        self.field_errors().first().map(|e| e.path.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Yaml,
}

fn declared_format(content_type: Option<&str>) -> Option<Format> {
    let essence = content_type?.split(';').next()?.trim().to_ascii_lowercase();
    match essence.as_str() {
        "application/yaml" | "application/x-yaml" | "text/yaml" | "text/x-yaml" => {
            Some(Format::Yaml)
        }
        "application/json" | "text/json" => Some(Format::Json),
        e if e.ends_with("+json") => Some(Format::Json),
        e if e.ends_with("+yaml") => Some(Format::Yaml),
        _ => None,
    }
}

/// Strip the location suffix both parsers append, since we report it separately.
fn bare_message(msg: String, line: usize, column: usize) -> String {
    let suffix = format!(" at line {line} column {column}");
    msg.strip_suffix(&suffix).map(str::to_owned).unwrap_or(msg)
}

/// Deepest `[`/`{` nesting, counting brackets inside strings too: an over-estimate only makes
/// the guard stricter, while skipping "quoted" text could be abused (YAML plain scalars may
/// contain a lone `'`).
fn flow_depth(text: &str) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    for b in text.bytes() {
        match b {
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

fn decode(body: &[u8], format: Option<Format>) -> Result<(Value, Format), CommandError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(CommandError::TooLarge {
            size: body.len(),
            limit: MAX_BODY_BYTES,
        });
    }
    let text = std::str::from_utf8(body).map_err(|e| CommandError::NotUtf8 {
        valid_up_to: e.valid_up_to(),
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(CommandError::Empty);
    }
    let format = format.unwrap_or(if text.trim_start().starts_with(['{', '[']) {
        Format::Json
    } else {
        Format::Yaml
    });
    match format {
        Format::Json => match strict_json(text) {
            Ok(v) => Ok((v, Format::Json)),
            Err(StrictError::Duplicate(path)) => Err(duplicate_key(path)),
            Err(StrictError::Syntax(e)) => Err(CommandError::NotJson {
                line: e.line(),
                column: e.column(),
                message: bare_message(e.to_string(), e.line(), e.column()),
            }),
        },
        Format::Yaml if flow_depth(text) > MAX_FLOW_DEPTH => Err(CommandError::NotYaml {
            line: 0,
            column: 0,
            message: format!("nesting deeper than {MAX_FLOW_DEPTH} levels"),
        }),
        Format::Yaml => match strict_yaml(text) {
            Ok(v) => Ok((v, Format::Yaml)),
            Err(StrictError::Duplicate(path)) => Err(duplicate_key(path)),
            Err(StrictError::Syntax(e)) => {
                let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
                Err(CommandError::NotYaml {
                    line,
                    column,
                    message: bare_message(e.to_string(), line, column),
                })
            }
        },
    }
}

/// A repeated key is refused rather than letting the last one win unseen.
fn duplicate_key(path: String) -> CommandError {
    CommandError::Invalid(vec![FieldError::new(
        path,
        "appears more than once in the same object; each key may be given only once",
    )])
}

/// Parse one message body. `content_type` is the Service Bus `ContentType` (or HTTP header), if any.
///
/// Accepted forms: the envelope (JSON or YAML), or a bare `az ml compute attach` document
/// (declared as YAML, or recognisable by `type: synapsespark` with no `apiVersion`/`kind`).
pub fn parse_command(body: &[u8], content_type: Option<&str>) -> Result<Envelope, CommandError> {
    let declared = declared_format(content_type);
    let (value, _) = decode(body, declared)?;
    let mut errs = FieldErrors::default();
    let mut notes = Vec::new();
    let Some(root) = Fields::of(&value, "", &mut errs) else {
        return Err(CommandError::Invalid(errs.into_vec()));
    };

    let is_envelope = root.contains("apiVersion") || root.contains("kind");
    let looks_like_attach = root
        .get("type")
        .and_then(Value::as_str)
        .is_some_and(|t| t.eq_ignore_ascii_case(SYNAPSE_SPARK));
    let envelope = if is_envelope {
        parse_envelope(&root, &mut errs, &mut notes)
    } else if looks_like_attach || declared == Some(Format::Yaml) {
        attach_pool::parse(&value, "", &mut errs, &mut notes)
            .map(|spec| Envelope::new(Command::AttachPool(spec)))
    } else {
        errs.push(
            "",
            format!(
                "expected a poolbroker envelope {{apiVersion: {API_VERSION}, kind, spec}} or an az ml compute attach document with type: synapsespark"
            ),
        );
        None
    };
    match envelope {
        Some(mut env) if errs.is_empty() => {
            env.notes = notes;
            Ok(env)
        }
        _ => Err(CommandError::Invalid(errs.into_vec())),
    }
}

fn parse_envelope(
    root: &Fields<'_>,
    errs: &mut FieldErrors,
    notes: &mut Vec<String>,
) -> Option<Envelope> {
    root.deny_unknown(ENVELOPE_FIELDS, errs);
    match root.required_str("apiVersion", errs) {
        Some(API_VERSION) | None => {}
        Some(other) => errs.push(
            "apiVersion",
            format!("expected {}; got {}", quote(API_VERSION), quote(other)),
        ),
    }
    let workspace = match root.get("workspace") {
        Some(v) => parse_workspace(v, "workspace", errs).map(Some),
        None => Some(None),
    };
    let idempotency_key = match root.optional_str("idempotencyKey", errs) {
        Some(k)
            if k.is_empty()
                || k.chars().count() > MAX_IDEMPOTENCY_KEY
                || k.chars().any(char::is_control) =>
        {
            errs.push(
                "idempotencyKey",
                format!("must be 1 to {MAX_IDEMPOTENCY_KEY} characters without control characters"),
            );
            None
        }
        Some(k) => Some(Some(k.to_owned())),
        None if root.contains("idempotencyKey") => None,
        None => Some(None),
    };
    let kind = root.required_str("kind", errs).and_then(|k| {
        if SENDER_KINDS.contains(&k) || k == AWAIT_OPERATION || INTERNAL_KINDS.contains(&k) {
            Some(k)
        } else {
            errs.push(
                "kind",
                format!(
                    "unknown kind {}; expected one of {}, {AWAIT_OPERATION}",
                    quote(k),
                    SENDER_KINDS.join(", ")
                ),
            );
            None
        }
    });
    let command = kind.and_then(|kind| {
        let empty = json!({});
        let spec = match (root.get("spec"), kind) {
            (Some(spec), _) => spec,
            (None, "ListPools") => &empty,
            (None, _) => {
                errs.push("spec", "is required");
                return None;
            }
        };
        let p = "spec";
        Some(match kind {
            "AttachPool" => Command::AttachPool(attach_pool::parse(spec, p, errs, notes)?),
            "UpdatePoolIdentity" => {
                Command::UpdatePoolIdentity(update_identity::parse(spec, p, errs)?)
            }
            "DetachPool" => Command::DetachPool(detach_pool::parse(spec, p, errs)?),
            "ShowPool" => Command::ShowPool(show_pool::parse(spec, p, errs)?),
            "ListPools" => Command::ListPools(list_pools::parse(spec, p, errs)?),
            "SubmitSparkJob" => Command::SubmitSparkJob(spark_job::parse_submit(spec, p, errs)?),
            "CancelSparkJob" => Command::CancelSparkJob {
                name: spark_job::parse_cancel(spec, p, errs)?,
            },
            "TrackSparkJob" => Command::TrackSparkJob(track_job::parse(spec, p, errs)?),
            _ => Command::AwaitOperation(await_operation::parse(spec, p, errs)?),
        })
    });
    Some(Envelope {
        workspace: workspace?,
        idempotency_key: idempotency_key?,
        command: command?,
        notes: Vec::new(),
    })
}
