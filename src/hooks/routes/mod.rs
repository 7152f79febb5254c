//! `routes.yaml`: which events become which poolbroker commands. See docs/hooks.md.

mod matcher;
mod path;
mod template;

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use serde_yaml_ng::Value as Yaml;

use self::matcher::Matcher;
use self::path::FieldPath;
use self::template::Template;
pub(crate) use self::template::TemplateProblem;
use super::event::Event;
use crate::domain::{API_VERSION, ENVELOPE_FIELDS, SENDER_KINDS};

/// Validated routing rules, tried in file order; the first match wins.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RoutingRules {
    rules: Vec<Rule>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Rule {
    pub name: String,
    matcher: Matcher,
    command: Template,
}

/// Why a routes file was refused; each message names the rule and the field.
#[derive(Debug, thiserror::Error)]
pub enum RoutesError {
    #[error("routes file {path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    // The message already carries the inner error; not a `#[source]`, or chained reports
    // (`{:#}`) would print it twice.
    #[error("routes file {path}: {error}")]
    InFile {
        path: PathBuf,
        error: Box<RoutesError>,
    },
    #[error("not valid YAML: {0}")]
    Yaml(String),
    #[error("{0}")]
    Shape(String),
    #[error("rules[{index}] ({name}): {field}: {message}")]
    Rule {
        index: usize,
        /// The rule's name, or `unnamed` when the name itself is the problem.
        name: String,
        field: String,
        message: String,
    },
}

// Envelope fields and sender kinds of poolbroker/v1 (defined in `crate::domain`) are checked at
// startup so a typo fails the deployment rather than every event. `AwaitOperation` is the
// broker's internal follow-up and is not something an event may ask for.

const RULE_FIELDS: [&str; 4] = ["name", "description", "match", "command"];
const MATCH_FIELDS: [&str; 4] = ["type", "subject_prefix", "source", "data"];

impl RoutingRules {
    /// Parses and validates a routes document: a list of rules, or `{rules: [...]}`.
    pub fn parse(yaml: &str) -> Result<Self, RoutesError> {
        let document: Yaml =
            serde_yaml_ng::from_str(yaml).map_err(|error| RoutesError::Yaml(error.to_string()))?;
        let items = match document {
            Yaml::Null => Vec::new(),
            Yaml::Sequence(items) => items,
            Yaml::Mapping(mut mapping) => {
                if let Some(key) = mapping.keys().find(|key| key.as_str() != Some("rules")) {
                    return Err(RoutesError::Shape(format!(
                        "unknown top-level key {}: expected only 'rules'",
                        describe_key(key)
                    )));
                }
                match mapping.remove("rules") {
                    Some(Yaml::Sequence(items)) => items,
                    Some(Yaml::Null) | None => Vec::new(),
                    Some(_) => {
                        return Err(RoutesError::Shape("rules: expected a list of rules".into()));
                    }
                }
            }
            _ => {
                return Err(RoutesError::Shape(
                    "expected a list of rules, or a mapping with a 'rules' list".into(),
                ));
            }
        };
        let mut rules: Vec<Rule> = Vec::with_capacity(items.len());
        for (index, item) in items.into_iter().enumerate() {
            let rule = Rule::parse(index, item)?;
            if rules.iter().any(|existing| existing.name == rule.name) {
                return Err(RoutesError::Rule {
                    index,
                    name: rule.name,
                    field: "name".into(),
                    message: "duplicate rule name (names identify rules in replies and logs)"
                        .into(),
                });
            }
            rules.push(rule);
        }
        Ok(Self { rules })
    }

    /// Reads and parses one routes file (the only I/O in the hooks module).
    pub fn load_from_path(path: impl AsRef<Path>) -> Result<Self, RoutesError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| RoutesError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text).map_err(|error| RoutesError::InFile {
            path: path.to_path_buf(),
            error: Box::new(error),
        })
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Rule names in evaluation order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|rule| rule.name.as_str())
    }

    /// The first rule matching the event, with its rendered command.
    pub(crate) fn route(&self, event: &Event) -> Option<(&Rule, Result<Value, TemplateProblem>)> {
        let context = event.context();
        let rule = self
            .rules
            .iter()
            .find(|rule| rule.matcher.matches(event, &context))?;
        Some((rule, rule.command.render(&context, "command")))
    }
}

impl Rule {
    fn parse(index: usize, item: Yaml) -> Result<Self, RoutesError> {
        let problem = |name: &str, field: &str, message: String| RoutesError::Rule {
            index,
            name: name.to_string(),
            field: field.to_string(),
            message,
        };
        let Yaml::Mapping(mut mapping) = item else {
            return Err(problem(
                "unnamed",
                "rule",
                "expected a mapping with name, match, command".into(),
            ));
        };
        let name = match mapping.get("name") {
            Some(Yaml::String(name)) if !name.trim().is_empty() => name.trim().to_string(),
            Some(Yaml::String(_)) => {
                return Err(problem("unnamed", "name", "must not be empty".into()));
            }
            Some(_) => return Err(problem("unnamed", "name", "expected a string".into())),
            None => {
                return Err(problem(
                    "unnamed",
                    "name",
                    "required field is missing".into(),
                ));
            }
        };
        if let Some(key) = mapping
            .keys()
            .find(|key| !key.as_str().is_some_and(|k| RULE_FIELDS.contains(&k)))
        {
            return Err(problem(
                &name,
                "rule",
                format!(
                    "unknown field {}: expected one of {}",
                    describe_key(key),
                    RULE_FIELDS.join(", ")
                ),
            ));
        }
        let matcher = match mapping.remove("match") {
            Some(Yaml::Mapping(criteria)) => {
                parse_match(criteria).map_err(|(field, message)| problem(&name, &field, message))?
            }
            Some(_) => {
                return Err(problem(
                    &name,
                    "match",
                    "expected a mapping of criteria".into(),
                ));
            }
            None => return Err(problem(&name, "match", "required field is missing".into())),
        };
        let command = match mapping.remove("command") {
            Some(command) => command,
            None => {
                return Err(problem(
                    &name,
                    "command",
                    "required field is missing".into(),
                ));
            }
        };
        let command =
            parse_command(command).map_err(|(field, message)| problem(&name, &field, message))?;
        Ok(Rule {
            name,
            matcher,
            command,
        })
    }
}

