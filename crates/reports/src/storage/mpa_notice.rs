//! The MPA version of a campaign notice's ledger key ([`MpaNoticeOf`]).

/// The MPA version a campaign notice asks providers to accept, as part of a ledger key. The
/// version text (at most 32 characters, `marketplace_portal::fields::MPA_VERSION`, so at most
/// 128 bytes) is held inline, so that [`super::DeliveryOf`] stays `Copy` like the dates and months
/// the ledger passes around by value.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct MpaNoticeOf {
    len: u8,
    bytes: [u8; MpaNoticeOf::CAPACITY],
}

impl MpaNoticeOf {
    /// The longest version text (bytes) a key holds.
    pub const CAPACITY: usize = 128;

    /// The notice of `version`; `None` when its text is longer than [`MpaNoticeOf::CAPACITY`].
    pub fn new(version: &str) -> Option<Self> {
        let len = u8::try_from(version.len()).ok().filter(|&n| usize::from(n) <= Self::CAPACITY)?;
        let mut bytes = [0; Self::CAPACITY];
        bytes[..version.len()].copy_from_slice(version.as_bytes());
        Some(MpaNoticeOf { len, bytes })
    }

    /// The version's text.
    pub fn version(&self) -> &str {
        // Always the bytes of a `&str` (`new`).
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl std::fmt::Debug for MpaNoticeOf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MpaNoticeOf({:?})", self.version())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_of_up_to_128_bytes_is_kept_whole_and_a_longer_one_is_refused() {
        let longest = "é".repeat(64);
        assert_eq!(MpaNoticeOf::new(&longest).map(|n| n.version().to_owned()), Some(longest.clone()));
        assert_eq!(MpaNoticeOf::new(&format!("{longest}x")), None, "longer than a key holds");
        assert_eq!(MpaNoticeOf::new("").map(|n| n.version().to_owned()), Some(String::new()));
    }
}
