// Times an ONNX model in ONNX Runtime on random inputs and prints JSON:
//   node bench.js model.onnx C H W [threads]   (or: model.onnx CxL [threads] for a signal)
// batch 1000: median of 15 runs after 3 warm-ups; batch 1: median of 300.
// One InferenceSession with intraOpNumThreads = threads (default 2) and
// all graph optimisations, as a user tuning it for a 2-core CPU would.
const ort = require('onnxruntime-node');

function median(a) { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; }

async function main() {
  // The input shape is C H W, or one argument such as 1x2048 (a signal).
  const args = process.argv.slice(2);
  const model = args[0];
  const signal = args[1].includes('x');
  const shape = signal ? args[1].split('x').map(Number) : args.slice(1, 4).map(Number);
  const threads = signal ? args[2] : args[4];
  const per = shape.reduce((a, b) => a * b, 1);
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: Number(threads || 2), interOpNumThreads: 1, graphOptimizationLevel: 'all',
  });
  const run = async (n) => {
    const data = new Float32Array(n * per).map(() => Math.random() * 2 - 1);
    const feeds = { input: new ort.Tensor('float32', data, [n, ...shape]) };
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    return Number(process.hrtime.bigint() - t0) / 1e6; // ms
  };
  for (let i = 0; i < 3; i++) await run(1000);
  const big = [];
  for (let i = 0; i < 15; i++) big.push(await run(1000));
  for (let i = 0; i < 30; i++) await run(1);
  const one = [];
  for (let i = 0; i < 300; i++) one.push(await run(1));
  process.stdout.write(JSON.stringify({
    infer_b1000_img_s: 1000 / (median(big) / 1000), latency_b1_ms: median(one), threads: Number(threads || 2),
  }) + '\n');
}

main().catch((e) => { console.error(String(e)); process.exit(1); });
