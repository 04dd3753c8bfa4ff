"""Frames: prompt skeleton prefixes and suffixes that a group of accounts fills with new slots.

A template is a fixed frame around changing slot content. Each prompt's skeleton (see
:mod:`.skeleton`) gives frame candidates at both ends: its first and its last ``key_tokens``
tokens (words; each CJK character is a token), and the first and last ``SHORT_KEYS`` tokens,
so a frame is found whether the slot comes after it ("Grade the answer below: …"), before it
("… Let's think step by step."), or both; a multi-turn wrapper's small talk first still leaves
the suffix. A frame shorter than ``key_tokens`` ("Create a milestone schedule toward: …")
leaves slot content in the long key, so each key differs; its short key recurs. At each end a
prompt holds the **longest** of its candidates that recurs (one frame per end, never a frame
and its own beginning twice; a long campaign frame is not diluted by the language's short
phrase it starts with). A candidate is a **recurring frame** when

- at least ``min_accounts`` accounts use it,
- the accounts using it fill it with different slots (median distinct prompts per account
  under the frame ≥ 2): a popular question or a public benchmark problem asked by many
  accounts is the same text each time — shared slot content, weak evidence — and is not a
  frame, even when several accounts ask it with their own wrappers,
- it holds at least ``MIN_FRAME_WORDS`` unmasked tokens.

Against how often the language repeats them: a recurring frame used by more than
``common_share`` of all accounts with text and by more than ``COMMON_MIN_ACCOUNTS`` (a widely
used framework's system prompt, "you are a helpful assistant", "think step by step") is
**common**: listed with its counts, never counted
as evidence — unless it is one of a **template set**: at least ``SET_FRAMES`` such frames
(none the other's text extended) whose users are largely the same accounts (each with
``SET_FRAMES - 1`` others at a Jaccard of at least ``SET_JACCARD``, and at least ``SET_LIFT``
times the accounts independent use would give both). People pick up a phrase of the
language one by one, so two phrases' users overlap about as often as chance says; an
operator's accounts all run its set of templates. A campaign of 25,000 accounts is more than
``common_share`` of a gateway's accounts, and its frames stay evidence. The rest are
**campaign frames**; each carries a rarity weight (shared by fewer
accounts weighs more) for the linking stage, and the account→frame incidence says who shares
what. Known misses: an operator who rewords the frame on every request (the MinHash view sees
that structure), and a campaign that is itself more than ``common_share`` of the accounts in
the data and runs fewer than ``SET_FRAMES`` frames (they are reported as common). Known
false positives: legitimate templated traffic — evaluation harnesses, app fleets — uses
recurring frames too; frames are one piece of evidence to combine, never a verdict alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import pyarrow as pa

from stillwatch.engine.store import query_arrow, scratch_connection
from stillwatch.features.content.parallel import arrow_chunks
from stillwatch.features.content.skeleton import skeleton_select

KEY_TOKENS = 10
# Shorter keys tried at each end too (frames of fewer than KEY_TOKENS words).
SHORT_KEYS = (6,)
MIN_ACCOUNTS = 3
COMMON_SHARE = 0.05
# ...and by more than this many accounts: in a small data set a share says little, and a phrase
# of the language is used by thousands of accounts, never by a few dozen.
COMMON_MIN_ACCOUNTS = 50
MIN_FRAME_WORDS = 3
# A template set: common-rate frames used together by the same accounts stay evidence.
SET_FRAMES = 4
SET_JACCARD = 0.5
SET_LIFT = 2.0
# Keys are read from this many characters at each end of the skeleton (enough for the tokens).
EDGE_CHARS = 240
# Prompts masked into skeletons at once (their text passes through Arrow, outside DuckDB's
# memory limit: a skeleton is as long as its prompt, so a batch of coding prompts of a few kB
# each is a few hundred MB at 50,000).
SKELETON_BATCH_ROWS = 50_000
# ...unless there are this many: then DuckDB's row groups (122,880 rows) keep its threads busy.
ONE_STATEMENT_ROWS = 1_000_000
# CJK ideographs, kana, hangul and full-width forms are tokenised one character each.
_CJK_CLASS = r"\x{3000}-\x{30ff}\x{3400}-\x{4dbf}\x{4e00}-\x{9fff}\x{ac00}-\x{d7af}\x{f900}-\x{faff}\x{ff00}-\x{ffef}"
_CJK = f"([{_CJK_CLASS}])"
# A word of :func:`words_of`: one CJK character, or a run of other characters up to a blank.
_WORD = f"[{_CJK_CLASS}]|[^ \\n{_CJK_CLASS}]+"


@dataclass(frozen=True)
class FrameStats:
    """What frame mining found.

    - ``frames``: one row per recurring frame: ``frame_id``, ``kind`` (prefix/suffix),
      ``frame`` (the masked skeleton tokens: the frame itself), ``example`` (one real prompt
      using it: redact before showing), ``accounts``, ``prompts``, ``distinct_prompts``,
      ``median_fills`` (distinct prompts per account under it), ``common`` (bool),
      ``weight`` (rarity weight in (0, 1]; 0 for common frames).
    - ``accounts``: one row per account with text: ``account_id``, ``prompts``,
      ``frame_prompts`` (prompts whose prefix or suffix is a campaign frame), ``frame_share``,
      ``frames`` (campaign frames it uses), ``max_sharing_accounts`` (most other accounts
      sharing one of its campaign frames), ``top_frames`` (up to 3 frame ids, most used first).
    - ``incidence``: ``account_id``, ``frame_id``, ``prompts``: who uses which campaign frame.
    """

    frames: pa.Table
    accounts: pa.Table
    incidence: pa.Table


def mine_frames(
    account_ids: Sequence[str],
    texts: Sequence[str | None],
    *,
    key_tokens: int = KEY_TOKENS,
    min_accounts: int = MIN_ACCOUNTS,
    common_share: float = COMMON_SHARE,
    con: Any = None,
    holders: str | None = None,
) -> FrameStats:
    """Mine frames from prompts ``texts`` sent by ``account_ids`` (aligned sequences);
    ``holders`` (with ``con``): see :func:`_mine`."""
    if len(account_ids) != len(texts):
        raise ValueError(
            f"mine_frames: account_ids has {len(account_ids)} rows but texts has {len(texts)}"
        )
    for name, value in (("key_tokens", key_tokens), ("min_accounts", min_accounts)):
        if int(value) < 1:
            raise ValueError(f"mine_frames: {name} must be at least 1, got {value}")
    if not 0 < common_share <= 1:
        raise ValueError(f"mine_frames: common_share must be in (0, 1], got {common_share}")
    prompts = pa.table(
        {
            "account_id": pa.array(list(account_ids), pa.string()),
            "prompt": pa.array(list(texts), pa.string()),
        }
    )
    own = con is None
    db = scratch_connection() if own else con
    try:
        db.register("_sw_prompts", prompts)
        return mine_frames_sql(db, "_sw_prompts", key_tokens=key_tokens, min_accounts=min_accounts,
                               common_share=common_share, holders=holders)  # fmt: skip
    finally:
        db.unregister("_sw_prompts")
        if own:
            db.close()


def mine_frames_sql(
    con: Any,
    source: str,
    *,
    key_tokens: int = KEY_TOKENS,
    min_accounts: int = MIN_ACCOUNTS,
    common_share: float = COMMON_SHARE,
    holders: str | None = None,
) -> FrameStats:
    """Mine frames from ``source`` (a table or parenthesised query with columns
    ``account_id`` and ``prompt``) on an open DuckDB connection, e.g. the store's."""
    table = skeleton_table(con, source, "_sw_src")
    try:
        return _mine(con, table, key_tokens, min_accounts, common_share, holders=holders)
    finally:
        con.execute(f"DROP TABLE IF EXISTS {table}")


