//! Lists read page by page: offset pages moved by `X-Next-Page` on our own API root, keyset pages
//! by the cursor of GitLab's `Link`, and the checks that make a list read page by page one
//! snapshot (or, for showing a busy project's jobs, a listing without duplicates).

use super::transport::Answer;
use super::{Client, MAX_JSON_BODY, explain};
use crate::api::route::Call;
use crate::error::{Error, ErrorKind, Result, clean_snippet};
use crate::model::{Job, Kind, Listed};
use std::collections::HashSet;

/// GitLab clamps `per_page` to 100; asking for the maximum keeps a 1,000-job pipeline at 10 reads.
const PER_PAGE: usize = 100;
/// A list never takes more pages than this (50,000 jobs), whatever the server's headers say: a
/// server that ignores `page` must not make gljob read forever.
const MAX_PAGES: u64 = 500;
/// How many times a list that changed while it was read is read again before the read fails
/// (as a passing failure: a wait tries again next round).
const SNAPSHOT_TRIES: u32 = 3;

/// How a list is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consistency {
    /// For verdicts and selections: a list that changed between its pages (an id on two pages,
    /// `X-Total` moved, fewer or more items than `X-Total`) is read again from page 1.
    Snapshot,
    /// For showing a busy project's jobs: an id seen twice is shown once.
    Listing,
}

impl Client {
    /// Every page of a list route, moving by `X-Next-Page` on our own API root. GitLab builds its
    /// `Link` header from its configured external URL, which a job may not be able to reach (or
    /// which may be another host altogether), so `Link` is never followed. A snapshot that
    /// changed while it was read is read again, up to [`SNAPSHOT_TRIES`] times.
    pub fn get_list(
        &self,
        call: &Call,
        query: &[(&str, String)],
        kind: Kind,
        consistency: Consistency,
        limit: Option<usize>,
    ) -> Result<Vec<Listed>> {
        let mut tries = 1;
        loop {
            match self.read_pages(call, query, kind, consistency, limit) {
                Err(err) if *err.kind() == ErrorKind::Inconsistent && tries < SNAPSHOT_TRIES => {
                    tries += 1;
                    if self.verbose {
                        (self.note)(&format!("gljob: {}; reading it again", err.message()));
                    }
                    self.deadline.check(&call.describe())?;
                }
                other => return other,
            }
        }
    }

    fn read_pages(
        &self,
        call: &Call,
        query: &[(&str, String)],
        kind: Kind,
        consistency: Consistency,
        limit: Option<usize>,
    ) -> Result<Vec<Listed>> {
        let mut items: Vec<Listed> = Vec::new();
        let mut seen: HashSet<u64> = HashSet::new();
        let mut first_total: Option<u64> = None;
        let mut page: u64 = 1;
        loop {
            let mut page_query: Vec<(&str, String)> = query.to_vec();
            page_query.push(("per_page", PER_PAGE.to_string()));
            page_query.push(("page", page.to_string()));
            let (answer, page_items) = self.get_page(call, &page_query, kind)?;
            let total = header_number(&answer, "x-total");
            if page == 1 {
                first_total = total;
            } else if consistency == Consistency::Snapshot && total != first_total {
                return Err(inconsistent(
                    call,
                    &format!(
                        "X-Total went from {} to {} between pages",
                        show(first_total),
                        show(total)
                    ),
                ));
            }
            let full_page = page_items.len() >= PER_PAGE;
            for item in page_items {
                if seen.insert(item.job.id) {
                    items.push(item);
                } else if consistency == Consistency::Snapshot {
                    let why = format!("id {} was listed on two pages", item.job.id);
                    return Err(inconsistent(call, &why));
                }
            }
            if let Some(limit) = limit
                && items.len() >= limit
            {
                items.truncate(limit);
                return Ok(items);
            }
            match next_page(call, &answer, page, full_page)? {
                Some(next) => page = next,
                None => break,
            }
        }
        if consistency == Consistency::Snapshot
            && let Some(total) = first_total
            && total != seen.len() as u64
        {
            return Err(inconsistent(
                call,
                &format!("X-Total said {total} but {} were listed", seen.len()),
            ));
        }
        Ok(items)
    }

