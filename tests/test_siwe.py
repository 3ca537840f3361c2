"""Tests for the strict EIP-4361 parser and EIP-191 signer recovery."""

import dataclasses

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from optimistic_messaging.auth.siwe import MAX_MESSAGE_BYTES, SiweError, SiweMessage, parse_message, recover_signer

ADDRESS = "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"
ISSUED_AT = "2021-09-30T16:25:24.000Z"
ISSUED_AT_MS = 1633019124000
IPFS_RESOURCE = "ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq/"

# The first example of the EIP-4361 text, verbatim.
EIP_EXAMPLE = """example.com wants you to sign in with your Ethereum account:
0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2

I accept the ExampleOrg Terms of Service: https://example.com/tos

URI: https://example.com/login
Version: 1
Chain ID: 1
Nonce: 32891756
Issued At: 2021-09-30T16:25:24Z
Resources:
- ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq/
- https://example.com/my-web2-claim.json"""

# The documented output of viem's createSiweMessage (ox Siwe.createMessage) without a statement, verbatim.
VIEM_EXAMPLE_WITHOUT_STATEMENT = """example.com wants you to sign in with your Ethereum account:
0xA0Cf798816D4b9b9866b5330EEa46a18382f251e


URI: https://example.com/path
Version: 1
Chain ID: 1
Nonce: foobarbaz
Issued At: 2023-02-01T00:00:00.000Z"""


def viem_message(
    *,
    domain: str = "localhost:3000",
    scheme: str | None = None,
    address: str = ADDRESS,
    statement: str | None = None,
    uri: str = "http://localhost:3000/login",
    chain_id: str = "1",
    nonce: str = "abcdef1234567890",
    issued_at: str = ISSUED_AT,
    expiration_time: str | None = None,
    not_before: str | None = None,
    request_id: str | None = None,
    resources: list[str] | None = None,
) -> str:
    """Build a message the way viem's createSiweMessage does, minus its input validation."""
    origin = f"{scheme}://{domain}" if scheme else domain
    prefix = f"{origin} wants you to sign in with your Ethereum account:\n{address}\n\n"
    if statement:
        prefix += f"{statement}\n"
    suffix = f"URI: {uri}\nVersion: 1\nChain ID: {chain_id}\nNonce: {nonce}\nIssued At: {issued_at}"
    if expiration_time:
        suffix += f"\nExpiration Time: {expiration_time}"
    if not_before:
        suffix += f"\nNot Before: {not_before}"
    if request_id:
        suffix += f"\nRequest ID: {request_id}"
    if resources is not None:
        suffix += "\nResources:" + "".join(f"\n- {resource}" for resource in resources)
    return f"{prefix}\n{suffix}"


def replace_line(text: str, old: str, new: str) -> str:
    """Swap exactly one line of a message, failing loudly if the fixture drifts."""
    lines = text.split("\n")
    lines[lines.index(old)] = new
    return "\n".join(lines)


def sign(text: str, key: bytes) -> str:
    """Produce a personal_sign signature as a 0x-prefixed hex string, as wallets return it."""
    return Account.sign_message(encode_defunct(text=text), key).signature.to_0x_hex()


# --- round trips ------------------------------------------------------------------------------


def test_eip_example_with_statement_and_resources_parses_to_every_field() -> None:
    assert parse_message(EIP_EXAMPLE) == SiweMessage(
        domain="example.com",
        scheme=None,
        address=ADDRESS,
        statement="I accept the ExampleOrg Terms of Service: https://example.com/tos",
        uri="https://example.com/login",
        version="1",
        chain_id=1,
        nonce="32891756",
        issued_at=ISSUED_AT_MS,
        expiration_time=None,
        not_before=None,
        request_id=None,
        resources=(
            "ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq/",
            "https://example.com/my-web2-claim.json",
        ),
    )


def test_viem_message_without_statement_has_two_empty_lines_and_parses() -> None:
    message = parse_message(VIEM_EXAMPLE_WITHOUT_STATEMENT)

    assert message.statement is None
    assert message.address == "0xA0Cf798816D4b9b9866b5330EEa46a18382f251e"
    assert message.nonce == "foobarbaz"
    assert message.issued_at == 1675209600000


