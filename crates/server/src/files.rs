//! Static files (media under `/media/<name>/`, the web player under `/`) with no way out of their
//! root.
//!
//! Path resolution does not trust the router: it takes the raw request path, percent-decodes it
//! exactly once, refuses anything that could name a parent or a different root (`..` or `.`
//! segments, empty segments, backslashes, NUL, a `%` left after decoding = double encoding), then
//! canonicalises the joined path (resolving symlinks) and serves it only if it still lies under the
//! canonical root and is a regular file. Range requests and conditional GETs are handled by
//! tower-http's `ServeFile` on that canonical path; this module then fixes the MIME type and sets
//! caching headers. A request for several ranges is answered with the first one (as common servers
//! do), since `ServeFile` refuses multi-range requests with 416.
//!
//! Some files are never served even inside a root: dot-files and dot-folders (any path component
//! below the root starting with `.`: `.git`, `.env`, ...), and TLS keys and certificates by
//! extension ([`PRIVATE_EXTENSIONS`]). Both rules are checked on the requested path and again on
//! the canonical one, so a symlink inside the root cannot reach them either. The server also
//! refuses to start when a served root contains its state folder or private key
//! ([`check_private_outside`]).

use axum::body::Body;
use axum::http::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE, RANGE};
use axum::http::{Request, StatusCode};
use axum::response::Response;
use std::path::{Component, Path, PathBuf};
use tower::ServiceExt;
use tower_http::services::ServeFile;

/// Extensions of files that hold keys or certificates: never served, whatever folder they are in.
pub const PRIVATE_EXTENSIONS: &[&str] = &["pem", "key", "crt", "cer", "csr", "p12", "pfx", "jks"];

/// Why a path was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathRefusal {
    /// The path is malformed or tries to leave its root (400).
    Bad(&'static str),
    /// Nothing servable there (404): missing, a folder, or a symlink leading out of the root.
    NotFound,
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-decodes `raw` once; `None` on a malformed escape or non-UTF-8 result.
pub fn percent_decode(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hi = hex(*bytes.get(i + 1)?)?;
            let lo = hex(*bytes.get(i + 2)?)?;
            out.push(hi * 16 + lo);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Turns the raw (still percent-encoded) path below a root into safe relative segments.
pub fn sanitize(raw: &str) -> Result<Vec<String>, PathRefusal> {
    let decoded = percent_decode(raw).ok_or(PathRefusal::Bad("malformed percent-encoding"))?;
    if decoded.contains('%') {
        return Err(PathRefusal::Bad("double-encoded path"));
    }
    if decoded.contains('\\') {
        return Err(PathRefusal::Bad("backslash in path"));
    }
    if decoded.bytes().any(|b| b == 0 || b.is_ascii_control()) {
        return Err(PathRefusal::Bad("control character in path"));
    }
    let mut segments = Vec::new();
    for seg in decoded.split('/') {
        match seg {
            "" => return Err(PathRefusal::Bad("empty path segment")),
            "." | ".." => return Err(PathRefusal::Bad("dot segment in path")),
            s if s.contains(':') => return Err(PathRefusal::Bad("colon in path")),
            s => segments.push(s.to_string()),
        }
    }
    Ok(segments)
}

/// True when a file at `relative` (below a served root) must never be served: a component starting
/// with `.` (dot-files and dot-folders) or a key/certificate extension ([`PRIVATE_EXTENSIONS`]).
pub fn is_private(relative: &Path) -> bool {
    let hidden = relative.components().any(|c| match c {
        Component::Normal(name) => name.as_encoded_bytes().first() == Some(&b'.'),
        _ => true,
    });
    let key_like = relative
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| PRIVATE_EXTENSIONS.iter().any(|p| p.eq_ignore_ascii_case(e)));
    hidden || key_like
}

/// Resolves `raw` under the canonical `root` to the canonical path of a regular file inside it.
/// Private files ([`is_private`]) are `NotFound`, by the requested path and by the canonical one.
pub async fn resolve(root: &Path, raw: &str) -> Result<PathBuf, PathRefusal> {
    let segments = sanitize(raw)?;
    let relative: PathBuf = segments.iter().collect();
    if is_private(&relative) {
        return Err(PathRefusal::NotFound);
    }
    let joined = root.join(&relative);
    let canonical = tokio::fs::canonicalize(&joined)
        .await
        .map_err(|_| PathRefusal::NotFound)?;
    match canonical.strip_prefix(root) {
        Ok(inside) if !is_private(inside) => {}
        _ => return Err(PathRefusal::NotFound),
    }
    let meta = tokio::fs::metadata(&canonical)
        .await
        .map_err(|_| PathRefusal::NotFound)?;
    if !meta.is_file() {
        return Err(PathRefusal::NotFound);
    }
    Ok(canonical)
}

/// `path` made absolute with symlinks resolved, also when it does not exist yet (a state folder
/// created on first start): the nearest existing ancestor is canonicalised and the rest appended.
pub fn canonical_even_if_missing(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut missing = Vec::new();
    let mut existing = absolute.as_path();
    loop {
        if let Ok(canonical) = std::fs::canonicalize(existing) {
            return missing.iter().rev().fold(canonical, |p, c| p.join(c));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                missing.push(name.to_os_string());
                existing = parent;
            }
            _ => return absolute,
        }
    }
}

