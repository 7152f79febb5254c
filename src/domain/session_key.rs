//! The Service Bus `SessionId` a command travels with. A session-enabled `pool-commands` queue
//! refuses a message without one and hands one session's messages, in order, to one receiver at
//! a time; keyed by what a command acts on, the commands for one compute (or linked service, or
//! job) run in the order they were sent, whoever sends them — a sender, a hook, a follow-up. On a
//! queue without sessions Service Bus ignores the property.

use super::{Command, Envelope, parse_command};

/// Service Bus's limit on `SessionId`.
const MAX_SESSION_ID_CHARS: usize = 128;

impl Envelope {
    /// `{workspace name}/{compute | linked service | job}`, `default/…` when the command names no
    /// workspace. A command that acts on no one thing (a list, a job whose name the broker picks)
    /// takes `fallback`, the message's own id, so it waits for nothing.
    pub fn session_id(&self, fallback: &str) -> String {
        let workspace = self.workspace.as_ref().map_or("default", |w| w.name());
        let id = match self.command.subject() {
            Some(subject) => format!("{workspace}/{subject}"),
            None => fallback.to_owned(),
        };
        id.chars().take(MAX_SESSION_ID_CHARS).collect()
    }
}

/// The session of a command still in its wire form (what hooks, the CLI and the Studio send),
/// parsed as the broker will parse it; a body the broker will refuse takes `fallback`.
pub fn session_id_of(body: &[u8], content_type: Option<&str>, fallback: &str) -> String {
    match parse_command(body, content_type) {
        Ok(envelope) => envelope.session_id(fallback),
        Err(_) => fallback.chars().take(MAX_SESSION_ID_CHARS).collect(),
    }
}

impl Command {
    /// The one resource the command acts on, when there is one.
    fn subject(&self) -> Option<String> {
        match self {
            Self::AttachPool(s) => Some(s.name.to_string()),
            Self::AttachLinkedPool(s) => Some(s.name.to_string()),
            Self::UpdatePoolIdentity(s) => Some(s.name.to_string()),
            Self::DetachPool(s) => Some(s.name.to_string()),
            Self::ShowPool(s) => Some(s.name.to_string()),
            Self::GrantPoolAccess(s) | Self::RevokePoolAccess(s) => Some(s.name.to_string()),
            Self::CheckPool(s) => Some(s.name.to_string()),
            Self::AwaitOperation(op) => Some(op.action.name().to_string()),
            Self::ShowLinkedService(s) | Self::UnregisterLinkedService(s) => {
                Some(s.name.to_string())
            }
            Self::RegisterLinkedService(s) => Some(s.name.to_string()),
            Self::CancelSparkJob { name } => Some(name.to_string()),
            Self::TrackSparkJob(t) => Some(t.job.to_string()),
            Self::ListPools(_) | Self::ListLinkedServices | Self::SubmitSparkJob(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::domain::parse_command;

    fn session_of(body: &str) -> String {
        parse_command(body.as_bytes(), Some("application/json"))
            .expect("valid command")
            .session_id("msg-1")
    }

    #[test]
    fn commands_for_one_compute_share_a_session_and_lists_do_not() {
        let ws = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ml-demo";
        let attach = format!(
            r#"{{"apiVersion":"poolbroker/v1","kind":"AttachPool","workspace":"{ws}","spec":{{"name":"spark-a","type":"synapsespark","resource_id":"/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Synapse/workspaces/syn/bigDataPools/p1"}}}}"#
        );
        let detach = format!(
            r#"{{"apiVersion":"poolbroker/v1","kind":"DetachPool","workspace":"{ws}","spec":{{"name":"spark-a"}}}}"#
        );
        assert_eq!(session_of(&attach), "ml-demo/spark-a");
        assert_eq!(session_of(&detach), "ml-demo/spark-a");
        assert_eq!(
            session_of(
                r#"{"apiVersion":"poolbroker/v1","kind":"ShowPool","spec":{"name":"spark-a"}}"#
            ),
            "default/spark-a"
        );
        assert_eq!(
            session_of(r#"{"apiVersion":"poolbroker/v1","kind":"ListPools","spec":{}}"#),
            "msg-1"
        );
    }
}
