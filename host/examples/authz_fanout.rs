//! Fan-out of live events under authorization rules: serves a database on 127.0.0.1 with a
//! `ViewBuildsEndpointMatcher` hiding one builder from users without its role, opens N
//! websockets (half of them users with the role, half without, each with its own session),
//! subscribes each to `builds/*/*`, then publishes build events and times how long until every
//! subscriber that may see an event has it. Checks that no subscriber without the role receives
//! the hidden builder's event. Prints the median and the worst of the rounds.
//!
//! `cargo run --release -p buildbot-www --example authz_fanout -- DATABASE [N] [ROUNDS]`
//! (`cargo xtask bench authz` runs it on a copy of the reference database).

use std::time::{Duration, Instant};

use buildbot_www::events::Event;
use buildbot_www::identity::User;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

const RULES: &str = r#"
[www.auth]
type = "UserPasswordAuth"
users = { nobody = "x" }
[www.authz]
allowRules = [{ matcher = "ViewBuildsEndpointMatcher", builder = "windows-*", role = "windows" }]
roleMatchers = [{ type = "RolesFromGroups" }]
"#;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let database = std::path::PathBuf::from(
        args.next()
            .ok_or_else(|| anyhow::anyhow!("usage: authz_fanout DATABASE [N] [ROUNDS]"))?,
    );
    let subscribers: usize = args.next().map_or(Ok(1000), |n| n.parse())?;
    let rounds: usize = args.next().map_or(Ok(10), |n| n.parse())?;
    let database = std::fs::canonicalize(&database)?;
    let dir = tempfile::tempdir()?;
    let config_path = dir.path().join("master.toml");
    std::fs::write(
        &config_path,
        format!(
            "[db]\ndb_url = \"sqlite:///{}\"\n\n[www]\nport = 0\n{RULES}",
            database.display()
        ),
    )?;
    let config = buildbot_www::config::load(&config_path).map_err(|e| anyhow::anyhow!("{e}"))?;
    let data = buildbot_www::server::data_api(&config).await?;
    let sessions = buildbot_www::auth::session::Sessions::new(
        data.pool().clone(),
        Duration::from_secs(3600),
        false,
    );
    let state = buildbot_www::server::AppState::new(
        config,
        data,
        buildbot_www::plugins::Registry::default(),
    )?;
    let events = state.http.events.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, buildbot_www::server::app(state)).await;
    });

    // Build 15 is windows-build's (hidden without the role), build 1 is docs'.
    let hidden = |round: usize| {
        Event::new(
            ["builds", "15", "update"],
            json!({"buildid": 15, "number": round, "builderid": 2, "buildrequestid": 15}),
        )
    };
    let visible = |round: usize| {
        Event::new(
            ["builds", "1", "update"],
            json!({"buildid": 1, "number": round, "builderid": 1, "buildrequestid": 1}),
        )
    };

    let mut sockets = Vec::with_capacity(subscribers);
    for i in 0..subscribers {
        let windows = i % 2 == 0;
        let user = User::Known {
            username: format!("user{i}"),
            full_name: None,
            email: Some(format!("user{i}@example.com")),
            groups: if windows {
                vec!["windows".into()]
            } else {
                vec![]
            },
            extra: Default::default(),
        };
        let token = sessions.issue(&user).await?;
        let mut request = format!("ws://{address}/ws").into_client_request()?;
        request
            .headers_mut()
            .insert("cookie", format!("TWISTED_SESSION={token}").parse()?);
        let (mut ws, _) = tokio_tungstenite::connect_async(request).await?;
        ws.send(Message::Text(
            r#"{"cmd":"startConsuming","path":"builds/*/*","_id":1}"#.into(),
        ))
        .await?;
        ws.next().await;
        sockets.push((windows, ws));
    }
    println!("{subscribers} subscribers connected");

    let mut times = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let started = Instant::now();
        events.publish(hidden(round));
        events.publish(visible(round));
        // Every subscriber reads until the visible event; those with the role must see the
        // hidden one first, the others never.
        let mut waits = Vec::with_capacity(sockets.len());
        for (windows, ws) in sockets.iter_mut() {
            let windows = *windows;
            waits.push(async move {
                let mut saw_hidden = false;
                loop {
                    let frame = tokio::time::timeout(Duration::from_secs(30), ws.next())
                        .await
                        .map_err(|_| anyhow::anyhow!("no event within 30 s"))?
                        .ok_or_else(|| anyhow::anyhow!("socket closed"))??;
                    let Message::Text(text) = frame else { continue };
                    if text.contains("builds/15/update") {
                        saw_hidden = true;
                    } else if text.contains("builds/1/update") {
                        break;
                    }
                }
                if saw_hidden != windows {
                    anyhow::bail!(
                        "a subscriber (role: {windows}) saw the hidden event: {saw_hidden}"
                    );
                }
                Ok(())
            });
        }
        for result in futures_util::future::join_all(waits).await {
            result?;
        }
        times.push(started.elapsed());
    }
    times.sort();
    println!(
        "fan-out of one hidden and one visible build event to {subscribers} subscribers \
         (half allowed to see the hidden one): median {:.1?}, worst {:.1?} over {rounds} rounds",
        times[times.len() / 2],
        times[times.len() - 1]
    );
    Ok(())
}
