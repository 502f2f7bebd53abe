//! `LdapUserInfo`: a user's full name, email, groups and `accountExtraFields` read from an LDAP
//! directory (the `userInfoProvider` of RemoteUserAuth and the OAuth2 classes), and pictures
//! stored there (an `avatar_methods` entry).
//!
//! Each lookup opens its own connection, binds as `bindUser` and searches; every step has a
//! deadline, so a directory that is down or silent costs at most [`DEADLINE`]. Values put into
//! search filters are escaped (the user name, the email address and the account's DN), so a
//! name such as `*)(uid=*` cannot widen a search.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ldap3::{ldap_escape, LdapConnAsync, LdapConnSettings, Scope, SearchEntry};
use serde_json::Value;

use crate::config::LdapUserInfo;
use crate::identity::User;

/// The longest a whole lookup (connect, bind, searches) may take.
pub const DEADLINE: Duration = Duration::from_secs(5);

/// Why a lookup failed. The text names the directory and what went wrong, never the password.
#[derive(Debug, thiserror::Error)]
#[error("LDAP {uri}: {message}")]
pub struct LdapError {
    uri: String,
    message: String,
}

/// What the directory says of one account, in Buildbot's user_info terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// `accountFullName`'s first value, if the entry has it.
    pub full_name: Option<String>,
    /// `accountEmail`'s first value, if the entry has it.
    pub email: Option<String>,
    /// `groupName` of every group `groupMemberPattern` finds (empty without groups).
    pub groups: Vec<String>,
    /// The first value of each `accountExtraFields` attribute the entry has, in config order.
    pub extra: Vec<(String, String)>,
}

/// A picture from the directory, with its type read from its first bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Picture {
    /// `image/jpeg`, `image/png` or `image/gif`.
    pub content_type: &'static str,
    /// The raw bytes, as stored.
    pub data: Vec<u8>,
}

/// `user` with what the directory knows of them: the directory's values win, as in Buildbot's
/// `updateUserInfo`; what the entry lacks stays as it was.
pub async fn complete(config: &LdapUserInfo, user: User) -> Result<User, LdapError> {
    let User::Known {
        username,
        full_name,
        email,
        groups,
        mut extra,
    } = user
    else {
        return Ok(user);
    };
    let account = account(config, &username).await?;
    for (key, value) in account.extra {
        extra.insert(key, Value::String(value));
    }
    Ok(User::Known {
        full_name: account.full_name.or(full_name),
        email: account.email.or(email),
        groups: if config.group_base.is_some() {
            account.groups
        } else {
            groups
        },
        username,
        extra,
    })
}

/// The account `accountPattern` finds for `username`. Exactly one entry must match.
pub async fn account(config: &LdapUserInfo, username: &str) -> Result<Account, LdapError> {
    let fail = |message: String| LdapError {
        uri: config.uri.clone(),
        message,
    };
    let work = async {
        let mut ldap = connect(config).await?;
        let filter = fill(&config.account_pattern, "username", &ldap_escape(username));
        let mut attributes = vec![
            config.account_full_name.as_str(),
            config.account_email.as_str(),
        ];
        attributes.extend(config.account_extra_fields.iter().map(String::as_str));
        let entries = search(&mut ldap, &config.account_base, &filter, &attributes).await?;
        let [entry] = entries.as_slice() else {
            return Err(format!(
                "the account search {filter} found {} entries, not one",
                entries.len()
            ));
        };
        let mut account = Account {
            full_name: first_text(entry, &config.account_full_name),
            email: first_text(entry, &config.account_email),
            groups: Vec::new(),
            extra: config
                .account_extra_fields
                .iter()
                .filter_map(|field| Some((field.clone(), first_text(entry, field)?)))
                .collect(),
        };
        if let (Some(base), Some(pattern), Some(name)) = (
            &config.group_base,
            &config.group_member_pattern,
            &config.group_name,
        ) {
            let filter = fill(pattern, "dn", &ldap_escape(entry.dn.as_str()));
            for group in search(&mut ldap, base, &filter, &[name.as_str()]).await? {
                account
                    .groups
                    .extend(values(&group, name).into_iter().flatten());
            }
        }
        let _ = ldap.unbind().await;
        Ok(account)
    };
    within_deadline(work).await.map_err(fail)
}

/// The picture stored with an account: found by `accountPattern` when a user name is given,
/// else by `avatarPattern` from the email address (Buildbot's order). `None` when the entry,
/// its `avatarData` or a known picture type is missing, or no `avatarPattern` is configured.
pub async fn picture(
    config: &LdapUserInfo,
    email: &str,
    username: Option<&str>,
) -> Result<Option<Picture>, LdapError> {
    let Some(attribute) = &config.avatar_data else {
        return Ok(None);
    };
    let filter = match (username.filter(|u| !u.is_empty()), &config.avatar_pattern) {
        (Some(username), _) => fill(&config.account_pattern, "username", &ldap_escape(username)),
        (None, Some(pattern)) if !email.is_empty() => fill(pattern, "email", &ldap_escape(email)),
        _ => return Ok(None),
    };
    let work = async {
        let mut ldap = connect(config).await?;
        let entries = search(
            &mut ldap,
            &config.account_base,
            &filter,
            &[attribute.as_str()],
        )
        .await?;
        let _ = ldap.unbind().await;
        Ok(entries
            .first()
            .and_then(|entry| raw_values(entry, attribute).into_iter().next())
            .and_then(picture_of))
    };
    within_deadline(work).await.map_err(|message| LdapError {
        uri: config.uri.clone(),
        message,
    })
}

