//! Developer tasks: `cargo xtask pin-model` copies the AppStream model into `model/` without its
//! documentation strings; `cargo xtask codegen [--check]` turns that model into
//! `crates/photon-types/src/generated*.rs`. CI runs `codegen --check`, so the committed
//! generated code can never drift from the model. `cargo xtask members` fails unless every input
//! member of every implemented operation is named by a test (see [`members`]). `cargo xtask
//! tidy` checks the house rules of the source tree (see [`tidy`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde_json::Value as Json;

const MODEL: &str = "model/appstream.json";
const OUT_SHAPES: &str = "crates/photon-types/src/generated.rs";
const OUT_OPS: &str = "crates/photon-types/src/generated_ops.rs";
const MODELED_NS: &str = "com.amazonaws.appstream";
const FRAMEWORK_NS: &str = "com.amazon.coral.service";

/// Errors AWS services send that the model does not define: (name, HTTP status).
/// Why each exists and which status it has is recorded in docs/compatibility.md.
const FRAMEWORK_ERRORS: &[(&str, u16)] = &[
    ("ValidationException", 400),
    ("SerializationException", 400),
    ("UnknownOperationException", 400),
    ("UnsupportedMediaTypeException", 415),
    ("RequestEntityTooLargeException", 413),
    ("MissingAuthenticationTokenException", 400),
    ("IncompleteSignatureException", 400),
    ("UnrecognizedClientException", 400),
    ("InvalidSignatureException", 400),
    ("InternalFailure", 500),
    ("NotImplemented", 501),
];

fn main() -> Result<()> {
    let root = workspace_root()?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("pin-model") => {
            let check = args.iter().any(|a| a == "--check");
            let src = args
                .iter()
                .skip(1)
                .find(|a| !a.starts_with("--"))
                .map(PathBuf::from)
                .unwrap_or_else(|| root.join("../shared/reference/appstream-service-2.json"));
            pin_model(&src, &root.join(MODEL), check)
        }
        Some("tidy") => tidy(&root),
        Some("codegen") => {
            let check = args.iter().any(|a| a == "--check");
            codegen(&root, check)
        }
        Some("members") => members(&root),
        _ => bail!(
            "usage: cargo xtask pin-model [--check] [PATH] | codegen [--check] | members | tidy"
        ),
    }
}

fn workspace_root() -> Result<PathBuf> {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    Ok(here
        .parent()
        .context("xtask has no parent directory")?
        .to_path_buf())
}

fn strip_docs(v: &mut Json) {
    match v {
        Json::Object(m) => {
            m.remove("documentation");
            m.remove("documentationUrl");
            for (_, x) in m.iter_mut() {
                strip_docs(x);
            }
        }
        Json::Array(a) => a.iter_mut().for_each(strip_docs),
        _ => {}
    }
}

/// Writes `dst` as `src` without its documentation strings; with `check`, only compares and
/// fails when they differ (CI never rewrites a committed file).
fn pin_model(src: &Path, dst: &Path, check: bool) -> Result<()> {
    let text =
        std::fs::read_to_string(src).with_context(|| format!("reading {}", src.display()))?;
    let mut model: Json = serde_json::from_str(&text)?;
    strip_docs(&mut model);
    let out = serde_json::to_string_pretty(&model)? + "\n";
    if check {
        let old = std::fs::read_to_string(dst).unwrap_or_default();
        if old != out {
            bail!(
                "{} differs from {}: run `cargo xtask pin-model` and `cargo xtask codegen`",
                dst.display(),
                src.display()
            );
        }
        return Ok(());
    }
    std::fs::write(dst, out)?;
    println!("wrote {}", dst.display());
    Ok(())
}

/// House rules that neither rustc nor clippy checks: every source file outside `tests/` says
/// what it owns in a `//!` module doc; no match on `CoreError` outside `error.rs` ends in a
/// catch-all `_ =>` arm (the mapping of errors to what a surface shows lives in one exhaustive
/// place); no test is marked `ignore` (a skipped check is a defect).
/// The house rules: every non-test file starts with a `//!` module doc; no ignored tests; no
/// `_ =>` in a match on `CoreError` outside `error.rs`; no resource state written as a string
/// literal outside generated code and tests (states are the model's enums: `FleetState::Running`,
/// not `"RUNNING"`).
fn tidy(root: &Path) -> Result<()> {
    let states = state_values(root)?;
    let mut sources = Vec::new();
    for dir in ["crates", "xtask"] {
        list_rs(&root.join(dir), &mut sources)?;
    }
    let mut problems = Vec::new();
    for path in &sources {
        let rel = path
            .strip_prefix(root)
            .unwrap_or(path)
            .display()
            .to_string();
        let text = std::fs::read_to_string(path)?;
        let in_tests = rel.contains("/tests/") || rel.contains("/benches/");
        if !in_tests && !text.trim_start().starts_with("//!") {
            problems.push(format!(
                "{rel}: starts without a `//!` doc saying what it owns"
            ));
        }
        if text.contains(concat!("#[", "ignore")) {
            problems.push(format!(
                "{rel}: has a test marked to be ignored; fix it or delete it"
            ));
        }
        if !in_tests && !rel.contains("/generated") && rel.starts_with("crates/") {
            for (line, lit) in state_literals(&text, &states) {
                problems.push(format!(
                    "{rel}:{line}: the state \"{lit}\" written as a string; use the model's enum \
                     (e.g. ImageState::Available, and .as_str() where a string is needed)"
                ));
            }
        }
        if !rel.ends_with("photon-core/src/error.rs") {
            for line in core_error_catch_alls(&text) {
                problems.push(format!(
                    "{rel}:{line}: `_ =>` in a match on CoreError; name the variants, or use \
                     CoreError::page_status / public_message"
                ));
            }
        }
    }
    if problems.is_empty() {
        println!("tidy: {} files checked", sources.len());
        return Ok(());
    }
    for p in &problems {
        eprintln!("{p}");
    }
    bail!("tidy: {} problems", problems.len())
}

