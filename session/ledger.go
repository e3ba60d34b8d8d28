package session

import "math"

// mergeLedger adds deltas into rows, merging per (source, model) and
// saturating at the int64 bounds. Row order is first appearance.
func mergeLedger(rows []TokenLedgerEntry, deltas []TokenLedgerEntry) []TokenLedgerEntry {
	for _, d := range deltas {
		i := 0
		for i < len(rows) && (rows[i].Source != d.Source || rows[i].Model != d.Model) {
			i++
		}
		if i == len(rows) {
			rows = append(rows, TokenLedgerEntry{Source: d.Source, Model: d.Model})
		}
		r := &rows[i]
		r.Input = satAdd(r.Input, d.Input)
		r.Output = satAdd(r.Output, d.Output)
		r.CacheReadInput = satAdd(r.CacheReadInput, d.CacheReadInput)
		r.CacheWriteInput = satAdd(r.CacheWriteInput, d.CacheWriteInput)
		r.ReasoningOutput = satAdd(r.ReasoningOutput, d.ReasoningOutput)
	}
	return rows
}

func satAdd(a, b int64) int64 {
	s := a + b
	switch {
	case a > 0 && b > 0 && s < 0:
		return math.MaxInt64
	case a < 0 && b < 0 && s >= 0:
		return math.MinInt64
	}
	return s
}
