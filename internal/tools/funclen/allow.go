package main

// allowed are functions over the limit in files other branches own today.
// Temporary: to be removed when merged (the integrator deletes an entry
// once the branch that splits the function is merged; funclen fails on an
// entry that names no long function, so none outlives its function).
var allowed = map[string]bool{
	"internal/sim/sim_test.go:runWorld": true, // internal/sim
}
