//! The `$metadata` cache: a customized organization's CSDL is 4–30+ MB, so
//! it is kept on disk per ServiceURL and revalidated rather than downloaded
//! again by every command.
//!
//! A document is stored only when the server sent a validator (`ETag` or
//! `Last-Modified`); the next connector sends `If-None-Match` /
//! `If-Modified-Since` and reads the file on `304 Not Modified`. Files are
//! written beside their final name and renamed over it, so a reader never
//! sees half a document; a cache that cannot be read or written is ignored
//! (with a warning), never an error.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use url::Url;

use connectkit_core::client::{Action, Fetched, HttpRules};
use reqwest::header::{ETAG, HeaderValue, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED};

use crate::error::Dynamics365Error;
use crate::http::{Api, XML, request};

/// The directory under the user's cache directory.
const SUBDIR: &str = "connectkit/dynamics365-metadata";

/// Where cached documents live, or none when caching is off.
#[derive(Debug, Clone)]
pub(crate) struct MetadataCache {
    dir: PathBuf,
}

/// A cached document and its validators.
#[derive(Debug)]
pub(crate) struct Cached {
    pub(crate) xml: String,
    pub(crate) etag: Option<String>,
    pub(crate) last_modified: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct Entry {
    service_url: String,
    etag: Option<String>,
    last_modified: Option<String>,
    bytes: usize,
}

impl MetadataCache {
    /// From `MetadataCache` (`on`; `true` by default) and `MetadataCacheDir`
    /// (default: `<user cache dir>/connectkit/dynamics365-metadata`).
    pub(crate) fn configure(on: bool, dir: Option<&str>) -> Result<Option<Self>, Dynamics365Error> {
        if !on {
            return Ok(None);
        }
        let dir = match dir.map(str::trim) {
            Some("") => {
                return Err(Dynamics365Error::config(
                    "MetadataCacheDir",
                    "expected a directory, found an empty value",
                ));
            }
            Some(d) => PathBuf::from(d),
            None => match dirs::cache_dir() {
                Some(d) => d.join(SUBDIR),
                None => return Ok(None),
            },
        };
        Ok(Some(Self { dir }))
    }

    /// The file stem for `service_url`: its text with every character
    /// but letters and digits replaced (the entry records the exact URL).
    fn stem(service_url: &Url) -> String {
        service_url
            .as_str()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect()
    }

    fn paths(&self, service_url: &Url) -> (PathBuf, PathBuf) {
        let stem = Self::stem(service_url);
        (
            self.dir.join(format!("{stem}.json")),
            self.dir.join(format!("{stem}.xml")),
        )
    }

    /// The document cached for `service_url`, if any and whole.
    pub(crate) fn load(&self, service_url: &Url) -> Option<Cached> {
        let (entry_path, xml_path) = self.paths(service_url);
        let entry: Entry = serde_json::from_slice(&std::fs::read(entry_path).ok()?).ok()?;
        if entry.service_url != service_url.as_str() {
            return None;
        }
        let xml = std::fs::read_to_string(xml_path).ok()?;
        (xml.len() == entry.bytes).then_some(Cached {
            xml,
            etag: entry.etag,
            last_modified: entry.last_modified,
        })
    }

    /// Stores `xml` for `service_url` with its validators; without any, the
    /// document could never be revalidated, so nothing is stored.
    pub(crate) fn store(
        &self,
        service_url: &Url,
        xml: &str,
        etag: Option<String>,
        last_modified: Option<String>,
    ) {
        if etag.is_none() && last_modified.is_none() {
            return;
        }
        let (entry_path, xml_path) = self.paths(service_url);
        let entry = Entry {
            service_url: service_url.to_string(),
            etag,
            last_modified,
            bytes: xml.len(),
        };
        let result = std::fs::create_dir_all(&self.dir)
            .and_then(|()| write_atomic(&self.dir, &xml_path, xml.as_bytes()))
            .and_then(|()| {
                let json = serde_json::to_vec(&entry).map_err(std::io::Error::other)?;
                write_atomic(&self.dir, &entry_path, &json)
            });
        if let Err(e) = result {
            tracing::warn!(dir = %self.dir.display(), error = %e, "cannot write the $metadata cache");
        }
    }
}

/// `ETag` and `Last-Modified` of a response.
pub(crate) type Validators = (Option<String>, Option<String>);

/// `$metadata`, from the cache when the server says it has not changed
/// (`304` to `If-None-Match`/`If-Modified-Since`), else downloaded, with
/// the validators (`ETag`, `Last-Modified`) to cache it under.
pub(crate) async fn fetch_metadata(
    api: &Api,
    cache: Option<&MetadataCache>,
    url: &Url,
) -> connectkit_core::Result<(String, Option<Validators>)> {
    let cached = cache.and_then(|c| c.load(&api.base));
    let mut req = request(url, XML, &[]);
    if let Some(c) = &cached {
        let headers = req.headers_mut();
        if let Some(v) = c
            .etag
            .as_deref()
            .and_then(|v| HeaderValue::from_str(v).ok())
        {
            headers.insert(IF_NONE_MATCH, v);
        }
        if let Some(v) = c
            .last_modified
            .as_deref()
            .and_then(|v| HeaderValue::from_str(v).ok())
        {
            headers.insert(IF_MODIFIED_SINCE, v);
        }
    }
    let rules = HttpRules::standard().with(304, Action::ZeroRows);
    match api.client.fetch(req, &rules).await? {
        Fetched::Body(body) => {
            let header = |name| {
                body.headers
                    .get(name)
                    .and_then(|v: &HeaderValue| v.to_str().ok())
                    .map(str::to_owned)
            };
            let (etag, modified) = (header(ETAG), header(LAST_MODIFIED));
            let xml = String::from_utf8(body.bytes)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
            Ok((xml, Some((etag, modified))))
        }
        _ => match cached {
            Some(c) => Ok((c.xml, None)),
            None => Err(Dynamics365Error::InvalidResponse {
                what: "$metadata".into(),
                message: "304 Not Modified to a request that was not conditional".into(),
            }
            .into()),
        },
    }
}

fn write_atomic(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration() {
        assert!(MetadataCache::configure(false, None).unwrap().is_none());
        let c = MetadataCache::configure(true, Some("/tmp/x"))
            .unwrap()
            .unwrap();
        assert_eq!(c.dir, PathBuf::from("/tmp/x"));
        let err = MetadataCache::configure(true, Some(" ")).unwrap_err();
        assert!(
            err.to_string().starts_with("property MetadataCacheDir:"),
            "{err}"
        );
    }

    #[test]
    fn round_trip_only_with_validators() {
        let dir = tempfile::tempdir().unwrap();
        let cache = MetadataCache {
            dir: dir.path().join("nested"),
        };
        let url = Url::parse("https://org.api.crm.dynamics.com/api/data/v9.2/").unwrap();
        cache.store(&url, "<edmx/>", None, None);
        assert!(cache.load(&url).is_none());
        cache.store(&url, "<edmx/>", Some("W/\"7\"".into()), None);
        let c = cache.load(&url).unwrap();
        assert_eq!(
            (c.xml.as_str(), c.etag.as_deref()),
            ("<edmx/>", Some("W/\"7\""))
        );
        // Another ServiceURL that sanitizes alike is a miss, not a wrong hit.
        let other = Url::parse("https://org.api.crm.dynamics.com/api/data/v9_2/").unwrap();
        assert!(cache.load(&other).is_none());
    }
}
