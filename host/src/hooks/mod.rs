//! Change hooks: `/change_hook/<dialect>`, where forges deliver pushes and pull requests that
//! become Buildbot changes (Buildbot's `www.change_hook_dialects`).

pub mod base;
pub mod bitbucket;
pub mod bitbucketcloud;
pub mod bitbucketserver;
pub mod change;
pub mod dialects;
pub mod error;
pub mod forge;
pub mod github;
pub mod gitlab;
pub mod pyjson;
pub mod request;
