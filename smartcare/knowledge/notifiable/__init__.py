"""Notifiable infectious diseases: the list, their classes, codes, case classifications and reporting limits."""

from smartcare.knowledge.notifiable.catalogue import (
    DEFAULT_LIST,
    Catalogue,
    Disease,
    Match,
    NotifiableListInvalid,
    Subtype,
    load,
    parse,
)

__all__ = ["DEFAULT_LIST", "Catalogue", "Disease", "Match", "NotifiableListInvalid", "Subtype", "load", "parse"]
