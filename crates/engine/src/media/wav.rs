//! 16-bit PCM WAV at 48 kHz, mono or stereo: what the engine records and plays back.

use std::fs::File;
use std::io::{BufReader, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::files::{read_exact, read_up_to, skip};
use super::{AudioFrame, AudioSink, AudioSource, FRAME_SAMPLES, MediaError, SAMPLE_RATE};

const WAV_HINT: &str = "convert it with `ffmpeg -i in.wav -ar 48000 -acodec pcm_s16le out.wav`";

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

/// A WAV file played over and over: a stand-in microphone for demos and tests (what
/// Chromium's `--use-file-for-fake-audio-capture` is to a browser).
pub struct LoopingWavSource {
    path: PathBuf,
    current: WavSource,
}

impl LoopingWavSource {
    pub fn open(path: &Path) -> Result<Self, MediaError> {
        Ok(Self {
            current: WavSource::open(path)?,
            path: path.to_path_buf(),
        })
    }
}

impl AudioSource for LoopingWavSource {
    fn channels(&self) -> u16 {
        self.current.channels
    }

    fn next_frame(&mut self, capture_us: u64) -> Option<AudioFrame> {
        if let Some(f) = self.current.next_frame(capture_us) {
            return Some(f);
        }
        // Opened once already: a file that vanished since ends the source.
        self.current = WavSource::open(&self.path).ok()?;
        self.current.next_frame(capture_us)
    }
}

/// Reads a whole 48 kHz 16-bit WAV file as mono (stereo is averaged).
pub fn read_wav_mono(path: &Path) -> Result<Vec<i16>, MediaError> {
    let mut source = WavSource::open(path)?;
    let channels = usize::from(source.channels);
    let mut out = Vec::new();
    while let Some(frame) = source.next_frame(0) {
        out.extend(
            frame
                .samples
                .chunks(channels)
                .map(|c| (c.iter().map(|&s| i32::from(s)).sum::<i32>() / channels as i32) as i16),
        );
    }
    Ok(out)
}

/// Writes mono 48 kHz samples as a 16-bit WAV file.
pub fn write_wav_mono(path: &Path, samples: &[i16]) -> Result<(), MediaError> {
    let mut sink = WavSink::create(path, 1)?;
    for chunk in samples.chunks(FRAME_SAMPLES) {
        sink.write(&AudioFrame {
            samples: chunk.to_vec(),
            channels: 1,
            sample_rate: SAMPLE_RATE,
            capture_us: 0,
        })?;
    }
    sink.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::ToneSource;
    use crate::media::files::testutil::{TempDir, format_error};

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
}
