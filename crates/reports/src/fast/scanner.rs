//! The hand-written scanner for an export line's fixed shape (`{"Item": {"name": {"S"|"N":
//! "text"}, ..., "errors": {"L": [{"M": {...}}]}}}`, any key order, any JSON whitespace): the
//! contract's attributes as ranges of the line, or of a scratch buffer where escaped text is
//! decoded ([`ScannedLine`], a source for the rule core). It gives up (`None`) on anything else,
//! and the line then takes the serde path.

use crate::record::{Attribute, ContractViolation, EntryAttribute, LogAttributes};

/// Where a scanned value's text is: a range of the line, or of the scratch buffer (decoded).
#[derive(Debug, Clone, Copy)]
pub(super) enum Span {
    Line(usize, usize),
    Scratch(usize, usize),
}

/// A scanned line: every contract attribute (in [`Attribute::ALL`] order) and the `code`,
/// `message` and `at` of each error entry, with their types already checked.
pub(super) struct ScannedLine<'a, 'e> {
    pub(super) line: &'a str,
    pub(super) scratch: &'a str,
    pub(super) attributes: [Span; Attribute::ALL.len()],
    pub(super) entries: &'e [[Span; 3]],
}

impl<'a> ScannedLine<'a, '_> {
    #[inline]
    fn text(&self, span: Span) -> &'a str {
        match span {
            Span::Line(from, to) => self.line.get(from..to).unwrap_or_default(),
            Span::Scratch(from, to) => self.scratch.get(from..to).unwrap_or_default(),
        }
    }
}

/// What the scanner took: every attribute is there with its type.
impl<'a> LogAttributes<'a> for ScannedLine<'a, '_> {
    #[inline]
    fn text(&self, attribute: Attribute) -> Result<&'a str, ContractViolation> {
        Ok(self.text(self.attributes[attribute as usize]))
    }

    #[inline]
    fn error_count(&self) -> Result<usize, ContractViolation> {
        Ok(self.entries.len())
    }

    #[inline]
    fn error_text(&self, index: usize, field: EntryAttribute) -> Result<&'a str, ContractViolation> {
        let entry = self.entries.get(index).ok_or(ContractViolation::MissingAttribute(field.list_name()))?;
        Ok(self.text(entry[field as usize]))
    }
}

/// Scans one export line of the usual shape: its attributes (in [`Attribute::ALL`] order), and
/// into `entries` the `code`, `message` and `at` of each error entry (in [`EntryAttribute`]
/// order). `scratch` is cleared, then holds the decoded text. `None` when the line is anything
/// else.
pub(super) fn scan_export_line(
    line: &str,
    scratch: &mut String,
    entries: &mut Vec<[Span; 3]>,
) -> Option<[Span; Attribute::ALL.len()]> {
    scratch.clear();
    let mut attributes = [Span::Line(0, 0); Attribute::ALL.len()];
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
        } else if let Some(attribute) = Attribute::from_name(name) {
            let k = attribute as usize;
            if seen & (1 << k) != 0 {
                return None;
            }
            seen |= 1 << k;
            attributes[k] = c.typed(attribute.dynamodb_type())?;
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
    (c.i == c.b.len() && seen == (1 << Attribute::ALL.len()) - 1 && seen_errors).then_some(attributes)
}

/// Whether any byte is below 0x20, eight at a time (the exact "has less than" word test).
pub(super) fn has_control_byte(bytes: &[u8]) -> bool {
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
pub(super) fn quote_or_backslash(bytes: &[u8]) -> Option<usize> {
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
    fn typed(&mut self, tag: &str) -> Option<Span> {
        self.byte(b'{')?;
        if self.key()? != tag {
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
                    if entry[k].replace(self.typed("S")?).is_some() {
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
mod tests;
