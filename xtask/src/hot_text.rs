//! `cargo xtask hot-text`: writes `host/hot-text.ld`, the linker script that puts the server
//! code an operator's server runs (start-up, the UI pages, the REST API, the live updates, the
//! four bundled plugins) together at the start of the binary's code.
//!
//! Code is mapped from the binary file, and the kernel maps it in whole windows (64 KiB, or a
//! large folio) around each page touched; with the default layout, the few functions that run
//! are spread over most of the 26 MB of code, so most of it ends up resident. Here the server is
//! built once with every function on a 4 KiB page of its own, started with every code page
//! made inaccessible (`hot-text/tracepages.c`, preloaded), and made to do
//! what its users do once; the pages it touched name the functions it ran, and the link map
//! names their input sections. The script matches those sections by name with the symbol hash
//! left out, so it stays valid (if less complete) as the code and the compiler change; release
//! builds of the server binary link with it (host/build.rs).

use std::collections::{BTreeSet, HashMap};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::bench::{http_status, spawn_server, views_www, wait_for_views};
use crate::{cargo, root, run_command, server_command};

const PORT: u16 = 18_095;
/// Every function on a page of its own, so a touched page names one function.
const ALIGN_FUNCTIONS: &str = "-align-all-functions=12";
/// What the profiled server is asked: each UI page, the bundled plugins, the REST API's
/// collections and single resources (JSON, gzip'd), bad requests, the probes and metrics.
const REQUESTS: &[&str] = &[
    "/",
    "/builders",
    "/builders/1",
    "/builders/1/builds/1",
    "/logs/1",
    "/workers",
    "/changes",
    "/pendingbuildrequests",
    "/about",
    "/settings",
    "/badges",
    "/views/waterfall_view",
    "/views/console_view",
    "/views/grid_view",
    "/plugins/badges/runtests.svg",
    "/plugins/badges/runtests.png",
    "/plugins/waterfall_view/",
    "/plugins/console_view/",
    "/plugins/grid_view/",
    "/api/v2",
    "/api/v2/builders",
    "/api/v2/builds?limit=50",
    "/api/v2/builds?complete=true&order=-buildid&limit=10",
    "/api/v2/builders/1/builds",
    "/api/v2/builds/1/steps",
    "/api/v2/builds/1/properties",
    "/api/v2/steps?limit=5",
    "/api/v2/logs/1",
    "/api/v2/logs/1/contents",
    "/api/v2/logs/1/raw",
    "/api/v2/changes",
    "/api/v2/workers",
    "/api/v2/masters",
    "/api/v2/buildrequests",
    "/api/v2/buildsets",
    "/api/v2/sourcestamps",
    "/api/v2/projects",
    "/api/v2/schedulers",
    "/api/v2/forceschedulers",
    "/api/v2/changesources",
    "/api/v2/test_result_sets",
    "/api/v2/nosuch",
    "/api/v2/builds?complete=maybe",
    "/healthz",
    "/readyz",
    "/metrics",
    "/config",
    "/nosuch",
];

/// The script's record of the code its patterns named when it was written, in KiB.
const NAMED_KIB: &str = "hot-text-kib:";

/// A warning when `binary`'s `.text.hot` holds much less than the script named when it was
/// written: its exact names (generic instances) no longer match, after a compiler or dependency
/// update, and the server's code is spread out again.
pub(crate) fn stale_warning(binary: &Path) -> Option<String> {
    let script = std::fs::read_to_string(root().join("host/hot-text.ld")).ok()?;
    let named: u64 = script
        .split_once(NAMED_KIB)?
        .1
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    let held = section(binary, ".text.hot").map_or(0, |(_, size)| size) / 1024;
    (held * 10 < named * 9).then(|| {
        format!(
            "**host/hot-text.ld is stale**: the binary's `.text.hot` holds {held} KiB, the script \
             named {named} KiB when it was written (another compiler or dependency versions); \
             run `cargo xtask hot-text`."
        )
    })
}

