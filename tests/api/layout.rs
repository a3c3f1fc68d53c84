//! The crate's layout: no import cycles between the modules of `src/`.
//!
//! The import graph is between module files: an edge A -> B when file A names `crate::<path>`
//! (in a `use` or inline) or `super::<path>` that resolves to module file B, the deepest module
//! file the path lies in (`foo/mod.rs` and `foo.rs` are module `foo`; `lib.rs` and `main.rs`
//! are the root). Comments are stripped first, and edges between a module and its own ancestors
//! or descendants are ignored (a parent and its children may share items both ways). Every
//! cycle, a strongly connected component of two or more files, is a failure, listed with the
//! names that tie it.
//!
//! The rule and the report are exactly those of the team's `modcycles.py`; with
//! `CRM_MODCYCLES_PY=/path/to/modcycles.py` set, each test also runs it on the same tree and
//! requires the same report. `CRM_LAYOUT_SRC=dir` checks another tree instead of this crate's
//! `src/` (e.g. an older commit's, from `git archive`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module: its path of names below the crate root (empty: the root).
type Module = Vec<String>;

/// The module files of a source tree and the imports between them.
struct Graph {
    /// Each module's file, as a path relative to the source directory (`/`-separated).
    files: BTreeMap<Module, String>,
    /// `from -> to -> the names through which `from` refers to `to``.
    edges: BTreeMap<Module, BTreeMap<Module, BTreeSet<String>>>,
}

/// Walks `src`, reads every `.rs` file and builds the graph.
fn graph(src: &Path) -> Graph {
    let mut found = Vec::new();
    rust_files(src, src, &mut found);
    let mut files = BTreeMap::new();
    for relative in found {
        let mut module: Module = relative
            .strip_suffix(".rs")
            .unwrap()
            .split('/')
            .map(str::to_owned)
            .collect();
        if module.last().is_some_and(|last| last == "mod") {
            module.pop();
        }
        if module == ["lib"] || module == ["main"] {
            module.clear();
        }
        // `lib.rs` and `main.rs` are both the root (whose edges are all ignored); keep lib.rs.
        if module.is_empty() && files.get(&module).is_some_and(|f: &String| f == "lib.rs") {
            continue;
        }
        files.insert(module, relative);
    }
    files
        .entry(Vec::new())
        .or_insert_with(|| "lib.rs".to_owned());

    let mut edges: BTreeMap<Module, BTreeMap<Module, BTreeSet<String>>> = BTreeMap::new();
    for (module, relative) in &files {
        let Ok(text) = std::fs::read_to_string(src.join(relative)) else {
            continue;
        };
        let text = strip_comments(&text);
        let mut refs = Vec::new();
        for body in use_bodies(&text) {
            expand_use(&body, &mut refs);
        }
        refs.extend(inline_paths(&text));
        for reference in refs {
            let mut segments: Vec<&str> = reference.split("::").filter(|s| !s.is_empty()).collect();
            let Some(&first) = segments.first() else {
                continue;
            };
            let target: Module = match first {
                "crate" => segments[1..].iter().map(|s| s.to_string()).collect(),
                "super" => {
                    // `super` in `a/b.rs` (module a::b) is `a`; in `a/mod.rs` (module a) the root.
                    let mut base = module.clone();
                    while segments.first() == Some(&"super") {
                        base.pop();
                        segments.remove(0);
                    }
                    base.extend(segments.iter().map(|s| s.to_string()));
                    base
                }
                _ => continue,
            };
            let to = resolve(&files, &target);
            if to.starts_with(module) || module.starts_with(&to) {
                continue; // itself, a descendant or an ancestor
            }
            let name = segments.last().map_or("", |s| s).to_owned();
            edges
                .entry(module.clone())
                .or_default()
                .entry(to)
                .or_default()
                .insert(name);
        }
    }
    Graph { files, edges }
}

/// The paths (relative to `root`, `/`-separated) of the files ending in `.rs` under `dir`;
/// symbolic links to directories are not followed.
fn rust_files(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            if !path.is_symlink() {
                rust_files(root, &path, out);
            }
        } else if name.ends_with(".rs") {
            let relative = path.strip_prefix(root).unwrap();
            let parts: Vec<String> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            out.push(parts.join("/"));
        }
    }
}

