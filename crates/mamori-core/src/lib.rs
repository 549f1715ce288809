//! mamori-core: the v1 event contract and the domain types every other crate shares.
//!
//! Nothing here does I/O. Times are event time ([`time`]), money is exact
//! ([`rust_decimal::Decimal`]), personal data is a [`secret::Secret`], and expressions
//! read events through [`record::Schema`] and [`record::Record`].

pub mod amount;
pub mod event;
pub mod kana;
pub mod record;
pub mod secret;
pub mod time;
pub mod value;

pub use event::{Event, EventErrors, EventKind, EventRecord, EventSchema, EventType, FieldError};
pub use record::{CompositeRecord, CompositeSchema, FieldId, Record, Resolution, Schema, StaticSchema, VecRecord};
pub use rust_decimal::Decimal;
pub use secret::Secret;
pub use time::{Clock, Span, Timestamp};
pub use value::{OwnedValue, Type, Value};
