//! Every command of the user guide's getting-started pages runs, in order,
//! in a fresh directory, so the pages cannot rot. Blocks marked
//! `sh no-test` are skipped (the page says what covers them instead).

use std::path::{Path, PathBuf};
use std::process::Command;

fn blocks(page: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in page.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```sh") => current = Some(String::new()),
            (Some(block), "```") => {
                out.push(std::mem::take(block));
                current = None;
            }
            (Some(block), text) => {
                block.push_str(text);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    out
}

fn run_page(name: &str) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let page = std::fs::read_to_string(root.join("docs/book").join(name)).expect("page");
    let dir = std::env::temp_dir().join(format!("erynoa-docs-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let bin = Path::new(env!("CARGO_BIN_EXE_erynoa"))
        .parent()
        .expect("bin dir")
        .to_owned();
    let path = std::env::join_paths(std::iter::once(bin).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .expect("PATH");
    let blocks = blocks(&page);
    assert!(!blocks.is_empty(), "{name} has no commands");
    for block in blocks {
        let out = Command::new("sh")
            .arg("-ec")
            .arg(&block)
            .current_dir(&dir)
            .env("PATH", &path)
            // Rust projects share one target directory across test runs.
            .env("CARGO_TARGET_DIR", root.join("target/template-tests"))
            .output()
            .expect("run sh");
        assert!(
            out.status.success(),
            "{name}: this block failed:\n{block}\nstdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn getting_started_for_authors_runs() {
    run_page("getting-started-authors.md");
}

#[test]
fn getting_started_for_operators_runs() {
    run_page("getting-started-operators.md");
}
