package evaluation_test

import (
	"fmt"

	"github.com/hydrocast/hydrocast/evaluation"
)

// Two versions scored on the same six sessions: B's errors are half of A's.
func ExampleCompare() {
	labels := []float64{1.1, 0.8, 1.6, 1.3, 0.9, 1.2} // sweat rate, L/h
	a := evaluation.Predictions{Label: labels, Pred: []float64{1.3, 0.5, 1.2, 1.5, 1.2, 1.0}}
	b := evaluation.Predictions{Label: labels, Pred: []float64{1.2, 0.65, 1.4, 1.4, 1.05, 1.1}}

	c, err := evaluation.Compare(a, b, evaluation.BootstrapOptions{Seed: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	d := c.Differences[0]
	fmt.Printf("%s: A %.3f, B %.3f, B−A %.3f, better: %s\n", d.Metric, d.A, d.B, d.Diff, d.Better)
	// Output:
	// mae: A 0.267, B 0.133, B−A -0.133, better: b
}
