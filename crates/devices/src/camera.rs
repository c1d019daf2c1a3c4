//! Cameras through nokhwa: the camera runs on its own thread (nokhwa cameras are not `Send`
//! on every platform), converts each frame to I420 and pushes it into the engine's push
//! source, the same pipeline a headless source feeds.

use std::sync::mpsc;

use nokhwa::pixel_format::RgbFormat;
use nokhwa::utils::{
    ApiBackend, CameraFormat, CameraIndex, FrameFormat, RequestedFormat, RequestedFormatType,
    Resolution,
};
use nokhwa::{Buffer, Camera};
use roomcast_engine::media::{VideoFrame, VideoSource, push_video_source};

use crate::convert::{nv12_to_i420, rgb_to_i420, yuyv_to_i420};
use crate::{DeviceError, DeviceInfo};

/// Consecutive failed reads after which the camera is treated as gone.
const MAX_READ_ERRORS: u32 = 30;

pub(crate) fn list() -> Vec<DeviceInfo> {
    match nokhwa::query(ApiBackend::Auto) {
        Ok(cameras) => cameras
            .iter()
            .enumerate()
            .map(|(i, c)| DeviceInfo {
                id: c.index().to_string(),
                name: c.human_name(),
                is_default: i == 0,
            })
            .collect(),
        Err(e) => {
            tracing::warn!("cannot list cameras: {e}");
            Vec::new()
        }
    }
}

fn find(id: Option<&str>) -> Result<(CameraIndex, String), DeviceError> {
    let cameras = list();
    let found = match id.filter(|s| !s.is_empty()) {
        None => cameras.first(),
        Some(id) => cameras.iter().find(|c| c.id == id || c.name == id),
    };
    let Some(camera) = found else {
        return Err(DeviceError::NotFound(match id {
            Some(id) if !id.is_empty() => {
                format!(
                    "No camera '{id}' found; it may have been unplugged — pick another in Settings"
                )
            }
            _ => "No camera found".into(),
        }));
    };
    let index = match camera.id.parse::<u32>() {
        Ok(n) => CameraIndex::Index(n),
        Err(_) => CameraIndex::String(camera.id.clone()),
    };
    Ok((index, camera.name.clone()))
}

/// Converts one captured frame to I420 (odd sizes lose a row/column).
fn to_i420(buffer: &Buffer) -> Result<VideoFrame, String> {
    let res = buffer.resolution();
    let (w, h) = (res.width(), res.height());
    let need = |bytes: usize| {
        if buffer.buffer().len() < bytes {
            Err(format!(
                "short frame: {} of {bytes} bytes",
                buffer.buffer().len()
            ))
        } else {
            Ok(())
        }
    };
    match buffer.source_frame_format() {
        FrameFormat::YUYV => {
            need(w as usize * h as usize * 2)?;
            Ok(yuyv_to_i420(buffer.buffer(), w, h))
        }
        FrameFormat::NV12 => {
            need(w as usize * h as usize * 3 / 2)?;
            Ok(nv12_to_i420(buffer.buffer(), w, h))
        }
        // MJPEG, RGB, BGR, grey: nokhwa decodes them to RGB.
        _ => {
            let rgb = buffer
                .decode_image::<RgbFormat>()
                .map_err(|e| e.to_string())?;
            let (w, h) = (rgb.width(), rgb.height());
            Ok(rgb_to_i420(&rgb.into_raw(), w, h))
        }
    }
}

/// Opens a camera by id (or name); `None` is the first camera. The camera picks the format
/// closest to `width`x`height` at `fps`; frames arrive in whatever size it chose.
pub fn open_camera(
    id: Option<&str>,
    width: u32,
    height: u32,
    fps: u32,
) -> Result<Box<dyn VideoSource>, DeviceError> {
    let (index, name) = find(id)?;
    let (ready_tx, ready_rx) = mpsc::channel();
    let thread_name = name.clone();
    std::thread::Builder::new()
        .name("roomcast-camera".into())
        .spawn(move || {
            let name = thread_name;
            let wanted = CameraFormat::new(Resolution::new(width, height), FrameFormat::MJPEG, fps);
            let format = RequestedFormat::new::<RgbFormat>(RequestedFormatType::Closest(wanted));
            let opened = Camera::new(index, format).and_then(|mut c| c.open_stream().map(|()| c));
            let mut camera = match opened {
                Ok(c) => c,
                Err(e) => {
                    let _ = ready_tx.send(Err(DeviceError::Unavailable(format!(
                        "Camera '{name}' is busy or cannot be opened: {e}"
                    ))));
                    return;
                }
            };
            let res = camera.resolution();
            let (source, pusher) = push_video_source(
                res.width() & !1,
                res.height() & !1,
                camera.frame_rate().max(1),
            );
            if ready_tx.send(Ok(source)).is_err() {
                return;
            }
            let mut errors = 0;
            loop {
                let frame = camera.frame().map_err(|e| e.to_string()).and_then(|b| to_i420(&b));
                match frame {
                    Ok(frame) => {
                        errors = 0;
                        // Err only once the engine dropped the source: stop capturing.
                        if pusher.push(frame).is_err() {
                            break;
                        }
                    }
                    Err(e) => {
                        errors += 1;
                        if errors >= MAX_READ_ERRORS {
                            tracing::warn!("camera '{name}' stopped delivering frames ({e}); camera capture ended");
                            break;
                        }
                    }
                }
            }
            let _ = camera.stop_stream();
        })
        .map_err(|e| DeviceError::Unavailable(format!("cannot start the camera thread: {e}")))?;
    match ready_rx.recv() {
        Ok(Ok(source)) => Ok(Box::new(source)),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(DeviceError::Unavailable(format!(
            "Camera '{name}' stopped while opening"
        ))),
    }
}
