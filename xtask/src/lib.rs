//! The part of xtask the server's tests use too: assembling a release tarball (`dist`), which
//! `host/tests/dist.rs` unpacks and serves from.

pub mod dist;
