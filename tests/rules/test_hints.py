"""Hint decisions as plain functions: no threads, no database."""

from __future__ import annotations

from trivia_actors.rules import MAX_HINTS, hints_used, mask_answer, next_hint_level, with_hint


def test_a_question_without_hints_has_used_none():
    assert hints_used(None, 0) == 0
    assert hints_used({}, 0) == 0
    assert hints_used({"hints": {"1": 2}}, 0) == 0


def test_hints_are_counted_per_question():
    settings = {"answer_mode": "first", "hints": {"0": 1, "2": 3}}
    assert hints_used(settings, 0) == 1
    assert hints_used(settings, 2) == 3


def test_each_hint_goes_one_level_further_up_to_the_limit():
    assert [next_hint_level(used) for used in range(MAX_HINTS + 2)] == [1, 2, 3, 3, 3]


def test_recording_a_hint_keeps_the_rest_of_the_settings_and_does_not_change_the_original():
    settings = {"answer_mode": "all", "hints": {"0": 2}}
    updated = with_hint(settings, 1, 1)
    assert updated == {"answer_mode": "all", "hints": {"0": 2, "1": 1}}
    assert settings == {"answer_mode": "all", "hints": {"0": 2}}
    assert hints_used(updated, 1) == 1
    assert with_hint(None, 0, 1) == {"hints": {"0": 1}}


def test_the_first_hint_shows_the_first_letter_of_each_word():
    assert mask_answer("Leonardo da Vinci", 1) == "L_______ d_ V____"


def test_later_levels_show_more_of_the_answer():
    assert [mask_answer("Mount Kilimanjaro", level) for level in (1, 2, 3)] == [
        "M____ K__________", "M__n_ Ki__m__j__o", "M_u_t Ki_i_a_j_r_",
    ]


def test_punctuation_is_kept_and_digits_are_hidden_like_letters():
    assert mask_answer("AC/DC", 1) == "A_/D_"
    assert [mask_answer("1984", level) for level in (1, 2, 3)] == ["1___", "1__4", "1_8_"]
