//! WAV and Y4M files as sources and sinks, with small parsers of our own.
//!
//! Only what the engine produces and consumes is accepted: 16-bit PCM WAV at 48 kHz (mono
//! or stereo) and 4:2:0 YUV4MPEG2. Anything else gets an error saying how to convert it.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::{
    AudioFrame, AudioSink, AudioSource, FRAME_SAMPLES, MediaError, SAMPLE_RATE, VideoFrame,
    VideoSink, VideoSource,
};

const WAV_HINT: &str = "convert it with `ffmpeg -i in.wav -ar 48000 -acodec pcm_s16le out.wav`";
const Y4M_HINT: &str = "convert it with `ffmpeg -i in -pix_fmt yuv420p out.y4m`";

/// Reads 20 ms frames from a 48 kHz 16-bit PCM WAV file; ends at EOF.
pub struct WavSource {
    reader: BufReader<File>,
    channels: u16,
    /// Bytes of sample data not read yet.
    remaining: u64,
}

impl WavSource {
    pub fn open(path: &Path) -> Result<Self, MediaError> {
        let file = File::open(path).map_err(|e| MediaError::io(path, e))?;
        let mut reader = BufReader::new(file);
        let bad = |what: &str| {
            MediaError::Format(format!(
                "{} is not a 48 kHz 16-bit PCM WAV: {what}; {WAV_HINT}",
                path.display()
            ))
        };
        let mut header = [0u8; 12];
        read_exact(&mut reader, &mut header, path)?
            .then_some(())
            .ok_or_else(|| bad("file is shorter than a RIFF header"))?;
        if &header[..4] != b"RIFF" || &header[8..] != b"WAVE" {
            return Err(bad("no RIFF/WAVE header"));
        }
        let mut format: Option<(u16, u16, u32, u16)> = None;
        loop {
            let mut chunk = [0u8; 8];
            if !read_exact(&mut reader, &mut chunk, path)? {
                return Err(bad("no `data` chunk"));
            }
            let size = u32::from_le_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]);
            match &chunk[..4] {
                b"fmt " => {
                    if !(16..=1024).contains(&size) {
                        return Err(bad(&format!("`fmt ` chunk of {size} bytes")));
                    }
                    let mut fmt = vec![0u8; size as usize];
                    if !read_exact(&mut reader, &mut fmt, path)? {
                        return Err(bad("truncated `fmt ` chunk"));
                    }
                    let u16_at = |i: usize| u16::from_le_bytes([fmt[i], fmt[i + 1]]);
                    let rate = u32::from_le_bytes([fmt[4], fmt[5], fmt[6], fmt[7]]);
                    format = Some((u16_at(0), u16_at(2), rate, u16_at(14)));
                    if size % 2 == 1 {
                        skip(&mut reader, 1, path)?;
                    }
                }
                b"data" => {
                    let Some((tag, channels, rate, bits)) = format else {
                        return Err(bad("`data` chunk before `fmt ` chunk"));
                    };
                    // 0xFFFE is WAVE_FORMAT_EXTENSIBLE, which ffmpeg writes for PCM too.
                    if tag != 1 && tag != 0xFFFE {
                        return Err(bad(&format!("format tag {tag} is not PCM (1)")));
                    }
                    if bits != 16 {
                        return Err(bad(&format!("{bits} bits per sample")));
                    }
                    if rate != SAMPLE_RATE {
                        return Err(bad(&format!("sample rate is {rate} Hz")));
                    }
                    if channels != 1 && channels != 2 {
                        return Err(bad(&format!("{channels} channels; use mono or stereo")));
                    }
                    return Ok(Self {
                        reader,
                        channels,
                        remaining: u64::from(size),
                    });
                }
                _ => skip(&mut reader, u64::from(size) + u64::from(size % 2), path)?,
            }
        }
    }
}

impl AudioSource for WavSource {
    fn channels(&self) -> u16 {
        self.channels
    }

    /// The last, partial frame is padded with silence.
    fn next_frame(&mut self, capture_us: u64) -> Option<AudioFrame> {
        let want = FRAME_SAMPLES * usize::from(self.channels) * 2;
        let take = want.min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        if take < 2 * usize::from(self.channels) {
            return None;
        }
        let mut bytes = vec![0u8; want];
        let got = read_up_to(&mut self.reader, &mut bytes[..take]);
        self.remaining = self.remaining.saturating_sub(want as u64);
        if got < 2 * usize::from(self.channels) {
            self.remaining = 0;
            return None;
        }
        bytes[got..].fill(0);
        let samples = bytes
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect();
        Some(AudioFrame {
            samples,
            channels: self.channels,
            sample_rate: SAMPLE_RATE,
            capture_us,
        })
    }
}

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

