//! The fast path of the export source: one DynamoDB-JSON export line straight into a typed
//! [`DeploymentLog`], borrowing every string from the line (no attribute map is built).
//!
//! It accepts only the common case — every contract attribute present with its exact
//! DynamoDB type and a valid value — and applies the contract's checks in the same functions
//! as [`super::record`]. Anything else (a missing or wrongly typed attribute, a `NULL`, a value
//! out of range, a line that is not JSON) returns `None`, and the caller takes the general
//! path ([`super::attribute::parse_export_line`] + [`super::record::parse_deployment_log`]),
//! which names the reason. So both paths count exactly the same logs with the same values;
//! `tests::fast_and_general_paths_agree` checks it on every kind of reject.
//!
//! In front of the serde path sits [`scan_export_line`], a hand-written scanner for the export
//! line's fixed shape (`{"Item": {"name": {"S"|"N": "text"}, ..., "errors": {"L": [{"M":
//! {...}}]}}}`, any key order, any JSON whitespace). It gives up (`None`) on anything else — an
//! escape sequence, a nested value in an attribute it does not know, a duplicate key, a
//! missing attribute — and the line then takes the serde path, so it only ever speeds up lines
//! whose outcome the serde path would have given too (`scanner_agrees_with_serde` checks it on
//! generated lines, escapes, unicode, missing and reordered keys included).

use std::borrow::Cow;

use serde::Deserialize;

use super::record::{check_valid, check_valid_ref, DeploymentLog, RawErrorEntry, RawLog, ValidLog};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct S<'a> {
    #[serde(rename = "S", borrow)]
    s: Cow<'a, str>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct N<'a> {
    #[serde(rename = "N", borrow)]
    n: Cow<'a, str>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ErrorEntry<'a> {
    #[serde(borrow)]
    code: S<'a>,
    #[serde(borrow)]
    message: S<'a>,
    #[serde(borrow)]
    at: S<'a>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct M<'a> {
    #[serde(rename = "M", borrow)]
    m: ErrorEntry<'a>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct L<'a> {
    #[serde(rename = "L", borrow)]
    l: Vec<M<'a>>,
}

#[derive(Deserialize)]
struct Log<'a> {
    #[serde(borrow)]
    deployment_id: S<'a>,
    #[serde(borrow)]
    provider_id: S<'a>,
    #[serde(borrow)]
    product_id: S<'a>,
    #[serde(borrow)]
    product_name: S<'a>,
    #[serde(borrow)]
    customer_alias: S<'a>,
    #[serde(borrow)]
    started_at: S<'a>,
    #[serde(borrow)]
    finished_at: S<'a>,
    #[serde(borrow)]
    status: S<'a>,
    #[serde(borrow)]
    errors: L<'a>,
    #[serde(borrow)]
    billing_model: S<'a>,
    #[serde(borrow)]
    quantity: N<'a>,
    #[serde(borrow)]
    unit_price: N<'a>,
    #[serde(borrow)]
    currency: S<'a>,
    #[serde(borrow)]
    provider_share: N<'a>,
}

/// One export line in the fast path's shape (borrowing from the line). Any serde JSON parser
/// can produce it; [`parse_valid_export_line`] uses `serde_json`, the job a SIMD parser.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportLineRef<'a> {
    #[serde(rename = "Item", borrow)]
    item: Log<'a>,
}

/// The log of a valid export line, or `None` when the line needs the general path.
pub fn parse_valid_export_line(line: &str) -> Option<DeploymentLog> {
    valid_log(serde_json::from_str(line).ok()?)
}

/// The log of a parsed export line, or `None` when it breaks the contract (the general path
/// then names the reason).
pub fn valid_log(line: ExportLineRef<'_>) -> Option<DeploymentLog> {
    let l = line.item;
    let errors: Vec<RawErrorEntry<'_>> = l
        .errors
        .l
        .iter()
        .map(|e| RawErrorEntry { code: &e.m.code.s, message: &e.m.message.s, at: &e.m.at.s })
        .collect();
    check_valid(&RawLog {
        deployment_id: &l.deployment_id.s,
        provider_id: &l.provider_id.s,
        product_id: &l.product_id.s,
        product_name: &l.product_name.s,
        customer_alias: &l.customer_alias.s,
        started_at: &l.started_at.s,
        finished_at: &l.finished_at.s,
        status: &l.status.s,
        errors: &errors,
        billing_model: &l.billing_model.s,
        quantity: &l.quantity.n,
        unit_price: &l.unit_price.n,
        currency: &l.currency.s,
        provider_share: &l.provider_share.n,
    })
    .ok()
}

/// The log of a line the scanner takes, borrowing its text from the line (and from `scratch`,
/// where text with escape sequences is decoded); `None` when the scanner gives up or the line
/// breaks the contract: then take [`parse_valid_export_line`] and the general path.
pub fn scan_valid_export_line<'a>(line: &'a str, scratch: &'a mut String) -> Option<ValidLog<'a>> {
    scratch.clear();
    let mut fields = [Span::Line(0, 0); FIELDS.len()];
    let mut entries: Vec<[Span; 3]> = Vec::new();
    scan_export_line(line, scratch, &mut fields, &mut entries)?;
    let scratch: &'a String = scratch;
    let text = |span: Span| -> &'a str {
        match span {
            Span::Line(from, to) => line.get(from..to).unwrap_or_default(),
            Span::Scratch(from, to) => scratch.get(from..to).unwrap_or_default(),
        }
    };
    let errors: Vec<RawErrorEntry<'a>> =
        entries.iter().map(|e| RawErrorEntry { code: text(e[0]), message: text(e[1]), at: text(e[2]) }).collect();
    let f = fields.map(text);
    check_valid_ref(&RawLog {
        deployment_id: f[0],
        provider_id: f[1],
        product_id: f[2],
        product_name: f[3],
        customer_alias: f[4],
        started_at: f[5],
        finished_at: f[6],
        status: f[7],
        errors: &errors,
        billing_model: f[8],
        quantity: f[9],
        unit_price: f[10],
        currency: f[11],
        provider_share: f[12],
    })
    .ok()
}

