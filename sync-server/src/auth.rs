//! Bearer tokens: HS256 JWTs signed with the server secret.
//!
//! A user token names the user (`sub`) and, for a device that syncs, the device's
//! replica id (`dev`): the server accepts from that device only dots minted by that
//! replica. A region token (`role: region`) lets peer regions sync every cart.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use cart_core::ReplicaId;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::state::AppState;

/// What a token says.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// The user id (or the region name, for region tokens).
    pub sub: String,
    /// The device's replica id, for device tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dev: Option<String>,
    /// `user` or `region`.
    #[serde(default = "user_role")]
    pub role: String,
    /// Expiry, seconds since the epoch.
    pub exp: u64,
}

fn user_role() -> String {
    "user".to_owned()
}

/// Tokens whose signature has been checked; the cache starts over at this size.
const VERIFIED_TOKENS: usize = 65_536;

/// Signs and checks tokens with one secret.
#[derive(Clone)]
pub struct Auth {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    /// A device sends the same token with every sync; its signature is checked once.
    /// Keyed by the whole token text, so only the exact bytes checked are trusted; the
    /// expiry is checked on every use.
    verified: Arc<RwLock<HashMap<String, Claims>>>,
}

impl Auth {
    /// The shortest secret accepted.
    pub const MIN_SECRET: usize = 16;

    /// Keys from the server secret.
    ///
    /// # Errors
    /// When the secret is shorter than [`Auth::MIN_SECRET`] bytes.
    pub fn new(secret: &str) -> Result<Self, String> {
        if secret.len() < Self::MIN_SECRET {
            return Err(format!("the token secret must be at least {} bytes long", Self::MIN_SECRET));
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.required_spec_claims = ["exp", "sub"].into_iter().map(str::to_owned).collect();
        Ok(Self {
            encoding: EncodingKey::from_secret(secret.as_bytes()).map_err(|e| e.to_string())?,
            decoding: DecodingKey::from_secret(secret.as_bytes()).map_err(|e| e.to_string())?,
            validation,
            verified: Arc::default(),
        })
    }

    /// A token for `user` (and `device`), valid for `ttl_seconds`.
    ///
    /// # Errors
    /// When the user id or device id is invalid.
    pub fn issue(&self, user: &str, device: Option<ReplicaId>, ttl_seconds: u64) -> Result<String, AppError> {
        check_user_id(user)?;
        self.sign(&Claims {
            sub: user.to_owned(),
            dev: device.map(|d| d.to_string()),
            role: user_role(),
            exp: now().saturating_add(ttl_seconds),
        })
    }

    /// A token peer regions present to each other.
    ///
    /// # Errors
    /// Never in practice; signing HS256 cannot fail.
    pub fn issue_region(&self, region: &str, ttl_seconds: u64) -> Result<String, AppError> {
        self.sign(&Claims {
            sub: region.to_owned(),
            dev: None,
            role: "region".to_owned(),
            exp: now().saturating_add(ttl_seconds),
        })
    }

    fn sign(&self, claims: &Claims) -> Result<String, AppError> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .map_err(AppError::internal)
    }

    /// Checks a token's signature and expiry.
    ///
    /// # Errors
    /// 401 when the token is invalid or expired.
    pub fn verify(&self, token: &str) -> Result<Claims, AppError> {
        let unexpired = |c: &Claims| c.exp.saturating_add(self.validation.leeway) > now();
        if let Some(claims) = self.verified.read().unwrap_or_else(PoisonError::into_inner).get(token)
            && unexpired(claims)
        {
            return Ok(claims.clone());
        }
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| AppError::unauthenticated(format!("bearer token rejected: {e}")))?;
        let mut verified = self.verified.write().unwrap_or_else(PoisonError::into_inner);
        if verified.len() >= VERIFIED_TOKENS {
            verified.clear();
        }
        verified.insert(token.to_owned(), claims.clone());
        Ok(claims)
    }
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// User ids: 1 to 128 characters of letters, digits and `_ - . @ :`.
///
/// # Errors
/// 400 naming `user_id`.
pub fn check_user_id(user: &str) -> Result<(), AppError> {
    let ok = !user.is_empty()
        && user.len() <= 128
        && user.chars().all(|c| c.is_ascii_alphanumeric() || "_-.@:".contains(c));
    if ok {
        Ok(())
    } else {
        Err(AppError::invalid("user_id", "must be 1 to 128 of letters, digits and _ - . @ :"))
    }
}

/// The one cart of a user.
#[must_use]
pub fn cart_of(user: &str) -> String {
    format!("cart-{user}")
}

/// An authenticated user (or device of a user).
#[derive(Debug, Clone)]
pub struct Caller {
    /// The user.
    pub user: String,
    /// The device's replica id, when the token names one.
    pub device: Option<ReplicaId>,
}

impl Caller {
    /// The caller's cart id.
    #[must_use]
    pub fn cart(&self) -> String {
        cart_of(&self.user)
    }

    /// 403 unless `cart_id` is the caller's cart.
    ///
    /// # Errors
    /// 403 for another user's cart.
    pub fn owns(&self, cart_id: &str) -> Result<(), AppError> {
        if cart_id == self.cart() { Ok(()) } else { Err(AppError::forbidden("this is not your cart")) }
    }

