//! `cargo xtask demo`: the examples built, signed, run with `erynoa run`,
//! then served with `erynoa serve` and asked over HTTP. The load test
//! starts from the same signed policies.

use std::io::{BufRead as _, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use crate::{cargo, guests, run, step};

/// The demo's signed policies, pinned ECL and trust store.
pub(crate) struct Demo {
    pub(crate) root: PathBuf,
    /// `target/demo`.
    pub(crate) dir: PathBuf,
    /// Signed components: the Rust examples, then the ECL ones compiled.
    pub(crate) policies: Vec<PathBuf>,
    /// The ECL sources, pinned in the trust store.
    pub(crate) sources: Vec<PathBuf>,
    pub(crate) store: PathBuf,
}

impl Demo {
    fn erynoa(&self) -> Command {
        let mut cmd = Command::new(self.root.join("target/release/erynoa"));
        cmd.current_dir(&self.root);
        cmd
    }
}

pub(crate) fn demo() -> Result<(), String> {
    let demo = prepare()?;
    let mut cmd = demo.erynoa();
    cmd.arg("run")
        .arg("--trust-store")
        .arg(&demo.store)
        .arg("--state-per-policy");
    for p in &demo.policies {
        cmd.arg("--policy").arg(p);
    }
    for source in &demo.sources {
        let mut spec = source.clone().into_os_string();
        spec.push("@legacy");
        cmd.arg("--policy").arg(spec);
    }
    run(cmd.args([
        "--state",
        "demo/state.json",
        "--requests",
        "demo/requests.json",
    ]))?;
    serve_demo(&demo)
}

/// Builds the guests and the CLI, signs the examples with a fresh demo key
/// and writes a trust store trusting only that key.
pub(crate) fn prepare() -> Result<Demo, String> {
    let guests_dir = guests::build_all()?;
    step("building the erynoa CLI (release)", || {
        run(cargo().args(["build", "--release", "-p", "erynoa", "--quiet"]))
    })?;
    let root = guests::workspace_root();
    let dir = root.join("target/demo");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut demo = Demo {
        store: dir.join("trust.toml"),
        root,
        dir,
        policies: Vec::new(),
        sources: Vec::new(),
    };
    // A fresh demo key signs the examples, and the host trusts only that key,
    // granting exactly the interfaces the examples import.
    let key = demo.dir.join("demo-key");
    run(demo
        .erynoa()
        .args(["keygen", "--force", "--comment", "erynoa-demo"])
        .arg(&key))?;
    let sign = |input: &Path, signed: &Path| {
        run(demo
            .erynoa()
            .arg("sign")
            .arg(input)
            .arg("-k")
            .arg(demo.dir.join("demo-key.key"))
            .arg("-o")
            .arg(signed))
    };
    let examples = ["trust_threshold", "kyc_score", "quota"];
    let mut policies = Vec::new();
    for name in examples {
        let signed = demo.dir.join(format!("{name}.wasm"));
        sign(&guests_dir.join(format!("{name}.wasm")), &signed)?;
        policies.push(signed);
    }
    // The same policies in ECL: compiled to components and signed like the
    // Rust ones, and run from source on the built-in VM.
    let sources: Vec<_> = examples
        .iter()
        .map(|name| demo.root.join(format!("guest-examples/ecl/{name}.ecl")))
        .collect();
    for (name, source) in examples.iter().zip(&sources) {
        let compiled = demo.dir.join(format!("{name}.ecl.wasm"));
        run(demo
            .erynoa()
            .arg("compile")
            .arg(source)
            .arg("-o")
            .arg(&compiled))?;
        let signed = demo.dir.join(format!("ecl_{name}.wasm"));
        sign(&compiled, &signed)?;
        policies.push(signed);
    }
    let public = std::fs::read_to_string(demo.dir.join("demo-key.pub"))
        .map_err(|e| format!("cannot read the demo key: {e}"))?;
    let pins = demo
        .erynoa()
        .args(["ecl", "pin"])
        .args(&sources)
        .output()
        .map_err(|e| format!("cannot run erynoa ecl pin: {e}"))?;
    if !pins.status.success() {
        return Err(format!(
            "erynoa ecl pin failed: {}",
            String::from_utf8_lossy(&pins.stderr)
        ));
    }
    let toml = format!(
        "# Written by `cargo xtask demo`: trust only the demo key, with what the examples import\n\
         # (compiled ECL also imports the budget and reports its own gas: `self-metering`),\n\
         # and pin the ECL sources the built-in VM runs.\n\
         revoked = []\n\n[[key]]\nname = \"demo\"\npublic_key = \"{}\"\n\
         capabilities = [\"trust\", \"identity\", \"state\", \"events\", \"budget\", \"self-metering\"]\n\n{}",
        public.trim(),
        String::from_utf8_lossy(&pins.stdout)
    );
    std::fs::write(&demo.store, toml)
        .map_err(|e| format!("cannot write {}: {e}", demo.store.display()))?;
    demo.policies = policies;
    demo.sources = sources;
    Ok(demo)
}

/// `erynoa serve` on the demo's policies, on free loopback ports.
pub(crate) struct Service {
    child: Child,
    /// `HOST:PORT` of the decision API.
    pub(crate) decisions: String,
    /// `HOST:PORT` of the admin API.
    pub(crate) admin: String,
    /// `HOST:PORT` of Envoy ext_authz (gRPC), deciding with `kyc_score`.
    pub(crate) ext_authz: String,
    /// The policy ids, in the order they were installed.
    pub(crate) ids: Vec<String>,
}

impl Service {
    /// Installs the demo's policies in `target/demo/service/policies` (the
    /// components as `NAME.wasm`, the ECL sources as `vm_NAME.legacy.ecl`)
    /// and starts the service; with `token`, the admin API takes it;
    /// `extra` goes into its configuration as it is.
    pub(crate) fn start(demo: &Demo, token: Option<&Path>, extra: &str) -> Result<Service, String> {
        let service = demo.dir.join("service");
        let dir = service.join("policies");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let copy = |from: &Path, name: String| {
            std::fs::copy(from, dir.join(&name))
                .map(|_| name)
                .map_err(|e| format!("cannot copy {}: {e}", from.display()))
        };
        let stem = |p: &Path| {
            p.file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("policy")
                .replace('.', "_")
        };
        let mut ids = Vec::new();
        for p in &demo.policies {
            copy(p, format!("{}.wasm", stem(p)))?;
            ids.push(stem(p));
        }
        for s in &demo.sources {
            copy(s, format!("vm_{}.legacy.ecl", stem(s)))?;
            ids.push(format!("vm_{}", stem(s)));
        }
        let config = service.join("erynoa.toml");
        let token_line = token.map_or_else(String::new, |t| {
            format!("admin_token_file = \"{}\"\n", t.display())
        });
        std::fs::write(
            &config,
            format!(
                "# Written by `cargo xtask`.\nlisten = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:0\"\n\
                 policies = \"policies\"\ntrust_store = \"../trust.toml\"\nstate = \"{}\"\n{token_line}{extra}\
                 [ext_authz]\nlisten = \"127.0.0.1:0\"\npolicy = \"kyc_score\"\n",
                demo.root.join("demo/state.json").display()
            ),
        )
        .map_err(|e| format!("cannot write {}: {e}", config.display()))?;
        println!("==> erynoa serve --config {}", config.display());
        let mut child = Command::new(demo.root.join("target/release/erynoa"))
            .args(["serve", "--config"])
            .arg(&config)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start erynoa serve: {e}"))?;
        let mut first = String::new();
        if let Some(out) = child.stdout.take() {
            let _ = std::io::BufReader::new(out).read_line(&mut first);
        }
        print!("{first}");
        let addr = |after: &str| {
            first
                .split(after)
                .nth(1)
                .and_then(|rest| rest.split([',', '\n']).next())
                .map(str::to_owned)
        };
        match (
            addr("decisions on http://"),
            addr("admin on http://"),
            addr("ext_authz on grpc://"),
        ) {
            (Some(decisions), Some(admin), Some(ext_authz)) => Ok(Service {
                child,
                decisions,
                admin,
                ext_authz,
                ids,
            }),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                Err(format!("erynoa serve did not start: {first:?}"))
            }
        }
    }

    /// The process id, to read its memory use.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, then the exit status: the service drains and exits 0.
    pub(crate) fn stop(mut self) -> Result<(), String> {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .map_err(|e| format!("cannot stop erynoa serve: {e}"))?;
        let status = self
            .child
            .wait()
            .map_err(|e| format!("erynoa serve: {e}"))?;
        if status.success() {
            println!("==> erynoa serve stopped");
            Ok(())
        } else {
            Err(format!("erynoa serve exited with {status}"))
        }
    }
}

