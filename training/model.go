package training

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"gonum.org/v1/gonum/mat"

	"github.com/hydrocast/hydrocast/features"
	"github.com/hydrocast/hydrocast/models"
	"github.com/hydrocast/hydrocast/models/onnxgraph"
)

// Model is one family's fitted model as it is served: missing inputs are replaced by
// the imputer's training means, then a linear map gives the family's outputs,
// followed by the logistic function for a classifier; or a one-hidden-layer network
// gives a classifier's probability.
type Model struct {
	Family  models.Family
	Imputer Imputer
	// Linear has one output per family output; nil when Net is set. For the sweat
	// family the interval's bounds are its second and third columns: the same weights
	// as the first, with the residual quantiles added to the bias.
	Linear *Linear
	// Sigmoid applies the logistic function to Linear's output (a classifier).
	Sigmoid bool
	// Net is a classifier network used instead of Linear; nil for linear models.
	Net *MLP

	// Lambda is the ridge penalty chosen by cross-validation (regression), or the L2
	// penalty of the classifier (logistic regression or network).
	Lambda float64
	// Interval is the sweat family's residual interval; nil for the others.
	Interval *Interval
	// Threshold is the anomaly score at or above which an alarm is raised, chosen on
	// the training athletes; 0 for regression families.
	Threshold float64
}

// Predict returns the model's outputs (rows × outputs) for the raw feature rows x,
// NaN where missing. Inputs are imputed and rounded to float32 first, as the server
// feeds them, so the result is what the exported graph computes up to its float32
// arithmetic.
func (m *Model) Predict(x *mat.Dense) *mat.Dense {
	in := m.Inputs(x)
	if m.Net != nil {
		p := m.Net.Predict(in)
		return mat.NewDense(len(p), 1, p)
	}
	out := m.Linear.Predict(in)
	if m.Sigmoid {
		r, c := out.Dims()
		for i := range r {
			for j := range c {
				out.Set(i, j, sigmoid(out.At(i, j)))
			}
		}
	}
	return out
}

// Inputs returns the rows of x as the model's input tensor receives them: missing
// values imputed, every value rounded to float32.
func (m *Model) Inputs(x *mat.Dense) *mat.Dense {
	in := m.Imputer.Fill(x)
	r, c := in.Dims()
	for i := range r {
		row := in.RawRowView(i)
		for j := range c {
			row[j] = float64(float32(row[j]))
		}
	}
	return in
}

// ExportMeta is what Export writes into the model's metadata_props besides the
// model's own parameters.
type ExportMeta struct {
	// TrainedOn says what the data was: "simulated" or "recorded"; empty means
	// "simulated".
	TrainedOn        string
	CodeVersion      string
	GeneratorVersion string
	Seed             uint64
	DataFingerprint  string
}

// Export builds the model's ONNX graph (opset 13): input features [N, k] float32,
// one [N, 1] output per family output. Its metadata_props carry the family, the
// feature names, the feature schema version, the impute values (see
// models.MetaImputeValues), the alarm threshold of a classifier and the lineage in
// meta. The same model and meta always give the same bytes.
func (m *Model) Export(meta ExportMeta) ([]byte, error) {
	k, outs := m.dims()
	if k != len(m.Family.Features) || outs != len(m.Family.Outputs) {
		return nil, fmt.Errorf("export %s: model is %d×%d, family wants %d×%d",
			m.Family.Name, k, outs, len(m.Family.Features), len(m.Family.Outputs))
	}
	impute, err := json.Marshal(m.Imputer.Means)
	if err != nil {
		return nil, fmt.Errorf("export %s: %w", m.Family.Name, err)
	}
	trainedOn := meta.TrainedOn
	if trainedOn == "" {
		trainedOn = "simulated"
	}
	metadata := map[string]string{
		models.MetaFamily:        m.Family.Name,
		models.MetaFeatures:      strings.Join(m.Family.Features, ","),
		models.MetaSchemaVersion: strconv.Itoa(features.SchemaVersion),
		models.MetaImputeValues:  string(impute),
		models.MetaTrainedOn:     trainedOn,
		models.MetaGenerator:     meta.GeneratorVersion,
		models.MetaSeed:          strconv.FormatUint(meta.Seed, 10),
		models.MetaCodeVersion:   meta.CodeVersion,
		models.MetaData:          meta.DataFingerprint,
	}
	if m.Sigmoid || m.Net != nil {
		metadata[models.MetaAlarmThreshold] = strconv.FormatFloat(m.Threshold, 'g', -1, 64)
	}

	b, err := m.graph(metadata)
	if err != nil {
		return nil, fmt.Errorf("export %s: %w", m.Family.Name, err)
	}
	data, err := b.Marshal()
	if err != nil {
		return nil, fmt.Errorf("export %s: %w", m.Family.Name, err)
	}
	return data, nil
}

