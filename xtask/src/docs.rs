//! Checking the docs: every relative link and mdBook include must name a
//! file that exists.

use std::path::{Path, PathBuf};

/// The broken links and includes under `docs`, as `file: target` lines.
///
/// A page in `docs/` is read in two places: on its own (links relative to
/// `docs/`) and included in the book (links relative to `docs/book/`), so
/// its links must resolve from both.
pub fn broken_links(docs: &Path) -> Result<Vec<String>, String> {
    let book = docs.join("book");
    let mut broken = Vec::new();
    for (dir, bases) in [
        (docs, vec![docs.to_owned(), book.clone()]),
        (&book, vec![book.clone()]),
    ] {
        let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for entry in entries {
            let path = entry.map_err(|e| e.to_string())?.path();
            if path.extension().is_none_or(|e| e != "md") {
                continue;
            }
            let text =
                std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            for target in includes(&text) {
                if !dir.join(&target).is_file() {
                    broken.push(format!("{}: include {}", path.display(), target.display()));
                }
            }
            for target in links(&text) {
                for base in &bases {
                    if !base.join(&target).exists() {
                        broken.push(format!(
                            "{}: link {} (from {})",
                            path.display(),
                            target.display(),
                            base.display()
                        ));
                    }
                }
            }
        }
    }
    Ok(broken)
}

/// `{{#include PATH}}` targets.
fn includes(text: &str) -> Vec<PathBuf> {
    text.match_indices("{{#include ")
        .filter_map(|(at, tag)| {
            let rest = &text[at + tag.len()..];
            rest.find("}}").map(|end| PathBuf::from(rest[..end].trim()))
        })
        .collect()
}

/// Relative `[text](target)` link targets, without their `#anchor`;
/// web links, mail links and pure anchors are not checked.
fn links(text: &str) -> Vec<PathBuf> {
    let mut in_code = false;
    let mut found = Vec::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
        }
        if in_code {
            continue;
        }
        for (at, _) in line.match_indices("](") {
            let rest = &line[at + 2..];
            let Some(end) = rest.find(')') else { continue };
            let target = rest[..end].split('#').next().unwrap_or_default().trim();
            if target.is_empty() || target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            found.push(PathBuf::from(target));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_relative_links_and_includes_only() {
        let text = "see [a](a.md#x), [web](https://x.org/y.md), [top](#top)\n\
                    ```\n[not](code.md)\n```\n{{#include ../b.md}}\n";
        assert_eq!(links(text), [PathBuf::from("a.md")]);
        assert_eq!(includes(text), [PathBuf::from("../b.md")]);
    }
}
