//! Shared emulator state and its in-process control API.

use crate::assets::AssetRecord;
use crate::blob::BlobStore;
use crate::clock::Clock;
use crate::computes::ComputeRecord;
use crate::config::{EmulatorConfig, SynapsePoolSpec};
use crate::faults::{FaultRule, RecordedRequest};
use crate::ids;
use crate::jobs::{JobRecord, JobStatus};
use crate::operations::Operation;
use crate::throttle::Throttle;
use indexmap::IndexMap;
use serde::Serialize;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use uuid::Uuid;

/// Errors of the in-process control API.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EmulatorError {
    #[error("workspace '{0}' is not known to the emulator (seed it with add_workspace)")]
    UnknownWorkspace(String),
    #[error("job '{job}' does not exist in workspace '{workspace}'")]
    UnknownJob { workspace: String, job: String },
    #[error(
        "'{0}' is not a user-assigned identity id (/subscriptions/…/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{{name}})"
    )]
    InvalidIdentityId(String),
}

/// The tenant every emulated identity and token belongs to.
pub const TENANT_ID: &str = "7a9c3e0f-2d1b-4c5e-9f80-0123456789ab";

#[derive(Debug, Clone)]
pub(crate) struct Workspace {
    pub id: String,
    pub name: String,
    pub location: String,
    pub principal_id: Uuid,
    /// User-assigned identities attached to the workspace, in attach order (canonical ids).
    pub identities: Vec<String>,
}

#[derive(Debug, Default)]
pub(crate) struct Data {
    pub resource_groups: HashSet<String>,
    pub workspaces: IndexMap<String, Workspace>,
    pub pools: IndexMap<String, SynapsePoolSpec>,
    /// Registered user-assigned identities: lower-cased id → canonical id.
    pub identities: IndexMap<String, String>,
    pub computes: IndexMap<String, ComputeRecord>,
    pub jobs: IndexMap<String, JobRecord>,
    pub operations: HashMap<String, Operation>,
    pub delete_actions: Vec<DeleteRecord>,
    pub vcore_quotas: HashMap<String, u32>,
    /// Code and environment containers and versions: lower-cased ARM id → record.
    pub assets: IndexMap<String, AssetRecord>,
    /// The blob endpoint behind `startPendingUpload` SAS URLs.
    pub blobs: BlobStore,
    pub linked_services: crate::linked_services::LinkedServices,
}

/// One DELETE of a compute and the `underlyingResourceAction` it carried (verbatim).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DeleteRecord {
    pub compute_id: String,
    pub underlying_resource_action: Option<String>,
}

/// A registered user-assigned identity and the ids the directory gives it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct UserAssignedIdentityInfo {
    pub id: String,
    pub principal_id: Uuid,
    pub client_id: Uuid,
}

/// What `seed_demo` created.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DemoSeed {
    pub subscription_id: String,
    pub resource_group: String,
    pub location: String,
    pub workspace_name: String,
    pub workspace_id: String,
    pub synapse_workspace_name: String,
    pub pool_ids: Vec<String>,
    pub user_assigned_identities: Vec<UserAssignedIdentityInfo>,
}

pub(crate) struct Inner {
    pub config: EmulatorConfig,
    pub data: Mutex<Data>,
    pub faults: Mutex<Vec<FaultRule>>,
    pub requests: Mutex<Vec<RecordedRequest>>,
    pub clock: Clock,
    pub throttle: Mutex<Throttle>,
}

/// Cheap to clone; every clone shares the same world.
#[derive(Clone)]
pub struct EmulatorState {
    pub(crate) inner: Arc<Inner>,
}

/// Locks a mutex, recovering the data if a previous holder panicked: the emulator's invariants
/// are re-established by every handler, so a poisoned lock is not a reason to stop serving.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Default for EmulatorState {
    fn default() -> Self {
        Self::new(EmulatorConfig::default())
    }
}

impl EmulatorState {
    pub fn new(config: EmulatorConfig) -> Self {
        let throttle = Throttle::new(config.throttle_limits);
        Self {
            inner: Arc::new(Inner {
                config,
                data: Mutex::new(Data::default()),
                faults: Mutex::new(Vec::new()),
                requests: Mutex::new(Vec::new()),
                clock: Clock::default(),
                throttle: Mutex::new(throttle),
            }),
        }
    }

    pub fn config(&self) -> &EmulatorConfig {
        &self.inner.config
    }

