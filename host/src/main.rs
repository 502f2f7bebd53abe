//! The `buildbot-www` command: serve, check a config, load the demo data, generate big databases.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc instead of glibc malloc: a REST request allocates per row and per field, and
/// glibc's allocator took about a fifth of its CPU time (see docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "buildbot-www",
    version,
    about = "Buildbot's web server, in Rust"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the web UI and the REST API.
    Serve {
        /// The config file; its folder is the base directory.
        #[arg(long, default_value = "master.toml")]
        config: PathBuf,
        /// Keep demo builds starting, logging and finishing in the database (for the demo
        /// database only: this writes to it).
        #[arg(long)]
        demo_activity: bool,
    },
    /// Validate a config file without serving.
    CheckConfig {
        /// The config file.
        #[arg(default_value = "master.toml")]
        path: PathBuf,
    },
    /// Load the demo dataset into the database named by the config (creating a SQLite file; a
    /// PostgreSQL database must hold Buildbot's schema).
    #[cfg(feature = "demo")]
    LoadFixtures {
        /// The config file whose `[db] db_url` receives the data.
        #[arg(long, default_value = "master.toml")]
        config: PathBuf,
        /// Replace the data if the database already holds some.
        #[arg(long)]
        force: bool,
    },
    /// Work with UI plugins.
    Plugins {
        #[command(subcommand)]
        command: PluginsCommand,
    },
    /// Write a large synthetic database for benchmarks.
    #[cfg(feature = "demo")]
    GenData {
        /// How many builders.
        #[arg(long, default_value_t = 1000)]
        builders: u64,
        /// How many builds, spread over the builders.
        #[arg(long, default_value_t = 1_000_000)]
        builds: u64,
        /// The SQLite file to write (replaced if it exists), or the `postgresql://` URL of a
        /// database with Buildbot's schema (password in the URL).
        #[arg(long)]
        out: String,
        /// Replace the rows of a PostgreSQL database that already holds data.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Subcommand)]
enum PluginsCommand {
    /// The plugins found in the plugin folders: version, WIT version, enabled or not.
    List {
        /// The config file naming the plugin folders and the enabled plugins.
        #[arg(long, default_value = "master.toml")]
        config: PathBuf,
    },
}

fn main() -> ExitCode {
    no_transparent_huge_pages();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(cli.command))
}

/// Turns transparent huge pages off for this process (Linux). mimalloc asks for them on its
/// arenas (`madvise(MADV_HUGEPAGE)`), so every 2 MiB range the heap touches was backed whole:
/// an idle server held 24 MiB of heap pages for a few MiB of data (48 MiB RSS with four
/// plugins; 27 MiB without huge pages, and no REST throughput lost: docs/performance.md).
#[allow(unsafe_code)]
fn no_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: a process flag, no memory is passed.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

