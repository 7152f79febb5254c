//! Emulator configuration and the seedable resource specs.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Knobs for the emulator. `Default` gives the behaviour of the real service as documented in
/// `shared/reference/azureml-arm-api.md`, with operations and jobs that take a few seconds;
/// tests shrink buckets and durations, or advance the clock ([`crate::EmulatorState::advance_clock`]).
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// api-versions accepted on Azure ML routes: `None` = every version the resource provider
    /// serves for the route's resource type (`api_versions`); `Some` narrows it (tests).
    pub api_versions: Option<Vec<String>>,
    /// Items per page on list routes before a `nextLink` is emitted.
    pub page_size: usize,
    /// How long a long-running operation (compute create/update/detach, job cancel) runs on the
    /// emulator's clock, whether or not anyone polls it. Zero = done before the first poll.
    pub operation_duration: Duration,
    /// How long a job stays in each status before `Running` (NotStarted, Starting, Preparing,
    /// Queued) and in `Finalizing`.
    pub job_step_duration: Duration,
    /// How long a job stays `Running`.
    pub job_run_duration: Duration,
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

impl EmulatorConfig {
    /// Operations and jobs finish as soon as the clock is read: for tests that do not care
    /// about intermediate states.
    pub fn instant(mut self) -> Self {
        self.operation_duration = Duration::ZERO;
        self.job_step_duration = Duration::ZERO;
        self.job_run_duration = Duration::ZERO;
        self
    }
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            api_versions: None,
            page_size: 20,
            operation_duration: Duration::from_secs(3),
            job_step_duration: Duration::from_secs(2),
            job_run_duration: Duration::from_secs(10),
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
