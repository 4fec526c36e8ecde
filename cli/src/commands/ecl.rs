//! `erynoa compile` and `erynoa ecl check | fmt | disasm | repl`.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use anyhow::Context;
use erynoa_ecl::bytecode::disassemble;
use erynoa_ecl::vm::{Outcome, RunOptions, StubHost, run};

use crate::args::{Backend, CompileArgs, EclCommand};
use crate::output::ExitStatus;

fn read_source(path: &Path) -> anyhow::Result<String> {
    erynoa_host::json::read_text_file(path, erynoa_host::json::MAX_INPUT_BYTES)
        .with_context(|| format!("cannot read `{}`", path.display()))
}

fn display(path: &Path) -> String {
    path.display().to_string()
}

/// `erynoa compile`.
pub fn compile(args: CompileArgs) -> anyhow::Result<ExitStatus> {
    let source = read_source(&args.input)?;
    let program = match erynoa_ecl::compile(&source, args.entry.as_deref()) {
        Ok(p) => p.in_file(&display(&args.input)),
        Err(d) => {
            eprint!("{}", d.render(&display(&args.input), &source));
            return Ok(ExitStatus::Error);
        }
    };
    let bytes = match args.backend {
        Backend::Wasm => erynoa_ecl::component::compile(&program)?,
        Backend::Bytecode => erynoa_ecl::eclc::write(&program.code),
    };
    std::fs::write(&args.output, &bytes)
        .with_context(|| format!("cannot write `{}`", args.output.display()))?;
    println!(
        "compiled policy `{}` ({} instructions) to {} ({} bytes)",
        program.name,
        program.code.len(),
        args.output.display(),
        bytes.len()
    );
    Ok(ExitStatus::Success)
}

/// `erynoa ecl ...`.
pub fn execute(command: EclCommand) -> anyhow::Result<ExitStatus> {
    match command {
        EclCommand::Check { files } => check(&files),
        EclCommand::Fmt {
            files,
            write,
            check,
        } => fmt(&files, write, check),
        EclCommand::Disasm { file, entry } => disasm(&file, entry.as_deref()),
        EclCommand::Pin { files } => pin(&files),
        EclCommand::Repl => repl(),
    }
}

fn check(files: &[PathBuf]) -> anyhow::Result<ExitStatus> {
    let mut status = ExitStatus::Success;
    for path in files {
        let source = read_source(path)?;
        match erynoa_ecl::check(&source) {
            Ok(programs) => {
                let names: Vec<String> = programs.iter().map(|p| format!("`{}`", p.name)).collect();
                println!("{}: ok ({})", path.display(), names.join(", "));
            }
            Err(d) => {
                eprint!("{}", d.render(&display(path), &source));
                status = ExitStatus::CheckFailed;
            }
        }
    }
    Ok(status)
}

fn fmt(files: &[PathBuf], write: bool, check: bool) -> anyhow::Result<ExitStatus> {
    let mut status = ExitStatus::Success;
    for path in files {
        let source = read_source(path)?;
        let formatted = match erynoa_ecl::format(&source) {
            Ok(f) => f,
            Err(d) => {
                eprint!("{}", d.render(&display(path), &source));
                status = ExitStatus::CheckFailed;
                continue;
            }
        };
        if check {
            if formatted != source {
                println!("{}: not formatted", path.display());
                status = ExitStatus::CheckFailed;
            }
        } else if write {
            if formatted != source {
                std::fs::write(path, &formatted)
                    .with_context(|| format!("cannot write `{}`", path.display()))?;
                println!("formatted {}", path.display());
            }
        } else {
            print!("{formatted}");
        }
    }
    Ok(status)
}

fn disasm(path: &Path, entry: Option<&str>) -> anyhow::Result<ExitStatus> {
    let bytes = erynoa_host::json::read_file(path, erynoa_host::json::MAX_INPUT_BYTES)
        .with_context(|| format!("cannot read `{}`", path.display()))?;
    let code = if path.extension().is_some_and(|e| e == "eclc") {
        erynoa_ecl::eclc::read(&bytes).with_context(|| format!("in `{}`", path.display()))?
    } else {
        let source = String::from_utf8(bytes).context("ECL source is not UTF-8")?;
        match erynoa_ecl::compile(&source, entry) {
            Ok(p) => {
                println!(
                    "policy `{}`: {} instructions, {} locals, stack depth {}",
                    p.name,
                    p.code.len(),
                    p.locals,
                    p.max_stack
                );
                p.code
            }
            Err(d) => {
                eprint!("{}", d.render(&display(path), &source));
                return Ok(ExitStatus::Error);
            }
        }
    };
    print!("{}", disassemble(&code));
    let gas: u64 = code.iter().map(|op| op.gas_cost()).sum();
    println!("static gas (every instruction once): {gas}");
    Ok(ExitStatus::Success)
}

