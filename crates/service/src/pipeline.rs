//! The pipeline: resolve, scan, gate, sign, publish, verify, in that order.
//!
//! - The digest signed is the digest scanned: the reference is resolved
//!   once and everything after addresses the image by that digest.
//! - A failing or errored scan with `requireScan` writes no signature
//!   anywhere.
//! - After publishing, the signature is read back from the store and, when a
//!   policy is given, the image is evaluated against it before the request
//!   is reported done.
//! - Idempotent: when the store already holds a valid signature by the same
//!   key for the same digest and identity, it is reused, not made again.
//!
//! Every step reports typed [`PipelineEvent`]s, and a run always ends in one
//! [`RequestStatus`]: failures become `phase: Failed` with the condition that
//! failed, never a lost status.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use imprimatur_arf::{Gate, GateOutcome, Report, ResultValue, Severity};
use imprimatur_policy::{Evaluator, Image, Policy, PolicyImage, RegistriesConfig};
use imprimatur_reference::Reference;
use imprimatur_registry::files::FsKeyLoader;
use imprimatur_registry::sigstore::{Attachments, use_attachments};
use imprimatur_registry::store::{self, SignatureStore, StoreOptions};
use imprimatur_registry::{
    ImageReference, ImageSource, Platform, PullEvent, RegistryClient, ResolvedImage, pull,
};
use imprimatur_signature as sig;
use imprimatur_sigstore::{SigstorePayload, SigstoreSignature};

use crate::error::{Error, Result};
use crate::image_streams::{ImageStreamError, ImageStreams, PINNED_DIGEST_ANNOTATION};
use crate::keys::KeyProvider;
use crate::request::{
    Document, ImageScanningRequestSpec, ImageSigningRequestSpec, ImageTarget, Request, RequestMeta,
    ScanSettings, SignatureType,
};
use crate::scanner::{ScanOptions, ScanOutput, ScanTimings, Scanner};
use crate::status::{
    ConditionStatus, ConditionType, GateVerdict, Phase, RequestStatus, ScanCounts, SignatureRecord,
    rfc3339,
};

/// A pipeline step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Step {
    /// Resolving the reference to a digest.
    Resolve,
    /// Pulling, unpacking and scanning.
    Scan,
    /// Judging the scan.
    Gate,
    /// Making the signature.
    Sign,
    /// Writing it to its store.
    Publish,
    /// Reading it back and evaluating the policy.
    Verify,
}

impl Step {
    /// The step's name (`resolve`, `scan`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Step::Resolve => "resolve",
            Step::Scan => "scan",
            Step::Gate => "gate",
            Step::Sign => "sign",
            Step::Publish => "publish",
            Step::Verify => "verify",
        }
    }
}

/// What the pipeline reports as it goes.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum PipelineEvent {
    /// A step started.
    Started(Step),
    /// A step finished; the message says with what.
    Finished(Step, String),
    /// A step failed.
    Failed(Step, String),
    /// Pull progress during the scan step.
    Pull(PullEvent),
}

/// A callback for [`PipelineEvent`]s.
pub type EventFn = Arc<dyn Fn(PipelineEvent) + Send + Sync>;

/// A clock: the pipeline never reads the time itself.
pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// What a run produced besides its status.
#[derive(Debug, Default)]
pub struct RunOutput {
    /// The status to write back.
    pub status: RequestStatus,
    /// The scan's results, when a scan ran (the ARF lives as long as this).
    pub scan: Option<ScanOutput>,
    /// How long the scan steps took.
    pub timings: Option<ScanTimings>,
    /// The signature blob made (or reused).
    pub signature: Option<Vec<u8>>,
    /// The run failed for a reason that may pass by itself (the registry
    /// unreachable or overloaded): worth running again later, unchanged.
    pub transient: bool,
}

/// The evidence of a scan that ran elsewhere and passed its gate: what
/// [`Pipeline::sign_scanned`] signs on.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PassedScan {
    /// Which scan it was, for people (`ImageScanningRequest team/app-scan`).
    pub source: String,
    /// The digest scanned.
    pub digest: String,
    /// Its rule counts.
    pub counts: ScanCounts,
    /// Its failed results per severity.
    pub failed_by_severity: std::collections::BTreeMap<String, u64>,
    /// Its present CVEs.
    pub present_cves: Vec<String>,
    /// Its failed rule ids (bounded as a status keeps them).
    pub failed_rules: Vec<String>,
    /// Its gate's verdict (passed).
    pub gate: GateVerdict,
    /// Its known limits.
    pub scan_limitations: Vec<String>,
}

impl PassedScan {
    /// The evidence in a scanning request's status, named `source`: `None`
    /// unless it holds a digest, counts and a passed gate.
    pub fn from_status(source: impl Into<String>, status: &RequestStatus) -> Option<Self> {
        let gate = status.gate.clone().filter(|g| g.passed)?;
        Some(PassedScan {
            source: source.into(),
            digest: status.image_digest.clone()?,
            counts: status.scan_result?,
            failed_by_severity: status.failed_by_severity.clone(),
            present_cves: status.present_cves.clone(),
            failed_rules: status.failed_rules.clone(),
            gate,
            scan_limitations: status.scan_limitations.clone(),
        })
    }
}

/// The scan-gate-sign-publish-verify pipeline, configured once and run for
/// many requests.
#[derive(Clone)]
pub struct Pipeline {
    client: RegistryClient,
    scanner: Scanner,
    platform: Platform,
    keys: Option<Arc<dyn KeyProvider>>,
    registries: RegistriesConfig,
    default_lookaside: String,
    allowed_overrides: Option<Vec<url::Url>>,
    require_configured_store: bool,
    policy: Option<Policy>,
    image_stream_registry: Option<String>,
    image_streams: Option<Arc<dyn ImageStreams>>,
    clock: Clock,
    events: Option<EventFn>,
    signing: crate::locks::SigningLocks,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("scanner", &self.scanner)
            .field("platform", &self.platform)
            .field("default_lookaside", &self.default_lookaside)
            .field("image_stream_registry", &self.image_stream_registry)
            .field("image_streams", &self.image_streams)
            .finish_non_exhaustive()
    }
}

