"""The reading fields the API offers and the columns ingest.queries will draw a history
of are one list: a field added to one side only would answer 500 or never be offered."""

from datetime import UTC, datetime, timedelta
from typing import Any, cast

import psycopg
import pytest

from api.schemas_views import ReadingField
from ingest.queries import READING_COLUMNS, reading_buckets


def test_every_offered_field_is_a_readable_column() -> None:
    assert {field.value for field in ReadingField} == READING_COLUMNS


def test_a_column_outside_the_list_is_refused_before_any_sql() -> None:
    never_used = cast(psycopg.Connection[Any], None)  # the refusal comes first
    now = datetime.now(UTC)
    with pytest.raises(ValueError, match="no history of 'msg_id'"):
        reading_buckets(
            never_used,
            "dev-1",
            "msg_id",
            width=timedelta(hours=1),
            since=now,
            until=now,
            origin=now,
        )
