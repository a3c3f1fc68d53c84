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

use unicode_normalization::char::{decompose_compatible, is_combining_mark};

/// Longest search string accepted, in characters.
pub const MAX_SEARCH_CHARS: usize = 1_000;
/// Most words a search may hold (over all its phrases).
pub const MAX_SEARCH_WORDS: usize = 32;
/// Longest word kept, in characters (a longer one is cut: documents and searches alike).
pub const MAX_WORD_CHARS: usize = 200;

/// Where normalised words go, a character at a time: `start` before each word's first
/// character.
trait Sink {
    fn start(&mut self);
    fn push(&mut self, c: char);
    /// Characters that are ASCII letters and digits, to be lowercased.
    fn push_ascii(&mut self, run: &str);
}

/// One `String` per word.
impl Sink for Vec<String> {
    fn start(&mut self) {
        self.push(String::new());
    }

    fn push(&mut self, c: char) {
        if let Some(word) = self.last_mut() {
            word.push(c);
        }
    }

    fn push_ascii(&mut self, run: &str) {
        if let Some(word) = self.last_mut() {
            Sink::push_ascii(word, run);
        }
    }
}

/// A row's texts folded into their normalised words, separated by single spaces, and the
/// searches they are matched against, for matching many rows in turn (clear and refill, no
/// allocation per row once warm). The same answers as [`Search::matches`] of the row's
/// [`document`]: a phrase occurs when its words, joined by spaces, occur at the start of a
/// word (every word but the last is then whole, since a space follows it).
#[derive(Debug)]
pub struct Matcher {
    phrases: Vec<memchr::memmem::Finder<'static>>,
    folded: String,
    /// Every phrase is one word: the texts then go to `mapped` instead of `folded`.
    single_words: bool,
    /// The texts pushed so far, each after a space, through [`map_text`]: the words of
    /// `folded`, but uncut and with runs of spaces between them. A word (at most
    /// [`MAX_WORD_CHARS`] long, as a search's words are) occurs at a word's start in one
    /// exactly when it does in the other, and this is much quicker to write.
    mapped: Vec<u8>,
}

/// An ASCII byte as a row's texts are matched: letters lowercased, digits kept, anything else
/// a space (a word separator). Branch-free, so a text is mapped many bytes at a time.
#[inline]
fn fold_ascii(b: u8) -> u8 {
    let lower = b | 0x20;
    if lower.wrapping_sub(b'a') < 26 {
        lower
    } else if b.wrapping_sub(b'0') < 10 {
        b
    } else {
        b' '
    }
}

/// The words one after another, separated by single spaces.
impl Sink for String {
    fn start(&mut self) {
        if !self.is_empty() {
            self.push(' ');
        }
    }

    fn push(&mut self, c: char) {
        String::push(self, c);
    }

    fn push_ascii(&mut self, run: &str) {
        let at = self.len();
        self.push_str(run);
        self[at..].make_ascii_lowercase();
    }
}

impl Matcher {
    /// A matcher for `search`, holding no row.
    pub fn new(search: &Search) -> Self {
        let phrases = search
            .phrases
            .iter()
            .map(|p| memchr::memmem::Finder::new(p.words.join(" ").as_bytes()).into_owned())
            .collect();
        Self {
            phrases,
            folded: String::new(),
            single_words: search.phrases.iter().all(|p| p.words.len() == 1),
            mapped: Vec::new(),
        }
    }

    /// Forgets the row's texts.
    pub fn clear(&mut self) {
        self.folded.clear();
        self.mapped.clear();
    }

    /// Adds one of the row's texts (its words never run into the previous text's).
    pub fn push_text(&mut self, text: &str) {
        self.push_bytes(text.as_bytes());
    }

    /// [`push_text`](Self::push_text) of a text as stored (SQLite's bytes), not checked for
    /// UTF-8 first: one-word phrases are matched as the bytes are mapped, and a byte that is
    /// not part of a UTF-8 character separates words there (a phrase search reads the text
    /// as `from_utf8_lossy` gives it, which does the same).
    pub fn push_bytes(&mut self, text: &[u8]) {
        match self.single_words {
            true => {
                self.mapped.push(b' ');
                map_text(text, &mut self.mapped);
            }
            false => normalise(&String::from_utf8_lossy(text), &mut self.folded),
        }
    }

