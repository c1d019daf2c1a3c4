//! Opus at 48 kHz in 20 ms frames, with in-band FEC for the jitter buffer's `Lost { next }`.

use ::opus::{Application, Bitrate, Channels, Decoder, Encoder};

use super::{AudioProfile, CodecError};
use crate::media::{FRAME_SAMPLES, SAMPLE_RATE};

/// Largest packet we produce; 1275 bytes is Opus' own per-frame maximum.
const MAX_PACKET: usize = 1275;
/// Largest decode: 120 ms per channel, Opus' maximum packet duration.
const MAX_DECODE_SAMPLES: usize = 5760;

fn channels_of(channels: u16) -> Result<Channels, CodecError> {
    match channels {
        1 => Ok(Channels::Mono),
        2 => Ok(Channels::Stereo),
        n => Err(CodecError::InvalidInput(format!(
            "Opus takes 1 or 2 channels, not {n}"
        ))),
    }
}

fn opus_err(op: &'static str) -> impl FnOnce(::opus::Error) -> CodecError {
    move |source| CodecError::Opus { op, source }
}

/// Encodes 20 ms frames of interleaved 48 kHz PCM.
pub struct OpusEncoder {
    inner: Encoder,
    channels: u16,
}

impl OpusEncoder {
    /// 48 kHz, 20 ms frames, in-band FEC on (used once [`set_expected_loss`] says there is
    /// loss), DTX on for Speech/Default.
    ///
    /// [`set_expected_loss`]: Self::set_expected_loss
    pub fn new(channels: u16, profile: AudioProfile) -> Result<Self, CodecError> {
        let application = match profile {
            AudioProfile::Music => Application::Audio,
            AudioProfile::Speech | AudioProfile::Default => Application::Voip,
        };
        let mut inner = Encoder::new(SAMPLE_RATE, channels_of(channels)?, application)
            .map_err(opus_err("encoder creation"))?;
        inner
            .set_bitrate(Bitrate::Bits(profile.bitrate_bps() as i32))
            .map_err(opus_err("set bitrate"))?;
        inner.set_inband_fec(true).map_err(opus_err("enable FEC"))?;
        inner
            .set_dtx(profile != AudioProfile::Music)
            .map_err(opus_err("set DTX"))?;
        Ok(Self { inner, channels })
    }

    /// `pcm` must hold exactly 20 ms (960 × channels samples).
    pub fn encode(&mut self, pcm: &[i16]) -> Result<Vec<u8>, CodecError> {
        let expected = FRAME_SAMPLES * usize::from(self.channels);
        if pcm.len() != expected {
            return Err(CodecError::InvalidInput(format!(
                "Opus encoder takes 20 ms frames of {expected} samples, got {}",
                pcm.len()
            )));
        }
        self.inner
            .encode_vec(pcm, MAX_PACKET)
            .map_err(opus_err("encode"))
    }

    /// The packet loss (percent) the receiver sees: Opus adds in-band FEC for it, taking
    /// those bits from the primary frames (none at 0 %).
    pub fn set_expected_loss(&mut self, percent: u8) -> Result<(), CodecError> {
        self.inner
            .set_packet_loss_perc(i32::from(percent.min(100)))
            .map_err(opus_err("set expected loss"))
    }

    /// Clamped to Opus' 6–510 kbps.
    pub fn set_bitrate(&mut self, bps: u32) -> Result<(), CodecError> {
        let bps = bps.clamp(6_000, 510_000) as i32;
        self.inner
            .set_bitrate(Bitrate::Bits(bps))
            .map_err(opus_err("set bitrate"))
    }
}

/// Decodes Opus packets into interleaved 48 kHz PCM.
pub struct OpusDecoder {
    inner: Decoder,
    channels: u16,
}

impl OpusDecoder {
    pub fn new(channels: u16) -> Result<Self, CodecError> {
        let inner = Decoder::new(SAMPLE_RATE, channels_of(channels)?)
            .map_err(opus_err("decoder creation"))?;
        Ok(Self { inner, channels })
    }

    /// Interleaved samples for whatever duration the packet holds (20 ms from our encoder).
    pub fn decode(&mut self, packet: &[u8]) -> Result<Vec<i16>, CodecError> {
        if packet.is_empty() {
            return Err(CodecError::InvalidInput(
                "empty Opus packet; call conceal() for a missing frame".into(),
            ));
        }
        self.run(packet, MAX_DECODE_SAMPLES, false, "decode")
    }