type FieldProblem = (String, String);

fn parse_match(mut criteria: serde_yaml_ng::Mapping) -> Result<Matcher, FieldProblem> {
    if let Some(key) = criteria
        .keys()
        .find(|key| !key.as_str().is_some_and(|k| MATCH_FIELDS.contains(&k)))
    {
        return Err((
            "match".into(),
            format!(
                "unknown criterion {}: expected one of {}",
                describe_key(key),
                MATCH_FIELDS.join(", ")
            ),
        ));
    }
    let mut text = |key: &str| -> Result<Option<String>, FieldProblem> {
        match criteria.remove(key) {
            None => Ok(None),
            Some(Yaml::String(value)) if !value.is_empty() => Ok(Some(value)),
            Some(Yaml::String(_)) => Err((format!("match.{key}"), "must not be empty".into())),
            Some(_) => Err((format!("match.{key}"), "expected a string".into())),
        }
    };
    let event_type = text("type")?;
    let subject_prefix = text("subject_prefix")?;
    let source = text("source")?;
    let data = match criteria.remove("data") {
        None | Some(Yaml::Null) => Vec::new(),
        Some(Yaml::Mapping(entries)) => {
            let mut data = Vec::with_capacity(entries.len());
            for (key, value) in entries {
                let Some(key) = key.as_str() else {
                    return Err((
                        "match.data".into(),
                        format!("key {} must be a string path", describe_key(&key)),
                    ));
                };
                let field = format!("match.data.{key}");
                let path = FieldPath::data_key(key).map_err(|message| (field.clone(), message))?;
                let expected = serde_json::to_value(&value).map_err(|error| {
                    (
                        field.clone(),
                        format!("value is not plain JSON data: {error}"),
                    )
                })?;
                data.push((path, expected));
            }
            data
        }
        Some(_) => {
            return Err((
                "match.data".into(),
                "expected a mapping of path: value".into(),
            ));
        }
    };
    let matcher = Matcher {
        event_type,
        subject_prefix,
        source,
        data,
    };
    if matcher.event_type.is_none()
        && matcher.subject_prefix.is_none()
        && matcher.source.is_none()
        && matcher.data.is_empty()
    {
        // A rule that matches everything is almost always a mistake; `type: "*"` says it on purpose.
        return Err((
            "match".into(),
            "needs at least one of type, subject_prefix, source, data (use type: \"*\" to match every event)".into(),
        ));
    }
    Ok(matcher)
}

fn parse_command(command: Yaml) -> Result<Template, FieldProblem> {
    let json = serde_json::to_value(&command).map_err(|error| {
        (
            "command".to_string(),
            format!("not plain JSON data: {error}"),
        )
    })?;
    let Value::Object(object) = json else {
        return Err((
            "command".into(),
            "expected a mapping (a poolbroker/v1 command envelope)".into(),
        ));
    };
    match object.get("kind") {
        Some(Value::String(kind)) if kind.contains("{{") => {
            return Err((
                "command.kind".into(),
                "must be a fixed command kind, not a placeholder".into(),
            ));
        }
        Some(Value::String(kind)) if SENDER_KINDS.contains(&kind.as_str()) => {}
        Some(Value::String(kind)) => {
            return Err((
                "command.kind".into(),
                format!(
                    "unknown kind '{kind}': expected one of {}",
                    SENDER_KINDS.join(", ")
                ),
            ));
        }
        Some(_) => {
            return Err((
                "command.kind".into(),
                "expected a command kind such as SubmitSparkJob".into(),
            ));
        }
        None => return Err(("command.kind".into(), "required field is missing".into())),
    }
    if let Some(key) = object
        .keys()
        .find(|key| !ENVELOPE_FIELDS.contains(&key.as_str()))
    {
        return Err((
            "command".into(),
            format!(
                "unknown field '{key}': expected one of {}",
                ENVELOPE_FIELDS.join(", ")
            ),
        ));
    }
    let envelope = match object.get("apiVersion") {
        Some(Value::String(version)) if version == API_VERSION => object,
        Some(other) => {
            return Err((
                "command.apiVersion".into(),
                format!("expected \"{API_VERSION}\", got {other}"),
            ));
        }
        None => {
            let mut envelope = Map::with_capacity(object.len() + 1);
            envelope.insert("apiVersion".into(), Value::String(API_VERSION.into()));
            envelope.extend(object);
            envelope
        }
    };
    Template::compile(&Value::Object(envelope), "command")
        .map_err(|problem| (problem.field, problem.message))
}

fn describe_key(key: &Yaml) -> String {
    match key.as_str() {
        Some(text) => format!("'{text}'"),
        None => format!("{key:?}"),
    }
}