/// Where a scanned value's text is: a range of the line, or of the scratch buffer (decoded).
#[derive(Debug, Clone, Copy)]
enum Span {
    Line(usize, usize),
    Scratch(usize, usize),
}

/// The scalar attributes of the contract with their DynamoDB type (`errors` is apart).
const FIELDS: [(&str, u8); 13] = [
    ("deployment_id", b'S'),
    ("provider_id", b'S'),
    ("product_id", b'S'),
    ("product_name", b'S'),
    ("customer_alias", b'S'),
    ("started_at", b'S'),
    ("finished_at", b'S'),
    ("status", b'S'),
    ("billing_model", b'S'),
    ("quantity", b'N'),
    ("unit_price", b'N'),
    ("currency", b'S'),
    ("provider_share", b'N'),
];

/// The index in [`FIELDS`] of an attribute name (a `match`: one comparison, not a search).
fn field_index(name: &str) -> Option<usize> {
    let k = match name {
        "deployment_id" => 0,
        "provider_id" => 1,
        "product_id" => 2,
        "product_name" => 3,
        "customer_alias" => 4,
        "started_at" => 5,
        "finished_at" => 6,
        "status" => 7,
        "billing_model" => 8,
        "quantity" => 9,
        "unit_price" => 10,
        "currency" => 11,
        "provider_share" => 12,
        _ => return None,
    };
    debug_assert_eq!(FIELDS[k].0, name);
    Some(k)
}

