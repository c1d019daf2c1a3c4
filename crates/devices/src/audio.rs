//! Microphones and speakers through cpal. Each cpal stream lives on its own thread (streams
//! are not `Send` on every platform); the data callbacks only convert and hand samples to the
//! sans-IO [`MicFramer`], or pull them through the [`Renderer`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{FromSample, SampleFormat, SizedSample};
use roomcast_engine::audio::AudioPull;
use roomcast_engine::media::{
    AudioFrame, AudioPusher, AudioSource, PushAudioSource, now_us, push_audio_source,
};

use crate::render::{Renderer, TestTone};
use crate::resample::MicFramer;
use crate::{DeviceError, DeviceInfo};

/// A capture device that delivers nothing for this long is treated as gone.
const STALL_US: u64 = 2_000_000;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Input,
    Output,
}

impl Direction {
    fn noun(self) -> &'static str {
        match self {
            Self::Input => "microphone",
            Self::Output => "speaker",
        }
    }
}

fn device_id(d: &cpal::Device) -> Option<String> {
    d.id().ok().map(|id| id.to_string())
}

fn device_name(d: &cpal::Device) -> String {
    d.description()
        .map(|desc| desc.name().to_string())
        .unwrap_or_else(|_| d.to_string())
}

fn devices(dir: Direction) -> Result<Vec<cpal::Device>, cpal::Error> {
    let host = cpal::default_host();
    Ok(match dir {
        Direction::Input => host.input_devices()?.collect(),
        Direction::Output => host.output_devices()?.collect(),
    })
}

fn default_device(dir: Direction) -> Option<cpal::Device> {
    let host = cpal::default_host();
    match dir {
        Direction::Input => host.default_input_device(),
        Direction::Output => host.default_output_device(),
    }
}

pub(crate) fn list(dir_is_input: bool) -> Vec<DeviceInfo> {
    let dir = if dir_is_input {
        Direction::Input
    } else {
        Direction::Output
    };
    let default = default_device(dir).and_then(|d| device_id(&d));
    match devices(dir) {
        Ok(list) => list
            .iter()
            .filter_map(|d| {
                let id = device_id(d)?;
                Some(DeviceInfo {
                    is_default: default.as_deref() == Some(id.as_str()),
                    name: device_name(d),
                    id,
                })
            })
            .collect(),
        Err(e) => {
            tracing::warn!("cannot list {}s: {e}", dir.noun());
            Vec::new()
        }
    }
}

/// The device with this id (or name), or the default one.
fn find(dir: Direction, id: Option<&str>) -> Result<cpal::Device, DeviceError> {
    let Some(id) = id.filter(|s| !s.is_empty()) else {
        return default_device(dir)
            .ok_or_else(|| DeviceError::NotFound(format!("No {} found", dir.noun())));
    };
    devices(dir)
        .map_err(|e| DeviceError::Unavailable(format!("Cannot list {}s: {e}", dir.noun())))?
        .into_iter()
        .find(|d| device_id(d).as_deref() == Some(id) || device_name(d) == id)
        .ok_or_else(|| {
            DeviceError::NotFound(format!(
                "No {} '{id}' found; it may have been unplugged — pick another in Settings",
                dir.noun()
            ))
        })
}