    /// Every page of `GET /projects/:id/jobs` by keyset pagination (`docs/gitlab-behaviour.md` §4):
    /// no offset to cap, and no page that shifts while a busy project gains jobs. GitLab puts the
    /// next page's cursor only in the `Link` header, whose URL names GitLab's configured host: the
    /// cursor is taken from it and sent to our own API root, never to that host. `Ok(None)` when
    /// this GitLab does not offer keyset here (405), for the caller to fall back to offsets.
    pub fn get_keyset(
        &self,
        call: &Call,
        query: &[(&str, String)],
        limit: Option<usize>,
    ) -> Result<Option<Vec<Listed>>> {
        let mut items: Vec<Listed> = Vec::new();
        let mut seen: HashSet<u64> = HashSet::new();
        let mut cursor: Option<String> = None;
        let mut cursors_seen: HashSet<String> = HashSet::new();
        for page in 1..=MAX_PAGES {
            let mut page_query: Vec<(&str, String)> = query.to_vec();
            page_query.extend([
                ("pagination", "keyset".to_string()),
                ("per_page", PER_PAGE.to_string()),
                ("order_by", "id".to_string()),
                ("sort", "desc".to_string()),
            ]);
            if let Some(cursor) = &cursor {
                page_query.push(("cursor", cursor.clone()));
            }
            let (answer, page_items) = match self.get_page(call, &page_query, Kind::Build) {
                Ok(found) => found,
                Err(err) if page == 1 && err.http_status() == Some(405) => return Ok(None),
                Err(err) => return Err(err),
            };
            for item in page_items {
                // Keyset pages do not shift, but a job seen twice is shown once all the same.
                if seen.insert(item.job.id) {
                    items.push(item);
                }
            }
            if let Some(limit) = limit
                && items.len() >= limit
            {
                items.truncate(limit);
                return Ok(Some(items));
            }
            match answer.header("link").and_then(next_cursor) {
                // A cursor seen before would go round in a loop.
                Some(next) if cursors_seen.insert(next.clone()) => cursor = Some(next),
                Some(_) => {
                    return Err(Error::unreadable(format!(
                        "{}: GitLab's next-page Link repeats a cursor already used",
                        call.describe()
                    )));
                }
                None => return Ok(Some(items)),
            }
        }
        Err(Error::unreadable(format!(
            "{}: the list goes on past {MAX_PAGES} pages of {PER_PAGE}; gljob stops there",
            call.describe()
        )))
    }

    /// One page of a list and the answer's headers; an unreadable page is retried like a 5xx.
    fn get_page(
        &self,
        call: &Call,
        query: &[(&str, String)],
        kind: Kind,
    ) -> Result<(Answer, Vec<Listed>)> {
        self.with_retries(call, || {
            let answer = self.exchange(call, query, None, MAX_JSON_BODY)?;
            let items = parse_page(call, &answer, kind)?;
            Ok((answer, items))
        })
    }
}

/// The page after `page`, from `X-Next-Page`; without the header (a proxy that strips headers),
/// a full page may have a successor and a short one not, and never past the page count GitLab
/// gave.
fn next_page(call: &Call, answer: &Answer, page: u64, full_page: bool) -> Result<Option<u64>> {
    let next = match answer.header("x-next-page").map(str::trim) {
        // GitLab sends an empty X-Next-Page on the last page.
        Some("") => None,
        Some(text) => match text.parse::<u64>() {
            Ok(next) if next > page => Some(next),
            _ => {
                return Err(Error::unreadable(format!(
                    "{}: GitLab's X-Next-Page '{}' does not follow page {page}",
                    call.describe(),
                    clean_snippet(text.as_bytes(), 40)
                )));
            }
        },
        None => {
            let total_pages = header_number(answer, "x-total-pages");
            (full_page && total_pages.is_none_or(|pages| page < pages)).then_some(page + 1)
        }
    };
    if next.is_some_and(|next| next > MAX_PAGES) {
        return Err(Error::unreadable(format!(
            "{}: the list goes on past {MAX_PAGES} pages of {PER_PAGE}; gljob stops there (is the \
             server ignoring `page`?)",
            call.describe()
        )));
    }
    Ok(next)
}

