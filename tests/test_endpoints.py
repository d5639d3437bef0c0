"""Endpoint and host:port parsing, and the one rule for what reaches beyond this host."""

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from publisher.endpoints import (
    Endpoint,
    HostPort,
    endpoint_problem,
    host_port_problem,
    is_local_endpoint,
    is_loopback_host,
    parse_endpoint,
    parse_host_port,
    reaches_beyond_host,
)
from publisher.errors import EndpointError, IbpubError
from subscribers.endpoints import format_listen, parse_listen

ports = st.integers(min_value=0, max_value=65535)
names = st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z][a-z0-9-]{0,20}){0,3}", fullmatch=True)
hosts = st.one_of(
    names,
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(str),
)


# -- endpoints ---------------------------------------------------------------------------------


def test_tcp_endpoint_parses_into_host_and_port() -> None:
    """tcp://host:port gives the host (IPv6 without brackets) and the port."""
    assert parse_endpoint("tcp://10.0.0.5:7700", bind=False) == Endpoint(
        "tcp://10.0.0.5:7700", "tcp", host="10.0.0.5", port=7700
    )
    assert parse_endpoint("tcp://[::1]:7700", bind=True).host == "::1"


def test_ipc_endpoint_parses_into_a_path() -> None:
    """ipc://path gives the path."""
    assert parse_endpoint("ipc:///run/ibpub/bus", bind=True) == Endpoint(
        "ipc:///run/ibpub/bus", "ipc", path="/run/ibpub/bus"
    )


def test_connect_form_with_a_source_address_takes_the_destination() -> None:
    """ZeroMQ's tcp://source;host:port names the destination host."""
    parsed = parse_endpoint("tcp://192.168.1.17;10.0.0.5:7700", bind=False)
    assert (parsed.host, parsed.port) == ("10.0.0.5", 7700)


@pytest.mark.parametrize("port", ["*", "0"])
def test_a_bind_may_pick_a_free_port(port: str) -> None:
    """A bind accepts port * or 0, and then picks a fresh port each time."""
    parsed = parse_endpoint(f"tcp://127.0.0.1:{port}", bind=True)
    assert parsed.picks_free_port


@pytest.mark.parametrize("port", ["*", "0"])
def test_a_connect_needs_a_real_port(port: str) -> None:
    """A connect refuses port * and 0, saying which numbers are allowed."""
    assert endpoint_problem(f"tcp://10.0.0.5:{port}", bind=False) == (
        f"'tcp://10.0.0.5:{port}': port '{port}' is not a number 1..65535"
    )


def test_a_fixed_port_does_not_pick_a_free_one() -> None:
    """tcp on a given port, and ipc, bind the same address every time."""
    assert not parse_endpoint("tcp://127.0.0.1:7700", bind=True).picks_free_port
    assert not parse_endpoint("ipc:///tmp/bus", bind=True).picks_free_port


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("127.0.0.1:7700", "'127.0.0.1:7700' must start with tcp:// or ipc://"),
        ("ws://127.0.0.1:7700", "'ws://127.0.0.1:7700' must start with tcp:// or ipc://"),
        ("ipc://", "'ipc://' needs a path after ipc://"),
        ("tcp://7700", "'tcp://7700' needs host:port after tcp:// (e.g. tcp://127.0.0.1:7700)"),
        ("tcp://:7700", "'tcp://:7700' needs host:port after tcp:// (e.g. tcp://127.0.0.1:7700)"),
        (
            "tcp://::1:7700",
            "'tcp://::1:7700' needs host:port after tcp:// (e.g. tcp://127.0.0.1:7700)",
        ),
        ("tcp://host:99999", "'tcp://host:99999': port '99999' is not a number 0..65535 or *"),
        ("tcp://host:http", "'tcp://host:http': port 'http' is not a number 0..65535 or *"),
    ],
)
def test_a_bad_bind_endpoint_says_what_is_wrong(text: str, problem: str) -> None:
    """Each malformed endpoint raises EndpointError carrying the text and the problem."""
    with pytest.raises(EndpointError) as caught:
        parse_endpoint(text, bind=True)
    assert (caught.value.text, caught.value.problem, str(caught.value)) == (text, problem, problem)
    assert isinstance(caught.value, IbpubError)
    assert endpoint_problem(text, bind=True) == problem


