//! Command templates: JSON with `{{ path | filter: 'arg' }}` placeholders in string values.
//!
//! Templates are compiled once at startup so every syntax problem surfaces then, not on the
//! first event.

use serde_json::{Map, Value};

use super::path::FieldPath;
use crate::hooks::json::kind_of;

pub(crate) const FILTERS: [&str; 4] = ["after", "before", "basename", "default"];

#[derive(Debug, Clone, PartialEq)]
enum Filter {
    /// Text after the first occurrence of the argument.
    After(String),
    /// Text before the first occurrence of the argument.
    Before(String),
    /// Text after the last `/`.
    Basename,
    /// Replaces a missing or null value.
    Default(String),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Placeholder {
    source: String,
    path: FieldPath,
    filters: Vec<Filter>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Piece {
    Text(String),
    Placeholder(Placeholder),
}

/// A compiled JSON template.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Template {
    Fixed(Value),
    /// A string that is exactly one placeholder: it may yield any JSON value.
    Whole(Placeholder),
    /// A string mixing text and placeholders: always yields a string.
    Text(Vec<Piece>),
    Object(Vec<(String, Template)>),
    Array(Vec<Template>),
}

/// Where a template problem is (`spec.inputs.raw.path`) and what it is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TemplateProblem {
    pub field: String,
    pub message: String,
}

impl Template {
    pub(crate) fn compile(value: &Value, field: &str) -> Result<Self, TemplateProblem> {
        match value {
            Value::String(text) => {
                let pieces = parse_pieces(text).map_err(|message| TemplateProblem {
                    field: field.to_string(),
                    message,
                })?;
                Ok(match pieces.as_slice() {
                    [] => Template::Fixed(Value::String(String::new())),
                    [Piece::Text(text)] => Template::Fixed(Value::String(text.clone())),
                    [Piece::Placeholder(placeholder)] => Template::Whole(placeholder.clone()),
                    _ => Template::Text(pieces),
                })
            }
            Value::Object(object) => object
                .iter()
                .map(|(key, value)| Ok((key.clone(), Template::compile(value, &join(field, key))?)))
                .collect::<Result<_, _>>()
                .map(Template::Object),
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(index, item)| Template::compile(item, &format!("{field}[{index}]")))
                .collect::<Result<_, _>>()
                .map(Template::Array),
            other => Ok(Template::Fixed(other.clone())),
        }
    }

    /// Renders against an event context. Values are inserted as JSON values, never spliced into
    /// JSON text, so quotes or backslashes in event data cannot break the command.
    pub(crate) fn render(&self, context: &Value, field: &str) -> Result<Value, TemplateProblem> {
        match self {
            Template::Fixed(value) => Ok(value.clone()),
            Template::Whole(placeholder) => {
                placeholder
                    .evaluate(context)
                    .map_err(|message| TemplateProblem {
                        field: field.to_string(),
                        message,
                    })
            }
            Template::Text(pieces) => {
                let mut text = String::new();
                for piece in pieces {
                    match piece {
                        Piece::Text(literal) => text.push_str(literal),
                        Piece::Placeholder(placeholder) => {
                            let value = placeholder
                                .evaluate(context)
                                .and_then(|value| placeholder.as_text(value));
                            match value {
                                Ok(part) => text.push_str(&part),
                                Err(message) => {
                                    return Err(TemplateProblem {
                                        field: field.to_string(),
                                        message,
                                    });
                                }
                            }
                        }
                    }
                }
                Ok(Value::String(text))
            }
            Template::Object(entries) => {
                let mut object = Map::new();
                for (key, template) in entries {
                    object.insert(key.clone(), template.render(context, &join(field, key))?);
                }
                Ok(Value::Object(object))
            }
            Template::Array(items) => items
                .iter()
                .enumerate()
                .map(|(index, item)| item.render(context, &format!("{field}[{index}]")))
                .collect::<Result<_, _>>()
                .map(Value::Array),
        }
    }
}

impl Placeholder {
    fn evaluate(&self, context: &Value) -> Result<Value, String> {
        let mut value = self.path.lookup(context).cloned();
        for filter in &self.filters {
            value = match (filter, value) {
                (Filter::Default(fallback), None | Some(Value::Null)) => {
                    Some(Value::String(fallback.clone()))
                }
                (Filter::Default(_), present) => present,
                (_, None) => return Err(self.missing()),
                (filter, Some(Value::String(text))) => {
                    Some(Value::String(apply(filter, &text).ok_or_else(|| {
                        format!(
                            "{}: '{text}' does not contain {}",
                            self.source,
                            match filter {
                                Filter::After(sep) | Filter::Before(sep) => format!("'{sep}'"),
                                _ => "the separator".to_string(),
                            }
                        )
                    })?))
                }
                (filter, Some(other)) => {
                    return Err(format!(
                        "{}: filter {} needs text, but {} is {}",
                        self.source,
                        filter_name(filter),
                        self.path.text(),
                        kind_of(&other)
                    ));
                }
            };
        }
        value.ok_or_else(|| self.missing())
    }

