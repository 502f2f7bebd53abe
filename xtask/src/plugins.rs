//! Plugin builds: `build-plugins`, `build-test-plugins` (WebAssembly components from the
//! `plugins/` and `fixtures/plugins/` workspaces) and `new-plugin` (a standalone plugin crate).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::tally::Tally;
use crate::{root, run_command};

/// The target plugins are built for; it emits components directly.
const WASM_TARGET: &str = "wasm32-wasip2";

/// `cargo xtask build-plugins`: the bundled plugins into `target/plugins/`.
pub(crate) fn build_plugins() -> Result<()> {
    build_components(&root().join("plugins"), &root().join("target/plugins"))
}

/// `cargo xtask build-test-plugins`: the runtime's test plugins into `target/test-plugins/`,
/// with the plugin `new-plugin` scaffolds outside the repository (`scaffold_check`).
pub(crate) fn build_test_plugins() -> Result<()> {
    build_components(
        &root().join("fixtures/plugins"),
        &root().join("target/test-plugins"),
    )?;
    scaffold_check()
}

/// The plugins' own unit tests (`plugins/` and `fixtures/plugins/`), run natively: the SDK's
/// `testing` module stands in for the server there.
pub(crate) fn test_plugins_natively(tally: &mut Tally) -> Result<()> {
    let target = cargo_target_dir()?.join("plugins-native");
    for workspace in ["plugins", "fixtures/plugins"] {
        tally.run(
            Command::new(cargo_binary())
                .current_dir(root().join(workspace))
                .args(["test", "--quiet", "--no-fail-fast", "--target-dir"])
                .arg(&target),
        )?;
    }
    Ok(())
}

/// Builds every `cdylib` crate of the cargo workspace at `workspace` for [`WASM_TARGET`] and
/// copies each component to `<out>/<crate name with '_' for '-'>.wasm`.
///
/// Cargo runs in `workspace` so its `.cargo/config.toml` (rustflags) applies, with the target
/// directory `<CARGO_TARGET_DIR or target>/wasm` so builds are cached apart from the host's. The
/// output folder is always under the checkout's `target/`, where the server looks.
fn build_components(workspace: &Path, out: &Path) -> Result<()> {
    let shown = workspace
        .strip_prefix(root())
        .unwrap_or(workspace)
        .display();
    if !workspace.join("Cargo.toml").is_file() {
        println!("xtask: {shown}/Cargo.toml does not exist, no plugins to build");
        return Ok(());
    }
    let names = component_names(workspace)?;
    if names.is_empty() {
        println!("xtask: no plugin crates in {shown}/, nothing to build");
        return Ok(());
    }
    ensure_wasm_target()?;
    let target_dir = cargo_target_dir()?.join("wasm");
    run_command(
        Command::new(cargo_binary())
            .current_dir(workspace)
            .args([
                "build",
                "--release",
                "--target",
                WASM_TARGET,
                "--target-dir",
            ])
            .arg(&target_dir),
    )?;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let built = target_dir.join(WASM_TARGET).join("release");
    for name in &names {
        let from = built.join(format!("{name}.wasm"));
        let to = out.join(format!("{name}.wasm"));
        let changed = copy_if_changed(&from, &to)?;
        let size = std::fs::metadata(&to).map_or(0, |m| m.len());
        println!(
            "xtask: {} ({} KiB{})",
            to.display(),
            size.div_ceil(1024),
            if changed { "" } else { ", unchanged" }
        );
    }
    Ok(())
}

