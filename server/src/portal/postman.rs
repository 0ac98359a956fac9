//! The Postman collection (format v2.1), generated from the OpenAPI document the server
//! serves, so the two cannot drift apart: one request per operation, grouped by tag, with
//! `{{baseUrl}}` and `{{apiKey}}` variables and example bodies built from the schemas.

use serde_json::{Map, Value, json};

const SCHEMA: &str = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json";
const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// Checks every response: no server error, and a JSON answer carries the `ok` envelope. It
/// also keeps the ids an answer returns (`request_id`, `webhook.id` …) for later requests.
const TEST_SCRIPT: &[&str] = &[
    "pm.test(\"answered without a server error\", function () {",
    "    pm.expect(pm.response.code).to.be.below(500);",
    "});",
    "if ((pm.response.headers.get(\"Content-Type\") || \"\").indexOf(\"application/json\") === 0) {",
    "    var body = pm.response.json();",
    "    pm.test(\"the answer carries the ok envelope\", function () {",
    "        pm.expect(body.ok).to.equal(pm.response.code < 400);",
    "    });",
    "    // Never device_id: a later DELETE /v1/devices/{device_id} would unpair a real phone.",
    "    [\"request_id\", \"otp_id\", \"batch_id\", \"webhook_id\", \"recipient_id\", \"delivery_id\", \"key_id\"].forEach(function (name) {",
    "        var value = body[name], object = body[name.replace(/_id$/, \"\")];",
    "        if (typeof value === \"string\") pm.collectionVariables.set(name, value);",
    "        else if (object && typeof object.id === \"string\") pm.collectionVariables.set(name, object.id);",
    "    });",
    "}",
];

pub fn collection(doc: &utoipa::openapi::OpenApi, base_url: &str) -> Value {
    let doc = serde_json::to_value(doc).unwrap_or(Value::Null);
    let schemas = doc.pointer("/components/schemas").cloned().unwrap_or(Value::Null);
    let mut folders: Vec<(String, Vec<Value>)> = Vec::new();
    let mut path_vars: Vec<String> = Vec::new();
    for (path, ops) in doc["paths"].as_object().into_iter().flatten() {
        for (method, op) in ops.as_object().into_iter().flatten() {
            if !METHODS.contains(&method.as_str()) {
                continue;
            }
            let tag = op["tags"][0].as_str().unwrap_or("other").to_owned();
            let item = request(path, method, op, &schemas, &mut path_vars);
            match folders.iter_mut().find(|(t, _)| *t == tag) {
                Some((_, items)) => items.push(item),
                None => folders.push((tag, vec![item])),
            }
        }
    }
    let mut variables = vec![
        json!({"key": "baseUrl", "value": base_url, "type": "string"}),
        json!({"key": "apiKey", "value": "", "type": "string", "description": "An API key (rk_live_…) from the console."}),
        json!({"key": "deviceToken", "value": "", "type": "string", "description": "A phone's device token (device link only)."}),
    ];
    variables
        .extend(path_vars.iter().map(|name| json!({"key": name, "value": placeholder_id(name), "type": "string"})));
    json!({
        "info": {
            "name": "Relay API",
            "description": doc["info"]["description"].as_str().unwrap_or("Relay's HTTP API."),
            "schema": SCHEMA,
        },
        "auth": {"type": "bearer", "bearer": [{"key": "token", "value": "{{apiKey}}", "type": "string"}]},
        "event": [{"listen": "test", "script": {"type": "text/javascript", "exec": TEST_SCRIPT}}],
        "variable": variables,
        "item": folders.into_iter().map(|(name, item)| json!({"name": name, "item": item})).collect::<Vec<_>>(),
    })
}

/// A path variable's starting value: an id of the right kind that matches nothing.
fn placeholder_id(name: &str) -> String {
    let prefix = match name {
        "request_id" => "req",
        "otp_id" => "otp",
        "batch_id" => "bat",
        "device_id" => "dev",
        "key_id" => "key",
        "webhook_id" => "whk",
        "delivery_id" => "whd",
        "recipient_id" => "rcp",
        _ => "id",
    };
    format!("{prefix}_01J0000000000000000000000Z")
}

