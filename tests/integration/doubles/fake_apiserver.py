#!/usr/bin/env python3
"""A small fake Kubernetes API server, for end-to-end tests of controllers.

Plain HTTP on 127.0.0.1, no authentication. It stores any resource of any
group and version, and answers with the wire behaviour of kube-apiserver for
what a kube-rs controller uses:

  Paths    /api/v1/[namespaces/NS/]RESOURCE[/NAME[/status]] (core group) and
           /apis/GROUP/VERSION/[namespaces/NS/]RESOURCE[/NAME[/status]]; a
           collection path without a namespace lists and watches every
           namespace. /version, /healthz, /readyz, /livez.
  pod logs GET /api/v1/namespaces/NS/pods/NAME/log (see the test hooks).
  list     GET collection: {"kind": "<Kind>List", "metadata":
           {"resourceVersion": current}, "items": [...]} sorted by namespace
           and name; labelSelector (k=v, k!=v, k, !k) and fieldSelector
           (metadata.name, metadata.namespace); limit/continue pagination,
           except for resourceVersion=0 which, as the watch cache does,
           ignores the limit.
  watch    GET collection?watch=true: chunked JSON lines
           {"type": "ADDED|MODIFIED|DELETED|BOOKMARK|ERROR", "object": ...}
           of changes after resourceVersion (absent or "0": ADDED for every
           current object first); timeoutSeconds ends the stream;
           allowWatchBookmarks sends a BOOKMARK every --bookmark-interval
           seconds of silence and at the end; sendInitialEvents sends the
           initial ADDED events and a BOOKMARK annotated
           k8s.io/initial-events-end. A resourceVersion older than the kept
           history (--history events) gets an ERROR event with a 410 Expired
           Status, as the watch cache answers.
  get      GET object.
  create   POST collection: uid, creationTimestamp, generation 1,
           resourceVersion from one global counter, status dropped, name from
           generateName; 409 AlreadyExists.
  replace  PUT object or object/status; a resourceVersion in the body must be
           current (409 Conflict otherwise).
  patch    PATCH object or object/status with application/merge-patch+json,
           application/json-patch+json (add, remove, replace, move, copy,
           test), application/strategic-merge-patch+json (built-in groups
           only, treated as a merge patch; 415 for custom resources) or
           application/apply-patch+yaml (server-side apply; JSON bodies only,
           fieldManager required, force=true to take over fields another
           manager owns, 409 Conflict otherwise). Apply tracks the fields each
           manager applied: a field the manager applied before and leaves out
           now is removed (unless another manager owns it too); lists are
           atomic except `conditions` (a list map keyed by `type`, as the
           CRDs declare) and `finalizers` (a set), which merge item by item.
           Other writes do not take ownership of fields (the real server
           records them as Update managers). An apply to a missing object
           creates it (main resource only).
  status   The status subresource for every resource: writes to the main
           resource keep the stored .status, writes to /status change only
           .status; generation grows when anything but metadata and status
           changes. A write that changes nothing keeps the resourceVersion
           and sends no event.
  delete   DELETE object: with finalizers, sets deletionTimestamp (the
           object stays until an update empties its finalizers); otherwise
           removes it and answers a Success Status. DELETED events carry a
           new resourceVersion.
  errors   Status objects as the real server sends them: 404 NotFound,
           409 AlreadyExists/Conflict, 400 BadRequest, 405 MethodNotAllowed,
           415 UnsupportedMediaType, 422 Invalid.

OpenShift's image API (image.openshift.io/v1), as openshift-apiserver
answers it. imagestreams and images (cluster-scoped, named by digest) are
stored like any resource (an image stream's status.tags through its status
subresource); the virtual resources are computed from them:
  discovery   GET /apis/image.openshift.io/v1: the APIResourceList, only with
           --openshift (a plain kube-apiserver answers 404, and so does this
           server without the flag).
  imagestreamtags
           GET namespaces/NS/imagestreamtags/STREAM:TAG: built from the
           stream's status.tags[] entry for TAG, its newest event
           (items[0]) and the images object it names (metadata: name
           STREAM:TAG, the stream's uid, resourceVersion and labels,
           creationTimestamp = the event's created; tag = the spec tag or
           null; generation; lookupPolicy; image). 404 NotFound for
           imagestreams when the stream is missing, for imagestreamtags when
           the tag has no event, for images when the image is; 400 when the
           name has no ':'.
  imagestreamimages
           GET namespaces/NS/imagestreamimages/STREAM@DIGEST: the image (with
           its signatures) if DIGEST is in any of the stream's tag
           histories; 404 NotFound otherwise.
  imagesignatures
           POST /apis/image.openshift.io/v1/imagesignatures (cluster-scoped):
           validated as openshift-apiserver does (name IMAGE@SIGNATURE, no
           labels or annotations, type and content required and content
           base64, Trusted and ForImage conditions together, the
           informational fields only with Trusted=True: 422 Invalid); 404
           when the image is missing; 409 AlreadyExists
           (imageSignatures.image.openshift.io) when the name, or the same
           type and content, is already on the image; else the signature is
           appended to the image's signatures (a MODIFIED image) and answered
           201. Other verbs on the virtual resources: 405.

Not modelled: discovery (/api, /apis: a typed kube Api needs none; only
image.openshift.io/v1 with --openshift, see below),
admission, validation against CRD schemas, list at an exact old
resourceVersion (lists are always current), deleteCollection, YAML apply
bodies, following pod logs, garbage collection by ownerReferences,
authentication and authorization.

Test hooks (not Kubernetes API; under /_fake/):
  GET    /_fake/objects        every stored object
  GET    /_fake/log            every request: {"seq", "method", "path",
                               "query", "code", "client", "time" (when
                               its answer began, Unix seconds)}
  POST   /_fake/faults         {"method", "path" (suffix of the path),
                               "query", "body" (substrings of the query
                               and the body; all optional),
                               "action": "hang" | "error", "code"}: matching
                               requests hang until the fault is cleared, or
                               answer a Status with that code; the answer is
                               the fault with an "id"
  GET    /_fake/faults         the faults with their "hits"
  DELETE /_fake/faults         clears them (hung requests are answered 503)
  PUT    /_fake/logs/NS/POD/CONTAINER
                               the body becomes that container's log, as
                               GET /api/v1/namespaces/NS/pods/POD/log serves
                               it (container, tailLines, limitBytes; 400
                               while no log was stored, as for a container
                               waiting to start)
  POST   /_fake/watches/close  ends every open watch (as an API server
                               restart or a watch timeout does)
  POST   /_fake/compact        forgets the watch history (as etcd
                               compaction does): a watch from an older
                               resourceVersion then gets 410 Expired

Usage: fake_apiserver.py [--port P] [--history N] [--bookmark-interval S] [--openshift] [--verbose]
Prints "listening on PORT" on stdout once ready. Python 3 standard library only.
"""

