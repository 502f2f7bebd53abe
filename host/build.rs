//! Records the compiler version, shown in `/config` `versions` and on the About page, and links
//! release builds of the server binary with `hot-text.ld` (the code that runs, grouped).

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = std::process::Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.split_whitespace().nth(1).map(str::to_string))
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=BUILDBOT_WWW_RUSTC_VERSION={version}");
    println!("cargo:rerun-if-changed=build.rs");
    hot_text();
}

/// Release builds on ELF targets place the code listed in `hot-text.ld` (written by `cargo xtask
/// hot-text`) before the rest of `.text`: what the server runs then fills a few megabytes of
/// pages instead of being spread over all of its code (docs/performance.md, Memory). GNU ld and
/// LLD both read the script; debug builds and tests link as usual.
fn hot_text() {
    let release = std::env::var("PROFILE").is_ok_and(|p| p == "release");
    let elf = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux");
    let script = std::path::Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default())
        .join("hot-text.ld");
    println!("cargo:rerun-if-changed=hot-text.ld");
    if release && elf && script.is_file() {
        println!(
            "cargo:rustc-link-arg-bin=buildbot-www=-Wl,-T,{}",
            script.display()
        );
    }
}
