"""contractData (10): one contract's description, in text fields or as protobuf messages.

The text layout changes at many versions (see tws-protocol.md section 4.3); the protobuf form
(from v205) sets only the fields that carry a value, as TWS does.
"""

from typing import Any

from ibapi.protobuf.Contract_pb2 import Contract as ContractProto
from ibapi.protobuf.ContractDetails_pb2 import ContractDetails as ContractDetailsProto

from publisher.sim.protocol.contracts import ContractSpec
from publisher.sim.protocol.fields import decimal_text
from publisher.sim.protocol.versions import (
    V_AGG_GROUP,
    V_FRACTIONAL_SIZE,
    V_FUND_DATA_FIELDS,
    V_INELIGIBILITY_REASONS,
    V_LAST_TRADE_DATE,
    V_MARKET_RULES,
    V_MD_SIZE_MULTIPLIER,
    V_REAL_EXPIRATION_DATE,
    V_SIZE_RULES,
    V_STOCK_TYPE,
    V_UNDERLYING_INFO,
)


def contract_message(spec: ContractSpec) -> Any:
    contract = ContractProto(
        conId=spec.con_id,
        symbol=spec.symbol,
        secType=spec.sec_type,
        exchange=spec.exchange,
        currency=spec.currency,
        localSymbol=spec.local_symbol,
    )
    optional: dict[str, object] = {
        "lastTradeDateOrContractMonth": spec.last_trade_date,
        "lastTradeDate": spec.last_trade_date,
        "right": spec.right,
        "primaryExch": spec.primary_exchange,
        "tradingClass": spec.trading_class,
    }
    for name, value in optional.items():
        if value:
            setattr(contract, name, value)
    if spec.strike:
        contract.strike = spec.strike
    if spec.multiplier:
        contract.multiplier = float(spec.multiplier)
    return contract


def details_message(spec: ContractSpec) -> Any:
    details = ContractDetailsProto(
        minTick=decimal_text(spec.min_tick),
        priceMagnifier=spec.price_magnifier,
        underConId=spec.under_con_id,
        aggGroup=spec.agg_group,
    )
    optional: dict[str, str] = {
        "marketName": spec.market_name,
        "orderTypes": spec.order_types,
        "validExchanges": spec.valid_exchanges,
        "longName": spec.long_name,
        "contractMonth": spec.contract_month,
        "industry": spec.industry,
        "category": spec.category,
        "subcategory": spec.subcategory,
        "timeZoneId": spec.time_zone_id,
        "tradingHours": spec.trading_hours,
        "liquidHours": spec.liquid_hours,
        "underSymbol": spec.under_symbol,
        "underSecType": spec.under_sec_type,
        "marketRuleIds": spec.market_rule_ids,
        "realExpirationDate": spec.real_expiration_date,
        "stockType": spec.stock_type,
        "minSize": spec.min_size,
        "sizeIncrement": spec.size_increment,
        "suggestedSizeIncrement": spec.suggested_size_increment,
    }
    for name, value in optional.items():
        if value:
            setattr(details, name, value)
    for tag, value in spec.sec_ids:
        details.secIdList[tag] = value
    return details


def contract_fields(version: int, req_id: int, spec: ContractSpec) -> list[object]:
    """The text fields of contractData (10) at ``version``, message id excluded."""
    v = version
    fields: list[object] = [] if v >= V_SIZE_RULES else [8]
    fields += [req_id, spec.symbol, spec.sec_type, spec.last_trade_date]
    if v >= V_LAST_TRADE_DATE:
        fields.append(spec.last_trade_date)
    fields += [
        spec.strike,
        spec.right,
        spec.exchange,
        spec.currency,
        spec.local_symbol,
        spec.market_name,
        spec.trading_class,
        spec.con_id,
        decimal_text(spec.min_tick),
    ]
    if V_MD_SIZE_MULTIPLIER <= v < V_SIZE_RULES:
        fields.append(1)  # mdSizeMultiplier, read and dropped by ibapi
    fields += [
        spec.multiplier,
        spec.order_types,
        spec.valid_exchanges,
        spec.price_magnifier,
        spec.under_con_id,
        spec.long_name,
        spec.primary_exchange,
        spec.contract_month,
        spec.industry,
        spec.category,
        spec.subcategory,
        spec.time_zone_id,
        spec.trading_hours,
        spec.liquid_hours,
        "",  # evRule
        "",  # evMultiplier
        len(spec.sec_ids),
    ]
    for tag, value in spec.sec_ids:
        fields += [tag, value]
    if v >= V_AGG_GROUP:
        fields.append(spec.agg_group)
    if v >= V_UNDERLYING_INFO:
        fields += [spec.under_symbol, spec.under_sec_type]
    if v >= V_MARKET_RULES:
        fields.append(spec.market_rule_ids)
    if v >= V_REAL_EXPIRATION_DATE:
        fields.append(spec.real_expiration_date)
    if v >= V_STOCK_TYPE:
        fields.append(spec.stock_type)
    if V_FRACTIONAL_SIZE <= v < V_SIZE_RULES:
        fields.append(spec.min_size)  # sizeMinTick, read and dropped by ibapi
    if v >= V_SIZE_RULES:
        fields += [spec.min_size, spec.size_increment, spec.suggested_size_increment]
    if v >= V_FUND_DATA_FIELDS and spec.sec_type == "FUND":
        fields += ["", "", "", "", "", "", "", 0, 0, 0, "", "", "", "", "", "", ""]
    if v >= V_INELIGIBILITY_REASONS:
        fields.append(0)  # ineligibility reasons: none
    return fields