/// Checks that `private` (the TLS state folder or a private key; `what` says which) lies outside
/// every served root (`(flag, canonical root)` pairs). The error names the root and the fix.
pub fn check_private_outside(
    private: &Path,
    what: &str,
    roots: &[(&str, &Path)],
) -> Result<(), String> {
    let canonical = canonical_even_if_missing(private);
    for (flag, root) in roots {
        if canonical.starts_with(root) {
            return Err(format!(
                "the {what} lies inside the folder served by {flag} {}, so it could be downloaded; \
                 move it out of every --media and --web-root folder (for example --state-dir \
                 outside them, or a narrower --web-root such as web/dist)",
                root.display()
            ));
        }
    }
    Ok(())
}

/// MIME type by file extension (streaming types first; `application/octet-stream` otherwise).
pub fn mime_for(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "mpd" => "application/dash+xml",
        "m3u8" => "application/vnd.apple.mpegurl",
        "m4s" => "video/iso.segment",
        "mp4" | "m4v" | "cmfv" => "video/mp4",
        "m4a" | "cmfa" => "audio/mp4",
        "ts" => "video/mp2t",
        "vtt" => "text/vtt; charset=utf-8",
        "json" | "map" => "application/json",
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "ico" => "image/x-icon",
        "wasm" => "application/wasm",
        "woff2" => "font/woff2",
        "txt" | "csv" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// `Cache-Control` by file kind: segments never change (a re-package writes new files), manifests,
/// descriptors and pages are revalidated.
pub fn cache_control_for(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "m4s" | "mp4" | "m4v" | "m4a" | "cmfv" | "cmfa" | "ts" => {
            "public, max-age=31536000, immutable"
        }
        "mpd" | "m3u8" | "json" | "html" | "htm" => "no-cache",
        _ => "public, max-age=3600",
    }
}

/// Serves the file `raw` (percent-encoded, relative) under the canonical `root`.
pub async fn serve(root: &Path, raw: &str, req: Request<Body>) -> Response {
    match resolve(root, raw).await {
        Ok(path) => serve_file(&path, req).await,
        Err(PathRefusal::Bad(why)) => {
            crate::api::error_response(StatusCode::BAD_REQUEST, &format!("refused path: {why}"))
        }
        Err(PathRefusal::NotFound) => {
            crate::api::error_response(StatusCode::NOT_FOUND, "no such file")
        }
    }
}

/// The first range of a `Range: bytes=a-b, c-d, ...` header with several ranges (`None` for one
/// range or another unit), so a multi-range request gets a `206` for its first range instead of
/// `ServeFile`'s `416`.
pub fn first_of_several_ranges(range: &str) -> Option<String> {
    let specs = range.trim().strip_prefix("bytes=")?;
    let (first, rest) = specs.split_once(',')?;
    if rest.trim().is_empty() {
        return None;
    }
    Some(format!("bytes={}", first.trim()))
}

