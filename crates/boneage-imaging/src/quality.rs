//! Per-image quality flags (being written).