def words_of(expr: str) -> str:
    """A DuckDB expression: the list of words of skeleton text ``expr`` (split at blanks; each
    CJK character a word). Text without any non-ASCII character — most — is split without a
    regular expression: a skeleton holds no runs of blanks."""
    plain = f"string_split(replace(trim({expr}), chr(10), ' '), ' ')"
    return f"(CASE WHEN strlen({expr}) = length({expr}) THEN {plain} ELSE {_cjk_words(expr)} END)"


def _cjk_words(expr: str) -> str:
    return f"string_split_regex(trim(regexp_replace({expr}, '{_CJK}', ' \\1 ', 'g')), '[ \\n]+')"


def skeleton_words(expr: str) -> str:
    """As :func:`words_of` for ``expr``, a whole skeleton (not an edge cut from one): a
    skeleton never starts or ends with a blank (:func:`.skeleton.skeleton_select`), so an
    ASCII one is split without trimming it, and without replacing its newlines when it has
    none."""
    plain = (
        f"string_split(CASE WHEN contains({expr}, chr(10)) THEN replace({expr}, chr(10), ' ') "
        f"ELSE {expr} END, ' ')"
    )
    return f"(CASE WHEN strlen({expr}) = length({expr}) THEN {plain} ELSE {_cjk_words(expr)} END)"


