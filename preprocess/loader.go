package preprocess

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"golang.org/x/sync/errgroup"

	"github.com/camelsvae/camelsvae/formats"
)

// LoaderOptions configure a Loader.
type LoaderOptions struct {
	// Batch is the number of rows per batch; the last batch of an epoch may be smaller.
	Batch int
	// Workers bounds the goroutines reading and transforming maps (configs.Data.Workers).
	Workers int
	// Prefetch bounds how many batches are prepared ahead of the consumer.
	Prefetch int
	// Shuffle permutes the items each epoch with a generator seeded by (Seed, epoch).
	Shuffle bool
	Seed    int64
	// CacheBytes bounds an in-memory cache of normalised maps (identity variant): with
	// augmentation each map is read 6-8 times per epoch, and again every epoch. Maps past
	// the budget are read from disk each time. 0 disables the cache.
	CacheBytes int64
}

// Loader reads items into Arrow record batches of normalised, augmented maps.
type Loader struct {
	mem     memory.Allocator
	src     *Source
	stats   *Stats
	items   []Item
	opts    LoaderOptions
	schema  *arrow.Schema
	params  map[string][]formats.Params
	floored atomic.Int64
	cache   mapCache
	coef    [][2]float64 // stats.affine()
	xbufs   xPool
}

// xPool recycles the buffers of the batch column x. Every byte of one is overwritten before
// its batch is yielded, so a recycled buffer needs no zeroing; a fresh allocation is zeroed
// by the Go runtime, which took a tenth of the loader's time. The buffers are Go memory,
// not the Loader's allocator's: a Batch's Release hands x back here (Free) and the pool
// keeps up to max of them for the next batches; the rest go to the garbage collector.
type xPool struct {
	mu   sync.Mutex
	free [][]byte
	max  int
}

// get returns a 64-byte aligned buffer of size bytes with arbitrary contents.
func (p *xPool) get(size int) []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := len(p.free) - 1; i >= 0; i-- {
		if b := p.free[i]; cap(b) >= size {
			p.free = slices.Delete(p.free, i, i+1)
			return b[:size]
		}
	}
	return memory.NewGoAllocator().Allocate(size)
}

// Allocate and Reallocate make xPool a memory.Allocator; arrow calls only Free on it.
func (p *xPool) Allocate(size int) []byte { return p.get(size) }

func (p *xPool) Reallocate(size int, b []byte) []byte {
	if cap(b) >= size {
		return b[:size]
	}
	nb := p.get(size)
	copy(nb, b)
	p.Free(b)
	return nb
}

// Free takes back a released batch's x buffer.
func (p *xPool) Free(b []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.free) < p.max {
		p.free = append(p.free, b[:cap(b)])
	}
}

// mapCache holds normalised maps by (set, map) up to a byte budget. Entries are written once
// and never evicted, so a hit returns exactly what a read would have produced.
type mapCache struct {
	mu     sync.RWMutex
	m      map[cacheKey][]float32
	used   int64
	budget int64
}

type cacheKey struct {
	set string
	m   int32
}

func (c *mapCache) get(k cacheKey) []float32 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.m[k]
}

func (c *mapCache) put(k cacheKey, v []float32) {
	size := int64(4 * len(v))
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.used+size > c.budget || c.m[k] != nil {
		return
	}
	if c.m == nil {
		c.m = map[cacheKey][]float32{}
	}
	c.m[k] = append([]float32(nil), v...)
	c.used += size
}

// Batch is one batch of rows. X is a float32 view of the "x" column's buffer (len
// N*3*Size*Size, row-major (N, 3, H, W)) that a runtime can wrap without a copy; it is valid
// until Release.
type Batch struct {
	Rec   arrow.RecordBatch
	X     []float32
	N     int
	Items []Item
	// Index is the batch number within the epoch; Partial marks a last batch with N < Batch.
	Index   int
	Partial bool
}

// Release frees the batch's Arrow memory; X must not be used afterwards (its buffer is
// recycled into a later batch).
func (b *Batch) Release() {
	if b.Rec != nil {
		b.Rec.Release()
		b.Rec = nil
		b.X = nil
	}
}

