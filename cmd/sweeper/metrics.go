package main

import (
	"context"
	"errors"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/push"
	dto "github.com/prometheus/client_model/go"

	"github.com/stowage-dev/stowage/gc"
	"github.com/stowage-dev/stowage/internal/buildinfo"
)

// pushJob is the Pushgateway job the sweeper pushes to; the group is the
// shard (grouping label "shard", e.g. "0-of-4").
const pushJob = "stowage_sweeper"

// exportMetrics records the sweep's outcome in reg and pushes it to the
// Pushgateway and/or writes it to the textfile. The store's per-operation
// metrics (package instrument) are in reg already. The last-success
// timestamp is only set by a successful run, and pushes add to the shard's
// group (POST), so a failed run leaves the previous success visible and
// the stale-sweep alert can fire.
//
// The metrics carry no shard label of their own: the Pushgateway adds the
// grouping label to every metric of the group (and refuses a push whose
// metrics already carry it), and the textfile gets it added when written.
func exportMetrics(ctx context.Context, reg *prometheus.Registry, cfg *config, rep gc.Report, code int, took time.Duration, now func() time.Time) error {
	if cfg.pushgateway == "" && cfg.textfile == "" {
		return nil
	}
	shard := shardLabel(cfg, rep)
	gauge := func(name, help string, v float64) {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "stowage_sweeper_" + name, Help: help})
		g.Set(v)
		reg.MustRegister(g)
	}
	vec := func(name, help, label string, values map[string]float64) {
		g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "stowage_sweeper_" + name, Help: help}, []string{label})
		for k, v := range values {
			g.WithLabelValues(k).Set(v)
		}
		reg.MustRegister(g)
	}
	end := float64(now().UnixNano()) / 1e9
	gauge("last_run_timestamp_seconds", "When the last sweep of the shard ended.", end)
	if code == exitOK {
		gauge(lastSuccessName, lastSuccessHelp, end)
	}
	gauge("exit_code", "Exit code of the last sweep (0 ok, 1 transient error, 2 configuration, 3 lease held, 4 refused, 130/143 interrupted).", float64(code))
	gauge("duration_seconds", "Duration of the last sweep.", took.Seconds())
	gauge("dry_run", "1 if the last sweep was a dry run.", boolFloat(rep.DryRun))
	gauge("scanned_objects", "Objects and uploads listed by the last sweep.", float64(rep.Scanned))
	gauge("roots", "Rows, upload intents and heads seen by the last sweep.", float64(rep.Roots))
	gauge("reclaimed_bytes", "Bytes reclaimed by the last sweep.", float64(rep.BytesReclaimed))
	gauge("deferred_objects", "Reclaimable objects left for a later sweep.", float64(rep.Deferred))
	gauge("failed_deletes", "Deletions that failed in the last sweep.", float64(rep.Failed))
	gauge("deleted_while_referenced", "Data deleted by the last sweep that a ref named afterwards (a writer re-uploads).", float64(rep.DeletedWhileReferenced))
	reclaimed := map[string]float64{}
	for k, v := range rep.Reclaimed {
		reclaimed[string(k)] = float64(v)
	}
	vec("reclaimed_objects", "Objects reclaimed by the last sweep, by kind.", "kind", reclaimed)
	skipped := map[string]float64{}
	for k, v := range rep.Skipped {
		skipped[k] = float64(v)
	}
	vec("skipped_objects", "Objects the last sweep left alone, by reason.", "reason", skipped)
	reg.MustRegister(buildInfoGauge())

	var errs error
	if cfg.textfile != "" {
		errs = errors.Join(errs, writeTextfile(cfg.textfile, reg, shard, code))
	}
	if cfg.pushgateway != "" {
		p := push.New(cfg.pushgateway, pushJob).Grouping("shard", shard).Gatherer(reg)
		errs = errors.Join(errs, p.AddContext(ctx))
	}
	return errs
}

const (
	lastSuccessName = "last_success_timestamp_seconds"
	lastSuccessHelp = "When the last successful sweep of the shard ended."
)

// writeTextfile writes reg's metrics, labelled with shard, to path. The
// textfile replaces the previous run's, so a failed run carries the
// previous success's timestamp over from it (when that file is of the same
// shard): without it the stale-sweep alert would have no series to fire
// on. A push needs no such care: it adds to the group (POST), which keeps
// the previous value.
func writeTextfile(path string, reg prometheus.Gatherer, shard string, code int) error {
	var g prometheus.Gatherer = withLabel(reg, "shard", shard)
	if v, ok := previousSuccess(path, shard); ok && code != exitOK {
		prev := prometheus.NewRegistry()
		gauge := prometheus.NewGauge(prometheus.GaugeOpts{Name: "stowage_sweeper_" + lastSuccessName, Help: lastSuccessHelp,
			ConstLabels: prometheus.Labels{"shard": shard}})
		gauge.Set(v)
		prev.MustRegister(gauge)
		g = prometheus.Gatherers{g, prev}
	}
	return prometheus.WriteToTextfile(path, g)
}

// previousSuccess returns the last-success timestamp of shard in the
// textfile at path, as a previous run wrote it, if there is one.
func previousSuccess(path, shard string) (float64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	prefix := "stowage_sweeper_" + lastSuccessName + "{"
	for line := range strings.Lines(string(b)) {
		line = strings.TrimSpace(line)
		end := strings.LastIndexByte(line, '}')
		if !strings.HasPrefix(line, prefix) || end < 0 {
			continue
		}
		if !slices.Contains(strings.Split(line[len(prefix):end], ","), `shard="`+shard+`"`) {
			continue
		}
		if v, err := strconv.ParseFloat(strings.TrimSpace(line[end+1:]), 64); err == nil {
			return v, true
		}
	}
	return 0, false
}

// shardLabel is the shard as a label value: "0-of-4".
func shardLabel(cfg *config, rep gc.Report) string {
	shard := rep.Shard
	if shard == "" {
		shard = cfg.shard.String()
	}
	return strings.ReplaceAll(shard, "/", "-of-")
}

// buildInfoGauge is stowage_build_info: 1, labelled with the binary's
// module version, commit and Go version.
func buildInfoGauge() prometheus.Collector {
	in := buildinfo.Read()
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "stowage_build_info",
		Help: "Build of the running binary: module version, VCS commit and Go version (always 1).",
		ConstLabels: prometheus.Labels{
			"version": in.Version, "revision": in.Revision, "goversion": in.GoVersion,
		},
	})
	g.Set(1)
	return g
}

// withLabel returns g's metrics with the label name=value added to each.
func withLabel(g prometheus.Gatherer, name, value string) prometheus.Gatherer {
	return prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		mfs, err := g.Gather()
		for _, mf := range mfs {
			for _, m := range mf.Metric {
				m.Label = append(m.Label, &dto.LabelPair{Name: &name, Value: &value})
				slices.SortFunc(m.Label, func(a, b *dto.LabelPair) int { return strings.Compare(a.GetName(), b.GetName()) })
			}
		}
		return mfs, err
	})
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