/// The deepest module file that `path` lies in.
fn resolve(files: &BTreeMap<Module, String>, path: &[String]) -> Module {
    (0..=path.len())
        .rev()
        .map(|k| path[..k].to_vec())
        .find(|prefix| files.contains_key(prefix))
        .unwrap_or_default()
}

/// `text` without block comments (not nested: each ends at the first `*/`) and without
/// everything from `//` to the end of a line (doc comments included).
fn strip_comments(text: &str) -> String {
    let mut without_blocks = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("/*") {
        let Some(len) = rest[start + 2..].find("*/") else {
            break; // unclosed: left as it is
        };
        without_blocks.push_str(&rest[..start]);
        rest = &rest[start + 2 + len + 2..];
    }
    without_blocks.push_str(rest);
    split_lines(&without_blocks)
        .iter()
        .map(|line| line.split("//").next().unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Lines as Python's `str.splitlines` splits them.
fn split_lines(text: &str) -> Vec<&str> {
    let breaks = [
        '\n', '\r', '\u{b}', '\u{c}', '\u{1c}', '\u{1d}', '\u{1e}', '\u{85}', '\u{2028}',
        '\u{2029}',
    ];
    let mut lines = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if breaks.contains(&c) {
            lines.push(&text[start..i]);
            start = i + c.len_utf8();
            if c == '\r' && chars.peek().is_some_and(|&(_, next)| next == '\n') {
                chars.next();
                start += 1;
            }
        }
    }
    if start < text.len() {
        lines.push(&text[start..]);
    }
    lines
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Whether a word starts at byte `at` of `text` (the character before it is no word character).
fn word_starts(text: &str, at: usize) -> bool {
    !text[..at].chars().next_back().is_some_and(is_word)
}

/// The bodies of `use` declarations: what lies between `use` and the next `;`.
fn use_bodies(text: &str) -> Vec<String> {
    let mut bodies = Vec::new();
    let mut at = 0;
    while let Some(found) = text[at..].find("use") {
        let start = at + found;
        let after = start + 3;
        let spaces = text[after..]
            .find(|c: char| !c.is_whitespace())
            .unwrap_or(text.len() - after);
        let body_start = after + spaces;
        let semicolon = text[body_start..].find(';').map(|i| body_start + i);
        match semicolon {
            Some(end) if word_starts(text, start) && spaces > 0 && end > body_start => {
                bodies.push(text[body_start..end].to_owned());
                at = end + 1;
            }
            _ => at = start + 1,
        }
    }
    bodies
}

/// The paths a `use` tree names: `a::b::{c, d::e}` is `a::b::c` and `a::b::d::e`. Spaces and
/// line breaks are dropped first; `x as y` stays one (unresolvable) segment.
fn expand_use(body: &str, out: &mut Vec<String>) {
    let body: String = body.chars().filter(|&c| c != ' ' && c != '\n').collect();
    walk_use("", &body, out);
}

fn walk_use(prefix: &str, tree: &str, out: &mut Vec<String>) {
    let mut depth = 0i32;
    let mut parts = Vec::new();
    let mut current = String::new();
    for c in tree.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            _ => {}
        }
        if c == ',' && depth == 0 {
            parts.push(std::mem::take(&mut current));
        } else {
            current.push(c);
        }
    }
    parts.push(current);
    for part in parts.iter().filter(|p| !p.is_empty()) {
        match part.split_once('{') {
            Some((head, rest)) => {
                let inner = match rest.rfind('}') {
                    Some(end) => &rest[..end],
                    // No closing brace: everything but the last character.
                    None => rest
                        .char_indices()
                        .next_back()
                        .map_or("", |(last, _)| &rest[..last]),
                };
                walk_use(&format!("{prefix}{head}"), inner, out);
            }
            None => out.push(format!("{prefix}{part}")),
        }
    }
}

