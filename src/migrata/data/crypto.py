"""Encrypted columns: Fernet keys from the ``[crypto]`` settings, the
``ctx.crypto`` of Python migrations, and key rotation of a column.

Keys are named, never written, in the settings: ``env:NAME`` (the
environment, then the project's ``.env``) or ``file:PATH``. Each holds a
raw Fernet key, or with ``derive = "sha256"`` a passphrase from which the
key is derived as the prefab-gateway guide derives it:
``urlsafe_b64encode(sha256(passphrase))``. The first key encrypts; every key
decrypts (``MultiFernet``).

Rotation re-encrypts every row of a column under the first (newest) key, in
the keyed, checkpointed batches of :func:`~migrata.data.backfill.run_backfill`,
so a killed rotation resumes after its last committed batch. A Fernet token
does not say which key made it, but its HMAC does: a token that the newest
key alone authenticates was made with the newest key (counted *skipped*,
left as it is); one that only an older key decrypts is re-encrypted under
the newest (*done*, its original timestamp kept); one that no key decrypts is
counted *failed*, its row's key reported and its value left untouched, so
nothing is lost. NULLs are skipped. Neither a key nor a value ever reaches
a message, a log line or a report: only key references (``env:NAME``) and
row keys do.

``cryptography`` (the ``migrata[crypto]`` extra) is imported only here, and
only when a key is used.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from migrata.data.backfill import Backfill, RowError, run_backfill
from migrata.errors import ConfigError

if TYPE_CHECKING:
    from migrata._core.ledger import Ledger
    from migrata._core.model import BackfillReport
    from migrata.backends.base import Backend

__all__ = ["Crypto", "InvalidTokenError", "crypto_from_settings", "read_secret", "rotate_column"]

log = logging.getLogger("migrata.crypto")

INSTALL_HINT = "pip install 'migrata[crypto]' (the cryptography package)"


class InvalidTokenError(RowError):
    """No configured key decrypts a value. A :class:`RowError`: in a
    backfill's row function the row counts as failed (its key is reported)."""


def cryptography() -> Any:
    """The ``cryptography.fernet`` module, or a ConfigError naming the extra."""
    try:
        from cryptography import fernet
    except ImportError:
        raise ConfigError("encrypted columns need the cryptography package", hint=INSTALL_HINT) from None
    return fernet


def read_secret(ref: str, project_dir: Path, environ: Mapping[str, str] | None = None) -> bytes:
    """The bytes ``ref`` names (``env:NAME`` or ``file:PATH``), surrounding
    whitespace removed. The error names the reference, never a value."""
    kind, _, where = ref.partition(":")
    if kind == "env":
        environ = os.environ if environ is None else environ
        value = environ.get(where)
        if not value and (project_dir / ".env").is_file():
            from migrata.envfile import EnvFile

            value = EnvFile(project_dir / ".env", environ).get(where)
        if not value:
            raise ConfigError(f"crypto key {ref}: the environment variable {where} is not set (nor in .env)")
        return value.strip().encode("utf-8")
    if kind == "file":
        path = Path(where).expanduser()
        path = path if path.is_absolute() else project_dir / path
        try:
            data = path.read_bytes().strip()
        except OSError as exc:
            raise ConfigError(f"crypto key {ref}: cannot read {path}: {exc.strerror}") from None
        if not data:
            raise ConfigError(f"crypto key {ref}: {path} is empty")
        return data
    raise ConfigError(f"crypto key {ref!r}: write env:NAME or file:PATH")


def fernet_key(secret: bytes, derive: str, ref: str) -> bytes:
    """A Fernet key: ``secret`` itself (checked), or derived from it."""
    if derive == "sha256":
        return base64.urlsafe_b64encode(hashlib.sha256(secret).digest())
    try:
        if len(base64.urlsafe_b64decode(secret)) == 32:
            return secret
    except (binascii.Error, ValueError):
        pass
    raise ConfigError(
        f"crypto key {ref} is not a Fernet key (32 bytes, URL-safe base64)",
        hint='set derive = "sha256" in [crypto] to derive one from a passphrase, as the prefab-gateway guide does',
    )


def _bytes(value: Any) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    raise TypeError(f"expected str or bytes, not {type(value).__name__}")


