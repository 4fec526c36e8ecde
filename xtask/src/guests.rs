//! Building Rust guests into components.
//!
//! With a rustup `wasm32-wasip2` target installed, this is a plain cargo
//! build. Without one (the rustup here cannot download targets), it uses
//! Debian's `rustc-web` and its std source to build std for wasm32-wasip2
//! with `-Zbuild-std`; the `wasm-component-ld` that ships with it links the
//! module and turns it into a component.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{run, step};

/// Guest crates, built together into one shared target dir.
const GUESTS: [&str; 5] = [
    "trust-threshold",
    "kyc-score",
    "quota",
    "hostile",
    "workloads",
];
const TARGET: &str = "wasm32-wasip2";
const PROFILE: &str = "guest";
/// Debian packages of the fallback toolchain. `rust-web-llvm` carries
/// `wasm-component-ld`; `lld-22` carries `wasm-ld`.
const PACKAGES: [&str; 6] = [
    "rustc-web",
    "cargo-web",
    "rust-web-src",
    "rust-web-llvm",
    "wasi-libc",
    "lld-22",
];
const DEBIAN_SYSROOT_SRC: &str = "/usr/lib/rustlib/src/rust/library/Cargo.lock";
const WASI_LIBC: &str = "/usr/lib/wasm32-wasi";
const COMPONENT_LD: &str = "/usr/lib/rustlib/x86_64-unknown-linux-gnu/bin/wasm-component-ld";
const WASM_LD: &str = "/usr/lib/llvm-22/bin/wasm-ld";
/// A 32 KiB shadow stack instead of 1 MiB: with the SDK's 16 KiB arena the
/// whole guest fits in one 64 KiB page, which the host's pool keeps
/// resident between evaluations.
const STACK_FLAGS: &str = "-C link-arg=-zstack-size=32768";
/// With std built from source, panics abort at once: no formatting
/// machinery and no stderr, so policies import no WASI at all.
const BUILD_STD_FLAGS: &str = "-Zunstable-options -Cpanic=immediate-abort";

/// How guests get built on this machine.
pub enum Toolchain {
    /// rustup has the target: an ordinary cargo build.
    Rustup,
    /// Debian's compiler with build-std.
    Debian { wasm_ld: PathBuf },
}

impl Toolchain {
    /// Finds a toolchain, installing Debian's packages if nothing else is there.
    pub fn ensure() -> Result<Toolchain, String> {
        if rustup_has_target() {
            eprintln!("==> using the rustup {TARGET} target");
            return Ok(Toolchain::Rustup);
        }
        let missing: Vec<&str> = PACKAGES
            .iter()
            .copied()
            .filter(|p| !dpkg_installed(p))
            .collect();
        if missing.is_empty() {
            eprintln!("==> guest toolchain present (Debian rustc-web + build-std for {TARGET})");
        } else {
            step(
                &format!(
                    "installing the guest toolchain: {} (~235 MB, once)",
                    missing.join(" ")
                ),
                || install(&missing),
            )?;
        }
        for (path, package) in [
            (DEBIAN_SYSROOT_SRC, "rust-web-src"),
            (COMPONENT_LD, "rust-web-llvm"),
        ] {
            if !Path::new(path).exists() {
                return Err(format!("{path} is missing: reinstall `{package}`"));
            }
        }
        if !Path::new(WASI_LIBC).join("libc.a").exists() {
            return Err(format!(
                "{WASI_LIBC}/libc.a is missing: reinstall `wasi-libc`"
            ));
        }
        let wasm_ld = if Path::new(WASM_LD).exists() {
            PathBuf::from(WASM_LD)
        } else {
            rustup_wasm_ld()?
        };
        Ok(Toolchain::Debian { wasm_ld })
    }

    pub(crate) fn cargo_build(&self, target_dir: &Path, profile: &str) -> Command {
        let mut cmd = match self {
            Toolchain::Rustup => {
                let mut cmd = Command::new("cargo");
                cmd.env("CARGO_TARGET_WASM32_WASIP2_RUSTFLAGS", STACK_FLAGS);
                cmd
            }
            Toolchain::Debian { wasm_ld } => {
                let mut cmd = Command::new("/usr/bin/cargo");
                cmd.env("RUSTC", "/usr/bin/rustc")
                    .env("RUSTDOC", "/usr/bin/rustdoc")
                    // Unlocks -Z on Debian's stable compiler, for this build only.
                    .env("RUSTC_BOOTSTRAP", "1")
                    .env(
                        "CARGO_TARGET_WASM32_WASIP2_RUSTFLAGS",
                        format!(
                            "-C link-arg=--wasm-ld-path={} -L native={WASI_LIBC} {STACK_FLAGS} {BUILD_STD_FLAGS}",
                            wasm_ld.display()
                        ),
                    );
                cmd
            }
        };
        // An outer cargo (this xtask runs under `cargo run`) leaks settings
        // that would redirect or rebuild the guest build.
        for var in [
            "RUSTFLAGS",
            "CARGO_ENCODED_RUSTFLAGS",
            "CARGO_BUILD_RUSTFLAGS",
            "CARGO_BUILD_TARGET",
            "RUSTC_WRAPPER",
            "RUSTC_WORKSPACE_WRAPPER",
            "RUSTUP_TOOLCHAIN",
            "CARGO_TARGET_DIR",
            "CARGO",
        ] {
            cmd.env_remove(var);
        }
        cmd.args([
            "build",
            "--profile",
            profile,
            "--target",
            TARGET,
            "--target-dir",
        ])
        .arg(target_dir);
        if matches!(self, Toolchain::Debian { .. }) {
            cmd.arg("-Zbuild-std=std,panic_abort");
        }
        cmd
    }
}