    /// Recovers the lost frame before `next_packet` from its in-band FEC (20 ms). If
    /// `next_packet` carries no FEC, Opus falls back to concealment.
    pub fn decode_fec(&mut self, next_packet: &[u8]) -> Result<Vec<i16>, CodecError> {
        if next_packet.is_empty() {
            return self.conceal();
        }
        self.run(next_packet, FRAME_SAMPLES, true, "FEC decode")
    }

    /// Packet loss concealment for one missing 20 ms frame.
    pub fn conceal(&mut self) -> Result<Vec<i16>, CodecError> {
        self.run(&[], FRAME_SAMPLES, false, "concealment")
    }

    fn run(
        &mut self,
        input: &[u8],
        per_channel: usize,
        fec: bool,
        op: &'static str,
    ) -> Result<Vec<i16>, CodecError> {
        let ch = usize::from(self.channels);
        let mut out = vec![0i16; per_channel * ch];
        let n = self
            .inner
            .decode(input, &mut out, fec)
            .map_err(opus_err(op))?;
        out.truncate(n * ch);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::{AudioSource, BurstDetector, ToneSource};

    fn energy(x: &[i16]) -> f64 {
        x.iter().map(|&s| f64::from(s) * f64::from(s)).sum::<f64>() / x.len().max(1) as f64
    }

    fn tone_packets(
        channels: u16,
        profile: AudioProfile,
        start: u64,
        n: u64,
    ) -> Vec<(u64, Vec<i16>, Vec<u8>)> {
        let mut source = ToneSource::new(channels);
        let mut encoder = OpusEncoder::new(channels, profile).expect("valid settings");
        encoder.set_expected_loss(10).expect("a loss percentage");
        (0..n)
            .map(|k| {
                let capture = start + k * 20_000;
                let frame = source.next_frame(capture).expect("tone never ends");
                let packet = encoder.encode(&frame.samples).expect("20 ms frame");
                (capture, frame.samples, packet)
            })
            .collect()
    }

    #[test]
    fn bursts_survive_opus_and_latency_is_measured() {
        for (profile, channels) in [
            (AudioProfile::Speech, 1),
            (AudioProfile::Default, 1),
            (AudioProfile::Music, 2),
        ] {
            let mut decoder = OpusDecoder::new(channels).expect("valid settings");
            let mut detector = BurstDetector::new();
            let mut latencies = Vec::new();
            for (capture, _, packet) in tone_packets(channels, profile, 1_700_000_000_000_000, 200)
            {
                let pcm = decoder.decode(&packet).expect("our own packet");
                assert_eq!(pcm.len(), FRAME_SAMPLES * usize::from(channels));
                latencies.extend(detector.push(&pcm, channels, capture + 40_000));
            }
            assert!(latencies.len() >= 7, "{profile:?}: {latencies:?}");
            // 40 ms playout offset plus Opus' algorithmic delay (≤ ~7 ms at 48 kHz).
            for l in &latencies {
                assert!((40.0..=50.0).contains(l), "{profile:?}: {latencies:?}");
            }
        }
    }

    #[test]
    fn fec_recovers_a_lost_packet_and_plc_fills_gaps() {
        let packets = tone_packets(1, AudioProfile::Default, 1_000_000_000_000, 40);
        let mut decoder = OpusDecoder::new(1).expect("valid settings");
        let lost = 27; // inside a burst: 27*20 ms = 540 ms, burst runs 500..560 ms
        let mut recovered = Vec::new();
        for (k, (_, _, packet)) in packets.iter().enumerate() {
            if k == lost {
                continue;
            }
            if k == lost + 1 {
                recovered = decoder.decode_fec(packet).expect("FEC decode");
            }
            decoder.decode(packet).expect("our own packet");
        }
        assert_eq!(recovered.len(), FRAME_SAMPLES);
        let original = energy(&packets[lost].1);
        let got = energy(&recovered);
        assert!(
            got > original * 0.3 && got < original * 3.0,
            "{got} vs {original}"
        );

        let concealed = decoder.conceal().expect("PLC");
        assert_eq!(concealed.len(), FRAME_SAMPLES);
        let mut stereo = OpusDecoder::new(2).expect("valid settings");
        assert_eq!(stereo.conceal().expect("PLC").len(), 2 * FRAME_SAMPLES);
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(OpusEncoder::new(3, AudioProfile::Speech).is_err());
        let mut encoder = OpusEncoder::new(1, AudioProfile::Speech).expect("valid settings");
        assert!(encoder.encode(&[0; 100]).is_err());
        encoder.set_bitrate(1).expect("clamped");
        let mut decoder = OpusDecoder::new(1).expect("valid settings");
        assert!(decoder.decode(&[]).is_err());
        assert!(decoder.decode(&[0xff, 0xff, 0xff]).is_err());
    }
}
