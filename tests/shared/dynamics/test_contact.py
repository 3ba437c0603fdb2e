"""Contact lookup (docs/contract.md section 5.1) against the Dataverse simulator."""

from __future__ import annotations

import pytest

from shared.dynamics.contact import (
    LOOKUP_TOP,
    Linkage,
    build_filter,
    find_contact,
    odata_literal,
    phone_forms,
)
from shared.dynamics.dataverse import dataverse_client
from shared.opencx.session import Customer
from shared.platform.failure import FailureKind, Upstream

PHONE = "+14155550123"


def lookup(customer: Customer):
    return find_contact(dataverse_client(), customer)


def test_filter_is_active_only_and_escapes_quotes():
    text = build_filter("o'neil@example.com", ["+14155550123"])
    assert text.startswith("statecode eq 0 and (")
    assert "emailaddress1 eq 'o''neil@example.com'" in text
    assert "mobilephone eq '+14155550123'" in text and "telephone1 eq '+14155550123'" in text
    assert odata_literal("a'b") == "'a''b'"


def test_phone_forms_cover_what_people_type():
    assert phone_forms(PHONE) == ["+14155550123", "(415) 555-0123", "+1 415-555-0123", "4155550123"]


def test_no_identifier_makes_no_request(dataverse):
    match = lookup(Customer(name="Only a name"))
    assert (match.linkage, match.reason) == (Linkage.NONE, "no_identifier")
    assert dataverse.count_requests("contact_lookup") == 0


@pytest.mark.parametrize("stored", ["+14155550123", "(415) 555-0123", "4155550123"])
def test_phone_in_its_usual_forms_links(dataverse, stored):
    contact = dataverse.add_contact(telephone1=stored)
    match = lookup(Customer(phone=PHONE))
    assert (match.contact_id, match.linkage) == (contact, Linkage.PHONE)
    assert dataverse.count_requests("contact_lookup") == 1


def test_email_wins_over_phone_case_insensitive(dataverse):
    by_email = dataverse.add_contact(email="Dana.Reyes@Example.com")
    dataverse.add_contact(mobilephone=PHONE)
    match = lookup(Customer(email="dana.reyes@example.com", phone=PHONE))
    assert (match.contact_id, match.linkage) == (by_email, Linkage.EMAIL)


def test_inactive_contacts_are_never_linked(dataverse):
    dataverse.add_contact(mobilephone=PHONE, statecode=1)
    dataverse.add_contact(email="dana@example.com", statecode=1)
    match = lookup(Customer(email="dana@example.com", phone=PHONE))
    assert (match.contact_id, match.reason) == (None, "no_match")


def test_an_inactive_twin_does_not_make_the_active_one_ambiguous(dataverse):
    active = dataverse.add_contact(mobilephone=PHONE)
    dataverse.add_contact(mobilephone=PHONE, statecode=1)
    assert lookup(Customer(phone=PHONE)).contact_id == active


def test_two_phone_matches_are_ambiguous(dataverse):
    dataverse.add_contact(mobilephone=PHONE)
    dataverse.add_contact(telephone1="(415) 555-0123")
    match = lookup(Customer(phone=PHONE))
    assert (match.contact_id, match.linkage) == (None, Linkage.AMBIGUOUS)


def test_a_crowd_of_phone_matches_never_hides_the_email_match(dataverse):
    for _ in range(LOOKUP_TOP + 2):
        dataverse.add_contact(mobilephone=PHONE)
    dataverse.add_contact(mobilephone=PHONE, email="dana@example.com", statecode=1)  # inactive: ignored
    wanted = dataverse.add_contact(email="dana@example.com")
    match = lookup(Customer(email="dana@example.com", phone=PHONE))
    assert (match.contact_id, match.linkage) == (wanted, Linkage.EMAIL)
    assert dataverse.count_requests("contact_lookup") <= 2


def test_a_crowd_without_the_email_stays_ambiguous(dataverse):
    for _ in range(LOOKUP_TOP + 1):
        dataverse.add_contact(mobilephone=PHONE)
    match = lookup(Customer(email="nobody@example.com", phone=PHONE))
    assert match.linkage is Linkage.AMBIGUOUS
    assert dataverse.count_requests("contact_lookup") == 2


def test_unnormalised_phone_is_not_searched(dataverse):
    dataverse.add_contact(mobilephone="call me maybe")
    match = lookup(Customer(phone="call me maybe", phoneNormalised=False))
    assert match.reason == "no_identifier"


def test_failed_lookup_is_returned_not_raised(dataverse):
    from devtools.dataverse_sim import FaultRule

    dataverse.add_fault(FaultRule("status", operation="contact_lookup", status=403))
    match = lookup(Customer(phone=PHONE))
    assert match.reason == "lookup_failed" and match.failure is not None and match.failure.status == 403
    assert match.failure.upstream is Upstream.DATAVERSE and match.failure.kind is FailureKind.REFUSED
