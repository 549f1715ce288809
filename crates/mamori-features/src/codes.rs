//! Stable error codes of feature files. A code is never reused for another meaning.

/// The file is not valid TOML, or a key is unknown or of the wrong type.
pub const TOML: &str = "F001";
/// Two features share a name.
pub const DUPLICATE_FEATURE: &str = "F002";
/// A feature name is not `[A-Za-z_][A-Za-z0-9_]*`.
pub const BAD_NAME: &str = "F003";
/// The aggregate is unknown.
pub const UNKNOWN_AGGREGATE: &str = "F004";
/// A window, delay, bucket or lateness is not a span (`10m`, `24h`, `30d`, `all`).
pub const BAD_SPAN: &str = "F005";
/// An entity shorthand is unknown, or an entity path does not exist.
pub const BAD_ENTITY: &str = "F006";
/// A required key for this aggregate is missing (`of`, `entity`, `window`, ...).
pub const MISSING: &str = "F007";
/// A key is given that this aggregate does not use.
pub const UNUSED: &str = "F008";
/// An expression (`of`, `filter`, `expr`) does not compile; the message carries the expression error.
pub const EXPR: &str = "F009";
/// The value's type does not suit the aggregate (for example `sum` of a string).
pub const TYPE: &str = "F010";
/// A ratio names a feature that is not declared before it.
pub const UNKNOWN_FEATURE: &str = "F011";
/// The input section is inconsistent (unknown format, unknown time format, bad offset, bad delimiter).
pub const INPUT: &str = "F012";
/// A mapped column path is not an event path, or a type name is unknown.
pub const COLUMN: &str = "F013";
/// The `empty` value does not suit the feature's type.
pub const EMPTY: &str = "F014";
