//! Validation against the committed contract (`contract/`): the event schemas ([`Events`]) and
//! the reports API's OpenAPI document ([`api::Api`]), for the tests. Formats (`date`,
//! `date-time`, `uri`) are asserted, as the contract asks of the portal's own validators.
//!
//! Every check is counted ([`counts`]); with `CONTRACT_CHECK_LOG=<file>` each is also appended
//! to that file as one line, so a whole `cargo test` run can be tallied.

pub mod api;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use jsonschema::Validator;
use serde_json::Value;

use crate::{contract_dir, events, verdict};

static EVENTS_CHECKED: AtomicUsize = AtomicUsize::new(0);
static RESPONSES_CHECKED: AtomicUsize = AtomicUsize::new(0);

/// (event details, API responses) checked so far in this process.
pub fn counts() -> (usize, usize) {
    (EVENTS_CHECKED.load(Ordering::Relaxed), RESPONSES_CHECKED.load(Ordering::Relaxed))
}

fn tally(counter: &AtomicUsize, line: &str) {
    counter.fetch_add(1, Ordering::Relaxed);
    if let Some(path) = std::env::var_os("CONTRACT_CHECK_LOG") {
        if let Ok(mut file) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
            // One write per line: appends from tests running in parallel do not interleave.
            let _ = file.write_all(format!("{line}\n").as_bytes());
        }
    }
}

/// A validator for `schema`, formats asserted.
pub fn validator(schema: &Value) -> Result<Validator, String> {
    jsonschema::options().should_validate_formats(true).build(schema).map_err(|e| format!("not a valid schema: {e}"))
}

/// Every way `instance` fails `validator`, one line each with the failing location.
pub fn errors(validator: &Validator, instance: &Value) -> Vec<String> {
    validator.iter_errors(instance).map(|e| format!("at `{}`: {e}", e.instance_path())).collect()
}

/// The event schemas of one contract folder, by detail type.
pub struct Events {
    validators: BTreeMap<String, Validator>,
}

impl Events {
    /// The schemas in `dir` (`<dir>/events/<detail-type>.schema.json`).
    pub fn load(dir: &Path) -> Result<Events, String> {
        Self::load_types(dir, false)
    }

    /// The schemas a released copy in `dir` has: an event type added since that release has none
    /// there (the release promised nothing about it), and [`Events::check`] says so.
    pub fn load_released(dir: &Path) -> Result<Events, String> {
        Self::load_types(dir, true)
    }

    fn load_types(dir: &Path, skip_missing: bool) -> Result<Events, String> {
        let mut validators = BTreeMap::new();
        for detail_type in events::DETAIL_TYPES {
            let path = dir.join(events::file_name(detail_type));
            if skip_missing && !path.exists() {
                continue;
            }
            let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let schema: Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
            validators
                .insert(detail_type.to_owned(), validator(&schema).map_err(|e| format!("{}: {e}", path.display()))?);
        }
        Ok(Events { validators })
    }

    /// `Ok` when `detail` is valid for `detail_type`, otherwise every violation.
    pub fn check(&self, detail_type: &str, detail: &Value) -> Result<(), Vec<String>> {
        let validator =
            self.validators.get(detail_type).ok_or_else(|| vec![format!("no schema for {detail_type:?} events")])?;
        let errors = errors(validator, detail);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

/// The committed event schemas (`contract/events/`).
pub fn events() -> &'static Events {
    static EVENTS: OnceLock<Events> = OnceLock::new();
    EVENTS.get_or_init(|| {
        Events::load(&contract_dir()).unwrap_or_else(|e| panic!("the committed event schemas: {e} (./dev contract)"))
    })
}

/// Asserts that the committed schema and the code agree on `detail`: both accept it or both
/// refuse it. Returns whether it was accepted.
pub fn assert_event_agrees(detail_type: &str, detail: &Value) -> bool {
    let schema = events().check(detail_type, detail);
    let code = verdict::code(detail_type, detail);
    match (&schema, &code) {
        (Ok(()), Err(_)) if verdict::beyond_json_schema(detail_type, detail).is_some() => {}
        (Ok(()), Err(reason)) => panic!(
            "contract/events/{detail_type}.schema.json accepts a detail the code refuses ({reason}):\n{detail:#}"
        ),
        (Err(errors), Ok(())) => panic!(
            "contract/events/{detail_type}.schema.json refuses a detail the code accepts:\n  {}\n{detail:#}",
            errors.join("\n  ")
        ),
        _ => {}
    }
    let accepted = code.is_ok();
    tally(&EVENTS_CHECKED, &format!("event {detail_type} {}", if accepted { "accepted" } else { "refused" }));
    accepted
}

/// The portal events in an SQS event (`Records[].body`, each an EventBridge event): their
/// (detail type, detail), for the types a function accepts from the portal.
pub fn portal_events_in_sqs(sqs: &Value) -> Vec<(String, Value)> {
    let records = sqs["Records"].as_array().map(Vec::as_slice).unwrap_or_default();
    records.iter().filter_map(|r| serde_json::from_str(r["body"].as_str()?).ok()).filter_map(portal_event).collect()
}

/// (detail type, detail) of an EventBridge event from the portal of a type a function accepts.
pub fn portal_event(event: Value) -> Option<(String, Value)> {
    let detail_type = event["detail-type"].as_str()?;
    let ours =
        event["source"] == marketplace_portal::event::PORTAL_SOURCE && events::DETAIL_TYPES.contains(&detail_type);
    ours.then(|| (detail_type.to_owned(), event["detail"].clone()))
}
