// read_latents.mjs reads camelsvae latents tables with two independent tools and prints what
// they see as one JSON object on stdout, for formats/node_test.go to check against the writer:
//
//   node read_latents.mjs NODE_MODULES SINGLE.parquet 'DIR/part-*-of-*.parquet' FILE.arrow
//
// NODE_MODULES is the node_modules folder holding @duckdb/node-api and apache-arrow (`make
// node-deps` installs them into third_party/node; ES modules ignore NODE_PATH, so the folder
// is passed in). DuckDB reads the single Parquet file and the part files as one table;
// apache-arrow's tableFromIPC reads the Arrow IPC file. Per source the output holds the
// column names and types as the tool reports them, the row count and every value in row
// order. Floats are JSON numbers: a float32 widened to a JS double prints in the shortest
// form that parses back to the same double, so float32(parsed) is bit-exact.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const [modules, single, glob, ipcPath] = process.argv.slice(2);
if (!ipcPath) {
  console.error('usage: node read_latents.mjs NODE_MODULES SINGLE.parquet PARTS_GLOB FILE.arrow');
  process.exit(2);
}
const require = createRequire(join(modules, 'read_latents.cjs'));
const { DuckDBInstance } = require('@duckdb/node-api');
const arrow = require('apache-arrow');

const COLS = ['set', 'sim', 'map', 'params', 'mu', 'logvar'];
const lit = (s) => `'${s.replaceAll("'", "''")}'`;

// Everything DuckDB needs for Parquet is built in; never reach for the network.
const db = await DuckDBInstance.create(':memory:', {
  autoinstall_known_extensions: 'false',
  autoload_known_extensions: 'false',
});
const con = await db.connect();
const rows = async (sql) => (await con.runAndReadAll(sql)).getRowObjectsJson();

// describe is DESCRIBE's column names and types, in column order.
async function describe(from) {
  return (await rows(`DESCRIBE SELECT * FROM ${from}`)).map((r) => ({ name: r.column_name, type: r.column_type }));
}

// columns turns row objects into one array per latents column.
function columns(objs) {
  const out = { rows: objs.length };
  for (const c of COLS) out[c] = objs.map((r) => r[c]);
  return out;
}

const out = {};
const version = await rows('SELECT version() AS v');
out.duckdb_version = version[0].v;
const pkg = (name) => JSON.parse(readFileSync(join(modules, name, 'package.json'), 'utf8')).version;
out.packages = { '@duckdb/node-api': pkg('@duckdb/node-api'), 'apache-arrow': pkg('apache-arrow') };

// (a) One Parquet file, in file order (file_row_number, not the scan's order).
{
  const from = `read_parquet(${lit(single)}, hive_partitioning = false)`;
  const objs = await rows(
    `SELECT ${COLS.join(', ')} FROM read_parquet(${lit(single)}, file_row_number = true, hive_partitioning = false) ORDER BY file_row_number`);
  out.parquet = { columns: await describe(from), ...columns(objs) };
  // The file's key/value metadata (the Arrow schema metadata "latent" and ARROW:schema).
  out.parquet.kv = await rows(
    `SELECT decode(key) AS key, decode(value) AS value FROM parquet_kv_metadata(${lit(single)})`);
  // The pandas line in the README, `np.stack(pd.read_parquet(path)["mu"].to_numpy())`, as a
  // plain DuckDB query: one row of L floats per map, in file order.
  out.readme_mu = (await rows(`SELECT mu FROM ${lit(single)}`)).map((r) => r.mu);
}

// (b) The part files as one table. A glob's file order is DuckDB's business (and sorts
// part-10 before part-2), so order explicitly: K parsed from each file name, then the row's
// position in its file. A name that does not parse fails the cast instead of sorting silently.
{
  const from = `read_parquet(${lit(glob)}, hive_partitioning = false)`;
  const objs = await rows(`
    SELECT ${COLS.join(', ')}, filename,
      CAST(regexp_extract(filename, 'part-([0-9]+)-of-[0-9]+\\.parquet$', 1) AS INTEGER) AS k,
      CAST(regexp_extract(filename, 'part-[0-9]+-of-([0-9]+)\\.parquet$', 1) AS INTEGER) AS n
    FROM read_parquet(${lit(glob)}, filename = true, file_row_number = true, hive_partitioning = false)
    ORDER BY k, file_row_number`);
  const parts = [];
  for (const r of objs) {
    const last = parts[parts.length - 1];
    if (last && last.file === r.filename) last.rows++;
    else parts.push({ file: r.filename, k: r.k, n: r.n, rows: 1 });
  }
  out.glob = { columns: await describe(from), parts, ...columns(objs) };
}

// (c) The Arrow IPC file with apache-arrow.
{
  const table = arrow.tableFromIPC(readFileSync(ipcPath));
  const fields = table.schema.fields.map((f) => ({
    name: f.name,
    type: String(f.type),
    typeId: arrow.Type[f.type.typeId],
    listSize: f.type.listSize,
    child: f.type.children?.length ? String(f.type.children[0].type) : undefined,
  }));
  const vals = { rows: table.numRows };
  for (const c of COLS) {
    const col = table.getChild(c);
    if (!col) throw new Error(`${ipcPath}: no column ${c}`);
    vals[c] = Array.from({ length: table.numRows }, (_, i) => {
      const v = col.get(i);
      return typeof v === 'object' && v !== null ? Array.from(v) : v;
    });
  }
  out.arrow = { columns: fields, metadata: Object.fromEntries(table.schema.metadata), ...vals };
}

con.closeSync();
db.closeSync();
process.stdout.write(JSON.stringify(out) + '\n');
