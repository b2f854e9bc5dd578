package notebooks

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

type notebook struct {
	NBFormat int `json:"nbformat"`
	Cells    []struct {
		CellType       string            `json:"cell_type"`
		ExecutionCount *int              `json:"execution_count"`
		Outputs        []json.RawMessage `json:"outputs"`
		Source         []string          `json:"source"`
	} `json:"cells"`
}

func TestNotebooksAreStripped(t *testing.T) {
	paths, err := filepath.Glob("*.ipynb")
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 3 {
		t.Fatalf("notebooks %v, want evaluation, drift and cohort", paths)
	}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var nb notebook
		if err := json.Unmarshal(data, &nb); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if nb.NBFormat != 4 || len(nb.Cells) == 0 {
			t.Errorf("%s: nbformat %d with %d cells", p, nb.NBFormat, len(nb.Cells))
		}
		for i, c := range nb.Cells {
			if len(c.Outputs) > 0 || c.ExecutionCount != nil {
				t.Errorf("%s cell %d keeps outputs: strip them before committing "+
					"(jupyter nbconvert --clear-output --inplace %s)", p, i, p)
			}
		}
	}
}
