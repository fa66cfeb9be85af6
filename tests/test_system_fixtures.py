"""The fixtures that run Debian's programs: a throwaway redis-server (its users come with
the shared legacy store) and haproxy before two servers (tests/test_deploy_haproxy.py)."""

from __future__ import annotations


def test_redis_serves_on_loopback_and_keeps_nothing_on_disk(redis_server):
    assert redis_server.host == "127.0.0.1"
    assert redis_server.command("PING") == "PONG"
    assert redis_server.command("SET", "nexy:probe", "1", "PX", "60000") == "OK"
    assert redis_server.command("GET", "nexy:probe") == b"1"
    assert redis_server.command("CONFIG", "GET", "save") == [b"save", b""]
    assert redis_server.command("CONFIG", "GET", "appendonly") == [b"appendonly", b"no"]
    assert redis_server.command("DEL", "nexy:probe") == 1
    assert redis_server.url == f"redis://127.0.0.1:{redis_server.port}/0"


def test_haproxy_starts_in_front_of_two_healthy_servers(haproxy):
    assert haproxy.servers_up()  # each passed the gRPC health check
    assert {b.target for b in haproxy.backends} == {
        haproxy.row_now("nexy", name)["addr"] for name in ("nexy-1", "nexy-2")
    }
