//! Reading a job resource ARM returns: status, where it runs, as whom, and where to look at it.

use serde_json::{Map, Value, json};

use super::body::{TAG_COMPUTE_DECISION, TAG_IDENTITY};

/// Statuses after which a job never changes (the REST API's `JobStatus`).
const TERMINAL: [&str; 3] = ["Completed", "Failed", "Canceled"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobCompute {
    Pool {
        name: String,
        compute_id: String,
    },
    Serverless {
        instance_type: Option<String>,
        runtime_version: Option<String>,
    },
    Unknown,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SparkJobView {
    pub name: String,
    /// `properties.status` (`Unknown` when absent).
    pub status: String,
    pub compute: JobCompute,
    pub identity: Option<Value>,
    pub studio_url: Option<String>,
    /// `properties.error {code, message}` of a failed job, when the service gives one.
    pub error: Option<(String, String)>,
    pub tags: Map<String, Value>,
}

impl SparkJobView {
    /// The job as the ARM client returned it; `None` without a name.
    pub fn from_resource(resource: &crate::domain::JobResource) -> Option<Self> {
        Self::from_arm(&crate::domain::to_json(resource))
    }

    /// Tolerant: only `name` is needed; everything else may be missing.
    pub fn from_arm(value: &Value) -> Option<Self> {
        let name = value.get("name")?.as_str()?.to_owned();
        let props = value.get("properties").cloned().unwrap_or(Value::Null);
        let text = |ptr: &str| {
            props
                .pointer(ptr)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let compute = match text("/computeId") {
            Some(id) => JobCompute::Pool {
                name: id.rsplit('/').next().unwrap_or_default().to_owned(),
                compute_id: id,
            },
            None if props.get("resources").is_some_and(|r| !r.is_null()) => {
                JobCompute::Serverless {
                    instance_type: text("/resources/instanceType"),
                    runtime_version: props.pointer("/resources/runtimeVersion").and_then(|v| {
                        v.as_str()
                            .map(str::to_owned)
                            .or_else(|| v.as_number().map(ToString::to_string))
                    }),
                }
            }
            None => JobCompute::Unknown,
        };
        let error = props.get("error").filter(|e| !e.is_null()).map(|e| {
            let field = |k: &str| {
                e.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            (field("code"), field("message"))
        });
        Some(Self {
            name,
            status: text("/status").unwrap_or_else(|| "Unknown".to_owned()),
            compute,
            identity: props.get("identity").filter(|v| !v.is_null()).cloned(),
            studio_url: text("/services/Studio/endpoint"),
            error,
            tags: props
                .get("tags")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
        })
    }

    pub fn is_terminal(&self) -> bool {
        TERMINAL
            .iter()
            .any(|t| t.eq_ignore_ascii_case(&self.status))
    }

    pub fn is_completed(&self) -> bool {
        self.status.eq_ignore_ascii_case("Completed")
    }

    /// `{type: pool, name, id}` or `{type: serverless, instanceType, runtimeVersion}`.
    pub fn compute_json(&self) -> Value {
        match &self.compute {
            JobCompute::Pool { name, compute_id } => {
                json!({"type": "pool", "name": name, "id": compute_id})
            }
            JobCompute::Serverless {
                instance_type,
                runtime_version,
            } => json!({
                "type": "serverless",
                "instanceType": instance_type,
                "runtimeVersion": runtime_version,
            }),
            JobCompute::Unknown => json!({"type": "unknown"}),
        }
    }

    /// `pool NAME` / `serverless (TYPE, Spark X.Y)`, for messages and span attributes.
    pub fn compute_summary(&self) -> String {
        match &self.compute {
            JobCompute::Pool { name, .. } => format!("pool {name}"),
            JobCompute::Serverless {
                instance_type,
                runtime_version,
            } => format!(
                "serverless ({}, Spark {})",
                instance_type.as_deref().unwrap_or("?"),
                runtime_version.as_deref().unwrap_or("?")
            ),
            JobCompute::Unknown => "an unknown compute".to_owned(),
        }
    }

    fn tag(&self, key: &str) -> Option<&str> {
        self.tags.get(key).and_then(Value::as_str)
    }

    /// The reason the broker recorded when it submitted the job.
    pub fn compute_reason(&self) -> Option<&str> {
        self.tag(TAG_COMPUTE_DECISION)
    }

    /// The identity in words: the broker's own description, else read from the job.
    pub fn identity_description(&self) -> String {
        if let Some(d) = self.tag(TAG_IDENTITY) {
            return d.to_owned();
        }
        let Some(identity) = &self.identity else {
            return "service default (no identity on the job)".to_owned();
        };
        let field = |k: &str| identity.get(k).and_then(Value::as_str);
        match field("identityType") {
            Some("Managed") => match field("resourceId") {
                Some(id) => format!("managed {}", id.rsplit('/').next().unwrap_or(id)),
                None => "managed system-assigned identity".to_owned(),
            },
            Some("UserIdentity") => "user identity".to_owned(),
            Some("AMLToken") => "AML token".to_owned(),
            Some(other) => other.to_owned(),
            None => "unknown".to_owned(),
        }
    }

    /// The job as a person reads it (`job` in replies, `job submit|show -o json`): `name`,
    /// `status` exactly as Azure ML reports it, `compute`, `computeReason`, `identity` (which and
    /// why), `studioUrl`, and `error` for a failed job. The command's own outcome is never here.
    pub fn job_json(&self) -> Value {
        let mut m = Map::new();
        self.insert_fields(&mut m, ["name", "status", "error"]);
        Value::Object(m)
    }

    /// The fields [`Self::job_json`] and [`Self::reply_fields`] share, in the same order; only the
    /// names of `name`, `status` and `error` differ (`keys`).
    fn insert_fields(&self, m: &mut Map<String, Value>, keys: [&str; 3]) {
        let [name, status, error] = keys;
        m.insert(name.into(), json!(self.name));
        m.insert(status.into(), json!(self.status));
        m.insert("compute".into(), self.compute_json());
        if let Some(reason) = self.compute_reason() {
            m.insert("computeReason".into(), json!(reason));
        }
        m.insert("identity".into(), json!(self.identity_description()));
        if let Some(url) = &self.studio_url {
            m.insert("studioUrl".into(), json!(url));
        }
        if let Some((code, message)) = &self.error {
            m.insert(error.into(), json!({"code": code, "message": message}));
        }
    }

    /// The reply's job fields: `job` (see [`Self::job_json`]) and, kept for existing readers,
    /// the flat `jobName`, `jobStatus`, `compute`, `computeReason`, `identity`, `studioUrl` (and
    /// `jobError` for a failed job).
    pub fn reply_fields(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("job".into(), self.job_json());
        self.insert_fields(&mut m, ["jobName", "jobStatus", "jobError"]);
        m
    }
}
