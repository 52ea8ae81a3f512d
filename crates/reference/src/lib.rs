//! imprimatur-reference: under construction.

#![forbid(unsafe_code)]
