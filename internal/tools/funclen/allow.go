package main

// allowed are functions over the limit in files other branches own today.
// Temporary: to be removed when merged (the integrator deletes an entry
// once the branch that splits the function is merged; funclen fails on an
// entry that names no long function, so none outlives its function).
var allowed = map[string]bool{
	"budget_test.go:measureBudgetOps":                        true, // root budget test (perf)
	"internal/sim/sim_test.go:runWorld":                      true, // internal/sim
	"session/blocks_test.go:TestSchema1SegmentsStayReadable": true, // session reads (longread)
}