/// Every value of the model's resource-state enums (shapes named `…State`; `ThemeState` is a
/// setting, ENABLED/DISABLED, not a state).
fn state_values(root: &Path) -> Result<BTreeSet<String>> {
    let text = std::fs::read_to_string(root.join(MODEL)).context("reading the pinned model")?;
    let model: Json = serde_json::from_str(&text)?;
    let mut out = BTreeSet::new();
    let shapes = model["shapes"]
        .as_object()
        .context("model without shapes")?;
    for (name, shape) in shapes {
        if !name.ends_with("State") || name == "ThemeState" {
            continue;
        }
        for v in shape["enum"].as_array().into_iter().flatten() {
            if let Some(v) = v.as_str() {
                out.insert(v.to_owned());
            }
        }
    }
    Ok(out)
}

/// The (1-based line, value) of each string literal in `text` that is exactly a state value,
/// outside comments and the file's `#[cfg(test)]` part.
fn state_literals(text: &str, states: &BTreeSet<String>) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let code = line.trim_start();
        if code.starts_with("#[cfg(test)]") {
            break;
        }
        if code.starts_with("//") {
            continue;
        }
        // Literals are the odd pieces between quotes; escaped quotes do not occur around
        // state names.
        for (n, piece) in code.split('"').enumerate() {
            if n % 2 == 1 && states.contains(piece) {
                out.push((i + 1, piece.to_owned()));
            }
        }
    }
    out
}

fn list_rs(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() {
            if name != "target" && !name.starts_with('.') {
                list_rs(&path, out)?;
            }
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
    Ok(())
}

/// The 1-based lines of `_ =>` arms that share a match with a `CoreError::…` arm: the arms of
/// one match are the lines at the indentation of its first `CoreError` arm until the match's
/// closing brace.
fn core_error_catch_alls(text: &str) -> Vec<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let indent = |l: &str| l.len() - l.trim_start().len();
    let is_core_arm = |l: &str| {
        let t = l.trim_start();
        let t = t
            .strip_prefix("Err(")
            .or_else(|| t.strip_prefix("Ok(Err("))
            .unwrap_or(t);
        t.starts_with("CoreError::") && l.contains("=>")
    };
    let mut found = BTreeSet::new();
    for (i, l) in lines.iter().enumerate() {
        if !is_core_arm(l) {
            continue;
        }
        let level = indent(l);
        // Back to the match's start, then on to its end.
        let mut start = i;
        while start > 0 {
            let prev = lines[start - 1];
            if !prev.trim().is_empty() && indent(prev) < level {
                break;
            }
            start -= 1;
        }
        for (j, m) in lines.iter().enumerate().skip(start) {
            if indent(m) < level && !m.trim().is_empty() {
                break;
            }
            if indent(m) == level && m.trim_start().starts_with("_ =>") {
                found.insert(j + 1);
            }
        }
    }
    found.into_iter().collect()
}

fn codegen(root: &Path, check: bool) -> Result<()> {
    let model: Json = serde_json::from_str(&std::fs::read_to_string(root.join(MODEL))?)?;
    let g = Gen::new(&model)?;
    let shapes = rustfmt(&g.shapes_file()?)?;
    let ops = rustfmt(&g.ops_file()?)?;
    let mut drift = false;
    for (path, text) in [(OUT_SHAPES, shapes), (OUT_OPS, ops)] {
        let full = root.join(path);
        let old = std::fs::read_to_string(&full).unwrap_or_default();
        if old != text {
            if check {
                eprintln!("{path} is out of date: run `cargo xtask codegen` and commit the result");
                drift = true;
            } else {
                std::fs::write(&full, text)?;
                println!("wrote {path}");
            }
        }
    }
    if drift {
        bail!("generated code drifted from {MODEL}");
    }
    Ok(())
}

