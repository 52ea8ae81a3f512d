//! Signing keys from Secrets: a signing request signs with the keys of the
//! Secret its `signingKeySecretName` names, read from the request's own
//! namespace at the moment it signs.
//!
//! Why only there, and no mounted key directory (`IMPRIMATUR_KEY_DIR`, which
//! the first controller read): the namespace is the boundary of who may sign
//! with what. Whoever may create a request in a namespace may already read
//! (or have been given) the Secrets there; a directory mounted into the
//! controller would let any requester in any served namespace sign with any
//! key in it just by naming it. The controller reads Secrets only in the
//! namespaces bound to `imprimatur-namespace` (deploy/README.md).
//!
//! Key material is held only in [`SecretKeys`] (zeroized on drop, `Debug`
//! shows entry names) for the length of one pipeline run. It is never logged
//! and never put in a status or an event: what is reported about a Secret is
//! its namespace and name.

use std::path::PathBuf;

use imprimatur::service::{Error as ServiceError, KeyProvider, SecretKeys};
use imprimatur::signature::{Passphrase, SecretKey};
use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client};

/// The condition reason of a request whose key cannot be had.
pub(crate) const KEY_UNAVAILABLE: &str = "KeyUnavailable";

/// The keys of Secret `name` in `namespace`: `Ok(Ok(keys))`; `Ok(Err(why))`
/// when the request can never get them as things stand (no such Secret,
/// or the namespace is not served: the request fails with
/// [`KEY_UNAVAILABLE`] and `why`); `Err` when the API could not answer (the
/// reconcile is retried).
pub(crate) async fn secret_keys(
    client: &Client,
    namespace: &str,
    name: &str,
) -> Result<Result<SecretKeys, String>, kube::Error> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    match secrets.get(name).await {
        Ok(secret) => Ok(Ok(keys_of(name, secret))),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(Err(format!(
            "the signing key Secret {namespace}/{name} (spec.signingKeySecretName) does not exist"
        ))),
        Err(kube::Error::Api(s)) if s.code == 403 => Ok(Err(format!(
            "the controller may not read the signing key Secret {namespace}/{name}: namespace \
             {namespace} is not served (bind ClusterRole imprimatur-namespace there, see \
             deploy/README.md)"
        ))),
        Err(e) => Err(e),
    }
}

/// The Secret's decoded data, moved (not copied) into [`SecretKeys`].
fn keys_of(name: &str, secret: Secret) -> SecretKeys {
    let data = secret.data.unwrap_or_default();
    SecretKeys::new(name, data.into_iter().map(|(k, v)| (k, v.0)))
}

/// The provider of a request that names no Secret: never asked, because the
/// pipeline refuses such a request first ("spec.signingKeySecretName is
/// required to sign"); without any provider it would instead say that no
/// keys are configured, which is not the request's fault.
pub(crate) struct NoSecretNamed;

impl KeyProvider for NoSecretNamed {
    fn signing_key(
        &self,
        name: &str,
        _sign_by: Option<&str>,
    ) -> imprimatur::service::Result<(SecretKey, Option<Passphrase>)> {
        Err(ServiceError::Key {
            path: PathBuf::from(format!("secret {name}")),
            message: "no signing key Secret was read for this request".into(),
        })
    }
}
