"""The pure wire codec: framing, handshake, request parsing and message building.

Requests are produced by ibapi's own EClient and replies are checked with ibapi's own Decoder,
so these tests pin our layouts to the client library rather than to our own reading of it.
"""

import struct
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ibapi.contract import Contract
from ibapi.execution import ExecutionFilter
from ibapi.message import IN, OUT
from ibapi.server_versions import MAX_CLIENT_VER

from publisher.sim.catalogue import Catalogue, Instrument
from publisher.sim.protocol import (
    MAX_SERVER_VERSION,
    PROTOBUF_SINCE,
    BadHandshakeError,
    CancelMktData,
    ClientMsg,
    ContractQuery,
    Encoder,
    FrameBuffer,
    FrameTooLargeError,
    Hello,
    MalformedRequestError,
    Opening,
    PriceTick,
    ReqAccountUpdates,
    ReqAccountUpdatesMulti,
    ReqCompletedOrders,
    ReqContractDetails,
    ReqCurrentTime,
    ReqExecutions,
    ReqIds,
    ReqMarketDataType,
    ReqMktData,
    ReqOpenOrders,
    ReqPositions,
    ServerMsg,
    SizeTick,
    StartApi,
    StringTick,
    UnknownRequest,
    VersionMismatchError,
    check_prefix,
    decimal_text,
    frame,
    handshake_reply,
    negotiate,
    parse_hello,
    parse_request,
)
from tests.sim.support import RecordingWrapper, decode_frames, ibapi_request

# Every version at which a layout we build or parse changes, plus the ends of the range.
VERSIONS = [100, 157, 163, 164, 166, 178, 182, 186, 194, 200, 201, 204, 205, 206, 207, 213, 226]
REQUEST_VERSIONS = [157, 178, 200, 201, 205, 206, 207, 213, 226]

CATALOGUE = Catalogue.builtin()


def _builtin(con_id: int) -> Instrument:
    instrument = CATALOGUE.by_con_id(con_id)
    assert instrument is not None, con_id
    return instrument


AAPL = _builtin(265598)
ESZ6 = _builtin(649180695)
assert AAPL is not None and ESZ6 is not None


def _stock(symbol: str = "AAPL") -> Contract:
    contract = Contract()
    contract.symbol = symbol
    contract.secType = "STK"
    contract.exchange = "SMART"
    contract.primaryExchange = "NASDAQ"
    contract.currency = "USD"
    return contract


def _decode(data: bytes, version: int) -> RecordingWrapper:
    wrapper = RecordingWrapper()
    decode_frames(data, version, wrapper)
    return wrapper


# -- framing and handshake ---------------------------------------------------------------------


@given(st.lists(st.binary(max_size=300), max_size=20), st.integers(min_value=1, max_value=64))
def test_frame_buffer_round_trips_frames_fed_in_any_chunking(
    payloads: list[bytes], chunk: int
) -> None:
    """Frames written back to back come out whole and in order however the bytes are split."""
    wire = b"".join(frame(p) for p in payloads)
    buffer = FrameBuffer()
    out: list[bytes] = []
    for start in range(0, len(wire), chunk):
        buffer.feed(wire[start : start + chunk])
        while (payload := buffer.next_frame()) is not None:
            out.append(payload)
    assert out == payloads
    assert buffer.pending == 0


def test_frame_buffer_rejects_a_frame_above_the_limit() -> None:
    """A length prefix above ibapi's 16 MiB limit is a protocol error carrying the size."""
    buffer = FrameBuffer()
    buffer.feed(struct.pack(">I", 0x1000000))
    with pytest.raises(FrameTooLargeError) as caught:
        buffer.next_frame()
    assert caught.value.size == 0x1000000


def test_parse_hello_reads_range_and_connect_options() -> None:
    """``v100..226 +PACEAPI`` gives the range and the options text."""
    assert parse_hello(b"v100..226 +PACEAPI") == Hello(100, 226, "+PACEAPI")


def test_parse_hello_accepts_a_single_version() -> None:
    """``v178`` means exactly version 178."""
    assert parse_hello(b"v178") == Hello(178, 178)


@pytest.mark.parametrize("payload", [b"100..226", b"vabc..def", b"v226..100", b"v\xff"])
def test_parse_hello_rejects_malformed_ranges(payload: bytes) -> None:
    """Anything but ``v<min>..<max>`` is a bad handshake."""
    with pytest.raises(BadHandshakeError):
        parse_hello(payload)


