// The benchmark's floor: plain node:http doing the same JSON work as POST /predict (parse, validate, w.x + b,
// answer with a random trace id), with no framework, no logging and no telemetry.
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';

const port = Number(process.argv[2] ?? 0);
const server = createServer((req, res) => {
  if (req.method === 'GET') {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ready"}');
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    let features: unknown;
    try {
      features = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { features?: unknown }).features;
    } catch {
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"detail":"bad json"}');
      return;
    }
    if (!Array.isArray(features) || features.length === 0 || !features.every((x) => typeof x === 'number' && Number.isFinite(x))) {
      res.writeHead(422, { 'content-type': 'application/json' }).end('{"detail":"invalid"}');
      return;
    }
    let sum = 0;
    for (const x of features as number[]) sum += x;
    const body = JSON.stringify({ prediction: sum, model_name: 'simple-linear-demo', latency_ms: 0, trace_id: randomUUID().replaceAll('-', '') });
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  });
});
server.listen(port, '127.0.0.1', () => {
  const address = server.address();
  console.log(`Server running on http://127.0.0.1:${typeof address === 'object' && address ? address.port : port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
