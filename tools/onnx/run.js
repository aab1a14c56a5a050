// Runs an ONNX model in ONNX Runtime on float32 inputs and prints the
// "logits" output as JSON: node run.js model.onnx input.f32 N C H W
const fs = require('fs');
const ort = require('onnxruntime-node');

async function main() {
  const [model, input, ...dims] = process.argv.slice(2);
  const shape = dims.map(Number);
  const buf = fs.readFileSync(input);
  const data = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  const session = await ort.InferenceSession.create(model);
  const out = await session.run({ input: new ort.Tensor('float32', data, shape) });
  const meta = session.handler && session.handler.metadata ? session.handler.metadata : undefined;
  process.stdout.write(JSON.stringify({
    logits: Array.from(out.logits.data),
    dims: out.logits.dims,
    probabilities: Array.from(out.probabilities.data),
    inputs: session.inputNames,
    outputs: session.outputNames,
  }));
}

main().catch((e) => { console.error(String(e)); process.exit(1); });
