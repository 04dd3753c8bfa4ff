"""Reports: what a campaign looks like, for people (``stillwatch report``, the campaign page)."""
