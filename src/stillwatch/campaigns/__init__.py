"""Campaigns: clusters of the account graph judged as a whole, their size with intervals,
the operator behind them, and ids that stay the same across re-scans."""
