//! The colour filter looks that ship with Roomcast (assets/looks/, written by
//! scripts/make-looks as standard 512×512 PNG LUT images) and how a filter id is resolved.

use super::lut::{Lut3d, LutError};

/// Bundled looks: (id, PNG LUT image).
const LOOKS: &[(&str, &[u8])] = &[
    ("warm", include_bytes!("../../../../assets/looks/warm.png")),
    ("cool", include_bytes!("../../../../assets/looks/cool.png")),
    (
        "vivid",
        include_bytes!("../../../../assets/looks/vivid.png"),
    ),
    ("fade", include_bytes!("../../../../assets/looks/fade.png")),
    ("mono", include_bytes!("../../../../assets/looks/mono.png")),
];

/// The ids of the bundled looks, in the order a picker shows them.
pub const BUNDLED_LOOKS: [&str; 5] = ["warm", "cool", "vivid", "fade", "mono"];

/// The LUT for a filter id: a bundled look's name, or else the path of a PNG LUT image.
pub fn look_lut(id: &str) -> Result<Lut3d, LutError> {
    match LOOKS.iter().find(|(name, _)| *name == id) {
        Some((_, png)) => Lut3d::from_png(png),
        None => Lut3d::from_png_file(std::path::Path::new(id)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bundled_look_is_a_64_point_lut_that_changes_colour() {
        assert_eq!(BUNDLED_LOOKS.len(), LOOKS.len());
        for id in BUNDLED_LOOKS {
            let lut = look_lut(id).expect(id);
            assert_eq!(lut.size(), 64, "{id}");
            let skin = [0.85, 0.65, 0.55];
            let out = lut.sample(skin);
            let moved: f32 = out.iter().zip(skin).map(|(a, b)| (a - b).abs()).sum();
            assert!(moved > 0.03, "{id} leaves skin tones as they were: {out:?}");
        }
    }

    #[test]
    fn an_unknown_id_is_read_as_a_file_with_a_clear_error() {
        let e = look_lut("/no/such/look.png").expect_err("missing file");
        assert!(e.to_string().contains("/no/such/look.png"), "{e}");
    }
}