@given(hosts, ports)
def test_every_bracketed_host_and_port_parses_back(host: str, port: int) -> None:
    """Any host (IPv6 in brackets) and port written as a bind endpoint parses back to them."""
    shown = f"[{host}]" if ":" in host else host
    parsed = parse_endpoint(f"tcp://{shown}:{port}", bind=True)
    assert (parsed.host, parsed.port) == (host, port)


# -- host:port ---------------------------------------------------------------------------------


def test_listen_address_parses_ipv4_and_bracketed_ipv6() -> None:
    """ "127.0.0.1:9700" and "[::1]:9700" give host and port; port 0 is allowed."""
    assert parse_host_port("127.0.0.1:9700") == HostPort("127.0.0.1", 9700)
    assert parse_host_port("[::1]:0") == HostPort("::1", 0)
    assert parse_host_port("[::1]:0").ipv6


@pytest.mark.parametrize("text", ["9700", ":9700", "host:", "host:99999", "::1:9700", "[]:9700"])
def test_a_bad_listen_address_says_what_is_wrong(text: str) -> None:
    """A listen address needs a host (IPv6 in brackets) and a port 0..65535."""
    with pytest.raises(EndpointError) as caught:
        parse_host_port(text)
    assert caught.value.text == text
    assert repr(text) in caught.value.problem
    assert host_port_problem(text) == caught.value.problem


@given(hosts, ports)
def test_host_port_round_trips_through_its_text(host: str, port: int) -> None:
    """str(HostPort) parses back to the same host and port."""
    address = HostPort(host, port)
    assert parse_host_port(str(address)) == address


@given(st.one_of(st.text(max_size=30), st.builds(lambda h, p: f"{h}:{p}", hosts, st.text())))
def test_subscribers_read_listen_addresses_as_the_publisher_does(text: str) -> None:
    """subscribers.endpoints (a copy: subscribers may not import publisher) agrees on any text."""
    try:
        ours = parse_host_port(text)
    except EndpointError:
        with pytest.raises(ValueError):
            parse_listen(text)
        return
    assert parse_listen(text) == (ours.host, ours.port)
    assert format_listen(ours.host, ours.port) == str(ours)


# -- beyond the host ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "beyond"),
    [
        ("tcp://127.0.0.1:7700", False),
        ("tcp://127.3.4.5:1", False),
        ("tcp://localhost:7700", False),
        ("tcp://ip6-localhost:7700", False),
        ("tcp://[::1]:7700", False),
        ("tcp://lo:7700", False),
        ("ipc:///tmp/bus", False),
        ("inproc://bus", False),
        ("tcp://0.0.0.0:7700", True),
        ("tcp://*:7700", True),
        ("tcp://[::]:7700", True),
        ("tcp://10.0.0.5:7700", True),
        ("tcp://eth0:7700", True),
        ("tcp://md-host:7700", True),
        ("ws://127.0.0.1:7700", True),  # a transport ibpub does not read: assume it may
        ("tcp://127.0.0.1", True),  # does not parse: assume it may
    ],
)
def test_reaching_beyond_the_host(endpoint: str, beyond: bool) -> None:
    """Loopback tcp, ipc and inproc stay on this host; anything else may be reached from it."""
    assert reaches_beyond_host(endpoint) is beyond
    assert is_local_endpoint(endpoint) is not beyond


@given(st.ip_addresses(), ports)
def test_an_address_is_local_exactly_when_it_is_loopback(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, port: int
) -> None:
    """A tcp bind on an IP address stays on the host iff the address is a loopback address."""
    shown = f"[{address}]" if address.version == 6 else str(address)
    assert reaches_beyond_host(f"tcp://{shown}:{port}") is not address.is_loopback


def test_loopback_names_ignore_case() -> None:
    """Host names are case-insensitive: LOCALHOST is loopback too."""
    assert is_loopback_host("LOCALHOST")
    assert not is_loopback_host("localhost.example.com")