@pytest.mark.parametrize(
    ("hello", "server_max", "expected"),
    [(Hello(100, 226), 226, 226), (Hello(100, 226), 200, 200), (Hello(157, 178), 226, 178)],
)
def test_negotiate_picks_the_lower_maximum(hello: Hello, server_max: int, expected: int) -> None:
    """The negotiated version is min(client max, server max)."""
    assert negotiate(hello, server_max) == expected


def test_negotiate_rejects_a_client_entirely_above_our_maximum() -> None:
    """A client whose minimum exceeds our maximum cannot be served."""
    with pytest.raises(VersionMismatchError) as caught:
        negotiate(Hello(201, 226), 200)
    assert (caught.value.client_min, caught.value.server_max) == (201, 200)


def test_max_server_version_is_the_installed_ibapi_maximum() -> None:
    """By default we speak up to what the installed ibapi speaks."""
    assert MAX_SERVER_VERSION == MAX_CLIENT_VER


def test_handshake_reply_is_one_frame_of_two_fields() -> None:
    """The reply is ``<version>\\0<time>\\0`` in one length-prefixed frame."""
    reply = handshake_reply(226, "20261123 10:00:00 UTC")
    assert reply == frame(b"226\x0020261123 10:00:00 UTC\x00")


def test_message_ids_agree_with_ibapi() -> None:
    """Our id tables use ibapi's numbers for every message we model."""
    for msg in ClientMsg:
        assert getattr(OUT, msg.name) == msg.value, msg
    for server_msg in ServerMsg:
        assert getattr(IN, server_msg.name) == server_msg.value, server_msg


# -- request parsing ---------------------------------------------------------------------------


@pytest.mark.parametrize("version", REQUEST_VERSIONS)
def test_parses_ibapi_req_mkt_data(version: int) -> None:
    """reqMktData from ibapi parses at every version, text or protobuf."""
    payload = ibapi_request(version, lambda c: c.reqMktData(7, _stock(), "233", True, False, []))
    request = parse_request(payload, version)
    assert request == ReqMktData(
        7,
        ContractQuery(
            symbol="AAPL",
            sec_type="STK",
            exchange="SMART",
            primary_exchange="NASDAQ",
            currency="USD",
        ),
        generic_ticks="233",
        snapshot=True,
    )


@pytest.mark.parametrize("version", REQUEST_VERSIONS)
def test_parses_ibapi_req_contract_details(version: int) -> None:
    """reqContractDetails from ibapi parses at every version, including a future's expiry."""
    contract = Contract()
    contract.symbol, contract.secType, contract.exchange = "ES", "FUT", "CME"
    contract.lastTradeDateOrContractMonth, contract.multiplier = "202612", "50"
    contract.currency, contract.localSymbol = "USD", "ESZ6"
    payload = ibapi_request(version, lambda c: c.reqContractDetails(3, contract))
    assert parse_request(payload, version) == ReqContractDetails(
        3,
        ContractQuery(
            symbol="ES",
            sec_type="FUT",
            last_trade_date_or_contract_month="202612",
            multiplier="50",
            exchange="CME",
            currency="USD",
            local_symbol="ESZ6",
        ),
    )


@pytest.mark.parametrize("version", REQUEST_VERSIONS)
def test_parses_ibapi_session_requests(version: int) -> None:
    """startApi, cancelMktData, reqMarketDataType, reqIds and reqCurrentTime parse everywhere."""
    cases = [
        (lambda c: c.startApi(), StartApi(5, "")),
        (lambda c: c.cancelMktData(7), CancelMktData(7)),
        (lambda c: c.reqMarketDataType(3), ReqMarketDataType(3)),
        (lambda c: c.reqIds(1), ReqIds(1)),
        (lambda c: c.reqCurrentTime(), ReqCurrentTime()),
    ]
    for call, expected in cases:
        assert parse_request(ibapi_request(version, call), version) == expected


@pytest.mark.parametrize("version", REQUEST_VERSIONS)
def test_parses_ibapi_startup_requests(version: int) -> None:
    """The account, order and execution requests ib_async sends on connect parse everywhere."""
    cases = [
        (lambda c: c.reqPositions(), ReqPositions()),
        (lambda c: c.reqOpenOrders(), ReqOpenOrders()),
        (lambda c: c.reqAllOpenOrders(), ReqOpenOrders()),
        (lambda c: c.reqCompletedOrders(True), ReqCompletedOrders(True)),
        (lambda c: c.reqAccountUpdates(True, "DU1"), ReqAccountUpdates(True, "DU1")),
        (
            lambda c: c.reqAccountUpdatesMulti(4, "DU1", "", False),
            ReqAccountUpdatesMulti(4, "DU1"),
        ),
        (lambda c: c.reqExecutions(9, ExecutionFilter()), ReqExecutions(9)),
    ]
    for call, expected in cases:
        assert parse_request(ibapi_request(version, call), version) == expected


