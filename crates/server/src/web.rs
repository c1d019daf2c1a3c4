//! The web page at `/`: a build of `ui/` (the same Svelte UI as the desktop app, with its
//! browser WebRTC backend), so a browser joins a room with nothing installed.
//!
//! The server does not know where the build comes from: the `roomcast` binary embeds
//! `ui/dist`, the desktop app hands over the assets Tauri already embeds, tests point at the
//! directory. Without assets, `/` says how to get them.

use std::borrow::Cow;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

type Lookup = dyn Fn(&str) -> Option<Cow<'static, [u8]>> + Send + Sync;

/// Where the web page's files come from: a function from a relative path (`index.html`,
/// `assets/index-1234.js`) to the file's bytes.
#[derive(Clone)]
pub struct WebAssets(Arc<Lookup>);

impl std::fmt::Debug for WebAssets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebAssets")
    }
}

impl WebAssets {
    pub fn from_fn(
        lookup: impl Fn(&str) -> Option<Cow<'static, [u8]>> + Send + Sync + 'static,
    ) -> Self {
        Self(Arc::new(lookup))
    }

    /// Files read from a directory (e.g. `ui/dist`) on every request.
    pub fn dir(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        Self::from_fn(move |path| std::fs::read(root.join(path)).ok().map(Cow::Owned))
    }

    /// Files compiled into the binary.
    pub fn embedded(files: &'static [(&'static str, &'static [u8])]) -> Self {
        Self::from_fn(move |path| {
            files
                .iter()
                .find(|(name, _)| *name == path)
                .map(|(_, bytes)| Cow::Borrowed(*bytes))
        })
    }

    fn get(&self, path: &str) -> Option<Cow<'static, [u8]>> {
        (self.0)(path)
    }
}

/// The policy for the page: scripts and styles only from this server; media, WebSocket and
/// WebRTC to it; nothing framed or sent elsewhere. `blob:` and `data:` images are the
/// screenshots and thumbnails the UI makes itself.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; media-src 'self' blob: mediastream:; \
     connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

const MISSING: &str = "<!doctype html><meta charset=utf-8><title>Roomcast</title>\
    <p>This server was built without its web page. Build it with <code>npm --prefix ui run build</code> \
    and start the server with <code>roomcast serve --web-dir ui/dist</code>.";

pub async fn serve(State(assets): State<Option<WebAssets>>, uri: Uri) -> Response {
    let Some(assets) = assets else {
        return page(
            StatusCode::NOT_FOUND,
            "text/html; charset=utf-8",
            MISSING.as_bytes().to_vec().into(),
        );
    };
    let Some(path) = relative(uri.path()) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    // Unknown paths without an extension are the single-page app's own routes.
    let found = assets.get(&path).map(|b| (path.as_str(), b)).or_else(|| {
        (!path.rsplit('/').next().unwrap_or("").contains('.'))
            .then(|| assets.get("index.html").map(|b| ("index.html", b)))
            .flatten()
    });
    match found {
        Some((name, bytes)) => page(StatusCode::OK, mime(name), bytes),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// `/` → `index.html`; `/assets/x.js` → `assets/x.js`; anything climbing out → `None`.
fn relative(path: &str) -> Option<String> {
    let trimmed = path.trim_start_matches('/');
    if trimmed.is_empty() {
        return Some("index.html".into());
    }
    let ok = Path::new(trimmed)
        .components()
        .all(|c| matches!(c, Component::Normal(_)));
    ok.then(|| trimmed.to_string())
}

fn mime(name: &str) -> &'static str {
    match name.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "wasm" => "application/wasm",
        "woff2" => "font/woff2",
        _ => "application/octet-stream",
    }
}

fn page(status: StatusCode, content_type: &'static str, body: Cow<'static, [u8]>) -> Response {
    let mut response = (status, body.into_owned()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    // The invite travels in the URL fragment, which browsers never send; no referrer either.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_inside_the_root_only() {
        assert_eq!(relative("/").as_deref(), Some("index.html"));
        assert_eq!(relative("/assets/a.js").as_deref(), Some("assets/a.js"));
        assert_eq!(relative("/../etc/passwd"), None);
        assert_eq!(relative("/assets/../../x"), None);
    }
}
