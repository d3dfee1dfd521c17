//! The declarations match the installed parmapper.h: every function and
//! callback type of the header is declared here with the same parameter and
//! return types (C types mapped to their Rust equivalents), nothing more,
//! and every constant has the header's value. The header is the one
//! pkg-config names (build.rs passes its folder).
use std::collections::BTreeMap;

use parmapper_sys::*;

const RUST: &str = include_str!("../src/lib.rs");

fn header() -> String {
    let path = concat!(env!("PARMAPPER_SYS_INCLUDE_DIR"), "/parmapper.h");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {}", path, e));
    strip_comments(&text)
}

fn strip_comments(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("/*") {
        out.push_str(&rest[..i]);
        let j = rest[i..].find("*/").expect("unterminated comment");
        rest = &rest[i + j + 2..];
    }
    out.push_str(rest);
    out.lines().filter(|l| !l.trim_start().starts_with('#')).collect::<Vec<_>>().join("\n")
}

/// The text between the parenthesis at `open` and its match.
fn inside(s: &str, open: usize) -> &str {
    let mut depth = 0;
    for (k, c) in s[open..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return &s[open + 1..open + k];
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced parentheses")
}

fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A C type (without the parameter's name) as the Rust type it maps to.
fn rust_type(c: &str) -> String {
    let c = c.trim();
    let parts: Vec<&str> = c.split('*').collect();
    let base = parts[0].trim();
    let (konst, base) = match base.strip_prefix("const ") {
        Some(b) => (true, b.trim()),
        None => (false, base),
    };
    let mut t = match base {
        "void" if parts.len() == 1 => return "()".to_string(),
        "void" => "c_void",
        "char" => "c_char",
        "int" => "c_int",
        "size_t" => "usize",
        "uint32_t" => "u32",
        "uint64_t" => "u64",
        "double" => "f64",
        other => other,
    }
    .to_string();
    let mut pointee_const = konst;
    for level in parts.iter().skip(1) {
        t = format!("*{} {}", if pointee_const { "const" } else { "mut" }, t);
        pointee_const = level.trim() == "const";
    }
    t
}

/// "const void *item" -> the Rust type of the parameter; "void" -> none.
fn c_params(list: &str) -> Vec<String> {
    let list = squash(list);
    if list == "void" || list.is_empty() {
        return Vec::new();
    }
    list.split(',')
        .map(|p| {
            let p = p.trim();
            // Drop the name: the identifier after the last space or star.
            let cut = p.rfind(|c: char| c == ' ' || c == '*').expect("a named parameter");
            rust_type(&p[..=cut])
        })
        .collect()
}

fn rust_params(list: &str) -> Vec<String> {
    let list = squash(list);
    let list = list.trim().trim_end_matches(',');
    if list.is_empty() {
        return Vec::new();
    }
    list.split(',').map(|p| squash(p.splitn(2, ':').nth(1).expect("name: type"))).collect()
}

/// name -> (parameter types, return type), from the header.
fn c_functions(h: &str) -> BTreeMap<String, (Vec<String>, String)> {
    let mut out = BTreeMap::new();
    let mut rest = h;
    while let Some(i) = rest.find("PM_API ") {
        let decl = &rest[i + 7..];
        let open = decl.find('(').unwrap();
        let head = decl[..open].trim();
        let cut = head.rfind(|c: char| c == ' ' || c == '*').unwrap();
        let name = head[cut + 1..].to_string();
        let ret = rust_type(&head[..=cut]);
        out.insert(name, (c_params(inside(decl, open)), ret));
        rest = &decl[open..];
    }
    out
}

fn rust_functions(r: &str) -> BTreeMap<String, (Vec<String>, String)> {
    let mut out = BTreeMap::new();
    let mut rest = r;
    while let Some(i) = rest.find("pub fn ") {
        let decl = &rest[i + 7..];
        let open = decl.find('(').unwrap();
        let name = decl[..open].trim().to_string();
        let params = rust_params(inside(decl, open));
        let after = &decl[open + inside(decl, open).len() + 2..];
        let end = after.find(';').unwrap();
        let ret = match after[..end].trim().strip_prefix("->") {
            Some(t) => squash(t),
            None => "()".to_string(),
        };
        out.insert(name, (params, ret));
        rest = &decl[open..];
    }
    out
}

#[test]
fn every_function_of_the_header_is_declared_with_its_types() {
    let c = c_functions(&header());
    let rust = rust_functions(RUST);
    assert!(c.len() >= 60, "only {} functions found in the header", c.len());
    let c_names: Vec<_> = c.keys().collect();
    let rust_names: Vec<_> = rust.keys().collect();
    assert_eq!(c_names, rust_names, "functions of the header vs parmapper-sys");
    for (name, sig) in &c {
        assert_eq!(&rust[name], sig, "signature of {}", name);
    }
}

#[test]
fn every_callback_type_of_the_header_is_declared_with_its_types() {
    let h = header();
    let mut checked = 0;
    let mut rest = h.as_str();
    while let Some(i) = rest.find("typedef ") {
        let decl = &rest[i + 8..];
        let semi = decl.find(';').unwrap();
        let stmt = &decl[..semi];
        rest = &decl[semi..];
        let star = match stmt.find("(*") {
            Some(p) => p,
            None => continue, // an opaque struct
        };
        let ret = rust_type(&stmt[..star]);
        let name_end = stmt[star..].find(')').unwrap() + star;
        let name = stmt[star + 2..name_end].trim();
        let params = c_params(inside(stmt, stmt[name_end..].find('(').unwrap() + name_end));
        let at = RUST.find(&format!("pub type {} =", name)).unwrap_or_else(|| panic!("no pub type {}", name));
        let decl = &RUST[at..];
        let open = decl.find("fn(").unwrap() + 2;
        let body = inside(decl, open);
        let after = &decl[open + body.len() + 2..];
        let end = after.find(";").unwrap();
        let rust_ret = match after[..end].trim().trim_end_matches('>').trim().trim_end_matches(',').strip_prefix("->") {
            Some(t) => squash(t),
            None => "()".to_string(),
        };
        assert_eq!(rust_params(body), params, "parameters of {}", name);
        assert_eq!(rust_ret, ret, "return type of {}", name);
        checked += 1;
    }
    assert_eq!(checked, 11, "callback typedefs in the header");
}

#[test]
fn every_constant_has_the_value_of_the_header() {
    let ours: BTreeMap<&str, i64> = [
        ("PM_OK", PM_OK as i64),
        ("PM_DONE", PM_DONE as i64),
        ("PM_EINVAL", PM_EINVAL as i64),
        ("PM_ENOMEM", PM_ENOMEM as i64),
        ("PM_ESTATE", PM_ESTATE as i64),
        ("PM_EIO", PM_EIO as i64),
        ("PM_EWORKER", PM_EWORKER as i64),
        ("PM_ECANCELED", PM_ECANCELED as i64),
        ("PM_EINTERNAL", PM_EINTERNAL as i64),
        ("PM_EITEM", PM_EITEM as i64),
        ("PM_EINPUT", PM_EINPUT as i64),
        ("PM_ESYS", PM_ESYS as i64),
        ("PM_ETIMEOUT", PM_ETIMEOUT as i64),
        ("PM_EAGAIN", PM_EAGAIN as i64),
        ("PM_ERRORS_RAISE", PM_ERRORS_RAISE as i64),
        ("PM_ERRORS_RETURN", PM_ERRORS_RETURN as i64),
        ("PM_ERRORS_INLINE", PM_ERRORS_INLINE as i64),
        ("PM_START_FORK", PM_START_FORK as i64),
        ("PM_START_EXEC", PM_START_EXEC as i64),
    ]
    .into_iter()
    .collect();
    let h = header();
    let mut theirs = BTreeMap::new();
    for enum_at in h.match_indices("enum {").map(|(i, _)| i) {
        let body = &h[enum_at + 6..enum_at + h[enum_at..].find('}').unwrap()];
        for entry in body.split(',') {
            let mut kv = entry.split('=');
            if let (Some(k), Some(v)) = (kv.next(), kv.next()) {
                theirs.insert(k.trim().to_string(), v.trim().parse::<i64>().unwrap());
            }
        }
    }
    let theirs_ref: BTreeMap<&str, i64> = theirs.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(ours, theirs_ref, "enum constants");

    // The #defines (read from the raw header: strip_comments drops them).
    let raw = std::fs::read_to_string(concat!(env!("PARMAPPER_SYS_INCLUDE_DIR"), "/parmapper.h")).unwrap();
    let define = |name: &str| -> String {
        let line = raw.lines().find(|l| l.starts_with(&format!("#define {} ", name))).unwrap();
        squash(&line[8 + name.len()..])
    };
    assert_eq!(define("PM_TOTAL_UNKNOWN"), "UINT64_MAX");
    assert_eq!(PM_TOTAL_UNKNOWN, u64::MAX);
    assert_eq!(define("PM_CHUNK_AUTO"), "0u");
    assert_eq!(PM_CHUNK_AUTO, 0);
    assert_eq!(define("PM_MAX_PROCESSES"), format!("{}u", PM_MAX_PROCESSES));
    assert_eq!(define("PM_MAX_THREADS"), format!("{}u", PM_MAX_THREADS));
    assert_eq!(define("PM_MAX_CHUNK_SIZE"), "((size_t)1 << 24)");
    assert_eq!(PM_MAX_CHUNK_SIZE, 1 << 24);
    assert_eq!(define("PM_MAX_IN_FLIGHT"), "((size_t)1 << 30)");
    assert_eq!(PM_MAX_IN_FLIGHT, 1 << 30);
}

#[test]
fn the_loaded_library_is_the_one_pkg_config_named() {
    let loaded = unsafe { std::ffi::CStr::from_ptr(pm_version_string()) }.to_str().unwrap().to_string();
    if PM_VERSION_STRING != "unknown" {
        assert_eq!(loaded, PM_VERSION_STRING);
    }
    let n = unsafe { pm_version_number() };
    let parts: Vec<u32> = loaded.split('.').map(|p| p.parse().unwrap()).collect();
    assert_eq!(n, parts[0] * 10000 + parts[1] * 100 + parts[2]);
    assert!(n >= 300, "parmapper-sys declares the 0.3 API");
}
