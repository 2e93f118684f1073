//! Breaking changes are caught against the last released contract of the current major version
//! (`contract/released/v<MAJOR>/`, frozen by `./dev contract --release`):
//!
//! - every event of the corpus (samples, fixtures, every case of `corpus/`) that the released
//!   schemas accept, the current ones accept too: the portal never has an event refused that the
//!   released contract promised to take;
//! - every response the handler gives is also described by the released document, read the way
//!   a client should read it (unknown fields ignored) — checked in `tests/api.rs`;
//! - a contract that differs from the released copy carries a higher `x-contract-version`.
//!
//! A change that must refuse what was accepted takes a new major version (`MAJOR`, the `/v<N>/`
//! of every `$id`), released as a new copy; `docs/contract.md` says how.

#[allow(dead_code)] // the corpus module serves tests/events.rs too
mod corpus;

use marketplace_contract::check::Events;
use marketplace_contract::{contract_dir, generated_files, released_dir, MAJOR};

fn version_of(text: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    value["x-contract-version"].as_str().map(str::to_owned)
}

fn parse(version: &str) -> (u32, u32) {
    let (major, minor) = version.split_once('.').unwrap_or((version, "0"));
    (major.parse().unwrap_or_default(), minor.parse().unwrap_or_default())
}

#[test]
fn every_event_the_released_contract_accepts_is_still_accepted() {
    let released = Events::load_released(&released_dir(MAJOR)).unwrap_or_else(|e| {
        panic!("no released copy of major version {MAJOR} ({e}): freeze it with `./dev contract --release`")
    });
    let current = Events::load(&contract_dir()).expect("the committed contract");
    let mut corpus: Vec<(String, String, serde_json::Value)> = corpus::samples();
    corpus.extend(corpus::fixtures());
    corpus.extend(corpus::cases().into_iter().map(|c| (c.name.to_owned(), c.detail_type.to_owned(), c.detail)));
    let mut broken = Vec::new();
    let mut accepted = 0;
    for (name, detail_type, detail) in &corpus {
        if released.check(detail_type, detail).is_err() {
            continue;
        }
        accepted += 1;
        if let Err(errors) = current.check(detail_type, detail) {
            broken.push(format!("{detail_type} / {name}: {}", errors.join("; ")));
        }
    }
    assert!(
        broken.is_empty(),
        "breaking change: the contract now refuses {} event(s) that released version {MAJOR} accepts:\n  {}\n\
         Keep accepting them, or make the change a new major version (crates/contract/src/lib.rs MAJOR; \
         docs/contract.md, \"Versions\").",
        broken.len(),
        broken.join("\n  ")
    );
    assert!(accepted >= 40, "the corpus exercises the released schemas: {accepted} accepted");
}

#[test]
fn a_changed_contract_carries_a_new_version() {
    for (name, generated) in generated_files() {
        let path = released_dir(MAJOR).join(&name);
        let Ok(released) = std::fs::read_to_string(&path) else {
            // A file the release did not have (an event type added since): an addition, which
            // needs a higher version than the release's (its OpenAPI document is always there).
            let anchor = released_dir(MAJOR).join("reports-api.openapi.json");
            let Ok(anchor) = std::fs::read_to_string(&anchor) else {
                panic!("contract/released/v{MAJOR}/ is missing: freeze the release with `./dev contract --release`");
            };
            let (was, now) = (version_of(&anchor).unwrap_or_default(), version_of(&generated).unwrap_or_default());
            assert!(
                parse(&now) > parse(&was),
                "contract/{name} is new since release {was} but is still version {now}: raise MINOR in \
                 crates/contract/src/lib.rs and regenerate with `./dev contract`"
            );
            continue;
        };
        if released == generated {
            continue;
        }
        let (was, now) = (version_of(&released).unwrap_or_default(), version_of(&generated).unwrap_or_default());
        assert!(
            parse(&now) > parse(&was),
            "contract/{name} changed since release {was} but is still version {now}: raise MINOR (compatible) or \
             MAJOR (breaking) in crates/contract/src/lib.rs, regenerate with `./dev contract`, and freeze the \
             release with `./dev contract --release` when it ships"
        );
    }
}
