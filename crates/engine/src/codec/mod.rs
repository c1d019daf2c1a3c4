//! Audio and video codecs: Opus and OpenH264.