class Crypto:
    """Fernet with the project's keys: what ``ctx.crypto`` is.

    ``encrypt`` uses the first key; ``decrypt`` tries each; ``rotate``
    re-encrypts under the first. ``labels`` are the key references (for
    messages), never the keys.
    """

    def __init__(self, keys: list[bytes], labels: list[str]) -> None:
        if not keys:
            raise ConfigError(
                "no encryption keys: set keys in the [crypto] table of the config",
                hint='e.g. [crypto] keys = ["env:ENCRYPTION_KEY", "env:OLD_ENCRYPTION_KEY"]',
            )
        fernet = cryptography()
        self._invalid = fernet.InvalidToken
        self._fernets = [fernet.Fernet(k) for k in keys]
        self._multi = fernet.MultiFernet(self._fernets)
        self.labels = list(labels)

    def __repr__(self) -> str:
        return f"<Crypto keys={self.labels}>"

    def encrypt(self, value: str | bytes) -> str:
        """A Fernet token (text) of ``value`` under the newest key."""
        return str(self._fernets[0].encrypt(_bytes(value)).decode("ascii"))

    def decrypt_bytes(self, token: str | bytes) -> bytes:
        try:
            return bytes(self._multi.decrypt(_bytes(token)))
        except self._invalid:
            raise InvalidTokenError("no configured key decrypts this value (InvalidToken)") from None

    def decrypt(self, token: str | bytes) -> str:
        """The text ``token`` encrypts (any key); InvalidTokenError otherwise."""
        return self.decrypt_bytes(token).decode("utf-8")

    def key_index(self, token: str | bytes) -> int | None:
        """Which key (0: the newest) decrypts ``token``; None: none does."""
        raw = _bytes(token)
        for i, f in enumerate(self._fernets):
            try:
                f.decrypt(raw)
            except self._invalid:
                continue
            return i
        return None

    def rotate(self, token: str | bytes) -> str | bytes | None:
        """``token`` under the newest key, the same type as given; None when
        it already is (nothing to write). InvalidTokenError: no key decrypts it."""
        raw = _bytes(token)
        try:
            self._fernets[0].decrypt(raw)
            return None
        except self._invalid:
            pass
        try:
            new = self._multi.rotate(raw)
        except self._invalid:
            raise InvalidTokenError("no configured key decrypts this value (InvalidToken)") from None
        return new.decode("ascii") if isinstance(token, str) else bytes(new)

    def encrypt_row(self, column: str) -> Callable[[dict[str, Any]], dict[str, Any] | None]:
        """A backfill row function that encrypts ``column`` unless it already
        holds a token of these keys (so running it again changes nothing)."""

        def fn(row: dict[str, Any]) -> dict[str, Any] | None:
            value = row[column]
            if value is None or self._is_token(value):
                return None
            token = self.encrypt(value)
            return {column: token if isinstance(value, str) else token.encode("ascii")}

        return fn

    def rotate_row(self, column: str) -> Callable[[dict[str, Any]], dict[str, Any] | None]:
        """A backfill row function that re-encrypts ``column`` under the newest key."""

        def fn(row: dict[str, Any]) -> dict[str, Any] | None:
            value = row[column]
            if value is None:
                return None
            if isinstance(value, memoryview):
                value = bytes(value)
            new = self.rotate(value)
            return None if new is None else {column: new}

        return fn

    def _is_token(self, value: Any) -> bool:
        try:
            self._multi.decrypt(_bytes(value))
        except self._invalid:
            return False
        return True


def crypto_from_settings(
    crypto: Mapping[str, Any], project_dir: Path, environ: Mapping[str, str] | None = None
) -> Crypto:
    """The :class:`Crypto` of a project's ``[crypto]`` settings (keys read now)."""
    refs = list(crypto.get("keys") or [])
    derive = str(crypto.get("derive") or "none")
    keys, labels = [], []
    for n, ref in enumerate(refs):
        try:
            secret = read_secret(ref, project_dir, environ)
        except ConfigError:
            if n == 0 or not ref.startswith("env:"):
                raise
            # an older key not set (yet, or any more): it decrypts nothing; rows only it
            # decrypts are reported failed by a rotation, never lost
            log.warning("crypto key %s is not set: only the other keys decrypt", ref)
            continue
        keys.append(fernet_key(secret, derive, ref))
        labels.append(ref)
    return Crypto(keys, labels)


def rotation_owner(table: str, column: str, action: str = "rotate") -> str:
    """The checkpoint owner of a column's rotation (or encryption) in
    migrata's backfills table."""
    return f"~crypto {action} {table}.{column}"


def rotate_column(
    backend: Backend,
    ledger: Ledger,
    fn: Callable[[dict[str, Any]], dict[str, Any] | None],
    *,
    table: str,
    column: str,
    key: list[str],
    batch_size: int = 1000,
    progress: Callable[[BackfillReport], None] | None = None,
    owner: str | None = None,
) -> BackfillReport:
    """Apply the row function ``fn`` (a rotation) to ``column`` of every row
    of ``table``, checkpointed: an interrupted rotation resumes after its last
    committed batch, a finished one starts again from the first row."""
    owner = owner or rotation_owner(table, column)
    ledger.ensure_backfills()
    saved = ledger.checkpoint(owner, "rotate")
    if saved is not None and saved[4] == "done":
        ledger.run(ledger.forget_checkpoints(owner))
    spec = Backfill(table, key, fn=fn, batch_size=batch_size, name="rotate")
    return run_backfill(backend, spec, ledger=ledger, owner=owner, progress=progress)