/// Builds the crate at `manifest` (a project of its own, e.g. one made from
/// a template) into a component with its release profile; returns its path.
pub fn build_project(manifest: &Path, crate_name: &str) -> Result<PathBuf, String> {
    let toolchain = Toolchain::ensure()?;
    let target_dir = workspace_root().join("target/guest-build");
    let mut cmd = toolchain.cargo_build(&target_dir, "release");
    cmd.arg("--manifest-path").arg(manifest);
    run(&mut cmd)?;
    let built = target_dir
        .join(TARGET)
        .join("release")
        .join(format!("{crate_name}.wasm"));
    match std::fs::read(&built) {
        Ok(bytes) if bytes.get(4..8) == Some(&[0x0d, 0x00, 0x01, 0x00]) => Ok(built),
        Ok(_) => Err(format!("{} is not a component", built.display())),
        Err(e) => Err(format!("cannot read {}: {e}", built.display())),
    }
}

/// Builds every guest; returns the directory holding `<crate_name>.wasm`.
pub fn build_all() -> Result<PathBuf, String> {
    let toolchain = Toolchain::ensure()?;
    let root = workspace_root();
    let target_dir = root.join("target/guest-build");
    let out_dir = root.join("target/guests");
    step(
        &format!(
            "building {} guests (std is built once, ~40 s, then reused)",
            GUESTS.len()
        ),
        || {
            let mut cmd = toolchain.cargo_build(&target_dir, PROFILE);
            cmd.current_dir(&root);
            for g in GUESTS {
                cmd.args(["-p", g]);
            }
            run(&mut cmd)
        },
    )?;
    std::fs::create_dir_all(&out_dir)
        .map_err(|e| format!("cannot create {}: {e}", out_dir.display()))?;
    for g in GUESTS {
        let file = format!("{}.wasm", g.replace('-', "_"));
        let built = target_dir.join(TARGET).join(PROFILE).join(&file);
        let bytes =
            std::fs::read(&built).map_err(|e| format!("cannot read {}: {e}", built.display()))?;
        if bytes.get(4..8) != Some(&[0x0d, 0x00, 0x01, 0x00]) {
            return Err(format!("{} is not a component", built.display()));
        }
        let dest = out_dir.join(&file);
        std::fs::write(&dest, &bytes)
            .map_err(|e| format!("cannot write {}: {e}", dest.display()))?;
        eprintln!("    {} ({} bytes)", dest.display(), bytes.len());
    }
    Ok(out_dir)
}

/// The repository root, whatever directory xtask was started from.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

fn rustup_has_target() -> bool {
    Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .is_ok_and(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l.trim() == TARGET)
        })
}

fn dpkg_installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
}

fn install(packages: &[&str]) -> Result<(), String> {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0"));
    let apt = |args: &[&str]| {
        let mut cmd = if root {
            Command::new("apt-get")
        } else {
            Command::new("sudo")
        };
        if !root {
            cmd.arg("apt-get");
        }
        cmd.env("DEBIAN_FRONTEND", "noninteractive").args(args);
        cmd
    };
    run(&mut apt(&["update", "-q"]))?;
    let mut cmd = apt(&["install", "-y", "-q"]);
    cmd.args(packages);
    run(&mut cmd).map_err(|e| {
        format!(
            "{e}\nthe guest toolchain needs Debian packages: {}",
            packages.join(" ")
        )
    })
}

/// rustup's own `wasm-ld`, when Debian's lld is not installed.
fn rustup_wasm_ld() -> Result<PathBuf, String> {
    let out = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .map_err(|e| format!("cannot run rustc: {e}"))?;
    let sysroot = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let ld = Path::new(&sysroot).join("lib/rustlib/x86_64-unknown-linux-gnu/bin/gcc-ld/wasm-ld");
    if ld.exists() {
        Ok(ld)
    } else {
        Err(format!(
            "no wasm-ld: install `lld-22` (looked for {WASM_LD} and {})",
            ld.display()
        ))
    }
}
