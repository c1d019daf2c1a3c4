//! Opus through libopus: 48 kHz, 20 ms frames.

use opus::{Application, Bitrate, Channels};

use super::{AudioProfile, CodecError};
use crate::media::{FRAME_MS, SAMPLE_RATE};

const FRAME_SAMPLES: usize = (SAMPLE_RATE / 1000 * FRAME_MS) as usize;
/// Largest packet we produce; libopus needs the room, the network never sees more than ~500.
const MAX_PACKET: usize = 1500;

fn channels(n: u16) -> Result<Channels, CodecError> {
    match n {
        1 => Ok(Channels::Mono),
        2 => Ok(Channels::Stereo),
        _ => Err(CodecError::Input(format!(
            "Opus takes 1 or 2 channels, not {n}"
        ))),
    }
}

fn err(e: opus::Error) -> CodecError {
    CodecError::Opus(e.to_string())
}

pub struct OpusEncoder {
    inner: opus::Encoder,
    channels: u16,
}

impl OpusEncoder {
    pub fn new(channels_n: u16, profile: AudioProfile) -> Result<Self, CodecError> {
        let app = match profile {
            AudioProfile::Speech | AudioProfile::Default => Application::Voip,
            AudioProfile::Music => Application::Audio,
        };
        let mut inner = opus::Encoder::new(SAMPLE_RATE, channels(channels_n)?, app).map_err(err)?;
        inner
            .set_bitrate(Bitrate::Bits(profile.bitrate_bps() as i32))
            .map_err(err)?;
        // In-band FEC only helps if the encoder expects loss; 10 % is WebRTC's usual guess.
        inner.set_inband_fec(true).map_err(err)?;
        inner.set_packet_loss_perc(10).map_err(err)?;
        inner.set_dtx(profile != AudioProfile::Music).map_err(err)?;
        Ok(Self {
            inner,
            channels: channels_n,
        })
    }

    /// Encodes one 20 ms frame of interleaved samples.
    pub fn encode(&mut self, pcm: &[i16]) -> Result<Vec<u8>, CodecError> {
        let want = FRAME_SAMPLES * usize::from(self.channels);
        if pcm.len() != want {
            return Err(CodecError::Input(format!(
                "expected {want} samples (20 ms), got {}",
                pcm.len()
            )));
        }
        self.inner.encode_vec(pcm, MAX_PACKET).map_err(err)
    }

    pub fn set_bitrate(&mut self, bps: u32) -> Result<(), CodecError> {
        self.inner
            .set_bitrate(Bitrate::Bits(bps.clamp(6_000, 510_000) as i32))
            .map_err(err)
    }
}

pub struct OpusDecoder {
    inner: opus::Decoder,
    channels: u16,
}

impl OpusDecoder {
    pub fn new(channels_n: u16) -> Result<Self, CodecError> {
        let inner = opus::Decoder::new(SAMPLE_RATE, channels(channels_n)?).map_err(err)?;
        Ok(Self {
            inner,
            channels: channels_n,
        })
    }

    fn run(&mut self, packet: &[u8], fec: bool) -> Result<Vec<i16>, CodecError> {
        // Up to 120 ms per packet is legal Opus.
        let mut out = vec![0i16; FRAME_SAMPLES * 6 * usize::from(self.channels)];
        let n = if fec {
            // FEC decodes exactly the lost frame's duration.
            let len = FRAME_SAMPLES * usize::from(self.channels);
            self.inner
                .decode(packet, &mut out[..len], true)
                .map_err(err)?
        } else {
            self.inner.decode(packet, &mut out, false).map_err(err)?
        };
        out.truncate(n * usize::from(self.channels));
        Ok(out)
    }

    /// Decodes a packet into interleaved samples.
    pub fn decode(&mut self, packet: &[u8]) -> Result<Vec<i16>, CodecError> {
        if packet.is_empty() {
            return Err(CodecError::Input("empty Opus packet".into()));
        }
        self.run(packet, false)
    }

    /// Rebuilds the lost 20 ms before `next_packet` from its in-band FEC (PLC if it has none).
    pub fn decode_fec(&mut self, next_packet: &[u8]) -> Result<Vec<i16>, CodecError> {
        self.run(next_packet, true)
    }

    /// Packet loss concealment for one missing 20 ms frame.
    pub fn conceal(&mut self) -> Result<Vec<i16>, CodecError> {
        let len = FRAME_SAMPLES * usize::from(self.channels);
        let mut out = vec![0i16; len];
        let n = self.inner.decode(&[], &mut out, false).map_err(err)?;
        out.truncate(n * usize::from(self.channels));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(ms: usize, freq: f64) -> Vec<i16> {
        (0..SAMPLE_RATE as usize * ms / 1000)
            .map(|i| {
                ((i as f64 * freq * 2.0 * std::f64::consts::PI / SAMPLE_RATE as f64).sin() * 8000.0)
                    as i16
            })
            .collect()
    }

    fn energy(s: &[i16]) -> f64 {
        s.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / s.len().max(1) as f64
    }

    #[test]
    fn round_trip_fec_and_plc() {
        let mut enc = OpusEncoder::new(1, AudioProfile::Default).expect("encoder");
        let mut dec = OpusDecoder::new(1).expect("decoder");
        let pcm = sine(1000, 440.0);
        let packets: Vec<Vec<u8>> = pcm
            .chunks(FRAME_SAMPLES)
            .map(|f| enc.encode(f).expect("encode"))
            .collect();
        assert!(packets.iter().all(|p| p.len() < 400));
        for p in &packets[..20] {
            assert_eq!(dec.decode(p).expect("decode").len(), FRAME_SAMPLES);
        }
        // Packet 20 is lost: rebuild it from 21's FEC, then go on.
        let recovered = dec.decode_fec(&packets[21]).expect("fec");
        assert_eq!(recovered.len(), FRAME_SAMPLES);
        assert!(
            energy(&recovered) > energy(&pcm) * 0.2,
            "FEC output is nearly silent"
        );
        dec.decode(&packets[21]).expect("decode after fec");
        let concealed = dec.conceal().expect("plc");
        assert_eq!(concealed.len(), FRAME_SAMPLES);
        // After the gap, decoding converges back to the signal.
        let mut decoded = Vec::new();
        for p in &packets[23..30] {
            decoded = dec.decode(p).expect("decode");
        }
        assert!(energy(&decoded) > energy(&pcm) * 0.3);
    }

    #[test]
    fn bad_input_is_an_error() {
        let mut enc = OpusEncoder::new(2, AudioProfile::Music).expect("encoder");
        assert!(enc.encode(&[0; 10]).is_err());
        assert!(OpusEncoder::new(3, AudioProfile::Music).is_err());
        let mut dec = OpusDecoder::new(2).expect("decoder");
        assert!(dec.decode(&[]).is_err());
        // Garbage must not panic; libopus either decodes something or reports an error.
        let _ = dec.decode(&[0xff; 40]);
    }
}
