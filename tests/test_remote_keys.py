"""API keys: in the OS keyring through ``keyring`` (an in-memory backend stands in for the OS one here),
for this session only where there is no keyring, and never in a plaintext keyring."""

from __future__ import annotations

import pytest

keyring = pytest.importorskip("keyring")
from keyring.backend import KeyringBackend  # noqa: E402
from keyring.backends import fail  # noqa: E402

from studio.engines.base import Runtime  # noqa: E402
from studio.engines.remote.keys import SERVICE, KeyStore, normalize  # noqa: E402


class MemoryKeyring(KeyringBackend):
    """Stands in for the Secret Service / Keychain (a real keyring backend, kept in memory)."""

    priority = 1

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service, username):
        return self.items.get((service, username))

    def set_password(self, service, username, password):
        self.items[(service, username)] = password

    def delete_password(self, service, username):
        self.items.pop((service, username), None)


class PlaintextKeyring(MemoryKeyring):
    """What keyrings.alt offers: keys in a file, in clear."""


PlaintextKeyring.__module__ = "keyrings.alt.file"


@pytest.fixture
def backend(monkeypatch):
    previous = keyring.get_keyring()

    def use(backend):
        keyring.set_keyring(backend)
        return backend

    yield use
    keyring.set_keyring(previous)


def test_key_goes_to_the_os_keyring_under_the_server_url(backend):
    memory = backend(MemoryKeyring())
    store = KeyStore()
    saved = store.set("HTTP://Box.lan:8000/v1/", "sk-1")
    assert saved.in_keyring and not saved.message
    assert memory.items == {(SERVICE, "http://box.lan:8000/v1"): "sk-1"}
    assert KeyStore().get("http://box.lan:8000/v1") == "sk-1"  # a new store (next launch) reads it back
    assert Runtime(device="cpu").key_for("http://box.lan:8000/v1") == "sk-1"
    store.delete("http://box.lan:8000/v1")
    assert memory.items == {} and KeyStore().get("http://box.lan:8000/v1") is None


def test_without_a_keyring_the_key_lasts_this_session_and_says_so(backend):
    backend(fail.Keyring())
    store = KeyStore()
    assert "no OS keyring" in store.backend_problem()
    saved = store.set("http://box.lan:8000/v1", "sk-2")
    assert not saved.in_keyring and "this session only" in saved.message
    assert store.get("http://box.lan:8000/v1") == "sk-2"
    assert KeyStore().get("http://box.lan:8000/v1") is None  # gone with the session


def test_a_plaintext_keyring_counts_as_none(backend):
    plain = backend(PlaintextKeyring())
    store = KeyStore()
    saved = store.set("http://box.lan:8000/v1", "sk-3")
    assert not saved.in_keyring and "plain file" in saved.message
    assert plain.items == {}  # nothing written in clear


def test_normalize_spells_one_server_one_way():
    assert normalize(" http://Host:1/v1/ ") == normalize("http://host:1/v1") == "http://host:1/v1"
