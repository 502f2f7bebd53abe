//! Collections under a `ViewBuildsEndpointMatcher`: the items a user may not see are left out
//! before paging, so `limit`, `offset` and `meta.total` count only what the user sees.

use serde_json::{Map, Value};

use super::endpoints::Endpoint;
use super::{Answer, ApiError, DataApi, ResultSpec};
use crate::identity::User;

/// The id field of the types whose collections are filtered item by item.
fn id_field(plural: &str) -> Option<&'static str> {
    match plural {
        "builders" => Some("builderid"),
        "builds" => Some("buildid"),
        "buildrequests" => Some("buildrequestid"),
        "test_result_sets" => Some("test_result_setid"),
        _ => None,
    }
}

/// Whether collections of this type are filtered item by item.
pub(super) fn filtered(plural: &str) -> bool {
    id_field(plural).is_some()
}

/// Reads the collection at `path` whole (with its filters and order, up to the server's
/// `rest_max_limit`), keeps what `user` may see, then pages and selects fields.
pub(super) async fn read_visible(
    data: &DataApi,
    user: &User,
    endpoint: &Endpoint,
    path: &str,
    args: &[(String, String)],
) -> Result<Answer, ApiError> {
    let spec = ResultSpec::parse(args, endpoint.rtype)?;
    let mut whole: Vec<(String, String)> = args
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "field" | "limit" | "offset"))
        .cloned()
        .collect();
    whole.push(("limit".into(), "-1".into()));
    let Answer::Items { plural, items, .. } = data.read(path, &whole).await? else {
        return data.read(path, args).await;
    };
    let id_field = id_field(plural).unwrap_or("id");
    let mut visible: Vec<Map<String, Value>> = Vec::with_capacity(items.len());
    for item in items {
        let Some(id) = item.get(id_field).and_then(Value::as_i64) else {
            continue;
        };
        let item_path = format!("{plural}/{id}");
        if data
            .authz()
            .check_item(data, user, &item_path, &item)
            .await
            .is_ok()
        {
            visible.push(item);
        }
    }
    let total = visible.len();
    let offset = spec.effective_offset().min(total);
    visible.drain(..offset);
    visible.truncate(spec.effective_limit(data.paging()));
    for item in &mut visible {
        spec.select_fields(item);
    }
    Ok(Answer::Items {
        plural,
        items: visible,
        total: Some(total),
    })
}