/// What pinning a file in the trust store takes: its digest, and the
/// capabilities its instructions need.
pub(super) struct Pin {
    /// What the file is, for a comment.
    pub what: String,
    /// `sha256:...` of the file's bytes.
    pub digest: String,
    /// What it needs granted.
    pub capabilities: std::collections::BTreeSet<erynoa_host::Capability>,
}

/// Reads an ECL or `.eclc` file to pin; `Err(rendered)` when the ECL does
/// not check (the diagnostics, ready to print).
pub(super) fn read_pin(path: &Path) -> anyhow::Result<Result<Pin, String>> {
    let bytes = erynoa_host::json::read_file(path, erynoa_host::json::MAX_INPUT_BYTES)
        .with_context(|| format!("cannot read `{}`", path.display()))?;
    let (what, code) = if path.extension().is_some_and(|e| e == "eclc") {
        let code =
            erynoa_ecl::eclc::read(&bytes).with_context(|| format!("in `{}`", path.display()))?;
        ("legacy bytecode".to_owned(), code)
    } else {
        let source = String::from_utf8(bytes.clone()).context("ECL source is not UTF-8")?;
        let programs = match erynoa_ecl::check(&source) {
            Ok(p) => p,
            Err(d) => return Ok(Err(d.render(&display(path), &source))),
        };
        let names: Vec<String> = programs.iter().map(|p| format!("`{}`", p.name)).collect();
        let code = programs.into_iter().flat_map(|p| p.code).collect();
        (format!("ECL, policies {}", names.join(", ")), code)
    };
    Ok(Ok(Pin {
        what,
        digest: erynoa_host::digest(&bytes),
        capabilities: erynoa_host::capabilities(&code),
    }))
}

fn pin(files: &[PathBuf]) -> anyhow::Result<ExitStatus> {
    for path in files {
        let pin = match read_pin(path)? {
            Ok(pin) => pin,
            Err(diagnostics) => {
                eprint!("{diagnostics}");
                return Ok(ExitStatus::Error);
            }
        };
        let caps: Vec<String> = pin
            .capabilities
            .iter()
            .map(|c| format!("\"{c}\""))
            .collect();
        println!(
            "[[component]]\n# {}: {}\ndigest = \"{}\"\ncapabilities = [{}]\n",
            path.display(),
            pin.what,
            pin.digest,
            caps.join(", ")
        );
    }
    Ok(ExitStatus::Success)
}

