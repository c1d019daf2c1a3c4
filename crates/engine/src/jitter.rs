//! Adaptive audio jitter buffer.