def test_viem_message_with_statement_round_trips() -> None:
    message = parse_message(viem_message(statement="Sign in to chat."))

    assert message.statement == "Sign in to chat."
    assert message.domain == "localhost:3000"
    assert message.uri == "http://localhost:3000/login"
    assert message.chain_id == 1
    assert message.nonce == "abcdef1234567890"
    assert message.issued_at == ISSUED_AT_MS


def test_viem_message_with_every_optional_field_round_trips() -> None:
    text = viem_message(
        scheme="https",
        domain="chat.example.com:8443",
        statement="I accept the Terms of Service: https://chat.example.com/tos",
        chain_id="8453",
        expiration_time="2021-09-30T17:25:24.000Z",
        not_before="2021-09-30T16:20:24.000Z",
        request_id="req-42",
        resources=[IPFS_RESOURCE, "https://a.example/x?y=1"],
    )

    assert parse_message(text) == SiweMessage(
        domain="chat.example.com:8443",
        scheme="https",
        address=ADDRESS,
        statement="I accept the Terms of Service: https://chat.example.com/tos",
        uri="http://localhost:3000/login",
        version="1",
        chain_id=8453,
        nonce="abcdef1234567890",
        issued_at=ISSUED_AT_MS,
        expiration_time=ISSUED_AT_MS + 3_600_000,
        not_before=ISSUED_AT_MS - 300_000,
        request_id="req-42",
        resources=(IPFS_RESOURCE, "https://a.example/x?y=1"),
    )


def test_resources_header_with_no_entries_parses_as_empty_tuple() -> None:
    assert parse_message(viem_message(resources=[])).resources == ()


def test_three_empty_lines_parse_as_an_empty_statement() -> None:
    text = VIEM_EXAMPLE_WITHOUT_STATEMENT.replace("\n\n\n", "\n\n\n\n")

    assert parse_message(text).statement == ""


def test_empty_request_id_is_kept_distinct_from_absent() -> None:
    text = replace_line(viem_message(), f"Issued At: {ISSUED_AT}", f"Issued At: {ISSUED_AT}\nRequest ID: ")

    assert parse_message(text).request_id == ""


@pytest.mark.parametrize("domain", ["localhost", "127.0.0.1:5000", "[::1]:3000", "user@example.com"])
def test_domain_accepts_rfc3986_authorities(domain: str) -> None:
    assert parse_message(viem_message(domain=domain)).domain == domain


@pytest.mark.parametrize(
    ("value", "expected_ms"),
    [
        ("2021-09-30T16:25:24Z", ISSUED_AT_MS),
        ("2021-09-30T16:25:24.5Z", ISSUED_AT_MS + 500),
        ("2021-09-30T16:25:24.123456789Z", ISSUED_AT_MS + 123),
        ("2021-09-30T18:25:24+02:00", ISSUED_AT_MS),
        ("2021-09-30T14:55:24.25-01:30", ISSUED_AT_MS + 250),
        ("2021-09-30t16:25:24z", ISSUED_AT_MS),
    ],
)
def test_dates_accept_fractional_seconds_and_offsets(value: str, expected_ms: int) -> None:
    assert parse_message(viem_message(issued_at=value)).issued_at == expected_ms


def test_message_of_exactly_the_size_limit_is_accepted() -> None:
    base = viem_message(statement="x")
    text = viem_message(statement="x" * (MAX_MESSAGE_BYTES - len(base.encode()) + 1))

    assert len(text.encode()) == MAX_MESSAGE_BYTES
    assert parse_message(text).statement is not None


def test_parsed_message_is_immutable() -> None:
    message = parse_message(EIP_EXAMPLE)

    with pytest.raises(dataclasses.FrozenInstanceError):
        message.nonce = "replayed1"  # type: ignore[misc]


# --- address checksum -------------------------------------------------------------------------


def test_lowercase_address_is_normalised_to_checksum() -> None:
    assert parse_message(viem_message(address=ADDRESS.lower())).address == ADDRESS


def test_mixed_case_address_with_wrong_checksum_is_rejected() -> None:
    wrong = ADDRESS.replace("C02aaA", "C02aaa")

    with pytest.raises(SiweError, match="'address' has an invalid EIP-55 checksum"):
        parse_message(viem_message(address=wrong))


@pytest.mark.parametrize(
    "address", [ADDRESS[2:], "0X" + ADDRESS[2:], ADDRESS[:-1], ADDRESS + "0", "0x" + "g" * 40, f" {ADDRESS}"]
)
def test_malformed_address_is_rejected(address: str) -> None:
    with pytest.raises(SiweError, match="'address' must be 0x followed by 40 hex characters"):
        parse_message(viem_message(address=address))


