"""The `smartcare worker` command: run jobs outside the web server, through a message broker when one is set."""

import signal
import threading

import typer

from smartcare.platform.console import make_console

worker_app = typer.Typer(help="Run jobs: reminders, notifications and other work that must happen later.")
console = make_console()


@worker_app.callback(invoke_without_command=True)
def worker(
    queue_url: str = typer.Option(
        None, help="Message broker, redis://host:6379/0 or amqp://user:pass@host:5672// "
                   "(default SMARTCARE_QUEUE_URL; none: take due jobs straight from the database)."),
    poll: float = typer.Option(1.0, min=0.1, max=60, help="Seconds to wait for work before looking again."),
    once: bool = typer.Option(False, "--once", help="Run what is due now, then exit."),
) -> None:
    """Relay due jobs from the outbox to the broker and run them, until stopped with Ctrl+C or SIGTERM."""
    from smartcare.platform.db import get_engine
    from smartcare.platform.jobs.backends import (
        Broker,
        BrokerUnavailable,
        job_settings,
        relay,
        run_with_broker,
    )
    from smartcare.platform.jobs.worker import load_handlers, tick

    load_handlers()
    engine = get_engine()
    url = queue_url if queue_url is not None else job_settings().queue_url
    stop = threading.Event()
    if once:
        if url:
            broker = Broker(url, job_settings().queue_name)
            try:
                relayed = relay(engine, broker)
                ran = broker.consume(engine, worker="cli", timeout=poll, limit=max(relayed, 1) * 2)
            except BrokerUnavailable as exc:
                console.print(f"[red]{exc}[/]; the jobs stay in the outbox.")
                raise typer.Exit(1) from exc
            finally:
                broker.close()
        else:
            ran = tick(engine)
        console.print(f"Ran {ran} job(s).")
        return
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    if url:
        broker = Broker(url, job_settings().queue_name)
        console.print(f"Relaying jobs to [bold]{kombu_safe(url)}[/] and running them (Ctrl+C stops).")
        try:
            run_with_broker(engine, broker, stop=stop, poll=poll)
        finally:
            broker.close()
    else:
        console.print("No message broker is set: running due jobs from the database (Ctrl+C stops).")
        while not stop.is_set():
            try:
                tick(engine)
            except Exception as exc:  # the database may be away for a moment; try again after a pause
                console.print(f"[yellow]Running jobs failed:[/] {exc}")
            stop.wait(poll)
    console.print("The worker stopped.")


def kombu_safe(url: str) -> str:
    """The broker URL with any password masked, for printing."""
    import kombu

    return kombu.Connection(url).as_uri()