/// The artefact names (`<lib name>`, `-` as `_`) of the workspace's `cdylib` crates.
fn component_names(workspace: &Path) -> Result<Vec<String>> {
    let output = Command::new(cargo_binary())
        .current_dir(workspace)
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .output()
        .context("cannot run cargo metadata")?;
    if !output.status.success() {
        bail!(
            "cargo metadata failed in {}:\n{}",
            workspace.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).context("cannot parse cargo metadata's output")?;
    let mut names = Vec::new();
    for package in metadata["packages"].as_array().into_iter().flatten() {
        for target in package["targets"].as_array().into_iter().flatten() {
            let cdylib = target["crate_types"]
                .as_array()
                .is_some_and(|types| types.iter().any(|t| t == "cdylib"));
            if let (true, Some(name)) = (cdylib, target["name"].as_str()) {
                names.push(name.replace('-', "_"));
            }
        }
    }
    names.sort();
    Ok(names)
}

/// Installs the wasm target with rustup unless it is there.
fn ensure_wasm_target() -> Result<()> {
    let installed = Command::new("rustup")
        .current_dir(root())
        .args(["target", "list", "--installed"])
        .output();
    match installed {
        Ok(output) if output.status.success() => {
            let list = String::from_utf8_lossy(&output.stdout);
            if list.lines().any(|line| line.trim() == WASM_TARGET) {
                return Ok(());
            }
            println!("xtask: installing the {WASM_TARGET} target");
            run_command(Command::new("rustup").current_dir(root()).args([
                "target",
                "add",
                WASM_TARGET,
            ]))
        }
        _ => {
            eprintln!(
                "xtask: rustup is not available; assuming the {WASM_TARGET} target is installed"
            );
            Ok(())
        }
    }
}

/// `$CARGO_TARGET_DIR` (relative to the current directory) or the checkout's `target/`.
pub(crate) fn cargo_target_dir() -> Result<PathBuf> {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => {
            let dir = PathBuf::from(dir);
            Ok(if dir.is_absolute() {
                dir
            } else {
                std::env::current_dir()?.join(dir)
            })
        }
        _ => Ok(root().join("target")),
    }
}

fn cargo_binary() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// Copies `from` over `to` through a temporary file and a rename, so a server watching `to`
/// never reads half a file; does nothing when the contents are equal. Returns whether it copied.
fn copy_if_changed(from: &Path, to: &Path) -> Result<bool> {
    let bytes = std::fs::read(from)
        .with_context(|| format!("cannot read the built component {}", from.display()))?;
    if std::fs::read(to).is_ok_and(|old| old == bytes) {
        return Ok(false);
    }
    let tmp = to.with_extension("wasm.new");
    std::fs::write(&tmp, &bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, to).with_context(|| format!("cannot replace {}", to.display()))?;
    Ok(true)
}

