//! Full-text search, the part every backend shares: what a word is, how stored text becomes
//! the words an index holds, and how a search string becomes the phrases a row must contain.
//!
//! Text is normalised here, in Rust, before any database sees it: Unicode NFKD, combining
//! marks dropped, lowercased, and a few letters NFKD leaves whole folded by hand (`ß` → `ss`,
//! `ø` → `o`, …). A word is a maximal run of letters and digits; everything else separates
//! words. Every backend indexes the same words and is asked for the same words, so SQLite's
//! FTS5, PostgreSQL's `tsvector` and MySQL's word match answer alike, and no database needs an
//! accent-folding extension (`unaccent`) or a tokenizer of its own.
//!
//! A search string is a list of phrases that must all occur: a quoted part (`"delivery
//! window"`) is one phrase, and so is each unquoted term (`soft-close` is the words `soft` and
//! `close`, adjacent). Within a phrase every word but the last is a whole word; the last also
//! matches as a prefix (`quot` finds "quote"). Nothing else has a meaning: `OR`, `NEAR`, `*`,
//! `-`, `:` … are words or separators, so no string can be a syntax error in any engine.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Longest search string accepted, in characters.
pub const MAX_SEARCH_CHARS: usize = 1_000;
/// Most words a search may hold (over all its phrases).
pub const MAX_SEARCH_WORDS: usize = 32;

/// Appends the words of `text` to `words`, normalised.
pub fn push_words(text: &str, words: &mut Vec<String>) {
    let mut word = String::new();
    let mut flush = |word: &mut String| {
        if !word.is_empty() {
            words.push(std::mem::take(word));
        }
    };
    for c in text.nfkd() {
        if is_combining_mark(c) {
            continue;
        }
        if c.is_alphanumeric() {
            for lower in c.to_lowercase() {
                match lower {
                    'ß' => word.push_str("ss"),
                    'æ' => word.push_str("ae"),
                    'œ' => word.push_str("oe"),
                    'ø' => word.push('o'),
                    'ł' => word.push('l'),
                    'đ' => word.push('d'),
                    'þ' => word.push_str("th"),
                    'ı' => word.push('i'),
                    other => word.push(other),
                }
            }
        } else {
            flush(&mut word);
        }
    }
    flush(&mut word);
}

/// The normalised words of `text`.
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    push_words(text, &mut out);
    out
}

/// The words an index holds for a row: those of each of `texts`, in order.
pub fn document<'a>(texts: impl IntoIterator<Item = Option<&'a str>>) -> Vec<String> {
    let mut out = Vec::new();
    for text in texts.into_iter().flatten() {
        push_words(text, &mut out);
    }
    out
}

/// Words that must occur next to each other, in order; the last may be a prefix of a word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phrase {
    pub words: Vec<String>,
}

/// A parsed search: every phrase must occur in the row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Search {
    pub phrases: Vec<Phrase>,
}

/// Why a search string was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchError {
    NoWords,
    TooLong,
    TooManyWords,
}

impl std::fmt::Display for SearchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoWords => write!(f, "must contain at least one letter or digit"),
            Self::TooLong => write!(f, "must be at most {MAX_SEARCH_CHARS} characters"),
            Self::TooManyWords => write!(f, "must have at most {MAX_SEARCH_WORDS} words"),
        }
    }
}

impl Search {
    /// Parses a search string (see the module's documentation).
    pub fn parse(input: &str) -> Result<Self, SearchError> {
        if input.chars().count() > MAX_SEARCH_CHARS {
            return Err(SearchError::TooLong);
        }
        let mut phrases = Vec::new();
        // Alternately outside and inside quotes; an unclosed quote runs to the end.
        for (i, part) in input.split('"').enumerate() {
            if i % 2 == 1 {
                phrases.push(words(part));
            } else {
                phrases.extend(part.split_whitespace().map(words));
            }
        }
        let phrases: Vec<Phrase> = phrases
            .into_iter()
            .filter(|words| !words.is_empty())
            .map(|words| Phrase { words })
            .collect();
        let count: usize = phrases.iter().map(|p| p.words.len()).sum();
        if count == 0 {
            return Err(SearchError::NoWords);
        }
        if count > MAX_SEARCH_WORDS {
            return Err(SearchError::TooManyWords);
        }
        Ok(Self { phrases })
    }

    /// Whether `document` (a row's words, from [`document`]) matches: the reference every
    /// backend's index is held to.
    pub fn matches(&self, document: &[String]) -> bool {
        self.phrases.iter().all(|phrase| {
            let n = phrase.words.len();
            document.windows(n).any(|window| {
                window
                    .iter()
                    .zip(&phrase.words)
                    .enumerate()
                    .all(|(i, (w, q))| {
                        if i + 1 == n {
                            w.starts_with(q.as_str())
                        } else {
                            w == q
                        }
                    })
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Vec<Vec<String>> {
        Search::parse(s)
            .unwrap()
            .phrases
            .into_iter()
            .map(|p| p.words)
            .collect()
    }

    #[test]
    fn normalises_case_accents_and_separators() {
        assert_eq!(words("Müller's CAFÉ"), ["muller", "s", "cafe"]);
        assert_eq!(words("Grüße, Straße"), ["grusse", "strasse"]);
        assert_eq!(words("IMG_0042.jpg"), ["img", "0042", "jpg"]);
        assert_eq!(
            words("9:30 30% soft-close"),
            ["9", "30", "30", "soft", "close"]
        );
        assert_eq!(words("ﬁle Ø Łódź"), ["file", "o", "lodz"]);
        assert!(words("*-:()%_\\\"").is_empty());
    }

    #[test]
    fn parses_terms_and_phrases() {
        assert_eq!(parse("quot DELIVERY"), [vec!["quot"], vec!["delivery"]]);
        assert_eq!(
            parse("\"delivery window\" oak"),
            [vec!["delivery", "window"], vec!["oak"]]
        );
        assert_eq!(parse("soft-close"), [vec!["soft", "close"]]);
        assert_eq!(
            parse("a OR b NEAR c"),
            [["a"], ["or"], ["b"], ["near"], ["c"]]
        );
        assert_eq!(
            parse("\"open quote runs on"),
            [vec!["open", "quote", "runs", "on"]]
        );
        assert_eq!(parse("quo* -x"), [["quo"], ["x"]]);
        for empty in ["", "  ", "*", "%", "-", "\"", "()", "_", "\"\""] {
            assert_eq!(Search::parse(empty), Err(SearchError::NoWords), "{empty:?}");
        }
        assert_eq!(Search::parse(&"a".repeat(1001)), Err(SearchError::TooLong));
        assert_eq!(
            Search::parse(&"a ".repeat(33)),
            Err(SearchError::TooManyWords)
        );
    }

    #[test]
    fn matches_words_prefixes_and_phrases() {
        let doc = document([Some("Quote"), Some("the delivery window is fine")]);
        let m = |s: &str| Search::parse(s).unwrap().matches(&doc);
        assert!(m("quot"));
        assert!(m("QUOTE fine"));
        assert!(m("\"delivery window\""));
        assert!(m("\"delivery win\""));
        assert!(!m("\"deliv window\""));
        assert!(!m("\"window delivery\""));
        assert!(!m("quote missing"));
        assert!(m("\"quote the\""));
    }
}