/// Runs the profile and writes `host/hot-text.ld`.
pub(crate) fn hot_text() -> Result<()> {
    crate::plugins::build_plugins()?;
    // Kept between runs: the link map is written only when cargo links again.
    let work = root().join("target/hot-text");
    std::fs::create_dir_all(&work)?;
    let map = work.join("link.map");
    let binary = profiling_build(&map)?;
    let shim = work.join("tracepages.so");
    run_command(
        Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()))
            .args(["-O2", "-shared", "-fPIC", "-o"])
            .arg(&shim)
            .arg(root().join("xtask/hot-text/tracepages.c"))
            .arg("-ldl"),
    )?;
    let touched = profile(&binary, &shim)?;
    let sections = sections(&std::fs::read_to_string(&map)?);
    let hot = hot_sections(&sections, &touched);
    if hot.is_empty() {
        bail!(
            "{} names no function section on the {} pages touched: the map is read as LLD writes \
             it (rustc's linker on x86_64 Linux), with one section per function",
            map.display(),
            touched.len()
        );
    }
    let script = linker_script(&sections, &hot);
    std::fs::write(root().join("host/hot-text.ld"), &script)?;
    let bytes: u64 = hot.iter().map(|s| s.size).sum();
    println!(
        "xtask: host/hot-text.ld: {} code pages touched, {} input sections ({} KiB), {} patterns",
        touched.len(),
        hot.len(),
        bytes / 1024,
        script.lines().filter(|l| l.contains("*(")).count()
    );
    // The usual release binary again, linked with the new script.
    let release = crate::host_binary(true)?;
    let size = |name| section(&release, name).map_or(0, |(_, size)| size);
    println!(
        "xtask: the release binary: .text.hot {} KiB, .text {} KiB",
        size(".text.hot") / 1024,
        size(".text") / 1024
    );
    Ok(())
}

/// The server built with every function on its own page (in the release folder, until the
/// usual release build links it again), and the map of that link in `map`.
fn profiling_build(map: &Path) -> Result<PathBuf> {
    run_command(cargo().args([
        "rustc",
        "--quiet",
        "--release",
        "-p",
        "buildbot-www",
        "--bin",
        "buildbot-www",
        "--",
        "-C",
        &format!("llvm-args={ALIGN_FUNCTIONS}"),
        "-C",
        &format!("link-arg=-Wl,-Map={}", map.display()),
    ]))?;
    if !map.is_file() {
        bail!(
            "no link map at {}: cargo found the profiling build up to date and did not link it \
             again; change any file under host/src (or touch one) and run this again",
            map.display()
        );
    }
    Ok(crate::plugins::cargo_target_dir()?.join("release/buildbot-www"))
}

/// The binary's code pages (their addresses in the ELF file's layout) that the server touched
/// from start to the end of the requests.
fn profile(binary: &Path, shim: &Path) -> Result<BTreeSet<u64>> {
    let (bench_dir, database) = crate::bench::fresh_bench_dir("hot-text", "state.sqlite")?;
    let www = views_www(
        &bench_dir,
        &["badges", "waterfall_view", "console_view", "grid_view"],
    );
    let serve_dir = bench_dir.join("serve");
    // The first start compiles the plugins into the compile cache; the profiled one finds it
    // warm, as a server does after its first start.
    {
        let _server = spawn_server(server_command(binary), &serve_dir, &database, PORT, &www)?;
        wait_for_views(PORT)?;
    }
    let mut traced = server_command(binary);
    traced.env("LD_PRELOAD", shim);
    let server = spawn_server(traced, &serve_dir, &database, PORT, &www)?;
    wait_for_views(PORT)?;
    for path in REQUESTS {
        if http_status(PORT, path).is_none() {
            bail!("no answer to {path}");
        }
    }
    live_updates(PORT)?;
    std::thread::sleep(Duration::from_millis(500));
    touched_pages(server.pid(), binary)
}

/// Subscribes to builds over `/ws` and waits for the acknowledgement, as the UI does.
fn live_updates(port: u16) -> Result<()> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.write_all(
        b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )?;
    let mut buf = [0u8; 4096];
    let n = stream.read(&mut buf)?;
    if !buf[..n].starts_with(b"HTTP/1.1 101") {
        bail!("/ws did not switch protocols");
    }
    let message = br#"{"cmd":"startConsuming","path":"builds/*/*","_id":1}"#;
    // A masked text frame (clients must mask); the mask is zero, so the payload goes as it is.
    let mut frame = vec![0x81, 0x80 | message.len() as u8, 0, 0, 0, 0];
    frame.extend_from_slice(message);
    stream.write_all(&frame)?;
    let n = stream.read(&mut buf).context("no answer over /ws")?;
    if !String::from_utf8_lossy(&buf[..n]).contains("\"code\":200") {
        bail!("/ws did not acknowledge the subscription");
    }
    Ok(())
}