/// Writes 16-bit PCM WAV; the header's sizes are fixed in `finish` (best effort on drop).
pub struct WavSink {
    path: PathBuf,
    writer: Option<BufWriter<File>>,
    channels: u16,
    data_bytes: u32,
}

impl WavSink {
    pub fn create(path: &Path, channels: u16) -> Result<Self, MediaError> {
        if channels == 0 || channels > 2 {
            return Err(MediaError::InvalidFrame(format!(
                "WAV sink for {channels} channels; use 1 or 2"
            )));
        }
        let file = File::create(path).map_err(|e| MediaError::io(path, e))?;
        let mut sink = Self {
            path: path.to_path_buf(),
            writer: Some(BufWriter::new(file)),
            channels,
            data_bytes: 0,
        };
        let header = sink.header();
        sink.with_writer(|w| w.write_all(&header))?;
        Ok(sink)
    }

    fn header(&self) -> [u8; 44] {
        let block = self.channels * 2;
        let mut h = [0u8; 44];
        h[..4].copy_from_slice(b"RIFF");
        h[4..8].copy_from_slice(&self.data_bytes.saturating_add(36).to_le_bytes());
        h[8..16].copy_from_slice(b"WAVEfmt ");
        h[16..20].copy_from_slice(&16u32.to_le_bytes());
        h[20..22].copy_from_slice(&1u16.to_le_bytes());
        h[22..24].copy_from_slice(&self.channels.to_le_bytes());
        h[24..28].copy_from_slice(&SAMPLE_RATE.to_le_bytes());
        h[28..32].copy_from_slice(&(SAMPLE_RATE * u32::from(block)).to_le_bytes());
        h[32..34].copy_from_slice(&block.to_le_bytes());
        h[34..36].copy_from_slice(&16u16.to_le_bytes());
        h[36..40].copy_from_slice(b"data");
        h[40..44].copy_from_slice(&self.data_bytes.to_le_bytes());
        h
    }

    fn with_writer(
        &mut self,
        f: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
    ) -> Result<(), MediaError> {
        let writer = self.writer.as_mut().ok_or(MediaError::Closed)?;
        f(writer).map_err(|e| MediaError::io(&self.path, e))
    }

    fn fix_header(&mut self) -> Result<(), MediaError> {
        let header = self.header();
        self.with_writer(|w| {
            w.flush()?;
            let end = w.stream_position()?;
            w.seek(SeekFrom::Start(0))?;
            w.write_all(&header)?;
            w.seek(SeekFrom::Start(end))?;
            w.flush()
        })
    }
}

impl AudioSink for WavSink {
    fn write(&mut self, frame: &AudioFrame) -> Result<(), MediaError> {
        if frame.channels != self.channels || frame.sample_rate != SAMPLE_RATE {
            return Err(MediaError::InvalidFrame(format!(
                "{} channels at {} Hz written to a {}-channel 48 kHz WAV sink",
                frame.channels, frame.sample_rate, self.channels
            )));
        }
        let bytes: Vec<u8> = frame.samples.iter().flat_map(|s| s.to_le_bytes()).collect();
        let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        // The RIFF size field is 32-bit: refuse to write a header that would lie.
        if self
            .data_bytes
            .checked_add(len)
            .and_then(|n| n.checked_add(36))
            .is_none()
        {
            return Err(MediaError::Format(format!(
                "{} reached the 4 GiB WAV limit; start a new file",
                self.path.display()
            )));
        }
        self.with_writer(|w| w.write_all(&bytes))?;
        self.data_bytes += len;
        Ok(())
    }

    fn finish(&mut self) -> Result<(), MediaError> {
        if self.writer.is_none() {
            return Ok(());
        }
        let result = self.fix_header();
        self.writer = None;
        result
    }
}