/// Scans one export line of the usual shape into `fields` (in [`FIELDS`] order) and `entries`
/// (`code`, `message`, `at` of each error entry). `None` when the line is anything else.
fn scan_export_line(
    line: &str,
    scratch: &mut String,
    fields: &mut [Span; FIELDS.len()],
    entries: &mut Vec<[Span; 3]>,
) -> Option<()> {
    // A raw control character is JSON whitespace (tab, CR, LF) or an error: rare either way,
    // and serde decides. Ruling them out here lets strings end at the first `"` or `\\`.
    if has_control_byte(line.as_bytes()) {
        return None;
    }
    let mut c = Scan { s: line, b: line.as_bytes(), i: 0, scratch };
    c.byte(b'{')?;
    if c.key()? != "Item" {
        return None;
    }
    c.byte(b':')?;
    c.byte(b'{')?;
    let mut seen = 0u32;
    let mut seen_errors = false;
    loop {
        let name = c.key()?;
        c.byte(b':')?;
        if name == "errors" {
            if std::mem::replace(&mut seen_errors, true) {
                return None;
            }
            c.error_list(entries)?;
        } else if let Some(k) = field_index(name) {
            if seen & (1 << k) != 0 {
                return None;
            }
            seen |= 1 << k;
            fields[k] = c.typed(FIELDS[k].1)?;
        } else {
            // pk, sk or another attribute: only a plain S or N value is skipped here.
            c.byte(b'{')?;
            let tag = c.key()?;
            if tag != "S" && tag != "N" {
                return None;
            }
            c.byte(b':')?;
            c.value()?;
            c.byte(b'}')?;
        }
        match c.next()? {
            b',' => {}
            b'}' => break,
            _ => return None,
        }
    }
    c.byte(b'}')?;
    c.ws();
    (c.i == c.b.len() && seen == (1 << FIELDS.len()) - 1 && seen_errors).then_some(())
}

/// Whether any byte is below 0x20, eight at a time (the exact "has less than" word test).
fn has_control_byte(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::MAX / 255;
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let x = u64::from_le_bytes(word.try_into().unwrap_or([0; 8]));
        if x.wrapping_sub(ONES * 0x20) & !x & (ONES * 0x80) != 0 {
            return true;
        }
    }
    words.remainder().iter().any(|&b| b < 0x20)
}

