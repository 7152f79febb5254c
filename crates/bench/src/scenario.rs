//! The one scenario every figure uses: the emulator's demo world, and the five operations
//! attach (user-assigned, 2 identities) → show → list → update identity → detach.

use azureml_emulator::EmulatorConfig;
use serde_json::{Value, json};

pub const SUBSCRIPTION: &str = "00000000-0000-0000-0000-000000000001";
pub const RESOURCE_GROUP: &str = "poolbroker-demo";
pub const WORKSPACE_ID: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/poolbroker-demo/providers/Microsoft.MachineLearningServices/workspaces/ml-demo";
pub const POOL1: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/poolbroker-demo/providers/Microsoft.Synapse/workspaces/syn-demo/bigDataPools/sparkpool1";
pub const IDENTITY_HEADER: &str = "poolbroker-bench-identity-header";

pub fn uai(n: u8) -> String {
    format!(
        "/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uai-poolbroker-{n}"
    )
}

/// The same emulator settings for both tools: no waiting between LRO polls, the first poll sees
/// the operation finished, no throttling (it would measure ARM's write budget, 10/s, not us).
/// The emulator serves every api-version ARM does, the SDK's 2023-08-01-preview included.
pub fn emulator_config() -> EmulatorConfig {
    EmulatorConfig {
        identity_header: IDENTITY_HEADER.to_owned(),
        retry_after_secs: 0,
        throttling: false,
        require_auth: true,
        ..EmulatorConfig::default().instant()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum Op {
    Attach,
    Show,
    List,
    UpdateIdentity,
    Detach,
}

impl Op {
    pub const ALL: [Op; 5] = [
        Op::Attach,
        Op::Show,
        Op::List,
        Op::UpdateIdentity,
        Op::Detach,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Op::Attach => "attach",
            Op::Show => "show",
            Op::List => "list",
            Op::UpdateIdentity => "update identity",
            Op::Detach => "detach",
        }
    }

    /// The key the Python driver reports this operation under.
    pub fn key(self) -> &'static str {
        match self {
            Op::Attach => "attach",
            Op::Show => "show",
            Op::List => "list",
            Op::UpdateIdentity => "update_identity",
            Op::Detach => "detach",
        }
    }

    /// The `pool-commands` message for this operation on compute `name`.
    pub fn command(self, name: &str) -> Value {
        let (kind, spec) = match self {
            Op::Attach => (
                "AttachPool",
                json!({
                    "name": name,
                    "type": "synapsespark",
                    "resource_id": POOL1,
                    "identity": {"type": "user_assigned", "user_assigned_identities": [
                        {"resource_id": uai(1)}, {"resource_id": uai(2)}
                    ]}
                }),
            ),
            Op::Show => ("ShowPool", json!({"name": name})),
            Op::List => ("ListPools", json!({})),
            Op::UpdateIdentity => (
                "UpdatePoolIdentity",
                json!({
                    "name": name,
                    "identity": {"type": "user_assigned", "user_assigned_identities": [
                        {"resource_id": uai(2)}
                    ]}
                }),
            ),
            Op::Detach => ("DetachPool", json!({"name": name})),
        };
        json!({"apiVersion": "poolbroker/v1", "kind": kind, "spec": spec})
    }
}
