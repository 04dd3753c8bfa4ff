"""``stillwatch report``: one self-contained file per run, HTML, Markdown or JSON by the
extension of ``--out``.

- **HTML**: one file, its pictures inline SVG (``report.svg``), its style inline; nothing is
  fetched when it is opened.
- **Markdown**: the text and tables, each picture an SVG file written beside it
  (``<name>-<campaign>-<chart>.svg``) and linked by a relative path.
- **JSON**: the facts (``report.facts``) as data, no pictures.

Prompt text appears only with ``show_text``; otherwise a sample prompt is its shape (length,
slots by kind, frame share).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

from stillwatch.engine.store import Store
from stillwatch.errors import UsageError
from stillwatch.report import svg
from stillwatch.report.facts import campaign_facts, check_campaign, reported_ids, scan_overview

FORMATS = {".html": "html", ".htm": "html", ".md": "markdown", ".json": "json"}
MEMBERS_SHOWN = 50


def out_format(out: Path) -> str:
    """The report's format from ``out``'s extension; UsageError for any other."""
    fmt = FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise UsageError(f"--out {out}: the extension must be .html, .md or .json")
    if not out.parent.exists():
        raise UsageError(f"--out {out}: folder {out.parent} does not exist")
    return fmt


def _version() -> str:
    try:
        return package_version("stillwatch")
    except PackageNotFoundError:
        return "unknown"


def gather(
    store: Store,
    scan_id: str,
    campaign_ids: Sequence[str] | None,
    *,
    show_text: bool,
    max_nodes: int,
) -> dict[str, Any]:
    """The report's content: the scan, and the facts of each campaign (every reported one by
    default)."""
    ids = list(campaign_ids) if campaign_ids else reported_ids(store, scan_id)
    for cid in ids:
        check_campaign(store, scan_id, cid)
    reports = [
        campaign_facts(
            store,
            scan_id,
            cid,
            max_nodes=max_nodes,
            show_text=show_text,
            member_limit=MEMBERS_SHOWN,
        )
        for cid in ids
    ]
    return {
        "overview": scan_overview(store, scan_id),
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "version": _version(),
        "show_text": show_text,
        "reports": reports,
    }


def pictures(r: dict[str, Any]) -> dict[str, str]:
    """Every chart of one campaign's section, as SVG text by name."""
    cid = r["campaign"]["campaign_id"]
    return {
        "daily": svg.daily_chart(r["daily"], f"{cid}: exchanges per day"),
        "graph": svg.graph_picture(r["graph"], f"{cid}: account graph"),
        "capabilities": svg.share_bars(
            r["capabilities"],
            "capability",
            "Capabilities: share of members vs all accounts",
            "all labelled accounts",
        ),
        "asn_kinds": svg.share_bars(
            r["infrastructure"]["asn_kinds"],
            "kind",
            "Network kinds (ASN): share of exchanges vs all other traffic",
            "other traffic",
        ),
        "rhythm_campaign": svg.heatmap(
            r["rhythm"]["campaign"], f"{cid}: exchanges by hour of the week (UTC)"
        ),
        "rhythm_legitimate": svg.heatmap(
            r["rhythm"]["legitimate"], "All other traffic by hour of the week (UTC)", svg.LEGIT
        ),
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def render_html(content: dict[str, Any]) -> str:
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(
        loader=PackageLoader("stillwatch.report", "templates"),
        autoescape=select_autoescape(["html"]),
    )
    reports = [dict(r, svg=pictures(r)) for r in content["reports"]]
    return env.get_template("report.html").render(**dict(content, reports=reports))


def _md_cell(value: Any) -> str:
    return str("" if value is None else value).replace("|", "\\|").replace("\n", " ")


def _md_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(_md_cell(v) for v in row) + " |" for row in rows]
    return [*out, ""]


