"""Steady meditation-app traffic into `freshet serve`, measuring event -> triggered prediction.

Usage: triggered_load.py --url http://127.0.0.1:PORT --receiver-port P --rate R --seconds S
                         [--users N] [--senders 4] [--pull-sample 0.01]
Prints one JSON line:
  {"rate":..,"offered_per_s":..,"acked":..,"errors":..,
   "push":{"delivered":..,"p50_ms":..,"p99_ms":..,"max_ms":..},
   "pull":{"seen":..,"p50_ms":..,"p99_ms":..,"max_ms":..},
   "ack":{"requests":..,"p50_ms":..,"p99_ms":..,"max_ms":..},"held":..}

Senders (threads) each offer rate/senders events per second as NDJSON batches every 10 ms to
POST /v1/events/app_events and note each event's acknowledgement time; the response's
first_offset gives each event's offset in the log; "ack" is each request's time from
send to acknowledgement (a sender offers its next batch at the next tick after it). A webhook receiver (its own process, so it
does not share the senders' interpreter lock) notes when each pushed prediction arrives. A
prediction names its user and the offset of the event that triggered it, and reflects every event
of that user up to that offset: an event's push latency runs from its acknowledgement to the
earliest arrival of such a prediction. A sample of events is also
read back by pull (GET /v1/predictions/recommend?user_id=..) until the stored prediction reaches
the event's offset: the pull latency. "held": at least 99.9% of acknowledged events delivered,
push p99 under a second, and at least 90% of the offered rate acknowledged.
"""
import argparse
import bisect
import http.client
import http.server
import json
import multiprocessing
import random
import threading
import time
from urllib.parse import urlparse

SOURCE, DEPLOYMENT = "app_events", "recommend"
KINDS = ["start", "exit", "complete", "search"]
CATEGORIES = ["sleep", "focus", "move", "meditate", "stress"]


def prediction_event(record):
    """(user, offset of the triggering event) of one pushed prediction record."""
    p = record["prediction"]
    return p["entity"]["user_id"], int(p["event"]["offset"])


def receiver(port, ready, stop, out):
    """Webhook receiver process: collects (user, offset, arrival time) until `stop` is set."""
    arrivals = []
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            now = time.time()
            records = json.loads(body)["predictions"]
            with lock:
                for r in records:
                    arrivals.append(prediction_event(r) + (now,))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    ready.set()
    stop.wait()
    server.shutdown()
    with lock:
        out.put(arrivals)


def percentile(sorted_ms, q):
    if not sorted_ms:
        return None
    return round(sorted_ms[min(len(sorted_ms) - 1, int(q * len(sorted_ms)))], 2)