/// The index of the first `"` or `\\` in `bytes`, eight bytes at a time: the strings of an
/// export line are short (ids, codes, instants), where this beats a SIMD search's set-up.
fn quote_or_backslash(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::MAX / 255;
    const HIGH: u64 = ONES * 0x80;
    let mut words = bytes.chunks_exact(8);
    let mut at = 0;
    for word in &mut words {
        let x = u64::from_le_bytes(word.try_into().unwrap_or([0; 8]));
        let (q, s) = (x ^ (ONES * u64::from(b'"')), x ^ (ONES * u64::from(b'\\')));
        // The lowest flagged byte is the first zero byte of q or s, exactly (the word test's
        // false positives only ever sit above a true zero byte).
        let found = (q.wrapping_sub(ONES) & !q | s.wrapping_sub(ONES) & !s) & HIGH;
        if found != 0 {
            return Some(at + (found.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    words.remainder().iter().position(|&b| b == b'"' || b == b'\\').map(|k| at + k)
}

struct Scan<'a, 's> {
    s: &'a str,
    b: &'a [u8],
    i: usize,
    scratch: &'s mut String,
}

impl<'a> Scan<'a, '_> {
    fn ws(&mut self) {
        while matches!(self.b.get(self.i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    /// The next non-blank byte.
    fn next(&mut self) -> Option<u8> {
        self.ws();
        let b = *self.b.get(self.i)?;
        self.i += 1;
        Some(b)
    }

    fn byte(&mut self, want: u8) -> Option<()> {
        (self.next()? == want).then_some(())
    }

    /// An object key: a string without escapes (anything else: `None`).
    fn key(&mut self) -> Option<&'a str> {
        match self.value()? {
            Span::Line(from, to) => self.s.get(from..to),
            Span::Scratch(..) => None,
        }
    }

    /// A string value. Text with escape sequences is decoded into the scratch buffer as JSON
    /// defines them; a surrogate `\u` escape, an unknown escape or a raw control character
    /// gives `None` (serde then decides).
    fn value(&mut self) -> Option<Span> {
        self.byte(b'"')?;
        let start = self.i;
        // No control characters (checked per line): the string ends at the first `"` unless a
        // `\\` comes first.
        self.i += quote_or_backslash(self.b.get(self.i..)?)?;
        if self.b[self.i] == b'"' {
            self.i += 1;
            return Some(Span::Line(start, self.i - 1));
        }
        let from = self.scratch.len();
        self.scratch.push_str(self.s.get(start..self.i)?);
        loop {
            let run = self.i;
            while !matches!(*self.b.get(self.i)?, b'"' | b'\\' | 0..0x20) {
                self.i += 1;
            }
            self.scratch.push_str(self.s.get(run..self.i)?);
            match self.b[self.i] {
                b'"' => {
                    self.i += 1;
                    return Some(Span::Scratch(from, self.scratch.len()));
                }
                b'\\' => {
                    let decoded = match *self.b.get(self.i + 1)? {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hex = self.s.get(self.i + 2..self.i + 6)?;
                            if !hex.bytes().all(|h| h.is_ascii_hexdigit()) {
                                return None;
                            }
                            self.i += 4;
                            char::from_u32(u32::from_str_radix(hex, 16).ok()?)?
                        }
                        _ => return None,
                    };
                    self.scratch.push(decoded);
                    self.i += 2;
                }
                _ => return None,
            }
        }
    }

    /// `{"S": "text"}` (or `N`): the text.
    fn typed(&mut self, tag: u8) -> Option<Span> {
        self.byte(b'{')?;
        if self.key()?.as_bytes() != [tag] {
            return None;
        }
        self.byte(b':')?;
        let text = self.value()?;
        self.byte(b'}')?;
        Some(text)
    }

    /// `{"L": [{"M": {"code": {"S": ..}, "message": {"S": ..}, "at": {"S": ..}}}, ...]}`.
    fn error_list(&mut self, entries: &mut Vec<[Span; 3]>) -> Option<()> {
        self.byte(b'{')?;
        if self.key()? != "L" {
            return None;
        }
        self.byte(b':')?;
        self.byte(b'[')?;
        self.ws();
        if self.b.get(self.i) == Some(&b']') {
            self.i += 1;
        } else {
            loop {
                self.byte(b'{')?;
                if self.key()? != "M" {
                    return None;
                }
                self.byte(b':')?;
                self.byte(b'{')?;
                let mut entry: [Option<Span>; 3] = [None; 3];
                loop {
                    let k = match self.key()? {
                        "code" => 0,
                        "message" => 1,
                        "at" => 2,
                        _ => return None,
                    };
                    self.byte(b':')?;
                    if entry[k].replace(self.typed(b'S')?).is_some() {
                        return None;
                    }
                    match self.next()? {
                        b',' => {}
                        b'}' => break,
                        _ => return None,
                    }
                }
                self.byte(b'}')?;
                let [Some(code), Some(message), Some(at)] = entry else { return None };
                entries.push([code, message, at]);
                match self.next()? {
                    b',' => {}
                    b']' => break,
                    _ => return None,
                }
            }
        }
        self.byte(b'}')
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attribute::parse_export_line;
    use crate::record::parse_deployment_log;

    const GOLDEN: &str =
        include_str!("../../../jobs/nightly-reports/tests/fixtures/reports-2026-02-14/deployment-logs-export.json");

    fn general(line: &str) -> Option<DeploymentLog> {
        parse_export_line(line).ok().and_then(|item| parse_deployment_log(&item, &String::new).ok())
    }

    #[test]
    fn quote_or_backslash_finds_the_first_of_either() {
        let reference = |b: &[u8]| b.iter().position(|&c| c == b'"' || c == b'\\');
        for text in ["", "a", "\"", "abc\\def\"", "0123456789abcdef\"x", "é\u{100}ü\\", "plain text here"] {
            for skip in 0..text.len() {
                let bytes = &text.as_bytes()[skip..];
                assert_eq!(quote_or_backslash(bytes), reference(bytes), "{text:?} from {skip}");
            }
        }
        // Every byte value at every position of a word and of the tail, alone and after another.
        for len in [8, 16, 11] {
            for at in 0..len {
                for value in 0..=255u8 {
                    for before in [b'x', 0, b'"' - 1, b'\\' + 1, 0xff] {
                        let mut bytes = vec![b'x'; len];
                        bytes[at] = value;
                        if at > 0 {
                            bytes[at - 1] = before;
                        }
                        assert_eq!(quote_or_backslash(&bytes), reference(&bytes), "{bytes:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn every_field_name_finds_its_own_index() {
        for (k, (name, _)) in FIELDS.iter().enumerate() {
            assert_eq!(field_index(name), Some(k), "{name}");
        }
        assert_eq!(field_index("pk"), None);
        assert_eq!(field_index("errors"), None);
    }

    #[test]
    fn fast_and_general_paths_agree() {
        let valid = GOLDEN.lines().find(|l| general(l).is_some()).expect("a valid golden line");
        let mut lines: Vec<String> = GOLDEN.lines().map(str::to_owned).collect();
        for (from, to) in [
            (r#""status": {"S": "SUCCEEDED"}"#, r#""status": {"NULL": true}"#),
            (r#""status": {"S": "SUCCEEDED"}"#, r#""status": {"S": "SUCCEEDED", "N": "1"}"#),
            (r#""status": {"S": "SUCCEEDED"}"#, r#""status": {"S": "DONE"}"#),
            (r#""currency": {"S": "USD"}"#, r#""currency": {"S": "usd"}"#),
            (r#""product_name": {"S": "Acme Vault"}"#, r#""product_name": {"S": "Acme \"Vault\" \u00e9"}"#),
            (r#""quantity": {"N": ""#, r#""quantity": {"S": ""#),
            (r#""provider_id": {"S": "acme-software"}"#, r#""provider_id": {"S": "../acme"}"#),
            (r#""errors": {"L": []}"#, r#""errors": {"L": [{"M": {"code": {"S": "X"}}}]}"#),
            (r#""errors": {"L": []}"#, r#""errors": {"NULL": true}"#),
            (r#""unit_price": {"N": ""#, r#""unit_price": {"N": "1e3"#),
            (r#"{"Item": "#, r#"{"Other": 1, "Item": "#),
        ] {
            lines.push(valid.replacen(from, to, 1));
        }
        lines.push("not json".to_owned());
        lines.push(valid.replacen(r#""deployment_id""#, r#""deployment_id": {"S": "dup"}, "deployment_id""#, 1));
        let mut agreed_valid = 0;
        for line in &lines {
            let fast = parse_valid_export_line(line);
            let slow = general(line);
            // The fast path may hand an unusual line to the general path (None), but what it
            // accepts, the general path accepts with the very same values.
            if fast.is_some() {
                assert_eq!(fast, slow, "{line}");
                agreed_valid += 1;
            }
        }
        assert!(agreed_valid >= 25, "the fast path takes the common case ({agreed_valid})");
        // The unusual-but-valid lines: escaped text is still taken by the fast path.
        let escaped = valid.replacen(r#""product_name": {"S": ""#, r#""product_name": {"S": "\"Q\" "#, 1);
        assert_eq!(parse_valid_export_line(&escaped), general(&escaped));
        assert!(parse_valid_export_line(&escaped).is_some());
    }
}

#[cfg(test)]
mod scanner_tests {
    use proptest::prelude::*;

    use super::*;

    /// A JSON string literal of `text`, escaping non-ASCII as `\uXXXX` when `escape_unicode`.
    fn json_string(text: &str, escape_unicode: bool) -> String {
        let plain = serde_json::to_string(text).expect("a string serialises");
        if !escape_unicode {
            return plain;
        }
        plain.chars().map(|c| if c.is_ascii() { c.to_string() } else { format!("\\u{:04x}", c as u32) }).collect()
    }

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => "[a-z0-9-]{1,12}",
            1 => "[a-zA-Z0-9 ,\"\\\\é日\n\t\u{1F600}-]{0,12}",
            1 => Just(String::new()),
        ]
    }

    fn one_of(values: &'static [&'static str]) -> impl Strategy<Value = String> {
        proptest::sample::select(values).prop_map(str::to_owned)
    }

    /// (attribute name, value JSON) pairs of a line; values are sometimes of the wrong type.
    fn attributes() -> impl Strategy<Value = Vec<(String, String)>> {
        let instant = || one_of(&["2026-02-14T10:00:00Z", "2026-02-14T10:00:00.25Z", "2026-02-14T12:00:00+02:00", "x"]);
        let scalars = (
            (text(), one_of(&["acme", "globex-labs", "../x", "é"]), text(), text(), text()),
            (instant(), instant(), one_of(&["SUCCEEDED", "FAILED", "DONE"]), one_of(&["hourly", "monthly", "weird"])),
            (one_of(&["1", "2.5", "0.125", "1e2", "-1"]), one_of(&["49.99", "0.000001", "12"])),
            (one_of(&["USD", "EUR", "JPY", "usd"]), one_of(&["0.7", "1", "2"])),
        );
        let entry = (text(), text(), instant(), any::<u8>());
        (scalars, proptest::collection::vec(entry, 0..3), any::<u8>(), any::<bool>()).prop_map(
            |(
                ((id, provider, product, name, alias), (start, end, status, model), (qty, price), (cur, share)),
                errs,
                typo,
                esc,
            )| {
                let s = |v: &str| format!(r#"{{"S": {}}}"#, json_string(v, esc));
                let n = |v: &str| format!(r#"{{"N": {}}}"#, json_string(v, esc));
                let entries: Vec<String> = errs
                    .iter()
                    .map(|(code, message, at, shape)| {
                        let mut keys = vec![("code", s(code)), ("message", s(message)), ("at", s(at))];
                        keys.rotate_left(usize::from(shape % 3));
                        if shape.is_multiple_of(11) {
                            keys.pop(); // a missing key
                        }
                        let body: Vec<String> = keys.iter().map(|(k, v)| format!(r#""{k}": {v}"#)).collect();
                        format!(r#"{{"M": {{{}}}}}"#, body.join(", "))
                    })
                    .collect();
                let mut attrs = vec![
                    ("pk".to_owned(), s("DAY#2026-02-14#01")),
                    ("deployment_id".to_owned(), s(&id)),
                    ("provider_id".to_owned(), s(&provider)),
                    ("product_id".to_owned(), s(&product)),
                    ("product_name".to_owned(), s(&name)),
                    ("customer_alias".to_owned(), s(&alias)),
                    ("started_at".to_owned(), s(&start)),
                    ("finished_at".to_owned(), s(&end)),
                    ("status".to_owned(), s(&status)),
                    ("errors".to_owned(), format!(r#"{{"L": [{}]}}"#, entries.join(", "))),
                    ("billing_model".to_owned(), s(&model)),
                    ("quantity".to_owned(), n(&qty)),
                    ("unit_price".to_owned(), n(&price)),
                    ("currency".to_owned(), s(&cur)),
                    ("provider_share".to_owned(), n(&share)),
                ];
                // Occasionally: a wrong type, a missing attribute, a NULL, a nested attribute.
                let k = usize::from(typo) % attrs.len();
                match typo / 32 {
                    0 => attrs[k].1 = attrs[k].1.replacen(r#"{"S""#, r#"{"N""#, 1).replacen(r#"{"N""#, r#"{"S""#, 1),
                    1 => {
                        attrs.remove(k);
                    }
                    2 => attrs[k].1 = r#"{"NULL": true}"#.to_owned(),
                    3 => attrs.push(("extra".to_owned(), r#"{"M": {"a": {"S": "b"}}}"#.to_owned())),
                    4 => attrs.push((attrs[k].0.clone(), attrs[k].1.clone())), // a duplicate key
                    _ => {}
                }
                attrs
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// What the scanner accepts, the serde path accepts with the same values; and on the
        /// plain shape (no surrogate escapes, no raw tab/CR/LF, no NULL or nested value, no
        /// doubled key) the
        /// scanner takes every line the serde path takes.
        #[test]
        fn scanner_agrees_with_serde(attrs in attributes(), order in any::<u64>(), spacing in 0usize..3) {
            let mut attrs = attrs;
            // Reorder the keys (a deterministic shuffle from `order`).
            let mut seed = order;
            for i in (1..attrs.len()).rev() {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                attrs.swap(i, (seed >> 33) as usize % (i + 1));
            }
            let (colon, comma) = [(": ", ", "), (":", ","), (" :\n", "\t,\r\n ")][spacing];
            let body: Vec<String> = attrs.iter().map(|(k, v)| format!("\"{k}\"{colon}{v}")).collect();
            let line = format!("{{\"Item\"{colon}{{{}}}}}", body.join(comma));
            let mut scratch = String::new();
            let scanned = scan_valid_export_line(&line, &mut scratch).map(|log| log.to_owned_log());
            let serde = parse_valid_export_line(&line);
            if scanned.is_some() {
                prop_assert_eq!(&scanned, &serde, "{}", line);
            }
            let mut names: Vec<&str> = attrs.iter().map(|(k, _)| k.as_str()).collect();
            names.sort_unstable();
            let doubled = names.windows(2).any(|w| w[0] == w[1]);
            let surrogate = ["\\ud8", "\\ud9", "\\uda", "\\udb", "\\udc", "\\udd", "\\ude", "\\udf"].iter().any(|u| line.contains(u));
            let control = line.bytes().any(|b| b < 0x20);
            // An attribute outside the contract that is neither S nor N is left to serde.
            let other = line.contains(r#""M": {"a""#) || line.contains(r#"{"NULL""#);
            let plain = !surrogate && !control && !other && !doubled;
            if plain && serde.is_some() {
                prop_assert!(scanned.is_some(), "the scanner gave up on a plain line: {}", line);
            }
        }
    }

    #[test]
    fn control_bytes_are_found_in_any_position() {
        for len in 0..24 {
            for at in 0..len {
                for byte in [0u8, 0x09, 0x1f] {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = byte;
                    assert!(has_control_byte(&bytes), "{len} {at} {byte}");
                }
                let mut bytes = vec![0x20u8; len];
                bytes[at] = 0xff;
                assert!(!has_control_byte(&bytes));
            }
        }
        assert!(!has_control_byte("ünïcode 日本 \u{7f}".as_bytes()));
    }

    #[test]
    fn scanner_takes_the_generated_shape_escapes_included() {
        let line = r#"{"Item": {"pk": {"S": "DAY#2026-02-14#02"}, "deployment_id": {"S": "d-1"}, "provider_id": {"S": "acme"}, "product_id": {"S": "vault"}, "product_name": {"S": "Vault é 日"}, "customer_alias": {"S": "C1"}, "started_at": {"S": "2026-02-14T21:51:10Z"}, "finished_at": {"S": "2026-02-14T22:40:10Z"}, "status": {"S": "FAILED"}, "errors": {"L": [{"M": {"at": {"S": "2026-02-14T21:52:10Z"}, "code": {"S": "VM_TIMEOUT"}, "message": {"S": "slow, \"very\""}}}]}, "billing_model": {"S": "hourly"}, "quantity": {"N": "3.25"}, "unit_price": {"N": "0.125"}, "currency": {"S": "USD"}, "provider_share": {"N": "0.7"}}}"#;
        let mut scratch = String::new();
        let log = scan_valid_export_line(line, &mut scratch).expect("the usual shape is scanned");
        assert_eq!(log.product_name, "Vault é 日");
        assert_eq!(log.errors, [("VM_TIMEOUT", "slow, \"very\"", "2026-02-14T21:52:10Z".parse().expect("instant"))]);
        assert_eq!(Some(log.to_owned_log()), parse_valid_export_line(line));
        for (escape, decoded) in [(r"\u00e9\n\t\/\\", "é\n\t/\\"), (r"\u65E5", "日")] {
            let escaped = line.replace("Vault é 日", escape);
            let log = scan_valid_export_line(&escaped, &mut scratch).expect("escapes are decoded");
            assert_eq!(log.product_name, decoded);
            assert_eq!(Some(log.to_owned_log()), parse_valid_export_line(&escaped));
        }
        for given_up in [r"\ud83d\ude00", r"\x", r"\u12", "tab\there"] {
            let odd = line.replace("Vault é 日", given_up);
            assert!(scan_valid_export_line(&odd, &mut scratch).is_none(), "{given_up}: serde decides");
        }
    }
}
