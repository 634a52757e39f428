//! Trigger rules: what a normalized event asks baton to do.