impl Pipeline {
    /// A pipeline reaching registries through `client`, with the default
    /// scanner, this machine's platform, the system clock, no key, no
    /// `registries.d` (so the default lookaside) and no policy.
    pub fn new(client: RegistryClient) -> Self {
        Pipeline {
            client,
            scanner: Scanner::default(),
            platform: Platform::current(),
            keys: None,
            registries: RegistriesConfig::default(),
            default_lookaside: imprimatur_policy::default_lookaside(true, ""),
            allowed_overrides: None,
            require_configured_store: false,
            policy: None,
            image_stream_registry: None,
            image_streams: None,
            clock: Arc::new(SystemTime::now),
            events: None,
            signing: crate::locks::SigningLocks::default(),
        }
    }

    /// The scanner.
    pub fn scanner(mut self, scanner: Scanner) -> Self {
        self.scanner = scanner;
        self
    }

    /// The platform chosen in multi-platform images.
    pub fn platform(mut self, platform: Platform) -> Self {
        self.platform = platform;
        self
    }

    /// Where signing keys come from.
    pub fn keys(mut self, keys: Arc<dyn KeyProvider>) -> Self {
        self.keys = Some(keys);
        self
    }

    /// `registries.d`, which chooses the signature store, and the lookaside
    /// used when no section names one.
    pub fn registries(
        mut self,
        registries: RegistriesConfig,
        default_lookaside: impl Into<String>,
    ) -> Self {
        self.registries = registries;
        self.default_lookaside = default_lookaside.into();
        self
    }

    /// Limits `spec.store.lookaside` to URLs under one of `prefixes` (none:
    /// the override is refused). By default any URL is taken, which suits a
    /// request file run by whoever configured the pipeline; a service run
    /// for others (the controller) must limit it, or a requester could make
    /// it write files wherever it may write, or send signatures to any URL
    /// it can reach. A URL is under a prefix when, both normalized (`..`
    /// and `.` resolved, as `url` parses them), it is the prefix or continues
    /// it after a `/`.
    pub fn allowed_store_overrides(mut self, prefixes: Vec<url::Url>) -> Self {
        self.allowed_overrides = Some(prefixes);
        self
    }

    /// Refuses to publish to the built-in default lookaside: an image whose
    /// registry has no `registries.d` section naming a lookaside and no
    /// signature extension API fails saying so. A service in a container
    /// must set this: its default is a directory in the container, which no
    /// node reads, so a request would end `Completed` with a signature
    /// nobody can find.
    pub fn require_configured_store(mut self, require: bool) -> Self {
        self.require_configured_store = require;
        self
    }

