"""Whatever bytes arrive, validation either accepts a bundle or raises BundleRejected."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from stillwatch.intel.shared import load_campaigns
from stillwatch.intel.validate import BundleRejected, nesting_depth, validate_bundle
from tests.intel.sharing_fixtures import CAMPAIGNS, TEST_KEY, export

BUNDLE = export(load_campaigns(CAMPAIGNS), allow_raw=True)

JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=30,
)


@settings(max_examples=60, deadline=None)
@given(st.one_of(st.binary(max_size=300), JSONISH.map(lambda v: json.dumps(v).encode())))
def test_any_input_is_accepted_or_rejected_with_a_reason(raw: bytes) -> None:
    try:
        validate_bundle(raw, "fuzz.json", TEST_KEY, max_bytes=10_000, max_nesting=8)
    except BundleRejected as exc:
        assert str(exc).startswith("fuzz.json: ") and "\n" not in str(exc)


@given(st.integers(min_value=0, max_value=60), st.text(alphabet='[]{}"\\ab', max_size=30))
def test_nesting_depth_ignores_brackets_inside_strings(depth: int, noise: str) -> None:
    text = "[" * depth + json.dumps(noise) + "]" * depth
    assert nesting_depth(text, 1000) == depth


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_a_bundle_with_any_field_changed_is_accepted_or_rejected(data: st.DataObject) -> None:
    bundle = json.loads(json.dumps(BUNDLE))
    obj = data.draw(st.sampled_from(bundle["objects"]))
    field = data.draw(st.sampled_from(sorted(obj)))
    if data.draw(st.booleans()):
        del obj[field]
    else:
        obj[field] = data.draw(JSONISH)
    try:
        validate_bundle(
            json.dumps(bundle).encode(), "fuzz.json", TEST_KEY, max_bytes=1 << 20, max_nesting=32
        )
    except BundleRejected as exc:
        assert str(exc).startswith("fuzz.json: ") and "\n" not in str(exc)
