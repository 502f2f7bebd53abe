//! Sessions as Buildbot 4.3 keeps them: the `TWISTED_SESSION` cookie holds an HS256 JWT
//! `{"user_info": {...}, "exp": N}` signed with the `session_secret` in the `www` object's state,
//! so that a session issued by a Buildbot master on the same database is valid here, and the
//! reverse.
//!
//! Stricter than Buildbot (docs/compatibility.md): a token must name HS256 and carry an
//! integer `exp` in the future; anything else is anonymous. Logging out revokes the token in
//! this process until it expires. The cookie is `HttpOnly`, `SameSite=Lax`, and `Secure` when
//! `buildbotURL` is https.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{json, Map, Value};
use sha2::Sha256;
use tokio::sync::OnceCell;

use crate::db::Pool;
use crate::identity::User;

/// The session cookie's name, Buildbot's (Twisted's) own.
pub const COOKIE: &str = "TWISTED_SESSION";

/// The object and state names Buildbot keeps the secret under.
const OBJECT_NAME: &str = "www";
const OBJECT_CLASS: &str = "buildbot.www.service.WWWService";
const STATE_NAME: &str = "session_secret";

/// Longer tokens are refused before any decoding: a session with a big user_info (many
/// groups) stays well under this.
const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Revoked tokens kept at most; past this, the ones that expire first are forgotten first.
const MAX_REVOKED: usize = 100_000;

type HmacSha256 = Hmac<Sha256>;

/// Issues and checks session tokens for one database.
#[derive(Debug)]
pub struct Sessions {
    pool: Pool,
    /// The HMAC key: the secret's characters, as Buildbot uses them. Read (or created) from the
    /// database on first use.
    key: OnceCell<Vec<u8>>,
    lifetime: Duration,
    secure: bool,
    /// Signatures of tokens ended by a logout, with their `exp`.
    revoked: Mutex<HashMap<Vec<u8>, i64>>,
}

/// Why a session cannot be issued.
#[derive(Debug, thiserror::Error)]
#[error("cannot read or create the session secret in the database: {0}")]
pub struct SecretError(#[from] sqlx::Error);

impl Sessions {
    /// Sessions lasting `lifetime` (`cookie_expiration_time`); `secure` marks the cookie
    /// `Secure` (for an https `buildbotURL`).
    pub fn new(pool: Pool, lifetime: Duration, secure: bool) -> Sessions {
        Sessions {
            pool,
            key: OnceCell::new(),
            lifetime,
            secure,
            revoked: Mutex::new(HashMap::new()),
        }
    }

    async fn key(&self) -> Result<&[u8], SecretError> {
        let key = self
            .key
            .get_or_try_init(|| async { session_secret(&self.pool).await.map(String::into_bytes) })
            .await?;
        Ok(key)
    }

    /// The user a `TWISTED_SESSION` token stands for; anonymous for anything that is not a
    /// valid, unexpired, unrevoked token of this database's secret.
    pub async fn user(&self, token: &str) -> User {
        let key = match self.key().await {
            Ok(key) => key,
            Err(err) => {
                tracing::error!("{err}");
                return User::Anonymous;
            }
        };
        let Some((claims, signature)) = verify(key, token, now()) else {
            return User::Anonymous;
        };
        if self.is_revoked(&signature) {
            return User::Anonymous;
        }
        claims
            .get("user_info")
            .and_then(Value::as_object)
            .map_or(User::Anonymous, user_from_info)
    }

    /// A new token for `user`, valid for the session lifetime from now.
    pub async fn issue(&self, user: &User) -> Result<String, SecretError> {
        self.issue_lasting(user, self.lifetime).await
    }

    /// A new token for `user`, valid for `lifetime` from now: a short one for a single
    /// request made on the user's behalf (the link to a Buildbot master).
    pub async fn issue_lasting(
        &self,
        user: &User,
        lifetime: Duration,
    ) -> Result<String, SecretError> {
        let key = self.key().await?;
        let exp = now().saturating_add(lifetime.as_secs().try_into().unwrap_or(i64::MAX));
        Ok(sign(
            key,
            &json!({"user_info": user.user_info(), "exp": exp}),
        ))
    }

    /// A key for another use of the server's secret (`purpose` names the use): HMAC-SHA256 of
    /// `purpose` under the session secret, so it is as secret as sessions but cannot sign one.
    pub async fn derived_key(&self, purpose: &str) -> Result<Vec<u8>, SecretError> {
        let mut mac =
            HmacSha256::new_from_slice(self.key().await?).expect("HMAC takes keys of any length");
        mac.update(purpose.as_bytes());
        Ok(mac.finalize().into_bytes().to_vec())
    }

    /// Whether cookies for a client are marked `Secure`: with an https `buildbotURL`, or
    /// when the client came over HTTPS (`https`, as a trusted proxy says).
    pub fn secure(&self, https: bool) -> bool {
        self.secure || https
    }

    /// Ends the session of `token` (a logout): the same token is anonymous from now on.
    pub async fn revoke(&self, token: &str) {
        let Ok(key) = self.key().await else {
            return;
        };
        let now = now();
        let Some((claims, signature)) = verify(key, token, now) else {
            return;
        };
        let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(now);
        let mut revoked = self.revoked.lock().unwrap_or_else(|p| p.into_inner());
        revoked.retain(|_, until| *until > now);
        if revoked.len() >= MAX_REVOKED {
            // Forget the revocations that end first; the table stays bounded.
            let mut ends: Vec<i64> = revoked.values().copied().collect();
            ends.sort_unstable();
            let cut = ends[ends.len() / 10];
            revoked.retain(|_, until| *until > cut);
        }
        revoked.insert(signature, exp);
    }

    fn is_revoked(&self, signature: &[u8]) -> bool {
        self.revoked
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(signature)
    }

    /// The `Set-Cookie` value carrying `token`, for a client that came over HTTPS or not
    /// (see [`Sessions::secure`]).
    pub fn cookie(&self, token: &str, https: bool) -> String {
        let secure = if self.secure(https) { "; Secure" } else { "" };
        format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax{secure}")
    }

    /// The `Set-Cookie` value that removes the session cookie.
    pub fn clearing_cookie(&self, https: bool) -> String {
        let secure = if self.secure(https) { "; Secure" } else { "" };
        format!("{COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax{secure}")
    }
}

/// The session token in a request's `Cookie` headers, if any.
pub fn token_in(headers: &axum::http::HeaderMap) -> Option<&str> {
    cookie_in(headers, COOKIE)
}

/// The value of the cookie `name` in a request's `Cookie` headers, if any and not empty.
pub fn cookie_in<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(found, _)| *found == name)
        .map(|(_, value)| value.trim_matches('"'))
        .filter(|value| !value.is_empty())
}

