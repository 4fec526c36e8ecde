//! `erynoa keygen`, `erynoa sign` and `erynoa verify`.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use erynoa_sign::{VerifyingKey, key_id, keys};
use serde::Serialize;

use crate::args::{KeygenArgs, SignArgs, VerifyArgs};
use crate::output::{ExitStatus, Format};

fn read(path: &Path, what: &str) -> anyhow::Result<Vec<u8>> {
    erynoa_host::json::read_file(path, erynoa_host::json::MAX_INPUT_BYTES)
        .with_context(|| format!("cannot read {what} `{}`", path.display()))
}

fn write(path: &Path, bytes: &[u8], private: bool) -> anyhow::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private; // no permission bits to set
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot write `{}`", path.display()))?;
    file.write_all(bytes)
        .with_context(|| format!("cannot write `{}`", path.display()))
}

fn with_suffix(name: &Path, suffix: &str) -> PathBuf {
    let mut s = name.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

pub fn keygen(args: KeygenArgs) -> anyhow::Result<ExitStatus> {
    let files = [".key", ".pub.pem", ".pub"].map(|s| with_suffix(&args.name, s));
    if let Some(existing) = files.iter().find(|f| !args.force && f.exists()) {
        bail!(
            "`{}` exists; pass --force to overwrite it",
            existing.display()
        );
    }
    let key = keys::generate()?;
    let public = key.verifying_key();
    let comment = args.comment.unwrap_or_else(|| {
        args.name
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
    });
    write(&files[0], keys::private_key_pem(&key)?.as_bytes(), true)?;
    write(&files[1], keys::public_key_pem(&public)?.as_bytes(), false)?;
    write(
        &files[2],
        format!("{}\n", keys::public_key_openssh(&public, &comment)).as_bytes(),
        false,
    )?;
    println!("key id    {}", key_id(&public));
    for (file, what) in files.iter().zip([
        "private key (keep it secret)",
        "public key (PEM)",
        "public key (OpenSSH)",
    ]) {
        println!("wrote     {} ({what})", file.display());
    }
    Ok(ExitStatus::Success)
}

pub fn sign(args: SignArgs) -> anyhow::Result<ExitStatus> {
    let key = keys::read_private_key(&read(&args.key, "private key")?)
        .with_context(|| format!("in `{}`", args.key.display()))?;
    let input = read(&args.input, "component")?;
    let signed = erynoa_sign::sign(&input, &key)
        .with_context(|| format!("cannot sign `{}`", args.input.display()))?;
    let digest = erynoa_sign::verify(&signed, None, &[key.verifying_key()])?.digest_hex();
    match (&args.detached, &args.output) {
        (Some(sig), output) => {
            let payload = erynoa_sign::signature_payload(&signed)?;
            write(sig, &payload, false)?;
            println!("wrote     {} (detached signature)", sig.display());
            if let Some(out) = output {
                write(out, &input, false)?;
            }
        }
        (None, Some(out)) => {
            write(out, &signed, false)?;
            println!("wrote     {}", out.display());
        }
        (None, None) => bail!("nothing to write: give -o OUT.wasm or --detached SIG"),
    }
    println!("key id    {}", key_id(&key.verifying_key()));
    println!("digest    sha256:{digest}");
    Ok(ExitStatus::Success)
}

#[derive(Serialize)]
struct Report {
    verified: bool,
    component: String,
    digest: Option<String>,
    signers: Vec<Signer>,
    unverified_signatures: usize,
    error: Option<String>,
}

#[derive(Serialize)]
struct Signer {
    key_id: String,
    key_file: String,
}

pub fn verify(args: VerifyArgs, format: Format) -> anyhow::Result<ExitStatus> {
    let mut trusted: Vec<(VerifyingKey, &Path)> = Vec::new();
    for path in &args.keys {
        let key = keys::read_public_key(&read(path, "public key")?)
            .with_context(|| format!("in `{}`", path.display()))?;
        trusted.push((key, path));
    }
    let bytes = read(&args.input, "component")?;
    let detached = args
        .signature
        .as_deref()
        .map(|p| read(p, "signature"))
        .transpose()?;
    let keys: Vec<VerifyingKey> = trusted.iter().map(|(k, _)| *k).collect();
    let outcome = erynoa_sign::verify(&bytes, detached.as_deref(), &keys);
    let report = match &outcome {
        Ok(v) => Report {
            verified: true,
            component: args.input.display().to_string(),
            digest: Some(format!("sha256:{}", v.digest_hex())),
            signers: v
                .signatures
                .iter()
                .map(|s| Signer {
                    key_id: s.key_id.to_string(),
                    key_file: trusted
                        .iter()
                        .find(|(k, _)| *k == s.public_key)
                        .map_or_else(String::new, |(_, p)| p.display().to_string()),
                })
                .collect(),
            unverified_signatures: v.unverified,
            error: None,
        },
        Err(e) => Report {
            verified: false,
            component: args.input.display().to_string(),
            digest: None,
            signers: Vec::new(),
            unverified_signatures: 0,
            error: Some(e.to_string()),
        },
    };
    if format == Format::Json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report, detached.is_some());
    }
    Ok(if report.verified {
        ExitStatus::Success
    } else {
        ExitStatus::CheckFailed
    })
}

fn print_report(r: &Report, detached: bool) {
    if let Some(error) = &r.error {
        println!("FAILED    {}", r.component);
        println!("reason    {error}");
        return;
    }
    println!("verified  {}", r.component);
    println!(
        "digest    {} (SHA-256 of every byte after the signature section)",
        r.digest.as_deref().unwrap_or("")
    );
    let source = if detached {
        "the detached signature"
    } else {
        "the embedded `signature` section"
    };
    println!(
        "checked   {source} covers exactly these bytes, and the signature by each key below verifies"
    );
    for s in &r.signers {
        println!("signer    key id {} ({})", s.key_id, s.key_file);
    }
    if r.unverified_signatures > 0 {
        println!(
            "also      {} signature(s) by keys not given with --key",
            r.unverified_signatures
        );
    }
}
