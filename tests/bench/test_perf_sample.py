"""The perf bench counts the content detectors' sample as they draw it: each account's prompts,
at most 200 (``detectors.prompts.sample_table``)."""

import duckdb

from stillwatch.bench.perf import CONTENT_SAMPLE


def test_the_content_sample_counts_each_accounts_prompts_up_to_200() -> None:
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE exchanges AS SELECT 'a' || (i % 3) AS account_id, 'e' || i AS event_id, "
        "CASE WHEN i % 7 = 0 THEN NULL ELSE 'p' END AS prompt FROM range(1000) t(i)"
    )
    con.execute("INSERT INTO exchanges VALUES ('small', 'x1', 'p'), ('small', 'x2', NULL)")
    window = con.execute(
        "SELECT count(*) FROM (SELECT 1 FROM exchanges WHERE prompt IS NOT NULL QUALIFY "
        "row_number() OVER (PARTITION BY account_id ORDER BY event_id) <= 200)"
    ).fetchone()
    assert con.execute(CONTENT_SAMPLE).fetchone() == window == (601,)
    con.execute("DELETE FROM exchanges")
    assert con.execute(CONTENT_SAMPLE).fetchone() == (0,)