// NewLoader checks items against src and stats and returns a loader over them. mem
// allocates the batches' metadata columns; their x buffers come from the loader's own pool
// of Go memory (see xPool).
func NewLoader(mem memory.Allocator, src *Source, stats *Stats, items []Item, opts LoaderOptions) (*Loader, error) {
	if opts.Batch <= 0 {
		return nil, fmt.Errorf("preprocess: loader batch %d, want > 0", opts.Batch)
	}
	opts.Workers = max(1, opts.Workers)
	opts.Prefetch = max(1, opts.Prefetch)
	if err := stats.Check(src); err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, errors.New("preprocess: loader has no items")
	}
	l := &Loader{mem: mem, src: src, stats: stats, items: items, opts: opts, cache: mapCache{budget: opts.CacheBytes},
		schema: formats.BatchSchema(src.Channels(), src.Size, src.Size), params: map[string][]formats.Params{}, coef: stats.affine(),
		xbufs: xPool{max: opts.Prefetch + 2}}
	for i, it := range items {
		o, err := src.set(it.Set)
		if err != nil {
			return nil, fmt.Errorf("preprocess: item %d: %w", i, err)
		}
		if it.Map < 0 || int(it.Map) >= o.maps.Len() || it.Variant < Identity || it.Variant > AntiTranspose {
			return nil, fmt.Errorf("preprocess: item %d: map %d variant %d of set %s, want map in [0, %d) and variant in [0, 8)",
				i, it.Map, it.Variant, it.Set, o.maps.Len())
		}
		l.params[it.Set] = o.params
	}
	return l, nil
}

// Schema is the batches' Arrow schema.
func (l *Loader) Schema() *arrow.Schema { return l.schema }

// NumBatches is the number of batches per epoch (the last one may be partial).
func (l *Loader) NumBatches() int { return (len(l.items) + l.opts.Batch - 1) / l.opts.Batch }

// Len is the number of items per epoch.
func (l *Loader) Len() int { return len(l.items) }

// Floored is how many values the log floor has replaced so far (for a warning).
func (l *Loader) Floored() int64 { return l.floored.Load() }

// Order returns the item order of an epoch: a permutation seeded by (Seed, epoch) when
// shuffling, the given order otherwise.
func (l *Loader) Order(epoch int) []Item {
	out := slices.Clone(l.items)
	if l.opts.Shuffle {
		rng := rand.New(rand.NewPCG(uint64(l.opts.Seed), uint64(epoch)))
		rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	}
	return out
}

type pending struct {
	b   *Batch
	wg  sync.WaitGroup
	mu  sync.Mutex
	err error
}

func (p *pending) fail(err error) {
	p.mu.Lock()
	if p.err == nil {
		p.err = err
	}
	p.mu.Unlock()
}

// Epoch yields the batches of one epoch in order. Up to Workers goroutines fill batches
// (each row into its own slot) while up to Prefetch batches wait ready; the consumer must
// Release each batch. Stopping the loop early, or cancelling ctx, stops the workers; the
// first error (naming file, map and field) is yielded with a nil batch and ends the epoch.
func (l *Loader) Epoch(ctx context.Context, epoch int) iter.Seq2[*Batch, error] {
	return func(yield func(*Batch, error) bool) {
		order := l.Order(epoch)
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(l.opts.Workers)
		queue := make(chan *pending, l.opts.Prefetch)
		go func() {
			defer close(queue)
			for k := 0; k < l.NumBatches(); k++ {
				if gctx.Err() != nil {
					return
				}
				items := order[k*l.opts.Batch : min(len(order), (k+1)*l.opts.Batch)]
				p := &pending{}
				b, err := l.newBatch(k, items)
				if err != nil {
					p.err = err
					queue <- p
					return
				}
				p.b = b
				p.wg.Add(len(items))
				queue <- p
				for j := range items {
					g.Go(func() error {
						defer p.wg.Done()
						if err := gctx.Err(); err != nil {
							p.fail(err)
							return err
						}
						if err := l.fill(b, j); err != nil {
							p.fail(err)
							return err
						}
						return nil
					})
				}
			}
		}()
		// drain releases every batch still queued once its workers are done, then waits.
		drain := func() error {
			cancel()
			for p := range queue {
				p.wg.Wait()
				if p.b != nil {
					p.b.Release()
				}
			}
			return g.Wait()
		}
		for p := range queue {
			p.wg.Wait()
			if p.err != nil {
				if p.b != nil {
					p.b.Release()
				}
				gerr := drain()
				err := p.err
				// A row that saw the group's cancellation reports the error that caused it.
				if errors.Is(err, context.Canceled) && gerr != nil && !errors.Is(gerr, context.Canceled) {
					err = gerr
				}
				yield(nil, err)
				return
			}
			if !yield(p.b, nil) {
				drain()
				return
			}
		}
		if err := g.Wait(); err != nil {
			yield(nil, err)
		}
	}
}

