//! Event latency from a database write to a `/ws` client: serves a database on 127.0.0.1,
//! subscribes to `builds/*/*` over a real websocket, then (as "another process", on its own
//! connections) inserts builds one at a time and times each until its `builds/N/new` frame
//! arrives. Prints the median and the worst of N writes; the rows are deleted afterwards.
//!
//! `cargo run --release -p buildbot-www --example event_latency -- DATABASE [N]`, DATABASE a
//! SQLite file or a `postgresql://` URL (`cargo xtask bench events` runs it on the reference and
//! the 1M-build SQLite files, `bench postgres` on PostgreSQL).

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let database = args
        .next()
        .ok_or_else(|| anyhow::anyhow!("usage: event_latency DATABASE [N]"))?;
    let writes: usize = args.next().map_or(Ok(20), |n| n.parse())?;
    let db_url = if database.contains("://") {
        database
    } else {
        format!("sqlite:///{}", std::fs::canonicalize(&database)?.display())
    };

    let dir = tempfile::tempdir()?;
    let config_path = dir.path().join("master.toml");
    std::fs::write(
        &config_path,
        format!("[db]\ndb_url = {db_url:?}\n\n[www]\nport = 0\n"),
    )?;
    let config = buildbot_www::config::load(&config_path).map_err(|e| anyhow::anyhow!("{e}"))?;
    let data = buildbot_www::server::data_api(&config).await?;
    let state = buildbot_www::server::AppState::new(
        config,
        data,
        buildbot_www::plugins::Registry::default(),
    )?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, buildbot_www::server::app(state)).await;
    });

    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{address}/ws")).await?;
    ws.send(Message::Text(
        r#"{"cmd":"startConsuming","path":"builds/*/*","_id":1}"#.into(),
    ))
    .await?;
    ws.next().await;

    let writer = buildbot_www::db::open(&db_url, dir.path()).await?;
    let (builderid, brid, masterid): (i64, i64, i64) = sqlx::query_as(
        "SELECT builderid, buildrequestid, masterid FROM builds ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(&writer)
    .await?;
    // Let the watcher record where the database stands.
    tokio::time::sleep(Duration::from_millis(1200)).await;

    let mut latencies = Vec::new();
    let mut inserted = Vec::new();
    for i in 0..writes as u64 {
        // Spread the writes over the poll interval, as real writes are.
        tokio::time::sleep(Duration::from_millis(50 + i * 193 % 500)).await;
        let started = Instant::now();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO builds (number, builderid, buildrequestid, workerid, masterid, started_at, \
             locks_duration_s, state_string) VALUES \
             ((SELECT max(number) + 1 FROM builds WHERE builderid = $1), $1, $2, NULL, $3, 0, 0, 'latency probe') \
             RETURNING id",
        )
        .bind(builderid)
        .bind(brid)
        .bind(masterid)
        .fetch_one(&writer)
        .await?;
        inserted.push(id);
        let key = format!("\"k\":\"builds/{id}/new\"");
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(10), ws.next())
                .await?
                .ok_or_else(|| anyhow::anyhow!("websocket closed"))??;
            if let Message::Text(text) = frame {
                if text.as_str().contains(&key) {
                    break;
                }
            }
        }
        latencies.push(started.elapsed());
    }
    for id in inserted {
        sqlx::query("DELETE FROM builds WHERE id = $1")
            .bind(id)
            .execute(&writer)
            .await?;
    }
    latencies.sort();
    let median = latencies[latencies.len() / 2];
    let worst = latencies[latencies.len() - 1];
    println!(
        "event latency (database write -> /ws frame) over {writes} writes: median {:.0} ms, max {:.0} ms",
        median.as_secs_f64() * 1000.0,
        worst.as_secs_f64() * 1000.0
    );
    Ok(())
}
