//! Emulator configuration and the seedable resource specs.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Knobs for the emulator. `Default` gives the behaviour of the real service as documented in
/// `shared/reference/azureml-arm-api.md`; tests shrink buckets and waits.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// api-versions accepted on Azure ML routes (computes, jobs, workspaces, operation status).
    pub api_versions: Vec<String>,
    /// api-versions accepted on the Synapse bigDataPools route.
    pub synapse_api_versions: Vec<String>,
    /// Items per page on list routes before a `nextLink` is emitted.
    pub page_size: usize,
    /// Polls of an operation URL that see `InProgress` before the operation completes; the poll
    /// number `lro_polls_before_done` observes the terminal state. 0 = done before the first poll.
    pub lro_polls_before_done: u32,
    /// Value of the `Retry-After` header on LRO responses.
    pub retry_after_secs: u64,
    /// Secret the managed-identity endpoint requires in `x-identity-header`.
    pub identity_header: String,
    /// When false, ARM routes accept requests without a bearer token.
    pub require_auth: bool,
    /// When false, the per-subscription token buckets are not applied.
    pub throttling: bool,
    pub throttle_limits: ThrottleLimits,
    /// Lifetime of tokens from the managed-identity endpoint.
    pub token_lifetime: Duration,
    /// Default per-workspace serverless Spark vCore quota.
    pub serverless_vcore_quota: u32,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            api_versions: [
                "2025-12-01",
                "2025-09-01",
                "2025-06-01",
                "2025-04-01",
                "2024-10-01",
            ]
            .map(String::from)
            .to_vec(),
            synapse_api_versions: [
                "2021-06-01",
                "2021-05-01",
                "2021-03-01",
                "2019-06-01-preview",
            ]
            .map(String::from)
            .to_vec(),
            page_size: 20,
            lro_polls_before_done: 1,
            retry_after_secs: 1,
            identity_header: String::from("poolbroker-emulator-identity-header"),
            require_auth: true,
            throttling: true,
            throttle_limits: ThrottleLimits::default(),
            token_lifetime: Duration::from_secs(24 * 3600),
            serverless_vcore_quota: 10_000,
        }
    }
}

/// ARM's per-subscription token buckets (request-limits-and-throttling, 2024+ page).
#[derive(Debug, Clone, Copy)]
pub struct ThrottleLimits {
    pub reads: BucketLimit,
    pub writes: BucketLimit,
    pub deletes: BucketLimit,
}

impl Default for ThrottleLimits {
    fn default() -> Self {
        Self {
            reads: BucketLimit {
                capacity: 250,
                refill_per_sec: 25.0,
            },
            writes: BucketLimit {
                capacity: 200,
                refill_per_sec: 10.0,
            },
            deletes: BucketLimit {
                capacity: 200,
                refill_per_sec: 10.0,
            },
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct BucketLimit {
    pub capacity: u32,
    pub refill_per_sec: f64,
}

/// A Synapse Spark pool (`Microsoft.Synapse/workspaces/bigDataPools`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SynapsePoolSpec {
    pub subscription_id: String,
    pub resource_group: String,
    pub workspace_name: String,
    pub pool_name: String,
    pub location: String,
    pub spark_version: String,
    pub node_count: u32,
    pub node_size: String,
    pub node_size_family: String,
    pub auto_scale: AutoScale,
    pub auto_pause: AutoPause,
}

impl SynapsePoolSpec {
    /// A pool with the values the docs' `az ml compute show` sample prints (5 Small
    /// MemoryOptimized nodes, autoscale off, auto-pause after 15 minutes).
    pub fn new(
        subscription_id: &str,
        resource_group: &str,
        workspace_name: &str,
        pool_name: &str,
        location: &str,
        spark_version: &str,
    ) -> Self {
        Self {
            subscription_id: subscription_id.to_owned(),
            resource_group: resource_group.to_owned(),
            workspace_name: workspace_name.to_owned(),
            pool_name: pool_name.to_owned(),
            location: location.to_owned(),
            spark_version: spark_version.to_owned(),
            node_count: 5,
            node_size: String::from("Small"),
            node_size_family: String::from("MemoryOptimized"),
            auto_scale: AutoScale {
                enabled: false,
                min_node_count: 0,
                max_node_count: 0,
            },
            auto_pause: AutoPause {
                enabled: true,
                delay_in_minutes: 15,
            },
        }
    }

    pub fn id(&self) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Synapse/workspaces/{}/bigDataPools/{}",
            self.subscription_id, self.resource_group, self.workspace_name, self.pool_name
        )
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AutoScale {
    pub enabled: bool,
    pub min_node_count: u32,
    pub max_node_count: u32,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AutoPause {
    pub enabled: bool,
    pub delay_in_minutes: u32,
}