@pytest.mark.parametrize(
    ("version", "protobuf"), [(200, False), (205, False), (206, True), (226, True)]
)
def test_ibapi_sends_req_mkt_data_as_protobuf_from_206(version: int, protobuf: bool) -> None:
    """The request form we must decode switches at MIN_SERVER_VER_PROTOBUF_MARKET_DATA."""
    payload = ibapi_request(version, lambda c: c.reqMktData(1, _stock(), "", False, False, []))
    if version < 201:
        assert payload.startswith(b"1\0")
    else:
        assert int.from_bytes(payload[:4], "big") == (201 if protobuf else 1)


def test_parses_combo_legs_and_delta_neutral_fields_in_text() -> None:
    """A BAG reqMktData with legs and a delta-neutral contract still yields its tick options."""
    fields = ["1", "11", "8", "0", "SPY", "BAG", "", "0.0", "", "", "SMART", "", "USD", "", ""]
    fields += ["2", "1", "1", "BUY", "SMART", "2", "1", "SELL", "SMART"]  # two legs
    fields += ["1", "756733", "0.5", "680.0"]  # delta neutral
    fields += ["233", "0", "0", ""]
    payload = "".join(f + "\0" for f in fields).encode()
    request = parse_request(payload, 200)
    assert isinstance(request, ReqMktData)
    assert (request.req_id, request.generic_ticks, request.contract.sec_type) == (8, "233", "BAG")


def test_unknown_requests_are_reported_not_rejected() -> None:
    """Unmodelled ids (here reqScannerParameters) parse to UnknownRequest in both forms."""
    assert parse_request(b"24\x001\x00", 200) == UnknownRequest(24, protobuf=False)
    assert parse_request((224).to_bytes(4, "big"), 226) == UnknownRequest(24, protobuf=True)


@pytest.mark.parametrize(
    ("payload", "version"),
    [
        (b"1\x0011\x00", 200),  # truncated text reqMktData
        (b"x\x00", 200),  # non-numeric message id
        (b"\x00\x00", 226),  # shorter than the 4-byte id
        ((201).to_bytes(4, "big") + b"\xff\xff\xff", 226),  # invalid protobuf
    ],
)
def test_malformed_requests_raise_with_the_message_id(payload: bytes, version: int) -> None:
    """Undecodable requests raise MalformedRequestError instead of anything else."""
    with pytest.raises(MalformedRequestError):
        parse_request(payload, version)


# -- message building, checked with ibapi's own Decoder ----------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_tick_messages_decode_with_ibapi(version: int) -> None:
    """tickPrice (with its synthesized size), tickSize, tickString and tickGeneric decode."""
    enc = Encoder(version)
    data = b"".join(
        [
            enc.tick_price(5, 1, 189.5, 300, 1),
            enc.tick_size(5, 8, 123456),
            enc.tick_string(5, 45, "1795000000"),
            enc.tick_generic(5, 49, 0.0),
            enc.tick_price(5, 9, 188.0, 0),
        ]
    )
    w = _decode(data, version)
    prices = w.named("tickPrice")
    assert [(p[0], p[1], p[2]) for p in prices] == [(5, 1, 189.5), (5, 9, 188.0)]
    assert prices[0][3].canAutoExecute
    assert w.named("tickSize") == [(5, 0, Decimal(300)), (5, 8, Decimal(123456))]
    assert w.named("tickString") == [(5, 45, "1795000000")]
    assert w.named("tickGeneric") == [(5, 49, 0.0)]
    assert w.errors() == []


@pytest.mark.parametrize("version", VERSIONS)
def test_market_data_control_messages_decode_with_ibapi(version: int) -> None:
    """tickReqParams, marketDataType and tickSnapshotEnd decode."""
    enc = Encoder(version)
    data = enc.tick_req_params(5, 0.00005, "9c0001", 3)
    data += enc.market_data_type(5, 3) + enc.tick_snapshot_end(5)
    w = _decode(data, version)
    assert w.named("tickReqParams") == [(5, 0.00005, "9c0001", 3)]
    assert w.named("marketDataType") == [(5, 3)]
    assert w.named("tickSnapshotEnd") == [(5,)]


