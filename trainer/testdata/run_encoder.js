// Runs an exported encoder.onnx with onnxruntime-node, a second ONNX consumer, and writes mu.
// Usage: node run_encoder.js MODULE_DIR encoder.onnx x.f32 N C S out.f32
// x.f32 and out.f32 are raw little-endian float32 arrays.
const fs = require('fs');
const [moduleDir, model, xPath, n, c, s, outPath] = process.argv.slice(2);
const ort = require(moduleDir);
(async () => {
  const session = await ort.InferenceSession.create(model);
  const buf = fs.readFileSync(xPath);
  const x = new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4);
  const feeds = { x: new ort.Tensor('float32', x, [Number(n), Number(c), Number(s), Number(s)]) };
  const out = await session.run(feeds, ['mu']);
  fs.writeFileSync(outPath, Buffer.from(out.mu.data.buffer, out.mu.data.byteOffset, out.mu.data.byteLength));
})().catch((e) => { console.error(e); process.exit(1); });
