//! The ARM `JobBaseResource` body of a Spark job (Jobs_CreateOrUpdate).

use serde_json::{Map, Value, json};

use super::compute::{ComputeDecision, ComputeTarget};
use super::identity::IdentityChoice;
use super::spec::{Entry, JobInput, SparkJobSpec};
use crate::domain::{JobResource, WorkspaceId};

/// The compute decision's reason, as the job records it.
pub const TAG_COMPUTE_DECISION: &str = "poolbroker-compute-decision";
/// The identity choice, in words.
pub const TAG_IDENTITY: &str = "poolbroker-identity";
/// The key the job name was derived from.
pub const TAG_IDEMPOTENCY_KEY: &str = "poolbroker-idempotency-key";
/// The correlation id of the command that submitted the job.
pub const TAG_CORRELATION_ID: &str = "poolbroker-command-correlation-id";

/// Experiment used when the spec names none (the service's own default is "Default").
const DEFAULT_EXPERIMENT: &str = "poolbroker";
/// ARM's limit on a tag value.
const MAX_TAG_VALUE: usize = 256;

fn truncated(s: &str) -> String {
    if s.chars().count() <= MAX_TAG_VALUE {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(MAX_TAG_VALUE - 1).collect();
    out.push('…');
    out
}

/// What the broker records on the job besides the user's tags.
pub struct BodyTags<'a> {
    pub idempotency_key: Option<&'a str>,
    pub correlation_id: &'a str,
}

/// The PUT body. Deterministic for the same inputs: a redelivery that has to PUT again sends the
/// same definition, which the service accepts as a no-op.
pub fn job_put_body(
    spec: &SparkJobSpec,
    workspace: &WorkspaceId,
    compute: &ComputeDecision,
    identity: &IdentityChoice,
    tags: &BodyTags<'_>,
) -> JobResource {
    let mut p = Map::new();
    p.insert("jobType".into(), json!("Spark"));
    if let Some(name) = &spec.display_name {
        p.insert("displayName".into(), json!(name));
    }
    p.insert(
        "experimentName".into(),
        json!(
            spec.experiment_name
                .as_deref()
                .unwrap_or(DEFAULT_EXPERIMENT)
        ),
    );
    if let Some(d) = &spec.description {
        p.insert("description".into(), json!(d));
    }
    let mut all_tags: Map<String, Value> = spec
        .tags
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    all_tags.insert(
        TAG_COMPUTE_DECISION.into(),
        json!(truncated(&compute.reason)),
    );
    all_tags.insert(TAG_IDENTITY.into(), json!(truncated(&identity.description)));
    if let Some(key) = tags.idempotency_key {
        all_tags.insert(TAG_IDEMPOTENCY_KEY.into(), json!(truncated(key)));
    }
    all_tags.insert(
        TAG_CORRELATION_ID.into(),
        json!(truncated(tags.correlation_id)),
    );
    p.insert("tags".into(), Value::Object(all_tags));
    p.insert("codeId".into(), json!(spec.code.arm_id(workspace, "codes")));
    p.insert(
        "entry".into(),
        match &spec.entry {
            Entry::Python { file } => {
                json!({"sparkJobEntryType": "SparkJobPythonEntry", "file": file})
            }
            Entry::Scala { class_name } => {
                json!({"sparkJobEntryType": "SparkJobScalaEntry", "className": class_name})
            }
        },
    );
    for (key, list) in [
        ("pyFiles", &spec.py_files),
        ("jars", &spec.jars),
        ("files", &spec.files),
        ("archives", &spec.archives),
    ] {
        if !list.is_empty() {
            p.insert(key.into(), json!(list));
        }
    }
    if let Some(args) = &spec.args {
        p.insert("args".into(), json!(args));
    }
    p.insert("conf".into(), json!(spec.conf));
    if !spec.inputs.is_empty() {
        let inputs: Map<String, Value> = spec
            .inputs
            .iter()
            .map(|(name, input)| {
                let v = match input {
                    JobInput::Literal(value) => json!({"jobInputType": "literal", "value": value}),
                    JobInput::Data { kind, path } => {
                        json!({"jobInputType": kind, "uri": path, "mode": "Direct"})
                    }
                };
                (name.clone(), v)
            })
            .collect();
        p.insert("inputs".into(), Value::Object(inputs));
    }
    if !spec.outputs.is_empty() {
        let outputs: Map<String, Value> = spec
            .outputs
            .iter()
            .map(|(name, out)| {
                let mut o = Map::new();
                o.insert("jobOutputType".into(), json!(out.kind));
                if let Some(path) = &out.path {
                    o.insert("uri".into(), json!(path));
                }
                o.insert("mode".into(), json!("Direct"));
                (name.clone(), Value::Object(o))
            })
            .collect();
        p.insert("outputs".into(), Value::Object(outputs));
    }
    if let Some(env) = &spec.environment {
        p.insert(
            "environmentId".into(),
            json!(env.arm_id(workspace, "environments")),
        );
    }
    if !spec.environment_variables.is_empty() {
        p.insert(
            "environmentVariables".into(),
            json!(spec.environment_variables),
        );
    }
    p.insert("identity".into(), identity.identity.to_arm());
    match &compute.target {
        ComputeTarget::Pool { compute_id, .. } => {
            p.insert("computeId".into(), json!(compute_id));
        }
        ComputeTarget::Serverless {
            instance_type,
            runtime_version,
        } => {
            p.insert(
                "resources".into(),
                json!({
                    "instanceType": instance_type.as_str(),
                    "runtimeVersion": runtime_version.to_string(),
                }),
            );
        }
    }
    JobResource::with_properties(p)
}
