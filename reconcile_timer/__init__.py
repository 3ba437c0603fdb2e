"""Timer blueprint: the relay's safety net for rep messages Microsoft's webhook never delivered.

Every minute it looks at conversations still open whose last look (or start) is older than
MESSAGING_RECONCILE_SECONDS, one read each (shared/messaging/reconcile.py). In mode work_item it
does nothing. The schedule is fixed; the setting decides how often each conversation is read.
"""

import azure.functions as func

bp = func.Blueprint()

SCHEDULE = "0 */1 * * * *"  # NCRONTAB, every minute


@bp.function_name("reconcile_timer")
@bp.timer_trigger(arg_name="timer", schedule=SCHEDULE, run_on_startup=False, use_monitor=True)
def reconcile_timer(timer: func.TimerRequest) -> None:
    from reconcile_timer.sweep import run

    run(past_due=bool(timer.past_due))