def edge_words(expr: str) -> str:
    """As :func:`words_of` for ``expr``, an edge cut from a skeleton, in one pass of a regular
    expression without a capture group (some three times faster than replacing each CJK
    character and splitting): the words of the trimmed edge, with an empty word before a
    newline that begins it and after one that ends it, as splitting at blanks gives. (An edge
    of spaces alone has no word here, one empty word there: it holds no key either way.)"""
    t = f"trim({expr})"
    return (
        f"(CASE WHEN starts_with({t}, chr(10)) THEN [''] ELSE [] END "
        f"|| regexp_extract_all({t}, '{_WORD}') "
        f"|| CASE WHEN ends_with({t}, chr(10)) THEN [''] ELSE [] END)"
    )


# A separator of skeleton words as the plain path of :func:`words_of` splits them (a newline
# is a blank there too), and a word followed (prefix) or preceded (suffix) by one.
_SEP = "[ \\n]"
_WORD_SEP = f"(?:[^ \\n]*{_SEP})"
_SEP_WORD = f"(?:{_SEP}[^ \\n]*)"


def prefix_pattern(lengths: Sequence[int]) -> str:
    """A regular expression (RE2) giving at once, for every key length of ``lengths``, the
    first that many words of an ASCII skeleton as :func:`words_of` splits them, each with the
    separator after it: capture group ``i`` (1-based) holds the words between the ``i - 1``-th
    and the ``i``-th length (ascending). A group matched is never empty, and a group matches
    only when all shorter ones do."""
    asc = sorted(set(lengths))
    steps = [asc[0]] + [b - a for a, b in pairwise(asc)]
    rest = ""
    for d in reversed(steps[1:]):
        rest = f"(?:({_WORD_SEP}{{{d}}}){rest})?"
    return f"^({_WORD_SEP}{{{steps[0]}}}){rest}"