/// What `cargo xtask test` checks of `new-plugin`: scaffolds `scaffolded` (a UI plugin) and
/// `scaffolded_auth` (an authentication plugin) into a folder outside the repository, runs
/// their own tests, builds them the way their READMEs say (plain cargo, wasm32-wasip2, release),
/// with the SDK taken by version through the scaffold's documented override, checks that its
/// `Cargo.lock` kept the versions the bundled plugins are tested with, and puts the component
/// with the test plugins, where the host's tests load it, and the crate next to it for the test
/// that rebuilds it (`keep_scaffold`).
pub(crate) fn scaffold_check() -> Result<()> {
    let dir = std::env::temp_dir().join(format!("bbw-scaffold-{}", std::process::id()));
    if dir.exists() {
        std::fs::remove_dir_all(&dir)
            .with_context(|| format!("cannot remove {}", dir.display()))?;
    }
    let result = build_scaffold(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn build_scaffold(dir: &Path) -> Result<()> {
    let target = cargo_target_dir()?.join("wasm-scaffold");
    let out = root().join("target/test-plugins");
    std::fs::create_dir_all(&out)?;
    build_scaffolded(dir, "scaffolded_auth", Kind::Auth, &target, &out)?;
    let dir = build_scaffolded(dir, "scaffolded", Kind::Ui, &target, &out)?;
    keep_scaffold(&dir, &target, &out)
}

/// Scaffolds plugin `name` of `kind` in `<dir>/<name>`, runs its own tests natively, builds it
/// as its README says, checks its lock file, and copies the component into `out`. Returns the
/// crate's folder.
fn build_scaffolded(
    dir: &Path,
    name: &str,
    kind: Kind,
    target: &Path,
    out: &Path,
) -> Result<PathBuf> {
    let kind_arg = match kind {
        Kind::Ui => "ui",
        Kind::Auth => "auth",
    };
    new_plugin(&[
        name.to_owned(),
        "--path".to_owned(),
        dir.join(name).display().to_string(),
        "--kind".to_owned(),
        kind_arg.to_owned(),
    ])?;
    let dir = dir.join(name);
    // The scaffold passes its own test (`cargo test`, natively), as its README says.
    run_command(
        Command::new(cargo_binary())
            .current_dir(&dir)
            .env("CARGO_TARGET_DIR", target.join("native"))
            .args(["test", "--quiet"]),
    )?;
    run_command(
        Command::new(cargo_binary())
            .current_dir(&dir)
            .env("CARGO_TARGET_DIR", target)
            .args(["build", "--quiet", "--release", "--target", WASM_TARGET]),
    )?;
    let built = locked_versions(&std::fs::read_to_string(dir.join("Cargo.lock"))?);
    let tested = locked_versions(&std::fs::read_to_string(root().join("plugins/Cargo.lock"))?);
    // A lock may hold several versions of a package (syn 2 and 3 through the plugins' test
    // dependencies): the scaffold's must be one of them.
    for (name, version) in &built {
        let versions: Vec<&str> = tested
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect();
        if !versions.is_empty() && !versions.contains(&version.as_str()) {
            bail!(
                "the scaffold built {name} {version}, the bundled plugins are tested with {}",
                versions.join(" and ")
            );
        }
    }
    let sdk = sdk_version()?;
    if !built
        .iter()
        .any(|(name, version)| name == "buildbot-plugin-sdk" && *version == sdk)
    {
        bail!("the scaffold did not build against buildbot-plugin-sdk {sdk}");
    }
    copy_if_changed(
        &target
            .join(WASM_TARGET)
            .join(format!("release/{name}.wasm")),
        &out.join(format!("{name}.wasm")),
    )?;
    Ok(dir)
}

/// Leaves the scaffolded crate (as built, with its `Cargo.lock`) in `<out>/scaffolded-src/` and
/// the target folder it was built in in `<out>/scaffolded-target-dir`, for the host's test that
/// changes the plugin the way its author would, rebuilds it with plain cargo and has the running
/// server reload it: sharing the target folder, the rebuild compiles only the plugin's crate.
fn keep_scaffold(dir: &Path, target: &Path, out: &Path) -> Result<()> {
    let kept = out.join("scaffolded-src");
    if kept.exists() {
        std::fs::remove_dir_all(&kept)
            .with_context(|| format!("cannot remove {}", kept.display()))?;
    }
    copy_tree(dir, &kept)?;
    std::fs::write(
        out.join("scaffolded-target-dir"),
        target.display().to_string(),
    )
    .context("cannot write scaffolded-target-dir")
}

/// Copies the files under `from` into `to`, except a `target` folder.
fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
    for entry in
        std::fs::read_dir(from).with_context(|| format!("cannot read {}", from.display()))?
    {
        let entry = entry?;
        let path = entry.path();
        let dest = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            if entry.file_name() != "target" {
                copy_tree(&path, &dest)?;
            }
        } else {
            std::fs::copy(&path, &dest)
                .with_context(|| format!("cannot copy {}", path.display()))?;
        }
    }
    Ok(())
}

/// The `(name, version)` of each package in a `Cargo.lock`.
fn locked_versions(lock: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut name = None;
    for line in lock.lines() {
        if let Some(value) = line.strip_prefix("name = ") {
            name = Some(value.trim_matches('"').to_owned());
        } else if let (Some(value), Some(n)) = (line.strip_prefix("version = "), name.take()) {
            out.push((n, value.trim_matches('"').to_owned()));
        }
    }
    out
}

