"""The part of docs/benchmarks.md that the bench does not measure in the run: findings, what each change
bought, and what is left. Edit here; ``scripts/bench`` appends it."""

NOTES = """
## Findings

**Where the time goes.** With the stack idle but for the load, an answer costs about 15 ms of CPU over all
processes (api ~5, worker ~5.5, PostgreSQL ~3, broker ~1, load generator ~1): two cores carry at most about
130 answers a second, and the measured pipeline sits close to that once enough players keep it busy. It is
CPU-bound, not latency-bound: more players add latency, not throughput. The 1,000 answers/s target needs about
1 ms of CPU per answer end to end, an order of magnitude below what Python, Peewee and kafka-python spend here;
on this box it is not met, and it would take roughly 8 such machines' worth of cores (or the changes below).

- The worker: about a quarter of its CPU is Peewee *building* SQL text (~0.25 ms per statement, more than
  PostgreSQL spends running most of them), another third is kafka-python (consumer fetch loop, producer
  sender thread, CRC32C in pure Python).
- The api: the DB thread pool (Peewee again, and a pool checkout per call) about a quarter, the Kafka producer
  and the results listener (it decodes every result event) about a third, Starlette/uvicorn the rest.
- The floors say the same: the HTTP floor and the broker floor each carry several hundred answers/s on their
  own, PostgreSQL's write floor about as much; it is the sum of the parts on two shared cores that bounds the
  pipeline, and the in-process floor (worker code without Kafka and HTTP) is the closest to it.
- Telegram mode holds Telegram's ceiling (about 27 calls/s of the 30 allowed: the windows are sliding and each
  call counts from when its answer is back) with zero 429s since the outbox counts calls at completion.
- Held games: memory is not the limit (about 14 KiB per open game, under 300 MiB for 10,000), threads are. A
  live session is a pykka thread plus a timer thread; while games open faster than the 60 s passivation
  retires them, the telebot runs thousands of threads, its CPU caps the ramp at 15-30 games/s, and when the
  first games' timers fire together replies fall a minute behind. Sessions as tasks on one asyncio loop (or
  actors on a shared pool with a timer wheel) is the change that would fix it.

## What each change bought (measured with the profiling runs of this session, 2 idle cores)

| change | measured effect |
|---|---|
| answer path 15 -> 10 statements: owner joined into the locked game read (`FOR UPDATE OF` the game only), question and bank row read in one join, the answer's unique key enforced by `INSERT .. ON CONFLICT DO NOTHING` instead of a read, one `UPDATE` closes a question and opens the next, only dirty game fields written (not the settings and snapshot documents), the request settled by a conditional write (the replay read happens only on a redelivery) | in-process floor 91 -> 116-121 answers/s, 8.8 -> 6.9 ms CPU per answer |
| the evaluator reads all of a game's questions at its first answer (cache of 20,000 entries) | one read per game instead of one per answer |
| persistence sharded by game (`WORKER_PERSISTENCE_SHARDS=4`): games written in parallel transactions | removes the single serial DB round-trip chain; with the above, pipeline 59 -> 85 answers/s at 32 players (api 7.2 -> 4.7, worker 7.0 -> 5.6, PostgreSQL 3.7 -> 3.0 ms CPU per answer) |
| api: a command's game read in one lean query (was two with the open question), the request row inserted in one statement (was a transaction with a read back), long polls answered from the results listener once it has seen the result (no second read) | part of the api's 7.2 -> 4.7 ms |
| commands take `?wait=N` (RFC 7240 style): one POST returns the settled result, no separate poll | one HTTP request per answer instead of two (JWT check, routing, a DB read saved); the bench's players use it |
| outbox windows counted at completion, in-flight calls holding a place | Telegram mode: 2 429s and 2 flood breaches under load -> 0 and 0 at 27 calls/s |
| tried: uvloop for the api's event loop | no measurable gain (105 vs 106-118 answers/s, within run-to-run noise); not added |

## What is left, in the order it would pay

1. Prepared SQL for the answer path (build each statement's text once, bind values per answer): about a
   quarter of the worker's CPU.
2. A C Kafka client (confluent-kafka) in place of kafka-python: a third of worker and api CPU is the client.
3. The api's results listener decodes every result event to find its waiters: a request-id header would let
   it skip the events nobody waits for.
4. More cores: the pipeline splits by partition (worker replicas) and the api is stateless; on 2 cores the
   second worker has no CPU to add (the table above says so with figures).
"""