    fn as_text(&self, value: Value) -> Result<String, String> {
        match value {
            Value::String(text) => Ok(text),
            Value::Number(number) => Ok(number.to_string()),
            Value::Bool(flag) => Ok(flag.to_string()),
            other => Err(format!(
                "{}: {} is {}; inside longer text a placeholder must be text, a number or a \
                 boolean",
                self.source,
                self.path.text(),
                kind_of(&other)
            )),
        }
    }

    fn missing(&self) -> String {
        format!(
            "{}: {} is missing in the event",
            self.source,
            self.path.text()
        )
    }
}

fn apply(filter: &Filter, text: &str) -> Option<String> {
    match filter {
        Filter::After(separator) => text
            .find(separator.as_str())
            .map(|index| text[index + separator.len()..].to_string()),
        Filter::Before(separator) => text
            .find(separator.as_str())
            .map(|index| text[..index].to_string()),
        Filter::Basename => Some(text.rsplit('/').next().unwrap_or(text).to_string()),
        Filter::Default(_) => Some(text.to_string()),
    }
}

fn filter_name(filter: &Filter) -> &'static str {
    match filter {
        Filter::After(_) => "after",
        Filter::Before(_) => "before",
        Filter::Basename => "basename",
        Filter::Default(_) => "default",
    }
}

fn join(field: &str, key: &str) -> String {
    if field.is_empty() {
        key.to_string()
    } else {
        format!("{field}.{key}")
    }
}

fn parse_pieces(text: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        if start > 0 {
            pieces.push(Piece::Text(rest[..start].to_string()));
        }
        let inner_start = start + 2;
        let Some(length) = rest[inner_start..].find("}}") else {
            let offset = text.len() - rest.len() + start;
            return Err(format!(
                "unterminated '{{{{' at character {offset} in '{text}': expected a closing '}}}}'"
            ));
        };
        let inner = &rest[inner_start..inner_start + length];
        let source = format!("{{{{{inner}}}}}");
        pieces.push(Piece::Placeholder(parse_placeholder(inner, &source)?));
        rest = &rest[inner_start + length + 2..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest.to_string()));
    }
    Ok(pieces)
}

/// `path ( '|' name ( ':' quoted )? )*`
fn parse_placeholder(inner: &str, source: &str) -> Result<Placeholder, String> {
    let mut cursor = Cursor { text: inner, at: 0 };
    cursor.skip_whitespace();
    let path_text = cursor.take_while(|c| !c.is_whitespace() && c != '|');
    if path_text.is_empty() {
        return Err(format!(
            "empty placeholder '{source}': expected a path such as data.url"
        ));
    }
    let path = FieldPath::placeholder(path_text)?;
    let mut filters = Vec::new();
    loop {
        cursor.skip_whitespace();
        if cursor.done() {
            break;
        }
        if !cursor.eat('|') {
            return Err(format!(
                "'{source}': expected '|' before a filter, found '{}'",
                cursor.remaining()
            ));
        }
        cursor.skip_whitespace();
        let name = cursor.take_while(|c| c.is_ascii_alphanumeric() || c == '_');
        cursor.skip_whitespace();
        let argument = if cursor.eat(':') {
            cursor.skip_whitespace();
            Some(cursor.quoted().ok_or_else(|| {
                format!("'{source}': filter {name} takes a quoted argument like {name}: '/'")
            })?)
        } else {
            None
        };
        let filter = match (name, argument) {
            ("after", Some(arg)) => Filter::After(arg),
            ("before", Some(arg)) => Filter::Before(arg),
            ("default", Some(arg)) => Filter::Default(arg),
            ("basename", None) => Filter::Basename,
            ("basename", Some(_)) => {
                return Err(format!("'{source}': filter basename takes no argument"));
            }
            (known @ ("after" | "before" | "default"), None) => {
                return Err(format!(
                    "'{source}': filter {known} needs an argument, like {known}: '/'"
                ));
            }
            (unknown, _) => {
                return Err(format!(
                    "'{source}': unknown filter '{unknown}': expected one of {}",
                    FILTERS.join(", ")
                ));
            }
        };
        filters.push(filter);
    }
    Ok(Placeholder {
        source: source.to_string(),
        path,
        filters,
    })
}

