"""HTTPS to the portal: one TLS context per CA bundle for every connection, checks unchanged."""

from __future__ import annotations

import shutil

import pytest

from app.bitrix.client import Bitrix24Client
from app.bitrix.reading import ListReader
from app.errors import PortalUnreachableError
from app.testing.portal import FakePortal, self_signed_tls


@pytest.fixture
def secure(tmp_path, monkeypatch):
    """An HTTPS fake portal whose certificate the client trusts through REQUESTS_CA_BUNDLE."""
    context, cert = self_signed_tls(tmp_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    with FakePortal(ssl_context=context) as portal:
        yield portal


def _pools(client: Bitrix24Client) -> list:
    return [pool for session in client._sessions
            for pool in session.get_adapter("https://").poolmanager.pools._container.values()]


def test_every_connection_of_a_parallel_read_shares_one_tls_context(secure):
    expected = secure.add_items(1040, [{"title": f"Item {i}"} for i in range(3000)])
    client = Bitrix24Client(secure.webhook_url, batch_commands=2)  # 100 rows a batch
    rows: list[dict] = []
    try:
        ListReader(client, "crm.item.list", {"entityTypeId": 1040}).read(rows.extend)
        pools = _pools(client)
    finally:
        client.close()

    assert sorted(int(r["id"]) for r in rows) == sorted(expected)
    assert len(pools) > 3  # read in parallel, one pool per reader thread
    contexts = {id(pool.conn_kw.get("ssl_context")) for pool in pools}
    assert len(contexts) == 1 and pools[0].conn_kw["ssl_context"] is not None
    # Given the bundle's path too, urllib3 would load the file again for every connection.
    assert all(pool.ca_certs is None and pool.ca_cert_dir is None for pool in pools)


def test_an_untrusted_certificate_still_fails_the_tls_check(tmp_path, monkeypatch):
    context, _ = self_signed_tls(tmp_path)
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    with FakePortal(ssl_context=context) as portal:
        client = Bitrix24Client(portal.webhook_url, max_retries=0)
        with pytest.raises(PortalUnreachableError, match="TLS") as caught:
            client.call("crm.item.list", {"entityTypeId": 1036})
        client.close()
    assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value) or "certificate" in str(caught.value)
    assert not portal.requests  # the request never reached the portal


def test_the_certificate_must_name_the_host(secure):
    # The certificate is for 127.0.0.1; `localhost` reaches the same server by another name.
    url = secure.webhook_url.replace("127.0.0.1", "localhost")
    client = Bitrix24Client(url, max_retries=0)
    with pytest.raises(PortalUnreachableError, match="TLS"):
        client.call("crm.item.list", {"entityTypeId": 1036})
    client.close()
    assert not secure.requests


def test_a_replaced_bundle_is_read_again(tmp_path, monkeypatch):
    bundle = tmp_path / "bundle.pem"
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    for round_ in ("first", "second"):  # each portal with a certificate of its own
        (tmp_path / round_).mkdir()
        context, cert = self_signed_tls(tmp_path / round_)
        shutil.copyfile(cert, bundle)
        with FakePortal(ssl_context=context) as portal:
            portal.add_items(1036, [{"title": "Москва"}])
            client = Bitrix24Client(portal.webhook_url, max_retries=0)
            assert client.call("crm.item.list", {"entityTypeId": 1036})["total"] == 1
            client.close()
