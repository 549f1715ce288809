//! mamori-rules