    /// A policy every signed image must satisfy before the request is done.
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = Some(policy);
        self
    }

    /// The registry serving image streams (`HOST` of `HOST/NAMESPACE/STREAM:TAG`,
    /// OpenShift's integrated registry): lets `imageStreamTag` requests run
    /// without a cluster.
    pub fn image_stream_registry(mut self, host: impl Into<String>) -> Self {
        self.image_stream_registry = Some(host.into());
        self
    }

    /// Where `imageStreamTag` requests are resolved, and may publish (see
    /// [`crate::image_streams`]): the controller's OpenShift image API.
    /// Takes precedence over [`Pipeline::image_stream_registry`].
    pub fn image_streams(mut self, streams: Arc<dyn ImageStreams>) -> Self {
        self.image_streams = Some(streams);
        self
    }

    /// The clock (tests pin it).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Where events go.
    pub fn events(mut self, events: EventFn) -> Self {
        self.events = Some(events);
        self
    }

    fn emit(&self, event: PipelineEvent) {
        if let Some(e) = &self.events {
            e(event);
        }
    }

    fn now(&self) -> SystemTime {
        (self.clock)()
    }

    /// Runs a request of either kind. Never fails: what went wrong is in the
    /// status (`phase: Failed` and the condition of the step).
    pub async fn run(&self, request: &Request) -> RunOutput {
        match request {
            Request::Signing(doc) => self.run_signing(doc).await,
            Request::Scanning(doc) => self.run_scanning(doc).await,
        }
    }

    /// The image reference a target names.
    pub fn image_reference(&self, target: &ImageTarget) -> Result<ImageReference> {
        match target {
            ImageTarget::Image(s) => parse_image(s),
            ImageTarget::ImageStreamTag {
                namespace,
                stream,
                tag,
            } => match &self.image_stream_registry {
                Some(host) => parse_image(&format!("docker://{host}/{namespace}/{stream}:{tag}")),
                None => Err(Error::Request(format!(
                    "imageStreamTag {stream}:{tag} needs a cluster with OpenShift's image API (the \
                     controller) or an image stream registry (--image-stream-registry HOST) to resolve"
                ))),
            },
        }
    }

    /// Resolves a target to its digest, as a run does first: the image and
    /// its resolution (for a multi-platform image, the platform's). The
    /// controller pins a scan Job to this digest.
    pub async fn resolve(&self, target: &ImageTarget) -> Result<(ImageReference, ResolvedImage)> {
        let located = self.locate(target, None).await?;
        let resolved = ImageSource::new(&located.image, &self.client)
            .resolve()
            .await?;
        located.check(&resolved)?;
        Ok((located.image, resolved))
    }

    /// Where a target's image is pulled from and what it is signed as: an
    /// image stream tag through [`ImageStreams`] (at the `pinned` digest when
    /// given), else [`Pipeline::image_reference`].
    async fn locate(&self, target: &ImageTarget, pinned: Option<&str>) -> Result<Located> {
        let (
            ImageTarget::ImageStreamTag {
                namespace,
                stream,
                tag,
            },
            Some(streams),
        ) = (target, &self.image_streams)
        else {
            let image = self.image_reference(target)?;
            return Ok(Located {
                identity: image.clone(),
                image,
                stream: None,
                digest: None,
            });
        };
        let found = match pinned {
            Some(pin) => {
                let digest = imprimatur_reference::Digest::parse(pin).map_err(|e| {
                    Error::Request(format!(
                        "annotation {PINNED_DIGEST_ANNOTATION} {pin:?}: {e}"
                    ))
                })?;
                streams.resolve_image(namespace, stream, &digest).await?
            }
            None => streams.resolve_tag(namespace, stream, tag).await?,
        };
        let unavailable = |message: String| ImageStreamError::Unavailable {
            message,
            transient: false,
        };
        let pulled =
            imprimatur_reference::Reference::parse_normalized(&found.docker_image_reference)
                .map_err(|e| {
                    unavailable(format!(
                        "{namespace}/{stream}:{tag}: dockerImageReference {:?}: {e}",
                        found.docker_image_reference
                    ))
                })?;
        let repository = imprimatur_reference::Reference::parse_normalized(&pulled.name())
            .map_err(|e| unavailable(e.to_string()))?;
        let by_tag = repository
            .with_tag(tag)
            .map_err(|e| unavailable(format!("tag {tag:?}: {e}")))?;
        Ok(Located {
            image: ImageReference::Docker(repository.with_digest(found.digest.clone())),
            identity: ImageReference::Docker(by_tag),
            stream: Some((namespace.clone(), stream.clone())),
            digest: Some(found.digest),
        })
    }

    /// Runs an `ImageScanningRequest`.
    pub async fn run_scanning(&self, doc: &Document<ImageScanningRequestSpec>) -> RunOutput {
        let mut run = Run::start(self, doc.metadata.generation);
        let result = async {
            let target = crate::request::target_of(
                doc.spec.image_stream_tag.as_deref(),
                doc.spec.image.as_deref(),
                &doc.metadata,
            )?;
            let located = run.locate(&target, None).await?;
            let (source, resolved) = run.resolve(&located.image).await?;
            located.check(&resolved)?;
            let passed = run
                .scan_and_gate(
                    &source,
                    &resolved,
                    doc.spec.scan.as_ref(),
                    doc.spec.gate.as_ref(),
                    doc.spec.gate.is_some(),
                )
                .await?;
            Ok::<bool, Error>(passed)
        }
        .await;
        run.finish(result)
    }

    /// Runs an `ImageSigningRequest`.
    pub async fn run_signing(&self, doc: &Document<ImageSigningRequestSpec>) -> RunOutput {
        let mut run = Run::start(self, doc.metadata.generation);
        let result = async {
            let spec = &doc.spec;
            let target = signing_target(doc)?;
            let located = run.locate(&target, pinned_digest(&doc.metadata)).await?;
            let image = located.image.clone();
            let identity = signing_identity(&located.identity, spec.identity.as_deref())?;
            let (source, resolved) = run.resolve(&image).await?;
            located.check(&resolved)?;
            if spec.require_scan {
                let passed = run
                    .scan_and_gate(
                        &source,
                        &resolved,
                        spec.scan.as_ref(),
                        spec.gate.as_ref(),
                        true,
                    )
                    .await?;
                if !passed {
                    return Ok(false);
                }
            }
            self.sign_publish_verify(&mut run, spec, &located, &identity, &resolved)
                .await
        }
        .await;
        run.finish(result)
    }

    /// Signs an `ImageSigningRequest`'s image at the digest a scan that ran
    /// elsewhere passed (a Kubernetes Job, for the controller), without
    /// scanning: the status records that scan (`Scanned` and `GatePassed`
    /// name it, its counts are copied), then signs, publishes and verifies
    /// as [`Pipeline::run_signing`] does.
    ///
    /// The digest signed is `scan.digest`, whatever the reference's tag
    /// points to now: a `docker://` image is fetched at that digest (its
    /// repository, the tag's identity), so a tag that moved since the scan
    /// still gets the signature only for what was scanned, never for the
    /// unscanned image it moved to. Other transports (a directory, a
    /// layout) cannot be pinned: there the image must still be at the
    /// scanned digest, or the request fails saying so.
    pub async fn sign_scanned(
        &self,
        doc: &Document<ImageSigningRequestSpec>,
        scan: &PassedScan,
    ) -> RunOutput {
        let mut run = Run::start(self, doc.metadata.generation);
        let result = async {
            let spec = &doc.spec;
            let target = signing_target(doc)?;
            let digest = imprimatur_reference::Digest::parse(&scan.digest).map_err(|e| {
                Error::Request(format!("the scanned digest {:?}: {e}", scan.digest))
            })?;
            // An image stream image is looked up at the scanned digest.
            let located = run.locate(&target, Some(&scan.digest)).await?;
            let image = located.image.clone();
            let identity = signing_identity(&located.identity, spec.identity.as_deref())?;
            let pinned = match &image {
                ImageReference::Docker(r) => {
                    ImageReference::Docker(r.without_tag_and_digest().with_digest(digest.clone()))
                }
                other => other.clone(),
            };
            let (_, resolved) = run.resolve(&pinned).await?;
            if resolved.digest != digest {
                return Err(Error::Request(format!(
                    "{image} is now {}, not the digest {digest} that {} scanned: not signed",
                    resolved.digest, scan.source
                )));
            }
            run.record_passed_scan(scan);
            self.sign_publish_verify(&mut run, spec, &located, &identity, &resolved)
                .await
        }
        .await;
        run.finish(result)
    }

    /// The signing half of a signing request: every key it names loaded
    /// first, then each kind of signature made (or found), published, read
    /// back, and the policy checked.
    async fn sign_publish_verify(
        &self,
        run: &mut Run<'_>,
        spec: &ImageSigningRequestSpec,
        located: &Located,
        identity: &Reference,
        resolved: &ResolvedImage,
    ) -> Result<bool> {
        let image = &located.image;
        let types = spec.signature_types();
        // Every key is loaded before anything is published.
        let name = spec.signing_key_secret_name.as_deref();
        let atomic_key = if types.contains(&SignatureType::Atomic) {
            Some(self.signing_key(name, spec.signing_key_sign_by.as_deref())?)
        } else {
            None
        };
        let sigstore_key = if types.contains(&SignatureType::Sigstore) {
            Some(self.sigstore_key(name)?)
        } else {
            None
        };
        // One signing at a time for this image and identity (see locks.rs).
        let _signing = self
            .signing
            .lock(format!("{identity}@{}", resolved.digest))
            .await;
        let mut stored = Vec::new();
        if let Some((key, passphrase)) = atomic_key {
            let store = self
                .store_for(located, identity, spec.store.as_ref())
                .await?;
            stored.extend(
                run.sign_publish_atomic(&key, passphrase, identity, resolved, store.as_ref())
                    .await?,
            );
        }
        if let Some(key) = sigstore_key {
            stored.extend(
                run.sign_publish_sigstore(&key, identity, image, resolved)
                    .await?,
            );
        }
        run.verify_with_policy(identity, resolved, &stored)?;
        Ok(true)
    }

    fn signing_key(
        &self,
        name: Option<&str>,
        sign_by: Option<&str>,
    ) -> Result<(sig::SecretKey, Option<sig::Passphrase>)> {
        let (keys, name) = self.key_source(name)?;
        keys.signing_key(name, sign_by)
    }

    fn sigstore_key(&self, name: Option<&str>) -> Result<imprimatur_sigstore::PrivateKey> {
        let (keys, name) = self.key_source(name)?;
        keys.sigstore_key(name)
    }

    /// The key provider and the key name a signing request names.
    fn key_source<'n>(&self, name: Option<&'n str>) -> Result<(&dyn KeyProvider, &'n str)> {
        let keys = self.keys.as_deref().ok_or_else(|| Error::Key {
            path: PathBuf::new(),
            message: "no signing keys configured (--key-dir)".into(),
        })?;
        let name = name.ok_or_else(|| {
            Error::Request("spec.signingKeySecretName is required to sign".into())
        })?;
        Ok((keys, name))
    }

    /// The store the signature goes to, first that applies:
    ///
    /// 1. `spec.store.lookaside`;
    /// 2. a `registries.d` section naming a lookaside for the identity's
    ///    registry or repository (`default-docker` does not count): the site
    ///    chose where this registry's signatures live;
    /// 3. for an image stream image, the store [`ImageStreams`] offers (the
    ///    OpenShift image signature API, which the integrated registry serves
    ///    to nodes through its signature extension);
    /// 4. the one `registries.d` (and the registry's extension support)
    ///    chooses.
    async fn store_for(
        &self,
        located: &Located,
        identity: &Reference,
        over: Option<&crate::request::StoreOverride>,
    ) -> Result<Arc<dyn SignatureStore>> {
        if let Some(url) = over.and_then(|o| o.lookaside.as_deref()) {
            self.check_override(url)?;
            let endpoint = store::LookasideEndpoint::new(url, true);
            let mut s = store::LookasideStore::new(identity, endpoint.clone(), endpoint)
                .origin("spec.store.lookaside");
            s = s.http(plain_http()?);
            return Ok(Arc::new(s));
        }
        let site_chosen = self
            .registries
            .lookaside_for(identity, imprimatur_policy::Purpose::Write)
            .is_some_and(|c| c.scope.is_some());
        if let (false, Some((namespace, stream)), Some(streams)) =
            (site_chosen, &located.stream, &self.image_streams)
            && let Some(store) = streams.signature_store(namespace, stream)
        {
            return Ok(store);
        }
        let image = &located.image;
        let mut options =
            StoreOptions::new(self.registries.clone(), self.default_lookaside.clone())
                .lookaside_http(plain_http()?);
        if matches!(image, ImageReference::Docker(_)) {
            options = options.registry(self.client.clone());
        }
        let choice = store::choose(identity, &options)
            .await
            .map_err(|e| Error::Store(e.to_string()))?;
        let configured = self
            .registries
            .lookaside_for(identity, imprimatur_policy::Purpose::Write)
            .is_some();
        if self.require_configured_store && !choice.extension && !configured {
            return Err(Error::Store(format!(
                "no signature store is configured for {identity}: no registries.d section names a \
                 lookaside for it and its registry does not serve the signature extension API; the \
                 built-in default is a directory no node reads (add a section for the registry to \
                 the registries.d the service reads)"
            )));
        }
        Ok(choice.store)
    }

    /// Refuses a `spec.store.lookaside` outside [`Pipeline::allowed_store_overrides`].
    fn check_override(&self, url: &str) -> Result<()> {
        let Some(allowed) = &self.allowed_overrides else {
            return Ok(());
        };
        let refused = |why: &str| {
            Error::Request(format!(
                "spec.store.lookaside {url:?} is not allowed here: {why}"
            ))
        };
        let parsed = url::Url::parse(url).map_err(|e| refused(&e.to_string()))?;
        if allowed.iter().any(|prefix| is_under(&parsed, prefix)) {
            return Ok(());
        }
        let list: Vec<&str> = allowed.iter().map(url::Url::as_str).collect();
        Err(refused(&if list.is_empty() {
            "this service takes no store override".to_owned()
        } else {
            format!(
                "this service takes only lookasides under {}",
                list.join(", ")
            )
        }))
    }
}

