"""The account graph: every pair of accounts the detectors found tied, one weighted edge each,
with its evidence (``links``)."""
