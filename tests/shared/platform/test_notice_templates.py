"""Templates are checked when settings load: unknown placeholders, bad syntax, or a text that could
not fit one segment are refused naming CONCIERGE_TEMPLATES; optional parts give way to fit."""

import json

import pytest

from shared.platform.notice_templates import DEFAULTS, fill, parse, problem
from shared.platform.settings import SettingsError, load_settings
from shared.platform.sms import fits_one_segment


def _env(**extra: str) -> dict[str, str]:
    from helpers import bridge_environment

    return {**bridge_environment("UseDevelopmentStorage=true", "handoffs"), **extra}


def test_shipped_templates_are_valid():
    for language, texts in DEFAULTS.items():
        for name, text in texts.items():
            assert problem(name, language, text) is None, (language, name)


def test_unknown_placeholder_is_refused_naming_the_setting():
    raw = json.dumps({"en": {"queued": "You are {place} in line."}})
    with pytest.raises(SettingsError) as raised:
        load_settings(_env(CONCIERGE_TEMPLATES=raw))
    assert "CONCIERGE_TEMPLATES" in raised.value.problems
    assert "place" in raised.value.problems["CONCIERGE_TEMPLATES"]


def test_template_that_cannot_fit_is_refused():
    raw = json.dumps({"es": {"closed_chat": "Cerrado " + "ñ" * 40 + " hasta el {opens}, aquí " + "x" * 20}})
    with pytest.raises(SettingsError) as raised:
        load_settings(_env(CONCIERGE_TEMPLATES=raw))
    assert "does not fit" in raised.value.problems["CONCIERGE_TEMPLATES"]


def test_unbalanced_brackets_and_unknown_templates_are_refused():
    for raw in ({"en": {"queued": "Soon[ you are {position}."}}, {"en": {"nope": "x"}}):
        with pytest.raises(SettingsError):
            load_settings(_env(CONCIERGE_TEMPLATES=json.dumps(raw)))


def test_an_override_replaces_one_template_and_keeps_the_others():
    raw = json.dumps({"en": {"queued": "Hang on.[ Number {position}.]"}})
    templates = load_settings(_env(CONCIERGE_TEMPLATES=raw)).concierge.templates
    assert templates["en"]["queued"] == "Hang on.[ Number {position}.]"
    assert templates["es"] == DEFAULTS["es"]


def test_optional_parts_drop_when_unknown_and_last_first_when_too_long():
    parts = parse("Soon.[ You are number {position}.][ Wait: {wait}.]")
    assert fill(parts, {"position": "3", "wait": None}) == "Soon. You are number 3."
    assert fill(parts, {"position": None, "wait": "about 3 minutes"}) == "Soon. Wait: about 3 minutes."
    long = fill(parts, {"position": "3", "wait": "á" * 60})
    assert long == "Soon. You are number 3."
    assert fits_one_segment(long)


def test_a_required_value_unknown_means_no_text():
    assert fill(parse("Back at {opens}."), {"opens": None}) is None


def test_bad_zone_and_after_hours_are_named():
    with pytest.raises(SettingsError) as raised:
        load_settings(_env(CONCIERGE_TIME_ZONE="Mars/Olympus", AFTER_HOURS="later", CONCIERGE="maybe"))
    assert {"CONCIERGE_TIME_ZONE", "AFTER_HOURS", "CONCIERGE"} <= set(raised.value.problems)


def test_defaults():
    concierge = load_settings(_env()).concierge
    assert (concierge.enabled, concierge.after_hours.value, concierge.time_zone) == (False, "chat", "UTC")
    assert concierge.refresh_seconds == 120
