import pytest

from os1.errors import InputError
from os1.inputs import clean_user_text


def test_normal_text_passes_through():
    assert clean_user_text("  héllo\tthere\n ", 100) == "héllo\tthere"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("", "empty"),
        ("   \n", "empty"),
        ("\x00\x01\x02", "no readable text"),
        ("x" * 101, "101 characters"),
        ("ok" + "\x00\x07\x1b" * 10, "binary"),
        ("\udcff\udcfe" * 10 + "ab", "binary"),
    ],
)
def test_bad_input_gets_one_sentence(text: str, needle: str):
    with pytest.raises(InputError) as e:
        clean_user_text(text, 100)
    sentence = str(e.value)
    assert needle in sentence and sentence.count(". ") == 0 and sentence.endswith(".")
