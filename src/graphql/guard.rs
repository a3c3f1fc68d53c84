//! Field guards: mutations need a write-scoped principal, an erasure an eraser (when
//! authentication is on).

use crate::auth::Principal;
use async_graphql::{Context, Guard, Result};

/// Lets a mutation run only for a `write` principal, or when authentication is off.
pub struct WriteGuard;

impl Guard for WriteGuard {
    async fn check(&self, ctx: &Context<'_>) -> Result<()> {
        match ctx.data_opt::<Principal>() {
            Some(principal) => Ok(principal.require_write()?),
            None => Ok(()),
        }
    }
}

/// Lets `eraseCustomer` run only for a principal that may erase (the `admin` scope, or a
/// `write` principal listed in `--erasure-principals`), or when authentication is off.
pub struct EraseGuard;

impl Guard for EraseGuard {
    async fn check(&self, ctx: &Context<'_>) -> Result<()> {
        match ctx.data_opt::<Principal>() {
            Some(principal) => Ok(principal.require_erase()?),
            None => Ok(()),
        }
    }
}

/// The principal's name, to fill `loggedBy`/`uploadedBy` when the input leaves them out.
pub fn actor<'a>(ctx: &'a Context<'_>) -> Option<&'a str> {
    ctx.data_opt::<Principal>().map(|p| p.name.as_str())
}