/// Whether `url` is `prefix` or continues it after a `/` (both normalized
/// by parsing: `https://sigs.example.com` does not cover
/// `https://sigs.example.com.evil/`, `file:///srv/sigs` does not cover
/// `file:///srv/sigs/../etc`).
fn is_under(url: &url::Url, prefix: &url::Url) -> bool {
    let (url, prefix) = (url.as_str(), prefix.as_str());
    if url == prefix {
        return true;
    }
    let Some(rest) = url.strip_prefix(prefix) else {
        return false;
    };
    prefix.ends_with('/') || rest.starts_with('/')
}

/// Where a request's image is pulled from and what it is signed as.
struct Located {
    /// The image pulled (by digest for an image stream image).
    image: ImageReference,
    /// The reference the default signing identity comes from (the tag for
    /// an image stream image, see [`crate::image_streams`]).
    identity: ImageReference,
    /// `(namespace, stream)` of an image stream image.
    stream: Option<(String, String)>,
    /// The digest the image API named.
    digest: Option<imprimatur_reference::Digest>,
}

impl Located {
    /// The registry served the digest the image API named.
    fn check(&self, resolved: &ResolvedImage) -> Result<()> {
        match &self.digest {
            Some(d) if *d != resolved.digest => Err(ImageStreamError::Unavailable {
                message: format!(
                    "{} served {} for the image stream's {d}",
                    self.image, resolved.digest
                ),
                transient: false,
            }
            .into()),
            _ => Ok(()),
        }
    }
}

