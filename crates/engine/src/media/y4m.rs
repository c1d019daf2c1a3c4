//! 4:2:0 YUV4MPEG2: raw video files for test input and recording.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use super::files::{read_line, read_up_to};
use super::{MediaError, VideoFrame, VideoSink, VideoSource};

const Y4M_HINT: &str = "convert it with `ffmpeg -i in -pix_fmt yuv420p out.y4m`";

/// Reads pictures from a 4:2:0 YUV4MPEG2 file; a truncated last frame ends the source.
pub struct Y4mSource {
    reader: BufReader<File>,
    width: u32,
    height: u32,
    fps: u32,
}

impl Y4mSource {
    pub fn open(path: &Path) -> Result<Self, MediaError> {
        let file = File::open(path).map_err(|e| MediaError::io(path, e))?;
        let mut reader = BufReader::new(file);
        let bad = |what: &str| {
            MediaError::Format(format!(
                "{} is not a 4:2:0 YUV4MPEG2 file: {what}; {Y4M_HINT}",
                path.display()
            ))
        };
        let line = read_line(&mut reader, 256).ok_or_else(|| bad("no header line"))?;
        let mut tokens = line.split(' ');
        if tokens.next() != Some("YUV4MPEG2") {
            return Err(bad("missing YUV4MPEG2 signature"));
        }
        let (mut width, mut height, mut fps) = (0u32, 0u32, 30u32);
        for token in tokens.filter(|t| !t.is_empty()) {
            let (tag, value) = token.split_at(1);
            match tag {
                "W" => width = value.parse().map_err(|_| bad("bad width"))?,
                "H" => height = value.parse().map_err(|_| bad("bad height"))?,
                "F" => {
                    let (num, den) = value.split_once(':').ok_or_else(|| bad("bad frame rate"))?;
                    let num: u32 = num.parse().map_err(|_| bad("bad frame rate"))?;
                    let den: u32 = den.parse().map_err(|_| bad("bad frame rate"))?;
                    if num == 0 || den == 0 {
                        return Err(bad("zero frame rate"));
                    }
                    fps = ((num + den / 2) / den).max(1);
                }
                "C" if !matches!(value, "420" | "420jpeg" | "420paldv" | "420mpeg2") => {
                    return Err(bad(&format!("colour space C{value}")));
                }
                "I" if !matches!(value, "p" | "?") => {
                    return Err(bad("interlaced video"));
                }
                _ => {}
            }
        }
        if width == 0 || height == 0 || width % 2 != 0 || height % 2 != 0 {
            return Err(bad(&format!(
                "size {width}x{height}; need non-zero even dimensions"
            )));
        }
        if width > 8192 || height > 8192 {
            return Err(bad(&format!(
                "size {width}x{height} is larger than 8192x8192"
            )));
        }
        Ok(Self {
            reader,
            width,
            height,
            fps,
        })
    }
}

impl VideoSource for Y4mSource {
    fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    fn fps(&self) -> u32 {
        self.fps
    }

    fn next_frame(&mut self, capture_us: u64) -> Option<VideoFrame> {
        let line = read_line(&mut self.reader, 256)?;
        if !line.starts_with("FRAME") {
            return None;
        }
        let mut frame = VideoFrame::black(self.width, self.height);
        frame.capture_us = capture_us;
        for plane in [&mut frame.y, &mut frame.u, &mut frame.v] {
            if read_up_to(&mut self.reader, plane) < plane.len() {
                return None;
            }
        }
        Some(frame)
    }
}

/// A Y4M clip played in a loop (a camera for demos and for machines without one, as
/// Chromium's `--use-file-for-fake-video-capture`). The clip is read into memory once; at
/// most [`LoopingY4mSource::MAX_FRAMES`] frames are kept.
pub struct LoopingY4mSource {
    frames: Vec<VideoFrame>,
    next: usize,
    fps: u32,
}

impl LoopingY4mSource {
    pub const MAX_FRAMES: usize = 300;

    pub fn open(path: &Path) -> Result<Self, MediaError> {
        let mut clip = Y4mSource::open(path)?;
        let fps = clip.fps();
        let frames: Vec<VideoFrame> = std::iter::from_fn(|| clip.next_frame(0))
            .take(Self::MAX_FRAMES)
            .collect();
        if frames.is_empty() {
            return Err(MediaError::Format(format!(
                "{} has no frames; {Y4M_HINT}",
                path.display()
            )));
        }
        Ok(Self::from_frames(frames, fps))
    }

    /// Loops frames already in memory (at least one) at `fps`.
    pub fn from_frames(frames: Vec<VideoFrame>, fps: u32) -> Self {
        assert!(!frames.is_empty(), "a looping source needs a frame");
        Self {
            frames,
            next: 0,
            fps: fps.max(1),
        }
    }
}

impl VideoSource for LoopingY4mSource {
    fn size(&self) -> (u32, u32) {
        (self.frames[0].width, self.frames[0].height)
    }

    fn fps(&self) -> u32 {
        self.fps
    }

    fn next_frame(&mut self, capture_us: u64) -> Option<VideoFrame> {
        let mut f = self.frames[self.next].clone();
        self.next = (self.next + 1) % self.frames.len();
        f.capture_us = capture_us;
        Some(f)
    }
}

