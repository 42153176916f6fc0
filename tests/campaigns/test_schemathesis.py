"""The bad input campaign's short form: schemathesis against the merged document through the
gateway, anonymous and signed in, a few examples per operation (`tradestack campaign bad-input`
runs it in full)."""

from __future__ import annotations

import pytest

from services.campaigns.bad_input import BadInputOptions, run_against
from tests.campaigns.conftest import Venue

pytestmark = pytest.mark.e2e


def test_no_5xx_and_no_answer_contradicts_the_document(venue: Venue) -> None:
    results = run_against(venue.url, BadInputOptions(max_examples=5, seed=1))
    for result in results:
        check = result.check()
        assert check.ok, f"{check.detail}\n{result.output[-6000:]}"
        assert result.summary["operations"]["tested"] >= 25
