"""TLP 2.0 levels and the official STIX marking definitions of each (OASIS
cti-stix-common-objects, extension-definition-specifications/tlp-2.0)."""

from __future__ import annotations

TLP_EXTENSION_ID = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
TLP_IDS = {
    "clear": "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    "green": "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    "amber": "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    "amber+strict": "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    "red": "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}
TLP_CREATED = "2022-10-01T00:00:00.000Z"

# Raw values (datacenter prefixes, private mail domains) may only travel under a level that
# keeps them inside the recipients' organizations: CLEAR is public and GREEN is community-wide.
RAW_ALLOWED = ("amber", "amber+strict", "red")