/// Writes YUV4MPEG2; the size comes from the first frame, frames of another size are
/// skipped and counted in [`Y4mSink::skipped`].
pub struct Y4mSink {
    path: PathBuf,
    writer: BufWriter<File>,
    fps: u32,
    size: Option<(u32, u32)>,
    skipped: u64,
}

impl Y4mSink {
    /// Writes `F30:1` unless [`Y4mSink::with_fps`] says otherwise.
    pub fn create(path: &Path) -> Result<Self, MediaError> {
        let file = File::create(path).map_err(|e| MediaError::io(path, e))?;
        Ok(Self {
            path: path.to_path_buf(),
            writer: BufWriter::new(file),
            fps: 30,
            size: None,
            skipped: 0,
        })
    }

    /// Frame rate for the header; only effective before the first frame.
    pub fn with_fps(mut self, fps: u32) -> Self {
        self.fps = fps.max(1);
        self
    }

    /// Frames dropped because their size differed from the first frame's.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }
}

impl VideoSink for Y4mSink {
    fn write(&mut self, frame: &VideoFrame) -> Result<(), MediaError> {
        frame.validate()?;
        let size = (frame.width, frame.height);
        let io = |e| MediaError::io(&self.path, e);
        match self.size {
            None => {
                let header = format!(
                    "YUV4MPEG2 W{} H{} F{}:1 Ip A1:1 C420jpeg\n",
                    frame.width, frame.height, self.fps
                );
                self.writer.write_all(header.as_bytes()).map_err(io)?;
                self.size = Some(size);
            }
            Some(s) if s != size => {
                self.skipped += 1;
                return Ok(());
            }
            Some(_) => {}
        }
        let w = &mut self.writer;
        (|| {
            w.write_all(b"FRAME\n")?;
            w.write_all(&frame.y)?;
            w.write_all(&frame.u)?;
            w.write_all(&frame.v)
        })()
        .map_err(|e| MediaError::io(&self.path, e))
    }

    fn finish(&mut self) -> Result<(), MediaError> {
        self.writer
            .flush()
            .map_err(|e| MediaError::io(&self.path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::files::testutil::{TempDir, format_error};
    use crate::media::{PatternSource, read_mark};

    #[test]
    fn y4m_round_trip_and_marks() {
        let dir = TempDir::new("y4m");
        let path = dir.0.join("pattern.y4m");
        let mut source = PatternSource::new(160, 90, 15);
        let frames: Vec<VideoFrame> = (0..5)
            .filter_map(|k| source.next_frame(k * 66_666))
            .collect();
        let mut sink = Y4mSink::create(&path).expect("create").with_fps(15);
        for f in &frames {
            sink.write(f).expect("write");
        }
        sink.write(&VideoFrame::black(64, 64))
            .expect("skipped, not an error");
        assert_eq!(sink.skipped(), 1);
        sink.finish().expect("finish");
        drop(sink);

        let mut back = Y4mSource::open(&path).expect("our own Y4M");
        assert_eq!((back.size(), back.fps()), ((160, 90), 15));
        for (k, f) in frames.iter().enumerate() {
            let got = back
                .next_frame(f.capture_us)
                .expect("a frame per frame written");
            assert_eq!((&got.y, &got.u, &got.v), (&f.y, &f.u, &f.v));
            assert_eq!(read_mark(&got).map(|m| m.counter), Some(k as u32));
        }
        assert!(back.next_frame(0).is_none());

        // A truncated last frame ends the source cleanly.
        let bytes = std::fs::read(&path).expect("written");
        let cut = dir.file("cut.y4m", &bytes[..bytes.len() - 100]);
        let mut back = Y4mSource::open(&cut).expect("header intact");
        assert_eq!(std::iter::from_fn(|| back.next_frame(0)).count(), 4);
    }

    #[test]
    fn bad_y4m_files_give_clear_errors() {
        let dir = TempDir::new("bady4m");
        for (name, bytes, needle) in [
            ("empty.y4m", &b""[..], "no header"),
            ("text.y4m", b"P6 320 240\n", "signature"),
            ("444.y4m", b"YUV4MPEG2 W320 H240 F30:1 C444\n", "C444"),
            ("odd.y4m", b"YUV4MPEG2 W321 H240 F30:1\n", "321x240"),
            ("nosize.y4m", b"YUV4MPEG2 F30:1\n", "0x0"),
            ("fps.y4m", b"YUV4MPEG2 W320 H240 F30:0\n", "zero frame rate"),
            ("huge.y4m", b"YUV4MPEG2 W99998 H240 F30:1\n", "larger than"),
        ] {
            let path = dir.file(name, bytes);
            let msg = format_error(Y4mSource::open(&path));
            assert!(
                msg.contains(needle) && msg.contains("ffmpeg"),
                "{name}: {msg}"
            );
        }
        let path = dir.file("paldv.y4m", b"YUV4MPEG2 W4 H2 F25:1 C420paldv\nFRAME\n");
        let mut source = Y4mSource::open(&path).expect("valid header");
        assert_eq!(source.fps(), 25);
        assert!(source.next_frame(0).is_none());
    }
}
