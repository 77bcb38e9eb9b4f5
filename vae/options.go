package vae

import (
	"github.com/camelsvae/camelsvae/configs"
	"github.com/camelsvae/camelsvae/graphs"
)

// OptionsFrom maps a run config onto the model's options: model.*, loss.*, train.beta1/
// beta2/eps, data.size, and the lowering runtime.provider wants.
func OptionsFrom(cfg configs.Config) Options {
	o := Options{
		Size: int64(cfg.Data.Size), Channels: int64(len(cfg.Data.Fields)), Latent: int64(cfg.Model.Latent),
		Skips: cfg.Model.Skips, LeakySlope: cfg.Model.LeakySlope,
		Loss: LossOptions{MSEWeight: cfg.Loss.MSEWeight, SSIMWeight: cfg.Loss.SSIMWeight, FreeBits: cfg.Loss.FreeBits,
			DataRange: cfg.Loss.DataRange, SSIMWindow: cfg.Loss.SSIMWindow, SSIMSigma: cfg.Loss.SSIMSigma},
		Adam:   AdamOptions{Beta1: cfg.Train.Beta1, Beta2: cfg.Train.Beta2, Eps: cfg.Train.Eps},
		Target: graphs.TargetFor(cfg.Runtime.Provider),
	}
	for _, w := range cfg.Model.ChannelWidths() {
		o.Widths = append(o.Widths, int64(w))
	}
	return o
}

// FromConfig is New(OptionsFrom(cfg)).
func FromConfig(cfg configs.Config) (*VAE, error) { return New(OptionsFrom(cfg)) }
