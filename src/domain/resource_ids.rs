//! ARM ids of the resources a pool refers to: the Synapse Spark pool and user-assigned identities.

use std::{
    fmt,
    hash::{Hash, Hasher},
    str::FromStr,
};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::arm_id::{
    ArmIdError, Seg, Shape, check_big_data_pool, check_synapse_workspace, check_uai_name,
};

const SYNAPSE_POOL: Shape = Shape {
    what: "a Synapse Spark pool id",
    shape: "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroup}/providers/Microsoft.Synapse/workspaces/{workspace}/bigDataPools/{pool}",
    provider: "Microsoft.Synapse",
    segs: &[
        Seg::Lit("workspaces"),
        Seg::Val("Synapse workspace name", check_synapse_workspace),
        Seg::Lit("bigDataPools"),
        Seg::Val("Spark pool name", check_big_data_pool),
    ],
};

const UAI: Shape = Shape {
    what: "a user-assigned identity id",
    shape: "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroup}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}",
    provider: "Microsoft.ManagedIdentity",
    segs: &[
        Seg::Lit("userAssignedIdentities"),
        Seg::Val("identity name", check_uai_name),
    ],
};

/// Shared body: the id as the user wrote it, plus the value segments.
macro_rules! arm_id_type {
    ($(#[$doc:meta])* $name:ident, $shape:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name {
            raw: String,
            values: Vec<String>,
        }

        impl $name {
            pub fn parse(s: &str) -> Result<Self, ArmIdError> {
                let values = $shape.parse(s)?.into_iter().map(str::to_owned).collect();
                Ok(Self { raw: s.to_owned(), values })
            }

            /// The id exactly as given (ARM compares ids case-insensitively).
            pub fn as_str(&self) -> &str {
                &self.raw
            }

            pub fn subscription_id(&self) -> &str {
                &self.values[0]
            }

            pub fn resource_group(&self) -> &str {
                &self.values[1]
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                self.raw.eq_ignore_ascii_case(&other.raw)
            }
        }

        impl Eq for $name {}

        impl Hash for $name {
            fn hash<H: Hasher>(&self, state: &mut H) {
                self.raw.to_ascii_lowercase().hash(state);
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.raw)
            }
        }

        impl FromStr for $name {
            type Err = ArmIdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.raw)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

arm_id_type!(
    /// `/subscriptions/S/resourceGroups/R/providers/Microsoft.Synapse/workspaces/W/bigDataPools/P`
    SynapsePoolId,
    SYNAPSE_POOL
);

arm_id_type!(
    /// `/subscriptions/S/resourceGroups/R/providers/Microsoft.ManagedIdentity/userAssignedIdentities/N`
    UserAssignedIdentityId,
    UAI
);

impl SynapsePoolId {
    pub fn synapse_workspace(&self) -> &str {
        &self.values[2]
    }

    pub fn pool_name(&self) -> &str {
        &self.values[3]
    }
}

impl UserAssignedIdentityId {
    pub fn name(&self) -> &str {
        &self.values[2]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    const POOL: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/poolbroker-demo/providers/Microsoft.Synapse/workspaces/syn-demo/bigDataPools/sparkpool1";
    const UAI_ETL: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/poolbroker-demo/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uai-etl";

    #[test]
    fn pool_id_parts_and_display() {
        let id = SynapsePoolId::parse(POOL).unwrap();
        assert_eq!(id.subscription_id(), "00000000-0000-0000-0000-000000000001");
        assert_eq!(id.resource_group(), "poolbroker-demo");
        assert_eq!(id.synapse_workspace(), "syn-demo");
        assert_eq!(id.pool_name(), "sparkpool1");
        assert_eq!(id.to_string(), POOL);
    }

    #[test]
    fn keywords_and_equality_are_case_insensitive_display_keeps_casing() {
        let lower = POOL
            .replace("resourceGroups", "resourcegroups")
            .replace("bigDataPools", "BIGDATAPOOLS");
        let a = SynapsePoolId::parse(POOL).unwrap();
        let b = SynapsePoolId::parse(&lower).unwrap();
        assert_eq!(a, b);
        assert_eq!(b.to_string(), lower);
        let set: HashSet<_> = [a, b].into_iter().collect();
        assert_eq!(set.len(), 1);

        let u1 = UserAssignedIdentityId::parse(UAI_ETL).unwrap();
        let u2 = UserAssignedIdentityId::parse(&UAI_ETL.to_uppercase().replace(
            "/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000001",
            "/subscriptions/00000000-0000-0000-0000-000000000001",
        ))
        .unwrap();
        assert_eq!(u1, u2);
        assert_eq!(u1.name(), "uai-etl");
    }

    #[test]
    fn errors_name_shape_and_segment() {
        let e = SynapsePoolId::parse(UAI_ETL).unwrap_err();
        assert_eq!(
            e.to_string(),
            "segment 6 is 'Microsoft.ManagedIdentity' where 'Microsoft.Synapse' was expected; expected a Synapse Spark pool id of the form /subscriptions/{subscriptionId}/resourceGroups/{resourceGroup}/providers/Microsoft.Synapse/workspaces/{workspace}/bigDataPools/{pool}"
        );
        let e = SynapsePoolId::parse(
            &POOL.replace("00000000-0000-0000-0000-000000000001", "<SUBSCRIPTION_ID>"),
        )
        .unwrap_err();
        assert!(
            e.problem
                .starts_with("subscription id '<SUBSCRIPTION_ID>' is invalid: must be a GUID"),
            "{e}"
        );
        let e =
            SynapsePoolId::parse(POOL.trim_end_matches("/bigDataPools/sparkpool1")).unwrap_err();
        assert_eq!(e.problem, "ends after segment 8; 'bigDataPools' is missing");
        let e = SynapsePoolId::parse(&format!("{POOL}/")).unwrap_err();
        assert_eq!(e.problem, "must not end with '/'");
        let e = SynapsePoolId::parse(&format!("{POOL}/x")).unwrap_err();
        assert_eq!(e.problem, "has unexpected extra segments '/x'");
        let e = SynapsePoolId::parse(&POOL[1..]).unwrap_err();
        assert!(e.problem.ends_with("does not start with '/'"));
        let e = SynapsePoolId::parse(&format!(" {POOL}")).unwrap_err();
        assert_eq!(e.problem, "has leading or trailing whitespace");
        let e = UserAssignedIdentityId::parse(&UAI_ETL.replace("uai-etl", "")).unwrap_err();
        assert_eq!(e.problem, "must not end with '/'");
        let e = UserAssignedIdentityId::parse(&UAI_ETL.replace("poolbroker-demo", "")).unwrap_err();
        assert_eq!(e.problem, "the resource group segment is empty");
        assert!(SynapsePoolId::parse("").is_err());
        assert!(SynapsePoolId::parse("/").is_err());
    }

    #[test]
    fn serde_round_trip() {
        let id: UserAssignedIdentityId =
            serde_json::from_value(serde_json::json!(UAI_ETL)).unwrap();
        assert_eq!(
            serde_json::to_value(&id).unwrap(),
            serde_json::json!(UAI_ETL)
        );
        assert!(serde_json::from_value::<SynapsePoolId>(serde_json::json!("nope")).is_err());
    }
}
