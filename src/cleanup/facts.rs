//! What the engine observed about pools and jobs, as plain values.

use indexmap::IndexMap;
use time::OffsetDateTime;

/// An attached Spark pool (a workspace compute) as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolFacts {
    pub name: String,
    pub tags: IndexMap<String, String>,
    /// `properties.provisioningState` (Succeeded, Creating, Updating, Deleting, Failed, …).
    pub provisioning_state: String,
    /// `properties.createdOn`: where idleness is measured from when no job ever ran on the pool,
    /// so a freshly attached pool is not mistaken for an idle one.
    pub created_on: Option<OffsetDateTime>,
}

/// A job of the workspace as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobFacts {
    /// Job name, shown in "has running job …".
    pub name: String,
    /// `properties.computeId` (an ARM id) or a bare compute name; `None` for serverless jobs.
    pub compute_name: Option<String>,
    pub status: String,
    pub end_time: Option<OffsetDateTime>,
    pub creation_time: Option<OffsetDateTime>,
}

/// Azure ML's terminal job statuses; anything else (including Unknown or statuses added later)
/// counts as still running, which errs on the side of keeping the pool.
const TERMINAL: [&str; 4] = ["Completed", "Failed", "Canceled", "Cancelled"];

impl JobFacts {
    pub fn is_terminal(&self) -> bool {
        TERMINAL
            .iter()
            .any(|status| status.eq_ignore_ascii_case(self.status.trim()))
    }

    /// Whether the job ran (or runs) on the pool; matches a compute ARM id by its last segment.
    pub fn runs_on(&self, pool: &str) -> bool {
        self.compute_name.as_deref().is_some_and(|compute| {
            let name = compute
                .trim_end_matches('/')
                .rsplit('/')
                .next()
                .unwrap_or(compute);
            name.eq_ignore_ascii_case(pool)
        })
    }

    /// The latest moment this job shows activity.
    pub(crate) fn last_activity(&self) -> Option<OffsetDateTime> {
        self.end_time.max(self.creation_time)
    }
}
