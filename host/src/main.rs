//! The `buildbot-www` command: serve, check a config, load the demo data, generate big databases.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
    },
    /// Validate a config file without serving.
    CheckConfig {
        /// The config file.
        #[arg(default_value = "master.toml")]
        path: PathBuf,
    },
    /// Load the demo dataset into the database named by the config (creating it).
    LoadFixtures {
        /// The config file whose `[db] db_url` receives the data.
        #[arg(long, default_value = "master.toml")]
        config: PathBuf,
        /// Replace the file if it already holds data.
        #[arg(long)]
        force: bool,
    },
    /// Write a large synthetic database for benchmarks.
    GenData {
        /// How many builders.
        #[arg(long, default_value_t = 1000)]
        builders: u64,
        /// How many builds, spread over the builders.
        #[arg(long, default_value_t = 1_000_000)]
        builds: u64,
        /// The SQLite file to write (replaced if it exists).
        #[arg(long)]
        out: PathBuf,
    },
}

fn main() -> ExitCode {
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

async fn run(command: Command) -> ExitCode {
    match command {
        Command::Serve { config } => {
            let config = match load_config(&config) {
                Ok(config) => config,
                Err(code) => return code,
            };
            report(buildbot_www::server::serve(config).await)
        }
        Command::CheckConfig { path } => match load_config(&path) {
            Ok(_) => {
                println!("{}: config is valid", path.display());
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
        Command::LoadFixtures { config, force } => {
            let config = match load_config(&config) {
                Ok(config) => config,
                Err(code) => return code,
            };
            report(buildbot_www::fixtures::load_demo(&config, force).await)
        }
        Command::GenData {
            builders,
            builds,
            out,
        } => report(buildbot_www::fixtures::generate(&out, builders, builds).await),
    }
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