@pytest.mark.parametrize("version", VERSIONS)
def test_error_decodes_with_ibapi_and_carries_time_from_194(version: int) -> None:
    """error decodes in all three text layouts and protobuf; errorTime exists from v194."""
    w = _decode(Encoder(version).error(7, 200, "No security definition", error_time_ms=42), version)
    ((req_id, error_time, code, text, _json),) = w.named("error")
    assert (req_id, code, text) == (7, 200, "No security definition")
    assert error_time == (42 if version >= 194 else 0)


@pytest.mark.parametrize("version", VERSIONS)
def test_session_messages_decode_with_ibapi(version: int) -> None:
    """managedAccounts, nextValidId, currentTime and every end marker decode."""
    enc = Encoder(version)
    data = b"".join(
        [
            enc.managed_accounts(["DU1234567"]),
            enc.next_valid_id(1),
            enc.current_time(1795000000),
            enc.position_end(),
            enc.open_order_end(),
            enc.completed_orders_end(),
            enc.account_download_end("DU1234567"),
            enc.account_update_multi_end(4),
            enc.execution_data_end(9),
            enc.contract_data_end(3),
        ]
    )
    w = _decode(data, version)
    assert w.named("managedAccounts") == [("DU1234567",)]
    assert w.named("nextValidId") == [(1,)]
    assert w.named("currentTime") == [(1795000000,)]
    assert w.named("positionEnd") == [()]
    assert w.named("openOrderEnd") == [()]
    assert w.named("completedOrdersEnd") == [()]
    assert w.named("accountDownloadEnd") == [("DU1234567",)]
    assert w.named("accountUpdateMultiEnd") == [(4,)]
    assert w.named("execDetailsEnd") == [(9,)]
    assert w.named("contractDetailsEnd") == [(3,)]
    assert w.errors() == []


@pytest.mark.parametrize("version", VERSIONS)
def test_stock_contract_data_decodes_with_ibapi(version: int) -> None:
    """AAPL's contractData decodes field for field at every layout."""
    ((req_id, details),) = _decode(Encoder(version).contract_data(3, AAPL.spec), version).named(
        "contractDetails"
    )
    c = details.contract
    assert (req_id, c.conId, c.symbol, c.secType, c.exchange) == (3, 265598, "AAPL", "STK", "SMART")
    assert (c.currency, c.localSymbol, c.tradingClass) == ("USD", "AAPL", "NMS")
    assert (details.minTick, details.longName, details.marketName) == (0.01, "APPLE INC", "NMS")
    assert details.contract.primaryExchange == "NASDAQ"
    assert details.timeZoneId == "US/Eastern"
    assert [(t.tag, t.value) for t in details.secIdList] == [("ISIN", "US0378331005")]
    if version >= 152:
        assert details.stockType == "COMMON"
    if version >= 164:
        assert details.suggestedSizeIncrement == Decimal(100)


@pytest.mark.parametrize("version", VERSIONS)
def test_future_contract_data_decodes_with_ibapi(version: int) -> None:
    """ESZ6's contractData keeps its expiry, multiplier and underlying at every layout."""
    ((_req_id, details),) = _decode(Encoder(version).contract_data(4, ESZ6.spec), version).named(
        "contractDetails"
    )
    c = details.contract
    assert (c.conId, c.localSymbol, c.exchange) == (649180695, "ESZ6", "CME")
    assert (c.lastTradeDateOrContractMonth, c.multiplier) == ("20261218", "50")
    assert (details.minTick, details.contractMonth, details.underConId) == (
        0.25,
        "202612",
        11004968,
    )
    if version >= 182:
        assert c.lastTradeDate == "20261218"


@pytest.mark.parametrize(
    ("version", "price_id", "size_id"), [(200, None, None), (205, 1, 2), (206, 201, 202)]
)
def test_ticks_use_text_below_206_and_protobuf_from_206(
    version: int, price_id: int | None, size_id: int | None
) -> None:
    """Tick frames are classic text at 200, raw-int text at 205 and protobuf from 206."""
    enc = Encoder(version)
    price, size = enc.tick_price(1, 1, 1.0, 1), enc.tick_size(1, 0, 1)
    if price_id is None:
        assert price[4:6] == b"1\0" and size[4:6] == b"2\0"
    else:
        assert int.from_bytes(price[4:8], "big") == price_id
        assert int.from_bytes(size[4:8], "big") == size_id