/// Every `crate::a::b` or `super::a` path written anywhere (the longest `::`-joined run of
/// identifiers after a `crate` or `super` that starts a word).
fn inline_paths(text: &str) -> Vec<String> {
    let ident_start = |c: char| c.is_ascii_alphabetic() || c == '_';
    let ident_char = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut paths = Vec::new();
    let mut at = 0;
    while at < text.len() {
        let rest = &text[at..];
        let keyword = ["crate", "super"].into_iter().find(|k| rest.starts_with(k));
        let mut end = at;
        if let Some(keyword) = keyword.filter(|_| word_starts(text, at)) {
            let mut cursor = at + keyword.len();
            loop {
                let tail = &text[cursor..];
                let Some(after_colons) = tail.strip_prefix("::") else {
                    break;
                };
                if !after_colons.starts_with(ident_start) {
                    break;
                }
                let len = after_colons
                    .find(|c: char| !ident_char(c))
                    .unwrap_or(after_colons.len());
                cursor += 2 + len;
                end = cursor;
            }
        }
        if end > at {
            paths.push(text[at..end].to_owned());
            at = end;
        } else {
            at += rest.chars().next().unwrap().len_utf8();
        }
    }
    paths
}

/// The strongly connected components of two or more modules (Tarjan).
fn cycles(graph: &Graph) -> Vec<Vec<Module>> {
    struct Tarjan<'g> {
        graph: &'g Graph,
        index: BTreeMap<&'g Module, usize>,
        low: BTreeMap<&'g Module, usize>,
        stack: Vec<&'g Module>,
        on_stack: BTreeSet<&'g Module>,
        components: Vec<Vec<Module>>,
    }
    impl<'g> Tarjan<'g> {
        fn strong(&mut self, v: &'g Module) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            self.on_stack.insert(v);
            for w in self.graph.edges.get(v).into_iter().flat_map(|e| e.keys()) {
                if !self.index.contains_key(w) {
                    self.strong(w);
                    let low = self.low[v].min(self.low[w]);
                    self.low.insert(v, low);
                } else if self.on_stack.contains(w) {
                    let low = self.low[v].min(self.index[w]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                loop {
                    let w = self.stack.pop().unwrap();
                    self.on_stack.remove(w);
                    component.push(w.clone());
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    self.components.push(component);
                }
            }
        }
    }
    let mut tarjan = Tarjan {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        components: Vec::new(),
    };
    for v in graph.files.keys() {
        if !tarjan.index.contains_key(v) {
            tarjan.strong(v);
        }
    }
    tarjan.components
}

/// The cycles of the tree at `src` and their report, in `modcycles.py`'s format (cycles in the
/// order of their sorted file names): each cycle's files, then its edges with their names, and
/// last `cycles: N`.
fn report(src: &Path) -> (usize, String) {
    let graph = graph(src);
    let show = |module: &Module| format!("src/{}", graph.files[module]);
    let mut blocks: Vec<(Vec<String>, Vec<Module>)> = cycles(&graph)
        .into_iter()
        .map(|component| {
            let mut names: Vec<String> = component.iter().map(show).collect();
            names.sort();
            (names, component)
        })
        .collect();
    blocks.sort();
    let mut out = String::new();
    for (i, (names, mut component)) in blocks.iter().cloned().enumerate() {
        out.push_str(&format!("cycle {}: {}\n", i + 1, names.join(", ")));
        component.sort();
        for from in &component {
            for (to, names) in graph.edges.get(from).into_iter().flatten() {
                if component.contains(to) {
                    let names: Vec<&str> = names.iter().map(String::as_str).collect();
                    out.push_str(&format!(
                        "  {} -> {}: {}\n",
                        show(from),
                        show(to),
                        names.join(", ")
                    ));
                }
            }
        }
    }
    out.push_str(&format!("cycles: {}\n", blocks.len()));
    (blocks.len(), out)
}

/// A report with its cycles in the order of their headers' file lists, renumbered (the
/// reference numbers them in the order it walks the directory).
fn normalised(report: &str) -> String {
    let mut blocks: Vec<(String, Vec<&str>)> = Vec::new();
    let mut total = "";
    for line in report.lines() {
        if let Some((_, files)) = line.strip_prefix("cycle ").and_then(|l| l.split_once(": ")) {
            blocks.push((files.to_owned(), Vec::new()));
        } else if line.starts_with("cycles: ") {
            total = line;
        } else if let Some((_, edges)) = blocks.last_mut() {
            edges.push(line);
        }
    }
    blocks.sort();
    let mut out = String::new();
    for (i, (files, edges)) in blocks.iter().enumerate() {
        out.push_str(&format!("cycle {}: {files}\n", i + 1));
        for edge in edges {
            out.push_str(edge);
            out.push('\n');
        }
    }
    out.push_str(total);
    out.push('\n');
    out
}

/// With `CRM_MODCYCLES_PY` set: the reference's report on `src` is the same as `ours`.
fn same_as_reference(src: &Path, ours: &str) {
    let Some(script) = std::env::var_os("CRM_MODCYCLES_PY") else {
        return;
    };
    let output = std::process::Command::new("python3")
        .arg(&script)
        .arg(src)
        .output()
        .expect("python3 runs");
    assert!(output.status.success(), "{output:?}");
    let theirs = String::from_utf8(output.stdout).unwrap();
    assert_eq!(
        normalised(&theirs),
        normalised(ours),
        "modcycles.py disagrees on {}",
        src.display()
    );
    eprintln!("modcycles.py agrees on {}", src.display());
}

#[test]
fn no_import_cycles_between_modules() {
    let src = std::env::var_os("CRM_LAYOUT_SRC").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        PathBuf::from,
    );
    let (cycles, report) = report(&src);
    same_as_reference(&src, &report);
    assert!(
        cycles == 0,
        "modules of {} import each other in a cycle; move what ties them so that imports go \
         one way:\n{report}",
        src.display()
    );
}

