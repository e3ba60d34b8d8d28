package main

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/push"

	"github.com/stowage-dev/stowage/gc"
)

// exportMetrics records the sweep's outcome in reg and pushes it to the
// Pushgateway and/or writes it to the textfile. The store's per-operation
// metrics (package instrument) are in reg already. The last-success
// timestamp is only set by a successful run, and pushes add to the shard's
// group (POST), so a failed run leaves the previous success visible.
func exportMetrics(ctx context.Context, reg *prometheus.Registry, cfg *config, rep gc.Report, code int, took time.Duration) error {
	if cfg.pushgateway == "" && cfg.textfile == "" {
		return nil
	}
	shard := strings.ReplaceAll(rep.Shard, "/", "-of-")
	if shard == "" {
		shard = strings.ReplaceAll(cfg.shard.String(), "/", "-of-")
	}
	gauge := func(name, help string, v float64) {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "stowage_sweeper_" + name, Help: help, ConstLabels: prometheus.Labels{"shard": shard}})
		g.Set(v)
		reg.MustRegister(g)
	}
	vec := func(name, help, label string, values map[string]float64) {
		g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "stowage_sweeper_" + name, Help: help, ConstLabels: prometheus.Labels{"shard": shard}}, []string{label})
		for k, v := range values {
			g.WithLabelValues(k).Set(v)
		}
		reg.MustRegister(g)
	}
	now := float64(time.Now().Unix())
	gauge("last_run_timestamp_seconds", "When the last sweep of the shard ended.", now)
	if code == 0 {
		gauge("last_success_timestamp_seconds", "When the last successful sweep of the shard ended.", now)
	}
	gauge("exit_code", "Exit code of the last sweep (0 ok, 1 error, 3 lease held, 4 refused).", float64(code))
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

	var errs error
	if cfg.textfile != "" {
		errs = errors.Join(errs, prometheus.WriteToTextfile(cfg.textfile, reg))
	}
	if cfg.pushgateway != "" {
		p := push.New(cfg.pushgateway, "stowage_sweeper").Grouping("shard", shard).Gatherer(reg)
		errs = errors.Join(errs, p.AddContext(ctx))
	}
	return errs
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
