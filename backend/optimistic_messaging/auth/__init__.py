"""Sign-in and identity: SIWE or a sign-in transaction proves an address, then a signed expiring token carries it."""

from __future__ import annotations

import re
from collections.abc import Callable

from eth_utils import to_checksum_address

from ..clock import Clock
from ..config import Config
from ..errors import ApiError
from ..nonces import UsedNonces
from ..verifiers.rpc import JsonRpc
from .nonces import NONCE, Nonces
from .revocations import Revocations
from .siwe import SiweError, parse_message, recover_signer
from .tokens import Identity, Session, Tokens
from .tx import TxLookup, parse_text

__all__ = ["Auth", "Identity", "Nonces", "Revocations", "Session", "Tokens"]

_NONCE_LINE = re.compile(r"^[ \t]*Nonce:[ \t]*(\S+?)[ \t]*$", re.MULTILINE)  # whatever the line ends
_TX_HASH = re.compile(r"0x[0-9a-fA-F]{64}")

TokenVerifier = Callable[[str], "Identity | None"]
"""A provider of identity: a bearer credential in, the checksummed address and its expiry out (None: not mine)."""


def named_nonces(text: str) -> list[str]:
    """Every nonce a text names on a `Nonce:` line, whichever line endings it uses (\\n, \\r\\n or \\r)."""
    return _NONCE_LINE.findall(text.replace("\r\n", "\n").replace("\r", "\n"))


