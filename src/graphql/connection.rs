//! What every connection shares: Relay's `PageInfo`, the `TimeRange` input, the page
//! arguments, and the cost of a page.

use super::scalars::DateTime;
use crate::model::{self, Feed, Key, Slice, Window};
use async_graphql::{Context, InputObject, SimpleObject};

/// Where a page of a connection sits in the whole list (Relay's page info).
#[derive(SimpleObject, Debug, Clone)]
pub struct PageInfo {
    /// Whether rows follow this page (older ones, in newest-first order). With `before`, also
    /// true when rows exist after that cursor.
    pub has_next_page: bool,
    /// Whether rows precede this page (newer ones). With `after`, also true when rows exist
    /// before that cursor.
    pub has_previous_page: bool,
    /// The cursor of the page's first edge; null on an empty page.
    pub start_cursor: Option<String>,
    /// The cursor of the page's last edge; null on an empty page.
    pub end_cursor: Option<String>,
}

impl PageInfo {
    /// The page info of `slice`, whose rows have the keys `key` gives, in `feed`.
    pub fn of<T>(slice: &Slice<T>, feed: Feed, key: impl Fn(&T) -> Key) -> Self {
        Self {
            has_next_page: slice.has_next,
            has_previous_page: slice.has_previous,
            start_cursor: slice.rows.first().map(|row| key(row).cursor(feed)),
            end_cursor: slice.rows.last().map(|row| key(row).cursor(feed)),
        }
    }
}

/// A half-open range of instants, `from <= t < until`; either end may be left out.
#[derive(InputObject, Debug, Clone, Copy, Default)]
pub struct TimeRange {
    /// The earliest instant included.
    pub from: Option<DateTime>,
    /// The first instant no longer included.
    pub until: Option<DateTime>,
}

impl From<Option<TimeRange>> for model::TimeRange {
    fn from(range: Option<TimeRange>) -> Self {
        let range = range.unwrap_or_default();
        Self {
            from: range.from.map(|t| t.0),
            until: range.until.map(|t| t.0),
        }
    }
}

/// Relay's page arguments; the page info of the side a page starts from is read only when
/// the selection asks for it.
pub fn window(
    ctx: &Context<'_>,
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
) -> Window {
    let near = if last.is_some() && first.is_none() {
        "hasNextPage"
    } else {
        "hasPreviousPage"
    };
    Window {
        near_side: ctx.look_ahead().field("pageInfo").field(near).exists(),
        first: first.map(Into::into),
        last: last.map(Into::into),
        after,
        before,
    }
}

/// How many rows a page may hold, for the complexity limit (the service refuses sizes out of
/// range).
pub fn page_rows(first: Option<i32>, last: Option<i32>) -> usize {
    let rows = first
        .or(last)
        .unwrap_or(crate::service::validate::DEFAULT_FIRST as i32);
    rows.clamp(1, crate::service::validate::MAX_LIMIT as i32) as usize
}

/// A list of GraphQL enum values as the model's.
pub fn converted<A: Into<B>, B>(items: Option<Vec<A>>) -> Option<Vec<B>> {
    items.map(|items| items.into_iter().map(Into::into).collect())
}
