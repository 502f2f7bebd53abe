//! The OAuth2 `state`: the page to return to, bound to the browser that started the login.
//!
//! Buildbot sends `state=redirect=<page>` and accepts any `state` back, so anyone can make a
//! victim's browser finish a login the attacker started (login CSRF: the victim works as the
//! attacker without noticing). Here, starting a login sets a short-lived cookie holding a
//! random nonce, and the `state` is `<issued>.<page, base64url>.<MAC>`, the MAC being
//! HMAC-SHA256 over the nonce, the time and the page with a key derived from the session secret.
//! The callback is accepted only with the cookie of the browser that started it, within
//! [`LIFETIME`]; the nonce itself never leaves that browser.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The cookie holding the nonce between the start of a login and the provider's callback.
pub const COOKIE: &str = "BUILDBOT_OAUTH2_STATE";

/// How long a started login may take at the provider, in seconds.
pub const LIFETIME: i64 = 600;

/// The `purpose` the state's key is derived for (see `Sessions::derived_key`).
pub const KEY_PURPOSE: &str = "buildbot-www oauth2 state v1";

/// A login being started: the nonce for the browser's cookie, the `state` for the provider.
#[derive(Debug)]
pub struct Started {
    /// Goes into [`COOKIE`].
    pub nonce: String,
    /// Goes to the provider, which sends it back unchanged.
    pub state: String,
}

/// Why a callback's `state` is refused. The texts are shown to the user.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// The browser has no nonce cookie: the login was started in another browser, took
    /// longer than [`LIFETIME`], or the browser refuses cookies.
    #[error(
        "this login was not started in this browser, or it took too long (more than 10 minutes), \
         or the browser refuses cookies"
    )]
    NoCookie,
    /// The `state` does not come from this browser's login (forged, or another browser's).
    #[error("the login's state does not belong to this browser: it was forged or comes from another browser's login")]
    Mismatch,
    /// The `state` is this browser's but older than [`LIFETIME`].
    #[error("this login took too long (more than 10 minutes)")]
    Expired,
}

/// Starts a login that returns to `page` (already checked to be a path of this site).
pub fn start(key: &[u8], page: &str, now: i64) -> Result<Started, getrandom::Error> {
    let mut random = [0u8; 32];
    getrandom::fill(&mut random)?;
    let nonce = URL_SAFE_NO_PAD.encode(random);
    let page = URL_SAFE_NO_PAD.encode(page);
    let mac = URL_SAFE_NO_PAD.encode(mac(key, &nonce, now, &page).finalize().into_bytes());
    Ok(Started {
        state: format!("{now}.{page}.{mac}"),
        nonce,
    })
}

/// The page to return to, if `state` was made by [`start`] for this browser's `nonce` no
/// longer than [`LIFETIME`] ago.
pub fn check(key: &[u8], nonce: Option<&str>, state: &str, now: i64) -> Result<String, StateError> {
    let nonce = nonce.ok_or(StateError::NoCookie)?;
    let mut parts = state.splitn(3, '.');
    let (Some(issued), Some(page), Some(signature)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(StateError::Mismatch);
    };
    let issued: i64 = issued.parse().map_err(|_| StateError::Mismatch)?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| StateError::Mismatch)?;
    mac(key, nonce, issued, page)
        .verify_slice(&signature)
        .map_err(|_| StateError::Mismatch)?;
    if now.saturating_sub(issued) > LIFETIME || issued > now.saturating_add(60) {
        return Err(StateError::Expired);
    }
    let page = URL_SAFE_NO_PAD
        .decode(page)
        .map_err(|_| StateError::Mismatch)?;
    String::from_utf8(page).map_err(|_| StateError::Mismatch)
}

fn mac(key: &[u8], nonce: &str, issued: i64, page: &str) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    // Each part is either base64url or digits: '.' cannot occur inside one.
    mac.update(format!("{nonce}.{issued}.{page}").as_bytes());
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"a key derived from the session secret";

    #[test]
    fn the_state_returns_to_the_page_in_the_browser_that_started() {
        let started = start(KEY, "/builders/2", 1_000).unwrap();
        assert_eq!(
            check(KEY, Some(&started.nonce), &started.state, 1_010),
            Ok("/builders/2".to_owned())
        );
        assert!(
            !started.state.contains(&started.nonce),
            "the nonce stays in the browser"
        );
    }

    #[test]
    fn another_browser_a_forgery_or_a_late_callback_is_refused() {
        let mine = start(KEY, "/", 1_000).unwrap();
        let theirs = start(KEY, "/", 1_000).unwrap();
        assert_eq!(
            check(KEY, Some(&mine.nonce), &theirs.state, 1_001),
            Err(StateError::Mismatch)
        );
        assert_eq!(
            check(KEY, None, &mine.state, 1_001),
            Err(StateError::NoCookie)
        );
        assert_eq!(
            check(b"another key", Some(&mine.nonce), &mine.state, 1_001),
            Err(StateError::Mismatch)
        );
        assert_eq!(
            check(KEY, Some(&mine.nonce), &mine.state, 1_000 + LIFETIME + 1),
            Err(StateError::Expired)
        );
        // the page changed, Buildbot's own state, garbage
        let (issued, rest) = mine.state.split_once('.').unwrap();
        let (_, mac) = rest.split_once('.').unwrap();
        let other_page = format!("{issued}.{}.{mac}", URL_SAFE_NO_PAD.encode("/evil"));
        for forged in [
            other_page.as_str(),
            "redirect=%2Fbuilders",
            "",
            "1.2.3",
            "x.y.z",
            "1000..",
        ] {
            assert_eq!(
                check(KEY, Some(&mine.nonce), forged, 1_001),
                Err(StateError::Mismatch),
                "{forged}"
            );
        }
    }
}
