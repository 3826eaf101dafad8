//! Pulling a paginated list from a peer (T-60…T-63), tolerant of `Link` headers that point elsewhere
//! (#12 item 11).
//!
//! A [`Pull`] starts at the announced endpoint with the caller's filters (`date_from`, `date_to`,
//! `limit`; none means the announced URL exactly) and, after each page, decides the next request:
//!
//! - **No `Link`**: that was the last page (T-63).
//! - **A usable `Link`**: followed as given. Usable means it parses (relative links are resolved
//!   against the request URL) and has the announced endpoint's scheme, host, port and path (a
//!   trailing slash aside); its query is the peer's business.
//! - **An unusable `Link`** (it does not parse, or any of those differ, as one popular library
//!   sends): the pull goes on by offset on the announced endpoint: next `offset` = the objects
//!   received so far, with the same filters and limit; it stops at an empty page or when
//!   `X-Total-Count` objects were received. The deviation
//!   ([`DeviationKind::UnusableLink`]) goes to the pull's sink, once per peer.
//!
//! Loop guards: a page identical to the one before (a peer that ignores `offset`, or repeats its
//! `Link`), or a `Link` to a URL already fetched, stops the pull with [`ClientError::Data`] — the
//! pull is then incomplete, so a full pull must not conclude that missing objects are gone (T-64).

use std::collections::BTreeSet;
use std::hash::Hasher as _;
use std::sync::Arc;

use super::{ClientError, Page, with_query};
use crate::deviations::{DeviationKind, DeviationSink};

/// The state of one pull.
#[derive(Debug)]
pub struct Pull {
    announced: String,
    endpoint: url::Url,
    filters: Vec<(String, String)>,
    next: Option<String>,
    received: u64,
    fetched: BTreeSet<String>,
    last_page: Option<(usize, u64)>,
    sink: Option<Arc<dyn DeviationSink>>,
}

impl Pull {
    /// A pull of the list at the `announced` endpoint with query `filters` (kept on every page
    /// we address ourselves).
    pub fn new(announced: &str, filters: Vec<(String, String)>) -> Result<Self, ClientError> {
        let endpoint = url::Url::parse(announced).map_err(|e| ClientError::Data {
            url: announced.to_owned(),
            message: format!("the announced endpoint is not a URL: {e}"),
        })?;
        let pairs: Vec<(&str, &str)> = filters.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        Ok(Self {
            next: Some(with_query(announced, &pairs)),
            announced: announced.to_owned(),
            endpoint,
            filters,
            received: 0,
            fetched: BTreeSet::new(),
            last_page: None,
            sink: None,
        })
    }

    /// Where the deviations of the peer's pages are recorded (its peer).
    pub fn bind(mut self, sink: Arc<dyn DeviationSink>) -> Self {
        self.sink = Some(sink);
        self
    }

    /// The URL of the next page to GET, or `None` when the pull is complete.
    pub fn next_url(&self) -> Option<&str> {
        self.next.as_deref()
    }

    /// Objects received so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Takes the page just fetched from [`next_url`](Self::next_url) and decides the next one. An
    /// error means the pull cannot go on (a loop); the page's objects are still valid.
    pub fn advance(&mut self, page: &Page) -> Result<(), ClientError> {
        let Some(current) = self.next.take() else {
            return Ok(());
        };
        self.fetched.insert(current.clone());
        let n = page.items.len();
        if n > 0 {
            let fingerprint = (n, fingerprint(&page.items));
            if self.last_page == Some(fingerprint) {
                return Err(ClientError::Data {
                    url: current,
                    message: format!(
                        "the peer answered the same page again (it ignores offset or repeats its Link); \
                         pull stopped after {} objects",
                        self.received
                    ),
                });
            }
            self.last_page = Some(fingerprint);
        }
        self.received += n as u64;
        let Some(link) = &page.link else {
            return Ok(());
        };
        let next = match self.usable(&current, link) {
            Ok(next) => Some(next),
            Err(why) => {
                let example = format!("{current}: Link <{link}> {why}; went on by offset");
                match &self.sink {
                    Some(sink) => sink.record(DeviationKind::UnusableLink, &example),
                    None => {
                        tracing::warn!(deviation = %DeviationKind::UnusableLink, %example, "pull deviates from OCPI 2.2.1; tolerated")
                    }
                }
                self.by_offset(n, page.total)
            }
        };
        if let Some(u) = &next {
            if self.fetched.contains(u) {
                return Err(ClientError::Data {
                    url: current,
                    message: format!(
                        "the peer's Link points at the same page again ({u}); pull stopped after {} objects",
                        self.received
                    ),
                });
            }
        }
        self.next = next;
        Ok(())
    }

