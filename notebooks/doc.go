// Package notebooks holds the researchers' Jupyter notebooks (evaluation.ipynb,
// drift.ipynb, cohort.ipynb), kept with their outputs stripped; scripts/notebooks.sh
// executes them on inputs the binary makes. Its test checks that they stay stripped.
package notebooks
