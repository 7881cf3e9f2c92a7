-- wrk script for scripts/bench.ts: POST /predict with the guide body.
wrk.method = "POST"
wrk.body   = '{"features": [0.5, 1.5, 2.0]}'
wrk.headers["Content-Type"] = "application/json"