    /// The `Link` target resolved against the request URL, if it is on the announced endpoint;
    /// otherwise why not.
    fn usable(&self, current: &str, link: &str) -> Result<String, String> {
        let target = url::Url::parse(current)
            .and_then(|base| base.join(link))
            .map_err(|e| format!("does not parse ({e})"))?;
        let e = &self.endpoint;
        if target.scheme() != e.scheme() {
            return Err(format!(
                "has scheme {} where the endpoint has {}",
                target.scheme(),
                e.scheme()
            ));
        }
        if target.host_str() != e.host_str() || target.port_or_known_default() != e.port_or_known_default() {
            return Err(format!(
                "points at {} instead of {}",
                authority(&target),
                authority(e)
            ));
        }
        if target.path().trim_end_matches('/') != e.path().trim_end_matches('/') {
            return Err(format!("has path {} instead of {}", target.path(), e.path()));
        }
        Ok(target.to_string())
    }

    /// The next page by offset on the announced endpoint, unless that page was the last.
    fn by_offset(&self, received_now: usize, total: Option<u64>) -> Option<String> {
        if received_now == 0 || total.is_some_and(|t| self.received >= t) {
            return None;
        }
        let offset = self.received.to_string();
        let mut pairs: Vec<(&str, &str)> = self
            .filters
            .iter()
            .filter(|(k, _)| k != "offset")
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        pairs.push(("offset", &offset));
        Some(with_query(&self.announced, &pairs))
    }
}

fn authority(u: &url::Url) -> String {
    format!(
        "{}:{}",
        u.host_str().unwrap_or(""),
        u.port_or_known_default().unwrap_or(0)
    )
}

