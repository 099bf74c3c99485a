"""Registration-fee payment providers: pluggable by name; the development one marks a fee paid on confirmation."""

from typing import Protocol


class PaymentProvider(Protocol):
    """Takes registration fees: asks for a payment, confirms it, refunds it."""

    name: str

    def request(self, *, booking_id: str, amount: int) -> str:
        """Ask for amount (fen) for a booking; return the provider's payment reference."""
        ...

    def confirm(self, *, reference: str, confirmation: str) -> bool:
        """True when the payment with reference is settled (confirmation is what the payer's app returned)."""
        ...

    def refund(self, *, reference: str, amount: int) -> None:
        """Give a settled payment back."""
        ...


class DevelopmentPayments:
    """For development and the demo: every confirmation settles the payment; nothing leaves the building."""

    name = "dev"

    def request(self, *, booking_id: str, amount: int) -> str:
        """A reference made from the booking's id."""
        return f"dev-{booking_id}"

    def confirm(self, *, reference: str, confirmation: str) -> bool:
        """Any confirmation counts as paid."""
        return True

    def refund(self, *, reference: str, amount: int) -> None:
        """Nothing to give back: no money moved."""


_providers: dict[str, PaymentProvider] = {"dev": DevelopmentPayments()}


def register_provider(provider: PaymentProvider) -> None:
    """Make a provider available under its name (a real one is registered at start-up)."""
    _providers[provider.name] = provider


def provider_named(name: str) -> PaymentProvider:
    """The registered provider called name (KeyError names the missing one)."""
    try:
        return _providers[name]
    except KeyError:
        raise KeyError(f"No payment provider is registered as {name!r}") from None
