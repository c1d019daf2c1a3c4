//! Finds the person segmentation model (MediaPipe's selfie segmentation, landscape, from its
//! npm package, which `npm ci` in ui/ installs) so the engine can embed it.
//! `ROOMCAST_SEGMENTATION_MODEL` points elsewhere. Without it the build works, and background
//! blur and virtual backgrounds say they are unavailable.

use std::path::PathBuf;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(roomcast_selfie_model)");
    println!("cargo:rerun-if-env-changed=ROOMCAST_SEGMENTATION_MODEL");
    let path = match std::env::var_os("ROOMCAST_SEGMENTATION_MODEL") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(
            "../../ui/node_modules/@mediapipe/selfie_segmentation/selfie_segmentation_landscape.tflite",
        ),
    };
    println!("cargo:rerun-if-changed={}", path.display());
    match path.canonicalize() {
        Ok(p) if p.is_file() => {
            println!("cargo:rustc-cfg=roomcast_selfie_model");
            println!("cargo:rustc-env=ROOMCAST_SELFIE_MODEL={}", p.display());
        }
        _ => println!(
            "cargo:warning=no segmentation model at {}: background effects are off in this build (run `npm ci` in ui/)",
            path.display()
        ),
    }
}
