"""Session <-> conversation links against a real Azurite: recording, moving on, closing, the sweep's list."""

from __future__ import annotations

import uuid

from shared.messaging.links import CONTEXT_MAX_CHARS, LinkState, fit_context
from shared.messaging.outbox import Direction


def test_a_session_moves_to_its_new_conversation_and_the_old_one_is_marked_replaced(
    relay_deps, clock
) -> None:
    deps, session = relay_deps, f"session-{uuid.uuid4()}"
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    deps.links.record(
        session, first, "h1", "sms", now=clock(), context={"customercontext": {"customerid": session}}
    )
    deps.links.record_count(first, Direction.TO_REP, 3)
    deps.links.record(session, second, "h1", "sms", now=clock(), continued_from=first)
    current = deps.links.by_session(session)
    assert current is not None and current.conversation_id == second and current.open
    old = deps.links.by_conversation(first)
    assert old is not None and old.state is LinkState.REPLACED and old.replaced_by == second
    assert old.to_rep == 3 and old.create_context == {"customercontext": {"customerid": session},
                                                       "conversationcontext": {}}  # fmt: skip


def test_recording_again_keeps_counts_and_the_first_start(relay_deps, clock) -> None:
    deps, session, conversation = relay_deps, f"s-{uuid.uuid4()}", str(uuid.uuid4())
    deps.links.record(session, conversation, "h1", "web", now=clock(), start_message_id="1700000000000")
    deps.links.record_count(conversation, Direction.TO_CUSTOMER, 2)
    clock.advance(60)
    deps.links.record(session, conversation, "h2", "web", now=clock())
    link = deps.links.by_conversation(conversation)
    assert link is not None
    assert (link.to_customer, link.start_message_id, link.handoff_id) == (2, "1700000000000", "h2")


def test_a_closed_conversation_is_not_swept(relay_deps, clock) -> None:
    deps, session = relay_deps, f"s-{uuid.uuid4()}"
    open_one, closed_one = str(uuid.uuid4()), str(uuid.uuid4())
    deps.links.record(session, closed_one, "h1", "sms", now=clock())
    link = deps.links.by_conversation(closed_one)
    assert link is not None
    deps.links.close(link, "rep", now=clock())
    deps.links.record(f"other-{session}", open_one, "h2", "sms", now=clock())
    swept = {link.conversation_id for link in deps.links.open_conversations(100)}
    assert open_one in swept and closed_one not in swept
    closed = deps.links.by_session(session)
    assert closed is not None and closed.state is LinkState.CLOSED


def test_a_huge_context_is_fitted_into_one_table_property() -> None:
    context = {
        "customercontext": {"customerid": "s"},
        "conversationcontext": {f"k{i}": {"isDisplayable": True, "value": "x" * 1000} for i in range(100)},
    }
    text = fit_context(context)
    assert len(text) <= CONTEXT_MAX_CHARS and '"k0"' in text and '"k99"' not in text
