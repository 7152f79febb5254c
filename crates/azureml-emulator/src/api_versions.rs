//! api-versions ARM accepts per resource type. ARM serves every version the resource provider
//! registered, GA and preview — the `stable/*` and `preview/*` folders under
//! `specification/machinelearningservices/resource-manager/Microsoft.MachineLearningServices/`
//! (and `…/synapse/…/Microsoft.Synapse/` for bigDataPools) in Azure/azure-rest-api-specs.
//! azure-ai-ml 1.35.2 sends 2023-08-01-preview (computes, workspaces), 2024-10-01-preview
//! (`workspaces.get`), 2023-04-01-preview (job PUT, cancel), 2024-01-01-preview (job get/list)
//! and 2023-04-01 (code assets).

/// Workspaces, computes and operation-status routes: every Microsoft.MachineLearningServices
/// version folder.
const MACHINE_LEARNING: &[&str] = &[
    "2018-11-19",
    "2019-05-01",
    "2019-06-01",
    "2019-11-01",
    "2020-01-01",
    "2020-02-18-preview",
    "2020-03-01",
    "2020-04-01",
    "2020-05-01-preview",
    "2020-05-15-preview",
    "2020-06-01",
    "2020-08-01",
    "2020-09-01-preview",
    "2021-01-01",
    "2021-03-01-preview",
    "2021-04-01",
    "2021-07-01",
    "2022-01-01-preview",
    "2022-02-01-preview",
    "2022-05-01",
    "2022-06-01-preview",
    "2022-10-01",
    "2022-10-01-preview",
    "2022-12-01-preview",
    "2023-02-01-preview",
    "2023-04-01",
    "2023-04-01-preview",
    "2023-06-01-preview",
    "2023-08-01-preview",
    "2023-10-01",
    "2024-01-01-preview",
    "2024-04-01",
    "2024-04-01-preview",
    "2024-07-01-preview",
    "2024-10-01",
    "2024-10-01-preview",
    "2025-01-01-preview",
    "2025-04-01",
    "2025-04-01-preview",
    "2025-06-01",
    "2025-07-01-preview",
    "2025-09-01",
    "2025-10-01-preview",
    "2025-12-01",
    "2026-01-15-preview",
];

/// The first version folder that has the asset and job resource types (`jobs`, `codes`,
/// `environments`); earlier versions only know workspaces and computes.
const FIRST_ASSET_VERSION: &str = "2021-03-01-preview";

const SYNAPSE: &[&str] = &[
    "2019-06-01-preview",
    "2020-12-01",
    "2021-03-01",
    "2021-04-01-preview",
    "2021-05-01",
    "2021-06-01",
    "2021-06-01-preview",
];

/// The resource type a route belongs to, as far as api-versions go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VersionSet {
    /// Workspaces, computes, operation status.
    MachineLearning,
    /// Jobs, code and environment assets.
    Assets,
    /// Synapse bigDataPools.
    Synapse,
}

pub(crate) fn supported(set: VersionSet) -> Vec<&'static str> {
    match set {
        VersionSet::MachineLearning => MACHINE_LEARNING.to_vec(),
        // ISO dates compare as strings; the preview suffix sorts after its date.
        VersionSet::Assets => MACHINE_LEARNING
            .iter()
            .copied()
            .filter(|v| *v >= FIRST_ASSET_VERSION)
            .collect(),
        VersionSet::Synapse => SYNAPSE.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sdk_versions_are_served_where_the_sdk_sends_them() {
        let ml = supported(VersionSet::MachineLearning);
        let assets = supported(VersionSet::Assets);
        for v in ["2023-08-01-preview", "2024-10-01-preview", "2025-12-01"] {
            assert!(ml.contains(&v), "{v}");
        }
        for v in ["2023-04-01-preview", "2024-01-01-preview", "2023-04-01"] {
            assert!(assets.contains(&v), "{v}");
        }
        assert!(!assets.contains(&"2021-01-01"));
        assert!(assets.contains(&"2021-03-01-preview"));
    }
}
