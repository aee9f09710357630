"""The re-drive command: list parked messages without consuming them, move chosen ones back."""

from __future__ import annotations

import asyncio

import pytest

from shared.events import Event, TicketCreated
from shared.messaging import AmqpSettings, Delivery
from shared.messaging.redrive import list_parked, main
from shared.testing.poll import eventually
from shared.tests.conftest import Consuming


async def test_the_command_lists_parked_messages_and_redrives_one_by_id(
    amqp_settings: AmqpSettings, consuming: Consuming, capsys: pytest.CaptureFixture[str]
) -> None:
    async def broken(_event: Event, _delivery: Delivery) -> None:
        raise LookupError("no such ticket")

    async with consuming(broken) as messaging:
        message_id = await messaging.publisher.publish_event(
            TicketCreated("60029252cba1360018999688", 0, "x", 100, "5fd843a29fc5e30023bd790b")
        )
        await eventually(lambda: list_parked(messaging.connection, messaging.topology, "svc"))
        assert messaging.consumer is not None
        await messaging.consumer.stop()
        base = [
            "--service",
            "svc",
            "--namespace",
            amqp_settings.namespace,
            "--amqp-url",
            amqp_settings.url,
        ]

        listed = await asyncio.to_thread(main, [*base, "list"])
        listing = capsys.readouterr().out
        listed_again = await asyncio.to_thread(main, [*base, "list"])
        listing_again = capsys.readouterr().out
        missing = await asyncio.to_thread(main, [*base, "redrive", "--id", "no-such-id"])
        capsys.readouterr()
        moved = await asyncio.to_thread(main, [*base, "redrive", "--id", message_id])
        redrive_output = capsys.readouterr().out
        left = await list_parked(messaging.connection, messaging.topology, "svc")

    assert (listed, listed_again, missing, moved) == (0, 0, 1, 0)
    assert listing.splitlines() == [
        f"{message_id}\tticket.created\thandler-error\tLookupError: no such ticket"
    ]
    assert listing_again == listing  # listing did not consume anything
    assert "re-drove 1 message(s)" in redrive_output
    assert left == []


def test_the_command_needs_an_amqp_url(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("AMQP_URL", raising=False)

    status = main(["--service", "svc", "list"])

    assert status == 2
    assert "AMQP_URL" in capsys.readouterr().err