/// A page of a list, typed by serde_json in one pass: each item is deserialized as a [`Job`] by
/// a stream deserializer over the page, which says where the item ended, so its bytes are kept
/// as GitLab sent them without reading them twice (a `RawValue` of each item, then the item typed
/// from it, read every byte twice: 81 M instructions a 1,000-job read instead of 45 M). What is
/// between the items is JSON's array syntax alone (`[`, `,`, `]` and white space), checked here.
/// A page cut short, or an item GitLab would not send, makes the page unreadable, which a read
/// tries again.
fn parse_page(call: &Call, answer: &Answer, kind: Kind) -> Result<Vec<Listed>> {
    let body = &answer.body;
    let not_a_list = |why: &str| {
        Error::unreadable(format!(
            "{}: GitLab answered {} with {} that is not a JSON array of jobs ({why}): \"{}\"",
            call.describe(),
            answer.status,
            explain::describe_content_type(answer.header("content-type").unwrap_or_default()),
            clean_snippet(body, 120)
        ))
    };
    let not_a_job = |why: &str| {
        Error::unreadable(format!(
            "{}: an item of GitLab's list is not a job GitLab would send: {why}",
            call.describe()
        ))
    };
    let text = std::str::from_utf8(body).map_err(|e| not_a_list(&e.to_string()))?;
    let mut at = skip_space(text, 0);
    if !text[at..].starts_with('[') {
        return Err(not_a_list("it does not begin with ["));
    }
    at = skip_space(text, at + 1);
    let mut items: Vec<Listed> = Vec::new();
    if text[at..].starts_with(']') {
        at += 1;
    } else {
        loop {
            if !text[at..].starts_with('{') {
                return Err(not_a_list("an item is not an object"));
            }
            let mut stream = serde_json::Deserializer::from_str(&text[at..]).into_iter::<Job>();
            let job = match stream.next() {
                Some(Ok(job)) => job,
                Some(Err(why)) if why.is_data() => return Err(not_a_job(&why.to_string())),
                Some(Err(why)) => return Err(not_a_list(&why.to_string())),
                None => return Err(not_a_list("cut short")),
            };
            let end = at + stream.byte_offset();
            items.push(Listed::from_parts(job, kind, &text[at..end]));
            at = skip_space(text, end);
            match text[at..].chars().next() {
                Some(',') => at = skip_space(text, at + 1),
                Some(']') => {
                    at += 1;
                    break;
                }
                _ => return Err(not_a_list("an item is followed by neither , nor ]")),
            }
        }
    }
    if skip_space(text, at) != text.len() {
        return Err(not_a_list("something follows its closing ]"));
    }
    Ok(items)
}

/// Where the JSON white space from `at` on ends.
fn skip_space(text: &str, at: usize) -> usize {
    let rest = &text[at..];
    at + (rest.len() - rest.trim_start_matches([' ', '\t', '\n', '\r']).len())
}

/// The `cursor` of the `rel="next"` URL of a `Link` header, decoded.
fn next_cursor(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        if !params
            .split(';')
            .any(|p| matches!(p.trim(), "rel=\"next\"" | "rel=next"))
        {
            return None;
        }
        let url = url.trim().trim_start_matches('<').trim_end_matches('>');
        let (_, query) = url.split_once('?')?;
        query.split('&').find_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            (key == "cursor").then(|| {
                percent_encoding::percent_decode_str(value)
                    .decode_utf8_lossy()
                    .into_owned()
            })
        })
    })
}

fn inconsistent(call: &Call, why: &str) -> Error {
    Error::new(
        ErrorKind::Inconsistent,
        format!(
            "{}: the list changed while it was read page by page ({why})",
            call.describe()
        ),
    )
}

fn show(number: Option<u64>) -> String {
    number.map_or_else(|| "none".into(), |n| n.to_string())
}

fn header_number(answer: &Answer, name: &str) -> Option<u64> {
    answer.header(name).and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_cursor_comes_from_the_link_whatever_its_host() {
        let link = r#"<https://gitlab.example.com/api/v4/projects/42/jobs?cursor=eyJpZCI6IjEwIn0%3D&pagination=keyset&per_page=100>; rel="next""#;
        assert_eq!(next_cursor(link).as_deref(), Some("eyJpZCI6IjEwIn0="));
        assert_eq!(next_cursor(r#"<https://h/x?cursor=a>; rel="prev""#), None);
        assert_eq!(next_cursor(""), None);
    }
}