/// Serves one canonical file path with ranges, conditional requests, MIME and caching headers.
pub async fn serve_file(path: &Path, mut req: Request<Body>) -> Response {
    let first_range = req
        .headers()
        .get(RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(first_of_several_ranges)
        .and_then(|r| HeaderValue::from_str(&r).ok());
    if let Some(first) = first_range {
        req.headers_mut().insert(RANGE, first);
    }
    let response = match ServeFile::new(path).oneshot(req).await {
        Ok(r) => r.map(Body::new),
        Err(never) => match never {},
    };
    let mut response = response;
    if response.status().is_success() || response.status() == StatusCode::NOT_MODIFIED {
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(mime_for(path)));
        headers.insert(
            CACHE_CONTROL,
            HeaderValue::from_static(cache_control_for(path)),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding_is_strict_and_single() {
        assert_eq!(percent_decode("a%2Fb").as_deref(), Some("a/b"));
        assert_eq!(percent_decode("%252e").as_deref(), Some("%2e"));
        assert_eq!(percent_decode("%2"), None);
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%ff"), None);
    }

    #[test]
    fn traversal_shapes_are_refused() {
        for raw in [
            "..",
            "../x",
            "a/../../x",
            "%2e%2e/x",
            "%2E%2E%2Fx",
            "a%2f..%2f..%2fx",
            "%252e%252e/x",
            "..%5cx",
            "a\\..\\x",
            "/etc/passwd",
            "a//b",
            "./a",
            "a/.",
            "c:/x",
            "a%00b",
            "",
        ] {
            assert!(sanitize(raw).is_err(), "{raw} accepted");
        }
        assert_eq!(
            sanitize("seg/720p/chunk-00001.m4s").unwrap(),
            ["seg", "720p", "chunk-00001.m4s"]
        );
        assert_eq!(sanitize("a%20b.txt").unwrap(), ["a b.txt"]);
    }

    #[test]
    fn mime_and_caching() {
        assert_eq!(
            mime_for(Path::new("a/manifest.mpd")),
            "application/dash+xml"
        );
        assert_eq!(mime_for(Path::new("x.M4S")), "video/iso.segment");
        assert_eq!(
            mime_for(Path::new("master.m3u8")),
            "application/vnd.apple.mpegurl"
        );
        assert!(cache_control_for(Path::new("x.m4s")).contains("immutable"));
        assert_eq!(cache_control_for(Path::new("manifest.mpd")), "no-cache");
    }

    #[test]
    fn private_paths_by_component_and_extension() {
        for private in [
            ".env",
            ".git/config",
            "a/.hidden/b.m4s",
            "out/serve/key.pem",
            "x.KEY",
            "c/server.crt",
            "p.p12",
        ] {
            assert!(is_private(Path::new(private)), "{private} served");
        }
        for public in [
            "index.html",
            "seg/0/chunk-00001.m4s",
            "a.b/c.mpd",
            "pem",
            "key.json",
        ] {
            assert!(!is_private(Path::new(public)), "{public} refused");
        }
    }

    #[test]
    fn several_ranges_become_the_first() {
        assert_eq!(
            first_of_several_ranges("bytes=0-9, 20-29").as_deref(),
            Some("bytes=0-9")
        );
        assert_eq!(
            first_of_several_ranges("bytes=-5,0-1").as_deref(),
            Some("bytes=-5")
        );
        assert_eq!(first_of_several_ranges("bytes=0-9"), None);
        assert_eq!(first_of_several_ranges("bytes=0-9,"), None);
        assert_eq!(first_of_several_ranges("items=0-9,1-2"), None);
    }

    #[test]
    fn private_paths_inside_served_roots_are_found_before_they_exist() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        let roots = [("--web-root", root.as_path())];
        let e = check_private_outside(&root.join("out/serve"), "state folder", &roots).unwrap_err();
        assert!(e.contains("--web-root") && e.contains("--state-dir"), "{e}");
        assert!(!root.join("out").exists());
        let elsewhere = tempfile::tempdir().unwrap();
        assert!(check_private_outside(&elsewhere.path().join("s"), "state folder", &roots).is_ok());
    }

    #[tokio::test]
    async fn symlinks_out_of_the_root_are_not_served() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.txt"), "secret").unwrap();
        let root = tempfile::tempdir().unwrap();
        let root_path = std::fs::canonicalize(root.path()).unwrap();
        std::fs::write(root_path.join("ok.txt"), "ok").unwrap();
        std::os::unix::fs::symlink(
            outside.path().join("secret.txt"),
            root_path.join("link.txt"),
        )
        .unwrap();
        std::os::unix::fs::symlink(outside.path(), root_path.join("dir")).unwrap();
        std::os::unix::fs::symlink(root_path.join("ok.txt"), root_path.join("inside.txt")).unwrap();
        assert!(resolve(&root_path, "ok.txt").await.is_ok());
        assert!(resolve(&root_path, "inside.txt").await.is_ok());
        assert_eq!(
            resolve(&root_path, "link.txt").await,
            Err(PathRefusal::NotFound)
        );
        assert_eq!(
            resolve(&root_path, "dir/secret.txt").await,
            Err(PathRefusal::NotFound)
        );
        assert_eq!(
            resolve(&root_path, "missing").await,
            Err(PathRefusal::NotFound)
        );
    }
}
