//! A plugin's standard output and error: each line goes to the server's log through the
//! plugin's `LogGate` (one record per line, escaped, rate-limited); a panic message lands there,
//! next to the 500 it caused.

use std::sync::Arc;

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

use super::logging::{LogGate, MAX_MESSAGE};

/// The stream handed to the WASI context.
#[derive(Clone)]
pub(super) struct LogStream {
    log: Arc<LogGate>,
}

impl LogStream {
    pub(super) fn new(log: Arc<LogGate>) -> Self {
        LogStream { log }
    }
}

impl IsTerminal for LogStream {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for LogStream {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(LineWriter {
            log: self.log.clone(),
            line: Vec::new(),
        })
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(tokio::io::sink())
    }
}

struct LineWriter {
    log: Arc<LogGate>,
    line: Vec<u8>,
}

impl LineWriter {
    fn emit(&mut self) {
        let text = String::from_utf8_lossy(&self.line);
        let text = text.trim_end();
        if !text.is_empty() {
            self.log.warn(&format!("plugin output: {text}"));
        }
        self.line.clear();
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for LineWriter {
    async fn ready(&mut self) {}
}

impl OutputStream for LineWriter {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        for &b in bytes.iter() {
            if b == b'\n' {
                self.emit();
            } else if self.line.len() < MAX_MESSAGE {
                self.line.push(b);
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 * 1024)
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        self.emit();
    }
}
