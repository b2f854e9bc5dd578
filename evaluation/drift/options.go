package drift

// Method names a drift test: how a feature's reference and live data are compared.
type Method string

// The drift tests. KS and chi-square give a p-value (drift when below the
// threshold); the others give a distance (drift when at or above it).
const (
	MethodKS            Method = "ks"
	MethodChiSquare     Method = "chi_square"
	MethodWasserstein   Method = "wasserstein_norm"
	MethodJensenShannon Method = "jensen_shannon"
	MethodPSI           Method = "psi"
)

// PValue reports whether the test's score is a p-value rather than a distance.
func (t Method) PValue() bool { return t == MethodKS || t == MethodChiSquare }

// needsSample reports whether the test compares raw values, which a categorical
// feature does not have.
func (t Method) needsSample() bool { return t == MethodKS || t == MethodWasserstein }

// valid reports whether t is one of the tests above.
func (t Method) valid() bool {
	switch t {
	case MethodKS, MethodChiSquare, MethodWasserstein, MethodJensenShannon, MethodPSI:
		return true
	}
	return false
}

// Options choose the test and threshold of each feature and the dataset verdict.
// A zero field selects the value DefaultOptions gives it.
type Options struct {
	// SmallSample is the largest number of reference values for which the
	// small-sample tests are chosen: KS for numbers, chi-square for categories.
	// Above it, normalised Wasserstein and Jensen–Shannon. Default 1000.
	SmallSample int `json:"small_sample"`
	// Alpha is the significance level of KS and chi-square: drift when p < Alpha.
	// Default 0.05.
	Alpha float64 `json:"alpha"`
	// Wasserstein is the normalised Wasserstein distance (in reference standard
	// deviations) at or above which a feature drifts. Default 0.1.
	Wasserstein float64 `json:"wasserstein"`
	// JensenShannon is the Jensen–Shannon distance (base 2, in [0, 1]) at or above
	// which a feature drifts. Default 0.1.
	JensenShannon float64 `json:"jensen_shannon"`
	// PSIModerate and PSIMajor grade PSI; PSIModerate is also the drift threshold
	// when PSI is a feature's test. Defaults 0.1 and 0.25.
	PSIModerate float64 `json:"psi_moderate"`
	PSIMajor    float64 `json:"psi_major"`
	// DatasetShare is the share of evaluated features (in (0, 1]) that must drift
	// for the dataset to drift. Default 0.5.
	DatasetShare float64 `json:"dataset_share"`
	// MinCount is the fewest finite values the reference and the live data (or a
	// time bucket) must each hold for a verdict; below it a feature is reported as
	// not having enough data. Default 30.
	MinCount int `json:"min_count"`
	// Tests overrides the test of the named features.
	Tests map[string]Method `json:"tests,omitempty"`
	// Thresholds overrides the threshold of the named features, in the unit of
	// their test (a significance level for KS and chi-square, a distance else).
	Thresholds map[string]float64 `json:"thresholds,omitempty"`
}

// DefaultOptions returns the defaults described on Options.
func DefaultOptions() Options {
	return Options{
		SmallSample:   1000,
		Alpha:         0.05,
		Wasserstein:   0.1,
		JensenShannon: 0.1,
		PSIModerate:   0.1,
		PSIMajor:      0.25,
		DatasetShare:  0.5,
		MinCount:      30,
	}
}

// withDefaults returns o with every zero or out-of-range field set to its default.
func (o Options) withDefaults() Options {
	d := DefaultOptions()
	pick := func(v *float64, def float64) {
		if !(*v > 0) || !finite(*v) {
			*v = def
		}
	}
	pick(&o.Alpha, d.Alpha)
	pick(&o.Wasserstein, d.Wasserstein)
	pick(&o.JensenShannon, d.JensenShannon)
	pick(&o.PSIModerate, d.PSIModerate)
	pick(&o.PSIMajor, d.PSIMajor)
	pick(&o.DatasetShare, d.DatasetShare)
	o.DatasetShare = min(o.DatasetShare, 1)
	if o.SmallSample <= 0 {
		o.SmallSample = d.SmallSample
	}
	if o.MinCount <= 0 {
		o.MinCount = d.MinCount
	}
	return o
}

// testFor returns the test of a feature and its threshold.
func (o Options) testFor(f *FeatureProfile) (Method, float64) {
	t, ok := o.Tests[f.Name]
	if !ok || !t.valid() {
		t = o.defaultTest(f)
	}
	th, ok := o.Thresholds[f.Name]
	if !ok || !(th > 0) || !finite(th) {
		th = o.threshold(t)
	}
	return t, th
}

// defaultTest follows Evidently's choice by feature type and reference size.
func (o Options) defaultTest(f *FeatureProfile) Method {
	small := f.Count <= int64(o.SmallSample)
	switch {
	case f.Discrete() && small:
		return MethodChiSquare
	case f.Discrete():
		return MethodJensenShannon
	case small:
		return MethodKS
	}
	return MethodWasserstein
}

// threshold returns the default threshold of test t.
func (o Options) threshold(t Method) float64 {
	switch t {
	case MethodWasserstein:
		return o.Wasserstein
	case MethodJensenShannon:
		return o.JensenShannon
	case MethodPSI:
		return o.PSIModerate
	}
	return o.Alpha
}