def _keys_select(source: str, lengths: Sequence[int]) -> str:
    """The frame candidates of every prompt of skeleton table ``source``: ``account_id``,
    ``rid``, ``ph``, ``kind``, ``k``, ``frame`` (the key's words joined by a space) and
    ``words`` (those not masked), for each key length in ``lengths`` at both ends.

    An ASCII skeleton (nearly all) gets its keys from regular expressions over the skeleton
    itself (:func:`prefix_pattern`; the last ``k`` words with the separator before each),
    without cutting its edges nor splitting them into lists of words; the rest (CJK characters
    are words of their own, and ``trim`` drops Unicode spaces at an edge's ends) have their
    edges split by :func:`edge_words`. Both give the same keys as splitting the edges by
    :func:`words_of` because a skeleton never starts or ends with a blank nor holds two in a row (see
    :func:`.skeleton.skeleton_select`): the key of ``k`` words exists when the edge of
    ``EDGE_CHARS`` characters holds more than ``k`` words, that is its ``k``-th separator
    lies inside the edge, and not as a space at the edge's cut, which the edge's ``trim``
    would drop."""
    asc = sorted(set(lengths))
    names = ", ".join(f"'g{i}'" for i in range(1, len(asc) + 1))
    e = int(EDGE_CHARS)
    suffixes = ", ".join(
        f"regexp_extract(skeleton, '{_SEP_WORD}{{{length}}}$') AS s{i}"
        for i, length in enumerate(asc, start=1)
    )
    ends = ", ".join(
        f"{' || '.join(f'pre.g{j}' for j in range(1, i + 1))} AS p{i}"
        for i in range(1, len(asc) + 1)
    )
    # each prompt's candidates as a list unnested into rows: one pass, nothing materialized
    plain, split = [], []
    for i, length in enumerate(asc, start=1):
        plain += [
            f"{{'kind': 'prefix', 'k': {length}, 'frame': CASE WHEN pre.g{i} <> '' "
            f"AND (strlen(p{i}) < {e} OR (strlen(p{i}) = {e} AND ends_with(p{i}, chr(10)))) "
            f"THEN replace(p{i}[:-2], chr(10), ' ') END}}",
            f"{{'kind': 'suffix', 'k': {length}, 'frame': CASE WHEN s{i} <> '' "
            f"AND (strlen(s{i}) < {e} OR (strlen(s{i}) = {e} AND starts_with(s{i}, chr(10)))) "
            f"THEN replace(s{i}[2:], chr(10), ' ') END}}",
        ]
        split += [
            f"{{'kind': 'prefix', 'k': {length}, "
            f"'kt': CASE WHEN len(head) > {length} THEN list_slice(head, 1, {length}) END}}",
            f"{{'kind': 'suffix', 'k': {length}, "
            f"'kt': CASE WHEN len(tail) > {length} THEN list_slice(tail, -{length}, -1) END}}",
        ]
    return f"""
        WITH plain AS (
            SELECT account_id, rid, ph, unnest([{", ".join(plain)}]) AS c
            FROM (
                SELECT *, {ends} FROM (
                    SELECT account_id, rid, ph,
                           regexp_extract(skeleton, '{prefix_pattern(asc)}', [{names}]) AS pre,
                           {suffixes}
                    FROM {source} WHERE strlen(skeleton) = length(skeleton)
                )
            )
        ),
        split AS (
            SELECT account_id, rid, ph, unnest([{", ".join(split)}]) AS c
            FROM (
                SELECT account_id, rid, ph, {edge_words(f"left(skeleton, {e})")} AS head,
                       {edge_words(f"right(skeleton, {e})")} AS tail
                FROM {source} WHERE strlen(skeleton) <> length(skeleton)
            )
        )
        -- a word is masked when it is a placeholder (with what follows it up to a blank); in
        -- a plain key, words are joined by single spaces and hold no blank
        SELECT account_id, rid, ph, c.kind AS kind, c.k AS k, c.frame AS frame,
               CASE WHEN contains(c.frame, '<')
                    THEN c.k - len(regexp_extract_all(' ' || c.frame, ' <[a-z]+>')) ELSE c.k END AS words
        FROM plain WHERE c.frame IS NOT NULL
        UNION ALL
        SELECT account_id, rid, ph, c.kind AS kind, c.k AS k, array_to_string(c.kt, ' ') AS frame,
               len(list_filter(c.kt, lambda x: NOT (x LIKE '<%>%' AND regexp_full_match(x, '<[a-z]+>[^ ]*')))) AS words
        FROM split WHERE c.kt IS NOT NULL
        """


