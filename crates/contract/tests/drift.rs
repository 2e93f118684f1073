//! The committed contract (`contract/`) is what the code generates: a changed rule, bound or
//! response without regenerated files fails here, naming the file and the first difference.

use marketplace_contract::{contract_dir, generated_files};
use serde_json::Value;

#[test]
fn the_committed_contract_is_what_the_code_generates() {
    let mut drifted = Vec::new();
    for (name, generated) in generated_files() {
        let path = contract_dir().join(&name);
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed == generated {
            continue;
        }
        let first = match (serde_json::from_str(&committed), serde_json::from_str(&generated)) {
            (Ok(c), Ok(g)) => first_difference("", &c, &g),
            _ => format!("{} committed lines, {} generated", committed.lines().count(), generated.lines().count()),
        };
        drifted.push(format!("contract/{name} ({first})"));
    }
    assert!(
        drifted.is_empty(),
        "the committed contract differs from what the code generates:\n  {}\nRegenerate it with `./dev contract` \
         (cargo run -p marketplace-contract --bin contract), review the diff and, if it changes what is accepted or \
         answered, the version (crates/contract/src/lib.rs, docs/contract.md).",
        drifted.join("\n  ")
    );
}

/// Where two JSON documents first differ, as a JSON pointer with both values.
fn first_difference(at: &str, committed: &Value, generated: &Value) -> String {
    match (committed, generated) {
        (Value::Object(c), Value::Object(g)) => {
            let keys: std::collections::BTreeSet<&String> = c.keys().chain(g.keys()).collect();
            for key in keys {
                let (cv, gv) = (c.get(key).unwrap_or(&Value::Null), g.get(key).unwrap_or(&Value::Null));
                if cv != gv {
                    return first_difference(&format!("{at}/{}", key.replace('~', "~0").replace('/', "~1")), cv, gv);
                }
            }
        }
        (Value::Array(c), Value::Array(g)) if c.len() == g.len() => {
            if let Some(i) = (0..c.len()).find(|&i| c[i] != g[i]) {
                return first_difference(&format!("{at}/{i}"), &c[i], &g[i]);
            }
        }
        _ => {}
    }
    let short = |v: &Value| {
        let text = v.to_string();
        if text.chars().count() > 80 {
            format!("{}…", text.chars().take(80).collect::<String>())
        } else {
            text
        }
    };
    format!("at {at}: committed {}, generated {}", short(committed), short(generated))
}
