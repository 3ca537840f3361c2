"""Strict EIP-4361 (Sign-In with Ethereum) message parsing and EIP-191 signer recovery."""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import to_checksum_address

MAX_MESSAGE_BYTES = 16 * 1024

_HEADER_SUFFIX = " wants you to sign in with your Ethereum account:"
_REQUIRED_FIELDS = ("URI", "Version", "Chain ID", "Nonce", "Issued At")
_FIELD_ORDER = (*_REQUIRED_FIELDS, "Expiration Time", "Not Before", "Request ID")
_RESOURCES_LINE = "Resources:"
_RESOURCE_PREFIX = "- "

# RFC 3986 character classes, used by the EIP-4361 ABNF.
_UNRESERVED = r"A-Za-z0-9\-._~"
_GEN_DELIMS = r":/?#\[\]@"
_SUB_DELIMS = r"!$&'()*+,;="
_PCT_ENCODED = r"%[0-9A-Fa-f]{2}"

_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*")
_AUTHORITY_RE = re.compile(
    rf"(?:(?:[{_UNRESERVED}{_SUB_DELIMS}:]|{_PCT_ENCODED})*@)?"
    rf"(?:\[[0-9A-Fa-f:.]+\]|(?:[{_UNRESERVED}{_SUB_DELIMS}]|{_PCT_ENCODED})+)"
    r"(?::[0-9]*)?"
)
_ADDRESS_RE = re.compile(r"0x[0-9a-fA-F]{40}")
_STATEMENT_RE = re.compile(rf"[{_UNRESERVED}{_GEN_DELIMS}{_SUB_DELIMS} ]*")
_URI_RE = re.compile(rf"[A-Za-z][A-Za-z0-9+.\-]*:(?:[{_UNRESERVED}{_GEN_DELIMS}{_SUB_DELIMS}]|{_PCT_ENCODED})+")
_VERSION_RE = re.compile(r"1")
_CHAIN_ID_RE = re.compile(r"[0-9]{1,78}")
_NONCE_RE = re.compile(r"[A-Za-z0-9]{8,}")
_DATE_TIME_RE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?"
    r"(?:[Zz]|[+-][0-9]{2}:[0-9]{2})"
)
_REQUEST_ID_RE = re.compile(rf"(?:[{_UNRESERVED}{_SUB_DELIMS}:@]|{_PCT_ENCODED})*")
_SIGNATURE_RE = re.compile(r"0x[0-9a-fA-F]{130}")
_PERSONAL_SIGN_V = frozenset({0, 1, 27, 28})
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)


@dataclass(frozen=True)
class SiweMessage:
    """The fields of a validated EIP-4361 message, with times as epoch milliseconds."""

    domain: str
    scheme: str | None
    address: str
    statement: str | None
    uri: str
    version: str
    chain_id: int
    nonce: str
    issued_at: int
    expiration_time: int | None
    not_before: int | None
    request_id: str | None
    resources: tuple[str, ...]


class SiweError(ValueError):
    """Raised when a SIWE message or signature is invalid; the message names the offending field."""


def parse_message(text: str) -> SiweMessage:
    """Parse an EIP-4361 message, rejecting anything its ABNF does not allow so signed text is unambiguous."""
    lines = _split_lines(text)
    scheme, domain = _parse_origin(lines[0])
    address = _parse_address(lines[1])
    statement, field_lines = _split_statement(lines[2:])
    fields, resources = _collect_fields(field_lines)
    return SiweMessage(
        domain=domain,
        scheme=scheme,
        address=address,
        statement=statement,
        uri=_require(fields["URI"], _URI_RE, "'URI' must be an RFC 3986 URI with a scheme"),
        version=_require(fields["Version"], _VERSION_RE, "'Version' must be 1"),
        chain_id=int(_require(fields["Chain ID"], _CHAIN_ID_RE, "'Chain ID' must be a non-negative integer")),
        nonce=_require(fields["Nonce"], _NONCE_RE, "'Nonce' must be alphanumeric, at least 8 characters"),
        issued_at=_parse_date_time("Issued At", fields["Issued At"]),
        expiration_time=_parse_optional_date_time("Expiration Time", fields.get("Expiration Time")),
        not_before=_parse_optional_date_time("Not Before", fields.get("Not Before")),
        request_id=_parse_request_id(fields.get("Request ID")),
        resources=resources,
    )


def recover_signer(text: str, signature: str) -> str:
    """Recover the EIP-191 personal_sign signer so callers can compare it with the message's address."""
    if not isinstance(signature, str) or not _SIGNATURE_RE.fullmatch(signature):
        raise SiweError("signature must be 0x followed by 130 hex characters")
    if int(signature[-2:], 16) not in _PERSONAL_SIGN_V:
        raise SiweError("signature 'v' must be 0, 1, 27 or 28")
    try:
        return Account.recover_message(encode_defunct(text=text), signature=signature)
    except Exception as exc:
        raise SiweError("signature could not be recovered") from exc