fn rustfmt(src: &str) -> Result<String> {
    use std::io::Write;
    let mut child = Command::new("rustfmt")
        .args([
            "--edition",
            "2021",
            "--emit",
            "stdout",
            "--config",
            "max_width=100",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .context("running rustfmt")?;
    child
        .stdin
        .take()
        .context("rustfmt stdin")?
        .write_all(src.as_bytes())?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!("rustfmt failed on generated code");
    }
    Ok(String::from_utf8(out.stdout)?)
}

struct Gen<'a> {
    shapes: &'a serde_json::Map<String, Json>,
    ops: &'a serde_json::Map<String, Json>,
    /// Which regex patterns get which static, in a stable order.
    patterns: BTreeMap<String, usize>,
}

const HEADER: &str =
    "//! Generated by xtask codegen from model/appstream.json. Do not edit by hand.\n\n";

fn snake(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            let prev = if i > 0 { Some(chars[i - 1]) } else { None };
            let next = chars.get(i + 1).copied();
            let boundary = match prev {
                None => false,
                Some(p) if p.is_lowercase() || p.is_ascii_digit() => true,
                Some(p) if p.is_uppercase() => next.is_some_and(|n| n.is_lowercase()),
                _ => false,
            };
            if boundary && !out.ends_with('_') {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    match out.as_str() {
        "type" | "match" | "ref" | "mod" | "self" | "box" | "move" | "loop" | "fn" | "use"
        | "impl" | "enum" | "struct" | "trait" | "where" | "as" | "in" => format!("r#{out}"),
        _ => out,
    }
}

fn variant_name(value: &str) -> String {
    let mut out = String::new();
    for part in value
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|p| !p.is_empty())
    {
        let mut cs = part.chars();
        if let Some(f) = cs.next() {
            out.extend(f.to_uppercase());
            let rest: String = cs.collect();
            // Values like WINDOWS_SERVER are shouted; camel-cased values keep their humps.
            if part.chars().all(|c| !c.is_lowercase()) {
                out.push_str(&rest.to_lowercase());
            } else {
                out.push_str(&rest);
            }
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'V');
    }
    out
}

fn lit(s: &str) -> String {
    format!("{s:?}")
}

impl<'a> Gen<'a> {
    fn new(model: &'a Json) -> Result<Self> {
        let shapes = model["shapes"].as_object().context("model has no shapes")?;
        let ops = model["operations"]
            .as_object()
            .context("model has no operations")?;
        let mut patterns = BTreeMap::new();
        for s in shapes.values() {
            if let Some(p) = s.get("pattern").and_then(Json::as_str) {
                let n = patterns.len();
                patterns.entry(p.to_owned()).or_insert(n);
            }
        }
        Ok(Gen {
            shapes,
            ops,
            patterns,
        })
    }

