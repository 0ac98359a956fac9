//! `{{name}}` and `{{var}}` in a bulk message's text.

use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Var(String),
}

/// A message text cut at its placeholders once, rendered once per recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

impl Template {
    /// `{{ key }}` is a placeholder (spaces inside optional); anything else, an unclosed `{{`
    /// included, is text.
    pub fn parse(text: &str) -> Template {
        let mut parts = Vec::new();
        let mut rest = text;
        let mut literal = String::new();
        while let Some(start) = rest.find("{{") {
            let after = &rest[start + 2..];
            let Some(end) = after.find("}}") else { break };
            let key = after[..end].trim();
            if key.is_empty() || !key.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-' || c == '.') {
                literal.push_str(&rest[..start + 2]);
                rest = after;
                continue;
            }
            literal.push_str(&rest[..start]);
            if !literal.is_empty() {
                parts.push(Part::Text(std::mem::take(&mut literal)));
            }
            parts.push(Part::Var(key.to_owned()));
            rest = &after[end + 2..];
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        Template { parts }
    }

    /// True when the text has no placeholder: every recipient gets the same text.
    pub fn is_static(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Text(_)))
    }

    /// The text for one recipient. `name` fills `{{name}}` unless `vars` has its own `name`.
    /// Err names the first placeholder with no value.
    pub fn render(&self, name: Option<&str>, vars: Option<&Map<String, Value>>) -> Result<String, String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Var(key) => {
                    let value = match vars.and_then(|v| v.get(key)) {
                        Some(Value::String(s)) => s.clone(),
                        Some(Value::Number(n)) => n.to_string(),
                        Some(Value::Bool(b)) => b.to_string(),
                        Some(_) => return Err(key.clone()),
                        None if key == "name" => name.map(str::to_owned).ok_or_else(|| key.clone())?,
                        None => return Err(key.clone()),
                    };
                    out.push_str(&value);
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn placeholders_take_the_name_and_vars() {
        let t = Template::parse("Hi {{ name }}, order {{order}} ships {{day}}. {{ }} {{x");
        let vars = json!({"order": 1043, "day": "today"});
        assert_eq!(t.render(Some("Ali"), vars.as_object()).unwrap(), "Hi Ali, order 1043 ships today. {{ }} {{x");
        assert_eq!(t.render(None, vars.as_object()).unwrap_err(), "name");
        assert_eq!(t.render(Some("Ali"), None).unwrap_err(), "order");
        assert!(!t.is_static());
        assert!(Template::parse("Plain {text}").is_static());
        assert_eq!(Template::parse("محمد {{name}}!").render(Some("علی"), None).unwrap(), "محمد علی!");
    }
}