fn repl() -> anyhow::Result<ExitStatus> {
    eprintln!(
        "ECL, a line at a time: expressions, `let` and `const` (kept for later lines), and \
         statements (`require`, `if`, `deny`, `allow`, `return`, calls), which show the decision; \
         `:bc EXPR` lists bytecode, `:reset` forgets the bindings, `:q` quits."
    );
    let mut bindings = Bindings::default();
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        let line = line.context("cannot read stdin")?;
        let line = line.trim();
        match line {
            "" => continue,
            ":q" | ":quit" | "quit" | "exit" => break,
            ":reset" => {
                bindings = Bindings::default();
                continue;
            }
            _ => {}
        }
        let (listing, input) = match line.strip_prefix(":bc") {
            Some(rest) => (true, rest.trim()),
            None => (false, line),
        };
        let program = match bindings.compile(input) {
            Ok((_, program)) => program,
            Err((source, d)) => {
                eprint!("{}", d.render("<repl>", &source));
                continue;
            }
        };
        if listing {
            print!("{}", disassemble(&program.code));
            continue;
        }
        let done = run(
            &program.code,
            &mut StubHost::new(),
            RunOptions::legacy(u64::MAX),
        );
        let gas = if bindings.is_empty() {
            format!("gas {}", done.meter_gas)
        } else {
            format!("gas {} with the bindings", done.meter_gas)
        };
        let statement = Bindings::is_statement(input);
        let shown = match done.result {
            // A statement that ran to the end of the policy allows.
            Ok(Outcome::Return(erynoa_ecl::bytecode::Value::Bool(true))) if statement => {
                "allow".to_owned()
            }
            Ok(Outcome::Return(erynoa_ecl::bytecode::Value::Bool(false))) if statement => {
                "deny".to_owned()
            }
            Ok(Outcome::Return(v)) => {
                // A binding is kept only once it evaluated.
                bindings.keep(input);
                v.to_string()
            }
            Ok(Outcome::Deny(r)) => format!("deny: {r}"),
            // As the host decides: a failed `require` is a deny with its message.
            Err(erynoa_ecl::vm::VmError::RequireFailed(m)) => format!("deny: {m}"),
            Err(erynoa_ecl::vm::VmError::AssertionFailed) => "deny: Assertion failed".to_owned(),
            // The line the REPL wraps into a policy is not the author's
            // line: name the expression only.
            Err(e) => match program
                .source_map
                .as_ref()
                .and_then(|m| m.expression(done.at?))
            {
                Some(expr) => format!("error: {expr}: {e}"),
                None => format!("error: {e}"),
            },
        };
        match Bindings::bound_name(input) {
            Some(name) => println!("{name} = {shown}    ({gas})"),
            None => println!("{shown}    ({gas})"),
        }
    }
    Ok(ExitStatus::Success)
}

/// The REPL's `const` items and `let` statements, replayed before each line.
#[derive(Default)]
struct Bindings {
    consts: String,
    lets: String,
}

impl Bindings {
    fn is_empty(&self) -> bool {
        self.consts.is_empty() && self.lets.is_empty()
    }

    /// Whether `input` is a statement that decides (or a call made for its
    /// effect) rather than an expression or a binding.
    fn is_statement(input: &str) -> bool {
        let first = input
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .next()
            .unwrap_or_default();
        matches!(first, "require" | "if" | "deny" | "allow" | "return")
            || (["log", "store_put", "store_delete", "emit_event"].contains(&first)
                && input[first.len()..].trim_start().starts_with('('))
    }

    /// `x` of `let x = ...` or `const x = ...`.
    fn bound_name(input: &str) -> Option<&str> {
        let rest = input
            .strip_prefix("let ")
            .or_else(|| input.strip_prefix("const "))?;
        let name = rest
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .next()?;
        (!name.is_empty()).then_some(name)
    }

    /// Compiles `input` after the bindings: a `const` as an item and a `let`
    /// as a statement, each returning what it bound; anything else as an
    /// expression to return. Without bindings an expression compiles alone,
    /// so its gas is its own.
    fn compile(
        &self,
        input: &str,
    ) -> Result<(String, erynoa_ecl::Program), (String, erynoa_ecl::Diagnostics)> {
        let bound = Self::bound_name(input);
        if Self::is_statement(input) {
            // The policy ends after it: falling off the end allows.
            let source = format!(
                "{}policy \"repl\" {{\n{}{input}\n}}\n",
                self.consts, self.lets
            );
            return match erynoa_ecl::compile(&source, None) {
                Ok(program) => Ok((source, program)),
                Err(d) => Err((source, d)),
            };
        }
        if self.is_empty() && bound.is_none() {
            return erynoa_ecl::compile_expr(input)
                .map(|p| (input.to_owned(), p))
                .map_err(|d| (input.to_owned(), d));
        }
        let (consts, body) = match bound {
            Some(name) if input.starts_with("const ") => (
                format!("{}{input}\n", self.consts),
                format!("return {name}"),
            ),
            Some(name) => (self.consts.clone(), format!("{input}\nreturn {name}")),
            None => (self.consts.clone(), format!("return ({input})")),
        };
        let source = format!("{consts}policy \"repl\" {{\n{}{body}\n}}\n", self.lets);
        match erynoa_ecl::compile(&source, None) {
            Ok(program) => Ok((source, program)),
            Err(d) => Err((source, d)),
        }
    }

    /// Keeps `input` for later lines if it binds something.
    fn keep(&mut self, input: &str) {
        if input.starts_with("const ") {
            self.consts.push_str(input);
            self.consts.push('\n');
        } else if Self::bound_name(input).is_some() {
            self.lets.push_str(input);
            self.lets.push('\n');
        }
    }
}