def summary(lat_ms):
    lat_ms.sort()
    return {"p50_ms": percentile(lat_ms, 0.50), "p99_ms": percentile(lat_ms, 0.99),
            "max_ms": round(lat_ms[-1], 2) if lat_ms else None}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--receiver-port", type=int, required=True)
    ap.add_argument("--rate", type=float, required=True)
    ap.add_argument("--seconds", type=float, required=True)
    ap.add_argument("--users", type=int, default=10000)
    ap.add_argument("--senders", type=int, default=4)
    ap.add_argument("--pull-sample", type=float, default=0.01)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    base = urlparse(args.url)

    ready, stop, out = multiprocessing.Event(), multiprocessing.Event(), multiprocessing.Queue()
    rx = multiprocessing.Process(target=receiver, args=(args.receiver_port, ready, stop, out))
    rx.start()
    if not ready.wait(10):
        raise SystemExit("triggered_load: the webhook receiver did not start")

    acked = {}  # user -> [(offset, ack time)]
    pull_queue, pulled = [], []  # (user, offset, ack time) to read back; pull latencies (ms)
    ack_ms = []  # per request: send -> acknowledgement
    lock, pull_cv = threading.Lock(), threading.Condition()
    counts = {"sent": 0, "errors": 0}
    tick = 0.01
    start = time.time()
    sending = threading.Event()
    sending.set()

    def sender(k):
        rnd = random.Random(args.seed * 1000 + k)
        conn = http.client.HTTPConnection(base.hostname, base.port, timeout=30)
        per_tick, owed, n = args.rate / args.senders * tick, 0.0, 0
        while time.time() - start < args.seconds:
            owed += per_tick
            batch = int(owed)
            owed -= batch
            if batch:
                now_ms = int(time.time() * 1000)
                users, lines = [], []
                for _ in range(batch):
                    user = f"u{rnd.randrange(args.users)}"
                    users.append(user)
                    lines.append('{"eid":"e%d-%d","user_id":"%s","ts_ms":%d,"event":"%s","category":"%s",'
                                 '"duration_s":%d.0}' % (k, n, user, now_ms, rnd.choice(KINDS),
                                                        rnd.choice(CATEGORIES), rnd.randrange(600)))
                    n += 1
                sent_at = time.time()
                conn.request("POST", f"/v1/events/{SOURCE}", "\n".join(lines),
                             {"Content-Type": "application/x-ndjson"})
                resp = conn.getresponse()
                body = resp.read()
                t = time.time()
                with lock:
                    ack_ms.append((t - sent_at) * 1000)
                    if resp.status == 200:
                        first = json.loads(body)["first_offset"]
                        for i, user in enumerate(users):
                            acked.setdefault(user, []).append((first + i, t))
                            if rnd.random() < args.pull_sample:
                                with pull_cv:
                                    pull_queue.append((user, first + i, t))
                                    pull_cv.notify()
                        counts["sent"] += batch
                    else:
                        counts["errors"] += batch
            nxt = start + (int((time.time() - start) / tick) + 1) * tick
            time.sleep(max(0.0, nxt - time.time()))

    def puller():
        conn = http.client.HTTPConnection(base.hostname, base.port, timeout=30)
        while True:
            with pull_cv:
                while not pull_queue and sending.is_set():
                    pull_cv.wait(0.1)
                if not pull_queue:
                    return
                user, offset, ack = pull_queue.pop(0)
            deadline = ack + 10
            while time.time() < deadline:
                conn.request("GET", f"/v1/predictions/{DEPLOYMENT}?user_id={user}")
                resp = conn.getresponse()
                body = resp.read()
                if resp.status == 200:
                    latest = json.loads(body)["latest"]  # null until a first prediction
                    if latest is not None and int(latest["event"]["offset"]) >= offset:
                        with lock:
                            pulled.append((time.time() - ack) * 1000)
                        break
                time.sleep(0.001)

    senders = [threading.Thread(target=sender, args=(k,)) for k in range(args.senders)]
    pullers = [threading.Thread(target=puller) for _ in range(2)]
    for t in senders + pullers:
        t.start()
    for t in senders:
        t.join()
    elapsed = time.time() - start
    sending.clear()
    for t in pullers:
        t.join()

    # Wait (at most 10 s) for the last predictions to arrive, then collect the receiver's record.
    time.sleep(min(10.0, 1.0 + args.seconds / 10))
    stop.set()
    arrivals = out.get(timeout=30)
    rx.join(10)
    by_user = {}
    for user, offset, t in arrivals:
        by_user.setdefault(user, []).append((offset, t))
    push = []
    for user, events in acked.items():
        # A prediction at offset o reflects every event of its user at or before o (offsets are
        # in commit order), so an event's latency is the earliest arrival among them.
        got = sorted(by_user.get(user, []))
        offsets = [o for o, _ in got]
        earliest = [t for _, t in got]
        for i in range(len(earliest) - 2, -1, -1):
            earliest[i] = min(earliest[i], earliest[i + 1])
        for offset, ack in events:
            i = bisect.bisect_left(offsets, offset)
            if i < len(got):
                push.append(max(0.0, earliest[i] - ack) * 1000)
    n_acked = sum(len(v) for v in acked.values())
    result = {"rate": args.rate, "offered_per_s": round(counts["sent"] / elapsed, 1),
              "acked": n_acked, "errors": counts["errors"],
              "push": {"delivered": len(push), **summary(push)},
              "pull": {"seen": len(pulled), **summary(pulled)},
              "ack": {"requests": len(ack_ms), **summary(ack_ms)}}
    p99 = result["push"]["p99_ms"]
    result["held"] = (len(push) >= 0.999 * max(1, n_acked) and p99 is not None and p99 < 1000
                      and counts["sent"] >= 0.9 * args.rate * args.seconds)
    print(json.dumps(result, separators=(",", ":")))


if __name__ == "__main__":
    main()