// dims returns the model's number of inputs and outputs.
func (m *Model) dims() (inputs, outputs int) {
	if m.Net != nil {
		k, _ := m.Net.W1.Dims()
		return k, 1
	}
	return m.Linear.Weights.Dims()
}

// graph returns the builder of the model's ONNX graph.
func (m *Model) graph(metadata map[string]string) (*onnxgraph.Builder, error) {
	names := make([]string, len(m.Family.Outputs))
	for j, o := range m.Family.Outputs {
		names[j] = o.Name
	}
	name := strings.ReplaceAll(m.Family.Name, "-", "_")
	doc := m.Family.Description + " (hydrocast, trained on " +
		metadata[models.MetaTrainedOn] + " data)"

	if n := m.Net; n != nil {
		return onnxgraph.MLP(onnxgraph.MLPSpec{
			Name: name, Doc: doc,
			Mean: float32s(n.Mean), Scale: float32s(n.Scale),
			Lower: float32s(m.Imputer.Lower), Upper: float32s(m.Imputer.Upper),
			Hidden: []onnxgraph.Layer{{Weights: float32s(n.W1.RawMatrix().Data),
				Bias: float32s(n.B1)}},
			Final:      onnxgraph.Layer{Weights: float32s(n.W2), Bias: []float32{float32(n.B2)}},
			Activation: onnxgraph.ActivationSigmoid,
			Outputs:    names,
			Metadata:   metadata,
		})
	}
	act := onnxgraph.ActivationNone
	if m.Sigmoid {
		act = onnxgraph.ActivationSigmoid
	}
	return onnxgraph.StandardizedLinear(onnxgraph.LinearSpec{
		Name: name, Doc: doc,
		Mean:       float32s(m.Linear.Mean),
		Scale:      float32s(m.Linear.Scale),
		Lower:      float32s(m.Imputer.Lower),
		Upper:      float32s(m.Imputer.Upper),
		Weights:    float32s(m.Linear.Weights.RawMatrix().Data),
		Bias:       float32s(m.Linear.Bias),
		Activation: act,
		Outputs:    names,
		Metadata:   metadata,
	})
}

// float32s converts v to float32, rounding to nearest.
func float32s(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

// withInterval returns a copy of the one-output linear model with two more columns,
// the lower and upper bounds of iv.
func withInterval(l *Linear, iv Interval) *Linear {
	k, _ := l.Weights.Dims()
	w := mat.NewDense(k, 3, nil)
	for i := range k {
		c := l.Weights.At(i, 0)
		w.SetRow(i, []float64{c, c, c})
	}
	b := l.Bias[0]
	return &Linear{Mean: l.Mean, Scale: l.Scale, Weights: w,
		Bias: []float64{b, b + iv.Lower, b + iv.Upper}}
}

// Algorithm names how the model was fitted, for reports and cards.
func (m *Model) Algorithm() string {
	switch {
	case m.Net != nil:
		_, h := m.Net.W1.Dims()
		return fmt.Sprintf("class-balanced neural network (%d ReLU units, sigmoid output, "+
			"L-BFGS)", h)
	case m.Sigmoid:
		return "class-balanced logistic regression (IRLS)"
	case m.Interval != nil:
		return "ridge regression on standardised inputs with a residual-quantile interval"
	}
	return "ridge regression on standardised inputs"
}
