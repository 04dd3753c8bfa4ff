"""Threat-intelligence sharing: campaigns out as STIX 2.1 bundles, partners' indicators in.

What travels is never a user's data: indicators are keyed hashes (HMAC-SHA256 under a
community key) of canonical values, keyed MinHash signatures of prompt frames, or, only when
asked for, raw values of datacenter networks. Low-entropy kinds (IP prefixes, e-mail domains)
are compared by private set intersection instead of being shared as hashes. The threat model
is written down in ``docs/sharing.md``.

Modules: ``keys`` (community key, key id), ``canonical`` (each kind's versioned canonical
form), ``minhash`` (keyed MinHash of frames), ``shared`` (the campaign input shape),
``indicators`` (what a campaign shares), ``bundle`` (STIX export), ``validate`` (strict import
checks), ``intake`` (the store tables), ``match`` (our accounts against partners'
indicators), ``psi`` (private set intersection), ``taxii`` (push and pull).
"""