async fn run(command: Command) -> ExitCode {
    match command {
        Command::Serve {
            config,
            demo_activity,
        } => {
            let config = match load_config(&config) {
                Ok(config) => config,
                Err(code) => return code,
            };
            report(buildbot_www::server::serve_with(config, demo_activity).await)
        }
        Command::CheckConfig { path } => {
            let config = match load_config(&path) {
                Ok(config) => config,
                Err(code) => return code,
            };
            // What start-up reads beyond the file (an htpasswd file's entries) is checked too.
            if let Err(err) = buildbot_www::auth::check(&config) {
                return report(Err(err));
            }
            // Every enabled plugin's `init` sees its options, so that an option it refuses
            // is reported here, located in the file, rather than when serving.
            match buildbot_www::plugins::check(&config).await {
                Ok(()) => {
                    let dirs = buildbot_www::plugins::plugin_dirs(&config);
                    println!(
                        "plugin folders: {}",
                        buildbot_www::plugins::describe_plugin_dirs(&dirs)
                    );
                    println!("{}: config is valid", path.display());
                    ExitCode::SUCCESS
                }
                Err(err) => match err.downcast_ref::<buildbot_www::plugins::Rejected>() {
                    Some(rejected) => {
                        let options: &[&str] = match rejected.kind {
                            buildbot_www::plugins::PluginKind::Ui => {
                                &["www", "plugins", &rejected.plugin]
                            }
                            buildbot_www::plugins::PluginKind::Auth => &["www", "auth", "options"],
                        };
                        let located = buildbot_www::config::plugin_option_error(
                            &path,
                            options,
                            &rejected.message,
                        );
                        eprintln!("{located}");
                        ExitCode::from(2)
                    }
                    None => report(Err(err)),
                },
            }
        }
        #[cfg(feature = "demo")]
        Command::LoadFixtures { config, force } => {
            let config = match load_config(&config) {
                Ok(config) => config,
                Err(code) => return code,
            };
            report(buildbot_www::fixtures::load_demo(&config, force).await)
        }
        Command::Plugins {
            command: PluginsCommand::List { config },
        } => {
            let config = match load_config(&config) {
                Ok(config) => config,
                Err(code) => return code,
            };
            let result = tokio::task::spawn_blocking(move || list_plugins(&config)).await;
            report(result.unwrap_or_else(|err| Err(err.into())))
        }
        #[cfg(feature = "demo")]
        Command::GenData {
            builders,
            builds,
            out,
            force,
        } => report(buildbot_www::fixtures::generate(&out, builders, builds, force).await),
    }
}

/// `plugins list`: a table of what is on disk and what the config enables.
fn list_plugins(config: &buildbot_www::config::Config) -> anyhow::Result<()> {
    let listed = buildbot_www::plugins::list(config)?;
    let auth_plugin = match &config.www.auth {
        buildbot_www::config::Auth::CustomAuth(custom) => custom.plugin.as_deref(),
        _ => None,
    };
    let enabled =
        |name: &str| config.www.plugins.iter().any(|(n, _)| n == name) || auth_plugin == Some(name);
    let mut rows = vec![[
        "NAME".to_owned(),
        "VERSION".to_owned(),
        "WIT".to_owned(),
        "ENABLED".to_owned(),
        "FILE".to_owned(),
    ]];
    for plugin in &listed {
        let (version, wit, file) = match &plugin.info {
            Ok(info) => (
                info.version.clone(),
                info.wit_version.clone(),
                match info.kind {
                    buildbot_www::plugins::PluginKind::Ui => {
                        plugin.found.path.display().to_string()
                    }
                    buildbot_www::plugins::PluginKind::Auth => format!(
                        "{} (authentication plugin, world auth-plugin: [www.auth] plugin)",
                        plugin.found.path.display()
                    ),
                },
            ),
            Err(err) => (
                "-".into(),
                "-".into(),
                format!("{} (cannot load: {err})", plugin.found.path.display()),
            ),
        };
        let on = if enabled(&plugin.found.name) {
            "yes"
        } else {
            "no"
        };
        rows.push([plugin.found.name.clone(), version, wit, on.into(), file]);
    }
    for (name, _) in &config.www.plugins {
        if !listed.iter().any(|p| &p.found.name == name) {
            rows.push([
                name.clone(),
                "-".into(),
                "-".into(),
                "MISSING".into(),
                "-".into(),
            ]);
        }
    }
    let widths: Vec<usize> = (0..4)
        .map(|i| rows.iter().map(|r| r[i].len()).max().unwrap_or(0))
        .collect();
    for row in &rows {
        println!(
            "{:w0$}  {:w1$}  {:w2$}  {:w3$}  {}",
            row[0],
            row[1],
            row[2],
            row[3],
            row[4],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3]
        );
    }
    println!(
        "\nplugin folders: {}",
        buildbot_www::plugins::describe_plugin_dirs(&buildbot_www::plugins::plugin_dirs(config))
    );
    Ok(())
}

fn load_config(path: &std::path::Path) -> Result<buildbot_www::config::Config, ExitCode> {
    buildbot_www::config::load(path).map_err(|err| {
        eprintln!("{err}");
        ExitCode::from(2)
    })
}

fn report(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