/// Writes `files` (path, text) under a fresh `src/` and returns its report.
fn report_of(files: &[(&str, &str)]) -> (usize, String) {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    for (path, text) in files {
        let path = src.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let (cycles, report) = report(&src);
    same_as_reference(&src, &report);
    (cycles, report)
}

#[test]
fn a_cycle_of_three_files_is_found() {
    let (cycles, report) = report_of(&[
        (
            "lib.rs",
            "pub mod a;\npub mod b;\npub mod c;\nuse crate::a::A;\n",
        ),
        // `b::inner` is named too, but is no part of the cycle (it only names its parent).
        (
            "a.rs",
            "use crate::b::{B, inner::{Deep, self}};\n// use crate::c::Commented;\n\
             /* crate::c::Block */\npub struct A;\n",
        ),
        (
            "b/mod.rs",
            "pub mod inner;\npub fn f() -> super::c::C { todo!() }\n",
        ),
        // A child naming its parent (and the parent its child) is no cycle.
        ("b/inner.rs", "use super::B;\npub struct Deep;\n"),
        (
            "c.rs",
            "use crate::{a::A as Alias, d};\npub struct C(crate::a::A);\n",
        ),
        ("d.rs", "pub struct D;\n"),
    ]);
    assert_eq!(cycles, 1, "{report}");
    assert_eq!(
        report,
        "cycle 1: src/a.rs, src/b/mod.rs, src/c.rs\n\
         \x20 src/a.rs -> src/b/mod.rs: B, b\n\
         \x20 src/b/mod.rs -> src/c.rs: C\n\
         \x20 src/c.rs -> src/a.rs: A, AasAlias\n\
         cycles: 1\n"
    );
}

#[test]
fn an_acyclic_tree_passes() {
    let (cycles, report) = report_of(&[
        (
            "main.rs",
            "mod a;\nmod b;\nuse crate::b::B;\nfn main() {}\n",
        ),
        ("a/mod.rs", "pub mod x;\npub struct A(pub x::X);\n"),
        ("a/x.rs", "use super::A;\npub struct X(crate::b::B);\n"),
        (
            "b.rs",
            "//! Names crate::a::A only in comments: /* crate::a::A */\npub struct B;\n",
        ),
    ]);
    assert_eq!((cycles, report.as_str()), (0, "cycles: 0\n"));
}
