package formats

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// nodeModules is the folder `make node-deps` installs the npm packages into, found from the
// module root above the test's directory.
func nodeModules(t *testing.T) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "third_party", "node", "node_modules")
		}
		if filepath.Dir(dir) == dir {
			t.Fatal("no go.mod above the test directory")
		}
		dir = filepath.Dir(dir)
	}
}

// nodeLatents is a latents table as read_latents.mjs reports it for one source.
type nodeLatents struct {
	Columns []struct {
		Name     string `json:"name"`
		Type     string `json:"type"`
		TypeID   string `json:"typeId"`   // apache-arrow only
		ListSize int    `json:"listSize"` // apache-arrow only
		Child    string `json:"child"`    // apache-arrow only
	} `json:"columns"`
	Rows   int         `json:"rows"`
	Set    []string    `json:"set"`
	Sim    []int32     `json:"sim"`
	Map    []int32     `json:"map"`
	Params [][]float64 `json:"params"`
	Mu     [][]float64 `json:"mu"`
	Logvar [][]float64 `json:"logvar"`
}

type nodeReport struct {
	DuckDBVersion string            `json:"duckdb_version"`
	Packages      map[string]string `json:"packages"`
	Parquet       struct {
		nodeLatents
		KV []struct {
			Key   string `json:"key"`
			Value string `json:"value"`
		} `json:"kv"`
	} `json:"parquet"`
	ReadmeMu [][]float64 `json:"readme_mu"`
	Glob     struct {
		nodeLatents
		Parts []struct {
			File string `json:"file"`
			K    int    `json:"k"`
			N    int    `json:"n"`
			Rows int    `json:"rows"`
		} `json:"parts"`
	} `json:"glob"`
	Arrow struct {
		nodeLatents
		Metadata map[string]string `json:"metadata"`
	} `json:"arrow"`
}

// nodeTestMeta is schema metadata as the encoder writes it (trainer.MetaEncoder, MetaSet).
var nodeTestMeta = map[string]string{
	"camelsvae.encoder_sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
	"camelsvae.set":            "LH",
}

// nodeTestLatents is a deterministic table: L=7, three simulations of 15 maps of set LH, with
// negative, tiny (1e-30, subnormal), large (1e30, MaxFloat32) and ordinary float32 values.
// (No -0, NaN or Inf: JSON, the channel back from node, cannot carry them.)
func nodeTestLatents() *Latents {
	const l, perSim = 7, 15
	sims := []int32{11, 402, 999}
	special := []float32{-1e30, 1e30, 1e-30, -1e-30, math.MaxFloat32, -math.MaxFloat32,
		math.SmallestNonzeroFloat32, 1e-40, -2.5, 0.1, 1.0 / 3}
	r := rand.New(rand.NewPCG(7, 45))
	val := func(i int) float32 {
		if i%5 == 0 {
			return special[(i/5)%len(special)]
		}
		return float32(r.NormFloat64() * 3)
	}
	t := &Latents{L: l, Meta: nodeTestMeta}
	for _, sim := range sims {
		for m := range perSim {
			t.Set = append(t.Set, "LH")
			t.Sim = append(t.Sim, sim)
			t.Map = append(t.Map, int32(m))
			var p [6]float32
			for j := range p {
				p[j] = val(len(t.Params)*6 + j + 1)
			}
			t.Params = append(t.Params, p)
			for range l {
				t.Mu = append(t.Mu, val(len(t.Mu)))
				t.Logvar = append(t.Logvar, val(len(t.Logvar)+3))
			}
		}
	}
	return t
}

// latentRows is rows [lo, hi) of t.
func latentRows(t *Latents, lo, hi int) *Latents {
	return &Latents{L: t.L, Set: t.Set[lo:hi], Sim: t.Sim[lo:hi], Map: t.Map[lo:hi], Params: t.Params[lo:hi],
		Mu: t.Mu[lo*t.L : hi*t.L], Logvar: t.Logvar[lo*t.L : hi*t.L], Meta: t.Meta}
}

// sameFloat32 reports where got (JSON numbers from float32 values) differs from want, bit for bit.
func sameFloat32(got []float64, want []float32) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d values, want %d", len(got), len(want))
	}
	for i, g := range got {
		if math.Float32bits(float32(g)) != math.Float32bits(want[i]) || float64(float32(g)) != g {
			return fmt.Errorf("value %d: %v, want %v", i, g, want[i])
		}
	}
	return nil
}