/// One request on a fresh connection: the status line and the body.
pub(crate) fn post(
    addr: &str,
    path: &str,
    headers: &str,
    body: &str,
) -> Result<(String, String), String> {
    request(addr, "POST", path, headers, body)
}

/// One `method` request on a fresh connection: the status line and the body.
pub(crate) fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &str,
    body: &str,
) -> Result<(String, String), String> {
    let mut s =
        std::net::TcpStream::connect(addr).map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    let mut answer = String::new();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: erynoa\r\nConnection: close\r\n{headers}\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .and_then(|()| s.read_to_string(&mut answer))
    .map_err(|e| format!("{method} {path}: {e}"))?;
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    Ok((
        head.lines().next().unwrap_or("").to_owned(),
        body.to_owned(),
    ))
}

/// `effect  reason` for each decision of a batch answer (xtask has no JSON
/// parser; the service writes these fields in this order).
fn decisions(body: &str) -> Vec<String> {
    body.split("\"effect\":\"")
        .skip(1)
        .map(|rest| {
            let effect = rest.split('"').next().unwrap_or("?");
            let reason = rest
                .split_once("\"reason\":")
                .map(|(_, r)| r)
                .map_or("", |r| r.split(",\"failure\"").next().unwrap_or(""));
            format!("{effect:<5}  {reason}")
        })
        .collect()
}

/// Ends the demo as an operator would run it: the same signed policies and
/// pinned ECL in a policy directory, `erynoa serve` on free loopback ports,
/// the demo requests sent over HTTP (one batch per policy), then SIGTERM.
/// The service shares one state, so the ECL quota sees the counts the
/// compiled quota left.
fn serve_demo(demo: &Demo) -> Result<(), String> {
    let requests = std::fs::read_to_string(demo.root.join("demo/requests.json"))
        .map_err(|e| format!("cannot read demo/requests.json: {e}"))?;
    let service = Service::start(demo, None, "")?;
    let asked = service.ids.iter().try_for_each(|id| {
        let (status, body) = post(
            &service.decisions,
            &format!("/v1/decide/{id}/batch"),
            "",
            &requests,
        )?;
        println!("POST /v1/decide/{id}/batch  ->  {status}");
        for line in decisions(&body) {
            println!("    {line}");
        }
        if status.contains(" 200 ") {
            Ok(())
        } else {
            Err(format!("the service answered {status} for `{id}`"))
        }
    });
    let stopped = service.stop();
    asked.and(stopped)
}