/// The code pages of `binary` mapped readable in `pid`: under the shim, the ones it touched.
fn touched_pages(pid: u32, binary: &Path) -> Result<BTreeSet<u64>> {
    let exe = binary.to_string_lossy();
    // File offset → address in the ELF layout, from the code segment's program header.
    let segments = code_segments(binary)?;
    let mut pages = BTreeSet::new();
    for line in std::fs::read_to_string(format!("/proc/{pid}/maps"))?.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 6 || fields[5] != exe || fields[1] != "r-xp" {
            continue;
        }
        let (lo, hi) = fields[0].split_once('-').context("maps range")?;
        let (lo, hi) = (u64::from_str_radix(lo, 16)?, u64::from_str_radix(hi, 16)?);
        let offset = u64::from_str_radix(fields[2], 16)?;
        for page in 0..(hi - lo) / 4096 {
            let at = offset + page * 4096;
            if let Some((file, vaddr, _)) = segments
                .iter()
                .find(|(file, _, size)| (*file..file + size).contains(&at))
            {
                pages.insert(at - file + vaddr);
            }
        }
    }
    if pages.is_empty() {
        bail!("no code pages of {exe} in /proc/{pid}/maps");
    }
    Ok(pages)
}

/// A section's address and size in `binary`, from `readelf -SW`.
fn section(binary: &Path, name: &str) -> Option<(u64, u64)> {
    let output = Command::new("readelf")
        .arg("-SW")
        .arg(binary)
        .output()
        .ok()?;
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|line| {
            // [Nr] Name Type Address Off Size ...
            let fields: Vec<&str> = line.split_whitespace().collect();
            let at = fields.iter().position(|f| *f == name)?;
            let hex = |i: usize| u64::from_str_radix(fields.get(i)?, 16).ok();
            Some((hex(at + 2)?, hex(at + 4)?))
        })
}

/// The executable LOAD segments of `binary`: (file offset, address, size), from `readelf -lW`.
fn code_segments(binary: &Path) -> Result<Vec<(u64, u64, u64)>> {
    let output = Command::new("readelf").arg("-lW").arg(binary).output()?;
    let hex = |s: &str| u64::from_str_radix(s.trim_start_matches("0x"), 16);
    let mut segments = Vec::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // LOAD offset vaddr paddr filesz memsz flags... align; the flags read `R E`.
        let executable = fields.len() > 7 && fields[6..fields.len() - 1].contains(&"E");
        if fields.first() == Some(&"LOAD") && executable {
            // Page-aligned: the map's offsets are whole pages.
            let (file, vaddr) = (hex(fields[1])? & !4095, hex(fields[2])? & !4095);
            segments.push((file, vaddr, hex(fields[4])? + 4096));
        }
    }
    if segments.is_empty() {
        bail!("no code segment in {}", binary.display());
    }
    Ok(segments)
}

/// One input section in the link map.
#[derive(Debug, Clone, PartialEq)]
struct Section {
    address: u64,
    size: u64,
    name: String,
}

/// The code input sections of an LLD link map (`-Map`), by address.
fn sections(map: &str) -> Vec<Section> {
    let mut out = Vec::new();
    for line in map.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // VMA LMA Size Align  file:(section)
        let [address, _, size, _, input] = fields[..] else {
            continue;
        };
        let Some(name) = input
            .rsplit_once(":(")
            .and_then(|(_, s)| s.strip_suffix(')'))
        else {
            continue;
        };
        let (Ok(address), Ok(size)) = (
            u64::from_str_radix(address, 16),
            u64::from_str_radix(size, 16),
        ) else {
            continue;
        };
        if name.starts_with(".text.") && size > 0 {
            out.push(Section {
                address,
                size,
                name: name.to_string(),
            });
        }
    }
    out.sort_by_key(|s| s.address);
    out
}

