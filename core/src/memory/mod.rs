//! Embedded in-memory adapters of the ports, for the zero-setup local mode.
