"""RFC 6902 JSON Patch for FHIR's PATCH interaction, applied copy-on-write over plain JSON data."""

import re
from dataclasses import dataclass
from typing import Any

MAX_OPERATIONS = 1000
MAX_DEPTH = 100
MAX_POINTER_LENGTH = 4096

_OPS = ("add", "remove", "replace", "move", "copy", "test")
_OPS_WITH_VALUE = frozenset({"add", "replace", "test"})
_OPS_WITH_FROM = frozenset({"move", "copy"})
_ARRAY_INDEX = re.compile(r"0|[1-9][0-9]*")
_BAD_ESCAPE = re.compile(r"~(?![01])")
# Longer indexes cannot address a real list, and int() refuses strings past ~4300 digits.
_MAX_INDEX_DIGITS = 18
_MESSAGE_POINTER_CHARS = 120


class PatchError(ValueError):
    """A JSON Patch that is malformed or cannot be applied to the document."""


@dataclass(slots=True)
class _Operation:
    index: int
    op: str
    path: tuple[str, ...]
    source: tuple[str, ...] | None
    value: Any
    context: str


def apply_json_patch(document: dict, operations: object) -> dict:
    """Apply an RFC 6902 patch and return the patched document, leaving `document` untouched.

    Only the containers on the paths the patch writes to are copied; unchanged subtrees are shared
    with the input, so treat both the input and the result as read-only once patched.
    """
    if not isinstance(document, dict):
        raise PatchError(f"the document to patch must be a JSON object, not {_json_type(document)}")
    parsed = _parse_operations(operations)
    patcher = _Patcher(document)
    for operation in parsed:
        patcher.apply(operation)
    return patcher.root


def _parse_operations(operations: object) -> list[_Operation]:
    if not isinstance(operations, list):
        raise PatchError(f"a JSON Patch must be a JSON array of operations, not {_json_type(operations)}")
    if len(operations) > MAX_OPERATIONS:
        raise PatchError(
            f"a JSON Patch may hold at most {MAX_OPERATIONS} operations, this one has {len(operations)}"
        )
    return [_parse_operation(index, operation) for index, operation in enumerate(operations)]


def _parse_operation(index: int, operation: object) -> _Operation:
    if not isinstance(operation, dict):
        raise PatchError(f"operation {index}: must be a JSON object, not {_json_type(operation)}")
    if "op" not in operation:
        raise PatchError(f"operation {index}: the 'op' member is missing")
    op = operation["op"]
    if not isinstance(op, str):
        raise PatchError(f"operation {index}: 'op' must be a string, not {_json_type(op)}")
    if op not in _OPS:
        raise PatchError(f"operation {index}: unknown op {_quote(op)}; expected one of {', '.join(_OPS)}")
    path_text = _string_member(operation, "path", f"operation {index} ({op})")
    context = f"operation {index} ({op} at {_quote(path_text)})"
    source_text = None
    if op in _OPS_WITH_FROM:
        source_text = _string_member(operation, "from", context)
        context = f"operation {index} ({op} from {_quote(source_text)} to {_quote(path_text)})"
    if op in _OPS_WITH_VALUE and "value" not in operation:
        raise PatchError(f"{context}: the 'value' member is missing")
    path = _parse_pointer(path_text, "path", context)
    source = None if source_text is None else _parse_pointer(source_text, "from", context)
    value = operation.get("value")
    if op in ("add", "replace"):
        _check_fits(value, path, context)
    return _Operation(index, op, path, source, value, context)


def _string_member(operation: dict, name: str, context: str) -> str:
    if name not in operation:
        raise PatchError(f"{context}: the '{name}' member is missing")
    member = operation[name]
    if not isinstance(member, str):
        raise PatchError(f"{context}: '{name}' must be a string (a JSON Pointer), not {_json_type(member)}")
    return member