/// `data` as a picture if it starts like a JPEG, PNG or GIF file.
pub fn picture_of(data: Vec<u8>) -> Option<Picture> {
    let content_type = if data.starts_with(b"\xff\xd8\xff") {
        "image/jpeg"
    } else if data.starts_with(b"\x89PNG") {
        "image/png"
    } else if data.starts_with(b"GIF8") {
        "image/gif"
    } else {
        return None;
    };
    Some(Picture { content_type, data })
}

/// `pattern` with `%(key)s` replaced by `value` and `%%` by `%`, as Python's `%` operator
/// fills Buildbot's patterns. `value` must already be escaped for a filter.
fn fill(pattern: &str, key: &str, value: &str) -> String {
    let placeholder = format!("%({key})s");
    let mut out = String::with_capacity(pattern.len() + value.len());
    let mut rest = pattern;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        if let Some(after) = rest.strip_prefix(&placeholder) {
            out.push_str(value);
            rest = after;
        } else if let Some(after) = rest.strip_prefix("%%") {
            out.push('%');
            rest = after;
        } else {
            out.push('%');
            rest = &rest[1..];
        }
    }
    out.push_str(rest);
    out
}

async fn within_deadline<T>(
    work: impl std::future::Future<Output = Result<T, String>>,
) -> Result<T, String> {
    tokio::time::timeout(DEADLINE, work)
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {} s", DEADLINE.as_secs())))
}

/// A connection bound as `bindUser`.
async fn connect(config: &LdapUserInfo) -> Result<ldap3::Ldap, String> {
    let mut settings = LdapConnSettings::new().set_conn_timeout(DEADLINE);
    if let Some(tls) = &config.tls {
        settings = settings.set_starttls(tls.start_tls);
        if !tls.validate {
            settings = settings.set_no_tls_verify(true);
        } else if let Some(file) = &tls.ca_certs_file {
            settings = settings.set_config(trusting(file)?);
        }
        // Otherwise ldap3 checks against the system's roots.
    }
    let (connection, mut ldap) = LdapConnAsync::with_settings(settings, &config.uri)
        .await
        .map_err(|err| format!("cannot connect: {err}"))?;
    ldap3::drive!(connection);
    ldap.with_timeout(DEADLINE)
        .simple_bind(&config.bind_user, config.bind_pw.expose())
        .await
        .and_then(|result| result.success())
        .map_err(|err| format!("cannot bind as {}: {err}", config.bind_user))?;
    Ok(ldap)
}

/// TLS settings that trust only the certificates of `ca_certs_file` (PEM).
fn trusting(file: &std::path::Path) -> Result<Arc<rustls::ClientConfig>, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;

    let certificates = CertificateDer::pem_file_iter(file)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|err| format!("tls.ca_certs_file {}: {err}", file.display()))?;
    let mut roots = rustls::RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(certificates);
    if added == 0 {
        return Err(format!(
            "tls.ca_certs_file {}: no usable certificate",
            file.display()
        ));
    }
    Ok(Arc::new(
        rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    ))
}

async fn search(
    ldap: &mut ldap3::Ldap,
    base: &str,
    filter: &str,
    attributes: &[&str],
) -> Result<Vec<SearchEntry>, String> {
    let (entries, _) = ldap
        .with_timeout(DEADLINE)
        .search(base, Scope::Subtree, filter, attributes.to_vec())
        .await
        .and_then(|result| result.success())
        .map_err(|err| format!("search {filter} under {base}: {err}"))?;
    Ok(entries.into_iter().map(SearchEntry::construct).collect())
}

/// An attribute's text values; attribute names compare without case, as LDAP's do.
fn values(entry: &SearchEntry, attribute: &str) -> Option<Vec<String>> {
    named(&entry.attrs, attribute).cloned()
}

fn first_text(entry: &SearchEntry, attribute: &str) -> Option<String> {
    values(entry, attribute)?.into_iter().next()
}

/// An attribute's values as bytes, text or binary.
fn raw_values(entry: &SearchEntry, attribute: &str) -> Vec<Vec<u8>> {
    if let Some(binary) = named(&entry.bin_attrs, attribute) {
        return binary.clone();
    }
    values(entry, attribute)
        .unwrap_or_default()
        .into_iter()
        .map(String::into_bytes)
        .collect()
}

fn named<'a, T>(attrs: &'a HashMap<String, T>, attribute: &str) -> Option<&'a T> {
    attrs.get(attribute).or_else(|| {
        attrs
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(attribute))
            .map(|(_, v)| v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_are_filled_as_python_fills_them() {
        assert_eq!(
            fill(
                "(&(objectClass=person)(uid=%(username)s))",
                "username",
                "homer"
            ),
            "(&(objectClass=person)(uid=homer))"
        );
        assert_eq!(
            fill("(cn=100%%)(x=%(a)s%(a)s)", "a", "v"),
            "(cn=100%)(x=vv)"
        );
        assert_eq!(fill("(x=%(other)s)", "a", "v"), "(x=%(other)s)");
        assert_eq!(
            fill("(uid=%(username)s)", "username", &ldap_escape("*)(uid=*")),
            "(uid=\\2a\\29\\28uid=\\2a)"
        );
    }

    #[test]
    fn pictures_are_known_by_their_first_bytes() {
        assert_eq!(
            picture_of(b"\xff\xd8\xff\xe0x".to_vec())
                .unwrap()
                .content_type,
            "image/jpeg"
        );
        assert_eq!(
            picture_of(b"\x89PNG\r\n".to_vec()).unwrap().content_type,
            "image/png"
        );
        assert_eq!(
            picture_of(b"GIF89a".to_vec()).unwrap().content_type,
            "image/gif"
        );
        assert!(picture_of(b"<svg/>".to_vec()).is_none());
        assert!(picture_of(Vec::new()).is_none());
    }
}
