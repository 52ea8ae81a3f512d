//! imprimatur-signature: under construction.

#![forbid(unsafe_code)]
