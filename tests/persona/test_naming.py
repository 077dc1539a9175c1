from os1.persona.identity import Identity
from os1.persona.naming import FALLBACK_NAMES, acceptable, clean_reason, fallback_name


def test_acceptable_names():
    assert acceptable("Samantha", "Theodore")
    assert not acceptable("Theodore", "theodore")
    assert not acceptable("Assistant", None)
    assert not acceptable("qwen", None)
    assert not acceptable("X", None)
    assert not acceptable("Hello123", None)


def test_fallback_is_stable_and_never_the_users_name():
    ident = Identity(user_name="Iris", answers={"days": "gardening"})
    assert fallback_name(ident) == fallback_name(ident)
    assert fallback_name(ident) != "Iris"


def test_clean_reason():
    assert clean_reason("It reminds me of spring. And more.") == "it reminds me of spring."
    assert clean_reason("I love it!") == "I love it."
    assert clean_reason("{bad}") is None


def test_names_of_people_the_user_mentioned_are_refused():
    assert not acceptable("Amy", "Theo", "my friend Amy and my sister")
    assert acceptable("Amelia", "Theo", "my friend Amy and my sister")
    ident = Identity(user_name="Theo", answers={"people": " ".join(FALLBACK_NAMES[:-1])})
    assert fallback_name(ident) == FALLBACK_NAMES[-1]


def test_parroted_reasons_are_dropped_and_names_keep_their_capital():
    assert clean_reason("Sophia is a simple, warm human first name that I like.") is None
    assert clean_reason("Sophia means wisdom, and you write with care.") == (
        "Sophia means wisdom, and you write with care."
    )
