package session

import (
	"fmt"
	"math"
)

// ledgerKey identifies a ledger row.
type ledgerKey struct{ source, model string }

// mergeLedger adds deltas into rows, merging per (source, model) and
// saturating at the int64 bounds. Row order is first appearance. It looks
// each delta up in an index of the rows: time linear in len(rows) and
// len(deltas) together, whatever their keys.
func mergeLedger(rows []TokenLedgerEntry, deltas []TokenLedgerEntry) []TokenLedgerEntry {
	if len(deltas) == 0 {
		return rows
	}
	at := make(map[ledgerKey]int, len(rows))
	for i := len(rows) - 1; i >= 0; i-- {
		at[ledgerKey{rows[i].Source, rows[i].Model}] = i // the first row of a key wins
	}
	step("ledger", len(rows))
	for _, d := range deltas {
		step("ledger", 1)
		k := ledgerKey{d.Source, d.Model}
		i, ok := at[k]
		if !ok {
			i = len(rows)
			at[k] = i
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

// minLedgerRowBytes is the least one ledger row takes in the head's JSON
// besides its source and model: its keys, seven one-digit counters and a
// separator.
const minLedgerRowBytes = len(`{"source":"","model":"","input":0,"output":0,"cache_read_input":0,"cache_write_input":0,"reasoning_output":0},`)

// checkLedgerSize refuses a ledger whose rows cannot fit the head: the
// least their JSON takes is over MaxHeadBytes.
func checkLedgerSize(rows []TokenLedgerEntry) error {
	var n int64
	for i := range rows {
		n += int64(minLedgerRowBytes + len(rows[i].Source) + len(rows[i].Model))
	}
	if n > MaxHeadBytes {
		return &TooLargeError{What: fmt.Sprintf("usage ledger of %d rows", len(rows)), Size: n, Limit: MaxHeadBytes}
	}
	return nil
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
