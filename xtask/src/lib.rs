//! The part of xtask the server's tests use too: assembling a release tarball (`dist`), which
//! `host/tests/dist.rs` unpacks and serves from, and the master config that has Buildbot make
//! its schema on PostgreSQL (`postgres`).

pub mod dist;
pub mod postgres;
