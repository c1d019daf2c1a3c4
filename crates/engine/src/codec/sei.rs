//! SEI messages (TRTC `sendSEIMsg`): bytes that ride inside a video frame as an H.264 SEI NAL
//! unit of type "user data unregistered", so they reach each subscriber with that frame and
//! pass through any SFU or recorder that keeps the bitstream.
//!
//! The NAL: header 0x06, payload type 5, the payload size (0xFF-coded), our 16-byte UUID, the
//! data, the RBSP stop bit; emulation prevention (`00 00 0x` → `00 00 03 0x`) applied over
//! the whole RBSP. Receivers pick out SEI NALs with our UUID and ignore all others.

/// Marks Roomcast's SEI payloads among other user data ("roomcast-sei-v1\0").
pub const SEI_UUID: [u8; 16] = *b"roomcast-sei-v1\0";
/// TRTC's limit per message.
pub const SEI_MAX_BYTES: usize = 1000;

const NAL_SEI: u8 = 6;
const USER_DATA_UNREGISTERED: u8 = 5;

/// One Annex B SEI NAL unit (with its start code) carrying `data`.
pub fn sei_nal(data: &[u8]) -> Vec<u8> {
    let mut rbsp = vec![USER_DATA_UNREGISTERED];
    let mut size = SEI_UUID.len() + data.len();
    while size >= 255 {
        rbsp.push(0xFF);
        size -= 255;
    }
    rbsp.push(size as u8);
    rbsp.extend_from_slice(&SEI_UUID);
    rbsp.extend_from_slice(data);
    rbsp.push(0x80);
    let mut nal = vec![0, 0, 0, 1, NAL_SEI];
    let mut zeros = 0;
    for b in rbsp {
        if zeros >= 2 && b <= 3 {
            nal.push(3);
            zeros = 0;
        }
        nal.push(b);
        zeros = if b == 0 { zeros + 1 } else { 0 };
    }
    nal
}

/// `frame` with `nals` inserted before its first slice (after SPS/PPS), where an access unit
/// has its SEI.
pub fn insert_before_slices(frame: &[u8], nals: &[u8]) -> Vec<u8> {
    let at = nal_units(frame)
        .find(|(_, body)| matches!(body.first().map(|h| h & 0x1F), Some(1 | 5)))
        .map(|(start, _)| start)
        .unwrap_or(0);
    let mut out = Vec::with_capacity(frame.len() + nals.len());
    out.extend_from_slice(&frame[..at]);
    out.extend_from_slice(nals);
    out.extend_from_slice(&frame[at..]);
    out
}

/// The data of every Roomcast SEI message in an Annex B access unit.
pub fn read_sei(frame: &[u8]) -> Vec<Vec<u8>> {
    let mut found = Vec::new();
    for (_, body) in nal_units(frame) {
        if body.first().map(|h| h & 0x1F) != Some(NAL_SEI) {
            continue;
        }
        let rbsp = unescape(&body[1..]);
        let mut p = 0;
        // Several SEI messages may share one NAL; stop at the trailing bits.
        while p < rbsp.len() && rbsp[p] != 0x80 {
            let Some((ty, next)) = ff_coded(&rbsp, p) else {
                break;
            };
            let Some((size, start)) = ff_coded(&rbsp, next) else {
                break;
            };
            let Some(payload) = rbsp.get(start..start + size) else {
                break;
            };
            if ty == usize::from(USER_DATA_UNREGISTERED) && payload.starts_with(&SEI_UUID) {
                found.push(payload[SEI_UUID.len()..].to_vec());
            }
            p = start + size;
        }
    }
    found
}

/// A 0xFF-coded number at `p` and where what follows it starts.
fn ff_coded(b: &[u8], mut p: usize) -> Option<(usize, usize)> {
    let mut v = 0;
    loop {
        let byte = *b.get(p)?;
        p += 1;
        v += usize::from(byte);
        if byte != 0xFF {
            return Some((v, p));
        }
    }
}

fn unescape(ebsp: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(ebsp.len());
    let mut zeros = 0;
    for &b in ebsp {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        out.push(b);
        zeros = if b == 0 { zeros + 1 } else { 0 };
    }
    out
}

/// (offset of the start code, NAL bytes after it) for each NAL unit in an Annex B buffer.
fn nal_units(buf: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= buf.len() {
        if buf[i] == 0 && buf[i + 1] == 0 && buf[i + 2] == 1 {
            let code_start = if i > 0 && buf[i - 1] == 0 { i - 1 } else { i };
            starts.push((code_start, i + 3));
            i += 3;
        } else {
            i += 1;
        }
    }
    let ends: Vec<usize> = starts
        .iter()
        .skip(1)
        .map(|(s, _)| *s)
        .chain(std::iter::once(buf.len()))
        .collect();
    starts
        .into_iter()
        .zip(ends)
        .map(move |((code, body), end)| (code, &buf[body..end.max(body)]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{EncoderConfig, H264Decoder, H264Encoder};
    use crate::media::{PatternSource, VideoSource};

    #[test]
    fn round_trips_any_bytes_including_start_code_lookalikes() {
        for data in [
            b"slide 3".to_vec(),
            vec![0, 0, 0, 1, 0, 0, 3, 0, 0, 2],
            (0..=255u8).cycle().take(SEI_MAX_BYTES).collect(),
            Vec::new(),
        ] {
            let nal = sei_nal(&data);
            assert!(
                !nal[4..]
                    .windows(3)
                    .any(|w| w == [0, 0, 1] || w == [0, 0, 0]),
                "no start code inside the NAL"
            );
            assert_eq!(read_sei(&nal), vec![data]);
        }
        let mut other = sei_nal(b"x");
        other[8] ^= 0xFF; // another UUID: not ours
        assert!(read_sei(&other).is_empty());
        assert!(read_sei(&[0, 0, 1, 6, 5, 0xFF]).is_empty(), "truncated");
    }

    #[test]
    fn a_frame_with_sei_still_decodes_and_carries_it() {
        let mut src = PatternSource::new(320, 180, 15);
        let mut enc = H264Encoder::new(EncoderConfig {
            width: 320,
            height: 180,
            fps: 15,
            bitrate_bps: 300_000,
        })
        .expect("encoder");
        let mut dec = H264Decoder::new().expect("decoder");
        let frame = src.next_frame(0).expect("frame");
        let au = enc.encode(&frame, true).expect("encodes").expect("a frame");
        let with = insert_before_slices(&au.data, &sei_nal("자막 1".as_bytes()));
        assert_eq!(read_sei(&with), vec!["자막 1".as_bytes().to_vec()]);
        let pic = dec.decode(&with).expect("decodes").expect("a picture");
        assert_eq!((pic.width, pic.height), (320, 180));
        // The SEI sits after SPS/PPS and before the first slice.
        let types: Vec<u8> = nal_units(&with).map(|(_, b)| b[0] & 0x1F).collect();
        let sei_at = types.iter().position(|t| *t == 6).expect("sei");
        let slice_at = types.iter().position(|t| *t == 5).expect("idr slice");
        assert!(
            sei_at < slice_at && types[..sei_at].contains(&7),
            "{types:?}"
        );
    }
}