/// The image a signing request names (`imageStreamTag` or `image`).
fn signing_target(doc: &Document<ImageSigningRequestSpec>) -> Result<ImageTarget> {
    crate::request::target_of(
        doc.spec.image_stream_tag.as_deref(),
        doc.spec.image.as_deref(),
        &doc.metadata,
    )
}

/// The digest a request is pinned to ([`PINNED_DIGEST_ANNOTATION`]).
fn pinned_digest(meta: &RequestMeta) -> Option<&str> {
    meta.annotations
        .get(PINNED_DIGEST_ANNOTATION)
        .map(String::as_str)
}

/// One run's status under construction.
struct Run<'p> {
    pipeline: &'p Pipeline,
    generation: Option<i64>,
    output: RunOutput,
}

impl<'p> Run<'p> {
    fn start(pipeline: &'p Pipeline, generation: Option<i64>) -> Self {
        let mut output = RunOutput::default();
        output.status.phase = Some(Phase::Running);
        output.status.start_time = Some(rfc3339(pipeline.now()));
        Run {
            pipeline,
            generation,
            output,
        }
    }

    fn condition(
        &mut self,
        kind: ConditionType,
        ok: bool,
        reason: &str,
        message: impl Into<String>,
    ) {
        let status = if ok {
            ConditionStatus::True
        } else {
            ConditionStatus::False
        };
        let now = self.pipeline.now();
        self.output
            .status
            .set_condition(kind, status, reason, message, self.generation, now);
    }

    async fn step<T, E: Into<Error>>(
        &self,
        step: Step,
        work: impl Future<Output = std::result::Result<T, E>>,
    ) -> Result<T> {
        self.pipeline.emit(PipelineEvent::Started(step));
        let result = work.await.map_err(Into::into);
        if let Err(e) = &result {
            self.pipeline
                .emit(PipelineEvent::Failed(step, e.to_string()));
        }
        result
    }

    /// Where the target's image is: an image stream lookup is the resolve
    /// step's first part (its failure is the step's); a request that cannot
    /// name an image fails before any step.
    async fn locate(&self, target: &ImageTarget, pinned: Option<&str>) -> Result<Located> {
        let lookup = self.pipeline.locate(target, pinned);
        match (target, &self.pipeline.image_streams) {
            (ImageTarget::ImageStreamTag { .. }, Some(_)) => self.step(Step::Resolve, lookup).await,
            _ => lookup.await,
        }
    }

    async fn resolve(&mut self, image: &ImageReference) -> Result<(ImageSource, ResolvedImage)> {
        let source = ImageSource::new(image, &self.pipeline.client);
        let resolved = self.step(Step::Resolve, source.resolve()).await?;
        let repo = match image {
            ImageReference::Docker(r) => r.name(),
            other => other.to_string(),
        };
        self.output.status.image_digest = Some(resolved.digest.to_string());
        self.output.status.unsigned_image = Some(format!("{repo}@{}", resolved.digest));
        self.pipeline.emit(PipelineEvent::Finished(
            Step::Resolve,
            format!("{image} -> {}", resolved.digest),
        ));
        Ok((source, resolved))
    }

    /// Scans and judges; records both conditions. Returns whether the gate
    /// passed (true when there is no gate and `gate_required` is false).
    async fn scan_and_gate(
        &mut self,
        source: &ImageSource,
        resolved: &ResolvedImage,
        settings: Option<&ScanSettings>,
        gate: Option<&Gate>,
        gate_required: bool,
    ) -> Result<bool> {
        let settings = settings.cloned().unwrap_or_default();
        let options = ScanOptions {
            datastream: settings.datastream.map(PathBuf::from),
            profile: settings.profile,
            tailoring: settings.tailoring.map(PathBuf::from),
            oval: settings.oval.map(PathBuf::from),
        };
        let mut scanner = self.pipeline.scanner.clone();
        if let Some(secs) = settings.timeout_seconds {
            scanner = scanner.timeout(std::time::Duration::from_secs(secs));
        }
        let progress: Option<pull::ProgressFn> = self.pipeline.events.clone().map(|e| {
            let f: pull::ProgressFn = Arc::new(move |p| e(PipelineEvent::Pull(p)));
            f
        });
        let scanned = self
            .step(
                Step::Scan,
                scanner.scan_image(
                    source,
                    resolved,
                    &self.pipeline.platform,
                    &options,
                    progress,
                ),
            )
            .await;
        let (scan, timings) = match scanned {
            Ok(s) => s,
            Err(e) => {
                self.condition(ConditionType::Scanned, false, "ScanError", e.to_string());
                return Err(e);
            }
        };
        self.record_scan(&scan);
        let message = format!(
            "{} with {} ({}): {} rules, {} passed, {} failed",
            resolved.digest,
            scan.content.profile,
            scan.content.why,
            self.output.status.scan_result.map_or(0, |c| c.total_rules),
            self.output.status.scan_result.map_or(0, |c| c.passed_rules),
            self.output.status.scan_result.map_or(0, |c| c.failed_rules),
        );
        self.condition(ConditionType::Scanned, true, "Scanned", message.clone());
        self.pipeline
            .emit(PipelineEvent::Finished(Step::Scan, message));

        let passed = match gate {
            None if !gate_required => true,
            gate => {
                self.pipeline.emit(PipelineEvent::Started(Step::Gate));
                let default_gate = Gate::default();
                let gate = gate.unwrap_or(&default_gate);
                let verdict = judge(
                    gate,
                    &scan.report,
                    scan.oval_report.as_ref(),
                    self.pipeline.now(),
                );
                let passed = verdict.passed;
                let message = if passed {
                    "the scan passed the gate".to_owned()
                } else {
                    verdict.reasons.join("; ")
                };
                self.condition(
                    ConditionType::GatePassed,
                    passed,
                    if passed { "GatePassed" } else { "GateFailed" },
                    message.clone(),
                );
                self.output.status.gate = Some(verdict);
                self.pipeline.emit(if passed {
                    PipelineEvent::Finished(Step::Gate, message)
                } else {
                    PipelineEvent::Failed(Step::Gate, message)
                });
                passed
            }
        };
        self.output.scan = Some(scan);
        self.output.timings = Some(timings);
        Ok(passed)
    }

