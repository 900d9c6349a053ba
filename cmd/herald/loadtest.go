package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/httpserver"
	"github.com/heraldhq/herald/loadtest/engine"
	"github.com/heraldhq/herald/loadtest/report"
	"github.com/heraldhq/herald/loadtest/scenario"
)

// loadtestConfig is everything `herald loadtest` takes from flags.
type loadtestConfig struct {
	File           string
	Target         string
	Scale          float64
	Rate           float64
	Duration       time.Duration
	IDsFile        string
	Campaign       int64
	ReportToken    string
	ReportSecret   string
	Workers        uint64
	MaxWorkers     uint64
	MaxConnections int
	Timeout        time.Duration
	MetricsURL     string
	HTML           string
	PerSecond      bool
	FailOnError    bool
	Noop           bool
	LogLevel       string
	FindMax        bool
	Search         engine.FindMaxConfig
}

func (c *loadtestConfig) addFlags(f *pflag.FlagSet) {
	f.StringVar(&c.Target, "target", "", "base URL to load; overrides config.target")
	f.Float64Var(&c.Scale, "scale-duration", 1, "multiply every phase duration (0.1 runs the seed scenario in 33 s)")
	f.Float64Var(&c.Rate, "rate", 0, "replace the phases with one constant rate (requests/s)")
	f.DurationVar(&c.Duration, "duration", time.Minute, "how long --rate holds")
	f.StringVar(&c.IDsFile, "ids", "", "draw message ids from this file, one per line, so reports match recipients")
	f.Int64Var(&c.Campaign, "from-campaign", 0, "draw message ids from this campaign's recipients (admin API: --server, --token)")
	f.StringVar(&c.ReportToken, "report-token", "", "bearer token of the default report flow (no scenario file)")
	f.StringVar(&c.ReportSecret, "report-secret", "", "sign the default report flow with this secret instead (X-IB-Signature)")
	f.Uint64Var(&c.Workers, "workers", engine.DefaultWorkers, "workers started at once; more start as needed")
	f.Uint64Var(&c.MaxWorkers, "max-workers", engine.DefaultMaxWorkers, "most requests in flight")
	f.IntVar(&c.MaxConnections, "max-connections", 0, "most connections to the target (0: --max-workers)")
	f.DurationVar(&c.Timeout, "timeout", 0, "per request (0: config.http.timeout or 30s)")
	f.StringVar(&c.MetricsURL, "metrics-url", "", `target's Prometheus /metrics for its CPU ("": TARGET/metrics, "off")`)
	f.StringVar(&c.HTML, "report", "", "also write a self-contained HTML report (charts) to this file")
	f.BoolVar(&c.PerSecond, "per-second", true, "print the per-second table")
	f.BoolVar(&c.FailOnError, "fail-on-error", false, "exit 1 when any request failed")
	f.BoolVar(&c.Noop, "noop", false, "aim at a built-in no-op server, to measure the generator itself")
	f.StringVar(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	f.BoolVar(&c.FindMax, "find-max", false, "step the rate up, then bisect, to find the highest rate within the objective")
	f.DurationVar(&c.Search.SLOP99, "slo-p99", 50*time.Millisecond, "find-max: highest p99 latency a step may have")
	f.Float64Var(&c.Search.MaxErrorRate, "max-error-rate", 0.001, "find-max: highest share of failed requests a step may have")
	f.Float64Var(&c.Search.StartRate, "start-rate", 50, "find-max: rate of the first step (requests/s)")
	f.Float64Var(&c.Search.Factor, "step-factor", 2, "find-max: each step's rate is the last one's times this")
	f.DurationVar(&c.Search.StepDuration, "step-duration", 10*time.Second, "find-max: how long each step holds its rate")
	f.Float64Var(&c.Search.MaxRate, "max-rate", 100000, "find-max: highest rate to try")
	f.IntVar(&c.Search.Bisections, "bisect", 4, "find-max: steps spent bisecting after the first failure")
	f.DurationVar(&c.Search.Cooldown, "cooldown", 2*time.Second, "find-max: pause between steps")
	f.IntVar(&c.Search.Retries, "retries", 1, "find-max: run a failing step again this many times before it counts as failed")
	_ = f.MarkHidden("noop")
}

// Validate names the flag at fault.
func (c loadtestConfig) Validate() error {
	switch {
	case c.File == "" && c.Target == "" && !c.Noop:
		return herald.Invalid("target", "give a SCENARIO.yml or --target (the default report flow)")
	case c.Scale <= 0:
		return herald.Invalid("scale-duration", "must be positive")
	case c.Rate < 0:
		return herald.Invalid("rate", "must not be negative")
	case c.Rate > 0 && c.Duration <= 0:
		return herald.Invalid("duration", "must be positive")
	case c.IDsFile != "" && c.Campaign != 0:
		return herald.Invalid("ids", "give --ids or --from-campaign, not both")
	case c.MaxWorkers == 0:
		return herald.Invalid("max-workers", "must be positive")
	case c.MaxConnections < 0:
		return herald.Invalid("max-connections", "must not be negative")
	case c.File == "" && !c.Noop && c.ReportToken == "" && c.ReportSecret == "":
		return herald.Invalid("report-token", "the default report flow needs --report-token or --report-secret (env HERALD_REPORT_TOKEN)")
	}
	if c.FindMax {
		return flagError(c.Search.Validate(), loadtestFlags)
	}
	return nil
}

func newLoadtestCmd() *cobra.Command {
	var cfg loadtestConfig
	cmd := &cobra.Command{
		Use:   "loadtest [SCENARIO.yml]",
		Short: "Load a target with an Artillery-style scenario, or find the highest rate it sustains",
		Long: `Runs an Artillery scenario (config.target, config.phases, scenarios[].flow with
get/post, headers, json and {{ var }} templates) with open-model arrivals, exact
ramps, live progress and per-phase and per-second tables, including the target's
CPU from its /metrics. Processor functions are built in: generateMessageId,
generateReport, signReport.
Without a scenario, --target gets the default flow: Bizgo reports to /v1/reports.
--find-max steps the rate up, then bisects, to find the highest rate the target
holds for a whole step within --slo-p99 and --max-error-rate.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return cfg.run(cmd, args) },
	}
	cfg.addFlags(cmd.Flags())
	describeEnv(cmd.Flags())
	addClientFlags(cmd)
	cmd.PersistentFlags().Lookup("json").Usage = "print the report as JSON instead of tables"
	return leaf(cmd)
}

// run finishes the configuration from the environment and the arguments, then runs.
func (c *loadtestConfig) run(cmd *cobra.Command, args []string) error {
	if err := bindEnvPrefix(cmd.LocalNonPersistentFlags(), envPrefix); err != nil {
		return err
	}
	if len(args) == 1 {
		c.File = args[0]
	}
	if cmd.Flags().Changed("duration") && c.Rate == 0 {
		return herald.Invalid("duration", "applies to --rate; scale a scenario's phases with --scale-duration")
	}
	if err := c.Validate(); err != nil {
		return err
	}
	logger, err := newLogger(c.LogLevel)
	if err != nil {
		return err
	}
	return runLoadtest(cmd, *c, logger)
}

func runLoadtest(cmd *cobra.Command, cfg loadtestConfig, logger *slog.Logger) error {
	lc, cleanup, err := cfg.runConfig(cmd, logger)
	if err != nil {
		return err
	}
	defer cleanup()
	if cfg.FindMax {
		return findMax(cmd, cfg, lc)
	}
	rep, err := engine.Run(cmd.Context(), lc)
	if err != nil {
		return flagError(err, loadtestFlags)
	}
	if err := writeRun(cmd, cfg, rep); err != nil {
		return err
	}
	if cfg.FailOnError && rep.Total.Errors > 0 {
		return fmt.Errorf("%d of %d requests failed", rep.Total.Errors, rep.Total.Requests)
	}
	return nil
}

// runConfig builds the library's Config; cleanup stops the no-op server.
func (c loadtestConfig) runConfig(cmd *cobra.Command, logger *slog.Logger) (engine.Config, func(), error) {
	lc := engine.Config{Target: c.Target, ScaleDuration: c.Scale, Vars: c.vars(), Env: os.LookupEnv,
		Workers: c.Workers, MaxWorkers: c.MaxWorkers, MaxConnections: c.MaxConnections, Timeout: c.Timeout,
		MetricsURL: c.MetricsURL, Progress: cmd.ErrOrStderr(), TTY: isTerminal(cmd.ErrOrStderr()), Logger: logger}
	var err error
	if lc.Scenario, err = c.scenario(logger); err != nil {
		return lc, func() {}, err
	}
	if c.Rate > 0 {
		lc.Phases = []scenario.Phase{{Name: fmt.Sprintf("constant %g/s", c.Rate), Duration: c.Duration, Rate: c.Rate, RampTo: c.Rate}}
	}
	if lc.IDs, err = c.ids(cmd); err != nil {
		return lc, func() {}, err
	}
	if !c.Noop {
		return lc, func() {}, nil
	}
	url, stop, err := startNoop()
	lc.Target, lc.MetricsURL = url, engine.MetricsOff
	return lc, stop, err
}

// vars are the credentials the default report flow reads.
func (c loadtestConfig) vars() map[string]string {
	v := map[string]string{}
	if c.Noop {
		v["reportToken"] = "noop" // the no-op server checks nothing
	}
	if c.ReportToken != "" {
		v["reportToken"] = c.ReportToken
	}
	if c.ReportSecret != "" {
		v["reportSecret"] = c.ReportSecret
	}
	return v
}

// scenario reads the file, or takes the default report flow.
func (c loadtestConfig) scenario(logger *slog.Logger) (*scenario.Scenario, error) {
	if c.File == "" {
		return scenario.Default(c.ReportToken == "" && c.ReportSecret != ""), nil
	}
	data, err := os.ReadFile(c.File)
	if err != nil {
		return nil, err
	}
	sc, err := scenario.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.File, err)
	}
	for _, w := range sc.Warnings {
		logger.Warn(c.File+": "+w, "component", "loadtest")
	}
	return sc, nil
}

// ids reads --ids or pages through --from-campaign's recipients.
func (c loadtestConfig) ids(cmd *cobra.Command) ([]string, error) {
	switch {
	case c.IDsFile != "":
		f, err := os.Open(c.IDsFile)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return scenario.ReadIDs(f)
	case c.Campaign != 0:
		client, err := clientFrom(cmd)
		if err != nil {
			return nil, err
		}
		return scenario.CampaignIDs(cmd.Context(), client, c.Campaign)
	}
	return nil, nil
}

// startNoop serves engine.NoopHandler on a free loopback port.
func startNoop() (string, func(), error) {
	srv, err := httpserver.Start("127.0.0.1:0", engine.NoopHandler())
	if err != nil {
		return "", func() {}, err
	}
	return srv.URL(), func() { _ = srv.Close() }, nil
}

func writeRun(cmd *cobra.Command, cfg loadtestConfig, rep *engine.Report) error {
	if cfg.HTML != "" {
		if err := writeFile(cfg.HTML, func(w io.Writer) error { return report.WriteHTML(w, rep) }); err != nil {
			return err
		}
	}
	if wantJSON(cmd) {
		return writeJSON(cmd.OutOrStdout(), rep)
	}
	return report.WriteText(cmd.OutOrStdout(), rep, cfg.PerSecond)
}

func findMax(cmd *cobra.Command, cfg loadtestConfig, lc engine.Config) error {
	res, err := engine.FindMax(cmd.Context(), lc, cfg.Search)
	if res == nil {
		return flagError(err, loadtestFlags)
	}
	if cfg.HTML != "" {
		if werr := writeFile(cfg.HTML, func(w io.Writer) error { return report.WriteFindMaxHTML(w, res) }); werr != nil {
			return werr
		}
	}
	if wantJSON(cmd) {
		if werr := writeJSON(cmd.OutOrStdout(), res); werr != nil {
			return werr
		}
	} else if werr := report.WriteFindMax(cmd.OutOrStdout(), res); werr != nil {
		return werr
	}
	if err == nil && res.Best == nil {
		err = fmt.Errorf("no rate met the objective")
	}
	return err
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// writeFile writes a file through fn, reporting the close error too.
func writeFile(path string, fn func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := fn(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