// newBatch allocates a batch for items with its metadata columns filled.
func (l *Loader) newBatch(k int, items []Item) (*Batch, error) {
	n := len(items)
	size := l.src.Channels() * l.src.Size * l.src.Size
	buf := memory.NewBufferWithAllocator(l.xbufs.get(4*n*size), &l.xbufs)
	defer buf.Release()
	cols := formats.BatchColumns{
		Set: make([]string, n), Sim: make([]int32, n), Map: make([]int32, n),
		Variant: make([]int8, n), Params: make([][6]float32, n),
	}
	for i, it := range items {
		cols.Set[i], cols.Sim[i], cols.Map[i], cols.Variant[i] = it.Set, it.Map/formats.MapsPerSim, it.Map, int8(it.Variant)
		p := l.params[it.Set][it.Map/formats.MapsPerSim]
		for j := range p {
			cols.Params[i][j] = float32(p[j])
		}
	}
	rec, err := formats.NewBatchRecord(l.mem, l.schema, buf, cols)
	if err != nil {
		return nil, err
	}
	return &Batch{Rec: rec, X: arrow.Float32Traits.CastFromBytes(buf.Bytes()), N: n, Items: items, Index: k,
		Partial: n < l.opts.Batch}, nil
}

var mapPool sync.Pool // *[]float32 of Channels*Size*Size (reallocated when that differs)

// fill writes row j of b: read, transform, z-score, augment. Without a cache that is one
// fused pass per channel straight into the batch; with one, the identity map is cached and
// the variant applied from it.
func (l *Loader) fill(b *Batch, j int) error {
	it := b.Items[j]
	n := l.src.Size * l.src.Size
	nc := l.src.Channels()
	dst := b.X[j*nc*n : (j+1)*nc*n]
	if l.opts.CacheBytes <= 0 {
		return l.readNormalizedDisk(it, it.Variant, dst)
	}
	if it.Variant == Identity {
		return l.readNormalized(it, dst)
	}
	bp, _ := mapPool.Get().(*[]float32)
	if bp == nil || len(*bp) != nc*n {
		s := make([]float32, nc*n)
		bp = &s
	}
	defer mapPool.Put(bp)
	if err := l.readNormalized(it, *bp); err != nil {
		return err
	}
	for c := range nc {
		ApplyVariant(dst[c*n:(c+1)*n], (*bp)[c*n:(c+1)*n], l.src.Size, it.Variant)
	}
	return nil
}

// readNormalized reads the identity variant of it through the cache.
func (l *Loader) readNormalized(it Item, dst []float32) error {
	key := cacheKey{it.Set, it.Map}
	if v := l.cache.get(key); v != nil {
		copy(dst, v)
		return nil
	}
	if err := l.readNormalizedDisk(it, Identity, dst); err != nil {
		return err
	}
	l.cache.put(key, dst)
	return nil
}

// readNormalizedDisk reads variant v of it's map from disk, normalised, into dst.
func (l *Loader) readNormalizedDisk(it Item, v Variant, dst []float32) error {
	f, err := l.src.readAffine(it.Set, int(it.Map), v, l.coef, dst)
	if f > 0 {
		l.floored.Add(int64(f))
	}
	return err
}

// ReadNormalized reads map m of a set as the model sees it: transformed, z-scored with
// stats and turned by variant v, into dst (len 3*Size*Size). It returns the floored count.
func ReadNormalized(src *Source, stats *Stats, set string, m int, v Variant, dst []float32) (floored int, err error) {
	return src.readAffine(set, m, v, stats.affine(), dst)
}