def _frame_keys(con: Any, source: str, lengths: Sequence[int]) -> None:
    """Temp table ``_sw_keys`` over skeleton table ``source``: each frame candidate of
    :func:`_keys_select` in fixed-width columns: ``ah`` (``hash(account_id)``), ``rid``,
    ``ph``, ``suffix`` (the key's end), ``k``, ``fh`` (``hash(kind, frame)``) and ``words``.
    The counts group some ten million keys at medium scale, and grouping their strings took
    three times as long and spilled to disk. Two keys of ten million share a 64-bit hash about
    once in 400,000 such scans (their accounts would then be counted together). A frame's text
    is read again for the few keys that recur (:func:`_frame_texts`). One statement streaming
    over the table: memory holds a row group's candidates at a time, not the table's."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _sw_keys AS "
        "SELECT hash(account_id) AS ah, rid, ph, kind = 'suffix' AS suffix, k, "
        f"hash(kind, frame) AS fh, words FROM ({_keys_select(source, lengths)})"
    )


def _frame_texts(con: Any, source: str, lengths: Sequence[int]) -> None:
    """Give each frame of ``_sw_frames`` (by ``fh``) its ``kind`` and ``frame`` text, read
    again from one prompt holding it (the first by ``rid``) of skeleton table ``source``."""
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _sw_frame_at AS
        SELECT fh, min(rid) AS rid FROM _sw_keys SEMI JOIN _sw_frames USING (fh) GROUP BY ALL
        """
    )
    # the few prompts fetched once, by a table of their rids (read twice below, a subquery
    # would join every skeleton twice)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _sw_frame_rows AS "
        f"SELECT * FROM {source} WHERE rid IN (SELECT rid FROM _sw_frame_at)"
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _sw_frames AS
        SELECT f.*, t.kind, t.frame, substr(md5(t.kind || ':' || t.frame), 1, 16) AS frame_id
        FROM _sw_frames f JOIN (
            SELECT DISTINCT hash(kind, frame) AS fh, kind, frame
            FROM ({_keys_select("_sw_frame_rows", lengths)})
        ) t USING (fh)
        """
    )
    con.execute("DROP TABLE IF EXISTS _sw_frame_at")
    con.execute("DROP TABLE IF EXISTS _sw_frame_rows")


def skeleton_table(
    con: Any,
    source: str,
    name: str,
    carry: Sequence[str] = (),
    *,
    rid: str | None = None,
    text: bool = True,
) -> str:
    """Create temp table ``name`` on ``con``: the prompts of ``source`` (columns
    ``account_id``, ``prompt`` and ``carry``; empty prompts left out) with ``rid`` (a row
    key), ``ph`` (hash of the prompt), ``prompt`` (unless ``text`` is False) and
    ``skeleton``. Frame mining and MinHash both read it, so a scan masks each prompt once.
    Returns ``name``.

    ``rid`` names a column of ``source`` (a table) that already numbers its rows, one number
    a row (the scan's sample); otherwise they are numbered here, account by account and by
    text within an account (so MinHash can take whole accounts a batch at a time, and a
    frame's example, its first prompt by ``rid``, is the same on every run).

    DuckDB hands a table scan to its threads a row group at a time, so a table of fewer
    than ``ONE_STATEMENT_ROWS`` prompts is masked ``SKELETON_BATCH_ROWS`` prompts (by
    ``rid``) at a time through Arrow chunks, which use all the threads
    (:mod:`.parallel`); a larger one in one statement over its own row groups, which spares
    the round trip through Arrow (a fifth of the work). Either way the rows are stored in
    the order they are read (the scan's sample: by ``rid``), so ranges of ``rid`` stay
    compact for the readers."""
    keep = ("account_id", "rid", "ph", *(("prompt",) if text else ()), *carry)
    extra = "".join(f', "{c}"' for c in carry)
    numbered = f"{name}_numbered"
    if rid is None:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {numbered} AS SELECT account_id, prompt, "
            f"row_number() OVER (ORDER BY account_id, prompt) AS rid{extra} FROM {source} "
            "WHERE prompt IS NOT NULL AND prompt <> ''"
        )
        rows, key = numbered, "rid"
    else:
        rows, key = source, rid
    batch_of = (
        f'(SELECT account_id, prompt, hash(prompt) AS ph, "{key}" AS rid{extra} FROM {{}} '
        "WHERE prompt IS NOT NULL AND prompt <> '')"
    )
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {name} AS "
            f"{skeleton_select(batch_of.format(rows), 'prompt', keep)} LIMIT 0"
        )
        lo, hi, n = con.execute(
            f'SELECT min("{key}"), max("{key}"), count(*) FROM {rows}'
        ).fetchall()[0]
        if n >= ONE_STATEMENT_ROWS:
            con.execute(
                f"INSERT INTO {name} {skeleton_select(batch_of.format(rows), 'prompt', keep)}"
            )
            return name
        step = int(SKELETON_BATCH_ROWS)
        for start in range(int(lo or 0), int(hi or -1) + 1, step):
            batch = arrow_chunks(
                con,
                f'SELECT account_id, prompt, "{key}"{extra} FROM {rows} '
                f'WHERE "{key}" >= {start} AND "{key}" < {start + step}',
            )
            query_arrow(con, batch, "_sw_skeleton_batch",
                        f"INSERT INTO {name} "
                        f"{skeleton_select(batch_of.format('_sw_skeleton_batch'), 'prompt', keep)}")  # fmt: skip
    finally:
        con.execute(f"DROP TABLE IF EXISTS {numbered}")
    return name


def _key_lengths(key_tokens: int) -> list[int]:
    """The key lengths tried at each end of a prompt: ``key_tokens`` and the shorter
    ``SHORT_KEYS``, longest first."""
    k = int(key_tokens)
    return sorted({k, *(x for x in SHORT_KEYS if x < k)}, reverse=True)


def frame_keys_select(skeletons: str, key_tokens: int = KEY_TOKENS) -> str:
    """A query (``rid``, ``kind``, ``frame``): every frame candidate of each prompt of
    :func:`skeleton_table` ``skeletons`` that frame mining would count (both ends, every key
    length, at least ``MIN_FRAME_WORDS`` words unmasked), to match prompts against frames
    mined before."""
    return (
        f"SELECT rid, kind, frame FROM ({_keys_select(skeletons, _key_lengths(key_tokens))}) "
        f"WHERE words >= {MIN_FRAME_WORDS}"
    )


def mine_frames_skeletons(
    con: Any,
    table: str,
    texts: str | None = None,
    *,
    key_tokens: int = KEY_TOKENS,
    min_accounts: int = MIN_ACCOUNTS,
    common_share: float = COMMON_SHARE,
    holders: str | None = None,
) -> FrameStats:
    """Mine frames from a :func:`skeleton_table` on ``con`` (without its prompt text when
    ``texts`` holds it by ``rid``): all the work stays in DuckDB (on the store's connection,
    its memory limit and spill directory). ``rid`` must be unique: a prompt's account is read
    by it. ``holders``: see :func:`_mine`."""
    return _mine(con, table, key_tokens, min_accounts, common_share, texts, holders)


def _template_sets(con: Any, source: str) -> None:
    """Common frames that belong to a template set are not common: see the module's
    docstring. Counted over the accounts using each common frame (few frames, so few rows)."""
    if not con.execute("SELECT count(*) FROM _sw_frames WHERE common").fetchall()[0][0]:
        return
    total = con.execute(f"SELECT count(DISTINCT account_id) FROM {source}").fetchall()[0][0]
    con.execute(
        f"""
        UPDATE _sw_frames SET common = false WHERE frame_id IN (
            WITH users AS (
                SELECT DISTINCT h.account_id, f.frame_id, f.frame
                FROM _sw_hits h JOIN _sw_frames f USING (fh) WHERE f.common
            ),
            n AS (SELECT frame_id, count(*) AS n FROM users GROUP BY ALL),
            both_ AS (
                SELECT a.frame_id AS f1, b.frame_id AS f2, count(*) AS k
                FROM users a JOIN users b USING (account_id)
                WHERE a.frame_id <> b.frame_id
                  AND NOT contains(a.frame, b.frame) AND NOT contains(b.frame, a.frame)
                GROUP BY ALL
            )
            SELECT f1 FROM both_ JOIN n n1 ON n1.frame_id = f1 JOIN n n2 ON n2.frame_id = f2
            WHERE k >= {SET_JACCARD} * (n1.n + n2.n - k)
              AND k >= {SET_LIFT} * n1.n * n2.n / {max(int(total), 1)}
            GROUP BY f1 HAVING count(*) >= {SET_FRAMES - 1}
        )
        """
    )


def _mine(
    con: Any, source: str, key_tokens: int, min_accounts: int, common_share: float,
    texts: str | None = None, holders: str | None = None,
) -> FrameStats:  # fmt: skip
    """Mine frames from ``source``, a :func:`skeleton_table`; each frame's example prompt is
    read from ``texts`` (``rid``, ``prompt``; default ``source`` itself). ``holders`` names a
    temp table to leave behind: which recurring frames each account holds, common ones too
    (``account_id``, ``kind``, ``frame``)."""
    lengths = _key_lengths(key_tokens)
    _frame_keys(con, source, lengths)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _sw_frames AS
        WITH per_prompt AS (
            SELECT fh, ah, ph, count(*) AS n
            FROM _sw_keys WHERE words >= {MIN_FRAME_WORDS}
            GROUP BY ALL
        ),
        -- two plain GROUP BYs, not a DISTINCT aggregate: DuckDB spills them to disk
        per_account AS MATERIALIZED (
            SELECT fh, ah, sum(n) AS n, count(*) AS fills
            FROM per_prompt GROUP BY ALL
        ),
        -- the median only over frames enough accounts use: most keys are one prompt's own,
        -- and a holistic aggregate over millions of groups spills without bound. Nor over
        -- frames that fewer than half their accounts fill twice or more: their median of
        -- fills (integers, at least 1) is below 2 anyway
        counted AS (
            SELECT fh, count(*) AS accounts, sum(n) AS prompts
            FROM per_account GROUP BY ALL
            HAVING count(*) >= {int(min_accounts)}
               AND 2 * count(*) FILTER (WHERE fills >= 2) >= count(*)
        ),
        f AS (
            SELECT c.fh, any_value(c.accounts) AS accounts,
                   any_value(c.prompts) AS prompts, median(p.fills) AS median_fills
            FROM counted c JOIN per_account p USING (fh) GROUP BY ALL
            HAVING median(p.fills) >= 2
        ),
        total AS (SELECT count(*) AS n FROM (SELECT ah FROM _sw_keys GROUP BY ALL))
        SELECT f.fh, f.accounts, f.prompts, f.median_fills,
               f.accounts > greatest({float(common_share)} * total.n, {COMMON_MIN_ACCOUNTS}) AS common
        FROM f, total
        """
    )
    _frame_texts(con, source, lengths)
    # Each prompt end keeps only its longest recurring candidate; frames no end kept go.
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _sw_hits AS
        SELECT s.account_id, h.rid, h.ph, h.fh FROM (
            SELECT k.rid, k.ph, k.suffix, arg_max(k.fh, k.k) AS fh
            FROM _sw_keys k SEMI JOIN _sw_frames f USING (fh)
            GROUP BY k.rid, k.ph, k.suffix
        ) h JOIN {source} s USING (rid)
        """
    )
    con.execute(
        "DELETE FROM _sw_frames f WHERE NOT EXISTS (SELECT 1 FROM _sw_hits h WHERE h.fh = f.fh)"
    )
    _template_sets(con, source)
    # each frame's example, its first prompt: the few prompts' text is fetched by rid from a
    # table of them (a join on a subquery would read every prompt's text)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _sw_examples AS "
        "SELECT fh, count(DISTINCT ph) AS distinct_prompts, min(rid) AS rid FROM _sw_hits GROUP BY ALL"
    )
    frames = con.sql(
        f"""
        WITH ex AS (
            SELECT h.fh, h.distinct_prompts, p.prompt AS example
            FROM _sw_examples h JOIN {texts or source} p USING (rid)
        )
        SELECT f.frame_id, f.kind, f.frame, ex.example, f.accounts, f.prompts,
               ex.distinct_prompts, f.median_fills, f.common,
               CASE WHEN f.common THEN 0.0 ELSE 1.0 / log2(1 + f.accounts) END AS weight
        FROM _sw_frames f JOIN ex USING (fh)
        ORDER BY f.common, f.accounts DESC, f.frame_id
        """
    ).to_arrow_table()
    incidence = con.sql(
        """
        SELECT k.account_id, f.frame_id, count(*) AS prompts
        FROM _sw_hits k JOIN _sw_frames f USING (fh)
        WHERE NOT f.common GROUP BY ALL ORDER BY k.account_id, f.frame_id
        """
    ).to_arrow_table()
    accounts = con.sql(
        f"""
        WITH base AS (
            SELECT account_id, count(*) AS prompts FROM {source} GROUP BY ALL
        ),
        -- a prompt counts once even when both its prefix and its suffix are frames
        prompt_hits AS (
            SELECT account_id, count(*) AS frame_prompts FROM (
                SELECT DISTINCT k.account_id, k.rid
                FROM _sw_hits k JOIN _sw_frames f USING (fh) WHERE NOT f.common
            ) GROUP BY ALL
        ),
        used AS (
            SELECT i.account_id, count(*) AS frames, max(f.accounts) - 1 AS max_sharing_accounts,
                   list(i.frame_id ORDER BY i.prompts DESC, i.frame_id)[1:3] AS top_frames
            FROM (
                SELECT k.account_id, f.frame_id, count(*) AS prompts
                FROM _sw_hits k JOIN _sw_frames f USING (fh)
                WHERE NOT f.common GROUP BY ALL
            ) i JOIN _sw_frames f USING (frame_id)
            GROUP BY ALL
        )
        SELECT b.account_id, b.prompts,
               coalesce(p.frame_prompts, 0) AS frame_prompts,
               least(1.0, coalesce(p.frame_prompts, 0) / b.prompts) AS frame_share,
               coalesce(u.frames, 0) AS frames,
               coalesce(u.max_sharing_accounts, 0) AS max_sharing_accounts,
               coalesce(u.top_frames, []::VARCHAR[]) AS top_frames
        FROM base b LEFT JOIN prompt_hits p USING (account_id) LEFT JOIN used u USING (account_id)
        ORDER BY b.account_id
        """
    ).to_arrow_table()
    if holders:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {holders} AS SELECT DISTINCT h.account_id, f.kind, "
            "f.frame FROM _sw_hits h JOIN _sw_frames f USING (fh)"
        )
    for table in ("_sw_keys", "_sw_hits", "_sw_frames", "_sw_examples"):
        con.execute(f"DROP TABLE IF EXISTS {table}")
    return FrameStats(frames=frames, accounts=accounts, incidence=incidence)
