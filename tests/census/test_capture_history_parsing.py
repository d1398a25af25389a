"""Check parsing of capture histories and capture frequencies from text."""

from pathlib import Path

import numpy as np
import pytest

from census.capture_histories import parse_capture_histories, parse_frequencies

DATA = Path(__file__).parent / "data"


def test_parses_the_kanha_file_of_space_separated_histories() -> None:
    ids, matrix = parse_capture_histories((DATA / "kanha_tigers_ch.txt").read_text())

    assert matrix.shape == (26, 10)
    assert ids == [str(number) for number in range(1, 27)]
    assert matrix[0].tolist() == [1, 0, 0, 1, 0, 0, 0, 1, 1, 0]
    assert matrix.sum() == 58


def test_parses_comma_separated_histories_with_ids() -> None:
    ids, matrix = parse_capture_histories("AL-01,1,0,1\nAL-02,0,0,1\n")

    assert ids == ["AL-01", "AL-02"]
    assert matrix.tolist() == [[1, 0, 1], [0, 0, 1]]


def test_parses_histories_written_as_runs_of_digits() -> None:
    ids, matrix = parse_capture_histories("0101001000\n1100000001\n")

    assert ids == ["1", "2"]
    assert matrix.tolist() == [[0, 1, 0, 1, 0, 0, 1, 0, 0, 0], [1, 1, 0, 0, 0, 0, 0, 0, 0, 1]]


def test_parses_runs_of_digits_after_an_id() -> None:
    ids, matrix = parse_capture_histories("M3 0110\nF7 1000\n")

    assert ids == ["M3", "F7"]
    assert matrix.tolist() == [[0, 1, 1, 0], [1, 0, 0, 0]]


def test_numeric_ids_are_recognised_when_they_are_not_zero_or_one() -> None:
    ids, matrix = parse_capture_histories("12 0 1\n13 1 1\n")

    assert ids == ["12", "13"]
    assert matrix.tolist() == [[0, 1], [1, 1]]


def test_ignores_comments_blank_lines_and_trailing_comments() -> None:
    text = "# survey 2023, 3 occasions\n\nA 1 0 1   # seen twice\n   \nB 0 1 0\n"

    ids, matrix = parse_capture_histories(text)

    assert ids == ["A", "B"]
    assert matrix.tolist() == [[1, 0, 1], [0, 1, 0]]


def test_keeps_rows_of_animals_never_caught() -> None:
    _, matrix = parse_capture_histories("0 0 0\n1 0 1\n")

    assert matrix.tolist() == [[0, 0, 0], [1, 0, 1]]


def test_returns_a_small_integer_matrix() -> None:
    _, matrix = parse_capture_histories("1 0\n")

    assert matrix.dtype == np.int8


def test_rejects_values_other_than_zero_and_one_with_line_number() -> None:
    with pytest.raises(ValueError, match=r"line 3: '2' is not 0 or 1"):
        parse_capture_histories("# header\n1 0 1\n0 2 1\n")


def test_rejects_bad_digit_run_with_line_number() -> None:
    with pytest.raises(ValueError, match=r"line 2: .*'0120'"):
        parse_capture_histories("T1 0110\nT2 0120\n")


def test_rejects_ragged_rows_with_line_number() -> None:
    with pytest.raises(ValueError, match=r"line 4: 2 occasions, but line 2 has 3"):
        parse_capture_histories("\n1 0 1\n0 1 1\n1 1\n")


def test_rejects_a_line_without_id_when_others_have_one() -> None:
    with pytest.raises(ValueError, match=r"line 2: expected an id"):
        parse_capture_histories("A 1 0 1\n0101\n")


def test_points_at_a_stray_first_column_value_that_looks_like_an_id() -> None:
    with pytest.raises(ValueError, match=r"line 3: animal id '1'.*line 2 starts with '2'"):
        parse_capture_histories("1 0 1\n2 0 1\n1 1 1\n")


def test_rejects_duplicate_ids() -> None:
    with pytest.raises(ValueError, match=r"line 3: animal id 'A' already used on line 1"):
        parse_capture_histories("A 1 0\nB 0 1\nA 1 1\n")


@pytest.mark.parametrize("text", ["", "   \n", "# only a comment\n"])
def test_rejects_text_without_histories(text: str) -> None:
    with pytest.raises(ValueError, match="no capture histories"):
        parse_capture_histories(text)


def test_rejects_non_text_input() -> None:
    with pytest.raises(ValueError, match="expected text"):
        parse_capture_histories(b"1 0 1")


def test_parses_the_rabbit_frequency_file() -> None:
    frequencies = parse_frequencies((DATA / "rabbit_freq.txt").read_text())

    assert frequencies == [43, 16, 8, 6, 0, 2, 1] + [0] * 11


def test_parses_frequencies_over_several_lines_and_with_commas() -> None:
    assert parse_frequencies("10, 6, 6\n2 2 # f4 f5\n0\n") == [10, 6, 6, 2, 2, 0]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("10 6\n2 -1\n", r"line 2: '-1' is not a count"),
        ("10 6.5\n", r"line 1: '6.5' is not a count"),
        ("# f\n10 x\n", r"line 2: 'x' is not a count"),
        ("10 ²\n", r"line 1: '²' is not a count"),
    ],
)
def test_rejects_frequencies_that_are_not_counts(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_frequencies(text)


def test_rejects_text_without_frequencies() -> None:
    with pytest.raises(ValueError, match="no capture frequencies"):
        parse_frequencies("# nothing here\n")
