//! Responses and requests against the reports API's OpenAPI document: the operation a request
//! reaches (or the document's `x-unmatched-requests`), the documented status, media type,
//! required headers and body schema.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use jsonschema::Validator;
use serde_json::{json, Value};

use super::{errors, tally, validator, RESPONSES_CHECKED};
use crate::{contract_dir, OPENAPI_FILE};

/// One response as the client sees it.
#[derive(Debug, Clone)]
pub struct Response<'a> {
    pub status: u16,
    /// `Content-Type`, parameters allowed.
    pub content_type: &'a str,
    /// Header names (any case) and values.
    pub headers: Vec<(String, String)>,
    pub body: &'a Value,
}

/// An OpenAPI document with its validators, built on first use.
pub struct Api {
    document: Value,
    validators: Mutex<HashMap<String, Arc<Validator>>>,
}

enum Reached<'d> {
    Operation { template: &'d str, operation: &'d Value },
    Unmatched(&'static str),
}

impl Api {
    /// The document in `path`.
    pub fn load(path: &Path) -> Result<Api, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let document = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Api::new(document))
    }

    pub fn new(document: Value) -> Api {
        Api { document, validators: Mutex::new(HashMap::new()) }
    }

    /// The same document with every object opened (`additionalProperties: false` dropped): what
    /// a client that ignores unknown fields relies on, for comparing with a released copy.
    pub fn opened(&self) -> Api {
        fn open(value: &mut Value) {
            match value {
                Value::Object(map) => {
                    if map.get("additionalProperties") == Some(&Value::Bool(false)) {
                        map.remove("additionalProperties");
                    }
                    map.values_mut().for_each(open);
                }
                Value::Array(items) => items.iter_mut().for_each(open),
                _ => {}
            }
        }
        let mut document = self.document.clone();
        open(&mut document);
        Api::new(document)
    }

    fn reach(&self, method: &str, path: &str) -> Reached<'_> {
        let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        let paths = self.document["paths"].as_object();
        let matched = paths.into_iter().flatten().find(|(template, _)| {
            let parts: Vec<&str> = template.split('/').collect();
            parts.len() == segments.len()
                && parts.iter().zip(&segments).all(|(p, s)| if p.starts_with('{') { !s.is_empty() } else { p == s })
        });
        match matched {
            None => Reached::Unmatched("unknown-path"),
            Some((template, item)) => match item.get(method.to_ascii_lowercase()) {
                Some(operation) => Reached::Operation { template, operation },
                None => Reached::Unmatched("other-method"),
            },
        }
    }

    /// `schema` (a schema object of the document) with the document's components beside it, so
    /// that its `#/components/...` references resolve.
    fn schema_validator(&self, key: &str, schema: &Value) -> Result<Arc<Validator>, String> {
        let mut validators = self.validators.lock().map_err(|_| "validator cache poisoned".to_owned())?;
        if let Some(v) = validators.get(key) {
            return Ok(Arc::clone(v));
        }
        let mut root = json!({ "$schema": "https://json-schema.org/draft/2020-12/schema", "allOf": [schema] });
        root["components"] = self.document["components"].clone();
        let built = Arc::new(validator(&root)?);
        validators.insert(key.to_owned(), Arc::clone(&built));
        Ok(built)
    }

    fn resolve<'d>(&'d self, value: &'d Value) -> &'d Value {
        match value["$ref"].as_str().and_then(|r| r.strip_prefix('#')) {
            Some(pointer) => self.document.pointer(pointer).unwrap_or(value),
            None => value,
        }
    }

    /// Whether `response` to `method path` is one the document describes: its status, media
    /// type, required headers and body.
    pub fn check_response(&self, method: &str, path: &str, response: &Response<'_>) -> Result<(), String> {
        let status = response.status.to_string();
        let (route, documented) = match self.reach(method, path) {
            Reached::Operation { template, operation } => {
                (format!("{method} {template}"), operation["responses"].get(&status).map(|r| self.resolve(r)))
            }
            Reached::Unmatched(kind) => {
                let documented = self.resolve(&self.document["x-unmatched-requests"][kind]);
                let schema = &documented["content"]["application/problem+json"]["schema"];
                let same = schema["properties"]["status"]["const"].as_u64() == Some(u64::from(response.status));
                (format!("{method} {path} ({kind})"), same.then_some(documented))
            }
        };
        let documented =
            documented.ok_or_else(|| format!("{route}: status {status} is not in the OpenAPI document"))?;
        let media = response.content_type.split(';').next().unwrap_or_default().trim();
        let schema = documented["content"]
            .get(media)
            .map(|c| &c["schema"])
            .ok_or_else(|| format!("{route} {status}: media type {media:?} is not in the OpenAPI document"))?;
        for (name, header) in documented["headers"].as_object().into_iter().flatten() {
            if header["required"] != json!(true) {
                continue;
            }
            let value = response.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v);
            let Some(value) = value else {
                return Err(format!("{route} {status}: the required header {name} is missing"));
            };
            if let Some(expected) = header["schema"]["const"].as_str().filter(|e| e != value) {
                return Err(format!("{route} {status}: header {name} is {value:?}, the document says {expected:?}"));
            }
        }
        let validator = self.schema_validator(&format!("{route} {status} {media}"), schema)?;
        let errors = errors(&validator, response.body);
        if !errors.is_empty() {
            return Err(format!(
                "{route} {status} {media}: the body does not match the OpenAPI document:\n  {}\n{:#}",
                errors.join("\n  "),
                response.body
            ));
        }
        tally(&RESPONSES_CHECKED, &format!("response {route} {status}"));
        Ok(())
    }

    /// Whether a request reaches a documented operation with valid parameters (path and query;
    /// `query` as decoded pairs, in order).
    pub fn check_request(&self, method: &str, path: &str, query: &[(String, String)]) -> Result<(), String> {
        let Reached::Operation { template, operation } = self.reach(method, path) else {
            return Err(format!("{method} {path} is not an operation of the OpenAPI document"));
        };
        let path_values: HashMap<&str, &str> = template
            .split('/')
            .zip(path.trim_end_matches('/').split('/'))
            .filter_map(|(t, v)| Some((t.strip_prefix('{')?.strip_suffix('}')?, v)))
            .collect();
        let mut problems = Vec::new();
        for parameter in operation["parameters"].as_array().into_iter().flatten() {
            let name = parameter["name"].as_str().unwrap_or_default();
            let given: Vec<&str> = match parameter["in"].as_str() {
                Some("path") => path_values.get(name).copied().into_iter().collect(),
                _ => query.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect(),
            };
            match given.as_slice() {
                [] if parameter["required"] == json!(true) => problems.push(format!("`{name}` is required")),
                [] => {}
                [value] => {
                    let schema = self.resolve(&parameter["schema"]);
                    let instance = match schema["type"].as_str() {
                        Some("integer") => value.parse::<i64>().map_or_else(|_| json!(value), |n| json!(n)),
                        _ => json!(value),
                    };
                    let validator = self.schema_validator(&format!("{template} parameter {name}"), schema)?;
                    problems.extend(errors(&validator, &instance).into_iter().map(|e| format!("`{name}` {e}")));
                }
                _ => problems.push(format!("`{name}` is given more than once")),
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(format!("{method} {path}: {}", problems.join("; ")))
        }
    }

    /// Whether verified token claims name a caller as the security scheme requires.
    pub fn check_claims(&self, claims: &Value) -> Result<(), String> {
        let schema = json!({ "$ref": "#/components/schemas/TokenClaims" });
        let errors = errors(&*self.schema_validator("claims", &schema)?, claims);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(format!("the claims name no caller: {}", errors.join("; ")))
        }
    }
}

/// The committed document (`contract/reports-api.openapi.json`).
pub fn api() -> &'static Api {
    static API: OnceLock<Api> = OnceLock::new();
    API.get_or_init(|| {
        Api::load(&contract_dir().join(OPENAPI_FILE))
            .unwrap_or_else(|e| panic!("the committed OpenAPI document: {e} (./dev contract)"))
    })
}

/// Panics unless the committed document describes `response` to `method path`.
pub fn assert_response_documented(method: &str, path: &str, response: &Response<'_>) {
    if let Err(e) = api().check_response(method, path, response) {
        panic!("{e}");
    }
}