    /// Records a scan that ran elsewhere, as [`Run::scan_and_gate`] would
    /// have recorded its own: the counts, `Scanned` and `GatePassed`, each
    /// naming that scan.
    fn record_passed_scan(&mut self, scan: &PassedScan) {
        let status = &mut self.output.status;
        status.scan_result = Some(scan.counts);
        status.failed_by_severity = scan.failed_by_severity.clone();
        status.present_cves = scan.present_cves.clone();
        (status.failed_rules, status.failed_rules_omitted) =
            crate::status::bounded_failed_rules(scan.failed_rules.clone());
        status.scan_limitations = scan.scan_limitations.clone();
        status.gate = Some(scan.gate.clone());
        let c = scan.counts;
        let message = format!(
            "{} by {}: {} rules, {} passed, {} failed",
            scan.digest, scan.source, c.total_rules, c.passed_rules, c.failed_rules
        );
        self.condition(ConditionType::Scanned, true, "Scanned", message);
        let message = format!("{} passed the gate", scan.source);
        self.condition(ConditionType::GatePassed, true, "GatePassed", message);
    }

    fn record_scan(&mut self, scan: &ScanOutput) {
        let status = &mut self.output.status;
        // The last TestResult is this scan's (oscap writes one per run).
        if let Some(tr) = scan.report.test_results.last() {
            let s = tr.summary();
            status.scan_result = Some(ScanCounts {
                total_rules: s.scan_result.total_rules,
                passed_rules: s.scan_result.passed_rules,
                failed_rules: s.scan_result.failed_rules,
            });
            status.failed_by_severity = Severity::ALL
                .iter()
                .map(|sev| {
                    (
                        sev.as_str().to_owned(),
                        s.by_severity.get(*sev).get(ResultValue::Fail),
                    )
                })
                .filter(|(_, n)| *n > 0)
                .collect();
            let failed = tr
                .rule_results
                .iter()
                .filter(|r| r.result == ResultValue::Fail)
                .map(|r| r.idref.clone());
            (status.failed_rules, status.failed_rules_omitted) =
                crate::status::bounded_failed_rules(failed);
        }
        let mut cves = scan.report.present_cves();
        if let Some(oval) = &scan.oval_report {
            for c in oval.present_cves() {
                if !cves.contains(&c) {
                    cves.push(c);
                }
            }
        }
        status.present_cves = cves;
        status.scan_limitations = scan.limitations.clone();
    }

    /// Signs `resolved` for `identity` with the OpenPGP `key` (or finds an
    /// equivalent signature already in `store`), publishes it and reads it
    /// back. Returns every signature the store holds for the digest.
    async fn sign_publish_atomic(
        &mut self,
        key: &sig::SecretKey,
        passphrase: Option<sig::Passphrase>,
        identity: &Reference,
        resolved: &ResolvedImage,
        store: &dyn SignatureStore,
    ) -> Result<Vec<Vec<u8>>> {
        let identity_text = identity.to_string();
        let fingerprint = key.fingerprint();
        // Idempotence: a valid signature by this key for this digest and
        // identity already in the store is the signature.
        self.pipeline.emit(PipelineEvent::Started(Step::Sign));
        let existing = store
            .list(&resolved.digest)
            .await
            .map_err(|e| self.fail_store(ConditionType::Published, e))?;
        let key_error = |e: &dyn std::fmt::Display| Error::Key {
            path: PathBuf::from(fingerprint.to_string()),
            message: e.to_string(),
        };
        let public = key.public_armored().map_err(|e| key_error(&e))?;
        let trusted = sig::TrustedKeys::from_bytes(&public).map_err(|e| key_error(&e))?;
        let verifier = sig::Verifier::new(&trusted);
        let reusable = existing.iter().find(|s| {
            sig::verify_standalone(
                &verifier,
                &resolved.manifest,
                &identity_text,
                std::slice::from_ref(&fingerprint),
                &s.blob,
            )
            .is_ok()
        });
        let (blob, location, created) = match reusable {
            Some(found) => {
                self.condition(
                    ConditionType::Signed,
                    true,
                    "AlreadySigned",
                    format!(
                        "a signature by {fingerprint} for {identity_text} was already in {}",
                        store.describe()
                    ),
                );
                self.pipeline.emit(PipelineEvent::Finished(
                    Step::Sign,
                    "already signed: reusing the stored signature".into(),
                ));
                (found.blob.clone(), found.location.clone(), false)
            }
            None => {
                let mut builder = sig::Signer::builder(key);
                if let Some(p) = passphrase {
                    builder = builder.passphrase(p);
                }
                let signer = builder.build()?;
                let timestamp = self.unix_now();
                let payload = sig::Payload::for_image(identity, &resolved.digest, timestamp);
                let blob = signer.sign_at(&payload, self.pipeline.now())?;
                self.condition(
                    ConditionType::Signed,
                    true,
                    "Signed",
                    format!(
                        "signed {} for {identity_text} with {fingerprint}",
                        resolved.digest
                    ),
                );
                self.pipeline.emit(PipelineEvent::Finished(
                    Step::Sign,
                    format!("{identity_text} with {fingerprint}"),
                ));
                self.pipeline.emit(PipelineEvent::Started(Step::Publish));
                let added = store
                    .add(&resolved.digest, &blob)
                    .await
                    .map_err(|e| self.fail_store(ConditionType::Published, e))?;
                let location = added.location().to_owned();
                (blob, location, added.is_new())
            }
        };
        self.condition(
            ConditionType::Published,
            true,
            "Published",
            format!("{} ({location})", store.describe()),
        );
        self.pipeline
            .emit(PipelineEvent::Finished(Step::Publish, location.clone()));
        self.output.status.signature = Some(SignatureRecord {
            identity: identity_text.clone(),
            fingerprint: fingerprint.to_string(),
            store: store.describe(),
            location,
            created,
        });
        self.output.signature = Some(blob.clone());

        let stored = store
            .list(&resolved.digest)
            .await
            .map_err(|e| self.fail_store(ConditionType::Verified, e))?;
        if !stored.iter().any(|s| s.blob == blob) {
            let e = Error::Verify(format!(
                "the signature is not in {} when read back",
                store.describe()
            ));
            self.condition(ConditionType::Verified, false, "NotReadBack", e.to_string());
            return Err(e);
        }
        Ok(stored.into_iter().map(|s| s.blob).collect())
    }

