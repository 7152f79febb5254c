//! Shared machinery for ARM resource ids: exact segment shapes, case-insensitive keywords, and the
//! name rules of each segment. ARM ids are case-insensitive, so equality lower-cases, while the
//! user's spelling is kept for display (the RP echoes ids back in its own casing, see §1.3).

use super::field_error::quote;

/// A malformed ARM id: what was expected, and what is wrong with the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{problem}; expected {what} of the form {shape}")]
pub struct ArmIdError {
    pub what: &'static str,
    pub shape: &'static str,
    pub problem: String,
}

pub(crate) type Check = fn(&str) -> Result<(), String>;

pub(crate) enum Seg {
    /// A keyword, compared case-insensitively (`resourceGroups`, `Microsoft.Synapse`, …).
    Lit(&'static str),
    /// A user-chosen name, with a label for messages and its naming rule.
    Val(&'static str, Check),
}

/// An ARM id: the `/subscriptions/{id}/resourceGroups/{name}/providers/{provider}` prefix every
/// id poolbroker reads shares, then the provider's own segments.
pub(crate) struct Shape {
    pub what: &'static str,
    pub shape: &'static str,
    /// The resource provider namespace (`Microsoft.Synapse`, …).
    pub provider: &'static str,
    /// The segments after the provider.
    pub segs: &'static [Seg],
}

/// The segments before the provider namespace.
const PREFIX: &[Seg] = &[
    Seg::Lit("subscriptions"),
    Seg::Val("subscription id", check_subscription),
    Seg::Lit("resourceGroups"),
    Seg::Val("resource group", check_resource_group),
    Seg::Lit("providers"),
];

impl Shape {
    fn err(&self, problem: String) -> ArmIdError {
        ArmIdError {
            what: self.what,
            shape: self.shape,
            problem,
        }
    }

    /// Returns the value segments in order.
    pub(crate) fn parse<'a>(&self, input: &'a str) -> Result<Vec<&'a str>, ArmIdError> {
        if input.trim() != input {
            return Err(self.err("has leading or trailing whitespace".into()));
        }
        let Some(rest) = input.strip_prefix('/') else {
            return Err(self.err(format!("{} does not start with '/'", quote(input))));
        };
        if rest.ends_with('/') {
            return Err(self.err("must not end with '/'".into()));
        }
        let parts: Vec<&str> = rest.split('/').collect();
        let provider = [Seg::Lit(self.provider)];
        let segs: Vec<&Seg> = PREFIX.iter().chain(&provider).chain(self.segs).collect();
        let mut values = Vec::new();
        for (i, seg) in segs.iter().enumerate() {
            let Some(got) = parts.get(i) else {
                let missing = match seg {
                    Seg::Lit(l) => format!("'{l}'"),
                    Seg::Val(label, _) => format!("the {label}"),
                };
                return Err(self.err(format!("ends after segment {i}; {missing} is missing")));
            };
            match seg {
                Seg::Lit(lit) => {
                    if !got.eq_ignore_ascii_case(lit) {
                        return Err(self.err(format!(
                            "segment {} is {} where '{lit}' was expected",
                            i + 1,
                            quote(got)
                        )));
                    }
                }
                Seg::Val(label, check) => {
                    if got.is_empty() {
                        return Err(self.err(format!("the {label} segment is empty")));
                    }
                    check(got).map_err(|why| {
                        self.err(format!("{label} {} is invalid: {why}", quote(got)))
                    })?;
                    values.push(*got);
                }
            }
        }
        if parts.len() > segs.len() {
            let extra = parts[segs.len()..].join("/");
            return Err(self.err(format!(
                "has unexpected extra segments {}",
                quote(&format!("/{extra}"))
            )));
        }
        Ok(values)
    }
}

pub(crate) fn check_subscription(s: &str) -> Result<(), String> {
    let b = s.as_bytes();
    let ok = b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        });
    if ok {
        Ok(())
    } else {
        Err("must be a GUID like 00000000-0000-0000-0000-000000000000".into())
    }
}

pub(crate) fn check_resource_group(s: &str) -> Result<(), String> {
    let len = s.chars().count();
    if !(1..=90).contains(&len) {
        return Err(format!("must be 1 to 90 characters long; got {len}"));
    }
    // ARM's `[-\w._()]` is a .NET regex, where \w includes Unicode letters and digits.
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '(' | ')')))
    {
        return Err(format!(
            "may contain only letters, digits, '-', '_', '.', '(' and ')'; found '{c}'"
        ));
    }
    if s.ends_with('.') {
        return Err("must not end with '.'".into());
    }
    Ok(())
}