    /// Whether the texts pushed since [`clear`](Self::clear) match the search.
    pub fn matches(&self) -> bool {
        let folded = match self.single_words {
            true => self.mapped.as_slice(),
            false => self.folded.as_bytes(),
        };
        self.phrases.iter().all(|phrase| {
            phrase
                .find_iter(folded)
                .any(|at| at == 0 || folded[at - 1] == b' ')
        })
    }
}

/// Appends the words of `text` to `words`, normalised.
pub fn push_words(text: &str, words: &mut Vec<String>) {
    normalise(text, words);
}

/// Sends the normalised words of `text` to `sink`: ASCII byte by byte, anything else through
/// NFKD one character at a time (the same words as NFKD of the whole text, since the only
/// difference, the order of combining marks, is dropped with the marks).
fn normalise(text: &str, sink: &mut impl Sink) {
    let mut word = Word { sink, chars: 0 };
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_alphanumeric() {
            // A run of ASCII letters and digits (beyond a word's length it is cut anyway).
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_alphanumeric() {
                i += 1;
            }
            word.push_ascii(&text[start..i.min(start + MAX_WORD_CHARS)]);
        } else if b.is_ascii() {
            word.end();
            i += 1;
        } else {
            let c = text[i..].chars().next().expect("a character starts here");
            i += c.len_utf8();
            decompose_compatible(c, |d| word.feed(d));
        }
    }
    word.end();
}

/// One character of NFKD's output, folded: `Some` letter or digit of a word (lowercased, a few
/// letters NFKD leaves whole spelled out: `ß` → `ss`), nothing for a combining mark (it is
/// dropped), `None` for anything else (it separates words).
fn fold_decomposed(c: char, mut out: impl FnMut(Option<char>)) {
    if c.is_ascii_alphanumeric() {
        out(Some(c.to_ascii_lowercase()));
    } else if c.is_ascii() {
        out(None);
    } else if is_combining_mark(c) {
    } else if c.is_alphanumeric() {
        for lower in c.to_lowercase() {
            let spelled: &[char] = match lower {
                'ß' => &['s', 's'],
                'æ' => &['a', 'e'],
                'œ' => &['o', 'e'],
                'ø' => &['o'],
                'ł' => &['l'],
                'đ' => &['d'],
                'þ' => &['t', 'h'],
                'ı' => &['i'],
                other => {
                    out(Some(other));
                    continue;
                }
            };
            spelled.iter().for_each(|&c| out(Some(c)));
        }
    } else {
        out(None);
    }
}

/// Appends `text` to `out` as [`Matcher`] matches one-word phrases in it: every separator a
/// space, letters and digits folded as [`normalise`] folds them, but words not cut and runs
/// of separators kept. ASCII goes through [`fold_ascii`] a run at a time; only other
/// characters go through NFKD.
fn map_text(bytes: &[u8], out: &mut Vec<u8>) {
    /// Bytes mapped at a time while they are all ASCII.
    const LANES: usize = 16;
    out.reserve(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        // Whole chunks of ASCII: checked and mapped without a branch per byte.
        while let Some(chunk) = bytes.get(i..i + LANES) {
            let chunk: &[u8; LANES] = chunk.try_into().expect("LANES bytes");
            if chunk.iter().fold(0, |any, &b| any | b) >= 0x80 {
                break;
            }
            out.extend_from_slice(&chunk.map(fold_ascii));
            i += LANES;
        }
        // Then byte by byte up to the next chunk boundary, a character at a time.
        let end = (i + LANES).min(bytes.len());
        while i < end {
            let b = bytes[i];
            if b < 0x80 {
                out.push(fold_ascii(b));
                i += 1;
                continue;
            }
            let width = match b {
                0xc0..=0xdf => 2,
                0xe0..=0xef => 3,
                0xf0..=0xf7 => 4,
                _ => 1,
            };
            let c = bytes
                .get(i..i + width)
                .and_then(|c| std::str::from_utf8(c).ok())
                .and_then(|c| c.chars().next());
            match c {
                Some(c) => {
                    i += width;
                    decompose_compatible(c, |d| {
                        fold_decomposed(d, |folded| match folded {
                            Some(letter) => {
                                let mut utf8 = [0; 4];
                                out.extend_from_slice(letter.encode_utf8(&mut utf8).as_bytes());
                            }
                            None => out.push(b' '),
                        })
                    });
                }
                // Not a character (as `from_utf8_lossy` has it, a replacement: a separator).
                None => {
                    i += 1;
                    out.push(b' ');
                }
            }
        }
    }
}

