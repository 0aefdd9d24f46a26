"""The retry policy's arithmetic: Temporal's shape."""

import pytest
from executor.domain.nodes.contract import RetryPolicy
from pydantic import ValidationError


def test_back_off_grows_by_the_multiplier_up_to_the_maximum_interval() -> None:
    policy = RetryPolicy(maxAttempts=6, backoffSeconds=1, backoffMultiplier=3, maxBackoffSeconds=20)
    assert [policy.delay_before(attempt) for attempt in range(2, 7)] == [1, 3, 9, 20, 20]


def test_without_a_maximum_the_back_off_keeps_growing() -> None:
    policy = RetryPolicy(maxAttempts=4, backoffSeconds=2)
    assert [policy.delay_before(attempt) for attempt in range(2, 5)] == [2, 4, 8]


def test_retries_until_the_last_attempt_except_for_non_retryable_types() -> None:
    policy = RetryPolicy(maxAttempts=3, nonRetryableErrorTypes=("NotFound", "Unauthorized"))
    assert policy.retries("Unavailable", 1) and policy.retries("Unavailable", 2)
    assert not policy.retries("Unavailable", 3)
    assert not policy.retries("NotFound", 1)


def test_a_policy_with_an_unknown_field_or_bad_interval_is_refused() -> None:
    with pytest.raises(ValidationError, match="maxBackoffSeconds"):
        RetryPolicy(maxBackoffSeconds=0)
    with pytest.raises(ValidationError, match="nonRetryable"):
        RetryPolicy.model_validate({"nonRetryable": ["x"]})
