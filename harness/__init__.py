"""What the benchmarks (`bench/`), the drills (`drills/`) and the tests share to drive a real stack.

- `harness.stack`: a dev server, worker and API of their own in a temporary directory, the
  `drill-seconds` policy, delivery judging and measuring helpers;
- `harness.receivers`: real webhook (HTTP) and SMTP receivers on loopback.

It may import `ticketclock` and everything below it; nothing in the product imports it.
"""
