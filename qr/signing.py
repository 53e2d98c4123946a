"""Signed Digital Link URIs: the producer's account vouches for the code printed on a package.

What is signed
    The canonical URI (:func:`qr.digital_link.canonical`: ``https://id.gs1.org``, GTIN-14, percent-encoded path, AI
    query parameters only), with EIP-191 ``personal_sign``. A signature therefore does not depend on the resolver
    domain the label was printed with, and any wallet (or ethers' ``verifyMessage``) can produce or check it.

Where the signature travels: the URI fragment, ``#sig=0x<65 bytes hex>``
    - Browsers never send the fragment to the server, so access logs, proxies and CDNs never see it; the house rule
      "never log a URL that carries a signature" holds by construction. A query parameter would be logged by every
      hop in between.
    - A GS1 resolver, or a retail checkout scanner that reads GTIN, lot and serial out of the path, sees a plain
      Digital Link URI: the fragment changes neither routing nor the canonical form.
    - The verify page's JavaScript reads ``location.hash`` (and may post it in a request body to be checked), and
      ``trace verify`` reads it from the scanned text. Both end in :func:`recover_signer` or :func:`recover_address`.

A signature proves who issued the code, not that the package is genuine: a valid code copied onto a fake still
verifies. The chain's record of the unit (and how often it was scanned) answers that.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils.address import is_address, to_checksum_address

from qr.digital_link import canonical, parse
from qr.errors import SignatureError

__all__ = ["SIG_PARAM", "recover_address", "recover_signer", "sign_uri", "split_signature", "verify_uri"]

SIG_PARAM = "sig"
_SIG_RE = re.compile(r"0x[0-9a-fA-F]{130}")


def sign_uri(uri: str, private_key: str | bytes) -> str:
    """Return ``uri`` with the producer's signature of its canonical form in the fragment (``#sig=0x...``).

    Any fragment already on ``uri`` is replaced.

    Raises:
        DigitalLinkError: if ``uri`` is not a valid Digital Link URI.
        SignatureError: if ``private_key`` is not a valid secp256k1 private key.
    """
    plain, _ = split_signature(uri.strip())
    message = encode_defunct(text=canonical(parse(plain)))
    try:
        signed = Account.sign_message(message, private_key=private_key)
    except Exception:  # eth-keys raises ValueError, binascii.Error or a bare Exception for a bad key
        # Never echo the key or the library's message about it, not even as the chained cause: logs keep both.
        raise SignatureError("invalid private key") from None
    return f"{plain}#{SIG_PARAM}=0x{bytes(signed.signature).hex()}"


def split_signature(uri: str) -> tuple[str, str | None]:
    """Split ``uri`` into the URI without its fragment and the ``sig`` value of the fragment (None if absent)."""
    plain, _, fragment = uri.partition("#")
    params = dict(parse_qsl(fragment, keep_blank_values=True))
    return plain, params.get(SIG_PARAM)


def recover_address(uri: str, signature: str) -> str:
    """Return the checksummed address that signed the canonical form of ``uri``.

    Use this where the signature arrives apart from the URI, e.g. posted by the verify page's script.

    Raises:
        DigitalLinkError: if ``uri`` is not a valid Digital Link URI.
        SignatureError: if ``signature`` is not 65 bytes of hex with a ``0x`` prefix, or cannot be recovered.
    """
    if not isinstance(signature, str) or not _SIG_RE.fullmatch(signature):
        raise SignatureError("malformed signature: expected 0x followed by 130 hex digits")
    message = encode_defunct(text=canonical(parse(uri)))
    try:
        address = Account.recover_message(message, signature=bytes.fromhex(signature[2:]))
    except Exception as exc:  # eth-keys raises BadSignature, ValueError or others depending on the backend
        raise SignatureError("invalid signature: no signer can be recovered from it") from exc
    return str(to_checksum_address(address))


def recover_signer(signed_uri: str) -> tuple[str, str]:
    """Return ``(plain_uri, signer_address)`` for a URI carrying ``#sig=0x...``.

    The address is whoever signed *this* URI's canonical form: a tampered URI recovers a different address, so
    compare it with the producer's address (or call :func:`verify_uri`).

    Raises:
        DigitalLinkError: if the URI is not a valid Digital Link URI.
        SignatureError: if the signature is missing, malformed or unrecoverable.
    """
    plain, signature = split_signature(signed_uri)
    if signature is None:
        raise SignatureError(f"no signature: expected a '#{SIG_PARAM}=0x...' fragment")
    return plain, recover_address(plain, signature)


def verify_uri(signed_uri: str, expected_signer: str) -> str:
    """Return the plain URI if ``signed_uri`` was signed by ``expected_signer``.

    Raises:
        SignatureError: if the signature is missing, malformed, or from another address.
    """
    if not is_address(expected_signer):
        raise SignatureError(f"expected signer {expected_signer!r} is not an address")
    plain, signer = recover_signer(signed_uri)
    if signer != to_checksum_address(expected_signer):
        raise SignatureError(f"signed by {signer}, expected {to_checksum_address(expected_signer)}")
    return plain
