//! Opaque `next` tokens: where a page ended, bound to the query it belongs to.
//!
//! A token is base64url (no padding) of `{"q": <query>, "k": <last sort key>}`. The next page
//! queries the same partition from after that sort key. Tokens need no secret: the partition
//! comes from the (authorised) path, never from the token, and a token's sort key must lie in
//! the query's own key range — so an edited token can at most skip rows the caller may read
//! anyway. A token of another query (another provider, range or date) is refused with 400, and
//! so is a sort key longer than DynamoDB accepts (a forged key of any length would otherwise fail
//! the query and answer 500).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::problem::{Problem, INVALID_NEXT};

/// DynamoDB's limit on a sort key's size: a longer `ExclusiveStartKey` fails the whole query.
pub const MAX_SORT_KEY_BYTES: usize = 1024;

#[derive(Serialize, Deserialize)]
struct Token {
    q: String,
    k: String,
}

/// The token continuing `query` after sort key `last_sk`.
pub fn encode(query: &str, last_sk: &str) -> String {
    let json = serde_json::to_vec(&Token { q: query.to_owned(), k: last_sk.to_owned() }).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(json)
}

/// The sort key to continue after, if `token` belongs to `query` and its key lies in `lo..=hi`.
pub fn decode(token: &str, query: &str, lo: &str, hi: &str) -> Result<String, Problem> {
    let invalid = || Problem::new(INVALID_NEXT, "`next` is not a token of this query: repeat the query without it.");
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
    let token: Token = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    let too_long = token.k.len() > MAX_SORT_KEY_BYTES;
    if too_long || token.q != query || token.k.as_str() < lo || token.k.as_str() > hi {
        return Err(invalid());
    }
    Ok(token.k)
}

#[cfg(test)]
mod tests {
    use super::*;

    const Q: &str = "reports|acme|2026-02-01|2026-02-28";

    #[test]
    fn tokens_round_trip_within_their_query() {
        let sk = "DAY#2026-02-14#PRODUCT#vault#USD";
        let t = encode(Q, sk);
        assert!(t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{t}");
        assert_eq!(decode(&t, Q, "DAY#2026-02-01", "DAY#2026-02-28~").expect("same query"), sk);
    }

    #[test]
    fn foreign_or_forged_tokens_are_refused() {
        let t = encode(Q, "DAY#2026-02-14#PRODUCT#vault#USD");
        let refused = |token: &str, query: &str| decode(token, query, "DAY#2026-02-01", "DAY#2026-02-28~").unwrap_err();
        assert_eq!(refused(&t, "reports|globex|2026-02-01|2026-02-28").status, 400);
        assert_eq!(refused(&t, "reports|acme|2026-02-01|2026-02-27").status, 400);
        assert_eq!(refused(&encode(Q, "DAY#2026-03-01#PRODUCT#x#USD"), Q).status, 400);
        assert_eq!(refused(&encode(Q, "AUDIT#x"), Q).status, 400);
        assert_eq!(refused("not base64!", Q).status, 400);
        assert_eq!(refused(&URL_SAFE_NO_PAD.encode("[1,2]"), Q).status, 400);
        assert_eq!(refused("", Q).kind, "urn:marketplace:problem:invalid-next");
    }

    #[test]
    fn sort_keys_longer_than_dynamodb_accepts_are_refused() {
        let within =
            |len: usize| format!("DAY#2026-02-14#PRODUCT#{}", "v".repeat(len - "DAY#2026-02-14#PRODUCT#".len()));
        let decode_key = |sk: &str| decode(&encode(Q, sk), Q, "DAY#2026-02-01", "DAY#2026-02-28~");
        let longest = within(MAX_SORT_KEY_BYTES);
        assert_eq!(decode_key(&longest).expect("the longest key DynamoDB accepts"), longest);
        let refused = decode_key(&within(MAX_SORT_KEY_BYTES + 1)).unwrap_err();
        assert_eq!((refused.status, refused.kind.as_str()), (400, "urn:marketplace:problem:invalid-next"));
        assert_eq!(decode_key(&within(100_000)).unwrap_err().status, 400);
    }
}