# --- structural rejections --------------------------------------------------------------------


def test_single_empty_line_without_statement_is_rejected() -> None:
    text = VIEM_EXAMPLE_WITHOUT_STATEMENT.replace("\n\n\n", "\n\n")

    with pytest.raises(SiweError, match="two empty lines must separate 'address' and 'URI'"):
        parse_message(text)


def test_missing_empty_line_after_address_is_rejected() -> None:
    text = VIEM_EXAMPLE_WITHOUT_STATEMENT.replace("\n\n\n", "\n")

    with pytest.raises(SiweError, match="'address' must be followed by an empty line"):
        parse_message(text)


def test_statement_spanning_two_lines_is_rejected() -> None:
    with pytest.raises(SiweError, match="'statement' must be a single line"):
        parse_message(viem_message(statement="first line\nsecond line"))


@pytest.mark.parametrize("statement", ["100% sure", 'say "hi"', "caf\u00e9", "tab\there", "<b>bold</b>"])
def test_statement_with_characters_outside_the_abnf_is_rejected(statement: str) -> None:
    with pytest.raises(SiweError, match="'statement' may contain only"):
        parse_message(viem_message(statement=statement))


def test_unknown_line_is_rejected() -> None:
    text = replace_line(EIP_EXAMPLE, "Chain ID: 1", "Chain ID: 1\nColour: blue")

    with pytest.raises(SiweError, match="unexpected line 'Colour: blue'"):
        parse_message(text)


def test_field_label_is_case_sensitive() -> None:
    with pytest.raises(SiweError, match="unexpected line 'nonce: 32891756'"):
        parse_message(replace_line(EIP_EXAMPLE, "Nonce: 32891756", "nonce: 32891756"))


def test_trailing_newline_is_rejected() -> None:
    with pytest.raises(SiweError, match="unexpected line ''"):
        parse_message(VIEM_EXAMPLE_WITHOUT_STATEMENT + "\n")


@pytest.mark.parametrize(
    "line", ["Nonce: 32891756", "URI: https://example.com/login", "Issued At: 2021-09-30T16:25:24Z"]
)
def test_duplicated_field_is_rejected(line: str) -> None:
    with pytest.raises(SiweError, match="appears more than once"):
        parse_message(replace_line(EIP_EXAMPLE, line, f"{line}\n{line}"))


def test_fields_out_of_order_are_rejected() -> None:
    text = EIP_EXAMPLE.replace("Version: 1\nChain ID: 1", "Chain ID: 1\nVersion: 1")

    with pytest.raises(SiweError, match="'Version' must come before 'Chain ID'"):
        parse_message(text)


def test_optional_fields_out_of_order_are_rejected() -> None:
    text = replace_line(
        viem_message(),
        f"Issued At: {ISSUED_AT}",
        f"Issued At: {ISSUED_AT}\nNot Before: {ISSUED_AT}\nExpiration Time: {ISSUED_AT}",
    )

    with pytest.raises(SiweError, match="'Expiration Time' must come before 'Not Before'"):
        parse_message(text)


@pytest.mark.parametrize("label", ["URI", "Version", "Chain ID", "Nonce", "Issued At"])
def test_missing_required_field_is_rejected(label: str) -> None:
    lines = [line for line in EIP_EXAMPLE.split("\n") if not line.startswith(f"{label}: ")]

    with pytest.raises(SiweError, match=f"'{label}' is required"):
        parse_message("\n".join(lines))


def test_field_after_resources_is_rejected() -> None:
    text = EIP_EXAMPLE + "\nRequest ID: late"

    with pytest.raises(SiweError, match="'Resources' entries must start with '- '"):
        parse_message(text)


def test_crlf_line_endings_are_rejected() -> None:
    with pytest.raises(SiweError, match="lines must end with"):
        parse_message(EIP_EXAMPLE.replace("\n", "\r\n"))


def test_message_over_16_kib_is_rejected() -> None:
    text = viem_message(statement="x" * MAX_MESSAGE_BYTES)

    with pytest.raises(SiweError, match="exceeds 16384 bytes"):
        parse_message(text)


