//! mamori-expr
