//! The event schemas and the code agree on both sides: every sample event validates and the code
//! accepts it; every case of the corpus gets the verdict it expects from the committed schema and
//! from the code's own parsing and validation (`marketplace_contract::verdict`).

mod corpus;

use corpus::Expect;
use marketplace_contract::{check, verdict};

#[test]
fn every_sample_event_and_fixture_validates_and_the_code_accepts_it() {
    let samples = corpus::samples();
    let types: std::collections::BTreeSet<&str> = samples.iter().map(|(_, t, _)| t.as_str()).collect();
    assert_eq!(
        types.len(),
        marketplace_contract::events::DETAIL_TYPES.len(),
        "a sample of every event type: {types:?}"
    );
    for (file, detail_type, detail) in samples.iter().chain(&corpus::fixtures()) {
        if let Err(errors) = check::events().check(detail_type, detail) {
            panic!("{file}: not valid against contract/events/{detail_type}.schema.json:\n  {}", errors.join("\n  "));
        }
        assert!(check::assert_event_agrees(detail_type, detail), "{file}: the code refuses it");
    }
}

#[test]
fn schema_and_code_give_every_case_the_expected_verdict() {
    let mut wrong = Vec::new();
    let cases = corpus::cases();
    for case in &cases {
        let schema = check::events().check(case.detail_type, &case.detail);
        let code = verdict::code(case.detail_type, &case.detail);
        let (schema_ok, code_ok) = (schema.is_ok(), code.is_ok());
        let expected = match case.expect {
            Expect::Accepted => (true, true),
            Expect::Refused => (false, false),
            Expect::CodeOnly(_) => (false, true),
            Expect::SchemaOnly(_) => (true, false),
        };
        if let Expect::SchemaOnly(_) = case.expect {
            assert!(verdict::beyond_json_schema(case.detail_type, &case.detail).is_some(), "{}: named", case.name);
        }
        if (schema_ok, code_ok) != expected {
            wrong.push(format!(
                "{} / {}: expected {:?}; the schema {} ({}), the code {} ({})",
                case.detail_type,
                case.name,
                case.expect,
                if schema_ok { "accepts" } else { "refuses" },
                schema.err().map(|e| e.join("; ")).unwrap_or_default(),
                if code_ok { "accepts" } else { "refuses" },
                code.err().unwrap_or_default(),
            ));
        }
    }
    assert!(wrong.is_empty(), "{} of {} cases:\n{}", wrong.len(), cases.len(), wrong.join("\n"));
    let refused = cases.iter().filter(|c| c.expect == Expect::Refused).count();
    let known = cases.iter().filter(|c| matches!(c.expect, Expect::CodeOnly(_) | Expect::SchemaOnly(_))).count();
    println!("{} cases: {refused} refused by both, {known} known differences", cases.len());
}
