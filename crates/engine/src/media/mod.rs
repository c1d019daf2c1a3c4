//! Media frames, sources and sinks.
