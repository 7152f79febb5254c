//! Workspace cleanup policy: which attached pools to detach, and why. Pure: facts gathered by
//! the engine and a clock in, decisions out; the engine acts on them (see docs/cleanup.md).

mod decision;
mod facts;
mod plan;
mod settings;

#[cfg(test)]
mod tests;

pub use self::decision::{Decision, DetachReason, KeepReason};
pub use self::facts::{JobFacts, PoolFacts};
pub use self::plan::{CleanupPlan, PoolDecision, plan, recheck};
pub use self::settings::{
    CLEANUP_POLICY_SETTING, CleanupPolicy, CleanupSettings, CleanupSettingsError, WorkspacePolicy,
};
