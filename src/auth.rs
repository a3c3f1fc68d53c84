//! Authentication: static API tokens (stored as SHA-256 hashes) and JWTs (HS256, or RS256 with
//! a PEM key or a JWKS file), each giving a [`Principal`] with a read, write or admin scope.

use crate::config::AuthConfig;
use crate::error::ServiceError;
use anyhow::{Context as _, bail};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::SocketAddr;

/// What a credential allows; each scope allows what the ones before it do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    Read,
    Write,
    /// Write, and erase a customer's data (`eraseCustomer`).
    Admin,
}

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Token name, or the JWT's `sub`; fills `loggedBy`/`uploadedBy` when left out.
    pub name: String,
    pub scope: Scope,
    /// When the credential stops being valid (a JWT's `exp`); `None` for API tokens. A
    /// WebSocket or event stream it opened is closed then.
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Whether it may erase a customer's data: the `admin` scope, or a `write` principal named
    /// in `--erasure-principals`.
    pub may_erase: bool,
}

impl Principal {
    /// `FORBIDDEN` unless the scope allows writing.
    pub fn require_write(&self) -> Result<(), ServiceError> {
        match self.scope {
            Scope::Write | Scope::Admin => Ok(()),
            Scope::Read => Err(ServiceError::Forbidden("this credential may only read")),
        }
    }

    /// `FORBIDDEN` unless it may erase a customer's data (write alone is not enough).
    pub fn require_erase(&self) -> Result<(), ServiceError> {
        match self.may_erase {
            true => Ok(()),
            false => Err(ServiceError::Forbidden(
                "erasing a customer's data needs the admin scope or a principal listed in --erasure-principals",
            )),
        }
    }
}

enum Keys {
    One(DecodingKey),
    Jwks(HashMap<String, DecodingKey>),
}

struct JwtVerifier {
    keys: Keys,
    validation: Validation,
    scope_claim: String,
}

/// Checks bearer credentials. Built once at start-up.
pub struct Authenticator {
    tokens: Vec<([u8; 32], Principal)>,
    jwt: Option<JwtVerifier>,
    enabled: bool,
    /// `write` principals that may erase too (`--erasure-principals`).
    erasers: Vec<String>,
}

fn unauthenticated(why: &str) -> ServiceError {
    ServiceError::Unauthenticated(why.to_owned())
}

fn parse_scope(text: &str) -> Option<Scope> {
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.contains(&"admin") {
        Some(Scope::Admin)
    } else if words.contains(&"write") {
        Some(Scope::Write)
    } else if words.contains(&"read") {
        Some(Scope::Read)
    } else {
        None
    }
}

impl Authenticator {
    /// Builds from configuration, refusing an unauthenticated non-loopback bind.
    pub fn from_config(cfg: &AuthConfig, bind: SocketAddr) -> anyhow::Result<Self> {
        let mut tokens = Vec::new();
        for entry in &cfg.api_tokens {
            let mut parts = entry.splitn(3, ':');
            let (Some(name), Some(scope), Some(hash)) = (parts.next(), parts.next(), parts.next())
            else {
                bail!("an API token must be name:scope:sha256hex");
            };
            let scope = match scope {
                "read" => Scope::Read,
                "write" => Scope::Write,
                "admin" => Scope::Admin,
                other => {
                    bail!("API token {name}: scope must be read, write or admin, not {other}")
                }
            };
            let bytes = hex::decode(hash.trim())
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .with_context(|| format!("API token {name}: the hash must be 64 hex digits"))?;
            tokens.push((
                bytes,
                Principal {
                    name: name.to_owned(),
                    scope,
                    expires_at: None,
                    may_erase: false,
                },
            ));
        }
        let jwt = JwtVerifier::from_config(cfg)?;
        let configured = !tokens.is_empty() || jwt.is_some();
        if cfg.auth_disabled || !configured {
            if !bind.ip().is_loopback() {
                bail!(
                    "refusing to serve {bind} without authentication: configure CRM_API_TOKENS or a JWT key, or bind a loopback address"
                );
            }
            tracing::warn!(
                "authentication is OFF: anyone who can reach {bind} can read and change all data"
            );
            return Ok(Self::disabled());
        }
        Ok(Self {
            tokens,
            jwt,
            enabled: true,
            erasers: cfg
                .erasure_principals
                .iter()
                .map(|name| name.trim().to_owned())
                .filter(|name| !name.is_empty())
                .collect(),
        })
    }

    /// Auth off: every request is let through without a principal.
    pub fn disabled() -> Self {
        Self {
            tokens: Vec::new(),
            jwt: None,
            enabled: false,
            erasers: Vec::new(),
        }
    }