    fn shape(&self, name: &str) -> Result<&'a Json> {
        self.shapes
            .get(name)
            .with_context(|| format!("unknown shape {name}"))
    }

    fn is_enum(s: &Json) -> bool {
        s["type"] == "string" && s.get("enum").is_some()
    }

    fn is_error(s: &Json) -> bool {
        s.get("exception").and_then(Json::as_bool).unwrap_or(false)
    }

    fn rust_type(&self, name: &str) -> Result<String> {
        let s = self.shape(name)?;
        Ok(match s["type"].as_str().unwrap_or("") {
            "string" if Self::is_enum(s) => name.to_owned(),
            "string" => "String".into(),
            "boolean" => "bool".into(),
            "integer" => "i32".into(),
            "long" => "i64".into(),
            "timestamp" => "crate::Timestamp".into(),
            "list" => format!("Vec<{}>", self.rust_type(member_shape(&s["member"])?)?),
            "map" => format!(
                "std::collections::BTreeMap<String, {}>",
                self.rust_type(member_shape(&s["value"])?)?
            ),
            "structure" => name.to_owned(),
            other => bail!("shape {name} has unsupported type {other}"),
        })
    }

    /// An expression decoding `v` (a Value) at `path` into the shape's Rust type.
    fn decode_expr(&self, name: &str, v: &str, path: &str) -> Result<String> {
        let s = self.shape(name)?;
        Ok(match s["type"].as_str().unwrap_or("") {
            "structure" => format!("{name}::decode({v}, d, &{path})?"),
            _ if Self::is_enum(s) => format!("{name}::decode({v}, d, &{path})?"),
            _ => format!("dec_{name}({v}, d, &{path})?"),
        })
    }

    fn shapes_file(&self) -> Result<String> {
        let mut o = String::from(HEADER);
        o.push_str(
            "#![allow(non_snake_case, dead_code, clippy::all, clippy::expect_used, unused_mut, unused_variables)]\n\n",
        );
        o.push_str("use crate::decode::{join, Decode, Decoder, Encode, SerializationError};\n");
        o.push_str("use crate::value::Value;\n\n");
        self.gen_patterns(&mut o);
        self.gen_error_code(&mut o)?;
        for (name, s) in self.shapes {
            if Self::is_error(s) {
                continue;
            }
            match s["type"].as_str().unwrap_or("") {
                "structure" => self.gen_struct(&mut o, name, s)?,
                "string" if Self::is_enum(s) => self.gen_enum(&mut o, name, s)?,
                _ => self.gen_scalar_decoder(&mut o, name, s)?,
            }
        }
        Ok(o)
    }

    fn gen_patterns(&self, o: &mut String) {
        let mut by_idx: Vec<(&String, &usize)> = self.patterns.iter().collect();
        by_idx.sort_by_key(|(_, i)| **i);
        for (p, i) in &by_idx {
            let _ = writeln!(
                o,
                "static RE_{i}: std::sync::LazyLock<fancy_regex::Regex> = std::sync::LazyLock::new(|| \
                 fancy_regex::Regex::new({}).unwrap_or_else(|_| fancy_regex::Regex::new(\"[^\\\\s\\\\S]\").expect(\"a pattern that matches nothing\")));",
                lit(p)
            );
        }
        o.push_str(
            "\n/// Every pattern of the model, for the test that proves they all compile.\n",
        );
        o.push_str("pub const MODEL_PATTERNS: &[&str] = &[");
        for (p, _) in &by_idx {
            let _ = write!(o, "{},", lit(p));
        }
        o.push_str("];\n\n");
    }

    fn gen_error_code(&self, o: &mut String) -> Result<()> {
        let mut rows: Vec<(String, u16, bool)> = Vec::new();
        for (name, s) in self.shapes {
            if Self::is_error(s) {
                let status = s["error"]["httpStatusCode"].as_u64().unwrap_or(400) as u16;
                rows.push((name.clone(), status, true));
            }
        }
        for (name, status) in FRAMEWORK_ERRORS {
            rows.push(((*name).to_owned(), *status, false));
        }
        o.push_str("/// Every error a client can receive: the model's error shapes first, then the framework\n");
        o.push_str("/// errors AWS services send that the model does not define.\n");
        o.push_str("#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]\npub enum ErrorCode {\n");
        for (n, _, _) in &rows {
            let _ = writeln!(o, "    {n},");
        }
        o.push_str("}\n\nimpl ErrorCode {\n");
        o.push_str("    pub const ALL: &'static [ErrorCode] = &[");
        for (n, _, _) in &rows {
            let _ = write!(o, "ErrorCode::{n},");
        }
        o.push_str("];\n");
        o.push_str("    /// The shape name, as sent in `__type` by AWS JSON 1.1.\n    pub fn name(self) -> &'static str { match self {");
        for (n, _, _) in &rows {
            let _ = write!(o, "ErrorCode::{n} => {},", lit(n));
        }
        o.push_str("} }\n");
        o.push_str("    /// The absolute shape id, as sent in `__type` by RPC v2 CBOR.\n    pub fn shape_id(self) -> &'static str { match self {");
        for (n, _, modeled) in &rows {
            let ns = if *modeled { MODELED_NS } else { FRAMEWORK_NS };
            let _ = write!(o, "ErrorCode::{n} => {},", lit(&format!("{ns}#{n}")));
        }
        o.push_str("} }\n");
        o.push_str("    pub fn http_status(self) -> u16 { match self {");
        for (n, st, _) in &rows {
            let _ = write!(o, "ErrorCode::{n} => {st},");
        }
        o.push_str("} }\n");
        o.push_str("    /// Whether the model defines this error.\n    pub fn is_modeled(self) -> bool { match self {");
        for (n, _, m) in &rows {
            let _ = write!(o, "ErrorCode::{n} => {m},");
        }
        o.push_str("} }\n}\n\n");
        Ok(())
    }

    fn gen_enum(&self, o: &mut String, name: &str, s: &Json) -> Result<()> {
        let values: Vec<&str> = s["enum"]
            .as_array()
            .context("enum")?
            .iter()
            .filter_map(Json::as_str)
            .collect();
        let mut seen = BTreeSet::new();
        let mut variants = Vec::new();
        for v in &values {
            let mut vn = variant_name(v);
            while !seen.insert(vn.clone()) {
                vn.push('_');
            }
            variants.push(vn);
        }
        let _ = writeln!(o, "#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]\npub enum {name} {{");
        for (i, vn) in variants.iter().enumerate() {
            if i == 0 {
                o.push_str("    #[default]\n");
            }
            let _ = writeln!(o, "    {vn},");
        }
        o.push_str("}\n\n");
        let _ = writeln!(o, "impl {name} {{");
        o.push_str("    pub const VALUES: &'static [&'static str] = &[");
        for v in &values {
            let _ = write!(o, "{},", lit(v));
        }
        o.push_str("];\n    pub fn as_str(self) -> &'static str { match self {");
        for (v, vn) in values.iter().zip(&variants) {
            let _ = write!(o, "{name}::{vn} => {},", lit(v));
        }
        o.push_str("} }\n    pub fn from_wire(s: &str) -> Option<Self> { match s {");
        for (v, vn) in values.iter().zip(&variants) {
            let _ = write!(o, "{} => Some({name}::{vn}),", lit(v));
        }
        o.push_str("_ => None } }\n}\n\n");
        let _ = writeln!(
            o,
            "impl Decode for {name} {{ fn decode(v: Value, d: &mut Decoder, path: &str) -> Result<Self, SerializationError> {{ \
             let s = d.string(v, path)?; match {name}::from_wire(&s) {{ Some(x) => Ok(x), None => {{ d.check_enum(path, &s, {name}::VALUES); Ok({name}::default()) }} }} }} }}\n"
        );
        let _ = writeln!(o, "impl Encode for {name} {{ fn encode(self) -> Value {{ Value::String(self.as_str().to_owned()) }} }}\n");
        let _ = writeln!(o, "impl std::fmt::Display for {name} {{ fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {{ f.write_str(self.as_str()) }} }}\n");
        Ok(())
    }

    fn gen_scalar_decoder(&self, o: &mut String, name: &str, s: &Json) -> Result<()> {
        let ty = self.rust_type(name)?;
        let min = s.get("min").and_then(Json::as_i64);
        let max = s.get("max").and_then(Json::as_i64);
        let opt = |x: Option<i64>| x.map_or("None".to_owned(), |n| format!("Some({n})"));
        let _ = writeln!(o, "fn dec_{name}(v: Value, d: &mut Decoder, path: &str) -> Result<{ty}, SerializationError> {{");
        match s["type"].as_str().unwrap_or("") {
            "string" => {
                let sensitive = s.get("sensitive").and_then(Json::as_bool).unwrap_or(false);
                o.push_str("    let s = d.string(v, path)?;\n");
                if min.is_some() || max.is_some() || s.get("pattern").is_some() {
                    let _ = writeln!(o, "    let shown = Decoder::shown(&s, {sensitive});");
                }
                if min.is_some() || max.is_some() {
                    let _ = writeln!(
                        o,
                        "    d.check_len(path, &shown, s.chars().count(), {}, {});",
                        opt(min),
                        opt(max)
                    );
                }
                if let Some(p) = s.get("pattern").and_then(Json::as_str) {
                    let i = self.patterns[p];
                    let _ = writeln!(o, "    d.check_pattern(path, &s, &shown, &RE_{i});");
                }
                o.push_str("    Ok(s)\n");
            }
            "boolean" => o.push_str("    d.boolean(v, path)\n"),
            "integer" | "long" => {
                let f = if s["type"] == "integer" {
                    "integer"
                } else {
                    "long"
                };
                let _ = writeln!(o, "    let n = d.{f}(v, path)?;");
                if min.is_some() || max.is_some() {
                    let _ = writeln!(
                        o,
                        "    d.check_range(path, i64::from(n), {}, {});",
                        opt(min),
                        opt(max)
                    );
                }
                o.push_str("    Ok(n)\n");
            }
            "timestamp" => o.push_str("    d.timestamp(v, path)\n"),
            "list" => {
                let m = member_shape(&s["member"])?;
                o.push_str("    let items = d.list(v, path)?;\n");
                if min.is_some() || max.is_some() {
                    let _ = writeln!(
                        o,
                        "    d.check_len(path, \"the list\", items.len(), {}, {});",
                        opt(min),
                        opt(max)
                    );
                }
                o.push_str("    let mut out = Vec::with_capacity(items.len());\n");
                o.push_str("    for (i, item) in items.into_iter().enumerate() {\n");
                o.push_str("        let p = join(path, &(i + 1).to_string());\n");
                o.push_str("        if matches!(item, Value::Null) { d.missing(&p); continue; }\n");
                let _ = writeln!(
                    o,
                    "        out.push({});",
                    self.decode_expr(m, "item", "p")?
                );
                o.push_str("    }\n    Ok(out)\n");
            }
            "map" => {
                let k = member_shape(&s["key"])?;
                let val = member_shape(&s["value"])?;
                o.push_str("    let entries = d.map(v, path)?;\n");
                if min.is_some() || max.is_some() {
                    let _ = writeln!(
                        o,
                        "    d.check_len(path, \"the map\", entries.len(), {}, {});",
                        opt(min),
                        opt(max)
                    );
                }
                o.push_str("    let mut out = std::collections::BTreeMap::new();\n");
                o.push_str("    for (k, item) in entries {\n");
                o.push_str("        let kp = join(path, \"key\");\n");
                let _ = writeln!(
                    o,
                    "        let key = {};",
                    self.decode_expr(k, "Value::String(k.into_owned())", "kp")?
                );
                o.push_str("        let p = join(path, &key);\n");
                let _ = writeln!(
                    o,
                    "        let val = {};",
                    self.decode_expr(val, "item", "p")?
                );
                o.push_str("        out.insert(key, val);\n    }\n    Ok(out)\n");
            }
            other => bail!("no decoder for {name} of type {other}"),
        }
        o.push_str("}\n\n");
        Ok(())
    }

    fn gen_struct(&self, o: &mut String, name: &str, s: &Json) -> Result<()> {
        let members = s["members"].as_object().context("members")?;
        let required: BTreeSet<&str> = s
            .get("required")
            .and_then(Json::as_array)
            .map(|a| a.iter().filter_map(Json::as_str).collect())
            .unwrap_or_default();
        let _ = writeln!(
            o,
            "#[derive(Debug, Clone, Default, PartialEq)]\npub struct {name} {{"
        );
        for (m, spec) in members {
            let ty = self.rust_type(member_shape(spec)?)?;
            let field = snake(m);
            let _ = writeln!(o, "    /// Wire name `{m}`.");
            if required.contains(m.as_str()) {
                let _ = writeln!(o, "    pub {field}: {ty},");
            } else {
                let _ = writeln!(o, "    pub {field}: Option<{ty}>,");
            }
        }
        o.push_str("}\n\n");
        // Decode
        let _ = writeln!(o, "impl Decode for {name} {{\n    fn decode(v: Value, d: &mut Decoder, path: &str) -> Result<Self, SerializationError> {{");
        o.push_str("        let mut m = d.map(v, path)?;\n");
        for (m, spec) in members {
            let field = snake(m);
            let shape = member_shape(spec)?;
            let p = format!("join(path, {})", lit(m));
            let expr = self.decode_expr(shape, "x", "p")?;
            if required.contains(m.as_str()) {
                let _ = writeln!(
                    o,
                    "        let {field} = {{ let p = {p}; match Decoder::take(&mut m, {}) {{ Some(x) => {expr}, None => {{ d.missing(&p); Default::default() }} }} }};",
                    lit(m)
                );
            } else {
                let _ = writeln!(
                    o,
                    "        let {field} = {{ let p = {p}; match Decoder::take(&mut m, {}) {{ Some(x) => Some({expr}), None => None }} }};",
                    lit(m)
                );
            }
        }
        o.push_str("        Ok(Self {");
        for m in members.keys() {
            let _ = write!(o, "{},", snake(m));
        }
        o.push_str("})\n    }\n}\n\n");
        // Encode
        let _ = writeln!(
            o,
            "impl Encode for {name} {{\n    fn encode(self) -> Value {{"
        );
        let _ = writeln!(
            o,
            "        let mut m: Vec<(&'static str, Value)> = Vec::with_capacity({});",
            members.len()
        );
        for m in members.keys() {
            let field = snake(m);
            if required.contains(m.as_str()) {
                let _ = writeln!(o, "        m.push(({}, self.{field}.encode()));", lit(m));
            } else {
                let _ = writeln!(
                    o,
                    "        if let Some(x) = self.{field} {{ m.push(({}, x.encode())); }}",
                    lit(m)
                );
            }
        }
        o.push_str("        Value::Struct(m)\n    }\n}\n\n");
        Ok(())
    }

    fn ops_file(&self) -> Result<String> {
        let mut o = String::from(HEADER);
        o.push_str("use crate::decode::{decode_input, Encode};\nuse crate::error::ApiError;\nuse crate::value::Value;\nuse crate::Caller;\nuse std::future::Future;\n\n");
        let mut rows: Vec<OpRow> = Vec::new();
        for (name, op) in self.ops {
            let input = op["input"]["shape"].as_str().map(str::to_owned);
            let output = op["output"]["shape"].as_str().map(str::to_owned);
            let errors: Vec<String> = op
                .get("errors")
                .and_then(Json::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|e| e["shape"].as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            rows.push((name.clone(), input, output, errors));
        }
        o.push_str("/// Every operation of the model.\n#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]\npub enum Operation {\n");
        for (n, ..) in &rows {
            let _ = writeln!(o, "    {n},");
        }
        o.push_str("}\n\nimpl Operation {\n    pub const ALL: &'static [Operation] = &[");
        for (n, ..) in &rows {
            let _ = write!(o, "Operation::{n},");
        }
        o.push_str("];\n    pub fn name(self) -> &'static str { match self {");
        for (n, ..) in &rows {
            let _ = write!(o, "Operation::{n} => {},", lit(n));
        }
        o.push_str("} }\n    pub fn from_name(s: &str) -> Option<Self> { match s {");
        for (n, ..) in &rows {
            let _ = write!(o, "{} => Some(Operation::{n}),", lit(n));
        }
        o.push_str("_ => None } }\n");
        o.push_str("    /// The error shapes the model lists for this operation.\n    pub fn errors(self) -> &'static [crate::ErrorCode] { match self {");
        for (n, _, _, errs) in &rows {
            let _ = write!(o, "Operation::{n} => &[");
            for e in errs {
                let _ = write!(o, "crate::ErrorCode::{e},");
            }
            o.push_str("],");
        }
        o.push_str("} }\n}\n\n");
        o.push_str("/// One method per operation. Each defaults to a `NotImplemented` error naming the\n/// operation, so an operation Photon does not implement yet fails cleanly on the wire.\npub trait AppStream: Send + Sync {\n");
        for (n, input, output, _) in &rows {
            let inp = input.as_deref().unwrap_or("()");
            let out = output.as_deref().unwrap_or("()");
            let _ = writeln!(
                o,
                "    fn {}(&self, cx: &Caller, input: crate::{inp}) -> impl Future<Output = Result<crate::{out}, ApiError>> + Send {{ let _ = (cx, input); async {{ Err(ApiError::not_implemented({})) }} }}",
                snake(n),
                lit(n)
            );
        }
        o.push_str("}\n\n");
        self.gen_outputs(&mut o, &rows)?;
        self.gen_impl_macro(&mut o, &rows);
        o.push_str("/// Decodes the input of `op`, runs it on `svc` and encodes its output.\npub async fn dispatch<S: AppStream>(svc: &S, cx: &Caller, op: Operation, input: Value) -> Result<Value, ApiError> {\n    match op {\n");
        for (n, input, ..) in &rows {
            let inp = input.as_deref().unwrap_or("()");
            let _ = writeln!(
                o,
                "        Operation::{n} => {{ let i: crate::{inp} = decode_input(input)?; svc.{}(cx, i).await.map(|o| o.encode()) }}",
                snake(n)
            );
        }
        o.push_str("    }\n}\n");
        Ok(o)
    }
}

