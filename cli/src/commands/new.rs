//! `erynoa new`: a policy project from `templates/`, without cargo-generate.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::args::{NewArgs, Template};
use crate::output::ExitStatus;

/// The templates, embedded: `erynoa new` needs no checkout of the repository.
const RUST: &[(&str, &str)] = &[
    (
        "Cargo.toml",
        include_str!("../../../templates/rust-policy/Cargo.toml"),
    ),
    (
        "src/lib.rs",
        include_str!("../../../templates/rust-policy/src/lib.rs"),
    ),
    (
        "policy.test.toml",
        include_str!("../../../templates/rust-policy/policy.test.toml"),
    ),
    (
        "state.json",
        include_str!("../../../templates/rust-policy/state.json"),
    ),
    (
        "request.json",
        include_str!("../../../templates/rust-policy/request.json"),
    ),
    (
        "README.md",
        include_str!("../../../templates/rust-policy/README.md"),
    ),
];
const ECL: &[(&str, &str)] = &[
    (
        "policy.ecl",
        include_str!("../../../templates/ecl-policy/policy.ecl"),
    ),
    (
        "policy.test.toml",
        include_str!("../../../templates/ecl-policy/policy.test.toml"),
    ),
    (
        "state.json",
        include_str!("../../../templates/ecl-policy/state.json"),
    ),
    (
        "request.json",
        include_str!("../../../templates/ecl-policy/request.json"),
    ),
    (
        "README.md",
        include_str!("../../../templates/ecl-policy/README.md"),
    ),
];

pub fn execute(args: NewArgs) -> anyhow::Result<ExitStatus> {
    let name = &args.name;
    let valid = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !valid {
        bail!(
            "`{name}` is not a project name: use lower-case letters, digits, `-` and `_`, starting with a letter"
        );
    }
    let dir = PathBuf::from(name);
    if dir.exists() {
        bail!("`{}` exists; pick another name or remove it", dir.display());
    }
    let (files, sdk) = match args.template {
        Template::Ecl => (ECL, String::new()),
        Template::Rust => (RUST, sdk_path(args.sdk)?),
    };
    for (file, text) in files {
        let path = dir.join(file);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create `{}`", parent.display()))?;
        }
        let text = text
            .replace("{{project-name}}", name)
            .replace("{{crate_name}}", &name.replace('-', "_"))
            .replace("{{sdk_path}}", &sdk);
        std::fs::write(&path, text)
            .with_context(|| format!("cannot write `{}`", path.display()))?;
    }
    println!(
        "created {} ({} policy); see {}/README.md",
        dir.display(),
        match args.template {
            Template::Rust => "Rust",
            Template::Ecl => "ECL",
        },
        dir.display()
    );
    Ok(ExitStatus::Success)
}

fn sdk_path(given: Option<PathBuf>) -> anyhow::Result<String> {
    let path = match given {
        Some(p) => p,
        None => {
            let built_from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk");
            if !built_from.join("Cargo.toml").is_file() {
                bail!(
                    "pass --sdk with the path of the erynoa-sdk crate (the `sdk/` directory of the Erynoa repository)"
                );
            }
            built_from
        }
    };
    let path = path
        .canonicalize()
        .with_context(|| format!("no erynoa-sdk at `{}`", path.display()))?;
    if !path.join("Cargo.toml").is_file() {
        bail!(
            "`{}` has no Cargo.toml: not the erynoa-sdk crate",
            path.display()
        );
    }
    // TOML strings: forward slashes work on every platform.
    Ok(path.to_string_lossy().replace('\\', "/"))
}