/// The sections that overlap a touched page, named after a function (not a whole object's
/// `.text.unlikely` and the like), in address order.
fn hot_sections(sections: &[Section], touched: &BTreeSet<u64>) -> Vec<Section> {
    sections
        .iter()
        .filter(|s| {
            let first = s.address & !4095;
            touched.range(first..s.address + s.size).next().is_some()
        })
        .filter(|s| function_section(&s.name))
        .cloned()
        .collect()
}

/// Whether a section is one function's (`-ffunction-sections`): `.text.NAME` or
/// `.text.unlikely.NAME`, not the compiler's own `.text.unlikely`, `.text.hot`, ...
fn function_section(name: &str) -> bool {
    let rest = name.trim_start_matches(".text.");
    !matches!(
        rest,
        "unlikely" | "hot" | "startup" | "exit" | "split" | "unknown"
    ) && !rest.is_empty()
}

/// A section name as a linker-script pattern that survives a rebuild: a Rust symbol's hash
/// (legacy mangling) or crate disambiguators (v0 mangling, as std is built), and an LTO suffix,
/// match anything.
fn pattern(name: &str) -> String {
    let mut name = name.to_string();
    if let Some(at) = name.find(".llvm.") {
        name.replace_range(at.., ".llvm.*");
    }
    // `17h` + 16 hex digits + `E` ends a legacy-mangled Rust symbol.
    let bytes = name.as_bytes();
    if let Some(at) = name.rfind("17h") {
        let hash = &bytes[at + 3..];
        if hash.len() >= 17 && hash[..16].iter().all(u8::is_ascii_hexdigit) && hash[16] == b'E' {
            name.replace_range(at + 3..at + 19, "*");
        }
    }
    if name.contains("._R") {
        name = without_disambiguators(&name);
    }
    name
}