import argparse
import base64
import copy
import datetime
import http.server
import json
import re
import sys
import threading
import time
import urllib.parse
import uuid

# Groups whose resources are built in (strategic merge patch is accepted).
BUILTIN_GROUPS = {
    "", "apps", "batch", "coordination.k8s.io", "events.k8s.io", "policy",
    "rbac.authorization.k8s.io", "networking.k8s.io", "autoscaling",
}
# Kinds of well-known resources, for lists of resources nothing was created in.
KNOWN_KINDS = {
    "pods": "Pod", "configmaps": "ConfigMap", "secrets": "Secret",
    "services": "Service", "serviceaccounts": "ServiceAccount",
    "namespaces": "Namespace", "events": "Event", "jobs": "Job",
    "deployments": "Deployment", "leases": "Lease",
    "imagesigningrequests": "ImageSigningRequest",
    "imagescanningrequests": "ImageScanningRequest",
    "imagestreams": "ImageStream", "imagestreamtags": "ImageStreamTag",
    "images": "Image", "imagesignatures": "ImageSignature",
}
# Lists merged item by item by server-side apply: name -> key field (None: a set).
LIST_MAPS = {"conditions": "type", "finalizers": None}
# Metadata fields the client may set; the rest belong to the server.
SERVER_META = ("uid", "resourceVersion", "generation", "creationTimestamp",
               "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields",
               "selfLink")


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class ApiError(Exception):
    def __init__(self, code, reason, message, details=None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self):
        s = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
             "message": self.message, "reason": self.reason, "code": self.code}
        if self.details is not None:
            s["details"] = self.details
        return s


class Target:
    """A parsed API path."""

    def __init__(self, group, version, namespace, resource, name, sub):
        self.group = group
        self.version = version
        self.namespace = namespace
        self.resource = resource
        self.name = name
        self.sub = sub

    @property
    def api_version(self):
        return self.version if not self.group else "%s/%s" % (self.group, self.version)

    @property
    def qualified(self):
        return self.resource if not self.group else "%s.%s" % (self.resource, self.group)

    def details(self, name=None):
        return {"name": name or self.name, "group": self.group, "kind": self.resource}

    def not_found(self, name=None):
        return ApiError(404, "NotFound", '%s "%s" not found' % (self.qualified, name or self.name),
                        self.details(name))


def parse_path(path):
    parts = [urllib.parse.unquote(p) for p in path.strip("/").split("/")]
    if len(parts) >= 2 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    namespace = None
    if len(rest) >= 3 and rest[0] == "namespaces":
        namespace, rest = rest[1], rest[2:]
    if not rest or len(rest) > 3:
        return None
    return Target(group, version, namespace, rest[0],
                  rest[1] if len(rest) > 1 else None, rest[2] if len(rest) > 2 else None)


# -- field sets (server-side apply) -----------------------------------------

def field_paths(value, prefix=()):
    """The leaf paths a configuration sets. A path element is a key, or
    ("k", key field, key value) for a list-map item, or ("v", value) for a
    set item."""
    out = set()
    if isinstance(value, dict):
        if not value and prefix:
            out.add(prefix)
        for k, v in value.items():
            if k in LIST_MAPS and isinstance(v, list):
                key = LIST_MAPS[k]
                for item in v:
                    if key is None:
                        out.add(prefix + (k, ("v", json.dumps(item, sort_keys=True))))
                    elif isinstance(item, dict) and key in item:
                        item_path = prefix + (k, ("k", key, json.dumps(item[key])))
                        out.add(item_path)
                        out |= field_paths(item, item_path)
            else:
                out |= field_paths(v, prefix + (k,))
        return out
    out.add(prefix)
    return out


def fields_v1(paths):
    """managedFields' FieldsV1 rendering of a path set."""
    root = {}
    for p in sorted(paths, key=repr):
        node = root
        for el in p:
            if isinstance(el, tuple) and el[0] == "k":
                name = "k:" + json.dumps({el[1]: json.loads(el[2])}, separators=(",", ":"))
            elif isinstance(el, tuple):
                name = "v:" + el[1]
            else:
                name = "f:" + el
            node = node.setdefault(name, {})
            if isinstance(el, tuple):
                node["."] = {}
    return root


def _find_item(lst, el):
    for i, item in enumerate(lst):
        if el[0] == "k" and isinstance(item, dict) and json.dumps(item.get(el[1])) == el[2]:
            return i
        if el[0] == "v" and json.dumps(item, sort_keys=True) == el[1]:
            return i
    return None


def get_path(obj, path):
    node = obj
    for el in path:
        if isinstance(el, tuple):
            if not isinstance(node, list):
                return None
            i = _find_item(node, el)
            if i is None:
                return None
            node = node[i]
        else:
            if not isinstance(node, dict) or el not in node:
                return None
            node = node[el]
    return node


def remove_path(obj, path):
    """Removes the field or item at path; prunes maps it leaves empty."""
    if not path:
        return
    parent = get_path(obj, path[:-1])
    el = path[-1]
    if isinstance(el, tuple):
        if isinstance(parent, list):
            i = _find_item(parent, el)
            if i is not None:
                del parent[i]
    elif isinstance(parent, dict) and el in parent:
        del parent[el]
    if len(path) > 1 and parent == {} and not isinstance(path[-2], tuple):
        remove_path(obj, path[:-1])