fn busy(dir: Direction, name: &str, e: impl std::fmt::Display) -> DeviceError {
    DeviceError::Unavailable(format!(
        "{} '{name}' cannot be opened: {e}",
        capitalised(dir.noun())
    ))
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// Owns a cpal stream on its own thread; dropping it stops the stream.
struct StreamThread {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl StreamThread {
    /// Builds and plays the stream on a new thread; `watchdog` runs every 250 ms while it
    /// plays.
    fn spawn(
        build: impl FnOnce() -> Result<cpal::Stream, DeviceError> + Send + 'static,
        watchdog: impl Fn() + Send + 'static,
    ) -> Result<Self, DeviceError> {
        let (ready_tx, ready_rx) = mpsc::channel();
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("roomcast-audio-device".into())
            .spawn(move || {
                let stream = match build() {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                if let Err(e) = stream.play() {
                    let _ = ready_tx.send(Err(DeviceError::Unavailable(format!(
                        "The audio device does not start: {e}"
                    ))));
                    return;
                }
                let _ = ready_tx.send(Ok(()));
                while let Err(mpsc::RecvTimeoutError::Timeout) =
                    stop_rx.recv_timeout(Duration::from_millis(250))
                {
                    watchdog();
                }
            })
            .map_err(|e| DeviceError::Unavailable(format!("cannot start an audio thread: {e}")))?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(Self {
                stop: Some(stop_tx),
                thread: Some(thread),
            }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(DeviceError::Unavailable(
                "the audio device thread ended while opening the device".into(),
            )),
        }
    }
}

impl Drop for StreamThread {
    fn drop(&mut self) {
        self.stop.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The data behind these locks stays consistent even if a callback panicked.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A microphone as an engine source: 48 kHz mono 20 ms frames through the push queue.
struct Microphone {
    inner: PushAudioSource,
    _stream: StreamThread,
}

impl AudioSource for Microphone {
    fn channels(&self) -> u16 {
        self.inner.channels()
    }

    fn next_frame(&mut self, capture_us: u64) -> Option<AudioFrame> {
        self.inner.next_frame(capture_us)
    }
}

/// Opens a microphone by id (or name); `None` is the system default. Frames are 48 kHz
/// mono whatever the device's native format.
pub fn open_microphone(id: Option<&str>) -> Result<Box<dyn AudioSource>, DeviceError> {
    let device = find(Direction::Input, id)?;
    let name = device_name(&device);
    let config = device
        .default_input_config()
        .map_err(|e| busy(Direction::Input, &name, e))?;
    let (source, pusher) = push_audio_source(1);
    // Taken (dropped) when the device fails or stalls, so the engine's capture thread sees
    // the source end instead of waiting forever.
    let pusher = Arc::new(Mutex::new(Some(pusher)));
    let last_data = Arc::new(AtomicU64::new(now_us()));
    let (p, l, n) = (pusher.clone(), last_data.clone(), name.clone());
    let build = move || {
        let format = config.sample_format();
        let stream_config = config.config();
        let framer = MicFramer::new(stream_config.sample_rate, stream_config.channels);
        let r = match format {
            SampleFormat::F32 => build_input::<f32>(&device, stream_config, framer, p, l, &n),
            SampleFormat::I16 => build_input::<i16>(&device, stream_config, framer, p, l, &n),
            SampleFormat::I32 => build_input::<i32>(&device, stream_config, framer, p, l, &n),
            SampleFormat::U16 => build_input::<u16>(&device, stream_config, framer, p, l, &n),
            SampleFormat::U8 => build_input::<u8>(&device, stream_config, framer, p, l, &n),
            SampleFormat::F64 => build_input::<f64>(&device, stream_config, framer, p, l, &n),
            other => {
                return Err(DeviceError::Unavailable(format!(
                    "Microphone '{n}' delivers {other} samples, which Roomcast does not read"
                )));
            }
        };
        r.map_err(|e| busy(Direction::Input, &n, e))
    };
    let watchdog = move || {
        if now_us().saturating_sub(last_data.load(Ordering::Relaxed)) > STALL_US
            && lock(&pusher).take().is_some()
        {
            tracing::warn!(
                "microphone '{name}' stopped delivering audio; microphone capture ended"
            );
        }
    };
    let stream = StreamThread::spawn(build, watchdog)?;
    Ok(Box::new(Microphone {
        inner: source,
        _stream: stream,
    }))
}

fn build_input<T>(
    device: &cpal::Device,
    config: cpal::StreamConfig,
    mut framer: MicFramer,
    pusher: Arc<Mutex<Option<AudioPusher>>>,
    last_data: Arc<AtomicU64>,
    name: &str,
) -> Result<cpal::Stream, cpal::Error>
where
    T: SizedSample,
    f32: FromSample<T>,
{
    let mut buf = Vec::new();
    let on_error_pusher = pusher.clone();
    let name = name.to_string();
    device.build_input_stream::<T, _, _>(
        config,
        move |data: &[T], _| {
            last_data.store(now_us(), Ordering::Relaxed);
            buf.clear();
            buf.extend(data.iter().map(|&s| f32::from_sample_(s)));
            let guard = lock(&pusher);
            if let Some(p) = guard.as_ref() {
                framer.feed(&buf, |frame| {
                    // Err(Closed) only once the source is dropped, which stops this stream.
                    let _ = p.push(frame);
                });
            }
        },
        move |e| {
            if lock(&on_error_pusher).take().is_some() {
                tracing::warn!("microphone '{name}' failed: {e}; microphone capture ended");
            }
        },
        None,
    )
}

/// What the speaker plays; `None` is silence (between calls).
type Source = Arc<Mutex<Option<Arc<dyn AudioPull>>>>;

/// An output device whose callback pulls the engine's playout (the one audio clock).
pub struct Playout {
    source: Source,
    name: String,
    _stream: StreamThread,
}

impl Playout {
    /// Opens a speaker by id (or name); `None` is the system default. It plays silence
    /// until [`Playout::attach`] gives it something to pull.
    pub fn open(speaker_id: Option<&str>) -> Result<Playout, DeviceError> {
        let source: Source = Arc::new(Mutex::new(None));
        let (stream, name) = Self::start(speaker_id, source.clone())?;
        Ok(Playout {
            source,
            name,
            _stream: stream,
        })
    }

    /// What to play from now on: the engine's `playout()` during a call, `None` after it.
    pub fn attach(&self, source: Option<Arc<dyn AudioPull>>) {
        *lock(&self.source) = source;
    }

    /// Moves playout to another speaker (`None` = default), still pulling the same source.
    /// On error the current speaker keeps playing.
    pub fn switch_to(&mut self, speaker_id: Option<&str>) -> Result<(), DeviceError> {
        let (stream, name) = Self::start(speaker_id, self.source.clone())?;
        self._stream = stream;
        self.name = name;
        Ok(())
    }

    fn start(
        speaker_id: Option<&str>,
        source: Source,
    ) -> Result<(StreamThread, String), DeviceError> {
        let device = find(Direction::Output, speaker_id)?;
        let name = device_name(&device);
        let config = device
            .default_output_config()
            .map_err(|e| busy(Direction::Output, &name, e))?;
        let (src, n) = (source, name.clone());
        let build = move || {
            let format = config.sample_format();
            let sc = config.config();
            let renderer = Renderer::new(sc.sample_rate, sc.channels);
            let r = match format {
                SampleFormat::F32 => build_output::<f32>(&device, sc, renderer, src, &n),
                SampleFormat::I16 => build_output::<i16>(&device, sc, renderer, src, &n),
                SampleFormat::I32 => build_output::<i32>(&device, sc, renderer, src, &n),
                SampleFormat::U16 => build_output::<u16>(&device, sc, renderer, src, &n),
                SampleFormat::U8 => build_output::<u8>(&device, sc, renderer, src, &n),
                SampleFormat::F64 => build_output::<f64>(&device, sc, renderer, src, &n),
                other => {
                    return Err(DeviceError::Unavailable(format!(
                        "Speaker '{n}' takes {other} samples, which Roomcast does not write"
                    )));
                }
            };
            r.map_err(|e| busy(Direction::Output, &n, e))
        };
        Ok((StreamThread::spawn(build, || {})?, name))
    }

    /// The device's name, for logs and the UI.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The speaker test: opens the speaker by id (`None` = default), plays one second of a
    /// 440 Hz tone through the same device path as a call's audio, and returns the device's
    /// name once the tone has played. Blocks for about 1.3 s.
    pub fn play_test_tone(speaker_id: Option<&str>) -> Result<String, DeviceError> {
        let playout = Playout::open(speaker_id)?;
        let tone = Arc::new(TestTone::new(440.0, 1000));
        playout.attach(Some(tone.clone()));
        let deadline = now_us() + 2_000_000;
        while !tone.finished() && now_us() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        // What the device has buffered drains before it closes.
        std::thread::sleep(Duration::from_millis(250));
        Ok(playout.name)
    }
}

fn build_output<T>(
    device: &cpal::Device,
    config: cpal::StreamConfig,
    mut renderer: Renderer,
    source: Source,
    name: &str,
) -> Result<cpal::Stream, cpal::Error>
where
    T: SizedSample + FromSample<f32>,
{
    let name = name.to_string();
    device.build_output_stream::<T, _, _>(
        config,
        move |out: &mut [T], _| {
            let total = out.len();
            // Cloned out of the lock so the playout's own lock is never taken under it.
            let current = lock(&source).clone();
            renderer.render(
                total,
                |buf| match &current {
                    Some(s) => s.pull(buf),
                    None => buf.fill(0.0),
                },
                |i, s| out[i] = T::from_sample_(s),
            );
        },
        move |e| tracing::warn!("speaker '{name}' failed: {e}"),
        None,
    )
}
