"""API keys for servers, in the OS keyring (``keyring``), never in the settings file.

One entry per server URL under the service name :data:`SERVICE`. Where the machine has no usable
keyring (a headless box: keyring's ``fail``/``null`` backends), :meth:`KeyStore.set` keeps the key
in this process only and says so; a plaintext backend (``keyrings.alt``'s PlaintextKeyring and the
like) counts as none: Studio never writes a key to a file in clear, and never installs such a backend.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

log = logging.getLogger(__name__)

SERVICE = "studio"  # the keyring's service name; the user name is the server URL

#: backends that store keys in clear (keyrings.alt) or nowhere: treated as "no keyring"
_NOT_SECURE = ("Plaintext", "Unencrypted", "EncryptedKeyring")  # keyrings.alt's file keyrings (weak or clear)


def normalize(url: str) -> str:
    """One spelling per server: no trailing slash, lower-case scheme and host."""
    from urllib.parse import urlsplit, urlunsplit

    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return url.rstrip("/")
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path.rstrip("/"), "", ""))


@dataclass(frozen=True)
class Saved:
    """Where :meth:`KeyStore.set` put a key: ``in_keyring`` False = this session only, ``message`` says why."""

    in_keyring: bool
    message: str = ""


class KeyStore:
    """Keys per server URL: the OS keyring when there is one, else this session's memory."""

    def __init__(self, keyring_module=None) -> None:
        self._keyring = keyring_module  # injected in tests; the real module otherwise (imported lazily)
        self._session: dict[str, str] = {}
        self._lock = threading.Lock()

    def _module(self):
        if self._keyring is None:
            try:
                import keyring
            except ImportError:  # pragma: no cover - a declared dependency
                return None
            self._keyring = keyring
        return self._keyring

    def backend_problem(self) -> str:
        """Why no key can be kept in the OS keyring ('' when it can)."""
        module = self._module()
        if module is None:
            return "The keyring package is not installed"
        try:
            backend = module.get_keyring()
        except Exception as exc:  # a broken keyring configuration
            return f"The OS keyring cannot be opened ({type(exc).__name__})"
        name = type(backend).__name__
        where = type(backend).__module__
        if where.startswith(("keyring.backends.fail", "keyring.backends.null")) or getattr(backend, "priority", 1) <= 0:
            return "This machine has no OS keyring (no Secret Service, KWallet, macOS Keychain or Windows Credential Locker)"
        if where.startswith("keyrings.alt") or any(word in name for word in _NOT_SECURE):
            return f"The only keyring here ({name}) would store keys in a plain file"
        return ""

    def available(self) -> bool:
        return not self.backend_problem()

    def get(self, url: str) -> str | None:
        url = normalize(url)
        with self._lock:
            if url in self._session:
                return self._session[url]
        if not self.available():
            return None
        try:
            return self._module().get_password(SERVICE, url)
        except Exception as exc:  # a locked or failing keyring: no key rather than a crash
            log.warning("could not read the key for %s from the keyring: %s", url, type(exc).__name__)
            return None

    def set(self, url: str, key: str) -> Saved:
        """Keep ``key`` for ``url``: in the OS keyring, else for this session only (the message says so)."""
        url = normalize(url)
        problem = self.backend_problem()
        if not problem:
            try:
                self._module().set_password(SERVICE, url, key)
                with self._lock:
                    self._session.pop(url, None)
                return Saved(True)
            except Exception as exc:
                problem = f"The OS keyring refused the key ({type(exc).__name__})"
        with self._lock:
            self._session[url] = key
        return Saved(False, f"{problem}: the key is kept for this session only and must be entered again next time.")

    def delete(self, url: str) -> None:
        url = normalize(url)
        with self._lock:
            self._session.pop(url, None)
        if self.available():
            try:
                self._module().delete_password(SERVICE, url)
            except Exception:  # not there (PasswordDeleteError) or a failing keyring: nothing to remove
                pass