/// The SDK's version, from `plugin-sdk/Cargo.toml`.
fn sdk_version() -> Result<String> {
    let manifest = std::fs::read_to_string(root().join("plugin-sdk/Cargo.toml"))?;
    manifest
        .lines()
        .find_map(|line| line.strip_prefix("version = "))
        .map(|v| v.trim_matches('"').to_owned())
        .context("plugin-sdk/Cargo.toml has no version line")
}

/// What `new-plugin` scaffolds: a UI plugin (the default) or an authentication plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Ui,
    Auth,
}

impl Kind {
    fn parse(text: &str) -> Result<Kind> {
        match text {
            "ui" => Ok(Kind::Ui),
            "auth" => Ok(Kind::Auth),
            other => bail!("unknown plugin kind {other:?}: use ui or auth"),
        }
    }
}

/// `cargo xtask new-plugin NAME --path DIR [--kind ui|auth]`.
pub(crate) fn new_plugin(args: &[String]) -> Result<()> {
    let usage = "usage: cargo xtask new-plugin NAME --path DIR [--kind ui|auth]";
    let mut name = None;
    let mut dir = None;
    let mut kind = Kind::Ui;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--path" => dir = Some(args.next().context(usage)?.clone()),
            flag if flag.starts_with("--path=") => dir = Some(flag["--path=".len()..].to_owned()),
            "--kind" => kind = Kind::parse(args.next().context(usage)?)?,
            flag if flag.starts_with("--kind=") => kind = Kind::parse(&flag["--kind=".len()..])?,
            flag if flag.starts_with('-') => bail!("unknown option {flag:?}\n{usage}"),
            _ if name.is_none() => name = Some(arg.clone()),
            _ => bail!("unexpected argument {arg:?}\n{usage}"),
        }
    }
    let (Some(name), Some(dir)) = (name, dir) else {
        bail!(usage);
    };
    check_plugin_name(&name)?;
    let dir = std::env::current_dir()?.join(dir);
    if dir.exists() {
        let mut entries =
            std::fs::read_dir(&dir).with_context(|| format!("cannot read {}", dir.display()))?;
        if entries.next().is_some() {
            bail!("{} exists and is not empty", dir.display());
        }
    }
    let sdk = root().join("plugin-sdk");
    let sdk = sdk.canonicalize().unwrap_or(sdk);
    let version = sdk_version()?;
    // The versions the bundled plugins are built and tested with; cargo drops what the new
    // crate does not use and keeps the rest.
    let lock = std::fs::read_to_string(root().join("plugins/Cargo.lock"))
        .context("cannot read plugins/Cargo.lock")?;
    let files = [
        ("Cargo.toml", cargo_toml(&name, &version)),
        (".cargo/config.toml", cargo_config(&sdk)),
        ("Cargo.lock", lock),
        (".gitignore", "/target\n".to_owned()),
        (
            "src/lib.rs",
            match kind {
                Kind::Ui => lib_rs(&name),
                Kind::Auth => auth_lib_rs(&name),
            },
        ),
        (
            "README.md",
            match kind {
                Kind::Ui => readme(&name),
                Kind::Auth => auth_readme(&name),
            },
        ),
    ];
    for (file, text) in files {
        let path = dir.join(file);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    println!(
        "xtask: created plugin {name} in {}\n\
         build it with:  cd {} && cargo build --target {WASM_TARGET} --release",
        dir.display(),
        dir.display()
    );
    Ok(())
}

/// Letters, digits and `_`, not starting with a digit, and usable as a crate name.
fn check_plugin_name(name: &str) -> Result<()> {
    const RESERVED: &[&str] = &[
        "_",
        "alloc",
        "core",
        "proc_macro",
        "std",
        "test",
        "abstract",
        "as",
        "async",
        "await",
        "become",
        "box",
        "break",
        "const",
        "continue",
        "crate",
        "do",
        "dyn",
        "else",
        "enum",
        "extern",
        "false",
        "final",
        "fn",
        "for",
        "gen",
        "if",
        "impl",
        "in",
        "let",
        "loop",
        "macro",
        "match",
        "mod",
        "move",
        "mut",
        "override",
        "priv",
        "pub",
        "ref",
        "return",
        "self",
        "Self",
        "static",
        "struct",
        "super",
        "trait",
        "true",
        "try",
        "type",
        "typeof",
        "unsafe",
        "unsized",
        "use",
        "virtual",
        "where",
        "while",
        "yield",
    ];
    let valid = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        bail!(
            "invalid plugin name {name:?}: use letters, digits and '_', not starting with a digit"
        );
    }
    if RESERVED.contains(&name) {
        bail!("invalid plugin name {name:?}: it is reserved in Rust");
    }
    Ok(())
}