def _split_lines(text: str) -> list[str]:
    """Split on LF after the whole-message checks, since the grammar allows no other line ending."""
    if not isinstance(text, str):
        raise SiweError("SIWE message must be a string")
    if len(text.encode("utf-8")) > MAX_MESSAGE_BYTES:
        raise SiweError(f"SIWE message: message exceeds {MAX_MESSAGE_BYTES} bytes")
    if "\r" in text:
        raise SiweError("SIWE message: lines must end with '\\n', not '\\r\\n' or '\\r'")
    lines = text.split("\n")
    if len(lines) < 2:
        raise SiweError("SIWE message: 'address' line is missing")
    return lines


def _parse_origin(header: str) -> tuple[str | None, str]:
    """Split the first line into its optional scheme and its domain, as the wallet shows them to the user."""
    if not header.endswith(_HEADER_SUFFIX):
        raise SiweError(f"SIWE message: first line must end with {_HEADER_SUFFIX.strip()!r}")
    origin = header[: -len(_HEADER_SUFFIX)]
    scheme: str | None
    scheme, separator, domain = origin.partition("://")
    if not separator:
        scheme, domain = None, origin
    elif not _SCHEME_RE.fullmatch(scheme):
        raise SiweError("SIWE message: 'scheme' must be an RFC 3986 scheme such as 'https'")
    problem = "'domain' must be an RFC 3986 authority (host[:port]) without whitespace or '/'"
    return scheme, _require(domain, _AUTHORITY_RE, problem)


def _parse_address(line: str) -> str:
    """Return the EIP-55 form, accepting lowercase but not a mixed-case address whose checksum is wrong."""
    _require(line, _ADDRESS_RE, "'address' must be 0x followed by 40 hex characters")
    checksummed = to_checksum_address(line)
    if line != checksummed and line != line.lower():
        raise SiweError("SIWE message: 'address' has an invalid EIP-55 checksum")
    return checksummed


def _split_statement(lines: list[str]) -> tuple[str | None, list[str]]:
    """Separate the optional statement, whose position is fixed by the blank lines around it."""
    if lines[:1] != [""]:
        raise SiweError("SIWE message: 'address' must be followed by an empty line")
    if lines[1:3] == ["", ""]:
        return "", lines[3:]
    if lines[1:2] in ([], [""]):
        return None, lines[2:]
    statement = lines[1]
    if lines[2:3] != [""]:
        if statement.startswith("URI: "):
            raise SiweError(
                "SIWE message: two empty lines must separate 'address' and 'URI' when there is no statement"
            )
        raise SiweError("SIWE message: 'statement' must be a single line followed by an empty line")
    _require(
        statement,
        _STATEMENT_RE,
        "'statement' may contain only spaces and RFC 3986 reserved or unreserved characters",
    )
    return statement, lines[3:]


def _collect_fields(lines: list[str]) -> tuple[dict[str, str], tuple[str, ...]]:
    """Map each labelled line to its value, enforcing the fixed order, uniqueness and required fields."""
    fields: dict[str, str] = {}
    resources: tuple[str, ...] = ()
    for index, line in enumerate(lines):
        if line == _RESOURCES_LINE:
            resources = tuple(_parse_resource(resource) for resource in lines[index + 1 :])
            break
        label, separator, value = line.partition(": ")
        if not separator or label not in _FIELD_ORDER:
            raise SiweError(f"SIWE message: unexpected line {line!r}")
        if label in fields:
            raise SiweError(f"SIWE message: {label!r} appears more than once")
        previous = next(reversed(fields), None)
        if previous is not None and _FIELD_ORDER.index(label) < _FIELD_ORDER.index(previous):
            raise SiweError(f"SIWE message: {label!r} must come before {previous!r}")
        fields[label] = value
    for label in _REQUIRED_FIELDS:
        if label not in fields:
            raise SiweError(f"SIWE message: {label!r} is required")
    return fields, resources


def _parse_resource(line: str) -> str:
    """Return the URI of one '- ' resource line."""
    if not line.startswith(_RESOURCE_PREFIX):
        raise SiweError(f"SIWE message: 'Resources' entries must start with '- ', got {line!r}")
    return _require(line[len(_RESOURCE_PREFIX) :], _URI_RE, "'Resources' entries must be RFC 3986 URIs with a scheme")


def _parse_request_id(value: str | None) -> str | None:
    """Validate the optional request id against the ABNF's *pchar, keeping absence distinct from empty."""
    if value is not None:
        _require(value, _REQUEST_ID_RE, "'Request ID' must contain only RFC 3986 path characters")
    return value


def _parse_optional_date_time(label: str, value: str | None) -> int | None:
    """Parse an optional time field, keeping absence distinct from any instant."""
    return None if value is None else _parse_date_time(label, value)


def _parse_date_time(label: str, value: str) -> int:
    """Convert an RFC 3339 date-time to epoch ms; the regex first rejects ISO 8601 forms RFC 3339 forbids."""
    problem = f"{label!r} must be an RFC 3339 date-time such as 2021-09-30T16:25:24Z"
    _require(value, _DATE_TIME_RE, problem)
    try:
        moment = datetime.fromisoformat(value.upper())
    except ValueError as exc:
        raise SiweError(f"SIWE message: {problem}") from exc
    return (moment - _EPOCH) // _ONE_MS


def _require(value: str, pattern: re.Pattern[str], problem: str) -> str:
    """Return value if it fully matches pattern, else raise a SiweError describing the problem."""
    if not pattern.fullmatch(value):
        raise SiweError(f"SIWE message: {problem}")
    return value
