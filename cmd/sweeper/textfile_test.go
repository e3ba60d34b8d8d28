package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestTextfileKeepsLastSuccess: a failed run that writes the textfile of
// the shard a successful run wrote keeps that run's last-success timestamp
// (the documented stale alert needs the series), while its last run and
// exit code are its own; a textfile of another shard carries nothing
// over. On main the failed run's file had no last-success series, so the
// alert never fired.
func TestTextfileKeepsLastSuccess(t *testing.T) {
	good, _ := bucket(t, true)
	bad := "file://" + t.TempDir() // no store: exit 2
	textfile := filepath.Join(t.TempDir(), "sweeper.prom")
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	sweep := func(store, shard string, at time.Time) int {
		var out, errb bytes.Buffer
		return runWith(context.Background(), []string{"--store", store, "--dry-run", "--shard", shard, "--metrics-textfile", textfile},
			&deps{getenv: func(string) string { return "" }, stdout: &out, stderr: &errb, now: func() time.Time { return at }})
	}
	if code := sweep(good, "2/4", t0); code != exitOK {
		t.Fatalf("first run: exit %d", code)
	}
	later := t0.Add(4 * 24 * time.Hour)
	if code := sweep(bad, "2/4", later); code != exitUsage {
		t.Fatalf("failed run: exit %d, want %d", code, exitUsage)
	}
	prom := readTextfile(t, textfile)
	for _, want := range []string{
		`stowage_sweeper_last_success_timestamp_seconds{shard="2-of-4"} ` + promFloat(t0),
		`stowage_sweeper_last_run_timestamp_seconds{shard="2-of-4"} ` + promFloat(later),
		`stowage_sweeper_exit_code{shard="2-of-4"} 2`,
	} {
		if !strings.Contains(prom, want+"\n") {
			t.Errorf("textfile after the failed run lacks %q:\n%s", want, prom)
		}
	}
	if code := sweep(bad, "1/4", later); code != exitUsage {
		t.Fatalf("other shard: exit %d", code)
	}
	if prom := readTextfile(t, textfile); strings.Contains(prom, "last_success") {
		t.Errorf("a failed run of shard 1/4 took shard 2/4's last success:\n%s", prom)
	}
}

func readTextfile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// promFloat is t as the text format writes a timestamp in seconds.
func promFloat(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixNano())/1e9, 'g', -1, 64)
}
