//! The enabled dialects, each made once from its options when the server starts.

use super::change::Changes;
use super::error::HookError;
use super::request::HookRequest;
use super::{base, bitbucket, bitbucketcloud, bitbucketserver, github, gitlab, gitorious, poller};
use crate::config::ChangeHookDialect;

/// One enabled dialect's handler.
#[derive(Debug, Clone)]
pub enum Dialect {
    /// `base`.
    Base(base::Base),
    /// `github`.
    Github(github::Handler),
    /// `gitlab`.
    Gitlab(gitlab::Handler),
    /// `bitbucketcloud`.
    BitbucketCloud(bitbucketcloud::Handler),
    /// `bitbucketserver`.
    BitbucketServer(bitbucketserver::Handler),
    /// `bitbucket`.
    Bitbucket(bitbucket::Handler),
    /// `gitorious`.
    Gitorious(gitorious::Handler),
    /// `poller`.
    Poller(poller::Handler),
}

impl Dialect {
    /// The handler of a configured dialect; an error names the bad option.
    pub fn new(config: &ChangeHookDialect) -> Result<Self, String> {
        Ok(match config.name.as_str() {
            "base" => {
                super::forge::Options::check(config, &[])?;
                Dialect::Base(base::Base)
            }
            "github" => Dialect::Github(github::Handler::new(config)?),
            "gitlab" => Dialect::Gitlab(gitlab::Handler::new(config)?),
            "bitbucketcloud" => Dialect::BitbucketCloud(bitbucketcloud::Handler::new(config)?),
            "bitbucketserver" => Dialect::BitbucketServer(bitbucketserver::Handler::new(config)?),
            "bitbucket" => Dialect::Bitbucket(bitbucket::Handler::new(config)?),
            "gitorious" => Dialect::Gitorious(gitorious::Handler::new(config)?),
            "poller" => Dialect::Poller(poller::Handler::new(config)?),
            other => return Err(format!("unknown change hook dialect '{other}'")),
        })
    }

    /// The checks made before forwarding a delivery to a linked master (signature, token).
    pub fn verify(&self, req: &HookRequest) -> Result<(), HookError> {
        match self {
            Dialect::Base(_) | Dialect::Gitorious(_) | Dialect::Poller(_) => Ok(()),
            Dialect::Github(h) => h.verify(req),
            Dialect::Gitlab(h) => h.verify(req),
            Dialect::BitbucketCloud(h) => h.verify(req),
            Dialect::BitbucketServer(h) => h.verify(req),
            Dialect::Bitbucket(h) => h.verify(req),
        }
    }

    /// The changes a delivery describes.
    pub async fn get_changes(&self, req: &HookRequest) -> Result<Changes, HookError> {
        match self {
            Dialect::Base(h) => h.get_changes(req),
            Dialect::Github(h) => h.get_changes(req).await,
            Dialect::Gitlab(h) => h.get_changes(req).await,
            Dialect::BitbucketCloud(h) => h.get_changes(req).await,
            Dialect::BitbucketServer(h) => h.get_changes(req).await,
            Dialect::Bitbucket(h) => h.get_changes(req).await,
            Dialect::Gitorious(h) => h.get_changes(req),
            Dialect::Poller(h) => h.get_changes(req),
        }
    }
}
