//! End-to-end test support for connectkit (filled in by later issues).