def apply_merge(obj, config):
    """Merges an applied configuration into obj: maps recursively, list maps
    and sets item by item, everything else replaced."""
    for k, v in config.items():
        if k in LIST_MAPS and isinstance(v, list) and isinstance(obj.get(k), list):
            key = LIST_MAPS[k]
            current = obj[k]
            for item in v:
                if key is None:
                    if item not in current:
                        current.append(item)
                    continue
                el = ("k", key, json.dumps(item.get(key) if isinstance(item, dict) else None))
                i = _find_item(current, el)
                if i is None:
                    current.append(copy.deepcopy(item))
                elif isinstance(item, dict) and isinstance(current[i], dict):
                    apply_merge(current[i], item)
                else:
                    current[i] = copy.deepcopy(item)
        elif isinstance(v, dict) and isinstance(obj.get(k), dict):
            apply_merge(obj[k], v)
        else:
            obj[k] = copy.deepcopy(v)


# -- patches ----------------------------------------------------------------

def merge_patch(target, patch):
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if not isinstance(target, dict):
        target = {}
    target = dict(target)
    for k, v in patch.items():
        if v is None:
            target.pop(k, None)
        else:
            target[k] = merge_patch(target.get(k), v)
    return target


def _pointer(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise ApiError(422, "Invalid", "invalid JSON pointer %r" % path)
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _container(doc, tokens):
    node = doc
    for t in tokens[:-1]:
        if isinstance(node, list):
            node = node[int(t)]
        else:
            node = node[t]
    return node


def json_patch(doc, ops):
    """RFC 6902."""
    if not isinstance(ops, list):
        raise ApiError(400, "BadRequest", "json patch must be a list of operations")
    doc = copy.deepcopy(doc)
    for op in ops:
        try:
            kind = op["op"]
            tokens = _pointer(op["path"])

            def add(tokens, value):
                nonlocal doc
                if not tokens:
                    doc = value
                    return
                c = _container(doc, tokens)
                last = tokens[-1]
                if isinstance(c, list):
                    c.insert(len(c) if last == "-" else int(last), value)
                else:
                    c[last] = value

            def remove(tokens):
                c = _container(doc, tokens)
                last = tokens[-1]
                if isinstance(c, list):
                    return c.pop(int(last))
                return c.pop(last)

            def get(tokens):
                node = doc
                for t in tokens:
                    node = node[int(t)] if isinstance(node, list) else node[t]
                return node

            if kind == "add":
                add(tokens, copy.deepcopy(op["value"]))
            elif kind == "remove":
                remove(tokens)
            elif kind == "replace":
                get(tokens)
                remove(tokens) if tokens else None
                add(tokens, copy.deepcopy(op["value"]))
            elif kind == "move":
                value = remove(_pointer(op["from"]))
                add(tokens, value)
            elif kind == "copy":
                add(tokens, copy.deepcopy(get(_pointer(op["from"]))))
            elif kind == "test":
                try:
                    current = get(tokens)
                except (KeyError, IndexError):
                    # evanphx/json-patch: a missing value tests equal to null.
                    current = None
                if current != op["value"]:
                    raise ApiError(422, "Invalid",
                                   "the server rejected our request due to an error in our "
                                   "request: test failed at %s" % op["path"])
            else:
                raise ApiError(422, "Invalid", "unknown json patch op %r" % kind)
        except ApiError:
            raise
        except (KeyError, IndexError, ValueError, TypeError) as e:
            raise ApiError(422, "Invalid", "the server rejected our request due to an error "
                           "in our request: %s: %r" % (op.get("op") if isinstance(op, dict) else op, e))
    return doc


# -- selectors --------------------------------------------------------------

def label_matcher(selector):
    if not selector:
        return lambda labels: True
    reqs = []
    for term in selector.split(","):
        term = term.strip()
        if "!=" in term:
            k, v = term.split("!=", 1)
            reqs.append(lambda l, k=k.strip(), v=v.strip(): l.get(k) != v)
        elif "==" in term or "=" in term:
            k, v = re.split("==?", term, maxsplit=1)
            reqs.append(lambda l, k=k.strip(), v=v.strip(): l.get(k) == v)
        elif term.startswith("!"):
            reqs.append(lambda l, k=term[1:].strip(): k not in l)
        elif term:
            reqs.append(lambda l, k=term: k in l)
    return lambda labels: all(r(labels or {}) for r in reqs)


def field_matcher(selector):
    if not selector:
        return lambda obj: True
    reqs = []
    for term in selector.split(","):
        neg = "!=" in term
        k, v = re.split("!=|==?", term, maxsplit=1)
        parts = k.strip().split(".")

        def check(obj, parts=parts, v=v.strip(), neg=neg):
            node = obj
            for p in parts:
                node = node.get(p) if isinstance(node, dict) else None
            return (str(node if node is not None else "") == v) != neg
        reqs.append(check)
    return lambda obj: all(r(obj) for r in reqs)


# -- the store --------------------------------------------------------------

class Store:
    def __init__(self, history):
        self.cond = threading.Condition()
        self.rv = 1
        self.objects = {}  # (group, resource, namespace or "", name) -> object
        self.owned = {}  # object key -> {(manager, subresource): set of paths}
        self.kinds = dict(KNOWN_KINDS)
        self.events = []  # (rv, group, resource, namespace, type, object)
        self.history = history
        self.compacted = 1  # events after this rv are all kept

    def next_rv(self):
        self.rv += 1
        return self.rv

    def record(self, t, kind, obj):
        rv = int(obj["metadata"]["resourceVersion"])
        self.events.append((rv, t.group, t.resource, obj["metadata"].get("namespace", ""),
                            kind, copy.deepcopy(obj)))
        if len(self.events) > self.history:
            dropped = self.events[: len(self.events) - self.history]
            self.events = self.events[len(self.events) - self.history:]
            self.compacted = dropped[-1][0]
        self.cond.notify_all()

    def key(self, t, name=None):
        return (t.group, t.resource, t.namespace or "", name or t.name)

    def kind_of(self, t):
        k = self.kinds.get(t.resource)
        if k:
            return k
        singular = t.resource[:-1] if t.resource.endswith("s") else t.resource
        return singular[:1].upper() + singular[1:]

    def get(self, t):
        obj = self.objects.get(self.key(t))
        if obj is None:
            raise t.not_found()
        return obj

    def matching(self, t, labels, fields):
        out = []
        for (g, r, ns, _), obj in self.objects.items():
            if g != t.group or r != t.resource:
                continue
            if t.namespace is not None and ns != t.namespace:
                continue
            if labels(obj["metadata"].get("labels")) and fields(obj):
                out.append(obj)
        out.sort(key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
        return out

    # Writes. Each returns the stored object.

    def create(self, t, body, manager=None, applied=None):
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "the body of the request was not a JSON object")
        obj = copy.deepcopy(body)
        meta = obj.setdefault("metadata", {})
        if t.namespace is not None:
            if meta.get("namespace") not in (None, "", t.namespace):
                raise ApiError(400, "BadRequest",
                               "the namespace of the provided object does not match the "
                               "namespace sent on the request")
            meta["namespace"] = t.namespace
        if not meta.get("name"):
            if meta.get("generateName"):
                meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
            else:
                raise ApiError(422, "Invalid", "%s \"\" is invalid: metadata.name: Required value: "
                               "name or generateName is required" % t.qualified,
                               {"group": t.group, "kind": self.kind_of(t)})
        key = self.key(t, meta["name"])
        if key in self.objects:
            raise ApiError(409, "AlreadyExists", '%s "%s" already exists' % (t.qualified, meta["name"]),
                           t.details(meta["name"]))
        if obj.get("kind"):
            self.kinds.setdefault(t.resource, obj["kind"])
        obj["kind"] = self.kind_of(t)
        obj["apiVersion"] = t.api_version
        for f in SERVER_META:
            meta.pop(f, None)
        obj.pop("status", None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_rfc3339()
        meta["generation"] = 1
        meta["resourceVersion"] = str(self.next_rv())
        self.owned[key] = {}
        if manager is not None:
            self.owned[key][(manager, "")] = applied
        self.render_managed(key, obj)
        self.objects[key] = obj
        self.record(t, "ADDED", obj)
        return obj

    def render_managed(self, key, obj):
        entries = []
        for (manager, sub), paths in sorted(self.owned.get(key, {}).items()):
            e = {"manager": manager, "operation": "Apply", "apiVersion": obj["apiVersion"],
                 "time": now_rfc3339(), "fieldsType": "FieldsV1", "fieldsV1": fields_v1(paths)}
            if sub:
                e["subresource"] = sub
            entries.append(e)
        if entries:
            obj["metadata"]["managedFields"] = entries
        else:
            obj["metadata"].pop("managedFields", None)

    def write(self, t, new, precondition_rv=None, update=True):
        """Stores `new` as the next state of the object at t (the main
        resource or its status, per t.sub): status-subresource rules,
        generation, no-op detection, finalizers, events. An update (not an
        apply) takes the fields it changes away from their appliers, as the
        real server's field management does: a field an update removed or
        changed is no longer an applier's, so a later apply by another
        manager does not conflict on it."""
        key = self.key(t)
        old = self.objects.get(key)
        if old is None:
            raise t.not_found()
        if not isinstance(new, dict):
            raise ApiError(400, "BadRequest", "the body of the request was not a JSON object")
        if precondition_rv and precondition_rv != old["metadata"]["resourceVersion"]:
            raise ApiError(409, "Conflict",
                           'Operation cannot be fulfilled on %s "%s": the object has been '
                           "modified; please apply your changes to the latest version and "
                           "try again" % (t.qualified, t.name), t.details())
        name = new.get("metadata", {}).get("name")
        if name not in (None, t.name):
            raise ApiError(400, "BadRequest", "the name of the object (%s) does not match the name "
                           "on the URL (%s)" % (name, t.name))
        if t.sub == "status":
            result = copy.deepcopy(old)
            if "status" in new:
                result["status"] = copy.deepcopy(new["status"])
            else:
                result.pop("status", None)
        else:
            result = copy.deepcopy(new)
            result["kind"], result["apiVersion"] = old["kind"], old["apiVersion"]
            meta = result.setdefault("metadata", {})
            for f in SERVER_META + ("name", "namespace"):
                if f in old["metadata"]:
                    meta[f] = old["metadata"][f]
                else:
                    meta.pop(f, None)
            if "status" in old:
                result["status"] = copy.deepcopy(old["status"])
            else:
                result.pop("status", None)
            if old["metadata"].get("deletionTimestamp"):
                added = set(meta.get("finalizers") or []) - set(old["metadata"].get("finalizers") or [])
                if added:
                    raise ApiError(422, "Invalid", "%s \"%s\" is invalid: metadata.finalizers: "
                                   "Forbidden: no new finalizers can be added if the object is "
                                   "being deleted" % (t.qualified, t.name), t.details())
            if not meta.get("finalizers"):
                meta.pop("finalizers", None)
            spec_old = {k: v for k, v in old.items() if k not in ("metadata", "status")}
            spec_new = {k: v for k, v in result.items() if k not in ("metadata", "status")}
            if spec_old != spec_new:
                meta["generation"] = old["metadata"].get("generation", 1) + 1
        if update:
            sub = t.sub or ""
            owned = self.owned.get(key, {})
            for k in list(owned):
                if k[1] != sub:
                    continue
                owned[k] = {p for p in owned[k] if get_path(old, p) == get_path(result, p)}
                if not owned[k]:
                    del owned[k]
        self.render_managed(key, result)
        if _without_managed(result) == _without_managed(old):
            return old
        result["metadata"]["resourceVersion"] = str(self.next_rv())
        if result["metadata"].get("deletionTimestamp") and not result["metadata"].get("finalizers"):
            del self.objects[key]
            self.owned.pop(key, None)
            self.record(t, "DELETED", result)
            return result
        self.objects[key] = result
        self.record(t, "MODIFIED", result)
        return result

    def apply(self, t, config, manager, force):
        """Server-side apply of `config` by `manager` to the main resource or
        its status."""
        if not isinstance(config, dict):
            raise ApiError(400, "BadRequest", "the body of the request was not a JSON object")
        sub = t.sub or ""
        if sub == "status":
            part = {"status": config.get("status", {})} if "status" in config else {}
        else:
            part = {k: v for k, v in config.items() if k not in ("status", "apiVersion", "kind")}
            meta = {k: v for k, v in (part.get("metadata") or {}).items()
                    if k in ("labels", "annotations", "finalizers", "ownerReferences")}
            part["metadata"] = meta
            if not meta:
                part.pop("metadata")
        applied = field_paths(part)
        key = self.key(t)
        old = self.objects.get(key)
        if old is None:
            if sub:
                raise t.not_found()
            body = copy.deepcopy(config)
            body.setdefault("metadata", {})["name"] = t.name
            return self.create(t, body, manager, applied)
        owned = self.owned.setdefault(key, {})
        conflicts = []
        for (other, other_sub), paths in owned.items():
            if other == manager or other_sub != sub:
                continue
            for p in applied & paths:
                if get_path(old, p) != get_path(part, p):
                    conflicts.append((other, p))
        if conflicts and not force:
            other, p = conflicts[0]
            field = ".".join(e if isinstance(e, str) else "[%s]" % e[-1] for e in p)
            raise ApiError(409, "Conflict", 'Apply failed with 1 conflict: conflict with "%s": .%s'
                           % (other, field), dict(t.details(), causes=[
                               {"type": "FieldManagerConflict",
                                "message": 'conflict with "%s"' % other, "field": "." + field}]))
        new = copy.deepcopy(old)
        mine = owned.get((manager, sub), set())
        others = set()
        for (other, other_sub), paths in owned.items():
            if other != manager:
                others |= paths
        for p in sorted(mine - applied, key=len):
            if p not in others:
                remove_path(new, p)
        apply_merge(new, part)
        previous = {k: set(v) for k, v in owned.items()}
        owned[(manager, sub)] = applied
        for k in list(owned):
            if k[0] != manager and k[1] == sub:
                owned[k] = owned[k] - applied
                if not owned[k]:
                    del owned[k]
        try:
            return self.write(t, new, update=False)
        except ApiError:
            self.owned[key] = previous
            raise

    def delete(self, t):
        key = self.key(t)
        old = self.objects.get(key)
        if old is None:
            raise t.not_found()
        if old["metadata"].get("finalizers"):
            if old["metadata"].get("deletionTimestamp"):
                return old, False
            new = copy.deepcopy(old)
            new["metadata"]["deletionTimestamp"] = now_rfc3339()
            new["metadata"]["deletionGracePeriodSeconds"] = 0
            new["metadata"]["resourceVersion"] = str(self.next_rv())
            self.objects[key] = new
            self.record(t, "MODIFIED", new)
            return new, False
        del self.objects[key]
        self.owned.pop(key, None)
        gone = copy.deepcopy(old)
        gone["metadata"]["resourceVersion"] = str(self.next_rv())
        self.record(t, "DELETED", gone)
        return gone, True


def _without_managed(obj):
    o = copy.deepcopy(obj)
    o.get("metadata", {}).pop("managedFields", None)
    return o


# -- HTTP -------------------------------------------------------------------

# -- OpenShift's image API ---------------------------------------------------

IMAGE_GROUP = "image.openshift.io"
IMAGE_VIRTUAL = ("imagestreamtags", "imagestreamimages", "imagesignatures")
IMAGE_DISCOVERY = {
    "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": IMAGE_GROUP + "/v1",
    "resources": [
        {"name": "images", "singularName": "", "namespaced": False, "kind": "Image",
         "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update",
                   "watch"]},
        {"name": "imagesignatures", "singularName": "", "namespaced": False,
         "kind": "ImageSignature", "verbs": ["create", "delete"]},
        {"name": "imagestreamimages", "singularName": "", "namespaced": True,
         "kind": "ImageStreamImage", "verbs": ["get"]},
        {"name": "imagestreams", "singularName": "", "namespaced": True, "kind": "ImageStream",
         "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update",
                   "watch"], "shortNames": ["is"], "categories": ["all"]},
        {"name": "imagestreams/status", "singularName": "", "namespaced": True,
         "kind": "ImageStream", "verbs": ["get", "patch", "update"]},
        {"name": "imagestreamtags", "singularName": "", "namespaced": True,
         "kind": "ImageStreamTag", "verbs": ["create", "delete", "get", "list", "patch",
                                             "update"], "shortNames": ["istag"]},
    ],
}