    /// 403 unless a `user_id` in a body is the caller.
    ///
    /// # Errors
    /// 403 when it is someone else.
    pub fn is(&self, user_id: &str) -> Result<(), AppError> {
        if user_id == self.user {
            Ok(())
        } else {
            Err(AppError::forbidden("user_id does not match the bearer token"))
        }
    }
}

/// A peer region.
#[derive(Debug, Clone)]
pub struct PeerRegion {
    /// Its name.
    pub name: String,
}

fn bearer(parts: &Parts) -> Result<&str, AppError> {
    if let Some(value) = parts.headers.get(axum::http::header::AUTHORIZATION) {
        let text = value.to_str().unwrap_or_default();
        return text
            .strip_prefix("Bearer ")
            .ok_or_else(|| AppError::unauthenticated("Authorization must be `Bearer <token>`"));
    }
    // EventSource cannot set headers, so the event stream also takes ?access_token=.
    parts
        .uri
        .query()
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("access_token=")))
        .ok_or_else(|| AppError::unauthenticated("a bearer token is required"))
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let claims = state.auth.verify(bearer(parts)?)?;
        if claims.role != "user" {
            return Err(AppError::forbidden("a user token is required"));
        }
        let device = match claims.dev {
            Some(d) => Some(
                d.parse().map_err(|_| AppError::unauthenticated("the token's device id is not a UUID"))?,
            ),
            None => None,
        };
        Ok(Self { user: claims.sub, device })
    }
}

/// The most sibling tokens one request may carry.
pub const MAX_SIBLINGS: usize = 16;

/// The header that carries tokens of the caller's sibling replicas.
pub const SIBLINGS_HEADER: &str = "cart-sibling-tokens";

/// Replica ids of the caller's other tabs, vouched for by their own tokens in the
/// `Cart-Sibling-Tokens` header (comma-separated).
///
/// Tabs of one device each have their own replica id and hear each other's changes
/// before any of them syncs. A tab that holds a sibling's unsynced changes cannot send
/// them, or even claim to have seen them, on its own token: the region would refuse
/// (it cannot tell them from forged ones), and two tabs holding each other's changes
/// would refuse each other forever. With the siblings' tokens, each issued for the same
/// user by the storefront, the region takes those replicas' changes too.
#[derive(Debug, Clone, Default)]
pub struct Siblings(pub Vec<ReplicaId>);

impl FromRequestParts<AppState> for Siblings {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(SIBLINGS_HEADER) else { return Ok(Self::default()) };
        let text =
            value.to_str().map_err(|_| AppError::invalid(SIBLINGS_HEADER, "must be ASCII"))?.to_owned();
        let caller = Caller::from_request_parts(parts, state).await?;
        let tokens: Vec<&str> = text.split(',').map(str::trim).filter(|t| !t.is_empty()).collect();
        if tokens.len() > MAX_SIBLINGS {
            return Err(AppError::invalid(SIBLINGS_HEADER, format!("at most {MAX_SIBLINGS} tokens")));
        }
        let mut ids = Vec::with_capacity(tokens.len());
        for token in tokens {
            // An expired or tampered sibling token is a 401, like the caller's own: the
            // client fetches fresh tokens and retries.
            let claims = state.auth.verify(token)?;
            if claims.role != "user" || claims.sub != caller.user {
                return Err(AppError::forbidden("a sibling token is for another user"));
            }
            let id = claims.dev.and_then(|d| d.parse().ok()).ok_or_else(|| {
                AppError::invalid(SIBLINGS_HEADER, "a sibling token must name a replica id")
            })?;
            ids.push(id);
        }
        Ok(Self(ids))
    }
}

impl FromRequestParts<AppState> for PeerRegion {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let claims = state.auth.verify(bearer(parts)?)?;
        if claims.role == "region" {
            Ok(Self { name: claims.sub })
        } else {
            Err(AppError::forbidden("a region token is required"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "a-test-secret-of-32-bytes.......";

    #[test]
    fn a_token_checked_once_is_trusted_only_until_it_expires() {
        let auth = Auth::new(SECRET).unwrap();
        let token = auth.issue("ann", None, 3600).unwrap();
        assert_eq!(auth.verify(&token).unwrap().sub, "ann");
        assert_eq!(auth.verify(&token).unwrap().sub, "ann", "second use, from the cache");

        // A token that expired while cached is refused, not served from the cache.
        let stale = Claims { sub: "ann".into(), dev: None, role: user_role(), exp: 1 };
        let expired = auth.sign(&stale).unwrap();
        auth.verified.write().unwrap().insert(expired.clone(), stale);
        assert_eq!(auth.verify(&expired).unwrap_err().status, axum::http::StatusCode::UNAUTHORIZED);
    }

    #[test]
    fn a_tampered_token_is_refused_even_after_the_genuine_one_was_cached() {
        let auth = Auth::new(SECRET).unwrap();
        let token = auth.issue("ann", None, 3600).unwrap();
        auth.verify(&token).unwrap();
        let mut tampered = token.clone();
        tampered.push('x');
        assert!(auth.verify(&tampered).is_err());
    }
}
