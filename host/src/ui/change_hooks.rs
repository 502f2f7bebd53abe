//! `/change_hooks`: the delivery log of the change hooks (the last deliveries of each dialect:
//! when, which event, the answer, the changes written or why it was refused), shown to users
//! who may read changes.

use axum::extract::State;
use serde::Serialize;

use super::page_error::PageError;
use super::{html, shell, PageRequest, UiState};
use crate::hooks::deliveries::Delivery;

/// What `change_hooks.html` shows in the shell.
#[derive(Debug, Serialize)]
struct HooksPage {
    /// The enabled dialects, in config order (each listed even before its first delivery).
    dialects: Vec<String>,
    /// Each dialect's deliveries (and those to dialects not enabled), newest first.
    deliveries: Vec<(String, Vec<Delivery>)>,
    /// How many deliveries are kept per dialect.
    kept: usize,
}

/// `/change_hooks`.
pub(super) async fn page(
    State(state): State<UiState>,
    req: PageRequest,
) -> Result<axum::response::Response, PageError> {
    // The same permission as the changes themselves (a 403 page otherwise).
    state
        .data
        .get(
            &req.user,
            "changes",
            &[("limit".to_owned(), "1".to_owned())],
        )
        .await?;
    let dialects: Vec<String> = state
        .config
        .www
        .change_hook_dialects
        .iter()
        .map(|d| d.name.clone())
        .collect();
    let mut deliveries = state.deliveries.snapshot();
    // Enabled dialects first, in config order, then the rest.
    deliveries.sort_by_key(|(name, _)| {
        dialects
            .iter()
            .position(|d| d == name)
            .unwrap_or(usize::MAX)
    });
    let shell = shell(&state, &req, "change_hooks", "Change hooks", &[]);
    let body = HooksPage {
        dialects,
        deliveries,
        kept: crate::hooks::deliveries::KEPT,
    };
    Ok(html(&state, "change_hooks.html", &shell, &body))
}
