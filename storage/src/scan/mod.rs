//! Reading: a [`view::ReadView`] is a snapshot plus the transaction's own
//! writes; scans and lookups through it read the row store and segments
//! alike.

pub(crate) mod view;
