//! App settings lookup and `%NAME%` expansion.

use std::collections::BTreeMap;

/// App settings first, then the host's own environment (Azure exposes app settings as
/// environment variables, so both are one namespace there).
#[derive(Debug, Clone)]
pub struct Settings {
    app: BTreeMap<String, String>,
}

impl Settings {
    pub fn new(app: BTreeMap<String, String>) -> Self {
        Self { app }
    }

    pub fn get(&self, name: &str) -> Option<String> {
        if let Some(v) = self.app.get(name) {
            return Some(v.clone());
        }
        // .NET configuration keys are case-insensitive.
        if let Some((_, v)) = self.app.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)) {
            return Some(v.clone());
        }
        std::env::var(name).ok()
    }

    pub fn app_settings(&self) -> &BTreeMap<String, String> {
        &self.app
    }

    /// `Environment.ExpandEnvironmentVariables`: unknown `%NAME%` stay as written.
    pub fn expand_lenient(&self, text: &str) -> String {
        expand(text, |name| self.get(name)).unwrap_or_else(|unresolved| unresolved.1)
    }

    /// Binding expressions (`%Setting%` in schedule, queueName): an unknown name is an error.
    pub fn expand_strict(&self, text: &str) -> Result<String, String> {
        expand(text, |name| self.get(name)).map_err(|(name, _)| {
            format!("'%{name}%' does not resolve to a value: no app setting or environment variable '{name}'")
        })
    }
}

/// Err carries the first unresolved name and the text with unresolved names left as written.
fn expand(text: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, (String, String)> {
    let mut out = String::with_capacity(text.len());
    let mut first_missing = None;
    let mut rest = text;
    while let Some(start) = rest.find('%') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        match after.find('%') {
            Some(end) if end > 0 => {
                let name = &after[..end];
                match lookup(name) {
                    Some(v) => out.push_str(&v),
                    None => {
                        first_missing.get_or_insert_with(|| name.to_owned());
                        out.push('%');
                        out.push_str(name);
                        out.push('%');
                    }
                }
                rest = &after[end + 1..];
            }
            _ => {
                out.push('%');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    match first_missing {
        None => Ok(out),
        Some(name) => Err((name, out)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings::new(BTreeMap::from([
            ("SCHEDULE".to_owned(), "0 */5 * * * *".to_owned()),
            ("Queue".to_owned(), "q1".to_owned()),
        ]))
    }

    #[test]
    fn expands_known_names() {
        let s = settings();
        assert_eq!(s.expand_strict("%SCHEDULE%"), Ok("0 */5 * * * *".into()));
        assert_eq!(
            s.expand_strict("pre-%queue%-post"),
            Ok("pre-q1-post".into())
        );
        assert_eq!(s.expand_lenient("100%"), "100%");
    }

    #[test]
    fn unknown_names_are_kept_or_rejected() {
        let s = settings();
        assert_eq!(
            s.expand_lenient("--x %POOLBROKER_NOPE_UNSET% y"),
            "--x %POOLBROKER_NOPE_UNSET% y"
        );
        let err = s.expand_strict("%POOLBROKER_NOPE_UNSET%").unwrap_err();
        assert!(err.contains("POOLBROKER_NOPE_UNSET"), "{err}");
    }
}