def test_non_string_message_is_rejected() -> None:
    with pytest.raises(SiweError, match="must be a string"):
        parse_message(EIP_EXAMPLE.encode())  # type: ignore[arg-type]


def test_message_without_the_sign_in_header_is_rejected() -> None:
    text = EIP_EXAMPLE.replace("wants you to sign in", "asks you to sign in")

    with pytest.raises(SiweError, match="first line must end with"):
        parse_message(text)


# --- field value rejections -------------------------------------------------------------------


@pytest.mark.parametrize(
    "domain", ["example.com/login", "exa mple.com", "exa\tmple.com", "", "example.com:80/"]
)
def test_domain_with_whitespace_slash_or_nothing_is_rejected(domain: str) -> None:
    with pytest.raises(SiweError, match="'domain' must be an RFC 3986 authority"):
        parse_message(viem_message(domain=domain))


def test_domain_with_path_after_scheme_is_rejected() -> None:
    with pytest.raises(SiweError, match="'domain'"):
        parse_message(viem_message(scheme="https", domain="example.com/login"))


@pytest.mark.parametrize("scheme", ["1https", "ht tp", "https:"])
def test_invalid_scheme_is_rejected(scheme: str) -> None:
    with pytest.raises(SiweError, match="'scheme' must be an RFC 3986 scheme"):
        parse_message(viem_message(scheme=scheme))


def test_empty_scheme_is_rejected() -> None:
    text = EIP_EXAMPLE.replace("example.com wants", "://example.com wants", 1)

    with pytest.raises(SiweError, match="'scheme'"):
        parse_message(text)


@pytest.mark.parametrize(
    "uri",
    [
        "example.com/login",
        "/login",
        "",
        "https://exa mple.com",
        "1http://example.com",
        "https:",
        "https://%zz",
    ],
)
def test_uri_without_scheme_or_with_invalid_characters_is_rejected(uri: str) -> None:
    with pytest.raises(SiweError, match="'URI' must be an RFC 3986 URI"):
        parse_message(viem_message(uri=uri))


@pytest.mark.parametrize("version", ["2", "01", "1.0", ""])
def test_version_other_than_1_is_rejected(version: str) -> None:
    with pytest.raises(SiweError, match="'Version' must be 1"):
        parse_message(replace_line(EIP_EXAMPLE, "Version: 1", f"Version: {version}"))


@pytest.mark.parametrize("chain_id", ["-1", "1.5", "0x1", "one", "", " 1", "\u0661", "9" * 79])
def test_non_integer_or_negative_chain_id_is_rejected(chain_id: str) -> None:
    with pytest.raises(SiweError, match="'Chain ID' must be a non-negative integer"):
        parse_message(viem_message(chain_id=chain_id))


@pytest.mark.parametrize("nonce", ["abc1234", "abcd-1234", "abcd 1234", "abcd_1234", "", "\u00e9bcdefgh1"])
def test_short_or_non_alphanumeric_nonce_is_rejected(nonce: str) -> None:
    with pytest.raises(SiweError, match="'Nonce' must be alphanumeric, at least 8 characters"):
        parse_message(viem_message(nonce=nonce))


@pytest.mark.parametrize(
    "value",
    [
        "2021-09-30",
        "2021-09-30T16:25:24",
        "2021-09-30 16:25:24Z",
        "2021-09-30T16:25Z",
        "2021-09-30T16:25:24+0200",
        "2021-09-30T16:25:24+02",
        "20210930T162524Z",
        "2021-09-30T16:25:24.Z",
        "2021-02-29T00:00:00Z",
        "2021-09-30T24:00:00Z",
        "2021-09-30T16:25:60Z",
        "2021-09-30T16:25:24+24:00",
        "1633019124",
    ],
)
def test_issued_at_that_is_not_rfc3339_is_rejected(value: str) -> None:
    with pytest.raises(SiweError, match="'Issued At' must be an RFC 3339 date-time"):
        parse_message(viem_message(issued_at=value))


def test_expiration_time_that_is_not_rfc3339_is_rejected() -> None:
    with pytest.raises(SiweError, match="'Expiration Time' must be an RFC 3339 date-time"):
        parse_message(viem_message(expiration_time="tomorrow"))


def test_not_before_that_is_not_rfc3339_is_rejected() -> None:
    with pytest.raises(SiweError, match="'Not Before' must be an RFC 3339 date-time"):
        parse_message(viem_message(not_before="2021-09-30T16:25:24"))