// checkNodeLatents compares every value a tool read with the table written.
func checkNodeLatents(t *testing.T, src string, got *nodeLatents, want *Latents) {
	t.Helper()
	n := want.Len()
	if got.Rows != n || len(got.Set) != n || len(got.Sim) != n || len(got.Map) != n ||
		len(got.Params) != n || len(got.Mu) != n || len(got.Logvar) != n {
		t.Fatalf("%s: %d rows (set %d sim %d map %d params %d mu %d logvar %d), want %d", src, got.Rows,
			len(got.Set), len(got.Sim), len(got.Map), len(got.Params), len(got.Mu), len(got.Logvar), n)
	}
	l := want.L
	for i := range n {
		if got.Set[i] != want.Set[i] || got.Sim[i] != want.Sim[i] || got.Map[i] != want.Map[i] {
			t.Fatalf("%s: row %d is (%q, %d, %d), want (%q, %d, %d)", src, i,
				got.Set[i], got.Sim[i], got.Map[i], want.Set[i], want.Sim[i], want.Map[i])
		}
		for _, c := range []struct {
			name string
			got  []float64
			want []float32
		}{
			{"params", got.Params[i], want.Params[i][:]},
			{"mu", got.Mu[i], want.Mu[i*l : (i+1)*l]},
			{"logvar", got.Logvar[i], want.Logvar[i*l : (i+1)*l]},
		} {
			if err := sameFloat32(c.got, c.want); err != nil {
				t.Fatalf("%s: row %d %s: %v", src, i, c.name, err)
			}
		}
	}
}

// checkDuckDBColumns checks DuckDB's DESCRIBE: the latents columns in order, set VARCHAR,
// sim and map INTEGER, and params/mu/logvar float32 arrays (FLOAT[k], fixed size) or lists
// (FLOAT[]) of them.
func checkDuckDBColumns(t *testing.T, src string, got *nodeLatents, l int) {
	t.Helper()
	want := []struct{ name, typ string }{{"set", "VARCHAR"}, {"sim", "INTEGER"}, {"map", "INTEGER"},
		{"params", "FLOAT[6]"}, {"mu", fmt.Sprintf("FLOAT[%d]", l)}, {"logvar", fmt.Sprintf("FLOAT[%d]", l)}}
	if len(got.Columns) != len(want) {
		t.Fatalf("%s: DuckDB reports columns %+v, want %v", src, got.Columns, want)
	}
	for i, w := range want {
		c := got.Columns[i]
		ok := c.Name == w.name && (c.Type == w.typ || strings.HasSuffix(w.typ, "]") && c.Type == "FLOAT[]")
		if !ok {
			t.Fatalf("%s: DuckDB column %d is %s %s, want %s %s", src, i, c.Name, c.Type, w.name, w.typ)
		}
	}
}