    /// Signs `resolved` for `identity` with the sigstore `key` (or finds a
    /// signature by it for this digest and identity already there), adds it
    /// to the image's sigstore attachment and reads it back. Returns every
    /// signature in the attachment, in the stored-blob form policies read.
    async fn sign_publish_sigstore(
        &mut self,
        key: &imprimatur_sigstore::PrivateKey,
        identity: &Reference,
        image: &ImageReference,
        resolved: &ResolvedImage,
    ) -> Result<Vec<Vec<u8>>> {
        let identity_text = identity.to_string();
        let ImageReference::Docker(repository) = image else {
            return Err(Error::Request(format!(
                "{image}: sigstore signatures are stored beside the image in its registry, \
                 so signatureTypes sigstore needs a docker:// image"
            )));
        };
        if !use_attachments(&self.pipeline.registries, repository) {
            let e = Error::Config(format!(
                "{repository}: registries.d does not enable use-sigstore-attachments for it \
                 (`imprimatur trust set --type sigstoreSigned` sets it)"
            ));
            self.condition(
                ConditionType::Published,
                false,
                "AttachmentsDisabled",
                e.to_string(),
            );
            return Err(e);
        }
        let attachments = Attachments::new(&self.pipeline.client, repository);
        let public = [key.public_key()];
        let key_id = public[0].key_id();
        self.pipeline.emit(PipelineEvent::Started(Step::Sign));
        let store_error = |e: imprimatur_registry::Error| {
            Error::Store(format!("sigstore attachment of {}: {e}", repository.name()))
        };
        let existing = attachments
            .list(&resolved.digest)
            .await
            .map_err(store_error)?;
        let reusable = existing.into_iter().find(|s| {
            imprimatur_sigstore::verify_for_image(&public, s, &resolved.manifest, &identity_text)
                .is_ok()
        });
        let (signature, created) = match reusable {
            Some(found) => (found, false),
            None => {
                let payload =
                    SigstorePayload::new(&identity_text, &resolved.digest, self.unix_now());
                (imprimatur_sigstore::sign(key, &payload), true)
            }
        };
        let (reason, what) = if created {
            ("Signed", "signed")
        } else {
            ("AlreadySigned", "already signed")
        };
        self.condition_also(
            ConditionType::Signed,
            reason,
            format!(
                "sigstore: {what} {} for {identity_text} with {key_id}",
                resolved.digest
            ),
        );
        self.pipeline.emit(PipelineEvent::Finished(
            Step::Sign,
            format!("sigstore: {what}, {identity_text} with {key_id}"),
        ));
        self.pipeline.emit(PipelineEvent::Started(Step::Publish));
        let outcome = attachments
            .add(&resolved.digest, std::slice::from_ref(&signature))
            .await
            .map_err(store_error)?;
        let location = format!("{}:{}", repository.name(), outcome.tag);
        self.condition_also(
            ConditionType::Published,
            "Published",
            format!("sigstore attachment {location}"),
        );
        self.pipeline
            .emit(PipelineEvent::Finished(Step::Publish, location.clone()));
        self.output.status.sigstore_signature = Some(SignatureRecord {
            identity: identity_text,
            fingerprint: key_id,
            store: format!("sigstore attachments of {}", repository.name()),
            location,
            created: created && outcome.added > 0,
        });
        let stored = attachments
            .list(&resolved.digest)
            .await
            .map_err(store_error)?;
        if !stored.contains(&signature) {
            let e = Error::Verify(format!(
                "the sigstore signature is not in the attachment of {} when read back",
                repository.name()
            ));
            self.condition(ConditionType::Verified, false, "NotReadBack", e.to_string());
            return Err(e);
        }
        Ok(stored.iter().map(SigstoreSignature::to_blob).collect())
    }

    /// Seconds since the Unix epoch by the pipeline's clock.
    fn unix_now(&self) -> i64 {
        self.pipeline
            .now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    }

    /// Sets a condition to True, keeping the message of an earlier True one
    /// of this run in front (one request making two kinds of signature).
    fn condition_also(&mut self, kind: ConditionType, reason: &str, message: String) {
        let message = match self.output.status.condition(kind) {
            Some(c) if c.status == ConditionStatus::True => format!("{}; {message}", c.message),
            _ => message,
        };
        self.condition(kind, true, reason, message);
    }

    /// Evaluates the image, with every signature read back, against the
    /// policy (when one is given) and records `Verified`.
    fn verify_with_policy(
        &mut self,
        identity: &Reference,
        resolved: &ResolvedImage,
        stored: &[Vec<u8>],
    ) -> Result<()> {
        let identity_text = identity.to_string();
        self.pipeline.emit(PipelineEvent::Started(Step::Verify));
        let message = match &self.pipeline.policy {
            Some(policy) => {
                let blobs: Vec<&[u8]> = stored.iter().map(Vec::as_slice).collect();
                let image = Image::new(
                    PolicyImage::docker(identity),
                    Some(&resolved.manifest),
                    blobs,
                );
                let decision = Evaluator::new(policy.clone(), FsKeyLoader)
                    .reference_time(self.pipeline.now())
                    .evaluate(&image);
                if !decision.allowed {
                    let e = Error::Verify(format!(
                        "the policy refuses {identity_text}: {}",
                        decision.reason.unwrap_or_else(|| "denied".into())
                    ));
                    self.condition(
                        ConditionType::Verified,
                        false,
                        "PolicyDenied",
                        e.to_string(),
                    );
                    return Err(e);
                }
                format!(
                    "read back from the store; the policy accepts {identity_text} (scope {})",
                    decision.scope
                )
            }
            None => "read back from the store (no policy given)".to_owned(),
        };
        self.condition(ConditionType::Verified, true, "Verified", message.clone());
        self.pipeline
            .emit(PipelineEvent::Finished(Step::Verify, message));
        self.output.status.signed_image = self.output.status.unsigned_image.clone();
        Ok(())
    }

    fn fail_store(&mut self, kind: ConditionType, e: store::StoreError) -> Error {
        let e = Error::Store(e.to_string());
        self.condition(kind, false, "StoreError", e.to_string());
        e
    }

