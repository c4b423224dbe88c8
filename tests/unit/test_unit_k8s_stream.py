"""gc-session-k8s's proc-stream relay by property: whatever the command prints, split into
whatever reads, arrives byte for byte, and only the pod side's last word is taken off."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gc_session_k8s.stream import RC, LastWord

#: Output that likes the record's own bytes.
OUTPUT = st.lists(st.sampled_from([b"\x1e", b"gc-rc:", b"7", b"\n", b"x", b"\x1egc-rc:"]) | st.binary(max_size=8),
                  max_size=30).map(b"".join)


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


def relay(chunks: list[bytes]) -> tuple[bytes, bytes, int | None]:
    last = LastWord()
    passed = b"".join(last.feed(chunk) for chunk in chunks)
    rest, code = last.end()
    return passed, rest, code


@given(output=OUTPUT, code=st.integers(0, 255), cuts=st.lists(st.integers(0, 400), max_size=12))
def test_the_commands_output_arrives_whole_and_the_last_word_is_its_exit(
        output: bytes, code: int, cuts: list[int]) -> None:
    passed, rest, got = relay(split(output + RC + str(code).encode() + b"\n", cuts))
    assert (passed, rest, got) == (output, b"", code)


@given(output=OUTPUT, cuts=st.lists(st.integers(0, 400), max_size=12))
def test_without_the_last_word_nothing_is_lost(output: bytes, cuts: list[int]) -> None:
    passed, rest, got = relay(split(output, cuts))
    if got is None:
        assert passed + rest == output
    else:  # the output itself ended as the pod side's last word does
        assert output.endswith(RC + str(got).encode() + b"\n")