/// The word being read, as it goes to its sink.
struct Word<'s, S: Sink> {
    sink: &'s mut S,
    /// Characters of the word so far (0: none, the word has not started).
    chars: usize,
}

impl<S: Sink> Word<'_, S> {
    /// One decomposed character (see [`fold_decomposed`]): a letter or digit goes onto the
    /// word, a separator ends it.
    fn feed(&mut self, c: char) {
        fold_decomposed(c, |folded| match folded {
            Some(letter) => self.push(letter),
            None => self.end(),
        });
    }

    /// Starts the word at its first character.
    fn begin(&mut self) {
        if self.chars == 0 {
            self.sink.start();
        }
    }

    /// A character of the word; beyond [`MAX_WORD_CHARS`] it is cut.
    fn push(&mut self, c: char) {
        self.begin();
        if self.chars < MAX_WORD_CHARS {
            self.sink.push(c);
            self.chars += 1;
        }
    }

    /// ASCII letters and digits, as they are (see [`push`](Self::push)).
    fn push_ascii(&mut self, run: &str) {
        self.begin();
        let take = run.len().min(MAX_WORD_CHARS - self.chars);
        self.sink.push_ascii(&run[..take]);
        self.chars += take;
    }

    /// Ends the word (the next character starts another).
    fn end(&mut self) {
        self.chars = 0;
    }
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
        self.matches_at(document.len(), |i| document[i].as_str())
    }

    fn matches_at<'a>(&self, len: usize, word: impl Fn(usize) -> &'a str) -> bool {
        self.phrases.iter().all(|phrase| {
            let n = phrase.words.len();
            (0..(len + 1).saturating_sub(n)).any(|start| {
                phrase.words.iter().enumerate().all(|(i, q)| {
                    let w = word(start + i);
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
    fn one_character_at_a_time_is_nfkd() {
        use unicode_normalization::UnicodeNormalization;
        // The whole-text definition, for comparison.
        let reference = |text: &str| -> Vec<String> {
            let mut out = Vec::new();
            let mut word = String::new();
            for c in text.nfkd().filter(|c| !is_combining_mark(*c)) {
                if c.is_alphanumeric() {
                    word.extend(c.to_lowercase());
                } else if !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
            }
            if !word.is_empty() {
                out.push(word);
            }
            out
        };
        for text in [
            "Müller's CAFÉ, café (decomposed: cafe\u{301}) ½ ﬁ Ⅻ ①",
            "Ångström x\u{323}\u{302} ﾊﾝｶｸ ＡＢＣ１２３ 한국어 Ελληνικά",
            "a\u{2044}b e\u{301}\u{301}x \u{fdfa} \u{2126}",
        ] {
            assert_eq!(words(text), reference(text), "{text}");
        }
        assert_eq!(words(&"x".repeat(250))[0].len(), MAX_WORD_CHARS);
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
        let m = |s: &str| {
            let search = Search::parse(s).unwrap();
            let mut matcher = Matcher::new(&search);
            matcher.push_text("Quote");
            matcher.push_text("the delivery window is fine");
            assert_eq!(search.matches(&doc), matcher.matches(), "{s}");
            search.matches(&doc)
        };
        assert!(m("quot"));
        assert!(m("QUOTE fine"));
        assert!(m("\"delivery window\""));
        assert!(m("\"delivery win\""));
        assert!(!m("\"deliv window\""));
        assert!(!m("\"window delivery\""));
        assert!(!m("quote missing"));
        assert!(m("\"quote the\""));
    }

    /// [`Matcher`] answers as the reference, for ASCII and other texts, cut words, phrases
    /// across two texts, repeated and overlapping words, and searches whose words are not
    /// ASCII.
    #[test]
    fn matching_texts_equals_the_reference() {
        let long = format!("{}tail", "x".repeat(230));
        let rows: Vec<Vec<&str>> = vec![
            vec!["Quote", "the delivery window is fine"],
            vec!["Müller's CAFÉ", "café au lait"],
            vec!["IMG_0042.jpg", "kitchen oak"],
            vec!["deliv", "ery window"],
            vec![long.as_str()],
            vec!["Ελληνικά and ascii", ""],
            vec!["", "ﬁle Ø Łódź straße"],
            vec!["9:30 30% soft-close", "OR NEAR *"],
            vec!["aa aab aa", "x\u{301}y café\u{301} CAFE\u{0301}S"],
            vec!["quotes quote", "the the delivery"],
            // ASCII texts before and after one that needs NFKD, and punctuation runs.
            vec!["Quote, re: Delivery!!", "Müller", "window...fine"],
            vec!["Müller", "QUOTE--window", "x"],
            vec!["a\tb\r\nc", "Tail-9 (Ab_c)", long.as_str()],
            vec!["naïve—Straße·x\u{a0}İstanbul", "ÆON þorn Łódź"],
        ];
        let searches = [
            "quot",
            "QUOTE fine",
            "\"delivery window\"",
            "\"deliv window\"",
            "muller",
            "cafe au",
            "img 0042",
            "delivery",
            "\"deliv ery\"",
            "xxxxx",
            &"x".repeat(200),
            "tail",
            "ελληνικα",
            "ascii",
            "file o lodz",
            "strasse",
            "soft-close",
            "30 soft",
            "or near",
            "\"fine quote\"",
            "missing",
            "kitchen \"oak\"",
            "\"aa aab\"",
            "\"aab aa\"",
            "\"aa aa\"",
            "xy",
            "\"cafe cafes\"",
            "\"the delivery\"",
            "\"quote the\"",
            "ab",
            "window",
            "abc",
            "c tail",
            "9",
            "re",
            "muller window",
            "naive",
            "strasse x",
            "istanbul",
            "aeon thorn",
            "\"strasse x\"",
        ];
        for s in searches {
            let search = Search::parse(s).unwrap();
            let mut matcher = Matcher::new(&search);
            for row in &rows {
                let doc = document(row.iter().map(|t| Some(*t)));
                matcher.clear();
                row.iter().for_each(|t| matcher.push_text(t));
                assert_eq!(matcher.matches(), search.matches(&doc), "{s:?} in {row:?}");
                matcher.clear();
                row.iter().for_each(|t| matcher.push_bytes(t.as_bytes()));
                assert_eq!(matcher.matches(), search.matches(&doc), "{s:?} in {row:?}");
            }
            // Bytes that are not UTF-8 (cut, stray continuation, overlong, surrogate, beyond
            // U+10FFFF) match as `from_utf8_lossy` reads them, inside and across 16-byte chunks.
            for bytes in [
                &b"quote\xe2\x82 window"[..],
                b"\x82quote caf\xc3\xa9 m\xc3ller \xc3\xbc",
                b"\xc0\xafdelivery window\xed\xa0\x80is fine\xf5\x80\x80\x80x",
                b"0123456789abcdef\xffquote0123456789abcdefgh\xe2",
                b"Stra\xc3\x9fe abcdefghijklmn\xf0\x9f\x98\x80delivery window \xf0\x9f",
            ] {
                let lossy = String::from_utf8_lossy(bytes);
                let doc = document([Some(lossy.as_ref())]);
                matcher.clear();
                matcher.push_bytes(bytes);
                assert_eq!(
                    matcher.matches(),
                    search.matches(&doc),
                    "{s:?} in {lossy:?}"
                );
            }
        }
        for b in 0..128u8 {
            let want = match b.is_ascii_alphanumeric() {
                true => b.to_ascii_lowercase(),
                false => b' ',
            };
            assert_eq!(fold_ascii(b), want, "byte {b}");
        }
        assert_eq!(words(&long)[0].len(), MAX_WORD_CHARS);
        assert_eq!(words("ab\0cd"), ["ab", "cd"]);
    }
}