/// Azure ML workspace: `^[a-zA-Z0-9][a-zA-Z0-9_-]{2,32}$`.
pub(crate) fn check_ml_workspace(s: &str) -> Result<(), String> {
    check_word_name(s, 3, 33)
}

/// Letters, digits, '-' and '_', starting with a letter or digit, `min..=max` long: the rule
/// ARM gives Azure ML workspaces and user-assigned identities.
fn check_word_name(s: &str, min: usize, max: usize) -> Result<(), String> {
    let len = s.chars().count();
    if !(min..=max).contains(&len) {
        return Err(format!("must be {min} to {max} characters long; got {len}"));
    }
    if !s.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err("must start with a letter or digit".into());
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_')))
    {
        return Err(format!(
            "may contain only letters, digits, '-' and '_'; found '{c}'"
        ));
    }
    Ok(())
}

/// Synapse workspace (ARM naming rules: 1-50, letters/digits/hyphens, start and end alphanumeric).
/// Upper case is allowed because ARM ids are case-insensitive.
pub(crate) fn check_synapse_workspace(s: &str) -> Result<(), String> {
    let len = s.chars().count();
    if !(1..=50).contains(&len) {
        return Err(format!("must be 1 to 50 characters long; got {len}"));
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
    {
        return Err(format!(
            "may contain only letters, digits and '-'; found '{c}'"
        ));
    }
    if s.starts_with('-') || s.ends_with('-') {
        return Err("must start and end with a letter or digit".into());
    }
    Ok(())
}

/// Synapse Spark pool (ARM naming rules: 1-15, letters and digits, starts with a letter).
pub(crate) fn check_big_data_pool(s: &str) -> Result<(), String> {
    let len = s.chars().count();
    if !(1..=15).contains(&len) {
        return Err(format!("must be 1 to 15 characters long; got {len}"));
    }
    if !s.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Err("must start with a letter".into());
    }
    if let Some(c) = s.chars().find(|c| !c.is_ascii_alphanumeric()) {
        return Err(format!("may contain only letters and digits; found '{c}'"));
    }
    Ok(())
}

/// User-assigned identity (ARM naming rules: 3-128, alphanumerics, '-', '_', starts alphanumeric).
pub(crate) fn check_uai_name(s: &str) -> Result<(), String> {
    check_word_name(s, 3, 128)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guid_check() {
        assert!(check_subscription("00000000-0000-0000-0000-000000000001").is_ok());
        assert!(check_subscription("ABCDEF00-0000-0000-0000-00000000000a").is_ok());
        assert!(check_subscription("{00000000-0000-0000-0000-000000000001}").is_err());
        assert!(check_subscription("000000000000000000000000000000000001").is_err());
        assert!(check_subscription("not-a-guid").is_err());
    }

    #[test]
    fn resource_group_rules() {
        assert!(check_resource_group("poolbroker-demo").is_ok());
        assert!(check_resource_group("rg_(1).x").is_ok());
        assert!(check_resource_group("grüppe").is_ok());
        assert!(
            check_resource_group("rg.")
                .unwrap_err()
                .contains("must not end with '.'")
        );
        assert!(
            check_resource_group("rg 1")
                .unwrap_err()
                .contains("found ' '")
        );
        assert!(
            check_resource_group(&"r".repeat(91))
                .unwrap_err()
                .contains("got 91")
        );
    }

    #[test]
    fn name_rules() {
        assert!(check_ml_workspace("mlw").is_ok());
        assert!(check_ml_workspace("ml").is_err());
        assert!(check_ml_workspace("_mlw").is_err());
        assert!(check_ml_workspace("ml.w").is_err());
        assert!(check_synapse_workspace("syn-demo").is_ok());
        assert!(check_synapse_workspace("syn-").is_err());
        assert!(check_synapse_workspace("syn_demo").is_err());
        assert!(check_big_data_pool("sparkpool1").is_ok());
        assert!(check_big_data_pool("1pool").is_err());
        assert!(check_big_data_pool("spark-pool").is_err());
        assert!(check_big_data_pool("sparkpool123456x").is_err());
        assert!(check_uai_name("uai-etl").is_ok());
        assert!(check_uai_name("uai_reader2").is_ok());
        assert!(check_uai_name("u").is_err());
        assert!(check_uai_name("-uai").is_err());
    }
}
