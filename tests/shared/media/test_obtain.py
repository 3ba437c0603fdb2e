"""obtain(): cheap checks before any fetch, and a host that does not answer only while patient."""

from __future__ import annotations

from shared.media.fetch import Keep
from shared.media.obtain import obtain
from shared.media.policy import MediaPolicy
from shared.media.refs import MediaRef, Refusal, RefusalReason
from shared.platform.failure import Failure

DOWN = MediaPolicy(hosts=frozenset({"127.0.0.1:9"}), domains=(), types=("image/*",), max_bytes=1000,
                   timeout_seconds=2)  # fmt: skip


def ref(size: int | None = None) -> MediaRef:
    return MediaRef(name="p.jpg", content_type="image/jpeg", url="http://127.0.0.1:9/p.jpg", size=size)


def test_a_declared_size_or_type_over_the_line_is_refused_without_a_fetch() -> None:
    big = obtain(ref(size=5000), DOWN, keep=Keep.BODY, credential=None, cap=1000, patient=True)
    assert isinstance(big, Refusal) and big.reason is RefusalReason.TOO_BIG
    pdf = MediaRef(name="a.pdf", content_type="application/pdf", url="http://127.0.0.1:9/a.pdf")
    typed = obtain(pdf, DOWN, keep=Keep.BODY, credential=None, cap=1000, patient=True)
    assert isinstance(typed, Refusal) and typed.reason is RefusalReason.TYPE


def test_a_host_that_does_not_answer_fails_while_patient_and_is_refused_after() -> None:
    assert isinstance(obtain(ref(), DOWN, keep=Keep.BODY, credential=None, cap=1000, patient=True), Failure)
    given_up = obtain(ref(), DOWN, keep=Keep.BODY, credential=None, cap=1000, patient=False)
    assert isinstance(given_up, Refusal) and given_up.reason is RefusalReason.UNANSWERED