@pytest.mark.parametrize("request_id", ["has space", "a/b", "50%"])
def test_request_id_outside_pchar_is_rejected(request_id: str) -> None:
    with pytest.raises(SiweError, match="'Request ID' must contain only RFC 3986 path characters"):
        parse_message(viem_message(request_id=request_id))


@pytest.mark.parametrize("resource", ["example.com/claim.json", "https://exa mple.com", ""])
def test_resource_without_scheme_is_rejected(resource: str) -> None:
    with pytest.raises(SiweError, match="'Resources' entries must be RFC 3986 URIs"):
        parse_message(viem_message(resources=["https://example.com/ok", resource]))


@pytest.mark.parametrize(
    "line", ["-https://example.com/x", "* https://example.com/x", " - https://example.com/x"]
)
def test_resource_line_without_dash_space_prefix_is_rejected(line: str) -> None:
    text = EIP_EXAMPLE + f"\n{line}"

    with pytest.raises(SiweError, match="'Resources' entries must start with '- '"):
        parse_message(text)


def test_siwe_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        parse_message("")


# --- recover_signer ---------------------------------------------------------------------------


def test_recover_signer_returns_the_signing_address() -> None:
    account = Account.create()
    text = viem_message(address=account.address, statement="Sign in to chat.")

    assert recover_signer(text, sign(text, account.key)) == account.address


def test_recovered_signer_matches_parsed_address_for_a_lowercase_message_address() -> None:
    account = Account.create()
    text = viem_message(address=account.address.lower())

    assert recover_signer(text, sign(text, account.key)) == parse_message(text).address


def test_signature_by_a_different_key_recovers_a_different_address() -> None:
    claimed, other = Account.create(), Account.create()
    text = viem_message(address=claimed.address)

    recovered = recover_signer(text, sign(text, other.key))

    assert recovered == other.address
    assert recovered != parse_message(text).address


def test_signature_over_a_tampered_message_recovers_a_different_address() -> None:
    account = Account.create()
    text = viem_message(address=account.address, nonce="originalnonce1")
    signature = sign(text, account.key)

    assert recover_signer(text.replace("originalnonce1", "replayednonce1"), signature) != account.address


def test_recover_signer_accepts_uppercase_hex_signature() -> None:
    account = Account.create()
    text = viem_message(address=account.address)
    signature = sign(text, account.key)

    assert recover_signer(text, "0x" + signature[2:].upper()) == account.address


def test_recover_signer_accepts_v_as_recovery_id_0_or_1() -> None:
    account = Account.create()
    text = viem_message(address=account.address)
    signature = sign(text, account.key)
    recovery_id = int(signature[-2:], 16) - 27

    assert recover_signer(text, f"{signature[:-2]}{recovery_id:02x}") == account.address


@pytest.mark.parametrize(
    "signature",
    [
        "",
        "0x",
        "00" * 65,
        "0X" + "00" * 65,
        "0x" + "00" * 64,
        "0x" + "00" * 66,
        "0x" + "zz" * 65,
        " 0x" + "00" * 65,
    ],
)
def test_malformed_signature_shape_raises_siwe_error(signature: str) -> None:
    with pytest.raises(SiweError, match="signature must be 0x followed by 130 hex characters"):
        recover_signer(EIP_EXAMPLE, signature)


def test_non_string_signature_raises_siwe_error() -> None:
    with pytest.raises(SiweError, match="signature must be 0x"):
        recover_signer(EIP_EXAMPLE, b"\x00" * 65)  # type: ignore[arg-type]


@pytest.mark.parametrize("v", ["02", "1a", "1d", "25", "26", "ff"])
def test_signature_with_invalid_v_raises_siwe_error(v: str) -> None:
    signature = sign(EIP_EXAMPLE, Account.create().key)

    with pytest.raises(SiweError, match="signature 'v' must be 0, 1, 27 or 28"):
        recover_signer(EIP_EXAMPLE, signature[:-2] + v)


@pytest.mark.parametrize("r_and_s", ["00" * 64, "ff" * 64])
def test_signature_with_out_of_range_r_and_s_raises_siwe_error(r_and_s: str) -> None:
    with pytest.raises(SiweError, match="signature could not be recovered"):
        recover_signer(EIP_EXAMPLE, f"0x{r_and_s}1b")