struct Cursor<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Cursor<'a> {
    fn remaining(&self) -> &'a str {
        &self.text[self.at..]
    }

    fn done(&self) -> bool {
        self.at >= self.text.len()
    }

    fn skip_whitespace(&mut self) {
        self.take_while(char::is_whitespace);
    }

    fn take_while(&mut self, keep: impl Fn(char) -> bool) -> &'a str {
        let rest = self.remaining();
        let length = rest.find(|c: char| !keep(c)).unwrap_or(rest.len());
        self.at += length;
        &rest[..length]
    }

    fn eat(&mut self, expected: char) -> bool {
        if self.remaining().starts_with(expected) {
            self.at += expected.len_utf8();
            true
        } else {
            false
        }
    }

    /// `'…'` or `"…"`; no escapes (use the other quote to embed one).
    fn quoted(&mut self) -> Option<String> {
        let rest = self.remaining();
        let quote = rest.chars().next().filter(|c| *c == '\'' || *c == '"')?;
        let end = rest[1..].find(quote)?;
        self.at += end + 2;
        Some(rest[1..=end].to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(template: Value, context: Value) -> Result<Value, TemplateProblem> {
        Template::compile(&template, "command")?.render(&context, "command")
    }

    #[test]
    fn whole_placeholders_keep_json_types_and_text_is_escaped() {
        let context = json!({"id": "e1", "data": {"n": 3, "obj": {"a": 1}, "q": "say \"hi\"\\"}});
        let rendered = render(
            json!({"n": "{{ data.n }}", "o": "{{data.obj}}", "t": "n={{ data.n }} q={{ data.q }}"}),
            context,
        )
        .unwrap();
        assert_eq!(
            rendered,
            json!({"n": 3, "o": {"a": 1}, "t": "n=3 q=say \"hi\"\\"})
        );
        let text = serde_json::to_string(&rendered).unwrap();
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), rendered);
    }

    #[test]
    fn filters_apply_in_order() {
        let context = json!({"subject": "/blobServices/default/containers/landing/blobs/sales/x.csv", "data": {}});
        let rendered = render(
            json!([
                "{{ subject | after: '/blobServices/default/containers/' | before: '/' }}",
                "{{ subject | basename }}",
                "{{ data.missing | default: 'none' }}",
                "{{ subject | after: \"/blobs/\" }}"
            ]),
            context,
        )
        .unwrap();
        assert_eq!(rendered, json!(["landing", "x.csv", "none", "sales/x.csv"]));
    }

    #[test]
    fn render_problems_name_field_and_placeholder() {
        let context = json!({"id": "e1", "subject": "abc", "data": {"obj": {}, "n": 1}});
        let missing =
            render(json!({"spec": {"path": "{{ data.url }}"}}), context.clone()).unwrap_err();
        assert_eq!(missing.field, "command.spec.path");
        assert_eq!(
            missing.message,
            "{{ data.url }}: data.url is missing in the event"
        );
        let object = render(json!({"x": "a{{ data.obj }}"}), context.clone()).unwrap_err();
        assert!(
            object.message.contains("is an object"),
            "{}",
            object.message
        );
        let no_sep = render(json!(["{{ subject | after: '/' }}"]), context.clone()).unwrap_err();
        assert_eq!(no_sep.field, "command[0]");
        assert!(
            no_sep.message.contains("does not contain '/'"),
            "{}",
            no_sep.message
        );
        let number = render(json!("{{ data.n | basename }}"), context).unwrap_err();
        assert!(number.message.contains("needs text"), "{}", number.message);
    }

    #[test]
    fn compile_problems() {
        let problem = |template: Value| Template::compile(&template, "command").unwrap_err();
        let unterminated = problem(json!({"a": {"b": "x {{ data.url"}}));
        assert_eq!(unterminated.field, "command.a.b");
        assert!(
            unterminated
                .message
                .starts_with("unterminated '{{' at character 2"),
            "{}",
            unterminated.message
        );
        assert!(
            problem(json!("{{ date.url }}"))
                .message
                .contains("unknown placeholder root 'date'")
        );
        assert!(
            problem(json!("{{ subject | upper }}"))
                .message
                .contains("unknown filter 'upper'")
        );
        assert!(
            problem(json!("{{ subject | after }}"))
                .message
                .contains("needs an argument")
        );
        assert!(
            problem(json!("{{ subject | basename: 'x' }}"))
                .message
                .contains("takes no argument")
        );
        assert!(
            problem(json!("{{ subject | after: / }}"))
                .message
                .contains("quoted argument")
        );
        assert!(
            problem(json!("{{ subject after }}"))
                .message
                .contains("expected '|'")
        );
        assert!(
            problem(json!("{{   }}"))
                .message
                .contains("empty placeholder")
        );
    }

    #[test]
    fn plain_strings_and_stray_braces_are_literal() {
        assert_eq!(render(json!("a }} b"), json!({})).unwrap(), json!("a }} b"));
        assert_eq!(render(json!(""), json!({})).unwrap(), json!(""));
        assert_eq!(
            render(json!([1, true, null]), json!({})).unwrap(),
            json!([1, true, null])
        );
    }
}