/// A hash of a page's objects (to tell a repeated page), without copying them.
fn fingerprint(items: &[serde_json::Value]) -> u64 {
    struct HashWriter(std::collections::hash_map::DefaultHasher);
    impl std::io::Write for HashWriter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.write(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut w = HashWriter(std::collections::hash_map::DefaultHasher::new());
    // Writing JSON to a hasher cannot fail.
    let _ = serde_json::to_writer(&mut w, items);
    w.0.finish()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::deviations::Collector;

    const AT: &str = "https://cpo.example/ocpi/2.2.1/locations";

    fn page(ids: &[u32], link: Option<&str>, total: Option<u64>) -> Page {
        Page {
            items: ids.iter().map(|i| json!({ "id": i })).collect(),
            link: link.map(str::to_owned),
            total,
            limit: None,
        }
    }

    fn date_from() -> Vec<(String, String)> {
        vec![("date_from".to_owned(), "2026-01-01T00:00:00Z".to_owned())]
    }

    #[test]
    fn without_filters_the_first_page_is_the_announced_url_exactly() {
        let p = Pull::new("https://cpo.example/ocpi/locations/", Vec::new()).unwrap();
        assert_eq!(p.next_url(), Some("https://cpo.example/ocpi/locations/"));
        let p = Pull::new(AT, date_from()).unwrap();
        assert_eq!(
            p.next_url(),
            Some(&*format!("{AT}?date_from=2026-01-01T00%3A00%3A00Z"))
        );
        assert!(Pull::new("not a url", Vec::new()).is_err());
    }

    #[test]
    fn t63_a_usable_link_is_followed_until_there_is_none() {
        let sink = Collector::shared();
        let mut p = Pull::new(AT, date_from()).unwrap().bind(sink.clone());
        // Absolute, relative, and with a trailing slash: all on the announced endpoint.
        p.advance(&page(
            &[1, 2],
            Some(&format!("{AT}?offset=2&limit=2&cursor=x")),
            Some(6),
        ))
        .unwrap();
        assert_eq!(p.next_url(), Some(&*format!("{AT}?offset=2&limit=2&cursor=x")));
        p.advance(&page(&[3, 4], Some("/ocpi/2.2.1/locations/?offset=4"), Some(6)))
            .unwrap();
        assert_eq!(p.next_url(), Some(&*format!("{AT}/?offset=4")));
        p.advance(&page(&[5, 6], None, Some(6))).unwrap();
        assert_eq!(p.next_url(), None);
        assert_eq!(p.received(), 6);
        assert!(sink.take().is_empty(), "no deviation");
    }

    #[test]
    fn an_unusable_link_goes_on_by_offset_with_the_same_filters() {
        for (link, why) in [
            (
                "http://cpo.example/ocpi/2.2.1/locations?offset=2",
                "has scheme http",
            ),
            (
                "https://internal:8443/ocpi/2.2.1/locations?offset=2",
                "points at internal:8443",
            ),
            (
                "https://cpo.example:8443/ocpi/2.2.1/locations?offset=2",
                "points at cpo.example:8443",
            ),
            (
                "https://cpo.example/ocpi/cpo/2.2.1/locations?offset=2",
                "has path /ocpi/cpo/2.2.1/locations",
            ),
            ("https://[::1/x", "does not parse"),
        ] {
            let sink = Collector::shared();
            let mut p = Pull::new(AT, date_from()).unwrap().bind(sink.clone());
            p.advance(&page(&[1, 2], Some(link), Some(5))).unwrap();
            assert_eq!(
                p.next_url(),
                Some(&*format!("{AT}?date_from=2026-01-01T00%3A00%3A00Z&offset=2")),
                "{link}"
            );
            p.advance(&page(&[3, 4], Some(link), Some(5))).unwrap();
            assert_eq!(
                p.next_url(),
                Some(&*format!("{AT}?date_from=2026-01-01T00%3A00%3A00Z&offset=4"))
            );
            // X-Total-Count reached: done, even with a Link.
            p.advance(&page(&[5], Some(link), Some(5))).unwrap();
            assert_eq!(p.next_url(), None, "{link}");
            let seen = sink.take();
            assert_eq!(seen.len(), 1, "{link}");
            assert_eq!(seen[0].kind, DeviationKind::UnusableLink);
            assert!(seen[0].example.contains(why), "{link}: {}", seen[0].example);
        }
    }

    #[test]
    fn without_a_total_the_offset_pull_stops_at_an_empty_page() {
        let mut p = Pull::new(AT, Vec::new()).unwrap();
        p.advance(&page(&[1, 2], Some("https://elsewhere/x"), None))
            .unwrap();
        assert_eq!(p.next_url(), Some(&*format!("{AT}?offset=2")));
        p.advance(&page(&[], Some("https://elsewhere/x"), None)).unwrap();
        assert_eq!(p.next_url(), None);
    }

    #[test]
    fn a_repeated_page_or_link_stops_the_pull() {
        // The peer ignores our offset.
        let mut p = Pull::new(AT, Vec::new()).unwrap();
        p.advance(&page(&[1, 2], Some("https://elsewhere/x"), None))
            .unwrap();
        let e = p
            .advance(&page(&[1, 2], Some("https://elsewhere/x"), None))
            .unwrap_err();
        assert!(e.to_string().contains("same page again"), "{e}");
        assert_eq!(p.next_url(), None);
        // The peer's usable Link points at the page we just fetched.
        let mut p = Pull::new(AT, Vec::new()).unwrap();
        let e = p.advance(&page(&[1], Some(AT), None)).unwrap_err();
        assert!(e.to_string().contains("same page again"), "{e}");
    }

    proptest::proptest! {
        /// A peer that ignores offset answers every request with the same page, whatever Link it
        /// sends with it: the pull ends after at most two requests.
        #[test]
        fn a_peer_repeating_its_page_cannot_make_a_pull_loop(
            ids in proptest::collection::vec(0u32..100, 1..5),
            links in proptest::collection::vec(proptest::option::of(0usize..4), 100),
            total in proptest::option::of(0u64..1000),
        ) {
            let choices = [
                AT,
                "https://elsewhere/x",
                "/ocpi/2.2.1/locations?offset=2",
                "https://cpo.example/ocpi/2.2.1/locations?cursor=z",
            ];
            let mut p = Pull::new(AT, Vec::new()).unwrap();
            let mut requests = 0usize;
            for link in &links {
                if p.next_url().is_none() {
                    break;
                }
                requests += 1;
                if p.advance(&page(&ids, link.map(|i| choices[i]), total)).is_err() {
                    break;
                }
            }
            proptest::prop_assert!(requests <= 2, "{} requests", requests);
        }
    }
}