/// A TOML basic string.
fn toml_string(text: &str) -> String {
    let mut out = String::from('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn cargo_toml(name: &str, sdk_version: &str) -> String {
    // `0.2.0` -> `0.2`: any SDK release with the same WIT contract.
    let requirement = sdk_version
        .rsplit_once('.')
        .map_or(sdk_version, |(major_minor, _)| major_minor);
    format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2021"
publish = false

[lib]
crate-type = ["cdylib"]

[dependencies]
buildbot-plugin-sdk = "{requirement}"

# A workspace of its own, so an enclosing workspace does not capture this crate.
[workspace]

# Small, fast components: full optimisation, one codegen unit and LTO; debug info stripped but
# function names kept for readable traps.
[profile.release]
opt-level = 3
lto = true
codegen-units = 1
panic = "abort"
strip = "debuginfo"
"#
    )
}

fn cargo_config(sdk: &Path) -> String {
    let sdk = toml_string(&sdk.to_string_lossy());
    format!(
        r#"# Build the plugin with `cargo build --target wasm32-wasip2 --release`; the output is a
# WebAssembly component. The target is not made the default so that `cargo test` runs the unit
# tests natively.
[target.wasm32-wasip2]
# WebAssembly SIMD: faster rendering with identical output; every runtime the server uses has it.
rustflags = ["-C", "target-feature=+simd128"]

# The SDK is taken by version (Cargo.toml); this override builds it from a local buildbot-www
# checkout instead, the one this crate was scaffolded from. Point it at another checkout, or
# delete this section to use the SDK from crates.io.
[patch.crates-io]
buildbot-plugin-sdk = {{ path = {sdk} }}
"#
    )
}

/// `demo_view` -> `Demo view`.
fn label(name: &str) -> String {
    let words = name.replace('_', " ");
    let words = words.trim();
    let mut chars = words.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => name.to_owned(),
    }
}

/// `demo_view` -> `DemoViewPlugin` (the suffix keeps it apart from the SDK's prelude names).
fn type_name(name: &str) -> String {
    let mut out = String::new();
    for part in name.split('_').filter(|p| !p.is_empty()) {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            out.push_str(chars.as_str());
        }
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'P');
    }
    out.push_str("Plugin");
    out
}

