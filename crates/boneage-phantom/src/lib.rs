//! Synthetic hand radiograph phantom (issue 3); being written.
