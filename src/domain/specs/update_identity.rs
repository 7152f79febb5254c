//! `UpdatePoolIdentity`: `az ml compute update --identity … --user-assigned-identities …`.

use serde_json::{Value, json};

use super::compute_name;
use crate::domain::compute_name::ComputeName;
use crate::domain::field_error::FieldErrors;
use crate::domain::identity::{IdentitySpec, parse_identity};
use crate::domain::reader::Fields;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdatePoolIdentitySpec {
    pub name: ComputeName,
    pub identity: IdentitySpec,
    /// Make sure the new identities hold Synapse Administrator on the pool (default on).
    pub grant_synapse_access: bool,
}

impl UpdatePoolIdentitySpec {
    pub fn to_spec_json(&self) -> Value {
        let mut identity = self.identity.to_az_yaml();
        // Write the CLI spelling users see in `--identity`.
        identity["type"] = json!(self.identity.identity_type().arm_str());
        let mut spec = json!({"name": self.name.as_str(), "identity": identity});
        if !self.grant_synapse_access {
            spec["grant_synapse_access"] = json!(false);
        }
        spec
    }
}

pub(crate) fn parse(
    value: &Value,
    path: &str,
    errs: &mut FieldErrors,
) -> Option<UpdatePoolIdentitySpec> {
    let f = Fields::of(value, path, errs)?;
    f.deny_unknown(&["name", "identity", "grant_synapse_access"], errs);
    let name = compute_name(&f, "name", errs);
    let identity = f
        .required("identity", errs)
        .and_then(|v| parse_identity(v, &f.path("identity"), errs));
    let grant_synapse_access = match f.get("grant_synapse_access") {
        None => Some(true),
        Some(_) => f.optional_bool("grant_synapse_access", errs),
    };
    Some(UpdatePoolIdentitySpec {
        name: name?,
        identity: identity?,
        grant_synapse_access: grant_synapse_access?,
    })
}