def _md_prompt(s: dict[str, Any]) -> str:
    if s["segments"] is None:
        slots = ", ".join(f"{k}×{n}" for k, n in s["slots"].items()) or "none"
        return f"*redacted: {s['chars']} characters, frame {100 * s['frame_share']:.0f}%, slots {slots}*"
    # The frame in bold, the slots as code: Markdown has no highlight.
    parts = []
    for seg in s["segments"]:
        text = seg["text"].replace("\n", " ").replace("|", "\\|")
        if not text.strip():
            parts.append(text)
        elif seg["slot"]:
            parts.append("`" + text.replace("`", "'") + "`")
        else:
            parts.append("**" + text.replace("*", "\\*") + "**")
    return "".join(parts)


def render_markdown(content: dict[str, Any], out: Path) -> tuple[str, list[Path]]:
    """The Markdown text, and the SVG files to write beside it (already written)."""
    o = content["overview"]
    lines = [
        "# Distillation campaigns: report",
        "",
        f"Scan `{o['scan_id']}` (finished {o['finished_at']}) of a store holding "
        f"{o['exchanges']:,} exchanges from {o['accounts']:,} accounts, {o['first']} to "
        f"{o['last']}. Generated {content['generated']} by stillwatch {content['version']}. "
        f"Prompt text {'shown' if content['show_text'] else 'redacted'}.",
        "",
        "## Summary",
        "",
    ]
    if not content["reports"]:
        lines += ["The scan reported no campaign.", ""]
    lines += [f"Note: {n}." for n in o.get("notes", [])] + ([""] if o.get("notes") else [])
    for r in content["reports"]:
        lines += [f"- **{r['campaign']['campaign_id']}**: {r['summary']}"]
    lines.append("")
    written: list[Path] = []
    for r in content["reports"]:
        c = r["campaign"]
        cid = c["campaign_id"]
        ev = c["evidence"] or {}
        files = {}
        for name, picture in pictures(r).items():
            path = out.with_name(f"{out.stem}-{cid}-{name}.svg")
            path.write_text(picture, encoding="utf-8")
            written.append(path)
            files[name] = path.name
        lines += [f"## Campaign {cid}", "", f"> {r['summary']}", ""]
        rows: list[list[Any]] = [
            [
                "status",
                f"{c['status']} (score {c['score']:.2f}, threshold {c['threshold']:.2f})",
                "",
            ],
            ["operator", c["operator_id"] or "none", ""],
            ["accounts", f"{c['accounts']:,}", f"{c['accounts_low']:,}–{c['accounts_high']:,}"],
        ]
        if c["exchanges"] is not None:
            rows += [
                ["campaign exchanges", f"{c['exchanges']:,}",
                 f"{c['exchanges_low']:,}–{c['exchanges_high']:,}"],
                ["first day", c["first_seen"], f"{c['first_seen_low']} – {c['first_seen_high']}"],
                ["last day", c["last_seen"], f"{c['last_seen_low']} – {c['last_seen_high']}"],
            ]  # fmt: skip
        lines += _md_table(["figure", "value", "interval"], rows)
        g = r["graph"]
        lines += [
            "### Exchanges per day, against all other traffic",
            "",
            f"![exchanges per day]({files['daily']})",
            "",
            "### The campaign's account graph",
            "",
            f"{g['drawn']:,} of {g['members']:,} members drawn"
            + (f", the other {g['aggregated']:,} aggregated." if g["aggregated"] else "."),
            "",
            f"![account graph]({files['graph']})",
            "",
            "### Capabilities targeted, against the whole population",
            "",
            f"![capabilities]({files['capabilities']})"
            if r["capabilities"]
            else "Not known: the store keeps no prompt text (or no capability labels).",
            "",
            "### Infrastructure",
            "",
            f"![network kinds]({files['asn_kinds']})",
            "",
        ]
        inf = r["infrastructure"]
        lines += _md_table(
            ["country of the IP", "campaign exchanges", "campaign share", "share of other traffic"],
            [[x["country"], f"{x['exchanges']:,}", f"{100 * x['campaign']:.0f}%",
              f"{100 * x['population']:.0f}%"] for x in inf["countries"]],
        )  # fmt: skip
        lines += _md_table(
            [
                f"network prefix ({inf['distinct_prefixes']} in all)",
                "campaign exchanges",
                "accounts",
            ],
            [[x["prefix"], f"{x['exchanges']:,}", x["accounts"]] for x in inf["prefixes"]],
        )
        lines += [
            "### Hour of the week (UTC)",
            "",
            f"![campaign by hour of week]({files['rhythm_campaign']})",
            f"![other traffic by hour of week]({files['rhythm_legitimate']})",
            "",
            "### Evidence",
            "",
        ]
        lines += _md_table(
            ["fact (over members)", "value", "what it says"],
            [
                ["not organic", f"{ev.get('account', 0):.2f}",
                 f"verified {100 * (ev.get('verified_share') or 0):.0f}%, most common org "
                 f"{100 * (ev.get('top_org_share') or 0):.0f}% of members"
                 + (f", already banned or suspended {100 * ev['enforced_share']:.0f}%"
                    if ev.get("enforced_share") else "")],
                ["coordinated", f"{ev.get('coordination', 0):.2f}",
                 ", ".join(f"{n} {t.replace('_', ' ')}" for t, n in c["edges_by_type"].items())],
                ["harvesting", f"{ev.get('harvest', 0):.2f}",
                 f"members' own {ev.get('member_harvest', 0):.2f}, content "
                 f"{ev.get('content_harvest', 0):.2f}, pooled traffic {ev.get('pooled_harvest', 0):.2f}"],
            ],
        )  # fmt: skip
        lines += _md_table(
            ["detector", "members", "mean score"],
            [[s["detector"], s["accounts"], f"{s['mean_score']:.2f}"] for s in c["member_signals"]],
        )
        lines += [
            "### Sample prompts"
            + ("" if content["show_text"] else " (text redacted; `--show-text` shows it)"),
            "",
        ]
        if content["show_text"]:
            lines += ["The frame in **bold**, the slots as `code`.", ""]
        lines += _md_table(
            ["time", "account", "prompt"],
            [[s["ts"], s["account_id"], _md_prompt(s)] for s in r["samples"]],
        )
        lines += [f"### Members ({len(r['members'])} shown of {c['accounts']:,})", ""]
        lines += _md_table(
            ["account", "role", "membership", "campaign exchanges", "first day", "last day"],
            [[m["account_id"], m["role"], f"{m['membership']:.2f}", f"{m['campaign_exchanges']:,}",
              m["first_day"], m["last_day"]] for m in r["members"]],
        )  # fmt: skip
    return "\n".join(lines) + "\n", written


def write_report(
    store: Store,
    scan_id: str,
    out: Path,
    campaign_ids: Sequence[str] | None = None,
    *,
    show_text: bool = False,
    max_nodes: int = 300,
) -> dict[str, Any]:
    """Write the report to ``out``; returns what was written (files, campaigns, reported)."""
    fmt = out_format(out)
    content = gather(store, scan_id, campaign_ids, show_text=show_text, max_nodes=max_nodes)
    files = [out]
    if fmt == "html":
        out.write_text(render_html(content), encoding="utf-8")
    elif fmt == "markdown":
        text, written = render_markdown(content, out)
        out.write_text(text, encoding="utf-8")
        files += written
    else:
        out.write_text(
            json.dumps(_jsonable(content), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
    statuses = [r["campaign"]["status"] for r in content["reports"]]
    return {
        "out": str(out),
        "format": fmt,
        "files": [str(f) for f in files],
        "scan_id": scan_id,
        "campaigns": [r["campaign"]["campaign_id"] for r in content["reports"]],
        "reported": sum(s == "reported" for s in statuses),
        "summaries": [r["summary"] for r in content["reports"]],
    }