class Auth:
    """Sign-in (SIWE, or a transaction), renewal, sign-out, and identity from any of the configured token providers."""

    def __init__(self, config: Config, used_nonces: UsedNonces, clock: Clock, revocations: Revocations) -> None:
        self.clock = clock
        self.revocations = revocations
        self.domains = frozenset(config.siwe_domains)
        self.chain_id = config.chain_id
        self.nonces = Nonces(config.secret_key, used_nonces, clock)
        self.tx_proof_required = config.signin_tx_proof == "required"
        self.tokens = Tokens(config.secret_key, config.token_ttl_s, config.session_max_age_s, clock)
        self.verifiers: list[TokenVerifier] = [self.tokens.verify]
        self.tx = (
            TxLookup(
                JsonRpc(config.chain_rpc_url),
                clock,
                wait_s=config.signin_tx_wait_s,
                per_client=config.signin_tx_per_client,
            )
            if config.chain_rpc_url
            else None
        )

    def close(self) -> None:
        """Stop the greenlet sign-ins by transaction run (their poller)."""
        if self.tx is not None:
            self.tx.close()

    def sign_in(self, message: object, signature: object) -> Session:
        """EIP-4361: the attempt's nonce is used up, good or bad, before anything else is checked (for a text that
        does not parse, every nonce a `Nonce:` line of it names, whatever its line endings)."""
        if not isinstance(message, str) or not isinstance(signature, str):
            raise ApiError("invalid", "'message' and 'signature' must be strings")
        try:
            siwe = parse_message(message)
        except SiweError as exc:
            self.nonces.consume_all(named_nonces(message))
            raise ApiError("unauthorized", str(exc)) from None
        if not self.nonces.consume(siwe.nonce):
            raise ApiError(
                "unauthorized", "SIWE 'Nonce' was not issued by this server, has expired or was already used"
            )
        if siwe.domain not in self.domains:
            raise ApiError("unauthorized", f"SIWE domain {siwe.domain!r} is not an allowed domain")
        now = self.clock.now_ms()
        if siwe.expiration_time is not None and siwe.expiration_time <= now:
            raise ApiError("unauthorized", "SIWE message has expired ('Expiration Time')")
        if siwe.not_before is not None and siwe.not_before > now:
            raise ApiError("unauthorized", "SIWE message is not valid yet ('Not Before')")
        try:
            signer = recover_signer(message, signature)
        except SiweError as exc:
            raise ApiError("unauthorized", str(exc)) from None
        if signer != siwe.address:
            raise ApiError("unauthorized", "signature was not made by the message's address")
        return self.tokens.issue(signer)

    def sign_in_by_tx(self, tx_hash: object, proof: object = None, client: str = "") -> Session:
        """A zero-value transaction to oneself on CHAIN_ID, its data `optimistic-messaging sign-in <domain> <nonce>`.

        The transaction is public once sent, so a bound nonce (asked for with `?bound=true`) is redeemed only with
        the `proof` given with it; SIGNIN_TX_PROOF=required accepts bound nonces only. A refusal for want of the
        proof uses nothing up, and a bound attempt spends its own nonce alone: nobody but its asker can spend it.
        `client` is the asker's network address: while the node does not know the transaction, it holds one of that
        client's share of the waiting look-ups."""
        if self.tx is None:
            raise ApiError("unavailable", "sign-in by transaction needs CHAIN_RPC_URL, which this server is not given")
        if not isinstance(tx_hash, str) or not _TX_HASH.fullmatch(tx_hash):
            raise ApiError("invalid", "'tx_hash' must be 0x followed by 64 hex characters")
        if proof is not None and not isinstance(proof, str):
            raise ApiError("invalid", "'proof' must be the string given with the nonce")
        tx = self.tx.fetch(tx_hash.lower(), client)
        claim = parse_text(tx.text) if tx.text is not None else None
        bound = claim is not None and self.nonces.is_bound(claim[1])
        if bound or proof is not None or self.tx_proof_required:
            if claim is None or not bound:
                raise ApiError("unauthorized", "this server signs in by transaction with a bound nonce and its proof")
            if proof is None or not self.nonces.proves(claim[1], proof):
                raise ApiError("unauthorized", "'proof' is not the one given with this transaction's nonce")
            fresh = self.nonces.consume_all([claim[1]])
        else:
            fresh = self.nonces.consume_all(NONCE.findall(tx.text or ""))  # any attempt spends what it names
        if claim is None:
            raise ApiError(
                "unauthorized", "the transaction's data is not 'optimistic-messaging sign-in <domain> <nonce>'"
            )
        domain, nonce = claim
        if nonce not in fresh:
            raise ApiError("unauthorized", "the nonce was not issued by this server, has expired or was already used")
        sender = to_checksum_address(tx.sender)
        if tx.to is None or to_checksum_address(tx.to) != sender:
            raise ApiError("unauthorized", "a sign-in transaction must be sent to its own sender's address")
        if tx.value != 0:
            raise ApiError("unauthorized", "a sign-in transaction must have value 0")
        if tx.chain_id != self.chain_id:
            raise ApiError(
                "unauthorized", f"the transaction is for chain {tx.chain_id}, not this server's {self.chain_id}"
            )
        if domain not in self.domains:
            raise ApiError("unauthorized", f"sign-in domain {domain!r} is not an allowed domain")
        return self.tokens.issue(sender)

    def renew(self, token: object) -> Session:
        """A fresh token for a live session, without signing again; a session ends SESSION_MAX_AGE_S after sign-in."""
        identity = self.identify(token)
        return self.tokens.issue(identity.address, renewing=identity)

    def sign_out(self, token: object) -> None:
        """End the token's session (the sign-in and every renewal of it) on every node, until its maximum age."""
        identity = self.identify(token)
        self.revocations.revoke(identity.session, self.tokens.ends_by(identity))

    def identify(self, token: object) -> Identity:
        """The signed-in identity, or `unauthorized` (a signed-out session's tokens too, from memory only)."""
        if isinstance(token, str) and token:
            for verify in self.verifiers:
                identity = verify(token)
                if identity is not None:
                    if identity.session in self.revocations:
                        raise ApiError("unauthorized", "this session was signed out: sign in again")
                    return identity
        raise ApiError("unauthorized", "missing, bad or expired token")
