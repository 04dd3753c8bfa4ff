"""Bundles to and from a TAXII 2.1 collection (``taxii2-client``).

``push`` checks the bundle as strictly as an import would (minus the key, which the receivers
check) and adds its objects to the collection, waiting until the server reports the add
complete. It leaves out ``extension-definition`` objects: they never change, stillwatch ships
its own (``bundle.EXTENSION_SCHEMA``, docs/sharing.md), and the OASIS reference server,
medallion 3.0.0, reads an extension definition's ``version`` property ("1.0.0") as a
timestamp, so one such object in a collection makes every later read of it fail. ``pull`` reads every object of the collection, page by page, wraps them in one
bundle (its id derived from the objects, so pulling the same objects twice is the same
bundle), and hands it to ``intake`` like a file: validated, with the collection's URL as its
provenance.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from taxii2client.exceptions import TAXIIServiceException
from taxii2client.v21 import Collection, as_pages

from stillwatch.errors import InputError, StillwatchError
from stillwatch.intel.bundle import NAMESPACE
from stillwatch.intel.validate import check_stix, parse_json

PAGE = 100


class TaxiiError(StillwatchError):
    """The TAXII server refused or could not be reached."""


def collection_url(api_root: str, collection_id: str) -> str:
    return f"{api_root.rstrip('/')}/collections/{collection_id}/"


def _collection(
    api_root: str, collection_id: str, user: str | None, password: str | None
) -> Collection:
    return Collection(collection_url(api_root, collection_id), user=user, password=password)


@dataclass(frozen=True)
class PushResult:
    url: str
    status: str
    added: int
    failed: int
    pending: int


def push(raw: bytes, source: str, api_root: str, collection_id: str, user: str | None,
         password: str | None, *, max_bytes: int, max_nesting: int) -> PushResult:  # fmt: skip
    data = parse_json(raw, source, max_bytes, max_nesting)
    check_stix(data, source)
    data["objects"] = [o for o in data["objects"] if o.get("type") != "extension-definition"]
    url = collection_url(api_root, collection_id)
    try:
        status = _collection(api_root, collection_id, user, password).add_objects(
            json.dumps(data), wait_for_completion=True, poll_interval=1, timeout=60
        )
    except (TAXIIServiceException, OSError) as exc:
        raise TaxiiError(f"{url}: push failed: {str(exc).splitlines()[0][:300]}") from None
    return PushResult(
        url, status.status, status.success_count, status.failure_count, status.pending_count
    )


def pull(
    api_root: str, collection_id: str, user: str | None, password: str | None
) -> tuple[bytes, str]:
    """Every object of the collection as one bundle's bytes, and its provenance."""
    url = collection_url(api_root, collection_id)
    objects: list[dict[str, Any]] = []
    try:
        collection = _collection(api_root, collection_id, user, password)
        for envelope in as_pages(collection.get_objects, per_request=PAGE):
            objects.extend(envelope.get("objects", []))
    except (TAXIIServiceException, OSError) as exc:
        raise TaxiiError(f"{url}: pull failed: {str(exc).splitlines()[0][:300]}") from None
    if not objects:
        raise InputError(url, "the collection holds no objects")
    objects.sort(key=lambda o: (str(o.get("id")), str(o.get("modified", ""))))
    digest = json.dumps(objects, sort_keys=True)
    bundle = {
        "type": "bundle",
        "id": f"bundle--{uuid.uuid5(NAMESPACE, 'taxii|' + digest)}",
        "objects": objects,
    }
    return json.dumps(bundle, sort_keys=True).encode("utf-8"), f"taxii:{url}"