type OpRow = (String, Option<String>, Option<String>, Vec<String>);

impl Gen<'_> {
    /// `From` conversions into the output shapes a handler need not build itself: `()` into an
    /// output without members, and the member itself into an output of one member (a fleet
    /// into `CreateFleetResult`). Other handlers return the output shape (the identity `From`).
    fn gen_outputs(&self, o: &mut String, rows: &[OpRow]) -> Result<()> {
        let outputs: BTreeSet<&str> = rows.iter().filter_map(|r| r.2.as_deref()).collect();
        // In a module of their own so the member types resolve as in generated.rs.
        o.push_str("mod outputs {\n    use crate::*;\n");
        for out in outputs {
            let s = self.shape(out)?;
            let members = s["members"].as_object().context("output without members")?;
            let required: BTreeSet<&str> = s
                .get("required")
                .and_then(Json::as_array)
                .map(|a| a.iter().filter_map(Json::as_str).collect())
                .unwrap_or_default();
            match members.iter().next() {
                None => {
                    let _ = writeln!(
                        o,
                        "impl From<()> for crate::{out} {{ fn from((): ()) -> Self {{ Self {{}} }} }}"
                    );
                }
                Some((m, spec)) if members.len() == 1 => {
                    let ty = self.rust_type(member_shape(spec)?)?;
                    let field = snake(m);
                    let value = if required.contains(m.as_str()) {
                        "v"
                    } else {
                        "Some(v)"
                    };
                    let _ = writeln!(
                        o,
                        "impl From<{ty}> for crate::{out} {{ fn from(v: {ty}) -> Self {{ Self {{ {field}: {value} }} }} }}"
                    );
                }
                Some(_) => {}
            }
        }
        o.push_str("}\n\n");
        Ok(())
    }

    /// `impl_app_stream!(Service { describe_images, … })`: implements `AppStream` for a type
    /// whose inherent methods of the same names are the handlers (`(cx, input) -> Result<T, E>`
    /// where the output converts `From<T>` and `E` has `into_api(request_id)`). The operations
    /// not listed keep the trait's `NotImplemented` default.
    fn gen_impl_macro(&self, o: &mut String, rows: &[OpRow]) {
        o.push_str("/// Implements [`AppStream`] for a type from its inherent methods of the operations' names.\n");
        o.push_str("#[macro_export]\nmacro_rules! impl_app_stream {\n    ($service:ty { $($op:ident),* $(,)? }) => {\n        impl $crate::AppStream for $service {\n            $($crate::impl_app_stream!(@op $op);)*\n        }\n    };\n");
        for (n, input, output, _) in rows {
            let (Some(inp), Some(out)) = (input, output) else {
                continue;
            };
            let m = snake(n);
            let _ = writeln!(
                o,
                "    (@op {m}) => {{\n        fn {m}(&self, cx: &$crate::Caller, input: $crate::{inp}) -> impl ::std::future::Future<Output = ::std::result::Result<$crate::{out}, $crate::ApiError>> + Send {{\n            async move {{ Self::{m}(self, cx, input).await.map(<$crate::{out} as ::std::convert::From<_>>::from).map_err(|e| e.into_api(&cx.request_id)) }}\n        }}\n    }};"
            );
        }
        o.push_str("}\n\n");
    }
}

