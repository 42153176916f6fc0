"""`tradestack bench e2e`: the whole venue under load, end to end through the gateway.

Many signed-in traders (bots placing, amending and cancelling orders around a moving mid price,
some crossing) over HTTP/1.1 keep-alive connections, each with a private WebSocket, plus a public
WebSocket subscriber. Reports accepted orders/s, trades/s, latency from submit to `202` and from
submit to the fill on the private channel, how far the projections lag, and CPU per process.
See docs/performance.md for the figures and how to read them.

| module | what |
|---|---|
| `bench.py` | `run_e2e_bench`: start (or join) a stack, run the traders, collect, report |
| `traders.py` | `Trader`: account set-up, the action loop, the private WebSocket, order tracking |
| `orderflow.py` | the mid price random walk and the choice of each next action (pure, seeded) |
| `http.py` | `KeepAliveConnection`: a minimal HTTP/1.1 client (asyncio + httptools) |
| `measure.py` | latency samples, percentiles, CPU of processes from /proc, stack process discovery |
| `hops.py` | per-hop latency read back from the streams' arrival timestamps (`--hops`) |
| `report.py` | the rich table and the JSON object |
"""
