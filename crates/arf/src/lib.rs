//! imprimatur-arf: under construction.

#![forbid(unsafe_code)]
