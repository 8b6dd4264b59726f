package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/reprover/reprover/attest"
	"github.com/reprover/reprover/builder"
	"github.com/reprover/reprover/service"
	"github.com/reprover/reprover/verify"
)

func newServeCmd(g *globals) *cobra.Command {
	var cfgFile string
	cmd := &cobra.Command{
		Use:   "serve [--config FILE]",
		Short: "Run the verification service: API, queue, workers, web pages",
		Long: `Run reprover as a service (docs/service.md). Each config key is also an
environment variable REPROVER_<KEY> (dots become _) and a flag.`,
		Args: withUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadServeConfig(g.v, cfgFile)
			if err != nil {
				return err
			}
			return serve(cmd.Context(), g, cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfgFile, "config", "", "YAML config file")
	f.String("listen", "127.0.0.1:8080", "address to listen on")
	f.String("database", "", "sqlite:///PATH (default: a file under the data dir) or postgres://…")
	f.String("data-dir", "/var/lib/reprover", "data directory")
	f.Int("workers", 2, "concurrent verifications in this process")
	f.StringSlice("buildkit-addrs", nil, "buildkitd pool (empty: a managed buildkitd)")
	f.String("signing-key", "", "sign verdicts with this key")
	f.StringSlice("auth-tokens", nil, "bearer tokens for writes")
	f.Bool("public-reads", true, "reads without a token")
	f.StringSlice("sources-allow", nil, "entries a submitted source must be under: scheme, host and port, and whole path segments (docs/service.md)")
	f.StringSlice("images-allow", nil, "image prefixes allowed although their registry host is local or private")
	f.String("network-default", builder.NetworkNone, "the rebuilds' network when a request names none: none or proxy")
	f.Bool("network-allow-proxy", false, "let requests ask for network proxy (downloads through BuildKit's capturing proxy, each checked against a pin)")
	f.StringSlice("network-allow-download-hosts", nil, "loopback, private or link-local hosts downloads may come from (an internal mirror)")
	f.Duration("job-timeout", 30*time.Minute, "deadline of one verification")
	f.Duration("stale-after", 90*time.Second, "requeue a running job whose worker is silent this long")
	for flag, key := range map[string]string{"listen": "listen", "database": "database", "data-dir": "dataDir", "workers": "workers",
		"buildkit-addrs": "buildkit.addrs", "signing-key": "signing.key", "auth-tokens": "auth.tokens", "public-reads": "publicReads",
		"sources-allow": "sources.allow", "images-allow": "images.allow",
		"network-default": "network.default", "network-allow-proxy": "network.allowProxy", "network-allow-download-hosts": "network.allowDownloadHosts", "job-timeout": "jobTimeout", "stale-after": "staleAfter"} {
		_ = g.v.BindPFlag(key, f.Lookup(flag))
	}
	return cmd
}

func serve(ctx context.Context, g *globals, cfg *service.Config) error {
	log := g.logger()
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	builders := verify.NewDaemonBuilders(cfg.Daemons(), log)
	defer builders.Close()
	// A managed buildkitd that cannot start is known now, not at the
	// first job.
	if err := builders.Start(ctx); err != nil {
		return fmt.Errorf("%w (or set buildkit.addrs)", err)
	}
	runner := &service.PipelineRunner{Builders: builders, Logger: log}
	if cfg.Signing.Key != "" {
		k, err := attest.LoadPrivateKey(cfg.Signing.Key)
		if err != nil {
			return fmt.Errorf("signing.key: %w", err)
		}
		runner.Key = k
	}
	svc, err := service.New(ctx, cfg, runner, log)
	if err != nil {
		return err
	}
	if err := svc.Start(ctx); err != nil {
		svc.Stop(context.Background())
		return err
	}
	srv := svc.NewHTTPServer()
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		svc.Stop(context.Background())
		return err
	}
	fmt.Fprintf(g.stderr, "reprover: serving on http://%s (database %s, %d workers)\n", ln.Addr(), redact(cfg.Database), cfg.Workers)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	stopErr := svc.Stop(sctx)
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return stopErr
}

// redact hides a password in a database URL.
func redact(dsn string) string {
	if i := strings.Index(dsn, "://"); i >= 0 {
		if at := strings.LastIndex(dsn, "@"); at > i {
			if c := strings.Index(dsn[i+3:at], ":"); c >= 0 {
				return dsn[:i+3+c+1] + "***" + dsn[at:]
			}
		}
	}
	return dsn
}

// loadServeConfig reads the config file (when given) into v, whose keys the
// flags and REPROVER_* variables also set, and decodes it strictly: a key
// reprover does not know is an error.
func loadServeConfig(v *viper.Viper, file string) (*service.Config, error) {
	if file != "" {
		v.SetConfigFile(file)
		if err := v.ReadInConfig(); err != nil {
			return nil, fmt.Errorf("config %s: %w", file, err)
		}
	}
	var cfg service.Config
	if err := v.Unmarshal(&cfg, func(dc *mapstructure.DecoderConfig) {
		dc.ErrorUnused = true
		dc.WeaklyTypedInput = true
		dc.DecodeHook = mapstructure.ComposeDecodeHookFunc(mapstructure.StringToTimeDurationHookFunc(), mapstructure.StringToSliceHookFunc(","), service.DaemonHook)
	}); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return &cfg, nil
}