/// Where the domain lists the operations it implements.
const HANDLERS: &str = "crates/photon-core/src/lib.rs";

/// The method names listed in `impl_app_stream!(Service { … })`.
fn implemented_ops(text: &str) -> Result<BTreeSet<String>> {
    let start = text
        .find("impl_app_stream!(Service {")
        .with_context(|| format!("{HANDLERS} has no impl_app_stream!(Service {{ … }})"))?;
    let rest = &text[start..];
    let list = &rest[rest.find('{').unwrap_or(0) + 1..rest.find('}').unwrap_or(0)];
    Ok(list
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect())
}

fn member_shape(spec: &Json) -> Result<&str> {
    spec["shape"].as_str().context("member without shape")
}

/// Every input member of every operation Photon implements must be named by a test, so a member
/// the model adds (or one a handler forgets) cannot be dropped unnoticed again.
///
/// An operation is implemented when `crates/photon-core/src/lib.rs` lists it in its
/// `impl_app_stream!` invocation.
/// A test names `Op.Member` when a test file under `crates/*/tests` either sets it in an SDK
/// call (`.create_fleet()` … `.max_sessions_per_instance(` before the chain's `.send()`), or
/// names it as `Op.Member` in the text (for members sent raw, as hand-signed requests do).
fn members(root: &Path) -> Result<()> {
    let model: Json = serde_json::from_str(&std::fs::read_to_string(root.join(MODEL))?)?;
    let ops = model["operations"]
        .as_object()
        .context("model has no operations")?;
    let shapes = model["shapes"].as_object().context("model has no shapes")?;
    let core = std::fs::read_to_string(root.join(HANDLERS))?;
    let handlers = implemented_ops(&core)?;
    let mut tests = String::new();
    for dir in std::fs::read_dir(root.join("crates"))? {
        let dir = dir?.path().join("tests");
        if dir.is_dir() {
            collect_rs(&dir, &mut tests)?;
        }
    }
    let mut implemented = 0;
    let mut missing = Vec::new();
    for (name, op) in ops {
        let method = snake(name);
        if !handlers.contains(&method) {
            continue;
        }
        implemented += 1;
        let set = members_set_in_calls(&tests, &method);
        let Some(input) = op["input"]["shape"].as_str() else {
            continue;
        };
        let Some(fields) = shapes[input]["members"].as_object() else {
            continue;
        };
        for member in fields.keys() {
            let named = tests.contains(&format!("{name}.{member}"));
            if !named && !set.contains(snake(member).trim_start_matches("r#")) {
                missing.push(format!("{name}.{member}"));
            }
        }
    }
    if !missing.is_empty() {
        bail!(
            "{} input members of the {implemented} implemented operations are named by no test \
             (set them in an SDK call of a test, or name them as Op.Member in the test that \
             sends them):\n  {}",
            missing.len(),
            missing.join("\n  ")
        );
    }
    println!("every input member of the {implemented} implemented operations is named by a test");
    Ok(())
}

