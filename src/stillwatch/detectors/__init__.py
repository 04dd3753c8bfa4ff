"""Detectors: scored signals with evidence, per account (and account pairs for the link stage).

- :mod:`.base` the shapes (``Signal``, ``LinkCandidate``, ``DetectorOutput``, the context);
- :mod:`.rules` declarative YAML rules (``rules/*.yaml``) compiled to engine queries;
- :mod:`.infrastructure`, :mod:`.synchrony`, :mod:`.bursts`, :mod:`.pivots` cross-account
  detectors; :mod:`.content` the seam to the content analysis package;
- :mod:`.registry` every detector; :mod:`.score` the account score; :mod:`.words` and
  :mod:`.explain` the evidence in plain words.
"""