def _parse_pointer(text: str, member: str, context: str) -> tuple[str, ...]:
    """Split an RFC 6901 JSON Pointer into its unescaped reference tokens."""
    if text == "":
        return ()
    if len(text) > MAX_POINTER_LENGTH:
        raise PatchError(f"{context}: '{member}' is longer than {MAX_POINTER_LENGTH} characters")
    if not text.startswith("/"):
        raise PatchError(f"{context}: '{member}' must be empty or start with '/' (RFC 6901)")
    if _BAD_ESCAPE.search(text):
        raise PatchError(f"{context}: '{member}' has a '~' not followed by '0' or '1' (RFC 6901)")
    # ~1 before ~0, so that "~01" means the key "~1" and not "/".
    return tuple(token.replace("~1", "/").replace("~0", "~") for token in text[1:].split("/"))


def _format_pointer(tokens: tuple[str, ...]) -> str:
    return _quote("".join("/" + token.replace("~", "~0").replace("/", "~1") for token in tokens))


def _quote(text: str) -> str:
    if len(text) > _MESSAGE_POINTER_CHARS:
        text = text[:_MESSAGE_POINTER_CHARS] + "..."
    return f'"{text}"'


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return type(value).__name__


def _check_fits(value: object, path: tuple[str, ...], context: str) -> None:
    """Refuse a value that is not JSON, or that would nest the document deeper than MAX_DEPTH at `path`."""
    budget = MAX_DEPTH - len(path)
    pending = [(value, 1)]
    while pending:
        node, level = pending.pop()
        if isinstance(node, dict):
            children = node.values()
            if any(not isinstance(key, str) for key in node):
                raise PatchError(f"{context}: the value has an object key that is not a string")
        elif isinstance(node, list):
            children = node
        elif node is None or isinstance(node, str | int | float):
            continue
        else:
            raise PatchError(f"{context}: the value holds a {type(node).__name__}, which is not JSON")
        if level > budget:
            raise PatchError(
                f"{context}: the patched document would be nested deeper than {MAX_DEPTH} levels"
            )
        pending.extend((child, level + 1) for child in children)


def _json_equal(left: object, right: object) -> bool:
    """JSON equality: 1 equals 1.0, but a boolean never equals a number."""
    pending = [(left, right)]
    while pending:
        a, b = pending.pop()
        if a is b:
            continue
        kind = _json_type(a)
        if kind != _json_type(b):
            return False
        if kind == "object":
            if a.keys() != b.keys():
                return False
            pending.extend((a[key], b[key]) for key in a)
        elif kind == "array":
            if len(a) != len(b):
                return False
            pending.extend(zip(a, b, strict=True))
        elif a != b:
            return False
    return True


def _array_index(token: str, array: list, at: tuple[str, ...], context: str, *, for_add: bool) -> int:
    """The list position `token` names in `array` (found at pointer `at`); `for_add` allows len and '-'."""
    if token == "-":
        if for_add:
            return len(array)
        raise PatchError(
            f"{context}: '-' (past the end of the array at {_format_pointer(at)}) may only be added to"
        )
    if not _ARRAY_INDEX.fullmatch(token):
        raise PatchError(
            f"{context}: {_quote(token)} is not an array index for {_format_pointer(at)} "
            "(digits only, no leading zeros, or '-' to append)"
        )
    limit = len(array) if for_add else len(array) - 1
    if len(token) > _MAX_INDEX_DIGITS or int(token) > limit:
        raise PatchError(
            f"{context}: index {_quote(token)} is out of range for the array at {_format_pointer(at)} "
            f"of length {len(array)}"
        )
    return int(token)


def _existing_key(node: object, tokens: tuple[str, ...], position: int, context: str) -> str | int:
    """The key or index of the existing child that tokens[position] names inside `node`."""
    token = tokens[position]
    if isinstance(node, dict):
        if token not in node:
            hint = " (missing parents are not created)" if position < len(tokens) - 1 else ""
            raise PatchError(f"{context}: {_format_pointer(tokens[: position + 1])} does not exist{hint}")
        return token
    if isinstance(node, list):
        return _array_index(token, node, tokens[:position], context, for_add=False)
    raise PatchError(
        f"{context}: {_format_pointer(tokens[:position])} is a {_json_type(node)}, not an object or array"
    )


