"""``ibpub tap``: a recording proxy between a TWS API client and a gateway.

:mod:`~publisher.tap.fileformat` is the file it writes (the simulator's replay reads it, so this
package sits in a layer below the programs); :mod:`~publisher.tap.proxy` the proxy;
:mod:`~publisher.tap.cli` its flags. docs/record-replay.md describes all three for users.
"""
