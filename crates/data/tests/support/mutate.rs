//! The fuzz harness every parser's `tests/fuzz.rs` shares (included with `#[path]` by the media and
//! protocol crates' fuzz targets): proptest generating arbitrary bytes, and mutations of valid seed
//! inputs (bytes flipped, inserted, deleted, duplicated, truncated, and tokens that parsers
//! mishandle spliced in: huge and negative numbers, NaN, separators, BOMs, quotes, brackets).
//!
//! cargo-fuzz needs nightly; this runs on stable as an ordinary `cargo test`, for
//! `NEURALSTREAM_FUZZ_ITERS` cases per target (default [`DEFAULT_ITERS`], so the suite stays
//! fast). A failing case is shrunk by proptest and printed; no regression file is written.

// Not every target uses every helper.
#![allow(dead_code)]

use proptest::prelude::*;
use proptest::sample::Index;

/// Cases per fuzz target when `NEURALSTREAM_FUZZ_ITERS` is not set.
pub const DEFAULT_ITERS: u32 = 256;

/// The proptest configuration of a fuzz target: `NEURALSTREAM_FUZZ_ITERS` cases (or
/// [`DEFAULT_ITERS`]), no regression files.
pub fn config() -> ProptestConfig {
    let cases = std::env::var("NEURALSTREAM_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_ITERS);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Tokens worth splicing into any text input.
const TOKENS: &[&str] = &[
    "-1",
    "0",
    "NaN",
    "inf",
    "-0",
    "1e309",
    "18446744073709551616",
    "99999999999999999999",
    "4294967296",
    "0.000000001",
    "\n",
    "\r\n",
    "\t",
    " ",
    "#",
    ",",
    ";",
    "\u{feff}",
    "\"",
    "'",
    "{",
    "}",
    "[",
    "]",
    ":",
    "<",
    ">",
    "/>",
    "$",
    "%",
    "\0",
    "é",
    "\u{fffd}",
];

/// One edit of an input; positions are resolved against its length when applied.
#[derive(Debug, Clone)]
enum Mutation {
    Flip(Index, u8),
    Insert(Index, Vec<u8>),
    Delete(Index, usize),
    Duplicate(Index, usize),
    Token(Index, usize),
    Truncate(Index),
}

fn mutation(tokens: usize) -> impl Strategy<Value = Mutation> {
    prop_oneof![
        1 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        1 => (any::<Index>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
        1 => (any::<Index>(), 1..64usize).prop_map(|(i, n)| Mutation::Delete(i, n)),
        1 => (any::<Index>(), 1..256usize).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
        3 => (any::<Index>(), 0..tokens).prop_map(|(i, t)| Mutation::Token(i, t)),
        1 => any::<Index>().prop_map(Mutation::Truncate),
    ]
}

fn apply(seed: &[u8], mutations: &[Mutation], extra: &[&str]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for m in mutations {
        let at = |i: &Index, len: usize| i.index(len + 1);
        match m {
            Mutation::Flip(i, b) if !v.is_empty() => {
                let k = i.index(v.len());
                v[k] ^= b | 1;
            }
            Mutation::Flip(..) => {}
            Mutation::Insert(i, bytes) => {
                let k = at(i, v.len());
                v.splice(k..k, bytes.iter().copied());
            }
            Mutation::Delete(i, n) => {
                let k = at(i, v.len());
                v.drain(k..(k + n).min(v.len()));
            }
            Mutation::Duplicate(i, n) => {
                let k = at(i, v.len());
                let piece: Vec<u8> = v[k..(k + n).min(v.len())].to_vec();
                v.splice(k..k, piece);
            }
            Mutation::Token(i, t) => {
                let k = at(i, v.len());
                let token = TOKENS
                    .iter()
                    .chain(extra)
                    .nth(*t)
                    .expect("token index in range");
                v.splice(k..k, token.bytes());
            }
            Mutation::Truncate(i) => v.truncate(at(i, v.len())),
        }
    }
    v
}

/// Inputs for a parser: one in five arbitrary bytes, the rest one to eight mutations of one of
/// `seeds`, splicing in [`TOKENS`] and the format's own `extra` tokens.
pub fn inputs(
    seeds: &'static [&'static str],
    extra: &'static [&'static str],
) -> impl Strategy<Value = Vec<u8>> {
    let tokens = TOKENS.len() + extra.len();
    prop_oneof![
        1 => prop::collection::vec(any::<u8>(), 0..512),
        4 => (
            0..seeds.len(),
            prop::collection::vec(mutation(tokens), 1..8)
        )
            .prop_map(move |(s, ms)| apply(seeds[s].as_bytes(), &ms, extra)),
    ]
}

/// Longest error message a fuzz target accepts: messages quote excerpts, never whole inputs.
pub const MAX_MESSAGE_BYTES: usize = 2000;