impl Drop for WavSink {
    fn drop(&mut self) {
        if self.writer.is_some()
            && let Err(e) = self.fix_header()
        {
            tracing::warn!("could not finish WAV file: {e}");
        }
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

/// Ok(false) on a clean EOF before `buf` is full.
fn read_exact(reader: &mut impl Read, buf: &mut [u8], path: &Path) -> Result<bool, MediaError> {
    match reader.read_exact(buf) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(MediaError::io(path, e)),
    }
}

fn skip(reader: &mut impl Read, n: u64, path: &Path) -> Result<(), MediaError> {
    std::io::copy(&mut reader.take(n), &mut std::io::sink())
        .map_err(|e| MediaError::io(path, e))?;
    Ok(())
}

/// Reads as much as is available into `buf`; read errors end the stream like EOF does.
fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> usize {
    let mut got = 0;
    while got < buf.len() {
        match reader.read(&mut buf[got..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    got
}

/// One `\n`-terminated ASCII line of at most `max` bytes; None at EOF or on garbage.
fn read_line(reader: &mut impl Read, max: usize) -> Option<String> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        if read_up_to(reader, &mut byte) == 0 {
            return None;
        }
        if byte[0] == b'\n' {
            return String::from_utf8(line).ok();
        }
        if line.len() == max {
            return None;
        }
        line.push(byte[0]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::{PatternSource, ToneSource, read_mark};

    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> Self {
            let dir = std::env::temp_dir().join(format!("roomcast-{name}-{}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("temp dir is writable");
            Self(dir)
        }
        fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
            let path = self.0.join(name);
            std::fs::write(&path, bytes).expect("temp dir is writable");
            path
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn format_error(result: Result<impl Sized, MediaError>) -> String {
        match result {
            Err(MediaError::Format(msg)) => msg,
            Err(e) => panic!("expected a format error, got {e}"),
            Ok(_) => panic!("expected a format error, got a source"),
        }
    }

    #[test]
    fn wav_round_trip_mono_and_stereo() {
        let dir = TempDir::new("wav");
        for channels in [1u16, 2] {
            let path = dir.0.join(format!("tone{channels}.wav"));
            let mut source = ToneSource::new(channels);
            let frames: Vec<AudioFrame> = (0..10)
                .filter_map(|k| source.next_frame(k * 20_000))
                .collect();
            {
                let mut sink = WavSink::create(&path, channels).expect("create");
                for f in &frames {
                    sink.write(f).expect("write");
                }
                sink.finish().expect("finish");
            }
            let mut back = WavSource::open(&path).expect("our own WAV");
            assert_eq!(back.channels(), channels);
            for f in &frames {
                let got = back
                    .next_frame(f.capture_us)
                    .expect("a frame per frame written");
                assert_eq!(got.samples, f.samples);
            }
            assert!(back.next_frame(0).is_none());
        }
    }

    #[test]
    fn wav_header_is_fixed_on_drop() {
        let dir = TempDir::new("wavdrop");
        let path = dir.0.join("dropped.wav");
        {
            let mut sink = WavSink::create(&path, 1).expect("create");
            let frame = ToneSource::new(1).next_frame(0).expect("tone");
            sink.write(&frame).expect("write");
        }
        let bytes = std::fs::read(&path).expect("written");
        assert_eq!(bytes.len(), 44 + FRAME_SAMPLES * 2);
        assert_eq!(
            u32::from_le_bytes([bytes[40], bytes[41], bytes[42], bytes[43]]),
            (FRAME_SAMPLES * 2) as u32
        );
    }

    #[test]
    fn bad_wav_files_give_clear_errors() {
        let dir = TempDir::new("badwav");
        let mut sink_path = dir.0.join("ok.wav");
        {
            let mut sink = WavSink::create(&sink_path, 1).expect("create");
            sink.finish().expect("finish");
        }
        let good = std::fs::read(&sink_path).expect("written");
        let mut at_44k = good.clone();
        at_44k[24..28].copy_from_slice(&44_100u32.to_le_bytes());
        let mut eight_bit = good.clone();
        eight_bit[34] = 8;
        let mut float = good.clone();
        float[20] = 3;
        for (name, bytes, needle) in [
            ("empty.wav", &b""[..], "shorter than a RIFF header"),
            ("text.wav", b"hello world, not a wav", "no RIFF/WAVE header"),
            ("44k.wav", &at_44k, "44100 Hz"),
            ("8bit.wav", &eight_bit, "8 bits"),
            ("float.wav", &float, "not PCM"),
            ("cut.wav", &good[..30], "truncated"),
        ] {
            sink_path = dir.file(name, bytes);
            let msg = format_error(WavSource::open(&sink_path));
            assert!(
                msg.contains(needle) && msg.contains("ffmpeg"),
                "{name}: {msg}"
            );
        }
        assert!(matches!(
            WavSource::open(&dir.0.join("missing.wav")),
            Err(MediaError::Io { .. })
        ));
    }

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