def _image_target(kind, namespace=None, name=None):
    return Target(IMAGE_GROUP, "v1", namespace, kind, name, None)


def _stream(store, namespace, name):
    return store.get(_image_target("imagestreams", namespace, name))


def _image_body(image):
    """An Image as embedded in ImageStreamTag/ImageStreamImage (no kind)."""
    body = copy.deepcopy(image)
    body.pop("kind", None)
    body.pop("apiVersion", None)
    body.get("metadata", {}).pop("managedFields", None)
    return body


def image_stream_tag(store, t):
    if ":" not in t.name:
        raise ApiError(400, "BadRequest", "ImageStreamTags must be retrieved with <name>:<tag>")
    name, tag = t.name.split(":", 1)
    stream = _stream(store, t.namespace, name)
    history = next((h for h in (stream.get("status") or {}).get("tags") or []
                    if h.get("tag") == tag), None)
    event = (history or {}).get("items") or []
    if not event or not event[0].get("image"):
        raise t.not_found()
    event = event[0]
    image = store.get(_image_target("images", None, event["image"]))
    spec_tag = next((r for r in (stream.get("spec") or {}).get("tags") or []
                     if r.get("name") == tag), None)
    meta = {"name": t.name, "namespace": t.namespace, "uid": stream["metadata"]["uid"],
            "resourceVersion": stream["metadata"]["resourceVersion"],
            "creationTimestamp": event.get("created")}
    if stream["metadata"].get("labels"):
        meta["labels"] = stream["metadata"]["labels"]
    return {"kind": "ImageStreamTag", "apiVersion": IMAGE_GROUP + "/v1", "metadata": meta,
            "tag": spec_tag, "generation": event.get("generation", 0),
            "lookupPolicy": (stream.get("spec") or {}).get("lookupPolicy") or {"local": False},
            "image": _image_body(image)}


