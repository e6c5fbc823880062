//! polyfeed's own types. feed-rs types stop at parse.rs; everything after works on these.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A parsed source feed, normalized.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ParsedFeed {
    pub title: String,
    /// The site the feed belongs to (its alternate link).
    pub site_url: Option<String>,
    pub authors: Vec<String>,
    /// RSS `ttl`: minutes the feed may be cached.
    pub ttl_minutes: Option<u32>,
    /// The WebSub hub it advertises (`<link rel="hub">`), and its own URL (`rel="self"`), the
    /// topic a subscription names.
    pub hub: Option<String>,
    pub self_url: Option<String>,
    pub entries: Vec<Entry>,
}

/// One entry of a source feed, normalized.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// polyfeed's stable identity of the entry within its feed (see `parse::entry_key`).
    pub key: String,
    /// The id or guid the source gave, empty when it gave none.
    pub source_id: String,
    /// The entry's page, absolute.
    pub link: Option<String>,
    /// Plain text.
    pub title: String,
    /// HTML, as the source gave it (unsanitized: publish/ sanitizes).
    pub content: String,
    pub authors: Vec<String>,
    pub categories: Vec<String>,
    pub published: Option<DateTime<Utc>>,
    pub updated: Option<DateTime<Utc>>,
}

impl Entry {
    /// The entry's date for ordering: published, else updated.
    pub fn date(&self) -> Option<DateTime<Utc>> {
        self.published.or(self.updated)
    }
}

/// A short, stable hex digest of some strings (separated, so ["ab","c"] != ["a","bc"]).
pub fn digest(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    hex(&h.finalize()[..16])
}

/// Bytes as lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// A fingerprint of a fetched body, to know the same body when it comes again: XXH3-128 in hex.
/// Not cryptographic, and need not be: a source able to make two of its bodies collide controls its
/// feed anyway, and the worst a collision does is skip one parse. Several times faster than sha256
/// on whole bodies, the largest input polyfeed hashes. (Bodies stored with the sha256 fingerprint
/// of earlier versions differ once: that fetch is parsed, and its entries are matched by their
/// text hashes as always.)
pub fn fingerprint(bytes: &[u8]) -> String {
    hex(&xxhash_rust::xxh3::xxh3_128(bytes).to_be_bytes())
}

/// Seconds since the epoch, the store's time unit.
pub fn now() -> i64 {
    Utc::now().timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_separates_parts() {
        assert_ne!(digest(&["ab", "c"]), digest(&["a", "bc"]));
        assert_eq!(digest(&["x"]), digest(&["x"]));
        assert_eq!(digest(&["x"]).len(), 32);
    }

    #[test]
    fn fingerprints_are_stable_and_tell_bodies_apart() {
        // Stored in every store: a change of value would make every feed's next body look new once.
        assert_eq!(fingerprint(b""), "99aa06d3014798d86001c324468d497f");
        assert_eq!(fingerprint(b"<rss/>"), fingerprint(b"<rss/>"));
        assert_ne!(fingerprint(b"<rss/>"), fingerprint(b"<rss />"));
        assert_eq!(fingerprint(&[7u8; 100_000]).len(), 32);
    }
}