def test_every_protobuf_threshold_is_within_the_protobuf_era() -> None:
    """Nothing is sent as protobuf before v201, where binary message ids begin."""
    assert min(PROTOBUF_SINCE.values()) == 201
    assert Encoder(200).uses_protobuf(ServerMsg.ERR_MSG) is False
    assert Encoder(226).uses_protobuf(ServerMsg.TICK_PRICE) is True


@pytest.mark.parametrize("version", [200, 226])
def test_delayed_ticks_use_delayed_ids_and_ibapi_synthesizes_delayed_sizes(version: int) -> None:
    """With delayed=True a BID tick goes out as 66 and ibapi derives DELAYED_BID_SIZE (69)."""
    enc = Encoder(version)
    data = enc.tick(PriceTick(2, 1, 10.0, 100), delayed=True)
    data += enc.tick(SizeTick(2, 8, 5), delayed=True) + enc.tick(
        StringTick(2, 45, "1"), delayed=True
    )
    w = _decode(data, version)
    assert [(p[1], p[2]) for p in w.named("tickPrice")] == [(66, 10.0)]
    assert w.named("tickSize") == [(2, 69, Decimal(100)), (2, 74, Decimal(5))]
    assert w.named("tickString") == [(2, 88, "1")]


@pytest.mark.parametrize(("value", "text"), [(0.01, "0.01"), (5e-05, "0.00005"), (0.25, "0.25")])
def test_decimal_text_never_uses_exponents(value: float, text: str) -> None:
    """minTick goes out as plain decimal text."""
    assert decimal_text(value) == text


@pytest.mark.parametrize("version", [99, MAX_SERVER_VERSION + 1])
def test_encoder_refuses_versions_we_do_not_model(version: int) -> None:
    """Building for an unknown layout is a programming error."""
    with pytest.raises(ValueError, match="outside"):
        Encoder(version)


@pytest.mark.parametrize("head", [b"", b"A", b"AP", b"API"])
def test_check_prefix_waits_while_the_bytes_may_still_become_the_prefix(head: bytes) -> None:
    assert check_prefix(head) is False


@pytest.mark.parametrize("head", [b"API\0", b"API\0\0\0\0\x0av100..226"])
def test_check_prefix_accepts_the_prefix_with_or_without_what_follows(head: bytes) -> None:
    assert check_prefix(head) is True


@pytest.mark.parametrize(
    ("head", "reason"),
    [
        (b"62\0", "bare client version 62"),  # the Node package ib 0.2.9
        (b"9", "bare client version 9"),
        (b"APX", "missing API\\0 prefix"),
        (b"GET / HTTP/1.1\r\n", "missing API\\0 prefix"),
        (b"API\x01", "missing API\\0 prefix"),
    ],
)
def test_check_prefix_refuses_bytes_that_cannot_become_the_prefix(head: bytes, reason: str) -> None:
    with pytest.raises(BadHandshakeError) as caught:
        check_prefix(head)
    assert reason in caught.value.reason
    assert caught.value.data == head


def test_opening_reads_the_prefix_and_version_frame_in_any_chunking() -> None:
    """The handshake completes however the bytes are split, and what follows stays buffered."""
    hello = b"API\0" + frame(b"v100..226 +PACEAPI")
    after = frame(b"71\x002\x003\x00")
    for cut in range(len(hello) + 1):
        buffer = FrameBuffer()
        opening = Opening(buffer)
        buffer.feed(hello[:cut])
        assert (opening.advance() is None) == (cut < len(hello))
        buffer.feed(hello[cut:] + after)
        assert opening.advance() == Hello(100, 226, "+PACEAPI")
        assert opening.done
        assert buffer.next_frame() == after[4:]


@pytest.mark.parametrize(
    ("sent", "progress"),
    [
        (b"", "nothing received"),
        (b"AP", "got b'AP' of API\\0"),
        (b"API\0", "no version frame after API\\0 (0 bytes of it)"),
        (b"API\0\0\0\0\x09v1", "no version frame after API\\0 (6 bytes of it)"),
    ],
)
def test_opening_progress_says_how_far_a_stalled_handshake_got(sent: bytes, progress: str) -> None:
    buffer = FrameBuffer()
    opening = Opening(buffer)
    buffer.feed(sent)
    assert opening.advance() is None
    assert opening.progress() == progress


def test_opening_refuses_a_pre_v100_client_on_its_first_bytes() -> None:
    """``62\\0`` (a bare client version) cannot become ``API\\0``: refused without waiting."""
    buffer = FrameBuffer()
    buffer.feed(b"62\0")
    with pytest.raises(BadHandshakeError, match="bare client version 62"):
        Opening(buffer).advance()