fn request(path: &str, method: &str, op: &Value, schemas: &Value, path_vars: &mut Vec<String>) -> Value {
    let params = op["parameters"].as_array().cloned().unwrap_or_default();
    let segments: Vec<String> = path
        .trim_start_matches('/')
        .split('/')
        .map(|s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(name) => format!(":{name}"),
            None => s.to_owned(),
        })
        .collect();
    let variables: Vec<Value> = params
        .iter()
        .filter(|p| p["in"] == "path")
        .filter_map(|p| p["name"].as_str())
        .map(|name| {
            if !path_vars.iter().any(|v| v == name) {
                path_vars.push(name.to_owned());
            }
            json!({"key": name, "value": format!("{{{{{name}}}}}")})
        })
        .collect();
    let query: Vec<Value> = params
        .iter()
        .filter(|p| p["in"] == "query")
        .map(|p| json!({"key": p["name"], "value": "", "disabled": true, "description": p["description"]}))
        .collect();
    let mut headers: Vec<Value> = params
        .iter()
        .filter(|p| p["in"] == "header")
        .map(|p| json!({"key": p["name"], "value": "", "disabled": true, "description": p["description"]}))
        .collect();
    let mut req = Map::new();
    req.insert("method".into(), json!(method.to_uppercase()));
    if let Some((content_type, body)) = body(op, schemas) {
        headers.push(json!({"key": "Content-Type", "value": content_type}));
        let language = if content_type == "application/json" { "json" } else { "text" };
        req.insert("body".into(), json!({"mode": "raw", "raw": body, "options": {"raw": {"language": language}}}));
    }
    req.insert("header".into(), json!(headers));
    req.insert(
        "url".into(),
        json!({
            "raw": format!("{{{{baseUrl}}}}/{}", segments.join("/")),
            "host": ["{{baseUrl}}"],
            "path": segments,
            "query": query,
            "variable": variables,
        }),
    );
    if let Some(auth) = auth(op) {
        req.insert("auth".into(), auth);
    }
    if let Some(description) = op["description"].as_str() {
        req.insert("description".into(), json!(description));
    }
    let name = op["summary"].as_str().map_or_else(|| format!("{} {path}", method.to_uppercase()), str::to_owned);
    json!({"name": name, "request": req})
}

/// Public operations need no key; the device link takes a device token; the rest inherit
/// the collection's `Bearer {{apiKey}}`.
fn auth(op: &Value) -> Option<Value> {
    let schemes: Vec<&str> = op["security"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_object()?.keys().next())
        .map(String::as_str)
        .collect();
    if schemes.is_empty() {
        Some(json!({"type": "noauth"}))
    } else if schemes == ["device_token"] {
        Some(json!({"type": "bearer", "bearer": [{"key": "token", "value": "{{deviceToken}}", "type": "string"}]}))
    } else {
        None
    }
}

/// The request body's content type and an example: the documented example, else one built
/// from the schema (required fields, and optional ones that carry an example).
fn body(op: &Value, schemas: &Value) -> Option<(String, String)> {
    let content = op.pointer("/requestBody/content")?.as_object()?;
    let (content_type, media) = content.iter().next()?;
    let example = media.get("example").cloned().unwrap_or_else(|| example_of(&media["schema"], schemas, 0));
    let text = match example {
        Value::String(s) if content_type != "application/json" => s,
        other => serde_json::to_string_pretty(&other).unwrap_or_default(),
    };
    Some((content_type.clone(), text))
}

fn example_of(schema: &Value, schemas: &Value, depth: usize) -> Value {
    if depth > 8 {
        return Value::Null;
    }
    if let Some(example) = schema.get("example") {
        return example.clone();
    }
    if let Some(name) = schema["$ref"].as_str().and_then(|r| r.strip_prefix("#/components/schemas/")) {
        return example_of(&schemas[name], schemas, depth + 1);
    }
    for key in ["allOf", "oneOf", "anyOf"] {
        if let Some(first) = schema[key].as_array().and_then(|v| v.iter().find(|s| s["type"] != "null")) {
            return example_of(first, schemas, depth + 1);
        }
    }
    if let Some(first) = schema["enum"].as_array().and_then(|v| v.first()) {
        return first.clone();
    }
    let ty = match &schema["type"] {
        Value::String(t) => t.as_str(),
        Value::Array(types) => types.iter().filter_map(Value::as_str).find(|t| *t != "null").unwrap_or("null"),
        _ if schema.get("properties").is_some() => "object",
        _ => "null",
    };
    match ty {
        "object" => {
            let required: Vec<&str> =
                schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            let mut out = Map::new();
            for (name, prop) in schema["properties"].as_object().into_iter().flatten() {
                if required.contains(&name.as_str()) || prop.get("example").is_some() {
                    out.insert(name.clone(), example_of(prop, schemas, depth + 1));
                }
            }
            Value::Object(out)
        }
        "array" => json!([example_of(&schema["items"], schemas, depth + 1)]),
        "string" => json!("string"),
        "integer" | "number" => schema.get("minimum").cloned().unwrap_or(json!(1)),
        "boolean" => json!(false),
        _ => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schema_without_examples_still_gets_its_required_fields() {
        let schema = json!({"type": "object", "required": ["to"], "properties": {
            "to": {"type": "string"}, "ttl": {"type": ["integer", "null"]}, "kind": {"enum": ["a", "b"], "example": "b"}}});
        assert_eq!(example_of(&schema, &Value::Null, 0), json!({"to": "string", "kind": "b"}));
    }
}