class _Patcher:
    """Applies parsed operations copy-on-write: a container is copied the first time it is written."""

    def __init__(self, document: dict):
        # Keeping the copies referenced guarantees their ids are never reused for foreign objects.
        self._owned: dict[int, object] = {}
        self.root: Any = self._writable(document)

    def apply(self, operation: _Operation) -> None:
        """Apply one operation to the working document."""
        path, context = operation.path, operation.context
        if operation.op == "add":
            self._add(path, self._copy(operation.value), context)
        elif operation.op == "remove":
            self._remove(path, context)
        elif operation.op == "replace":
            self._replace(path, self._copy(operation.value), context)
        elif operation.op == "test":
            if not _json_equal(self._read(path, context), operation.value):
                raise PatchError(f"{context}: test failed, the value there is not equal to 'value'")
        elif operation.op == "copy":
            value = self._read(operation.source, context)
            _check_fits(value, path, context)
            self._add(path, self._copy(value), context)
        else:
            self._move(operation.source, path, context)

    def _move(self, source: tuple[str, ...], path: tuple[str, ...], context: str) -> None:
        if source == path:
            self._read(source, context)
            return
        if path[: len(source)] == source:
            raise PatchError(f"{context}: a value cannot be moved into one of its own children")
        _check_fits(self._read(source, context), path, context)
        self._add(path, self._remove(source, context), context)

    def _writable(self, container: Any) -> Any:
        if id(container) in self._owned or not isinstance(container, dict | list):
            return container
        copy = dict(container) if isinstance(container, dict) else list(container)
        self._owned[id(copy)] = copy
        return copy

    def _copy(self, value: Any) -> Any:
        """A deep copy of a JSON value whose containers this patch owns (depth already checked)."""
        if isinstance(value, dict):
            copy: Any = {key: self._copy(child) for key, child in value.items()}
        elif isinstance(value, list):
            copy = [self._copy(child) for child in value]
        else:
            return value
        self._owned[id(copy)] = copy
        return copy

    def _read(self, tokens: tuple[str, ...], context: str) -> Any:
        node = self.root
        for position in range(len(tokens)):
            node = node[_existing_key(node, tokens, position, context)]
        return node

    def _writable_parent(self, tokens: tuple[str, ...], context: str) -> Any:
        """The container holding the last token of `tokens`, copied as needed so it may be changed."""
        self.root = node = self._writable(self.root)
        for position in range(len(tokens) - 1):
            key = _existing_key(node, tokens, position, context)
            child = self._writable(node[key])
            node[key] = child
            node = child
        if not isinstance(node, dict | list):
            raise PatchError(
                f"{context}: {_format_pointer(tokens[:-1])} is a {_json_type(node)}, not an object or array"
            )
        return node

    def _set_root(self, value: Any, context: str) -> None:
        if not isinstance(value, dict):
            raise PatchError(
                f"{context}: the document must stay a JSON object, not become {_json_type(value)}"
            )
        self.root = value

    def _add(self, path: tuple[str, ...], value: Any, context: str) -> None:
        if not path:
            self._set_root(value, context)
            return
        parent = self._writable_parent(path, context)
        if isinstance(parent, dict):
            parent[path[-1]] = value
        else:
            parent.insert(_array_index(path[-1], parent, path[:-1], context, for_add=True), value)

    def _remove(self, path: tuple[str, ...], context: str) -> Any:
        if not path:
            raise PatchError(f"{context}: the whole document cannot be removed")
        parent = self._writable_parent(path, context)
        return parent.pop(_existing_key(parent, path, len(path) - 1, context))

    def _replace(self, path: tuple[str, ...], value: Any, context: str) -> None:
        if not path:
            self._set_root(value, context)
            return
        parent = self._writable_parent(path, context)
        parent[_existing_key(parent, path, len(path) - 1, context)] = value
