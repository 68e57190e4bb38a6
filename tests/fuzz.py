"""What the fuzz tests share: deterministic Hypothesis settings and the strategies of hostile text."""
from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st


def fuzzed(examples: int):
    """Derandomised (the same examples on every run and machine), bounded, no example database, no deadline
    (the suite shares two cores); function-scoped fixtures are fine: every example is checked on its own."""
    return settings(max_examples=examples, derandomize=True, database=None, deadline=None, print_blob=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large])


# Text as a hostile or broken sender writes it: separators, escape and control characters, NUL,
# accents and scripts the traits refuse, surrogate-free Unicode, and the long runs that overflow columns.
nasty_characters = st.sampled_from(list("|^~\\&\r\n\t\x00\x01\x0b\x1c\x7f'- éŒß漢\u202e\ufeff\U0001f600%?;,\"{}[]"))
nasty_text = st.one_of(
    # A plausible value with one hostile character in it ("M\\1", "DU\x00BOIS").
    st.builds(lambda head, char, tail: head + char + tail, st.text("AZM19", max_size=4), nasty_characters, st.text("AZ19", max_size=4)),
    st.text(nasty_characters, min_size=1, max_size=12),
    st.text(st.characters(exclude_categories=["Cs"]), max_size=30),
    st.builds(lambda char, count: char * count, nasty_characters | st.sampled_from("AZ9"), st.integers(95, 260)),
)
