//! One module per command `spec`. Each parser reads an untyped tree under a path prefix (`spec`
//! inside an envelope, `""` for a bare az-ml YAML body) and records every problem it finds.

pub(crate) mod attach_pool;
pub(crate) mod await_operation;
pub(crate) mod check_pool;
pub(crate) mod detach_pool;
pub(crate) mod linked_services;
pub(crate) mod list_pools;
pub(crate) mod pool_access;
pub(crate) mod show_pool;
pub(crate) mod spark_job;
pub(crate) mod track_job;
pub(crate) mod update_identity;

use super::compute_name::ComputeName;
use super::field_error::FieldErrors;
use super::reader::Fields;

/// The `name` field every pool command carries.
pub(crate) fn compute_name(
    f: &Fields<'_>,
    key: &str,
    errs: &mut FieldErrors,
) -> Option<ComputeName> {
    let s = f.required_str(key, errs)?;
    match ComputeName::parse(s) {
        Ok(n) => Some(n),
        Err(e) => {
            errs.push(f.path(key), e.to_string());
            None
        }
    }
}
