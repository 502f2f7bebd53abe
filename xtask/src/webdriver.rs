//! A headless Chromium for the benchmarks that time pages in a browser: Debian's chromedriver
//! spoken to over its W3C WebDriver HTTP API with a few lines of HTTP/1.1 (the xtask has no
//! HTTP client, and needs only JSON requests to loopback).

use std::io::{Read as _, Write as _};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

/// A chromedriver process with one browser session, both ended when dropped.
pub(crate) struct Browser {
    driver: Child,
    port: u16,
    session: String,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = request(
            self.port,
            "DELETE",
            &format!("/session/{}", self.session),
            None,
        );
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Debian's chromium and chromium-driver, installed when missing (as `cargo xtask test` does).
fn programs() -> Result<(PathBuf, PathBuf)> {
    let find = |names: &[&str]| {
        names.iter().find_map(|name| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|dir| dir.join(name))
                    .find(|p| p.is_file())
            })
        })
    };
    if find(&["chromedriver"]).is_none() {
        println!("xtask: installing chromium and chromium-driver (Debian packages)");
        let _ = Command::new("apt-get").args(["update", "-qq"]).status();
        crate::run_command(Command::new("apt-get").args([
            "install",
            "-y",
            "-qq",
            "chromium",
            "chromium-driver",
        ]))?;
    }
    let driver = find(&["chromedriver"]).context("chromedriver not found")?;
    let chromium = find(&["chromium", "chromium-browser"]).context("chromium not found")?;
    Ok((driver, chromium))
}

impl Browser {
    /// Starts chromedriver on `port` and opens a headless browser session.
    pub(crate) fn start(port: u16) -> Result<Browser> {
        let (driver, chromium) = programs()?;
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                bail!("chromedriver did not start on port {port}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1280,900"],
            },
        }}});
        let answer = request(port, "POST", "/session", Some(&capabilities))?;
        let session = answer["value"]["sessionId"]
            .as_str()
            .with_context(|| format!("no session from chromedriver: {answer}"))?
            .to_owned();
        let browser = Browser {
            driver: child,
            port,
            session,
        };
        browser.command("timeouts", &json!({"script": 120_000, "pageLoad": 120_000}))?;
        Ok(browser)
    }

    fn command(&self, what: &str, body: &Value) -> Result<Value> {
        let answer = request(
            self.port,
            "POST",
            &format!("/session/{}/{what}", self.session),
            Some(body),
        )?;
        if let Some(error) = answer["value"]["error"].as_str() {
            bail!(
                "webdriver {what}: {error}: {}",
                answer["value"]["message"].as_str().unwrap_or_default()
            );
        }
        Ok(answer["value"].clone())
    }

    /// Opens `url` (returns once the page's load event fired).
    pub(crate) fn goto(&self, url: &str) -> Result<()> {
        self.command("url", &json!({ "url": url })).map(drop)
    }

    /// Runs `script` as an asynchronous script (it calls `arguments[0]` with its result).
    pub(crate) fn run_async(&self, script: &str) -> Result<Value> {
        self.command("execute/async", &json!({"script": script, "args": []}))
    }
}

/// One HTTP/1.1 exchange with chromedriver; its JSON answer.
fn request(port: u16, method: &str, path: &str, body: Option<&Value>) -> Result<Value> {
    let body = body.map(Value::to_string).unwrap_or_default();
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    // chromedriver keeps the connection open whatever the request says: read the head, then
    // as many bytes as it announces.
    let mut answer = Vec::new();
    let mut buf = [0u8; 8192];
    let head_end = loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            bail!("chromedriver closed the connection");
        }
        answer.extend_from_slice(&buf[..n]);
        if let Some(at) = answer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&answer[..head_end]).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok());
    // chromedriver sends a length with every answer (its connections stay open, so reading
    // to the end would wait forever).
    let Some(length) = length else {
        bail!("chromedriver answered without a Content-Length: {head}");
    };
    while answer.len() < head_end + length {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
    }
    let body = String::from_utf8_lossy(&answer[head_end..]).into_owned();
    serde_json::from_str(&body).with_context(|| format!("chromedriver answered {head}: {body}"))
}