    /// Closes the run: `Completed` with `Ready=True`, or `Failed` with
    /// `Ready=False` and the reason.
    fn finish(mut self, result: Result<bool>) -> RunOutput {
        match result {
            Ok(true) => {
                self.output.status.phase = Some(Phase::Completed);
                self.condition(ConditionType::Ready, true, "Completed", "done");
            }
            Ok(false) => {
                self.output.status.phase = Some(Phase::Failed);
                let reasons = self
                    .output
                    .status
                    .gate
                    .as_ref()
                    .map(|g| g.reasons.join("; "))
                    .unwrap_or_default();
                self.condition(
                    ConditionType::Ready,
                    false,
                    "GateFailed",
                    format!("the scan did not pass the gate: {reasons}"),
                );
            }
            Err(e) => {
                self.output.status.phase = Some(Phase::Failed);
                self.output.transient = e.is_transient();
                let reason = reason_of(&e);
                self.condition(ConditionType::Ready, false, reason, e.to_string());
            }
        }
        self.output.status.end_time = Some(rfc3339(self.pipeline.now()));
        self.output
    }
}

/// The gate's verdict over the ARF (and the OVAL results, when evaluated).
fn judge(gate: &Gate, report: &Report, oval: Option<&Report>, now: SystemTime) -> GateVerdict {
    let mut outcomes: Vec<GateOutcome> = vec![gate.evaluate_at(report, now)];
    if let Some(oval) = oval {
        outcomes.push(gate.evaluate_at(oval, now));
    }
    GateVerdict {
        passed: outcomes.iter().all(|o| o.passed),
        reasons: outcomes
            .iter()
            .flat_map(|o| o.reasons.iter().cloned())
            .collect(),
        waived: outcomes
            .iter()
            .flat_map(|o| o.findings.iter())
            .filter_map(|f| f.waived.as_ref().map(|w| format!("{}: {w}", f.rule)))
            .collect(),
    }
}

/// The HTTP client for `http(s)` lookasides.
fn plain_http() -> Result<Arc<dyn store::HttpSend>> {
    let http = store::PlainHttp::new().map_err(|e| Error::Store(e.to_string()))?;
    Ok(Arc::new(http))
}

/// The identity a signature claims: the one given, or the docker reference
/// as written (tag included, as skopeo's `matchRepoDigestOrExact` expects).
pub fn signing_identity(image: &ImageReference, given: Option<&str>) -> Result<Reference> {
    match (given, image) {
        (Some(id), _) => {
            let id = id.strip_prefix("docker://").unwrap_or(id);
            Reference::parse_normalized(id)
                .map_err(|e| Error::Request(format!("identity {id:?}: {e}")))
        }
        (None, ImageReference::Docker(r)) if r.tag().is_some() || r.digest().is_some() => {
            Ok(r.clone())
        }
        (None, ImageReference::Docker(r)) => Ok(r.with_default_tag()),
        (None, other) => Err(Error::Request(format!(
            "{other} has no docker identity: give the identity to sign for (spec.identity, --identity)"
        ))),
    }
}

/// A request's image string: with a transport, or a bare docker reference.
fn parse_image(s: &str) -> Result<ImageReference> {
    let with_transport =
        if s.starts_with("docker://") || s.starts_with("oci:") || s.starts_with("dir:") {
            s.to_owned()
        } else {
            format!("docker://{s}")
        };
    with_transport
        .parse()
        .map_err(|e: imprimatur_registry::Error| Error::Request(e.to_string()))
}

/// The condition reason for an error.
fn reason_of(e: &Error) -> &'static str {
    match e {
        Error::Request(_) => "InvalidRequest",
        Error::Registry(_) => "ImageUnavailable",
        Error::Content(_) => "NoScanContent",
        Error::Scanner { .. } | Error::Results(_) => "ScanError",
        Error::Timeout { .. } => "ScanTimeout",
        Error::Key { .. } => "KeyUnavailable",
        Error::Sign(_) => "SigningFailed",
        Error::Store(_) => "StoreError",
        Error::Verify(_) => "VerificationFailed",
        Error::ImageStream(ImageStreamError::TagNotFound { .. }) => "ImageStreamTagNotFound",
        Error::ImageStream(ImageStreamError::ImageNotFound { .. }) => "ImageNotFound",
        Error::ImageStream(_) => "ImageUnavailable",
        _ => "Error",
    }
}

#[cfg(test)]
mod override_tests {
    use super::is_under;

    fn under(url: &str, prefix: &str) -> bool {
        let parse = |s: &str| url::Url::parse(s).expect("URL");
        is_under(&parse(url), &parse(prefix))
    }

    #[test]
    fn a_url_is_under_a_prefix_only_at_a_path_boundary_after_normalizing() {
        assert!(under(
            "https://sigs.example.com/team-a/x",
            "https://sigs.example.com/team-a/"
        ));
        assert!(under(
            "https://sigs.example.com/team-a/x",
            "https://sigs.example.com/team-a"
        ));
        assert!(under(
            "https://sigs.example.com/team-a",
            "https://sigs.example.com/team-a"
        ));
        assert!(under(
            "https://sigs.example.com/any",
            "https://sigs.example.com"
        ));
        assert!(!under(
            "https://sigs.example.com.evil/x",
            "https://sigs.example.com"
        ));
        assert!(!under(
            "https://sigs.example.com/team-ab/x",
            "https://sigs.example.com/team-a"
        ));
        assert!(!under(
            "https://sigs.example.com/team-a/../team-b/x",
            "https://sigs.example.com/team-a/"
        ));
        assert!(!under(
            "https://sigs.example.com/team-a/%2e%2e/team-b",
            "https://sigs.example.com/team-a/"
        ));
        assert!(!under(
            "http://sigs.example.com/team-a/x",
            "https://sigs.example.com/team-a/"
        ));
        assert!(under("file:///srv/sigs/a/b", "file:///srv/sigs"));
        assert!(!under("file:///srv/sigs/../etc/passwd", "file:///srv/sigs"));
        assert!(!under("file:///srv/sigsX", "file:///srv/sigs"));
    }
}
