//! Video effects (beauty, colour filters, encoder mirror): commands that validate and call the
//! engine (in a call) or the pre-join preview's chain (before one), and keep the effects in
//! the local store so they survive restarts. Imported filter images live in the data
//! directory's `filters/`, background pictures in `backgrounds/`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex as StdMutex};

use base64::Engine as _;
use roomcast_engine::video::{
    BUNDLED_LOOKS, Lut3d, VideoChain, VideoEffects, decode_picture, look_lut,
};
use serde::{Deserialize, Serialize};
use tauri::State;

use crate::{AppError, AppState, Result, lock_check};

/// Imported files are limited to this size (a 512×512 LUT is well under 1 MB; a photo for the
/// background a few MB).
const MAX_IMPORT_BYTES: usize = 20 << 20;

#[derive(Debug, Clone, Serialize)]
pub struct VideoFilter {
    /// What `VideoEffects.filter` takes: a bundled look's name or an imported file's path.
    pub id: String,
    pub name: String,
    /// `data:image/png;base64,…`: a small picture through the filter.
    pub thumbnail: String,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ImportKind {
    Filter,
    Background,
}

/// The chain the pre-join preview runs through (a call uses the engine's own).
pub fn check_chain(effects: VideoEffects) -> Arc<StdMutex<VideoChain>> {
    let chain = VideoChain::new(effects.clone()).unwrap_or_else(|e| {
        tracing::warn!("saved video effects cannot be used ({e}); starting without them");
        VideoChain::new(VideoEffects::default()).expect("the default effects need no file")
    });
    Arc::new(StdMutex::new(chain))
}

#[tauri::command]
pub async fn get_video_effects(state: State<'_, AppState>) -> Result<VideoEffects> {
    Ok(state.store.video_effects().await?)
}

/// Applies the effects first (a filter image that cannot be read is refused and nothing is
/// saved), then saves them.
#[tauri::command]
pub async fn set_video_effects(state: State<'_, AppState>, effects: VideoEffects) -> Result<()> {
    let apply = effects.clone();
    if let Some(call) = state.call.lock().await.as_ref() {
        call.engine.set_video_effects(apply)?;
    } else {
        let chain = lock_check(&state).video_chain.clone();
        blocking(move || {
            roomcast_engine::stats::lock(&chain)
                .set_effects(apply)
                .map_err(|e| AppError::input(e.to_string()))
        })
        .await?;
    }
    state.store.save_video_effects(&effects).await?;
    Ok(())
}

#[tauri::command]
pub async fn list_video_filters(state: State<'_, AppState>) -> Result<Vec<VideoFilter>> {
    let dir = state.data_dir.join("filters");
    blocking(move || {
        let mut filters: Vec<VideoFilter> = BUNDLED_LOOKS
            .iter()
            .filter_map(|id| filter_entry(id, id))
            .collect();
        let mut imported: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        imported.sort();
        filters.extend(imported.iter().filter_map(|p| {
            let name = p.file_stem()?.to_string_lossy().into_owned();
            filter_entry(&p.to_string_lossy(), &name)
        }));
        Ok(filters)
    })
    .await
}

/// Keeps an imported file: a filter image (checked to be a LUT; returns its entry) or a
/// background picture (returns its path).
#[tauri::command]
pub async fn import_video_file(
    state: State<'_, AppState>,
    kind: ImportKind,
    file_name: String,
    data: String,
) -> Result<serde_json::Value> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data.as_bytes())
        .map_err(|_| AppError::input("The file did not arrive whole (bad base64); try again."))?;
    if bytes.len() > MAX_IMPORT_BYTES {
        return Err(AppError::input(format!(
            "{file_name} is {} MB; pick a file under {} MB.",
            bytes.len() >> 20,
            MAX_IMPORT_BYTES >> 20
        )));
    }
    let dir = state.data_dir.join(match kind {
        ImportKind::Filter => "filters",
        ImportKind::Background => "backgrounds",
    });
    let name = safe_name(&file_name);
    blocking(move || {
        match kind {
            ImportKind::Filter => Lut3d::from_png(&bytes).map(drop).map_err(|e| e.to_string()),
            ImportKind::Background => decode_picture(&bytes).map(drop),
        }
        .map_err(|e| AppError::input(format!("{file_name}: {e}")))?;
        let path = dir.join(&name);
        std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::write(&path, &bytes))
            .map_err(|e| AppError::Store {
                message: format!("Cannot keep {}: {e}", path.display()),
            })?;
        let id = path.to_string_lossy().into_owned();
        Ok(match kind {
            ImportKind::Filter => {
                let stem = Path::new(&name).file_stem().map(|s| s.to_string_lossy());
                let entry = filter_entry(&id, &stem.unwrap_or_default()).ok_or_else(|| {
                    AppError::input(format!("{file_name} cannot be used as a filter"))
                })?;
                serde_json::to_value(entry).unwrap_or_default()
            }
            ImportKind::Background => serde_json::Value::String(id),
        })
    })
    .await
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| AppError::Internal {
            message: e.to_string(),
        })?
}

/// The last path component, with nothing that could leave the directory.
fn safe_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last
        .chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .trim_start_matches('.')
        .to_string();
    if cleaned.is_empty() {
        "file".into()
    } else {
        cleaned
    }
}

fn filter_entry(id: &str, name: &str) -> Option<VideoFilter> {
    let lut = look_lut(id)
        .inspect_err(|e| tracing::warn!("filter {name} skipped: {e}"))
        .ok()?;
    let (w, h) = (64u32, 40u32);
    let rgb: Vec<u8> = swatch(w, h)
        .into_iter()
        .flat_map(|c| lut.sample(c).map(|v| (v * 255.0).round() as u8))
        .collect();
    let png = roomcast_devices::thumbnail::png_rgb(&rgb, w, h).ok()?;
    Some(VideoFilter {
        id: id.to_string(),
        name: name.to_string(),
        thumbnail: format!(
            "data:image/png;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(png)
        ),
    })
}

/// A small scene that shows what a look does: sky, a face-coloured disc, foliage.
fn swatch(w: u32, h: u32) -> Vec<[f32; 3]> {
    let mut out = Vec::with_capacity((w * h) as usize);
    for y in 0..h {
        for x in 0..w {
            let (fx, fy) = (x as f32 / w as f32, y as f32 / h as f32);
            let face = (fx - 0.5).powi(2) * 2.5 + (fy - 0.5).powi(2) < 0.06;
            out.push(if face {
                [0.88, 0.67, 0.55]
            } else if fy < 0.6 {
                [0.45 + 0.3 * fy, 0.65 + 0.2 * fy, 0.95 - 0.2 * fx]
            } else {
                [0.25 + 0.2 * fx, 0.5 - 0.2 * (fy - 0.6), 0.2]
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bundled_look_has_a_thumbnail_and_names_stay_in_their_directory() {
        for id in BUNDLED_LOOKS {
            let f = filter_entry(id, id).expect(id);
            assert!(f.thumbnail.starts_with("data:image/png;base64,"), "{id}");
        }
        assert_eq!(safe_name("../../etc/passwd"), "passwd");
        assert_eq!(safe_name("C:\\x\\..\\look.png"), "look.png");
        assert_eq!(safe_name("..."), "file");
    }
}
