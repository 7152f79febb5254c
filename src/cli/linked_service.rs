//! `poolbroker linked-service list|show|register|unregister` — SDK v1's `LinkedService`.

use serde_json::json;

use super::args::{LinkedServiceCommand, NamedArgs};
use super::compute::{command_json, run};
use super::output::print_reply;

pub async fn linked_service(command: LinkedServiceCommand) -> anyhow::Result<()> {
    let (kind, spec, workspace) = match command {
        LinkedServiceCommand::List { workspace } => ("ListLinkedServices", json!({}), workspace),
        LinkedServiceCommand::Show(NamedArgs { name, workspace }) => {
            ("ShowLinkedService", json!({"name": name}), workspace)
        }
        LinkedServiceCommand::Register {
            name,
            synapse_workspace_id,
            workspace,
        } => (
            "RegisterLinkedService",
            json!({"name": name, "synapse_workspace_id": synapse_workspace_id}),
            workspace,
        ),
        LinkedServiceCommand::Unregister { name, workspace } => {
            ("UnregisterLinkedService", json!({"name": name}), workspace)
        }
    };
    let reply = run(command_json(kind, spec, &workspace)?, &workspace).await?;
    print_reply(&reply, workspace.output)
}
