//! `erynoa trust`: edit a trust store the way an operator would by hand,
//! keeping its comments and layout, and never writing one the host would
//! refuse to load.

use std::path::Path;

use anyhow::{Context, bail};
use erynoa_host::{Capability, TrustStore};
use toml_edit::{Array, ArrayOfTables, DocumentMut, Item, Table, value};

use crate::args::{TrustArgs, TrustCommand};
use crate::output::ExitStatus;

/// `erynoa trust ...`.
pub fn execute(args: TrustArgs) -> anyhow::Result<ExitStatus> {
    let path = &args.store;
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("cannot read `{}`", path.display())),
    };
    let mut doc: DocumentMut = text
        .parse()
        .with_context(|| format!("`{}` is not TOML", path.display()))?;
    let said = match args.command {
        TrustCommand::AddKey { name, key, grant } => {
            let bytes = erynoa_host::json::read_file(&key, 64 << 10)
                .with_context(|| format!("cannot read public key `{}`", key.display()))?;
            let public = erynoa_sign::keys::read_public_key(&bytes)
                .with_context(|| format!("`{}` holds no Ed25519 public key", key.display()))?;
            if keys(&doc).any(|t| t.get("name").and_then(Item::as_str) == Some(name.as_str())) {
                bail!(
                    "`{}` already has a key named `{name}`; remove it first or pick another name",
                    path.display()
                );
            }
            let mut table = Table::new();
            table["name"] = value(name.as_str());
            table["public_key"] = value(erynoa_sign::keys::public_key_openssh(&public, &name));
            table["capabilities"] = value(capabilities(&grant));
            tables(&mut doc, "key")?.push(table);
            format!(
                "trusted key `{name}` ({}) with {}",
                erynoa_sign::key_id(&public),
                listed(&grant)
            )
        }
        TrustCommand::Pin { files, grant } => {
            let mut said = Vec::new();
            for file in &files {
                let pin = match super::ecl::read_pin(file)? {
                    Ok(pin) => pin,
                    Err(diagnostics) => {
                        eprint!("{diagnostics}");
                        return Ok(ExitStatus::Error);
                    }
                };
                let grant: Vec<Capability> = match &grant {
                    Some(grant) => grant.clone(),
                    None => pin.capabilities.iter().copied().collect(),
                };
                let components = tables(&mut doc, "component")?;
                if components
                    .iter()
                    .any(|t| t.get("digest").and_then(Item::as_str) == Some(pin.digest.as_str()))
                {
                    said.push(format!("{} is already pinned", file.display()));
                    continue;
                }
                let mut table = Table::new();
                table
                    .decor_mut()
                    .set_prefix(format!("\n# {}: {}\n", file.display(), pin.what));
                table["digest"] = value(pin.digest.as_str());
                table["capabilities"] = value(capabilities(&grant));
                components.push(table);
                said.push(format!(
                    "pinned {} ({}) with {}",
                    file.display(),
                    pin.digest,
                    listed(&grant)
                ));
            }
            said.join("\n")
        }
        TrustCommand::Revoke { entry } => {
            let revoked = doc
                .entry("revoked")
                .or_insert_with(|| value(Array::new()))
                .as_array_mut()
                .context("`revoked` is not an array")?;
            if revoked.iter().any(|v| v.as_str() == Some(entry.as_str())) {
                format!("`{entry}` is already revoked")
            } else {
                revoked.push(entry.as_str());
                format!("revoked `{entry}`")
            }
        }
    };
    let text = doc.to_string();
    // The host must be able to load what we write: check it as it would.
    TrustStore::from_toml(&text).context("refused: the edited trust store would not load")?;
    write_atomically(path, &text)?;
    println!("{said}");
    Ok(ExitStatus::Success)
}

fn keys(doc: &DocumentMut) -> impl Iterator<Item = &Table> {
    doc.get("key")
        .and_then(Item::as_array_of_tables)
        .into_iter()
        .flat_map(ArrayOfTables::iter)
}

/// The array of tables `[[name]]`, created if missing.
fn tables<'a>(doc: &'a mut DocumentMut, name: &str) -> anyhow::Result<&'a mut ArrayOfTables> {
    doc.entry(name)
        .or_insert_with(|| Item::ArrayOfTables(ArrayOfTables::new()))
        .as_array_of_tables_mut()
        .with_context(|| format!("`{name}` is not a list of `[[{name}]]` tables"))
}

fn capabilities(grant: &[Capability]) -> Array {
    grant.iter().map(|c| c.to_string()).collect()
}

fn listed(grant: &[Capability]) -> String {
    if grant.is_empty() {
        return "no capabilities".into();
    }
    let names: Vec<String> = grant.iter().map(|c| format!("`{c}`")).collect();
    names.join(", ")
}

/// Replaces `path` by a new file holding `text`, so a reader (a host
/// watching the store) never sees half of it.
fn write_atomically(path: &Path, text: &str) -> anyhow::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    let tmp = dir
        .unwrap_or_else(|| Path::new("."))
        .join(format!(".trust-{}.tmp", std::process::id()));
    // A new file (never one already there, or a link planted at its name).
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .and_then(|mut file| std::io::Write::write_all(&mut file, text.as_bytes()))
        .and_then(|()| {
            if let Ok(meta) = std::fs::metadata(path) {
                std::fs::set_permissions(&tmp, meta.permissions())?;
            }
            std::fs::rename(&tmp, path)
        });
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.with_context(|| format!("cannot write `{}`", path.display()))
}
