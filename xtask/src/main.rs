//! Build orchestration: `cargo xtask <command>`.
fn main() {}
