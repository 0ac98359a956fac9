//! The table of known paths and their methods, read from the OpenAPI document so that the
//! router's fallback can tell "no such path" (404) from "wrong method here" (405).

use utoipa::openapi::OpenApi;

#[derive(Debug, Clone)]
struct Route {
    segments: Vec<Segment>,
    methods: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param,
}

#[derive(Debug, Clone, Default)]
pub struct RouteTable {
    routes: Vec<Route>,
}

impl RouteTable {
    pub fn from_openapi(doc: &OpenApi) -> Self {
        let routes = doc
            .paths
            .paths
            .iter()
            .map(|(path, item)| Route {
                segments: split(path)
                    .map(|s| if s.starts_with('{') { Segment::Param } else { Segment::Literal(s.to_owned()) })
                    .collect(),
                methods: methods_of(item),
            })
            .collect();
        RouteTable { routes }
    }

    /// Adds a path served outside the OpenAPI document (the document itself, the docs UI).
    pub fn with_extra(mut self, path: &str, methods: &[&str]) -> Self {
        self.routes.push(Route {
            segments: split(path).map(|s| Segment::Literal(s.to_owned())).collect(),
            methods: methods.iter().map(|m| (*m).to_owned()).collect(),
        });
        self
    }

    /// The methods allowed on `path`, or `None` when no route has that path.
    pub fn allowed(&self, path: &str) -> Option<Vec<String>> {
        let parts: Vec<&str> = split(path).collect();
        let mut allowed: Vec<String> = self
            .routes
            .iter()
            .filter(|r| matches(&r.segments, &parts))
            .flat_map(|r| r.methods.iter().cloned())
            .collect();
        if allowed.is_empty() {
            return None;
        }
        allowed.sort();
        allowed.dedup();
        Some(allowed)
    }
}

fn split(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|s| !s.is_empty())
}

fn matches(segments: &[Segment], parts: &[&str]) -> bool {
    segments.len() == parts.len()
        && segments.iter().zip(parts).all(|(s, p)| match s {
            Segment::Param => true,
            Segment::Literal(l) => l == p,
        })
}

fn methods_of(item: &utoipa::openapi::PathItem) -> Vec<String> {
    [
        ("GET", item.get.is_some()),
        ("POST", item.post.is_some()),
        ("PUT", item.put.is_some()),
        ("PATCH", item.patch.is_some()),
        ("DELETE", item.delete.is_some()),
    ]
    .into_iter()
    .filter(|(_, present)| *present)
    .map(|(m, _)| m.to_owned())
    .collect()
}
