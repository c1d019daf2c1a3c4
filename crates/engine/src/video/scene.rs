//! A scene whose person mask is known, for the segmentation tests and benchmarks: the
//! astronaut portrait from scikit-image's sample images, cut out along an outline traced by
//! hand, over the brick texture from the same package. `scripts/install-test-deps` unpacks both
//! into `target/test-assets/` (or set `ROOMCAST_TEST_ASSETS`).

use std::path::PathBuf;

use super::background::rgb_to_i420;
use super::lut::decode_rgb;
use super::testsig::Region;
use crate::media::VideoFrame;

/// The person's outline in `astronaut.png` (512×512), head and shoulders down to row 340,
/// above the helmet she holds.
const OUTLINE: &[(f32, f32)] = &[
    (230., 15.),
    (267., 25.),
    (287., 43.),
    (298., 67.),
    (302., 87.),
    (298., 110.),
    (287., 130.),
    (273., 137.),
    (265., 148.),
    (250., 160.),
    (252., 170.),
    (257., 175.),
    (277., 190.),
    (293., 207.),
    (302., 223.),
    (303., 233.),
    (317., 240.),
    (333., 253.),
    (345., 270.),
    (352., 283.),
    (357., 300.),
    (362., 327.),
    (363., 340.),
    (29., 340.),
    (33., 320.),
    (38., 297.),
    (43., 277.),
    (53., 257.),
    (63., 243.),
    (80., 230.),
    (100., 217.),
    (115., 207.),
    (113., 187.),
    (133., 170.),
    (157., 152.),
    (175., 146.),
    (180., 140.),
    (177., 127.),
    (170., 120.),
    (160., 107.),
    (155., 87.),
    (155., 67.),
    (167., 50.),
    (193., 32.),
];
/// The cut-out's rows in the portrait.
const CUT_ROWS: f32 = 340.0;
/// Her cheeks and forehead in `astronaut.png`: an ellipse (centre, radii) without the eyes
/// and the mouth (boxes: x0, y0, x1, y1).
const FACE: ((f32, f32), (f32, f32)) = ((226.0, 112.0), (34.0, 38.0));
const NOT_SKIN: [(f32, f32, f32, f32); 3] = [
    (192.0, 90.0, 216.0, 106.0),
    (230.0, 90.0, 254.0, 106.0),
    (203.0, 130.0, 252.0, 150.0),
];

/// Whether a point of the portrait is plain skin, or eyes and mouth.
fn face(x: f32, y: f32) -> Option<bool> {
    let ((cx, cy), (rx, ry)) = FACE;
    if ((x - cx) / rx).powi(2) + ((y - cy) / ry).powi(2) > 1.0 {
        return None;
    }
    Some(
        !NOT_SKIN
            .iter()
            .any(|&(x0, y0, x1, y1)| (x0..x1).contains(&x) && (y0..y1).contains(&y)),
    )
}

pub struct Scene {
    pub frame: VideoFrame,
    /// Exactly the person's pixels.
    pub person: Vec<bool>,
    /// [`Region::Skin`] (her cheeks and forehead), [`Region::Person`], [`Region::Outside`] or
    /// (within a few pixels of the outline, her eyes and mouth) [`Region::Other`].
    pub regions: Vec<Region>,
}

/// A sample image from `target/test-assets/`.
pub fn test_asset(name: &str) -> Result<(u32, u32, Vec<u8>), String> {
    let dir = std::env::var_os("ROOMCAST_TEST_ASSETS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/test-assets")
        });
    let path = dir.join(name);
    let bytes = std::fs::read(&path).map_err(|e| {
        format!(
            "{}: {e} (scripts/install-test-deps unpacks the sample images)",
            path.display()
        )
    })?;
    decode_rgb(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}

fn inside(x: f32, y: f32) -> bool {
    let mut inside = false;
    let mut j = OUTLINE.len() - 1;
    for (i, &(xi, yi)) in OUTLINE.iter().enumerate() {
        let (xj, yj) = OUTLINE[j];
        if (yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi {
            inside = !inside;
        }
        j = i;
    }
    inside
}

/// The person at the bottom centre of a `w`×`h` frame (even sizes), 94 % of its height,
/// over a brick wall tinted blue-grey (away from skin tones, so beauty leaves it alone).
pub fn person_scene(w: u32, h: u32) -> Result<Scene, String> {
    let (aw, _, astro) = test_asset("astronaut.png")?;
    let (bw, bh, brick) = test_asset("brick.png")?;
    let (wu, hu) = (w as usize, h as usize);
    let scale = h as f32 * 0.94 / CUT_ROWS;
    let (ox, oy) = (
        (w as f32 - aw as f32 * scale) / 2.0,
        h as f32 - CUT_ROWS * scale,
    );
    let mut rgb = vec![0u8; wu * hu * 3];
    let mut person = vec![false; wu * hu];
    let mut skin = vec![None; wu * hu];
    for y in 0..hu {
        for x in 0..wu {
            let (sx, sy) = ((x as f32 + 0.5 - ox) / scale, (y as f32 + 0.5 - oy) / scale);
            let px = &mut rgb[(y * wu + x) * 3..][..3];
            if sx >= 0.0 && sy >= 0.0 && inside(sx, sy) {
                person[y * wu + x] = true;
                skin[y * wu + x] = face(sx, sy);
                let at = (sy as usize * aw as usize + (sx as usize).min(aw as usize - 1)) * 3;
                px.copy_from_slice(&astro[at..at + 3]);
            } else {
                let (bx, by) = (x * bw as usize / wu, y * bh as usize / hu);
                let g = f32::from(brick[(by * bw as usize + bx) * 3]);
                px.copy_from_slice(&[g * 0.7, g * 0.8, g * 0.95].map(|c| c as u8));
            }
        }
    }
    let frame = rgb_to_i420(wu, hu, wu, &rgb);
    let margin = (h as usize / 60).max(2) as isize;
    let regions = (0..wu * hu)
        .map(|i| {
            let (x, y) = ((i % wu) as isize, (i / wu) as isize);
            let me = person[i];
            let near = [(-margin, 0), (margin, 0), (0, -margin), (0, margin)]
                .iter()
                .any(|&(dx, dy)| {
                    let (nx, ny) = (x + dx, y + dy);
                    nx >= 0
                        && ny >= 0
                        && (nx as usize) < wu
                        && (ny as usize) < hu
                        && person[ny as usize * wu + nx as usize] != me
                });
            match (near, me, skin[i]) {
                (true, _, _) | (_, _, Some(false)) => Region::Other,
                (false, true, Some(true)) => Region::Skin,
                (false, true, None) => Region::Person,
                (false, false, _) => Region::Outside,
            }
        })
        .collect();
    Ok(Scene {
        frame,
        person,
        regions,
    })
}
