"""Reliability campaigns of issue 9: `tradestack chaos` (kill -9 every process under load, pause
the local AWS endpoint, then reconcile a client-side ledger with the venue) and
`tradestack campaign bad-input` (schemathesis against the merged OpenAPI document).
See docs/reliability.md."""