/// A v0-mangled name with each crate's disambiguator (`Cs` base-62 digits `_`) as `Cs*_`.
fn without_disambiguators(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(at) = rest.find("Cs") {
        let after = &rest[at + 2..];
        let digits = after.len()
            - after
                .trim_start_matches(|c: char| c.is_ascii_alphanumeric())
                .len();
        out.push_str(&rest[..at + 2]);
        if digits > 0 && after[digits..].starts_with('_') {
            out.push('*');
            rest = &after[digits..];
        } else {
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// The linker script: one output section before `.text` holding the hot sections in order.
/// Where a name without its hash would also match sections that did not run (the instances of
/// a generic function share their name up to the hash), the exact name is kept: it holds until
/// the compiler or that dependency changes.
fn linker_script(sections: &[Section], hot: &[Section]) -> String {
    let mut sharing: HashMap<String, usize> = HashMap::new();
    for section in sections {
        *sharing.entry(pattern(&section.name)).or_default() += 1;
    }
    let mut seen = BTreeSet::new();
    let named: u64 = hot.iter().map(|s| s.size).sum();
    let mut out = String::from(
        "/* The server's code that runs when it starts and serves (UI pages, REST API, live\n   \
         updates, the four bundled plugins), placed together before the rest of .text so that\n   \
         it fills few pages. Written by `cargo xtask hot-text`; release builds of the server\n   \
         binary link with it (host/build.rs). Patterns leave out symbol hashes where the name\n   \
         alone is unique; a section that no longer exists matches nothing, and new code simply\n   \
         lands in .text.\n",
    );
    out.push_str(&format!(
        "   {NAMED_KIB} {} (what the sections named here held when it was written) */\n\
         SECTIONS\n{{\n  .text.hot :\n  {{\n",
        named / 1024
    ));
    for section in hot {
        let general = pattern(&section.name);
        let pattern = if sharing.get(&general).copied().unwrap_or(0) > 1 {
            section.name.clone()
        } else {
            general
        };
        if seen.insert(pattern.clone()) {
            out.push_str(&format!("    *({pattern})\n"));
        }
    }
    out.push_str("  }\n}\nINSERT BEFORE .text;\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_leave_out_symbol_hashes() {
        for (name, expected) in [
            (
                ".text._ZN4core3fmt5write17h0123456789abcdefE",
                ".text._ZN4core3fmt5write17h*E",
            ),
            (
                ".text.unlikely._ZN4ordt5gamma17hfb1da1c569a8c25cE",
                ".text.unlikely._ZN4ordt5gamma17h*E",
            ),
            (".text.sqlite3VdbeExec", ".text.sqlite3VdbeExec"),
            (".text.foo.llvm.1234", ".text.foo.llvm.*"),
            (
                ".text._RNvNvNtCslNYArtu3iFV_5alloc3fmt6format12format_inner",
                ".text._RNvNvNtCs*_5alloc3fmt6format12format_inner",
            ),
            // Not a hash: too short, or not hex.
            (".text._ZN3a17hxyzE", ".text._ZN3a17hxyzE"),
        ] {
            assert_eq!(pattern(name), expected);
        }
    }

    /// The committed script, given to the linker rustc uses, as release builds give it: it links,
    /// and std's code that the server runs (`format!`'s) lands in `.text.hot`.
    #[test]
    fn the_linker_takes_the_script_and_places_what_it_names_first() {
        let dir = std::env::temp_dir().join(format!("hot-text-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let source = dir.join("main.rs");
        std::fs::write(
            &source,
            "fn main() { let n = std::env::args().count(); println!(\"{}\", format!(\"{n}\")); }",
        )
        .unwrap();
        let program = dir.join("main");
        let script = root().join("host/hot-text.ld");
        let status = Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
            .args(["-O", "--edition", "2021", "-o"])
            .arg(&program)
            .arg(&source)
            .arg(format!("-Clink-arg=-Wl,-T,{}", script.display()))
            .status()
            .unwrap();
        assert!(status.success(), "rustc with {} failed", script.display());
        let (start, size) = section(&program, ".text.hot").expect("a .text.hot section");
        let nm = Command::new("nm").arg(&program).output().unwrap();
        let symbols = String::from_utf8(nm.stdout).unwrap();
        let format_inner = symbols
            .lines()
            .find(|l| l.contains("5alloc3fmt6format12format_inner"))
            .and_then(|l| u64::from_str_radix(l.split_whitespace().next()?, 16).ok())
            .expect("format_inner in the program");
        assert!((start..start + size).contains(&format_inner));
        // A program that runs a sliver of the server's code holds a sliver of what the script
        // names: the check `bench memory` makes reads that as a stale script.
        assert!(stale_warning(&program).is_some_and(|w| w.contains("is stale")));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_map_names_the_sections_on_touched_pages() {
        let map = "\
             VMA              LMA     Size Align Out     In      Symbol
          1000             1000       30    16 .text
          1000             1000       10    16         a.o:(.text._ZN1a3one17h0123456789abcdefE)
          1000             1000       10     1                 _ZN1a3one17h0123456789abcdefE
          2000             2000     1800    16         a.o:(.text.two)
          4000             4000       20    16         b.o:(.text.unlikely)
          5000             5000       20    16         b.o:(.text.unlikely.three)
          6000             6000       20    16         b.o:(.text.four)
          7000             7000       20    16         c.o:(.text._ZN1c4five17h0000000000000001E)
          8000             8000       20    16         c.o:(.text._ZN1c4five17h0000000000000002E)
";
        let sections = sections(map);
        assert_eq!(sections.len(), 7);
        let touched = [0x1000, 0x3000, 0x4000, 0x5000, 0x8000]
            .into_iter()
            .collect();
        let hot: Vec<String> = hot_sections(&sections, &touched)
            .into_iter()
            .map(|s| s.name)
            .collect();
        // `.text.two` spans 0x2000..0x3800 and 0x3000 was touched; `.text.unlikely` is an
        // object's whole cold code, not a function; `.text.four` was not touched.
        assert_eq!(
            hot,
            [
                ".text._ZN1a3one17h0123456789abcdefE",
                ".text.two",
                ".text.unlikely.three",
                ".text._ZN1c4five17h0000000000000002E"
            ]
        );
        // Two instances of `c::five` share the name without the hash: the one that ran keeps it.
        let script = linker_script(&sections, &hot_sections(&sections, &touched));
        assert!(script.contains(
            "    *(.text._ZN1a3one17h*E)\n    *(.text.two)\n    *(.text.unlikely.three)\n    \
             *(.text._ZN1c4five17h0000000000000002E)\n  }"
        ));
        assert!(script.ends_with("INSERT BEFORE .text;\n"));
        // 0x10 + 0x1800 + 0x20 + 0x20 bytes named: 6 KiB.
        assert!(script.contains("hot-text-kib: 6 "));
    }
}