    /// The world, brought up to the clock first: operations and jobs advance with time whether
    /// or not anyone reads them, and every reader passes through here.
    pub(crate) fn data(&self) -> MutexGuard<'_, Data> {
        let mut data = lock(&self.inner.data);
        crate::operations::tick(&mut data, self.inner.clock.now(), &self.inner.config);
        data
    }

    pub(crate) fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    /// Moves the emulator's clock forward: running operations complete, jobs move through their
    /// statuses and tokens age exactly as if `by` had passed.
    pub fn advance_clock(&self, by: Duration) {
        self.inner.clock.advance(by);
        drop(self.data());
    }

    /// How far the clock has been advanced past wall time.
    pub fn clock_offset(&self) -> Duration {
        self.inner.clock.offset()
    }

    /// Creates (or replaces) an Azure ML workspace, and its resource group; returns its ARM id.
    pub fn add_workspace(
        &self,
        subscription: &str,
        resource_group: &str,
        name: &str,
        location: &str,
    ) -> String {
        let id = ids::workspace_id(subscription, resource_group, name);
        let ws = Workspace {
            id: id.clone(),
            name: name.to_owned(),
            location: location.to_owned(),
            principal_id: Uuid::new_v5(
                &Uuid::NAMESPACE_URL,
                format!("{}#principalId", ids::key(&id)).as_bytes(),
            ),
            identities: Vec::new(),
        };
        let mut data = self.data();
        data.resource_groups
            .insert(ids::rg_key(subscription, resource_group));
        data.workspaces.insert(ids::key(&id), ws);
        id
    }

    /// Creates (or replaces) a Synapse Spark pool and its resource group; returns its ARM id.
    pub fn add_synapse_pool(&self, spec: SynapsePoolSpec) -> String {
        let id = spec.id();
        let mut data = self.data();
        data.resource_groups
            .insert(ids::rg_key(&spec.subscription_id, &spec.resource_group));
        data.pools.insert(ids::key(&id), spec);
        id
    }

    /// Removes a Synapse pool (attached computes keep pointing at it, as in Azure).
    pub fn remove_synapse_pool(&self, pool_id: &str) -> bool {
        self.data().pools.shift_remove(&ids::key(pool_id)).is_some()
    }

    /// Registers a user-assigned identity (the MI endpoint only issues tokens for registered ones).
    pub fn add_user_assigned_identity(
        &self,
        subscription: &str,
        resource_group: &str,
        name: &str,
    ) -> UserAssignedIdentityInfo {
        let id = ids::uai_id(subscription, resource_group, name);
        let mut data = self.data();
        data.resource_groups
            .insert(ids::rg_key(subscription, resource_group));
        data.identities.insert(ids::key(&id), id.clone());
        identity_info(&id)
    }

    /// Attaches a registered or unregistered user-assigned identity to a workspace (serverless
    /// Spark jobs may run as a UAI only if it is attached to the workspace).
    pub fn attach_workspace_identity(
        &self,
        workspace_id: &str,
        identity_id: &str,
    ) -> Result<(), EmulatorError> {
        if ids::parse_uai(identity_id).is_none() {
            return Err(EmulatorError::InvalidIdentityId(identity_id.to_owned()));
        }
        let mut data = self.data();
        let ws = data
            .workspaces
            .get_mut(&ids::key(workspace_id))
            .ok_or_else(|| EmulatorError::UnknownWorkspace(workspace_id.to_owned()))?;
        if !ws
            .identities
            .iter()
            .any(|i| ids::key(i) == ids::key(identity_id))
        {
            ws.identities.push(identity_id.to_owned());
        }
        Ok(())
    }

    /// Sets the serverless Spark vCore quota of one workspace.
    pub fn set_vcore_quota(&self, workspace_id: &str, vcores: u32) -> Result<(), EmulatorError> {
        let mut data = self.data();
        if !data.workspaces.contains_key(&ids::key(workspace_id)) {
            return Err(EmulatorError::UnknownWorkspace(workspace_id.to_owned()));
        }
        data.vcore_quotas.insert(ids::key(workspace_id), vcores);
        Ok(())
    }

    /// Forces a job's status; it carries on from there on the clock.
    pub fn set_job_status(
        &self,
        workspace_id: &str,
        job: &str,
        status: JobStatus,
    ) -> Result<(), EmulatorError> {
        let mut data = self.data();
        let rec = data
            .jobs
            .get_mut(&crate::jobs::job_key(workspace_id, job))
            .ok_or_else(|| EmulatorError::UnknownJob {
                workspace: workspace_id.to_owned(),
                job: job.to_owned(),
            })?;
        rec.set_status(status);
        rec.status_since = self.inner.clock.now();
        Ok(())
    }

    /// Registers a code version (`codes/{name}/versions/{version}`) as `az ml code create` would;
    /// returns its ARM id, the `codeId` jobs name.
    pub fn add_code_version(
        &self,
        workspace_id: &str,
        name: &str,
        version: &str,
        code_uri: &str,
    ) -> Result<String, EmulatorError> {
        let ws = {
            let data = self.data();
            data.workspaces
                .get(&ids::key(workspace_id))
                .cloned()
                .ok_or_else(|| EmulatorError::UnknownWorkspace(workspace_id.to_owned()))?
        };
        crate::assets::insert_code_version(self, &ws, name, version, code_uri);
        Ok(format!("{}/codes/{name}/versions/{version}", ws.id))
    }

    /// Makes the job's next status step `Failed` with this error.
    pub fn fail_job(
        &self,
        workspace_id: &str,
        job: &str,
        code: &str,
        message: &str,
    ) -> Result<(), EmulatorError> {
        let mut data = self.data();
        let rec = data
            .jobs
            .get_mut(&crate::jobs::job_key(workspace_id, job))
            .ok_or_else(|| EmulatorError::UnknownJob {
                workspace: workspace_id.to_owned(),
                job: job.to_owned(),
            })?;
        rec.failure = Some((code.to_owned(), message.to_owned()));
        Ok(())
    }

    /// The stored compute resource exactly as GET would return it.
    pub fn compute(&self, workspace_id: &str, name: &str) -> Option<Value> {
        let key = crate::computes::compute_key(workspace_id, name);
        self.data().computes.get(&key).map(|c| c.resource.clone())
    }

    /// The stored job resource as GET would return it.
    pub fn job(&self, workspace_id: &str, job: &str) -> Option<Value> {
        self.data()
            .jobs
            .get(&crate::jobs::job_key(workspace_id, job))
            .map(|j| j.resource.clone())
    }

    /// Every compute DELETE seen, in order, with its `underlyingResourceAction`.
    pub fn delete_actions(&self) -> Vec<DeleteRecord> {
        self.data().delete_actions.clone()
    }

    /// Adds a fault rule; rules are tried in insertion order.
    pub fn inject(&self, rule: FaultRule) {
        lock(&self.inner.faults).push(rule);
    }

    pub fn clear_faults(&self) {
        lock(&self.inner.faults).clear();
    }

    /// Requests seen on the emulated APIs (not `/_emulator`), oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.inner.requests).clone()
    }

    /// Ends every operation still in progress (test clock control); returns how many.
    pub fn complete_running_operations(&self) -> usize {
        crate::operations::complete_all(&mut self.data())
    }

    pub fn clear_requests(&self) {
        lock(&self.inner.requests).clear();
    }

    /// Issues a token as the MI endpoint would, valid for `config.token_lifetime`.
    pub fn issue_token(&self, resource: &str) -> String {
        self.issue_token_with_lifetime(resource, self.inner.config.token_lifetime)
    }

    /// Issues a token with an explicit lifetime (`Duration::ZERO` gives an already expired one).
    pub fn issue_token_with_lifetime(&self, resource: &str, lifetime: Duration) -> String {
        crate::auth::issue(self, resource, lifetime, &crate::msi::system_subject()).0
    }

    /// Forgets all resources, operations, faults, recorded requests and throttle buckets.
    /// Issued tokens stay valid: clients cache them for hours.
    pub fn reset(&self) {
        *self.data() = Data::default();
        self.clear_faults();
        self.clear_requests();
        lock(&self.inner.throttle).reset();
    }

    /// The demo world: subscription `00000000-0000-0000-0000-000000000001`, resource group
    /// `poolbroker-demo`, AML workspace `ml-demo` (eastus2), Synapse workspace `syn-demo` with
    /// `sparkpool1` (Spark 3.4) and `sparkpool2` (3.3), and UAIs `uai-poolbroker-1`/`-2`, both
    /// attached to the workspace, and the code version `sales-etl:1`.
    pub fn seed_demo(&self) -> DemoSeed {
        let sub = "00000000-0000-0000-0000-000000000001";
        let rg = "poolbroker-demo";
        let location = "eastus2";
        let workspace_id = self.add_workspace(sub, rg, "ml-demo", location);
        let mut pool_ids = Vec::new();
        for (pool, version) in [("sparkpool1", "3.4"), ("sparkpool2", "3.3")] {
            pool_ids.push(self.add_synapse_pool(SynapsePoolSpec::new(
                sub, rg, "syn-demo", pool, location, version,
            )));
        }
        let identities: Vec<_> = [
            "uai-poolbroker-1",
            "uai-poolbroker-2",
            "uai-etl",
            "uai-reader",
        ]
        .iter()
        .map(|n| self.add_user_assigned_identity(sub, rg, n))
        .collect();
        for uai in &identities {
            // Both ids are well-formed and the workspace exists: this cannot fail.
            let _ = self.attach_workspace_identity(&workspace_id, &uai.id);
        }
        // The code the examples' jobs name (`azureml:sales-etl:1`), registered beforehand as a
        // team would with `az ml code create`.
        let _ = self.add_code_version(
            &workspace_id,
            "sales-etl",
            "1",
            "azureml://datastores/workspaceblobstore/paths/LocalUpload/sales-etl/src",
        );
        DemoSeed {
            subscription_id: sub.to_owned(),
            resource_group: rg.to_owned(),
            location: location.to_owned(),
            workspace_name: String::from("ml-demo"),
            workspace_id,
            synapse_workspace_name: String::from("syn-demo"),
            pool_ids,
            user_assigned_identities: identities,
        }
    }
}

pub fn identity_info(id: &str) -> UserAssignedIdentityInfo {
    UserAssignedIdentityInfo {
        id: id.to_owned(),
        principal_id: ids::uai_principal_id(id),
        client_id: ids::uai_client_id(id),
    }
}
