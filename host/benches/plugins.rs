//! Plugin dispatch overhead, in process: a no-op plugin route through `Registry::handle` (the
//! call as a future on the server's runtime, a warm instance, request and response copied across
//! the sandbox, the response policy) against the same route written natively. Run by
//! `cargo xtask bench plugins`, which builds the test plugins first; prints one line per case
//! for the report.

use std::time::{Duration, Instant};

use buildbot_www::plugins::{Registry, Request, Response};

fn request() -> Request {
    Request {
        method: "GET".into(),
        path: "/".into(),
        query: String::new(),
        headers: vec![
            ("host".into(), "127.0.0.1:8010".into()),
            ("accept".into(), "*/*".into()),
        ],
        body: Vec::new(),
        user: Default::default(),
        root: "../../".into(),
    }
}

/// The no-op route written in the host: what the plugin route does, minus the plugin.
async fn native(request: Request) -> Response {
    std::hint::black_box(&request);
    Response {
        status: 200,
        headers: Vec::new(),
        body: Vec::new(),
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p) as usize]
}

fn report(name: &str, mut times: Vec<Duration>) -> Duration {
    times.sort();
    let p50 = percentile(&times, 0.5);
    println!(
        "{name}: p50 {:.1} µs, p99 {:.1} µs, calls {}",
        p50.as_secs_f64() * 1e6,
        percentile(&times, 0.99).as_secs_f64() * 1e6,
        times.len()
    );
    p50
}

fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench`; under `cargo test --all-targets` this runs as a quick
    // smoke test instead.
    let calls = if std::env::args().any(|a| a == "--bench") {
        20_000
    } else {
        200
    };
    let plugins = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-plugins");
    anyhow::ensure!(
        plugins.join("noop.wasm").is_file(),
        "{}/noop.wasm is missing: run `cargo xtask build-test-plugins`",
        plugins.display()
    );
    let dir = tempfile::tempdir()?;
    let config_path = dir.path().join("master.toml");
    std::fs::write(
        &config_path,
        format!(
            "[www]\nplugin_dirs = [{:?}]\nplugin_cache_dir = {:?}\n[www.plugins]\nnoop = true\n",
            plugins.display().to_string(),
            plugins.join("../test-plugin-cache").display().to_string()
        ),
    )?;
    let config = buildbot_www::config::load(&config_path).map_err(|e| anyhow::anyhow!("{e}"))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let data = buildbot_www::server::data_api(&config).await?;
        let registry = Registry::load(&config, data).await?;
        for _ in 0..calls / 20 {
            registry.handle("noop", request()).await?;
        }
        let mut plugin = Vec::with_capacity(calls);
        for _ in 0..calls {
            let started = Instant::now();
            let response = registry.handle("noop", request()).await?;
            plugin.push(started.elapsed());
            assert_eq!(response.status, 200);
        }
        let mut host = Vec::with_capacity(calls);
        for _ in 0..calls {
            let started = Instant::now();
            let response = native(request()).await;
            host.push(started.elapsed());
            assert_eq!(response.status, 200);
        }
        let p_plugin = report("plugin noop route", plugin);
        let p_native = report("native noop route", host);
        println!(
            "dispatch overhead p50: {:.1} µs",
            (p_plugin.saturating_sub(p_native)).as_secs_f64() * 1e6
        );
        anyhow::Ok(())
    })
}
