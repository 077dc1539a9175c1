"""Clause splitting and prosody."""

from __future__ import annotations

import numpy as np

from os1.voice.audio import STT_RATE, Audio, silence
from os1.voice.clauses import ClauseSplitter, split_text
from os1.voice.prosody import measure
from os1.voice.testing import tone


def test_first_clause_is_short_and_numbers_do_not_split() -> None:
    assert split_text("Oh, that costs 3.5 dollars, said Mr. Smith. Really? Yes!") == [
        "Oh,",
        "that costs 3.5 dollars,",
        "said Mr. Smith.",
        "Really?",
        "Yes!",
    ]


def test_streaming_pieces_come_as_soon_as_they_are_complete() -> None:
    splitter = ClauseSplitter()
    out: list[list[str]] = [splitter.push(w + " ") for w in ["Well,", "I", "think", "so.", "Yes"]]
    assert out == [["Well,"], [], [], ["I think so."], []]
    assert splitter.flush() == ["Yes"]


def test_model_tokens_end_a_piece_at_its_punctuation_not_at_the_next_word() -> None:
    splitter = ClauseSplitter(first_max_words=3)  # models stream words with a leading space
    tokens = ["I", "'m", " doing", " well", ",", " it", " costs", " 3", ".", "5", ",", " 1"]
    tokens += [",", "000", " in", " all", ".", " Yes"]
    out = [splitter.push(t) for t in tokens]
    assert out[4] == ["I'm doing well,"]  # at the comma itself
    assert out[8] == [] and out[10] == []  # "3." and "1," may go on as numbers
    assert [p for o in out for p in o] == ["I'm doing well,", "it costs 3.5, 1,000 in all."]
    assert splitter.flush() == ["Yes"]


def test_a_long_first_run_is_cut_at_its_last_complete_word() -> None:
    splitter = ClauseSplitter(first_max_words=3)
    out = [splitter.push(t) for t in ["That", " sounds", " like", " a", " love", "ly", " plan"]]
    assert [p for o in out for p in o] == ["That sounds like a"]
    assert splitter.flush() == ["lovely plan"]


def test_the_first_piece_is_two_words_unless_a_clause_ends_sooner() -> None:
    splitter = ClauseSplitter()
    out = [splitter.push(t) for t in ["That", " sounds", " love", "ly", ",", " Sam", "."]]
    assert [p for o in out for p in o] == ["That sounds", "lovely, Sam."]
    punctuated = ClauseSplitter()
    assert punctuated.push("Oh, that") == ["Oh,"]


def test_a_long_run_without_punctuation_is_cut() -> None:
    splitter = ClauseSplitter()
    pieces = [p for _ in range(40) for p in splitter.push("word ")] + splitter.flush()
    assert len(pieces) >= 2 and len(pieces[0].split()) <= 9


def test_prosody_of_a_tone_and_of_silence() -> None:
    voiced = Audio(np.concatenate([tone(1.0, hz=150).samples, silence(1.0).samples]), STT_RATE)
    p = measure(voiced, "one two three")
    assert p.pitch_hz is not None and abs(p.pitch_hz - 150) < 8
    assert 0.9 <= p.voiced_seconds <= 1.1 and p.seconds == 2.0
    assert p.speaking_rate is not None and 2.5 < p.speaking_rate < 3.5
    quiet = measure(silence(1.0), "")
    assert quiet.pitch_hz is None and quiet.speaking_rate is None


def test_what_a_guess_sounds_like_and_how_parts_join() -> None:
    from os1.voice.guesses import join_heard, sounds_finished
    from os1.voice.whisper import without_echoes

    assert sounds_finished("How are you?") is True
    assert sounds_finished("Good morning!") is True
    assert sounds_finished("I went to the shop and") is False
    assert sounds_finished("Tell me, um.") is False
    assert sounds_finished("I feel tired today.") is False  # a comma pause reads like this
    assert sounds_finished("hello there") is None
    assert join_heard("Tell me.", "What makes a friendship last?") == (
        "Tell me, what makes a friendship last?"
    )
    assert join_heard("Well.", "I think so.") == "Well, I think so."
    assert join_heard("", "Hi.") == "Hi."
    assert without_echoes("Can you help me? Can you") == "Can you help me?"
    assert without_echoes("Good morning. Good morning. Good") == "Good morning."
    assert without_echoes("Hi. How are you?") == "Hi. How are you?"


def test_cut_hands_out_the_complete_words_so_far() -> None:
    splitter = ClauseSplitter(first_max_words=3)
    assert splitter.push("I") == [] and splitter.cut() == []  # one word is not a piece
    assert splitter.push(" think that") == []
    assert splitter.cut() == ["I think"]  # "that" may still go on ("that's")
    assert splitter.started
    assert splitter.push(" learning helps.") == ["that learning helps."]
