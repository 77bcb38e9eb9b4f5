package trainer

import (
	"context"

	"github.com/camelsvae/camelsvae/preprocess"
)

// LoaderFeed adapts a preprocess.Loader to a Feed.
func LoaderFeed(l *preprocess.Loader) Feed { return loaderFeed{l} }

type loaderFeed struct{ l *preprocess.Loader }

func (f loaderFeed) Batches() int { return f.l.NumBatches() }

func (f loaderFeed) Epoch(ctx context.Context, epoch, skip int, fn func(x []float32, n int) error) error {
	for b, err := range f.l.Epoch(ctx, epoch) {
		if err != nil {
			return err
		}
		if b.Index < skip {
			b.Release()
			continue
		}
		err := fn(b.X, b.N)
		b.Release()
		if err != nil {
			return err
		}
	}
	return ctx.Err()
}
