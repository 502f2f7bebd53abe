//! `userInfoProvider`: what a login method that knows only a user name (RemoteUserAuth, the
//! OAuth2 classes) adds to the session's user from a directory.

use crate::config::UserInfoProvider;
use crate::identity::User;

/// Why the provider could not tell about a user. The text is for the server's log: it may
/// name the directory, never a password.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UserInfoError(pub String);

/// `user` with what `provider` knows of them added (Buildbot's `updateUserInfo`: the
/// provider's values win); `user` unchanged without a provider or for an anonymous user.
pub async fn complete(
    provider: Option<&UserInfoProvider>,
    user: User,
) -> Result<User, UserInfoError> {
    let (Some(provider), User::Known { .. }) = (provider, &user) else {
        return Ok(user);
    };
    match provider {
        UserInfoProvider::LdapUserInfo(ldap) => super::ldap::complete(ldap, user)
            .await
            .map_err(|err| UserInfoError(err.to_string())),
    }
}
