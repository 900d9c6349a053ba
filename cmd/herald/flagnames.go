package main

import (
	"errors"

	herald "github.com/heraldhq/herald"
)

// Libraries name the config field at fault in herald.InvalidError.Field the
// way their Go and JSON do (lowerCamel: batchSize, baseURL); users set
// kebab-case flags. flagError is the one place one becomes the other, with
// one table per library config a command fills from flags. A field missing
// from its table (no flag sets it) keeps its library name.
type flagNames map[string]string

var (
	// sendFlags: dispatch.Config and infobank.Config, built by newDispatcher.
	sendFlags = flagNames{
		"workers": "workers", "batchSize": "batch-size", "globalTPS": "tps", "headroom": "headroom",
		"leaseTTL": "lease-ttl", "breakerShare": "breaker-share",
		"baseURL": "provider-url", "apiKey": "provider-key", "timeout": "provider-timeout", "maxConns": "workers",
	}
	// reportFlags: ingest.Config and http.ReportConfig, built by reportConfig.
	reportFlags = flagNames{
		"secret": "report-secret", "tokens": "report-token", "batchSize": "report-batch-size",
		"flushInterval": "report-flush-interval", "queueSize": "report-queue-size", "committers": "report-committers",
		"spoolMaxBytes": "report-spool-max-bytes", "spoolAfter": "report-spool-after", "inFlight": "report-in-flight",
		"bodyTimeout": "report-body-timeout", "trustedProxies": "report-trusted-proxies",
	}
	// mockFlags: mockprovider.Config, set by addMockFlags.
	mockFlags = flagNames{
		"apiKey": "key", "tps": "tps", "latency": "latency", "latencySpread": "latency-spread",
		"tailRate": "latency-tail-rate", "tailLatency": "latency-tail",
		"refuseRate": "refuse-rate", "failAfterAcceptRate": "fail-after-accept-rate", "hangRate": "hang-rate",
		"notUserRate": "not-user-rate", "blockedRate": "blocked-rate", "uncertainRate": "uncertain-rate",
		"reports": "reports", "reportURL": "report-url", "reportFormat": "report-format", "reportDelay": "report-delay",
		"reportConcurrency": "report-concurrency", "reportQueue": "report-queue", "reportTimeout": "report-timeout",
		"reportRetries": "report-retries", "reportBackoff": "report-backoff", "reportLossRate": "report-loss-rate",
		"reportDupRate": "report-dup-rate", "reportStore": "report-store",
		"apiRate": "api-rate", "rateLimitAnswer": "rate-limit-answer", "duplicateAnswer": "duplicate-answer",
		"inspection": "templates",
		"brownout":   "brownout", "brownoutAfter": "brownout-after", "brownoutFrom": "brownout-from", "holdAnswer": "hold-answer",
	}
	// loadtestFlags: engine.Config and engine.FindMaxConfig, built by loadtestConfig.
	loadtestFlags = flagNames{
		"scaleDuration": "scale-duration", "maxConnections": "max-connections", "timeout": "timeout",
		"startRate": "start-rate", "factor": "step-factor", "maxRate": "max-rate", "stepDuration": "step-duration",
		"sloP99": "slo-p99", "maxErrorRate": "max-error-rate", "bisections": "bisect", "cooldown": "cooldown",
		"retries": "retries",
	}
)

// flagError renames the field of an *herald.InvalidError to the flag that
// sets it; other errors, and fields without a flag, pass unchanged.
func flagError(err error, names flagNames) error {
	var inv *herald.InvalidError
	if !errors.As(err, &inv) {
		return err
	}
	flag, ok := names[inv.Field]
	if !ok {
		return err
	}
	return herald.Invalid(flag, "%s", inv.Message)
}
