//! Finds libparmapper through pkg-config (the `parmapper` package) and tells
//! cargo how to link it. No dependency: pkg-config is run with
//! std::process::Command, as a C build would run it.
//!
//! Env:
//! - `PKG_CONFIG` names the pkg-config program (default `pkg-config`);
//!   `PKG_CONFIG_PATH`, `PKG_CONFIG_LIBDIR` and `PKG_CONFIG_SYSROOT_DIR` are
//!   read by it as usual.
//! - `PARMAPPER_LIB_DIR` (with `PARMAPPER_INCLUDE_DIR`) skips pkg-config
//!   and links `-lparmapper` from that folder, for a library without a
//!   `.pc` file.
use std::env;
use std::path::Path;
use std::process::{self, Command};

/// The C API this crate declares: 0.3 added the batched steps, chunk work
/// functions and runtime hooks, so an older library would miss symbols.
const MIN_VERSION: &str = "0.3.0";

fn main() {
    for var in [
        "PKG_CONFIG",
        "PKG_CONFIG_PATH",
        "PKG_CONFIG_LIBDIR",
        "PKG_CONFIG_SYSROOT_DIR",
        "PARMAPPER_LIB_DIR",
        "PARMAPPER_INCLUDE_DIR",
    ] {
        println!("cargo:rerun-if-env-changed={}", var);
    }
    println!("cargo:rerun-if-changed=build.rs");

    if let Some(lib_dir) = env::var_os("PARMAPPER_LIB_DIR") {
        let lib_dir = Path::new(&lib_dir);
        println!("cargo:rustc-link-search=native={}", lib_dir.display());
        println!("cargo:rustc-link-lib=parmapper");
        let include = env::var("PARMAPPER_INCLUDE_DIR")
            .unwrap_or_else(|_| lib_dir.join("../include").display().to_string());
        emit_include(&include);
        println!("cargo:rustc-env=PARMAPPER_SYS_VERSION=unknown");
        return;
    }

    let pkg_config = env::var("PKG_CONFIG").unwrap_or_else(|_| "pkg-config".to_string());
    let version = run(&pkg_config, &["--modversion", "parmapper"]);
    if Command::new(&pkg_config)
        .args(["--atleast-version", MIN_VERSION, "parmapper"])
        .status()
        .map(|s| !s.success())
        .unwrap_or(true)
    {
        fail(&format!(
            "libparmapper {} was found, but this crate needs {} or later \
             (its C API declares pm_map_next_batch() and the other 0.3 functions)",
            version.trim(),
            MIN_VERSION
        ));
    }
    for flag in run(&pkg_config, &["--libs-only-L", "parmapper"]).split_whitespace() {
        if let Some(dir) = flag.strip_prefix("-L") {
            println!("cargo:rustc-link-search=native={}", dir);
        }
    }
    let mut linked = false;
    for flag in run(&pkg_config, &["--libs-only-l", "parmapper"]).split_whitespace() {
        if let Some(lib) = flag.strip_prefix("-l") {
            println!("cargo:rustc-link-lib={}", lib);
            linked |= lib == "parmapper";
        }
    }
    if !linked {
        fail("pkg-config's `--libs parmapper` does not name -lparmapper");
    }
    let includedir = run(&pkg_config, &["--variable=includedir", "parmapper"]);
    emit_include(&format!("{}/parmapper", includedir.trim()));
    println!("cargo:rustc-env=PARMAPPER_SYS_VERSION={}", version.trim());
    println!("cargo:version={}", version.trim());
}

/// Where parmapper.h is: for crates that build C against it
/// (`DEP_PARMAPPER_INCLUDE`) and for this crate's header check test.
fn emit_include(dir: &str) {
    println!("cargo:include={}", dir);
    println!("cargo:rustc-env=PARMAPPER_SYS_INCLUDE_DIR={}", dir);
}

fn run(program: &str, args: &[&str]) -> String {
    match Command::new(program).args(args).output() {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).into_owned(),
        Ok(out) => fail(&format!(
            "`{} {}` failed: {}\n\
             Install libparmapper (meson install) and point PKG_CONFIG_PATH at \
             <prefix>/<libdir>/pkgconfig, or set PARMAPPER_LIB_DIR.",
            program,
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(e) => fail(&format!(
            "cannot run `{}` ({}): install pkg-config (Debian: apt-get install pkg-config), \
             or set PARMAPPER_LIB_DIR",
            program, e
        )),
    }
}

fn fail(message: &str) -> ! {
    eprintln!("parmapper-sys: {}", message);
    process::exit(1);
}
