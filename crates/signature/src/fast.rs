//! Fast-path signing with nettle (feature `nettle`): not implemented yet;
//! the generic sequoia path is used.

use sequoia_openpgp as openpgp;

use openpgp::crypto::KeyPair;
use openpgp::crypto::mpi;
use openpgp::types::HashAlgorithm;

use crate::Error;

/// A signer calling nettle directly.
#[derive(Debug)]
pub(crate) struct FastSigner {}

impl FastSigner {
    /// `None` when the key type has no fast path.
    pub(crate) fn new(_keypair: &KeyPair) -> Option<FastSigner> {
        None
    }

    /// Signs a digest.
    pub(crate) fn sign(
        &self,
        _hash: HashAlgorithm,
        _digest: &[u8],
    ) -> Result<mpi::Signature, Error> {
        Err(Error::Sign("fast path unavailable".into()))
    }
}
