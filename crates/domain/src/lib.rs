//! Cruddur's validated values. Every constructor checks its input and returns a typed error;
//! nothing here does I/O, so the same rules hold in the API, the CLI and the Lambda.

pub mod display_name;
pub mod error_chain;
pub mod fetch_url;
pub mod handle;
pub mod idempotency_key;
pub mod message;
pub mod new_crud;
pub mod profile;
pub mod ttl;

pub use display_name::{DisplayName, DisplayNameError, DISPLAY_NAME_RULE, MAX_DISPLAY_NAME_CHARS};
pub use error_chain::error_chain;
pub use handle::{
    handle_candidates, Handle, HandleError, HANDLE_PATTERN, HANDLE_RULE, MAX_HANDLE_CHARS,
};
pub use idempotency_key::{
    IdempotencyKey, IdempotencyKeyError, IDEMPOTENCY_KEY_PATTERN, IDEMPOTENCY_KEY_RULE,
    MAX_IDEMPOTENCY_KEY_CHARS,
};
pub use message::{Message, MessageError, MAX_CRUD_CHARS, MAX_REPLY_CHARS};
pub use new_crud::{CrudFields, NewCrud, NewReply, ReplyFields, Rule};
pub use profile::{ProfileEdit, ProfileFields, ProfileUpdate, MAX_BIO_CHARS};
pub use ttl::{Ttl, TtlError};