// TestLatentsReadByDuckDBAndArrow writes a latents table as one Parquet file, as three part
// files (part-K-of-3.parquet, one simulation each) and as an Arrow IPC file, and has two
// independent readers check them (testdata/read_latents.mjs): DuckDB reads the single file
// and the parts as one table (glob part-*-of-*.parquet), apache-arrow reads the IPC file.
// Types, row counts and every value must match the writer, floats bit for bit. `make test`
// installs node's packages (make node-deps); the test skips with a message only when they
// or node are absent.
func TestLatentsReadByDuckDBAndArrow(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed; `make test` needs it (apt-get install nodejs)")
	}
	mods := nodeModules(t)
	for _, m := range []string{"@duckdb/node-api", "apache-arrow"} {
		if _, err := os.Stat(filepath.Join(mods, m, "package.json")); err != nil {
			t.Skipf("%s is absent from %s; `make node-deps` installs it", m, mods)
		}
	}
	script, err := filepath.Abs(filepath.Join("testdata", "read_latents.mjs"))
	if err != nil {
		t.Fatal(err)
	}

	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	tab := nodeTestLatents()
	tmp := t.TempDir()
	// The single file sits where the README's example reads it, relative to node's working
	// directory, so the README query runs as written.
	single := filepath.Join("runs", "demo", "latents", "LH.parquet")
	ipcFile := filepath.Join(tmp, "runs", "demo", "latents", "LH.arrow")
	parts := filepath.Join(tmp, "shards")
	for _, d := range []string{filepath.Dir(ipcFile), parts} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := WriteLatentsParquet(filepath.Join(tmp, single), mem, tab); err != nil {
		t.Fatal(err)
	}
	if err := WriteLatentsIPC(ipcFile, mem, tab); err != nil {
		t.Fatal(err)
	}
	const nParts, perPart = 3, 15 // contiguous blocks, one simulation each
	for k := range nParts {
		p := filepath.Join(parts, fmt.Sprintf("part-%d-of-%d.parquet", k, nParts))
		if err := WriteLatentsParquet(p, mem, latentRows(tab, k*perPart, (k+1)*perPart)); err != nil {
			t.Fatal(err)
		}
	}

	cmd := exec.Command(node, script, mods, single, filepath.Join(parts, "part-*-of-*.parquet"), ipcFile)
	cmd.Dir = tmp
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node %s: %v\n%s", filepath.Base(script), err, stderr.String())
	}
	var rep nodeReport
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("node output: %v\n%.2000s", err, out)
	}
	t.Logf("DuckDB %s, packages %v", rep.DuckDBVersion, rep.Packages)

	t.Run("duckdb-parquet", func(t *testing.T) {
		checkDuckDBColumns(t, "LH.parquet", &rep.Parquet.nodeLatents, tab.L)
		checkNodeLatents(t, "LH.parquet", &rep.Parquet.nodeLatents, tab)
		var cols []string
		for _, c := range rep.Parquet.Columns {
			cols = append(cols, c.Name+" "+c.Type)
		}
		t.Logf("DuckDB DESCRIBE: %s", strings.Join(cols, ", "))
		// The Arrow schema metadata ("latent": "7" and Latents.Meta) are Parquet key/value
		// pairs DuckDB sees.
		var keys []string
		latent := ""
		for _, kv := range rep.Parquet.KV {
			keys = append(keys, kv.Key)
			if kv.Key == "latent" {
				latent = kv.Value
			}
		}
		if latent != "7" {
			t.Fatalf("parquet_kv_metadata has keys %q, want latent = 7 (got %q)", keys, latent)
		}
		// Every key of the schema metadata (as apache-arrow reads it from the IPC file) is
		// there with its value; besides them only ARROW:schema, pqarrow's stored schema.
		kv := map[string]string{}
		for _, p := range rep.Parquet.KV {
			if p.Key != "ARROW:schema" {
				kv[p.Key] = p.Value
			}
		}
		want := maps.Clone(nodeTestMeta)
		want["latent"] = "7"
		if !maps.Equal(kv, want) {
			t.Fatalf("parquet_kv_metadata %v, want the schema metadata %v and ARROW:schema", kv, want)
		}
		t.Logf("parquet_kv_metadata keys: %q", keys)
	})
	t.Run("duckdb-readme-mu", func(t *testing.T) {
		// SELECT mu FROM 'runs/demo/latents/LH.parquet': the README's
		// np.stack(pd.read_parquet(path)["mu"].to_numpy()), rows x L in file order.
		if len(rep.ReadmeMu) != tab.Len() {
			t.Fatalf("%d rows, want %d", len(rep.ReadmeMu), tab.Len())
		}
		for i, row := range rep.ReadmeMu {
			if err := sameFloat32(row, tab.Mu[i*tab.L:(i+1)*tab.L]); err != nil {
				t.Fatalf("mu row %d: %v", i, err)
			}
		}
	})
	t.Run("duckdb-parts-glob", func(t *testing.T) {
		checkDuckDBColumns(t, "part-*-of-*.parquet", &rep.Glob.nodeLatents, tab.L)
		if len(rep.Glob.Parts) != nParts {
			t.Fatalf("DuckDB read %d part files %+v, want %d", len(rep.Glob.Parts), rep.Glob.Parts, nParts)
		}
		for k, p := range rep.Glob.Parts {
			if p.K != k || p.N != nParts || p.Rows != perPart ||
				filepath.Base(p.File) != fmt.Sprintf("part-%d-of-%d.parquet", k, nParts) {
				t.Fatalf("part %d is %+v, want part-%d-of-%d.parquet with %d rows", k, p, k, nParts, perPart)
			}
		}
		checkNodeLatents(t, "part-*-of-*.parquet", &rep.Glob.nodeLatents, tab)
	})
	t.Run("apache-arrow-ipc", func(t *testing.T) {
		want := []struct{ name, typeID, child string }{{"set", "Utf8", ""}, {"sim", "Int", ""}, {"map", "Int", ""},
			{"params", "FixedSizeList", "Float32"}, {"mu", "FixedSizeList", "Float32"}, {"logvar", "FixedSizeList", "Float32"}}
		sizes := []int{0, 0, 0, 6, tab.L, tab.L}
		types := []string{"Utf8", "Int32", "Int32"}
		cols := rep.Arrow.Columns
		if len(cols) != len(want) {
			t.Fatalf("apache-arrow reports columns %+v, want %v", cols, want)
		}
		var desc []string
		for i, w := range want {
			c := cols[i]
			ok := c.Name == w.name && c.TypeID == w.typeID && c.ListSize == sizes[i] && c.Child == w.child
			if i < len(types) {
				ok = ok && c.Type == types[i]
			}
			if !ok {
				t.Fatalf("apache-arrow column %d is %+v, want %s %s[%d]<%s>", i, c, w.name, w.typeID, sizes[i], w.child)
			}
			desc = append(desc, c.Name+" "+c.Type)
		}
		t.Logf("apache-arrow schema: %s; metadata %v", strings.Join(desc, ", "), rep.Arrow.Metadata)
		md := maps.Clone(nodeTestMeta)
		md["latent"] = "7"
		if !maps.Equal(rep.Arrow.Metadata, md) {
			t.Fatalf("apache-arrow schema metadata %v, want %v", rep.Arrow.Metadata, md)
		}
		checkNodeLatents(t, "LH.arrow", &rep.Arrow.nodeLatents, tab)
	})
}
