//! ASP.NET-style route templates as function.json `route` uses them: literals (matched
//! case-insensitively), `{name}`, `{name?}`, `{name:constraint}`, `{*rest}`.

use indexmap::IndexMap;

#[derive(Debug, Clone)]
pub struct RouteTemplate {
    text: String,
    segments: Vec<Segment>,
}

#[derive(Debug, Clone)]
enum Segment {
    Literal(String),
    Param {
        name: String,
        optional: bool,
        catch_all: bool,
        constraint: Option<String>,
    },
}

impl RouteTemplate {
    pub fn parse(text: &str) -> Result<Self, String> {
        let trimmed = text.trim().trim_matches('/');
        let mut segments = Vec::new();
        let parts: Vec<&str> = if trimmed.is_empty() {
            Vec::new()
        } else {
            trimmed.split('/').collect()
        };
        for (i, part) in parts.iter().enumerate() {
            if part.is_empty() {
                return Err(format!("route {text:?} has an empty segment"));
            }
            if let Some(inner) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                let (inner, catch_all) = match inner.strip_prefix('*') {
                    Some(rest) => (rest.trim_start_matches('*'), true),
                    None => (inner, false),
                };
                let (inner, optional) = match inner.strip_suffix('?') {
                    Some(rest) => (rest, true),
                    None => (inner, false),
                };
                let (name, constraint) = match inner.split_once(':') {
                    Some((n, c)) => (n, Some(c.to_ascii_lowercase())),
                    None => (inner, None),
                };
                if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
                    return Err(format!("route {text:?}: invalid parameter {part:?}"));
                }
                if catch_all && i + 1 != parts.len() {
                    return Err(format!(
                        "route {text:?}: a catch-all parameter must be last"
                    ));
                }
                segments.push(Segment::Param {
                    name: name.to_owned(),
                    optional,
                    catch_all,
                    constraint,
                });
            } else if part.contains('{') || part.contains('}') {
                return Err(format!(
                    "route {text:?}: segment {part:?} mixes text and parameters, which the local host does not support"
                ));
            } else {
                segments.push(Segment::Literal((*part).to_owned()));
            }
        }
        Ok(Self {
            text: trimmed.to_owned(),
            segments,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Route values when `path` (already split, percent-decoded) matches.
    pub fn matches(&self, path: &[String]) -> Option<IndexMap<String, String>> {
        let mut values = IndexMap::new();
        let mut i = 0;
        for segment in &self.segments {
            match segment {
                Segment::Literal(lit) => {
                    if !path.get(i).is_some_and(|p| p.eq_ignore_ascii_case(lit)) {
                        return None;
                    }
                    i += 1;
                }
                Segment::Param {
                    name,
                    optional,
                    catch_all,
                    constraint,
                } => {
                    if *catch_all {
                        values.insert(name.clone(), path[i.min(path.len())..].join("/"));
                        i = path.len();
                        continue;
                    }
                    match path.get(i) {
                        Some(value) => {
                            if !satisfies(constraint.as_deref(), value) {
                                return None;
                            }
                            values.insert(name.clone(), value.clone());
                            i += 1;
                        }
                        None if *optional => {}
                        None => return None,
                    }
                }
            }
        }
        (i == path.len()).then_some(values)
    }
}

fn satisfies(constraint: Option<&str>, value: &str) -> bool {
    match constraint {
        Some("int") | Some("long") => value.parse::<i64>().is_ok(),
        Some("guid") => uuid::Uuid::parse_str(value).is_ok(),
        Some("bool") => value.eq_ignore_ascii_case("true") || value.eq_ignore_ascii_case("false"),
        Some("alpha") => value.chars().all(|c| c.is_ascii_alphabetic()),
        _ => true,
    }
}

/// Splits a raw URL path into percent-decoded segments.
pub fn split_path(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push(hi << 4 | lo);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segs(p: &str) -> Vec<String> {
        split_path(p)
    }

    #[test]
    fn literal_and_params() {
        let r = RouteTemplate::parse("hooks/{source}").unwrap();
        let v = r.matches(&segs("/Hooks/github")).unwrap();
        assert_eq!(v.get("source").map(String::as_str), Some("github"));
        assert!(r.matches(&segs("/hooks")).is_none());
        assert!(r.matches(&segs("/hooks/a/b")).is_none());
    }

    #[test]
    fn optional_catch_all_and_constraints() {
        let r = RouteTemplate::parse("items/{id:int}/{name?}").unwrap();
        assert!(r.matches(&segs("items/12")).is_some());
        assert!(r.matches(&segs("items/x")).is_none());
        let r = RouteTemplate::parse("files/{*rest}").unwrap();
        let v = r.matches(&segs("files/a/b%20c")).unwrap();
        assert_eq!(v.get("rest").map(String::as_str), Some("a/b c"));
        assert!(RouteTemplate::parse("a/{*rest}/b").is_err());
    }
}
