//! The part of xtask the server's tests use too: assembling a release tarball (`dist`), which
//! `host/tests/dist.rs` unpacks and serves from, and the master config that has Buildbot make
//! its schema on PostgreSQL (`postgres`).

pub mod dist;
pub mod postgres;

/// Whether this process runs as root: PostgreSQL's initdb and pg_ctl refuse root (they run as
/// `postgres` then), and nginx needs `user root;` to read its files.
pub fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}