fn collect_rs(dir: &Path, out: &mut String) -> Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_rs(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push_str(&std::fs::read_to_string(&path)?);
            out.push('\n');
        }
    }
    Ok(())
}

/// The setters called between `.method()` and the next `.send()` anywhere in `text`.
fn members_set_in_calls(text: &str, method: &str) -> BTreeSet<String> {
    let start = format!(".{method}()");
    let mut set = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find(&start) {
        rest = &rest[i + start.len()..];
        let chain = rest.find(".send()").map_or(rest, |end| &rest[..end]);
        for call in chain.split('.').skip(1) {
            let call = call.trim_start_matches("r#");
            let ident: String = call
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if call[ident.len()..].starts_with('(') {
                set.insert(ident.trim_start_matches("set_").to_owned());
            }
        }
    }
    set
}

#[cfg(test)]
mod tidy_tests {
    #[test]
    fn a_catch_all_beside_a_core_error_arm_is_found() {
        let text = "fn f(e: CoreError) -> u16 {\n    match e {\n        CoreError::NotFound(_) => 404,\n        _ => 403,\n    }\n}\nfn g(x: u8) {\n    match x {\n        1 => (),\n        _ => (),\n    }\n}\n";
        assert_eq!(super::core_error_catch_alls(text), [4]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_literals_are_found_in_code_only() {
        let states: BTreeSet<String> = ["RUNNING", "AVAILABLE"].map(String::from).into();
        let text = "let a = \"RUNNING\";\n// \"AVAILABLE\" in a comment\nlet b = \"RUNNING_X\";\n\
                    format!(\"{} AVAILABLE\", x);\n#[cfg(test)]\nlet c = \"AVAILABLE\";\n";
        assert_eq!(state_literals(text, &states), [(1, "RUNNING".to_owned())]);
    }

    #[test]
    fn the_model_has_states() {
        let root = workspace_root().unwrap();
        let states = state_values(&root).unwrap();
        assert!(states.contains("AVAILABLE") && states.contains("SNAPSHOTTING"));
        assert!(
            !states.contains("ENABLED"),
            "ThemeState is not a resource state"
        );
    }
}