def image_stream_image(store, t):
    if "@" not in t.name:
        raise ApiError(400, "BadRequest", "ImageStreamImages must be retrieved with <name>@<id>")
    name, digest = t.name.split("@", 1)
    stream = _stream(store, t.namespace, name)
    known = {e.get("image") for h in (stream.get("status") or {}).get("tags") or []
             for e in h.get("items") or []}
    image = store.objects.get(store.key(_image_target("images", None, digest)))
    if digest not in known or image is None:
        raise t.not_found()
    meta = {"name": t.name, "namespace": t.namespace, "uid": image["metadata"]["uid"],
            "resourceVersion": image["metadata"]["resourceVersion"],
            "creationTimestamp": image["metadata"]["creationTimestamp"]}
    return {"kind": "ImageStreamImage", "apiVersion": IMAGE_GROUP + "/v1", "metadata": meta,
            "image": _image_body(image)}


def _invalid(name, causes):
    return ApiError(422, "Invalid", 'ImageSignature.image.openshift.io "%s" is invalid: %s'
                    % (name, ", ".join(causes)),
                    {"name": name, "group": IMAGE_GROUP, "kind": "ImageSignature"})


def create_image_signature(store, t, body):
    """POST imagesignatures: validateImageSignature, then REST Create."""
    if not isinstance(body, dict):
        raise ApiError(400, "BadRequest", "the body of the request was not a JSON object")
    meta = body.get("metadata") or {}
    name = meta.get("name") or ""
    causes = []
    parts = name.split("@")
    if len(parts) != 2 or not parts[0] or not parts[1]:
        causes.append("metadata.name: Invalid value: %s: name must be of format "
                      "<imageName>@<signatureName>" % json.dumps(name))
    if meta.get("labels"):
        causes.append("metadata.labels: Forbidden: signature labels cannot be set")
    if meta.get("annotations"):
        causes.append("metadata.annotations: Forbidden: signature annotations cannot be set")
    if not body.get("type"):
        causes.append("type: Required value")
    content = body.get("content")
    if not content:
        causes.append("content: Required value")
    else:
        try:
            base64.b64decode(content, validate=True)
        except (ValueError, TypeError):
            causes.append("content: Invalid value: illegal base64 data")
    conditions = {c.get("type"): c.get("status") for c in body.get("conditions") or []}
    if ("Trusted" in conditions) != ("ForImage" in conditions):
        causes.append("conditions: Invalid value: Trusted and ForImage conditions must be "
                      "set together")
    if conditions.get("Trusted") != "True":
        for field in ("imageIdentity", "signedClaims", "issuedBy", "issuedTo"):
            if body.get(field):
                causes.append("%s: Invalid value: must be unset for an untrusted signature"
                              % field)
    if causes:
        raise _invalid(name, causes)
    image_t = _image_target("images", None, parts[0])
    image = store.get(image_t)
    existing = image.get("signatures") or []
    if any((s.get("metadata") or {}).get("name") == name
           or (s.get("type") == body["type"] and s.get("content") == content)
           for s in existing):
        raise ApiError(409, "AlreadyExists",
                       'imageSignatures.%s "%s" already exists' % (IMAGE_GROUP, name),
                       {"name": name, "group": IMAGE_GROUP, "kind": "imageSignatures"})
    signature = {k: copy.deepcopy(v) for k, v in body.items()
                 if k not in ("kind", "apiVersion", "metadata")}
    signature["metadata"] = {"name": name, "uid": str(uuid.uuid4()),
                             "creationTimestamp": now_rfc3339()}
    updated = copy.deepcopy(image)
    updated["signatures"] = existing + [signature]
    store.write(image_t, updated)
    return dict({"kind": "ImageSignature", "apiVersion": IMAGE_GROUP + "/v1"},
                **copy.deepcopy(signature))


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-apiserver/1"

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = bytearray()
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(body)
                body += self.rfile.read(size)
                self.rfile.readline(3)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def send_json(self, code, value):
        body = json.dumps(value).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.logged(code)

    def logged(self, code):
        with self.server.store.cond:
            self.server.log.append({
                "seq": len(self.server.log) + 1, "method": self.command,
                "path": self.url.path, "query": self.url.query, "code": code,
                "client": "%s:%d" % self.client_address,
                "time": time.time(),
            })

    def handle_any(self):
        self.url = urllib.parse.urlsplit(self.path)
        self.query = dict(urllib.parse.parse_qsl(self.url.query, keep_blank_values=True))
        body = self.read_body() if self.command in ("POST", "PUT", "PATCH", "DELETE") else b""
        try:
            if self.url.path.startswith("/_fake/"):
                self.admin(body)
                return
            if self.url.path == "/version":
                self.send_json(200, {"major": "1", "minor": "33", "gitVersion": "v1.33.0-fake",
                                     "platform": "linux/amd64"})
                return
            if self.url.path == "/apis/" + IMAGE_GROUP + "/v1" and self.server.openshift:
                self.send_json(200, IMAGE_DISCOVERY)
                return
            if self.url.path in ("/healthz", "/readyz", "/livez"):
                self.send_json(200, "ok")
                return
            self.fault(body)
            t = parse_path(self.url.path)
            if t is None:
                raise ApiError(404, "NotFound", "the server could not find the requested resource",
                               {})
            self.api(t, body)
        except ApiError as e:
            try:
                self.send_json(e.code, e.status())
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any

    # -- faults -----------------------------------------------------------

    def fault(self, body):
        server = self.server
        text = body.decode("utf-8", "replace")
        with server.store.cond:
            hit = None
            for f in server.faults:
                if f.get("method", self.command) == self.command \
                        and self.url.path.endswith(f.get("path", "")) \
                        and f.get("query", "") in self.url.query \
                        and f.get("body", "") in text:
                    f["hits"] += 1
                    hit = f
                    break
            if hit is None:
                return
            server.store.cond.notify_all()
            if hit.get("action") == "hang":
                while hit in server.faults:
                    server.store.cond.wait(1)
                raise ApiError(503, "ServiceUnavailable", "fault cleared while hanging")
        raise ApiError(hit.get("code", 500), "InternalError", "injected fault %d" % hit["id"])

    def admin(self, body):
        server = self.server
        path = self.url.path
        with server.store.cond:
            if path == "/_fake/objects" and self.command == "GET":
                value = {"items": list(server.store.objects.values()),
                         "resourceVersion": str(server.store.rv)}
            elif path == "/_fake/log" and self.command == "GET":
                value = {"items": list(server.log)}
            elif path == "/_fake/faults" and self.command == "GET":
                value = {"items": server.faults}
            elif path == "/_fake/faults" and self.command == "POST":
                value = json.loads(body)
                value["id"] = len(server.faults) + 1 + server.cleared
                value["hits"] = 0
                server.faults.append(value)
            elif path.startswith("/_fake/logs/") and self.command == "PUT":
                parts = path[len("/_fake/logs/"):].split("/")
                if len(parts) != 3:
                    raise ApiError(400, "BadRequest", "PUT /_fake/logs/NAMESPACE/POD/CONTAINER")
                server.logs[tuple(parts)] = body
                value = {}
            elif path == "/_fake/watches/close" and self.command == "POST":
                server.watch_epoch += 1
                server.store.cond.notify_all()
                value = {}
            elif path == "/_fake/compact" and self.command == "POST":
                server.store.events = []
                server.store.compacted = server.store.rv
                value = {"compacted": str(server.store.rv)}
            elif path == "/_fake/faults" and self.command == "DELETE":
                server.cleared += len(server.faults)
                server.faults = []
                server.store.cond.notify_all()
                value = {}
            else:
                raise ApiError(404, "NotFound", "no such test hook")
        self.send_json(200, value)

    # -- the API ----------------------------------------------------------

    def api(self, t, body):
        store = self.server.store
        if t.group == IMAGE_GROUP and t.resource in IMAGE_VIRTUAL:
            self.image_api(t, body)
            return
        if t.sub == "log" and t.group == "" and t.resource == "pods" and self.command == "GET":
            self.pod_log(t)
            return
        if t.sub not in (None, "status"):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if self.command == "GET" and t.name is None:
            if self.query.get("watch") in ("true", "1"):
                self.watch(t)
            else:
                self.list(t)
            return
        if self.command == "POST":
            if t.name is not None:
                raise ApiError(405, "MethodNotAllowed", "the server does not allow this method "
                               "on the requested resource")
            with store.cond:
                obj = copy.deepcopy(store.create(t, self.json(body)))
            self.send_json(201, obj)
            return
        if t.name is None:
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on "
                           "the requested resource")
        with store.cond:
            if self.command == "GET":
                code, value = 200, copy.deepcopy(store.get(t))
            elif self.command == "PUT":
                new = self.json(body)
                rv = (new.get("metadata") or {}).get("resourceVersion") if isinstance(new, dict) else None
                code, value = 200, copy.deepcopy(store.write(t, new, rv))
            elif self.command == "PATCH":
                code, value = 200, copy.deepcopy(self.patch(t, body))
            elif self.command == "DELETE":
                if t.sub:
                    raise ApiError(405, "MethodNotAllowed", "the server does not allow this "
                                   "method on the requested resource")
                obj, gone = store.delete(t)
                if gone:
                    code, value = 200, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                        "status": "Success", "details": dict(
                                            t.details(), uid=obj["metadata"]["uid"])}
                else:
                    code, value = 200, copy.deepcopy(obj)
            else:
                raise ApiError(405, "MethodNotAllowed", "the server does not allow this method")
        self.send_json(code, value)

    # -- OpenShift's image API (see the module docs) ---------------------

    def image_api(self, t, body):
        store = self.server.store
        if t.sub is not None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        with store.cond:
            if t.resource == "imagesignatures" and self.command == "POST" and t.name is None \
                    and t.namespace is None:
                code, value = 201, create_image_signature(store, t, self.json(body))
            elif t.resource == "imagestreamtags" and self.command == "GET" and t.name \
                    and t.namespace:
                code, value = 200, image_stream_tag(store, t)
            elif t.resource == "imagestreamimages" and self.command == "GET" and t.name \
                    and t.namespace:
                code, value = 200, image_stream_image(store, t)
            else:
                raise ApiError(405, "MethodNotAllowed", "the server does not allow this method "
                               "on the requested resource")
        self.send_json(code, value)

    def pod_log(self, t):
        """GET pods/NAME/log: the text a test stored for the container, as
        the kubelet serves it (container, tailLines, limitBytes)."""
        store = self.server.store
        with store.cond:
            pod = copy.deepcopy(store.get(t))
            containers = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
            container = self.query.get("container")
            if not container:
                if len(containers) != 1:
                    raise ApiError(400, "BadRequest", "a container name must be specified for "
                                   "pod %s, choose one of: [%s]" % (t.name, " ".join(containers)))
                container = containers[0]
            if container not in containers:
                raise ApiError(400, "BadRequest", "container %s is not valid for pod %s"
                               % (container, t.name))
            text = self.server.logs.get((t.namespace, t.name, container))
        if text is None:
            raise ApiError(400, "BadRequest", 'container "%s" in pod "%s" is waiting to start: '
                           "ContainerCreating" % (container, t.name))
        if self.query.get("tailLines"):
            lines = text.splitlines(True)
            text = b"".join(lines[len(lines) - min(len(lines), int(self.query["tailLines"])):])
        if self.query.get("limitBytes"):
            text = text[: int(self.query["limitBytes"])]
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        self.wfile.write(text)
        self.logged(200)

    def json(self, body):
        try:
            return json.loads(body)
        except ValueError as e:
            raise ApiError(400, "BadRequest", "the body of the request was in an unknown "
                           "format: %s" % e)

    def patch(self, t, body):
        store = self.server.store
        ctype = self.headers.get("Content-Type", "").split(";")[0].strip()
        if ctype == "application/apply-patch+yaml":
            manager = self.query.get("fieldManager")
            if not manager:
                raise ApiError(422, "Invalid", 'PatchOptions.meta.k8s.io "" is invalid: '
                               "fieldManager: Required value: is required for apply patch")
            force = self.query.get("force") == "true"
            return store.apply(t, self.json(body), manager, force)
        old = store.get(t)
        if ctype == "application/merge-patch+json":
            new = merge_patch(old, self.json(body))
        elif ctype == "application/strategic-merge-patch+json":
            if t.group not in BUILTIN_GROUPS:
                raise ApiError(415, "UnsupportedMediaType", "the body of the request was in an "
                               "unknown format - accepted media types include: "
                               "application/json-patch+json, application/merge-patch+json, "
                               "application/apply-patch+yaml")
            new = merge_patch(old, self.json(body))
        elif ctype == "application/json-patch+json":
            new = json_patch(old, self.json(body))
        else:
            raise ApiError(415, "UnsupportedMediaType", "the body of the request was in an "
                           "unknown format - accepted media types include: "
                           "application/json-patch+json, application/merge-patch+json, "
                           "application/apply-patch+yaml")
        rv = (new.get("metadata") or {}).get("resourceVersion") if isinstance(new, dict) else None
        if rv == old["metadata"]["resourceVersion"]:
            rv = None
        return store.write(t, new, rv)

    def list(self, t):
        store = self.server.store
        labels = label_matcher(self.query.get("labelSelector"))
        fields = field_matcher(self.query.get("fieldSelector"))
        with store.cond:
            items = [copy.deepcopy(o) for o in store.matching(t, labels, fields)]
            rv = str(store.rv)
            kind = store.kind_of(t)
        meta = {"resourceVersion": rv}
        limit = int(self.query.get("limit") or 0)
        if self.query.get("resourceVersion") == "0":
            limit = 0
        start = 0
        token = self.query.get("continue")
        if token:
            try:
                state = json.loads(base64.urlsafe_b64decode(token.encode()))
                start, meta["resourceVersion"] = state["start"], state["rv"]
            except (ValueError, KeyError, TypeError):
                raise ApiError(400, "BadRequest", "continue key is not valid")
        if limit:
            rest = items[start + limit:]
            items = items[start:start + limit]
            if rest:
                meta["continue"] = base64.urlsafe_b64encode(json.dumps(
                    {"start": start + limit, "rv": meta["resourceVersion"]}).encode()).decode()
                meta["remainingItemCount"] = len(rest)
        else:
            items = items[start:]
        if t.group in BUILTIN_GROUPS:
            # Built-in lists leave kind and apiVersion out of their items;
            # custom resources (stored unstructured) keep them.
            for o in items:
                o.pop("kind", None)
                o.pop("apiVersion", None)
        self.send_json(200, {"kind": kind + "List", "apiVersion": t.api_version,
                             "metadata": meta, "items": items})

    def watch(self, t):
        store = self.server.store
        labels = label_matcher(self.query.get("labelSelector"))
        fields = field_matcher(self.query.get("fieldSelector"))
        timeout = int(self.query.get("timeoutSeconds") or 1800)
        bookmarks = self.query.get("allowWatchBookmarks") == "true"
        initial_events = self.query.get("sendInitialEvents") == "true"
        requested = self.query.get("resourceVersion") or ""
        deadline = time.monotonic() + timeout
        with store.cond:
            epoch = self.server.watch_epoch
            kind = store.kind_of(t)
            expired = None
            initial = []
            if requested in ("", "0") or initial_events:
                initial = [copy.deepcopy(o) for o in store.matching(t, labels, fields)]
                cursor = store.rv
            else:
                try:
                    cursor = int(requested)
                except ValueError:
                    raise ApiError(400, "BadRequest", "invalid resourceVersion %r" % requested)
                if cursor < store.compacted:
                    expired = ApiError(410, "Expired", "too old resource version: %d (%d)"
                                       % (cursor, store.compacted))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.logged(200)

        def send(kind, obj):
            line = json.dumps({"type": kind, "object": obj}).encode() + b"\n"
            self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
            self.wfile.flush()

        def bookmark(rv, annotations=None):
            meta = {"resourceVersion": str(rv)}
            if annotations:
                meta["annotations"] = annotations
            send("BOOKMARK", {"kind": kind, "apiVersion": t.api_version, "metadata": meta})

        def relevant(event):
            rv, group, resource, ns, _, obj = event
            return group == t.group and resource == t.resource \
                and (t.namespace is None or ns == t.namespace) \
                and labels(obj["metadata"].get("labels")) and fields(obj)

        try:
            if expired is not None:
                send("ERROR", expired.status())
                self.wfile.write(b"0\r\n\r\n")
                return
            for o in initial:
                send("ADDED", o)
            if initial_events:
                bookmark(cursor, {"k8s.io/initial-events-end": "true"})
            last_sent = time.monotonic()
            while True:
                with store.cond:
                    pending = [e for e in store.events if e[0] > cursor]
                    if pending and pending[0][0] > cursor + 1 and cursor < store.compacted:
                        expired = ApiError(410, "Expired", "too old resource version: %d (%d)"
                                           % (cursor, store.compacted))
                        pending = None
                    elif not pending:
                        left = deadline - time.monotonic()
                        if left <= 0 or self.server.watch_epoch != epoch:
                            break
                        wait = min(left, self.server.bookmark_interval)
                        store.cond.wait(wait)
                        pending = [e for e in store.events if e[0] > cursor]
                    current = store.rv
                if pending is None:
                    send("ERROR", expired.status())
                    self.wfile.write(b"0\r\n\r\n")
                    return
                for e in pending:
                    cursor = e[0]
                    if relevant(e):
                        send(e[4], e[5])
                        last_sent = time.monotonic()
                if not pending and bookmarks and \
                        time.monotonic() - last_sent >= self.server.bookmark_interval:
                    cursor = max(cursor, current)
                    bookmark(cursor)
                    last_sent = time.monotonic()
                if time.monotonic() >= deadline or self.server.watch_epoch != epoch:
                    break
            if bookmarks:
                bookmark(cursor)
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


class Server(http.server.ThreadingHTTPServer):
    # socketserver's default backlog is 5 connections: a controller opening
    # hundreds at once (one per request in flight) would see refusals that
    # a real API server never gives.
    request_queue_size = 1024


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--history", type=int, default=1000,
                   help="watch events kept; older resourceVersions get 410 Expired")
    p.add_argument("--bookmark-interval", type=float, default=5.0)
    p.add_argument("--openshift", action="store_true",
                   help="serve the discovery of image.openshift.io/v1 (an OpenShift cluster)")
    p.add_argument("--verbose", action="store_true")
    a = p.parse_args()
    server = Server(("127.0.0.1", a.port), Handler)
    server.daemon_threads = True
    server.store = Store(a.history)
    server.log = []
    server.faults = []
    server.cleared = 0
    server.watch_epoch = 0
    server.logs = {}
    server.bookmark_interval = a.bookmark_interval
    server.verbose = a.verbose
    server.openshift = a.openshift
    print("listening on %d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
