//! mamori-features