/// Seconds since the Unix epoch.
pub(super) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs().try_into().unwrap_or(i64::MAX))
}

/// The `user_info` keys [`User::Known`] has fields for; the others go to its `extra`.
const KNOWN_KEYS: [&str; 5] = ["username", "full_name", "email", "groups", "anonymous"];

/// The user of a token's `user_info`: `{"anonymous": true}` (or no `username`) is anonymous.
fn user_from_info(info: &Map<String, Value>) -> User {
    let text = |key: &str| info.get(key).and_then(Value::as_str).map(str::to_owned);
    match text("username") {
        Some(username) if info.get("anonymous") != Some(&Value::Bool(true)) => User::Known {
            username,
            full_name: text("full_name"),
            email: text("email"),
            groups: info
                .get("groups")
                .and_then(Value::as_array)
                .map(|groups| {
                    groups
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            extra: info
                .iter()
                .filter(|(key, _)| !KNOWN_KEYS.contains(&key.as_str()))
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect(),
        },
        _ => User::Anonymous,
    }
}

/// The header every token carries, as Buildbot (PyJWT) writes it, base64url-encoded.
fn header() -> String {
    URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#)
}

/// A compact JWS of `claims` with HMAC-SHA256.
fn sign(key: &[u8], claims: &Value) -> String {
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signing_input = format!("{}.{payload}", header());
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(signing_input.as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{signing_input}.{signature}")
}

/// The claims and signature of a token signed with `key`, if its header names HS256, its
/// signature matches (compared in constant time) and its integer `exp` is after `now`.
fn verify(key: &[u8], token: &str, now: i64) -> Option<(Map<String, Value>, Vec<u8>)> {
    if token.len() > MAX_TOKEN_BYTES {
        return None;
    }
    let (signing_input, signature) = token.rsplit_once('.')?;
    let (header, payload) = signing_input.split_once('.')?;
    if payload.contains('.') {
        return None;
    }
    let header: Map<String, Value> =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
    if header.get("alg") != Some(&Value::String("HS256".into())) {
        return None;
    }
    let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
    let mut mac = HmacSha256::new_from_slice(key).ok()?;
    mac.update(signing_input.as_bytes());
    mac.verify_slice(&signature).ok()?;
    let claims: Map<String, Value> =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    let exp = claims.get("exp")?.as_i64()?;
    (exp > now).then_some((claims, signature))
}

/// The database's session secret, created (32 random hex digits, as Buildbot makes it) when
/// there is none. Safe against another server or a master creating it at the same time: the
/// unique indexes decide, and everyone reads back the row that won.
async fn session_secret(pool: &Pool) -> Result<String, sqlx::Error> {
    sqlx::query("INSERT INTO objects (name, class_name) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind(OBJECT_NAME)
        .bind(OBJECT_CLASS)
        .execute(pool)
        .await?;
    let (objectid,): (i64,) =
        sqlx::query_as("SELECT id FROM objects WHERE name = $1 AND class_name = $2")
            .bind(OBJECT_NAME)
            .bind(OBJECT_CLASS)
            .fetch_one(pool)
            .await?;
    let mut random = [0u8; 16];
    getrandom::fill(&mut random).map_err(|err| sqlx::Error::Protocol(err.to_string()))?;
    let fresh: String = random.iter().map(|b| format!("{b:02x}")).collect();
    sqlx::query(
        "INSERT INTO object_state (objectid, name, value_json) VALUES ($1, $2, $3) \
         ON CONFLICT DO NOTHING",
    )
    .bind(objectid)
    .bind(STATE_NAME)
    .bind(Value::String(fresh).to_string())
    .execute(pool)
    .await?;
    let (value_json,): (String,) =
        sqlx::query_as("SELECT value_json FROM object_state WHERE objectid = $1 AND name = $2")
            .bind(objectid)
            .bind(STATE_NAME)
            .fetch_one(pool)
            .await?;
    match serde_json::from_str::<Value>(&value_json) {
        Ok(Value::String(secret)) if !secret.is_empty() => Ok(secret),
        _ => Err(sqlx::Error::Decode(
            "the www session_secret in object_state is not a JSON string".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn a_signed_token_verifies_until_it_expires() {
        let token = sign(
            KEY,
            &json!({"user_info": {"username": "homer"}, "exp": 2_000}),
        );
        let (claims, _) = verify(KEY, &token, 1_999).expect("valid");
        assert_eq!(claims["user_info"]["username"], "homer");
        assert!(verify(KEY, &token, 2_000).is_none(), "expired");
        assert!(verify(b"another key", &token, 0).is_none());
    }

    #[test]
    fn the_header_and_payload_are_buildbots_bytes() {
        let token = sign(KEY, &json!({"user_info": {"anonymous": true}, "exp": 7}));
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(
            URL_SAFE_NO_PAD.decode(parts[0]).unwrap(),
            br#"{"alg":"HS256","typ":"JWT"}"#
        );
        assert_eq!(
            URL_SAFE_NO_PAD.decode(parts[1]).unwrap(),
            br#"{"user_info":{"anonymous":true},"exp":7}"#
        );
    }

    #[test]
    fn tokens_buildbot_accepts_but_we_do_not() {
        let unsigned = |header: &str, claims: &str| {
            format!(
                "{}.{}.",
                URL_SAFE_NO_PAD.encode(header),
                URL_SAFE_NO_PAD.encode(claims)
            )
        };
        // alg none, with or without a signature part
        let none = unsigned(
            r#"{"alg":"none"}"#,
            r#"{"user_info":{"username":"x"},"exp":9}"#,
        );
        assert!(verify(KEY, &none, 0).is_none());
        // no exp: Buildbot accepts it forever
        let forever = sign(KEY, &json!({"user_info": {"username": "x"}}));
        assert!(verify(KEY, &forever, 0).is_none());
        // exp that is not an integer
        let text_exp = sign(
            KEY,
            &json!({"user_info": {"username": "x"}, "exp": "9999999999"}),
        );
        assert!(verify(KEY, &text_exp, 0).is_none());
        // another algorithm named in the header, signed with HS256 anyway
        let mut mac = HmacSha256::new_from_slice(KEY).unwrap();
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"HS512","typ":"JWT"}"#),
            URL_SAFE_NO_PAD.encode(r#"{"user_info":{"username":"x"},"exp":99}"#)
        );
        mac.update(input.as_bytes());
        let hs512 = format!(
            "{input}.{}",
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        );
        assert!(verify(KEY, &hs512, 0).is_none());
    }

    #[test]
    fn malformed_tokens_are_refused_without_panicking() {
        let good = sign(KEY, &json!({"user_info": {"username": "x"}, "exp": 99}));
        for token in [
            "",
            ".",
            "..",
            "a.b.c",
            "a.b.c.d",
            &format!("{good}.extra"),
            &good.replace('.', ""),
            &format!("{good}A"),
            &"x".repeat(MAX_TOKEN_BYTES + 1),
            "é.é.é",
        ] {
            assert!(verify(KEY, token, 0).is_none(), "{token}");
        }
        // a changed payload breaks the signature
        let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
        parts[1] = URL_SAFE_NO_PAD.encode(r#"{"user_info":{"username":"admin"},"exp":99}"#);
        assert!(verify(KEY, &parts.join("."), 0).is_none());
    }

    #[test]
    fn the_cookie_is_found_among_others() {
        let mut headers = axum::http::HeaderMap::new();
        headers.append(
            axum::http::header::COOKIE,
            "a=1; TWISTED_SESSION=tok; b=2".parse().unwrap(),
        );
        assert_eq!(token_in(&headers), Some("tok"));
        headers.clear();
        headers.append(
            axum::http::header::COOKIE,
            "TWISTED_SESSIONX=tok".parse().unwrap(),
        );
        assert_eq!(token_in(&headers), None);
    }

    #[test]
    fn user_info_becomes_a_user() {
        let info = json!({"username": "homer", "realm": "EXAMPLE.COM", "email": "homer@example.org", "groups": ["admins"]});
        let user = user_from_info(info.as_object().unwrap());
        let mut extra = Map::new();
        extra.insert("realm".into(), json!("EXAMPLE.COM"));
        assert_eq!(
            user,
            User::Known {
                username: "homer".into(),
                full_name: None,
                email: Some("homer@example.org".into()),
                groups: vec!["admins".into()],
                extra,
            }
        );
        let anonymous = json!({"anonymous": true, "username": "homer"});
        assert_eq!(
            user_from_info(anonymous.as_object().unwrap()),
            User::Anonymous
        );
    }
}