fn lib_rs(name: &str) -> String {
    let label = label(name);
    let ty = type_name(name);
    format!(
        r##"//! The `{name}` plugin for buildbot-www: a page at `/plugins/{name}/`.

use buildbot_plugin_sdk::prelude::*;
use buildbot_plugin_sdk::serde_json;

/// The page at `/`: every `{{{{ value }}}}` is escaped (a `.html` template).
const INDEX: &str = "<h1>{{{{ greeting }}}}, {{{{ user }}}}!</h1>
<p>Builders: {{{{ builders }}}}</p>
<p><a href=\"{{{{ root }}}}\">Home</a></p>
";

struct {ty} {{
    greeting: String,
    templates: Templates,
}}

impl Plugin for {ty} {{
    fn manifest() -> Manifest {{
        Manifest::new("{name}", env!("CARGO_PKG_VERSION"))
            .description("{label}")
            .menu(MenuEntry::new("{label}", "/").order(100))
    }}

    /// Options come from `[www.plugins.{name}]` in the server's config.
    fn init(config: Config) -> Result<Self, String> {{
        config.deny_unknown(&["greeting"])?;
        Ok({ty} {{
            greeting: config.string_or("greeting", "Hello")?,
            templates: Templates::new().with("index.html", INDEX)?,
        }})
    }}

    fn routes() -> Routes<Self> {{
        Routes::new().get("/", {ty}::index)
    }}
}}

impl {ty} {{
    /// The page at `/plugins/{name}/`: a greeting and the number of builders.
    fn index(&mut self, request: &Request, _: &Params) -> Result<Response, Error> {{
        let builders = data::list::<Builder>("builders", &Query::new().field("name"))?;
        self.templates.render(
            "index.html",
            serde_json::json!({{
                "greeting": self.greeting,
                "user": request.user.display_name(),
                "builders": builders.len(),
                "root": request.root,
            }}),
        )
    }}
}}

register_plugin!({ty});

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {{
    use super::*;
    use buildbot_plugin_sdk::testing;

    #[test]
    fn greets_and_counts_builders() {{
        testing::set_data(|_path, _query| {{
            Ok(r#"{{"builders": [{{"name": "a"}}, {{"name": "b"}}], "meta": {{}}}}"#.into())
        }});
        let mut plugin = {ty}::init(Config::empty("{name}")).unwrap();
        let page = plugin.respond(&Request::get("/"));
        assert_eq!(page.status, 200);
        let body = page.body_text().unwrap();
        assert!(body.contains("Hello, anonymous!"), "{{body}}");
        assert!(body.contains("Builders: 2"), "{{body}}");
        assert_eq!(plugin.respond(&Request::get("/nope")).status, 404);
        testing::set_data(|_path, _query| Err(DataError::new(403, "forbidden")));
        assert_eq!(plugin.respond(&Request::get("/")).status, 403);
    }}
}}
"##
    )
}

/// The README's sections every scaffold shares: how to build it, and where its SDK comes from.
fn readme_sections(name: &str) -> (String, &'static str) {
    let build = format!(
        r#"## Build

```sh
rustup target add {WASM_TARGET}     # once
cargo build --target {WASM_TARGET} --release
```

The component is `target/{WASM_TARGET}/release/{name}.wasm`. `cargo test` runs the unit tests
natively (the SDK's `testing` module stands in for the server).
"#
    );
    let sdk = r#"## The SDK

`Cargo.toml` asks for `buildbot-plugin-sdk` by version. `.cargo/config.toml` overrides it with
the buildbot-www checkout this crate was scaffolded from (`[patch.crates-io]`): point that at
another checkout, or delete the section to use the SDK from crates.io. `Cargo.lock` starts with
the versions buildbot-www tests its own plugins with; commit it.

The SDK's documentation: `cargo doc --open -p buildbot-plugin-sdk`.
"#;
    (build, sdk)
}

fn readme(name: &str) -> String {
    let (build, sdk) = readme_sections(name);
    format!(
        r#"# {name}

A UI plugin for buildbot-www: a page at `/plugins/{name}/` with an entry in the sidebar.

{build}
## Install and enable

Copy `{name}.wasm` into the server's plugin folder (`plugins/` next to its config file, or a
folder listed in `[www] plugin_dirs`), then enable it in the config and restart the server:

```toml
[www.plugins]
{name} = true

# or, with options:
# [www.plugins.{name}]
# greeting = "Howdy"
```

When it is already enabled, replacing the file is enough: the server reloads it. Copy it next
to the old one and rename it over, so the server never reads a half-written file.

{sdk}"#
    )
}

fn auth_lib_rs(name: &str) -> String {
    let label = label(name);
    let ty = type_name(name);
    format!(
        r##"//! The `{name}` authentication plugin for buildbot-www (Buildbot's `CustomAuth`): checks
//! logins against the users listed in its options.

use buildbot_plugin_sdk::prelude::*;
use buildbot_plugin_sdk::serde::Deserialize;
use std::collections::BTreeMap;

/// The options of `[www.auth.options]`: an unknown option is refused at start-up.
#[derive(Deserialize)]
#[serde(crate = "buildbot_plugin_sdk::serde", deny_unknown_fields)]
struct Options {{
    /// User name to password: `users = {{ homer = "doh" }}` (or a secret,
    /// `homer = {{ env = "HOMER_PASSWORD" }}`).
    users: BTreeMap<String, String>,
    /// Groups every user gets (for authorization rules and role matchers).
    #[serde(default)]
    groups: Vec<String>,
}}

struct {ty} {{
    options: Options,
}}

impl AuthPlugin for {ty} {{
    fn manifest() -> AuthManifest {{
        AuthManifest::new("{name}", env!("CARGO_PKG_VERSION")).description("{label}")
    }}

    fn init(config: Config) -> Result<Self, String> {{
        Ok({ty} {{
            options: config.parse()?,
        }})
    }}

    fn check_credentials(&mut self, username: &str, password: &str) -> Result<UserInfo, AuthError> {{
        match self.options.users.get(username) {{
            Some(expected) if expected == password => {{
                let mut user = UserInfo::new(username);
                for group in &self.options.groups {{
                    user = user.group(group.clone());
                }}
                Ok(user)
            }}
            // An unknown user and a wrong password get the same answer.
            _ => Err(AuthError::BadCredentials),
        }}
    }}
}}

register_auth_plugin!({ty});

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {{
    use super::*;
    use buildbot_plugin_sdk::serde_json::json;

    fn plugin() -> {ty} {{
        let options = json!({{"users": {{"homer": "doh"}}, "groups": ["staff"]}});
        let config = Config::new("{name}", options.as_object().unwrap().clone());
        {ty}::init(config).unwrap()
    }}

    #[test]
    fn checks_the_listed_users() {{
        let mut plugin = plugin();
        let homer = plugin.check_credentials("homer", "doh").unwrap();
        assert_eq!(homer.username, "homer");
        assert_eq!(homer.groups, ["staff"]);
        assert_eq!(plugin.check_credentials("homer", "DOH"), Err(AuthError::BadCredentials));
        assert_eq!(plugin.check_credentials("marge", "doh"), Err(AuthError::BadCredentials));
    }}

    #[test]
    fn refuses_unknown_options() {{
        let config = Config::new(
            "{name}",
            json!({{"users": {{}}, "grups": []}}).as_object().unwrap().clone(),
        );
        let error = {ty}::init(config).err().unwrap();
        assert!(error.contains("grups"), "{{error}}");
    }}
}}
"##
    )
}

fn auth_readme(name: &str) -> String {
    let (build, sdk) = readme_sections(name);
    format!(
        r#"# {name}

An authentication plugin for buildbot-www (Buildbot's `CustomAuth`): it checks the user name and
password of each login against the users listed in its options.

{build}
## Install and enable

Copy `{name}.wasm` into the server's plugin folder (`plugins/` next to its config file, or a
folder listed in `[www] plugin_dirs`), then choose it in the config and restart the server:

```toml
[www.auth]
type = "CustomAuth"
plugin = "{name}"

[www.auth.options]        # what the plugin's init receives
users = {{ homer = {{ env = "HOMER_PASSWORD" }} }}
groups = ["staff"]
```

`buildbot-www check-config` runs the plugin's `init` with these options. The plugin runs in a
sandbox with no files and no network, within `[www.plugin_limits.{name}]`.

{sdk}"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_names() {
        for good in ["demo_view", "a", "_x", "Grid2"] {
            assert!(check_plugin_name(good).is_ok(), "{good}");
        }
        for bad in ["", "2x", "a-b", "a b", "é", "fn", "test", "_"] {
            assert!(check_plugin_name(bad).is_err(), "{bad}");
        }
        assert_eq!(label("demo_view"), "Demo view");
        assert_eq!(type_name("demo_view"), "DemoViewPlugin");
        assert_eq!(type_name("_x"), "XPlugin");
        assert_eq!(type_name("_9"), "P9Plugin");
        assert_eq!(toml_string(r#"C:\a "b""#), r#""C:\\a \"b\"""#);
    }
}
