"""Envelope encryption as the kratos guide defines it: data keys in a table.

Each row of the data-keys table (``kms_data_keys``, the ``data_keys_table``
setting) is one version of a data key: 32 random bytes, stored only wrapped
by the key-encryption key (KEK), with ``version``, ``algorithm``
(``AES-256-GCM``), ``key_hash`` (SHA-256 of the plain key, checked after
unwrapping, so a wrong KEK is named, not used), ``status`` and
``expires_at``. Exactly one version is ``active``: it encrypts. Rotation
(:meth:`DataKeys.rotate`) makes a new active version and leaves the old
ones ``inactive``: they still decrypt, until every column is re-encrypted
under the new one and :meth:`DataKeys.retire` marks them ``revoked``.

The KEK is a Fernet key read as the ``[crypto]`` keys are (``kek =
"env:NAME"`` or ``"file:PATH"``, raw or derived), or comes from a provider
hook ``kek_provider = "module:function"``: the function returns an object
with ``encrypt(bytes) -> bytes`` and ``decrypt(bytes) -> bytes`` (a real
KMS client, for instance). A value encrypted with a data key is
``b"\\x01" + version (4 bytes) + nonce (12 bytes) + AES-256-GCM ciphertext``,
the first five bytes authenticated with it.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from migrata.data.crypto import InvalidTokenError, cryptography, fernet_key, read_secret
from migrata.errors import ConfigError, UsageError

if TYPE_CHECKING:
    from migrata.backends.base import Backend

__all__ = ["DataKeys", "kek_from_settings"]

FORMAT = b"\x01"
HEADER = 5
ALGORITHM = "AES-256-GCM"


def kek_from_settings(
    crypto: Mapping[str, Any],
    project_dir: Path,
    call_user: Callable[[str], Any],
    environ: Mapping[str, str] | None = None,
) -> Any:
    """The key-encryption key: an object with ``encrypt``/``decrypt`` of bytes."""
    if crypto.get("kek_provider"):
        if crypto.get("kek"):
            raise ConfigError("[crypto] sets both kek and kek_provider: keep one")
        kek = call_user(str(crypto["kek_provider"]))
        if not (callable(getattr(kek, "encrypt", None)) and callable(getattr(kek, "decrypt", None))):
            raise ConfigError(
                f"[crypto] kek_provider {crypto['kek_provider']} returned no object with encrypt() and decrypt()"
            )
        return kek
    ref = crypto.get("kek")
    if not ref:
        raise ConfigError(
            "envelope encryption needs a key-encryption key: set kek or kek_provider in [crypto]",
            hint='e.g. [crypto] kek = "env:KMS_ROOT_KEY", or kek_provider = "myapp.kms:client"',
        )
    secret = read_secret(str(ref), project_dir, environ)
    return cryptography().Fernet(fernet_key(secret, str(crypto.get("derive") or "none"), str(ref)))


def _now_sql(backend: Backend, delta: float = 0.0) -> str:
    """A UTC time as text every database reads (PostgreSQL's with its zone)."""
    at = datetime.now(UTC) + timedelta(seconds=delta)
    return f"{at:%Y-%m-%d %H:%M:%S}" + ("+00:00" if backend.dialect == "postgresql" else "")


class DataKeys:
    """The data keys of one database, unwrapped on first use."""

    def __init__(self, backend: Backend, table: str, kek: Any, *, lifetime: float | None = None) -> None:
        self.backend, self.table, self.kek, self.lifetime = backend, table, kek, lifetime
        self._keys: dict[int, bytes] | None = None
        self._active: int | None = None

    def __repr__(self) -> str:
        return f"<DataKeys {self.table} active={self._active}>"

    def _q(self) -> str:
        return ".".join(self.backend.quote_ident(p) for p in self.table.split("."))

    def versions(self) -> list[tuple[int, str, Any]]:
        """(version, status, expires_at) of every data key, oldest first."""
        rows = self.backend.query(f"SELECT version, status, expires_at FROM {self._q()} ORDER BY version")
        return [(int(r[0]), str(r[1]), r[2]) for r in rows]

    def _load(self) -> dict[int, bytes]:
        if self._keys is not None:
            return self._keys
        rows = self.backend.query(
            f"SELECT version, encrypted_key, key_hash, status FROM {self._q()} WHERE status <> 'revoked'"
        )
        keys: dict[int, bytes] = {}
        for version, wrapped, key_hash, status in rows:
            try:
                plain = bytes(self.kek.decrypt(bytes(wrapped)))
            except Exception:  # noqa: BLE001 - any KEK's failure; its text could hold key material
                raise ConfigError(
                    f"data key version {version} of {self.table} does not unwrap with the key-encryption key",
                    hint="check [crypto] kek / kek_provider: it must be the key the data keys were made with",
                ) from None
            if hashlib.sha256(plain).hexdigest() != key_hash:
                raise ConfigError(f"data key version {version} of {self.table} does not match its key_hash")
            keys[int(version)] = plain
            if status == "active":
                self._active = int(version)
        self._keys = keys
        return keys

    @property
    def active(self) -> int:
        self._load()
        if self._active is None:
            raise UsageError(
                f"{self.table} has no active data key", hint="`migrata crypto rotate-data-key` creates one"
            )
        return self._active

    def rotate(self) -> int:
        """A new active data key (version: the highest + 1); the active one
        becomes ``inactive`` (it still decrypts). One transaction."""
        b, ph = self.backend, self.backend.placeholder
        plain = os.urandom(32)
        wrapped = bytes(self.kek.encrypt(plain))
        b.begin()
        try:
            top = b.query(f"SELECT MAX(version) FROM {self._q()}")[0][0]
            version = int(top or 0) + 1
            b.execute(f"UPDATE {self._q()} SET status = 'inactive' WHERE status = 'active'")
            expires = _now_sql(b, self.lifetime) if self.lifetime else None
            b.execute(
                f"INSERT INTO {self._q()} (id, version, algorithm, encrypted_key, key_hash, status, expires_at) "
                f"VALUES ({ph}, {ph}, {ph}, {ph}, {ph}, 'active', {ph})",
                (str(uuid.uuid4()), version, ALGORITHM, wrapped, hashlib.sha256(plain).hexdigest(), expires),
            )
            b.commit()
        except BaseException:
            b.rollback()
            raise
        self._keys, self._active = None, None
        return version

    def encrypt(self, value: str | bytes, version: int | None = None) -> bytes:
        """``value`` under the active data key (or ``version``)."""
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        version = self.active if version is None else version
        header = FORMAT + version.to_bytes(4, "big")
        nonce = os.urandom(12)
        data = value.encode("utf-8") if isinstance(value, str) else bytes(value)
        return header + nonce + AESGCM(self._load()[version]).encrypt(nonce, data, header)

    def decrypt_bytes(self, blob: bytes) -> bytes:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        blob = bytes(blob)
        version = self.version_of(blob)
        key = self._load().get(version) if version is not None else None
        if key is None:
            raise InvalidTokenError(f"no usable data key decrypts this value (version {version})")
        try:
            return bytes(AESGCM(key).decrypt(blob[HEADER : HEADER + 12], blob[HEADER + 12 :], blob[:HEADER]))
        except InvalidTag:
            raise InvalidTokenError(f"data key version {version} does not decrypt this value (InvalidTag)") from None

    def decrypt(self, blob: bytes) -> str:
        return self.decrypt_bytes(blob).decode("utf-8")

    @staticmethod
    def version_of(blob: bytes) -> int | None:
        """The data-key version a value names; None: not an envelope value."""
        blob = bytes(blob)
        if len(blob) < HEADER + 12 + 16 or blob[:1] != FORMAT:
            return None
        return int.from_bytes(blob[1:HEADER], "big")

    def rotate_row(self, column: str) -> Callable[[dict[str, Any]], dict[str, Any] | None]:
        """A backfill row function: ``column`` re-encrypted under the active
        data key (skipped when it already is; failed when no key decrypts it)."""
        active = self.active

        def fn(row: dict[str, Any]) -> dict[str, Any] | None:
            value = row[column]
            if value is None or self.version_of(value) == active:
                return None
            return {column: self.encrypt(self.decrypt_bytes(value), active)}

        return fn

    def encrypt_row(self, column: str) -> Callable[[dict[str, Any]], dict[str, Any] | None]:
        """A backfill row function: a plaintext ``column`` encrypted under the
        active data key (skipped when it already holds a value a data key decrypts)."""
        active = self.active

        def fn(row: dict[str, Any]) -> dict[str, Any] | None:
            value = row[column]
            if value is None:
                return None
            if self.version_of(value) is not None:
                try:
                    self.decrypt_bytes(value)
                    return None
                except InvalidTokenError:
                    pass
            return {column: self.encrypt(value if isinstance(value, str) else bytes(value), active)}

        return fn

    def usage(self, columns: list[tuple[str, str]]) -> dict[int, int]:
        """How many values of ``columns`` (table, column) each version encrypts."""
        counts: dict[int, int] = {}
        q = self.backend.quote_ident
        for table, column in columns:
            qt = ".".join(q(p) for p in table.split("."))
            cur = self.backend.connection.cursor()
            try:
                cur.execute(f"SELECT {q(column)} FROM {qt} WHERE {q(column)} IS NOT NULL")
                while rows := cur.fetchmany(5000):
                    for (value,) in rows:
                        v = self.version_of(value)
                        if v is not None:
                            counts[v] = counts.get(v, 0) + 1
            finally:
                cur.close()
        return counts

    def retire(self, columns: list[tuple[str, str]], *, dry_run: bool = False) -> tuple[list[int], dict[int, int]]:
        """Mark ``revoked`` every inactive or expired key no value of
        ``columns`` still uses (``dry_run``: only say which); returns (retired
        versions, {version: values} of the ones kept because values need them)."""
        used = self.usage(columns)
        active = self.active
        ph = self.backend.placeholder
        retired, kept = [], {}
        for version, status, _ in self.versions():
            if status in ("revoked", "active") or version == active:
                continue
            if used.get(version):
                kept[version] = used[version]
                continue
            if not dry_run:
                self.backend.execute(f"UPDATE {self._q()} SET status = 'revoked' WHERE version = {ph}", (version,))
            retired.append(version)
        self._keys = None
        return retired, kept
