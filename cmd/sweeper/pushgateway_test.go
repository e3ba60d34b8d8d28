package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stowage-dev/stowage/gc"
	"github.com/stowage-dev/stowage/internal/testenv"
	"github.com/stowage-dev/stowage/objstore/fsstore"
)

// pgGroup is one group of the Pushgateway's /api/v1/metrics answer: its
// grouping labels and, by metric name, the family with its samples.
type pgGroup struct {
	Labels  map[string]string
	Metrics map[string]pgFamily
}

type pgFamily struct {
	Type    string `json:"type"`
	Metrics []struct {
		Labels map[string]string `json:"labels"`
		Value  string            `json:"value"`
	} `json:"metrics"`
}

// readGroup reads the group job/shard back from the Pushgateway's HTTP API.
func readGroup(t *testing.T, pg, job, shard string) (pgGroup, bool) {
	t.Helper()
	resp, err := http.Get(pg + "/api/v1/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string                       `json:"status"`
		Data   []map[string]json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Status != "success" {
		t.Fatalf("/api/v1/metrics: status %q, %v", body.Status, err)
	}
	for _, raw := range body.Data {
		g := pgGroup{Metrics: map[string]pgFamily{}}
		if err := json.Unmarshal(raw["labels"], &g.Labels); err != nil {
			t.Fatal(err)
		}
		if g.Labels["job"] != job || g.Labels["shard"] != shard {
			continue
		}
		for name, v := range raw {
			var f pgFamily
			if json.Unmarshal(v, &f) == nil && f.Type != "" {
				g.Metrics[name] = f
			}
		}
		return g, true
	}
	return pgGroup{}, false
}

// value returns the sample of name whose labels include want.
func (g pgGroup) value(t *testing.T, name string, want map[string]string) float64 {
	t.Helper()
	f, ok := g.Metrics[name]
	if !ok {
		t.Fatalf("the Pushgateway has no %s in group %v", name, g.Labels)
	}
next:
	for _, m := range f.Metrics {
		for k, v := range want {
			if m.Labels[k] != v {
				continue next
			}
		}
		x, err := strconv.ParseFloat(m.Value, 64)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	t.Fatalf("%s has no sample labelled %v: %+v", name, want, f.Metrics)
	return 0
}

func deleteGroup(t *testing.T, pg, job, shard string) {
	req, _ := http.NewRequest(http.MethodDelete, pg+"/metrics/job/"+job+"/shard/"+shard, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

// TestPushgateway pushes to the real Pushgateway that localstack/up.sh
// starts and reads the metrics back from its HTTP API: a successful run,
// then a run four days later that does not succeed (the lease is held).
// The second leaves the first's success timestamp in place, so the
// documented StowageSweeperStale alert fires; every metric the documented
// alerts read is in the group. On main the push failed before connecting
// ("already contains grouping label shard") while the report said exit 0.
func TestPushgateway(t *testing.T) {
	pg := testenv.NeedPushgateway(t)
	const shard = "1-of-2"
	deleteGroup(t, pg, pushJob, shard)
	t.Cleanup(func() { deleteGroup(t, pg, pushJob, shard) })
	url, _ := bucket(t, true)
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := t0
	sweep := func() (int, output, string) {
		var out, errb bytes.Buffer
		code := runWith(context.Background(), []string{"--store", url, "--grace", "1h", "--shard", "1/2", "--json", "--pushgateway", pg},
			&deps{getenv: func(string) string { return "" }, stdout: &out, stderr: &errb, now: func() time.Time { return clock }})
		var rep output
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
			t.Fatalf("report is not JSON: %v\n%s\n%s", err, out.String(), errb.String())
		}
		if rep.ExitCode != code {
			t.Fatalf("the report says exit_code %d, the process exits %d", rep.ExitCode, code)
		}
		return code, rep, errb.String()
	}
	if code, _, stderr := sweep(); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	checkFirstPush(t, pg, shard, t0)

	// Four days later another sweeper holds the lease: exit 3, no success.
	s, err := fsstore.Open(strings.TrimPrefix(url, "file://"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := gc.AcquireLease(context.Background(), s, gc.LeaseKey(gc.Shard{Index: 1, Count: 2}), "other", time.Hour, time.Now); err != nil {
		t.Fatal(err)
	}
	clock = t0.Add(4 * 24 * time.Hour)
	if code, _, stderr := sweep(); code != exitLeaseHeld {
		t.Fatalf("lease held: exit %d (%s)", code, stderr)
	}
	g, _ := readGroup(t, pg, pushJob, shard)
	lastSuccess := g.value(t, "stowage_sweeper_last_success_timestamp_seconds", nil)
	if lastSuccess != float64(t0.Unix()) {
		t.Fatalf("a failed run moved last success to %v", lastSuccess)
	}
	if got := g.value(t, "stowage_sweeper_last_run_timestamp_seconds", nil); got != float64(clock.Unix()) {
		t.Fatalf("last run %v, want %d", got, clock.Unix())
	}
	if got := g.value(t, "stowage_sweeper_exit_code", nil); got != exitLeaseHeld {
		t.Fatalf("exit_code %v, want 3", got)
	}
	checkAlertInputs(t, g, float64(clock.Unix())-lastSuccess)
}

// checkFirstPush checks the group of a successful run at t0: its success
// time, exit code, build info, reclaimed objects and the store's metrics.
func checkFirstPush(t *testing.T, pg, shard string, t0 time.Time) {
	t.Helper()
	g, ok := readGroup(t, pg, pushJob, shard)
	if !ok {
		t.Fatalf("nothing pushed to job %s shard %s", pushJob, shard)
	}
	if got := g.value(t, "stowage_sweeper_last_success_timestamp_seconds", nil); got != float64(t0.Unix()) {
		t.Fatalf("last success %v, want %d", got, t0.Unix())
	}
	if got := g.value(t, "stowage_sweeper_exit_code", map[string]string{"shard": shard}); got != 0 {
		t.Fatalf("exit_code %v", got)
	}
	if got := g.value(t, "stowage_build_info", nil); got != 1 {
		t.Fatalf("stowage_build_info %v", got)
	}
	if v := g.Metrics["stowage_build_info"].Metrics[0].Labels; v["goversion"] == "" || v["version"] == "" || v["revision"] == "" {
		t.Fatalf("stowage_build_info labels %v", v)
	}
	if got := g.value(t, "stowage_sweeper_reclaimed_objects", map[string]string{"kind": string(gc.KindAttachmentData)}); got != 1 {
		t.Fatalf("reclaimed attachment_data %v, want 1", got)
	}
	objstoreMetrics := 0
	for name := range g.Metrics {
		if strings.HasPrefix(name, "stowage_objstore_") {
			objstoreMetrics++
		}
	}
	if objstoreMetrics == 0 {
		t.Fatalf("no stowage_objstore_* metric pushed: %v", g.Metrics)
	}
}

// checkAlertInputs checks, in group g of a failed run sinceSuccess seconds
// after the last success, that the documented stale alert fires and that
// every metric a documented alert reads is pushed.
func checkAlertInputs(t *testing.T, g pgGroup, sinceSuccess float64) {
	t.Helper()
	// StowageSweeperStale: time() - last_success > 3 * 86400, at time() = the run's.
	stale := docAlerts(t)["StowageSweeperStale"]
	if !strings.Contains(stale, "time() - stowage_sweeper_last_success_timestamp_seconds > 3 * 86400") {
		t.Fatalf("the documented stale alert changed: %q; update this test", stale)
	}
	if sinceSuccess <= 3*86400 {
		t.Fatal("the stale-sweep alert would not fire")
	}
	// Every metric a documented alert reads is pushed.
	metric := regexp.MustCompile(`stowage_[a-z_]+`)
	for name, expr := range docAlerts(t) {
		for _, m := range metric.FindAllString(expr, -1) {
			if _, ok := g.Metrics[m]; !ok {
				t.Errorf("alert %s reads %s, which the sweeper does not push", name, m)
			}
		}
	}
}
