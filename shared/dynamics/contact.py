"""Find the one active contact a handoff belongs to (contract section 5.1), usually in one request.

The rule: email first; only when no active contact has the email, the phone in its usual forms;
exactly one match links, zero or several leave the item unlinked. The two filters go as one `or`
query that selects the compared columns, and the precedence is applied here, so a handoff costs
one lookup even when its email matches nobody. When that answer is full ($top rows), a crowd of
phone matches may hide the email match: then one email-only query settles it, so the email always
wins (docs/dataverse.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from shared.dynamics.dataverse import DataverseClient, DataverseResponse
from shared.opencx.session import Customer
from shared.platform.failure import Failure, Upstream

LOOKUP_TOP = 10
_SELECT = "contactid,emailaddress1,mobilephone,telephone1"


class Linkage(StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    NONE = "none"
    AMBIGUOUS = "ambiguous"
    CREATED = "created"  # no match: the incident path created one


@dataclass(frozen=True)
class ContactMatch:
    contact_id: str | None
    linkage: Linkage
    reason: str  # matched_email, matched_phone, no_identifier, no_match, ambiguous, lookup_failed
    failure: Failure | None = None  # set with lookup_failed


def phone_forms(e164: str) -> list[str]:
    """E.164 plus the national forms people type into Dynamics: '(415) 555-0123', '4155550123'."""
    import phonenumbers

    number = phonenumbers.parse(e164, None)
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    international = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    digits = phonenumbers.national_significant_number(number)
    forms = [e164, national, international, digits]
    return list(dict.fromkeys(form for form in forms if form))


def odata_literal(value: str) -> str:
    """A single-quoted OData string literal: ' doubles to ''."""
    return "'" + value.replace("'", "''") + "'"


def build_filter(email: str | None, phones: list[str]) -> str:
    """Active contacts (statecode 0) whose email or phone is one of the given forms."""
    clauses = [f"emailaddress1 eq {odata_literal(email)}"] if email else []
    for form in phones:
        literal = odata_literal(form)
        clauses += [f"mobilephone eq {literal}", f"telephone1 eq {literal}"]
    return f"statecode eq 0 and ({' or '.join(clauses)})"


def _pick(contacts: list[dict[str, str]], email: str | None, phones: list[str]) -> ContactMatch:
    if email:
        by_email = [c for c in contacts if (c.get("emailaddress1") or "").lower() == email.lower()]
        if len(by_email) == 1:
            return ContactMatch(by_email[0]["contactid"], Linkage.EMAIL, "matched_email")
        if len(by_email) > 1:
            return ContactMatch(None, Linkage.AMBIGUOUS, "ambiguous")
    wanted = set(phones)
    by_phone = [c for c in contacts if {c.get("mobilephone"), c.get("telephone1")} & wanted]
    if len(by_phone) == 1:
        return ContactMatch(by_phone[0]["contactid"], Linkage.PHONE, "matched_phone")
    if len(by_phone) > 1:
        return ContactMatch(None, Linkage.AMBIGUOUS, "ambiguous")
    return ContactMatch(None, Linkage.NONE, "no_match")


def _query(client: DataverseClient, email: str | None, phones: list[str]) -> DataverseResponse:
    return client.get(
        "contacts",
        "contact_lookup",
        params={"$select": _SELECT, "$top": str(LOOKUP_TOP), "$filter": build_filter(email, phones)},
    )


def _rows(response: DataverseResponse) -> list[dict[str, str]]:
    return [c for c in response.body.get("value", []) if isinstance(c, dict) and c.get("contactid")]


def find_contact(client: DataverseClient, customer: Customer) -> ContactMatch:
    """One GET, two when a full answer could hide the email match. A failed lookup is returned,
    not raised: the caller decides whether to retry."""
    phones = phone_forms(customer.phone) if customer.phone and customer.phoneNormalised else []
    if not customer.email and not phones:
        return ContactMatch(None, Linkage.NONE, "no_identifier")
    response = _query(client, customer.email, phones)
    if not response.ok:
        return ContactMatch(None, Linkage.NONE, "lookup_failed", Failure.of(Upstream.DATAVERSE, response))
    contacts = _rows(response)
    if customer.email and phones and len(contacts) >= LOOKUP_TOP:
        by_email = _query(client, customer.email, [])
        if not by_email.ok:
            return ContactMatch(None, Linkage.NONE, "lookup_failed", Failure.of(Upstream.DATAVERSE, by_email))
        if _rows(by_email):
            return _pick(_rows(by_email), customer.email, [])
    return _pick(contacts, customer.email, phones)
