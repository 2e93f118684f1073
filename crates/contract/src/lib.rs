//! The portal's published contract (issue 21), generated from the code that enforces it:
//!
//! - [`events`]: a JSON Schema (draft 2020-12) of the `detail` of every portal event the
//!   functions accept, built from the field rules the validators check;
//! - [`openapi`]: the reports API's OpenAPI 3.1 document, built from the function's routes,
//!   parameters, bounds, problem types and claims;
//! - [`check`]: validation against the committed files (`contract/`), which the tests use on
//!   every sample event, every event they send and every reports-API response they receive;
//! - [`verdict`]: what the code itself says of an event's shape, to compare with the schema.
//!
//! `cargo run -p marketplace-contract --bin contract` (`./dev contract`) writes the files;
//! `tests/drift.rs` fails when the committed files differ from what the code generates.
//! Versions: [`MAJOR`] is in every `$id` (`/v1/`), `x-contract-version` is `MAJOR.MINOR`;
//! `contract/released/v<MAJOR>/` is the last released copy (see `docs/contract.md`).

pub mod check;
pub mod events;
pub mod openapi;
pub mod patterns;
pub mod verdict;

use std::path::{Path, PathBuf};

/// The contract's major version: a change that refuses an event the released contract accepted
/// (or answers what the released document does not describe) needs a new major version.
pub const MAJOR: u32 = 1;
/// The minor version: compatible changes since the major version was released.
pub const MINOR: u32 = 1;

/// Where the schemas' `$id`s live.
pub const ID_BASE: &str = "https://marketplace.example.com/contract";

/// `MAJOR.MINOR`.
pub fn version() -> String {
    format!("{MAJOR}.{MINOR}")
}

/// The repository's `contract/` folder.
pub fn contract_dir() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.ancestors().nth(2).unwrap_or(manifest).join("contract")
}

/// The released copy of major version `major`.
pub fn released_dir(major: u32) -> PathBuf {
    contract_dir().join("released").join(format!("v{major}"))
}

/// The OpenAPI document's file, relative to `contract/`.
pub const OPENAPI_FILE: &str = "reports-api.openapi.json";

/// Every contract file the code generates: (path relative to `contract/`, content).
pub fn generated_files() -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> =
        events::DETAIL_TYPES.iter().filter_map(|t| Some((events::file_name(t), pretty(&events::schema(t)?)))).collect();
    files.push((OPENAPI_FILE.to_owned(), pretty(&openapi::document())));
    files
}

/// The top-level keys a reader looks for first, in this order (the rest follow alphabetically).
const LEADING_KEYS: [&str; 12] = [
    "$schema",
    "$id",
    "openapi",
    "title",
    "info",
    "description",
    "x-contract-version",
    "x-detail-type",
    "x-source",
    "servers",
    "security",
    "paths",
];

/// JSON as committed: two-space indents, the top-level keys a reader looks for first
/// ([`LEADING_KEYS`]) then the others alphabetically, nested keys alphabetically, a final newline.
pub fn pretty(value: &serde_json::Value) -> String {
    let Some(object) = value.as_object() else {
        return serde_json::to_string_pretty(value).unwrap_or_default() + "\n";
    };
    let rank = |key: &str| LEADING_KEYS.iter().position(|k| *k == key).unwrap_or(LEADING_KEYS.len());
    let mut keys: Vec<&String> = object.keys().collect();
    keys.sort_by_key(|k| (rank(k), k.as_str()));
    let members: Vec<String> = keys
        .iter()
        .map(|key| {
            let inner = serde_json::to_string_pretty(&object[key.as_str()]).unwrap_or_default().replace('\n', "\n  ");
            format!("  {}: {inner}", serde_json::Value::from(key.as_str()))
        })
        .collect();
    format!("{{\n{}\n}}\n", members.join(",\n"))
}