    /// The principal of an `Authorization` header value; `Ok(None)` when auth is off.
    pub fn authenticate(&self, header: Option<&str>) -> Result<Option<Principal>, ServiceError> {
        if !self.enabled {
            return Ok(None);
        }
        let header = header.ok_or_else(|| unauthenticated("a bearer credential is required"))?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| unauthenticated("the Authorization header must be `Bearer <token>`"))?;
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let mut principal = match self.tokens.iter().find(|(hash, _)| *hash == digest) {
            Some((_, principal)) => principal.clone(),
            None => match &self.jwt {
                Some(jwt) if token.matches('.').count() == 2 => jwt.verify(token)?,
                _ => return Err(unauthenticated("invalid credential")),
            },
        };
        principal.may_erase = principal.scope == Scope::Admin
            || (principal.scope == Scope::Write && self.erasers.contains(&principal.name));
        Ok(Some(principal))
    }
}

impl JwtVerifier {
    fn from_config(cfg: &AuthConfig) -> anyhow::Result<Option<Self>> {
        let chosen = [
            cfg.jwt_hs256_secret.is_some(),
            cfg.jwt_rs256_public_key_file.is_some(),
            cfg.jwt_jwks_file.is_some(),
        ]
        .iter()
        .filter(|set| **set)
        .count();
        if chosen == 0 {
            return Ok(None);
        }
        if chosen > 1 {
            bail!(
                "configure exactly one JWT key: an HS256 secret, an RS256 PEM key or a JWKS file"
            );
        }
        let (algorithm, keys) = if let Some(secret) = &cfg.jwt_hs256_secret {
            if secret.len() < 32 {
                bail!("the HS256 secret must be at least 32 bytes");
            }
            (
                Algorithm::HS256,
                Keys::One(DecodingKey::from_secret(secret.as_bytes())),
            )
        } else if let Some(path) = &cfg.jwt_rs256_public_key_file {
            let pem = std::fs::read(path)
                .with_context(|| format!("reading the RS256 public key {}", path.display()))?;
            (
                Algorithm::RS256,
                Keys::One(DecodingKey::from_rsa_pem(&pem)?),
            )
        } else {
            let path = cfg.jwt_jwks_file.as_ref().expect("one key source is set");
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading the JWKS {}", path.display()))?;
            let set: JwkSet = serde_json::from_str(&text).context("parsing the JWKS")?;
            let mut keys = HashMap::new();
            for jwk in &set.keys {
                let kid = jwk
                    .common
                    .key_id
                    .clone()
                    .context("every JWKS key needs a kid")?;
                keys.insert(kid, DecodingKey::from_jwk(jwk)?);
            }
            (Algorithm::RS256, Keys::Jwks(keys))
        };
        let (Some(issuer), Some(audience)) = (&cfg.jwt_issuer, &cfg.jwt_audience) else {
            bail!("JWTs need CRM_JWT_ISSUER and CRM_JWT_AUDIENCE");
        };
        let mut validation = Validation::new(algorithm);
        validation.leeway = cfg.jwt_leeway_secs;
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        Ok(Some(Self {
            keys,
            validation,
            scope_claim: cfg.jwt_scope_claim.clone(),
        }))
    }

    fn verify(&self, token: &str) -> Result<Principal, ServiceError> {
        let invalid = |e: jsonwebtoken::errors::Error| {
            tracing::info!(error = %e, "JWT rejected");
            unauthenticated("invalid or expired token")
        };
        let header = jsonwebtoken::decode_header(token).map_err(invalid)?;
        let key = match &self.keys {
            Keys::One(key) => key,
            Keys::Jwks(keys) => header
                .kid
                .as_deref()
                .and_then(|kid| keys.get(kid))
                .ok_or_else(|| unauthenticated("unknown signing key"))?,
        };
        let data = jsonwebtoken::decode::<serde_json::Value>(token, key, &self.validation)
            .map_err(invalid)?;
        let claims = data.claims;
        let name = claims["sub"]
            .as_str()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| unauthenticated("the token has no subject"))?
            .to_owned();
        let scope = match &claims[self.scope_claim.as_str()] {
            serde_json::Value::String(text) => parse_scope(text),
            serde_json::Value::Array(items) => parse_scope(
                &items
                    .iter()
                    .filter_map(|v| v.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            _ => None,
        }
        .ok_or_else(|| unauthenticated("the token carries no read, write or admin scope"))?;
        // Accepted until `exp` plus the leeway, as over HTTP.
        let expires_at = claims["exp"].as_i64().and_then(|exp| {
            chrono::DateTime::from_timestamp(exp.saturating_add(self.validation.leeway as i64), 0)
        });
        Ok(Principal {
            name,
            scope,
            expires_at,
            may_erase: false,
        })
    }
}
