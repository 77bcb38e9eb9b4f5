// Package eval measures how well maps are reconstructed and what latents carry, draws the
// figures and writes the report.
//
// # Maps
//
// A map is a []float32 of C channels of H x W pixels in C order ([C][H][W]), on the
// normalised (z-scored) scale the models see; a batch is a [][]float32 of such maps with one
// Shape. Every metric is computed per map and channel in float64.
//
// # Definitions (the study's, checked against outside references)
//
//   - MSE: mean squared error over the pixels of a channel (or of a whole map).
//   - PSNR: 10 log10(R^2 / MSE) with R = 1, the study's convention on z-scored maps; PSNRTarget
//     uses the target's own range R = max - min instead. Equal to scikit-image's
//     peak_signal_noise_ratio with data_range R.
//   - SSIM: scikit-image's structural_similarity with gaussian_weights=True, sigma=1.5,
//     truncate 3.5 (11 taps), use_sample_covariance=False, K1 = 0.01, K2 = 0.03, data_range 1,
//     averaged over the valid region (the 5-pixel border cropped), then over channels.
//   - Paired t-test: scipy.stats.ttest_rel; KS: scipy.stats.ks_2samp's statistic with the
//     asymptotic Kolmogorov p-value.
//
// # Failures
//
// Data that a metric cannot score is an error with an "eval:" prefix, one line, naming the map:
// batches of different lengths, a map that does not fit its Shape, maps smaller than the
// SSIM's 11x11 window. A programming mistake inside a call (a stride below 1, a label out of
// range) panics; I/O failures are returned as wrapped errors.
package eval
