//! Room state machine.
